//! The callback's own behaviour: the SPA and server flows' answers, routing, APP_ORIGIN. Hostile
//! providers and browsers are the cases of `shared/tests/hostile/`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as STANDARD_B64;
use http::Method;
use http::header::LOCATION;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::keygen::KeyAlg;
use crate::testing::callbacks::*;
use crate::testing::{CLIENT_ID, CLIENT_SECRET, FakeProvider, secret_json};
use crate::unix_now;

/// The token endpoint answering `id_token` once to the code exchange it must receive: our client
/// authenticated with HTTP Basic, the code, a PKCE verifier and the flow's `redirect_uri`
/// (form-encoded).
async fn mount_exchange(provider: &FakeProvider, id_token: &str, redirect_uri: &str) {
    let basic = STANDARD_B64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", format!("Basic {basic}").as_str()))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains(format!("redirect_uri={redirect_uri}")))
        .respond_with(FakeProvider::token_response(id_token, ACCESS_TOKEN))
        .expect(1)
        .mount(&provider.server)
        .await;
}

#[tokio::test]
async fn spa_flow_get_issues_our_token_and_hides_the_providers() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, Some("/app?tab=1"));
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_exchange(&provider, &id_token, "http%3A%2F%2Flocalhost%3A5173%2Fcallback").await;
    mount_userinfo(
        &provider,
        json!({"sub": "alice", "email": "alice@example.com", "email_verified": true, "name": "Alice Example"}),
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
        json!({"sub": "alice", "email": "alice@example.com", "email_verified": true, "name": "Alice Example"})
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

#[tokio::test]
async fn spa_flow_post_reads_the_json_body() {
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
    let redirect_uri = "http%3A%2F%2Flocalhost%3A9000%2Fauthorization-code%2Fcallback";
    mount_exchange(&provider, &id_token, redirect_uri).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let resp = server_get(&state, &started, &ok_query(&provider, &started)).await;
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
    assert!(cookies.iter().any(|c| c.starts_with(&format!("{}=;", started.cookie_name()))));
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
    let resp = server_get(&state, &started, &query).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "http://localhost:5173/home?error=login_failed");
    assert_no_session_and_cleared(&resp);
    assert!(!resp.body().contains("script"));
}

#[tokio::test]
async fn wrong_methods_and_routes_are_json_errors() {
    let (provider, state) = setup().await;
    mount_token(&provider, ResponseTemplate::new(500), 0).await;
    let resp = call(&state, Method::PUT, "/api/callback", None, b"", None).await;
    assert_refused_touching_no_login(&resp, 405, "method_not_allowed");
    let resp = call(&state, Method::POST, "/authorization-code/callback", None, b"", None).await;
    assert_eq!(resp.status(), 303, "server flow failures redirect");
    let resp = call(&state, Method::POST, "/api/callback", None, b"not json", None).await;
    assert_refused_touching_no_login(&resp, 400, "bad_request");
    let resp = call(&state, Method::GET, "/api/other", None, b"", None).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn spa_callback_post_requires_a_json_content_type() {
    let (provider, state) = setup().await;
    // Refused before the exchange: a cross-site form sends these without a CORS preflight.
    mount_token(&provider, ResponseTemplate::new(500), 0).await;
    let started = begin(&state, Flow::Spa, None);
    let body = json!({"code": "c", "state": started.state, "iss": provider.issuer()}).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
    ] {
        let req = Request {
            cookies: Some(started.cookie.clone()),
            body: body.as_bytes(),
            content_type,
            ..crate::testing::request(&Method::POST, "/api/callback")
        };
        let resp = crate::serve(&state.callback, &req, unix_now()).await.into_http();
        assert_refused_touching_no_login(&resp, 415, "unsupported_media_type");
    }
    let json = Request {
        content_type: Some("Application/JSON; charset=utf-8"),
        ..crate::testing::request(&Method::POST, "/api/callback")
    };
    assert!(json.is_json(), "any case, any parameters");
}

#[tokio::test]
async fn one_deadline_per_request_answers_before_the_invocation_ends() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    // Slower than the invocation has left, well inside the HTTP client's own 10 s timeout.
    let slow = FakeProvider::token_response(&id_token, ACCESS_TOKEN)
        .set_delay(std::time::Duration::from_secs(4));
    mount_token(&provider, slow, 1).await;
    let query = ok_query(&provider, &started);
    let req = Request {
        query: Some(&query),
        cookies: Some(started.cookie.clone()),
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(1500)),
        ..crate::testing::request(&Method::GET, "/api/callback")
    };
    let resp = crate::serve(&state.callback, &req, unix_now()).await.into_http();
    assert_refused(&resp, 504, "provider_timeout");
}

