//! Server-side sessions against the real stack: moto's DynamoDB (the table made from
//! template.yaml), the local provider with one-time rotating refresh tokens and a short access
//! token lifetime, `cargo lambda watch`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e::flows;
use e2e::{Jar, Options, Stack, client, jwt_parts, log_out_at_provider, sign_in_at_provider};
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

/// A SPA login through the provider: our JWT and the session handle cookie (`name=value`).
async fn spa_session(stack: &Stack, http: &reqwest::Client) -> (String, String) {
    spa_session_in(stack, http, &mut Jar::default()).await
}

/// [`spa_session`] keeping the provider's cookies in `jar`.
async fn spa_session_in(stack: &Stack, http: &reqwest::Client, jar: &mut Jar) -> (String, String) {
    let (login_url, tx) = flows::spa_login(stack, http, "/api/login").await;
    let redirect = sign_in_at_provider(http, jar, &login_url, "alice", "alice").await;
    let resp = flows::spa_callback(stack, http, &redirect, &tx).await;
    let whole = flows::set_cookies(&resp).into_iter().find(|c| c.starts_with("__Host-refresh="));
    let whole = whole.expect("the session handle cookie");
    assert!(whole.contains("HttpOnly") && whole.contains("SameSite=Strict"), "{whole}");
    let handle = flows::session_handle(&resp);
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    (token, handle)
}

/// The provider's access-token lifetime in the parallel-refresh test: long enough for a round
/// of 20 requests on a loaded machine, short enough to wait for twice.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15);

