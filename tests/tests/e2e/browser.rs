//! Both flows in headless Chromium, clicking through the demo SPA (tests/browser/flows.mjs).

use std::process::Command;

use e2e::{Options, Stack, jwt_parts, jwts_in, root};
use serde_json::Value;

#[tokio::test]
async fn browser_spa_flow_logout_login_again_server_flow_and_two_tabs() {
    let stack = Stack::start("browser", Options { demo: true, ..Options::default() }).await;
    let shots = stack.logs.join("screenshots");
    let out = tokio::task::spawn_blocking({
        let app = stack.app();
        let shots = shots.clone();
        move || {
            Command::new("node")
                .arg("flows.mjs")
                .current_dir(root().join("tests/browser"))
                .env("APP", app)
                .env("SHOTS", shots)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or_else(|_| {
            panic!(
                "no report from the browser\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(
        report["ok"],
        true,
        "browser run failed: {}\n{}",
        report["error"],
        stack.log("functions")
    );
    let step = |name: &str| {
        report["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone()
    };

    // SPA flow: the page shows the user and the decoded claims of our token.
    let spa = step("spa");
    assert!(spa["user"].as_str().unwrap().contains("Alice Example"), "{spa}");
    assert!(spa["user"].as_str().unwrap().contains("alice@example.com"));
    assert_eq!(spa["claims"]["claims"]["sub"], "alice");
    assert_eq!(spa["claims"]["claims"]["iss"], stack.app());
    assert_eq!(spa["claims"]["header"]["kid"], "ours-1");
    // The callback page removed code and state from the address bar.
    assert!(!spa["url"].as_str().unwrap().contains("code="), "{spa}");
    assert_eq!(step("address-bar")["historyHasCode"], false);

    // Log out forgets the token and ends the provider's session (its confirmation page was
    // passed), so the next login asks for the password again.
    let logout = step("logout");
    assert_eq!(logout["stored"], Value::Null);
    assert!(logout["url"].as_str().unwrap().starts_with(&stack.app()), "{logout}");
    let again = step("login-again");
    assert!(again["user"].as_str().unwrap().contains("Alice Example"));
    assert_eq!(again["askedPassword"], true, "the provider session ended at logout");

    // Server flow: back on the app with an HttpOnly session cookie holding our JWT.
    let server = step("server");
    assert_eq!(server["heading"], "Signed in with the server flow", "{server}");
    assert_eq!(server["session"]["httpOnly"], true);
    assert_eq!(server["session"]["secure"], true);
    assert_eq!(server["session"]["sameSite"], "Lax");
    assert_eq!(server["transactionCookiesLeft"], 0, "the transaction cookie is cleared");
    let (_, claims) = jwt_parts(server["session"]["value"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert!(!server["url"].as_str().unwrap().contains("code="));
    // The page reads /api/me with the HttpOnly cookie it cannot see.
    assert_eq!(server["me"]["sub"], "alice", "{server}");

    // Two tabs of one browser, both logins in flight at once, completed in reverse order.
    let tabs = step("two-tabs");
    assert_eq!(tabs["inFlight"], 2, "the second login did not overwrite the first: {tabs}");
    for tab in tabs["users"].as_array().unwrap() {
        let user = tab["user"].as_str().unwrap_or_default();
        assert!(user.contains("Alice Example"), "a tab's login failed: {tab}");
    }
    assert_eq!(tabs["transactionCookiesLeft"], 0, "each callback cleared its own: {tabs}");

    // Every API answer the browser saw: any JWT in it is ours (our kid), never the provider's.
    for answer in report["api"].as_array().unwrap() {
        let text = format!("{}{}", answer["headers"], answer["body"]);
        for jwt in jwts_in(&text) {
            let (header, _) = jwt_parts(jwt);
            assert_eq!(
                header["kid"], "ours-1",
                "a foreign JWT reached the browser at {}",
                answer["path"]
            );
        }
    }
    assert!(shots.join("spa-signed-in.png").exists());
}
