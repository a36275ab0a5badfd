//! The token and userinfo endpoints misbehaving.

use std::time::Duration;

use serde_json::json;
use shared::Flow;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, secret_json};
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

/// A provider serving its discovery document and JWKS.
async fn provider() -> FakeProvider {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    provider
}

/// A login against `provider` whose token endpoint answers `token` and userinfo answers
/// `userinfo` (expected once, to our access token) or is not to be reached.
async fn login_to(
    provider: &FakeProvider,
    token: impl FnOnce(&FakeProvider, &str) -> ResponseTemplate,
    userinfo: Option<ResponseTemplate>,
) -> http::Response<String> {
    let http =
        shared::http_client_with(Duration::from_secs(1), Duration::from_millis(800)).unwrap();
    let state = provider.state_with_http(&secret_json(KeyAlg::Es256, 1), http).await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(provider, token(provider, &id_token), 1).await;
    match userinfo {
        Some(u) => mount_userinfo_answer(provider, u, 1).await,
        None => mount_userinfo_answer(provider, ResponseTemplate::new(500), 0).await,
    }
    spa_get(&state, &started, &ok_query(provider, &started)).await
}

/// [`login_to`] a fresh provider.
async fn login(
    token: impl FnOnce(&FakeProvider, &str) -> ResponseTemplate,
    userinfo: Option<ResponseTemplate>,
) -> http::Response<String> {
    login_to(&provider().await, token, userinfo).await
}

fn ok(_: &FakeProvider, id_token: &str) -> ResponseTemplate {
    FakeProvider::token_response(id_token, ACCESS_TOKEN)
}

/// A token response carrying the ID token, our access token and `token_type`.
fn typed(token_type: &'static str) -> impl FnOnce(&FakeProvider, &str) -> ResponseTemplate {
    move |_, id| {
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": ACCESS_TOKEN, "token_type": token_type, "id_token": id}),
        )
    }
}

#[tokio::test]
async fn token_endpoint_oversized_answer() {
    let resp = login(|_, id| ResponseTemplate::new(200).set_body_json(json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "id_token": id, "pad": "x".repeat(300 * 1024)})), None).await;
    assert_refused(&resp, 502, "token_exchange_failed");
}

#[tokio::test]
async fn token_endpoint_slow_answer() {
    let resp = login(
        |_, id| FakeProvider::token_response(id, ACCESS_TOKEN).set_delay(Duration::from_secs(3)),
        None,
    )
    .await;
    assert_refused(&resp, 504, "provider_timeout");
}

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let provider = provider().await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&provider.server)
        .await;
    let redirect = |p: &FakeProvider, _: &str| {
        ResponseTemplate::new(307).insert_header("location", format!("{}/elsewhere", p.issuer()))
    };
    let resp = login_to(&provider, redirect, None).await;
    assert_refused(&resp, 502, "token_exchange_failed");
}

#[tokio::test]
async fn token_response_without_id_token() {
    let resp = login(
        |_, _| {
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"}))
        },
        None,
    )
    .await;
    assert_refused(&resp, 502, "id_token_missing");
}

#[tokio::test]
async fn token_type_in_unusual_case_is_accepted() {
    let userinfo = ResponseTemplate::new(200).set_body_json(json!({"sub": "alice"}));
    let resp = login(typed("BEARER"), Some(userinfo)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

#[tokio::test]
async fn token_type_other_than_bearer_is_refused() {
    let resp = login(typed("DPoP"), None).await;
    assert_refused(&resp, 502, "token_exchange_failed");
}

#[tokio::test]
async fn token_endpoint_errors() {
    for answer in [
        ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "<script>alert(1)</script>"}),
        ),
        ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
        ResponseTemplate::new(500).set_body_string("<html>stack trace</html>"),
        ResponseTemplate::new(503),
        ResponseTemplate::new(200).set_body_string("not json"),
    ] {
        let resp = login(move |_, _| answer, None).await;
        assert_refused(&resp, 502, "token_exchange_failed");
        for shown in ["<script", "invalid_grant", "stack trace"] {
            assert!(!resp.body().contains(shown), "{shown} in {}", resp.body());
        }
    }
}

#[tokio::test]
async fn userinfo_subject_mismatch() {
    let resp =
        login(ok, Some(ResponseTemplate::new(200).set_body_json(json!({"sub": "mallory"})))).await;
    assert_refused(&resp, 401, "userinfo_subject_mismatch");
}

#[tokio::test]
async fn userinfo_without_subject() {
    let resp = login(
        ok,
        Some(ResponseTemplate::new(200).set_body_json(json!({"email": "alice@example.com"}))),
    )
    .await;
    assert_refused(&resp, 502, "userinfo_failed");
}

#[tokio::test]
async fn userinfo_401() {
    let resp = login(ok, Some(ResponseTemplate::new(401))).await;
    assert_refused(&resp, 502, "userinfo_failed");
}

#[tokio::test]
async fn userinfo_5xx() {
    let resp =
        login(ok, Some(ResponseTemplate::new(503).set_body_string("<html>down</html>"))).await;
    assert_refused(&resp, 502, "userinfo_failed");
}
