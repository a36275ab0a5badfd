//! The ID token checks (OpenID Connect Core 3.1.3.7), in order, each with its own error code:
//! size and header (no embedded keys, no `crit`), `iss` (exact, or a tenant template filled
//! with the token's allowed `tid`: [`super::issuer`]), the algorithm and the keys that may
//! check it ([`JwksCache::keys_for`], one refetch on an unknown `kid`), then signature, `aud`,
//! `exp`, `nonce` (openidconnect), then the NumericDates (`exp`, `iat`, `auth_time`, `nbf`:
//! numbers, a fraction allowed, from 1970 to 9999), `nbf`, `azp`, `iat` (not in the future, not
//! before the login started), `at_hash` and `sub` (here); last, what the login asked for
//! ([`Asked`]): `auth_time` within `max_age`, `acr` among `acr_values`. Every time check reads
//! the `now` passed in, never the wall clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreIdToken, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken, AccessTokenHash, ClaimsVerificationError, JsonWebKeyId, Nonce,
    SignatureVerificationError,
};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use super::jwks::{JwksCache, KeyRefusal};
use crate::error::{Error, IdTokenError};
use crate::tokens::session::User;

/// Clock skew tolerated on the ID token's `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 60;

/// Header fields that would let a token bring its own key or extensions: refused outright.
pub(super) const FORBIDDEN_HEADER_FIELDS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "crit", "zip"];

/// Largest ID token accepted, in bytes. Real ones are a few KiB; anything larger is refused
/// before any key is looked up.
pub const MAX_ID_TOKEN_LEN: usize = 16 * 1024;

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// A NumericDate (RFC 7519 section 2): seconds since 1970, possibly with a fraction (dropped).
/// Negative, NaN, infinite or past-9999 values are none.
pub(super) fn numeric_date(value: f64) -> Option<u64> {
    // The cast truncates the fraction of a value the range check has bounded.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let seconds = value as u64;
    (value.is_finite() && value >= 0.0 && value < (MAX_NUMERIC_DATE + 1) as f64).then_some(seconds)
}

/// The decoded payload of a compact JWS (no signature check): for claims openidconnect does
/// not type (`tid`, `nbf`, `sid`), of a token checked or about to be.
pub(super) fn payload(token: &str) -> Option<Map<String, Value>> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// What the header and payload of an ID token say, before any check of them.
struct Unchecked {
    alg: String,
    kid: Option<JsonWebKeyId>,
    claims: Map<String, Value>,
}

/// The header's algorithm and `kid`, and the payload, after the size and header rules.
fn read(id_token: &CoreIdToken) -> Result<Unchecked, IdTokenError> {
    let text = id_token.to_string();
    if text.len() > MAX_ID_TOKEN_LEN {
        return Err(IdTokenError::Malformed);
    }
    let header = text.split('.').next().ok_or(IdTokenError::Malformed)?;
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| IdTokenError::Malformed)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| IdTokenError::Malformed)?;
    if FORBIDDEN_HEADER_FIELDS.iter().any(|f| header.contains_key(*f)) {
        return Err(IdTokenError::Malformed);
    }
    let alg = header.get("alg").and_then(Value::as_str).ok_or(IdTokenError::Malformed)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(JsonWebKeyId::new(kid.clone())),
        Some(_) => return Err(IdTokenError::Malformed),
    };
    let claims = payload(&text).ok_or(IdTokenError::Malformed)?;
    // A logout token (Back-Channel Logout 1.0, 2.4: `typ` `logout+jwt`, an `events` claim) is
    // the provider's too and signed alike; a refreshed ID token needs no nonce, so without
    // this one could pass for the other (found by the fuzz target `jws_signed`).
    let typ = header.get("typ").and_then(Value::as_str);
    if typ.is_some_and(|t| t.eq_ignore_ascii_case("logout+jwt")) || claims.contains_key("events") {
        return Err(IdTokenError::Malformed);
    }
    Ok(Unchecked { alg: alg.to_owned(), kid, claims })
}

