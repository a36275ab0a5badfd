//! The corners of a session that outlive what the provider or an administrator decided, or
//! that let one user or a slow provider cost everyone, each proven against moto's DynamoDB
//! with the functions in-process, as in [`crate::refresh_grant`]: the endings of thousands of
//! sessions within a deadline, the cap per user, claims that follow the provider at each
//! grant, a lease that a slow holder keeps, waiters that only read, and an item whose key was
//! removed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, Select, WriteRequest};
use http::Method;
use serde_json::{Value, json};

use shared::keygen::KeyAlg;
use shared::testing::callbacks::json_body;
use shared::testing::{self, FakeProvider, offline_sessions, secret_json};
use shared::{
    Handle, Logout, Memory, Named, Owner, ProviderTokens, Refresh, Request, Sessions, User,
    cookies, serve,
};
use wiremock::ResponseTemplate;

use crate::refresh_grant::{ACCESS_TTL, Deployment, TABLE, assert_refusal, number, refresh_with};

/// A user of this test only: the table outlives each test's provider, whose port (and so
/// issuer) a later test may get again.
fn someone() -> String {
    format!("user-{}", Handle::new().unwrap().key())
}

/// The sessions of `sub` at the deployment's provider, counted by the `by_subject` index.
async fn sessions_of(deployment: &Deployment, sub: &str) -> usize {
    let subject = format!("{} {sub}", deployment.provider.issuer());
    let mut pages = deployment
        .dynamodb
        .query()
        .table_name(TABLE)
        .index_name("by_subject")
        .key_condition_expression("subj = :v")
        .expression_attribute_values(":v", AttributeValue::S(subject))
        .select(Select::Count)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        count += usize::try_from(page.unwrap().count).unwrap();
    }
    count
}

