//! The load harness (`bash bench/run.sh --load`): many sessions through login, refresh grants on
//! a short provider access-token lifetime, and logout, with several instances of each function
//! against one session table, and the invariants checked at the end.
//!
//! Real parts: moto's DynamoDB and Secrets Manager and the npm oidc-provider of `dev/provider`,
//! started by the stack launcher (`dev/stack`) with `PROVIDER_ACCESS_TOKEN_TTL` set short, and
//! behind a counting proxy (`proxy.rs`) announced as its issuer. The functions run in this
//! process: `--instances` instances of each of login, callback, refresh and logout, each built
//! as at its cold start with its own HTTP and DynamoDB clients (`fleet.rs`), requests handed to
//! them round-robin, at most `--in-flight` operations at once.
//!
//! Each session, the logins spread over `--ramp` seconds: `GET /api/login`, the provider's login and consent pages, `GET /api/callback`;
//! then, for `--refresh-for` seconds, every `--refresh-every` seconds, `--tabs` parallel
//! `POST /api/refresh` (as many tabs of one app), so that the access token expires several
//! times and the tabs race for the refresh grant; then `POST /api/logout`, and `--tabs`
//! refreshes more, each of which must answer `401 session_expired`.
//!
//! Checked: every refresh of a live session answered `200` (none lost), every refresh after
//! logout answered `session_expired` and the table holds no item at the end (none outlived its
//! end), and the refresh grants the provider saw equal the grants the sessions stored (the
//! items' versions before logout): no grant lost or made twice. Written: a JSON report
//! (`--out`), which `bench/report_load.py` renders; exit status 1 when a check fails.
//!
//! Timings are taken in-process around each function's `serve` (and around the whole sign-in
//! at the provider): no Lambda runtime, no API Gateway.

mod fleet;
mod provider;
mod proxy;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use http::Method;
use serde_json::{Value, json};
use shared::{Handle, HttpFunction, Request, cookies, serve, unix_now};
use stack::{Options, ProviderKind, ProviderSpec};
use tokio::sync::Semaphore;

use crate::fleet::{Deployment, Fleet, REQUESTS};
use crate::proxy::Counts;

/// What a run does.
#[derive(Debug, Clone)]
struct Settings {
    mode: &'static str,
    sessions: usize,
    instances: usize,
    in_flight: usize,
    tabs: usize,
    access_ttl: u64,
    refresh_every: Duration,
    refresh_for: Duration,
    /// The logins start spread over this time, as users arrive.
    ramp: Duration,
    out: PathBuf,
}

impl Settings {
    const USAGE: &'static str = "usage: load [--smoke] [--sessions N] [--instances N] \
        [--in-flight N] [--tabs N] [--access-ttl SECS] [--refresh-every SECS] \
        [--refresh-for SECS] [--ramp SECS] [--out FILE]";

    /// The full run: 1,000 sessions signing in over 40 s, 4 instances of each function, 96
    /// operations in flight, a 30 s access token, two tabs refreshing every 15 s for 120 s
    /// (about four grants each).
    fn full() -> Self {
        Self {
            mode: "full",
            sessions: 1_000,
            instances: 4,
            in_flight: 96,
            tabs: 2,
            access_ttl: 30,
            refresh_every: Duration::from_secs(15),
            refresh_for: Duration::from_secs(120),
            ramp: Duration::from_secs(40),
            out: stack::root().join("target/bench/load.json"),
        }
    }

    /// CI's budget: 50 sessions signing in over 5 s, still 4 instances of each, a 10 s access
    /// token, two tabs every 3 s for 22 s (two grants or so each).
    fn smoke() -> Self {
        Self {
            mode: "smoke",
            sessions: 50,
            in_flight: 32,
            access_ttl: 10,
            refresh_every: Duration::from_secs(3),
            refresh_for: Duration::from_secs(22),
            ramp: Duration::from_secs(5),
            out: stack::root().join("target/bench/load-smoke.json"),
            ..Self::full()
        }
    }

