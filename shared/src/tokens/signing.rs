//! Our signing keys: parsed once from PKCS#8 PEM, used to sign our JWTs and to publish a JWKS.
//!
//! The algorithm follows the key: RSA (2048 bits or more) signs RS256, P-256 signs ES256,
//! Ed25519 signs EdDSA. A client key (private_key_jwt) may have its RSA key sign PS256 instead
//! ([`SigningKey::with_pss`]); our own JWTs stay RS256, the one RSA algorithm API Gateway's JWT
//! authorizer accepts.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};

/// Why a signing key is unusable. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningKeyError {
    /// `kid` is empty or has characters outside printable ASCII.
    #[error("kid must be 1 to 128 printable ASCII characters")]
    BadKid,
    /// Not a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM block.
    #[error("private_key_pem is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")]
    NotPkcs8Pem,
    /// PKCS#8, but not RSA >= 2048, P-256 or Ed25519.
    #[error(
        "private_key_pem holds an unsupported key: use RSA (2048 bits or more), P-256 or Ed25519"
    )]
    Unsupported,
}

enum KeyPair {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One of our signing keys, with its public half ready for verification and publication.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    /// An RSA key signs PS256 (RSASSA-PSS) rather than RS256.
    pss: bool,
    decoding: DecodingKey,
    public_jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 PEM private key.
    ///
    /// # Errors
    ///
    /// [`SigningKeyError`]; the error never includes the key.
    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, SigningKeyError> {
        if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SigningKeyError::BadKid);
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.trim().as_bytes())
            .map_err(|_| SigningKeyError::NotPkcs8Pem)?;
        Self::from_pkcs8_der(kid, der.secret_pkcs8_der())
    }

    /// Parses a PKCS#8 DER private key.
    ///
    /// # Errors
    ///
    /// [`SigningKeyError::Unsupported`] when the key is not RSA >= 2048, P-256 or Ed25519.
    pub fn from_pkcs8_der(kid: &str, der: &[u8]) -> Result<Self, SigningKeyError> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (pair, decoding, public_jwk) = if let Ok(rsa) = RsaKeyPair::from_pkcs8(der) {
            if rsa.public_modulus_len() < 256 {
                return Err(SigningKeyError::Unsupported);
            }
            let PublicKeyComponents { n, e } =
                PublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
            let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
            let jwk = json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)});
            (KeyPair::Rsa(rsa), decoding, jwk)
        } else if let Ok(ec) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // Uncompressed point: 0x04 || x || y.
            let point = ec.public_key().as_ref();
            let (x, y) = match point {
                [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                _ => return Err(SigningKeyError::Unsupported),
            };
            let decoding = DecodingKey::from_ec_components(&b64(x), &b64(y))
                .map_err(|_| SigningKeyError::Unsupported)?;
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
            (KeyPair::P256(ec), decoding, jwk)
        } else if let Ok(ed) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            let x = b64(ed.public_key().as_ref());
            let decoding =
                DecodingKey::from_ed_components(&x).map_err(|_| SigningKeyError::Unsupported)?;
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
            (KeyPair::Ed25519(ed), decoding, jwk)
        } else {
            return Err(SigningKeyError::Unsupported);
        };
        let mut key = Self { kid: kid.to_owned(), pair, pss: false, decoding, public_jwk };
        let alg = key.alg_name();
        if let Value::Object(map) = &mut key.public_jwk {
            map.insert("kid".into(), Value::String(key.kid.clone()));
            map.insert("use".into(), Value::String("sig".into()));
            map.insert("alg".into(), Value::String(alg.into()));
        }
        Ok(key)
    }

    /// This key signing PS256 (RSASSA-PSS with SHA-256), as FAPI 2.0 asks of client
    /// assertions; `None` when it is no RSA key.
    pub fn with_pss(mut self) -> Option<Self> {
        if !matches!(self.pair, KeyPair::Rsa(_)) {
            return None;
        }
        // The same public key verifies either padding: only the algorithm named changes.
        self.pss = true;
        if let Value::Object(map) = &mut self.public_jwk {
            map.insert("alg".into(), Value::String("PS256".into()));
        }
        Some(self)
    }

    /// The key's public part as DER bytes that a certificate of it must contain: the RSA
    /// modulus, or the EC or Ed25519 point.
    pub(crate) fn public_bytes(&self) -> Vec<u8> {
        match &self.pair {
            KeyPair::Rsa(rsa) => PublicKeyComponents::<Vec<u8>>::from(rsa.public_key()).n,
            KeyPair::P256(ec) => ec.public_key().as_ref().to_vec(),
            KeyPair::Ed25519(ed) => ed.public_key().as_ref().to_vec(),
        }
    }

    /// The key id, sent as `kid` in our tokens' header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.pair {
            KeyPair::Rsa(_) if self.pss => Algorithm::PS256,
            KeyPair::Rsa(_) => Algorithm::RS256,
            KeyPair::P256(_) => Algorithm::ES256,
            KeyPair::Ed25519(_) => Algorithm::EdDSA,
        }
    }

    /// The JOSE name of [`Self::algorithm`].
    pub fn alg_name(&self) -> &'static str {
        match self.pair {
            KeyPair::Rsa(_) if self.pss => "PS256",
            KeyPair::Rsa(_) => "RS256",
            KeyPair::P256(_) => "ES256",
            KeyPair::Ed25519(_) => "EdDSA",
        }
    }

    /// The public key, for verification.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK (`kid`, `use: sig`, `alg` included).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `message` (the JWS signing input) and returns the raw signature.
    ///
    /// # Errors
    ///
    /// Only when the crypto library fails, which it should not with a parsed key.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
        match &self.pair {
            KeyPair::Rsa(rsa) => {
                let mut signature = vec![0; rsa.public_modulus_len()];
                let padding = if self.pss { &RSA_PSS_SHA256 } else { &RSA_PKCS1_SHA256 };
                rsa.sign(padding, &SystemRandom::new(), message, &mut signature)?;
                Ok(signature)
            }
            KeyPair::P256(ec) => Ok(ec.sign(&SystemRandom::new(), message)?.as_ref().to_vec()),
            KeyPair::Ed25519(ed) => Ok(ed.sign(message).as_ref().to_vec()),
        }
    }
}
