//! A user's own sessions against the real stack (moto, oidc-provider with rotating refresh
//! tokens, `cargo lambda watch`): listed, one ended from another, then every one ended by
//! "everywhere", each refresh token revoked at the provider (which then refuses a direct grant
//! with it); and no request of one user lists, ends or learns of another user's session.

use e2e::flows;
use e2e::{Options, Stack, client};
use reqwest::header::{AUTHORIZATION, COOKIE};
use serde_json::Value;

/// `GET /api/sessions` as the holder of `token` (bearer) or, without it, of `handle`.
async fn list(
    stack: &Stack,
    http: &reqwest::Client,
    token: Option<&str>,
    handle: &str,
) -> (u16, Value) {
    let req = http.get(stack.function("logout", "/api/sessions"));
    let req = match token {
        Some(token) => req.header(AUTHORIZATION, format!("Bearer {token}")),
        None => req.header(COOKIE, handle),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `DELETE /api/sessions/{sid}` as the holder of `token`, with or without `X-CSRF: 1`.
async fn end(
    stack: &Stack,
    http: &reqwest::Client,
    token: &str,
    sid: &str,
    csrf: bool,
) -> (u16, String) {
    let req = http
        .delete(stack.function("logout", &format!("/api/sessions/{sid}")))
        .header(AUTHORIZATION, format!("Bearer {token}"));
    let req = if csrf { req.header("x-csrf", "1") } else { req };
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn sids(listing: &Value) -> Vec<String> {
    let all = listing["sessions"].as_array().expect("a list of sessions");
    let mut sids: Vec<String> = all.iter().map(|s| s["sid"].as_str().unwrap().to_owned()).collect();
    sids.sort();
    sids
}

fn refresh_token(stack: &Stack, sid: &str) -> String {
    let tokens = stack.session_provider_tokens(sid);
    let token = tokens.refresh_token.expect("the provider gave a refresh token");
    secrecy::ExposeSecret::expose_secret(&token).to_owned()
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions_and_everywhere_revokes_each_refresh_token() {
    let stack =
        Stack::start("your_sessions", Options { sessions: true, ..Options::default() }).await;
    let http = client();
    let (a1, a1_sid, a1_handle) = flows::spa_session_of(&stack, &http, "alice").await;
    let (_, a2_sid, a2_handle) = flows::spa_session_of(&stack, &http, "alice").await;
    let (_, a3_sid, a3_handle) = flows::spa_session_of(&stack, &http, "alice").await;
    let (b1, b1_sid, b1_handle) = flows::spa_session_of(&stack, &http, "bob").await;
    let tokens: Vec<String> =
        [&a1_sid, &a2_sid, &a3_sid].iter().map(|sid| refresh_token(&stack, sid)).collect();

    // Alice's three sessions, hers marked, nothing of bob's, no handle or token.
    let (status, listing) = list(&stack, &http, Some(&a1), &a1_handle).await;
    assert_eq!(status, 200, "{listing}\n{}", stack.log("functions"));
    let mut alice = vec![a1_sid.clone(), a2_sid.clone(), a3_sid.clone()];
    alice.sort();
    assert_eq!(sids(&listing), alice);
    let current: Vec<&Value> =
        listing["sessions"].as_array().unwrap().iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sid"], a1_sid.as_str());
    assert_eq!(current[0]["provider"], "default");
    assert!(current[0]["created"].as_u64().unwrap() <= current[0]["used"].as_u64().unwrap());
    let text = listing.to_string();
    for secret in [&a1_handle, &a2_handle, &a3_handle, &b1_handle]
        .map(|h| h.split_once('=').unwrap().1.to_owned())
    {
        assert!(!text.contains(&secret), "a handle in the listing");
    }
    for token in &tokens {
        assert!(!text.contains(token.as_str()), "a refresh token in the listing");
    }
    // By the handle cookie alone, the same list, the other session marked.
    let (status, by_handle) = list(&stack, &http, None, &a2_handle).await;
    assert_eq!(status, 200);
    assert_eq!(sids(&by_handle), alice);
    let marked = by_handle["sessions"].as_array().unwrap().iter().find(|s| s["current"] == true);
    assert_eq!(marked.unwrap()["sid"], a2_sid.as_str());
    // Bob sees his own only.
    assert_eq!(sids(&list(&stack, &http, Some(&b1), &b1_handle).await.1), [b1_sid.as_str()]);

    // Alice cannot end bob's session, by its sid taken from his JWT, nor a guessed one: the
    // same 404 for both; nor anything without X-CSRF.
    let (status, theirs) = end(&stack, &http, &a1, &b1_sid, true).await;
    let guessed = "A".repeat(43);
    let (status_guessed, none) = end(&stack, &http, &a1, &guessed, true).await;
    assert_eq!((status, status_guessed), (404, 404));
    assert_eq!(theirs, none, "another user's session answers as one that does not exist");
    assert!(theirs.contains("session_not_found"));
    assert_eq!(end(&stack, &http, &a1, "not-a-sid", true).await.0, 404);
    assert_eq!(end(&stack, &http, &a1, &a2_sid, false).await.0, 403);
    let (status, _) = stack.refresh(&http, &b1_handle).await;
    assert_eq!(status, 200, "bob's session lives on");

    // Alice ends her second session from the first: it refreshes no more, and its refresh
    // token is revoked at the provider.
    let (status, body) = end(&stack, &http, &a1, &a2_sid, true).await;
    assert_eq!(status, 204, "{body}\n{}", stack.log("functions"));
    let (status, body) = stack.refresh(&http, &a2_handle).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")));
    assert_eq!(
        stack.provider_refresh_grant(&tokens[1]).await,
        (400, Some("invalid_grant".to_owned()))
    );
    let (_, listing) = list(&stack, &http, Some(&a1), &a1_handle).await;
    let mut left = vec![a1_sid.clone(), a3_sid.clone()];
    left.sort();
    assert_eq!(sids(&listing), left);

    // Everywhere: every session of alice ends, each refresh token revoked; bob's untouched.
    let a1_token = refresh_token(&stack, &a1_sid);
    let a3_token = refresh_token(&stack, &a3_sid);
    let resp = http
        .post(stack.function("logout", "/api/logout"))
        .header(COOKIE, &a1_handle)
        .header("x-csrf", "1")
        .header("content-type", "application/json")
        .body(r#"{"everywhere": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    for handle in [&a1_handle, &a3_handle] {
        let (status, body) = stack.refresh(&http, handle).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")));
    }
    for token in [&a1_token, &a3_token] {
        let refused = stack.provider_refresh_grant(token).await;
        assert_eq!(refused, (400, Some("invalid_grant".to_owned())), "{}", stack.log("provider"));
    }
    assert_eq!(stack.refresh(&http, &b1_handle).await.0, 200);
    // The log line counts what everywhere revoked (the other session's; this one's own is
    // revoked as a plain logout's).
    assert!(stack.log("functions").contains("1 of 1 refresh tokens revoked (0 failed"));
    stack.assert_log_holds_none(&[&a1_token, &a3_token, &tokens[1]]);
}
