//! The refresh grant misbehaving, and the limits of a session, against moto's DynamoDB (the
//! table made from template.yaml by `dev/session_table.py`, as the stack makes it).
//!
//! The login, callback and refresh functions run in-process, as the hostile suite runs the code
//! exchange, against a provider on wiremock (`shared::testing::FakeProvider`) that misbehaves
//! on purpose; the sessions are real items in moto. The clock is passed to `/api/refresh`
//! (`serve(.., now)`), so an access token expires, or a session ages, without a sleep.
//!
//! Every refusal asserts the status, the stable code, whether the session item is still in
//! the table, and no provider token or upstream text in the answer; a session that ends has
//! its item deleted and both session cookies cleared; a session kept has its lease released,
//! shown by the next refresh succeeding once the provider answers.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{Moto, free_port};
use http::Method;
use serde_json::{Value, json};
use shared::keygen::KeyAlg;
use shared::testing::callbacks::{Jar, begin, json_body, ok_query, set_cookies, spa_get};
use shared::testing::{self, FakeProvider, Rp, jws, jws_header, secret_json};
use shared::{Flow, Handle, ID_TOKEN_LEEWAY_SECS, Refresh, Request, cookies, serve};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

/// The session table in the module's moto.
pub(crate) const TABLE: &str = "sessions-refresh-grant";
/// The provider's access token lifetime at login and at each refresh (`expires_in`).
pub(crate) const ACCESS_TTL: u64 = 60;
/// Every provider token here starts so: no answer of ours may hold it.
const PROVIDER_TOKEN: &str = "provider-";
/// Every provider body here holds this word: no answer of ours may repeat it.
const UPSTREAM: &str = "upstream";

/// The moto of the tests of this module that are running: started (with the table) by the
/// first, killed when the last one running lets go of it. Tests overlap, so one moto and one
/// table usually serve them all; each test has sessions of its own in it.
static MOTO: tokio::sync::Mutex<Weak<Moto>> = tokio::sync::Mutex::const_new(Weak::new());

async fn moto() -> Arc<Moto> {
    let mut shared = MOTO.lock().await;
    if let Some(moto) = shared.upgrade() {
        return moto;
    }
    let moto = Arc::new(e2e::moto("refresh-grant").await);
    moto.create_session_table(TABLE).unwrap();
    *shared = Arc::downgrade(&moto);
    moto
}

/// One deployment against one provider: login, callback and refresh, sessions in moto.
pub(crate) struct Deployment {
    pub(crate) provider: FakeProvider,
    /// The secret document and the environment every function here is built with.
    pub(crate) secret: String,
    pub(crate) vars: Vec<(&'static str, &'static str)>,
    pub(crate) rp: Rp,
    refresh: Refresh,
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
    /// Keeps the moto alive while this deployment uses it.
    _moto: Arc<Moto>,
}

/// A session signed in through the callback.
pub(crate) struct Session {
    /// The `__Host-refresh` cookie value.
    pub(crate) handle: String,
    /// The item's `created`.
    pub(crate) created: u64,
    /// Our session id, the `sid` of our JWTs.
    pub(crate) sid: String,
    /// The provider's session id in its ID token (`op-<state>`).
    pub(crate) provider_sid: String,
    /// Our JWT from the callback.
    pub(crate) token: String,
}

type Item = HashMap<String, AttributeValue>;

/// The provider's timeouts here: the slow answer outlasts them.
fn provider_http() -> shared::Http {
    shared::http_client_with(Duration::from_secs(1), Duration::from_millis(1500)).unwrap()
}

impl Deployment {
    /// A fresh provider (discovery, JWKS) and the functions configured for it with `overrides`
    /// (on top of the table, and no userinfo call).
    pub(crate) async fn start(overrides: &[(&'static str, &'static str)]) -> Self {
        let provider = FakeProvider::start().await;
        provider.serve_jwks(&[&provider.key], None).await;
        let moto = moto().await;
        let dynamodb = moto.dynamodb().unwrap();
        let mut vars = vec![("SESSION_TABLE", TABLE), ("OIDC_USERINFO", "false")];
        vars.extend_from_slice(overrides);
        let secret = secret_json(KeyAlg::Es256, 1);
        let refresh = Self::function(&provider, &secret, &vars, &dynamodb).await;
        let callback = Self::function(&provider, &secret, &vars, &dynamodb).await;
        let rp = Rp { login: provider.function(&secret, &vars).await, callback };
        Self { provider, secret, vars, rp, refresh, dynamodb, _moto: moto }
    }

