//! The one error type that reaches a client, and its mapping to HTTP.
//!
//! Every failure a function answers with is an [`Error`]. Each variant has a stable public code
//! ([`Error::code`]), a status ([`Error::status`]) and a short description that is safe to show
//! ([`Error::description`]). Causes (provider bodies, SDK errors, parse errors) stay in the
//! variant for logging and never reach [`ErrorBody`].

use http::StatusCode;
use serde::Serialize;

/// Why an ID token was refused. Each variant has its own public error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS, bad base64, bad JSON, claims of the wrong JSON type, a JWE, too large,
    /// or a header this relying party refuses (`crit`, embedded key material).
    Malformed,
    /// `alg` is `none`, symmetric, or not one the provider announced among those we accept.
    AlgorithmNotAllowed,
    /// No key in the provider's JWKS matches the token (even after a refetch).
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not exactly the configured issuer.
    IssuerMismatch,
    /// `aud` does not contain the client id.
    AudienceMismatch,
    /// `azp` is absent with several audiences, or differs from the client id.
    AuthorizedPartyMismatch,
    /// `exp` is missing or in the past (beyond the leeway).
    Expired,
    /// `iat` is missing or in the future (beyond the leeway).
    IssuedInFuture,
    /// `iat` is before the login started (beyond the leeway).
    Stale,
    /// `nonce` is missing or differs from the login transaction's.
    NonceMismatch,
    /// `at_hash` does not match the access token.
    AccessTokenHashMismatch,
    /// `sub` is missing or empty.
    SubjectMissing,
}

impl IdTokenError {
    /// The stable public code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "id_token_malformed",
            Self::AlgorithmNotAllowed => "id_token_alg_not_allowed",
            Self::UnknownKey => "id_token_unknown_key",
            Self::BadSignature => "id_token_bad_signature",
            Self::IssuerMismatch => "id_token_issuer_mismatch",
            Self::AudienceMismatch => "id_token_audience_mismatch",
            Self::AuthorizedPartyMismatch => "id_token_azp_mismatch",
            Self::Expired => "id_token_expired",
            Self::IssuedInFuture => "id_token_issued_in_future",
            Self::Stale => "id_token_stale",
            Self::NonceMismatch => "id_token_nonce_mismatch",
            Self::AccessTokenHashMismatch => "id_token_at_hash_mismatch",
            Self::SubjectMissing => "id_token_subject_missing",
        }
    }

    const fn description(self) -> &'static str {
        match self {
            Self::Malformed => "The provider's ID token is malformed.",
            Self::AlgorithmNotAllowed => {
                "The provider's ID token uses a signing algorithm that is not allowed."
            }
            Self::UnknownKey => "The provider's ID token is signed by an unknown key.",
            Self::BadSignature => "The provider's ID token signature is invalid.",
            Self::IssuerMismatch => "The provider's ID token comes from another issuer.",
            Self::AudienceMismatch => "The provider's ID token is meant for another client.",
            Self::AuthorizedPartyMismatch => {
                "The provider's ID token names another authorized party."
            }
            Self::Expired => "The provider's ID token has expired.",
            Self::IssuedInFuture => "The provider's ID token is issued in the future.",
            Self::Stale => "The provider's ID token was issued before this login started.",
            Self::NonceMismatch => "The provider's ID token does not belong to this login.",
            Self::AccessTokenHashMismatch => {
                "The provider's ID token does not match its access token."
            }
            Self::SubjectMissing => "The provider's ID token names no subject.",
        }
    }
}

/// A failure answered to the client.
///
/// The `#[source]`/detail fields are for logs only; [`Error::body`] exposes code and description.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No route matches the request.
    #[error("no such route")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The flow's redirect URI is not configured, so the flow is switched off.
    #[error("flow not configured")]
    FlowNotConfigured,
    /// The query string or body could not be read.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No login transaction cookie came with the callback.
    #[error("login transaction cookie missing")]
    TransactionMissing,
    /// The login transaction cookie does not open under any cookie key, or is not well-formed.
    #[error("login transaction cookie invalid")]
    TransactionInvalid,
    /// The login transaction is older than its lifetime.
    #[error("login transaction expired")]
    TransactionExpired,
    /// The login transaction was started by the other flow.
    #[error("login transaction started by the other flow")]
    TransactionFlowMismatch,
    /// `state` differs from the transaction's.
    #[error("state mismatch")]
    StateMismatch,
    /// The authorization response's `iss` differs from the configured issuer (RFC 9207), or is
    /// absent although the provider announces it.
    #[error("authorization response issuer mismatch")]
    IssuerMismatch,
    /// The provider answered the authorization request with `error=`.
    #[error("provider refused the login: {0}")]
    LoginFailed(String),
    /// The provider's token endpoint refused the code or answered something unusable.
    #[error("token exchange failed: {0}")]
    TokenExchangeFailed(String),
    /// The provider's answer carried no ID token.
    #[error("token response without id_token")]
    IdTokenMissing,
    /// The ID token failed a check.
    #[error("ID token refused: {0:?}")]
    IdToken(IdTokenError),
    /// Userinfo failed.
    #[error("userinfo failed: {0}")]
    UserinfoFailed(String),
    /// Userinfo's `sub` differs from the ID token's.
    #[error("userinfo subject mismatch")]
    UserinfoSubjectMismatch,
    /// The provider could not be reached.
    #[error("provider unreachable: {0}")]
    ProviderUnreachable(String),
    /// The provider did not answer in time.
    #[error("provider timed out: {0}")]
    ProviderTimeout(String),
    /// No bearer token and no session cookie.
    #[error("no token")]
    MissingToken,
    /// Our token is invalid (signature, issuer, audience, expiry, unknown key).
    #[error("invalid token: {0}")]
    InvalidToken(crate::session::VerifyError),
    /// A state-changing request authenticated by the session cookie lacks `X-CSRF: 1`.
    #[error("cookie-authenticated request without X-CSRF: 1")]
    CsrfRequired,
    /// Our own fault (signing failed, a response could not be built).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<IdTokenError> for Error {
    fn from(e: IdTokenError) -> Self {
        Self::IdToken(e)
    }
}

