//! Each rule of the logout token, against a wiremock provider's real JWKS: the valid forms
//! accepted, every hostile form refused with its own reason.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::infra::clock::unix_now;
use crate::testing::{CLIENT_SECRET, FakeProvider, JwsKey, jws, jws_hmac, jws_raw, key};
use crate::tokens::keygen::KeyAlg;

async fn provider() -> (FakeProvider, JwksCache) {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let jwks = provider.jwks_cache(Duration::from_secs(30)).await;
    (provider, jwks)
}

/// `claims` changed by `edit`, signed by the provider.
fn edited(provider: &FakeProvider, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = provider.logout_claims("sid-1");
    edit(claims.as_object_mut().unwrap());
    provider.logout_token(&claims)
}

/// A change to a token's claims.
type Edit = dyn FnOnce(&mut Map<String, Value>);

async fn refusal(jwks: &JwksCache, token: &str) -> Refusal {
    verify(jwks, token, unix_now()).await.expect_err("a hostile logout token was accepted")
}

#[tokio::test]
async fn a_valid_token_names_the_session_or_the_user() {
    let (provider, jwks) = provider().await;
    let claims = provider.logout_claims("sid-1");
    let token = verify(&jwks, &provider.logout_token(&claims), unix_now()).await.unwrap();
    assert_eq!((token.sid.as_deref(), token.sub.as_deref()), (Some("sid-1"), Some("alice")));
    assert_eq!(token.jti, claims["jti"].as_str().unwrap());

    // Only `sub`; `aud` as an array; `iat` with a fraction; no `typ` and no `exp`.
    let mut claims = provider.logout_claims("unused");
    let map = claims.as_object_mut().unwrap();
    map.remove("sid");
    map.remove("exp");
    map.insert("aud".into(), json!(["other-api", crate::testing::CLIENT_ID]));
    map.insert("iat".into(), json!(unix_now() as f64 + 0.25));
    let header = json!({"alg": "RS256", "kid": provider.key.kid()});
    let token = verify(&jwks, &jws(&header, &claims, &provider.key), unix_now()).await.unwrap();
    assert_eq!((token.sid, token.sub.as_deref()), (None, Some("alice")));
}

