use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use shared::Secret;
use shared::keygen::{KeyAlg, cookie_key, signing_key_pem};

use super::*;

fn pem(alg: KeyAlg) -> SecretString {
    signing_key_pem(alg).unwrap()
}

/// The functions' parse of a secret whose only client key is `key`'s, for provider `default`.
fn secret_with(key: &NewClientKey) -> Result<Secret, shared::SecretError> {
    let doc = json!({
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256).expose_secret()}],
        "cookie_keys": [cookie_key().unwrap().expose_secret()],
        "client_keys": {"default": [key.to_entry()]},
    });
    Secret::from_json(&doc.to_string())
}

#[test]
fn algorithms_parse_by_their_jose_names_only() {
    for (name, alg) in [
        ("PS256", ClientKeyAlg::Ps256),
        ("RS256", ClientKeyAlg::Rs256),
        ("ES256", ClientKeyAlg::Es256),
        ("EdDSA", ClientKeyAlg::EdDsa),
    ] {
        assert_eq!(name.parse::<ClientKeyAlg>(), Ok(alg));
        assert_eq!(alg.name(), name);
    }
    for wrong in ["ps256", "HS256", "none", ""] {
        assert!(wrong.parse::<ClientKeyAlg>().is_err(), "{wrong}");
    }
}

#[test]
fn generated_keys_sign_their_algorithm() {
    for (alg, kty) in [
        (ClientKeyAlg::Ps256, "RSA"),
        (ClientKeyAlg::Rs256, "RSA"),
        (ClientKeyAlg::Es256, "EC"),
        (ClientKeyAlg::EdDsa, "OKP"),
    ] {
        let key = NewClientKey::generate("k-1".into(), alg).unwrap();
        let secret = secret_with(&key).unwrap();
        let jwk = &secret.client_secrets().public_jwks()[0];
        assert_eq!((jwk["alg"].as_str(), jwk["kty"].as_str()), (Some(alg.name()), Some(kty)));
    }
}

#[test]
fn the_default_kid_names_the_provider_and_the_date() {
    let kid = default_kid("corp").unwrap();
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(kid.starts_with(&format!("corp-{date}-")), "{kid}");
    assert_ne!(kid, default_kid("corp").unwrap(), "a random suffix");
    NewClientKey::generate(kid, ClientKeyAlg::Es256).unwrap();
}

#[test]
fn an_imported_key_gets_its_algorithm_from_the_key_unless_told() {
    let rsa = || pem(KeyAlg::Rs256);
    let key = NewClientKey::import("k".into(), None, rsa(), None).unwrap();
    assert_eq!(key.alg(), ClientKeyAlg::Rs256, "as the secret without alg: RS256 for RSA");
    assert_eq!(key.to_entry()["alg"], "RS256", "written out");
    let key = NewClientKey::import("k".into(), Some(ClientKeyAlg::Ps256), rsa(), None).unwrap();
    assert_eq!(key.alg(), ClientKeyAlg::Ps256);
    let key = NewClientKey::import("k".into(), None, pem(KeyAlg::Es256), None).unwrap();
    assert_eq!(key.alg(), ClientKeyAlg::Es256);
    let key = NewClientKey::import("k".into(), None, pem(KeyAlg::EdDsa), None).unwrap();
    assert_eq!(key.alg(), ClientKeyAlg::EdDsa);
    let err = NewClientKey::import("k".into(), Some(ClientKeyAlg::Ps256), pem(KeyAlg::Es256), None)
        .err()
        .unwrap();
    assert_eq!(err, "--alg PS256 does not fit the key of --key-file, which signs ES256");
}

#[test]
fn an_imported_key_must_be_unencrypted_pkcs8_and_the_error_says_how_to_convert_it() {
    for (label, kind) in [
        ("RSA PRIVATE KEY", "a PKCS#1 RSA key"),
        ("EC PRIVATE KEY", "a SEC1 EC key"),
        ("ENCRYPTED PRIVATE KEY", "an encrypted key"),
    ] {
        let text = format!("-----BEGIN {label}-----\nTUlJQ3NlY3JldA==\n-----END {label}-----\n");
        let err =
            NewClientKey::import("k".into(), None, SecretString::from(text), None).err().unwrap();
        assert!(err.starts_with(&format!("--key-file holds {kind}")), "{err}");
        assert!(err.contains("openssl pkcs8 -topk8 -nocrypt"), "{err}");
        assert!(!err.contains("TUlJQ3NlY3JldA"), "{err}");
    }
    let err =
        NewClientKey::import("k".into(), None, SecretString::from("garbage"), None).err().unwrap();
    assert!(err.starts_with("--key-file: private_key_pem is not a PKCS#8 PEM"), "{err}");
    let err = NewClientKey::import("bad kid".into(), None, pem(KeyAlg::Es256), None).err().unwrap();
    assert!(err.contains("kid must be"), "{err}");
}

#[test]
fn an_imported_certificate_goes_with_its_key_and_names_it_by_sha256_thumbprint() {
    let key_pem = pem(KeyAlg::Rs256);
    let pair = rcgen::KeyPair::from_pem(key_pem.expose_secret()).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["spa-login".into()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let key = NewClientKey::import("entra-1".into(), None, key_pem, Some(cert.pem())).unwrap();
    assert!(key.has_certificate());
    assert_eq!(key.to_entry()["certificate_pem"], cert.pem());
    let secret = secret_with(&key).unwrap();
    let jwk = &secret.client_secrets().public_jwks()[0];
    // The thumbprint itself is the functions' (shared's tests check its value).
    assert!(jwk["x5t#S256"].as_str().is_some_and(|t| t.len() == 43), "{jwk}");
    assert_eq!(jwk["alg"], "RS256");
    // A certificate file that also holds a private key is refused: the certificate alone.
    let both = format!("{}{}", cert.pem(), pem(KeyAlg::Rs256).expose_secret());
    let err =
        NewClientKey::import("entra-2".into(), None, pem(KeyAlg::Rs256), Some(both)).err().unwrap();
    assert_eq!(err, "--certificate-file also holds a private key: give the certificate alone");
}

#[test]
fn a_self_signed_certificate_certifies_the_key_for_the_days_asked() {
    for alg in [ClientKeyAlg::Ps256, ClientKeyAlg::Es256] {
        let mut key = NewClientKey::generate("entra-1".into(), alg).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 27).unwrap();
        let pem = key.self_sign(today, 365).unwrap().to_owned();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(!pem.contains("PRIVATE KEY"));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).unwrap();
        let has = |bytes: &[u8]| der.windows(bytes.len()).any(|w| w == bytes);
        // Validity as UTCTime (YYMMDDhhmmssZ), subject CN = the kid.
        assert!(has(b"260227000000Z") && has(b"270227000000Z"), "valid for 365 days");
        assert!(has(b"entra-1"), "CN is the kid");
        // The functions accept it as this key's certificate and publish its thumbprint.
        let secret = secret_with(&key).unwrap();
        let jwk = &secret.client_secrets().public_jwks()[0];
        assert!(jwk["x5t#S256"].as_str().is_some_and(|t| t.len() == 43), "{jwk}");
    }
}
