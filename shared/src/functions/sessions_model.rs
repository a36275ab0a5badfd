//! A model-based property test of the session state machine: the real refresh and logout
//! functions, several instances of each, against one session table in memory
//! ([`crate::sessions::Memory`], DynamoDB's condition semantics per operation) and a provider
//! that rotates refresh tokens and refuses any used twice.
//!
//! Each case is a random schedule: rounds of requests served at once (logins, which store a
//! session and end the user's oldest beyond the cap as the callback does; refreshes with and
//! without a grant, logout, logout everywhere, back-channel logout by `sub`), each request
//! on one of the instances with its own clock skew, some with a deadline that cuts it at any
//! await point; between rounds, the clock may jump (access tokens expire, sessions idle out
//! or reach their maximum age). The table's pauses between calls, seeded by the case, decide
//! the interleaving. After the schedule, the invariants:
//!
//! 1. a refresh token is sent to the provider at most once (the provider records a second
//!    use);
//! 2. no deleted item comes back, and no item's `ttl` passes its maximum age (the table
//!    records either as it happens);
//! 3. no JWT is minted by a refresh that started after its session had ended;
//! 4. a session still stored holds the provider's latest refresh token: no rotated token was
//!    lost, though one store of a grant in four fails (before the table applied it, or after).
//!
//! `PROPTEST_CASES` raises the number of schedules (`make test` runs the default, 24).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use proptest::prelude::*;
use secrecy::ExposeSecret as _;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, Respond, ResponseTemplate};

use super::logout::Logout;
use super::refresh::Refresh;
use super::start::{ColdStart, Fetch as _};
use crate::infra::config::SessionSettings;
use crate::keygen::KeyAlg;
use crate::sessions::{Handle, Memory, Owner, ProviderTokens, SessionKeys, Sessions};
use crate::testing::{FakeProvider, dynamodb_client_at, secret_json};
use crate::tokens::secret::Secret;
use crate::tokens::session::User;
use crate::web::request::Request;
use crate::web::routes::serve;

/// The provider's access token lifetime: a clock jump past it makes the next refresh a grant.
const ACCESS_TTL: u64 = 10;
/// The sessions' limits here: jumps reach them.
const MAX_AGE: u64 = 900;
const IDLE: u64 = 400;

/// The provider's token endpoint for refresh grants: each refresh token once, rotated.
#[derive(Debug, Default)]
struct Rotation {
    /// Refresh tokens issued and not yet used, by family (one per session).
    live: HashMap<String, String>,
    /// Every refresh token used.
    used: HashSet<String>,
    /// The latest refresh token of each family.
    latest: HashMap<String, String>,
    issued: usize,
    violations: Vec<String>,
    /// How long a grant's answer takes.
    delay: Duration,
}

#[derive(Clone, Default)]
struct Provider(Arc<Mutex<Rotation>>);

impl Provider {
    fn issue(&self, family: &str) -> String {
        let mut rotation = self.0.lock().unwrap();
        rotation.issued += 1;
        let token = format!("{family}.{}", rotation.issued);
        rotation.live.insert(token.clone(), family.to_owned());
        rotation.latest.insert(family.to_owned(), token.clone());
        token
    }
}

impl Respond for Provider {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        self.grant(&request.body)
    }
}

impl Provider {
    /// The answer to a refresh grant's form `body`.
    fn grant(&self, body: &[u8]) -> ResponseTemplate {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let Some(sent) = form.get("refresh_token") else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"}));
        };
        let family = {
            let mut rotation = self.0.lock().unwrap();
            if !rotation.used.insert(sent.clone()) {
                rotation.violations.push(format!("refresh token {sent} sent twice"));
            }
            rotation.live.remove(sent)
        };
        let Some(family) = family else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
        };
        let next = self.issue(&family);
        let delay = self.0.lock().unwrap().delay;
        ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
            "access_token": format!("at-{next}"),
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": next,
        }))
    }
}

/// One request of a schedule.
#[derive(Debug, Clone)]
enum Op {
    /// `POST /api/refresh` for session `session` on refresh instance `instance`, its clock
    /// `skew` seconds ahead, cut `cut` µs past its answer margin (none: no deadline).
    Refresh { session: usize, instance: usize, skew: u64, cut: Option<u64> },
    /// `POST /api/logout` of the session, everywhere or not, on logout instance `instance`.
    Logout { session: usize, instance: usize, everywhere: bool },
    /// The provider's back-channel logout of every session of user `user`.
    Backchannel { user: usize },
    /// A login of user `user`: the callback's writes (the session, then the cap).
    Login { user: usize },
}