    /// One more function `S` of this deployment, built now (after a change at the provider).
    pub(crate) async fn another<S: shared::ColdStart>(&self) -> S {
        Self::function(&self.provider, &self.secret, &self.vars, &self.dynamodb).await
    }

    /// Function `S` built as at cold start, with the DynamoDB client and the provider timeouts.
    pub(crate) async fn function<S: shared::ColdStart>(
        provider: &FakeProvider,
        secret: &str,
        vars: &[(&'static str, &'static str)],
        dynamodb: &aws_sdk_dynamodb::Client,
    ) -> S {
        let parts = provider.parts_with_sessions(secret, vars, dynamodb.clone());
        FakeProvider::function_from(shared::Parts { http: provider_http(), ..parts }).await
    }

    /// Alice signs in through the SPA callback; the code exchange gives refresh token
    /// `provider-rt-0` and an access token for `access_ttl` seconds.
    pub(crate) async fn sign_in(&self, access_ttl: u64) -> Session {
        self.sign_in_holding(access_ttl, Some("provider-rt-0")).await
    }

    /// [`Self::sign_in`], the code exchange giving `refresh_token` if any.
    async fn sign_in_holding(&self, access_ttl: u64, refresh_token: Option<&str>) -> Session {
        self.sign_in_with(access_ttl, refresh_token, &json!({})).await
    }

