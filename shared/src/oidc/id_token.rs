//! The ID token checks (OpenID Connect Core 3.1.3.7), in order, each with its own error code:
//! size and header (no embedded keys, no `crit`), signature against the provider's JWKS with
//! the algorithm allow-list (one refetch on an unknown `kid`), `iss`, `aud`, `exp`, `nonce`
//! (openidconnect), then `azp`, `iat` (not in the future, not before the login started),
//! `at_hash` and `sub` (here). Every time check reads the `now` passed in, never the wall clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::CoreIdToken;
use openidconnect::{
    AccessToken, AccessTokenHash, ClaimsVerificationError, Nonce, SignatureVerificationError,
};
use subtle::ConstantTimeEq as _;

use super::jwks::JwksCache;
use crate::error::{Error, IdTokenError};
use crate::tokens::session::User;

/// Clock skew tolerated on the ID token's `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 60;

/// Header fields that would let a token bring its own key or extensions: refused outright.
pub(super) const FORBIDDEN_HEADER_FIELDS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "crit", "zip"];

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

/// Verifies `id_token` for the login that sent `nonce` and started at `login_started`, at
/// `now` (Unix seconds). Network only when the token names an unknown key (one JWKS refetch
/// per cooldown).
///
/// # Errors
///
/// [`Error::IdToken`] with the first failed check.
pub async fn verify(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: &Nonce,
    login_started: u64,
    now: u64,
) -> Result<User, Error> {
    verify_with(jwks, id_token, access_token, nonce, login_started, now).await
}

/// Verifies an ID token of a refresh grant's answer (OpenID Connect Core 12.2) for the user
/// `sub` of a session that started at `session_started`: every check of [`verify`] but the
/// nonce (it carries the login's, or none), and the same `sub`.
///
/// # Errors
///
/// [`Error::IdToken`] with the first failed check; [`Error::SessionExpired`] when it names
/// another subject.
pub async fn verify_refreshed(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    sub: &str,
    session_started: u64,
    now: u64,
) -> Result<User, Error> {
    let any_nonce = |_: Option<&Nonce>| Ok(());
    let user = verify_with(jwks, id_token, access_token, any_nonce, session_started, now).await?;
    if user.sub != sub {
        return Err(Error::SessionExpired("the provider names another user"));
    }
    Ok(user)
}

async fn verify_with<N: openidconnect::NonceVerifier + Copy>(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: N,
    login_started: u64,
    now: u64,
) -> Result<User, Error> {
    check_header(id_token)?;
    let clock = i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(LEEWAY_SECS);
    let seen = jwks.generation();
    let mut verifier = jwks.verifier_at(clock);
    let mut claims = id_token.claims(&verifier, nonce);
    let unknown_key = matches!(
        claims,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
        ))
    );
    if unknown_key && jwks.refetch(seen).await {
        verifier = jwks.verifier_at(clock);
        claims = id_token.claims(&verifier, nonce);
    }
    let claims = claims.map_err(|e| Error::IdToken(claims_error(&e)))?;

    let client_id = jwks.client_id();
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
        let actual = AccessTokenHash::from_token(access_token, alg, key)
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
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

/// The provider's session id (`sid`, OpenID Connect Front-/Back-Channel Logout) in an ID token
/// that [`verify`] accepted, if it has one that is a short printable string.
pub fn provider_sid(id_token: &CoreIdToken) -> Option<String> {
    let text = id_token.to_string();
    let payload = URL_SAFE_NO_PAD.decode(text.split('.').nth(1)?).ok()?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).ok()?;
    let sid = claims.get("sid")?.as_str()?;
    (sid.len() <= 255 && sid.bytes().all(|b| b.is_ascii_graphic())).then(|| sid.to_owned())
}
