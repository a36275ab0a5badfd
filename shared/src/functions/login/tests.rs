use std::collections::HashMap;

use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use url::Url;

use http::Method;

use super::*;
use crate::keygen::KeyAlg;
use crate::testing::{FakeProvider, SERVER_REDIRECT, SPA_REDIRECT, secret_json};
use crate::unix_now;
use crate::web::routes::serve;

async fn state() -> (FakeProvider, Login) {
    let provider = FakeProvider::start().await;
    let state = provider.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    (provider, state)
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

async fn get(state: &Login, path: &str, query: Option<&str>) -> http::Response<String> {
    let req = Request { query, ..crate::testing::request(&Method::GET, path) };
    serve(state, &req, unix_now()).await.into_http()
}

#[tokio::test]
async fn authorize_url_carries_pkce_state_nonce_and_scopes() {
    let (provider, state) = state().await;
    let start = state.start(Flow::Spa, None, Some("/app"), unix_now()).await.unwrap();
    let url = &start.authorize_url;
    assert!(url.as_str().starts_with(&format!("{}/authorize?", provider.issuer())));
    let q = query(url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], crate::testing::CLIENT_ID);
    assert_eq!(q["redirect_uri"], SPA_REDIRECT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    let mut scopes: Vec<_> = q["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["email", "openid", "profile"]);
    // 32 random bytes each, base64url: 43 characters, 256 bits.
    assert_eq!(q["state"].len(), 43);
    assert_eq!(q["nonce"].len(), 43);
    assert!(!url.as_str().contains("client_secret") && !url.as_str().contains("verifier"));
}

#[tokio::test]
async fn every_login_is_fresh() {
    let (_provider, state) = state().await;
    let a = state.start(Flow::Spa, None, None, unix_now()).await.unwrap();
    let b = state.start(Flow::Spa, None, None, unix_now()).await.unwrap();
    let (qa, qb) = (query(&a.authorize_url), query(&b.authorize_url));
    for field in ["state", "nonce", "code_challenge"] {
        assert_ne!(qa[field], qb[field], "{field}");
    }
    assert_ne!(a.set_cookie, b.set_cookie);
}

#[tokio::test]
async fn the_cookie_holds_what_the_callback_needs() {
    let (_provider, state) = state().await;
    let now = unix_now();
    let start = state.start(Flow::Server, None, Some("//evil.example"), now).await.unwrap();
    let q = query(&start.authorize_url);
    assert_eq!(q["redirect_uri"], SERVER_REDIRECT);
    let value =
        cookies::transactions(start.set_cookie.split(';').next().unwrap()).next().unwrap().1;
    let tx = Transaction::open(value, state.cookie_keys(), now).unwrap();
    assert_eq!(tx.state, q["state"]);
    assert_eq!(secrecy::ExposeSecret::expose_secret(&tx.nonce), q["nonce"].as_str());
    assert_eq!(tx.flow, Flow::Server);
    assert_eq!(tx.return_to.as_str(), "/home", "an unsafe return_to falls back to POST_LOGIN_PATH");
    assert_eq!(tx.issued_at, now);
    let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
        &openidconnect::PkceCodeVerifier::new(
            secrecy::ExposeSecret::expose_secret(&tx.pkce_verifier).to_owned(),
        ),
    );
    assert_eq!(challenge.as_str(), q["code_challenge"]);
}

#[tokio::test]
async fn spa_route_answers_json_and_server_route_redirects() {
    let (_provider, state) = state().await;
    let resp = get(&state, "/api/login", Some("return_to=%2Fapp")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert!(body["login_url"].as_str().unwrap().contains("code_challenge="));
    assert!(resp.headers()[SET_COOKIE].to_str().unwrap().starts_with("__Host-oidc-tx-"));

    let resp = get(&state, "/authorization-code/login", None).await;
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()[LOCATION].to_str().unwrap().contains("code_challenge="));
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()[SET_COOKIE].to_str().unwrap().contains("HttpOnly"));
}