    /// [`Self::sign_in`] with `extra` claims in the login's ID token.
    pub(crate) async fn sign_in_with(
        &self,
        access_ttl: u64,
        refresh_token: Option<&str>,
        extra: &Value,
    ) -> Session {
        let started = begin(&self.rp, Flow::Spa, None);
        let access = "provider-at-0";
        let provider_sid = format!("op-{}", &started.state[..12]);
        let mut claims = self.provider.claims(&started.nonce, access);
        claims["sid"] = json!(provider_sid);
        for (name, value) in extra.as_object().into_iter().flatten() {
            claims[name] = value.clone();
        }
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": access_ttl,
            "id_token": self.provider.id_token(&claims),
        });
        if let Some(refresh_token) = refresh_token {
            body["refresh_token"] = json!(refresh_token);
        }
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            // This login's answer only: the next sign-in mounts its own.
            .up_to_n_times(1)
            .expect(1)
            .mount(&self.provider.server)
            .await;
        let resp = spa_get(&self.rp, &started, &ok_query(&self.provider, &started)).await;
        assert_eq!(resp.status(), 200, "{}", resp.body());
        let mut jar = Jar::default();
        jar.apply(&resp);
        let header = jar.header().unwrap();
        let handle = cookies::refresh(&header).unwrap().expect("the handle cookie").to_owned();
        let item = self.item(&handle).await.expect("the session item");
        let token = json_body(&resp)["token"].as_str().unwrap().to_owned();
        let (_, claims) = e2e::jwt_parts(&token);
        let sid = claims["sid"].as_str().expect("our JWT names the session").to_owned();
        Session { handle, created: number(&item, "created"), sid, provider_sid, token }
    }

    /// The session item of `handle` in moto, read consistently.
    pub(crate) async fn item(&self, handle: &str) -> Option<Item> {
        let key = Handle::parse(handle).unwrap().key();
        let out = self
            .dynamodb
            .get_item()
            .table_name(TABLE)
            .key("h", AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item().cloned()
    }

    /// `POST /api/refresh` with `handle` and `X-CSRF: 1`, served at `now`.
    pub(crate) async fn refresh_at(&self, session: &Session, now: u64) -> http::Response<String> {
        refresh_with(&self.refresh, session, now).await
    }

    /// The refresh function of this deployment.
    pub(crate) fn refresh(&self) -> &Refresh {
        &self.refresh
    }

    /// Mounts the refresh grant's answer to a grant that sends refresh token `sent`, for the
    /// next `times` such grants, each expected.
    pub(crate) async fn on_grant(&self, sent: &str, answer: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=refresh_token"))
            .and(body_string_contains(format!("refresh_token={sent}")))
            .respond_with(answer)
            .up_to_n_times(times)
            .expect(times)
            .mount(&self.provider.server)
            .await;
    }

    /// Expects no refresh grant at all.
    pub(crate) async fn forbid_grants(&self) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=refresh_token"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&self.provider.server)
            .await;
    }

    /// A grant answer at `at`: access token `provider-at-<n>` for [`ACCESS_TTL`], refresh
    /// token `provider-rt-<n>` when `rotate`, and an ID token for alice when `id_token`.
    pub(crate) fn answer(&self, n: u32, rotate: bool, id_token: bool, at: u64) -> ResponseTemplate {
        let access = format!("provider-at-{n}");
        let mut body =
            json!({"access_token": access, "token_type": "Bearer", "expires_in": ACCESS_TTL});
        if rotate {
            body["refresh_token"] = json!(format!("provider-rt-{n}"));
        }
        if id_token {
            body["id_token"] = json!(self.provider.id_token(&self.refreshed_claims(&access, at)));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// The claims of a refreshed ID token for alice at `at` (no nonce: none was sent).
    pub(crate) fn refreshed_claims(&self, access_token: &str, at: u64) -> Value {
        let mut claims = self.provider.claims("", access_token);
        claims.as_object_mut().unwrap().remove("nonce");
        claims["iat"] = json!(at);
        claims["exp"] = json!(at + 300);
        claims
    }

    /// A refresh at `now` that succeeds: `200`, a JWT of ours for alice in the session, the
    /// item at version `version` with no lease and its use recorded.
    async fn assert_refreshes(&self, session: &Session, now: u64, version: u64) {
        let resp = self.refresh_at(session, now).await;
        assert_eq!(resp.status(), 200, "{}", resp.body());
        let body = json_body(&resp);
        assert_eq!(body["user"]["sub"], "alice", "{body}");
        let (_, claims) = e2e::jwt_parts(body["token"].as_str().unwrap());
        assert_eq!(
            (claims["sub"].as_str(), claims["sid"].as_str()),
            (Some("alice"), Some(&*session.sid))
        );
        assert_eq!(claims["iat"], now, "minted at the clock passed in");
        assert_no_leak(&resp);
        assert!(set_cookies(&resp).is_empty(), "no cookie is touched: {:?}", set_cookies(&resp));
        let item = self.item(&session.handle).await.expect("the session item");
        assert_eq!(number(&item, "ver"), version, "one grant per refresh that needed one");
        assert!(!item.contains_key("lease"), "no lease left behind");
        assert!(number(&item, "used") >= now, "a refresh that succeeds is a use");
    }

    /// The session ended at this answer: `401 session_expired`, both cookies cleared, the item
    /// deleted.
    pub(crate) async fn assert_ended(&self, session: &Session, resp: &http::Response<String>) {
        assert_refusal(resp, 401, "session_expired");
        let cleared = set_cookies(resp);
        for name in [cookies::REFRESH, cookies::SESSION] {
            let clear = format!("{name}=;");
            assert!(
                cleared.iter().any(|c| c.starts_with(&clear) && c.contains("Max-Age=0")),
                "{name} is cleared: {cleared:?}"
            );
        }
        assert!(self.item(&session.handle).await.is_none(), "the session item is deleted");
    }

    /// The session outlived this refusal: its item unchanged at version `version`, the lease
    /// released, no cookie touched, and no use recorded (a refresh that failed does not hold
    /// off the idle time: `used` is still the sign-in's).
    pub(crate) async fn assert_kept(
        &self,
        session: &Session,
        resp: &http::Response<String>,
        version: u64,
    ) {
        assert!(set_cookies(resp).is_empty(), "no cookie is touched: {:?}", set_cookies(resp));
        let item = self.item(&session.handle).await.expect("the session is kept");
        assert_eq!(number(&item, "ver"), version);
        assert!(!item.contains_key("lease"), "the lease is released");
        assert_eq!(number(&item, "used"), session.created, "a failed refresh is no use");
    }
}

/// `POST /api/refresh` to `refresh` with the session's handle and `X-CSRF: 1`, at `now`.
pub(crate) async fn refresh_with(
    refresh: &Refresh,
    session: &Session,
    now: u64,
) -> http::Response<String> {
    let req = Request {
        cookies: Some(format!("{}={}", cookies::REFRESH, session.handle)),
        csrf: true,
        ..testing::request(&Method::POST, "/api/refresh")
    };
    serve(refresh, &req, now).await.into_http()
}

pub(crate) fn number(item: &Item, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// No provider token and no word of the provider's body in an answer of ours.
fn assert_no_leak(resp: &http::Response<String>) {
    let body = resp.body();
    assert!(!body.contains(PROVIDER_TOKEN), "a provider token in {body}");
    assert!(!body.to_lowercase().contains(UPSTREAM), "the provider's words in {body}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

/// A refusal: status, code, no token of any kind, nothing of the provider's.
pub(crate) fn assert_refusal(resp: &http::Response<String>, status: u16, code: &str) {
    assert_eq!(resp.status(), status, "{}", resp.body());
    assert_eq!(json_body(resp)["error"], code, "{}", resp.body());
    assert!(!resp.body().contains("eyJ"), "no JWT in a refusal: {}", resp.body());
    assert_no_leak(resp);
}

/// What a provider in trouble answers a refresh grant, with what we answer then.
fn troubles() -> Vec<(&'static str, ResponseTemplate, u16, &'static str)> {
    let error = |status: u16, code: &str| {
        ResponseTemplate::new(status)
            .set_body_json(json!({"error": code, "error_description": "upstream <script>"}))
    };
    let oversized = json!({
        "access_token": "provider-at-x",
        "token_type": "Bearer",
        "refresh_token": "provider-rt-x",
        "pad": "upstream".repeat(shared::MAX_BODY / 8 + 1),
    });
    vec![
        ("invalid_client", error(401, "invalid_client"), 502, "token_exchange_failed"),
        ("server_error", error(400, "server_error"), 502, "token_exchange_failed"),
        (
            "HTTP 500",
            ResponseTemplate::new(500).set_body_string("<html>upstream stack trace</html>"),
            502,
            "token_exchange_failed",
        ),
        ("HTTP 503", ResponseTemplate::new(503), 502, "token_exchange_failed"),
        (
            "not JSON",
            ResponseTemplate::new(200).set_body_string("upstream: not json"),
            502,
            "token_exchange_failed",
        ),
        (
            "over the size limit",
            ResponseTemplate::new(200).set_body_json(oversized),
            502,
            "token_exchange_failed",
        ),
        (
            "a redirect elsewhere",
            ResponseTemplate::new(302).insert_header("location", "/elsewhere"),
            502,
            "token_exchange_failed",
        ),
        (
            "slower than the client's timeout",
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "provider-at-x", "token_type": "Bearer"}))
                .set_delay(Duration::from_secs(3)),
            504,
            "provider_timeout",
        ),
    ]
}

/// Each answer of a provider in trouble: `502`/`504` as for the code exchange, the session
/// kept with its lease released and its refresh token unspent, so the next refresh, once the
/// provider answers, makes the grant with the same refresh token and succeeds.
#[tokio::test]
async fn refresh_grant_trouble_at_the_provider_keeps_the_session() {
    // One moto for every case: each deployment's own hold ends with its case.
    let _moto = moto().await;
    for (case, answer, status, code) in troubles() {
        let d = Deployment::start(&[]).await;
        Mock::given(path("/elsewhere"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&d.provider.server)
            .await;
        let session = d.sign_in(ACCESS_TTL).await;
        let at = session.created + ACCESS_TTL + 1;
        d.on_grant("provider-rt-0", answer, 1).await;
        d.on_grant("provider-rt-0", d.answer(1, true, true, at), 1).await;
        let resp = d.refresh_at(&session, at).await;
        assert_eq!(resp.status(), status, "{case}: {}", resp.body());
        assert_refusal(&resp, status, code);
        d.assert_kept(&session, &resp, 0).await;
        d.assert_refreshes(&session, at, 1).await;
    }
}

/// The provider down (its token endpoint refuses connections): `502 provider_unreachable`,
/// the session kept; the next refresh through a reachable token endpoint succeeds.
#[tokio::test]
async fn refresh_grant_with_the_provider_down_keeps_the_session() {
    let d = Deployment::start(&[]).await;
    // A second deployment of the refresh function whose discovery names a closed port as the
    // token endpoint: the same table, keys and provider otherwise.
    let closed = format!("http://127.0.0.1:{}/token", free_port().unwrap());
    let mut doc = d.provider.discovery();
    doc["token_endpoint"] = json!(closed);
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .with_priority(1)
        .mount(&d.provider.server)
        .await;
    let down: Refresh = d.another().await;

    let session = d.sign_in(ACCESS_TTL).await;
    let at = session.created + ACCESS_TTL + 1;
    let resp = refresh_with(&down, &session, at).await;
    assert_refusal(&resp, 502, "provider_unreachable");
    d.assert_kept(&session, &resp, 0).await;
    d.on_grant("provider-rt-0", d.answer(1, true, true, at), 1).await;
    d.assert_refreshes(&session, at, 1).await;
}

/// The provider refuses the refresh token (`invalid_grant`): the session ends.
#[tokio::test]
async fn refresh_grant_invalid_grant_ends_the_session() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    let refused = ResponseTemplate::new(400).set_body_json(
        json!({"error": "invalid_grant", "error_description": "upstream: token revoked"}),
    );
    d.on_grant("provider-rt-0", refused, 1).await;
    let resp = d.refresh_at(&session, session.created + ACCESS_TTL + 1).await;
    d.assert_ended(&session, &resp).await;
}

/// An ID token in the refresh answer that fails a check (signature, `sub`, `aud`, `iss`,
/// `exp`, or does not parse): the refresh token is spent and its successor came with a token
/// we refuse, so the session ends, answered `session_expired` with the cookies cleared.
#[tokio::test]
async fn refresh_grant_refused_id_token_ends_the_session() {
    type Spoil = fn(&FakeProvider, Value, u64) -> String;
    let cases: [(&str, Spoil); 6] = [
        ("bad signature", |p, c, _| {
            jws(&jws_header(&p.key), &c, &testing::key(p.key.kid(), KeyAlg::Rs256))
        }),
        ("another sub", |p, mut c, _| {
            c["sub"] = json!("mallory");
            p.id_token(&c)
        }),
        ("another aud", |p, mut c, _| {
            c["aud"] = json!("another-client");
            p.id_token(&c)
        }),
        ("another iss", |p, mut c, _| {
            c["iss"] = json!("https://upstream.example.com");
            p.id_token(&c)
        }),
        ("expired", |p, mut c, at| {
            c["exp"] = json!(at - ID_TOKEN_LEEWAY_SECS.unsigned_abs() - 1);
            p.id_token(&c)
        }),
        ("malformed", |_, _, _| "eyJhbGciOiJSUzI1NiJ9.not-a-token".to_owned()),
    ];
    let _moto = moto().await;
    for (case, spoil) in cases {
        let d = Deployment::start(&[]).await;
        let session = d.sign_in(ACCESS_TTL).await;
        let at = session.created + ACCESS_TTL + 1;
        let claims = d.refreshed_claims("provider-at-1", at);
        let body = json!({
            "access_token": "provider-at-1",
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": "provider-rt-1",
            "id_token": spoil(&d.provider, claims, at),
        });
        d.on_grant("provider-rt-0", ResponseTemplate::new(200).set_body_json(body), 1).await;
        let resp = d.refresh_at(&session, at).await;
        assert_eq!(resp.status(), 401, "{case}: {}", resp.body());
        d.assert_ended(&session, &resp).await;
    }
}

/// A refresh answer without an ID token is fine (OpenID Connect Core 12.2: it may be left
/// out); one without a refresh token keeps the old one, which the next grant sends.
#[tokio::test]
async fn refresh_grant_answers_without_id_token_or_refresh_token() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    let first = session.created + ACCESS_TTL + 1;
    d.on_grant("provider-rt-0", d.answer(1, true, false, first), 1).await;
    d.assert_refreshes(&session, first, 1).await;

    let second = first + ACCESS_TTL + 1;
    d.on_grant("provider-rt-1", d.answer(2, false, true, second), 1).await;
    d.assert_refreshes(&session, second, 2).await;
    let third = second + ACCESS_TTL + 1;
    d.on_grant("provider-rt-1", d.answer(3, true, true, third), 1).await;
    d.assert_refreshes(&session, third, 3).await;
}

