//! The proxy's own checks, without an upstream: the path rules, the URL it builds, the headers
//! it forwards, and the origin check. The e2e suite (`tests/tests/e2e/proxy.rs`) runs it
//! against the local upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::{HeaderMap, HeaderValue, Method};

use super::*;
use crate::infra::config::{RemoteApi, UpstreamToken};

fn api(base: &str) -> RemoteApi {
    RemoteApi {
        name: "orders".into(),
        base: url::Url::parse(base).unwrap(),
        token: UpstreamToken::Ours,
        audience: "orders-api".into(),
        timeout: std::time::Duration::from_secs(10),
    }
}

#[test]
fn paths_that_could_leave_the_base_are_refused() {
    for bad in [
        "",
        "..",
        "a/../b",
        "a/%2e%2e/b",
        "a/%2E./b",
        ".",
        "a/./b",
        "%2e",
        "a%2fb",
        "a%2Fb",
        "a%5cb",
        "a\\b",
        "a%00",
        "/evil.example/x",
        "a//b",
        "a\nb",
        "..;x",
        "a/..;/admin",
        "a/%2e%2e;jsessionid=1/b",
        "%252e%252e/x",
        "a%25",
        "a b",
        "caf\u{e9}",
    ] {
        assert!(
            matches!(check_path(bad), Err(Error::RemotePathRefused(_))),
            "{bad:?} was accepted"
        );
    }
    for good in ["a", "a/b", "a/b/", "a/%20b", "a..b", "...", "v1/orders/42", "a:b", "%41"] {
        assert!(check_path(good).is_ok(), "{good:?} was refused");
    }
}

#[test]
fn the_upstream_url_stays_under_the_base() {
    let a = api("https://orders.example.com/v1");
    let u = upstream_url(&a, "orders/42", Some("page=2&x=%2F")).unwrap();
    assert_eq!(u.as_str(), "https://orders.example.com/v1/orders/42?page=2&x=%2F");
    let u = upstream_url(&a, "orders", None).unwrap();
    assert_eq!(u.as_str(), "https://orders.example.com/v1/orders");
    let root = api("https://orders.example.com");
    assert_eq!(
        upstream_url(&root, "x", Some("")).unwrap().as_str(),
        "https://orders.example.com/x"
    );
    // A `#` would end the path: the fragment never reaches the upstream, so it is refused.
    assert!(upstream_url(&a, "x#y", None).is_err());
}

#[test]
fn credentials_and_hop_by_hop_headers_stay_behind() {
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("cookie", "__Host-session=secret"),
        ("authorization", "Basic c3RhZ2luZw=="),
        ("proxy-authorization", "Basic x"),
        ("dpop", "eyJ.a-script's.own-proof"),
        ("x-csrf", "1"),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "declared hop-by-hop"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("upgrade", "websocket"),
        ("host", "app.example.com"),
        ("accept-encoding", "gzip"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("x-request-id", "r-1"),
        ("if-none-match", "\"v1\""),
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7"),
        ("x-real-ip", "203.0.113.7"),
    ] {
        h.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    let out = forwarded_headers(Some(&h));
    let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["accept", "content-type", "if-none-match", "x-request-id"]);
}

fn proxy_with(app_origin: Option<&str>, allowed: &[&str]) -> Proxy {
    let keys = crate::testing::secret_json(crate::tokens::keygen::KeyAlg::Es256, 1);
    let secret = crate::tokens::secret::Secret::from_json(&keys).unwrap();
    let (_, signing_keys, _) = secret.into_parts();
    Proxy {
        remote: RemoteApis {
            apis: vec![api("https://orders.example.com/v1")],
            allowed_origins: allowed.iter().map(|s| (*s).to_owned()).collect(),
        },
        app_origin: app_origin.map(str::to_owned),
        client: upstream_client().unwrap(),
        keys: Keys::Ours {
            session: SessionTokens::new(
                "iss".into(),
                "aud".into(),
                std::time::Duration::from_secs(60),
                signing_keys,
            ),
            sessions: None,
        },
        strict: false,
        reused: ProviderTokenCache::default(),
    }
}

