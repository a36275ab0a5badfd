//! The cookie-only posture (RFC 10017 section 6.1) against the real stack: `BROWSER_TOKENS`
//! at the callback and at `/api/refresh`, and the `proxy` function forwarding to the local
//! upstream API (`dev/upstream/upstream.mjs`), which verifies the bearer it receives (our JWT
//! with our JWKS, or the provider's access token at the provider's userinfo) and answers what
//! it saw. Each refusal has its case, and the upstream's request count shows that a refused
//! request never reached it.

use std::time::{Duration, Instant};

use e2e::{Jar, Options, Stack, client, flows, free_port, jwt_parts, sign_in_at_provider};
use reqwest::header::{AUTHORIZATION, COOKIE, ORIGIN};
use serde_json::Value;

/// The signed-in browser of a cookie-only stack: its `__Host-session` (our JWT) and
/// `__Host-refresh` (the session handle) cookies, as `name=value`.
struct Browser {
    session: String,
    handle: String,
}

impl Browser {
    fn cookies(&self) -> String {
        format!("{}; {}", self.session, self.handle)
    }

    /// The JWT in the session cookie (what the tests look for in logs).
    fn jwt(&self) -> &str {
        self.session.trim_start_matches("__Host-session=")
    }
}

/// A SPA-flow login (alice) on a stack whose functions run with `BROWSER_TOKENS=none`: the
/// callback's answer has no token, and the browser holds both cookies.
async fn cookie_only_login(stack: &Stack, http: &reqwest::Client) -> Browser {
    let (login_url, tx) = flows::spa_login(stack, http, "/api/login?return_to=/orders").await;
    let redirect =
        sign_in_at_provider(http, &mut Jar::default(), &login_url, "alice", "alice").await;
    let resp = flows::spa_callback(stack, http, &redirect, &tx).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let set = flows::set_cookies(&resp);
    let cookie = |name: &str| {
        let whole = set.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        (whole.clone(), whole.split(';').next().unwrap().to_owned())
    };
    let (whole, session) = cookie("__Host-session=");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(whole.contains(attribute), "{whole}");
    }
    let (_, handle) = cookie("__Host-refresh=");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("eyJ"), "a token in the callback's body: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expires_in", "return_to", "user"], "{text}");
    assert_eq!(
        (body["user"]["sub"].as_str(), body["return_to"].as_str()),
        (Some("alice"), Some("/orders"))
    );
    Browser { session, handle }
}

/// `method /api/remote/<rest>` through the proxy with `cookies` and `X-CSRF: 1`.
fn remote(
    stack: &Stack,
    http: &reqwest::Client,
    method: reqwest::Method,
    rest: &str,
    cookies: &str,
) -> reqwest::RequestBuilder {
    let url = stack.function("proxy", &format!("/api/remote/{rest}"));
    http.request(method, url).header(COOKIE, cookies).header("x-csrf", "1")
}

/// `GET /api/remote/<rest>` through the proxy as the signed-in browser: the whole answer.
async fn get_as(
    stack: &Stack,
    http: &reqwest::Client,
    rest: &str,
    browser: &Browser,
) -> reqwest::Response {
    remote(stack, http, reqwest::Method::GET, rest, &browser.cookies()).send().await.unwrap()
}

/// `GET /api/remote/<rest>` as the signed-in browser, which must answer `status`: the
/// headers and body. Otherwise the test fails showing the body and the functions' log.
async fn answered(
    stack: &Stack,
    http: &reqwest::Client,
    rest: &str,
    browser: &Browser,
    status: u16,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let resp = get_as(stack, http, rest, browser).await;
    let (got, headers) = (resp.status().as_u16(), resp.headers().clone());
    let body = resp.bytes().await.unwrap().to_vec();
    if got != status {
        let shown = String::from_utf8_lossy(&body[..body.len().min(2000)]).into_owned();
        panic!("{rest}: {got}, not {status}: {shown}\n{}", stack.log("functions"));
    }
    (headers, body)
}

