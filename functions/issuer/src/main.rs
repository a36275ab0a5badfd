//! The `issuer` Lambda: `GET /.well-known/openid-configuration` and
//! `GET /.well-known/jwks.json`, our tokens' issuer metadata. Both documents are built at cold
//! start from the secret's signing keys; requests copy them out.

mod handler;

use std::process::ExitCode;

use lambda_http::{run, service_fn};
use shared::issuer::Documents;
use shared::{Needs, State};

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    // A failed cold start has logged its one line: exit without serving.
    let Ok(state) = State::cold_start(Needs::Secret).await else {
        return ExitCode::FAILURE;
    };
    let docs = match Documents::new(&state) {
        Ok(docs) => docs,
        Err(e) => {
            lambda_http::tracing::error!(error = %e, "cold start failed; not serving");
            return ExitCode::FAILURE;
        }
    };
    let docs = &docs;
    match run(service_fn(move |req| handler::handle(docs, req))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            lambda_http::tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
