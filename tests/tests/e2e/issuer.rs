//! Our tokens as a first-class issuer, through the local stack: metadata and JWKS, /api/me with
//! a bearer token and with the session cookie, logout, and key rotation without logout.

use e2e::flows;
use e2e::{Jar, Options, SECRET_ID, Stack, client, get_json, jwt_parts, sign_in_at_provider};
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use serde_json::Value;

/// A full SPA login for alice: our token.
async fn spa_token(stack: &Stack, http: &reqwest::Client) -> String {
    let (redirect, cookie) = spa_login_until_redirect(stack, http).await;
    let resp = flows::spa_callback(stack, http, &redirect, &cookie).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// `/api/login` and the provider: the redirect back and the transaction cookie.
async fn spa_login_until_redirect(stack: &Stack, http: &reqwest::Client) -> (url::Url, String) {
    let (login_url, cookie) = flows::spa_login(stack, http, "/api/login").await;
    let redirect =
        sign_in_at_provider(http, &mut Jar::default(), &login_url, "alice", "alice").await;
    (redirect, cookie)
}

async fn me(stack: &Stack, http: &reqwest::Client, token: &str) -> (u16, Value) {
    flows::me(stack, http, (AUTHORIZATION.as_str(), format!("Bearer {token}"))).await
}

async fn kids(stack: &Stack, http: &reqwest::Client) -> Vec<String> {
    let jwks = get_json(http, &stack.function("issuer", "/.well-known/jwks.json")).await;
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn rotate(stack: &Stack, args: &[&str]) {
    let status = std::process::Command::new("cargo")
        .args(["run", "--quiet", "-p", "secret-tool", "--", "rotate", "--secret-id", SECRET_ID])
        .args(args)
        .current_dir(e2e::root())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "e2e")
        .env("AWS_SECRET_ACCESS_KEY", "e2e")
        .env("AWS_ENDPOINT_URL", stack.moto.endpoint())
        .status()
        .unwrap();
    assert!(status.success(), "secret-tool rotate failed");
}

#[tokio::test]
async fn metadata_me_and_logout() {
    let stack = Stack::start("issuer_me_logout", Options::default()).await;
    let http = client();

    let resp = http
        .get(stack.function("issuer", "/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["issuer"], stack.app());
    assert_eq!(meta["jwks_uri"], format!("{}/.well-known/jwks.json", stack.app()));
    assert_eq!(kids(&stack, &http).await, ["ours-1"]);

    let token = spa_token(&stack, &http).await;
    let (status, claims) = me(&stack, &http, &token).await;
    assert_eq!(status, 200);
    assert_eq!(claims["sub"], "alice");
    let (status, body) = me(&stack, &http, &format!("{token}x")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));

    // Logout: the provider's end_session_endpoint with our client id and the configured return.
    let resp = http
        .post(stack.function("logout", "/api/logout"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header("x-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("__Host-session=;"))
    );
    let body: Value = resp.json().await.unwrap();
    let logout_url = url::Url::parse(body["logout_url"].as_str().unwrap()).unwrap();
    assert!(
        logout_url.as_str().starts_with(&format!("{}/session/end?", stack.issuer())),
        "{logout_url}"
    );
    let q: std::collections::HashMap<_, _> = logout_url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], e2e::CLIENT_ID);
    assert_eq!(q["post_logout_redirect_uri"], format!("{}/", stack.app()));
    // The provider accepts it: it shows its confirmation page.
    let page = http.get(logout_url).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // A cross-site form riding the session cookie cannot log out.
    let resp = http
        .post(stack.function("logout", "/api/logout"))
        .header(COOKIE, format!("__Host-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // At TRACE, neither the bearer token nor the session cookie reached a log line of `me`,
    // `logout` or `issuer`, nor any other JWT.
    stack.assert_log_holds_none(&[&token, "eyJhbGci"]);
}

#[tokio::test]
async fn rotation_keeps_everyone_logged_in_until_the_old_key_is_removed() {
    let mut stack = Stack::start("rotation", Options::default()).await;
    let http = client();
    let old_token = spa_token(&stack, &http).await;
    // A login in flight across the rotation: its cookie is sealed under the old cookie key.
    // (The user signs in at the provider after the rotation: the provider's codes live 60 s.)
    let (in_flight_url, in_flight_cookie) = flows::spa_login(&stack, &http, "/api/login").await;

    rotate(&stack, &["--alg", "ES256", "--kid", "ours-2"]);
    stack.restart_functions().await;

    assert_eq!(kids(&stack, &http).await, ["ours-2", "ours-1"], "both keys are published");
    let (status, claims) = me(&stack, &http, &old_token).await;
    assert_eq!(
        (status, claims["sub"].as_str()),
        (200, Some("alice")),
        "a token of the old key still verifies"
    );
    let in_flight =
        sign_in_at_provider(&http, &mut Jar::default(), &in_flight_url, "alice", "alice").await;
    let resp = flows::spa_callback(&stack, &http, &in_flight, &in_flight_cookie).await;
    assert_eq!(resp.status(), 200, "a login started before the rotation completes");
    let finished = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_parts(&finished).0["kid"], "ours-2", "and is signed by the new key");
    let new_token = spa_token(&stack, &http).await;
    assert_eq!(jwt_parts(&new_token).0["kid"], "ours-2");

    // Keep only the newest key of each kind: the old key is gone, its tokens no longer verify.
    rotate(&stack, &["--alg", "ES256", "--kid", "ours-3", "--keep", "2"]);
    stack.restart_functions().await;
    assert_eq!(kids(&stack, &http).await, ["ours-3", "ours-2"]);
    let (status, body) = me(&stack, &http, &old_token).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    let (status, _) = me(&stack, &http, &new_token).await;
    assert_eq!(status, 200);
}
