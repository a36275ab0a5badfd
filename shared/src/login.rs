//! `GET /api/login` and `GET /authorization-code/login`: start a login.

use std::borrow::Cow;

use http::{Method, StatusCode};
use openidconnect::core::CoreResponseType;
use openidconnect::{AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge};
use secrecy::SecretString;
use serde::Serialize;

use crate::error::Error;
use crate::http::{Query, Request, Response};
use crate::return_to::ReturnTo;
use crate::state::State;
use crate::transaction::{self, Flow, Transaction};

/// Random bytes in `state` and `nonce` (256 bits each).
const RANDOM_LEN: u32 = 32;

/// A login ready to send to the provider.
#[derive(Debug)]
pub struct LoginStart {
    /// The provider's authorize URL with every parameter.
    pub authorize_url: url::Url,
    /// `Set-Cookie` carrying the sealed transaction.
    pub set_cookie: String,
}

/// Starts a login of `flow`: fresh `state`, `nonce` and PKCE S256 verifier, sealed with the
/// active cookie key together with `return_to` (or `POST_LOGIN_PATH` when it is absent or not a
/// safe relative path).
///
/// # Errors
///
/// [`Error::FlowNotConfigured`] when the flow's redirect URI is not set; [`Error::Internal`]
/// when sealing fails.
pub fn start(
    state: &State,
    flow: Flow,
    return_to: Option<&str>,
    now: u64,
) -> Result<LoginStart, Error> {
    let redirect = match flow {
        Flow::Spa => state.spa_redirect.as_ref(),
        Flow::Server => state.server_redirect.as_ref(),
    }
    .ok_or(Error::FlowNotConfigured)?;
    let key = state.cookie_keys.first().ok_or_else(|| Error::Internal("no cookie key".into()))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, nonce) = state
        .provider()?
        .client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            || CsrfToken::new_random_len(RANDOM_LEN),
            || Nonce::new_random_len(RANDOM_LEN),
        )
        .add_scopes(state.scopes.iter().cloned())
        .set_pkce_challenge(challenge)
        .set_redirect_uri(Cow::Borrowed(redirect))
        .url();
    let transaction = Transaction {
        state: csrf.into_secret(),
        nonce: SecretString::from(nonce.secret().as_str()),
        pkce_verifier: SecretString::from(verifier.into_secret()),
        return_to: ReturnTo::or_fallback(return_to, &state.config.post_login_path),
        issued_at: now,
        flow,
    };
    let sealed = transaction.seal(key)?;
    Ok(LoginStart { authorize_url, set_cookie: transaction::set_cookie(&sealed) })
}

#[derive(Serialize)]
struct LoginBody<'a> {
    login_url: &'a str,
}

/// Serves the login routes: `GET /api/login` answers `200 {"login_url"}`,
/// `GET /authorization-code/login` answers `302` to the provider. Both set the transaction
/// cookie.
pub fn handle(state: &State, req: &Request<'_>, now: u64) -> Response {
    let flow = match req.path {
        "/api/login" => Flow::Spa,
        "/authorization-code/login" => Flow::Server,
        _ => return crate::respond(req, Err(Error::NotFound)),
    };
    let result = (|| {
        if req.method != Method::GET {
            return Err(Error::MethodNotAllowed);
        }
        let query = Query::parse(req.query)?;
        let login = start(state, flow, query.get("return_to"), now)?;
        let url = login.authorize_url.as_str();
        let response = match flow {
            Flow::Spa => Response::json(StatusCode::OK, &LoginBody { login_url: url }),
            Flow::Server => Response::redirect(StatusCode::FOUND, url),
        };
        Ok(response.set_cookie(login.set_cookie))
    })();
    crate::respond(req, result)
}

#[cfg(test)]
mod tests;
