use std::time::Duration;

use http::header::LOCATION;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;

use super::*;
use crate::keygen::KeyAlg;
use crate::testing::Rp;
use crate::testing::callbacks::*;
use crate::testing::{self, CLIENT_ID, CLIENT_SECRET, FakeProvider, jws, jws_raw, secret_json};
use crate::unix_now;

#[tokio::test]
async fn spa_flow_get_issues_our_token_and_hides_the_providers() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, Some("/app?tab=1"));
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header(
            "authorization",
            format!("Basic {}", STANDARD_B64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")))
                .as_str(),
        ))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains("redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback"))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .expect(1)
        .mount(&provider.server)
        .await;
    mount_userinfo(
        &provider,
        json!({"sub": "alice", "email": "alice@example.com", "name": "Alice Example"}),
        1,
    )
    .await;

    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let body = json_body(&resp);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["return_to"], "/app?tab=1");
    assert_eq!(
        body["user"],
        json!({"sub": "alice", "email": "alice@example.com", "name": "Alice Example"})
    );
    let claims =
        state.callback.session().verify(body["token"].as_str().unwrap(), unix_now()).unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.idp, provider.issuer());
    assert_eq!(claims.name.as_deref(), Some("Alice Example"));
    let text = resp.body();
    assert!(
        !text.contains(ACCESS_TOKEN)
            && !text.contains(&id_token)
            && !text.contains("provider-refresh-token")
    );
    assert_no_session_and_cleared(&resp);
}

use base64::engine::general_purpose::STANDARD as STANDARD_B64;

#[tokio::test]
async fn spa_flow_post_with_json_body() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice", "name": "Alice Example"}), 1).await;
    let body =
        json!({"code": "the-code", "state": started.state, "iss": provider.issuer()}).to_string();
    let resp =
        call(&state, Method::POST, "/api/callback", None, body.as_bytes(), Some(&started.cookie))
            .await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let body = json_body(&resp);
    assert_eq!(body["return_to"], "/home", "POST_LOGIN_PATH when no return_to was given");
    assert_eq!(
        body["user"]["email"], "alice@example.com",
        "from the ID token when userinfo has none"
    );
}

#[tokio::test]
async fn server_flow_redirects_with_a_session_cookie() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Server, Some("/dashboard"));
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(
            "redirect_uri=http%3A%2F%2Flocalhost%3A9000%2Fauthorization-code%2Fcallback",
        ))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .expect(1)
        .mount(&provider.server)
        .await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let resp = call(
        &state,
        Method::GET,
        "/authorization-code/callback",
        Some(&ok_query(&provider, &started)),
        b"",
        Some(&started.cookie),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/dashboard");
    let cookies = set_cookies(&resp);
    let session =
        cookies.iter().find(|c| c.starts_with("__Host-session=")).expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=900"] {
        assert!(session.contains(attr), "{session}");
    }
    let token = session.trim_start_matches("__Host-session=").split(';').next().unwrap();
    assert_eq!(state.callback.session().verify(token, unix_now()).unwrap().sub, "alice");
    assert!(cookies.iter().any(|c| c.starts_with("__Host-oidc-tx=;")));
    assert!(!resp.headers()[LOCATION].to_str().unwrap().contains("code"));
}

#[tokio::test]
async fn server_flow_uses_app_origin_and_redirects_failures_with_a_code_only() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider
        .state(&secret_json(KeyAlg::Es256, 1), &[("APP_ORIGIN", "http://localhost:5173")])
        .await;
    mount_token(&provider, ResponseTemplate::new(500), 0).await;
    let started = begin(&state, Flow::Server, None);
    let query = format!(
        "state={}&iss={}&error=access_denied&error_description=%3Cscript%3E",
        started.state,
        provider.issuer()
    );
    let resp = call(
        &state,
        Method::GET,
        "/authorization-code/callback",
        Some(&query),
        b"",
        Some(&started.cookie),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "http://localhost:5173/home?error=login_failed");
    assert_no_session_and_cleared(&resp);
    assert!(!resp.body().contains("script"));
}

