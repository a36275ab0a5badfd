//! Many logins at once through the local stack: every browser gets its own user's token and
//! nobody else's. Bounded in count and time, loopback only.

use std::sync::Arc;
use std::time::Duration;

use e2e::flows::first_cookie;
use e2e::{Jar, Options, Stack, client, jwt_parts, sign_in_at_provider};
use reqwest::header::COOKIE;
use serde_json::Value;
use tokio::sync::Semaphore;

const LOGINS: usize = 200;
const AT_ONCE: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_logins_never_cross_talk() {
    let stack = Arc::new(Stack::start("concurrency", Options::default()).await);
    let gate = Arc::new(Semaphore::new(AT_ONCE));
    let mut tasks = Vec::new();
    for i in 0..LOGINS {
        let (stack, gate) = (Arc::clone(&stack), Arc::clone(&gate));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let user = if i % 2 == 0 { "alice" } else { "bob" };
            // Each task is one browser: its own cookie jar and its own transaction cookie.
            let http = client();
            let resp = http
                .get(stack.function("login", &format!("/api/login?return_to=%2Fbrowser%2F{i}")))
                .send()
                .await
                .unwrap();
            let tx = first_cookie(&resp);
            let login_url =
                resp.json::<Value>().await.unwrap()["login_url"].as_str().unwrap().to_owned();
            let redirect =
                sign_in_at_provider(&http, &mut Jar::default(), &login_url, user, user).await;
            let resp = http
                .get(
                    stack.function(
                        "callback",
                        &format!("/api/callback?{}", redirect.query().unwrap()),
                    ),
                )
                .header(COOKIE, tx)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "login {i}");
            let body: Value = resp.json().await.unwrap();
            (i, user, body)
        }));
    }
    let results = tokio::time::timeout(Duration::from_secs(600), futures_join(tasks))
        .await
        .expect("200 logins within 10 minutes");
    let mut jtis = std::collections::HashSet::new();
    for (i, user, body) in results {
        assert_eq!(body["user"]["sub"], user, "login {i} got another user's identity");
        assert_eq!(
            body["return_to"],
            format!("/browser/{i}"),
            "login {i} got another browser's return_to"
        );
        let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
        assert_eq!(claims["sub"], user);
        assert!(
            jtis.insert(claims["jti"].as_str().unwrap().to_owned()),
            "a token was handed out twice"
        );
    }
    assert_eq!(jtis.len(), LOGINS);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
