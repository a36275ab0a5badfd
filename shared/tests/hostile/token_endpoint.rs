//! The token and userinfo endpoints misbehaving.

use std::time::Duration;

use serde_json::json;
use shared::Flow;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, secret_json};
use wiremock::ResponseTemplate;

/// A login whose token endpoint answers `token` and userinfo answers `userinfo` (if reached).
async fn login(
    token: impl FnOnce(&FakeProvider, &str) -> ResponseTemplate,
    userinfo: Option<ResponseTemplate>,
) -> http::Response<String> {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let http =
        shared::http_client_with(Duration::from_secs(1), Duration::from_millis(800)).unwrap();
    let state = provider.state_with_http(&secret_json(KeyAlg::Es256, 1), http).await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&provider, token(&provider, &id_token), 1).await;
    if let Some(u) = userinfo {
        wiremock::Mock::given(wiremock::matchers::path("/userinfo"))
            .respond_with(u)
            .expect(1)
            .mount(&provider.server)
            .await;
    }
    spa_get(&state, &started, &ok_query(&provider, &started)).await
}

fn ok(_: &FakeProvider, id_token: &str) -> ResponseTemplate {
    FakeProvider::token_response(id_token, ACCESS_TOKEN)
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
async fn token_type_in_unusual_case_is_accepted() {
    let resp = login(
        |_, id| {
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": ACCESS_TOKEN, "token_type": "BEARER", "id_token": id}),
            )
        },
        Some(ResponseTemplate::new(200).set_body_json(json!({"sub": "alice"}))),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

#[tokio::test]
async fn token_type_other_than_bearer_is_refused() {
    let resp = login(
        |_, id| {
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": ACCESS_TOKEN, "token_type": "DPoP", "id_token": id}),
            )
        },
        None,
    )
    .await;
    assert_refused(&resp, 502, "token_exchange_failed");
}

#[tokio::test]
async fn token_endpoint_errors() {
    for answer in [
        ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "<script>alert(1)</script>"}),
        ),
        ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
        ResponseTemplate::new(503),
        ResponseTemplate::new(200).set_body_string("not json"),
    ] {
        let resp = login(move |_, _| answer, None).await;
        assert_refused(&resp, 502, "token_exchange_failed");
        assert!(!resp.body().contains("<script") && !resp.body().contains("invalid_grant"));
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
