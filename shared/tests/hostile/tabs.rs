//! One browser, several logins in flight: tabs (or a same-site `<img src=/api/login>`) that
//! start logins before the first comes back. Each completes, in any order, from either flow;
//! each callback clears only its own transaction; login keeps at most four in flight.

use http::Method;
use serde_json::json;
use shared::testing::callbacks::*;
use shared::{Flow, TRANSACTION_LIFETIME, cookies, unix_now};
use wiremock::Mock;
use wiremock::matchers::{body_string_contains, method, path};

#[tokio::test]
async fn logins_in_several_tabs_each_complete_in_any_order() {
    let (p, state) = setup().await;
    let mut jar = Jar::default();
    let now = unix_now();
    let mut tabs = Vec::new();
    for flow in [Flow::Spa, Flow::Server, Flow::Spa] {
        tabs.push((flow, login_in(&state, flow, &mut jar, now).await));
    }
    assert_eq!(jar.transactions().len(), 3, "no login overwrote another: {jar:?}");
    // The provider answers each tab's code with an ID token for that tab's nonce.
    for (i, (_, tab)) in tabs.iter().enumerate() {
        let id_token = p.id_token(&p.claims(&tab.nonce, ACCESS_TOKEN));
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(format!("code=code-{i}&")))
            .respond_with(shared::testing::FakeProvider::token_response(&id_token, ACCESS_TOKEN))
            .expect(1)
            .mount(&p.server)
            .await;
    }
    mount_userinfo(&p, json!({"sub": "alice"}), 3).await;
    let iss: String = url::form_urlencoded::byte_serialize(p.issuer().as_bytes()).collect();
    // The server-flow tab comes back first, then the first tab, then the last.
    for i in [1, 0, 2] {
        let (flow, tab) = &tabs[i];
        let query = format!("code=code-{i}&state={}&iss={iss}", tab.state);
        let path = match flow {
            Flow::Spa => "/api/callback",
            Flow::Server => "/authorization-code/callback",
        };
        let header = jar.header();
        let resp = call(&state, Method::GET, path, Some(&query), b"", header.as_deref()).await;
        let expected = if *flow == Flow::Spa { 200 } else { 303 };
        assert_eq!(resp.status(), expected, "tab {i}: {}", resp.body());
        let touched: Vec<_> = set_cookies(&resp)
            .into_iter()
            .filter(|c| c.starts_with(cookies::TRANSACTION_PREFIX))
            .collect();
        assert_eq!(touched.len(), 1, "tab {i} touches one transaction: {touched:?}");
        assert!(touched[0].starts_with(&format!("{}=;", tab.cookie_name())), "{touched:?}");
        assert!(touched[0].contains("Max-Age=0"));
        jar.apply(&resp);
        assert!(!jar.transactions().contains(&tab.cookie_name().as_str()));
    }
    assert!(jar.transactions().is_empty(), "{jar:?}");
}

#[tokio::test]
async fn a_callback_for_another_login_leaves_the_logins_in_flight_alone() {
    let (p, state) = setup().await;
    let mut jar = Jar::default();
    let first = login_in(&state, Flow::Spa, &mut jar, unix_now()).await;
    let _second = login_in(&state, Flow::Spa, &mut jar, unix_now()).await;
    // A link to our callback with a state of nobody's (login CSRF, a stale bookmark).
    let stranger = begin(&state, Flow::Spa, None);
    let header = jar.header();
    let resp = assert_refused_before_exchange(
        &p,
        &state,
        &ok_query(&p, &stranger),
        header.as_deref(),
        400,
        "state_mismatch",
    )
    .await;
    jar.apply(&resp);
    assert_eq!(jar.transactions().len(), 2);
    assert!(jar.transactions().contains(&first.cookie_name().as_str()));
}

#[tokio::test]
async fn login_keeps_at_most_four_logins_in_flight_dropping_the_oldest() {
    let (_p, state) = setup().await;
    let now = unix_now();
    let mut jar = Jar::default();
    // Four logins of the last minutes, oldest first, one long expired (a browser may still
    // send it if its clock is off), and one cookie of our prefix that opens under no key.
    let expired = begin_at(&state, Flow::Spa, None, now - TRANSACTION_LIFETIME.as_secs() - 60);
    jar.put(&expired.cookie);
    let four: Vec<_> =
        (0..4).map(|i| begin_at(&state, Flow::Spa, None, now - 300 + i * 60)).collect();
    // The browser's order is not the logins' order: the oldest is sent last.
    for s in four.iter().rev() {
        jar.put(&s.cookie);
    }
    jar.put("__Host-oidc-tx-forged=AAAA");
    let fifth = login_in(&state, Flow::Server, &mut jar, now).await;
    let mut held = jar.transactions();
    held.sort_unstable();
    let mut expected: Vec<String> =
        four[1..].iter().map(|s| s.cookie_name()).chain([fifth.cookie_name()]).collect();
    expected.sort_unstable();
    assert_eq!(held, expected, "the oldest, the expired and the forged cookie were dropped");
    // Many more logins (a page that loops on /api/login) never hold more than four.
    for later in 1..=10 {
        login_in(&state, Flow::Spa, &mut jar, now + later).await;
        assert_eq!(jar.transactions().len(), cookies::MAX_IN_FLIGHT);
    }
    assert!(!jar.transactions().contains(&fifth.cookie_name().as_str()));
}