#[tokio::test]
async fn sessions_refresh_once_for_parallel_requests_and_end_at_logout() {
    let xray = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let options = Options {
        sessions: true,
        provider_env: vec![(
            "PROVIDER_ACCESS_TOKEN_TTL".into(),
            ACCESS_TOKEN_TTL.as_secs().to_string(),
        )],
        // As the template sets it: one JSON object per log line; and X-Ray on, its daemon a
        // socket of this test.
        function_env: vec![
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ("AWS_XRAY_DAEMON_ADDRESS".into(), xray.local_addr().unwrap().to_string()),
        ],
        ..Options::default()
    };
    let stack = Stack::start("sessions", options).await;
    let http = client();
    let (token, handle) = spa_session(&stack, &http).await;
    let (_, first) = jwt_parts(&token);
    let sid = first["sid"].as_str().expect("our JWT names the session").to_owned();
    let issued = stack.session_provider_tokens(&sid);
    let refresh_token = |tokens: &shared::ProviderTokens| {
        let token = tokens.refresh_token.as_ref().expect("the provider gave a refresh token");
        secrecy::ExposeSecret::expose_secret(token).to_owned()
    };

    // Without the handle, or without X-CSRF, nothing is refreshed.
    let resp = http.post(stack.function("refresh", "/api/refresh")).header("x-csrf", "1");
    let resp = resp.send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "session_missing");
    let resp = http.post(stack.function("refresh", "/api/refresh")).header(COOKIE, &handle);
    assert_eq!(resp.send().await.unwrap().status(), 403);

    // While the provider's access token lives: a fresh JWT of the same session.
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!(status, 200, "{body}\n{}", stack.log("functions"));
    let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].as_str(), claims["sid"].as_str()),
        (Some("alice"), Some(sid.as_str()))
    );
    assert_ne!(claims["jti"], first["jti"]);

    // The access token expires: 20 parallel refreshes on a one-time refresh token all
    // succeed; the provider revokes the whole grant on a reuse, so a second grant with the
    // same refresh token would have failed them.
    let mut slowest = Duration::ZERO;
    for round in 0..2 {
        tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
        let started = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (http, handle) = (http.clone(), handle.clone());
                let url = stack.function("refresh", "/api/refresh");
                tokio::spawn(async move {
                    let resp = http.post(url).header(COOKIE, handle).header("x-csrf", "1");
                    let resp = resp.send().await.unwrap();
                    (resp.status().as_u16(), resp.text().await.unwrap())
                })
            })
            .collect();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, 200, "round {round}: {body}\n{}", stack.log("functions"));
        }
        slowest = slowest.max(started.elapsed());
    }

    // Exactly one refresh grant per round: the session's version moved twice. (A round that
    // outlasted the new access token could legitimately make a second grant: then the count
    // says nothing, and the test says so rather than pass or fail on it.)
    let scan = stack.scan_sessions();
    let items: Vec<Value> = serde_json::from_str(&scan).unwrap();
    let item = items.iter().find(|i| i["h"]["S"] == sid.as_str()).expect("the session item");
    assert!(
        slowest < ACCESS_TOKEN_TTL,
        "a round of 20 refreshes took {slowest:?}, longer than the provider's access token \
         lives: the machine is too loaded for this test to count grants"
    );
    assert_eq!(item["ver"]["N"], "2", "one refresh grant per round of 20 requests");
    assert!(item.get("lease").is_none(), "no lease left behind");

    // The table holds no handle, no provider token in clear, no JWT.
    let value = handle.split_once('=').unwrap().1;
    assert!(scan.contains(&sid), "the session is stored: {scan}");
    for leaked in [value, "eyJ"] {
        assert!(!scan.contains(leaked), "the table holds a secret in clear");
    }

    // Each grant rotated the refresh token, and the session holds the latest one.
    let held = stack.session_provider_tokens(&sid);
    assert_ne!(refresh_token(&held), refresh_token(&issued), "the rotated token is stored");

    // A second session of the same user, to show that logout revokes its own grant only.
    let (other, _) = spa_session(&stack, &http).await;
    let other_sid = jwt_parts(&other).1["sid"].as_str().unwrap().to_owned();
    assert_ne!(other_sid, sid);
    let others = refresh_token(&stack.session_provider_tokens(&other_sid));

    // Logout ends the session: the refresh fails afterwards, and the cookie is cleared.
    let resp = flows::post_with_handle(&stack, &http, "logout", "/api/logout", &handle).await;
    assert_eq!(resp.status(), 200);
    let cleared = resp.headers().get_all(SET_COOKIE).iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("__Host-refresh=;") && c.contains("Max-Age=0")
    });
    assert!(cleared);
    // The provider's logout carries the session's last ID token as id_token_hint.
    let logout: Value = resp.json().await.unwrap();
    assert_eq!(logout["provider_logout"], "redirect");
    let logout_url = url::Url::parse(logout["logout_url"].as_str().unwrap()).unwrap();
    let hint = logout_url.query_pairs().find(|(k, _)| k == "id_token_hint").map(|(_, v)| v);
    let last_id_token = held.id_token.as_ref().map(secrecy::ExposeSecret::expose_secret);
    assert_eq!(hint.as_deref(), last_id_token, "the hint is the session's last ID token");
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    assert!(!stack.scan_sessions().contains(&sid), "the session item is deleted");

    // Logout revoked the refresh token at the provider: a grant with it fails there, while the
    // other session's grant, untouched by this logout, still works.
    let revoked = stack.provider_refresh_grant(&refresh_token(&held)).await;
    assert_eq!(revoked, (400, Some("invalid_grant".to_owned())), "{}", stack.log("provider"));
    assert_eq!(stack.provider_refresh_grant(&others).await.0, 200);
    stack.assert_log_holds_none(&[value, &token]);

    // Each step was counted in the functions' metric lines, which name no user or session.
    let metrics = stack.metric_lines();
    let published = |name: &str, dimension: Option<(&str, &str)>| {
        // A number, or an array of them for one metric measured twice in a request.
        let found = |m: &Value| m[name].is_number() || m[name].is_array();
        metrics.iter().any(|m| found(m) && dimension.is_none_or(|(k, v)| m[k] == v))
    };
    assert!(published("LoginCompleted", None), "{metrics:#?}");
    assert!(published("Refreshed", None));
    assert!(published("ProviderLatency", Some(("Endpoint", "refresh"))));
    assert!(published("ProviderLatency", Some(("Endpoint", "revocation"))));
    assert!(published("SessionEnded", Some(("Reason", "logout"))));
    assert!(published("Refused", Some(("ErrorCode", "session_expired"))));
    assert!(published("ColdStart", None));
    for line in &metrics {
        let text = line.to_string();
        assert!(!text.contains("alice") && !text.contains(&sid) && !text.contains("eyJ"), "{text}");
    }

    // With Lambda's JSON log format, one JSON line per request: its id (the runtime's span),
    // route, status, duration, and a refusal's error code.
    let requests: Vec<Value> = stack
        .log("functions")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| matches!(l["fields"]["message"].as_str(), Some("served" | "refused")))
        .collect();
    assert!(requests.len() >= 10, "{}", stack.log("functions"));
    for line in &requests {
        let fields = &line["fields"];
        assert!(line["span"]["requestId"].is_string(), "{line}");
        assert!(fields["path"].as_str().is_some_and(|p| p.starts_with('/')), "{line}");
        assert!(fields["status"].is_u64() && fields["duration_ms"].is_f64(), "{line}");
        assert_eq!(fields["error"].is_string(), fields["message"] == "refused", "{line}");
    }
    assert!(requests.iter().any(|l| l["fields"]["error"] == "session_expired"));

    // X-Ray: a subsegment per outbound call of a sampled invocation (cargo lambda samples each),
    // naming host, method and path, never a query, a header or a body.
    xray.set_nonblocking(true).unwrap();
    let mut buf = vec![0; 65_536];
    let mut calls = Vec::new();
    while let Ok(n) = xray.recv(&mut buf) {
        let datagram = String::from_utf8_lossy(&buf[..n]).into_owned();
        let (header, doc) = datagram.split_once('\n').expect("an X-Ray datagram");
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        assert!(!doc.contains('?') && !doc.contains("eyJ") && !doc.contains("alice"), "{doc}");
        calls.push(serde_json::from_str::<Value>(doc).unwrap());
    }
    let paths: BTreeSet<String> =
        calls.iter().filter_map(|c| c["http"]["request"]["url"].as_str()).map(url_path).collect();
    for path in ["/token", "/me", "/token/revocation", "/"] {
        assert!(paths.contains(path), "no subsegment of {path}: {paths:?}");
    }
    assert!(calls.iter().all(|c| c["type"] == "subsegment" && c["trace_id"].is_string()));
}

