//! `GET /api/sessions` and `DELETE /api/sessions/{sid}` in process (the deployment of
//! [`crate::functions::logout::world`]): who may list and end what.

use http::Method;
use serde_json::Value;

use crate::functions::logout::world::World;
use crate::sessions::Handle;
use crate::tokens::session::User;
use crate::web::request::Request;
use crate::web::routes::serve;

/// Our JWT for the session of `handle`, of user `sub` at `world`'s default provider.
fn jwt(world: &World, sub: &str, handle: &Handle) -> String {
    let user = User {
        sub: sub.to_owned(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let sid = handle.key();
    let minted = world.logout.session.mint_in_session(
        &user,
        &world.okta.issuer(),
        Some(&sid),
        crate::unix_now(),
    );
    minted.unwrap()
}

/// `method path` with `Authorization: Bearer token` or the handle cookie, and X-CSRF.
async fn ask(
    world: &World,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
    handle: Option<&Handle>,
    csrf: bool,
) -> (u16, Value, Vec<String>) {
    let authorization = bearer.map(|t| format!("Bearer {t}"));
    let req = Request {
        authorization: authorization.as_deref(),
        cookies: handle.map(|h| format!("{}={}", crate::cookies::REFRESH, h.expose())),
        csrf,
        ..crate::testing::request(method, path)
    };
    let resp = serve(&world.logout, &req, crate::unix_now()).await.into_http();
    let cookies = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(resp.body()).unwrap_or(Value::Null), cookies)
}

fn sids(listing: &Value) -> Vec<String> {
    let mut sids: Vec<String> = listing["sessions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["sid"].as_str().unwrap().to_owned())
        .collect();
    sids.sort();
    sids
}

#[tokio::test]
async fn a_user_lists_only_their_own_sessions_at_their_provider_never_a_handle() {
    let world = World::start("default").await;
    let a1 = world.login(&world.okta, "alice", 1, None).await;
    let a2 = world.login(&world.okta, "alice", 2, None).await;
    let b1 = world.login(&world.okta, "bob", 1, None).await;
    // The same `sub` at the other provider is another user.
    world.login(&world.other, "alice", 3, None).await;
    let mut alice = vec![a1.key(), a2.key()];
    alice.sort();

    let (status, listing, _) =
        ask(&world, &Method::GET, "/api/sessions", Some(&jwt(&world, "alice", &a1)), None, false)
            .await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(sids(&listing), alice);
    let current: Vec<&Value> =
        listing["sessions"].as_array().unwrap().iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sid"], a1.key().as_str());
    let text = listing.to_string();
    for secret in [a1.expose(), a2.expose(), "rt-alice-1", "at-alice-1", "rt-alice-2"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // By the handle cookie, the same user's list with that session marked.
    let (status, by_handle, _) =
        ask(&world, &Method::GET, "/api/sessions", None, Some(&a2), false).await;
    assert_eq!(status, 200);
    assert_eq!(sids(&by_handle), alice);
    // Bob: his own only.
    let (_, bobs, _) = ask(&world, &Method::GET, "/api/sessions", None, Some(&b1), false).await;
    assert_eq!(sids(&bobs), [b1.key()]);
}

#[tokio::test]
async fn no_credential_a_forged_jwt_or_an_ended_session_lists_nothing() {
    let world = World::start("default").await;
    let a1 = world.login(&world.okta, "alice", 1, None).await;
    let token = jwt(&world, "alice", &a1);
    let (status, answer, _) = ask(&world, &Method::GET, "/api/sessions", None, None, false).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("session_missing")));
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let (status, answer, _) =
        ask(&world, &Method::GET, "/api/sessions", Some(&forged), None, false).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")));
    // A JWT still within its lifetime, whose session has ended: nothing listed.
    world.store.delete(&a1.key()).await.unwrap();
    let (status, answer, _) =
        ask(&world, &Method::GET, "/api/sessions", Some(&token), None, false).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("session_expired")));
    let (status, answer, _) =
        ask(&world, &Method::GET, "/api/sessions", None, Some(&a1), false).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("session_expired")));
}

#[tokio::test]
async fn another_users_session_is_answered_as_one_that_does_not_exist_and_left_alone() {
    let world = World::start("default").await;
    let a1 = world.login(&world.okta, "alice", 1, None).await;
    let b1 = world.login(&world.okta, "bob", 1, None).await;
    let other_alice = world.login(&world.other, "alice", 2, None).await;
    let alice = jwt(&world, "alice", &a1);
    // Bob's sid (as his JWT names it), alice's sub at the other provider, a guessed sid, a
    // logout token's record key, and no sid shape at all: the same 404, nothing ended.
    let end = |sid: String| format!("/api/sessions/{sid}");
    let (_, theirs, _) =
        ask(&world, &Method::DELETE, &end(b1.key()), Some(&alice), None, true).await;
    for sid in [
        b1.key(),
        other_alice.key(),
        "A".repeat(43),
        "logout-token%20x".to_owned(),
        "..".to_owned(),
    ] {
        let (status, answer, cookies) =
            ask(&world, &Method::DELETE, &end(sid.clone()), Some(&alice), None, true).await;
        assert_eq!((status, &answer), (404, &theirs), "{sid}");
        assert!(cookies.is_empty());
    }
    assert_eq!(theirs["error"], "session_not_found");
    assert_eq!(world.left(&world.okta, "bob").await, 1);
    assert_eq!(world.left(&world.other, "alice").await, 1);
    assert!(world.revoked(&world.okta).await.is_empty());
}

#[tokio::test]
async fn a_user_ends_one_of_their_sessions_with_the_csrf_header_and_its_token_is_revoked() {
    let world = World::start("default").await;
    let a1 = world.login(&world.okta, "alice", 1, None).await;
    let a2 = world.login(&world.okta, "alice", 2, None).await;
    let alice = jwt(&world, "alice", &a1);
    let path = format!("/api/sessions/{}", a2.key());
    // Without X-CSRF: refused, whatever the credential.
    for (bearer, handle) in [(Some(alice.as_str()), None), (None, Some(&a1))] {
        let (status, answer, _) = ask(&world, &Method::DELETE, &path, bearer, handle, false).await;
        assert_eq!((status, answer["error"].as_str()), (403, Some("csrf_required")));
    }
    assert_eq!(world.left(&world.okta, "alice").await, 2);
    let (status, _, cookies) = ask(&world, &Method::DELETE, &path, Some(&alice), None, true).await;
    assert_eq!(status, 204);
    assert!(cookies.is_empty(), "another session's end clears no cookie of this one");
    assert_eq!(world.left(&world.okta, "alice").await, 1);
    assert_eq!(world.revoked(&world.okta).await, ["rt-alice-2"]);
    // Again: it is gone.
    assert_eq!(ask(&world, &Method::DELETE, &path, Some(&alice), None, true).await.0, 404);
    // Its own session, by the handle: ended, and its cookies cleared.
    let own = format!("/api/sessions/{}", a1.key());
    let (status, _, cookies) = ask(&world, &Method::DELETE, &own, None, Some(&a1), true).await;
    assert_eq!(status, 204);
    assert!(cookies.iter().any(|c| c.starts_with("__Host-refresh=;")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("__Host-session=;")), "{cookies:?}");
    assert_eq!(world.left(&world.okta, "alice").await, 0);
    assert_eq!(world.revoked(&world.okta).await, ["rt-alice-1", "rt-alice-2"]);
}
