//! Test support (feature `test-support`): a scriptable provider on wiremock, keys, and states.
//!
//! Only tests use this module; the functions are built without it. One job a file, every helper
//! reachable from here as `shared::testing::X`:
//!
//! ```text
//! fixtures    our client's names, secrets, configuration and a bare request
//! aws         AWS clients for moto, and a session table that never connects
//! forge       JWS forging: signed, HMAC-tagged or raw, any algorithm, at_hash
//! provider    FakeProvider: discovery, JWKS, ID and logout tokens, token answers on wiremock
//! states      the functions built against a FakeProvider as at cold start (Rp: login+callback)
//! callbacks   driving the callback in-process and checking its refusals
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod aws;
pub mod callbacks;
mod fixtures;
mod forge;
mod provider;
mod states;

pub use aws::{dynamodb_client_at, offline_sessions, secrets_client_at};
pub use fixtures::{
    CLIENT_ID, CLIENT_SECRET, SERVER_REDIRECT, SESSION_AUDIENCE, SESSION_ISSUER, SPA_REDIRECT,
    config_with, env, key, request, secret_json, secret_json_with,
};
pub use forge::{JwsKey, at_hash, claims_of, jws, jws_header, jws_hmac, jws_raw};
pub use provider::FakeProvider;
pub use states::{Rp, access_with_token};
