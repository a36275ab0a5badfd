//! The one entry point of every Lambda function, and the only crate besides the functions that
//! names Lambda types: tracing set-up, the cold start, the exit code of a failed start, the
//! mapping between Lambda's request and `shared`'s, and the runtime loop.
//!
//! A function's `main.rs` names its state and calls [`http`] (API Gateway HTTP requests) or
//! [`events`] (any other event, such as an authorizer's):
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     entry::http::<shared::Login>().await
//! }
//! ```

use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use lambda_http::{Request, RequestExt as _, Response, service_fn};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::{ColdStart, HttpFunction, cold_start, serve, unix_now};

/// Runs an HTTP function: its cold start, then every request through [`handle`]. Exits with a
/// failure when the cold start fails (it has logged one line naming what to fix) or the
/// runtime stops.
pub async fn http<F: ColdStart + HttpFunction + 'static>() -> ExitCode {
    init_tracing();
    // A failed cold start has logged its one line: exit without serving.
    let Ok(function) = cold_start::<F>().await else {
        return ExitCode::FAILURE;
    };
    let function = &function;
    exit(lambda_http::run(service_fn(move |req| handle(function, req))).await)
}

/// Serves one API Gateway request with `function`, at the current time.
///
/// # Errors
///
/// Never: every failure is a JSON answer or, in the server flow, a redirect.
pub async fn handle<F: HttpFunction>(
    function: &F,
    req: Request,
) -> Result<Response<lambda_http::Body>, lambda_http::Error> {
    let mut parts = shared::Request::from_http(&req);
    // The invocation's deadline, as time left on our own clock: the callback's provider calls
    // share it, so the function answers before Lambda stops it.
    parts.deadline = req
        .lambda_context_ref()
        .and_then(|c| c.deadline().duration_since(SystemTime::now()).ok())
        .map(|left| Instant::now() + left);
    Ok(serve(function, &parts, unix_now()).await.into_http_with(|body| match body {
        shared::Body::Text(text) => lambda_http::Body::Text(text),
        shared::Body::Binary(bytes) => lambda_http::Body::Binary(bytes),
    }))
}

/// Runs a function that answers events other than HTTP requests: its cold start, then every
/// event through `handler`, given the state and the current time.
pub async fn events<S, E, R, H>(handler: H) -> ExitCode
where
    S: ColdStart + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    H: AsyncFn(&S, E, u64) -> R,
{
    init_tracing();
    let Ok(state) = cold_start::<S>().await else {
        return ExitCode::FAILURE;
    };
    let (state, handler) = (&state, &handler);
    let service = service_fn(move |event: LambdaEvent<E>| async move {
        Ok::<R, lambda_runtime::Error>(handler(state, event.payload, unix_now()).await)
    });
    exit(lambda_runtime::run(service).await)
}

/// Logging as Lambda's advanced logging controls ask (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`;
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), with one difference from lambda_runtime's default subscriber:
/// only our own crates log at `TRACE`. Every other crate logs at `DEBUG` at most: at `TRACE` the
/// Lambda runtime logs each raw event (cookies, bearer tokens, codes), and the AWS SDK what it
/// signs and receives (the secret).
///
/// # Security
///
/// No log line at any level may hold a secret, a token, a cookie value or a code; our own
/// lines hold none (see `shared/tests/leaks.rs`), and this filter keeps the others out.
fn init_tracing() {
    let asked = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let (ours, others) = log_levels(asked.ok().as_deref());
    let filter = filter(ours, others);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let subscriber =
        tracing_subscriber::fmt().with_target(false).without_time().with_env_filter(filter);
    // An error means a subscriber is set already (a test): keep it.
    let _ = if json { subscriber.json().try_init() } else { subscriber.try_init() };
    lambda_runtime::tracing::debug!(ours = %ours, others = %others, "log levels");
}

/// `others` for every crate, `ours` for ours. (A builder's default directive would not do:
/// it applies only when no other directive is given, and would leave every other crate
/// silent, errors included.)
fn filter(
    ours: tracing_subscriber::filter::LevelFilter,
    others: tracing_subscriber::filter::LevelFilter,
) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::builder()
        .parse_lossy(format!("{others},shared={ours},entry={ours}"))
}

/// The level of our own crates (as asked, `INFO` when unset or unreadable) and of every other
/// crate (the same, but never below `DEBUG`).
fn log_levels(
    asked: Option<&str>,
) -> (tracing_subscriber::filter::LevelFilter, tracing_subscriber::filter::LevelFilter) {
    use tracing_subscriber::filter::LevelFilter;
    let ours =
        asked.and_then(|l| l.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    (ours, ours.min(LevelFilter::DEBUG))
}

fn exit(result: Result<(), lambda_runtime::Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            lambda_runtime::tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::LevelFilter;

    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::{filter, log_levels};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn at_trace_other_crates_log_up_to_debug_and_ours_everything() {
        let capture = Capture::default();
        let writer = capture.clone();
        let (ours, others) = log_levels(Some("TRACE"));
        let subscriber = tracing_subscriber::registry().with(filter(ours, others)).with(
            tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).without_time(),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::runtime", "raw event of the runtime");
            tracing::debug!(target: "lambda_runtime::runtime", "debug of the runtime");
            tracing::error!(target: "aws_smithy_runtime", "error of the sdk");
            tracing::trace!(target: "shared::functions", "trace of ours");
            tracing::trace!(target: "entry", "trace of the entry");
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        for kept in
            ["debug of the runtime", "error of the sdk", "trace of ours", "trace of the entry"]
        {
            assert!(text.contains(kept), "{kept} missing from:\n{text}");
        }
        assert!(!text.contains("raw event"), "{text}");
    }

    #[test]
    fn only_our_crates_log_at_trace() {
        assert_eq!(log_levels(Some("TRACE")), (LevelFilter::TRACE, LevelFilter::DEBUG));
        assert_eq!(log_levels(Some("trace")), (LevelFilter::TRACE, LevelFilter::DEBUG));
        assert_eq!(log_levels(Some("DEBUG")), (LevelFilter::DEBUG, LevelFilter::DEBUG));
        assert_eq!(log_levels(Some("WARN")), (LevelFilter::WARN, LevelFilter::WARN));
        assert_eq!(log_levels(None), (LevelFilter::INFO, LevelFilter::INFO));
        assert_eq!(log_levels(Some("info,hyper=trace")), (LevelFilter::INFO, LevelFilter::INFO));
    }
}
