//! The one Secrets Manager secret: client secret, signing keys, cookie keys.
//!
//! ```json
//! {
//!   "client_secret": "...",
//!   "client_secrets": {"<provider name>": "..."},
//!   "signing_keys": [{"kid": "2026-11", "private_key_pem": "-----BEGIN PRIVATE KEY-----..."}],
//!   "cookie_keys": ["<base64 of 32 random bytes>"],
//!   "client_keys": {"<provider name>": [{"kid": "corp-2026-12", "alg": "PS256",
//!                   "private_key_pem": "...", "certificate_pem": "..."}]}
//! }
//! ```
//!
//! `client_keys` are the keys a provider whose client authenticates by `private_key_jwt`
//! (`OIDC_CLIENT_AUTH`) signs its assertions with, by provider name: the first signs, the
//! others are published until removed, so they rotate like the signing keys. `alg` is RS256 or
//! PS256 for an RSA key, ES256 for a P-256 key, EdDSA for an Ed25519 key (default: RS256, ES256,
//! EdDSA by key); `certificate_pem`, the key's certificate, makes assertions name it by
//! `x5t#S256` (Entra ID's certificate credentials). Such a provider needs no client secret.
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
    /// No client key for a provider that authenticates by `private_key_jwt`.
    #[error(
        "no client key for provider {provider:?}: add one to client_keys (secret-tool client-key add), or set OIDC_CLIENT_AUTH to a client secret method"
    )]
    NoClientKeys {
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
    /// A client key is unusable.
    #[error("client_keys.{provider}[{index}]: {problem}")]
    ClientKey {
        /// The provider's name.
        provider: String,
        /// Position in its array.
        index: usize,
        /// What is wrong (never key material).
        problem: String,
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

/// A client key (`private_key_jwt`): the signing key, and the SHA-256 thumbprint of its
/// certificate when the secret holds one.
pub struct ClientKey {
    key: SigningKey,
    x5t_s256: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey").field("kid", &self.key.kid()).finish_non_exhaustive()
    }
}

impl ClientKey {
    /// The key that signs assertions.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// `x5t#S256` of the key's certificate, when it has one.
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// The public key as published at `/.well-known/client-jwks.json` (with `x5t#S256` when
    /// there is a certificate).
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut jwk = self.key.public_jwk().clone();
        if let (Some(t), serde_json::Value::Object(map)) = (&self.x5t_s256, &mut jwk) {
            map.insert("x5t#S256".into(), serde_json::Value::String(t.clone()));
        }
        jwk
    }

    fn parse(raw: &RawClientKey) -> Result<Self, String> {
        let key = SigningKey::from_pkcs8_pem(&raw.kid, raw.private_key_pem.expose_secret())
            .map_err(|e| e.to_string())?;
        let key = match (raw.alg.as_deref(), key.alg_name()) {
            (None, _) | (Some("RS256"), "RS256") | (Some("ES256"), "ES256") => key,
            (Some("EdDSA"), "EdDSA") => key,
            (Some("PS256"), "RS256") => key.with_pss().ok_or("PS256 needs an RSA key")?,
            (Some(alg @ ("RS256" | "PS256" | "ES256" | "EdDSA")), found) => {
                return Err(format!("alg {alg} does not fit the key, which signs {found}"));
            }
            (Some(_), _) => return Err("alg must be RS256, PS256, ES256 or EdDSA".into()),
        };
        let x5t_s256 = match &raw.certificate_pem {
            None => None,
            Some(pem) => Some(certificate_thumbprint(&key, pem)?),
        };
        Ok(Self { key, x5t_s256 })
    }
}

/// The base64url SHA-256 of the certificate in `pem`, which must certify `key`.
fn certificate_thumbprint(key: &SigningKey, pem: &str) -> Result<String, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(pem.trim().as_bytes())
        .map_err(|_| "certificate_pem is not a PEM certificate (-----BEGIN CERTIFICATE-----)")?;
    // Not a full X.509 parse: a certificate of this key carries its public key (the RSA
    // modulus, or the curve point) byte for byte in its SubjectPublicKeyInfo, and a mismatch
    // would otherwise show only as a provider's refusal at the first login.
    let public = key.public_bytes();
    if !der.windows(public.len()).any(|w| w == public.as_slice()) {
        return Err("certificate_pem does not certify this private key".into());
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// The client's credentials at each provider: the client secrets (the default provider's, and
/// each provider's by name) and the client keys by provider name.
#[derive(Clone)]
pub struct ClientSecrets {
    default: Option<SecretString>,
    by_provider: std::collections::BTreeMap<String, SecretString>,
    keys: std::collections::BTreeMap<String, std::sync::Arc<KeyRing<ClientKey>>>,
}

impl fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecrets")
            .field("default", &self.default.as_ref().map(|_| "[redacted]"))
            .field("by_provider", &self.by_provider.keys().collect::<Vec<_>>())
            .field("keys", &self.keys)
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

    /// Provider `name`'s client keys, the active one first.
    ///
    /// # Errors
    ///
    /// [`SecretError::NoClientKeys`].
    pub fn keys_for(&self, name: &str) -> Result<std::sync::Arc<KeyRing<ClientKey>>, SecretError> {
        self.keys
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::NoClientKeys { provider: name.to_owned() })
    }

    /// Every client key's public JWK, for `/.well-known/client-jwks.json`: each provider's,
    /// the active key first.
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        self.keys.values().flat_map(|ring| ring.iter().map(ClientKey::public_jwk)).collect()
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
    #[serde(default)]
    client_keys: std::collections::BTreeMap<String, Vec<RawClientKey>>,
}

#[derive(Deserialize)]
struct RawClientKey {
    kid: String,
    #[serde(default)]
    alg: Option<String>,
    private_key_pem: SecretString,
    #[serde(default)]
    certificate_pem: Option<String>,
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
        if raw.client_secret.is_none()
            && raw.client_secrets.is_empty()
            && raw.client_keys.is_empty()
        {
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
        let keys = client_keys(&raw.client_keys)?;
        let client_secret =
            ClientSecrets { default: raw.client_secret, by_provider: raw.client_secrets, keys };
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

/// The client keys by provider; a `kid` names one key of all (one JWKS publishes them all).
fn client_keys(
    raw: &std::collections::BTreeMap<String, Vec<RawClientKey>>,
) -> Result<std::collections::BTreeMap<String, std::sync::Arc<KeyRing<ClientKey>>>, SecretError> {
    let mut kids = std::collections::BTreeSet::new();
    // One key, one provider: an assertion one provider receives must not be good at another.
    let mut publics: Vec<(Vec<u8>, String)> = Vec::new();
    let mut out = std::collections::BTreeMap::new();
    for (provider, entries) in raw {
        let problem = |index: usize, problem: String| SecretError::ClientKey {
            provider: provider.clone(),
            index,
            problem,
        };
        let mut keys = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let key = ClientKey::parse(entry).map_err(|p| problem(index, p))?;
            if !kids.insert(entry.kid.clone()) {
                return Err(problem(index, "kid is used by another client key".into()));
            }
            let public = key.key.public_bytes();
            if let Some((_, other)) = publics.iter().find(|(p, o)| *p == public && o != provider) {
                return Err(problem(
                    index,
                    format!(
                        "the same key is a client key of provider {other:?}: give each provider its own"
                    ),
                ));
            }
            publics.push((public, provider.clone()));
            keys.push(key);
        }
        let ring =
            KeyRing::new(keys).ok_or_else(|| problem(0, "no key: the array is empty".into()))?;
        out.insert(provider.clone(), std::sync::Arc::new(ring));
    }
    Ok(out)
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
