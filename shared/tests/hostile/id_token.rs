//! ID tokens that must be refused, one test per conformance case.

use serde_json::{Value, json};
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{self, CLIENT_ID, CLIENT_SECRET, FakeProvider, jws, jws_raw, secret_json};
use shared::unix_now;

/// Runs a login whose token endpoint answers the ID token that `make` builds from the standard
/// claims (the login's nonce, our client id, a fresh `iat`/`exp`, a matching `at_hash`).
async fn refused_with(
    provider: FakeProvider,
    make: impl FnOnce(&FakeProvider, Value) -> String,
    code: &str,
) {
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let started = begin(&state, shared::Flow::Spa, None);
    let id_token = make(&provider, provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 0).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 401, code);
}

async fn refused(make: impl FnOnce(&FakeProvider, Value) -> String, code: &str) {
    refused_with(FakeProvider::start().await, make, code).await;
}

/// The claims with `field` set to `value` (or removed when `value` is null), signed properly.
async fn refused_claim(field: &str, value: Value, code: &str) {
    refused(
        |p, mut c| {
            match value {
                Value::Null => {
                    c.as_object_mut().unwrap().remove(field);
                }
                v => c[field] = v,
            }
            p.id_token(&c)
        },
        code,
    )
    .await;
}

fn header(p: &FakeProvider) -> Value {
    json!({"alg": p.key.alg_name(), "kid": p.key.kid()})
}

fn hmac(key: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        base64_url(header.to_string().as_bytes()),
        base64_url(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", base64_url(tag.as_ref()))
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn bad_signature_rs256() {
    refused(
        |p, c| jws(&header(p), &c, &testing::key("x", KeyAlg::Rs256)),
        "id_token_bad_signature",
    )
    .await;
}

#[tokio::test]
async fn bad_signature_es256() {
    let provider = FakeProvider::start_with(testing::key("idp-ec", KeyAlg::Es256), json!({})).await;
    refused_with(
        provider,
        |p, c| jws(&header(p), &c, &testing::key("x", KeyAlg::Es256)),
        "id_token_bad_signature",
    )
    .await;
}

#[tokio::test]
async fn alg_none() {
    refused(
        |p, c| jws_raw(&json!({"alg": "none", "kid": p.key.kid()}), &c, b""),
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_client_secret() {
    refused(
        |p, c| hmac(CLIENT_SECRET.as_bytes(), &json!({"alg": "HS256", "kid": p.key.kid()}), &c),
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_providers_public_key() {
    refused(
        |p, c| {
            let public = p.key.public_jwk().to_string();
            hmac(public.as_bytes(), &json!({"alg": "HS256", "kid": p.key.kid()}), &c)
        },
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn algorithm_outside_the_allow_list() {
    // RS384 is a valid JOSE algorithm but neither announced nor accepted.
    refused(
        |p, c| jws(&json!({"alg": "RS384", "kid": p.key.kid()}), &c, &p.key),
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn wrong_iss() {
    refused_claim("iss", json!("https://evil.example"), "id_token_issuer_mismatch").await;
}

#[tokio::test]
async fn missing_iss() {
    refused_claim("iss", Value::Null, "id_token_malformed").await;
}

#[tokio::test]
async fn wrong_aud() {
    refused_claim("aud", json!("another-client"), "id_token_audience_mismatch").await;
}

#[tokio::test]
async fn missing_aud() {
    refused_claim("aud", Value::Null, "id_token_audience_mismatch").await;
}

#[tokio::test]
async fn extra_audience_without_azp() {
    refused_claim("aud", json!([CLIENT_ID, "another-client"]), "id_token_azp_mismatch").await;
}

#[tokio::test]
async fn wrong_azp() {
    refused_claim("azp", json!("another-client"), "id_token_azp_mismatch").await;
}

#[tokio::test]
async fn missing_sub() {
    refused_claim("sub", Value::Null, "id_token_malformed").await;
}

#[tokio::test]
async fn empty_sub() {
    refused_claim("sub", json!(""), "id_token_subject_missing").await;
}

#[tokio::test]
async fn missing_iat() {
    refused_claim("iat", Value::Null, "id_token_malformed").await;
}

#[tokio::test]
async fn future_iat() {
    refused(
        |p, mut c| {
            c["iat"] = json!(unix_now() + 3600);
            c["exp"] = json!(unix_now() + 7200);
            p.id_token(&c)
        },
        "id_token_issued_in_future",
    )
    .await;
}

#[tokio::test]
async fn stale_iat() {
    refused_claim("iat", json!(unix_now() - 86_400), "id_token_stale").await;
}

#[tokio::test]
async fn missing_exp() {
    refused_claim("exp", Value::Null, "id_token_malformed").await;
}

#[tokio::test]
async fn expired_exp() {
    refused_claim("exp", json!(unix_now() - 120), "id_token_expired").await;
}

#[tokio::test]
async fn wrong_nonce() {
    refused_claim("nonce", json!("nonce-of-another-login"), "id_token_nonce_mismatch").await;
}

#[tokio::test]
async fn missing_nonce() {
    refused_claim("nonce", Value::Null, "id_token_nonce_mismatch").await;
}

#[tokio::test]
async fn wrong_at_hash() {
    refused_claim(
        "at_hash",
        json!(testing::at_hash("another-access-token")),
        "id_token_at_hash_mismatch",
    )
    .await;
}

#[tokio::test]
async fn claims_of_the_wrong_json_type() {
    for (field, value) in [
        ("exp", json!("tomorrow")),
        ("sub", json!(42)),
        ("aud", json!({"a": 1})),
        ("email_verified", json!("yes")),
    ] {
        refused_claim(field, value, "id_token_malformed").await;
    }
}
