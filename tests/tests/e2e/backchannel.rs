//! Back-channel logout (`POST /api/backchannel-logout`) and `SESSION_CHECK=strict`, against
//! moto's DynamoDB with the functions in-process, as in [`crate::refresh_grant`]: the provider
//! (wiremock) signs logout tokens with its real JWKS key; every refusal is checked to delete
//! nothing.

use http::Method;
use serde_json::{Value, json};
use shared::testing::{self, jws};
use shared::{Access, Logout, Presented, Request, serve, unix_now};

use crate::refresh_grant::{Deployment, Session, assert_refusal};

/// A `POST /api/backchannel-logout` form holding `logout_token`, to `logout`, at `now`.
async fn backchannel(logout: &Logout, token: &str, now: u64) -> http::Response<String> {
    let body = format!("logout_token={token}");
    let req = Request {
        content_type: Some("application/x-www-form-urlencoded"),
        body: body.as_bytes(),
        ..testing::request(&Method::POST, "/api/backchannel-logout")
    };
    serve(logout, &req, now).await.into_http()
}

/// The provider's logout token for `session`'s provider session (and alice).
fn token_for(deployment: &Deployment, session: &Session) -> String {
    deployment.provider.logout_token(&deployment.provider.logout_claims(&session.provider_sid))
}

/// `GET /api/me` with `token` as bearer, to `access`, at `now`.
async fn me(access: &Access, token: &str, now: u64) -> http::Response<String> {
    let bearer = format!("Bearer {token}");
    let req = Request { authorization: Some(&bearer), ..testing::request(&Method::GET, "/api/me") };
    serve(access, &req, now).await.into_http()
}

