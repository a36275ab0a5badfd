use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use shared::keygen::{KeyAlg, cookie_key, signing_key_pem};

use super::*;
use crate::material::{ClientKeyAlg, NewClientKey};

fn pem(alg: KeyAlg) -> String {
    signing_key_pem(alg).unwrap().expose_secret().to_owned()
}

/// A valid secret with a client secret, a second provider's client secret and ES256 client
/// keys `kids` for provider `corp`.
fn current(kids: &[&str]) -> String {
    let keys: Vec<Value> = kids
        .iter()
        .map(|kid| json!({"kid": kid, "alg": "ES256", "private_key_pem": pem(KeyAlg::Es256)}))
        .collect();
    json!({
        "client_secret": "default-client-secret",
        "client_secrets": {"partner": "partner-client-secret"},
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [cookie_key().unwrap().expose_secret()],
        "client_keys": {"corp": keys},
    })
    .to_string()
}

fn value(doc: &Document) -> Value {
    serde_json::from_str(doc.validated().unwrap().0.expose_secret()).unwrap()
}

fn es256(kid: &str) -> NewClientKey {
    NewClientKey::generate(kid.into(), ClientKeyAlg::Es256).unwrap()
}

fn kids(doc: &Document, provider: &str) -> Vec<String> {
    doc.client_kids().remove(provider).unwrap_or_default()
}

#[test]
fn rotate_changes_signing_and_cookie_keys_only_leaving_client_credentials_as_they_are() {
    let text = current(&["corp-1", "corp-2"]);
    let before: Value = serde_json::from_str(&text).unwrap();
    let mut doc = Document::parse(&text).unwrap();
    let signing = json!({"kid": "ours-2", "private_key_pem": pem(KeyAlg::Rs256)});
    let cookie = json!(cookie_key().unwrap().expose_secret());
    doc.rotate(Some(signing), Some(cookie), 3).unwrap();
    let after = value(&doc);
    for field in ["client_secret", "client_secrets", "client_keys"] {
        assert_eq!(after[field], before[field], "{field} is untouched");
    }
    assert_eq!(after["signing_keys"][0]["kid"], "ours-2");
    assert_eq!(after["signing_keys"][1], before["signing_keys"][0]);
    assert_eq!(after["cookie_keys"][1], before["cookie_keys"][0]);
    // `--only signing` with `--keep 1`: the old signing key goes, the cookie key stays.
    let signing = json!({"kid": "ours-3", "private_key_pem": pem(KeyAlg::Es256)});
    doc.rotate(Some(signing), None, 1).unwrap();
    let after = value(&doc);
    assert_eq!(after["signing_keys"].as_array().unwrap().len(), 1);
    assert_eq!(after["cookie_keys"].as_array().unwrap().len(), 2);
    assert_eq!(after["client_keys"], before["client_keys"]);
}

#[test]
fn a_new_client_key_signs_first_and_the_oldest_go_beyond_keep() {
    let mut doc = Document::parse(&current(&["corp-2", "corp-1"])).unwrap();
    let dropped = doc.add_client_key("corp", &es256("corp-3"), Position::Active, 3).unwrap();
    assert!(dropped.is_empty());
    assert_eq!(kids(&doc, "corp"), ["corp-3", "corp-2", "corp-1"]);
    let dropped = doc.add_client_key("corp", &es256("corp-4"), Position::Active, 2).unwrap();
    assert_eq!(dropped, ["corp-2", "corp-1"], "the oldest, last, go first");
    assert_eq!(kids(&doc, "corp"), ["corp-4", "corp-3"]);
    let (_, secret) = doc.validated().unwrap();
    let ring = secret.client_secrets().keys_for("corp").unwrap();
    assert_eq!(ring.active().signing_key().kid(), "corp-4");
    assert_eq!(doc.describe_client_keys("corp"), "provider corp: corp-4 (signs), corp-3");
}

#[test]
fn a_first_client_key_for_a_provider_creates_its_list_and_client_keys() {
    let no_client_keys = json!({
        "client_secret": "default-client-secret",
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [cookie_key().unwrap().expose_secret()],
    });
    let mut doc = Document::parse(&no_client_keys.to_string()).unwrap();
    assert_eq!(doc.describe_client_keys("default"), "provider default: no client key");
    // Standby has nothing to stand behind: the first key signs.
    doc.add_client_key("default", &es256("default-1"), Position::Standby, 3).unwrap();
    let after = value(&doc);
    assert_eq!(after["client_keys"]["default"][0]["kid"], "default-1");
    assert_eq!(after["client_keys"]["default"][0]["alg"], "ES256");
    assert_eq!(after["client_secret"], "default-client-secret");
}

#[test]
fn a_standby_key_is_published_second_until_activated() {
    let mut doc = Document::parse(&current(&["corp-1"])).unwrap();
    doc.add_client_key("corp", &es256("corp-2"), Position::Standby, 3).unwrap();
    assert_eq!(kids(&doc, "corp"), ["corp-1", "corp-2"]);
    let (_, secret) = doc.validated().unwrap();
    let jwks = client_jwks(&secret, Some("corp")).unwrap();
    let published: Vec<_> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(published, ["corp-1", "corp-2"], "the standby key is published already");
    assert_eq!(
        secret.client_secrets().keys_for("corp").unwrap().active().signing_key().kid(),
        "corp-1"
    );
    doc.activate_client_key("corp", "corp-2").unwrap();
    assert_eq!(kids(&doc, "corp"), ["corp-2", "corp-1"]);
    // A standby key with --keep 1 would be dropped at once.
    let err = doc.add_client_key("corp", &es256("corp-3"), Position::Standby, 1).unwrap_err();
    assert!(err.contains("--keep must be 2 or more"), "{err}");
    assert_eq!(kids(&doc, "corp"), ["corp-2", "corp-1"], "nothing changed");
}

