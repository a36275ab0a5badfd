use super::*;
use crate::tokens::secret::KeyRing;

fn ring<const N: usize>(keys: [CookieKey; N]) -> KeyRing<CookieKey> {
    KeyRing::new(keys.into()).unwrap()
}

fn key(byte: u8) -> CookieKey {
    CookieKey::new([byte; 32])
}

fn tx(flow: Flow) -> Transaction {
    Transaction {
        state: "state-123".into(),
        nonce: SecretString::from("nonce-456"),
        pkce_verifier: SecretString::from("verifier-789"),
        return_to: ReturnTo::parse("/app?x=1").unwrap(),
        issued_at: 1_000_000,
        flow,
        provider: Some("google".into()),
        max_age: None,
        acr_values: Vec::new(),
        dpop_key: None,
    }
}

/// Seals `json` as it stands, as [`Transaction::seal`] does (cookies of an older format).
fn seal_json(json: &serde_json::Value, key: &CookieKey) -> String {
    let nonce = [9u8; NONCE_LEN];
    let mut in_out = serde_json::to_vec(json).unwrap();
    aead_key(key)
        .unwrap()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut in_out)
        .unwrap();
    URL_SAFE_NO_PAD.encode([nonce.as_slice(), &in_out].concat())
}

#[test]
fn login_options_round_trip_and_older_cookies_without_them_still_open() {
    let mut asked = tx(Flow::Spa);
    asked.max_age = Some(300);
    asked.acr_values = vec!["urn:a:mfa".into(), "urn:a:pwd".into()];
    let opened =
        Transaction::open(&asked.seal(&key(1)).unwrap(), &ring([key(1)]), 1_000_010).unwrap();
    assert_eq!(opened.max_age, Some(300));
    assert_eq!(opened.acr_values, ["urn:a:mfa", "urn:a:pwd"]);

    // A cookie sealed before login options existed: no `m`, no `a`.
    let old = serde_json::json!({
        "s": "state-123", "n": "nonce-456", "v": "verifier-789", "r": "/app", "t": 1_000_000,
        "f": "spa",
    });
    let opened = Transaction::open(&seal_json(&old, &key(1)), &ring([key(1)]), 1_000_010).unwrap();
    assert_eq!((opened.max_age, opened.acr_values.len()), (None, 0));
    assert_eq!(opened.state, "state-123");
    // A login without options seals exactly the older format.
    let mut without = old.clone();
    without["p"] = "google".into();
    assert!(Transaction::open(&seal_json(&without, &key(1)), &ring([key(1)]), 1_000_010).is_ok());
    let mut unknown = old;
    unknown["x"] = 1.into();
    assert!(matches!(
        Transaction::open(&seal_json(&unknown, &key(1)), &ring([key(1)]), 1_000_010),
        Err(Error::TransactionInvalid)
    ));
}

#[test]
fn the_largest_transaction_still_fits_its_cookie() {
    use crate::infra::config::login_options::{MAX_ACR_ASKED, MAX_ACR_LEN};
    let mut largest = tx(Flow::Server);
    largest.state = "s".repeat(43);
    largest.nonce = SecretString::from("n".repeat(43));
    largest.pkce_verifier = SecretString::from("v".repeat(43));
    // `"` is a character `return_to` takes and JSON writes as two (found by the fuzz target
    // `transaction`: 2,242 characters sealed, over the 2,048 the callback then opened).
    largest.return_to =
        ReturnTo::parse(&format!("/{}", "\"".repeat(crate::return_to::MAX_LEN - 1))).unwrap();
    largest.provider = Some("p".repeat(16));
    largest.max_age = Some(u64::MAX);
    largest.acr_values =
        (0..MAX_ACR_ASKED).map(|i| format!("{i}{}", "a".repeat(MAX_ACR_LEN - 1))).collect();
    largest.dpop_key = Some(crate::oidc::dpop::DpopKey::generate().unwrap().to_stored());
    let sealed = largest.seal(&key(1)).unwrap();
    assert!(sealed.len() <= MAX_COOKIE_LEN, "{} bytes", sealed.len());
    assert!(Transaction::open(&sealed, &ring([key(1)]), 1_000_000).is_ok());
    // With its name and attributes, the cookie stays within what every browser keeps.
    let cookie = crate::web::cookies::set_transaction(
        &crate::web::cookies::transaction_name(&largest.state),
        &"x".repeat(MAX_COOKIE_LEN),
    );
    assert!(cookie.len() <= 4096, "{} bytes", cookie.len());
}