/// `count` sessions of `sub` at the deployment's provider, written straight to the table as
/// the callback writes them (the same item), in batches.
async fn sessions_for(deployment: &Deployment, sub: &str, count: usize) {
    let sessions = offline_sessions(&deployment.secret);
    let user = User {
        sub: sub.to_owned(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let issuer = deployment.provider.issuer();
    let owner =
        Owner { user: &user, idp: &issuer, provider: "default", provider_sid: None, device: None };
    let tokens = ProviderTokens {
        refresh_token: Some("provider-rt-x".to_owned().into()),
        access_token: "provider-at-x".to_owned().into(),
        access_expires_at: shared::unix_now() + 600,
        id_token: None,
        dpop_key: None,
    };
    let now = shared::unix_now();
    let items: Vec<WriteRequest> = (0..count)
        .map(|_| {
            let (item, _) =
                sessions.new_item(&Handle::new().unwrap(), &owner, &tokens, now).unwrap();
            let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for batch in items.chunks(25) {
        let mut left = batch.to_vec();
        while !left.is_empty() {
            let out = deployment
                .dynamodb
                .batch_write_item()
                .request_items(TABLE, left)
                .send()
                .await
                .unwrap();
            left = out.unprocessed_items.and_then(|mut u| u.remove(TABLE)).unwrap_or_default();
        }
    }
}

/// A back-channel logout of `token`, with `deadline` as the invocation's.
async fn backchannel(
    logout: &Logout,
    token: &str,
    deadline: Option<Instant>,
) -> http::Response<String> {
    let body = format!("logout_token={token}");
    let req = Request {
        content_type: Some("application/x-www-form-urlencoded"),
        body: body.as_bytes(),
        deadline,
        ..testing::request(&Method::POST, "/api/backchannel-logout")
    };
    serve(logout, &req, shared::unix_now()).await.into_http()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backchannel_logout_ends_three_thousand_sessions_and_one_cut_short_can_be_sent_again() {
    let deployment = Deployment::start(&[]).await;
    let logout: Logout = deployment.another().await;
    let sub = someone();
    sessions_for(&deployment, &sub, 3_000).await;
    assert_eq!(sessions_of(&deployment, &sub).await, 3_000);
    let mut claims = deployment.provider.logout_claims("unused");
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!(sub);
    let token = deployment.provider.logout_token(&claims);

    // An invocation with 3.2 s left: 1 s is kept to answer and 2 s to forget the token, so
    // the endings get 0.2 s, far less than 3,000 deletes take. It says so, ends what it
    // could, and forgets the token.
    let cut =
        backchannel(&logout, &token, Some(Instant::now() + Duration::from_millis(3_200))).await;
    assert_refusal(&cut, 503, "logout_incomplete");
    let left = sessions_of(&deployment, &sub).await;
    assert!(left > 0, "the cut-short run left sessions behind");

    // The provider's retry of the same token is no replay: it ends the rest.
    let started = Instant::now();
    let again = backchannel(&logout, &token, None).await;
    assert_eq!(again.status(), 200, "{}", again.body());
    assert_eq!(sessions_of(&deployment, &sub).await, 0, "no session of the user is left");
    println!("{left} sessions ended in {:?} by one back-channel logout", started.elapsed());

    // Once done, the token is spent.
    let replay = backchannel(&logout, &token, None).await;
    assert_refusal(&replay, 400, "invalid_request");
}

#[tokio::test]
async fn a_login_beyond_session_max_per_user_ends_the_users_oldest_session() {
    let deployment = Deployment::start(&[("SESSION_MAX_PER_USER", "2")]).await;
    let user = json!({"sub": someone()});
    let first = deployment.sign_in_with(60, Some("provider-rt-0"), &user).await;
    let second = deployment.sign_in_with(60, Some("provider-rt-0"), &user).await;
    // Logins in one second: the first is made the older, so that "oldest" is one session.
    let key = Handle::parse(&first.handle).unwrap().key();
    deployment
        .dynamodb
        .update_item()
        .table_name(TABLE)
        .key("h", AttributeValue::S(key))
        .update_expression("SET created = :c")
        .expression_attribute_values(":c", AttributeValue::N((first.created - 100).to_string()))
        .send()
        .await
        .unwrap();
    let third = deployment.sign_in_with(60, Some("provider-rt-0"), &user).await;
    assert!(deployment.item(&first.handle).await.is_none(), "the oldest session ended");
    assert!(deployment.item(&second.handle).await.is_some());
    assert!(deployment.item(&third.handle).await.is_some(), "the new one stands");
    let resp = deployment.refresh_at(&first, shared::unix_now()).await;
    deployment.assert_ended(&first, &resp).await;
}

/// A grant answer whose ID token carries `extra` claims (and `name`), rotating to `n`.
fn answer_with(deployment: &Deployment, n: u32, at: u64, extra: &Value) -> ResponseTemplate {
    let access = format!("provider-at-{n}");
    let mut claims = deployment.refreshed_claims(&access, at);
    for (name, value) in extra.as_object().into_iter().flatten() {
        claims[name] = value.clone();
    }
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
        "refresh_token": format!("provider-rt-{n}"),
        "id_token": deployment.provider.id_token(&claims),
    }))
}

/// The claims of the JWT in a refresh answer.
fn minted(resp: &http::Response<String>) -> Value {
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let body = json_body(resp);
    e2e::jwt_parts(body["token"].as_str().unwrap()).1
}

#[tokio::test]
async fn a_refresh_grant_mints_the_claims_the_provider_sends_now_and_drops_the_others() {
    let deployment = Deployment::start(&[("JWT_CLAIMS", "groups")]).await;
    let login = json!({"groups": ["admins", "users"], "name": "Alice"});
    let session = deployment.sign_in_with(60, Some("provider-rt-0"), &login).await;
    let claims = e2e::jwt_parts(&session.token).1;
    assert_eq!(
        (claims["groups"].clone(), claims["name"].clone()),
        (json!(["admins", "users"]), json!("Alice"))
    );

    // Removed from `admins` at the provider, and renamed.
    let at = session.created + 61;
    let now = json!({"groups": ["users"], "name": "Alice Liddell"});
    deployment.on_grant("provider-rt-0", answer_with(&deployment, 1, at, &now), 1).await;
    let claims = minted(&deployment.refresh_at(&session, at).await);
    assert_eq!(claims["groups"], json!(["users"]));
    assert_eq!(claims["name"], "Alice Liddell");
    let item = deployment.item(&session.handle).await.unwrap();
    assert!(!item["u"].as_s().unwrap().contains("admins"), "the stored user follows too");

    // A claim the provider no longer sends is dropped.
    let at = at + 61;
    deployment.on_grant("provider-rt-1", answer_with(&deployment, 2, at, &json!({})), 1).await;
    let claims = minted(&deployment.refresh_at(&session, at).await);
    assert!(claims.get("groups").is_none(), "{claims}");
    assert!(claims.get("name").is_none(), "{claims}");
    assert_eq!(claims["email"], "alice@example.com");
    // Between grants, the stored user is minted as stored.
    let claims = minted(&deployment.refresh_at(&session, at + 1).await);
    assert!(claims.get("groups").is_none(), "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_grant_keeps_its_lease_against_a_request_whose_clock_is_past_the_old_lease() {
    let deployment = Arc::new(Deployment::start(&[]).await);
    let session = Arc::new(deployment.sign_in(60).await);
    let at = session.created + 61;
    // The grant takes 1 s (within the provider timeout of these tests, 1.5 s): long enough
    // for a second request to arrive during it.
    let slow = deployment.answer(1, true, true, at).set_delay(Duration::from_secs(1));
    deployment.on_grant("provider-rt-0", slow, 1).await;
    let holder = {
        let (deployment, session) = (deployment.clone(), session.clone());
        tokio::spawn(async move { deployment.refresh_at(&session, at).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A second instance whose clock reads 20 s later (a slow provider, clocks apart): a lease
    // of 15 s would have lapsed for it, and it would send the spent refresh token again.
    let late = deployment.refresh_at(&session, at + 20).await;
    assert_eq!(late.status(), 200, "{}", late.body());
    let first = holder.await.unwrap();
    assert_eq!(first.status(), 200, "{}", first.body());
    let item = deployment.item(&session.handle).await.unwrap();
    assert_eq!(number(&item, "ver"), 1, "one grant");
}

#[tokio::test]
async fn a_refresh_with_too_little_time_left_starts_no_grant_and_keeps_the_session() {
    let deployment = Deployment::start(&[]).await;
    let session = deployment.sign_in(60).await;
    deployment.forbid_grants().await;
    let req = Request {
        cookies: Some(format!("{}={}", cookies::REFRESH, session.handle)),
        csrf: true,
        deadline: Some(Instant::now() + Duration::from_secs(20)),
        ..testing::request(&Method::POST, "/api/refresh")
    };
    let resp = serve(deployment.refresh(), &req, session.created + 61).await.into_http();
    assert_refusal(&resp, 504, "provider_timeout");
    deployment.assert_kept(&session, &resp, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_during_a_slow_grant_only_read_with_backoff() {
    // `WAITERS=200 GRANT_SECS=9` gives the figure; CI runs a smaller one.
    let waiters: usize = std::env::var("WAITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let grant_secs: u64 =
        std::env::var("GRANT_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let deployment = Deployment::start(&[]).await;
    let session = Arc::new(deployment.sign_in(60).await);
    let at = session.created + 61;
    let slow = deployment.answer(1, true, true, at).set_delay(Duration::from_secs(grant_secs));
    deployment.on_grant("provider-rt-0", slow, 1).await;
    let count = stack::RequestCount::default();
    let config = deployment.dynamodb.config().to_builder().interceptor(count.clone()).build();
    let counted = aws_sdk_dynamodb::Client::from_conf(config);
    // The provider's timeouts as deployed (3 s connect, 10 s in all): the grant outlasts the
    // tests' own.
    let parts =
        deployment.provider.parts_with_sessions(&deployment.secret, &deployment.vars, counted);
    let refresh: Arc<Refresh> = Arc::new(FakeProvider::function_from(parts).await);
    let tasks: Vec<_> = (0..waiters)
        .map(|_| {
            let (refresh, session) = (refresh.clone(), session.clone());
            tokio::spawn(async move { refresh_with(&refresh, &session, at).await })
        })
        .collect();
    // Beyond shared::MAX_WAITING waiters (the figure asks for 200), the rest are
    // answered session_busy at once.
    let mut busy = 0;
    for task in tasks {
        let resp = task.await.unwrap();
        match resp.status().as_u16() {
            200 => {}
            503 if resp.body().contains("session_busy") => busy += 1,
            _ => panic!("{}: {}", resp.status(), resp.body()),
        }
    }
    let waiting = usize::try_from(shared::MAX_WAITING).unwrap();
    assert!(busy <= waiters.saturating_sub(waiting + 1), "{busy} answered session_busy");
    let requests = count.get();
    let per_refresh = requests as f64 / waiters as f64;
    println!(
        "{waiters} parallel refreshes during a {grant_secs} s grant: {requests} DynamoDB requests, {per_refresh:.1} per refresh"
    );
    // Each: the open, one lease attempt, and reads with a pause doubling to 1 s. A fixed
    // 100 ms poll with a lease attempt at each costs 2 × 10 per second of grant.
    let bound = 3.0 + 2.0 * (grant_secs as f64 + 2.0);
    assert!(per_refresh <= bound, "{per_refresh:.1} requests per refresh, over {bound}");
}

#[tokio::test]
async fn an_item_sealed_under_a_removed_cookie_key_ends_at_its_next_refresh() {
    let deployment = Deployment::start(&[]).await;
    let session = deployment.sign_in(60).await;
    deployment.forbid_grants().await;
    // The secret after rotations that dropped the key the item was sealed with.
    let rotated = secret_json(KeyAlg::Es256, 7);
    let refresh: Refresh = Deployment::function(
        &deployment.provider,
        &rotated,
        &deployment.vars,
        &deployment.dynamodb,
    )
    .await;
    let resp = refresh_with(&refresh, &session, session.created + 1).await;
    deployment.assert_ended(&session, &resp).await;
}

/// The session limits of [`Deployment`]'s table, as the functions read them by default.
fn default_settings() -> shared::SessionSettings {
    shared::SessionSettings {
        table: TABLE.to_owned(),
        max_age: Duration::from_secs(43_200),
        idle: Duration::from_secs(3_600),
        strict: false,
        max_per_user: 50,
        renew_margin: Duration::from_secs(60),
    }
}

/// One fixed sequence of every table operation the functions use, on `sessions`: what each
/// answered, and each session as read back, with the keys named by role (the handles are
/// random). The in-memory table of the model-based test must write the same.
async fn transcript(sessions: &Sessions, idp: &str, now: u64) -> Vec<String> {
    let mut out = Vec::new();
    let someone_else = someone();
    let (alice, bob) = (someone(), someone_else.as_str());
    let user = |sub: &str| User {
        sub: sub.to_owned(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let (alice_user, bob_user) = (user(&alice), user(bob));
    let owner =
        |u| Owner { user: u, idp, provider: "default", provider_sid: Some("op-1"), device: None };
    let tokens = |n: u32, expires: u64| ProviderTokens {
        refresh_token: Some(format!("rt-{n}").into()),
        access_token: format!("at-{n}").into(),
        access_expires_at: expires,
        id_token: None,
        dpop_key: None,
    };
    let (a, _) = sessions.create(&owner(&alice_user), &tokens(0, now + 60), now).await.unwrap();
    let (b, _) = sessions.create(&owner(&alice_user), &tokens(1, now + 60), now + 1).await.unwrap();
    let (c, _) = sessions.create(&owner(&bob_user), &tokens(2, now + 60), now + 2).await.unwrap();
    let show = |what: &str, record: &Option<shared::Record>| match record {
        None => format!("{what}: none"),
        Some(r) => format!(
            "{what}: created {} used {} ver {} lease {:?} rt {:?}",
            r.created - now,
            r.used - now,
            r.version,
            r.lease_until.map(|l| l - now),
            r.tokens
                .refresh_token
                .as_ref()
                .map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned())
        ),
    };
    let opened = |o: shared::Opened| match o {
        shared::Opened::Missing => "missing".to_owned(),
        shared::Opened::Used(r) => show("used", &Some(r)),
        shared::Opened::Unused(r) => show("unused", &Some(r)),
    };
    // Open while no grant is due (used), then when one is (unused).
    out.push(opened(sessions.open(&a, now + 10).await.unwrap()));
    let due = match sessions.open(&a, now + 70).await.unwrap() {
        shared::Opened::Unused(r) => r,
        other => panic!("a grant is due: {other:?}"),
    };
    out.push(show("due", &Some(shared::Record { ..due })));
    let due = sessions.get(&a).await.unwrap().unwrap();
    // One lease; a second is refused; the holder stores, bumping the version.
    let lease = sessions.lease(&due, now + 70).await.unwrap().expect("the lease");
    out.push(format!("second lease: {}", sessions.lease(&due, now + 71).await.unwrap().is_some()));
    out.push(show("leased", &sessions.reread(&due).await.unwrap()));
    out.push(format!("a waiter counted: {}", sessions.wait_turn(&due).await.unwrap()));
    let next = tokens(3, now + 130);
    let stored = sessions.store_refreshed(&due, &lease, &next, &alice_user, now + 71).await;
    out.push(format!("stored: {}", stored.unwrap()));
    out.push(format!(
        "stored again with the spent lease: {}",
        sessions
            .store_refreshed(&due, &lease, &tokens(4, now + 130), &alice_user, now + 72)
            .await
            .unwrap()
    ));
    sessions.release(&due, &lease).await.unwrap();
    out.push(show("after", &sessions.get(&a).await.unwrap()));
    // A lease of the old version is refused; a lapsed lease may be taken over.
    out.push(format!("stale lease: {}", sessions.lease(&due, now + 200).await.unwrap().is_some()));
    let fresh = sessions.get(&a).await.unwrap().unwrap();
    let first = sessions.lease(&fresh, now + 80).await.unwrap().expect("a lease");
    out.push(format!(
        "over a live lease: {}",
        sessions.lease(&fresh, now + 81).await.unwrap().is_some()
    ));
    out.push(format!(
        "over a lapsed lease: {}",
        sessions.lease(&fresh, now + 80 + shared::LEASE_SECS + 1).await.unwrap().is_some()
    ));
    sessions.release(&fresh, &first).await.unwrap();
    out.push(show("first holder released nothing", &sessions.get(&a).await.unwrap()));
    // Touch, liveness, delete, and a touch of a deleted item.
    let record_b = sessions.get(&b).await.unwrap().unwrap();
    sessions.touch(&record_b, now + 30).await.unwrap();
    out.push(show("touched", &sessions.get(&b).await.unwrap()));
    let c_key = c.key();
    out.push(format!("live: {}", sessions.is_live(&c_key, now + 3).await.unwrap()));
    let record_c = sessions.get(&c).await.unwrap().unwrap();
    sessions.delete(&c_key).await.unwrap();
    out.push(format!("live after delete: {}", sessions.is_live(&c_key, now + 3).await.unwrap()));
    out.push(format!(
        "touch after delete: {:?}",
        sessions.touch(&record_c, now + 4).await.err().map(|e| e.code())
    ));
    out.push(format!("open after delete: {}", opened(sessions.open(&c, now + 4).await.unwrap())));
    // Logout tokens: a replay is seen.
    let jti = someone();
    for _ in 0..2 {
        let fresh = sessions.remember_logout_token(idp, &jti, now + 300).await.unwrap();
        out.push(format!("logout token new: {fresh}"));
    }
    // Universal Logout requests: claimed for one user, again for that user while pending,
    // never for another; once settled, for no one.
    let request = someone();
    for (who, what) in [(&alice, "first"), (&alice, "retry"), (&someone_else, "other user")] {
        let claimed = sessions.claim_request(idp, &request, who, now + 300).await.unwrap();
        out.push(format!("request claimed, {what}: {claimed}"));
    }
    sessions.settle_request(idp, &request, &alice, now + 300).await.unwrap();
    let claimed = sessions.claim_request(idp, &request, &alice, now + 300).await.unwrap();
    out.push(format!("request claimed after it was settled: {claimed}"));
    // Ending alice's sessions but one, then the provider session's by sid and sub.
    let keep = b.key();
    let ending =
        sessions.end_provider_sessions(idp, Named::User(&alice), Some(&keep), None, None).await;
    out.push(format!("ended: {:?}", ending.unwrap()));
    out.push(show("a", &sessions.get(&a).await.unwrap()));
    out.push(show("b", &sessions.get(&b).await.unwrap()));
    let by_sid = sessions.end_provider_sessions(
        idp,
        Named::ProviderSession { sid: "op-1", sub: Some(bob) },
        None,
        None,
        None,
    );
    out.push(format!("ended by sid of another user: {:?}", by_sid.await.unwrap()));
    out.push(show("b", &sessions.get(&b).await.unwrap()));
    // A user's sessions, by e-mail (verified only, without case), listed and ended one by
    // one and all together, their refresh tokens collected.
    let carol = someone();
    let mailed = |sub: &str, email: &str, verified: bool| User {
        email: Some(email.to_owned()),
        email_verified: Some(verified),
        ..user(sub)
    };
    let dave = someone();
    let (carol_user, dave_user) = (
        mailed(&carol, &format!("{carol}@Example.com"), true),
        mailed(&dave, &format!("{carol}@example.com"), false),
    );
    let on = |u, device| Owner { user: u, idp, provider: "default", provider_sid: None, device };
    let firefox = on(&carol_user, Some("Firefox on Linux"));
    let (d1, _) = sessions.create(&firefox, &tokens(5, now + 60), now + 3).await.unwrap();
    let (d2, _) =
        sessions.create(&on(&carol_user, None), &tokens(6, now + 60), now + 4).await.unwrap();
    sessions.create(&on(&dave_user, None), &tokens(7, now + 60), now + 5).await.unwrap();
    let listed = sessions.user_sessions(idp, &carol, now + 6).await.unwrap();
    for l in &listed {
        out.push(format!(
            "listed: created {} used {} device {:?} provider {:?} expires {}",
            l.created - now,
            l.used - now,
            l.device,
            l.provider,
            l.expires - now
        ));
    }
    // What each ending revokes before it deletes, in the order sent.
    let revoked = std::sync::Mutex::new(Vec::new());
    let revoker = |token: shared::Revocable| -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let token = secrecy::ExposeSecret::expose_secret(&token.refresh_token).to_owned();
        revoked.lock().unwrap().push(token);
        Box::pin(async {})
    };
    let taken = || std::mem::take(&mut *revoked.lock().unwrap());
    let ended = sessions.end_session_of(idp, bob, &d2.key(), &revoker).await.unwrap();
    out.push(format!("another user's session ended: {ended} {:?}", taken()));
    let ended = sessions.end_session_of(idp, &carol, &d2.key(), &revoker).await.unwrap();
    out.push(format!("own session ended: {ended} {:?}", taken()));
    let ended = sessions.end_session_of(idp, &carol, &d2.key(), &revoker).await.unwrap();
    out.push(format!("ended again: {ended} {:?}", taken()));
    // A third session whose refresh grant finds the e-mail no longer verified: it leaves the
    // e-mail index.
    let (d3, _) =
        sessions.create(&on(&carol_user, None), &tokens(8, now + 60), now + 5).await.unwrap();
    let d3_record = sessions.get(&d3).await.unwrap().unwrap();
    let d3_lease = sessions.lease(&d3_record, now + 6).await.unwrap().expect("a lease");
    let unverified = mailed(&carol, &format!("{carol}@example.com"), false);
    let next = tokens(9, now + 90);
    let stored = sessions.store_refreshed(&d3_record, &d3_lease, &next, &unverified, now + 6);
    out.push(format!("d3 stored: {}", stored.await.unwrap()));
    let email = format!("{carol}@EXAMPLE.COM");
    let by_email =
        sessions.end_provider_sessions(idp, Named::Email(&email), None, None, Some(&revoker));
    let by_email = by_email.await.unwrap();
    let mut collected = taken();
    collected.sort();
    out.push(format!("ended by e-mail: {by_email:?} {collected:?}"));
    out.push(format!("d1 after: {}", sessions.get(&d1).await.unwrap().is_some()));
    out.push(show("d3 after", &sessions.get(&d3).await.unwrap()));
    out.push(format!(
        "dave's: {}",
        sessions.user_sessions(idp, &dave, now + 6).await.unwrap().len()
    ));
    out
}

#[tokio::test]
async fn the_in_memory_table_answers_a_fixed_sequence_as_moto_does() {
    let deployment = Deployment::start(&[]).await;
    let keys = || {
        let secret = shared::Secret::from_json(&deployment.secret).unwrap();
        shared::SessionKeys::derive(secret.cookie_keys()).unwrap()
    };
    let settings = default_settings();
    let idp = deployment.provider.issuer();
    let now = shared::unix_now();
    let moto = Sessions::new(deployment.dynamodb.clone(), settings.clone(), keys());
    let memory = Sessions::in_memory(settings, keys(), Memory::new(43_200, None));
    let on_moto = transcript(&moto, &idp, now).await;
    let in_memory = transcript(&memory, &idp, now).await;
    assert_eq!(on_moto, in_memory);
    assert!(on_moto.len() > 20, "{on_moto:#?}");
}

#[tokio::test]
async fn a_refresh_grant_seals_the_item_again_under_the_active_cookie_key() {
    let deployment = Deployment::start(&[]).await;
    let session = deployment.sign_in(60).await;
    // A rotation: a new cookie key first, the one that sealed the item behind it.
    let mut rotated: Value = serde_json::from_str(&deployment.secret).unwrap();
    let old = rotated["cookie_keys"][0].clone();
    let new = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
    rotated["cookie_keys"] = json!([new, old]);
    let rotated = rotated.to_string();
    let refresh: Refresh = Deployment::function(
        &deployment.provider,
        &rotated,
        &deployment.vars,
        &deployment.dynamodb,
    )
    .await;
    let at = session.created + 61;
    deployment.on_grant("provider-rt-0", deployment.answer(1, true, true, at), 1).await;
    let resp = refresh_with(&refresh, &session, at).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    // The item now opens under the new key alone: the old one may leave the secret.
    let only_new = json!({"cookie_keys": [new]});
    let mut secret: Value = serde_json::from_str(&rotated).unwrap();
    secret["cookie_keys"] = only_new["cookie_keys"].clone();
    let keys = shared::SessionKeys::derive(
        shared::Secret::from_json(&secret.to_string()).unwrap().cookie_keys(),
    );
    let reader = Sessions::in_memory(default_settings(), keys.unwrap(), Memory::new(43_200, None));
    let key = Handle::parse(&session.handle).unwrap().key();
    let item = deployment.item(&session.handle).await.unwrap();
    let record = reader.record(&key, &item).expect("sealed under the active key");
    assert_eq!(record.version, 1);
}

/// The lease protocol needs DynamoDB's atomic conditional writes; the local moto is started
/// so that it keeps them (`dev/moto_server.py`: moto's own server let two of 32 simultaneous
/// conditional writes through in about one trial in twenty). Many writers at once, one item,
/// one condition: one wins, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_lets_one_of_many_simultaneous_conditional_writes_through() {
    let deployment = Deployment::start(&[]).await;
    let dynamodb = deployment.dynamodb.clone();
    for trial in 0..40 {
        let key = format!("race {} {trial}", someone());
        dynamodb
            .put_item()
            .table_name(TABLE)
            .item("h", AttributeValue::S(key.clone()))
            .item("ver", AttributeValue::N("0".into()))
            .send()
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let writers: Vec<_> = (0..32)
            .map(|i| {
                let (dynamodb, key, barrier) = (dynamodb.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    dynamodb
                        .update_item()
                        .table_name(TABLE)
                        .key("h", AttributeValue::S(key))
                        .update_expression("SET lease = :l, lease_by = :o")
                        .condition_expression("ver = :v AND attribute_not_exists(lease)")
                        .expression_attribute_values(":l", AttributeValue::N("100".into()))
                        .expression_attribute_values(":o", AttributeValue::S(i.to_string()))
                        .expression_attribute_values(":v", AttributeValue::N("0".into()))
                        .send()
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut won = 0;
        for writer in writers {
            won += usize::from(writer.await.unwrap());
        }
        assert_eq!(won, 1, "trial {trial}: {won} conditional writes passed one condition");
    }
}