/// A SPA login where the ID token states `email_verified` as `verified` (absent for `None`)
/// and userinfo adds nothing; the user and our JWT's claims it gives.
async fn login_with_email(
    verified: Option<bool>,
    overrides: &[(&'static str, &str)],
) -> (Value, crate::SessionClaims) {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), overrides).await;
    let started = begin(&state, Flow::Spa, None);
    let mut claims = provider.claims(&started.nonce, ACCESS_TOKEN);
    match verified {
        Some(v) => claims["email_verified"] = json!(v),
        None => drop(claims.as_object_mut().unwrap().remove("email_verified")),
    }
    mount_token(
        &provider,
        FakeProvider::token_response(&provider.id_token(&claims), ACCESS_TOKEN),
        1,
    )
    .await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let body = json_body(&resp);
    let ours =
        state.callback.session().verify(body["token"].as_str().unwrap(), unix_now()).unwrap();
    (body["user"].clone(), ours)
}

#[tokio::test]
async fn email_verified_travels_with_the_email_and_an_unverified_one_is_left_out() {
    let (user, ours) = login_with_email(Some(true), &[]).await;
    assert_eq!(
        (user["email"].clone(), user["email_verified"].clone()),
        (json!("alice@example.com"), json!(true))
    );
    assert_eq!(
        (ours.email.as_deref(), ours.email_verified),
        (Some("alice@example.com"), Some(true))
    );
    for unverified in [Some(false), None] {
        let (user, ours) = login_with_email(unverified, &[]).await;
        assert_eq!(user["email"], Value::Null, "{unverified:?}");
        assert_eq!((ours.email, ours.email_verified), (None, None), "{unverified:?}");
        assert_eq!(ours.sub, "alice", "sub (with idp) is the identifier");
    }
    let (user, ours) = login_with_email(None, &[("OIDC_UNVERIFIED_EMAIL", "include")]).await;
    assert_eq!(user["email_verified"], json!(false));
    assert_eq!(
        (ours.email.as_deref(), ours.email_verified),
        (Some("alice@example.com"), Some(false))
    );
}

#[tokio::test]
async fn a_name_or_email_over_its_cap_is_left_out_and_one_at_the_cap_kept() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let at_cap = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 12));
    let cases = [
        (
            json!({"sub": "alice", "name": "n".repeat(MAX_NAME_BYTES + 1), "email": format!("{}@example.com", "a".repeat(300)), "email_verified": true}),
            None,
            None,
        ),
        (
            json!({"sub": "alice", "name": "n".repeat(MAX_NAME_BYTES), "email": at_cap, "email_verified": true}),
            Some("n".repeat(MAX_NAME_BYTES)),
            Some(at_cap.clone()),
        ),
    ];
    for (info, name, email) in cases {
        let started = begin(&state, Flow::Spa, None);
        let claims = provider.claims(&started.nonce, ACCESS_TOKEN);
        let answer = FakeProvider::token_response(&provider.id_token(&claims), ACCESS_TOKEN);
        mount_token(&provider, answer, 1).await;
        mount_userinfo(&provider, info, 1).await;
        let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
        assert_eq!(resp.status(), 200, "{}", resp.body());
        let token = json_body(&resp)["token"].as_str().unwrap().to_owned();
        let ours = state.callback.session().verify(&token, unix_now()).unwrap();
        assert_eq!((ours.name, ours.email), (name, email));
        // The next login mounts its own answers.
        provider.server.reset().await;
        provider.serve_jwks(&[&provider.key], None).await;
    }
}

#[tokio::test]
async fn interaction_errors_of_the_provider_keep_their_code_in_both_flows() {
    for code in
        ["login_required", "interaction_required", "consent_required", "account_selection_required"]
    {
        let (provider, state) = setup().await;
        let query = |started: &Started| {
            format!(
                "state={}&iss={}&error={code}&error_description=x",
                started.state,
                provider.issuer()
            )
        };
        let started = begin(&state, Flow::Spa, None);
        let resp = spa_get(&state, &started, &query(&started)).await;
        assert_eq!(resp.status(), 401, "{code}");
        assert_eq!(json_body(&resp)["error"], code);
        assert_no_session_and_cleared(&resp);

        let started = begin(&state, Flow::Server, None);
        let resp = server_get(&state, &started, &query(&started)).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()[LOCATION], format!("/home?error={code}"));
        assert_no_session_and_cleared(&resp);
    }
    // Any other provider error is still login_failed, whatever it spells.
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let query = format!("state={}&iss={}&error=Login_Required", started.state, provider.issuer());
    let resp = spa_get(&state, &started, &query).await;
    assert_eq!(json_body(&resp)["error"], "login_failed");
}

