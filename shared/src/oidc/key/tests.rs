use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PSS_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use secrecy::ExposeSecret as _;
use serde_json::json;

use super::*;
use crate::SigningKey;
use crate::keygen::{KeyAlg, signing_key_pem};

const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

fn signing_key(alg: KeyAlg) -> SigningKey {
    SigningKey::from_pkcs8_pem("k1", signing_key_pem(alg).unwrap().expose_secret()).unwrap()
}

fn provider_key(jwk: &Value) -> ProviderKey {
    serde_json::from_value(jwk.clone()).unwrap()
}

fn flipped(signature: &[u8]) -> Vec<u8> {
    let mut bad = signature.to_vec();
    bad[signature.len() / 2] ^= 1;
    bad
}

#[test]
fn verifies_each_supported_algorithm_and_refuses_a_flipped_bit() {
    for (alg, jws_alg) in [
        (KeyAlg::Rs256, Alg::RsaSsaPkcs1V15Sha256),
        (KeyAlg::Es256, Alg::EcdsaP256Sha256),
        (KeyAlg::EdDsa, Alg::EdDsa),
    ] {
        let signer = signing_key(alg);
        let key = provider_key(signer.public_jwk());
        assert!(key.is_usable(), "{jws_alg:?}");
        let signature = signer.sign(MESSAGE).unwrap();
        key.verify_signature(&jws_alg, MESSAGE, &signature).unwrap();
        assert!(key.verify_signature(&jws_alg, MESSAGE, &flipped(&signature)).is_err());
        assert!(key.verify_signature(&jws_alg, b"another message", &signature).is_err());
        // Hashing for at_hash stays openidconnect's.
        let core = CoreJsonWebKey::deserialize(signer.public_jwk()).unwrap();
        assert_eq!(key.hash_bytes(b"x", &jws_alg), core.hash_bytes(b"x", &jws_alg));
    }
}

#[test]
fn ps256_verifies_with_an_rsa_key_and_is_not_confused_with_rs256() {
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let key =
        provider_key(&json!({"kty": "RSA", "n": b64(&components.n), "e": b64(&components.e)}));
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PSS_SHA256, &SystemRandom::new(), MESSAGE, &mut signature).unwrap();
    key.verify_signature(&Alg::RsaSsaPssSha256, MESSAGE, &signature).unwrap();
    assert!(key.verify_signature(&Alg::RsaSsaPkcs1V15Sha256, MESSAGE, &signature).is_err());
    assert!(key.verify_signature(&Alg::RsaSsaPssSha256, MESSAGE, &flipped(&signature)).is_err());
}

#[test]
fn a_signature_is_never_checked_with_a_key_of_another_type() {
    let ec = signing_key(KeyAlg::Es256);
    let rsa = signing_key(KeyAlg::Rs256);
    let ec_key = provider_key(ec.public_jwk());
    let rsa_key = provider_key(rsa.public_jwk());
    let ec_signature = ec.sign(MESSAGE).unwrap();
    let rsa_signature = rsa.sign(MESSAGE).unwrap();
    for (key, alg, signature) in [
        (&ec_key, Alg::RsaSsaPkcs1V15Sha256, &ec_signature),
        (&ec_key, Alg::EdDsa, &ec_signature),
        (&rsa_key, Alg::EcdsaP256Sha256, &rsa_signature),
        (&rsa_key, Alg::HmacSha256, &rsa_signature),
        (&rsa_key, Alg::RsaSsaPkcs1V15Sha384, &rsa_signature),
    ] {
        assert!(
            matches!(
                key.verify_signature(&alg, MESSAGE, signature),
                Err(SignatureVerificationError::UnsupportedAlg(_))
            ),
            "{alg:?} on {key:?}"
        );
    }
}

#[test]
fn a_modulus_with_a_leading_zero_byte_and_padded_base64_still_verify() {
    let signer = signing_key(KeyAlg::Rs256);
    let mut jwk = signer.public_jwk().clone();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let mut padded = vec![0];
    padded.extend_from_slice(&n);
    jwk["n"] = json!(base64::engine::general_purpose::URL_SAFE.encode(&padded));
    let key = provider_key(&jwk);
    key.verify_signature(&Alg::RsaSsaPkcs1V15Sha256, MESSAGE, &signer.sign(MESSAGE).unwrap())
        .unwrap();
}