#[tokio::test]
async fn forged_signatures_and_algorithms_are_refused() {
    let (provider, jwks) = provider().await;
    let claims = provider.logout_claims("sid-1");
    let good = provider.logout_token(&claims);

    let (head, _) = good.rsplit_once('.').unwrap();
    let flipped = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]));
    assert_eq!(refusal(&jwks, &flipped).await, "bad signature");

    let none = jws_raw(&json!({"alg": "none", "typ": "logout+jwt"}), &claims, b"");
    assert_eq!(refusal(&jwks, &none).await, "algorithm not accepted from this provider");

    // HS256 keyed with the client secret, which the attacker may know.
    let header = json!({"alg": "HS256", "kid": provider.key.kid(), "typ": "logout+jwt"});
    let hmac = jws_hmac(CLIENT_SECRET.as_bytes(), &header, &claims);
    assert_eq!(refusal(&jwks, &hmac).await, "algorithm not accepted from this provider");

    // A key the provider's JWKS does not hold.
    let stranger = key("idp-1", KeyAlg::Rs256);
    let header = json!({"alg": "RS256", "kid": "idp-1", "typ": "logout+jwt"});
    assert_eq!(refusal(&jwks, &jws(&header, &claims, &stranger)).await, "bad signature");

    // An embedded key is never used, and refused.
    let mut header = json!({"alg": "RS256", "kid": "idp-1", "typ": "logout+jwt"});
    header["jwk"] = stranger.public_jwk().clone();
    let embedded = jws(&header, &claims, &stranger);
    assert_eq!(refusal(&jwks, &embedded).await, "header brings its own key or extensions");

    // ES256 is announced, but the provider's only key is RSA.
    let ec = key("idp-1", KeyAlg::Es256);
    let header = json!({"alg": "ES256", "kid": "idp-1", "typ": "logout+jwt"});
    let token = jws(&header, &claims, &ec);
    assert_eq!(
        refusal(&jwks, &token).await,
        "no key of the provider's JWKS for this kid and algorithm"
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_then_is_refused() {
    let provider = FakeProvider::start().await;
    // Fetched at cold start, then once for the unknown kid (no cooldown here; the cooldown's
    // own tests are the ID token's, through the same cache).
    provider.serve_jwks(&[&provider.key], Some(2)).await;
    let jwks = provider.jwks_cache(Duration::ZERO).await;
    let claims = provider.logout_claims("sid-1");
    let rotated = key("idp-2", KeyAlg::Rs256);
    let header = json!({"alg": "RS256", "kid": "idp-2", "typ": "logout+jwt"});
    let token = jws(&header, &claims, &rotated);
    let why = "no key of the provider's JWKS for this kid and algorithm";
    assert_eq!(refusal(&jwks, &token).await, why);
}

#[tokio::test]
async fn a_key_published_after_the_cold_start_is_found_by_the_refetch() {
    let provider = FakeProvider::start().await;
    let jwks_uri = format!("{}/jwks", provider.issuer());
    let parts = provider.parts(&crate::testing::secret_json(KeyAlg::Es256, 1), &[]);
    let metadata = crate::oidc::discovery::discover(&parts.http, &provider.issuer()).await.unwrap();
    let idp = crate::oidc::provider::Provider::new(
        metadata,
        parts.config.default_provider(),
        &secrecy::SecretString::from(CLIENT_SECRET),
    )
    .unwrap();
    // The logout function holds no key until a token asks for one.
    let jwks = JwksCache::unfetched(jwks_uri, &idp, parts.http, Duration::from_secs(30));
    provider.serve_jwks(&[&provider.key], Some(1)).await;
    let token = provider.logout_token(&provider.logout_claims("sid-1"));
    assert!(verify(&jwks, &token, unix_now()).await.is_ok());
    assert!(verify(&jwks, &token, unix_now()).await.is_ok(), "the keys are kept");
}

#[tokio::test]
async fn each_claim_rule_refuses_its_violation() {
    let (provider, jwks) = provider().await;
    let now = unix_now();
    let cases: Vec<(Refusal, Box<Edit>)> = vec![
        (
            "iss is not the provider's issuer",
            Box::new(|c| {
                c.insert("iss".into(), json!("https://evil.example"));
            }),
        ),
        (
            "iss is not the provider's issuer",
            Box::new(|c| {
                c.remove("iss");
            }),
        ),
        (
            "aud does not name our client",
            Box::new(|c| {
                c.insert("aud".into(), json!("another-client"));
            }),
        ),
        (
            "aud does not name our client",
            Box::new(|c| {
                c.insert("aud".into(), json!(["a", "b"]));
            }),
        ),
        (
            "iat missing or not a NumericDate",
            Box::new(|c| {
                c.remove("iat");
            }),
        ),
        (
            "claims malformed",
            Box::new(|c| {
                c.insert("iat".into(), json!("yesterday"));
            }),
        ),
        (
            "iat in the future",
            Box::new(move |c| {
                c.insert("iat".into(), json!(now + 3600));
            }),
        ),
        (
            "iat too old",
            Box::new(move |c| {
                c.insert("iat".into(), json!(now - 3600));
            }),
        ),
        (
            "expired",
            Box::new(move |c| {
                c.insert("exp".into(), json!(now - 3600));
            }),
        ),
        (
            "jti missing",
            Box::new(|c| {
                c.remove("jti");
            }),
        ),
        (
            "an identifier is empty or too long",
            Box::new(|c| {
                c.insert("jti".into(), json!(""));
            }),
        ),
        (
            "events lacks the back-channel logout event",
            Box::new(|c| {
                c.remove("events");
            }),
        ),
        (
            "events lacks the back-channel logout event",
            Box::new(|c| {
                c.insert("events".into(), json!({BACKCHANNEL_LOGOUT_EVENT: "yes"}));
            }),
        ),
        (
            "events lacks the back-channel logout event",
            Box::new(|c| {
                c.insert("events".into(), json!({"http://schemas.openid.net/event/other": {}}));
            }),
        ),
        (
            "claims malformed",
            Box::new(|c| {
                c.insert("events".into(), json!([BACKCHANNEL_LOGOUT_EVENT]));
            }),
        ),
        (
            "nonce present: an ID token, not a logout token",
            Box::new(|c| {
                c.insert("nonce".into(), json!("n-1"));
            }),
        ),
        (
            "neither sid nor sub",
            Box::new(|c| {
                c.remove("sid");
                c.remove("sub");
            }),
        ),
        (
            "an identifier is empty or too long",
            Box::new(|c| {
                c.insert("sid".into(), json!("s".repeat(256)));
            }),
        ),
    ];
    for (why, edit) in cases {
        assert_eq!(refusal(&jwks, &edited(&provider, edit)).await, why);
    }
}

#[tokio::test]
async fn tokens_of_another_kind_or_shape_are_refused() {
    let (provider, jwks) = provider().await;
    let claims = provider.logout_claims("sid-1");

    // An ID token's `typ`, signed by the provider itself.
    let header = json!({"alg": "RS256", "kid": provider.key.kid(), "typ": "JWT"});
    let id_typed = jws(&header, &claims, &provider.key);
    assert_eq!(refusal(&jwks, &id_typed).await, "typ is not this token's type");
    // An ID token of this provider for us.
    let id_token = provider.id_token(&provider.claims("n-1", "at"));
    assert_eq!(refusal(&jwks, &id_token).await, "typ is not this token's type");

    let mut big = claims.clone();
    big["padding"] = json!("x".repeat(MAX_LOGOUT_TOKEN_LEN));
    assert_eq!(refusal(&jwks, &provider.logout_token(&big)).await, "token too large");

    for shape in ["", "abc", "a.b", "a.b.c.d", "e30.e30.", "!!.e30.e30"] {
        assert!(verify(&jwks, shape, unix_now()).await.is_err(), "{shape}");
    }
    assert_eq!(refusal(&jwks, "a.b.c.d").await, "not a JWS in compact form");
    let unknown = jws_raw(&json!({"alg": "XS999"}), &claims, b"sig");
    assert_eq!(refusal(&jwks, &unknown).await, "unknown algorithm");
}

/// A provider announcing `algs` whose JWKS holds `keys`, and its JWKS cache.
async fn provider_with(algs: &[&str], keys: &[&JwsKey]) -> (FakeProvider, JwksCache) {
    use wiremock::matchers::{method, path};
    let discovery = json!({"id_token_signing_alg_values_supported": algs});
    let provider = FakeProvider::start_with(key("unused", KeyAlg::Es256), discovery).await;
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    wiremock::Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&provider.server)
        .await;
    let cache = provider.jwks_cache(Duration::from_secs(30)).await;
    (provider, cache)
}

