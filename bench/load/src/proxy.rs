//! A counting HTTP/1.1 proxy in front of the provider: the stack announces the proxy's address
//! as the issuer (`ProviderSpec::issuer`), so every call to the provider (the sign-in pages, the
//! functions' token, userinfo and revocation calls) passes here and is counted by endpoint.
//!
//! Enough HTTP for oidc-provider's traffic on loopback: keep-alive connections, requests with
//! a `Content-Length` body (no chunked request bodies), answers forwarded whole.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw, by endpoint.
#[derive(Debug, Default)]
pub struct Counts {
    by_endpoint: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    fn add(&self, endpoint: String) {
        let mut counts = self.by_endpoint.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(endpoint).or_default() += 1;
    }

    /// The counts so far: `POST /token` split by grant type (`token:authorization_code`,
    /// `token:refresh_token`), every other request by its first path segment.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_endpoint.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The endpoint a request is counted under.
fn endpoint(method: &str, path: &str, body: &[u8]) -> String {
    let path = path.split('?').next().unwrap_or_default();
    if method == "POST" && path == "/token" {
        let body = String::from_utf8_lossy(body);
        let grant = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "grant_type")
            .map_or_else(|| "none".to_owned(), |(_, v)| v.into_owned());
        return format!("token:{grant}");
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    match path {
        "/token/revocation" => "token/revocation".to_owned(),
        _ => first.to_owned(),
    }
}

/// Starts the proxy on a free loopback port, forwarding to `127.0.0.1:<upstream>`; its port.
///
/// # Errors
/// When no port can be bound.
pub async fn start(upstream: u16, counts: Arc<Counts>) -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let client = stack::http_client(std::time::Duration::from_secs(60));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, counts) = (client.clone(), counts.clone());
            tokio::spawn(async move {
                // A connection that breaks ends; its client sees the error.
                let _ = serve(stream, &client, upstream, &counts).await;
            });
        }
    });
    Ok(port)
}

/// Serves one keep-alive connection until the client closes it.
async fn serve(
    stream: TcpStream,
    client: &reqwest::Client,
    upstream: u16,
    counts: &Counts,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let (Some(method), Some(target)) = (words.next(), words.next()) else {
            return Ok(());
        };
        let (method, target) = (method.to_owned(), target.to_owned());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if read.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        counts.add(endpoint(&method, &target, &body));

        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.request(method, format!("http://127.0.0.1:{upstream}{target}"));
        for (name, value) in &headers {
            // The Host header goes along: oidc-provider builds its endpoints' URLs from it.
            if !matches!(name.as_str(), "connection" | "content-length" | "keep-alive") {
                req = req.header(name.as_str(), value.as_str());
            }
        }
        let answer = match req.body(body).send().await {
            Ok(resp) => {
                let status = resp.status();
                let mut head = format!(
                    "HTTP/1.1 {} {}\r\n",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                );
                for (name, value) in resp.headers() {
                    let skip = ["transfer-encoding", "content-length", "connection", "keep-alive"];
                    if !skip.contains(&name.as_str()) {
                        head.push_str(&format!(
                            "{}: {}\r\n",
                            name,
                            String::from_utf8_lossy(value.as_bytes())
                        ));
                    }
                }
                let body = resp.bytes().await.unwrap_or_default();
                head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
                let mut answer = head.into_bytes();
                answer.extend_from_slice(&body);
                answer
            }
            Err(e) => {
                let text = format!("proxy: {e}");
                format!("HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\n\r\n{text}", text.len())
                    .into_bytes()
            }
        };
        write.write_all(&answer).await?;
    }
}
