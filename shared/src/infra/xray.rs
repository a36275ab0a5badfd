//! Optional X-Ray subsegments of the outbound calls: with the function's tracing on
//! (`Tracing: Active` in the template), each call through [`crate::Http`] to the provider,
//! Secrets Manager or DynamoDB becomes a subsegment of the invocation's segment, sent to the
//! X-Ray daemon Lambda runs beside the function (`AWS_XRAY_DAEMON_ADDRESS`, UDP).
//!
//! Written here rather than with a crate: AWS publishes no X-Ray SDK for Rust, and an
//! OpenTelemetry exporter would add a collector layer to every function for what is one JSON
//! datagram per call.
//!
//! The invocation's trace comes from `_X_AMZN_TRACE_ID`, which the Lambda runtime sets for each
//! event: a call is traced only when that trace is sampled. A subsegment names the host and the
//! method, the path without its query, the status, and the call's times; never a header, a body
//! or a query string (which hold codes, tokens and the client secret).

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

/// The invocation's trace, from an `X-Amzn-Trace-Id` value (`Root=...;Parent=...;Sampled=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// `Root`: the trace id.
    pub root: String,
    /// `Parent`: the invocation's segment id.
    pub parent: String,
}

impl Trace {
    /// The sampled trace of `header`, or `None` (absent, malformed, or not sampled).
    pub fn sampled(header: &str) -> Option<Self> {
        let field = |name: &str| {
            header.split(';').find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
        };
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let (root, parent) = (field("Root")?, field("Parent")?);
        // `1-<8 hex digits: the time>-<24 hex digits>`.
        let root_ok = match root.split('-').collect::<Vec<_>>()[..] {
            ["1", time, id] => hex(time, 8) && hex(id, 24),
            _ => false,
        };
        (field("Sampled") == Some("1") && root_ok && hex(parent, 16))
            .then(|| Self { root: root.to_owned(), parent: parent.to_owned() })
    }
}

/// One outbound call, started.
#[derive(Debug)]
pub struct Subsegment {
    trace: Trace,
    id: String,
    host: String,
    method: String,
    path: String,
    start: f64,
}

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

impl Subsegment {
    /// A subsegment of the current invocation's trace for a call of `method` to `url`, when the
    /// function is traced and the invocation sampled.
    pub fn start(method: &str, uri: &http::Uri) -> Option<Self> {
        daemon()?;
        let trace = Trace::sampled(&std::env::var("_X_AMZN_TRACE_ID").ok()?)?;
        let url = url::Url::parse(&uri.to_string()).ok()?;
        Self::of(trace, method, &url, SystemTime::now())
    }

    /// A subsegment of `trace` for a call of `method` to `url` started at `at`.
    pub fn of(trace: Trace, method: &str, url: &url::Url, at: SystemTime) -> Option<Self> {
        let mut id = [0_u8; 8];
        aws_lc_rs::rand::fill(&mut id).ok()?;
        Some(Self {
            trace,
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            host: url.host_str().unwrap_or_default().to_owned(),
            method: method.to_owned(),
            path: url.path().to_owned(),
            start: seconds(at),
        })
    }

    /// The datagram for the call ended at `at` with `status` (`None`: no answer).
    pub fn datagram(&self, at: SystemTime, status: Option<u16>) -> String {
        let aws = self.host.ends_with(".amazonaws.com") || self.host.ends_with(".amazonaws.com.cn");
        let mut doc = json!({
            "name": self.host,
            "id": self.id,
            "trace_id": self.trace.root,
            "parent_id": self.trace.parent,
            "type": "subsegment",
            "namespace": if aws { "aws" } else { "remote" },
            "start_time": self.start,
            "end_time": seconds(at),
            "http": { "request": { "method": self.method, "url": format!("https://{}{}", self.host, self.path) } },
        });
        match status {
            Some(status) => {
                doc["http"]["response"] = json!({ "status": status });
                doc["error"] = (400..500).contains(&status).into();
                doc["fault"] = (status >= 500).into();
            }
            None => doc["fault"] = true.into(),
        }
        format!("{{\"format\":\"json\",\"version\":1}}\n{doc}")
    }

    /// Sends the ended call to the daemon; a lost datagram loses only the trace.
    pub fn end(self, status: Option<u16>) {
        if let Some(socket) = daemon() {
            let _ = socket.send(self.datagram(SystemTime::now(), status).as_bytes());
        }
    }
}

/// The daemon's socket, when `AWS_XRAY_DAEMON_ADDRESS` names one (`host:port`, or Lambda's
/// `udp:host:port tcp:host:port` form).
fn daemon() -> Option<&'static UdpSocket> {
    static DAEMON: OnceLock<Option<UdpSocket>> = OnceLock::new();
    DAEMON
        .get_or_init(|| {
            let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
            let udp = address
                .split_whitespace()
                .find_map(|a| a.strip_prefix("udp:"))
                .unwrap_or_else(|| address.trim());
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(udp).ok()?;
            socket.set_nonblocking(true).ok()?;
            Some(socket)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn only_a_sampled_well_formed_trace_is_followed() {
        let trace = Trace::sampled(HEADER).unwrap();
        assert_eq!(trace.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace.parent, "53995c3f42cd8ad8");
        for refused in [
            &HEADER.replace("Sampled=1", "Sampled=0"),
            &HEADER.replace(";Sampled=1", ""),
            &HEADER.replace("Parent=53995c3f42cd8ad8", "Parent=xyz"),
            "Root=1-a;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=\"}{;Parent=53995c3f42cd8ad8;Sampled=1",
            "",
        ] {
            assert_eq!(Trace::sampled(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_subsegment_names_host_method_and_path_never_the_query() {
        let url =
            url::Url::parse("https://login.example.com/oauth2/token?code=secret-code").unwrap();
        let start = SystemTime::now();
        let call = Subsegment::of(Trace::sampled(HEADER).unwrap(), "POST", &url, start).unwrap();
        let datagram = call.datagram(start + Duration::from_millis(12), Some(502));
        let (header, body) = datagram.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        assert!(!body.contains("secret-code") && !body.contains('?'), "{body}");
        let doc: Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["name"], "login.example.com");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(
            (doc["trace_id"].as_str(), doc["parent_id"].as_str()),
            (Some("1-5759e988-bd862e3fe1be46a994272793"), Some("53995c3f42cd8ad8"))
        );
        assert_eq!(doc["id"].as_str().map(str::len), Some(16));
        assert_eq!(doc["http"]["request"]["url"], "https://login.example.com/oauth2/token");
        assert_eq!(doc["http"]["response"]["status"], 502);
        assert_eq!((doc["fault"].as_bool(), doc["error"].as_bool()), (Some(true), Some(false)));
        let took = doc["end_time"].as_f64().unwrap() - doc["start_time"].as_f64().unwrap();
        assert!((took - 0.012).abs() < 0.001, "{took}");

        let dynamodb = url::Url::parse("https://dynamodb.us-east-1.amazonaws.com/").unwrap();
        let call =
            Subsegment::of(Trace::sampled(HEADER).unwrap(), "POST", &dynamodb, start).unwrap();
        let doc: Value =
            serde_json::from_str(call.datagram(start, None).split_once('\n').unwrap().1).unwrap();
        assert_eq!((doc["namespace"].as_str(), doc["fault"].as_bool()), (Some("aws"), Some(true)));
    }
}
