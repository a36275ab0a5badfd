//! Maps a Lambda HTTP request to [`shared::login::handle`] and back.

use lambda_http::{Error, Request, Response};
use shared::{State, unix_now};

/// Serves one request.
///
/// # Errors
///
/// Never: every failure is a JSON answer.
pub async fn handle(state: &State, req: Request) -> Result<Response<String>, Error> {
    let parts = shared::http::Request::from_http(&req);
    Ok(shared::login::handle(state, &parts, unix_now()).into_http())
}

#[cfg(test)]
mod tests;
