//! Hostile browsers: altered or missing state and cookies, replay, code injection, RFC 9207,
//! provider errors carrying HTML, open redirects.

use serde_json::json;
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, Rp};
use shared::{CookieKey, Flow, TRANSACTION_LIFETIME, Transaction, unix_now};
use wiremock::ResponseTemplate;

/// A SPA login coming back with the query `query` builds and its own cookie, refused before the
/// code exchange with `status` and `code`. The answer, for more checks.
async fn refused_query(
    query: impl FnOnce(&FakeProvider, &Started) -> String,
    status: u16,
    code: &str,
) -> http::Response<String> {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    assert_refused_before_exchange(&p, &state, &query(&p, &s), Some(&s.cookie), status, code).await
}

/// Login `s` coming back with its own query and `cookie`, refused before the code exchange.
async fn refused_cookie(
    p: &FakeProvider,
    state: &Rp,
    s: &Started,
    cookie: Option<&str>,
    code: &str,
) {
    assert_refused_before_exchange(p, state, &ok_query(p, s), cookie, 400, code).await;
}

#[tokio::test]
async fn state_altered() {
    for altered in [|s: &str| format!("{s}x"), |s: &str| format!("not-{s}")] {
        let query =
            |p: &FakeProvider, s: &Started| ok_query(p, s).replace(&s.state, &altered(&s.state));
        refused_query(query, 400, "state_mismatch").await;
    }
}

#[tokio::test]
async fn state_missing() {
    refused_query(|p, _| format!("code=c&iss={}", p.issuer()), 400, "state_mismatch").await;
}

#[tokio::test]
async fn cookie_missing() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    // No Cookie header at all, and one without ours.
    for cookie in [None, Some("other=1")] {
        refused_cookie(&p, &state, &s, cookie, "transaction_missing").await;
    }
}

#[tokio::test]
async fn cookie_tampered() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    // One character changed, in the last position and inside the sealed value.
    for from_end in [1, 5] {
        let mut tampered = s.cookie.clone().into_bytes();
        let i = tampered.len() - from_end;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        refused_cookie(&p, &state, &s, Some(&tampered), "transaction_invalid").await;
    }
}

#[tokio::test]
async fn cookie_expired() {
    let (p, state) = setup().await;
    // One second past the transaction's lifetime, and long past it.
    for age in [TRANSACTION_LIFETIME.as_secs() + 1, 3600] {
        let s = begin_at(&state, Flow::Spa, None, unix_now() - age);
        refused_cookie(&p, &state, &s, Some(&s.cookie), "transaction_expired").await;
    }
}

#[tokio::test]
async fn cookie_from_another_login() {
    let (p, state) = setup().await;
    let mine = begin(&state, Flow::Spa, None);
    let theirs = begin(&state, Flow::Spa, None);
    refused_cookie(&p, &state, &mine, Some(&theirs.cookie), "state_mismatch").await;
}

#[tokio::test]
async fn cookie_under_a_retired_key() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    // Sealed under a key that is no longer in the secret.
    let tx = Transaction::open(
        shared::cookies::transactions(&s.cookie).next().unwrap().1,
        state.login.cookie_keys(),
        unix_now(),
    )
    .unwrap();
    let retired = s.cookie_with(&tx.seal(&CookieKey::new([9; 32])).unwrap());
    refused_cookie(&p, &state, &s, Some(&retired), "transaction_invalid").await;
}

#[tokio::test]
async fn cookie_oversized() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    let oversized = s.cookie_with(&"A".repeat(5000));
    refused_cookie(&p, &state, &s, Some(&oversized), "transaction_invalid").await;
}

#[tokio::test]
async fn cookie_from_the_other_flow() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Server, None);
    refused_cookie(&p, &state, &s, Some(&s.cookie), "transaction_flow_mismatch").await;
}

#[tokio::test]
async fn code_injection_with_a_second_code() {
    let query = |p: &FakeProvider, s: &Started| format!("{}&code=injected", ok_query(p, s));
    refused_query(query, 400, "bad_request").await;
}

#[tokio::test]
async fn rfc9207_iss_wrong() {
    let query = |_: &FakeProvider, s: &Started| {
        format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", s.state)
    };
    refused_query(query, 400, "issuer_mismatch").await;
}

#[tokio::test]
async fn rfc9207_iss_absent_although_announced() {
    refused_query(|_, s| format!("code=c&state={}", s.state), 400, "issuer_mismatch").await;
}

#[tokio::test]
async fn provider_error_with_html_description() {
    let query = |p: &FakeProvider, s: &Started| {
        format!(
            "error=access_denied&error_description=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&state={}&iss={}",
            s.state,
            p.issuer()
        )
    };
    let resp = refused_query(query, 401, "login_failed").await;
    assert!(!resp.body().contains("img") && !resp.body().contains("alert"));
}

#[tokio::test]
async fn replay_of_a_used_code_and_cookie() {
    let (p, state) = setup().await;
    let s = begin(&state, Flow::Spa, None);
    let id_token = p.id_token(&p.claims(&s.nonce, ACCESS_TOKEN));
    // The provider honours a code once, then answers invalid_grant.
    wiremock::Mock::given(wiremock::matchers::path("/token"))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .up_to_n_times(1)
        .expect(1)
        .mount(&p.server)
        .await;
    mount_token(&p, ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})), 1)
        .await;
    mount_userinfo(&p, json!({"sub": "alice"}), 1).await;
    assert_eq!(spa_get(&state, &s, &ok_query(&p, &s)).await.status(), 200);
    let replay = spa_get(&state, &s, &ok_query(&p, &s)).await;
    assert_refused(&replay, 502, "token_exchange_failed");
}

#[tokio::test]
async fn open_redirect_return_to_in_its_many_spellings() {
    let (_p, state) = setup().await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%2f%2fevil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        "http:evil.example",
        " //evil.example",
        "/\u{3002}/evil",
    ] {
        let start = state.login.start(Flow::Server, None, Some(evil), unix_now()).await.unwrap();
        let value = shared::cookies::transactions(start.set_cookie.split(';').next().unwrap())
            .next()
            .unwrap()
            .1;
        let tx = Transaction::open(value, state.login.cookie_keys(), unix_now()).unwrap();
        assert_eq!(tx.return_to.as_str(), "/home", "{evil:?} was kept");
    }
}

#[tokio::test]
async fn cookie_planted_twice() {
    // A sibling subdomain (or a nameless-cookie prefix bypass) plants the attacker's own
    // transaction beside the victim's: neither is picked, the callback is refused.
    // Each login's cookie is named after its state, so the duplicate carries the name of the
    // login coming back.
    let (p, state) = setup().await;
    let victim = begin(&state, Flow::Spa, None);
    let attacker = begin(&state, Flow::Spa, None);
    let planted = victim.cookie_with(attacker.sealed());
    for both in [format!("{planted}; {}", victim.cookie), format!("{}; {planted}", victim.cookie)] {
        refused_cookie(&p, &state, &victim, Some(&both), "cookie_duplicated").await;
    }
}
