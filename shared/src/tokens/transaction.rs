//! The login transaction: what the callback needs to finish a login, sealed in a cookie.
//!
//! The cookie value is `base64url(nonce || AES-256-GCM(json))` under the active cookie key, with
//! the cookie name and a format version as associated data. Opening tries every cookie key, so a
//! login started before a key rotation still completes.
//!
//! # Security
//!
//! The PKCE verifier and nonce never leave the server in the clear; the cookie
//! (`web::cookies`) is `__Host-`, `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`, with no
//! `Domain`, and lives [`LIFETIME`].

use std::fmt;
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::return_to::ReturnTo;
use crate::tokens::secret::{CookieKey, KeyRing};

/// How long a login may take, from `/login` to `/callback`.
pub const LIFETIME: Duration = Duration::from_secs(600);
/// Largest cookie value accepted; anything larger is refused before any work. Above what the
/// largest login seals (a `return_to` of 512 characters that JSON escapes to two bytes each,
/// four `acr_values` of 100: about 2,250 characters; the fuzz target `transaction` found that
/// 2,048 was not), and with the cookie's name and attributes within the 4,096 bytes every
/// browser keeps.
pub const MAX_COOKIE_LEN: usize = 3072;
/// Clock skew tolerated on `issued_at` from the future (several function instances).
const FUTURE_SKEW_SECS: u64 = 60;
pub(crate) const AAD: &[u8] = b"__Host-oidc-tx/v1";
const TAG_LEN: usize = 16;

/// Which flow started the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flow {
    /// `/api/login` -> `/api/callback`, JSON.
    #[serde(rename = "spa")]
    Spa,
    /// `/authorization-code/login` -> `/authorization-code/callback`, redirects.
    #[serde(rename = "server")]
    Server,
}

/// One login in progress.
pub struct Transaction {
    /// `state` sent to the provider.
    pub state: String,
    /// `nonce` sent to the provider.
    pub nonce: SecretString,
    /// The PKCE S256 verifier.
    pub pkce_verifier: SecretString,
    /// Where the app goes afterwards.
    pub return_to: ReturnTo,
    /// Seconds since the Unix epoch when the login started.
    pub issued_at: u64,
    /// Which flow started it.
    pub flow: Flow,
    /// The provider's name, when the login did not go to the default provider: the callback
    /// completes the login only against that provider (mix-up defence, RFC 9700 4.4).
    pub provider: Option<String>,
    /// `max_age` the login asked for: the ID token's `auth_time` must be within it.
    pub max_age: Option<u64>,
    /// `acr_values` the login asked for: the ID token's `acr` must be one of them.
    pub acr_values: Vec<String>,
    /// The DPoP key the login bound its code to (`dpop_jkt`, `OIDC_DPOP`): the callback's code
    /// exchange proves it, and a session keeps it.
    pub dpop_key: Option<SecretString>,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("return_to", &self.return_to)
            .field("issued_at", &self.issued_at)
            .field("flow", &self.flow)
            .field("provider", &self.provider)
            .field("max_age", &self.max_age)
            .field("acr_values", &self.acr_values)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct SealedRef<'a> {
    s: &'a str,
    n: &'a str,
    v: &'a str,
    r: &'a str,
    t: u64,
    f: Flow,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    a: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    s: String,
    n: SecretString,
    v: SecretString,
    r: String,
    t: u64,
    f: Flow,
    #[serde(default)]
    p: Option<String>,
    // Cookies sealed before login options existed have neither.
    #[serde(default)]
    m: Option<u64>,
    #[serde(default)]
    a: Vec<String>,
    // Logins without DPoP, and cookies sealed before DPoP existed, have none.
    #[serde(default)]
    k: Option<SecretString>,
}

fn aead_key(key: &CookieKey) -> Result<LessSafeKey, Error> {
    UnboundKey::new(&AES_256_GCM, key.expose())
        .map(LessSafeKey::new)
        .map_err(|_| Error::Internal("cookie key rejected by AES-256-GCM".into()))
}

impl Transaction {
    /// Seals the transaction under `key` into a cookie value.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or encryption fails.
    pub fn seal(&self, key: &CookieKey) -> Result<String, Error> {
        let plain = serde_json::to_vec(&SealedRef {
            s: &self.state,
            n: self.nonce.expose_secret(),
            v: self.pkce_verifier.expose_secret(),
            r: self.return_to.as_str(),
            t: self.issued_at,
            f: self.flow,
            p: self.provider.as_deref(),
            m: self.max_age,
            a: &self.acr_values,
            k: self.dpop_key.as_ref().map(|k| k.expose_secret()),
        })
        .map_err(|_| Error::Internal("transaction could not be serialized".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("no randomness for the cookie nonce".into()))?;
        let mut buf = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(&plain);
        let mut in_out = buf.split_off(NONCE_LEN);
        aead_key(key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut in_out,
            )
            .map_err(|_| Error::Internal("cookie could not be sealed".into()))?;
        buf.extend_from_slice(&in_out);
        Ok(URL_SAFE_NO_PAD.encode(buf))
    }

    /// Opens a cookie value with any of `keys` and checks its age against `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// [`Error::TransactionInvalid`] when the value is malformed, too large, or opens under no
    /// key; [`Error::TransactionExpired`] when it is older than [`LIFETIME`] or from the future.
    pub fn open(value: &str, keys: &KeyRing<CookieKey>, now: u64) -> Result<Self, Error> {
        if value.len() > MAX_COOKIE_LEN {
            return Err(Error::TransactionInvalid);
        }
        let raw = URL_SAFE_NO_PAD.decode(value).map_err(|_| Error::TransactionInvalid)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::TransactionInvalid);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::TransactionInvalid)?;
        let plain = keys
            .iter()
            .find_map(|key| {
                let mut in_out = sealed.to_vec();
                let key = aead_key(key).ok()?;
                let plain = key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut in_out)
                    .ok()?;
                Some(plain.to_vec())
            })
            .ok_or(Error::TransactionInvalid)?;
        let sealed: Sealed =
            serde_json::from_slice(&plain).map_err(|_| Error::TransactionInvalid)?;
        let return_to = ReturnTo::parse(&sealed.r).ok_or(Error::TransactionInvalid)?;
        if sealed.t > now.saturating_add(FUTURE_SKEW_SECS)
            || now.saturating_sub(sealed.t) > LIFETIME.as_secs()
        {
            return Err(Error::TransactionExpired);
        }
        Ok(Self {
            state: sealed.s,
            nonce: sealed.n,
            pkce_verifier: sealed.v,
            return_to,
            issued_at: sealed.t,
            flow: sealed.f,
            provider: sealed.p,
            max_age: sealed.m,
            acr_values: sealed.a,
            dpop_key: sealed.k,
        })
    }
}

#[cfg(test)]
mod tests;
