//! Driving the callback in-process: start a login, script the token endpoint, call the
//! callback, and check a refusal the way every hostile case must be refused.

use http::Method;
use http::header::{REFERRER_POLICY, SET_COOKIE};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, ResponseTemplate};

use super::fixtures::{CLIENT_SECRET, request, secret_json};
use super::provider::FakeProvider;
use super::states::Rp;
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
    // The fake providers announce no PAR endpoint: nothing is pushed.
    let options = crate::infra::config::LoginOptions::default();
    let (start, _) = state.login.prepare(flow, None, return_to, &options, now).unwrap();
    let (state, nonce) = state_and_nonce(&start.authorize_url);
    let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
    Started { state, nonce, cookie }
}

/// The `state` and `nonce` of a login's authorize URL.
fn state_and_nonce(authorize_url: &url::Url) -> (String, String) {
    let mut q: std::collections::HashMap<_, _> = authorize_url.query_pairs().into_owned().collect();
    (q.remove("state").unwrap(), q.remove("nonce").unwrap())
}

/// A browser's cookies for our origin, as it applies our `Set-Cookie`s (RFC 6265 5.3): a
/// name set again replaces its value, `Max-Age=0` deletes it, order of creation is kept.
#[derive(Debug, Default)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    /// Stores `name=value` as a browser would.
    pub fn put(&mut self, pair: &str) {
        let (name, value) = pair.split_once('=').unwrap();
        self.set(name, Some(value));
    }

    /// Applies every `Set-Cookie` of `resp`.
    pub fn apply(&mut self, resp: &http::Response<String>) {
        for set in set_cookies(resp) {
            let parsed = cookie::Cookie::parse(set.as_str()).unwrap();
            let kept = parsed.max_age() != Some(cookie::time::Duration::ZERO);
            self.set(parsed.name(), kept.then(|| parsed.value()));
        }
    }

    /// Cookie `name` now holds `value`, or is deleted for `None`; a new name goes last.
    fn set(&mut self, name: &str, value: Option<&str>) {
        self.0.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.0.push((name.to_owned(), value.to_owned()));
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
    let req = Request { cookies: jar.header(), ..request(&Method::GET, path) };
    let resp = serve(&state.login, &req, now).await.into_http();
    let url = match flow {
        Flow::Spa => json_body(&resp)["login_url"].as_str().unwrap().to_owned(),
        Flow::Server => resp.headers()[http::header::LOCATION].to_str().unwrap().to_owned(),
    };
    jar.apply(&resp);
    let (state, nonce) = state_and_nonce(&url::Url::parse(&url).unwrap());
    let name = crate::web::cookies::transaction_name(&state);
    let (_, sealed) = jar.0.iter().find(|(n, _)| *n == name).expect("the login's cookie");
    let cookie = format!("{name}={sealed}");
    Started { state, nonce, cookie }
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
        ..request(&method, path)
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
    let iss: String = url::form_urlencoded::byte_serialize(provider.issuer().as_bytes()).collect();
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
pub fn assert_refused_touching_no_login(resp: &http::Response<String>, status: u16, code: &str) {
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
