use super::*;
use crate::keygen::KeyAlg;
use crate::testing::access_with_token;
use crate::unix_now;
use crate::web::routes::serve;

async fn me_at(
    state: &Access,
    method: Method,
    authorization: Option<&str>,
    cookies: Option<String>,
    csrf: bool,
    now: u64,
) -> http::Response<String> {
    let req =
        Request { cookies, authorization, csrf, ..crate::testing::request(&method, "/api/me") };
    serve(state, &req, now).await.into_http()
}

async fn me(
    state: &Access,
    method: Method,
    authorization: Option<&str>,
    cookies: Option<String>,
    csrf: bool,
) -> http::Response<String> {
    me_at(state, method, authorization, cookies, csrf, unix_now()).await
}

fn error_of(resp: &http::Response<String>) -> String {
    serde_json::from_str::<serde_json::Value>(resp.body()).unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn me_answers_the_claims_of_a_bearer_token_or_the_session_cookie() {
    let (state, t) = access_with_token().await;
    let resp = me(&state, Method::GET, Some(&format!("Bearer {t}")), None, false).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let claims: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let resp = me(&state, Method::GET, None, Some(format!("a=1; __Host-session={t}")), false).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn me_refuses_missing_invalid_and_foreign_tokens() {
    let (state, _) = access_with_token().await;
    let resp = me(&state, Method::GET, None, None, false).await;
    assert_eq!((resp.status().as_u16(), error_of(&resp).as_str()), (401, "missing_token"));
    assert!(resp.headers().contains_key("www-authenticate"));
    let foreign = crate::testing::key("ours-1", KeyAlg::Es256);
    let forged = crate::testing::jws(
        &serde_json::json!({"alg": "ES256", "kid": "ours-1"}),
        &serde_json::json!({"iss": crate::testing::SESSION_ISSUER, "aud": crate::testing::SESSION_AUDIENCE, "sub": "mallory", "iat": unix_now(), "exp": unix_now() + 60}),
        &foreign,
    );
    for bad in [format!("Bearer {forged}"), "Bearer not.a.jwt".into(), "Bearer ".into()] {
        let resp = me(&state, Method::GET, Some(&bad), None, false).await;
        assert_eq!(resp.status(), 401, "{bad}");
        assert_eq!(error_of(&resp), "invalid_token");
    }
    let resp = me(&state, Method::POST, Some("Bearer x"), None, false).await;
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn cookie_authenticated_state_changes_need_the_csrf_header() {
    let (state, t) = access_with_token().await;
    let cookies = format!("__Host-session={t}");
    let presented = |method: &'static Method, csrf| Presented {
        method,
        authorization: None,
        cookies: Some(&cookies),
        csrf,
    };
    assert!(matches!(
        state.authenticate(&presented(&Method::POST, false), unix_now()).await,
        Err(Error::CsrfRequired)
    ));
    assert!(matches!(
        state.authenticate(&presented(&Method::DELETE, false), unix_now()).await,
        Err(Error::CsrfRequired)
    ));
    assert_eq!(
        state.authenticate(&presented(&Method::POST, true), unix_now()).await.unwrap().1,
        Credential::Cookie
    );
    assert_eq!(
        state.authenticate(&presented(&Method::GET, false), unix_now()).await.unwrap().1,
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
    assert_eq!(state.authenticate(&p, unix_now()).await.unwrap().1, Credential::Bearer);
}

#[tokio::test]
async fn our_token_expires_when_the_clock_passed_in_says_so() {
    let (state, t) = access_with_token().await;
    let bearer = format!("Bearer {t}");
    let exp = state.session().verify(&t, unix_now()).unwrap().exp;
    let leeway = crate::SESSION_LEEWAY_SECS;
    let at = |now| me_at(&state, Method::GET, Some(&bearer), None, false, now);
    assert_eq!(at(exp + leeway).await.status(), 200, "still within the leeway");
    let resp = at(exp + leeway + 1).await;
    assert_eq!((resp.status().as_u16(), error_of(&resp).as_str()), (401, "invalid_token"));
    assert_eq!(resp.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
}

#[tokio::test]
async fn a_session_cookie_planted_twice_is_refused() {
    let (state, t) = access_with_token().await;
    for cookies in [
        format!("__Host-session=attacker; __Host-session={t}"),
        format!("__Host-session={t}; __Host-session=attacker"),
    ] {
        let resp = me(&state, Method::GET, None, Some(cookies), false).await;
        assert_eq!((resp.status().as_u16(), error_of(&resp).as_str()), (400, "cookie_duplicated"));
    }
}

/// A `Basic` header of a staging gate beside a valid session cookie: refused with its own
/// code, not authenticated by the cookie (the authorizer caches by that header).
#[tokio::test]
async fn a_non_bearer_authorization_header_is_refused_even_with_a_valid_cookie() {
    let (state, t) = access_with_token().await;
    let cookie = Some(format!("__Host-session={t}"));
    let resp = me(&state, Method::GET, Some("Basic c3RhZ2luZzpnYXRl"), cookie.clone(), false).await;
    assert_eq!((resp.status().as_u16(), error_of(&resp)), (401, "authorization_not_bearer".into()));
    let resp = me(&state, Method::GET, None, cookie, false).await;
    assert_eq!(resp.status(), 200);
}
