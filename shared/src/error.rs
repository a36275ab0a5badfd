//! The one error type that reaches a client, and its mapping to HTTP.
//!
//! Every failure a function answers with is an [`Error`]. One table ([`Error::row`]) gives
//! each variant its status, its stable public code and a short description that is safe to
//! show. Causes (provider bodies, SDK errors, parse errors) stay in the variant for logging and
//! never reach [`ErrorBody`].
//!
//! This module is the crate's vocabulary of failures: it imports nothing of the crate, and
//! every layer may return its types.

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
    /// The login asked for `max_age`, and the token has no `auth_time`.
    AuthTimeMissing,
    /// The login asked for `max_age`, and `auth_time` is older than that (beyond the leeway).
    AuthTooOld,
    /// The login asked for `acr_values`, and `acr` is absent or none of them.
    AcrNotSatisfied,
}

/// The provider answered `error=` with a code the SPA can act on (OpenID Connect Core
/// 3.1.2.6): after `prompt=none`, typically, an interactive login is needed. Each has its own
/// public code, the provider's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InteractionNeeded {
    /// `login_required`: the user must sign in at the provider.
    LoginRequired,
    /// `interaction_required`: the provider needs some interaction with the user.
    InteractionRequired,
    /// `consent_required`: the user must consent.
    ConsentRequired,
    /// `account_selection_required`: the user must pick an account.
    AccountSelectionRequired,
}

impl InteractionNeeded {
    /// The variant for a provider's `error=` code, when it is one of these four.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "login_required" => Some(Self::LoginRequired),
            "interaction_required" => Some(Self::InteractionRequired),
            "consent_required" => Some(Self::ConsentRequired),
            "account_selection_required" => Some(Self::AccountSelectionRequired),
            _ => None,
        }
    }

    const fn row(self) -> Row {
        let (code, description) = match self {
            Self::LoginRequired => {
                ("login_required", "The provider needs the user to sign in. Log in again.")
            }
            Self::InteractionRequired => {
                ("interaction_required", "The provider needs the user's interaction. Log in again.")
            }
            Self::ConsentRequired => {
                ("consent_required", "The provider needs the user's consent. Log in again.")
            }
            Self::AccountSelectionRequired => (
                "account_selection_required",
                "The provider needs the user to pick an account. Log in again.",
            ),
        };
        (StatusCode::UNAUTHORIZED, code, description)
    }
}

/// Why one of our own JWTs was refused (`/api/me`, the authorizer). Each maps to
/// `invalid_token`; the variant is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a well-formed JWT, or no `kid`.
    #[error("malformed token")]
    Malformed,
    /// `kid` names none of our keys.
    #[error("unknown key")]
    UnknownKey,
    /// `alg` is not the algorithm of the key named by `kid` (this includes `none` and HS*).
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// Signature, `iss`, `aud` or a required claim is wrong.
    #[error("invalid token")]
    Invalid,
    /// `exp` has passed (beyond the leeway).
    #[error("expired token")]
    Expired,
    /// `SESSION_CHECK=strict`: the token's session has ended, or it names none.
    #[error("session ended")]
    SessionEnded,
    /// A token the proxy minted for a remote API (`api` claim): good for that API, never as a
    /// session of ours, even when its audience is ours.
    #[error("token minted for a remote API")]
    ForRemoteApi,
}

/// One row of the error table: status, stable code, safe description.
type Row = (StatusCode, &'static str, &'static str);

