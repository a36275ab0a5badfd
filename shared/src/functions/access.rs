//! Who is calling: our JWT from `Authorization: Bearer` or from the server flow's session
//! cookie. The `me` function (`GET /api/me`) and the Lambda REQUEST authorizer share this
//! state and these rules: signature by `kid` with the key's own algorithm, our `iss` and `aud`,
//! `exp`. A request authenticated by the cookie that changes state (anything but `GET`,
//! `HEAD`, `OPTIONS`) must carry `X-CSRF: 1`, which a cross-site form cannot send.
//!
//! With `SESSION_CHECK=strict` (sessions on), the token's session must also still be live in
//! the session table: one `GetItem` per request (per uncached request, behind the authorizer's
//! cache), so a token of an ended session (logout, back-channel logout, maximum age, idle)
//! stops working at once instead of at its `exp`.

use http::{Method, StatusCode};

use super::start::{ColdStart, NoProvider, Parts, StartError};
use crate::error::{Error, VerifyError};
use crate::sessions::Sessions;
use crate::tokens::session::{SessionClaims, SessionTokens};
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route, log_refusal};

/// The state of `me` and of the authorizer: our keys, to verify our JWTs, and with
/// `SESSION_CHECK=strict` the session table.
#[derive(Debug)]
pub struct Access {
    session: SessionTokens,
    /// `Some` only with `SESSION_CHECK=strict`.
    strict: Option<Sessions>,
}

impl ColdStart for Access {
    type Fetch = NoProvider;

    fn build(parts: Parts, _: NoProvider) -> Result<Self, StartError> {
        let Parts { config, secret, dynamodb, .. } = parts;
        let (_, signing_keys, cookie_keys) = secret.into_parts();
        let strict = match config.sessions.as_ref().is_some_and(|s| s.strict) {
            true => Parts::sessions(&config, dynamodb, &cookie_keys)?,
            false => None,
        };
        Ok(Self { session: SessionTokens::from_config(&config, signing_keys), strict })
    }
}

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

impl<'a> Presented<'a> {
    /// The token the request is to be authenticated by, and where it came from: a bearer
    /// token wins over the cookie.
    ///
    /// An `Authorization` header of another scheme (`Basic` of a staging gate) is refused,
    /// never read as "no credentials": the authorizer's answer is cached by that header, so a
    /// fallback to the cookie would serve one user's "allow" to everyone sending it.
    ///
    /// # Errors
    ///
    /// [`Error::AuthorizationNotBearer`], [`Error::CookieDuplicated`], [`Error::MissingToken`].
    pub fn credential(&self) -> Result<(&'a str, Credential), Error> {
        let bearer = match self.authorization {
            None => None,
            Some(h) => match h.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim())
                }
                _ => return Err(Error::AuthorizationNotBearer),
            },
        };
        let cookie = self.cookies.map(cookies::session).transpose()?.flatten();
        match (bearer, cookie) {
            (Some(token), _) => Ok((token, Credential::Bearer)),
            (None, Some(token)) => Ok((token, Credential::Cookie)),
            (None, None) => Err(Error::MissingToken),
        }
    }
}

impl Access {
    /// Our JWTs (tests mint tokens with them).
    pub fn session(&self) -> &SessionTokens {
        &self.session
    }

    /// Authenticates a request by our JWT at `now`. A bearer token wins over the cookie.
    ///
    /// # Errors
    ///
    /// [`Error::MissingToken`], [`Error::AuthorizationNotBearer`], [`Error::InvalidToken`] (with `SESSION_CHECK=strict`, also for
    /// a token whose session has ended or that names none), [`Error::CsrfRequired`], or
    /// [`Error::SessionStore`] when the strict check cannot read the table.
    pub async fn authenticate(
        &self,
        presented: &Presented<'_>,
        now: u64,
    ) -> Result<(SessionClaims, Credential), Error> {
        let (token, credential) = presented.credential()?;
        let safe_method = matches!(*presented.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if credential == Credential::Cookie && !safe_method && !presented.csrf {
            return Err(Error::CsrfRequired);
        }
        let claims = self.session.verify(token, now).map_err(Error::InvalidToken)?;
        if let Some(sessions) = &self.strict {
            let sid =
                claims.sid.as_deref().ok_or(Error::InvalidToken(VerifyError::SessionEnded))?;
            if !sessions.is_live(sid, now).await? {
                return Err(Error::InvalidToken(VerifyError::SessionEnded));
            }
        }
        Ok((claims, credential))
    }

    /// The authorizer's decision with the rules of [`Access::authenticate`]: the caller's
    /// claims, or `None`. One log line either way (no user identifier; a refusal's code).
    pub async fn authorize(&self, presented: &Presented<'_>, now: u64) -> Option<SessionClaims> {
        match self.authenticate(presented, now).await {
            Ok((claims, _)) => {
                tracing::info!("authorized");
                Some(claims)
            }
            Err(e) => {
                tracing::warn!(error = e.code(), detail = %e, "not authorized");
                None
            }
        }
    }
}

/// `me`'s one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Me;

impl HttpFunction for Access {
    type Route = Me;

    const ROUTES: &'static [Route<Me>] = &[Route::get("/api/me", Me)];

    /// `GET /api/me`: the claims of the caller's token.
    async fn handle(&self, _: Me, req: &Request<'_>, now: u64) -> Result<Response, Error> {
        let (claims, _) = self.authenticate(&req.into(), now).await?;
        Ok(Response::json(StatusCode::OK, &claims))
    }

    /// RFC 6750: a bare challenge without credentials, the error code with bad ones.
    fn refuse(&self, _: Option<Me>, req: &Request<'_>, err: Error) -> Response {
        log_refusal(req, &err);
        let challenge = match err {
            Error::MissingToken => Some("Bearer"),
            Error::InvalidToken(_) => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        let response = Response::error(&err);
        match challenge {
            Some(c) => response.header(http::header::WWW_AUTHENTICATE, c),
            None => response,
        }
    }
}

#[cfg(test)]
mod tests;
