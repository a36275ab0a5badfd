//! The login request's query (`Query::parse`, `repeats_an_option`) and its login options
//! (`LoginOptionsConfig::read`), in the order the login function reads them, under a
//! deployment that allows every option and under one that allows none; then the transaction
//! a login with those options seals.
//!
//! Asserts: a query that parses names no parameter twice and is within the size limit; the
//! options read are each allowed, unique, `none` alone, `max_age` within the limit, the hint
//! printable and short, at most 4 `acr` values; nothing is read when nothing is allowed; the
//! transaction carrying them (with the `return_to` the query gave, or the fallback) opens
//! again unchanged.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{NOW, TRANSACTION_MAX_COOKIE_LEN};
use shared::{
    CookieKey, Error, Flow, KeyRing, LoginOptions, LoginOptionsConfig, MAX_INPUT, Query, ReturnTo,
    Transaction,
};

const PROMPTS: [&str; 5] = ["none", "login", "consent", "select_account", "create"];
const ACR: [&str; 5] = ["urn:fuzz:loa1", "urn:fuzz:loa2", "1", "2", "phr"];
const MAX_AGE: u64 = 86_400;

struct Fixed {
    open: LoginOptionsConfig,
    closed: LoginOptionsConfig,
    keys: KeyRing<CookieKey>,
    fallback: ReturnTo,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| Fixed {
        open: LoginOptionsConfig {
            prompts: PROMPTS.map(str::to_owned).to_vec(),
            max_age: Some(MAX_AGE),
            login_hint: true,
            acr_values: ACR.map(str::to_owned).to_vec(),
        },
        closed: LoginOptionsConfig::default(),
        keys: KeyRing::new(vec![CookieKey::new([0x44; 32])]).expect("one key"),
        fallback: ReturnTo::parse("/home").expect("a plain path"),
    })
}

fn check_options(options: &LoginOptions) {
    let p = &options.prompts;
    assert!(p.iter().all(|x| PROMPTS.contains(&x.as_str())), "{options:?}");
    assert!(p.iter().enumerate().all(|(i, x)| !p[..i].contains(x)), "{options:?}");
    assert!(p.len() <= 1 || !p.iter().any(|x| x == "none"), "{options:?}");
    assert!(options.max_age.is_none_or(|m| m <= MAX_AGE), "{options:?}");
    if let Some(hint) = &options.login_hint {
        assert!(!hint.trim().is_empty() && hint.len() <= 256, "{options:?}");
        assert!(hint.chars().all(|c| !c.is_control()), "{options:?}");
    }
    let a = &options.acr_values;
    assert!(a.len() <= 4, "{options:?}");
    assert!(a.iter().all(|x| ACR.contains(&x.as_str())), "{options:?}");
    assert!(a.iter().enumerate().all(|(i, x)| !a[..i].contains(x)), "{options:?}");
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let raw = raw.as_ref();
    let repeated = shared::fuzzing::repeats_an_option(Some(raw));
    let Ok(query) = Query::parse(Some(raw)) else {
        return;
    };
    assert!(raw.len() <= MAX_INPUT);
    assert!(!repeated, "a query with a repeated option parsed: {raw:?}");
    let pairs: Vec<_> = url::form_urlencoded::parse(raw.as_bytes()).collect();
    for (i, (name, value)) in pairs.iter().enumerate() {
        assert!(!pairs[..i].iter().any(|(n, _)| n == name), "{name:?} twice in {raw:?}");
        assert_eq!(query.get(name), Some(value.as_ref()));
    }

    let fixed = fixed();
    match fixed.closed.read(|name| query.get(name)) {
        Ok(options) => assert_eq!(options, LoginOptions::default(), "{raw:?}"),
        Err(Error::LoginOptionRefused(_)) => {}
        Err(other) => panic!("{other:?}"),
    }
    let options = match fixed.open.read(|name| query.get(name)) {
        Ok(options) => options,
        Err(Error::LoginOptionRefused(_)) => return,
        Err(other) => panic!("{other:?}"),
    };
    check_options(&options);

    // The transaction such a login seals, opened as its callback opens it.
    let tx = Transaction {
        state: "s".repeat(43),
        nonce: "n".repeat(43).into(),
        pkce_verifier: "v".repeat(43).into(),
        return_to: ReturnTo::or_fallback(query.get("return_to"), &fixed.fallback),
        issued_at: NOW,
        flow: Flow::Spa,
        provider: query.get("provider").map(str::to_owned),
        max_age: options.max_age,
        acr_values: options.acr_values.clone(),
        dpop_key: None,
    };
    let sealed = tx.seal(fixed.keys.active()).expect("sealing works");
    match Transaction::open(&sealed, &fixed.keys, NOW) {
        Ok(opened) => {
            assert_eq!(opened.return_to, tx.return_to);
            assert_eq!(opened.provider, tx.provider);
            assert_eq!(opened.max_age, options.max_age);
            assert_eq!(opened.acr_values, options.acr_values);
        }
        // A `provider` the configuration would have refused can make the cookie too long;
        // the login answers `unknown_provider` before sealing it.
        Err(Error::TransactionInvalid) if sealed.len() > TRANSACTION_MAX_COOKIE_LEN => {}
        Err(other) => panic!("{raw:?}: {other:?}"),
    }
});