#[test]
fn round_trip_keeps_every_field() {
    let sealed = tx(Flow::Server).seal(&key(1)).unwrap();
    let opened = Transaction::open(&sealed, &ring([key(1)]), 1_000_010).unwrap();
    assert_eq!(opened.state, "state-123");
    assert_eq!(opened.nonce.expose_secret(), "nonce-456");
    assert_eq!(opened.pkce_verifier.expose_secret(), "verifier-789");
    assert_eq!(opened.return_to.as_str(), "/app?x=1");
    assert_eq!(opened.issued_at, 1_000_000);
    assert_eq!(opened.flow, Flow::Server);
    assert_eq!(opened.provider.as_deref(), Some("google"), "the provider travels sealed");
}

#[test]
fn sealed_value_hides_its_contents_and_differs_each_time() {
    let a = tx(Flow::Spa).seal(&key(1)).unwrap();
    let b = tx(Flow::Spa).seal(&key(1)).unwrap();
    assert_ne!(a, b, "a fresh nonce per seal");
    let raw = URL_SAFE_NO_PAD.decode(&a).unwrap();
    let text = String::from_utf8_lossy(&raw);
    for secret in ["state-123", "nonce-456", "verifier-789", "/app"] {
        assert!(!text.contains(secret));
    }
    assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

#[test]
fn every_tampered_byte_is_refused() {
    let sealed = tx(Flow::Spa).seal(&key(1)).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    for i in 0..raw.len() {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        let value = URL_SAFE_NO_PAD.encode(&bad);
        assert!(
            matches!(
                Transaction::open(&value, &ring([key(1)]), 1_000_000),
                Err(Error::TransactionInvalid)
            ),
            "byte {i}"
        );
    }
    for bad in ["", "x", "!!!!", &sealed[..sealed.len() - 2], &format!("{sealed}AA")] {
        assert!(matches!(
            Transaction::open(bad, &ring([key(1)]), 1_000_000),
            Err(Error::TransactionInvalid)
        ));
    }
    let huge = "A".repeat(MAX_COOKIE_LEN + 1);
    assert!(matches!(
        Transaction::open(&huge, &ring([key(1)]), 1_000_000),
        Err(Error::TransactionInvalid)
    ));
}

#[test]
fn expires_after_its_lifetime_and_refuses_the_future() {
    let sealed = tx(Flow::Spa).seal(&key(1)).unwrap();
    let issued = 1_000_000;
    assert!(Transaction::open(&sealed, &ring([key(1)]), issued + LIFETIME.as_secs()).is_ok());
    assert!(matches!(
        Transaction::open(&sealed, &ring([key(1)]), issued + LIFETIME.as_secs() + 1),
        Err(Error::TransactionExpired)
    ));
    assert!(Transaction::open(&sealed, &ring([key(1)]), issued - 60).is_ok(), "small clock skew");
    assert!(matches!(
        Transaction::open(&sealed, &ring([key(1)]), issued - 61),
        Err(Error::TransactionExpired)
    ));
}

#[test]
fn opens_under_a_retired_key_and_refuses_a_removed_one() {
    let sealed = tx(Flow::Spa).seal(&key(1)).unwrap();
    assert!(Transaction::open(&sealed, &ring([key(2), key(1)]), 1_000_000).is_ok());
    assert!(matches!(
        Transaction::open(&sealed, &ring([key(2)]), 1_000_000),
        Err(Error::TransactionInvalid)
    ));
}

#[test]
fn keeps_the_flow_that_started_it() {
    for flow in [Flow::Spa, Flow::Server] {
        let sealed = tx(flow).seal(&key(1)).unwrap();
        assert_eq!(Transaction::open(&sealed, &ring([key(1)]), 1_000_000).unwrap().flow, flow);
    }
}

#[test]
fn a_sealed_unsafe_return_to_is_refused() {
    // Only reachable with the cookie key, but the opened value is parsed again all the same.
    let plain = serde_json::to_vec(&SealedRef {
        s: "s",
        n: "n",
        v: "v",
        r: "//evil",
        t: 1_000_000,
        f: Flow::Spa,
        p: None,
        m: None,
        a: &[],
        k: None,
    })
    .unwrap();
    let mut in_out = plain;
    let nonce = [3u8; NONCE_LEN];
    aead_key(&key(1))
        .unwrap()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(AAD), &mut in_out)
        .unwrap();
    let value = URL_SAFE_NO_PAD.encode([nonce.as_slice(), &in_out].concat());
    assert!(matches!(
        Transaction::open(&value, &ring([key(1)]), 1_000_000),
        Err(Error::TransactionInvalid)
    ));
}