/// A SPA login that asked for `max_age=300` and `acr_values=urn:a:mfa`, completed with an ID
/// token carrying the claims `edit` leaves.
async fn login_asking(
    edit: impl FnOnce(&mut Value),
    userinfo_calls: u64,
) -> http::Response<String> {
    let (provider, state) = setup().await;
    let options = crate::infra::config::LoginOptions {
        max_age: Some(300),
        acr_values: vec!["urn:a:mfa".into()],
        ..Default::default()
    };
    let start = state.login.start_with(Flow::Spa, None, None, &options, unix_now()).await.unwrap();
    let q: std::collections::HashMap<_, _> =
        start.authorize_url.query_pairs().into_owned().collect();
    let cookie = start.set_cookie.split(';').next().unwrap().to_owned();
    let started = Started { state: q["state"].clone(), nonce: q["nonce"].clone(), cookie };
    let mut claims = provider.claims(&started.nonce, ACCESS_TOKEN);
    claims["auth_time"] = json!(unix_now() - 10);
    claims["acr"] = json!("urn:a:mfa");
    edit(&mut claims);
    let id_token = provider.id_token(&claims);
    mount_exchange(&provider, &id_token, "http%3A%2F%2Flocalhost%3A5173%2Fcallback").await;
    mount_userinfo(&provider, json!({"sub": "alice"}), userinfo_calls).await;
    spa_get(&state, &started, &ok_query(&provider, &started)).await
}

#[tokio::test]
async fn max_age_and_acr_values_asked_at_login_are_enforced_at_the_callback() {
    let resp = login_asking(|_| {}, 1).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    for (edit, code) in [
        (
            Box::new(|c: &mut Value| _ = c.as_object_mut().unwrap().remove("auth_time"))
                as Box<dyn FnOnce(&mut Value)>,
            "auth_time_missing",
        ),
        (Box::new(|c: &mut Value| c["auth_time"] = json!(unix_now() - 3600)), "auth_too_old"),
        (
            Box::new(|c: &mut Value| _ = c.as_object_mut().unwrap().remove("acr")),
            "acr_not_satisfied",
        ),
        (Box::new(|c: &mut Value| c["acr"] = json!("urn:a:pwd")), "acr_not_satisfied"),
    ] {
        let resp = login_asking(edit, 0).await;
        assert_eq!(resp.status(), 401, "{code}");
        assert_eq!(json_body(&resp)["error"], code);
        assert_no_session_and_cleared(&resp);
    }
}

/// RFC 10017 section 6.1: with `BROWSER_TOKENS=none` the SPA flow's callback keeps its JSON
/// shape for the app (user, lifetime, where to go) but our JWT goes only into the `HttpOnly`
/// session cookie.
#[tokio::test]
async fn cookie_only_spa_callback_answers_no_token_and_sets_the_session_cookie() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[("BROWSER_TOKENS", "none")]).await;
    let started = begin(&state, Flow::Spa, Some("/orders"));
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice", "name": "Alice"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let body = json_body(&resp);
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["expires_in", "return_to", "user"]);
    assert_eq!(
        (body["expires_in"].as_u64(), body["return_to"].as_str()),
        (Some(900), Some("/orders"))
    );
    assert_eq!(
        (body["user"]["sub"].as_str(), body["user"]["name"].as_str()),
        (Some("alice"), Some("Alice"))
    );
    assert!(!resp.body().contains("eyJ"), "{}", resp.body());
    let session = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("__Host-session="))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=900"] {
        assert!(session.contains(attribute), "{session}");
    }
    let jwt = session.trim_start_matches("__Host-session=").split(';').next().unwrap();
    assert_eq!(state.callback.session().verify(jwt, unix_now()).unwrap().sub, "alice");
}

/// In the default mode too: a browser that holds the `HttpOnly` session cookie chose it, and
/// a script of the page must not trade it for a token it can read.
#[tokio::test]
async fn a_callback_carrying_the_session_cookie_answers_no_token() {
    let (provider, state) = setup().await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice"}), 1).await;
    let cookie = format!("{}; __Host-session=an.earlier.jwt", started.cookie);
    let query = ok_query(&provider, &started);
    let resp = call(&state, Method::GET, "/api/callback", Some(&query), b"", Some(&cookie)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    assert!(json_body(&resp).get("token").is_none(), "{}", resp.body());
    assert!(set_cookies(&resp).iter().any(|c| c.starts_with("__Host-session=ey")));
}
