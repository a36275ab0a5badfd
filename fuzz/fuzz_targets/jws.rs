//! Any compact JWS text as an ID token (`verify`, and the refresh grant's `verify_refreshed`)
//! and as a back-channel logout token (`claimed_issuer`, `verify`), against the fixed
//! providers' JWKS (an Ed25519 and an RSA key, no network).
//!
//! The seeds are tokens signed by the fixed key, so mutations start from tokens whose every
//! part parses. Asserts the invariants of `jws_signed` (`common.rs`) on anything accepted,
//! and that a logout token accepted names the issuer it claims.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    common::check_token(&token);
});
