//! Test support (feature `test-support`): a scriptable provider on wiremock, keys, and states.
//!
//! Only tests use this module; the functions are built without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::functions::callback::Callback;
use crate::functions::login::Login;
use crate::functions::start::{ColdStart, DiscoveredWithKeys, Fetch as _, Parts};
use crate::infra::clock::unix_now;
use crate::infra::config::Config;
use crate::infra::http::http_client;
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::tokens::keygen::{KeyAlg, signing_key_pem};
use crate::tokens::secret::Secret;
use crate::tokens::signing::SigningKey;

pub const CLIENT_ID: &str = "spa-client";
pub const CLIENT_SECRET: &str = "client-secret-value-0123456789";
pub const SPA_REDIRECT: &str = "http://localhost:5173/callback";
pub const SERVER_REDIRECT: &str = "http://localhost:9000/authorization-code/callback";
pub const SESSION_ISSUER: &str = "https://login.example.com";
pub const SESSION_AUDIENCE: &str = "https://api.example.com";

/// A freshly generated signing key of `alg` with `kid`.
pub fn key(kid: &str, alg: KeyAlg) -> SigningKey {
    SigningKey::from_pkcs8_pem(kid, signing_key_pem(alg).unwrap().expose_secret()).unwrap()
}

/// A secret document with one key of `alg` and one cookie key of bytes `cookie_byte`.
pub fn secret_json(alg: KeyAlg, cookie_byte: u8) -> String {
    secret_json_with(alg, CLIENT_SECRET, cookie_byte)
}

/// [`secret_json`] with another client secret.
pub fn secret_json_with(alg: KeyAlg, client_secret: &str, cookie_byte: u8) -> String {
    json!({
        "client_secret": client_secret,
        "signing_keys": [{"kid": "ours-1", "private_key_pem": signing_key_pem(alg).unwrap().expose_secret()}],
        "cookie_keys": [STANDARD.encode([cookie_byte; 32])],
    })
    .to_string()
}

/// Environment for [`Config::from_lookup`], with `issuer`.
pub fn env(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OIDC_ISSUER", issuer.to_owned()),
        ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OIDC_REDIRECT_URI", SPA_REDIRECT.to_owned()),
        ("OIDC_SERVER_REDIRECT_URI", SERVER_REDIRECT.to_owned()),
        ("SECRET_ID", "spa-login/test".to_owned()),
        ("SESSION_ISSUER", SESSION_ISSUER.to_owned()),
        ("SESSION_AUDIENCE", SESSION_AUDIENCE.to_owned()),
        ("POST_LOGIN_PATH", "/home".to_owned()),
    ]
}

pub fn config_with(issuer: &str, overrides: &[(&'static str, &str)]) -> Config {
    let mut vars = env(issuer);
    for (k, v) in overrides {
        vars.retain(|(name, _)| name != k);
        vars.push((k, (*v).to_owned()));
    }
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        .unwrap()
}

/// A session table whose client never connects, sealing with the session keys of `secret`'s
/// cookie keys and the default limits: for what needs no I/O (an item made and decoded).
pub fn offline_sessions(secret: &str) -> crate::sessions::Sessions {
    let aws = crate::infra::aws::AwsEnv::from_lookup(|name| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("offline".to_owned()),
        _ => None,
    })
    .unwrap();
    let client = crate::infra::aws::dynamodb_client(&aws, &http_client().unwrap());
    let settings = crate::infra::config::SessionSettings {
        table: "offline".to_owned(),
        max_age: Duration::from_secs(43_200),
        idle: Duration::from_secs(3_600),
        strict: false,
    };
    let keys =
        crate::sessions::SessionKeys::derive(Secret::from_json(secret).unwrap().cookie_keys());
    crate::sessions::Sessions::new(client, settings, keys.unwrap())
}

/// The state of `me` and the authorizer (our keys only), and a token of ours for `alice`
/// (name "Alice", no e-mail) minted by it now.
pub async fn access_with_token() -> (crate::functions::access::Access, String) {
    let provider = FakeProvider::start().await;
    let access: crate::functions::access::Access =
        provider.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let user = crate::tokens::session::User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: Some("Alice".into()),
        extra: Default::default(),
    };
    let token = access.session().mint(&user, "https://idp", unix_now()).unwrap();
    (access, token)
}

