//! Who is calling: our JWT from `Authorization: Bearer` or from the server flow's session cookie.
//!
//! Used by `GET /api/me` and by the Lambda REQUEST authorizer, with the same rules: signature by
//! `kid` with the key's own algorithm, our `iss` and `aud`, `exp`. A request authenticated by
//! the cookie that changes state (anything but `GET`, `HEAD`, `OPTIONS`) must carry `X-CSRF: 1`,
//! which a cross-site form cannot send.

use http::{Method, StatusCode};

use crate::callback::SESSION_COOKIE;
use crate::error::Error;
use crate::http::{Request, Response};
use crate::session::SessionClaims;
use crate::state::State;

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `__Host-session` cookie.
    Cookie,
}

/// What a request presents to be authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The method.
    pub method: &'a Method,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Cookie` header(s), joined.
    pub cookies: Option<&'a str>,
    /// `X-CSRF: 1` is present.
    pub csrf: bool,
}

impl<'a> From<&'a Request<'a>> for Presented<'a> {
    fn from(req: &'a Request<'a>) -> Self {
        Self {
            method: req.method,
            authorization: req.authorization,
            cookies: req.cookies.as_deref(),
            csrf: req.csrf,
        }
    }
}

/// The session cookie's value in a `Cookie` header.
pub fn session_cookie(cookie_header: &str) -> Option<&str> {
    crate::http::cookie_value(cookie_header, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// Authenticates a request by our JWT. A bearer token wins over the cookie.
///
/// # Errors
///
/// [`Error::MissingToken`], [`Error::InvalidToken`], or [`Error::CsrfRequired`].
pub fn authenticate(
    state: &State,
    presented: &Presented<'_>,
) -> Result<(SessionClaims, Credential), Error> {
    let bearer = presented.authorization.and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let (token, credential) = match (bearer, presented.cookies.and_then(session_cookie)) {
        (Some(token), _) => (token, Credential::Bearer),
        (None, Some(token)) => (token, Credential::Cookie),
        (None, None) => return Err(Error::MissingToken),
    };
    let safe_method = matches!(*presented.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if credential == Credential::Cookie && !safe_method && !presented.csrf {
        return Err(Error::CsrfRequired);
    }
    let claims = state.session.verify(token).map_err(Error::InvalidToken)?;
    Ok((claims, credential))
}

/// `GET /api/me`: the claims of the caller's token.
pub fn handle_me(state: &State, req: &Request<'_>) -> Response {
    let result = (|| {
        if req.path != "/api/me" {
            return Err(Error::NotFound);
        }
        if req.method != Method::GET {
            return Err(Error::MethodNotAllowed);
        }
        let (claims, _) = authenticate(state, &req.into())?;
        Ok(Response::json(StatusCode::OK, &claims))
    })();
    // RFC 6750: a bare challenge without credentials, the error code with bad ones.
    let challenge = match result {
        Err(Error::MissingToken) => Some("Bearer"),
        Err(Error::InvalidToken(_)) => Some("Bearer error=\"invalid_token\""),
        _ => None,
    };
    let response = crate::respond(req, result);
    match challenge {
        Some(c) => response.header(http::header::WWW_AUTHENTICATE, c),
        None => response,
    }
}

/// The part of an API Gateway HTTP API REQUEST authorizer event (payload 2.0) we read.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerEvent {
    /// Request headers, lower-case names.
    #[serde(default)]
    pub headers: std::collections::HashMap<String, String>,
    /// Request cookies, one `name=value` each.
    #[serde(default)]
    pub cookies: Vec<String>,
    /// The request context.
    #[serde(default)]
    pub request_context: AuthorizerContext,
}

/// `requestContext` of an authorizer event.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuthorizerContext {
    /// `requestContext.http`.
    #[serde(default)]
    pub http: AuthorizerHttp,
}

/// `requestContext.http` of an authorizer event.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuthorizerHttp {
    /// The method.
    #[serde(default)]
    pub method: String,
}

/// The simple response of an HTTP API Lambda authorizer.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    /// Let the request through.
    pub is_authorized: bool,
    /// Passed to the integration as `$context.authorizer.<key>`.
    pub context: std::collections::BTreeMap<&'static str, String>,
}

/// Decides a REQUEST authorizer event with the rules of [`authenticate`]. The caller's `sub`,
/// `email` and `name` go to the integration in the context.
pub fn authorize_event(state: &State, event: &AuthorizerEvent) -> AuthorizerResponse {
    let method =
        Method::from_bytes(event.request_context.http.method.as_bytes()).unwrap_or(Method::POST);
    let cookies = (!event.cookies.is_empty()).then(|| event.cookies.join("; "));
    let presented = Presented {
        method: &method,
        authorization: event.headers.get("authorization").map(String::as_str),
        cookies: cookies.as_deref(),
        csrf: event.headers.get("x-csrf").is_some_and(|v| v == "1"),
    };
    match authenticate(state, &presented) {
        Ok((claims, _)) => {
            tracing::info!(sub = %claims.sub, "authorized");
            let mut context = std::collections::BTreeMap::from([("sub", claims.sub)]);
            context.extend(claims.email.map(|e| ("email", e)));
            context.extend(claims.name.map(|n| ("name", n)));
            AuthorizerResponse { is_authorized: true, context }
        }
        Err(e) => {
            tracing::warn!(error = e.code(), detail = %e, "not authorized");
            AuthorizerResponse { is_authorized: false, context: Default::default() }
        }
    }
}

#[cfg(test)]
mod tests;