/// Runs one SPA callback against a token endpoint answering `id_token`, expecting a refusal.
async fn refused_id_token(
    provider: &FakeProvider,
    state: &Rp,
    make: impl FnOnce(&Started) -> String,
    code: &str,
) {
    let started = begin(state, Flow::Spa, None);
    let id_token = make(&started);
    mount_token(provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(provider, json!({"sub": "alice"}), 0).await;
    let resp = spa_get(state, &started, &ok_query(provider, &started)).await;
    assert_refused(&resp, 401, code);
}

fn header_of(provider: &FakeProvider) -> Value {
    json!({"alg": provider.key.alg_name(), "kid": provider.key.kid()})
}

#[tokio::test]
async fn refuses_a_bad_signature() {
    let (provider, state) = setup().await;
    let other = testing::key(provider.key.kid(), KeyAlg::Rs256);
    refused_id_token(
        &provider,
        &state,
        |s| jws(&header_of(&provider), &provider.claims(&s.nonce, ACCESS_TOKEN), &other),
        "id_token_bad_signature",
    )
    .await;
}

#[tokio::test]
async fn refuses_alg_none() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            jws_raw(
                &json!({"alg": "none", "kid": "idp-1"}),
                &provider.claims(&s.nonce, ACCESS_TOKEN),
                b"",
            )
        },
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn refuses_hs256_signed_with_the_client_secret() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let header = json!({"alg": "HS256", "kid": "idp-1"});
            let claims = provider.claims(&s.nonce, ACCESS_TOKEN);
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let key =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
            let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
        },
        "id_token_alg_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn refuses_wrong_issuer() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["iss"] = json!("https://evil.example");
            provider.id_token(&c)
        },
        "id_token_issuer_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_wrong_audience() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["aud"] = json!("another-client");
            provider.id_token(&c)
        },
        "id_token_audience_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_extra_audience_without_azp() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["aud"] = json!([CLIENT_ID, "another-client"]);
            provider.id_token(&c)
        },
        "id_token_azp_mismatch",
    )
    .await;
}

#[tokio::test]
async fn accepts_extra_audience_with_our_azp_and_refuses_a_foreign_azp() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let mut c = provider.claims(&started.nonce, ACCESS_TOKEN);
    c["aud"] = json!([CLIENT_ID, "another-client"]);
    c["azp"] = json!(CLIENT_ID);
    mount_token(&provider, FakeProvider::token_response(&provider.id_token(&c), ACCESS_TOKEN), 1)
        .await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());

    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["azp"] = json!("another-client");
            provider.id_token(&c)
        },
        "id_token_azp_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_wrong_nonce() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |_| provider.id_token(&provider.claims("another-login", ACCESS_TOKEN)),
        "id_token_nonce_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_an_expired_id_token() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            let now = unix_now();
            c["iat"] = json!(now - 600);
            c["exp"] = json!(now - 61);
            provider.id_token(&c)
        },
        "id_token_expired",
    )
    .await;
}

#[tokio::test]
async fn refuses_iat_an_hour_ahead() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["iat"] = json!(unix_now() + 3600);
            c["exp"] = json!(unix_now() + 7200);
            provider.id_token(&c)
        },
        "id_token_issued_in_future",
    )
    .await;
}

#[tokio::test]
async fn refuses_wrong_at_hash() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| provider.id_token(&provider.claims(&s.nonce, "another-access-token")),
        "id_token_at_hash_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_claims_of_the_wrong_json_type() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut c = provider.claims(&s.nonce, ACCESS_TOKEN);
            c["exp"] = json!("tomorrow");
            provider.id_token(&c)
        },
        "id_token_malformed",
    )
    .await;
}

#[tokio::test]
async fn refuses_key_material_in_the_header() {
    let (provider, state) = setup().await;
    refused_id_token(
        &provider,
        &state,
        |s| {
            let mut h = header_of(&provider);
            h["jwk"] = provider.key.public_jwk().clone();
            jws(&h, &provider.claims(&s.nonce, ACCESS_TOKEN), &provider.key)
        },
        "id_token_malformed",
    )
    .await;
}