/// Rotation over three refreshes: each grant sends the latest rotated refresh token, and the
/// session's version moves each time; our JWT keeps the session's `sid`.
#[tokio::test]
async fn refresh_grant_rotation_over_three_refreshes() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    let mut at = session.created;
    for n in 1..=3 {
        at += ACCESS_TTL + 1;
        d.on_grant(&format!("provider-rt-{}", n - 1), d.answer(n, true, true, at), 1).await;
        d.assert_refreshes(&session, at, u64::from(n)).await;
    }
}

/// While the provider's access token is valid, a refresh mints from the session without a
/// grant.
#[tokio::test]
async fn refresh_grant_is_not_made_while_the_access_token_is_valid_beyond_its_margin() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    d.forbid_grants().await;
    d.assert_refreshes(&session, session.created, 0).await;
    // A tenth of its 60 s (under the 60 s margin): renewed from 54 s on.
    d.assert_refreshes(&session, session.created + ACCESS_TTL - 7, 0).await;
}

/// A provider whose refresh token dies with its access token refuses every grant made after
/// the expiry: the grant comes within the margin before it, once per access token.
#[tokio::test]
async fn refresh_grant_is_made_within_the_margin_before_the_access_token_expires() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    let at = session.created + ACCESS_TTL - 5;
    d.on_grant("provider-rt-0", d.answer(1, true, true, at), 1).await;
    d.assert_refreshes(&session, at, 1).await;
    // The next access token is renewed near its own end, not at every refresh.
    d.assert_refreshes(&session, at + 1, 1).await;
    d.assert_refreshes(&session, at + ACCESS_TTL - 7, 1).await;
    // A margin of 0: at the expiry only.
    let d = Deployment::start(&[("SESSION_RENEW_MARGIN_SECONDS", "0")]).await;
    let session = d.sign_in(ACCESS_TTL).await;
    d.forbid_grants().await;
    d.assert_refreshes(&session, session.created + ACCESS_TTL - 1, 0).await;
}