fn origin_check(p: &Proxy, headers: &[(&'static str, &'static str)]) -> Result<(), Error> {
    let mut h = HeaderMap::new();
    for (name, value) in headers {
        h.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    let req = Request {
        headers: Some(&h),
        ..crate::testing::request(&Method::POST, "/api/remote/orders/x")
    };
    p.check_origin(&req)
}

#[test]
fn only_the_apps_own_or_allowed_origins_pass() {
    let p = proxy_with(Some("https://app.example.com"), &["https://admin.example.com"]);
    assert!(origin_check(&p, &[]).is_ok(), "a request that says nothing (a server, curl)");
    assert!(origin_check(&p, &[("origin", "https://app.example.com")]).is_ok());
    assert!(
        origin_check(
            &p,
            &[("origin", "https://admin.example.com"), ("sec-fetch-site", "same-site")]
        )
        .is_ok()
    );
    assert!(origin_check(&p, &[("sec-fetch-site", "same-origin")]).is_ok());
    // The app on its own origin beside the API's (APP_ORIGIN): the browser says same-site.
    let app = [("origin", "https://app.example.com"), ("sec-fetch-site", "same-site")];
    assert!(origin_check(&p, &app).is_ok());
    for refused in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "https://app.example.com.evil.example")],
        vec![("origin", "http://app.example.com")],
        vec![("origin", "https://app.example.com"), ("origin", "https://app.example.com")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "none")],
        vec![("sec-fetch-site", "same-origin"), ("sec-fetch-site", "cross-site")],
    ] {
        assert!(
            matches!(origin_check(&p, &refused), Err(Error::OriginRefused(_))),
            "{refused:?} passed"
        );
    }
}

#[test]
fn without_app_origin_the_apis_own_host_is_the_origin() {
    let p = proxy_with(None, &[]);
    assert!(
        origin_check(&p, &[("host", "api.example.com"), ("origin", "https://api.example.com")])
            .is_ok()
    );
    assert!(
        origin_check(&p, &[("host", "api.example.com"), ("origin", "http://api.example.com")])
            .is_err()
    );
    assert!(
        origin_check(&p, &[("host", "localhost:5173"), ("origin", "http://localhost:5173")])
            .is_ok()
    );
    assert!(origin_check(&p, &[("origin", "https://api.example.com")]).is_err(), "no Host");
}

#[test]
fn the_api_name_is_looked_up_after_the_prefix() {
    let p = proxy_with(None, &[]);
    assert_eq!(p.target("/api/remote/orders/a/b").unwrap().1, "a/b");
    assert!(matches!(p.target("/api/remote/billing/a"), Err(Error::RemoteApiUnknown)));
    assert!(matches!(p.target("/api/remote/orders/a/../b"), Err(Error::RemotePathRefused(_))));
}

#[test]
fn a_reused_provider_token_is_never_sent_past_its_time() {
    let cache = ProviderTokenCache::default();
    let relayed = |t: &str| Relayed { token: SecretString::from(t.to_owned()), dpop: None };
    let token = |r: Option<Relayed>| r.map(|r| r.token.expose_secret().to_owned());
    cache.put("s1", &relayed("at-1"), 110, 100);
    assert_eq!(token(cache.get("s1", 109)).as_deref(), Some("at-1"));
    assert_eq!(token(cache.get("s1", 110)), None);
    assert_eq!(token(cache.get("s2", 100)), None);
    for i in 0..MAX_REUSED {
        cache.put(&format!("x{i}"), &relayed("t"), 105, 100);
    }
    // Full: the expired entries go first, then all.
    cache.put("s3", &relayed("at-3"), 200, 150);
    assert_eq!(token(cache.get("s3", 151)).as_deref(), Some("at-3"));
    assert_eq!(token(cache.get("x1", 101)), None);
}

#[test]
fn an_answer_holding_the_token_is_found_in_its_body_or_headers() {
    let body =
        Response::passthrough(StatusCode::OK, vec![], b"{\"got\":\"Bearer tok-123\"}".to_vec());
    assert!(body.contains(b"tok-123"));
    assert!(!body.contains(b"tok-124"));
    let header = Response::passthrough(
        StatusCode::OK,
        vec![(header::CONTENT_DISPOSITION, "attachment; filename=tok-123".into())],
        b"{}".to_vec(),
    );
    assert!(header.contains(b"tok-123"));
}