async fn status_and_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET path` of the proxy sent byte for byte over a plain TCP connection (no URL
/// normalisation), with `cookies` and `X-CSRF: 1`: the status and the body's text.
async fn raw_get(stack: &Stack, path: &str, cookies: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let url = url::Url::parse(&stack.function("proxy", "/")).unwrap();
    let authority = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let prefix = url.path().trim_end_matches('/');
    let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!(
        "GET {prefix}{path} HTTP/1.1\r\nHost: {authority}\r\nCookie: {cookies}\r\nX-CSRF: 1\r\n\
         Connection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// How many requests reached the upstream's API bases.
async fn seen(stack: &Stack, http: &reqwest::Client) -> u64 {
    let url = format!("{}/_seen", stack.upstream());
    http.get(url).send().await.unwrap().json::<Value>().await.unwrap()["count"].as_u64().unwrap()
}

/// Options of a stack with sessions and the functions in cookie-only mode, plus `env`.
fn cookie_only(env: &[(&str, String)]) -> Options {
    let mut function_env = vec![("BROWSER_TOKENS".to_owned(), "none".to_owned())];
    function_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    Options { sessions: true, function_env, ..Options::default() }
}

#[tokio::test]
async fn cookie_only_mode_answers_no_token_and_renews_the_session_cookie() {
    let stack = Stack::start("cookie-only", cookie_only(&[])).await;
    let http = client();
    let browser = cookie_only_login(&stack, &http).await;

    // The cookie authenticates `/api/me`.
    let (status, me) = flows::me(&stack, &http, ("cookie", browser.session.clone())).await;
    assert_eq!((status, me["sub"].as_str()), (200, Some("alice")), "{me}");

    // `/api/refresh` renews the cookie and answers the user, never a token.
    let resp =
        flows::post_with_handle(&stack, &http, "refresh", "/api/refresh", &browser.handle).await;
    assert_eq!(resp.status(), 200);
    let renewed = flows::set_cookies(&resp).into_iter().find(|c| c.starts_with("__Host-session="));
    let renewed = renewed.expect("a renewed session cookie");
    assert!(renewed.contains("HttpOnly"), "{renewed}");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("eyJ"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (body["user"]["sub"].as_str(), body["expires_in"].as_u64()),
        (Some("alice"), Some(900))
    );
    assert!(body.get("token").is_none());

    // Nothing of the browser's cookies reached the log.
    let handle = browser.handle.trim_start_matches("__Host-refresh=");
    stack.assert_log_holds_none(&[browser.jwt(), handle]);
}

/// In the default mode, `/api/refresh` still answers a token to the SPA that holds only the
/// session handle; but never to a request that carries `__Host-session` (a server-flow or
/// cookie-only browser: a script there must not trade the cookie for a token). A deployment
/// with the server flow only behaves as `none` in every answer.
#[tokio::test]
async fn refresh_never_answers_a_token_to_a_browser_holding_the_session_cookie() {
    let options = Options { sessions: true, ..Options::default() };
    let stack = Stack::start("refresh-cookie", options).await;
    let http = client();
    let (login_url, tx) = flows::server_login(&stack, &http, "/authorization-code/login").await;
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &login_url, "alice", "alice").await;
    let resp = flows::server_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    let session = flows::set_cookies(&resp).into_iter().find(|c| c.starts_with("__Host-session="));
    let session = session.unwrap().split(';').next().unwrap().to_owned();
    let handle = flows::session_handle(&resp);

    let both = format!("{session}; {handle}");
    let resp = flows::post_with_handle(&stack, &http, "refresh", "/api/refresh", &both).await;
    assert_eq!(resp.status(), 200);
    assert!(flows::set_cookies(&resp).iter().any(|c| c.starts_with("__Host-session=ey")));
    let text = resp.text().await.unwrap();
    assert!(!text.contains("eyJ") && text.contains("\"sub\":\"alice\""), "{text}");

    // The handle alone, in the default mode: the SPA flow's answer, with the token.
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!(status, 200);
    assert!(body["token"].as_str().is_some_and(|t| t.starts_with("eyJ")), "{body}");

    // A server-flow-only deployment: the handle alone gets no token either.
    drop(stack);
    let options = Options {
        sessions: true,
        function_env: vec![("OIDC_REDIRECT_URI".into(), String::new())],
        ..Options::default()
    };
    let stack = Stack::start("refresh-server-only", options).await;
    let (login_url, tx) = flows::server_login(&stack, &http, "/authorization-code/login").await;
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &login_url, "alice", "alice").await;
    let resp = flows::server_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    let handle = flows::session_handle(&resp);
    let resp = flows::post_with_handle(&stack, &http, "refresh", "/api/refresh", &handle).await;
    assert_eq!(resp.status(), 200);
    assert!(flows::set_cookies(&resp).iter().any(|c| c.starts_with("__Host-session=ey")));
    let text = resp.text().await.unwrap();
    assert!(!text.contains("eyJ"), "{text}");
    let resp = http.get(stack.function("login", "/api/login")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "the SPA flow is off");
}

/// The provider's access-token lifetime in the forwarding test: short enough to wait past.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(8);

#[tokio::test]
async fn the_proxy_forwards_with_our_token_or_the_providers_and_passes_the_answer_back() {
    let mut options = cookie_only(&[]);
    options.provider_env =
        vec![("PROVIDER_ACCESS_TOKEN_TTL".into(), ACCESS_TOKEN_TTL.as_secs().to_string())];
    let stack = Stack::start("proxy-forward", options).await;
    let http = client();
    let browser = cookie_only_login(&stack, &http).await;
    let (_, claims) = jwt_parts(browser.jwt());
    let sid = claims["sid"].as_str().unwrap().to_owned();

    // `ours`: a JWT of ours for the API's audience, verified upstream with our JWKS; the
    // browser's cookie, Authorization and X-CSRF stay behind; method, path and query go on.
    let req = remote(
        &stack,
        &http,
        reqwest::Method::GET,
        "echo/orders/42?page=2&q=a%20b",
        &browser.cookies(),
    )
    .header(AUTHORIZATION, "Basic c3RhZ2luZzpnYXRl")
    .header("x-request-id", "r-1");
    let (status, saw) = status_and_json(req).await;
    assert_eq!(status, 200, "{saw}\n{}", stack.log("functions"));
    assert_eq!(saw["verified"], "ours", "{saw}");
    assert_eq!((saw["sub"].as_str(), saw["aud"].as_str()), (Some("alice"), Some("echo-api")));
    assert_eq!(saw["sid"].as_str(), Some(sid.as_str()));
    assert_eq!(
        (saw["method"].as_str(), saw["path"].as_str()),
        (Some("GET"), Some("/ours/orders/42"))
    );
    assert_eq!(saw["query"], "page=2&q=a%20b");
    assert_eq!((saw["cookie"].as_bool(), saw["x_csrf"].as_bool()), (Some(false), Some(false)));
    assert_eq!(saw["authorization_scheme"], "Bearer", "the browser's Basic header stays behind");
    let forwarded: Vec<&str> =
        saw["forwarded_headers"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(forwarded.contains(&"x-request-id"), "{forwarded:?}");
    for never in ["cookie", "x-csrf", "connection", "keep-alive"] {
        assert!(!forwarded.contains(&never), "{never} was forwarded: {forwarded:?}");
    }

    // A body goes through whole, and the upstream's status and content type come back.
    let body = vec![7u8; 300_000];
    let req = remote(&stack, &http, reqwest::Method::PUT, "echo/blobs/1", &browser.cookies())
        .header("content-type", "application/octet-stream")
        .body(body.clone());
    let (status, saw) = status_and_json(req).await;
    assert_eq!(status, 200, "{saw}");
    assert_eq!(saw["body_bytes"], 300_000);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(saw["body_sha256"], hex.as_str());
    let (headers, _) = answered(&stack, &http, "echo/status?code=418", &browser, 418).await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    // The upstream's Set-Cookie never reaches the browser.
    let (headers, _) = answered(&stack, &http, "echo/set-cookie", &browser, 200).await;
    assert!(headers.get("set-cookie").is_none(), "{headers:?}");
    // Binary answers pass unchanged.
    let (_, body) = answered(&stack, &http, "echo/big?bytes=100000", &browser, 200).await;
    assert_eq!(body.len(), 100_000);

    // `provider`: the session's access token, checked upstream at the provider's userinfo;
    // after its expiry, renewed once on the server (the session's version moves).
    let (status, saw) =
        status_and_json(remote(&stack, &http, reqwest::Method::GET, "idp/me", &browser.cookies()))
            .await;
    assert_eq!(status, 200, "{saw}\n{}", stack.log("functions"));
    assert_eq!((saw["verified"].as_str(), saw["sub"].as_str()), (Some("provider"), Some("alice")));
    let version = stack.session_version(&sid);
    tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(2)).await;
    // Our JWT in the cookie still lives (900 s); the provider's token has expired.
    let (status, saw) =
        status_and_json(remote(&stack, &http, reqwest::Method::GET, "idp/me", &browser.cookies()))
            .await;
    assert_eq!(status, 200, "{saw}\n{}", stack.log("functions"));
    assert_eq!(saw["verified"], "provider");
    assert!(stack.session_version(&sid) > version, "no refresh grant for an expired token");

    // No cookie value, no token of ours and none of the provider's (the ones sent upstream
    // and the refresh token) reached the log, at TRACE; no JWT at all (the ones minted for
    // the API included).
    let handle = browser.handle.trim_start_matches("__Host-refresh=");
    let tokens = stack.session_provider_tokens(&sid);
    let access = e2e::exposed(&tokens.access_token);
    let refresh = e2e::exposed(tokens.refresh_token.as_ref().expect("a refresh token"));
    stack.assert_log_holds_none(&[browser.jwt(), handle, &access, &refresh, "eyJhbGci"]);
    assert!(stack.metric_lines().iter().any(|m| m.get("Proxied").is_some()), "Proxied not counted");
}

#[tokio::test]
async fn the_proxy_refuses_each_unsafe_request_before_the_upstream_sees_it() {
    // Our own upstream settings: a short timeout for `slow`, and `down` on a closed port.
    let upstream_port = free_port().unwrap();
    let closed = free_port().unwrap();
    let apis = format!(
        "echo=http://127.0.0.1:{upstream_port}/ours,idp=http://127.0.0.1:{upstream_port}/provider,\
         slow=http://127.0.0.1:{upstream_port}/ours,down=http://127.0.0.1:{closed}/v1"
    );
    let mut options = cookie_only(&[
        ("REMOTE_APIS", apis),
        ("REMOTE_API_SLOW_TIMEOUT_SECONDS", "2".into()),
        ("REMOTE_API_SLOW_AUDIENCE", "echo-api".into()),
    ]);
    options.upstream_port = upstream_port;
    let stack = Stack::start("proxy-refusals", options).await;
    let http = client();
    let browser = cookie_only_login(&stack, &http).await;
    let cookies = browser.cookies();
    let get = reqwest::Method::GET;
    let before = seen(&stack, &http).await;

    let refusals: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("no cookie", remote(&stack, &http, get.clone(), "echo/x", ""), 401, "missing_token"),
        (
            "the handle alone",
            remote(&stack, &http, get.clone(), "echo/x", &browser.handle),
            401,
            "missing_token",
        ),
        (
            "a forged JWT",
            remote(&stack, &http, get.clone(), "echo/x", "__Host-session=eyJhbGciOiJub25lIn0.e30."),
            401,
            "invalid_token",
        ),
        (
            "no X-CSRF",
            http.get(stack.function("proxy", "/api/remote/echo/x")).header(COOKIE, &cookies),
            403,
            "csrf_required",
        ),
        (
            "no X-CSRF on a POST",
            http.post(stack.function("proxy", "/api/remote/echo/x")).header(COOKIE, &cookies),
            403,
            "csrf_required",
        ),
        (
            "TRACE (it would echo the bearer)",
            remote(&stack, &http, reqwest::Method::TRACE, "echo/x", &cookies),
            405,
            "method_not_allowed",
        ),
        (
            "a cross-site Origin",
            remote(&stack, &http, get.clone(), "echo/x", &cookies)
                .header(ORIGIN, "https://evil.example"),
            403,
            "origin_refused",
        ),
        (
            "Sec-Fetch-Site: cross-site",
            remote(&stack, &http, get.clone(), "echo/x", &cookies)
                .header("sec-fetch-site", "cross-site"),
            403,
            "origin_refused",
        ),
        (
            "an unknown API",
            remote(&stack, &http, get.clone(), "billing/x", &cookies),
            404,
            "remote_api_unknown",
        ),
        (
            "a body over 6 MB",
            remote(&stack, &http, reqwest::Method::POST, "echo/x", &cookies).body(vec![
                0u8;
                6 * 1024
                    * 1024
                    + 1
            ]),
            413,
            "request_too_large",
        ),
        (
            "provider mode without the session handle",
            remote(&stack, &http, get.clone(), "idp/x", &browser.session),
            401,
            "session_missing",
        ),
    ];
    for (case, req, status, code) in refusals {
        let (got, body) = status_and_json(req).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{case}: {body}");
    }
    // Paths that would leave the API's base, sent as they are (an HTTP client library, like a
    // browser, resolves dot segments before sending; an attacker's script need not).
    for path in ["echo/a%2f..%2f_seen", "echo/a%5C..%5C_seen", "echo//evil.example/x", "echo/x%00"]
    {
        let (status, text) = raw_get(&stack, &format!("/api/remote/{path}"), &cookies).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("\"remote_path_refused\""), "{path}: {text}");
    }
    // Dot segments, literal or percent-encoded, are resolved before the function sees the
    // path (here by the runtime's URI parsing; the proxy refuses any that arrive): they can
    // only name another route, never a path above a base.
    for path in ["echo/a/../../_seen", "echo/%2e%2e/%2e%2e/_seen", "echo/.%2E/.%2E/_seen"] {
        let (status, text) = raw_get(&stack, &format!("/api/remote/{path}"), &cookies).await;
        assert!(status == 404 || status == 400, "{path}: {text}");
    }
    assert_eq!(seen(&stack, &http).await, before, "a refused request reached the upstream");

    // A handle of another session beside this JWT lends nothing.
    let other = cookie_only_login(&stack, &http).await;
    let mixed = format!("{}; {}", browser.session, other.handle);
    let (status, body) = status_and_json(remote(&stack, &http, get.clone(), "idp/x", &mixed)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_missing")), "{body}");

    // The upstream's own failures: each our JSON error, nothing of the upstream passed on.
    let upstream_failures = [
        ("a redirect", "echo/redirect", 502, "upstream_redirected"),
        ("an answer over the cap", "echo/big?bytes=5000000", 502, "upstream_answer_too_large"),
        ("slower than its timeout", "slow/slow?ms=4000", 504, "upstream_timeout"),
        ("down", "down/x", 502, "upstream_unreachable"),
        ("an echo of the token", "echo/echo-token", 502, "upstream_echoed_token"),
    ];
    for (case, rest, status, code) in upstream_failures {
        let started = Instant::now();
        let resp = remote(&stack, &http, get.clone(), rest, &cookies).send().await.unwrap();
        assert!(resp.headers().get("location").is_none(), "{case}");
        let (got, body) = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{case}: {body}");
        if code == "upstream_timeout" {
            assert!(started.elapsed() < Duration::from_secs(4), "the timeout did not cut the call");
        }
    }
    let handle = browser.handle.trim_start_matches("__Host-refresh=");
    stack.assert_log_holds_none(&[browser.jwt(), handle]);
}
