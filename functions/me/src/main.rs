//! The `me` Lambda: `GET /api/me`, the claims of the caller's token (bearer or session
//! cookie), verified with our keys.

mod handler;

use std::process::ExitCode;

use lambda_http::{run, service_fn};
use shared::{Needs, State};

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    // A failed cold start has logged its one line: exit without serving.
    let Ok(state) = State::cold_start(Needs::Secret).await else {
        return ExitCode::FAILURE;
    };
    let state = &state;
    match run(service_fn(move |req| handler::handle(state, req))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            lambda_http::tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
