use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret as _;
use serde_json::json;

use super::*;
use crate::keygen::{KeyAlg, signing_key_pem};

fn pem(alg: KeyAlg) -> String {
    signing_key_pem(alg).unwrap().expose_secret().to_owned()
}

fn doc(signing_keys: serde_json::Value, cookie_keys: serde_json::Value) -> String {
    json!({"client_secret": "s3cret-value", "signing_keys": signing_keys, "cookie_keys": cookie_keys})
        .to_string()
}

fn err(text: &str) -> SecretError {
    Secret::from_json(text).unwrap_err()
}

#[test]
fn parses_every_key_kind_and_keeps_order() {
    let text = doc(
        json!([
            {"kid": "new", "private_key_pem": pem(KeyAlg::Es256)},
            {"kid": "old", "private_key_pem": pem(KeyAlg::Rs256)},
            {"kid": "ed", "private_key_pem": pem(KeyAlg::EdDsa)},
        ]),
        json!([STANDARD.encode([7u8; 32])]),
    );
    let secret = Secret::from_json(&text).unwrap();
    let kids: Vec<_> = secret.signing_keys().iter().map(|k| (k.kid(), k.alg_name())).collect();
    assert_eq!(kids, [("new", "ES256"), ("old", "RS256"), ("ed", "EdDSA")]);
    assert_eq!(
        secret.client_secrets().for_provider("default", true).unwrap().expose_secret(),
        "s3cret-value"
    );
    assert_eq!(secret.cookie_keys().active().expose(), &[7u8; 32]);
}

#[test]
fn cookie_keys_accept_both_base64_alphabets_with_or_without_padding() {
    // 0xfb 0xff ... encodes to '+' and '/' in standard base64, '-' and '_' in URL-safe.
    let bytes = [0xfbu8; 32];
    let key = pem(KeyAlg::Es256);
    for encoded in [
        STANDARD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ] {
        let text = doc(json!([{"kid": "k", "private_key_pem": key}]), json!([encoded]));
        assert_eq!(Secret::from_json(&text).unwrap().cookie_keys().active().expose(), &bytes);
    }
}

#[test]
fn refuses_cookie_keys_of_the_wrong_length_or_alphabet() {
    let key = pem(KeyAlg::Es256);
    for bad in [
        STANDARD.encode([1u8; 16]),
        STANDARD.encode([1u8; 33]),
        "not base64!".into(),
        String::new(),
    ] {
        let text = doc(
            json!([{"kid": "k", "private_key_pem": key}]),
            json!([STANDARD.encode([1u8; 32]), bad]),
        );
        assert!(matches!(err(&text), SecretError::CookieKey { index: 1 }));
    }
}

#[test]
fn refuses_empty_arrays_and_empty_client_secret() {
    let key = json!([{"kid": "k", "private_key_pem": pem(KeyAlg::Es256)}]);
    let cookie = json!([STANDARD.encode([1u8; 32])]);
    assert!(matches!(err(&doc(json!([]), cookie.clone())), SecretError::NoSigningKeys));
    assert!(matches!(err(&doc(key.clone(), json!([]))), SecretError::NoCookieKeys));
    let text = json!({"client_secret": "", "signing_keys": key, "cookie_keys": cookie}).to_string();
    assert!(matches!(err(&text), SecretError::EmptyClientSecret));
}

