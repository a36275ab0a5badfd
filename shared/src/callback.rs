//! `/api/callback` and `/authorization-code/callback`: finish a login.
//!
//! The checks run in this order, each with its own error code: the transaction cookie (present,
//! sealed by us, not expired, same flow); `state` (constant time); RFC 9207 `iss`; the
//! provider's `error=`; the code exchange (client secret + PKCE verifier); the ID token
//! (signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash`, `sub`); userinfo `sub`;
//! then our JWT is minted. The transaction cookie is cleared on every answer.
//!
//! # Security
//!
//! The provider's access, refresh and ID tokens never leave this module: the answer carries
//! only our JWT and the user's `sub`, `email` and `name`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use openidconnect::core::{CoreIdToken, CoreTokenResponse, CoreTokenType};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, Nonce, OAuth2TokenResponse as _,
    PkceCodeVerifier, RequestTokenError, SignatureVerificationError, TokenResponse as _,
    UserInfoError,
};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::error::{Error, IdTokenError};
use crate::http::{MAX_INPUT, Query, Request, Response};
use crate::provider::FetchError;
use crate::return_to::ReturnTo;
use crate::session::User;
use crate::state::State;
use crate::transaction::{self, Flow, Transaction};

/// Clock skew tolerated on the ID token's `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 60;
/// Name of the server flow's session cookie (our JWT).
pub const SESSION_COOKIE: &str = "__Host-session";

/// What the provider sent back through the browser.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// `state`, to match the transaction's.
    pub state: Option<String>,
    /// RFC 9207 issuer identifier.
    pub iss: Option<String>,
    /// The provider's error code, when it refused.
    pub error: Option<String>,
    /// Ignored and never shown: the provider's words.
    #[serde(default)]
    pub error_description: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub error_uri: Option<String>,
    /// Ignored (some providers echo it).
    #[serde(default)]
    pub session_state: Option<String>,
}

impl CallbackParams {
    /// Reads the parameters from a query string.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] when a parameter is repeated or the query is too long.
    pub fn from_query(raw: Option<&str>) -> Result<Self, Error> {
        let q = Query::parse(raw)?;
        let get = |k: &str| q.get(k).map(str::to_owned);
        Ok(Self {
            code: get("code"),
            state: get("state"),
            iss: get("iss"),
            error: get("error"),
            error_description: None,
            error_uri: None,
            session_state: None,
        })
    }

    /// Reads the parameters from a JSON body `{code, state, iss?}`.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] when the body is not such JSON or is too large.
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        if body.len() > MAX_INPUT {
            return Err(Error::BadRequest("The request body is too large."));
        }
        serde_json::from_slice(body).map_err(|_| {
            Error::BadRequest("The body must be JSON: {\"code\", \"state\", \"iss\"}.")
        })
    }
}

/// A finished login.
#[derive(Debug)]
pub struct Completed {
    /// Our JWT.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The user.
    pub user: User,
    /// Where the app goes now.
    pub return_to: ReturnTo,
}

/// Finishes a login of `flow`. See the module documentation for the order of checks.
///
/// # Errors
///
/// The [`Error`] of the first check that fails.
pub async fn complete(
    state: &State,
    flow: Flow,
    params: &CallbackParams,
    cookie_header: Option<&str>,
    now: u64,
) -> Result<Completed, Error> {
    let (tx, code) = check_callback(state, flow, params, cookie_header, now)?;
    let tokens = exchange(state, flow, code, &tx).await?;
    let mut user = check_tokens(state, &tx, &tokens, now).await?;
    if state.config.userinfo && state.provider()?.client.user_info_url().is_some() {
        let info = userinfo(state, &tokens, &user.sub).await?;
        user.email = info.email.or(user.email);
        user.name = info.name.or(user.name);
    }
    let token = state.session.mint(&user, &state.config.issuer_str, now)?;
    Ok(Completed {
        token,
        expires_in: state.session.ttl().as_secs(),
        user,
        return_to: tx.return_to,
    })
}