/// A request for `method path` with nothing else: no query, cookie, credentials or body.
pub fn request<'a>(method: &'a http::Method, path: &'a str) -> crate::web::request::Request<'a> {
    crate::web::request::Request {
        method,
        path,
        query: None,
        cookies: None,
        authorization: None,
        csrf: false,
        content_type: None,
        deadline: None,
        body: b"",
    }
}

/// The AWS environment of a local emulator at `endpoint` (moto), with dummy credentials.
fn local_aws(endpoint: &str) -> crate::infra::aws::AwsEnv {
    crate::infra::aws::AwsEnv::from_lookup(|name| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
        "AWS_ENDPOINT_URL" => Some(endpoint.to_owned()),
        _ => None,
    })
    .unwrap()
}

/// A Secrets Manager client for moto (or any endpoint) at `endpoint`, built as the functions
/// build theirs ([`crate::infra::aws::secrets_client`]), with dummy credentials.
pub fn secrets_client_at(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    crate::infra::aws::secrets_client(&local_aws(endpoint), &http_client().unwrap())
}

/// A DynamoDB client for moto at `endpoint`, built as the functions build theirs
/// ([`crate::infra::aws::dynamodb_client`]), with dummy credentials.
pub fn dynamodb_client_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    crate::infra::aws::dynamodb_client(&local_aws(endpoint), &http_client().unwrap())
}

/// The base64url SHA-256 left half of `access_token` (`at_hash` for RS256/ES256/PS256).
pub fn at_hash(access_token: &str) -> String {
    let d = digest(&SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// The JWS signing input `header.claims`, both base64url.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The JWS header `{"alg", "kid"}` naming `key`.
pub fn jws_header(key: &SigningKey) -> Value {
    json!({"alg": key.alg_name(), "kid": key.kid()})
}

/// A compact JWS of `header` and `claims` signed by `key`.
pub fn jws(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let input = signing_input(header, claims);
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A compact JWS with an arbitrary signature.
pub fn jws_raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}", signing_input(header, claims), URL_SAFE_NO_PAD.encode(signature))
}

/// A compact JWS tagged with HMAC-SHA256 under `secret`, whatever `header` says: the HS256 token
/// an attacker forges from a value it knows (the client secret, the provider's public key).
pub fn jws_hmac(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// A provider signing key of any JWS algorithm we verify (our own [`SigningKey`] signs RS256,
/// ES256 and EdDSA only): its public JWK and its signer.
pub struct JwsKey {
    pub alg: &'static str,
    pub jwk: Value,
    sign: Box<Signer>,
}

/// Signs a JWS signing input.
type Signer = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

impl JwsKey {
    /// An RSA 2048 key `kid` signing `alg` (RS256/384/512, PS256/384/512); its JWK names `alg`.
    pub fn rsa(kid: &str, alg: &'static str) -> Self {
        use aws_lc_rs::signature::{self as sig, KeyPair as _, RsaEncoding};
        let pair =
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let parts =
            aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": alg,
            "n": URL_SAFE_NO_PAD.encode(&parts.n), "e": URL_SAFE_NO_PAD.encode(&parts.e),
        });
        let padding: &'static dyn RsaEncoding = match alg {
            "RS256" => &sig::RSA_PKCS1_SHA256,
            "RS384" => &sig::RSA_PKCS1_SHA384,
            "RS512" => &sig::RSA_PKCS1_SHA512,
            "PS256" => &sig::RSA_PSS_SHA256,
            "PS384" => &sig::RSA_PSS_SHA384,
            "PS512" => &sig::RSA_PSS_SHA512,
            other => panic!("not an RSA algorithm: {other}"),
        };
        let sign = move |message: &[u8]| {
            let mut signature = vec![0; pair.public_modulus_len()];
            let rng = aws_lc_rs::rand::SystemRandom::new();
            pair.sign(padding, &rng, message, &mut signature).unwrap();
            signature
        };
        Self { alg, jwk, sign: Box::new(sign) }
    }

    /// A P-384 key `kid` signing ES384.
    pub fn es384(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC", "kid": kid, "use": "sig", "alg": "ES384", "crv": "P-384",
            "x": URL_SAFE_NO_PAD.encode(&point[1..49]), "y": URL_SAFE_NO_PAD.encode(&point[49..]),
        });
        let sign = move |message: &[u8]| {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            pair.sign(&rng, message).unwrap().as_ref().to_vec()
        };
        Self { alg: "ES384", jwk, sign: Box::new(sign) }
    }

    /// One of our own keys (RS256, ES256, EdDSA).
    pub fn of(key: SigningKey) -> Self {
        let (alg, jwk) = (key.alg_name(), key.public_jwk().clone());
        Self { alg, jwk, sign: Box::new(move |message: &[u8]| key.sign(message).unwrap()) }
    }

    pub fn kid(&self) -> &str {
        self.jwk["kid"].as_str().unwrap()
    }

    /// A compact JWS of `claims` with the header `{"alg", "kid", "typ": typ}`.
    pub fn sign(&self, claims: &Value, typ: &str) -> String {
        self.sign_with(&json!({"alg": self.alg, "kid": self.kid(), "typ": typ}), claims)
    }

    /// A compact JWS of `header` and `claims`, signed by this key whatever `header` says.
    pub fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode((self.sign)(input.as_bytes())))
    }

    /// `at_hash` of `access_token` for this key's algorithm (the left half of its hash).
    pub fn at_hash(&self, access_token: &str) -> String {
        use aws_lc_rs::digest::{SHA384, SHA512};
        let alg = match self.alg {
            a if a.ends_with("256") => &SHA256,
            a if a.ends_with("384") => &SHA384,
            _ => &SHA512,
        };
        let d = digest(alg, access_token.as_bytes());
        URL_SAFE_NO_PAD.encode(&d.as_ref()[..d.as_ref().len() / 2])
    }
}

