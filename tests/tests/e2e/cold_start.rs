//! The cold start against a real moto server and the real provider.

use std::time::{Duration, Instant};

use e2e::{Options, Stack, client, get_json};
use serde_json::{Value, json};

// This stack also runs with the session table (`sessions: true`): the checks of the table and of
// the provider's refresh-token setup below share it rather than start stacks of their own.
#[tokio::test]
async fn cold_start_reads_the_secret_from_moto_and_logs_no_secret() {
    let stack = Stack::start("cold_start", Options { sessions: true, ..Options::default() }).await;
    let resp = client().get(stack.function("login", "/api/login")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let log = stack.log("functions");
    assert!(log.contains("cold start done"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "the log shows a PEM private key");
    // The client secret, the cookie key and the signing key's body.
    stack.assert_log_holds_none(&[]);
    session_table_is_created_from_the_template(&stack);
    provider_announces_refresh_and_revocation(&stack).await;
}

/// moto holds the table `dev/session_table.py` made from `template.yaml`: key `h`, TTL on `ttl`,
/// the three sparse indexes; and it can be scanned (as tests of the sessions do).
fn session_table_is_created_from_the_template(stack: &Stack) {
    let described = stack.describe_session_table();
    let table = &described["Table"];
    assert_eq!(table["TableName"], json!(stack.session_table.as_deref().unwrap()));
    assert_eq!(table["KeySchema"], json!([{"AttributeName": "h", "KeyType": "HASH"}]));
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["SSEDescription"]["Status"], "ENABLED", "{described}");
    let indexes: Vec<(String, Value, String)> = table["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap_or_else(|| panic!("no indexes: {described}"))
        .iter()
        .map(|i| {
            let name = i["IndexName"].as_str().unwrap().to_owned();
            (name, i["KeySchema"].clone(), i["Projection"]["ProjectionType"].to_string())
        })
        .collect();
    let key = |a: &str| json!([{"AttributeName": a, "KeyType": "HASH"}]);
    assert_eq!(
        indexes,
        [
            ("by_provider_sid".to_owned(), key("psid"), "\"KEYS_ONLY\"".to_owned()),
            ("by_subject".to_owned(), key("subj"), "\"KEYS_ONLY\"".to_owned()),
            ("by_email".to_owned(), key("mail"), "\"KEYS_ONLY\"".to_owned()),
        ]
    );
    assert_eq!(
        described["TimeToLive"],
        json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"})
    );
    let items: Value = serde_json::from_str(&stack.scan_sessions()).unwrap();
    assert!(items.is_array(), "scan_sessions answers a JSON array: {items}");
}

/// The local provider announces what the sessions rely on: the refresh_token grant, the
/// revocation endpoint, the offline_access scope.
async fn provider_announces_refresh_and_revocation(stack: &Stack) {
    let url = format!("{}/.well-known/openid-configuration", stack.issuer());
    let doc = get_json(&client(), &url).await;
    assert_eq!(doc["revocation_endpoint"], json!(format!("{}/token/revocation", stack.issuer())));
    assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!("refresh_token")));
    assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!("offline_access")));
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
