//! Maps a Lambda HTTP request to [`shared::access::handle_me`] and back.

use lambda_http::{Error, Request, Response};
use shared::State;

/// Serves one request.
///
/// # Errors
///
/// Never: every failure is a JSON answer.
pub async fn handle(state: &State, req: Request) -> Result<Response<String>, Error> {
    let parts = shared::http::Request::from_http(&req);
    Ok(shared::access::handle_me(state, &parts).into_http())
}
