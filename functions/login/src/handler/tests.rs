//! The handler fed with real API Gateway HTTP API (payload v2) events.

use lambda_http::request::from_str;
use shared::keygen::KeyAlg;
use shared::testing::{FakeProvider, secret_json};

use super::*;

async fn state() -> (FakeProvider, State) {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    (provider, state)
}

fn tx_of(resp: &Response<String>, state: &State) -> shared::transaction::Transaction {
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    let value = shared::transaction::find_in_header(set_cookie.split(';').next().unwrap()).unwrap();
    shared::transaction::Transaction::open(value, &state.cookie_keys, unix_now()).unwrap()
}

#[tokio::test]
async fn spa_login_event_answers_the_login_url_and_seals_return_to() {
    let (provider, state) = state().await;
    let req = from_str(include_str!("../../tests/data/apigw-v2-spa-login.json")).unwrap();
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert!(
        body["login_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/authorize?", provider.issuer()))
    );
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    for attr in ["__Host-oidc-tx=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let tx = tx_of(&resp, &state);
    assert_eq!(tx.return_to.as_str(), "/orders?page=2");
    assert_eq!(tx.flow, shared::transaction::Flow::Spa);
}

#[tokio::test]
async fn server_login_event_redirects_and_drops_a_foreign_return_to() {
    let (_provider, state) = state().await;
    let req = from_str(include_str!("../../tests/data/apigw-v2-server-login.json")).unwrap();
    let resp = handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()["location"].to_str().unwrap().contains("code_challenge_method=S256"));
    let tx = tx_of(&resp, &state);
    assert_eq!(tx.return_to.as_str(), "/home");
    assert_eq!(tx.flow, shared::transaction::Flow::Server);
}
