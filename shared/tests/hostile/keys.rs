//! The provider's keys: kid-less tokens, rotation, floods of unknown kids, odd JWKS entries,
//! key material and extensions in the token header, JWE, malformed and oversized tokens.

use std::time::Duration;

use serde_json::{Value, json};
use shared::Flow;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{self, FakeProvider, Rp, jws, jws_header, secret_json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// A login against a provider whose JWKS is `jwks` at cold start; the token endpoint answers
/// what `make` signs, userinfo is expected `userinfo` times. Returns the callback's answer.
async fn login_with(
    provider: &FakeProvider,
    jwks: Value,
    userinfo: u64,
    make: impl FnOnce(Value) -> String,
) -> http::Response<String> {
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&provider.server)
        .await;
    spa_login(provider, userinfo, make).await
}

async fn accepted(provider: &FakeProvider, jwks: Value, make: impl FnOnce(Value) -> String) {
    let resp = login_with(provider, jwks, 1, make).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

async fn refused(
    provider: &FakeProvider,
    jwks: Value,
    make: impl FnOnce(Value) -> String,
    code: &str,
) {
    let resp = login_with(provider, jwks, 0, make).await;
    assert_refused(&resp, 401, code);
}

#[tokio::test]
async fn no_kid_with_one_key_of_the_tokens_type_is_accepted() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key, &testing::key("ec", KeyAlg::Es256)]);
    accepted(&provider, jwks, |c| jws(&json!({"alg": "RS256"}), &c, &provider.key)).await;
}

#[tokio::test]
async fn no_kid_with_several_keys_of_the_tokens_type_is_refused() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key, &testing::key("rsa-2", KeyAlg::Rs256)]);
    let kidless = |c| jws(&json!({"alg": "RS256"}), &c, &provider.key);
    refused(&provider, jwks, kidless, "id_token_unknown_key").await;
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
    accepted(&provider, jwks, |c| provider.id_token(&c)).await;
}

#[tokio::test]
async fn only_encryption_keys_mean_an_unknown_key() {
    let provider = FakeProvider::start().await;
    let mut enc = provider.key.public_jwk().clone();
    enc["use"] = json!("enc");
    let jwks = json!({"keys": [enc]});
    refused(&provider, jwks, |c| provider.id_token(&c), "id_token_unknown_key").await;
}

/// A token signed by the provider's key whose header carries `extra` (built for the provider).
async fn refused_header(extra: impl FnOnce(&FakeProvider) -> Value, code: &str) {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let mut h = jws_header(&provider.key);
    h.as_object_mut().unwrap().extend(extra(&provider).as_object().unwrap().clone());
    refused(&provider, jwks, |c| jws(&h, &c, &provider.key), code).await;
}

#[tokio::test]
async fn embedded_jwk_in_the_header() {
    // An attacker's key under the provider's kid, and even the provider's own key.
    let attacker = testing::key("idp-1", KeyAlg::Rs256);
    refused_header(|_| json!({"jwk": attacker.public_jwk()}), "id_token_malformed").await;
    refused_header(|p| json!({"jwk": p.key.public_jwk()}), "id_token_malformed").await;
}

#[tokio::test]
async fn jku_in_the_header() {
    refused_header(|_| json!({"jku": "https://evil.example/jwks"}), "id_token_malformed").await;
}

#[tokio::test]
async fn x5u_in_the_header() {
    refused_header(|_| json!({"x5u": "https://evil.example/cert.pem"}), "id_token_malformed").await;
}

#[tokio::test]
async fn x5c_in_the_header() {
    refused_header(|_| json!({"x5c": ["MIIB"]}), "id_token_malformed").await;
}

#[tokio::test]
async fn crit_header() {
    refused_header(|_| json!({"crit": ["exp"], "exp": 1}), "id_token_malformed").await;
}

#[tokio::test]
async fn jwe_where_a_jws_belongs() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
    refused(&provider, jwks, |_| jwe.into(), "id_token_malformed").await;
}