/// A session without a refresh token (the provider gave none at login) refreshes our JWT
/// after the provider's access token has expired, without asking the provider: there is
/// nothing to ask it with. Its use is recorded in the one call that reads it.
#[tokio::test]
async fn session_without_a_refresh_token_refreshes_without_a_grant() {
    let d = Deployment::start(&[]).await;
    let session = d.sign_in_holding(ACCESS_TTL, None).await;
    d.forbid_grants().await;
    d.assert_refreshes(&session, session.created + ACCESS_TTL + 1, 0).await;
    d.assert_refreshes(&session, session.created + 3 * ACCESS_TTL, 0).await;
}

/// `SESSION_MAX_AGE_SECONDS` since login: a refresh a second before works, one a second after
/// ends the session, without asking the provider.
#[tokio::test]
async fn session_ends_at_its_maximum_age() {
    let d = Deployment::start(&[("SESSION_MAX_AGE_SECONDS", "120")]).await;
    let session = d.sign_in(3600).await;
    d.forbid_grants().await;
    d.assert_refreshes(&session, session.created + 119, 0).await;
    let resp = d.refresh_at(&session, session.created + 121).await;
    d.assert_ended(&session, &resp).await;
}

/// `SESSION_IDLE_SECONDS` since the last use: refreshes less than that apart keep the session
/// past it, a longer pause ends it.
#[tokio::test]
async fn session_ends_when_idle_too_long() {
    let d = Deployment::start(&[("SESSION_IDLE_SECONDS", "60")]).await;
    let session = d.sign_in(3600).await;
    d.forbid_grants().await;
    let used = session.created + 59;
    d.assert_refreshes(&session, used, 0).await;
    let used = used + 59;
    d.assert_refreshes(&session, used, 0).await;
    let resp = d.refresh_at(&session, used + 61).await;
    d.assert_ended(&session, &resp).await;
}

