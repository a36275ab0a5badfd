//! `session-tool` (tools/session-tool) against the real stack: the built binary, with the
//! operator's environment pointed at moto's DynamoDB, lists and ends the sessions that logins
//! through the local provider made, and the functions refuse an ended session's refresh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use e2e::flows;
use e2e::{Options, Stack, client};
use serde_json::Value;

/// A browser's user agent, for a session with a device label.
const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The built `session-tool`: beside this test binary's `deps/` folder, in the same target
/// directory (`cargo build --workspace --bins` builds it, as `make e2e` does first).
fn session_tool() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let tool = dir.join(format!("session-tool{}", std::env::consts::EXE_SUFFIX));
    assert!(tool.is_file(), "no {}: run `cargo build --workspace --bins` first", tool.display());
    tool
}

/// `session-tool args` as an operator runs it locally: the stack's table in `SESSION_TABLE`,
/// moto's endpoint and dummy credentials in the SDK's standard variables.
fn session_tool_run(stack: &Stack, args: &[&str]) -> Output {
    Command::new(session_tool())
        .args(args)
        .env("SESSION_TABLE", stack.session_table.as_deref().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "e2e")
        .env("AWS_SECRET_ACCESS_KEY", "e2e")
        .env("AWS_ENDPOINT_URL", stack.moto.endpoint())
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .output()
        .unwrap()
}

/// Standard output and standard error of `out`, as text.
fn texts(out: &Output) -> (String, String) {
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
    (text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn session_tool_lists_and_ends_one_users_sessions_only() {
    let stack =
        Stack::start("session_tool", Options { sessions: true, ..Options::default() }).await;
    let http = client();
    let firefox = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(FIREFOX_ON_LINUX)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let (_, alice_firefox, alice_firefox_handle) =
        flows::spa_session_of(&stack, &firefox, "alice").await;
    let (_, alice_other, alice_other_handle) = flows::spa_session_of(&stack, &http, "alice").await;
    let (_, bob, bob_handle) = flows::spa_session_of(&stack, &http, "bob").await;
    let issuer = stack.issuer();
    let user = |sub: &'static str| ["--issuer", issuer.as_str(), "--sub", sub];

    // alice's two sessions, with the provider's name and the device label (none without a
    // user agent), newest login first; not bob's.
    let out = session_tool_run(&stack, &[&["list", "--json"][..], &user("alice")].concat());
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let listed: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let sids: BTreeSet<&str> = listed.iter().map(|l| l["sid"].as_str().unwrap()).collect();
    assert_eq!(sids, BTreeSet::from([alice_firefox.as_str(), alice_other.as_str()]), "{stdout}");
    assert!(listed.iter().all(|l| l["provider"] == "default"), "{stdout}");
    let device = |sid: &str| &listed.iter().find(|l| l["sid"] == sid).unwrap()["device"];
    assert_eq!(device(&alice_firefox), "Firefox on Linux");
    assert_eq!(device(&alice_other), &Value::Null);
    assert!(listed[0]["created"].as_u64() >= listed[1]["created"].as_u64(), "{stdout}");
    assert!(!stdout.contains(&bob));

    // The table for people says the same; another provider name keeps none of them.
    let out = session_tool_run(&stack, &[&["list"][..], &user("alice")].concat());
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("SID ") && stdout.lines().count() == 3, "{stdout}");
    assert!(stdout.contains(&alice_firefox) && stdout.contains("Firefox on Linux"), "{stdout}");
    let corp = [&["list", "--json", "--provider", "corp"][..], &user("alice")].concat();
    let out = session_tool_run(&stack, &corp);
    assert_eq!(texts(&out).0.trim(), "[]");

    // Bob's session named as alice's: nothing ended, and the tool says so.
    let table = stack.session_table.clone().unwrap();
    let end_alice = [&["end", "--table", table.as_str()][..], &user("alice")].concat();
    let out = session_tool_run(&stack, &[&end_alice[..], &["--sid", bob.as_str()]].concat());
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("ended 0 sessions"), "{stdout}");
    assert!(stderr.contains(&format!("not ended: {bob} is not a live session")), "{stderr}");
    assert!(stack.scan_sessions().contains(&bob), "bob's session is still stored");

    // Every session of alice: both end, and the tool says what it did not revoke.
    let out = session_tool_run(&stack, &end_alice);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ended 2 sessions of alice"), "{stdout}");
    assert!(stderr.contains("NOT revoked"), "{stderr}");
    for handle in [&alice_firefox_handle, &alice_other_handle] {
        let (status, body) = stack.refresh(&http, handle).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    }
    let (status, body) = stack.refresh(&http, &bob_handle).await;
    assert_eq!(status, 200, "{body}\n{}", stack.log("functions"));
    let out = session_tool_run(&stack, &[&["list", "--json"][..], &user("alice")].concat());
    assert_eq!(texts(&out).0.trim(), "[]");

    // A table that is not there: exit 1 and one line, no AWS error body.
    let missing = [&["list", "--table", "no-such-table"][..], &user("bob")].concat();
    let out = session_tool_run(&stack, &missing);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("session-tool: ") && stdout.is_empty(), "{stderr}");
}
