//! Our API's calls that several suites make, and what they read from its answers: one helper
//! per job, so that a suite does not grow its own copy.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::Stack;

/// Every cookie an answer sets, whole.
pub fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers().get_all(SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect()
}

/// The first cookie an answer sets, as `name=value`.
pub fn first_cookie(resp: &reqwest::Response) -> String {
    resp.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned()
}

/// The session handle cookie an answer sets (`__Host-refresh`), as `name=value`; the test
/// fails without one.
pub fn session_handle(resp: &reqwest::Response) -> String {
    let cookie = set_cookies(resp).into_iter().find(|c| c.starts_with("__Host-refresh="));
    let cookie = cookie.expect("the session handle cookie");
    cookie.split(';').next().unwrap().to_owned()
}

/// A query parameter of `url`.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `GET /api/login` (`path` with its query, e.g. `/api/login?return_to=/x`), which must answer
/// `200`: the authorize URL and the login's transaction cookie (`name=value`).
pub async fn spa_login(stack: &Stack, http: &reqwest::Client, path: &str) -> (String, String) {
    let resp = http.get(stack.function("login", path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let cookie = first_cookie(&resp);
    let login_url = resp.json::<Value>().await.unwrap()["login_url"].as_str().unwrap().to_owned();
    (login_url, cookie)
}

/// The SPA's callback (`GET /api/callback`) with the query of the provider's redirect and the
/// login's transaction cookie.
pub async fn spa_callback(
    stack: &Stack,
    http: &reqwest::Client,
    redirect: &url::Url,
    cookie: &str,
) -> reqwest::Response {
    callback_at(stack, http, "/api/callback", redirect, cookie).await
}

/// `GET path` of the callback function with the query of the provider's redirect and the
/// login's transaction cookie.
async fn callback_at(
    stack: &Stack,
    http: &reqwest::Client,
    path: &str,
    redirect: &url::Url,
    cookie: &str,
) -> reqwest::Response {
    let path = format!("{path}?{}", redirect.query().unwrap());
    http.get(stack.function("callback", &path)).header(COOKIE, cookie).send().await.unwrap()
}

/// The server flow's login (`path` with its query, e.g. `/authorization-code/login?return_to=/x`),
/// which must answer `302`: the authorize URL and the login's transaction cookie.
pub async fn server_login(stack: &Stack, http: &reqwest::Client, path: &str) -> (String, String) {
    let resp = http.get(stack.function("login", path)).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", stack.log("functions"));
    let cookie = first_cookie(&resp);
    (resp.headers()[LOCATION].to_str().unwrap().to_owned(), cookie)
}

/// The server flow's callback (`GET /authorization-code/callback`) with the query of the
/// provider's redirect and the login's transaction cookie.
pub async fn server_callback(
    stack: &Stack,
    http: &reqwest::Client,
    redirect: &url::Url,
    cookie: &str,
) -> reqwest::Response {
    callback_at(stack, http, "/authorization-code/callback", redirect, cookie).await
}

/// `GET /api/me` with `auth` (a header name and value): its status and body.
pub async fn me(stack: &Stack, http: &reqwest::Client, auth: (&str, String)) -> (u16, Value) {
    let resp = http.get(stack.function("me", "/api/me")).header(auth.0, auth.1).send();
    let resp = resp.await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// `POST` to `path` of `function` with the session handle cookie `handle` (`name=value`) and
/// `X-CSRF: 1`, as the app sends it (`/api/refresh`, `/api/logout`).
pub async fn post_with_handle(
    stack: &Stack,
    http: &reqwest::Client,
    function: &str,
    path: &str,
    handle: &str,
) -> reqwest::Response {
    let req = http.post(stack.function(function, path)).header(COOKIE, handle);
    req.header("x-csrf", "1").send().await.unwrap()
}

/// A SPA login of `user` (the local provider's password is the login) through `http`, in a
/// fresh provider cookie jar: our JWT, its `sid` (our session id), and the session handle
/// cookie (`name=value`).
pub async fn spa_session_of(
    stack: &Stack,
    http: &reqwest::Client,
    user: &str,
) -> (String, String, String) {
    let (login_url, tx) = spa_login(stack, http, "/api/login").await;
    let mut jar = crate::Jar::default();
    let redirect = crate::sign_in_at_provider(http, &mut jar, &login_url, user, user).await;
    let resp = spa_callback(stack, http, &redirect, &tx).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let handle = session_handle(&resp);
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let sid = crate::jwt_parts(&token).1["sid"].as_str().unwrap().to_owned();
    (token, sid, handle)
}
