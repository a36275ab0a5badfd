//! The `login` Lambda: `GET /api/login` (SPA flow) and `GET /authorization-code/login` (server
//! flow). The cold start happens here, once; every request goes to [`handler::handle`].

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::{Needs, State};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let state = State::cold_start(Needs::Discovery).await?;
    let state = &state;
    run(service_fn(move |req| handler::handle(state, req))).await
}