/// A provider on wiremock: discovery, JWKS, and token/userinfo endpoints that tests script.
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
        let server = MockServer::start().await;
        let this = Self { server, key };
        let mut doc = this.discovery();
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
        jws(
            &json!({"alg": self.key.alg_name(), "kid": self.key.kid(), "typ": "JWT"}),
            claims,
            &self.key,
        )
    }

    /// This provider's JWKS cache for our client, as a function builds it at cold start (the
    /// JWKS fetched once), refetching at most once per `cooldown`.
    pub async fn jwks_cache(&self, cooldown: Duration) -> crate::oidc::jwks::JwksCache {
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
        crate::oidc::jwks::JwksCache::new(uri, jwks, &provider, parts.http, cooldown)
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
        jws(
            &json!({"alg": self.key.alg_name(), "kid": self.key.kid(), "typ": "logout+jwt"}),
            claims,
            &self.key,
        )
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
        Rp {
            login: self.function(secret, overrides).await,
            callback: self.function(secret, overrides).await,
        }
    }

    /// [`FakeProvider::state`] whose callback sends through `http` (other timeouts).
    pub async fn state_with_http(&self, secret: &str, http: crate::infra::http::Http) -> Rp {
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

/// A relying party's two halves of a login, as one deployment runs them.
#[derive(Debug)]
pub struct Rp {
    pub login: Login,
    pub callback: Callback,
}

/// Driving the callback in-process: start a login, script the token endpoint, call the
/// callback, and check a refusal the way every hostile case must be refused.
pub mod callbacks {
    use http::Method;
    use http::header::{REFERRER_POLICY, SET_COOKIE};
    use serde_json::{Value, json};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockBuilder, ResponseTemplate};

    use super::{CLIENT_SECRET, FakeProvider, Rp, secret_json};
    use crate::infra::clock::unix_now;
    use crate::tokens::keygen::KeyAlg;
    use crate::tokens::transaction::Flow;
    use crate::web::cookies::{SESSION as SESSION_COOKIE, TRANSACTION_PREFIX};
    use crate::web::request::Request;
    use crate::web::routes::serve;

    pub const ACCESS_TOKEN: &str = "provider-access-token-abc";

    /// A login started through `login::start`, as the browser would hold it.
    pub struct Started {
        pub state: String,
        pub nonce: String,
        /// `name=value`, as the browser sends it back.
        pub cookie: String,
    }

    impl Started {
        /// The name of this login's transaction cookie.
        pub fn cookie_name(&self) -> String {
            crate::web::cookies::transaction_name(&self.state)
        }

        /// The sealed value of this login's transaction cookie.
        pub fn sealed(&self) -> &str {
            self.cookie.split_once('=').map_or("", |(_, v)| v)
        }

        /// This login's transaction cookie holding `value` instead.
        pub fn cookie_with(&self, value: &str) -> String {
            format!("{}={value}", self.cookie_name())
        }
    }

    pub fn begin(state: &Rp, flow: Flow, return_to: Option<&str>) -> Started {
        begin_at(state, flow, return_to, unix_now())
    }

    /// [`begin`] as if started at `now` (a login of the past, whose cookie has expired).
    pub fn begin_at(state: &Rp, flow: Flow, return_to: Option<&str>, now: u64) -> Started {
        let start = state.login.start(flow, None, return_to, now).unwrap();
        let q: std::collections::HashMap<_, _> =
            start.authorize_url.query_pairs().into_owned().collect();
        let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
        Started { state: q["state"].clone(), nonce: q["nonce"].clone(), cookie }
    }

    /// A browser's cookies for our origin, as it applies our `Set-Cookie`s (RFC 6265 5.3): a
    /// name set again replaces its value, `Max-Age=0` deletes it, order of creation is kept.
    #[derive(Debug, Default)]
    pub struct Jar(Vec<(String, String)>);

    impl Jar {
        /// Stores `name=value` as a browser would.
        pub fn put(&mut self, pair: &str) {
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }

        /// Applies every `Set-Cookie` of `resp`.
        pub fn apply(&mut self, resp: &http::Response<String>) {
            for set in set_cookies(resp) {
                let parsed = cookie::Cookie::parse(set.as_str()).unwrap();
                self.0.retain(|(n, _)| n != parsed.name());
                if parsed.max_age() != Some(cookie::time::Duration::ZERO) {
                    self.0.push((parsed.name().to_owned(), parsed.value().to_owned()));
                }
            }
        }

        /// The `Cookie` header the browser sends, `None` when the jar is empty.
        pub fn header(&self) -> Option<String> {
            let pairs: Vec<_> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
            (!pairs.is_empty()).then(|| pairs.join("; "))
        }

        /// The names of the login transaction cookies held, in order of creation.
        pub fn transactions(&self) -> Vec<&str> {
            let names = self.0.iter().map(|(n, _)| n.as_str());
            names.filter(|n| n.starts_with(TRANSACTION_PREFIX)).collect()
        }
    }

    /// `/api/login` or `/authorization-code/login` served at `now` to a browser holding `jar`,
    /// which takes the answer's cookies: the login it started.
    pub async fn login_in(state: &Rp, flow: Flow, jar: &mut Jar, now: u64) -> Started {
        let path = match flow {
            Flow::Spa => "/api/login",
            Flow::Server => "/authorization-code/login",
        };
        let req = Request { cookies: jar.header(), ..super::request(&Method::GET, path) };
        let resp = serve(&state.login, &req, now).await.into_http();
        let url = match flow {
            Flow::Spa => json_body(&resp)["login_url"].as_str().unwrap().to_owned(),
            Flow::Server => resp.headers()[http::header::LOCATION].to_str().unwrap().to_owned(),
        };
        jar.apply(&resp);
        let q: std::collections::HashMap<_, _> =
            url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
        let name = crate::web::cookies::transaction_name(&q["state"]);
        let (_, sealed) = jar.0.iter().find(|(n, _)| *n == name).expect("the login's cookie");
        let cookie = format!("{name}={sealed}");
        Started { state: q["state"].clone(), nonce: q["nonce"].clone(), cookie }
    }

    /// The callback serves `method path?query` with `body` (a `POST` declared JSON, as the
    /// SPA sends it) and `cookie`.
    pub async fn call(
        state: &Rp,
        method: Method,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        cookie: Option<&str>,
    ) -> http::Response<String> {
        let json = (method == Method::POST).then_some("application/json");
        let req = Request {
            query,
            cookies: cookie.map(str::to_owned),
            body,
            content_type: json,
            ..super::request(&method, path)
        };
        serve(&state.callback, &req, unix_now()).await.into_http()
    }

    pub async fn spa_get(state: &Rp, started: &Started, query: &str) -> http::Response<String> {
        call(state, Method::GET, "/api/callback", Some(query), b"", Some(&started.cookie)).await
    }

    /// The browser back at the server flow's callback with `query` and the login's cookie.
    pub async fn server_get(state: &Rp, started: &Started, query: &str) -> http::Response<String> {
        let path = "/authorization-code/callback";
        call(state, Method::GET, path, Some(query), b"", Some(&started.cookie)).await
    }

    pub fn ok_query(provider: &FakeProvider, started: &Started) -> String {
        let iss: String =
            url::form_urlencoded::byte_serialize(provider.issuer().as_bytes()).collect();
        format!("code=the-code&state={}&iss={iss}", started.state)
    }

    /// Mounts `mock` answering `response`, expected `times` times.
    async fn expect(
        provider: &FakeProvider,
        mock: MockBuilder,
        response: ResponseTemplate,
        times: impl Into<wiremock::Times>,
    ) {
        mock.respond_with(response).expect(times).mount(&provider.server).await;
    }

    pub async fn mount_token(
        provider: &FakeProvider,
        response: ResponseTemplate,
        times: impl Into<wiremock::Times>,
    ) {
        expect(provider, Mock::given(method("POST")).and(path("/token")), response, times).await;
    }

    pub async fn mount_userinfo(
        provider: &FakeProvider,
        body: Value,
        times: impl Into<wiremock::Times>,
    ) {
        let response = ResponseTemplate::new(200).set_body_json(body);
        mount_userinfo_answer(provider, response, times).await;
    }

    /// Mounts the userinfo endpoint answering `response` to our access token only.
    pub async fn mount_userinfo_answer(
        provider: &FakeProvider,
        response: ResponseTemplate,
        times: impl Into<wiremock::Times>,
    ) {
        let bearer = format!("Bearer {ACCESS_TOKEN}");
        let mock =
            Mock::given(method("GET")).and(path("/userinfo")).and(header("authorization", bearer));
        expect(provider, mock, response, times).await;
    }

    /// A SPA login against `provider` (its JWKS mounted) whose token endpoint answers, once, the
    /// ID token `make` builds from the standard claims; userinfo answers `alice`, expected
    /// `userinfo` times. The callback's answer.
    pub async fn spa_login(
        provider: &FakeProvider,
        userinfo: impl Into<wiremock::Times>,
        make: impl FnOnce(Value) -> String,
    ) -> http::Response<String> {
        let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
        let started = begin(&state, Flow::Spa, None);
        let id_token = make(provider.claims(&started.nonce, ACCESS_TOKEN));
        mount_token(provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
        mount_userinfo(provider, json!({"sub": "alice"}), userinfo).await;
        spa_get(&state, &started, &ok_query(provider, &started)).await
    }

    pub async fn setup() -> (FakeProvider, Rp) {
        let provider = FakeProvider::start().await;
        provider.serve_jwks(&[&provider.key], None).await;
        let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
        (provider, state)
    }

    pub fn json_body(resp: &http::Response<String>) -> Value {
        serde_json::from_str(resp.body()).unwrap()
    }

    pub fn set_cookies(resp: &http::Response<String>) -> Vec<String> {
        resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// A refusal of a callback that named its login: the status and code, no token, no session
    /// cookie, the login's transaction cookie cleared (and no other), no provider token
    /// anywhere, and the usual headers.
    pub fn assert_refused(resp: &http::Response<String>, status: u16, code: &str) {
        assert_refusal(resp, status, code);
        assert_no_session_and_cleared(resp);
    }

    /// [`assert_refused`] for a callback that names no login the browser holds (no cookie, no
    /// `state`, another login's `state`, parameters that do not parse): no transaction cookie
    /// is touched, so the logins in flight in other tabs still complete.
    pub fn assert_refused_touching_no_login(
        resp: &http::Response<String>,
        status: u16,
        code: &str,
    ) {
        assert_refusal(resp, status, code);
        let cookies = set_cookies(resp);
        assert!(!cookies.iter().any(|c| c.starts_with(TRANSACTION_PREFIX)), "{cookies:?}");
        assert!(!cookies.iter().any(|c| c.starts_with(SESSION_COOKIE)), "{cookies:?}");
    }

    fn assert_refusal(resp: &http::Response<String>, status: u16, code: &str) {
        assert_eq!(resp.status(), status, "{}", resp.body());
        let body = json_body(resp);
        assert_eq!(body["error"], code, "{body}");
        assert!(body.get("token").is_none());
        assert!(!resp.body().contains("eyJ"), "no JWT of any kind in a refusal");
        assert_usual_headers_and_no_provider_token(resp);
    }

    fn assert_usual_headers_and_no_provider_token(resp: &http::Response<String>) {
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()[REFERRER_POLICY], "no-referrer");
        for leaked in [ACCESS_TOKEN, "provider-refresh-token", CLIENT_SECRET] {
            assert!(!resp.body().contains(leaked), "{leaked} in {}", resp.body());
        }
    }

    /// A SPA callback with `query` and `cookie` refused before the code exchange (the token
    /// endpoint must not be called) as [`assert_refused`] checks when `query` names a login
    /// whose cookie the browser sends, else as [`assert_refused_touching_no_login`] does; the
    /// answer, for more checks.
    pub async fn assert_refused_before_exchange(
        provider: &FakeProvider,
        state: &Rp,
        query: &str,
        cookie: Option<&str>,
        status: u16,
        code: &str,
    ) -> http::Response<String> {
        mount_token(provider, ResponseTemplate::new(500), 0).await;
        let resp = call(state, Method::GET, "/api/callback", Some(query), b"", cookie).await;
        let states: Vec<_> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "state")
            .map(|(_, v)| crate::web::cookies::transaction_name(&v))
            .collect();
        let sent: Vec<_> =
            cookie.map(crate::web::cookies::transactions).into_iter().flatten().collect();
        let parses = crate::functions::callback::CallbackParams::from_query(Some(query)).is_ok();
        let named = matches!(&states[..], [one] if sent.iter().any(|(n, _)| n == one));
        if parses && named {
            assert_refused(&resp, status, code);
        } else {
            assert_refused_touching_no_login(&resp, status, code);
        }
        resp
    }

    /// No answer of the callback sets a transaction cookie: it may only delete one.
    pub fn assert_no_transaction_set(resp: &http::Response<String>) {
        let cookies = set_cookies(resp);
        let set = cookies.iter().filter(|c| c.starts_with(TRANSACTION_PREFIX));
        assert!(set.clone().all(|c| c.contains("=;") && c.contains("Max-Age=0")), "{cookies:?}");
        assert!(set.count() <= 1, "a callback clears its own login only: {cookies:?}");
    }

    pub fn assert_no_session_and_cleared(resp: &http::Response<String>) {
        let cookies = set_cookies(resp);
        assert_no_transaction_set(resp);
        assert!(
            cookies.iter().any(|c| c.starts_with(TRANSACTION_PREFIX) && c.contains("Max-Age=0")),
            "{cookies:?}"
        );
        assert!(!cookies.iter().any(|c| c.starts_with(SESSION_COOKIE)), "{cookies:?}");
        assert_usual_headers_and_no_provider_token(resp);
    }
}