/// The checks before the code exchange: the transaction cookie (present, sealed by us, not
/// expired, same flow), `state` in constant time, the RFC 9207 `iss`, the provider's `error=`,
/// and a code. Returns the opened transaction and the code.
///
/// # Errors
///
/// The [`Error`] of the first check that fails.
pub fn check_callback<'p>(
    state: &State,
    flow: Flow,
    params: &'p CallbackParams,
    cookie_header: Option<&str>,
    now: u64,
) -> Result<(Transaction, &'p str), Error> {
    let sealed =
        cookie_header.and_then(transaction::find_in_header).ok_or(Error::TransactionMissing)?;
    let tx = Transaction::open(sealed, &state.cookie_keys, now)?;
    if tx.flow != flow {
        return Err(Error::TransactionFlowMismatch);
    }
    let sent_state = params.state.as_deref().unwrap_or_default();
    if !bool::from(sent_state.as_bytes().ct_eq(tx.state.as_bytes())) || sent_state.is_empty() {
        return Err(Error::StateMismatch);
    }
    match params.iss.as_deref() {
        Some(iss) if iss != state.config.issuer_str => return Err(Error::IssuerMismatch),
        None if state.provider()?.iss_parameter_supported => return Err(Error::IssuerMismatch),
        _ => {}
    }
    if let Some(error) = params.error.as_deref() {
        return Err(Error::LoginFailed(sanitize_code(error)));
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(Error::BadRequest("The callback carries no code."))?;
    Ok((tx, code))
}

/// The checks of the token response: `token_type` was checked by the exchange; here the ID
/// token is required and verified against the login transaction. Network only when the ID
/// token names an unknown key (one JWKS refetch per cooldown).
///
/// # Errors
///
/// [`Error::IdTokenMissing`] or the [`IdTokenError`] of the first failed check.
pub async fn check_tokens(
    state: &State,
    tx: &Transaction,
    tokens: &CoreTokenResponse,
    now: u64,
) -> Result<User, Error> {
    let id_token = tokens.id_token().ok_or(Error::IdTokenMissing)?;
    let nonce = Nonce::new(tx.nonce.expose_secret().to_owned());
    verify_id_token(state, id_token, tokens, &nonce, tx.issued_at, now).await
}

/// Keeps an OAuth error code printable and short, for logs.
fn sanitize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect()
}

fn fetch_error(e: FetchError) -> Error {
    match e {
        FetchError::Timeout => Error::ProviderTimeout("token endpoint".into()),
        FetchError::Unreachable(detail) => Error::ProviderUnreachable(detail),
        FetchError::TooLarge => Error::TokenExchangeFailed("answer too large".into()),
        FetchError::Other(detail) => Error::ProviderUnreachable(detail),
    }
}

async fn exchange(
    state: &State,
    flow: Flow,
    code: &str,
    tx: &Transaction,
) -> Result<CoreTokenResponse, Error> {
    let redirect = match flow {
        Flow::Spa => state.spa_redirect.as_ref(),
        Flow::Server => state.server_redirect.as_ref(),
    }
    .ok_or(Error::FlowNotConfigured)?;
    let result = state
        .provider()?
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| Error::Internal("no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(tx.pkce_verifier.expose_secret().to_owned()))
        .set_redirect_uri(Cow::Borrowed(redirect))
        .request_async(&state.http)
        .await;
    let tokens = result.map_err(|e| match e {
        RequestTokenError::Request(fetch) => fetch_error(fetch),
        RequestTokenError::ServerResponse(r) => Error::TokenExchangeFailed(format!(
            "provider error {}",
            sanitize_code(r.error().as_ref())
        )),
        RequestTokenError::Parse(err, body) if id_token_unparseable(&body) => {
            tracing::debug!(path = %err.path(), "ID token does not parse");
            Error::IdToken(IdTokenError::Malformed)
        }
        RequestTokenError::Parse(err, _) => {
            Error::TokenExchangeFailed(format!("unparseable answer at {}", err.path()))
        }
        RequestTokenError::Other(detail) => Error::TokenExchangeFailed(detail),
    })?;
    if *tokens.token_type() != CoreTokenType::Bearer {
        return Err(Error::TokenExchangeFailed("token_type is not Bearer".into()));
    }
    Ok(tokens)
}

/// True when the token response is JSON whose `id_token` is a string that is not a valid ID
/// token (bad structure, or claims of the wrong JSON type): the ID token's fault, not the
/// exchange's.
fn id_token_unparseable(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id_token").and_then(|t| t.as_str()).map(str::to_owned))
        .is_some_and(|t| t.parse::<CoreIdToken>().is_err())
}

/// Header fields that would let a token bring its own key or extensions: refused outright.
const FORBIDDEN_HEADER_FIELDS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "crit", "zip"];

