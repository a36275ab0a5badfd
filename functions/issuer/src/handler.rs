//! Maps a Lambda HTTP request to [`shared::issuer::Documents::handle`] and back.

use lambda_http::{Error, Request, Response};
use shared::issuer::Documents;

/// Serves one request.
///
/// # Errors
///
/// Never: every failure is a JSON answer.
pub async fn handle(docs: &Documents, req: Request) -> Result<Response<String>, Error> {
    let parts = shared::http::Request::from_http(&req);
    Ok(docs.handle(&parts).into_http())
}
