//! The fake provider on wiremock: discovery and JWKS served, ID and logout tokens signed with
//! its key, token endpoint answers for tests to mount.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::fixtures::{CLIENT_ID, CLIENT_SECRET, key, secret_json};
use super::forge::{at_hash, jws, typed_header};
use crate::functions::start::{DiscoveredWithKeys, Fetch as _};
use crate::infra::clock::unix_now;
use crate::oidc::jwks::JwksCache;
use crate::tokens::keygen::KeyAlg;
use crate::tokens::signing::SigningKey;

/// A provider on wiremock: discovery, JWKS, and token/userinfo endpoints that tests script. The
/// functions built against it (`parts`, `function`, `state`...) are in `states.rs`.
pub struct FakeProvider {
    pub server: MockServer,
    pub key: SigningKey,
}

impl FakeProvider {
    /// Starts a provider signing with an RS256 key `idp-1`, serving discovery and JWKS.
    pub async fn start() -> Self {
        Self::start_with(key("idp-1", KeyAlg::Rs256), json!({})).await
    }

    /// Starts a provider signing with `key`; `extra` is merged into the discovery document.
    pub async fn start_with(key: SigningKey, extra: Value) -> Self {
        Self::start_announcing(key, extra, &[]).await
    }

    /// [`FakeProvider::start_with`], announcing also each of `endpoints` (a discovery field,
    /// a path) at this provider's own origin, which is known only once it listens.
    pub async fn start_announcing(
        key: SigningKey,
        extra: Value,
        endpoints: &[(&str, &str)],
    ) -> Self {
        let server = MockServer::start().await;
        let this = Self { server, key };
        let mut doc = this.discovery();
        for (field, at) in endpoints {
            doc[*field] = Value::String(format!("{}{at}", this.issuer()));
        }
        if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
            doc.extend(extra);
        }
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(doc))
            .mount(&this.server)
            .await;
        this
    }

    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    pub fn discovery(&self) -> Value {
        let base = self.issuer();
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    pub fn jwks(&self, keys: &[&SigningKey]) -> Value {
        json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
    }

    /// Mounts the JWKS with `keys`, expected to be fetched `times` times (`None`: any number).
    pub async fn serve_jwks(&self, keys: &[&SigningKey], times: Option<u64>) {
        let mock = Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(self.jwks(keys)));
        match times {
            Some(n) => mock.expect(n).mount(&self.server).await,
            None => mock.mount(&self.server).await,
        }
    }

    /// Standard ID token claims for `nonce`.
    pub fn claims(&self, nonce: &str, access_token: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer(),
            "sub": "alice",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "at_hash": at_hash(access_token),
            "email": "alice@example.com",
            "email_verified": true,
        })
    }

    /// Signs `claims` with the provider's key (`kid` set, alg from the key).
    pub fn id_token(&self, claims: &Value) -> String {
        self.signed(claims, "JWT")
    }

    /// Logout token claims (Back-Channel Logout 1.0, 2.4) for our client, naming provider
    /// session `sid` of user `alice`, issued now with a fresh `jti`.
    pub fn logout_claims(&self, sid: &str) -> Value {
        json!({
            "iss": self.issuer(),
            "aud": CLIENT_ID,
            "iat": unix_now(),
            "exp": unix_now() + 120,
            "jti": crate::tokens::keygen::random_token(16).unwrap().expose_secret(),
            "sub": "alice",
            "sid": sid,
            "events": {crate::oidc::logout_token::BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    /// Signs logout token `claims` with the provider's key (`typ` `logout+jwt`).
    pub fn logout_token(&self, claims: &Value) -> String {
        self.signed(claims, "logout+jwt")
    }

    /// `claims` signed with the provider's key, the header naming its `alg`, `kid` and `typ`.
    fn signed(&self, claims: &Value, typ: &str) -> String {
        jws(&typed_header(self.key.alg_name(), self.key.kid(), typ), claims, &self.key)
    }

    /// A token endpoint answer carrying `id_token`.
    pub fn token_response(id_token: &str, access_token: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
            "refresh_token": "provider-refresh-token",
        }))
    }

    /// This provider's JWKS cache for our client, as a function builds it at cold start (the
    /// JWKS fetched once), refetching at most once per `cooldown`.
    pub async fn jwks_cache(&self, cooldown: Duration) -> JwksCache {
        let parts = self.parts(&secret_json(KeyAlg::Es256, 1), &[]);
        let DiscoveredWithKeys(mut fetched) =
            DiscoveredWithKeys::fetch(&parts.http, &parts.config).await.unwrap();
        let (metadata, jwks) = fetched.remove(0);
        let uri = metadata.jwks_uri().to_string();
        let provider = crate::oidc::provider::Provider::new(
            metadata,
            parts.config.default_provider(),
            &secrecy::SecretString::from(CLIENT_SECRET),
        )
        .unwrap();
        JwksCache::new(uri, jwks, &provider, parts.http, cooldown)
    }
}
