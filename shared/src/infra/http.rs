//! The one outbound HTTP client: every provider call and every AWS call goes through it.
//!
//! # Security
//!
//! It follows no redirects (a redirect is an SSRF vector and never a valid answer from a token
//! endpoint), has a 3 s connect and 10 s total timeout, and reads at most [`MAX_BODY`] bytes of
//! any answer. TLS is rustls with aws-lc-rs and the compiled-in web PKI roots, plus the CA
//! certificates of the PEM file named by [`EXTRA_CA_CERTS`] when it is set (a provider on a
//! private CA, such as an in-house Keycloak; a TLS-terminating proxy in front of AWS). With
//! X-Ray on, each call is a subsegment of the invocation's trace ([`crate::infra::xray`]).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Connect timeout of every outbound call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Total timeout of every outbound call.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read, in bytes.
pub const MAX_BODY: usize = 256 * 1024;
/// The variable naming a PEM file of CA certificates trusted beside the web PKI roots (as
/// Node's `NODE_EXTRA_CA_CERTS`: added to the roots, never replacing them).
pub const EXTRA_CA_CERTS: &str = "EXTRA_CA_CERTS";

/// Why the client cannot be built. Names what to fix; holds no secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS stack cannot be set up.
    #[error("TLS set-up: {0}")]
    Tls(String),
    /// [`EXTRA_CA_CERTS`] names a file that cannot be read or holds no PEM certificate.
    #[error("{EXTRA_CA_CERTS}={path:?}: {problem}")]
    ExtraCa {
        /// The path given.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// An outbound call that failed below the protocol.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within [`TOTAL_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// No connection.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The answer is larger than [`MAX_BODY`].
    #[error("answer larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Anything else on the way (bad request build, TLS, protocol).
    #[error("transport error: {0}")]
    Other(String),
}

impl FetchError {
    /// Whether the provider could not be reached: no connection, a failure below HTTP (TLS
    /// included), or no answer in time (the `ProviderUnreachable` metric). An answer too large
    /// is an answer.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unreachable(_) | Self::Other(_))
    }

    /// Whether `sent`, the result of [`Http::send`], failed as [`Self::is_unreachable`] says.
    pub fn unreachable<T>(sent: &Result<T, Self>) -> bool {
        sent.as_ref().is_err_and(Self::is_unreachable)
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable(crate::error::chain(e))
        } else {
            Self::Other(crate::error::chain(e))
        }
    }
}

/// The one outbound HTTP client: no redirects, bounded time and size, rustls with aws-lc-rs.
/// It is also the HTTP client of every openidconnect request.
#[derive(Debug, Clone)]
pub struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Builds the [`Http`] client, trusting the CA certificates of [`EXTRA_CA_CERTS`] too when it
/// is set and not empty.
///
/// # Errors
///
/// [`ClientError`]: the TLS stack cannot be set up, or [`EXTRA_CA_CERTS`] is unusable.
pub fn http_client() -> Result<Http, ClientError> {
    build(CONNECT_TIMEOUT, TOTAL_TIMEOUT, configured_extra_ca_certs()?)
}

/// The certificates of [`EXTRA_CA_CERTS`], none when it is unset or empty.
fn configured_extra_ca_certs() -> Result<Vec<reqwest::Certificate>, ClientError> {
    match std::env::var_os(EXTRA_CA_CERTS).filter(|p| !p.is_empty()) {
        Some(path) => extra_ca_certs(Path::new(&path)),
        None => Ok(Vec::new()),
    }
}

