//! The provider's signing keys, parsed once into aws-lc-rs public keys.
//!
//! openidconnect's own [`CoreJsonWebKey`] verifies RSA with the RustCrypto `rsa` crate and
//! rebuilds the public key from `n` and `e` on every call (about 10x the cost of the check
//! itself). [`ProviderKey`] keeps the JWK for everything openidconnect decides (which key, for
//! which algorithm, `use`, `alg`) and verifies with a key parsed when the JWKS was fetched.
//!
//! # Security
//!
//! One rule decides which key may check which signature, for ID tokens and logout tokens
//! alike: [`ProviderKey::accepts`]. [`candidates`] applies it to a JWKS (with the token's
//! `kid`), and [`ProviderKey::verify_signature`] applies it again before any check. A key is
//! accepted for a JWS algorithm only when it is of that algorithm's type, its `use` is absent
//! or `sig`, and its `alg`, when it names one, is that algorithm:
//!
//! | JWS `alg` | JWK | aws-lc-rs algorithm |
//! | --- | --- | --- |
//! | RS256, RS384, RS512 | `RSA`, 2048 to 8192 bits | `RSA_PKCS1_2048_8192_SHA256`/`384`/`512` |
//! | PS256, PS384, PS512 | `RSA`, 2048 to 8192 bits | `RSA_PSS_2048_8192_SHA256`/`384`/`512` |
//! | ES256 | `EC`, `P-256` | `ECDSA_P256_SHA256_FIXED` |
//! | ES384 | `EC`, `P-384` | `ECDSA_P384_SHA384_FIXED` |
//! | EdDSA | `OKP`, `Ed25519` | `ED25519` |
//!
//! Every other algorithm (`none`, HS*, ES512, ...) is refused whatever the key. RSA keys under
//! 2048 bits are refused at verification. A symmetric key (HS*) has no parsed form and verifies
//! nothing; the verifier is a public client's, so openidconnect refuses HS* before it would ask.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512, RsaParameters,
    RsaPublicKeyComponents,
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
    Rsa(Box<RsaKey>),
    P256(ParsedPublicKey),
    P384(ParsedPublicKey),
    Ed25519(ParsedPublicKey),
    /// Malformed, of another curve, or symmetric: verifies nothing.
    Unusable,
}

/// The six RSA algorithms, in the order of [`RsaKey::parsed`].
const RSA_ALGS: [(CoreJwsSigningAlgorithm, &RsaParameters); 6] = [
    (CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &RSA_PKCS1_2048_8192_SHA256),
    (CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384, &RSA_PKCS1_2048_8192_SHA384),
    (CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512, &RSA_PKCS1_2048_8192_SHA512),
    (CoreJwsSigningAlgorithm::RsaSsaPssSha256, &RSA_PSS_2048_8192_SHA256),
    (CoreJwsSigningAlgorithm::RsaSsaPssSha384, &RSA_PSS_2048_8192_SHA384),
    (CoreJwsSigningAlgorithm::RsaSsaPssSha512, &RSA_PSS_2048_8192_SHA512),
];

/// An RSA public key: RS256 parsed when the JWKS is read (it proves the key sound), the other
/// five algorithms parsed on their first use and kept.
struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    parsed: [OnceLock<Option<ParsedPublicKey>>; 6],
}

impl RsaKey {
    fn new(n: &[u8], e: &[u8]) -> Option<Self> {
        let key = Self { n: n.to_vec(), e: e.to_vec(), parsed: Default::default() };
        key.for_alg(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)?;
        Some(key)
    }

    fn for_alg(&self, alg: &CoreJwsSigningAlgorithm) -> Option<&ParsedPublicKey> {
        let index = RSA_ALGS.iter().position(|(a, _)| a == alg)?;
        let (_, params) = RSA_ALGS[index];
        self.parsed[index]
            .get_or_init(|| {
                let components = RsaPublicKeyComponents { n: &self.n, e: &self.e };
                components.to_parsed_public_key(params).ok()
            })
            .as_ref()
    }
}

impl std::fmt::Debug for ProviderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parsed = match *self.parsed {
            Parsed::Rsa(_) => "RSA",
            Parsed::P256(_) => "P-256",
            Parsed::P384(_) => "P-384",
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

    /// The one rule of which key may verify a signature of `alg`, for every token we check: a
    /// key of that algorithm's type (RSA for RS*/PS*, P-256 for ES256, P-384 for ES384,
    /// Ed25519 for EdDSA; nothing for `none`, HS* or any other), `use` absent or `sig`, and
    /// `alg` absent or `alg` itself.
    pub fn accepts(&self, alg: &CoreJwsSigningAlgorithm) -> bool {
        use CoreJwsSigningAlgorithm as Alg;
        let of_its_type = match (alg, &*self.parsed) {
            (_, Parsed::Rsa(_)) => RSA_ALGS.iter().any(|(a, _)| a == alg),
            (Alg::EcdsaP256Sha256, Parsed::P256(_))
            | (Alg::EcdsaP384Sha384, Parsed::P384(_))
            | (Alg::EdDsa, Parsed::Ed25519(_)) => true,
            _ => false,
        };
        let for_signatures =
            self.jwk.key_use().is_none_or(|u| matches!(u, CoreJsonWebKeyUse::Signature));
        let of_this_alg = match self.jwk.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(a) => a == alg,
            JsonWebKeyAlgorithm::Unsupported => false,
        };
        of_its_type && for_signatures && of_this_alg
    }
}

/// The keys of `keys` that may verify a token signed with `alg` naming `kid`: those of that
/// `kid` (any, when the token names none) that [`ProviderKey::accepts`] `alg`.
pub fn candidates(
    keys: &ProviderKeySet,
    kid: Option<&JsonWebKeyId>,
    alg: &CoreJwsSigningAlgorithm,
) -> Vec<ProviderKey> {
    keys.keys()
        .iter()
        .filter(|key| kid.is_none() || key.jwk.key_id() == kid)
        .filter(|key| key.accepts(alg))
        .cloned()
        .collect()
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

/// The uncompressed point `04 || x || y` of an EC JWK whose coordinates are `len` bytes.
fn ec_point(value: &Value, len: usize) -> Option<Vec<u8>> {
    let (x, y) = (field(value, "x")?, field(value, "y")?);
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Some(point)
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
            RsaKey::new(n, e).map(|key| Parsed::Rsa(Box::new(key)))
        }
        ("EC", Some("P-256")) => {
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec_point(value, 32)?)
                .ok()
                .map(Parsed::P256)
        }
        ("EC", Some("P-384")) => {
            ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, ec_point(value, 48)?)
                .ok()
                .map(Parsed::P384)
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
        if matches!(*self.parsed, Parsed::Unusable) {
            return Err(SignatureVerificationError::InvalidKey("unusable key".into()));
        }
        let key = match &*self.parsed {
            _ if !self.accepts(signature_alg) => None,
            Parsed::Rsa(rsa) => rsa.for_alg(signature_alg),
            Parsed::P256(key) | Parsed::P384(key) | Parsed::Ed25519(key) => Some(key),
            Parsed::Unusable => None,
        };
        let Some(key) = key else {
            return Err(SignatureVerificationError::UnsupportedAlg(format!(
                "{signature_alg:?} with this key"
            )));
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