#[tokio::test]
async fn the_id_token_key_rule_holds_for_logout_tokens() {
    let rs512 = JwsKey::rsa("rs512", "RS512");
    let ps384 = JwsKey::rsa("ps384", "PS384");
    let es384 = JwsKey::es384("es384");
    let p256 = JwsKey::of(key("p256", KeyAlg::Es256));
    let ed = JwsKey::of(key("ed", KeyAlg::EdDsa));
    // LemonLDAP::NG's list, plus what the other keys need.
    let announced =
        ["none", "HS256", "HS512", "RS256", "RS512", "PS384", "ES256", "ES384", "EdDSA"];
    let (provider, jwks) = provider_with(&announced, &[&rs512, &ps384, &es384, &p256, &ed]).await;
    for signer in [&rs512, &ps384, &es384, &p256, &ed] {
        let token = signer.sign(&provider.logout_claims("sid-1"), "logout+jwt");
        assert!(verify(&jwks, &token, unix_now()).await.is_ok(), "{}", signer.alg);
    }
    let claims = provider.logout_claims("sid-1");
    let none = jws_raw(&json!({"alg": "none", "typ": "logout+jwt"}), &claims, b"");
    assert_eq!(refusal(&jwks, &none).await, "algorithm not accepted from this provider");
    for alg in ["HS256", "HS512"] {
        let hs = jws_hmac(CLIENT_SECRET.as_bytes(), &json!({"alg": alg, "kid": "rs512"}), &claims);
        assert_eq!(refusal(&jwks, &hs).await, "algorithm not accepted from this provider");
    }
    // Announced by none of it, accepted by us: refused all the same.
    let rs384 = JwsKey::rsa("rs512", "RS384");
    let token = rs384.sign_with(&json!({"alg": "RS384", "kid": "rs512"}), &claims);
    assert_eq!(refusal(&jwks, &token).await, "algorithm not accepted from this provider");
    // A key of another curve, type or alg under the token's kid is never offered.
    let no_key = "no key of the provider's JWKS for this kid and algorithm";
    for (alg, kid, signer) in [
        ("ES384", "p256", &es384),
        ("ES256", "es384", &p256),
        ("RS256", "rs512", &rs512),
        ("PS384", "rs512", &ps384),
        ("EdDSA", "p256", &ed),
    ] {
        let token = signer.sign_with(&json!({"alg": alg, "kid": kid}), &claims);
        assert_eq!(refusal(&jwks, &token).await, no_key, "{alg} under {kid}");
    }
}

#[tokio::test]
async fn numeric_dates_with_a_fraction_pass_and_out_of_range_ones_do_not() {
    let (provider, jwks) = provider().await;
    let now = unix_now() as f64;
    let mut claims = provider.logout_claims("sid-1");
    claims["iat"] = json!(now - 1.5);
    claims["exp"] = json!(now + 119.25);
    claims["nbf"] = json!(now - 0.75);
    assert!(verify(&jwks, &provider.logout_token(&claims), unix_now()).await.is_ok());
    let cases: [(&str, Value, Refusal); 6] = [
        ("iat", json!(-1), "iat missing or not a NumericDate"),
        ("iat", json!(1e13), "iat missing or not a NumericDate"),
        ("exp", json!(-0.5), "exp not a NumericDate"),
        ("nbf", json!(1e300), "nbf not a NumericDate"),
        ("nbf", json!(now + 3600.0), "nbf in the future"),
        ("nbf", json!("soon"), "claims malformed"),
    ];
    for (claim, value, why) in cases {
        let mut claims = provider.logout_claims("sid-1");
        claims[claim] = value;
        assert_eq!(refusal(&jwks, &provider.logout_token(&claims)).await, why, "{claim}");
    }
}

#[tokio::test]
async fn extra_members_of_a_logout_token_are_ignored() {
    let (provider, jwks) = provider().await;
    let mut claims = provider.logout_claims("sid-1");
    claims["events"][BACKCHANNEL_LOGOUT_EVENT] = json!({"reason": "user"});
    claims["events"]["urn:vendor:event"] = json!({});
    claims["azp"] = json!(crate::testing::CLIENT_ID);
    claims["urn:vendor"] = json!({"deep": [1, 2]});
    assert!(verify(&jwks, &provider.logout_token(&claims), unix_now()).await.is_ok());
}
