//! The back channel of a login: the code exchange at the token endpoint (client
//! authentication and PKCE verifier) and the userinfo call. Provider answers are mapped to our [`Error`]s; the
//! provider's words (`error_description`, bodies) are never kept beyond a sanitized code.

use std::borrow::Cow;

use openidconnect::core::{CoreIdToken, CoreTokenResponse, CoreTokenType};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, OAuth2TokenResponse as _,
    PkceCodeVerifier, RefreshToken, RequestTokenError, UserInfoError,
};
use secrecy::{ExposeSecret as _, SecretString};

use super::dpop::DpopKey;
use super::provider::Provider;
use crate::error::{Error, IdTokenError};
use crate::infra::clock::unix_now;
use crate::infra::http::{FetchError, Http};
use crate::infra::metrics::{self, Endpoint};
use crate::tokens::transaction::Flow;

/// Keeps an OAuth error code printable and short, for logs.
pub(crate) fn sanitize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect()
}

/// Whether a token request's `result` says the provider could not be reached (for the
/// `ProviderUnreachable` metric).
fn unreachable<T, E>(result: &Result<T, RequestTokenError<FetchError, E>>) -> bool
where
    E: openidconnect::ErrorResponse,
{
    matches!(result, Err(RequestTokenError::Request(e)) if e.is_unreachable())
}

fn fetch_error(e: FetchError) -> Error {
    match e {
        FetchError::Timeout => Error::ProviderTimeout("token endpoint".into()),
        FetchError::Unreachable(detail) => Error::ProviderUnreachable(detail),
        FetchError::TooLarge => Error::TokenExchangeFailed("answer too large".into()),
        FetchError::Other(detail) => Error::ProviderUnreachable(detail),
    }
}

/// Exchanges `code` for the provider's tokens, with the client's authentication
/// ([`Provider::credentials`]) and the login's PKCE verifier, at the redirect URI of `flow`; the answer must be a `Bearer` token response.
///
/// # Errors
///
/// [`Error::TokenExchangeFailed`], [`Error::ProviderTimeout`], [`Error::ProviderUnreachable`],
/// or [`IdTokenError::Malformed`] when the answer's `id_token` does not parse.
pub async fn exchange_code(
    provider: &Provider,
    http: &Http,
    flow: Flow,
    code: &str,
    pkce_verifier: &SecretString,
    dpop: Option<&DpopKey>,
) -> Result<CoreTokenResponse, Error> {
    let redirect = provider.redirect_uri(flow)?;
    let mut request = provider
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| Error::Internal("no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose_secret().to_owned()))
        .set_redirect_uri(Cow::Borrowed(redirect));
    for (name, value) in provider.credentials.assertion_fields(unix_now())? {
        request = request.add_extra_param(name, value.expose_secret().to_owned());
    }
    let client = provider.dpop_client(http, dpop);
    let result =
        metrics::provider_call(Endpoint::Token, request.request_async(&client), unreachable).await;
    checked(result.map_err(token_error), dpop.is_some())
}

/// The refresh grant (RFC 6749 section 6) with the client's authentication, as for the code
/// exchange; the answer must be a `Bearer` token response.
///
/// # Errors
///
/// [`Error::SessionExpired`] when the provider answers `invalid_grant` (the refresh token is
/// revoked, expired or used); otherwise as [`exchange_code`].
pub async fn exchange_refresh_token(
    provider: &Provider,
    http: &Http,
    refresh_token: &SecretString,
    dpop: Option<&DpopKey>,
) -> Result<CoreTokenResponse, Error> {
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let mut request = provider
        .client
        .exchange_refresh_token(&token)
        .map_err(|_| Error::Internal("no token endpoint".into()))?;
    for (name, value) in provider.credentials.assertion_fields(unix_now())? {
        request = request.add_extra_param(name, value.expose_secret().to_owned());
    }
    let client = provider.dpop_client(http, dpop);
    let result =
        metrics::provider_call(Endpoint::Refresh, request.request_async(&client), unreachable)
            .await;
    let result = result.map_err(|e| match e {
        RequestTokenError::ServerResponse(r)
            if *r.error() == openidconnect::core::CoreErrorResponseType::InvalidGrant =>
        {
            Error::SessionExpired("the provider refused the refresh token")
        }
        other => token_error(other),
    });
    checked(result, dpop.is_some())
}

pub(crate) fn token_error(
    e: RequestTokenError<
        FetchError,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> Error {
    match e {
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
    }
}

/// The answer, when its `token_type` is the one asked for: `DPoP` for a request with a proof
/// (`dpop`; a provider answering `Bearer` ignored the proof, and its token is not bound),
/// `Bearer` otherwise (either in any case).
pub(crate) fn checked(
    tokens: Result<CoreTokenResponse, Error>,
    dpop: bool,
) -> Result<CoreTokenResponse, Error> {
    let tokens = tokens?;
    let fits = match (tokens.token_type(), dpop) {
        (CoreTokenType::Bearer, false) => true,
        (CoreTokenType::Extension(t), true) => t.eq_ignore_ascii_case("dpop"),
        _ => false,
    };
    if !fits {
        let expected = if dpop { "DPoP" } else { "Bearer" };
        return Err(Error::TokenExchangeFailed(format!("token_type is not {expected}")));
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

/// What userinfo adds to the ID token's claims.
#[derive(Debug)]
pub struct UserInfo {
    /// Every claim of the answer, for `JWT_CLAIMS`.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// `email`, when given.
    pub email: Option<String>,
    /// `email_verified`, when given.
    pub email_verified: Option<bool>,
    /// `name`, when given.
    pub name: Option<String>,
}

/// The claims of a userinfo answer beyond the standard ones openidconnect reads, kept for
/// `JWT_CLAIMS`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct AllClaims {
    #[serde(flatten)]
    pub(crate) all: serde_json::Map<String, serde_json::Value>,
}

impl openidconnect::AdditionalClaims for AllClaims {}

/// Asks userinfo with `access_token`; its `sub` must be `sub` (the ID token's).
///
/// # Errors
///
/// [`Error::UserinfoSubjectMismatch`], [`Error::UserinfoFailed`], [`Error::ProviderTimeout`],
/// [`Error::ProviderUnreachable`].
pub async fn userinfo(
    provider: &Provider,
    http: &Http,
    access_token: &AccessToken,
    sub: &str,
    dpop: Option<&DpopKey>,
) -> Result<UserInfo, Error> {
    let request = provider
        .client
        .user_info(
            access_token.clone(),
            Some(openidconnect::SubjectIdentifier::new(sub.to_owned())),
        )
        .map_err(|_| Error::Internal("no userinfo endpoint".into()))?;
    let unreachable = |r: &Result<_, UserInfoError<FetchError>>| matches!(r, Err(UserInfoError::Request(e)) if e.is_unreachable());
    let claims: Result<
        openidconnect::UserInfoClaims<AllClaims, openidconnect::core::CoreGenderClaim>,
        _,
    > = {
        let client = provider.dpop_client(http, dpop);
        metrics::provider_call(Endpoint::Userinfo, request.request_async(&client), unreachable)
            .await
    };
    let claims = claims.map_err(|e| match e {
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            Error::UserinfoSubjectMismatch
        }
        UserInfoError::Request(FetchError::Timeout) => Error::ProviderTimeout("userinfo".into()),
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
        claims: claims.additional_claims().all.clone(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

#[cfg(test)]
mod tests;
