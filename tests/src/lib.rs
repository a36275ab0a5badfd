//! Support for the end-to-end tests (`tests/e2e/`), one job a module:
//!
//! - [`Stack`] (`stack.rs`): the local stack, started by the one launcher (`dev/stack`) on free
//!   ports for each test, with what tests ask of it (its session table, its log at `TRACE`);
//! - `provider_pages.rs`: the provider's sign-in and logout pages, driven as a user would;
//! - [`Jar`] (`jar.rs`): the cookies of those pages; `html.rs`: their forms;
//! - [`flows`]: our API's calls that several suites make (login, callback, `/api/me`);
//! - this file: the HTTP client and what reads an answer (JSON, JWTs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod flows;
mod html;
mod jar;
mod provider_pages;
mod stack;

use std::time::Duration;

pub use ::stack::{
    CLIENT_ID, ClientAuth, ClientSpec, Moto, Offer, Options, ProviderKind, SECOND_CLIENT_ID,
    SECRET_ID, SigAlg, free_port, root,
};
use base64::Engine as _;
pub use jar::Jar;
pub use provider_pages::{
    confirm_logout_at_provider, log_out_at_provider, log_out_at_provider_as, sign_in_at_provider,
};
pub use stack::{Stack, logs_dir, moto};

/// An HTTP client that follows no redirects and keeps no cookies: tests handle both by hand.
pub fn client() -> reqwest::Client {
    ::stack::http_client(Duration::from_secs(60))
}

/// `GET url`'s JSON body (the test fails on an error or a body that is not JSON).
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// The decoded header and claims of a JWT.
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let raw =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    (next(), next())
}

/// The text of a secret value (a provider token a test holds).
pub fn exposed(secret: &secrecy::SecretString) -> String {
    secrecy::ExposeSecret::expose_secret(secret).to_owned()
}

/// Every JWT-looking word (`eyJ...`) in `text`.
pub fn jwts_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|w| w.starts_with("eyJ"))
        .collect()
}
