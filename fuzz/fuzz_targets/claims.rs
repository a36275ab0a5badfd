//! Claim copying into our JWT (`ClaimCopy::from_lookup`, `ClaimCopy::copy`). Input lines:
//! `JWT_CLAIMS`, `JWT_CLAIM_MAX_BYTES` and `JWT_CLAIMS_MAX_BYTES` (space-separated, optional),
//! the ID token's claims (JSON), userinfo's claims (JSON, optional).
//!
//! Asserts: only configured names are copied, never one we set ourselves; userinfo's value wins
//! over the ID token's; no value is null; each is within the claim cap and all within the
//! total; a claim left out is one that did not fit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use shared::fuzzing::{ClaimCopy, RESERVED};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(4, '\n');
    let (Some(names), Some(caps), Some(id_token)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let mut caps = caps.split(' ');
    let (claim_cap, total_cap) = (caps.next().map(str::to_owned), caps.next().map(str::to_owned));
    let lookup = |name: &str| match name {
        "JWT_CLAIMS" => Some(names.to_owned()),
        "JWT_CLAIM_MAX_BYTES" => claim_cap.clone().filter(|c| !c.is_empty()),
        "JWT_CLAIMS_MAX_BYTES" => total_cap.clone().filter(|c| !c.is_empty()),
        _ => None,
    };
    let Ok(copy) = ClaimCopy::from_lookup(&lookup) else { return };
    assert!(copy.names.iter().all(|n| !RESERVED.contains(&n.as_str())));
    let Ok(id_token) = serde_json::from_str::<Map<String, Value>>(id_token) else { return };
    let userinfo = lines.next().and_then(|u| serde_json::from_str::<Map<String, Value>>(u).ok());

    let out = copy.copy(&id_token, userinfo.as_ref());
    let size = |v: &Value| serde_json::to_string(v).expect("serializes").len();
    let mut total = 0;
    for (name, value) in &out {
        assert!(copy.names.contains(name), "{name} was not configured");
        assert!(!RESERVED.contains(&name.as_str()), "{name} is ours");
        assert!(!value.is_null(), "{name} is null");
        let source = userinfo.as_ref().and_then(|u| u.get(name)).or_else(|| id_token.get(name));
        assert_eq!(Some(value), source, "{name} is not the provider's value");
        assert!(size(value) <= copy.max_claim_bytes, "{name} over the cap");
        total += size(value);
    }
    assert!(total <= copy.max_total_bytes, "{total} bytes over the total");
    // Left out: absent, null, or too large to fit.
    for name in copy.names.iter().filter(|n| !out.contains_key(*n)) {
        let source = userinfo.as_ref().and_then(|u| u.get(name)).or_else(|| id_token.get(name));
        if let Some(value) = source.filter(|v| !v.is_null()) {
            let fits =
                size(value) <= copy.max_claim_bytes && total + size(value) <= copy.max_total_bytes;
            assert!(!fits, "{name} fits but was left out");
        }
    }
});
