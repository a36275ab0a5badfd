//! The one Secrets Manager secret: client secret, signing keys, cookie keys.
//!
//! ```json
//! {
//!   "client_secret": "...",
//!   "client_secrets": {"<provider name>": "..."},
//!   "signing_keys": [{"kid": "2026-11", "private_key_pem": "-----BEGIN PRIVATE KEY-----..."}],
//!   "cookie_keys": ["<base64 of 32 random bytes>"]
//! }
//! ```
//!
//! `client_secret` is the default provider's (the only one, or the first of `OIDC_PROVIDERS`);
//! `client_secrets` holds each provider's by its name, and wins over `client_secret`. A provider
//! other than the default never gets `client_secret`: one provider's secret is never sent to
//! another.
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
    /// `client_secret` or an entry of `client_secrets` is empty.
    #[error("client_secret is empty")]
    EmptyClientSecret,
    /// No client secret for a provider of the configuration.
    #[error(
        "no client secret for provider {provider:?}: add it to client_secrets (or, for the default provider, client_secret)"
    )]
    NoClientSecret {
        /// The provider's name.
        provider: String,
    },
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

/// The client secrets: the default provider's, and each provider's by name.
#[derive(Clone)]
pub struct ClientSecrets {
    default: Option<SecretString>,
    by_provider: std::collections::BTreeMap<String, SecretString>,
}

impl fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecrets")
            .field("default", &self.default.as_ref().map(|_| "[redacted]"))
            .field("by_provider", &self.by_provider.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ClientSecrets {
    /// Provider `name`'s client secret: its entry in `client_secrets`, or `client_secret` when
    /// it is the default provider (`is_default`).
    ///
    /// # Errors
    ///
    /// [`SecretError::NoClientSecret`].
    pub fn for_provider(&self, name: &str, is_default: bool) -> Result<&SecretString, SecretError> {
        self.by_provider
            .get(name)
            .or(self.default.as_ref().filter(|_| is_default))
            .ok_or_else(|| SecretError::NoClientSecret { provider: name.to_owned() })
    }
}

/// The parsed secret, ready to use: nothing is parsed again per request.
pub struct Secret {
    client_secret: ClientSecrets,
    signing_keys: KeyRing<SigningKey>,
    cookie_keys: KeyRing<CookieKey>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("client_secrets", &self.client_secret)
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
    #[serde(default)]
    client_secret: Option<SecretString>,
    #[serde(default)]
    client_secrets: std::collections::BTreeMap<String, SecretString>,
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
        let mut every = raw.client_secret.iter().chain(raw.client_secrets.values());
        if raw.client_secret.is_none() && raw.client_secrets.is_empty() {
            return Err(SecretError::NoClientSecret { provider: "default".to_owned() });
        }
        if every.any(|s| s.expose_secret().is_empty()) {
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
        let client_secret =
            ClientSecrets { default: raw.client_secret, by_provider: raw.client_secrets };
        Ok(Self { client_secret, signing_keys, cookie_keys })
    }

    /// The client secrets.
    pub fn client_secrets(&self) -> &ClientSecrets {
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
    pub fn into_parts(self) -> (ClientSecrets, KeyRing<SigningKey>, KeyRing<CookieKey>) {
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
