//! The `authorizer` Lambda: an API Gateway HTTP API REQUEST authorizer with simple responses.
//! It verifies our JWT (bearer or session cookie) with any of our algorithms, for routes where
//! API Gateway's built-in JWT authorizer does not fit (ES256/EdDSA keys, custom domains).

mod handler;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    entry::events(handler::handle).await
}