/// A round: requests served at once, then the clock moves on by `jump` seconds.
#[derive(Debug, Clone)]
struct Round {
    ops: Vec<Op>,
    jump: u64,
}

/// Sessions at the start; logins add more. Requests name one by its index, modulo how many
/// there are.
const SESSIONS: usize = 4;
/// `SESSION_MAX_PER_USER` here: logins reach it.
const CAP: usize = 3;
const USERS: usize = 2;
const REFRESHERS: usize = 3;
const LOGOUTS: usize = 2;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..SESSIONS, 0..REFRESHERS, 0..3u64, prop::option::weighted(0.3, 0..4_000u64))
            .prop_map(|(session, instance, skew, cut)| Op::Refresh { session, instance, skew, cut }),
        1 => (0..SESSIONS, 0..LOGOUTS, any::<bool>())
            .prop_map(|(session, instance, everywhere)| Op::Logout { session, instance, everywhere }),
        1 => (0..USERS).prop_map(|user| Op::Backchannel { user }),
        2 => (0..USERS).prop_map(|user| Op::Login { user }),
    ]
}

fn round() -> impl Strategy<Value = Round> {
    // Most rounds end past the access tokens' lifetime, so that the next refreshes grant.
    let jump = prop_oneof![
        1 => Just(0u64),
        1 => 1..ACCESS_TTL,
        5 => ACCESS_TTL..ACCESS_TTL + 20,
        1 => IDLE - 30..IDLE + 30,
    ];
    (prop::collection::vec(op(), 1..7), jump).prop_map(|(ops, jump)| Round { ops, jump })
}

/// Everything one case runs against.
struct World {
    provider: FakeProvider,
    rotation: Provider,
    memory: Arc<Memory>,
    refreshers: Vec<Refresh>,
    logouts: Vec<Logout>,
    /// Each session's handle, item key, user and refresh token family, in login order.
    sessions: Mutex<Vec<(Handle, String, usize, String)>>,
    /// The callback's writes.
    store: Sessions,
    /// Logins so far: each session's refresh token family is its number.
    logins: AtomicUsize,
}

impl World {
    /// The handle and item key of session `n` of the latest [`SESSIONS`] (modulo how many
    /// there are): the sessions most likely still live.
    fn session(&self, n: usize) -> (Handle, String) {
        let sessions = self.sessions.lock().unwrap();
        let recent = sessions.len().min(SESSIONS);
        let (handle, key, _, _) = &sessions[sessions.len() - 1 - n % recent];
        (Handle::parse(handle.expose()).unwrap(), key.clone())
    }

    /// The callback's writes for a login of user `n` at `now`: the session, its first
    /// refresh token issued by the provider, then the user's oldest beyond the cap ended.
    async fn login(&self, n: usize, now: u64) {
        let family = format!("s{}", self.logins.fetch_add(1, Ordering::Relaxed));
        let issuer = self.provider.issuer();
        let user = User {
            sub: user(n),
            email: None,
            email_verified: None,
            name: None,
            extra: Default::default(),
        };
        let owner = Owner {
            user: &user,
            idp: &issuer,
            provider: "default",
            provider_sid: None,
            device: None,
        };
        let tokens = ProviderTokens {
            refresh_token: Some(self.rotation.issue(&family).into()),
            access_token: format!("at-{family}").into(),
            access_expires_at: now + ACCESS_TTL,
            id_token: None,
            dpop_key: None,
        };
        let (handle, key) = self.store.create(&owner, &tokens, now).await.unwrap();
        self.sessions.lock().unwrap().push((handle, key.clone(), n, family));
        self.store.end_beyond_cap(&issuer, &user.sub, &key).await.unwrap();
    }
}

fn settings() -> SessionSettings {
    SessionSettings {
        table: "model".to_owned(),
        max_age: Duration::from_secs(MAX_AGE),
        idle: Duration::from_secs(IDLE),
        strict: false,
        max_per_user: CAP,
        renew_margin: Duration::from_secs(0),
    }
}

fn user(n: usize) -> String {
    format!("user-{n}")
}

