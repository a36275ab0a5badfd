//! The provider's keys: kid-less tokens, rotation, floods of unknown kids, odd JWKS entries,
//! key material and extensions in the token header, JWE, malformed and oversized tokens.

use std::time::Duration;

use serde_json::{Value, json};
use shared::Flow;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{self, FakeProvider, Rp, jws, secret_json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// A login against a provider whose JWKS is `jwks` at cold start; the token endpoint answers
/// what `make` signs. Returns the callback's answer.
async fn login_with(
    provider: &FakeProvider,
    jwks: Value,
    make: impl FnOnce(Value) -> String,
) -> http::Response<String> {
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&provider.server)
        .await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = make(provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(provider, json!({"sub": "alice"}), 0..=1).await;
    spa_get(&state, &started, &ok_query(provider, &started)).await
}

#[tokio::test]
async fn no_kid_with_one_key_of_the_tokens_type_is_accepted() {
    let provider = FakeProvider::start().await;
    let ec = testing::key("ec", KeyAlg::Es256);
    let jwks = provider.jwks(&[&provider.key, &ec]);
    let resp =
        login_with(&provider, jwks, |c| jws(&json!({"alg": "RS256"}), &c, &provider.key)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

#[tokio::test]
async fn no_kid_with_several_keys_of_the_tokens_type_is_refused() {
    let provider = FakeProvider::start().await;
    let other = testing::key("rsa-2", KeyAlg::Rs256);
    let jwks = provider.jwks(&[&provider.key, &other]);
    let resp =
        login_with(&provider, jwks, |c| jws(&json!({"alg": "RS256"}), &c, &provider.key)).await;
    assert_refused(&resp, 401, "id_token_unknown_key");
}

#[tokio::test]
async fn keys_of_other_types_and_uses_are_skipped() {
    let provider = FakeProvider::start().await;
    let mut enc = provider.key.public_jwk().clone();
    enc["use"] = json!("enc");
    let jwks = json!({"keys": [
        enc,
        {"kty": "oct", "kid": "idp-1", "k": "c2VjcmV0"},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "eA", "y": "eQ"},
        {"kty": "unknown", "kid": "idp-1"},
        provider.key.public_jwk(),
    ]});
    let resp = login_with(&provider, jwks, |c| provider.id_token(&c)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

#[tokio::test]
async fn only_encryption_keys_mean_an_unknown_key() {
    let provider = FakeProvider::start().await;
    let mut enc = provider.key.public_jwk().clone();
    enc["use"] = json!("enc");
    let resp = login_with(&provider, json!({"keys": [enc]}), |c| provider.id_token(&c)).await;
    assert_refused(&resp, 401, "id_token_unknown_key");
}

async fn refused_header(extra: Value, code: &str) {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let resp = login_with(&provider, jwks, |c| {
        let mut h = json!({"alg": "RS256", "kid": "idp-1"});
        h.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        jws(&h, &c, &provider.key)
    })
    .await;
    assert_refused(&resp, 401, code);
}

#[tokio::test]
async fn embedded_jwk_in_the_header() {
    let attacker = testing::key("idp-1", KeyAlg::Rs256);
    refused_header(json!({"jwk": attacker.public_jwk()}), "id_token_malformed").await;
}

#[tokio::test]
async fn jku_in_the_header() {
    refused_header(json!({"jku": "https://evil.example/jwks"}), "id_token_malformed").await;
}

#[tokio::test]
async fn x5u_in_the_header() {
    refused_header(json!({"x5u": "https://evil.example/cert.pem"}), "id_token_malformed").await;
}

#[tokio::test]
async fn x5c_in_the_header() {
    refused_header(json!({"x5c": ["MIIB"]}), "id_token_malformed").await;
}

#[tokio::test]
async fn crit_header() {
    refused_header(json!({"crit": ["exp"], "exp": 1}), "id_token_malformed").await;
}

#[tokio::test]
async fn jwe_where_a_jws_belongs() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let resp = login_with(&provider, jwks, |_| {
        "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn".into()
    })
    .await;
    assert_refused(&resp, 401, "id_token_malformed");
}

#[tokio::test]
async fn malformed_tokens() {
    for bad in ["abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9..", "eyJ!.eyJ!.sig"] {
        let provider = FakeProvider::start().await;
        let jwks = provider.jwks(&[&provider.key]);
        let resp = login_with(&provider, jwks, |_| bad.into()).await;
        assert_refused(&resp, 401, "id_token_malformed");
    }
}

#[tokio::test]
async fn oversized_token() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let resp = login_with(&provider, jwks, |mut c| {
        c["padding"] = json!("x".repeat(64 * 1024));
        provider.id_token(&c)
    })
    .await;
    assert_refused(&resp, 401, "id_token_malformed");
}

/// The cold-start JWKS holds `idp-1`; the provider then serves `idp-2` as well.
async fn rotated_provider(refetches: u64) -> (FakeProvider, shared::SigningKey) {
    let provider = FakeProvider::start().await;
    let rotated = testing::key("idp-2", KeyAlg::Es256);
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(provider.jwks(&[&provider.key])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&provider.server)
        .await;
    provider.serve_jwks(&[&rotated, &provider.key], Some(refetches)).await;
    (provider, rotated)
}

async fn login_signed_by(
    provider: &FakeProvider,
    state: &Rp,
    key: &shared::SigningKey,
) -> http::Response<String> {
    let started = begin(state, Flow::Spa, None);
    let id_token = jws(
        &json!({"alg": key.alg_name(), "kid": key.kid()}),
        &provider.claims(&started.nonce, ACCESS_TOKEN),
        key,
    );
    // One answer per login: an exhausted mock stops matching and the next one answers.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .up_to_n_times(1)
        .expect(1)
        .mount(&provider.server)
        .await;
    spa_get(state, &started, &ok_query(provider, &started)).await
}

#[tokio::test]
async fn rotation_between_logins_is_accepted_after_one_refetch() {
    let (provider, rotated) = rotated_provider(1).await;
    let state =
        provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::ZERO).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 3).await;
    assert_eq!(login_signed_by(&provider, &state, &provider.key).await.status(), 200);
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
    // Known now: no further refetch.
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
}

#[tokio::test]
async fn rotation_before_the_first_login_is_accepted_after_one_refetch() {
    let (provider, rotated) = rotated_provider(1).await;
    let state =
        provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::ZERO).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_refetches_at_most_once_per_cooldown() {
    let provider = FakeProvider::start().await;
    // Cold start, then exactly one refetch for the whole flood.
    provider.serve_jwks(&[&provider.key], Some(2)).await;
    let state = provider
        .state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::from_millis(300))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    for i in 0..20 {
        let bogus = testing::key(&format!("bogus-{i}"), KeyAlg::Es256);
        let resp = login_signed_by(&provider, &state, &bogus).await;
        assert_refused(&resp, 401, "id_token_unknown_key");
    }
}
