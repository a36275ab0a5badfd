//! `POST /api/logout` and `GET /authorization-code/logout`: forget the session here, then at
//! the provider.
//!
//! Our JWTs are stateless: logout clears the session cookie and the transaction cookie, and the
//! SPA forgets its token; a bearer token already handed out stays valid until it expires (keep
//! `SESSION_TTL_SECONDS` short). The provider's session ends through its
//! `end_session_endpoint` (RP-initiated logout), when it announces one.

use http::{Method, StatusCode};
use serde::Serialize;

use crate::access::session_cookie;
use crate::error::Error;
use crate::http::{Request, Response};
use crate::state::State;
use crate::transaction;

#[derive(Serialize)]
struct LogoutBody {
    logout_url: Option<String>,
}

/// The provider's logout URL with `client_id` and, when configured,
/// `post_logout_redirect_uri`; `None` when the provider announces no `end_session_endpoint`.
///
/// # Errors
///
/// [`Error::Internal`] when the function did not load the provider.
pub fn provider_logout_url(state: &State) -> Result<Option<String>, Error> {
    let Some(endpoint) = state.provider()?.end_session_endpoint.clone() else {
        return Ok(None);
    };
    let mut url = endpoint;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &state.config.client_id);
        if let Some(uri) = &state.config.post_logout_redirect_uri {
            q.append_pair("post_logout_redirect_uri", uri.as_str());
        }
    }
    Ok(Some(url.into()))
}

/// The `Set-Cookie` that deletes the session cookie.
pub fn clear_session_cookie() -> String {
    crate::callback::session_cookie("", 0)
}

/// Serves the logout routes.
///
/// - `POST /api/logout` answers `200 {"logout_url": ...}`. When the session cookie comes with
///   it, `X-CSRF: 1` is required, so a cross-site form cannot log anyone out.
/// - `GET /authorization-code/logout` answers `303` to the provider's logout, or to
///   `POST_LOGIN_PATH` when the provider has none.
pub fn handle(state: &State, req: &Request<'_>) -> Response {
    let result = (|| {
        let api = match req.path {
            "/api/logout" => true,
            "/authorization-code/logout" => false,
            _ => return Err(Error::NotFound),
        };
        let logout_url = provider_logout_url(state)?;
        let response = if api {
            if req.method != Method::POST {
                return Err(Error::MethodNotAllowed);
            }
            let with_cookie = req.cookies.as_deref().and_then(session_cookie).is_some();
            if with_cookie && !req.csrf {
                return Err(Error::CsrfRequired);
            }
            Response::json(StatusCode::OK, &LogoutBody { logout_url })
        } else {
            if req.method != Method::GET {
                return Err(Error::MethodNotAllowed);
            }
            let fallback =
                || crate::callback::app_url(state, state.config.post_login_path.as_str());
            Response::redirect(StatusCode::SEE_OTHER, &logout_url.unwrap_or_else(fallback))
        };
        Ok(response.set_cookie(clear_session_cookie()).set_cookie(transaction::clear_cookie()))
    })();
    crate::respond(req, result)
}

#[cfg(test)]
mod tests;
