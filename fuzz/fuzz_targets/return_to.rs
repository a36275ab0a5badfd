//! `return_to` (`ReturnTo::parse`), as the query gives it (percent-decoded) and as the raw
//! bytes are.
//!
//! Asserts: an accepted value is kept unchanged; it is short, visible ASCII without `\`, starts
//! with one `/`; resolved by a browser's URL rules against pages of the app, it stays on the
//! app's origin, and its path never starts with `//` (which a same-origin page redirecting to
//! it would send off the origin).

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::RETURN_TO_MAX_LEN;
use shared::{Query, ReturnTo};
use url::Url;

const BASES: [&str; 3] =
    ["https://app.example/", "https://app.example/a/b/c?x=1#f", "https://app.example:8443/a/"];

fn check(value: &str) {
    let Some(parsed) = ReturnTo::parse(value) else { return };
    assert_eq!(parsed.as_str(), value);
    assert_eq!(parsed.to_string(), value);
    let fallback = ReturnTo::parse("/fallback").expect("a plain path");
    assert_eq!(ReturnTo::or_fallback(Some(value), &fallback), parsed);
    let bytes = value.as_bytes();
    assert!(bytes.len() <= RETURN_TO_MAX_LEN, "{value:?}");
    assert_eq!(bytes.first(), Some(&b'/'), "{value:?}");
    assert!(!matches!(bytes.get(1), Some(b'/' | b'\\')), "{value:?}");
    assert!(bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\'), "{value:?}");
    for base in BASES {
        let base = Url::parse(base).expect("a fixed URL");
        // What the URL parser cannot resolve, a browser cannot follow either.
        let Ok(resolved) = base.join(value) else { continue };
        assert_eq!(resolved.origin(), base.origin(), "{value:?} leaves {base}");
        assert!(!resolved.path().starts_with("//"), "{value:?} resolves to {resolved}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data) {
        check(raw);
        // The same bytes as the query string's value, decoded as the login function does.
        if let Ok(query) = Query::parse(Some(&format!("return_to={raw}")))
            && let Some(value) = query.get("return_to")
        {
            check(value);
        }
    }
});
