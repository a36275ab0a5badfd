//! The `callback` Lambda: `GET`/`POST /api/callback` (SPA flow) and
//! `GET /authorization-code/callback` (server flow). The cold start (secret, discovery, JWKS)
//! happens here, once; every request goes to [`handler::handle`].

mod handler;

use lambda_http::{Error, run, service_fn};
use shared::{Needs, State};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let state = State::cold_start(Needs::DiscoveryAndJwks).await?;
    let state = &state;
    run(service_fn(move |req| handler::handle(state, req))).await
}
