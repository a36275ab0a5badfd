//! Login options from the SPA (`prompt`, `max_age`, `login_hint`, `acr_values`) against the
//! real `oidc-provider`: silent re-login with `prompt=none`, `login_required` when the provider
//! has no session, `max_age` passed through and its `auth_time` checked, `acr` checked by us,
//! and options outside the allow list refused before any login starts.

use std::time::Duration;

use e2e::flows::first_cookie;
use e2e::{Jar, Options, Stack, client, sign_in_at_provider};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

/// The acr every sign-in at the provider records (`PROVIDER_ACR`).
const PWD: &str = "urn:spa-login:pwd";
/// An acr the provider never achieves.
const MFA: &str = "urn:spa-login:mfa";

fn options() -> Options {
    let env = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    Options {
        function_env: vec![
            env("LOGIN_PROMPTS", "none login"),
            env("LOGIN_MAX_AGE", "3600"),
            env("LOGIN_HINT", "true"),
            env("LOGIN_ACR_VALUES", &format!("{PWD} {MFA}")),
        ],
        provider_env: vec![env("PROVIDER_ACR", PWD)],
        ..Options::default()
    }
}

/// A login started at `path` (`/api/login?...` or `/authorization-code/login?...`): the
/// provider URL and the transaction cookie (`name=value`).
async fn start(stack: &Stack, http: &reqwest::Client, path: &str) -> (String, String) {
    let resp = http.get(stack.function("login", path)).send().await.unwrap();
    let status = resp.status();
    let cookie = first_cookie(&resp);
    assert!(cookie.starts_with("__Host-oidc-tx-"), "{path}: {cookie}");
    let url = if status == 302 {
        resp.headers()[LOCATION].to_str().unwrap().to_owned()
    } else {
        assert_eq!(status, 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        body["login_url"].as_str().unwrap().to_owned()
    };
    (url, cookie)
}

/// Where the browser ends when it follows the provider's redirects from `url` without
/// submitting anything: `Ok` at our redirect URI (with `code` or `error`), `Err` at a page of
/// the provider's (its login form).
async fn follow(http: &reqwest::Client, jar: &mut Jar, url: &str) -> Result<url::Url, url::Url> {
    let mut url = url::Url::parse(url).unwrap();
    for _ in 0..12 {
        if url.query_pairs().any(|(k, _)| k == "code" || k == "error") {
            return Ok(url);
        }
        let mut req = http.get(url.as_str());
        if let Some(cookies) = jar.header(url.as_str()) {
            req = req.header(COOKIE, cookies);
        }
        let resp = req.send().await.unwrap();
        jar.store(url.as_str(), &resp);
        if !resp.status().is_redirection() {
            assert_eq!(resp.status(), 200, "{url}");
            return Err(url);
        }
        url = url.join(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
    }
    panic!("too many redirects");
}

/// The SPA's callback with the query of `redirect` and the login's cookie: status and body,
/// after checking that the login's cookie is cleared.
async fn spa_callback(
    stack: &Stack,
    http: &reqwest::Client,
    redirect: &url::Url,
    cookie: &str,
) -> (u16, Value) {
    let path = format!("/api/callback?{}", redirect.query().unwrap());
    let resp = http.get(stack.function("callback", &path)).header(COOKIE, cookie).send().await;
    let resp = resp.unwrap();
    let name = cookie.split_once('=').unwrap().0;
    let cleared = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with(&format!("{name}=;")));
    assert!(cleared, "the login's transaction cookie is cleared");
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A SPA login with `query` that the provider must answer without showing any page, then its
/// callback.
async fn silent(stack: &Stack, http: &reqwest::Client, jar: &mut Jar, query: &str) -> (u16, Value) {
    let (url, cookie) = start(stack, http, &format!("/api/login?{query}")).await;
    let redirect = follow(http, jar, &url)
        .await
        .unwrap_or_else(|page| panic!("{query}: the provider showed {page}"));
    spa_callback(stack, http, &redirect, &cookie).await
}

#[tokio::test]
async fn login_options_silent_relogin_max_age_acr_and_refusals() {
    let stack = Stack::start("login_options", options()).await;
    let http = client();

    // (d) Options outside the allow list, malformed or repeated: 400, no login started.
    for query in [
        "prompt=consent",
        "prompt=none+login",
        "prompt=none&prompt=none",
        "max_age=3601",
        "max_age=soon",
        &format!("acr_values={}", "urn:spa-login:hwk"),
    ] {
        let resp = http.get(stack.function("login", &format!("/api/login?{query}"))).send().await;
        let resp = resp.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        assert!(resp.headers().get(SET_COOKIE).is_none(), "{query} set a cookie");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "login_option_refused", "{query}");
    }
    // Allowed ones reach the provider's authorize URL, `?provider=` beside them.
    let (url, _) = start(
        &stack,
        &http,
        "/api/login?provider=default&prompt=login&max_age=300&login_hint=alice",
    )
    .await;
    let sent: std::collections::HashMap<_, _> =
        url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
    assert_eq!(
        (sent["prompt"].as_str(), sent["max_age"].as_str(), sent["login_hint"].as_str()),
        ("login", "300", "alice")
    );

    // (a) prompt=none without a session at the provider: login_required, in both flows.
    let mut jar = Jar::default();
    let (status, body) = silent(&stack, &http, &mut jar, "prompt=none").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("login_required")), "{body}");
    let (url, cookie) = start(&stack, &http, "/authorization-code/login?prompt=none").await;
    let redirect = follow(&http, &mut jar, &url).await.expect("no page with prompt=none");
    assert!(redirect.as_str().starts_with(&stack.server_redirect()));
    let path = format!("/authorization-code/callback?{}", redirect.query().unwrap());
    let resp =
        http.get(stack.function("callback", &path)).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/?error=login_required");

    // Sign in once, with the forms.
    let (url, cookie) = start(&stack, &http, "/api/login").await;
    let redirect = sign_in_at_provider(&http, &mut jar, &url, "alice", "alice").await;
    let (status, body) = spa_callback(&stack, &http, &redirect, &cookie).await;
    assert_eq!(status, 200, "{body}");

    // (b) Now prompt=none logs in silently: redirects only, no page.
    let (status, body) = silent(&stack, &http, &mut jar, "prompt=none").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["sub"], "alice");
    // ... with max_age, whose auth_time the provider sends and we check.
    let (status, body) = silent(&stack, &http, &mut jar, "prompt=none&max_age=3600").await;
    assert_eq!(status, 200, "{body}");

    // (c) max_age passed through: once the sign-in is older than max_age, the provider cannot
    // answer silently (login_required) and, asked interactively, shows its login form again
    // although its session lives; the fresh sign-in then passes our auth_time check.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = silent(&stack, &http, &mut jar, "prompt=none&max_age=1").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("login_required")), "{body}");
    let (url, cookie) = start(&stack, &http, "/api/login?max_age=1").await;
    let page = follow(&http, &mut jar, &url).await.expect_err("the provider asks again");
    let redirect = sign_in_at_provider(&http, &mut jar, page.as_str(), "alice", "alice").await;
    let (status, body) = spa_callback(&stack, &http, &redirect, &cookie).await;
    assert_eq!(status, 200, "{body}");

    // acr: the provider records PWD; asked for PWD, accepted; asked for MFA only, the provider
    // still answers (acr_values is voluntary), and we refuse.
    let (status, body) =
        silent(&stack, &http, &mut jar, &format!("prompt=none&acr_values={PWD}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        silent(&stack, &http, &mut jar, &format!("prompt=none&acr_values={MFA}")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("acr_not_satisfied")), "{body}");
}
