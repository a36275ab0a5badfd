//! Universal Logout's request: a Global Token Revocation request
//! (draft-parecki-oauth-global-token-revocation) as Okta sends it, `POST` with
//! `Authorization: Bearer <JWT>` and a JSON body naming the user.
//!
//! The JWT is checked by the rules of the provider's other signed tokens
//! ([`super::logout_token::signed_payload`]: size and form, no embedded key or `crit`, an
//! algorithm the provider announces and we accept, never `none` or HS*, exactly one key of
//! its JWKS, one refetch per cooldown on an unknown `kid`, the signature), then its claims:
//! `iss` the provider's issuer, `aud` our endpoint's URL (`GLOBAL_LOGOUT_AUDIENCE`), `exp`
//! and `iat` present and fresh (Okta's live five minutes), `nbf` when present, a `jti` (the
//! caller records it: a replay is refused), and `sub` our client id (Okta puts the app's
//! client id there). Its `typ` must be `global-token-revocation+jwt` (Okta's): an ID token,
//! a logout token or any other JWT of the same provider whose `aud` would fit (an access token
//! for that URL) is never taken for one. Both are required here, though logout tokens may
//! lack a `typ`: this endpoint is new, and the one provider that calls it sends both.
//!
//! Written here, as logout tokens are, rather than with openidconnect: its JWT type is
//! private, and these claims are no ID token's.

use serde::Deserialize;
use serde_json::Value;

use super::id_token::{LEEWAY_SECS, numeric_date};
use super::jwks::JwksCache;
use super::logout_token::{Audience, Refusal, signed_payload};

/// The `typ` values of a request JWT, either form (Okta's header says the first).
const REQUEST_TYPES: &[&str] =
    &["global-token-revocation+jwt", "application/global-token-revocation+jwt"];

/// The longest a request JWT may live (`exp` - `iat`), and the oldest its `iat` may be: Okta's
/// live five minutes.
pub const MAX_AGE_SECS: u64 = 300;

/// The largest request body read: a subject identifier is a few hundred bytes.
pub const MAX_BODY: usize = 4 * 1024;

/// Longest `jti`, `sub`, `iss` of a subject, or e-mail accepted.
const MAX_ID_LEN: usize = 320;

/// What a valid request JWT says of its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestToken {
    /// The provider's issuer (the sessions' `idp`).
    pub iss: String,
    /// The token's id, to refuse a replay.
    pub jti: String,
    /// When it was issued: a replay record need not outlive `iat` + [`MAX_AGE_SECS`].
    pub iat: u64,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    iat: Option<f64>,
    exp: Option<f64>,
    nbf: Option<f64>,
    tid: Option<String>,
    jti: Option<String>,
    sub: Option<String>,
}

/// Checks `token` as a request JWT of the provider of `jwks` for our endpoint `audience`, at
/// `now` (Unix seconds).
///
/// # Errors
///
/// The reason of the first failed check (logged; the answer is `401`).
pub async fn verify(
    jwks: &JwksCache,
    token: &str,
    audience: &str,
    now: u64,
) -> Result<RequestToken, Refusal> {
    let payload = signed_payload(jwks, token, REQUEST_TYPES, true).await?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| "claims malformed")?;
    let iss = jwks
        .issuer_rule()
        .check(claims.iss.as_deref(), claims.tid.as_deref())
        .ok_or("iss is not the provider's issuer")?;
    if !Audience::names(claims.aud.as_ref(), audience) {
        return Err("aud does not name our endpoint");
    }
    let leeway = LEEWAY_SECS.unsigned_abs();
    let iat = claims.iat.and_then(numeric_date).ok_or("iat missing or not a NumericDate")?;
    let exp = claims.exp.and_then(numeric_date).ok_or("exp missing or not a NumericDate")?;
    if iat > now + leeway {
        return Err("iat in the future");
    }
    if iat + MAX_AGE_SECS + leeway < now {
        return Err("iat too old");
    }
    if exp + leeway < now {
        return Err("expired");
    }
    if exp.saturating_sub(iat) > MAX_AGE_SECS {
        return Err("lives longer than a request may");
    }
    if let Some(nbf) = claims.nbf {
        let nbf = numeric_date(nbf).ok_or("nbf not a NumericDate")?;
        if nbf > now + leeway {
            return Err("nbf in the future");
        }
    }
    if claims.sub.as_deref() != Some(jwks.client_id()) {
        return Err("sub is not our client id");
    }
    let jti = claims.jti.filter(|j| !j.is_empty() && j.len() <= MAX_ID_LEN).ok_or("jti missing")?;
    Ok(RequestToken { iss, jti, iat })
}

/// The user a request names (its subject identifier, RFC 9493).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `iss_sub`: a user of provider `iss`.
    IssSub {
        /// The provider's issuer.
        iss: String,
        /// The user's `sub` there.
        sub: String,
    },
    /// `email`: whoever signed in with this verified e-mail.
    Email(String),
}

/// Why a request body names no user we can end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Not the draft's JSON (`400`).
    Malformed(&'static str),
    /// A subject format other than `iss_sub` and `email` (`422`).
    UnsupportedFormat,
}

/// The subject of a request body: `{"sub_id": {"format": ..., ...}}` (the draft's), or the
/// same under `subject` (its name before draft 03, which Okta sent until 2025 and Auth0's
/// documentation still shows).
///
/// # Errors
///
/// [`BodyRefusal`].
pub fn subject(body: &[u8]) -> Result<Subject, BodyRefusal> {
    use BodyRefusal::Malformed;
    if body.len() > MAX_BODY {
        return Err(Malformed("body too large"));
    }
    let body: Value = serde_json::from_slice(body).map_err(|_| Malformed("body is not JSON"))?;
    let id = match (body.get("sub_id"), body.get("subject")) {
        (Some(id), None) | (None, Some(id)) => id,
        (Some(_), Some(_)) => return Err(Malformed("both sub_id and subject")),
        (None, None) => return Err(Malformed("no sub_id")),
    };
    let field = |name: &str| {
        id.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN)
            .map(str::to_owned)
    };
    let format = id.get("format").and_then(Value::as_str).ok_or(Malformed("no format"))?;
    match format {
        "iss_sub" => Ok(Subject::IssSub {
            iss: field("iss").ok_or(Malformed("iss_sub without iss"))?,
            sub: field("sub").ok_or(Malformed("iss_sub without sub"))?,
        }),
        "email" => {
            let email = field("email").ok_or(Malformed("email without email"))?;
            match email.split_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                    Ok(Subject::Email(email))
                }
                _ => Err(Malformed("email is not an address")),
            }
        }
        _ => Err(BodyRefusal::UnsupportedFormat),
    }
}

#[cfg(test)]
mod tests;