#[tokio::test]
async fn a_logout_at_the_provider_ends_the_session_through_the_back_channel() {
    let options = Options {
        sessions: true,
        function_env: vec![("SESSION_CHECK".into(), "strict".into())],
        ..Options::default()
    };
    let stack = Stack::start("backchannel", options).await;
    let http = client();
    let mut jar = Jar::default();
    let (token, handle) = spa_session_in(&stack, &http, &mut jar).await;
    let sid = jwt_parts(&token).1["sid"].as_str().unwrap().to_owned();
    let items: Vec<Value> = serde_json::from_str(&stack.scan_sessions()).unwrap();
    let item = items.iter().find(|i| i["h"]["S"] == sid.as_str()).expect("the session item");
    assert!(item.get("psid").is_some(), "the provider's ID token named its session: {item}");
    let me = |token: String| {
        let http = http.clone();
        let url = stack.function("me", "/api/me");
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(token.clone()).await, 200, "{}", stack.log("functions"));

    // The logout function's first request starts it (a refusal, deleting nothing), so the
    // provider's call below meets a running function.
    let warm = http.post(stack.function("logout", "/api/backchannel-logout")).send().await.unwrap();
    assert_eq!(warm.status(), 400);
    assert!(stack.scan_sessions().contains(&sid));

    // The user signs out at the provider's own page; the provider calls our back-channel.
    log_out_at_provider(&http, &mut jar, &stack.issuer()).await;
    assert!(
        stack.log("provider").contains("back-channel logout sent"),
        "{}",
        stack.log("provider")
    );
    assert!(!stack.scan_sessions().contains(&sid), "the session item is deleted");
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    // SESSION_CHECK=strict: the JWT issued before, still within its exp, is refused.
    assert_eq!(me(token.clone()).await, 401);
    stack.assert_log_holds_none(&[handle.split_once('=').unwrap().1, &token]);
}

/// The path of an absolute URL.
fn url_path(url: &str) -> String {
    url::Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_default()
}
