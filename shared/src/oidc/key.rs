//! The provider's signing keys, parsed once into aws-lc-rs public keys.
//!
//! openidconnect's own [`CoreJsonWebKey`] verifies RSA with the RustCrypto `rsa` crate and
//! rebuilds the public key from `n` and `e` on every call (about 10x the cost of the check
//! itself). [`ProviderKey`] keeps the JWK for everything openidconnect decides (which key, for
//! which algorithm, `use`, `alg`) and verifies with a key parsed when the JWKS was fetched.
//!
//! # Security
//!
//! Key selection stays openidconnect's: a key is only offered for an algorithm of its type,
//! with `use` absent or `sig` and a matching `alg` when the JWK names one. [`ProviderKey`]
//! then verifies only the pairs below and refuses every other combination:
//!
//! | JWS `alg` | JWK | aws-lc-rs algorithm |
//! | --- | --- | --- |
//! | RS256 | `RSA`, 2048 to 8192 bits | `RSA_PKCS1_2048_8192_SHA256` |
//! | PS256 | `RSA`, 2048 to 8192 bits | `RSA_PSS_2048_8192_SHA256` |
//! | ES256 | `EC`, `P-256` | `ECDSA_P256_SHA256_FIXED` |
//! | EdDSA | `OKP`, `Ed25519` | `ED25519` |
//!
//! RSA keys under 2048 bits are refused at verification. A symmetric key (HS*) has no parsed
//! form and verifies nothing; the verifier is a public client's, so openidconnect refuses HS*
//! before it would ask.

use std::sync::Arc;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeySet, SignatureVerificationError,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JWKS of [`ProviderKey`]s.
pub type ProviderKeySet = JsonWebKeySet<ProviderKey>;

/// One key of the provider's JWKS: the JWK as published, and its parsed public key.
#[derive(Clone)]
pub struct ProviderKey {
    jwk: CoreJsonWebKey,
    parsed: Arc<Parsed>,
}

enum Parsed {
    Rsa {
        pkcs1: ParsedPublicKey,
        pss: ParsedPublicKey,
    },
    P256(ParsedPublicKey),
    Ed25519(ParsedPublicKey),
    /// Malformed, of another curve, or symmetric: verifies nothing.
    Unusable,
}

impl std::fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parsed = match *self.parsed {
            Parsed::Rsa { .. } => "RSA",
            Parsed::P256(_) => "P-256",
            Parsed::Ed25519(_) => "Ed25519",
            Parsed::Unusable => "unusable",
        };
        f.debug_struct("ProviderKey")
            .field("kid", &self.jwk.key_id().map(|k| k.as_str()))
            .field("parsed", &parsed)
            .finish()
    }
}

impl ProviderKey {
    /// Reads a JWK; a key that does not parse is kept but verifies nothing.
    ///
    /// # Errors
    ///
    /// When the JSON is not a JWK at all (openidconnect's own reading of it).
    pub fn from_json(value: &Value) -> Result<Self, serde_json::Error> {
        let jwk = CoreJsonWebKey::deserialize(value)?;
        let parsed = parse(value).unwrap_or(Parsed::Unusable);
        Ok(Self { jwk, parsed: Arc::new(parsed) })
    }

    /// True when the key parsed into a public key that can verify a signature.
    pub fn is_usable(&self) -> bool {
        !matches!(*self.parsed, Parsed::Unusable)
    }
}

/// A base64url field of the JWK, decoded (trailing `=` tolerated).
fn field(value: &Value, name: &str) -> Option<Vec<u8>> {
    let text = value.get(name)?.as_str()?;
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn parse(value: &Value) -> Option<Parsed> {
    let text = |name: &str| value.get(name).and_then(Value::as_str);
    match (text("kty")?, text("crv")) {
        ("RSA", _) => {
            let (n, e) = (field(value, "n")?, field(value, "e")?);
            // Some providers prefix the modulus with a zero byte; the integer is the same.
            let (n, e) = (without_leading_zeros(&n), without_leading_zeros(&e));
            if n.len() < 256 {
                return None;
            }
            let components = RsaPublicKeyComponents { n, e };
            Some(Parsed::Rsa {
                pkcs1: components.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256).ok()?,
                pss: components.to_parsed_public_key(&RSA_PSS_2048_8192_SHA256).ok()?,
            })
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (field(value, "x")?, field(value, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok().map(Parsed::P256)
        }
        ("OKP", Some("Ed25519")) => {
            let x = field(value, "x")?;
            if x.len() != 32 {
                return None;
            }
            ParsedPublicKey::new(&ED25519, x).ok().map(Parsed::Ed25519)
        }
        _ => None,
    }
}

impl<'de> Deserialize<'de> for ProviderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ProviderKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.jwk.serialize(serializer)
    }
}

impl JsonWebKey for ProviderKey {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.jwk.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.jwk.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.jwk.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.jwk.signing_alg()
    }

    /// Only openidconnect's HS* path asks for this, which a public-client verifier never takes.
    /// The key it returns verifies nothing.
    fn new_symmetric(key: Vec<u8>) -> Self {
        Self { jwk: CoreJsonWebKey::new_symmetric(key), parsed: Arc::new(Parsed::Unusable) }
    }

    fn verify_signature(
        &self,
        signature_alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        use CoreJwsSigningAlgorithm as Alg;
        let key = match (signature_alg, &*self.parsed) {
            (Alg::RsaSsaPkcs1V15Sha256, Parsed::Rsa { pkcs1, .. }) => pkcs1,
            (Alg::RsaSsaPssSha256, Parsed::Rsa { pss, .. }) => pss,
            (Alg::EcdsaP256Sha256, Parsed::P256(key)) | (Alg::EdDsa, Parsed::Ed25519(key)) => key,
            (_, Parsed::Unusable) => {
                return Err(SignatureVerificationError::InvalidKey("unusable key".into()));
            }
            _ => {
                return Err(SignatureVerificationError::UnsupportedAlg(format!(
                    "{signature_alg:?} with this key"
                )));
            }
        };
        key.verify_sig(message, signature)
            .map_err(|_| SignatureVerificationError::CryptoError("bad signature".into()))
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.jwk.hash_bytes(bytes, alg)
    }
}

#[cfg(test)]
mod tests;