#[tokio::test]
async fn a_flow_without_redirect_uri_is_switched_off() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state: Login = provider
        .function(&secret_json(KeyAlg::Es256, 1), &[("OIDC_SERVER_REDIRECT_URI", "")])
        .await;
    let resp = get(&state, "/authorization-code/login", None).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.body().contains("flow_not_configured"));
    assert!(resp.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn bad_requests_are_json_errors_without_cookies() {
    let (_provider, state) = state().await;
    for (path, query, status, code) in [
        ("/api/login", Some("return_to=/a&return_to=/b"), 400, "bad_request"),
        ("/api/nope", None, 404, "not_found"),
    ] {
        let resp = get(&state, path, query).await;
        assert_eq!(resp.status(), status);
        let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
        assert_eq!(body["error"], code);
        assert!(resp.headers().get(SET_COOKIE).is_none());
    }
    let req = crate::testing::request(&Method::POST, "/api/login");
    assert_eq!(serve(&state, &req, unix_now()).await.status(), 405);
}

const OPTIONS: [(&str, &str); 4] = [
    ("LOGIN_PROMPTS", "none login create"),
    ("LOGIN_MAX_AGE", "600"),
    ("LOGIN_HINT", "true"),
    ("LOGIN_ACR_VALUES", "urn:a:pwd urn:a:mfa"),
];

#[tokio::test]
async fn allowed_login_options_reach_the_authorize_url_and_the_transaction() {
    let provider = FakeProvider::start().await;
    let state: Login = provider.function(&secret_json(KeyAlg::Es256, 1), &OPTIONS).await;
    let now = unix_now();
    for route in ["/api/login", "/authorization-code/login"] {
        let resp = get(
            &state,
            route,
            Some("prompt=login+create&max_age=300&login_hint=alice%40example.com&acr_values=urn%3Aa%3Amfa+urn%3Aa%3Apwd&return_to=%2Fx"),
        )
        .await;
        let url = match resp.status().as_u16() {
            200 => {
                let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
                body["login_url"].as_str().unwrap().to_owned()
            }
            302 => resp.headers()[LOCATION].to_str().unwrap().to_owned(),
            other => panic!("{route}: {other} {}", resp.body()),
        };
        let q = query(&Url::parse(&url).unwrap());
        assert_eq!(q["prompt"], "login create");
        assert_eq!(q["max_age"], "300");
        assert_eq!(q["login_hint"], "alice@example.com");
        assert_eq!(q["acr_values"], "urn:a:mfa urn:a:pwd");
        let set_cookie = resp.headers()[SET_COOKIE].to_str().unwrap();
        let value = cookies::transactions(set_cookie.split(';').next().unwrap()).next().unwrap().1;
        let tx = Transaction::open(value, state.cookie_keys(), now).unwrap();
        assert_eq!(tx.max_age, Some(300));
        assert_eq!(tx.acr_values, ["urn:a:mfa", "urn:a:pwd"]);
        assert_eq!(tx.return_to.as_str(), "/x");
    }
    // Without options the authorize URL is what it always was, and so is the transaction.
    let start = state.start(Flow::Spa, None, None, now).await.unwrap();
    let q = query(&start.authorize_url);
    for name in ["prompt", "max_age", "login_hint", "acr_values"] {
        assert!(!q.contains_key(name), "{name}");
    }
    let value =
        cookies::transactions(start.set_cookie.split(';').next().unwrap()).next().unwrap().1;
    let tx = Transaction::open(value, state.cookie_keys(), now).unwrap();
    assert_eq!((tx.max_age, tx.acr_values.len()), (None, 0));
}

#[tokio::test]
async fn refused_login_options_answer_400_and_start_no_login() {
    let provider = FakeProvider::start().await;
    let default: Login = provider.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let allowing: Login = provider.function(&secret_json(KeyAlg::Es256, 1), &OPTIONS).await;
    let refused_by_default =
        ["prompt=none", "max_age=60", "login_hint=alice", "acr_values=urn%3Aa%3Apwd"];
    let refused_anyway = [
        "prompt=consent",
        "prompt=none+login",
        "prompt=none&prompt=none",
        "prompt=",
        "max_age=601",
        "max_age=-1",
        "max_age=1e3",
        "max_age=1&max_age=1",
        "login_hint=a&login_hint=b",
        "login_hint=a%0Ab",
        "acr_values=urn%3Aa%3Ahwk",
        "acr_values=urn%3Aa%3Apwd&acr_values=urn%3Aa%3Amfa",
        "provider=default&prompt=select_account",
    ];
    let cases = refused_by_default
        .iter()
        .map(|q| (&default, *q))
        .chain(refused_anyway.iter().map(|q| (&allowing, *q)));
    for (state, q) in cases {
        for route in ["/api/login", "/authorization-code/login"] {
            let resp = get(state, route, Some(q)).await;
            assert_eq!(resp.status(), 400, "{route}?{q}");
            assert!(
                resp.body().contains("\"login_option_refused\""),
                "{route}?{q}: {}",
                resp.body()
            );
            assert!(resp.headers().get(SET_COOKIE).is_none(), "{route}?{q} set a cookie");
            assert!(resp.headers().get(LOCATION).is_none());
        }
    }
    // `?provider=` still picks the provider beside options, and names an unknown one.
    let resp = get(&allowing, "/api/login", Some("provider=default&prompt=none")).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let resp = get(&allowing, "/api/login", Some("provider=other&prompt=none")).await;
    assert!(resp.body().contains("unknown_provider"));
}

#[tokio::test]
async fn with_dpop_the_login_binds_its_code_to_the_key_it_seals_for_the_callback() {
    let provider = FakeProvider::start_with(
        crate::testing::key("idp-1", KeyAlg::Rs256),
        serde_json::json!({"dpop_signing_alg_values_supported": ["ES256"]}),
    )
    .await;
    let login: Login =
        provider.function(&secret_json(KeyAlg::Es256, 1), &[("OIDC_DPOP", "on")]).await;
    let now = unix_now();
    let start = login.start(Flow::Spa, None, None, now).await.unwrap();
    let jkt = query(&start.authorize_url)["dpop_jkt"].clone();
    let sealed = start.set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let tx = Transaction::open(&sealed, login.cookie_keys(), now).unwrap();
    let key = crate::oidc::dpop::DpopKey::from_stored(tx.dpop_key.as_ref().unwrap()).unwrap();
    assert_eq!(key.thumbprint(), jkt);
    // Each login its own key; none without DPoP.
    let other = login.start(Flow::Spa, None, None, now).await.unwrap();
    assert_ne!(query(&other.authorize_url)["dpop_jkt"], jkt);
    let (_, plain) = state().await;
    let start = plain.start(Flow::Spa, None, None, now).await.unwrap();
    assert!(!query(&start.authorize_url).contains_key("dpop_jkt"));
}
