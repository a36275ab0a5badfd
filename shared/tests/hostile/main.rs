//! Hostile providers and hostile browsers, in-process: the callback driven against a scriptable
//! provider on wiremock (`shared::testing::FakeProvider`). Every refusal asserts the status and
//! the error code, that no token and no session cookie were issued, that the login's transaction
//! cookie was cleared (or, when the callback names no login the browser holds, none), and that no provider token, client secret or JWT reached the response.
//!
//! The cases follow the relying-party tests of the OpenID Connect conformance suite and RFC 9700.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser_side;
mod claims;
mod client_auth;
mod dependencies;
mod id_token;
mod keys;
mod providers;
mod tabs;
mod token_endpoint;