#[test]
fn refuses_bad_pem_and_unsupported_keys_naming_the_index() {
    let good = pem(KeyAlg::Es256);
    let cookie = json!([STANDARD.encode([1u8; 32])]);
    // A P-384 key: PKCS#8 but not a curve we sign with.
    let p384 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
    )
    .unwrap()
    .to_pkcs8v1()
    .unwrap();
    let p384_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(p384.as_ref())
    );
    let truncated = good.replace("-----END PRIVATE KEY-----", "");
    let cases = [
        ("not a pem", SigningKeyError::NotPkcs8Pem),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            SigningKeyError::Unsupported,
        ),
        (truncated.as_str(), SigningKeyError::NotPkcs8Pem),
        (p384_pem.as_str(), SigningKeyError::Unsupported),
    ];
    for (bad, expected) in cases {
        let text = doc(
            json!([{"kid": "a", "private_key_pem": good}, {"kid": "b", "private_key_pem": bad}]),
            cookie.clone(),
        );
        match err(&text) {
            SecretError::SigningKey { index: 1, source } => assert_eq!(source, expected, "{bad}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn refuses_duplicate_and_bad_kids() {
    let key = pem(KeyAlg::Es256);
    let cookie = json!([STANDARD.encode([1u8; 32])]);
    let text = doc(
        json!([{"kid": "k", "private_key_pem": key}, {"kid": "k", "private_key_pem": key}]),
        cookie.clone(),
    );
    assert!(matches!(err(&text), SecretError::DuplicateKid { index: 1 }));
    for kid in ["", "with space", "line\nbreak"] {
        let text = doc(json!([{"kid": kid, "private_key_pem": key}]), cookie.clone());
        assert!(matches!(
            err(&text),
            SecretError::SigningKey { source: SigningKeyError::BadKid, .. }
        ));
    }
}

#[test]
fn errors_and_debug_never_show_secret_values() {
    let key = pem(KeyAlg::Es256);
    // Wrong type for client_secret: serde would quote the value; we must not.
    let text = json!({"client_secret": ["s3cret-value"], "signing_keys": [], "cookie_keys": []})
        .to_string();
    let e = err(&text).to_string();
    assert!(!e.contains("s3cret-value"), "{e}");
    let text = json!({"client_secret": "x", "signing_keys": [{"kid": "k", "private_key_pem": 5}], "cookie_keys": ["abc"]})
        .to_string();
    assert!(err(&text).to_string().contains("line 1"));
    let text =
        doc(json!([{"kid": "k", "private_key_pem": key}]), json!([STANDARD.encode([9u8; 32])]));
    let secret = Secret::from_json(&text).unwrap();
    let shown = format!("{secret:?}");
    assert!(
        !shown.contains("s3cret-value") && !shown.contains("PRIVATE") && !shown.contains("CQkJ"),
        "{shown}"
    );
    assert!(format!("{:?}", secret.cookie_keys().active()).contains("redacted"));
}

#[test]
fn malformed_json_is_reported_with_a_position() {
    assert!(matches!(err("{"), SecretError::Json { category: "unexpected end", .. }));
    assert!(matches!(err("[]"), SecretError::Json { .. }));
    assert!(matches!(
        err(r#"{"client_secret": "x"}"#),
        SecretError::Json { category: "missing field or wrong type", .. }
    ));
}

#[test]
fn client_secrets_are_keyed_by_provider_and_the_default_one_never_goes_to_another() {
    let key = json!([{"kid": "k", "private_key_pem": pem(KeyAlg::Es256)}]);
    let cookie = json!([STANDARD.encode([1u8; 32])]);
    let parse = |value: serde_json::Value| {
        let mut doc = json!({"signing_keys": key, "cookie_keys": cookie});
        doc.as_object_mut().unwrap().extend(value.as_object().unwrap().clone());
        Secret::from_json(&doc.to_string())
    };
    let both = parse(json!({"client_secret": "main-1", "client_secrets": {"google": "g-2"}}));
    let secrets = both.unwrap().client_secrets().clone();
    let get = |name: &str, is_default: bool| {
        secrets.for_provider(name, is_default).map(|s| s.expose_secret().to_owned())
    };
    assert_eq!(get("corp", true).unwrap(), "main-1", "client_secret is the default provider's");
    assert_eq!(get("google", false).unwrap(), "g-2");
    // A second provider without its own entry gets nothing, never the default's secret.
    let missing = get("other", false).unwrap_err();
    assert!(matches!(&missing, SecretError::NoClientSecret { provider } if provider == "other"));
    assert!(!missing.to_string().contains("main-1"));
    // client_secrets wins for the default provider too.
    let keyed = parse(json!({"client_secret": "main-1", "client_secrets": {"corp": "c-3"}}));
    let keyed = keyed.unwrap();
    assert_eq!(keyed.client_secrets().for_provider("corp", true).unwrap().expose_secret(), "c-3");
    // No client secret at all, or an empty one in the map, is refused.
    assert!(matches!(parse(json!({})).err(), Some(SecretError::NoClientSecret { .. })));
    let empty = parse(json!({"client_secrets": {"google": ""}})).err();
    assert!(matches!(empty, Some(SecretError::EmptyClientSecret)));
    // Debug names the providers, never a value.
    let debug = format!("{:?}", both_debug());
    assert!(!debug.contains("g-2") && debug.contains("google"), "{debug}");

    fn both_debug() -> Secret {
        let key = json!([{"kid": "k", "private_key_pem": pem(KeyAlg::Es256)}]);
        let doc = json!({
            "client_secrets": {"google": "g-2"},
            "signing_keys": key,
            "cookie_keys": [STANDARD.encode([1u8; 32])],
        });
        Secret::from_json(&doc.to_string()).unwrap()
    }
}