#[test]
fn weak_malformed_and_foreign_keys_are_kept_but_verify_nothing() {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let mut n1024 = vec![0xc5; 128];
    n1024[127] = 0x01;
    let ed = signing_key(KeyAlg::EdDsa);
    let ed_x = ed.public_jwk()["x"].as_str().unwrap().to_owned();
    let keys = [
        json!({"kty": "RSA", "kid": "rsa1024", "n": b64(&n1024), "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "bad-n", "n": "!!!", "e": "AQAB"}),
        json!({"kty": "EC", "kid": "p384", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])}),
        json!({"kty": "EC", "kid": "short", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[2; 32])}),
        json!({"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])}),
        json!({"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": ed_x}),
    ];
    for jwk in keys {
        let key = provider_key(&jwk);
        assert!(!key.is_usable(), "{jwk}");
        for alg in [Alg::RsaSsaPkcs1V15Sha256, Alg::EcdsaP256Sha256, Alg::EdDsa] {
            assert!(
                matches!(
                    key.verify_signature(&alg, MESSAGE, &[0; 64]),
                    Err(SignatureVerificationError::InvalidKey(_))
                ),
                "{jwk}"
            );
        }
    }
}

#[test]
fn a_symmetric_key_verifies_nothing() {
    let key = ProviderKey::new_symmetric(b"the client secret".to_vec());
    assert!(!key.is_usable());
    assert!(key.verify_signature(&Alg::HmacSha256, MESSAGE, &[0; 32]).is_err());
}

#[test]
fn serializes_back_to_the_published_jwk() {
    let signer = signing_key(KeyAlg::Es256);
    let key = provider_key(signer.public_jwk());
    let back = serde_json::to_value(&key).unwrap();
    for field in ["kty", "kid", "crv", "x", "y", "use", "alg"] {
        assert_eq!(back[field], signer.public_jwk()[field], "{field}");
    }
}

#[test]
fn the_one_rule_type_curve_use_and_alg() {
    let rsa = signing_key(KeyAlg::Rs256);
    let p256 = signing_key(KeyAlg::Es256);
    let ed = signing_key(KeyAlg::EdDsa);
    let mut any_rsa = rsa.public_jwk().clone();
    any_rsa.as_object_mut().unwrap().remove("alg");
    let mut enc = any_rsa.clone();
    enc["use"] = json!("enc");
    let p384 = crate::testing::JwsKey::es384("p384");
    let rsa_algs = [
        Alg::RsaSsaPkcs1V15Sha256,
        Alg::RsaSsaPkcs1V15Sha384,
        Alg::RsaSsaPkcs1V15Sha512,
        Alg::RsaSsaPssSha256,
        Alg::RsaSsaPssSha384,
        Alg::RsaSsaPssSha512,
    ];
    let every = [
        rsa_algs.as_slice(),
        &[Alg::EcdsaP256Sha256, Alg::EcdsaP384Sha384, Alg::EcdsaP521Sha512, Alg::EdDsa],
        &[Alg::HmacSha256, Alg::HmacSha384, Alg::HmacSha512, Alg::None],
    ]
    .concat();
    let cases: [(&Value, &[Alg]); 6] = [
        // Its `alg` only.
        (rsa.public_jwk(), &[Alg::RsaSsaPkcs1V15Sha256]),
        // No `alg`: every algorithm of its type.
        (&any_rsa, &rsa_algs),
        (&enc, &[]),
        (p256.public_jwk(), &[Alg::EcdsaP256Sha256]),
        (&p384.jwk, &[Alg::EcdsaP384Sha384]),
        (ed.public_jwk(), &[Alg::EdDsa]),
    ];
    for (jwk, accepted) in cases {
        let key = provider_key(jwk);
        for alg in &every {
            assert_eq!(key.accepts(alg), accepted.contains(alg), "{alg:?} with {jwk}");
        }
    }
    let symmetric = ProviderKey::new_symmetric(b"secret".to_vec());
    assert!(every.iter().all(|alg| !symmetric.accepts(alg)));
}

#[test]
fn rsa_verifies_its_six_algorithms_and_p384_es384() {
    let message = b"header.payload";
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let signer = crate::testing::JwsKey::rsa("k", alg);
        let mut jwk = signer.jwk.clone();
        jwk.as_object_mut().unwrap().remove("alg");
        let key = provider_key(&jwk);
        let token = signer.sign_with(&json!({"alg": alg}), &json!({}));
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let jws_alg: Alg = serde_json::from_value(json!(alg)).unwrap();
        key.verify_signature(&jws_alg, input.as_bytes(), &signature).unwrap();
        assert!(key.verify_signature(&jws_alg, message, &signature).is_err());
        assert!(key.verify_signature(&jws_alg, input.as_bytes(), &flipped(&signature)).is_err());
        // The same signature under a sibling algorithm fails.
        for other in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
            if other != alg {
                let other: Alg = serde_json::from_value(json!(other)).unwrap();
                assert!(key.verify_signature(&other, input.as_bytes(), &signature).is_err());
            }
        }
    }
    let signer = crate::testing::JwsKey::es384("p384");
    let key = provider_key(&signer.jwk);
    assert!(key.is_usable());
    let token = signer.sign_with(&json!({"alg": "ES384"}), &json!({}));
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify_signature(&Alg::EcdsaP384Sha384, input.as_bytes(), &signature).unwrap();
    assert!(key.verify_signature(&Alg::EcdsaP256Sha256, input.as_bytes(), &signature).is_err());
}