#[tokio::test]
async fn refuses_a_userinfo_subject_mismatch() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    mount_token(
        &provider,
        FakeProvider::token_response(
            &provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN)),
            ACCESS_TOKEN,
        ),
        1,
    )
    .await;
    mount_userinfo(&provider, json!({"sub": "mallory", "email": "mallory@example.com"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 401, "userinfo_subject_mismatch");
}

/// Refusals decided before the code exchange: the token endpoint must not be called.
async fn refused_before_exchange(
    state: &Rp,
    provider: &FakeProvider,
    query: String,
    cookie: Option<&str>,
    status: u16,
    code: &str,
) {
    mount_token(provider, ResponseTemplate::new(500), 0).await;
    let resp = call(state, Method::GET, "/api/callback", Some(&query), b"", cookie).await;
    assert_refused(&resp, status, code);
}

#[tokio::test]
async fn refuses_a_state_mismatch() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let query = format!("code=c&state=not-{}&iss={}", started.state, provider.issuer());
    refused_before_exchange(&state, &provider, query, Some(&started.cookie), 400, "state_mismatch")
        .await;
}

#[tokio::test]
async fn refuses_a_state_from_another_login() {
    let (provider, state) = setup().await;
    let first = begin(&state, Flow::Spa, None);
    let second = begin(&state, Flow::Spa, None);
    let query = ok_query(&provider, &first);
    refused_before_exchange(&state, &provider, query, Some(&second.cookie), 400, "state_mismatch")
        .await;
}

#[tokio::test]
async fn refuses_a_missing_cookie() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    refused_before_exchange(
        &state,
        &provider,
        ok_query(&provider, &started),
        Some("other=1"),
        400,
        "transaction_missing",
    )
    .await;
}

#[tokio::test]
async fn refuses_a_tampered_cookie() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let mut tampered = started.cookie.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    refused_before_exchange(
        &state,
        &provider,
        ok_query(&provider, &started),
        Some(&tampered),
        400,
        "transaction_invalid",
    )
    .await;
}

#[tokio::test]
async fn refuses_an_expired_cookie() {
    let (provider, state) = setup().await;
    let start = state.login.start(Flow::Spa, None, unix_now() - 601).unwrap();
    let q: std::collections::HashMap<_, _> =
        start.authorize_url.query_pairs().into_owned().collect();
    let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
    let started = Started { state: q["state"].clone(), nonce: String::new(), cookie };
    refused_before_exchange(
        &state,
        &provider,
        ok_query(&provider, &started),
        Some(&started.cookie),
        400,
        "transaction_expired",
    )
    .await;
}

#[tokio::test]
async fn refuses_a_cookie_from_the_other_flow() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Server, None);
    refused_before_exchange(
        &state,
        &provider,
        ok_query(&provider, &started),
        Some(&started.cookie),
        400,
        "transaction_flow_mismatch",
    )
    .await;
}

#[tokio::test]
async fn refuses_an_rfc9207_issuer_mismatch_or_absence() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let query = format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", started.state);
    refused_before_exchange(
        &state,
        &provider,
        query,
        Some(&started.cookie),
        400,
        "issuer_mismatch",
    )
    .await;
    let query = format!("code=c&state={}", started.state);
    let resp =
        call(&state, Method::GET, "/api/callback", Some(&query), b"", Some(&started.cookie)).await;
    assert_refused(&resp, 400, "issuer_mismatch");
}

#[tokio::test]
async fn answers_provider_error_as_login_failed_without_its_text() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let query = format!(
        "error=access_denied&error_description=%3Cb%3Eyour+account+is+locked%3C%2Fb%3E&state={}&iss={}",
        started.state,
        provider.issuer()
    );
    refused_before_exchange(&state, &provider, query, Some(&started.cookie), 401, "login_failed")
        .await;
}

#[tokio::test]
async fn refuses_repeated_parameters_as_code_injection() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let query = format!("{}&code=injected", ok_query(&provider, &started));
    refused_before_exchange(&state, &provider, query, Some(&started.cookie), 400, "bad_request")
        .await;
}

async fn refused_by_token_endpoint(response: ResponseTemplate, status: u16, code: &str) {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    mount_token(&provider, response, 1).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 0).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, status, code);
}

