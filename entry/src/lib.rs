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
    lambda_http::tracing::init_default_subscriber();
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
) -> Result<Response<String>, lambda_http::Error> {
    let mut parts = shared::Request::from_http(&req);
    // The invocation's deadline, as time left on our own clock: the callback's provider calls
    // share it, so the function answers before Lambda stops it.
    parts.deadline = req
        .lambda_context_ref()
        .and_then(|c| c.deadline().duration_since(SystemTime::now()).ok())
        .map(|left| Instant::now() + left);
    Ok(serve(function, &parts, unix_now()).await.into_http())
}

/// Runs a function that answers events other than HTTP requests: its cold start, then every
/// event through `handler`, given the state and the current time.
pub async fn events<S, E, R, H>(handler: H) -> ExitCode
where
    S: ColdStart + Sync + 'static,
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    H: Fn(&S, E, u64) -> R,
{
    lambda_runtime::tracing::init_default_subscriber();
    let Ok(state) = cold_start::<S>().await else {
        return ExitCode::FAILURE;
    };
    let (state, handler) = (&state, &handler);
    let service = service_fn(move |event: LambdaEvent<E>| async move {
        Ok::<R, lambda_runtime::Error>(handler(state, event.payload, unix_now()))
    });
    exit(lambda_runtime::run(service).await)
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
