use super::*;
use crate::keygen::KeyAlg;
use crate::session::User;
use crate::state::unix_now;
use crate::testing::{FakeProvider, secret_json};

async fn state() -> (FakeProvider, State) {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    (provider, state)
}

fn token(state: &State) -> String {
    let user = User { sub: "alice".into(), email: None, name: Some("Alice".into()) };
    state.session.mint(&user, "https://idp", unix_now()).unwrap()
}

fn me(
    state: &State,
    method: Method,
    authorization: Option<&str>,
    cookies: Option<String>,
    csrf: bool,
) -> http::Response<String> {
    let req = Request {
        method: &method,
        path: "/api/me",
        query: None,
        cookies,
        authorization,
        csrf,
        body: b"",
    };
    handle_me(state, &req).into_http()
}

fn error_of(resp: &http::Response<String>) -> String {
    serde_json::from_str::<serde_json::Value>(resp.body()).unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn me_answers_the_claims_of_a_bearer_token_or_the_session_cookie() {
    let (_p, state) = state().await;
    let t = token(&state);
    let resp = me(&state, Method::GET, Some(&format!("Bearer {t}")), None, false);
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let claims: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let resp = me(&state, Method::GET, None, Some(format!("a=1; __Host-session={t}")), false);
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn me_refuses_missing_invalid_and_foreign_tokens() {
    let (_p, state) = state().await;
    let resp = me(&state, Method::GET, None, None, false);
    assert_eq!((resp.status().as_u16(), error_of(&resp).as_str()), (401, "missing_token"));
    assert!(resp.headers().contains_key("www-authenticate"));
    let foreign = crate::testing::key("ours-1", KeyAlg::Es256);
    let forged = crate::testing::jws(
        &serde_json::json!({"alg": "ES256", "kid": "ours-1"}),
        &serde_json::json!({"iss": crate::testing::SESSION_ISSUER, "aud": crate::testing::SESSION_AUDIENCE, "sub": "mallory", "iat": unix_now(), "exp": unix_now() + 60}),
        &foreign,
    );
    for bad in [format!("Bearer {forged}"), "Bearer not.a.jwt".into(), "Bearer ".into()] {
        let resp = me(&state, Method::GET, Some(&bad), None, false);
        assert_eq!(resp.status(), 401, "{bad}");
        assert_eq!(error_of(&resp), "invalid_token");
    }
    let resp = me(&state, Method::POST, Some("Bearer x"), None, false);
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn cookie_authenticated_state_changes_need_the_csrf_header() {
    let (_p, state) = state().await;
    let t = token(&state);
    let cookies = format!("__Host-session={t}");
    let presented = |method: &'static Method, csrf| Presented {
        method,
        authorization: None,
        cookies: Some(&cookies),
        csrf,
    };
    assert!(matches!(
        authenticate(&state, &presented(&Method::POST, false)),
        Err(Error::CsrfRequired)
    ));
    assert!(matches!(
        authenticate(&state, &presented(&Method::DELETE, false)),
        Err(Error::CsrfRequired)
    ));
    assert_eq!(
        authenticate(&state, &presented(&Method::POST, true)).unwrap().1,
        Credential::Cookie
    );
    assert_eq!(
        authenticate(&state, &presented(&Method::GET, false)).unwrap().1,
        Credential::Cookie
    );
    // A bearer token needs no CSRF header: a cross-site form cannot set Authorization.
    let bearer = format!("Bearer {t}");
    let p = Presented {
        method: &Method::POST,
        authorization: Some(&bearer),
        cookies: None,
        csrf: false,
    };
    assert_eq!(authenticate(&state, &p).unwrap().1, Credential::Bearer);
}

#[tokio::test]
async fn the_lambda_authorizer_decides_api_gateway_events() {
    let (_p, state) = state().await;
    let t = token(&state);
    let event =
        |headers: serde_json::Value, cookies: serde_json::Value, method: &str| -> AuthorizerEvent {
            serde_json::from_value(serde_json::json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/api/me",
            "identitySource": [],
            "routeKey": "GET /api/me",
            "rawPath": "/api/me",
            "headers": headers,
            "cookies": cookies,
            "requestContext": {"http": {"method": method, "path": "/api/me"}},
        }))
        .unwrap()
        };
    let ok = authorize_event(
        &state,
        &event(
            serde_json::json!({"authorization": format!("Bearer {t}")}),
            serde_json::json!([]),
            "GET",
        ),
    );
    assert!(ok.is_authorized);
    assert_eq!(ok.context["sub"], "alice");
    assert_eq!(ok.context["name"], "Alice");
    let by_cookie = authorize_event(
        &state,
        &event(serde_json::json!({}), serde_json::json!([format!("__Host-session={t}")]), "GET"),
    );
    assert!(by_cookie.is_authorized);
    let csrf = authorize_event(
        &state,
        &event(serde_json::json!({}), serde_json::json!([format!("__Host-session={t}")]), "POST"),
    );
    assert!(!csrf.is_authorized, "a cookie-authenticated POST without X-CSRF");
    let csrf_ok = authorize_event(
        &state,
        &event(
            serde_json::json!({"x-csrf": "1"}),
            serde_json::json!([format!("__Host-session={t}")]),
            "POST",
        ),
    );
    assert!(csrf_ok.is_authorized);
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"authorization": "Bearer forged.token.x"}),
        serde_json::json!({"authorization": format!("Basic {t}")}),
    ] {
        let r = authorize_event(&state, &event(bad, serde_json::json!([]), "GET"));
        assert!(!r.is_authorized && r.context.is_empty());
    }
    let serialized = serde_json::to_value(&ok).unwrap();
    assert_eq!(serialized["isAuthorized"], true, "the simple-response field name");
}
