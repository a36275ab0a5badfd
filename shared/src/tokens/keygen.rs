//! Fresh key material in the secret's format: signing keys as PKCS#8 PEM, cookie keys as base64.
//!
//! # Security
//!
//! Returned material is wrapped in `secrecy` types; write it only to Secrets Manager or to a
//! file the operator asked for.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret as _, SecretString};

/// The kind of signing key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSA-2048, signs RS256 (the only kind API Gateway's JWT authorizer accepts).
    Rs256,
    /// P-256, signs ES256.
    Es256,
    /// Ed25519, signs EdDSA.
    EdDsa,
}

impl std::str::FromStr for KeyAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(format!("unknown algorithm {other:?}: use RS256, ES256 or EdDSA")),
        }
    }
}

/// Key generation failed inside the crypto library.
#[derive(Debug, thiserror::Error)]
#[error("key generation failed")]
pub struct KeygenError;

/// A fresh signing key as PKCS#8 PEM.
///
/// # Errors
///
/// [`KeygenError`] when the crypto library fails.
pub fn signing_key_pem(alg: KeyAlg) -> Result<SecretString, KeygenError> {
    let der: Vec<u8> = match alg {
        KeyAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        KeyAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        KeyAlg::EdDsa => {
            Ed25519KeyPair::generate().and_then(|k| k.to_pkcs8v1()).map(|d| d.as_ref().to_vec())
        }
    }
    .map_err(|_| KeygenError)?;
    Ok(SecretString::from(pem("PRIVATE KEY", &der)))
}

/// A fresh cookie key: standard base64 of 32 random bytes.
///
/// # Errors
///
/// [`KeygenError`] when the system has no randomness.
pub fn cookie_key() -> Result<SecretString, KeygenError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| KeygenError)?;
    Ok(SecretString::from(STANDARD.encode(bytes)))
}

/// A fresh random token of `bytes` random bytes, base64url: for client secrets in local setups.
///
/// # Errors
///
/// [`KeygenError`] when the system has no randomness.
pub fn random_token(bytes: usize) -> Result<SecretString, KeygenError> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).map_err(|_| KeygenError)?;
    Ok(SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)))
}

/// A complete secret JSON document with one signing key and one cookie key.
///
/// # Errors
///
/// [`KeygenError`] when the crypto library fails.
pub fn secret_json(
    client_secret: &SecretString,
    kid: &str,
    alg: KeyAlg,
) -> Result<SecretString, KeygenError> {
    let doc = serde_json::json!({
        "client_secret": client_secret.expose_secret(),
        "signing_keys": [{"kid": kid, "private_key_pem": signing_key_pem(alg)?.expose_secret()}],
        "cookie_keys": [cookie_key()?.expose_secret()],
    });
    Ok(SecretString::from(serde_json::to_string_pretty(&doc).map_err(|_| KeygenError)?))
}

/// PEM armour with 64-column lines.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
