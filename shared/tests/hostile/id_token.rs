//! ID tokens that must be refused, one test per conformance case.

use serde_json::{Value, json};
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{
    self, CLIENT_ID, CLIENT_SECRET, FakeProvider, jws, jws_header, jws_hmac, jws_raw,
};
use shared::{ID_TOKEN_LEEWAY_SECS, unix_now};

/// Runs a login whose token endpoint answers the ID token that `make` builds from the standard
/// claims (the login's nonce, our client id, a fresh `iat`/`exp`, a matching `at_hash`).
async fn refused_with(
    provider: FakeProvider,
    make: impl FnOnce(&FakeProvider, Value) -> String,
    code: &str,
) {
    provider.serve_jwks(&[&provider.key], None).await;
    let resp = spa_login(&provider, 0, |c| make(&provider, c)).await;
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

#[tokio::test]
async fn bad_signature_rs256() {
    refused(
        |p, c| jws(&jws_header(&p.key), &c, &testing::key("x", KeyAlg::Rs256)),
        "id_token_bad_signature",
    )
    .await;
}

#[tokio::test]
async fn bad_signature_es256() {
    let provider = FakeProvider::start_with(testing::key("idp-ec", KeyAlg::Es256), json!({})).await;
    refused_with(
        provider,
        |p, c| jws(&jws_header(&p.key), &c, &testing::key("x", KeyAlg::Es256)),
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
        |p, c| jws_hmac(CLIENT_SECRET.as_bytes(), &json!({"alg": "HS256", "kid": p.key.kid()}), &c),
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_providers_public_key() {
    refused(
        |p, c| {
            let public = p.key.public_jwk().to_string();
            jws_hmac(public.as_bytes(), &json!({"alg": "HS256", "kid": p.key.kid()}), &c)
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

/// One test per conformance case: the standard claims with one claim set (`= value`) or removed
/// (`= Value::Null`), signed properly, refused with the code after `=>`.
macro_rules! refused_claims {
    ($($case:ident: $field:literal = $value:expr => $code:literal;)+) => {$(
        #[tokio::test]
        async fn $case() {
            refused_claim($field, $value, $code).await;
        }
    )+};
}

refused_claims! {
    wrong_iss: "iss" = json!("https://evil.example") => "id_token_issuer_mismatch";
    missing_iss: "iss" = Value::Null => "id_token_malformed";
    wrong_aud: "aud" = json!("another-client") => "id_token_audience_mismatch";
    missing_aud: "aud" = Value::Null => "id_token_audience_mismatch";
    wrong_azp: "azp" = json!("another-client") => "id_token_azp_mismatch";
    missing_sub: "sub" = Value::Null => "id_token_malformed";
    empty_sub: "sub" = json!("") => "id_token_subject_missing";
    missing_iat: "iat" = Value::Null => "id_token_malformed";
    stale_iat: "iat" = json!(unix_now() - 86_400) => "id_token_stale";
    missing_exp: "exp" = Value::Null => "id_token_malformed";
    wrong_nonce: "nonce" = json!("nonce-of-another-login") => "id_token_nonce_mismatch";
    missing_nonce: "nonce" = Value::Null => "id_token_nonce_mismatch";
    wrong_at_hash: "at_hash" = json!(testing::at_hash("another-access-token"))
        => "id_token_at_hash_mismatch";
}

#[tokio::test]
async fn extra_audience_without_azp() {
    let audiences = json!([CLIENT_ID, "another-client"]);
    refused_claim("aud", audiences.clone(), "id_token_azp_mismatch").await;
    // The same audiences naming us as the authorized party are accepted.
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let resp = spa_login(&provider, 1, |mut c| {
        c["aud"] = audiences;
        c["azp"] = json!(CLIENT_ID);
        provider.id_token(&c)
    })
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
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
async fn expired_exp() {
    refused_claim("exp", json!(unix_now() - 120), "id_token_expired").await;
    // One second past the leeway, issued ten minutes ago.
    refused(
        |p, mut c| {
            let now = i64::try_from(unix_now()).unwrap();
            c["iat"] = json!(now - 600);
            c["exp"] = json!(now - ID_TOKEN_LEEWAY_SECS - 1);
            p.id_token(&c)
        },
        "id_token_expired",
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
