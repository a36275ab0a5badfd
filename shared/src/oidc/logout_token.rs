//! The logout token of OpenID Connect Back-Channel Logout 1.0 (section 2.6), checked in order,
//! each refusal with its own reason (logged, never answered): size and JWS form, header (`typ`
//! `logout+jwt` when present, no embedded keys or `crit`), algorithm and key by the one rule of
//! ID tokens ([`JwksCache::keys_for`]: an algorithm the provider announces and we accept, never
//! `none` or HS*; a key of that algorithm's type, `use` and `alg`; one refetch per cooldown on
//! an unknown `kid`; exactly one such key), its signature, then `iss` (as for ID tokens:
//! [`super::issuer`]), `aud`, `iat`, `exp`, `nbf`, `jti`, `events`, `sid`/`sub` and no
//! `nonce`.
//!
//! Whether the `jti` was seen before is the caller's check (it needs the session table).
//!
//! Written here rather than with openidconnect: its JWT type is private, and its ID token
//! claims require `sub` and `exp`, which a logout token may lack. The signature is checked by
//! the same [`ProviderKey`](super::key::ProviderKey)s as ID tokens, with the same key rules.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{JsonWebKey as _, JsonWebKeyId};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::id_token::{FORBIDDEN_HEADER_FIELDS, LEEWAY_SECS, numeric_date};
use super::jwks::{JwksCache, KeyRefusal};

/// The event a logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Largest logout token accepted, in bytes; real ones are well under 2 KiB.
pub const MAX_LOGOUT_TOKEN_LEN: usize = 8 * 1024;

/// How old a logout token may be (by its `iat`): the provider sends it as the user logs out.
pub const MAX_AGE_SECS: u64 = 300;

/// Longest `jti`, `sid` or `sub` accepted.
const MAX_ID_LEN: usize = 255;

/// What a valid logout token names. At least one of `sid` and `sub` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    /// The provider's session to end.
    pub sid: Option<String>,
    /// The user whose sessions to end (all of them, without `sid`).
    pub sub: Option<String>,
    /// The token's id, to refuse a replay.
    pub jti: String,
    /// When the token was issued (Unix seconds); a replay record need not outlive
    /// `iat + MAX_AGE_SECS`.
    pub iat: u64,
    /// Its issuer: the provider's, or for a tenant template the user's tenant's (the `idp`
    /// of the sessions it ends).
    pub iss: String,
}

/// Why a logout token was refused: logged, while the answer is always `invalid_request`.
pub type Refusal = &'static str;

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// A JWT's `aud`: one string or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` (absent: never) names `who`.
    pub(crate) fn names(aud: Option<&Self>, who: &str) -> bool {
        match aud {
            Some(Self::One(a)) => a == who,
            Some(Self::Many(all)) => all.iter().any(|a| a == who),
            None => false,
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    /// NumericDate: a JSON number, possibly with a fraction.
    iat: Option<f64>,
    exp: Option<f64>,
    nbf: Option<f64>,
    tid: Option<String>,
    jti: Option<String>,
    events: Option<Map<String, Value>>,
    sid: Option<String>,
    sub: Option<String>,
    nonce: Option<Value>,
}

/// The three parts of a JWS in compact serialization, decoded, and its signing input.
struct Jws<'a> {
    header: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    signing_input: &'a str,
}

