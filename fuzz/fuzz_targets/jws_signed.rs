//! ID and logout token checks past the signature: the input is a JWS header (first line,
//! optional) and claims (the rest), each used byte for byte and signed with the fixed Ed25519
//! key, then checked as `jws` checks any token (`common.rs`). Without a first line, the header
//! is `{"alg":"EdDSA","kid":"fuzz-ed25519"}`, whose signature verifies.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{ED25519_KID, sign};

fuzz_target!(|data: &[u8]| {
    let default_header = format!(r#"{{"alg":"EdDSA","kid":"{ED25519_KID}"}}"#);
    let (header, claims) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (default_header.as_bytes(), data),
    };
    common::check_token(&sign(header, claims));
});
