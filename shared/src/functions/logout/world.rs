//! A deployment for the logout function's in-process tests of Universal Logout and of a
//! user's sessions: a wiremock provider standing in for Okta (it signs the request JWTs,
//! serves its JWKS and counts the revocations), a second provider `other`, and the in-memory
//! session table of the model-based tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::functions::logout::Logout;
use crate::infra::config::SessionSettings;
use crate::keygen::{KeyAlg, signing_key_pem};
use crate::sessions::{Handle, Memory, Owner, ProviderTokens, SessionKeys, Sessions};
use crate::testing::{CLIENT_ID, CLIENT_SECRET, FakeProvider, dynamodb_client_at, jws, key};
use crate::tokens::secret::Secret;
use crate::tokens::session::User;
use crate::web::request::Request;
use crate::web::routes::serve;

pub(super) const AUDIENCE: &str = "https://login.example.com/api/global-token-revocation";
pub(super) const PATH: &str = "/api/global-token-revocation";

pub(super) fn secret() -> String {
    json!({
        "client_secret": CLIENT_SECRET,
        "client_secrets": {"other": "other-client-secret"},
        "signing_keys": [{"kid": "ours-1", "private_key_pem": signing_key_pem(KeyAlg::Es256).unwrap().expose_secret()}],
        "cookie_keys": [STANDARD.encode([1u8; 32])],
    })
    .to_string()
}

pub(super) fn settings() -> SessionSettings {
    SessionSettings {
        table: "universal".to_owned(),
        max_age: Duration::from_secs(3_600),
        idle: Duration::from_secs(3_600),
        strict: false,
        max_per_user: 1_000,
        renew_margin: Duration::ZERO,
    }
}

/// A deployment with sessions and Universal Logout allowed to `allowed`, and a second
/// provider `other` (its own issuer and keys) configured beside the default one.
pub(super) struct World {
    pub(super) okta: FakeProvider,
    pub(super) other: FakeProvider,
    pub(super) memory: Arc<Memory>,
    pub(super) store: Sessions,
    pub(super) logout: Logout,
    pub(super) vars: Vec<(&'static str, String)>,
}

impl World {
    pub(super) async fn start(allowed: &str) -> Self {
        let revoking = [("revocation_endpoint", "/revoke")];
        let okta =
            FakeProvider::start_announcing(key("okta-1", KeyAlg::Rs256), json!({}), &revoking)
                .await;
        okta.serve_jwks(&[&okta.key], None).await;
        let other =
            FakeProvider::start_announcing(key("other-1", KeyAlg::Es256), json!({}), &revoking)
                .await;
        other.serve_jwks(&[&other.key], None).await;
        for provider in [&okta, &other] {
            Mock::given(method("POST"))
                .and(path("/revoke"))
                .respond_with(ResponseTemplate::new(200))
                .mount(&provider.server)
                .await;
        }
        let vars = vec![
            ("SESSION_TABLE", "universal".to_owned()),
            ("OIDC_USERINFO", "false".to_owned()),
            ("OIDC_ISSUER", String::new()),
            ("OIDC_CLIENT_ID", String::new()),
            ("OIDC_PROVIDERS", "default,other".to_owned()),
            ("OIDC_DEFAULT_ISSUER", okta.issuer()),
            ("OIDC_DEFAULT_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OIDC_OTHER_ISSUER", other.issuer()),
            ("OIDC_OTHER_CLIENT_ID", CLIENT_ID.to_owned()),
            ("GLOBAL_LOGOUT_PROVIDERS", allowed.to_owned()),
        ];
        let memory = Memory::new(3_600, None);
        let logout = Self::logout_of(&okta, &vars, &memory).await;
        let store = table(&memory);
        Self { okta, other, memory, store, logout, vars }
    }

