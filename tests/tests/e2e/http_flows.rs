//! Both flows over plain HTTP: a Rust client plays the browser, submitting the provider's
//! login and consent forms.

use e2e::flows::first_cookie;
use e2e::flows::{self, spa_callback};
use e2e::{Jar, Options, Stack, client, jwt_parts, jwts_in, sign_in_at_provider};
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;

/// `/api/login`: returns the authorize URL and the transaction cookie (`name=value`).
async fn spa_login(stack: &Stack, http: &reqwest::Client, return_to: &str) -> (String, String) {
    let resp = http
        .get(stack.function("login", &format!("/api/login?return_to={return_to}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let cookie = first_cookie(&resp);
    assert!(cookie.starts_with("__Host-oidc-tx-"));
    let body: Value = resp.json().await.unwrap();
    (body["login_url"].as_str().unwrap().to_owned(), cookie)
}

/// The name of a `name=value` cookie.
fn name_of(cookie: &str) -> &str {
    cookie.split_once('=').unwrap().0
}

/// Everything the API answered, headers and body, as text: for "no provider token" checks.
async fn whole(resp: reqwest::Response) -> (u16, String, Value) {
    let status = resp.status().as_u16();
    let headers: String = resp
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
        .collect();
    let body = resp.text().await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, format!("{headers}\n{body}"), json)
}

/// The only JWT in an answer must be ours: signed by our key, issued by us.
fn assert_only_our_jwt(stack: &Stack, text: &str, token: &str) {
    assert_eq!(jwts_in(text), [token], "exactly one JWT, ours, in the answer:\n{text}");
    let (header, claims) = jwt_parts(token);
    assert_eq!(header["kid"], "ours-1");
    assert_eq!(claims["iss"], stack.app());
    assert_eq!(claims["idp"], stack.issuer());
}

#[tokio::test]
async fn spa_flow_over_http_issues_our_token_for_alice() {
    let stack = Stack::start("spa_flow_over_http", Options::default()).await;
    let http = client();
    let (login_url, tx_cookie) = spa_login(&stack, &http, "%2Forders").await;
    assert!(login_url.starts_with(&format!("{}/auth?", stack.issuer())));
    let mut jar = Jar::default();
    let redirect = sign_in_at_provider(&http, &mut jar, &login_url, "alice", "alice").await;
    assert!(redirect.as_str().starts_with(&stack.spa_redirect()));

    let resp = spa_callback(&stack, &http, &redirect, &tx_cookie).await;
    let cleared = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with(&format!("{}=;", name_of(&tx_cookie))));
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let (status, text, body) = whole(resp).await;
    assert_eq!(status, 200, "{text}\n{}", stack.log("functions"));
    assert!(cleared, "the transaction cookie is cleared");
    assert_eq!(
        body["user"],
        serde_json::json!({"sub": "alice", "email": "alice@example.com", "email_verified": true, "name": "Alice Example"})
    );
    assert_eq!(body["return_to"], "/orders");
    assert_eq!(body["token_type"], "Bearer");
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["expires_in", "return_to", "token", "token_type", "user"]);
    assert_only_our_jwt(&stack, &text, body["token"].as_str().unwrap());
    let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 900);

    // The functions ran at TRACE, and no line of theirs holds the transaction cookie, the code,
    // a JWT (ours or the provider's ID token) or the client secret.
    let code = redirect.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let sealed = tx_cookie.split_once('=').unwrap().1;
    stack.assert_log_holds_none(&[sealed, &code, body["token"].as_str().unwrap(), "eyJhbGci"]);
}

#[tokio::test]
async fn server_flow_over_http_sets_the_session_cookie_and_redirects() {
    let stack = Stack::start("server_flow_over_http", Options::default()).await;
    let http = client();
    let path = "/authorization-code/login?return_to=%2Fdashboard";
    let (authorize, tx_cookie) = flows::server_login(&stack, &http, path).await;
    let mut jar = Jar::default();
    let redirect = sign_in_at_provider(&http, &mut jar, &authorize, "bob", "bob").await;
    assert!(redirect.as_str().starts_with(&stack.server_redirect()));

    let resp = flows::server_callback(&stack, &http, &redirect, &tx_cookie).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    assert_eq!(resp.headers()[LOCATION], "/dashboard");
    let cookies: Vec<String> =
        resp.headers().get_all(SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect();
    let session =
        cookies.iter().find(|c| c.starts_with("__Host-session=")).expect("session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("Secure")
            && session.contains("SameSite=Lax")
    );
    assert!(cookies.iter().any(|c| c.starts_with("__Host-oidc-tx-") && c.contains("=;")));
    let token = session.trim_start_matches("__Host-session=").split(';').next().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["name"], "Bob Example");
    let (_, text, _) = whole(resp).await;
    assert_only_our_jwt(&stack, &text, token);
}

#[tokio::test]
async fn replayed_callback_and_foreign_cookie_are_refused() {
    let stack = Stack::start("replay_and_foreign_cookie", Options::default()).await;
    let http = client();

    // Browser A logs in; its callback is then replayed with the same code and cookie.
    let (login_url, cookie_a) = spa_login(&stack, &http, "%2F").await;
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &login_url, "alice", "alice").await;
    let first = spa_callback(&stack, &http, &redirect, &cookie_a).await;
    assert_eq!(first.status(), 200);
    let (status, text, body) = whole(spa_callback(&stack, &http, &redirect, &cookie_a).await).await;
    assert_eq!(status, 502, "{text}");
    assert_eq!(body["error"], "token_exchange_failed", "the provider refuses a code used twice");
    assert!(!text.contains("eyJ") && !text.contains("invalid_grant"), "{text}");

    // Browser B has its own login in progress; A's callback with B's cookie is refused before
    // any code exchange.
    let (login_a, cookie_a) = spa_login(&stack, &http, "%2F").await;
    let (_login_b, cookie_b) = spa_login(&stack, &http, "%2F").await;
    let redirect_a =
        sign_in_at_provider(&http, &mut Jar::default(), &login_a, "alice", "alice").await;
    let (status, text, body) =
        whole(spa_callback(&stack, &http, &redirect_a, &cookie_b).await).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(body["error"], "state_mismatch");
    assert!(!text.contains(&format!("{}=;", name_of(&cookie_b))), "B's login is not A's to clear");
    // A's own cookie still completes A's login: the refusal consumed nothing.
    let resp = spa_callback(&stack, &http, &redirect_a, &cookie_a).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn provider_refusal_is_answered_as_login_failed() {
    let stack = Stack::start("provider_refusal", Options::default()).await;
    let http = client();
    let (login_url, cookie) = spa_login(&stack, &http, "%2F").await;
    // Drop PKCE from the request: the provider answers error=invalid_request with its own text.
    let mut url = url::Url::parse(&login_url).unwrap();
    let pairs: Vec<(String, String)> =
        url.query_pairs().into_owned().filter(|(k, _)| !k.starts_with("code_challenge")).collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), url.as_str(), "alice", "alice").await;
    assert!(redirect.query_pairs().any(|(k, _)| k == "error_description"));
    let (status, text, body) = whole(spa_callback(&stack, &http, &redirect, &cookie).await).await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(body["error"], "login_failed");
    assert!(
        !text.to_lowercase().contains("pkce"),
        "the provider's description is not echoed: {text}"
    );
}
