//! JWS forging: compact tokens signed by our keys or by a provider key of any algorithm we
//! verify, tagged with HMAC as an attacker would, or with any signature; and `at_hash`.

use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::tokens::signing::SigningKey;

/// `at_hash` of `access_token` for a token signed with `alg`: the base64url left half of its
/// hash (SHA-256 for the `*256` algorithms, SHA-384 for `*384`, SHA-512 otherwise: EdDSA too).
fn at_hash_for(alg: &str, access_token: &str) -> String {
    let hash = match alg {
        a if a.ends_with("256") => &SHA256,
        a if a.ends_with("384") => &SHA384,
        _ => &SHA512,
    };
    let d = digest(hash, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..d.as_ref().len() / 2])
}

/// The base64url SHA-256 left half of `access_token` (`at_hash` for RS256/ES256/PS256).
pub fn at_hash(access_token: &str) -> String {
    at_hash_for("RS256", access_token)
}

/// The compact JWS `header.claims.signature`, the signature made by `sign` over the signing
/// input `header.claims` (both base64url): every token of this module is made here.
fn compact(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The JWS header `{"alg", "kid"}` naming `key`.
pub fn jws_header(key: &SigningKey) -> Value {
    json!({"alg": key.alg_name(), "kid": key.kid()})
}

/// The JWS header `{"alg", "kid", "typ"}`.
pub(super) fn typed_header(alg: &str, kid: &str, typ: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": typ})
}

/// A compact JWS of `header` and `claims` signed by `key`.
pub fn jws(header: &Value, claims: &Value, key: &SigningKey) -> String {
    compact(header, claims, |input| key.sign(input).unwrap())
}

/// A compact JWS with an arbitrary signature.
pub fn jws_raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    compact(header, claims, |_| signature.to_vec())
}

/// A compact JWS tagged with HMAC-SHA256 under `secret`, whatever `header` says: the HS256 token
/// an attacker forges from a value it knows (the client secret, the provider's public key).
pub fn jws_hmac(secret: &[u8], header: &Value, claims: &Value) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    compact(header, claims, |input| aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec())
}

/// A provider signing key of any JWS algorithm we verify (our own [`SigningKey`] signs RS256,
/// ES256 and EdDSA only): its public JWK and its signer.
pub struct JwsKey {
    pub alg: &'static str,
    pub jwk: Value,
    sign: Box<Signer>,
}

/// Signs a JWS signing input.
type Signer = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

impl JwsKey {
    /// An RSA 2048 key `kid` signing `alg` (RS256/384/512, PS256/384/512); its JWK names `alg`.
    pub fn rsa(kid: &str, alg: &'static str) -> Self {
        use aws_lc_rs::signature::{self as sig, KeyPair as _, RsaEncoding};
        let pair =
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let parts =
            aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": alg,
            "n": URL_SAFE_NO_PAD.encode(&parts.n), "e": URL_SAFE_NO_PAD.encode(&parts.e),
        });
        let padding: &'static dyn RsaEncoding = match alg {
            "RS256" => &sig::RSA_PKCS1_SHA256,
            "RS384" => &sig::RSA_PKCS1_SHA384,
            "RS512" => &sig::RSA_PKCS1_SHA512,
            "PS256" => &sig::RSA_PSS_SHA256,
            "PS384" => &sig::RSA_PSS_SHA384,
            "PS512" => &sig::RSA_PSS_SHA512,
            other => panic!("not an RSA algorithm: {other}"),
        };
        let sign = move |message: &[u8]| {
            let mut signature = vec![0; pair.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            pair.sign(padding, &rng, message, &mut signature).unwrap();
            signature
        };
        Self { alg, jwk, sign: Box::new(sign) }
    }

    /// A P-384 key `kid` signing ES384.
    pub fn es384(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC", "kid": kid, "use": "sig", "alg": "ES384", "crv": "P-384",
            "x": URL_SAFE_NO_PAD.encode(&point[1..49]), "y": URL_SAFE_NO_PAD.encode(&point[49..]),
        });
        let sign = move |message: &[u8]| {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            pair.sign(&rng, message).unwrap().as_ref().to_vec()
        };
        Self { alg: "ES384", jwk, sign: Box::new(sign) }
    }

    /// One of our own keys (RS256, ES256, EdDSA).
    pub fn of(key: SigningKey) -> Self {
        let (alg, jwk) = (key.alg_name(), key.public_jwk().clone());
        Self { alg, jwk, sign: Box::new(move |message: &[u8]| key.sign(message).unwrap()) }
    }

    pub fn kid(&self) -> &str {
        self.jwk["kid"].as_str().unwrap()
    }

    /// A compact JWS of `claims` with the header `{"alg", "kid", "typ": typ}`.
    pub fn sign(&self, claims: &Value, typ: &str) -> String {
        self.sign_with(&typed_header(self.alg, self.kid(), typ), claims)
    }

    /// A compact JWS of `header` and `claims`, signed by this key whatever `header` says.
    pub fn sign_with(&self, header: &Value, claims: &Value) -> String {
        compact(header, claims, |input| (self.sign)(input))
    }

    /// `at_hash` of `access_token` for this key's algorithm (the left half of its hash).
    pub fn at_hash(&self, access_token: &str) -> String {
        at_hash_for(self.alg, access_token)
    }
}

/// The claims of a compact JWS, unverified (a test reads what was minted).
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