/// Largest ID token accepted, in bytes. Real ones are a few KiB; anything larger is refused
/// before any key is looked up.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;

fn check_header(id_token: &CoreIdToken) -> Result<(), IdTokenError> {
    let text = id_token.to_string();
    if text.len() > MAX_ID_TOKEN_LEN {
        return Err(IdTokenError::Malformed);
    }
    let header = text.split('.').next().ok_or(IdTokenError::Malformed)?;
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| IdTokenError::Malformed)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|_| IdTokenError::Malformed)?;
    if FORBIDDEN_HEADER_FIELDS.iter().any(|f| header.contains_key(*f)) {
        return Err(IdTokenError::Malformed);
    }
    Ok(())
}

fn claims_error(e: &ClaimsVerificationError) -> IdTokenError {
    use SignatureVerificationError as S;
    match e {
        ClaimsVerificationError::Expired(_) => IdTokenError::Expired,
        ClaimsVerificationError::InvalidAudience(_) => IdTokenError::AudienceMismatch,
        ClaimsVerificationError::InvalidIssuer(_) => IdTokenError::IssuerMismatch,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenError::NonceMismatch,
        ClaimsVerificationError::InvalidSubject(_) => IdTokenError::SubjectMissing,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            S::NoMatchingKey | S::AmbiguousKeyId(_) => IdTokenError::UnknownKey,
            S::DisallowedAlg(_) | S::NoSignature | S::UnsupportedAlg(_) => {
                IdTokenError::AlgorithmNotAllowed
            }
            _ => IdTokenError::BadSignature,
        },
        _ => IdTokenError::Malformed,
    }
}