/// The NumericDate claims, when present, are NumericDates; `nbf` has come.
fn check_dates(claims: &Map<String, Value>, now: u64) -> Result<(), IdTokenError> {
    for name in ["exp", "iat", "auth_time", "nbf"] {
        if let Some(value) = claims.get(name) {
            value.as_f64().and_then(numeric_date).ok_or(IdTokenError::Malformed)?;
        }
    }
    let nbf = claims.get("nbf").and_then(Value::as_f64).and_then(numeric_date);
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS.unsigned_abs())) {
        return Err(IdTokenError::IssuedInFuture);
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

/// An ID token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The user it names.
    pub user: User,
    /// Its issuer: the provider's, or for a tenant template the user's tenant's.
    pub issuer: String,
    /// Its payload, decoded once for the checks: the claims openidconnect does not type
    /// (`sid`, and those `JWT_CLAIMS` copies) are read from here.
    pub claims: Map<String, Value>,
}

impl Verified {
    /// The provider's session id (`sid`, OpenID Connect Front-/Back-Channel Logout), if the
    /// token has one that is a short printable string.
    pub fn provider_sid(&self) -> Option<String> {
        let sid = self.claims.get("sid")?.as_str()?;
        (sid.len() <= 255 && sid.bytes().all(|b| b.is_ascii_graphic())).then(|| sid.to_owned())
    }
}

/// What the login asked the provider for, that the ID token must then show: `max_age` and
/// `acr_values` (OpenID Connect Core 3.1.2.1, 2). Nothing asked, nothing checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// `max_age`: `auth_time` required, and at most this many seconds before `now` (plus
    /// [`LEEWAY_SECS`]).
    pub max_age: Option<u64>,
    /// `acr_values`: when not empty, `acr` required and one of them.
    pub acr_values: &'a [String],
}

/// Verifies `id_token` for the login that sent `nonce`, started at `login_started` and
/// `asked` for `max_age` or `acr_values`, at `now` (Unix seconds): every check of the module
/// documentation, then `auth_time` within `max_age` and `acr` among `acr_values`, when asked.
/// Network only when the token names an unknown key (one JWKS refetch per cooldown).
///
/// # Errors
///
/// [`Error::IdToken`] with the first failed check ([`IdTokenError::AuthTimeMissing`],
/// [`IdTokenError::AuthTooOld`], [`IdTokenError::AcrNotSatisfied`] for what was asked).
pub async fn verify(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: &Nonce,
    login_started: u64,
    asked: Asked<'_>,
    now: u64,
) -> Result<Verified, Error> {
    let verified = verify_with(jwks, id_token, access_token, nonce, login_started, now).await?;
    check_asked(&verified.claims, asked, now)?;
    Ok(verified)
}

/// `auth_time` within `max_age` (Core 3.1.2.1: with `max_age`, `auth_time` is required) and
/// `acr` one of `acr_values`, when asked. The provider may ignore either request; we do not.
fn check_asked(
    claims: &Map<String, Value>,
    asked: Asked<'_>,
    now: u64,
) -> Result<(), IdTokenError> {
    let leeway = LEEWAY_SECS.unsigned_abs();
    if let Some(max_age) = asked.max_age {
        let auth_time = claims
            .get("auth_time")
            .and_then(Value::as_f64)
            .and_then(numeric_date)
            .ok_or(IdTokenError::AuthTimeMissing)?;
        if auth_time > now.saturating_add(leeway) {
            return Err(IdTokenError::IssuedInFuture);
        }
        if now.saturating_sub(auth_time) > max_age.saturating_add(leeway) {
            return Err(IdTokenError::AuthTooOld);
        }
    }
    if !asked.acr_values.is_empty() {
        let acr = claims.get("acr").and_then(Value::as_str);
        if !acr.is_some_and(|acr| asked.acr_values.iter().any(|a| a == acr)) {
            return Err(IdTokenError::AcrNotSatisfied);
        }
    }
    Ok(())
}