impl IdTokenError {
    /// The row of this refusal: every ID token failure is a 401 with its own code.
    const fn row(self) -> Row {
        let (code, description) = match self {
            Self::Malformed => ("id_token_malformed", "The provider's ID token is malformed."),
            Self::AlgorithmNotAllowed => (
                "id_token_alg_not_allowed",
                "The provider's ID token uses a signing algorithm that is not allowed.",
            ),
            Self::UnknownKey => {
                ("id_token_unknown_key", "The provider's ID token is signed by an unknown key.")
            }
            Self::BadSignature => {
                ("id_token_bad_signature", "The provider's ID token signature is invalid.")
            }
            Self::IssuerMismatch => {
                ("id_token_issuer_mismatch", "The provider's ID token comes from another issuer.")
            }
            Self::AudienceMismatch => (
                "id_token_audience_mismatch",
                "The provider's ID token is meant for another client.",
            ),
            Self::AuthorizedPartyMismatch => {
                ("id_token_azp_mismatch", "The provider's ID token names another authorized party.")
            }
            Self::Expired => ("id_token_expired", "The provider's ID token has expired."),
            Self::IssuedInFuture => {
                ("id_token_issued_in_future", "The provider's ID token is issued in the future.")
            }
            Self::Stale => {
                ("id_token_stale", "The provider's ID token was issued before this login started.")
            }
            Self::NonceMismatch => (
                "id_token_nonce_mismatch",
                "The provider's ID token does not belong to this login.",
            ),
            Self::AccessTokenHashMismatch => (
                "id_token_at_hash_mismatch",
                "The provider's ID token does not match its access token.",
            ),
            Self::SubjectMissing => {
                ("id_token_subject_missing", "The provider's ID token names no subject.")
            }
            Self::AuthTimeMissing => (
                "auth_time_missing",
                "The provider did not say when the user signed in, although max_age was asked.",
            ),
            Self::AuthTooOld => {
                ("auth_too_old", "The user signed in at the provider longer ago than max_age.")
            }
            Self::AcrNotSatisfied => (
                "acr_not_satisfied",
                "The provider did not authenticate the user as acr_values asked.",
            ),
        };
        (StatusCode::UNAUTHORIZED, code, description)
    }