impl Error {
    /// The stable public code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::FlowNotConfigured => "flow_not_configured",
            Self::BadRequest(_) => "bad_request",
            Self::TransactionMissing => "transaction_missing",
            Self::TransactionInvalid => "transaction_invalid",
            Self::TransactionExpired => "transaction_expired",
            Self::TransactionFlowMismatch => "transaction_flow_mismatch",
            Self::StateMismatch => "state_mismatch",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::LoginFailed(_) => "login_failed",
            Self::TokenExchangeFailed(_) => "token_exchange_failed",
            Self::IdTokenMissing => "id_token_missing",
            Self::IdToken(e) => e.code(),
            Self::UserinfoFailed(_) => "userinfo_failed",
            Self::UserinfoSubjectMismatch => "userinfo_subject_mismatch",
            Self::ProviderUnreachable(_) => "provider_unreachable",
            Self::ProviderTimeout(_) => "provider_timeout",
            Self::MissingToken => "missing_token",
            Self::InvalidToken(_) => "invalid_token",
            Self::CsrfRequired => "csrf_required",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::FlowNotConfigured => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_)
            | Self::TransactionMissing
            | Self::TransactionInvalid
            | Self::TransactionExpired
            | Self::TransactionFlowMismatch
            | Self::StateMismatch
            | Self::IssuerMismatch => StatusCode::BAD_REQUEST,
            Self::LoginFailed(_)
            | Self::IdToken(_)
            | Self::UserinfoSubjectMismatch
            | Self::MissingToken
            | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::CsrfRequired => StatusCode::FORBIDDEN,
            Self::TokenExchangeFailed(_)
            | Self::IdTokenMissing
            | Self::UserinfoFailed(_)
            | Self::ProviderUnreachable(_) => StatusCode::BAD_GATEWAY,
            Self::ProviderTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A description that is safe to show: fixed text, never a provider's or library's words.
    pub fn description(&self) -> &'static str {
        match self {
            Self::NotFound => "No such route.",
            Self::MethodNotAllowed => "This route does not accept that method.",
            Self::FlowNotConfigured => "This login flow is not configured.",
            Self::BadRequest(what) => what,
            Self::TransactionMissing => "No login is in progress in this browser. Start again.",
            Self::TransactionInvalid => "The login transaction is invalid. Start again.",
            Self::TransactionExpired => "The login took too long. Start again.",
            Self::TransactionFlowMismatch => "The login was started by another flow. Start again.",
            Self::StateMismatch => "The callback does not belong to the login in progress.",
            Self::IssuerMismatch => "The callback comes from another issuer.",
            Self::LoginFailed(_) => "The provider did not complete the login.",
            Self::TokenExchangeFailed(_) => "The provider refused to exchange the code.",
            Self::IdTokenMissing => "The provider returned no ID token.",
            Self::IdToken(e) => e.description(),
            Self::UserinfoFailed(_) => "The provider's userinfo endpoint failed.",
            Self::UserinfoSubjectMismatch => "The provider's userinfo names another subject.",
            Self::ProviderUnreachable(_) => "The provider could not be reached.",
            Self::ProviderTimeout(_) => "The provider did not answer in time.",
            Self::MissingToken => "A bearer token or a session cookie is required.",
            Self::InvalidToken(_) => "The token is invalid or expired.",
            Self::CsrfRequired => "Requests authenticated by the session cookie need X-CSRF: 1.",
            Self::Internal(_) => "Internal error.",
        }
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: self.code(), error_description: self.description() }
    }
}

/// `{"error": "<code>", "error_description": "<safe text>"}`
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The stable code.
    pub error: &'static str,
    /// Safe text.
    pub error_description: &'static str,
}

/// The `Display` texts of an error and its sources, joined with `: `. Never `Debug`, which
/// for SDK errors includes raw response bodies.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_words_never_reach_the_body() {
        let e = Error::LoginFailed("<script>alert(1)</script>".into());
        let body = serde_json::to_string(&e.body()).unwrap_or_default();
        assert_eq!(
            body,
            r#"{"error":"login_failed","error_description":"The provider did not complete the login."}"#
        );
        let e = Error::TokenExchangeFailed("invalid_grant: code reused, secret=abc".into());
        let body = serde_json::to_string(&e.body()).unwrap_or_default();
        assert!(!body.contains("invalid_grant") && !body.contains("abc"), "{body}");
    }

    #[test]
    fn statuses_follow_the_design() {
        assert_eq!(Error::TransactionMissing.status(), 400);
        assert_eq!(Error::StateMismatch.status(), 400);
        assert_eq!(Error::IdToken(IdTokenError::BadSignature).status(), 401);
        assert_eq!(Error::ProviderTimeout(String::new()).status(), 504);
        assert_eq!(Error::ProviderUnreachable(String::new()).status(), 502);
        assert_eq!(Error::Internal(String::new()).status(), 500);
        assert_eq!(Error::IdToken(IdTokenError::NonceMismatch).code(), "id_token_nonce_mismatch");
    }
}