    fn from_args() -> Result<Self, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut settings =
            if args.iter().any(|a| a == "--smoke") { Self::smoke() } else { Self::full() };
        let mut args = args.into_iter().filter(|a| a != "--smoke");
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                return Err(Self::USAGE.to_owned());
            }
            let value = args.next().ok_or_else(|| format!("{flag} wants a value"))?;
            let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number"));
            let count = || number().and_then(|n| usize::try_from(n).map_err(|e| e.to_string()));
            match flag.as_str() {
                "--sessions" => settings.sessions = count()?,
                "--instances" => settings.instances = count()?,
                "--in-flight" => settings.in_flight = count()?,
                "--tabs" => settings.tabs = count()?,
                "--access-ttl" => settings.access_ttl = number()?,
                "--refresh-every" => settings.refresh_every = Duration::from_secs(number()?),
                "--refresh-for" => settings.refresh_for = Duration::from_secs(number()?),
                "--ramp" => settings.ramp = Duration::from_secs(number()?),
                "--out" => settings.out = PathBuf::from(value),
                _ => return Err(format!("unknown argument {flag}\n{}", Self::USAGE)),
            }
        }
        if settings.instances < 4 {
            eprintln!("load: fewer than 4 instances of each function: not the issue's set-up");
        }
        if settings.sessions == 0 || settings.instances == 0 || settings.in_flight == 0 {
            return Err("sessions, instances and in-flight must be at least 1".to_owned());
        }
        settings.tabs = settings.tabs.clamp(1, settings.in_flight);
        Ok(settings)
    }

    /// The provider's renew margin as the functions apply it: a tenth of the lifetime, at most
    /// `SESSION_RENEW_MARGIN_SECONDS` (60 by default).
    fn margin(&self) -> u64 {
        (self.access_ttl / 10).min(60)
    }
}

/// Timings and answers, shared by every session.
#[derive(Default)]
struct Record {
    /// Milliseconds per operation.
    timings: Mutex<BTreeMap<String, Vec<f64>>>,
    /// `operation status code` → count, for every answer that was not the expected one.
    errors: Mutex<BTreeMap<String, u64>>,
    /// DynamoDB requests of each refresh of a live session → how many refreshes made that many.
    refresh_dynamodb: Mutex<BTreeMap<u64, u64>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Record {
    fn time(&self, op: &str, took: Duration) {
        let mut timings = self.timings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        timings.entry(op.to_owned()).or_default().push(took.as_secs_f64() * 1e3);
    }

    fn error(&self, what: String) {
        let mut errors = self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(what).or_default() += 1;
    }

    fn refresh_requests(&self, n: u64) {
        let mut by =
            self.refresh_dynamodb.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *by.entry(n).or_default() += 1;
    }
}

/// One operation in flight (for the most seen at once).
struct Flight<'a>(&'a Record);

impl<'a> Flight<'a> {
    fn start(record: &'a Record) -> Self {
        let now = record.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        record.most_in_flight.fetch_max(now, Ordering::Relaxed);
        Self(record)
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer of a function: status, the `error` code of a refusal, the body, the cookies set,
/// and the DynamoDB requests it made.
struct Answer {
    status: u16,
    body: Value,
    set_cookies: Vec<String>,
    dynamodb: u64,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("-")
    }

    /// The first cookie set named `name`, as `name=value`.
    fn cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&prefix))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
    }
}

/// Serves one request on `function`, timed as `op`.
async fn call<F: HttpFunction>(
    record: &Record,
    op: &str,
    function: &F,
    req: Request<'_>,
    now: u64,
) -> Answer {
    let requests = Arc::new(AtomicU64::new(0));
    let _flight = Flight::start(record);
    let started = Instant::now();
    let resp = REQUESTS.scope(requests.clone(), serve(function, &req, now)).await.into_http();
    record.time(op, started.elapsed());
    let set_cookies = resp
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    Answer {
        status: resp.status().as_u16(),
        body: serde_json::from_str(resp.body()).unwrap_or(Value::Null),
        set_cookies,
        dynamodb: requests.load(Ordering::Relaxed),
    }
}

fn request<'a>(
    method: &'a Method,
    path: &'a str,
    query: Option<&'a str>,
    cookies: Option<String>,
) -> Request<'a> {
    Request {
        method,
        path,
        query,
        cookies,
        authorization: None,
        csrf: true,
        content_type: None,
        deadline: None,
        headers: None,
        body: b"",
    }
}

/// How one session went.
#[derive(Default)]
struct Outcome {
    logged_in: bool,
    refreshes: u64,
    /// Refreshes of the live session that did not answer `200`.
    lost: u64,
    /// Refreshes after logout that did not answer `session_expired`, and a failed logout.
    outlived: u64,
    /// Grants due by the clock of its refreshes (replayed).
    grants_due: u64,
    /// The item's version just before logout: the grants it stored.
    version: u64,
}

