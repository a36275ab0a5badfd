//! The `authorizer` Lambda: an API Gateway HTTP API REQUEST authorizer with simple responses.
//! It verifies our JWT (bearer or session cookie) with any of our algorithms, for routes where
//! API Gateway's built-in JWT authorizer does not fit (ES256/EdDSA keys, custom domains).

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use shared::access::{AuthorizerEvent, AuthorizerResponse, authorize_event};
use shared::{Needs, State};

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    // A failed cold start has logged its one line: exit without serving.
    let Ok(state) = State::cold_start(Needs::Secret).await else {
        return ExitCode::FAILURE;
    };
    let state = &state;
    match run(service_fn(move |event| handle(state, event))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            lambda_runtime::tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// Decides one event. An event that is not an authorizer request is refused, not an error.
async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<AuthorizerResponse, Error> {
    let request: AuthorizerEvent = serde_json::from_value(event.payload).unwrap_or_default();
    Ok(authorize_event(state, &request))
}