    pub(super) async fn logout_of(
        okta: &FakeProvider,
        vars: &[(&'static str, String)],
        memory: &Arc<Memory>,
    ) -> Logout {
        let vars: Vec<(&'static str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let parts =
            okta.parts_with_sessions(&secret(), &vars, dynamodb_client_at("http://127.0.0.1:9"));
        let logout: Logout = FakeProvider::function_from(parts).await;
        logout.with_sessions(table(memory))
    }

    /// A session of `sub` at `provider` (its refresh token `rt-<sub>-<n>`), with this e-mail.
    pub(super) async fn login(
        &self,
        provider: &FakeProvider,
        sub: &str,
        n: usize,
        email: Option<(&str, bool)>,
    ) -> Handle {
        let user = User {
            sub: sub.to_owned(),
            email: email.map(|(e, _)| e.to_owned()),
            email_verified: email.map(|(_, v)| v),
            name: None,
            extra: Default::default(),
        };
        let issuer = provider.issuer();
        let name = if std::ptr::eq(provider, &self.other) { "other" } else { "default" };
        let owner =
            Owner { user: &user, idp: &issuer, provider: name, provider_sid: None, device: None };
        let tokens = ProviderTokens {
            refresh_token: Some(format!("rt-{sub}-{n}").into()),
            access_token: format!("at-{sub}-{n}").into(),
            access_expires_at: crate::unix_now() + 600,
            id_token: None,
            dpop_key: None,
        };
        self.store.create(&owner, &tokens, crate::unix_now()).await.unwrap().0
    }

    /// The live sessions of `sub` at `provider`.
    pub(super) async fn left(&self, provider: &FakeProvider, sub: &str) -> usize {
        let issuer = provider.issuer();
        let listed = self.store.user_sessions(&issuer, sub, crate::unix_now());
        listed.await.unwrap().len()
    }

    /// The refresh tokens `provider` was asked to revoke.
    pub(super) async fn revoked(&self, provider: &FakeProvider) -> Vec<String> {
        let received = provider.server.received_requests().await.unwrap();
        let revocations = received.iter().filter(|r| r.url.path() == "/revoke");
        let mut tokens: Vec<String> = revocations
            .map(|r| {
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(&r.body).into_owned().collect();
                form["token"].clone()
            })
            .collect();
        tokens.sort();
        tokens
    }

    pub(super) async fn call(
        &self,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        call(&self.logout, authorization, content_type, body).await
    }
}

pub(super) fn table(memory: &Arc<Memory>) -> Sessions {
    let keys = SessionKeys::derive(Secret::from_json(&secret()).unwrap().cookie_keys()).unwrap();
    Sessions::in_memory(settings(), keys, memory.clone())
}

pub(super) async fn call(
    logout: &Logout,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let req = Request {
        authorization,
        content_type,
        body: body.as_bytes(),
        deadline: Some(Instant::now() + Duration::from_secs(15)),
        ..crate::testing::request(&Method::POST, PATH)
    };
    let resp = serve(logout, &req, crate::unix_now()).await.into_http();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(resp.body()).unwrap_or(Value::Null))
}

/// Okta's request JWT claims for our endpoint, from `provider`, fresh.
pub(super) fn claims(provider: &FakeProvider) -> Value {
    let now = crate::unix_now();
    json!({
        "iss": provider.issuer(), "aud": AUDIENCE, "sub": CLIENT_ID,
        "iat": now, "exp": now + 300, "nbf": now - 300,
        "jti": crate::tokens::keygen::random_token(16).unwrap().expose_secret(),
    })
}

/// `claims` signed by `provider`'s key as Okta signs (`typ` `global-token-revocation+jwt`).
pub(super) fn signed(provider: &FakeProvider, claims: &Value) -> String {
    let header = json!({"alg": provider.key.alg_name(), "kid": provider.key.kid(), "typ": "global-token-revocation+jwt"});
    format!("Bearer {}", jws(&header, claims, &provider.key))
}

pub(super) fn iss_sub(provider: &FakeProvider, sub: &str) -> String {
    json!({"sub_id": {"format": "iss_sub", "iss": provider.issuer(), "sub": sub}}).to_string()
}

pub(super) const JSON: Option<&str> = Some("application/json");

/// A refused request: its `Authorization`, `Content-Type` and body, the status and error code
/// it must get, and what it tries.
pub(super) type Case = (String, Option<&'static str>, String, u16, &'static str, &'static str);
