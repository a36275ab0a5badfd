//! The provider's tokens, sealed at rest: AES-256-GCM under a key derived from each cookie key.
//!
//! The session keys are derived (HKDF-SHA256) from the secret's cookie keys rather than added
//! to the secret: they rotate with them (the first seals, every one still opens), and a sealed
//! cookie and a sealed session never share a key. The item's key `h` is bound in as associated
//! data, so a sealed blob moved to another item does not open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::tokens::secret::{CookieKey, KeyRing};

const SALT: &[u8] = b"spa-login/session-tokens";
const INFO: &[u8] = b"v1";
const AAD_PREFIX: &[u8] = b"spa-login/session/v1/";

/// The keys that seal the provider's tokens in the table, the first sealing.
pub struct SessionKeys(Vec<LessSafeKey>);

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKeys({} keys)", self.0.len())
    }
}

impl SessionKeys {
    /// One session key per cookie key, in the same order.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when a derivation fails.
    pub fn derive(cookie_keys: &KeyRing<CookieKey>) -> Result<Self, Error> {
        let salt = Salt::new(HKDF_SHA256, SALT);
        cookie_keys
            .iter()
            .map(|k| {
                let prk = salt.extract(k.expose());
                let okm = prk
                    .expand(&[INFO], &AES_256_GCM)
                    .map_err(|_| Error::Internal("session key derivation failed".into()))?;
                Ok(LessSafeKey::new(UnboundKey::from(okm)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// What the provider gave for a session. Never logged.
#[derive(Clone, Deserialize)]
pub struct ProviderTokens {
    /// The refresh token, when the provider gave one.
    #[serde(rename = "r", default)]
    pub refresh_token: Option<SecretString>,
    /// The access token.
    #[serde(rename = "a")]
    pub access_token: SecretString,
    /// When the access token expires (Unix seconds).
    #[serde(rename = "e")]
    pub access_expires_at: u64,
    /// The last ID token (for the next issue's logout hint).
    #[serde(rename = "i", default)]
    pub id_token: Option<SecretString>,
}

impl fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

impl ProviderTokens {
    /// When the provider must be asked again, by a refresh grant: the access token's expiry
    /// while a refresh token is held; never (`u64::MAX`) without one, the access token then
    /// being all there is. `/api/refresh` and the `renew` attribute of the session item
    /// ([`super::Sessions::open`]) both read it.
    pub fn renew_at(&self) -> u64 {
        if self.refresh_token.is_some() { self.access_expires_at } else { u64::MAX }
    }

    /// What a token response gives: its refresh token and ID token (or `previous`' when a
    /// refresh answer does not rotate them), access token, and the access token's expiry at
    /// `now` + `expires_in` (or + `fallback` when the provider gives none).
    pub fn from_response(
        tokens: &openidconnect::core::CoreTokenResponse,
        previous: Option<&Self>,
        now: u64,
        fallback: std::time::Duration,
    ) -> Self {
        use openidconnect::{OAuth2TokenResponse as _, TokenResponse as _};
        Self {
            refresh_token: tokens
                .refresh_token()
                .map(|t| SecretString::from(t.secret().as_str()))
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            access_token: SecretString::from(tokens.access_token().secret().as_str()),
            access_expires_at: now + tokens.expires_in().unwrap_or(fallback).as_secs(),
            id_token: tokens
                .id_token()
                .map(|t| SecretString::from(t.to_string()))
                .or_else(|| previous.and_then(|p| p.id_token.clone())),
        }
    }
}

#[derive(Serialize)]
struct Plain<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    r: Option<&'a str>,
    a: &'a str,
    e: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<&'a str>,
}

fn aad(item_key: &str) -> Vec<u8> {
    [AAD_PREFIX, item_key.as_bytes()].concat()
}

impl ProviderTokens {
    /// `nonce || AES-256-GCM(json)` under the first session key, bound to `item_key`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or encryption fails.
    pub fn seal(&self, keys: &SessionKeys, item_key: &str) -> Result<Vec<u8>, Error> {
        let plain = serde_json::to_vec(&Plain {
            r: self.refresh_token.as_ref().map(|t| t.expose_secret()),
            a: self.access_token.expose_secret(),
            e: self.access_expires_at,
            i: self.id_token.as_ref().map(|t| t.expose_secret()),
        })
        .map_err(|_| Error::Internal("session tokens could not be serialized".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("no randomness for a session nonce".into()))?;
        let key = keys.0.first().ok_or_else(|| Error::Internal("no session key".into()))?;
        let mut sealed = plain;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(item_key)),
            &mut sealed,
        )
        .map_err(|_| Error::Internal("session tokens could not be sealed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens what [`ProviderTokens::seal`] made, with any session key.
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when it opens under no key (the key was retired) or does not
    /// parse: the session cannot be used any more.
    pub fn open(sealed: &[u8], keys: &SessionKeys, item_key: &str) -> Result<Self, Error> {
        let unusable = || Error::SessionExpired("session tokens do not open");
        if sealed.len() < NONCE_LEN {
            return Err(unusable());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| unusable())?;
        let plain = keys
            .0
            .iter()
            .find_map(|key| {
                let mut in_out = body.to_vec();
                let plain = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad(item_key)),
                        &mut in_out,
                    )
                    .ok()?;
                Some(plain.to_vec())
            })
            .ok_or_else(unusable)?;
        serde_json::from_slice(&plain).map_err(|_| unusable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(bytes: &[[u8; 32]]) -> KeyRing<CookieKey> {
        KeyRing::new(bytes.iter().map(|b| CookieKey::new(*b)).collect()).unwrap()
    }

    fn tokens() -> ProviderTokens {
        ProviderTokens {
            refresh_token: Some("provider-refresh-token".to_owned().into()),
            access_token: "provider-access-token".to_owned().into(),
            access_expires_at: 1_000,
            id_token: None,
        }
    }

    #[test]
    fn sealed_tokens_open_under_any_key_bound_to_their_item() {
        let old = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let rotated = SessionKeys::derive(&ring(&[[2; 32], [1; 32]])).unwrap();
        let sealed = tokens().seal(&old, "item-a").unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("provider-refresh-token") && !text.contains("provider-access"));
        let opened = ProviderTokens::open(&sealed, &rotated, "item-a").unwrap();
        assert_eq!(opened.refresh_token.unwrap().expose_secret(), "provider-refresh-token");
        assert_eq!(opened.access_expires_at, 1_000);
        assert!(ProviderTokens::open(&sealed, &old, "item-b").is_err(), "moved to another item");
        let retired = SessionKeys::derive(&ring(&[[2; 32]])).unwrap();
        assert!(ProviderTokens::open(&sealed, &retired, "item-a").is_err());
        assert!(!format!("{:?}", tokens()).contains("provider-"));
    }

    #[test]
    fn the_session_key_is_not_the_cookie_key() {
        // A cookie key sealing directly and the derived key must differ: the same bytes under
        // AES-256-GCM with each give different ciphertexts for one nonce.
        let keys = SessionKeys::derive(&ring(&[[7; 32]])).unwrap();
        let direct = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
        let mut a = b"same".to_vec();
        let mut b = b"same".to_vec();
        let nonce = [0u8; NONCE_LEN];
        keys.0[0]
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut a)
            .unwrap();
        direct
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut b)
            .unwrap();
        assert_ne!(a, b);
    }
}
