//! The `logout` Lambda: `POST /api/logout` and `GET /authorization-code/logout`. Discovery is
//! loaded at cold start for the provider's `end_session_endpoint`.

mod handler;

use std::process::ExitCode;

use lambda_http::{run, service_fn};
use shared::{Needs, State};

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    // A failed cold start has logged its one line: exit without serving.
    let Ok(state) = State::cold_start(Needs::Discovery).await else {
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
