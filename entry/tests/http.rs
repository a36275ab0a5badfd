//! The entry point fed with real API Gateway HTTP API (payload v2) events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_http::Response;
use lambda_http::request::from_str;
use shared::keygen::KeyAlg;
use shared::testing::{FakeProvider, secret_json};
use shared::{Flow, Login, Transaction, cookies, unix_now};

async fn login() -> (FakeProvider, Login) {
    let provider = FakeProvider::start().await;
    let login = provider.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    (provider, login)
}

fn tx_of(resp: &Response<lambda_http::Body>, login: &Login) -> Transaction {
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    let value = cookies::transactions(set_cookie.split(';').next().unwrap()).next().unwrap().1;
    Transaction::open(value, login.cookie_keys(), unix_now()).unwrap()
}

#[tokio::test]
async fn spa_login_event_answers_the_login_url_and_seals_return_to() {
    let (provider, login) = login().await;
    let req = from_str(include_str!("data/apigw-v2-spa-login.json")).unwrap();
    let resp = entry::handle(&login, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert!(
        body["login_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/authorize?", provider.issuer()))
    );
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    for attr in ["__Host-oidc-tx-", "Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let tx = tx_of(&resp, &login);
    assert_eq!(tx.return_to.as_str(), "/orders?page=2");
    assert_eq!(tx.flow, Flow::Spa);
}

#[tokio::test]
async fn server_login_event_redirects_and_drops_a_foreign_return_to() {
    let (_provider, login) = login().await;
    let req = from_str(include_str!("data/apigw-v2-server-login.json")).unwrap();
    let resp = entry::handle(&login, req).await.unwrap();
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()["location"].to_str().unwrap().contains("code_challenge_method=S256"));
    let tx = tx_of(&resp, &login);
    assert_eq!(tx.return_to.as_str(), "/home");
    assert_eq!(tx.flow, Flow::Server);
}