fn split(token: &str) -> Result<Jws<'_>, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWS in compact form");
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| "not base64url");
    Ok(Jws {
        header: decode(header)?,
        payload: decode(payload)?,
        signature: decode(signature)?,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

/// The `typ` values of a logout token (RFC 8725 explicit typing), either form.
const LOGOUT_TYPES: &[&str] = &["logout+jwt", "application/logout+jwt"];

/// The header's fields, after its own rules (no embedded key or extension, `typ` one of
/// `types` when present), and its algorithm when it is one openidconnect knows.
fn header(header: &[u8], types: &[&str]) -> Result<(CoreJwsSigningAlgorithm, Header), Refusal> {
    let fields: Map<String, Value> =
        serde_json::from_slice(header).map_err(|_| "header is not a JSON object")?;
    if FORBIDDEN_HEADER_FIELDS.iter().any(|f| fields.contains_key(*f)) {
        return Err("header brings its own key or extensions");
    }
    let header: Header =
        serde_json::from_value(Value::Object(fields)).map_err(|_| "header fields malformed")?;
    if let Some(typ) = &header.typ {
        let typ = typ.to_ascii_lowercase();
        if !types.contains(&typ.as_str()) {
            return Err("typ is not this token's type");
        }
    }
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(header.alg.clone()))
        .map_err(|_| "unknown algorithm")?;
    Ok((alg, header))
}

fn short(value: Option<String>) -> Result<Option<String>, Refusal> {
    match value {
        Some(v) if v.is_empty() || v.len() > MAX_ID_LEN => {
            Err("an identifier is empty or too long")
        }
        other => Ok(other),
    }
}

/// Checks `token` as this provider's logout token for our client, at `now` (Unix seconds).
/// Network only when it names a key not held (one JWKS refetch per cooldown).
///
/// # Errors
///
/// The reason of the first failed check.
pub async fn verify(jwks: &JwksCache, token: &str, now: u64) -> Result<LogoutToken, Refusal> {
    let payload = signed_payload(jwks, token, LOGOUT_TYPES, false).await?;
    check_claims(&payload, jwks, now)
}

/// The claims of `token`, a JWS the provider of `jwks` signed, after the checks every
/// provider-signed request token takes (size and form, header with `typ` one of `types`, when
/// present or when `typ_required`, algorithm and key by the ID token rule, signature); the
/// claims themselves are the caller's to check. Network only when it names a key not held.
///
/// # Errors
///
/// The reason of the first failed check.
pub(crate) async fn signed_payload(
    jwks: &JwksCache,
    token: &str,
    types: &[&str],
    typ_required: bool,
) -> Result<Vec<u8>, Refusal> {
    if token.len() > MAX_LOGOUT_TOKEN_LEN {
        return Err("token too large");
    }
    let jws = split(token)?;
    let (alg, header) = header(&jws.header, types)?;
    if typ_required && header.typ.is_none() {
        return Err("no typ");
    }
    let kid = header.kid.map(JsonWebKeyId::new);
    let keys = jwks.keys_for(&alg, kid.as_ref()).await.map_err(|refusal| match refusal {
        KeyRefusal::AlgorithmNotAllowed => "algorithm not accepted from this provider",
        KeyRefusal::NoKey => "no key of the provider's JWKS for this kid and algorithm",
    })?;
    // As for ID tokens (openidconnect's rule): exactly one key may check the token.
    let [key] = keys.as_slice() else {
        return Err("several keys of the provider's JWKS fit this kid and algorithm");
    };
    key.verify_signature(&alg, jws.signing_input.as_bytes(), &jws.signature)
        .map_err(|_| "bad signature")?;
    Ok(jws.payload)
}

/// The issuer a logout token claims, read before any check and only to pick the provider whose
/// keys and issuer [`verify`] then checks it against (exactly: a token claiming one provider's
/// issuer and signed by another's key is refused there). `None` for anything that is not a
/// JWS whose claims name an `iss`.
pub fn claimed_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    if token.len() > MAX_LOGOUT_TOKEN_LEN {
        return None;
    }
    let jws = split(token).ok()?;
    serde_json::from_slice::<Issuer>(&jws.payload).ok()?.iss
}

fn check_claims(payload: &[u8], jwks: &JwksCache, now: u64) -> Result<LogoutToken, Refusal> {
    let claims: Claims = serde_json::from_slice(payload).map_err(|_| "claims malformed")?;
    let iss = jwks
        .issuer_rule()
        .check(claims.iss.as_deref(), claims.tid.as_deref())
        .ok_or("iss is not the provider's issuer")?;
    if !Audience::names(claims.aud.as_ref(), jwks.client_id()) {
        return Err("aud does not name our client");
    }
    let leeway = LEEWAY_SECS.unsigned_abs();
    let iat = claims.iat.and_then(numeric_date).ok_or("iat missing or not a NumericDate")?;
    if iat > now + leeway {
        return Err("iat in the future");
    }
    if iat + MAX_AGE_SECS + leeway < now {
        return Err("iat too old");
    }
    if let Some(exp) = claims.exp {
        let exp = numeric_date(exp).ok_or("exp not a NumericDate")?;
        if exp + leeway < now {
            return Err("expired");
        }
    }
    if let Some(nbf) = claims.nbf {
        let nbf = numeric_date(nbf).ok_or("nbf not a NumericDate")?;
        if nbf > now + leeway {
            return Err("nbf in the future");
        }
    }
    let jti = short(claims.jti)?.ok_or("jti missing")?;
    let event = claims.events.as_ref().and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err("events lacks the back-channel logout event");
    }
    if claims.nonce.is_some() {
        return Err("nonce present: an ID token, not a logout token");
    }
    let (sid, sub) = (short(claims.sid)?, short(claims.sub)?);
    if sid.is_none() && sub.is_none() {
        return Err("neither sid nor sub");
    }
    Ok(LogoutToken { sid, sub, jti, iat, iss })
}

#[cfg(test)]
mod tests;
