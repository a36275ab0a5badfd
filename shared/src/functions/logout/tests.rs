use serde_json::json;

use http::Method;

use super::*;
use crate::keygen::KeyAlg;
use crate::testing::{FakeProvider, secret_json};
use crate::web::routes::serve;

async fn call(
    state: &Logout,
    method: Method,
    path: &str,
    cookies: Option<String>,
    csrf: bool,
) -> http::Response<String> {
    let req = Request { cookies, csrf, ..crate::testing::request(&method, path) };
    serve(state, &req, crate::unix_now()).await.into_http()
}

fn cookies_set(resp: &http::Response<String>) -> Vec<String> {
    resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

async fn setup(with_end_session: bool) -> (FakeProvider, Logout) {
    let extra = if with_end_session {
        json!({"end_session_endpoint": "http://localhost:1/logout?x=1"})
    } else {
        json!({})
    };
    let provider =
        FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), extra).await;
    let state = provider
        .function(
            &secret_json(KeyAlg::Es256, 1),
            &[("POST_LOGOUT_REDIRECT_URI", "http://localhost:5173/")],
        )
        .await;
    (provider, state)
}

#[tokio::test]
async fn api_logout_clears_cookies_and_returns_the_provider_logout_url() {
    let (_p, state) = setup(true).await;
    let tabs = "__Host-oidc-tx-aaaa=1; x=2; __Host-oidc-tx-bbbb=3; __Host-oidc-tx-aaaa=4";
    let resp = call(&state, Method::POST, "/api/logout", Some(tabs.into()), true).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(
        body["logout_url"],
        "http://localhost:1/logout?x=1&client_id=spa-client&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A5173%2F"
    );
    assert_eq!(body["provider_logout"], "redirect");
    let set = cookies_set(&resp);
    assert!(
        set.iter().any(|c| c.starts_with("__Host-session=;") && c.contains("Max-Age=0")),
        "{set:?}"
    );
    // Every login in flight is cleared, each once.
    let cleared: Vec<_> = set.iter().filter(|c| c.starts_with("__Host-oidc-tx-")).collect();
    assert_eq!(cleared.len(), 2, "{set:?}");
    for name in ["__Host-oidc-tx-aaaa=;", "__Host-oidc-tx-bbbb=;"] {
        assert!(cleared.iter().any(|c| c.starts_with(name) && c.contains("Max-Age=0")), "{set:?}");
    }
}

#[tokio::test]
async fn logout_requires_the_csrf_header_with_or_without_a_cookie() {
    let (_p, state) = setup(true).await;
    // A cross-site form can post without cookies too, and would end the provider session.
    let resp = call(&state, Method::POST, "/api/logout", None, false).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.body().contains("csrf_required"));
    assert!(cookies_set(&resp).is_empty());
    let resp =
        call(&state, Method::POST, "/api/logout", Some("__Host-session=abc".into()), false).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.body().contains("csrf_required"));
    assert!(cookies_set(&resp).is_empty(), "nothing cleared for a cross-site form");
    let resp =
        call(&state, Method::POST, "/api/logout", Some("__Host-session=abc".into()), true).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn server_logout_redirects_to_the_provider_or_home() {
    let (_p, state) = setup(true).await;
    let resp = call(&state, Method::GET, "/authorization-code/logout", None, false).await;
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("http://localhost:1/logout?x=1&client_id=")
    );
    assert!(cookies_set(&resp).iter().any(|c| c.starts_with("__Host-session=;")));

    let (_p, state) = setup(false).await;
    let resp = call(&state, Method::GET, "/authorization-code/logout", None, false).await;
    assert_eq!(resp.headers()["location"], "/home");
    let resp = call(&state, Method::POST, "/api/logout", None, true).await;
    let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(body["logout_url"], serde_json::Value::Null);
    // Said clearly: the provider's own session goes on.
    assert_eq!(body["provider_logout"], "unsupported");
}

#[tokio::test]
async fn api_logout_refuses_a_body_over_its_cap_before_parsing_it() {
    let (_p, state) = setup(true).await;
    let padded = format!("{{\"everywhere\": false, \"pad\": \"{}\"}}", "x".repeat(MAX_LOGOUT_BODY));
    for (body, status, code) in
        [(padded.as_str(), 413, Some("request_too_large")), ("{\"everywhere\": false}", 200, None)]
    {
        let req = Request {
            csrf: true,
            content_type: Some("application/json"),
            body: body.as_bytes(),
            ..crate::testing::request(&Method::POST, "/api/logout")
        };
        let resp = serve(&state, &req, crate::unix_now()).await.into_http();
        assert_eq!(resp.status(), status, "{}", resp.body());
        if let Some(code) = code {
            let answer: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
            assert_eq!(answer["error"], code);
        }
    }
}