#[test]
fn client_key_kids_are_unique_across_providers() {
    let mut doc = Document::parse(&current(&["corp-1"])).unwrap();
    let err = doc.add_client_key("partner", &es256("corp-1"), Position::Active, 3).unwrap_err();
    assert!(err.contains("\"corp-1\" is already a client key's (provider corp)"), "{err}");
    assert!(!doc.client_kids().contains_key("partner"), "nothing changed");
    doc.add_client_key("partner", &es256("partner-1"), Position::Active, 3).unwrap();
    let (_, secret) = doc.validated().unwrap();
    assert_eq!(secret.client_secrets().public_jwks().len(), 2);
}

#[test]
fn activate_and_remove_name_the_missing_kid_and_keep_the_last_key() {
    let mut doc = Document::parse(&current(&["corp-2", "corp-1"])).unwrap();
    let err = doc.activate_client_key("corp", "corp-9").unwrap_err();
    assert_eq!(
        err,
        r#"provider corp has no client key "corp-9": its kids are ["corp-2", "corp-1"]"#
    );
    let err = doc.remove_client_key("partner", "corp-1").unwrap_err();
    assert_eq!(err, "provider partner has no client keys");
    // Removing the signing key makes the next one sign.
    doc.remove_client_key("corp", "corp-2").unwrap();
    assert_eq!(doc.describe_client_keys("corp"), "provider corp: corp-1 (signs)");
    let err = doc.remove_client_key("corp", "corp-1").unwrap_err();
    assert!(err.contains("\"corp-1\" is provider corp's only client key"), "{err}");
    doc.validated().unwrap();
}

#[test]
fn a_result_the_functions_would_refuse_is_never_handed_out() {
    let mut doc = Document::parse(&current(&["corp-1"])).unwrap();
    // A kid the functions refuse.
    let bad = NewClientKey::generate("bad kid".into(), ClientKeyAlg::Es256);
    assert!(bad.is_err(), "a kid with a space is refused before it is made");
    // An imported key with another key's certificate: refused at validation.
    let key = SecretString::from(pem(KeyAlg::Rs256));
    let other = rcgen::KeyPair::from_pem(&pem(KeyAlg::Rs256)).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&other)
        .unwrap()
        .pem();
    let imported = NewClientKey::import("corp-2".into(), None, key, Some(cert)).unwrap();
    doc.add_client_key("corp", &imported, Position::Active, 3).unwrap();
    let err = doc.validated().err().unwrap();
    assert!(err.starts_with("the result would not be a valid secret, nothing written:"), "{err}");
    assert!(err.contains("client_keys.corp[0]: certificate_pem does not certify"), "{err}");
    assert!(!err.contains("PRIVATE KEY") && !err.contains("CERTIFICATE"), "{err}");
}

#[test]
fn an_invalid_current_secret_is_not_edited_and_its_values_are_not_shown() {
    let text = current(&["corp-1"]).replace("\"ES256\"", "\"HS256\"");
    let err = Document::parse(&text).err().unwrap();
    assert!(err.starts_with("the current secret is not valid, fix it first:"), "{err}");
    assert!(err.contains("client_keys.corp[0]: alg must be"), "{err}");
    assert!(!err.contains("client-secret") && !err.contains("PRIVATE KEY"), "{err}");
    let err = Document::parse("{\"client_secret\": \"abc").err().unwrap();
    assert!(!err.contains("abc"), "{err}");
}

#[test]
fn the_jwks_is_one_providers_or_all_as_the_functions_serve_it_with_no_private_part() {
    let mut doc = Document::parse(&current(&["corp-2", "corp-1"])).unwrap();
    doc.add_client_key("partner", &es256("partner-1"), Position::Active, 3).unwrap();
    let (_, secret) = doc.validated().unwrap();
    let all = client_jwks(&secret, None).unwrap();
    assert_eq!(all, json!({"keys": secret.client_secrets().public_jwks()}));
    let kids: Vec<_> = all["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect();
    assert_eq!(kids, ["corp-2", "corp-1", "partner-1"]);
    let corp = client_jwks(&secret, Some("corp")).unwrap();
    assert_eq!(corp["keys"].as_array().unwrap().len(), 2);
    for key in corp["keys"].as_array().unwrap() {
        assert_eq!(
            (&key["kty"], &key["use"], &key["alg"]),
            (&json!("EC"), &json!("sig"), &json!("ES256"))
        );
        assert!(key.get("d").is_none(), "no private part");
    }
    let err = client_jwks(&secret, Some("other")).unwrap_err();
    assert_eq!(err, "the secret has no client keys for provider other");
}

#[test]
fn a_fresh_document_with_a_client_key_needs_no_client_secret() {
    let signing = signing_key_pem(KeyAlg::Rs256).unwrap();
    let cookie = cookie_key().unwrap();
    let mut doc = Document::fresh("2026-01-01-abcd", &signing, &cookie);
    assert!(doc.validated().is_err(), "no client credential at all is refused");
    let key = NewClientKey::generate("default-1".into(), ClientKeyAlg::Ps256).unwrap();
    doc.add_client_key("default", &key, Position::Active, 1).unwrap();
    let (_, secret) = doc.validated().unwrap();
    assert!(secret.client_secrets().for_provider("default", true).is_err());
    let jwks = client_jwks(&secret, Some("default")).unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "PS256");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let pretty = doc.pretty().unwrap();
    let parsed: Value = serde_json::from_str(pretty.expose_secret()).unwrap();
    assert!(parsed.get("client_secret").is_none());
    assert_eq!(parsed["client_keys"]["default"][0]["alg"], "PS256");
}