async fn verify_id_token(
    state: &State,
    id_token: &CoreIdToken,
    tokens: &CoreTokenResponse,
    nonce: &Nonce,
    login_started: u64,
    now: u64,
) -> Result<User, Error> {
    check_header(id_token)?;
    let jwks = state.provider()?.jwks.as_ref().ok_or_else(|| Error::Internal("no JWKS".into()))?;
    let mut verifier = jwks.verifier();
    let mut claims = id_token.claims(&verifier, nonce);
    let unknown_key = matches!(
        claims,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
        ))
    );
    if unknown_key && jwks.refetch(&state.http).await {
        verifier = jwks.verifier();
        claims = id_token.claims(&verifier, nonce);
    }
    let claims = claims.map_err(|e| Error::IdToken(claims_error(&e)))?;

    let client_id = &state.config.client_id;
    let azp = claims.authorized_party().map(|a| a.as_str());
    if azp.is_some_and(|azp| azp != client_id) || (claims.audiences().len() > 1 && azp.is_none()) {
        return Err(IdTokenError::AuthorizedPartyMismatch.into());
    }
    let iat = claims.issue_time().timestamp();
    if iat > i64::try_from(now).unwrap_or(i64::MAX).saturating_add(LEEWAY_SECS) {
        return Err(IdTokenError::IssuedInFuture.into());
    }
    // Issued before this login started: a token from another, older login.
    if iat < i64::try_from(login_started).unwrap_or(0).saturating_sub(LEEWAY_SECS) {
        return Err(IdTokenError::Stale.into());
    }
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|_| IdTokenError::AlgorithmNotAllowed)?;
        let key = id_token.signing_key(&verifier).map_err(|_| IdTokenError::UnknownKey)?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|_| IdTokenError::AccessTokenHashMismatch)?;
        if actual.as_str().as_bytes().ct_eq(expected.as_str().as_bytes()).unwrap_u8() != 1 {
            return Err(IdTokenError::AccessTokenHashMismatch.into());
        }
    }
    let sub = claims.subject().as_str();
    if sub.is_empty() {
        return Err(IdTokenError::SubjectMissing.into());
    }
    Ok(User {
        sub: sub.to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

struct UserInfo {
    email: Option<String>,
    name: Option<String>,
}

async fn userinfo(state: &State, tokens: &CoreTokenResponse, sub: &str) -> Result<UserInfo, Error> {
    let request = state
        .provider()?
        .client
        .user_info(
            tokens.access_token().clone(),
            Some(openidconnect::SubjectIdentifier::new(sub.to_owned())),
        )
        .map_err(|_| Error::Internal("no userinfo endpoint".into()))?;
    let claims: openidconnect::core::CoreUserInfoClaims =
        request.request_async(&state.http).await.map_err(|e| match e {
            UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
                Error::UserinfoSubjectMismatch
            }
            UserInfoError::Request(FetchError::Timeout) => {
                Error::ProviderTimeout("userinfo".into())
            }
            UserInfoError::Request(fetch) => match fetch_error(fetch) {
                Error::TokenExchangeFailed(detail) => Error::UserinfoFailed(detail),
                other => other,
            },
            UserInfoError::Response(status, _body, _) => {
                Error::UserinfoFailed(format!("HTTP {}", status.as_u16()))
            }
            UserInfoError::Parse(err) => {
                Error::UserinfoFailed(format!("unparseable answer at {}", err.path()))
            }
            _ => Error::UserinfoFailed("unusable answer".into()),
        })?;
    Ok(UserInfo {
        email: claims.email().map(|e| e.as_str().to_owned()),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

#[derive(Serialize)]
struct CallbackBody<'a> {
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    user: &'a User,
    return_to: &'a str,
}

/// Serves the callback routes. Every answer clears the transaction cookie and carries
/// `Referrer-Policy: no-referrer`.
///
/// - `GET /api/callback?code&state[&iss]` and `POST /api/callback` `{code, state, iss?}`:
///   `200` JSON with our JWT, or a JSON error.
/// - `GET /authorization-code/callback?...`: `303` to the app with our JWT in an `HttpOnly`
///   session cookie, or `303` to `POST_LOGIN_PATH?error=<code>`.
pub async fn handle(state: &State, req: &Request<'_>, now: u64) -> Response {
    let flow = match req.path {
        "/api/callback" => Flow::Spa,
        "/authorization-code/callback" => Flow::Server,
        _ => return crate::respond(req, Err(Error::NotFound)),
    };
    let params = match (flow, req.method) {
        (_, &Method::GET) => CallbackParams::from_query(req.query),
        (Flow::Spa, &Method::POST) => CallbackParams::from_json(req.body),
        _ => Err(Error::MethodNotAllowed),
    };
    let result = match params {
        Ok(params) => complete(state, flow, &params, req.cookies.as_deref(), now).await,
        Err(e) => Err(e),
    };
    let response = match (flow, result) {
        (Flow::Spa, Ok(done)) => Ok(Response::json(
            StatusCode::OK,
            &CallbackBody {
                token: &done.token,
                token_type: "Bearer",
                expires_in: done.expires_in,
                user: &done.user,
                return_to: done.return_to.as_str(),
            },
        )),
        (Flow::Server, Ok(done)) => {
            Ok(Response::redirect(StatusCode::SEE_OTHER, &app_url(state, done.return_to.as_str()))
                .set_cookie(session_cookie(&done.token, done.expires_in)))
        }
        (Flow::Spa, Err(e)) => Err(e),
        (Flow::Server, Err(e)) => {
            crate::log_refusal(req, &e);
            let path = state.config.post_login_path.as_str();
            let sep = if path.contains('?') { '&' } else { '?' };
            Ok(Response::redirect(
                StatusCode::SEE_OTHER,
                &app_url(state, &format!("{path}{sep}error={}", e.code())),
            ))
        }
    };
    crate::respond(req, response)
        .set_cookie(transaction::clear_cookie())
        .header(http::header::REFERRER_POLICY, "no-referrer")
}

/// `APP_ORIGIN` + path, or the path alone (the API's own origin).
pub(crate) fn app_url(state: &State, path: &str) -> String {
    match &state.config.app_origin {
        Some(origin) => format!("{origin}{path}"),
        None => path.to_owned(),
    }
}

/// The server flow's session cookie: our JWT, `HttpOnly`, `Secure`, `SameSite=Lax`.
pub fn session_cookie(token: &str, max_age: u64) -> String {
    crate::http::host_cookie(SESSION_COOKIE, token, max_age)
}

#[cfg(test)]
mod tests;