    /// The stable public code.
    pub const fn code(self) -> &'static str {
        self.row().1
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
    /// `?provider=` names a provider the configuration does not have.
    #[error("unknown provider")]
    UnknownProvider,
    /// A transaction, a session or a callback names a provider this function does not have
    /// (the configuration changed under it).
    #[error("provider no longer configured")]
    ProviderGone,
    /// The query string or body could not be read.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A cookie of ours appears twice in one `Cookie` header.
    #[error("a cookie of ours appears twice")]
    CookieDuplicated,
    /// A JSON body came without `Content-Type: application/json`.
    #[error("body without Content-Type: application/json")]
    UnsupportedMediaType,
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
    /// The provider answered `error=login_required` (or another code of
    /// [`InteractionNeeded`]): an interactive login is needed.
    #[error("provider needs an interactive login: {0:?}")]
    InteractionNeeded(InteractionNeeded),
    /// A login option (`prompt`, `max_age`, `login_hint`, `acr_values`) is not allowed by the
    /// configuration, malformed, repeated or oversized (which, for logs).
    #[error("login option refused: {0}")]
    LoginOptionRefused(&'static str),
    /// The provider's token endpoint refused the code or answered something unusable.
    #[error("token exchange failed: {0}")]
    TokenExchangeFailed(String),
    /// The provider's PAR endpoint refused the login's authorization request, or answered
    /// something unusable (RFC 9126).
    #[error("pushed authorization request failed: {0}")]
    ParFailed(String),
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
    InvalidToken(VerifyError),
    /// A state-changing request authenticated by the session cookie lacks `X-CSRF: 1`.
    #[error("cookie-authenticated request without X-CSRF: 1")]
    CsrfRequired,
    /// An `Authorization` header of another scheme than `Bearer` (`Basic` of a staging gate):
    /// refused, never read as "no credentials" (which would fall back to the cookie).
    #[error("Authorization header of another scheme than Bearer")]
    AuthorizationNotBearer,
    /// A proxied request whose `Origin` or `Sec-Fetch-Site` says it comes from another site.
    #[error("cross-origin request refused: {0}")]
    OriginRefused(&'static str),
    /// `/api/remote/{name}/...` names no API of `REMOTE_APIS`.
    #[error("unknown remote API")]
    RemoteApiUnknown,
    /// A proxied path that would leave the API's base (`..`, an encoded slash, ...).
    #[error("remote path refused: {0}")]
    RemotePathRefused(&'static str),
    /// A request body over the proxy's cap.
    #[error("request body too large")]
    RequestTooLarge,
    /// The remote API could not be reached.
    #[error("upstream unreachable: {0}")]
    UpstreamUnreachable(String),
    /// The remote API did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The remote API answered a redirect, which the proxy never follows nor passes on.
    #[error("upstream answered a redirect")]
    UpstreamRedirected,
    /// The remote API's answer is over the proxy's cap.
    #[error("upstream answer too large")]
    UpstreamTooLarge,
    /// The remote API's answer holds the bearer token the proxy sent it (an echo).
    #[error("upstream answer holds the token it was sent")]
    UpstreamEchoedToken,
    /// A remote API wants the provider's access token and the session holds none.
    #[error("no provider access token in the session")]
    ProviderTokenUnavailable,
    /// Sessions are not configured (`SESSION_TABLE` unset): nothing to refresh.
    #[error("sessions are off")]
    SessionsOff,
    /// A session request without the session handle cookie.
    #[error("no session cookie")]
    SessionMissing,
    /// The session is gone: logged out, past its maximum age or idle time, refused by the
    /// provider at refresh (`invalid_grant`), or its user changed.
    #[error("session ended: {0}")]
    SessionExpired(&'static str),
    /// A back-channel logout request was refused: no valid, unseen logout token in a form
    /// body (the reason is logged; the answer is always `invalid_request`, as the spec says).
    #[error("back-channel logout refused: {0}")]
    LogoutTokenRefused(&'static str),
    /// The session table could not be read or written.
    #[error("session store failed: {0}")]
    SessionStore(String),
    /// A logout ending many sessions ran out of time with some left: nothing is recorded as
    /// done (a back-channel logout's token is forgotten; "everywhere" keeps the caller's own
    /// session), so the same request may be sent again and ends the rest.
    #[error("logout incomplete: {0} sessions ended before the deadline")]
    LogoutIncomplete(usize),
    /// Universal Logout is off (`GLOBAL_LOGOUT_PROVIDERS` unset).
    #[error("universal logout is off")]
    GlobalLogoutOff,
    /// A Universal Logout request without a valid, unseen request JWT of a configured
    /// provider (the reason is logged).
    #[error("global token revocation unauthenticated: {0}")]
    RevocationUnauthenticated(&'static str),
    /// A Universal Logout request of a provider that may not end this user: one not in
    /// `GLOBAL_LOGOUT_PROVIDERS`, or a subject of another issuer.
    #[error("global token revocation forbidden: {0}")]
    RevocationForbidden(&'static str),
    /// A Universal Logout request whose body is not the draft's JSON.
    #[error("global token revocation malformed: {0}")]
    RevocationMalformed(&'static str),
    /// A Universal Logout request naming its user by a format other than `iss_sub` and
    /// `email`.
    #[error("unsupported subject format")]
    UnsupportedSubjectFormat,
    /// `DELETE /api/sessions/{sid}` names no session of the caller's user (none at all, or
    /// another user's: the same answer).
    #[error("no such session of this user")]
    SessionNotFound,
    /// Too many requests already wait for this session's refresh grant
    /// ([`crate::sessions::MAX_WAITING`]): this one is answered at once instead of reading the
    /// item again and again.
    #[error("too many requests wait for this session's refresh")]
    SessionBusy,
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
    /// The error table: each variant's status, stable public code and safe description,
    /// side by side. The description is fixed text, never a provider's or library's words.
    fn row(&self) -> Row {
        use StatusCode as S;
        match self {
            Self::NotFound => (S::NOT_FOUND, "not_found", "No such route."),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This route does not accept that method.",
            ),
            Self::FlowNotConfigured => {
                (S::NOT_FOUND, "flow_not_configured", "This login flow is not configured.")
            }
            Self::UnknownProvider => (
                S::BAD_REQUEST,
                "unknown_provider",
                "The provider parameter names no provider of this service.",
            ),
            Self::ProviderGone => (
                S::BAD_REQUEST,
                "provider_not_configured",
                "The provider of this login is no longer configured. Log in again.",
            ),
            Self::BadRequest(what) => (S::BAD_REQUEST, "bad_request", what),
            Self::CookieDuplicated => (
                S::BAD_REQUEST,
                "cookie_duplicated",
                "A cookie of this service appears twice. Clear this site's cookies and start again.",
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be sent as Content-Type: application/json.",
            ),
            Self::TransactionMissing => (
                S::BAD_REQUEST,
                "transaction_missing",
                "No login is in progress in this browser. Start again.",
            ),
            Self::TransactionInvalid => (
                S::BAD_REQUEST,
                "transaction_invalid",
                "The login transaction is invalid. Start again.",
            ),
            Self::TransactionExpired => {
                (S::BAD_REQUEST, "transaction_expired", "The login took too long. Start again.")
            }
            Self::TransactionFlowMismatch => (
                S::BAD_REQUEST,
                "transaction_flow_mismatch",
                "The login was started by another flow. Start again.",
            ),
            Self::StateMismatch => (
                S::BAD_REQUEST,
                "state_mismatch",
                "The callback does not belong to the login in progress.",
            ),
            Self::IssuerMismatch => {
                (S::BAD_REQUEST, "issuer_mismatch", "The callback comes from another issuer.")
            }
            Self::LoginFailed(_) => {
                (S::UNAUTHORIZED, "login_failed", "The provider did not complete the login.")
            }
            Self::InteractionNeeded(e) => e.row(),
            Self::LoginOptionRefused(_) => (
                S::BAD_REQUEST,
                "login_option_refused",
                "A login option (prompt, max_age, login_hint, acr_values) is not allowed here, \
                 malformed or repeated.",
            ),
            Self::TokenExchangeFailed(_) => (
                S::BAD_GATEWAY,
                "token_exchange_failed",
                "The provider refused to exchange the code.",
            ),
            Self::ParFailed(_) => (
                S::BAD_GATEWAY,
                "par_failed",
                "The provider refused the login request pushed to it.",
            ),
            Self::IdTokenMissing => {
                (S::BAD_GATEWAY, "id_token_missing", "The provider returned no ID token.")
            }
            Self::IdToken(e) => e.row(),
            Self::UserinfoFailed(_) => {
                (S::BAD_GATEWAY, "userinfo_failed", "The provider's userinfo endpoint failed.")
            }
            Self::UserinfoSubjectMismatch => (
                S::UNAUTHORIZED,
                "userinfo_subject_mismatch",
                "The provider's userinfo names another subject.",
            ),
            Self::ProviderUnreachable(_) => {
                (S::BAD_GATEWAY, "provider_unreachable", "The provider could not be reached.")
            }
            Self::ProviderTimeout(_) => {
                (S::GATEWAY_TIMEOUT, "provider_timeout", "The provider did not answer in time.")
            }
            Self::MissingToken => (
                S::UNAUTHORIZED,
                "missing_token",
                "A bearer token or a session cookie is required.",
            ),
            Self::InvalidToken(_) => {
                (S::UNAUTHORIZED, "invalid_token", "The token is invalid or expired.")
            }
            Self::CsrfRequired => (
                S::FORBIDDEN,
                "csrf_required",
                "Logout, and changes authenticated by the session cookie, need X-CSRF: 1.",
            ),
            Self::AuthorizationNotBearer => (
                S::UNAUTHORIZED,
                "authorization_not_bearer",
                "The Authorization header must use the Bearer scheme.",
            ),
            Self::OriginRefused(_) => (
                S::FORBIDDEN,
                "origin_refused",
                "Requests through the proxy must come from the app's own origin.",
            ),
            Self::RemoteApiUnknown => {
                (S::NOT_FOUND, "remote_api_unknown", "No remote API of that name is configured.")
            }
            Self::RemotePathRefused(_) => (
                S::BAD_REQUEST,
                "remote_path_refused",
                "The path must stay under the remote API (no dot segments or encoded slashes).",
            ),
            Self::RequestTooLarge => {
                (S::PAYLOAD_TOO_LARGE, "request_too_large", "The request body is too large.")
            }
            Self::UpstreamUnreachable(_) => {
                (S::BAD_GATEWAY, "upstream_unreachable", "The remote API could not be reached.")
            }
            Self::UpstreamTimeout => {
                (S::GATEWAY_TIMEOUT, "upstream_timeout", "The remote API did not answer in time.")
            }
            Self::UpstreamRedirected => (
                S::BAD_GATEWAY,
                "upstream_redirected",
                "The remote API answered a redirect, which is not passed on.",
            ),
            Self::UpstreamTooLarge => (
                S::BAD_GATEWAY,
                "upstream_answer_too_large",
                "The remote API's answer is too large.",
            ),
            Self::UpstreamEchoedToken => (
                S::BAD_GATEWAY,
                "upstream_echoed_token",
                "The remote API's answer holds the token it was sent, so it is not passed on.",
            ),
            Self::ProviderTokenUnavailable => (
                S::UNAUTHORIZED,
                "provider_token_unavailable",
                "The session holds no access token of the provider for this API.",
            ),
            Self::SessionsOff => (
                S::NOT_FOUND,
                "sessions_not_configured",
                "Server-side sessions are not configured here.",
            ),
            Self::SessionMissing => {
                (S::UNAUTHORIZED, "session_missing", "No session: sign in first.")
            }
            Self::SessionExpired(_) => {
                (S::UNAUTHORIZED, "session_expired", "The session has ended. Sign in again.")
            }
            Self::LogoutTokenRefused(_) => {
                (S::BAD_REQUEST, "invalid_request", "The back-channel logout request is not valid.")
            }
            Self::SessionStore(_) => (
                S::SERVICE_UNAVAILABLE,
                "session_store_unavailable",
                "Sessions cannot be reached right now. Try again.",
            ),
            Self::SessionBusy => (
                S::SERVICE_UNAVAILABLE,
                "session_busy",
                "Too many requests wait for this session's refresh. Try again in a moment.",
            ),
            Self::GlobalLogoutOff => (
                S::NOT_FOUND,
                "global_logout_not_configured",
                "Universal Logout is not configured here.",
            ),
            Self::RevocationUnauthenticated(_) => (
                S::UNAUTHORIZED,
                "invalid_token",
                "The request needs a valid, unused signed JWT of an allowed provider.",
            ),
            Self::RevocationForbidden(_) => (
                S::FORBIDDEN,
                "revocation_forbidden",
                "This provider may not end this user's sessions.",
            ),
            Self::RevocationMalformed(_) => (
                S::BAD_REQUEST,
                "invalid_request",
                "The body must be {\"sub_id\": {\"format\": ..., ...}} as JSON.",
            ),
            Self::UnsupportedSubjectFormat => (
                S::UNPROCESSABLE_ENTITY,
                "unsupported_subject_format",
                "Only the iss_sub and email subject formats are supported.",
            ),
            Self::SessionNotFound => {
                (S::NOT_FOUND, "session_not_found", "No such session of yours.")
            }
            Self::LogoutIncomplete(_) => (
                S::SERVICE_UNAVAILABLE,
                "logout_incomplete",
                "Not every session could be ended in time. Send the same request again.",
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal_error", "Internal error."),
        }
    }

    /// The stable public code.
    pub fn code(&self) -> &'static str {
        self.row().1
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.row().0
    }

    /// Whether the fault is ours or the provider's rather than the caller's: what the `Failed`
    /// metric counts and the callback alarm watches. A missing cookie, a wrong `state`, a login
    /// the user declined or a `prompt=none` that needs a login are the caller's (or an
    /// attacker's) and do not count.
    pub const fn is_fault(&self) -> bool {
        matches!(
            self,
            Self::TokenExchangeFailed(_)
                | Self::ParFailed(_)
                | Self::IdTokenMissing
                | Self::IdToken(_)
                | Self::UserinfoFailed(_)
                | Self::UserinfoSubjectMismatch
                | Self::ProviderUnreachable(_)
                | Self::ProviderTimeout(_)
                | Self::SessionsOff
                | Self::SessionStore(_)
                | Self::LogoutIncomplete(_)
                | Self::UpstreamUnreachable(_)
                | Self::UpstreamTimeout
                | Self::UpstreamRedirected
                | Self::UpstreamTooLarge
                | Self::UpstreamEchoedToken
                | Self::Internal(_)
        )
    }

    /// A description that is safe to show: fixed text, never a provider's or library's words.
    pub fn description(&self) -> &'static str {
        self.row().2
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> ErrorBody {
        let (_, error, error_description) = self.row();
        ErrorBody { error, error_description }
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

    #[test]
    fn provider_interaction_codes_keep_their_name_and_others_stay_login_failed() {
        for code in [
            "login_required",
            "interaction_required",
            "consent_required",
            "account_selection_required",
        ] {
            let e = Error::InteractionNeeded(InteractionNeeded::from_code(code).unwrap());
            assert_eq!((e.status().as_u16(), e.code()), (401, code));
        }
        for code in ["access_denied", "LOGIN_REQUIRED", "login_required ", "", "server_error"] {
            assert_eq!(InteractionNeeded::from_code(code), None, "{code:?}");
        }
        let refused = Error::LoginOptionRefused("prompt names a value that is not allowed");
        assert_eq!((refused.status().as_u16(), refused.code()), (400, "login_option_refused"));
        assert!(!refused.description().contains("names a value"));
        for (e, code) in [
            (IdTokenError::AuthTimeMissing, "auth_time_missing"),
            (IdTokenError::AuthTooOld, "auth_too_old"),
            (IdTokenError::AcrNotSatisfied, "acr_not_satisfied"),
        ] {
            assert_eq!((Error::IdToken(e).status().as_u16(), e.code()), (401, code));
        }
    }
}