fn assert_ok_no_store(resp: &http::Response<String>) {
    assert_eq!(resp.status(), 200, "{}", resp.body());
    assert_eq!(resp.body(), "{}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn backchannel_logout_refuses_every_hostile_request_and_deletes_nothing() {
    let deployment = Deployment::start(&[]).await;
    let logout: Logout = deployment.another().await;
    let session = deployment.sign_in(60).await;
    let now = unix_now();
    let provider = &deployment.provider;
    let claims = provider.logout_claims(&session.provider_sid);
    let good = provider.logout_token(&claims);

    let mut hostile: Vec<(&str, http::Response<String>)> = Vec::new();
    // Not a POST of a form.
    let get = Request {
        query: Some("logout_token=x"),
        ..testing::request(&Method::GET, "/api/backchannel-logout")
    };
    hostile.push(("a GET", serve(&logout, &get, now).await.into_http()));
    let json_body = serde_json::to_vec(&json!({"logout_token": good})).unwrap();
    let as_json = Request {
        content_type: Some("application/json"),
        body: &json_body,
        ..testing::request(&Method::POST, "/api/backchannel-logout")
    };
    hostile.push(("a JSON body", serve(&logout, &as_json, now).await.into_http()));
    let twice = format!("logout_token={good}&logout_token={good}");
    let repeated = Request {
        content_type: Some("application/x-www-form-urlencoded"),
        body: twice.as_bytes(),
        ..testing::request(&Method::POST, "/api/backchannel-logout")
    };
    hostile.push(("logout_token twice", serve(&logout, &repeated, now).await.into_http()));
    // Tokens that fail a check (each rule has its own unit test in shared's logout_token).
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.AAAA");
    hostile.push(("a bad signature", backchannel(&logout, &forged, now).await));
    let hs = testing::jws_hmac(
        testing::CLIENT_SECRET.as_bytes(),
        &json!({"alg": "HS256", "typ": "logout+jwt"}),
        &claims,
    );
    hostile.push(("HS256 with the client secret", backchannel(&logout, &hs, now).await));
    let none = testing::jws_raw(&json!({"alg": "none"}), &claims, b"");
    hostile.push(("alg none", backchannel(&logout, &none, now).await));
    let mut with_nonce = claims.clone();
    with_nonce["nonce"] = json!("n");
    let nonce = provider.logout_token(&with_nonce);
    hostile.push(("a nonce", backchannel(&logout, &nonce, now).await));
    let id_typed = jws(
        &json!({"alg": "RS256", "kid": provider.key.kid(), "typ": "JWT"}),
        &claims,
        &provider.key,
    );
    hostile.push(("an ID token's typ", backchannel(&logout, &id_typed, now).await));
    let big = format!("{good}{}", "A".repeat(9000));
    hostile.push(("oversized", backchannel(&logout, &big, now).await));
    hostile.push(("not a JWS", backchannel(&logout, "not-a-jws", now).await));
    for (what, resp) in &hostile {
        assert_eq!(resp.status(), 400, "{what}: {}", resp.body());
        assert_refusal(resp, 400, "invalid_request");
        assert!(deployment.item(&session.handle).await.is_some(), "{what} deleted the session");
    }

    // A valid token of an unknown provider session: 200, nothing else deleted.
    let unknown = provider.logout_token(&provider.logout_claims("op-unknown"));
    assert_ok_no_store(&backchannel(&logout, &unknown, now).await);
    assert!(deployment.item(&session.handle).await.is_some());

    // Both `sid` and `sub`, but the `sub` is another user's: both must match, so nothing.
    let mut other_user = provider.logout_claims(&session.provider_sid);
    other_user["sub"] = json!("bob");
    assert_ok_no_store(&backchannel(&logout, &provider.logout_token(&other_user), now).await);
    assert!(deployment.item(&session.handle).await.is_some(), "bob's logout ended alice's");

    // The valid token ends the session; its replay, on another instance, is refused.
    assert_ok_no_store(&backchannel(&logout, &good, now).await);
    assert!(deployment.item(&session.handle).await.is_none(), "the session is deleted");
    let second: Logout = deployment.another().await;
    assert_refusal(&backchannel(&second, &good, now).await, 400, "invalid_request");
    let resp = deployment.refresh_at(&session, now).await;
    deployment.assert_ended(&session, &resp).await;
}

#[tokio::test]
async fn backchannel_logout_by_sub_ends_every_session_of_the_user_at_that_provider() {
    let deployment = Deployment::start(&[]).await;
    let logout: Logout = deployment.another().await;
    let (first, second) = (deployment.sign_in(60).await, deployment.sign_in(60).await);
    let mut claims: Value = deployment.provider.logout_claims("unused");
    claims.as_object_mut().unwrap().remove("sid");
    let token = deployment.provider.logout_token(&claims);
    assert_ok_no_store(&backchannel(&logout, &token, unix_now()).await);
    for session in [&first, &second] {
        assert!(deployment.item(&session.handle).await.is_none(), "every session of alice ends");
    }
}

#[tokio::test]
async fn backchannel_logout_racing_a_refresh_leaves_the_session_ended() {
    let deployment = Deployment::start(&[]).await;
    let logout: Logout = deployment.another().await;
    for _ in 0..3 {
        let session = deployment.sign_in(60).await;
        let later = unix_now() + 120;
        let token = token_for(&deployment, &session);
        let (refreshed, logged_out) = tokio::join!(
            deployment.refresh_at(&session, later),
            backchannel(&logout, &token, unix_now())
        );
        assert_ok_no_store(&logged_out);
        assert!(matches!(refreshed.status().as_u16(), 200 | 401 | 502), "{}", refreshed.body());
        assert!(deployment.item(&session.handle).await.is_none(), "the race left it alive");
        let again = deployment.refresh_at(&session, later).await;
        deployment.assert_ended(&session, &again).await;
    }
}

#[tokio::test]
async fn strict_session_check_refuses_the_jwt_of_an_ended_session_stateless_does_not() {
    let deployment = Deployment::start(&[]).await;
    let mut vars = deployment.vars.clone();
    vars.push(("SESSION_CHECK", "strict"));
    let strict: Access =
        Deployment::function(&deployment.provider, &deployment.secret, &vars, &deployment.dynamodb)
            .await;
    let stateless: Access = deployment.another().await;
    let logout: Logout = deployment.another().await;
    let session = deployment.sign_in(60).await;
    let now = unix_now();
    // The Lambda authorizer's decision, from the same bearer token.
    let bearer = format!("Bearer {}", session.token);
    let presented = Presented {
        method: &Method::GET,
        authorization: Some(&bearer),
        cookies: None,
        csrf: false,
    };
    assert_eq!(me(&strict, &session.token, now).await.status(), 200);
    assert_eq!(me(&stateless, &session.token, now).await.status(), 200);
    assert!(strict.authorize(&presented, now).await.is_some());

    assert_ok_no_store(&backchannel(&logout, &token_for(&deployment, &session), now).await);
    let refused = me(&strict, &session.token, now).await;
    assert_eq!(refused.status(), 401, "{}", refused.body());
    assert_eq!(testing::callbacks::json_body(&refused)["error"], "invalid_token");
    assert!(strict.authorize(&presented, now).await.is_none(), "the authorizer let it through");
    // The default stays stateless: the token works until its exp.
    assert_eq!(me(&stateless, &session.token, now).await.status(), 200);
    assert!(stateless.authorize(&presented, now).await.is_some());
    // A token of ours without a session (minted stateless) is refused by the strict check.
    let user = shared::User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let bare = strict.session().mint(&user, &deployment.provider.issuer(), now).unwrap();
    assert_eq!(me(&strict, &bare, now).await.status(), 401);
}

/// `POST /api/logout` with `session`'s handle, `X-CSRF: 1` and `body` sent as `content_type`.
async fn api_logout(
    logout: &Logout,
    session: &Session,
    content_type: &str,
    body: &str,
) -> http::Response<String> {
    let req = Request {
        cookies: Some(format!("{}={}", shared::cookies::REFRESH, session.handle)),
        csrf: true,
        content_type: Some(content_type),
        body: body.as_bytes(),
        ..testing::request(&Method::POST, "/api/logout")
    };
    serve(logout, &req, unix_now()).await.into_http()
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user_a_plain_logout_only_its_own() {
    let deployment = Deployment::start(&[]).await;
    let logout: Logout = deployment.another().await;
    let sessions =
        [deployment.sign_in(60).await, deployment.sign_in(60).await, deployment.sign_in(60).await];
    // A body that is not the expected JSON is refused, and ends nothing.
    let wrong_type =
        api_logout(&logout, &sessions[0], "text/plain", "{\"everywhere\": true}").await;
    assert_refusal(&wrong_type, 415, "unsupported_media_type");
    let unknown = api_logout(&logout, &sessions[0], "application/json", "{\"all\": 1}").await;
    assert_refusal(&unknown, 400, "bad_request");
    for session in &sessions {
        assert!(deployment.item(&session.handle).await.is_some(), "a refusal ended a session");
    }
    // A plain logout ends its own session only.
    let plain = api_logout(&logout, &sessions[0], "application/json", "{}").await;
    assert_eq!(plain.status(), 200, "{}", plain.body());
    assert!(deployment.item(&sessions[0].handle).await.is_none());
    assert!(deployment.item(&sessions[1].handle).await.is_some(), "another session ended");
    // Everywhere: the rest of alice's sessions at this provider end too.
    let all = api_logout(&logout, &sessions[1], "application/json", "{\"everywhere\": true}").await;
    assert_eq!(all.status(), 200, "{}", all.body());
    for session in &sessions {
        assert!(deployment.item(&session.handle).await.is_none(), "a session outlived it");
    }
}