/// Each refresh records its use in the call that reads the session: the idle end moves to the
/// use plus `SESSION_IDLE_SECONDS`, and once that would pass the maximum age, the item's `ttl`
/// stays at the maximum age's end (the second path, a read and then a touch). After either,
/// the session is still refreshed, and it ends at its maximum age.
#[tokio::test]
async fn each_refresh_moves_the_idle_end_and_the_maximum_age_caps_it() {
    let d =
        Deployment::start(&[("SESSION_MAX_AGE_SECONDS", "200"), ("SESSION_IDLE_SECONDS", "60")])
            .await;
    let session = d.sign_in(3600).await;
    d.forbid_grants().await;
    let created = session.created;
    let item = d.item(&session.handle).await.unwrap();
    assert_eq!((number(&item, "used"), number(&item, "ttl")), (created, created + 60));
    // Used, idle end before the maximum age: the ttl follows the use.
    for used in [created + 50, created + 100] {
        d.assert_refreshes(&session, used, 0).await;
        let item = d.item(&session.handle).await.unwrap();
        assert_eq!((number(&item, "used"), number(&item, "ttl")), (used, used + 60));
    }
    // Within the idle time of the maximum age: the ttl is the maximum age's end.
    for used in [created + 150, created + 199] {
        d.assert_refreshes(&session, used, 0).await;
        let item = d.item(&session.handle).await.unwrap();
        assert_eq!((number(&item, "used"), number(&item, "ttl")), (used, created + 200));
    }
    let resp = d.refresh_at(&session, created + 201).await;
    d.assert_ended(&session, &resp).await;
}

