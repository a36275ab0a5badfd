//! The cold start against a real moto server and the real provider.

use std::time::{Duration, Instant};

use e2e::{Options, Stack, client};

#[tokio::test]
async fn cold_start_reads_the_secret_from_moto_and_logs_no_secret() {
    let stack = Stack::start("cold_start", Options::default()).await;
    let resp = client().get(stack.function("login", "/api/login")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let log = stack.log("functions");
    assert!(log.contains("cold start done"), "{log}");
    for secret in [stack.client_secret.as_str(), "PRIVATE KEY", "BwcHBwcHBwc"] {
        assert!(!log.contains(secret), "the log shows secret material ({secret})");
    }
}

#[tokio::test]
async fn missing_secret_stops_the_cold_start_with_a_clear_line() {
    let options = Options {
        function_env: vec![("SECRET_ID".into(), "spa-login/absent".into())],
        functions_may_fail: true,
        ..Options::default()
    };
    let stack = Stack::start("missing_secret", options).await;
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Each invocation tries a cold start; none may serve.
        if let Ok(resp) = http.get(stack.function("login", "/api/login")).send().await {
            assert_ne!(resp.status(), 200, "a function without its secret must not serve");
        }
        let log = stack.log("functions");
        if log.contains("cold start failed") {
            assert!(log.contains("spa-login/absent"), "the line names the secret: {log}");
            assert!(!log.contains(&stack.client_secret));
            break;
        }
        assert!(Instant::now() < deadline, "no cold start failure logged:\n{log}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