/// The CA certificates of the PEM file at `path` ([`EXTRA_CA_CERTS`]).
///
/// # Errors
///
/// [`ClientError::ExtraCa`] when it cannot be read, holds no PEM certificate, or one that
/// cannot be a trust anchor (each is parsed here, so that the error names the variable).
pub fn extra_ca_certs(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let problem =
        |problem: String| ClientError::ExtraCa { path: path.display().to_string(), problem };
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let mut certs = Vec::new();
    for (i, der) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let der = der.map_err(|e| problem(format!("not a PEM bundle: {e}")))?;
        rustls::RootCertStore::empty()
            .add(der.clone())
            .map_err(|e| problem(format!("certificate {} cannot be a CA: {e}", i + 1)))?;
        certs.push(
            reqwest::Certificate::from_der(&der).map_err(|e| {
                problem(format!("certificate {}: {}", i + 1, crate::error::chain(&e)))
            })?,
        );
    }
    if certs.is_empty() {
        return Err(problem("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The client the `proxy` function sends to remote APIs with: no redirects followed, the
/// same TLS roots (and [`EXTRA_CA_CERTS`]) and connect timeout as [`http_client`], no total
/// timeout (each remote API has its own, applied per request), no proxy from the environment
/// (a request carrying the user's token goes where it is configured to, and nowhere else).
///
/// # Errors
///
/// [`ClientError`] when TLS cannot be set up or `EXTRA_CA_CERTS` is unusable.
pub fn upstream_client() -> Result<reqwest::Client, ClientError> {
    let builder = builder(CONNECT_TIMEOUT, configured_extra_ca_certs()?).no_proxy();
    builder.build().map_err(|e| ClientError::Tls(crate::error::chain(&e)))
}

/// [`http_client`] with other timeouts and no extra CA (tests).
///
/// # Errors
///
/// When the TLS stack cannot be set up.
pub fn http_client_with(connect: Duration, total: Duration) -> Result<Http, ClientError> {
    build(connect, total, Vec::new())
}

/// The client, trusting `extra` beside the web PKI roots.
///
/// # Errors
///
/// [`ClientError::Tls`] when the TLS stack cannot be set up.
pub fn build(
    connect: Duration,
    total: Duration,
    extra: Vec<reqwest::Certificate>,
) -> Result<Http, ClientError> {
    let builder = builder(connect, extra).timeout(total);
    builder.build().map(Http).map_err(|e| ClientError::Tls(crate::error::chain(&e)))
}

/// What every client of ours shares: no redirects followed, `connect` as the connect
/// timeout, the web PKI roots plus `extra`, rustls on aws-lc-rs.
fn builder(connect: Duration, extra: Vec<reqwest::Certificate>) -> reqwest::ClientBuilder {
    // reqwest is built without a default crypto provider; use the one the AWS SDK already
    // links. An error means another one is installed already, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect);
    for cert in extra {
        builder = builder.add_root_certificate(cert);
    }
    builder
}

impl Http {
    /// Sends `req` and reads at most [`MAX_BODY`] bytes of the answer.
    ///
    /// # Errors
    ///
    /// [`FetchError`].
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, FetchError> {
        let traced = crate::infra::xray::Subsegment::start(req.method().as_str(), req.uri());
        let answer = self.send_untraced(req).await;
        if let Some(call) = traced {
            call.end(answer.as_ref().ok().map(|a| a.status().as_u16()));
        }
        answer
    }

    async fn send_untraced(&self, req: HttpRequest) -> Result<HttpResponse, FetchError> {
        let req = reqwest::Request::try_from(req)
            .map_err(|e| FetchError::Other(crate::error::chain(&e)))?;
        let mut resp = self.0.execute(req).await.map_err(|e| FetchError::from_reqwest(&e))?;
        if resp.content_length().is_some_and(|len| len > MAX_BODY as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut out = http::Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            out = out.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::from_reqwest(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body).map_err(|e| FetchError::Other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A test CA and a certificate for `localhost` it issued: the CA's PEM, the leaf and its key.
    fn test_ca() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "spa-login test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        (ca.pem(), leaf.der().clone(), key)
    }

    /// An HTTPS server on loopback under `leaf`, answering `200` to each request; its port.
    async fn https_server(leaf: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = [0_u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    fn write_temp(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("spa-login-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[tokio::test]
    async fn a_provider_on_a_private_ca_is_trusted_only_with_extra_ca_certs() {
        let (ca_pem, leaf, key) = test_ca();
        let port = https_server(leaf, key).await;
        let get = || {
            http::Request::get(format!("https://localhost:{port}/.well-known/openid-configuration"))
                .body(Vec::new())
                .unwrap()
        };

        let web_roots_only = http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT).unwrap();
        let refused = web_roots_only.send(get()).await.unwrap_err();
        assert!(refused.to_string().to_lowercase().contains("certificate"), "{refused}");

        let bundle = write_temp("ca.pem", ca_pem.as_bytes());
        let trusting = build(CONNECT_TIMEOUT, TOTAL_TIMEOUT, extra_ca_certs(&bundle).unwrap());
        let answer = trusting.unwrap().send(get()).await.unwrap();
        assert_eq!((answer.status().as_u16(), answer.body().as_slice()), (200, &b"ok"[..]));
        let _ = std::fs::remove_file(bundle);
    }

    #[test]
    fn an_unusable_extra_ca_file_is_refused_naming_the_variable_and_the_path() {
        let missing = std::env::temp_dir().join("spa-login-no-such-ca.pem");
        let not_pem = write_temp("not.pem", b"-----BEGIN CERTIFICATE-----\nnot base64!\n");
        let empty = write_temp("empty.pem", b"# no certificate here\n");
        // Valid base64, but no certificate inside.
        let not_a_cert = write_temp(
            "bad.pem",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        for (path, problem) in [
            (&missing, "cannot be read"),
            (&not_pem, "not a PEM bundle"),
            (&empty, "holds no PEM certificate"),
            (&not_a_cert, "certificate 1 cannot be a CA"),
        ] {
            let err = extra_ca_certs(path).unwrap_err().to_string();
            assert!(err.starts_with("EXTRA_CA_CERTS="), "{err}");
            assert!(err.contains(&path.display().to_string()) && err.contains(problem), "{err}");
        }
        let _ = (std::fs::remove_file(not_pem), std::fs::remove_file(empty));
        let _ = std::fs::remove_file(not_a_cert);
    }
}
