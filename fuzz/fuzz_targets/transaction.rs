//! The login transaction cookie (`Transaction::open`) with fixed cookie keys, three ways by the
//! first byte: the raw cookie value; any plaintext sealed under one of the keys (so that the
//! reading of the JSON inside is reached); a transaction of fuzzed fields, within the bounds a
//! real login has, sealed by `Transaction::seal`.
//!
//! Asserts: whatever opens has a safe `return_to` and an `issued_at` within the lifetime;
//! nothing opens under a key outside the ring; a transaction a login can make opens again
//! with every field unchanged, under the active key and under an older one, and its cookie
//! stays within the size the callback accepts.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{Result as ArbitraryResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret as _;
use shared::fuzzing::{
    NOW, RETURN_TO_MAX_LEN, TRANSACTION_MAX_COOKIE_LEN, seal_transaction_plaintext,
};
use shared::{CookieKey, Error, Flow, KeyRing, ReturnTo, TRANSACTION_LIFETIME, Transaction};

/// The largest `max_age` a deployment may allow (`LOGIN_MAX_AGE`).
const MAX_MAX_AGE: u64 = 31_536_000;

/// The fixed cookie keys: a ring of two (active, older), and a key outside it.
struct Keys {
    ring: KeyRing<CookieKey>,
    older: CookieKey,
    stranger: CookieKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ring: KeyRing::new(vec![CookieKey::new([0x11; 32]), CookieKey::new([0x22; 32])])
            .expect("two keys"),
        older: CookieKey::new([0x22; 32]),
        stranger: CookieKey::new([0x33; 32]),
    })
}

/// What every transaction that opens must hold.
fn check_opened(tx: &Transaction) {
    assert!(ReturnTo::parse(tx.return_to.as_str()).is_some(), "{tx:?}");
    let lifetime = TRANSACTION_LIFETIME.as_secs();
    assert!(tx.issued_at + lifetime >= NOW && tx.issued_at <= NOW + 60, "{tx:?}");
}

/// 32 fuzzed bytes as a login writes `state`, `nonce` or the PKCE verifier: base64url.
fn random_like(u: &mut Unstructured) -> ArbitraryResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(u.bytes(32)?))
}

/// A fuzzed string of at most `max` bytes of `allowed` characters.
fn word(u: &mut Unstructured, max: usize, allowed: fn(u8) -> bool) -> ArbitraryResult<String> {
    let len = u.int_in_range(1..=max)?;
    let bytes = u.bytes(len.min(u.len()))?;
    Ok(bytes.iter().map(|b| if allowed(*b) { *b as char } else { 'a' }).collect())
}

/// A transaction within the bounds a login gives it: `state`, `nonce` and verifier as
/// generated, a `return_to` that `ReturnTo::parse` accepted, a provider name as the
/// configuration allows, `max_age` and up to 4 `acr_values` as the login options allow.
fn transaction(u: &mut Unstructured) -> ArbitraryResult<Transaction> {
    let return_to = word(u, RETURN_TO_MAX_LEN, |b| b.is_ascii_graphic() && b != b'\\')?;
    let return_to = ReturnTo::parse(&format!("/{}", &return_to[..return_to.len().min(511)]))
        .unwrap_or_else(|| ReturnTo::parse("/").expect("the root"));
    let provider = if u.arbitrary()? {
        Some(word(u, 16, |b| b.is_ascii_lowercase() || b.is_ascii_digit())?)
    } else {
        None
    };
    let acr_count = u.int_in_range(0..=4)?;
    let mut acr_values = Vec::new();
    for _ in 0..acr_count {
        acr_values.push(word(u, 100, |b| b.is_ascii_graphic() && b != b'"' && b != b'\\')?);
    }
    Ok(Transaction {
        state: random_like(u)?,
        nonce: random_like(u)?.into(),
        pkce_verifier: random_like(u)?.into(),
        return_to,
        issued_at: NOW - u64::from(u.int_in_range(0u16..=600)?),
        flow: if u.arbitrary()? { Flow::Spa } else { Flow::Server },
        provider,
        max_age: if u.arbitrary()? { Some(u.int_in_range(1..=MAX_MAX_AGE)?) } else { None },
        acr_values,
        // A session's DPoP key as the login stores it: 52 base64url characters.
        dpop_key: if u.arbitrary()? { Some("k".repeat(52).into()) } else { None },
    })
}

fn same(a: &Transaction, b: &Transaction) -> bool {
    a.state == b.state
        && a.nonce.expose_secret() == b.nonce.expose_secret()
        && a.pkce_verifier.expose_secret() == b.pkce_verifier.expose_secret()
        && a.return_to == b.return_to
        && a.issued_at == b.issued_at
        && a.flow == b.flow
        && a.provider == b.provider
        && a.max_age == b.max_age
        && a.acr_values == b.acr_values
        && a.dpop_key.as_ref().map(|k| k.expose_secret().to_owned())
            == b.dpop_key.as_ref().map(|k| k.expose_secret().to_owned())
}

fn round_trip(data: &[u8]) {
    let Ok(tx) = transaction(&mut Unstructured::new(data)) else { return };
    let keys = keys();
    for key in [keys.ring.active(), &keys.older] {
        let sealed = tx.seal(key).expect("sealing works");
        assert!(
            sealed.len() <= TRANSACTION_MAX_COOKIE_LEN,
            "a login's transaction seals to {} characters, more than the callback opens: {tx:?}",
            sealed.len()
        );
        let opened =
            Transaction::open(&sealed, &keys.ring, NOW).expect("a fresh transaction opens");
        assert!(same(&tx, &opened), "{tx:?} opened as {opened:?}");
        check_opened(&opened);
    }
    let foreign = tx.seal(&keys.stranger).expect("sealing works");
    assert!(matches!(Transaction::open(&foreign, &keys.ring, NOW), Err(Error::TransactionInvalid)));
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else { return };
    let keys = keys();
    match mode % 3 {
        0 => {
            let value = String::from_utf8_lossy(rest);
            if let Ok(tx) = Transaction::open(&value, &keys.ring, NOW) {
                check_opened(&tx);
            }
        }
        1 => {
            let sealed = seal_transaction_plaintext(rest, &keys.older);
            if let Ok(tx) = Transaction::open(&sealed, &keys.ring, NOW) {
                check_opened(&tx);
                // Sealed again, it opens the same.
                let again = tx.seal(keys.ring.active()).expect("sealing works");
                let reopened = Transaction::open(&again, &keys.ring, NOW).expect("opens again");
                assert!(same(&tx, &reopened));
            }
            let foreign = seal_transaction_plaintext(rest, &keys.stranger);
            assert!(Transaction::open(&foreign, &keys.ring, NOW).is_err());
        }
        _ => round_trip(rest),
    }
});