async fn world(seed: u64, now: u64) -> World {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let rotation = Provider::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(rotation.clone())
        .mount(&provider.server)
        .await;
    let secret = secret_json(KeyAlg::Es256, 1);
    // One store of a grant in four fails, before or after the table applied it: the grant's
    // rotated refresh token must be stored all the same.
    let memory = Memory::new(MAX_AGE, Some(seed)).with_store_faults(4);
    let table = || {
        let keys = SessionKeys::derive(Secret::from_json(&secret).unwrap().cookie_keys());
        Sessions::in_memory(settings(), keys.unwrap(), memory.clone())
    };
    let vars = [
        ("SESSION_TABLE", "model"),
        ("OIDC_USERINFO", "false"),
        ("SESSION_MAX_AGE_SECONDS", "900"),
        ("SESSION_IDLE_SECONDS", "400"),
        ("SESSION_RENEW_MARGIN_SECONDS", "0"),
        ("SESSION_MAX_PER_USER", "3"),
    ];
    let offline = dynamodb_client_at("http://127.0.0.1:9");
    let mut refreshers = Vec::new();
    for _ in 0..REFRESHERS {
        let parts = provider.parts_with_sessions(&secret, &vars, offline.clone());
        let fetched = <Refresh as ColdStart>::Fetch::fetch(&parts.http, &parts.config).await;
        let with = parts.with_provider(fetched.unwrap(), Duration::from_secs(60)).unwrap();
        refreshers.push(Refresh::from_parts(super::start::WithProvider {
            sessions: Some(table()),
            ..with
        }));
    }
    let mut logouts = Vec::new();
    for _ in 0..LOGOUTS {
        let parts = provider.parts_with_sessions(&secret, &vars, offline.clone());
        let logout: Logout = FakeProvider::function_from(parts).await;
        logouts.push(logout.with_sessions(table()));
    }
    // The callback's writes.
    let keys = SessionKeys::derive(Secret::from_json(&secret).unwrap().cookie_keys()).unwrap();
    let store = Sessions::in_memory(settings(), keys, memory.clone());
    let world = World {
        provider,
        rotation,
        memory,
        refreshers,
        logouts,
        sessions: Mutex::new(Vec::new()),
        store,
        logins: AtomicUsize::new(0),
    };
    for n in 0..SESSIONS {
        world.login(n % USERS, now).await;
    }
    world
}

/// Serves `op` at `now`; returns the refresh's status with whether its session had ended
/// before it started, for refreshes.
async fn run(world: &World, op: &Op, now: u64) -> Option<(u16, bool)> {
    match *op {
        Op::Refresh { session, instance, skew, cut } => {
            let (handle, key) = world.session(session);
            let ended_before = world.memory.was_deleted(&key);
            let deadline = cut.map(|cut| {
                Instant::now() + crate::web::routes::ANSWER_MARGIN + Duration::from_micros(cut)
            });
            let req = Request {
                cookies: Some(format!("{}={}", crate::cookies::REFRESH, handle.expose())),
                csrf: true,
                deadline,
                ..crate::testing::request(&Method::POST, "/api/refresh")
            };
            let resp = serve(&world.refreshers[instance], &req, now + skew).await;
            let resp = resp.into_http();
            Some((resp.status().as_u16(), ended_before))
        }
        Op::Logout { session, instance, everywhere } => {
            let (handle, _) = world.session(session);
            let body = serde_json::to_vec(&json!({ "everywhere": everywhere })).unwrap();
            let req = Request {
                cookies: Some(format!("{}={}", crate::cookies::REFRESH, handle.expose())),
                csrf: true,
                content_type: Some("application/json"),
                body: &body,
                ..crate::testing::request(&Method::POST, "/api/logout")
            };
            let status = serve(&world.logouts[instance], &req, now).await.into_http().status();
            assert_eq!(status, 200, "a logout");
            None
        }
        Op::Backchannel { user: n } => {
            let mut claims = world.provider.logout_claims("unused");
            claims.as_object_mut().unwrap().remove("sid");
            claims["sub"] = json!(user(n));
            claims["iat"] = json!(crate::unix_now());
            let form = format!("logout_token={}", world.provider.logout_token(&claims));
            let req = Request {
                content_type: Some("application/x-www-form-urlencoded"),
                body: form.as_bytes(),
                ..crate::testing::request(&Method::POST, "/api/backchannel-logout")
            };
            let resp = serve(&world.logouts[0], &req, crate::unix_now()).await.into_http();
            assert_eq!(resp.status(), 200, "a back-channel logout: {}", resp.body());
            None
        }
        Op::Login { user } => {
            world.login(user, now).await;
            None
        }
    }
}

