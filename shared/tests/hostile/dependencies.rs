//! Failing dependencies. The chosen behaviour: a cold start that cannot load its secret,
//! discovery or JWKS fails with one log line naming the cause and the function does not serve
//! (Lambda retries the cold start on the next invocation); per request, provider trouble is a
//! 502/504 JSON answer within the client timeouts. Never a hang past them, never a panic, never
//! a partial session.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::Config;
use shared::Flow;
use shared::ProviderError;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{self, FakeProvider, secret_json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(issuer: &str) -> Config {
    testing::config_with(issuer, &[])
}

async fn discover(http: &shared::Http, config: &Config) -> Result<shared::Metadata, ProviderError> {
    shared::discover(http, &config.default_provider().issuer_str).await
}

#[tokio::test]
async fn provider_unreachable_at_cold_start_fails_fast_and_clearly() {
    let issuer = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let err = discover(&shared::http_client().unwrap(), &config(&issuer)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Fetch { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("discovery document"), "{err}");
}

#[tokio::test]
async fn provider_slow_at_cold_start_times_out() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let http =
        shared::http_client_with(Duration::from_secs(1), Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    let err = discover(&http, &config(&server.uri())).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Fetch { source: shared::FetchError::Timeout, .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn discovery_answering_garbage_fails_clearly() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login page</html>"))
        .mount(&server)
        .await;
    let err = discover(&shared::http_client().unwrap(), &config(&server.uri())).await.unwrap_err();
    assert!(matches!(err, ProviderError::Invalid { .. }), "{err}");
    assert!(!err.to_string().contains("login page"), "the provider's body is not repeated: {err}");
}

#[tokio::test]
async fn discovery_issuer_not_matching_config() {
    let provider = FakeProvider::start_with(
        testing::key("k", KeyAlg::Rs256),
        json!({"issuer": "https://evil.example"}),
    )
    .await;
    let err = discover(&shared::http_client().unwrap(), &config(&provider.issuer())).await;
    let err = err.unwrap_err();
    assert!(matches!(err, ProviderError::IssuerMismatch { .. }), "{err}");
    assert!(err.to_string().contains("https://evil.example"), "{err}");
}

#[tokio::test]
async fn secrets_manager_unreachable_at_cold_start_fails_fast() {
    let client = testing::secrets_client_at(&format!("http://127.0.0.1:{}", closed_port()));
    let started = Instant::now();
    let err = shared::fetch_secret(&client, "spa-login/test").await.unwrap_err();
    assert!(matches!(err, shared::SecretError::Fetch(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the SDK's retries");
}

#[tokio::test]
async fn jwks_failing_during_a_refetch_keeps_the_cached_keys() {
    let provider = FakeProvider::start().await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(provider.jwks(&[&provider.key])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&provider.server)
        .await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&provider.server)
        .await;
    let state =
        provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::ZERO).await;
    // A token by an unknown key triggers the refetch, which fails: refused, nothing cached lost.
    let stranger = testing::key("stranger", KeyAlg::Es256);
    let s = begin(&state, Flow::Spa, None);
    let claims = provider.claims(&s.nonce, ACCESS_TOKEN);
    let id = testing::jws(&testing::jws_header(&stranger), &claims, &stranger);
    Mock::given(path("/token"))
        .respond_with(FakeProvider::token_response(&id, ACCESS_TOKEN))
        .up_to_n_times(1)
        .mount(&provider.server)
        .await;
    assert_refused(
        &spa_get(&state, &s, &ok_query(&provider, &s)).await,
        401,
        "id_token_unknown_key",
    );
    // The cached key still verifies the next login.
    let s = begin(&state, Flow::Spa, None);
    let id = provider.id_token(&provider.claims(&s.nonce, ACCESS_TOKEN));
    Mock::given(path("/token"))
        .respond_with(FakeProvider::token_response(&id, ACCESS_TOKEN))
        .up_to_n_times(1)
        .mount(&provider.server)
        .await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    assert_eq!(spa_get(&state, &s, &ok_query(&provider, &s)).await.status(), 200);
}

#[tokio::test]
async fn provider_unreachable_per_request_is_a_502() {
    // Discovery names a token endpoint where nothing listens.
    let dead = format!("http://127.0.0.1:{}/token", closed_port());
    let provider = FakeProvider::start_with(
        testing::key("idp-1", KeyAlg::Rs256),
        json!({"token_endpoint": dead}),
    )
    .await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let s = begin(&state, Flow::Spa, None);
    let resp = spa_get(&state, &s, &ok_query(&provider, &s)).await;
    assert_refused(&resp, 502, "provider_unreachable");
}