#[tokio::test]
async fn malformed_tokens() {
    for bad in ["abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9..", "eyJ!.eyJ!.sig"] {
        let provider = FakeProvider::start().await;
        let jwks = provider.jwks(&[&provider.key]);
        refused(&provider, jwks, |_| bad.into(), "id_token_malformed").await;
    }
}

#[tokio::test]
async fn oversized_token() {
    let provider = FakeProvider::start().await;
    let jwks = provider.jwks(&[&provider.key]);
    let padded = |mut c: Value| {
        c["padding"] = json!("x".repeat(64 * 1024));
        provider.id_token(&c)
    };
    refused(&provider, jwks, padded, "id_token_malformed").await;
}

/// The JWKS the cold start fetches, once: the provider's own key `idp-1` only.
async fn serve_cold_start_jwks(provider: &FakeProvider) {
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(provider.jwks(&[&provider.key])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&provider.server)
        .await;
}

/// The cold-start JWKS holds `idp-1`; the provider then serves `idp-2` as well, for exactly one
/// refetch. The functions refetch without a cooldown; userinfo answers `logins` times.
async fn rotated_provider(logins: u64) -> (FakeProvider, shared::SigningKey, Rp) {
    let provider = FakeProvider::start().await;
    let rotated = testing::key("idp-2", KeyAlg::Es256);
    serve_cold_start_jwks(&provider).await;
    provider.serve_jwks(&[&rotated, &provider.key], Some(1)).await;
    let state =
        provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::ZERO).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), logins).await;
    (provider, rotated, state)
}

async fn login_signed_by(
    provider: &FakeProvider,
    state: &Rp,
    key: &shared::SigningKey,
) -> http::Response<String> {
    let started = begin(state, Flow::Spa, None);
    let id_token = jws(&jws_header(key), &provider.claims(&started.nonce, ACCESS_TOKEN), key);
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
    let (provider, rotated, state) = rotated_provider(3).await;
    assert_eq!(login_signed_by(&provider, &state, &provider.key).await.status(), 200);
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
    // Known now: no further refetch.
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
}

#[tokio::test]
async fn rotation_before_the_first_login_is_accepted_after_one_refetch() {
    let (provider, rotated, state) = rotated_provider(1).await;
    assert_eq!(login_signed_by(&provider, &state, &rotated).await.status(), 200);
}

#[tokio::test]
async fn unknown_kid_within_the_cooldown_is_refused_without_a_refetch() {
    let provider = FakeProvider::start().await;
    // The cold start's fetch only: the (default) cooldown runs from it.
    provider.serve_jwks(&[&provider.key], Some(1)).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    for i in 0..3 {
        let bogus = testing::key(&format!("bogus-{i}"), KeyAlg::Rs256);
        let resp = login_signed_by(&provider, &state, &bogus).await;
        assert_refused(&resp, 401, "id_token_unknown_key");
    }
    provider.server.verify().await;
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

#[tokio::test]
async fn jwks_refetch_race_waiting_requests_use_the_keys_it_brought() {
    let provider = FakeProvider::start().await;
    let rotated = testing::key("idp-2", KeyAlg::Es256);
    // The cold start sees idp-1; the one refetch brings idp-2, slowly.
    serve_cold_start_jwks(&provider).await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(provider.jwks(&[&rotated, &provider.key]))
                .set_delay(Duration::from_millis(600)),
        )
        .expect(1)
        .mount(&provider.server)
        .await;
    let cooldown = Duration::from_secs(1);
    let state = provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], cooldown).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 2).await;
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    // The second login meets the unknown kid while the first one's refetch is on the wire,
    // and waits for it: within the cooldown, it must use the keys that refetch brought.
    let first = login_signed_by(&provider, &state, &rotated);
    let second = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        login_signed_by(&provider, &state, &rotated).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status(), 200, "{}", first.body());
    assert_eq!(second.status(), 200, "{}", second.body());
}
