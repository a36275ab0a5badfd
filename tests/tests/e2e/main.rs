//! End-to-end tests against the real local stack: `cargo lambda watch`, moto, the npm
//! `oidc-provider` (or LemonLDAP::NG, `lemonldap.rs`; both at once, `two_providers.rs`), and (browser tests) the demo SPA in
//! headless Chromium. Each test starts its own stack on free ports, so tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backchannel;
mod browser;
mod client_auth;
mod cold_start;
mod concurrency;
mod http_flows;
mod issuer;
mod lemonldap;
mod login_options;
mod proxy;
mod refresh_grant;
mod session_tool;
mod sessions;
mod sessions_proven;
mod two_providers;
mod your_sessions;
