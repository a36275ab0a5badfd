//! Hostile browsers: altered or missing state and cookies, replay, code injection, RFC 9207,
//! provider errors carrying HTML, open redirects.

use http::Method;
use serde_json::json;
use shared::keygen::KeyAlg;
use shared::testing::Rp;
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, secret_json};
use shared::{CookieKey, Flow, Transaction, unix_now};
use wiremock::ResponseTemplate;

async fn setup_no_exchange() -> (FakeProvider, Rp) {
    let (provider, state) = setup().await;
    // Every case here is refused before the code exchange.
    mount_token(&provider, ResponseTemplate::new(500), 0).await;
    (provider, state)
}

async fn refused(state: &Rp, query: String, cookie: Option<&str>, status: u16, code: &str) {
    let resp = call(state, Method::GET, "/api/callback", Some(&query), b"", cookie).await;
    assert_refused(&resp, status, code);
}

#[tokio::test]
async fn state_altered() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    let altered = format!("{}x", s.state);
    refused(
        &state,
        ok_query(&p, &s).replace(&s.state, &altered),
        Some(&s.cookie),
        400,
        "state_mismatch",
    )
    .await;
}

#[tokio::test]
async fn state_missing() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(&state, format!("code=c&iss={}", p.issuer()), Some(&s.cookie), 400, "state_mismatch")
        .await;
}

#[tokio::test]
async fn cookie_missing() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(&state, ok_query(&p, &s), None, 400, "transaction_missing").await;
}

#[tokio::test]
async fn cookie_tampered() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    let tampered = format!("{}A", &s.cookie[..s.cookie.len() - 1]);
    refused(&state, ok_query(&p, &s), Some(&tampered), 400, "transaction_invalid").await;
}

#[tokio::test]
async fn cookie_expired() {
    let (p, state) = setup_no_exchange().await;
    let start = state.login.start(Flow::Spa, None, unix_now() - 3600).unwrap();
    let q: std::collections::HashMap<_, _> =
        start.authorize_url.query_pairs().into_owned().collect();
    let s = Started {
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
        cookie: start.set_cookie.split(';').next().unwrap().into(),
    };
    refused(&state, ok_query(&p, &s), Some(&s.cookie), 400, "transaction_expired").await;
}

#[tokio::test]
async fn cookie_from_another_login() {
    let (p, state) = setup_no_exchange().await;
    let mine = begin(&state, Flow::Spa, None);
    let theirs = begin(&state, Flow::Spa, None);
    refused(&state, ok_query(&p, &mine), Some(&theirs.cookie), 400, "state_mismatch").await;
}

#[tokio::test]
async fn cookie_under_a_retired_key() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    // Sealed under a key that is no longer in the secret.
    let tx = Transaction::open(
        shared::cookies::transaction(&s.cookie).unwrap(),
        state.login.cookie_keys(),
        unix_now(),
    )
    .unwrap();
    let retired = tx.seal(&CookieKey::new([9; 32])).unwrap();
    refused(
        &state,
        ok_query(&p, &s),
        Some(&format!("__Host-oidc-tx={retired}")),
        400,
        "transaction_invalid",
    )
    .await;
}

#[tokio::test]
async fn cookie_oversized() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(
        &state,
        ok_query(&p, &s),
        Some(&format!("__Host-oidc-tx={}", "A".repeat(5000))),
        400,
        "transaction_invalid",
    )
    .await;
}

#[tokio::test]
async fn cookie_from_the_other_flow() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Server, None);
    refused(&state, ok_query(&p, &s), Some(&s.cookie), 400, "transaction_flow_mismatch").await;
}

#[tokio::test]
async fn code_injection_with_a_second_code() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(
        &state,
        format!("{}&code=injected", ok_query(&p, &s)),
        Some(&s.cookie),
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn rfc9207_iss_wrong() {
    let (_p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(
        &state,
        format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", s.state),
        Some(&s.cookie),
        400,
        "issuer_mismatch",
    )
    .await;
}

#[tokio::test]
async fn rfc9207_iss_absent_although_announced() {
    let (_p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    refused(&state, format!("code=c&state={}", s.state), Some(&s.cookie), 400, "issuer_mismatch")
        .await;
}

#[tokio::test]
async fn provider_error_with_html_description() {
    let (p, state) = setup_no_exchange().await;
    let s = begin(&state, Flow::Spa, None);
    let query = format!(
        "error=access_denied&error_description=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&state={}&iss={}",
        s.state,
        p.issuer()
    );
    let resp = call(&state, Method::GET, "/api/callback", Some(&query), b"", Some(&s.cookie)).await;
    assert_refused(&resp, 401, "login_failed");
    assert!(!resp.body().contains("img") && !resp.body().contains("alert"));
}

#[tokio::test]
async fn replay_of_a_used_code_and_cookie() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    let id_token = p.id_token(&p.claims(&s.nonce, ACCESS_TOKEN));
    // The provider honours a code once, then answers invalid_grant.
    wiremock::Mock::given(wiremock::matchers::path("/token"))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .up_to_n_times(1)
        .expect(1)
        .mount(&p.server)
        .await;
    mount_token(&p, ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})), 1)
        .await;
    mount_userinfo(&p, json!({"sub": "alice"}), 1).await;
    assert_eq!(spa_get(&state, &s, &ok_query(&p, &s)).await.status(), 200);
    let replay = spa_get(&state, &s, &ok_query(&p, &s)).await;
    assert_refused(&replay, 502, "token_exchange_failed");
}

#[tokio::test]
async fn open_redirect_return_to_in_its_many_spellings() {
    let (_p, state) = setup_no_exchange().await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%2f%2fevil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        "http:evil.example",
        " //evil.example",
        "/\u{3002}/evil",
    ] {
        let start = state.login.start(Flow::Server, Some(evil), unix_now()).unwrap();
        let value =
            shared::cookies::transaction(start.set_cookie.split(';').next().unwrap()).unwrap();
        let tx = Transaction::open(value, state.login.cookie_keys(), unix_now()).unwrap();
        assert_eq!(tx.return_to.as_str(), "/home", "{evil:?} was kept");
    }
}

#[test]
fn secret_json_helper_is_valid() {
    assert!(shared::Secret::from_json(&secret_json(KeyAlg::Es256, 3)).is_ok());
}
