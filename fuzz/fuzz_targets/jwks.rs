//! A JWKS document (`parse_jwks`), and the key choice and signature check over what it
//! keeps (`candidates`, `verify_signature`).
//!
//! Asserts: every key kept is an RSA, EC or OKP key for signatures; a usable key re-serializes
//! (with its key material) to a JWKS that parses back to the same key; a candidate for an
//! algorithm accepts it and is of the token's `kid`; no key verifies a signature of garbage
//! over a fixed message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openidconnect::core::{CoreJsonWebKeyType, CoreJsonWebKeyUse};
use openidconnect::{JsonWebKey as _, JsonWebKeyId};
use shared::ACCEPTED_ALGS;
use shared::fuzzing::{candidates, jwks};

fuzz_target!(|data: &[u8]| {
    let Ok(set) = jwks(data) else { return };
    for key in set.keys() {
        assert!(matches!(
            key.key_type(),
            CoreJsonWebKeyType::RSA
                | CoreJsonWebKeyType::EllipticCurve
                | CoreJsonWebKeyType::OctetKeyPair
        ));
        assert!(key.key_use().is_none_or(|u| *u == CoreJsonWebKeyUse::Signature));
    }
    // A usable key, published again, reads back as the same usable key, when openidconnect
    // kept its key material: it drops a member it cannot decode (a padded `x`, say), which our
    // own reading of the key tolerates; the functions never publish a provider's key again.
    for key in set.keys().iter().filter(|k| k.is_usable()) {
        let json = serde_json::json!({"keys": [key]});
        let has = |name: &str| json["keys"][0].get(name).is_some();
        let material = match key.key_type() {
            CoreJsonWebKeyType::RSA => has("n") && has("e"),
            CoreJsonWebKeyType::EllipticCurve => has("x") && has("y"),
            _ => has("x"),
        };
        if !material {
            continue;
        }
        let again = jwks(json.to_string().as_bytes()).expect("parses again");
        let [same] = again.keys().as_slice() else { panic!("{json} reads as {again:?}") };
        assert!(same.is_usable() && same.key_id() == key.key_id(), "{json}");
        assert_eq!(serde_json::json!({"keys": [same]}), json);
    }

    let kids: Vec<Option<JsonWebKeyId>> =
        std::iter::once(None).chain(set.keys().iter().map(|k| k.key_id().cloned())).collect();
    for alg in &ACCEPTED_ALGS {
        for kid in &kids {
            for key in candidates(&set, kid.as_ref(), alg) {
                assert!(key.accepts(alg) && key.is_usable());
                assert!(kid.is_none() || key.key_id() == kid.as_ref());
                assert!(
                    key.verify_signature(alg, b"header.claims", &data[..data.len().min(512)])
                        .is_err()
                );
            }
        }
    }
});