/// The session a refreshed ID token must belong to (OpenID Connect Core 12.2).
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    /// The issuer of the login's ID token ([`Verified::issuer`]).
    pub issuer: &'a str,
    /// Its subject.
    pub sub: &'a str,
    /// The latest ID token of the session, when one is kept (the login's, or a refresh's that
    /// passed these same checks).
    pub id_token: Option<&'a str>,
    /// When the session started (Unix seconds).
    pub started: u64,
}

/// Verifies an ID token of a refresh grant's answer (OpenID Connect Core 12.2) for the session
/// `original`: every check of [`verify`], except that `nonce` may be absent (if present, it is
/// the original's); `iss`, `sub` and `aud` are the original's. Its `auth_time`, if both name
/// one, is the original's or later: providers that put the user's latest sign-in anywhere
/// there (another device's) are followed, and the refreshed token, stored as the session's
/// latest, records it; an earlier one is refused.
///
/// # Errors
///
/// [`Error::IdToken`] with the first failed check; [`Error::SessionExpired`] when it names
/// another subject or audience, or an earlier authentication.
pub async fn verify_refreshed(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    original: &Original<'_>,
    now: u64,
) -> Result<Verified, Error> {
    let before = original.id_token.and_then(payload).unwrap_or_default();
    let original_nonce = before.get("nonce").and_then(Value::as_str);
    let same_nonce = |nonce: Option<&Nonce>| match (nonce, original_nonce) {
        (Some(nonce), Some(original)) if nonce.secret() != original => {
            Err("another nonce than the original ID token's".to_owned())
        }
        _ => Ok(()),
    };
    let verified =
        verify_with(jwks, id_token, access_token, same_nonce, original.started, now).await?;
    if verified.issuer != original.issuer {
        return Err(IdTokenError::IssuerMismatch.into());
    }
    if verified.user.sub != original.sub {
        return Err(Error::SessionExpired("the provider names another user"));
    }
    let after = &verified.claims;
    let audiences = |claims: &Map<String, Value>| {
        let mut all: Vec<String> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => {
                many.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }
            _ => Vec::new(),
        };
        all.sort();
        all.dedup();
        all
    };
    if before.contains_key("aud") && audiences(&before) != audiences(after) {
        return Err(Error::SessionExpired("the refreshed ID token names other audiences"));
    }
    let auth_time = |claims: &Map<String, Value>| {
        claims.get("auth_time").and_then(Value::as_f64).and_then(numeric_date)
    };
    if let (Some(was), Some(is)) = (auth_time(&before), auth_time(after))
        && is < was
    {
        return Err(Error::SessionExpired(
            "the refreshed ID token names an earlier authentication",
        ));
    }
    Ok(verified)
}

async fn verify_with<N: openidconnect::NonceVerifier + Copy>(
    jwks: &JwksCache,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: N,
    login_started: u64,
    now: u64,
) -> Result<Verified, Error> {
    let Unchecked { alg, kid, claims: payload } = read(id_token)?;
    let text = |name: &str| payload.get(name).and_then(Value::as_str);
    let issuer =
        jwks.issuer_rule().check(text("iss"), text("tid")).ok_or(IdTokenError::IssuerMismatch)?;
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(alg))
        .map_err(|_| IdTokenError::AlgorithmNotAllowed)?;
    let keys = jwks.keys_for(&alg, kid.as_ref()).await.map_err(|refusal| match refusal {
        KeyRefusal::AlgorithmNotAllowed => IdTokenError::AlgorithmNotAllowed,
        KeyRefusal::NoKey => IdTokenError::UnknownKey,
    })?;
    let clock = i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(LEEWAY_SECS);
    let verifier = jwks.verifier(keys, clock);
    let claims = id_token.claims(&verifier, nonce).map_err(|e| Error::IdToken(claims_error(&e)))?;
    check_dates(&payload, now)?;

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
    let user = User {
        sub: sub.to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        // Filled by the callback, from `JWT_CLAIMS`.
        extra: Default::default(),
    };
    Ok(Verified { user, issuer, claims: payload })
}

#[cfg(test)]
mod tests;
