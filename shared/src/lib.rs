//! OpenID Connect login for single-page apps, on AWS Lambda: all the logic, no Lambda types.
//!
//! 1. `login` seals a [`transaction::Transaction`] (state, nonce, PKCE verifier, `return_to`)
//!    into a `__Host-` cookie and answers the provider's authorize URL.
//! 2. `callback` opens the cookie, checks `state` and the RFC 9207 `iss`, exchanges the code with
//!    the client secret and the PKCE verifier, checks the ID token, asks userinfo, and mints our
//!    own short-lived JWT ([`session`]). The provider's tokens never leave the function.
//!
//! Each function builds one immutable [`State`] at cold start ([`State::load`]) and passes it by
//! reference to every request.

pub mod config;
pub mod error;
pub mod keygen;
pub mod return_to;
pub mod secret;
pub mod session;
pub mod signing;
pub mod transaction;

pub use error::{Error, IdTokenError};

#[cfg(test)]
mod proptests;

pub mod access;
pub mod aws;
pub mod callback;
pub mod http;
pub mod issuer;
pub mod login;
pub mod logout;
pub mod provider;
pub mod state;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use state::{Needs, StartError, State, unix_now};

/// Logs a refused request: route, status and stable code, plus the internal detail (which holds
/// no secret, token or provider text; see [`Error`]).
pub(crate) fn log_refusal(req: &http::Request<'_>, err: &Error) {
    tracing::warn!(
        method = %req.method,
        path = req.path,
        status = err.status().as_u16(),
        error = err.code(),
        detail = %err,
        "refused"
    );
}

/// Turns a handler's result into the response, logging one line either way.
pub(crate) fn respond(
    req: &http::Request<'_>,
    result: Result<http::Response, Error>,
) -> http::Response {
    match result {
        Ok(response) => {
            tracing::info!(
                method = %req.method,
                path = req.path,
                status = response.status().as_u16(),
                "served"
            );
            response
        }
        Err(err) => {
            log_refusal(req, &err);
            http::Response::error(&err)
        }
    }
}