struct Run {
    settings: Settings,
    fleet: Fleet,
    record: Record,
    gate: Semaphore,
    http: reqwest::Client,
    /// An uncounted client of the table (the item's version before logout, the final count).
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Run {
    async fn session(self: Arc<Self>, i: usize) -> Outcome {
        let mut outcome = Outcome::default();
        // Two sessions per user, as two devices: the cap per user stays what it is deployed
        // with, and each login's look at its user's sessions stays small.
        let user = format!("user-{}", i / 2 + 1);
        let s = &self.settings;
        let arrives = s.ramp.mul_f64(i as f64 / s.sessions as f64);
        tokio::time::sleep(arrives).await;
        let Some((handle, logged_in_unix)) = self.login(&user).await else { return outcome };
        outcome.logged_in = true;
        let margin = s.margin();
        let mut renew_at = logged_in_unix + s.access_ttl - margin;
        // The first refresh at a point of the period of its own (Fibonacci hashing of `i`).
        let phase = (i as u64).wrapping_mul(11_400_714_819_323_198_485) >> 54; // 0..1023
        let period = s.refresh_every;
        let started = Instant::now();
        let mut next = started + period.mul_f64(phase as f64 / 1024.0);
        while next < started + s.refresh_for {
            tokio::time::sleep_until(next.into()).await;
            next += period;
            let at = unix_now();
            if at >= renew_at {
                outcome.grants_due += 1;
                renew_at = at + s.access_ttl - margin;
            }
            for answer in self.refresh_tabs(&handle, "refresh").await {
                outcome.refreshes += 1;
                self.record.refresh_requests(answer.dynamodb);
                let fine = answer.status == 200 && answer.body["token"].is_string();
                if !fine {
                    outcome.lost += 1;
                    self.record.error(format!("refresh {} {}", answer.status, answer.code()));
                }
            }
        }
        outcome.version = self.version(&handle).await;

        let logout = {
            let _permit = self.gate.acquire().await;
            let req = request(&Method::POST, "/api/logout", None, Some(handle.clone()));
            call(&self.record, "logout", self.fleet.logout.next(), req, unix_now()).await
        };
        if logout.status != 200 {
            outcome.outlived += 1;
            self.record.error(format!("logout {} {}", logout.status, logout.code()));
        }
        for answer in self.refresh_tabs(&handle, "refresh after logout").await {
            if (answer.status, answer.code()) != (401, "session_expired") {
                outcome.outlived += 1;
                let code = answer.code();
                self.record.error(format!("refresh after logout {} {code}", answer.status));
            }
        }
        outcome
    }

    /// A login through the provider: the session handle cookie and the clock of the callback.
    async fn login(&self, user: &str) -> Option<(String, u64)> {
        let _permit = self.gate.acquire().await;
        let req = request(&Method::GET, "/api/login", None, None);
        let login = call(&self.record, "login", self.fleet.login.next(), req, unix_now()).await;
        let (Some(url), Some(tx)) = (login.body["login_url"].as_str(), login.set_cookies.first())
        else {
            self.record.error(format!("login {} {}", login.status, login.code()));
            return None;
        };
        let tx = tx.split(';').next().unwrap_or_default().to_owned();
        let started = Instant::now();
        let redirect = {
            let _flight = Flight::start(&self.record);
            provider::sign_in(&self.http, url, user).await
        };
        self.record.time("sign-in at the provider", started.elapsed());
        let redirect = match redirect {
            Ok(redirect) => redirect,
            Err(why) => {
                eprintln!("load: sign-in failed: {why}");
                self.record.error("sign-in at the provider failed".to_owned());
                return None;
            }
        };
        let now = unix_now();
        let req = request(&Method::GET, "/api/callback", redirect.query(), Some(tx));
        let callback = call(&self.record, "callback", self.fleet.callback.next(), req, now).await;
        match callback.cookie(cookies::REFRESH) {
            Some(handle) if callback.status == 200 => Some((handle, now)),
            _ => {
                self.record.error(format!("callback {} {}", callback.status, callback.code()));
                None
            }
        }
    }

    /// `--tabs` refreshes of one session at once, each on the next instance.
    async fn refresh_tabs(self: &Arc<Self>, handle: &str, op: &'static str) -> Vec<Answer> {
        let tabs = u32::try_from(self.settings.tabs).unwrap_or(1);
        let _permits = self.gate.acquire_many(tabs).await;
        let tasks: Vec<_> = (0..tabs)
            .map(|_| {
                let (run, handle) = (self.clone(), handle.to_owned());
                tokio::spawn(async move {
                    let req = request(&Method::POST, "/api/refresh", None, Some(handle));
                    // The clock as the function reads it when the request reaches it: after
                    // the wait for a place in flight, which can be long under load.
                    call(&run.record, op, run.fleet.refresh.next(), req, unix_now()).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            match task.await {
                Ok(answer) => answers.push(answer),
                Err(e) => self.record.error(format!("{op} task: {e}")),
            }
        }
        answers
    }

    /// The session item's version (its stored grants), 0 when it is gone.
    async fn version(&self, handle: &str) -> u64 {
        let value = handle.split_once('=').map_or("", |(_, v)| v);
        let Some(key) = Handle::parse(value).map(|h| h.key()) else { return 0 };
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("h", AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await;
        let item = out.ok().and_then(|o| o.item().cloned());
        item.and_then(|i| i.get("ver").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    /// The items left in the table.
    async fn items_left(&self) -> Result<u64, String> {
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .select(Select::Count)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut count = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| shared::error_chain(&e))?;
            count += u64::try_from(page.count).unwrap_or(0);
        }
        Ok(count)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `p`-th percentile (nearest rank) of sorted `v`.
fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    let round = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "n": v.len(),
        "p50_ms": round(percentile(&v, 50.0)),
        "p90_ms": round(percentile(&v, 90.0)),
        "p99_ms": round(percentile(&v, 99.0)),
        "max_ms": round(v.last().copied().unwrap_or(f64::NAN)),
    })
}

#[tokio::main]
async fn main() {
    // LOAD_LOG=FILE: what the functions log at WARN and above, one line each, to FILE (the
    // reasons behind a refusal the report counts by code only).
    if let Some(path) = std::env::var_os("LOAD_LOG") {
        match std::fs::File::create(&path) {
            Ok(file) => tracing_subscriber::fmt()
                .with_writer(Mutex::new(file))
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .init(),
            Err(e) => eprintln!("load: LOAD_LOG {}: {e}", PathBuf::from(&path).display()),
        }
    }
    let settings = match Settings::from_args() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    match run(settings).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(why) => {
            eprintln!("load: {why}");
            std::process::exit(2);
        }
    }
}

/// The whole run; whether every check held.
async fn run(settings: Settings) -> Result<bool, String> {
    let load_before = loadavg();
    let began = Instant::now();
    let started_at = unix_now();
    let counts = Arc::new(Counts::default());
    let provider_port = stack::free_port().map_err(|e| e.to_string())?;
    let proxy_port =
        proxy::start(provider_port, counts.clone()).await.map_err(|e| e.to_string())?;
    let name = format!("load-{}", settings.mode);
    let options = Options {
        providers: vec![ProviderSpec {
            kind: ProviderKind::OidcProvider,
            name: ProviderKind::OidcProvider.name().to_owned(),
            client_id: stack::CLIENT_ID.to_owned(),
            port: provider_port,
            issuer: Some(format!("http://127.0.0.1:{proxy_port}")),
            env: vec![
                ("PROVIDER_ACCESS_TOKEN_TTL".into(), settings.access_ttl.to_string()),
                // oidc-provider's development store keeps 1,000 entries by default, dropping the
                // least recently used: each session holds several (its provider session,
                // grant, interactions, tokens), so a run's grants would be forgotten.
                ("PROVIDER_STORE_ENTRIES".into(), (settings.sessions * 50 + 10_000).to_string()),
                ("PROVIDER_EXTRA_USERS".into(), settings.sessions.div_ceil(2).to_string()),
            ],
        }],
        functions: false,
        sessions: true,
        function_log_level: None,
        function_env: Vec::new(),
        logs: Some(stack::root().join("target/bench").join(&name)),
        ..Options::default()
    };
    let stack = stack::Stack::start(&name, options).await.map_err(|e| e.to_string())?;
    let stack_secs = began.elapsed().as_secs_f64();
    let table = stack.session_table.clone().ok_or("the stack has no session table")?;
    let deployment = Deployment { env: stack.function_env(), secret_id: stack.secret_id.clone() };
    let fleet = deployment.fleet(settings.instances).await?;
    let before = counts.snapshot();
    eprintln!(
        "load: stack up in {stack_secs:.1} s, {} instances of each function built (slowest cold start {:.0} ms); {} sessions",
        settings.instances,
        fleet.slowest_start.as_secs_f64() * 1e3,
        settings.sessions
    );
    let dynamodb = stack.moto.dynamodb().map_err(|e| e.to_string())?;
    let run = Arc::new(Run {
        gate: Semaphore::new(settings.in_flight),
        http: stack::http_client(Duration::from_secs(60)),
        settings: settings.clone(),
        fleet,
        record: Record::default(),
        dynamodb,
        table,
    });
    let driving = Instant::now();
    let tasks: Vec<_> =
        (0..settings.sessions).map(|i| tokio::spawn(run.clone().session(i))).collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.map_err(|e| format!("a session task failed: {e}"))?);
    }
    let driven_secs = driving.elapsed().as_secs_f64();
    let items_left = run.items_left().await?;
    let after = counts.snapshot();
    let load_after = loadavg();

    let provider: BTreeMap<String, u64> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    let sum = |f: fn(&Outcome) -> u64| outcomes.iter().map(f).sum::<u64>();
    let logged_in = outcomes.iter().filter(|o| o.logged_in).count();
    let lost_sessions = outcomes.iter().filter(|o| o.lost > 0).count();
    let outlived_sessions = outcomes.iter().filter(|o| o.outlived > 0).count();
    let grants_made = provider.get("token:refresh_token").copied().unwrap_or(0);
    let grants_stored = sum(|o| o.version);
    let grants_due = sum(|o| o.grants_due);
    let refreshes = sum(|o| o.refreshes);
    let timings = std::mem::take(
        &mut *run.record.timings.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let count = |op: &str| timings.get(op).map_or(0, Vec::len) as u64;
    let per = |requests: u64, n: u64| if n == 0 { f64::NAN } else { requests as f64 / n as f64 };
    let fleet = &run.fleet;
    let histogram = run
        .record
        .refresh_dynamodb
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let live_requests: u64 = histogram.iter().map(|(k, v)| k * v).sum();
    let checks = json!({
        "all_logged_in": logged_in == settings.sessions,
        "none_lost": lost_sessions == 0 && logged_in == settings.sessions,
        "none_outlived": outlived_sessions == 0 && items_left == 0,
        "grants_made_equal_grants_stored": grants_made == grants_stored,
    });
    let passed = checks.as_object().is_some_and(|c| c.values().all(|v| v == &json!(true)));
    let report = json!({
        "mode": settings.mode,
        "started_at": started_at,
        "settings": {
            "sessions": settings.sessions,
            "instances_per_function": settings.instances,
            "in_flight_limit": settings.in_flight,
            "tabs": settings.tabs,
            "access_token_ttl_s": settings.access_ttl,
            "renew_margin_s": settings.margin(),
            "refresh_every_s": settings.refresh_every.as_secs(),
            "refresh_for_s": settings.refresh_for.as_secs(),
            "ramp_s": settings.ramp.as_secs(),
            "users": settings.sessions.div_ceil(2),
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        },
        "machine": {
            "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            "load_before": load_before,
            "load_after": load_after,
        },
        "durations_s": {
            "stack_start": stack_secs,
            "driving": driven_secs,
            "total": began.elapsed().as_secs_f64(),
        },
        "most_in_flight": run.record.most_in_flight.load(Ordering::Relaxed),
        "sessions": {
            "asked": settings.sessions,
            "logged_in": logged_in,
            "lost": lost_sessions,
            "outlived": outlived_sessions,
            "items_left": items_left,
        },
        "refreshes": {
            "live": refreshes,
            "after_logout": count("refresh after logout"),
            "dynamodb_per_live_refresh": per(live_requests, refreshes),
            "dynamodb_histogram": histogram.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        },
        "grants": { "made": grants_made, "stored": grants_stored, "due_by_the_clock": grants_due },
        "dynamodb": {
            "login": fleet.login.dynamodb.get(),
            "callback": fleet.callback.dynamodb.get(),
            "refresh": fleet.refresh.dynamodb.get(),
            "logout": fleet.logout.dynamodb.get(),
            "per_login": per(fleet.callback.dynamodb.get(), count("callback")),
            "per_refresh": per(fleet.refresh.dynamodb.get(), count("refresh") + count("refresh after logout")),
            "per_logout": per(fleet.logout.dynamodb.get(), count("logout")),
        },
        "provider_requests": provider,
        "latency": timings.into_iter().map(|(k, v)| (k, summary(v))).collect::<serde_json::Map<_, _>>(),
        "errors": std::mem::take(&mut *run.record.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
        "checks": checks,
        "passed": passed,
    });
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&settings.out, text + "\n")
        .map_err(|e| format!("{}: {e}", settings.out.display()))?;
    eprintln!(
        "load: {logged_in}/{} sessions, {refreshes} refreshes, grants made {grants_made} / stored {grants_stored} / due {grants_due}, {items_left} items left, checks {}; {}",
        settings.sessions,
        if passed { "passed" } else { "FAILED" },
        settings.out.display()
    );
    Ok(passed)
}