#[tokio::test]
async fn token_endpoint_400_is_a_502() {
    let body =
        json!({"error": "invalid_grant", "error_description": "<b>code reused</b> secret=xyz"});
    refused_by_token_endpoint(
        ResponseTemplate::new(400).set_body_json(body),
        502,
        "token_exchange_failed",
    )
    .await;
}

#[tokio::test]
async fn token_endpoint_500_is_a_502() {
    refused_by_token_endpoint(
        ResponseTemplate::new(500).set_body_string("<html>stack trace</html>"),
        502,
        "token_exchange_failed",
    )
    .await;
}

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", provider.issuer())),
        )
        .expect(1)
        .mount(&provider.server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&provider.server)
        .await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 502, "token_exchange_failed");
}

#[tokio::test]
async fn token_endpoint_timeout_is_a_504() {
    let (provider, _) = setup().await;
    let http = crate::http_client_with(Duration::from_secs(1), Duration::from_millis(500)).unwrap();
    let state = provider.state_with_http(&secret_json(KeyAlg::Es256, 1), http).await;
    let started = begin(&state, Flow::Spa, None);
    mount_token(&provider, ResponseTemplate::new(200).set_delay(Duration::from_secs(3)), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 504, "provider_timeout");
}

#[tokio::test]
async fn token_response_without_id_token_is_a_502() {
    let body = json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer"});
    refused_by_token_endpoint(
        ResponseTemplate::new(200).set_body_json(body),
        502,
        "id_token_missing",
    )
    .await;
}

#[tokio::test]
async fn discovery_issuer_mismatch_refuses_to_start() {
    let provider = FakeProvider::start_with(
        testing::key("k", KeyAlg::Rs256),
        json!({"issuer": "https://evil.example"}),
    )
    .await;
    let config = testing::config_with(&provider.issuer(), &[]);
    let http = crate::http_client().unwrap();
    let err = crate::discover(&http, &config.issuer_str).await.unwrap_err();
    assert!(matches!(err, crate::ProviderError::IssuerMismatch { .. }), "{err}");
    assert!(err.to_string().contains("https://evil.example"));
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch_then_rotation_is_accepted() {
    let provider = FakeProvider::start().await;
    let rotated = testing::key("idp-2", KeyAlg::Es256);
    // Cold start sees only idp-1; the refetch sees idp-2 as well.
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(provider.jwks(&[&provider.key])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&provider.server)
        .await;
    provider.serve_jwks(&[&provider.key, &rotated], Some(1)).await;
    let state =
        provider.state_with_cooldown(&secret_json(KeyAlg::Es256, 1), &[], Duration::ZERO).await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = jws(
        &json!({"alg": "ES256", "kid": "idp-2"}),
        &provider.claims(&started.nonce, ACCESS_TOKEN),
        &rotated,
    );
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
}

#[tokio::test]
async fn unknown_kid_within_the_cooldown_is_refused_without_a_refetch() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], Some(1)).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let bogus = testing::key("bogus", KeyAlg::Rs256);
    for _ in 0..3 {
        let started = begin(&state, Flow::Spa, None);
        let id_token = jws(
            &json!({"alg": "RS256", "kid": "bogus"}),
            &provider.claims(&started.nonce, ACCESS_TOKEN),
            &bogus,
        );
        provider.server.reset().await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&provider.server)
            .await;
        mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
        let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
        assert_refused(&resp, 401, "id_token_unknown_key");
        provider.server.verify().await;
    }
}

#[tokio::test]
async fn wrong_methods_and_routes_are_json_errors() {
    let (provider, state) = setup().await;
    mount_token(&provider, ResponseTemplate::new(500), 0).await;
    let resp = call(&state, Method::PUT, "/api/callback", None, b"", None).await;
    assert_refused(&resp, 405, "method_not_allowed");
    let resp = call(&state, Method::POST, "/authorization-code/callback", None, b"", None).await;
    assert_eq!(resp.status(), 303, "server flow failures redirect");
    let resp = call(&state, Method::POST, "/api/callback", None, b"not json", None).await;
    assert_refused(&resp, 400, "bad_request");
    let resp = call(&state, Method::GET, "/api/other", None, b"", None).await;
    assert_eq!(resp.status(), 404);
}
