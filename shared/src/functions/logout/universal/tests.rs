//! Universal Logout in process (see [`crate::functions::logout::world`]).

use std::time::{Duration, Instant};

use base64::Engine as _;

use http::Method;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::functions::logout::world::*;
use crate::functions::refresh::Refresh;
use crate::functions::start::{Fetch as _, WithProvider};
use crate::keygen::KeyAlg;
use crate::sessions::{Owner, ProviderTokens};
use crate::testing::{CLIENT_ID, CLIENT_SECRET, dynamodb_client_at, jws, jws_hmac, key};
use crate::tokens::session::User;
use crate::web::request::Request;
use crate::web::routes::serve;

#[tokio::test]
async fn a_request_ends_every_session_of_its_user_there_and_revokes_each_refresh_token() {
    let world = World::start("default").await;
    for n in 0..3 {
        world.login(&world.okta, "alice", n, None).await;
    }
    world.login(&world.okta, "bob", 0, None).await;
    // Alice's sessions at the other provider are another user's (another issuer).
    world.login(&world.other, "alice", 9, None).await;

    let (status, body) = world
        .call(
            Some(&signed(&world.okta, &claims(&world.okta))),
            JSON,
            &iss_sub(&world.okta, "alice"),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(world.left(&world.okta, "alice").await, 0);
    assert_eq!(world.left(&world.okta, "bob").await, 1);
    assert_eq!(world.left(&world.other, "alice").await, 1);
    assert_eq!(world.revoked(&world.okta).await, ["rt-alice-0", "rt-alice-1", "rt-alice-2"]);
    assert!(world.revoked(&world.other).await.is_empty());

    // A user with no session left: 204 as well (nothing left to end), nothing revoked again.
    let (status, _) = world
        .call(
            Some(&signed(&world.okta, &claims(&world.okta))),
            JSON,
            &iss_sub(&world.okta, "alice"),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(world.revoked(&world.okta).await.len(), 3);
}

#[tokio::test]
async fn by_email_only_sessions_whose_provider_verified_that_address_end() {
    let world = World::start("default").await;
    world.login(&world.okta, "carol", 0, Some(("Carol@Example.com", true))).await;
    world.login(&world.okta, "carol", 1, Some(("carol@example.com", true))).await;
    // The same address, unverified, on another account: not carol's to end.
    world.login(&world.okta, "mallory", 0, Some(("carol@example.com", false))).await;
    world.login(&world.other, "carol", 0, Some(("carol@example.com", true))).await;
    let body = json!({"sub_id": {"format": "email", "email": "CAROL@example.COM"}}).to_string();
    let (status, answer) =
        world.call(Some(&signed(&world.okta, &claims(&world.okta))), JSON, &body).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(world.left(&world.okta, "carol").await, 0);
    assert_eq!(world.left(&world.okta, "mallory").await, 1);
    assert_eq!(world.left(&world.other, "carol").await, 1);
    assert_eq!(world.revoked(&world.okta).await, ["rt-carol-0", "rt-carol-1"]);
}

#[tokio::test]
async fn every_refusal_answers_its_status_and_ends_nothing() {
    let world = World::start("default").await;
    for n in 0..2 {
        world.login(&world.okta, "alice", n, None).await;
    }
    let okta = &world.okta;
    let alice = iss_sub(okta, "alice");
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = claims(okta);
        edit(c.as_object_mut().unwrap());
        signed(okta, &c)
    };
    let now = crate::unix_now();
    let header = |typ: &str| json!({"alg": "RS256", "kid": okta.key.kid(), "typ": typ});
    let forged = crate::testing::key("okta-1", KeyAlg::Rs256);
    let none = {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "Bearer {}.{}.",
            b64(&json!({"alg": "none", "typ": "global-token-revocation+jwt"})),
            b64(&claims(okta))
        )
    };
    let hs256 = format!(
        "Bearer {}",
        jws_hmac(
            CLIENT_SECRET.as_bytes(),
            &json!({"alg": "HS256", "kid": okta.key.kid()}),
            &claims(okta)
        )
    );
    let cases: Vec<Case> = vec![
        (String::new(), JSON, alice.clone(), 401, "invalid_token", "no Authorization"),
        ("Basic dXNlcjpwYXNz".into(), JSON, alice.clone(), 401, "invalid_token", "Basic"),
        (none, JSON, alice.clone(), 401, "invalid_token", "alg none"),
        (hs256, JSON, alice.clone(), 401, "invalid_token", "HS256 with the client secret"),
        (
            format!(
                "Bearer {}",
                jws(&header("global-token-revocation+jwt"), &claims(okta), &forged)
            ),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "another key under the provider's kid",
        ),
        (
            format!("Bearer {}", jws(&header("JWT"), &claims(okta), &okta.key)),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "typ JWT (an ID token)",
        ),
        (
            format!("Bearer {}", jws(&header("logout+jwt"), &claims(okta), &okta.key)),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "typ logout+jwt",
        ),
        (
            with(&|c| {
                c.insert("aud".into(), json!(CLIENT_ID));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "aud our client id",
        ),
        (
            with(&|c| {
                c.insert("aud".into(), json!("https://evil.example/api/global-token-revocation"));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "aud another endpoint",
        ),
        (
            with(&|c| {
                c.remove("aud");
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "no aud",
        ),
        (
            with(&|c| {
                c.insert("iss".into(), json!("https://evil.example"));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "iss unknown",
        ),
        (
            with(&|c| {
                c.insert("iss".into(), json!(world.other.issuer()));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "iss of the other provider, signed by this one's key",
        ),
        (
            with(&|c| {
                c.insert("exp".into(), json!(now - 120));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "expired",
        ),
        (
            with(&|c| {
                c.remove("exp");
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "no exp",
        ),
        (
            with(&|c| {
                c.insert("iat".into(), json!(now - 900));
                c.insert("exp".into(), json!(now + 60));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "iat too old",
        ),
        (
            with(&|c| {
                c.insert("iat".into(), json!(now + 600));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "iat in the future",
        ),
        (
            with(&|c| {
                c.insert("exp".into(), json!(now + 3_600));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "lives an hour",
        ),
        (
            with(&|c| {
                c.insert("nbf".into(), json!(now + 600));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "nbf in the future",
        ),
        (
            with(&|c| {
                c.insert("sub".into(), json!("another-app"));
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "sub another app's client id",
        ),
        (
            with(&|c| {
                c.remove("jti");
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "no jti",
        ),
        (
            with(&|c| {
                c.remove("sub");
            }),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "no sub",
        ),
        (
            format!(
                "Bearer {}",
                jws(&json!({"alg": "RS256", "kid": okta.key.kid()}), &claims(okta), &okta.key)
            ),
            JSON,
            alice.clone(),
            401,
            "invalid_token",
            "no typ",
        ),
        (
            signed(okta, &claims(okta)),
            Some("application/x-www-form-urlencoded"),
            alice.clone(),
            400,
            "invalid_request",
            "a form",
        ),
        (
            signed(okta, &claims(okta)),
            JSON,
            "{\"sub_id\": {\"format\": \"iss_sub\"}}".into(),
            400,
            "invalid_request",
            "iss_sub without its fields",
        ),
        (signed(okta, &claims(okta)), JSON, "not json".into(), 400, "invalid_request", "not JSON"),
        (
            signed(okta, &claims(okta)),
            JSON,
            json!({"sub_id": {"format": "opaque", "id": "alice"}}).to_string(),
            422,
            "unsupported_subject_format",
            "opaque",
        ),
        (
            signed(okta, &claims(okta)),
            JSON,
            iss_sub(&world.other, "alice"),
            403,
            "revocation_forbidden",
            "a subject of another provider",
        ),
    ];
    for (authorization, content_type, body, status, code, what) in cases {
        let authorization = (!authorization.is_empty()).then_some(authorization.as_str());
        let (got, answer) = world.call(authorization, content_type, &body).await;
        assert_eq!((got, answer["error"].as_str()), (status, Some(code)), "{what}: {answer}");
        assert_eq!(world.left(okta, "alice").await, 2, "{what}: nothing ended");
    }
    assert!(world.revoked(okta).await.is_empty());
    // The provider not allowed: signed by `other`, a configured provider, for its own user.
    world.login(&world.other, "dave", 0, None).await;
    let (status, answer) = world
        .call(
            Some(&signed(&world.other, &claims(&world.other))),
            JSON,
            &iss_sub(&world.other, "dave"),
        )
        .await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("revocation_forbidden")));
    assert_eq!(world.left(&world.other, "dave").await, 1);
}

#[tokio::test]
async fn a_replayed_request_is_refused_and_the_endpoint_is_off_without_its_providers() {
    let world = World::start("default,other").await;
    world.login(&world.okta, "alice", 0, None).await;
    let token = signed(&world.okta, &claims(&world.okta));
    let body = iss_sub(&world.okta, "alice");
    assert_eq!(world.call(Some(&token), JSON, &body).await.0, 204);
    world.login(&world.okta, "alice", 1, None).await;
    let (status, answer) = world.call(Some(&token), JSON, &body).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")));
    assert_eq!(world.left(&world.okta, "alice").await, 1, "the replay ended nothing");

    // Another instance of the logout function sees the same record: still a replay.
    let second = World::logout_of(&world.okta, &world.vars, &world.memory).await;
    assert_eq!(call(&second, Some(&token), JSON, &body).await.0, 401);

    // GLOBAL_LOGOUT_PROVIDERS unset: no endpoint.
    let mut off = world.vars.clone();
    off.retain(|(k, _)| *k != "GLOBAL_LOGOUT_PROVIDERS");
    let off = World::logout_of(&world.okta, &off, &world.memory).await;
    let fresh = signed(&world.okta, &claims(&world.okta));
    let (status, answer) = call(&off, Some(&fresh), JSON, &body).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("global_logout_not_configured")));
    assert_eq!(world.left(&world.okta, "alice").await, 1);
}

#[tokio::test]
async fn a_key_the_jwks_does_not_hold_is_fetched_for_once_then_refused() {
    let world = World::start("default").await;
    world.login(&world.okta, "alice", 0, None).await;
    // Signed by a key the provider never published, under a kid of its own.
    let stranger = key("okta-2", KeyAlg::Rs256);
    let header = json!({"alg": "RS256", "kid": "okta-2", "typ": "global-token-revocation+jwt"});
    let token = format!("Bearer {}", jws(&header, &claims(&world.okta), &stranger));
    let body = iss_sub(&world.okta, "alice");
    for _ in 0..3 {
        let (status, answer) = world.call(Some(&token), JSON, &body).await;
        assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")));
    }
    assert_eq!(world.left(&world.okta, "alice").await, 1);
    let received = world.okta.server.received_requests().await.unwrap();
    let fetches = received.iter().filter(|r| r.url.path() == "/jwks").count();
    assert_eq!(fetches, 1, "one fetch, then the cooldown: no fetch per forged request");
}

#[tokio::test]
async fn a_thousand_sessions_of_one_user_end_within_the_deadline_each_token_revoked() {
    let world = World::start("default").await;
    for n in 0..1_000 {
        world.login(&world.okta, "alice", n, None).await;
    }
    let started = Instant::now();
    let (status, answer) = world
        .call(
            Some(&signed(&world.okta, &claims(&world.okta))),
            JSON,
            &iss_sub(&world.okta, "alice"),
        )
        .await;
    assert_eq!(status, 204, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(15), "answered within the invocation's 15 s");
    assert_eq!(world.left(&world.okta, "alice").await, 0);
    let revoked = world.revoked(&world.okta).await;
    assert_eq!(revoked.len(), 1_000);
    revoked.windows(2).for_each(|w| assert_ne!(w[0], w[1], "each token revoked once"));
}

#[tokio::test]
async fn a_refresh_racing_the_revocation_ends_ended() {
    let world = World::start("default").await;
    // The session's access token has expired: the refresh grant, slow at the provider,
    // runs while the Universal Logout ends the session.
    let user = User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let issuer = world.okta.issuer();
    let owner =
        Owner { user: &user, idp: &issuer, provider: "default", provider_sid: None, device: None };
    let tokens = ProviderTokens {
        refresh_token: Some("rt-alice-0".to_owned().into()),
        access_token: "at-alice-0".to_owned().into(),
        access_expires_at: crate::unix_now() - 1,
        id_token: None,
        dpop_key: None,
    };
    let (handle, _) = world.store.create(&owner, &tokens, crate::unix_now() - 60).await.unwrap();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": 600, "refresh_token": "rt-alice-rotated"}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&world.okta.server)
        .await;
    let vars: Vec<(&'static str, &str)> =
        world.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let parts =
        world.okta.parts_with_sessions(&secret(), &vars, dynamodb_client_at("http://127.0.0.1:9"));
    let fetched =
        <Refresh as crate::functions::start::ColdStart>::Fetch::fetch(&parts.http, &parts.config)
            .await;
    let with = parts.with_provider(fetched.unwrap(), Duration::from_secs(60)).unwrap();
    let refresh =
        Refresh::from_parts(WithProvider { sessions: Some(table(&world.memory)), ..with });
    let req = Request {
        cookies: Some(format!("{}={}", crate::cookies::REFRESH, handle.expose())),
        csrf: true,
        ..crate::testing::request(&Method::POST, "/api/refresh")
    };
    let refreshing = serve(&refresh, &req, crate::unix_now());
    let ending = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        world
            .call(
                Some(&signed(&world.okta, &claims(&world.okta))),
                JSON,
                &iss_sub(&world.okta, "alice"),
            )
            .await
    };
    let (refreshed, (status, _)) = tokio::join!(refreshing, ending);
    assert_eq!(status, 204);
    let refreshed = refreshed.into_http();
    assert_eq!(refreshed.status(), 401, "{}", refreshed.body());
    assert!(refreshed.body().contains("session_expired"));
    assert_eq!(
        world.left(&world.okta, "alice").await,
        0,
        "the grant's store did not bring it back"
    );
    assert!(world.memory.violations().is_empty(), "{:?}", world.memory.violations());
    // The refresh token the session held when it ended was revoked, and so was the one the
    // grant brought, which the ended session could not hold.
    assert_eq!(world.revoked(&world.okta).await, ["rt-alice-0", "rt-alice-rotated"]);
}

#[tokio::test]
async fn a_run_the_deadline_cuts_short_leaves_whole_sessions_that_the_retry_revokes_and_ends() {
    let world = World::start("default").await;
    for n in 0..40 {
        world.login(&world.okta, "alice", n, None).await;
    }
    // A slow provider: each revocation takes 50 ms, and the first request's deadline leaves
    // about one second for the ending (the in-memory table ends one session after another).
    world.okta.server.reset().await;
    world.okta.serve_jwks(&[&world.okta.key], None).await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(50)))
        .mount(&world.okta.server)
        .await;
    let token = signed(&world.okta, &claims(&world.okta));
    let body = iss_sub(&world.okta, "alice");
    let short = Request {
        authorization: Some(&token),
        content_type: JSON,
        body: body.as_bytes(),
        deadline: Some(Instant::now() + Duration::from_secs(4)),
        ..crate::testing::request(&Method::POST, PATH)
    };
    let resp = serve(&world.logout, &short, crate::unix_now()).await.into_http();
    assert_eq!(resp.status(), 503, "{}", resp.body());
    assert!(resp.body().contains("logout_incomplete"));
    let left = world.left(&world.okta, "alice").await;
    assert!(0 < left && left < 40, "{left} left: part done, part not");
    // Every session gone was revoked first; every session left is whole (it still opens).
    let revoked = world.revoked(&world.okta).await;
    assert!(revoked.len() >= 40 - left, "{} revoked, {left} left", revoked.len());
    // The same JWT naming another user is refused: it was claimed for alice.
    world.login(&world.okta, "bob", 0, None).await;
    let (status, answer) = world.call(Some(&token), JSON, &iss_sub(&world.okta, "bob")).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")));
    assert_eq!(world.left(&world.okta, "bob").await, 1);
    // The provider's retry (the same request, for the same user) ends the rest.
    let (status, answer) = world.call(Some(&token), JSON, &body).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(world.left(&world.okta, "alice").await, 0);
    let mut revoked = world.revoked(&world.okta).await;
    revoked.dedup();
    let mut all: Vec<String> = (0..40).map(|n| format!("rt-alice-{n}")).collect();
    all.sort();
    assert_eq!(revoked, all, "each refresh token revoked, none lost to the deadline");
    // Done: no repeat of it is accepted, not even for alice.
    world.login(&world.okta, "alice", 99, None).await;
    assert_eq!(world.call(Some(&token), JSON, &body).await.0, 401);
    assert_eq!(world.left(&world.okta, "alice").await, 1);
}
