//! A userinfo answer (`userinfo`'s reading of it: openidconnect's parse and subject check,
//! every claim kept for `JWT_CLAIMS`), as JSON and as a signed JWT answer.
//!
//! Asserts: an accepted answer (openidconnect checked that it names the ID token's user) keeps
//! only claims of the document, its e-mail fields are the document's, and its claims
//! re-serialize to JSON that parses back to the same claims.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{UserInfo, userinfo_answer};

/// What every accepted answer holds.
fn check(info: &UserInfo) {
    // The same claims again (a large number may come back a rounding away: serde_json's float
    // parsing is not exact, and `JWT_CLAIMS` copies such a number as it reads it).
    let json = serde_json::to_vec(&info.claims).expect("serializes");
    let again: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).expect("parses again");
    assert!(again.keys().eq(info.claims.keys()));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = userinfo_answer("application/json", data) {
        check(&info);
        // openidconnect reads the first JSON value and ignores what follows it.
        let document: serde_json::Map<String, serde_json::Value> =
            serde_json::Deserializer::from_slice(data)
                .into_iter()
                .next()
                .and_then(Result::ok)
                .expect("the answer starts with a JSON object");
        for name in info.claims.keys() {
            assert!(document.contains_key(name), "{name} is not in the answer");
        }
        if let Some(email) = &info.email {
            assert_eq!(document.get("email").and_then(|v| v.as_str()), Some(email.as_str()));
        }
        if let Some(verified) = info.email_verified {
            assert_eq!(document.get("email_verified").and_then(|v| v.as_bool()), Some(verified));
        }
    }
    if let Ok(info) = userinfo_answer("application/jwt", data) {
        check(&info);
    }
});
