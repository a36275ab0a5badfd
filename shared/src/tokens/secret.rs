//! The one Secrets Manager secret: client secret, signing keys, cookie keys.
//!
//! ```json
//! {
//!   "client_secret": "...",
//!   "signing_keys": [{"kid": "2026-11", "private_key_pem": "-----BEGIN PRIVATE KEY-----..."}],
//!   "cookie_keys": ["<base64 of 32 random bytes>"]
//! }
//! ```
//!
//! The first signing key and the first cookie key are active; the others are kept to verify and
//! to open, so keys rotate without logging anyone out.
//!
//! # Security
//!
//! Every secret value is held in a `secrecy` type or inside a parsed key that has no `Debug`
//! output of its material. Parse errors name the field and position, never the value: serde's
//! own messages can quote the input, so they are not passed on.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;

use crate::tokens::signing::{SigningKey, SigningKeyError};

/// Why the secret could not be used. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Secrets Manager could not be asked, or refused.
    #[error("could not read the secret from Secrets Manager: {0}")]
    Fetch(String),
    /// The secret has no string value (binary secrets are not supported).
    #[error("the secret has no SecretString value")]
    NotAString,
    /// Not JSON of the documented shape.
    #[error(
        "the secret is not JSON of the documented shape ({category} at line {line}, column {column})"
    )]
    Json {
        /// serde_json's category of the error (syntax, data, eof).
        category: &'static str,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// `client_secret` is empty.
    #[error("client_secret is empty")]
    EmptyClientSecret,
    /// `signing_keys` is empty.
    #[error("signing_keys is empty: at least one key is needed")]
    NoSigningKeys,
    /// A signing key is unusable.
    #[error("signing_keys[{index}]: {source}")]
    SigningKey {
        /// Position in the array.
        index: usize,
        /// What is wrong.
        #[source]
        source: SigningKeyError,
    },
    /// Two signing keys share a `kid`.
    #[error("signing_keys[{index}]: kid is used by an earlier key")]
    DuplicateKid {
        /// Position in the array.
        index: usize,
    },
    /// `cookie_keys` is empty.
    #[error("cookie_keys is empty: at least one key is needed")]
    NoCookieKeys,
    /// A cookie key is not base64 of 32 bytes.
    #[error(
        "cookie_keys[{index}]: must be base64 (standard or URL-safe alphabet) of exactly 32 bytes"
    )]
    CookieKey {
        /// Position in the array.
        index: usize,
    },
}

/// A 256-bit key for sealing cookies.
pub struct CookieKey(SecretBox<[u8; 32]>);

impl CookieKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// The key bytes.
    ///
    /// # Security
    ///
    /// For the AEAD only; never log or return them.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    fn parse(encoded: &str) -> Option<Self> {
        let encoded = encoded.trim();
        let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(encoded).ok())?;
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::new(bytes))
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

/// Keys of one kind, the active one first. Never empty, so there is always a key to sign or
/// seal with; the older ones still verify or open, so keys rotate without logging anyone out.
pub struct KeyRing<K> {
    active: K,
    older: Vec<K>,
}

impl<K> KeyRing<K> {
    /// The ring of `keys`, the first active; `None` when there are none.
    pub fn new(keys: Vec<K>) -> Option<Self> {
        let mut keys = keys.into_iter();
        let active = keys.next()?;
        Some(Self { active, older: keys.collect() })
    }

    /// The key that signs or seals.
    pub fn active(&self) -> &K {
        &self.active
    }

    /// Every key, the active one first.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        std::iter::once(&self.active).chain(&self.older)
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        1 + self.older.len()
    }

    /// Always false: a ring holds at least its active key.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl<K: fmt::Debug> fmt::Debug for KeyRing<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The parsed secret, ready to use: nothing is parsed again per request.
pub struct Secret {
    client_secret: SecretString,
    signing_keys: KeyRing<SigningKey>,
    cookie_keys: KeyRing<CookieKey>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("client_secret", &"[redacted]")
            .field(
                "signing_keys",
                &self.signing_keys.iter().map(SigningKey::kid).collect::<Vec<_>>(),
            )
            .field("cookie_keys", &self.cookie_keys.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawSecret {
    client_secret: SecretString,
    signing_keys: Vec<RawSigningKey>,
    cookie_keys: Vec<SecretString>,
}

#[derive(Deserialize)]
struct RawSigningKey {
    kid: String,
    private_key_pem: SecretString,
}

impl Secret {
    /// Parses the secret's JSON text.
    ///
    /// # Errors
    ///
    /// [`SecretError`] naming the field at fault, never its value.
    pub fn from_json(text: &str) -> Result<Self, SecretError> {
        let raw: RawSecret = serde_json::from_str(text).map_err(|e| SecretError::Json {
            category: match e.classify() {
                serde_json::error::Category::Io => "io error",
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Data => "missing field or wrong type",
                serde_json::error::Category::Eof => "unexpected end",
            },
            line: e.line(),
            column: e.column(),
        })?;
        if raw.client_secret.expose_secret().is_empty() {
            return Err(SecretError::EmptyClientSecret);
        }
        let mut signing_keys: Vec<SigningKey> = Vec::with_capacity(raw.signing_keys.len());
        for (index, key) in raw.signing_keys.iter().enumerate() {
            let parsed = SigningKey::from_pkcs8_pem(&key.kid, key.private_key_pem.expose_secret())
                .map_err(|source| SecretError::SigningKey { index, source })?;
            if signing_keys.iter().any(|k| k.kid() == parsed.kid()) {
                return Err(SecretError::DuplicateKid { index });
            }
            signing_keys.push(parsed);
        }
        let signing_keys = KeyRing::new(signing_keys).ok_or(SecretError::NoSigningKeys)?;
        let cookie_keys = raw
            .cookie_keys
            .iter()
            .enumerate()
            .map(|(index, k)| {
                CookieKey::parse(k.expose_secret()).ok_or(SecretError::CookieKey { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cookie_keys = KeyRing::new(cookie_keys).ok_or(SecretError::NoCookieKeys)?;
        Ok(Self { client_secret: raw.client_secret, signing_keys, cookie_keys })
    }

    /// The OAuth client secret.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// Signing keys, the active one first.
    pub fn signing_keys(&self) -> &KeyRing<SigningKey> {
        &self.signing_keys
    }

    /// Cookie keys, the active one first.
    pub fn cookie_keys(&self) -> &KeyRing<CookieKey> {
        &self.cookie_keys
    }

    /// Splits the secret into its parts.
    pub fn into_parts(self) -> (SecretString, KeyRing<SigningKey>, KeyRing<CookieKey>) {
        (self.client_secret, self.signing_keys, self.cookie_keys)
    }
}

/// Reads and parses the secret from Secrets Manager.
///
/// The functions build `client` with [`crate::infra::aws::secrets_client`] (endpoint, region and
/// credentials from the standard environment variables, so a local emulator needs no code of
/// its own).
///
/// # Errors
///
/// [`SecretError::Fetch`] when Secrets Manager fails (the SDK's error, which names no secret
/// value), or a parse error.
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Secret, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Fetch(crate::error::chain(&e)))?;
    let text = out.secret_string().ok_or(SecretError::NotAString)?;
    Secret::from_json(text)
}

#[cfg(test)]
mod tests;