/// The proxy in `provider` mode never sends a provider access token that has expired: with
/// no refresh token to renew it, the answer is `provider_token_unavailable` and nothing goes
/// upstream. The API points at a closed port, so a forwarded request would answer
/// `upstream_unreachable` instead (as it does while the token lives).
#[tokio::test]
async fn the_proxy_never_sends_an_expired_provider_token() {
    let closed = free_port().unwrap();
    let apis: &'static str =
        Box::leak(format!("api=http://127.0.0.1:{closed}/v1").into_boxed_str());
    let d = Deployment::start(&[("REMOTE_APIS", apis), ("REMOTE_API_API_TOKEN", "provider")]).await;
    let session = d.sign_in_holding(ACCESS_TTL, None).await;
    d.forbid_grants().await;
    let proxy: shared::Proxy = d.another().await;
    let cookie = format!("__Host-session={}; __Host-refresh={}", session.token, session.handle);
    let call = |now: u64| {
        let cookie = cookie.clone();
        let proxy = &proxy;
        async move {
            let req = Request {
                cookies: Some(cookie),
                csrf: true,
                ..shared::testing::request(&Method::GET, "/api/remote/api/orders")
            };
            serve(proxy, &req, now).await.into_http()
        }
    };
    // (Not `assert_refusal`: our own code here names the upstream.)
    let live = call(session.created + 1).await;
    let code = json_body(&live)["error"].clone();
    assert_eq!((live.status().as_u16(), code), (502, json!("upstream_unreachable")));
    assert_refusal(
        &call(session.created + ACCESS_TTL + 1).await,
        401,
        "provider_token_unavailable",
    );
}