/// Runs `schedule` from `seed`; the invariants' violations.
async fn check(seed: u64, schedule: &[Round]) -> Vec<String> {
    let start = crate::unix_now();
    let world = world(seed, start).await;
    let mut now = start;
    let mut violations = Vec::new();
    for round in schedule {
        let answers =
            futures_util::future::join_all(round.ops.iter().map(|op| run(&world, op, now))).await;
        for (op, answer) in round.ops.iter().zip(answers) {
            if let Some((200, true)) = answer {
                violations.push(format!("{op:?} minted a JWT for a session ended before it"));
            }
        }
        now += round.jump;
    }
    violations.extend(world.rotation.0.lock().unwrap().violations.clone());
    violations.extend(world.memory.violations());
    // What is still stored holds the provider's latest refresh token.
    let items = world.memory.items();
    let latest = world.rotation.0.lock().unwrap().latest.clone();
    let keys = SessionKeys::derive(
        Secret::from_json(&secret_json(KeyAlg::Es256, 1)).unwrap().cookie_keys(),
    )
    .unwrap();
    let reader = Sessions::in_memory(settings(), keys, Memory::new(MAX_AGE, None));
    let sessions: Vec<(String, String)> = world
        .sessions
        .lock()
        .unwrap()
        .iter()
        .map(|(_, key, _, family)| (key.clone(), family.clone()))
        .collect();
    for (n, (key, family)) in sessions.iter().enumerate() {
        let Some(item) = items.get(key) else { continue };
        let record = reader.record(key, item).unwrap();
        let held = record.tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned());
        if held.as_ref() != latest.get(family) {
            violations
                .push(format!("session {n} holds {held:?}, the provider's latest is another"));
        }
        if item.contains_key("lease") {
            violations.push(format!("session {n} keeps a lease after every request ended"));
        }
    }
    violations
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_session_state_machine_keeps_its_invariants_under_any_schedule(
        seed in any::<u64>(),
        schedule in prop::collection::vec(round(), 1..14),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let violations = runtime.block_on(check(seed, &schedule));
        prop_assert!(violations.is_empty(), "{violations:#?}");
    }
}

#[test]
fn the_model_sees_a_refresh_token_sent_twice() {
    // The oracle can fail: the provider side of the model records a second use.
    let provider = Provider::default();
    let first = provider.issue("s0");
    let form = format!("grant_type=refresh_token&refresh_token={first}");
    let status = |answer: ResponseTemplate| {
        // The status a template answers with, read back through a mock server's matcher-free
        // answer is not exposed: the provider's own record of uses is the oracle here.
        drop(answer);
    };
    status(provider.grant(form.as_bytes()));
    assert!(provider.0.lock().unwrap().violations.is_empty());
    status(provider.grant(form.as_bytes()));
    assert_eq!(provider.0.lock().unwrap().violations.len(), 1);
    // And the table one records an item written again after its delete.
    let memory = Memory::new(MAX_AGE, None);
    let item = crate::sessions::SessionItem::from([(
        "h".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S("k".into()),
    )]);
    assert!(memory.put_new("k", item.clone()));
    assert!(memory.delete("k", |_| true));
    assert!(memory.put_new("k", item));
    assert_eq!(memory.violations().len(), 1);
}

#[tokio::test]
async fn requests_waiting_beyond_the_bound_are_answered_at_once() {
    let now = crate::unix_now();
    let world = world(7, now).await;
    world.rotation.0.lock().unwrap().delay = Duration::from_millis(500);
    let grants_before = world.rotation.0.lock().unwrap().issued;
    // A hundred requests of one session while its grant takes half a second.
    let (handle, _) = world.session(0);
    let requests = 100;
    let answers = futures_util::future::join_all((0..requests).map(|n| {
        let cookie = format!("{}={}", crate::cookies::REFRESH, handle.expose());
        let refresher = &world.refreshers[n % REFRESHERS];
        async move {
            let req = Request {
                cookies: Some(cookie),
                csrf: true,
                ..crate::testing::request(&Method::POST, "/api/refresh")
            };
            serve(refresher, &req, now + ACCESS_TTL + 1).await.into_http()
        }
    }))
    .await;
    let busy = answers.iter().filter(|a| a.status() == 503).count();
    let ok = answers.iter().filter(|a| a.status() == 200).count();
    assert_eq!(ok + busy, requests, "only 200 or 503");
    assert!(
        answers.iter().filter(|a| a.status() == 503).all(|a| a.body().contains("session_busy"))
    );
    // The holder and MAX_WAITING waiters; a request that opened after the grant was stored
    // (none is expected: the opens take microseconds) would add to them.
    let bound = usize::try_from(crate::sessions::MAX_WAITING).unwrap() + 1;
    assert!(ok >= bound && busy >= requests - bound - 5, "{ok} answered, {busy} busy");
    assert_eq!(world.rotation.0.lock().unwrap().issued - grants_before, 1, "one grant");
    assert!(world.memory.violations().is_empty(), "{:?}", world.memory.violations());
}
