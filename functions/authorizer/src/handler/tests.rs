//! The authorizer fed with API Gateway HTTP API REQUEST authorizer events (payload 2.0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::testing::access_with_token;
use shared::unix_now;

use super::*;

#[tokio::test]
async fn the_lambda_authorizer_decides_api_gateway_events() {
    let (state, t) = access_with_token().await;
    let event = |headers: serde_json::Value,
                 cookies: serde_json::Value,
                 method: &str|
     -> serde_json::Value {
        serde_json::json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/api/me",
            "identitySource": [],
            "routeKey": "GET /api/me",
            "rawPath": "/api/me",
            "headers": headers,
            "cookies": cookies,
            "requestContext": {"http": {"method": method, "path": "/api/me"}},
        })
    };
    let ok = handle(
        &state,
        event(
            serde_json::json!({"authorization": format!("Bearer {t}")}),
            serde_json::json!([]),
            "GET",
        ),
        unix_now(),
    )
    .await;
    assert!(ok.is_authorized);
    assert_eq!(ok.context["sub"], "alice");
    assert_eq!(ok.context["name"], "Alice");
    let by_cookie = handle(
        &state,
        event(serde_json::json!({}), serde_json::json!([format!("__Host-session={t}")]), "GET"),
        unix_now(),
    )
    .await;
    assert!(by_cookie.is_authorized);
    let csrf = handle(
        &state,
        event(serde_json::json!({}), serde_json::json!([format!("__Host-session={t}")]), "POST"),
        unix_now(),
    )
    .await;
    assert!(!csrf.is_authorized, "a cookie-authenticated POST without X-CSRF");
    let csrf_ok = handle(
        &state,
        event(
            serde_json::json!({"x-csrf": "1"}),
            serde_json::json!([format!("__Host-session={t}")]),
            "POST",
        ),
        unix_now(),
    )
    .await;
    assert!(csrf_ok.is_authorized);
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"authorization": "Bearer forged.token.x"}),
        serde_json::json!({"authorization": format!("Basic {t}")}),
    ] {
        let r = handle(&state, event(bad, serde_json::json!([]), "GET"), unix_now()).await;
        assert!(!r.is_authorized && r.context.is_empty());
    }
    let serialized = serde_json::to_value(&ok).unwrap();
    assert_eq!(serialized["isAuthorized"], true, "the simple-response field name");
}

fn cookie_event(authorization: Option<&str>, cookie: &str) -> serde_json::Value {
    let headers = match authorization {
        Some(a) => serde_json::json!({"authorization": a}),
        None => serde_json::json!({}),
    };
    serde_json::json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/api/orders",
        "identitySource": [],
        "routeKey": "GET /api/orders",
        "rawPath": "/api/orders",
        "headers": headers,
        "cookies": [cookie],
        "requestContext": {"http": {"method": "GET", "path": "/api/orders"}},
    })
}

/// API Gateway caches an authorizer's answer by its identity source (the `Authorization`
/// header): an answer that came from the cookie while that header said `Basic ...` would be
/// served to everyone sending the same staging-gate header.
#[tokio::test]
async fn a_non_bearer_authorization_header_never_falls_back_to_the_cookie() {
    let (state, t) = access_with_token().await;
    let cookie = format!("__Host-session={t}");
    for header in ["Basic c3RhZ2luZzpnYXRl", "Digest username=x", "Token abc", "bearer", "Bearer"] {
        let r = handle(&state, cookie_event(Some(header), &cookie), unix_now()).await;
        assert!(!r.is_authorized && r.context.is_empty(), "{header}");
    }
    let r = handle(&state, cookie_event(None, &cookie), unix_now()).await;
    assert!(r.is_authorized, "the cookie alone still authorizes");
}

/// The cookie variant caches by `Cookie` (and `X-CSRF`): an answer resting on a bearer token
/// beside a cookie everyone shares (`consent=yes`) would be served to everyone sending that
/// cookie. The credential must be inside the cache key.
#[tokio::test]
async fn the_credential_decided_on_must_be_in_the_cache_key() {
    let (state, t) = access_with_token().await;
    let keyed = |authorization: Option<&str>, cookie: &str, sources: serde_json::Value| {
        let mut event = cookie_event(authorization, cookie);
        event["identitySource"] = sources;
        event
    };
    let shared_cookie = "consent=yes";
    let bearer = format!("Bearer {t}");
    let by_cookie_key =
        keyed(Some(&bearer), shared_cookie, serde_json::json!([shared_cookie, "1"]));
    let r = handle(&state, by_cookie_key, unix_now()).await;
    assert!(!r.is_authorized && r.context.is_empty(), "a bearer outside the cache key");
    let by_bearer_key = keyed(Some(&bearer), shared_cookie, serde_json::json!([bearer]));
    assert!(handle(&state, by_bearer_key, unix_now()).await.is_authorized);
    let session = format!("theme=dark; __Host-session={t}");
    let by_cookie = keyed(None, &session, serde_json::json!([session, "1"]));
    assert!(handle(&state, by_cookie, unix_now()).await.is_authorized);
}

/// `sub` names a user only together with `idp`; `sid` names the session (for revocation).
#[tokio::test]
async fn the_context_names_the_provider_and_the_session() {
    let (state, _) = access_with_token().await;
    let user = shared::User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let t = state.session().mint_in_session(&user, "https://idp.one", Some("s-1"), unix_now());
    let r =
        handle(&state, cookie_event(None, &format!("__Host-session={}", t.unwrap())), unix_now())
            .await;
    assert!(r.is_authorized);
    assert_eq!(r.context["idp"], "https://idp.one");
    assert_eq!(r.context["sid"], "s-1");
    assert_eq!(r.context["sub"], "alice");
}

#[tokio::test]
async fn an_event_that_is_not_an_authorizer_request_is_refused() {
    let (state, _) = access_with_token().await;
    for event in [serde_json::json!({}), serde_json::json!("x"), serde_json::json!({"headers": 1})]
    {
        let r = handle(&state, event, unix_now()).await;
        assert!(!r.is_authorized && r.context.is_empty());
    }
}
