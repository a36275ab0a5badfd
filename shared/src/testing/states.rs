//! The functions' states built against a [`FakeProvider`] as a cold start builds them: any
//! function, the login and callback of one deployment ([`Rp`]), and `me`'s with a token.

use std::time::Duration;

use super::fixtures::{config_with, secret_json};
use super::provider::FakeProvider;
use crate::functions::access::Access;
use crate::functions::callback::Callback;
use crate::functions::login::Login;
use crate::functions::start::{ColdStart, DiscoveredWithKeys, Fetch as _, Parts};
use crate::infra::clock::unix_now;
use crate::infra::http::{Http, http_client};
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::tokens::keygen::KeyAlg;
use crate::tokens::secret::Secret;
use crate::tokens::session::User;

/// A relying party's two halves of a login, as one deployment runs them.
#[derive(Debug)]
pub struct Rp {
    pub login: Login,
    pub callback: Callback,
}

impl FakeProvider {
    /// What a cold start against this provider loads: config (with `overrides`), the
    /// `secret` JSON, the HTTP client.
    pub fn parts(&self, secret: &str, overrides: &[(&'static str, &str)]) -> Parts {
        Parts {
            config: config_with(&self.issuer(), overrides),
            secret: Secret::from_json(secret).unwrap(),
            http: http_client().unwrap(),
            dynamodb: None,
        }
    }

    /// [`FakeProvider::parts`] with sessions stored through `dynamodb` (the `overrides` name
    /// the table, `SESSION_TABLE`).
    pub fn parts_with_sessions(
        &self,
        secret: &str,
        overrides: &[(&'static str, &str)],
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Parts {
        Parts { dynamodb: Some(dynamodb), ..self.parts(secret, overrides) }
    }

    /// The state of function `S` configured for this provider, built as at cold start.
    pub async fn function<S: ColdStart>(
        &self,
        secret: &str,
        overrides: &[(&'static str, &str)],
    ) -> S {
        Self::function_from(self.parts(secret, overrides)).await
    }

    /// The state of function `S` built from `parts` as at cold start (fetching what it needs
    /// from the provider `parts` configure).
    pub async fn function_from<S: ColdStart>(parts: Parts) -> S {
        let fetched = S::Fetch::fetch(&parts.http, &parts.config).await.unwrap();
        S::build(parts, fetched).unwrap()
    }

    /// The login and callback functions of one deployment (same config and secret).
    pub async fn state(&self, secret: &str, overrides: &[(&'static str, &str)]) -> Rp {
        self.state_with_cooldown(secret, overrides, JWKS_REFETCH_COOLDOWN).await
    }

    /// [`FakeProvider::state`] whose callback sends through `http` (other timeouts).
    pub async fn state_with_http(&self, secret: &str, http: Http) -> Rp {
        let parts = Parts { http, ..self.parts(secret, &[]) };
        self.rp(secret, &[], parts, JWKS_REFETCH_COOLDOWN).await
    }

    /// [`FakeProvider::state`] with another JWKS refetch cooldown.
    pub async fn state_with_cooldown(
        &self,
        secret: &str,
        overrides: &[(&'static str, &str)],
        cooldown: Duration,
    ) -> Rp {
        self.rp(secret, overrides, self.parts(secret, overrides), cooldown).await
    }

    /// The login function as configured, and a callback built from `parts` with `cooldown`.
    async fn rp(
        &self,
        secret: &str,
        overrides: &[(&'static str, &str)],
        parts: Parts,
        cooldown: Duration,
    ) -> Rp {
        let fetched = DiscoveredWithKeys::fetch(&parts.http, &parts.config).await.unwrap();
        Rp {
            login: self.function(secret, overrides).await,
            callback: Callback::with_jwks_cooldown(parts, fetched, cooldown).unwrap(),
        }
    }
}

/// The state of `me` and the authorizer (our keys only), and a token of ours for `alice`
/// (name "Alice", no e-mail) minted by it now.
pub async fn access_with_token() -> (Access, String) {
    let provider = FakeProvider::start().await;
    let access: Access = provider.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let user = User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: Some("Alice".into()),
        extra: Default::default(),
    };
    let token = access.session().mint(&user, "https://idp", unix_now()).unwrap();
    (access, token)
}
