//! Both flows in headless Chromium, clicking through the demo SPA (tests/browser/flows.mjs), and
//! a session kept by the demo's refreshes across several JWT lifetimes and two tabs, ended by
//! our logout in one tab and, after a new login, by a logout at the provider (back channel);
//! one device ending another's session from the demo's "Your sessions" panel; the SPA flow and
//! logout against LemonLDAP::NG; and a user picking either of two providers.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use e2e::{Options, ProviderKind, Stack, jwt_parts, jwts_in, root};
use serde_json::Value;

/// Our JWT's lifetime in the session test, the shortest the config accepts.
const JWT_TTL_SECONDS: u64 = 60;

/// The JSON report of one run of `flows.mjs` (`FLOW=flow`, plus `env`), checked to have
/// succeeded.
async fn run_flows(stack: &Stack, flow: &str, env: &[(&str, String)]) -> Value {
    let mut command = Command::new("node");
    command
        .arg("flows.mjs")
        .current_dir(root().join("tests/browser"))
        .env("FLOW", flow)
        .env("APP", stack.app())
        .env("SHOTS", shots(stack))
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
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
    report
}

/// How many `POST /api/refresh` the page made that answered `200`.
fn successful_refreshes(report: &Value) -> usize {
    let calls = report["api"].as_array().unwrap().iter();
    calls.filter(|a| a["path"] == "/api/refresh" && a["status"] == 200).count()
}

fn shots(stack: &Stack) -> PathBuf {
    stack.logs.join("screenshots")
}

/// The report's step `name`.
fn step(report: &Value, name: &str) -> Value {
    let steps = report["steps"].as_array().unwrap();
    steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}")).clone()
}

/// Every API answer the browser saw: any JWT in it is ours (our kid), never the provider's, with
/// the one exception SECURITY.md names: a logout's redirect to the provider carries the session's
/// last ID token, already used, as `id_token_hint`, and only there.
fn assert_only_our_jwts_reached_the_browser(report: &Value) {
    for answer in report["api"].as_array().unwrap() {
        let path = answer["path"].as_str().unwrap_or_default();
        let text = format!("{}{}", answer["headers"], answer["body"]);
        for jwt in jwts_in(&text) {
            let (header, _) = jwt_parts(jwt);
            if header["kid"] == "ours-1" {
                continue;
            }
            // An ID token (it has a nonce), there only, every time it appears.
            let (_, claims) = jwt_parts(jwt);
            let hints = text.matches(&format!("id_token_hint={jwt}")).count();
            assert!(
                path.ends_with("/logout")
                    && claims["nonce"].is_string()
                    && hints > 0
                    && hints == text.matches(jwt).count(),
                "a foreign JWT reached the browser at {path}, not as a logout's id_token_hint"
            );
        }
    }
}

fn assert_screenshot(stack: &Stack, name: &str) {
    let path = shots(stack).join(name);
    assert!(path.exists(), "no screenshot {}", path.display());
}

#[tokio::test]
async fn browser_spa_flow_logout_login_again_server_flow_and_two_tabs() {
    let stack = Stack::start("browser", Options { demo: true, ..Options::default() }).await;
    let report = run_flows(&stack, "logins", &[]).await;
    let step = |name: &str| step(&report, name);

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

    assert_only_our_jwts_reached_the_browser(&report);
    assert_screenshot(&stack, "spa-signed-in.png");
}

#[tokio::test]
async fn browser_session_outlives_several_jwts_and_logout_in_one_tab_ends_the_other() {
    let started = Instant::now();
    let options = Options {
        demo: true,
        sessions: true,
        function_env: vec![
            ("SESSION_TTL_SECONDS".into(), JWT_TTL_SECONDS.to_string()),
            // A JWT of an ended session is refused by /api/me at once.
            ("SESSION_CHECK".into(), "strict".into()),
        ],
        // Shorter than our JWT: every refresh of the page runs a refresh grant at the provider.
        provider_env: vec![("PROVIDER_ACCESS_TOKEN_TTL".into(), "20".into())],
        ..Options::default()
    };
    let stack = Stack::start("browser-session", options).await;
    let stay = 3 * JWT_TTL_SECONDS + 10;
    let env = [("PROVIDER", stack.issuer()), ("STAY_SECONDS", stay.to_string())];
    let report = run_flows(&stack, "session", &env).await;
    let step = |name: &str| step(&report, name);
    let alice = |held: &Value| {
        let user = held["user"].as_str().unwrap_or_default();
        held["state"] == "signed-in"
            && user.contains("Alice Example")
            && held["claims"]["sub"] == "alice"
    };

    // One login through the provider's form; our JWT lives 60 s and names the session.
    let sign_in = step("sign-in");
    assert_eq!(sign_in["askedPassword"], true, "{sign_in}");
    assert!(alice(&sign_in), "{sign_in}");
    let claims = &sign_in["claims"];
    let sid = claims["sid"].as_str().expect("our JWT names the session").to_owned();
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), JWT_TTL_SECONDS);

    // More than three JWT lifetimes on the app: always signed in as Alice, in the same
    // session, with the fresh tokens of the page's refreshes.
    let samples = step("stay")["samples"].as_array().unwrap().clone();
    assert!(!samples.is_empty());
    for sample in &samples {
        assert!(alice(sample), "not signed in as Alice at some point: {sample}");
        assert_eq!(sample["claims"]["sid"], sid.as_str(), "{sample}");
    }
    // A reload half way resumes the session through /api/refresh.
    let reload = step("reload");
    assert_eq!(reload["refresh"], 200, "{reload}");
    assert!(alice(&reload), "{reload}");
    assert_eq!(reload["claims"]["sid"], sid.as_str());
    let jtis: BTreeSet<&str> = samples
        .iter()
        .chain([&sign_in, &reload])
        .filter_map(|held| held["claims"]["jti"].as_str())
        .collect();
    assert!(jtis.len() >= 4, "the page held {} tokens, not one per refresh: {jtis:?}", jtis.len());

    // A second tab starts without a token and resumes the session.
    let second = step("second-tab");
    assert_eq!(second["refresh"], 200, "{second}");
    assert!(alice(&second), "{second}");
    assert_eq!(second["claims"]["sid"], sid.as_str());

    // Logging out in the first tab ends the session: the second tab's next refresh is refused,
    // and it forgets its token and says the session has ended.
    let logout = step("logout");
    assert_eq!(logout["stored"], Value::Null, "{logout}");
    assert!(logout["url"].as_str().unwrap().starts_with(&stack.app()), "{logout}");
    let ended = step("second-tab-ended");
    assert_eq!(ended["refresh"], 401, "{ended}");
    assert_eq!(ended["state"], "signed-out", "{ended}");
    assert_eq!(ended["heading"], "Your session has ended", "{ended}");
    assert_eq!(ended["status"], "Your session has ended.", "{ended}");
    assert_eq!(ended["stored"], false, "the tab forgot its token: {ended}");
    assert_eq!(ended["claimsShown"], false, "{ended}");

    // A new login, ended by the user at the provider's own end-session page: the provider
    // calls our back-channel logout, the JWT the page still holds is refused by /api/me
    // (strict check), and the page's next refresh learns that the session has ended.
    let provider_ended = step("ended-at-provider");
    let again = &provider_ended["signedInAgain"];
    assert!(alice(again), "{provider_ended}");
    assert_eq!(again["askedPassword"], true, "the first logout ended the provider's session");
    let new_sid = again["claims"]["sid"].as_str().unwrap();
    assert_ne!(new_sid, sid, "a new login is a new session");
    assert_eq!(provider_ended["meBefore"]["status"], 200, "{provider_ended}");
    assert_eq!(provider_ended["meBefore"]["body"]["sub"], "alice");
    assert_eq!(provider_ended["meAfter"]["status"], 401, "{provider_ended}");
    assert_eq!(provider_ended["meAfter"]["body"]["error"], "invalid_token");
    assert_eq!(provider_ended["refresh"], 401, "{provider_ended}");
    assert_eq!(provider_ended["state"], "signed-out", "{provider_ended}");
    assert_eq!(provider_ended["heading"], "Your session has ended", "{provider_ended}");
    assert_eq!(provider_ended["stored"], false, "{provider_ended}");
    // Once at our logout (for a session already ended), once at the provider's own page.
    let provider_log = stack.log("provider");
    let calls = provider_log.matches("back-channel logout sent to").count();
    assert!(calls >= 2, "the provider called the back channel {calls} times:\n{provider_log}");

    // The browser saw the provider only to sign in and to log out: every refresh grant went
    // over the back channel.
    let requests = report["providerRequests"].as_array().unwrap();
    assert!(requests.iter().any(|r| r["phase"] == "sign-in"), "the recorder saw the provider");
    let at_provider = ["sign-in", "logout", "sign-in-again", "provider-logout"];
    for request in requests {
        assert!(
            at_provider.iter().any(|phase| request["phase"] == *phase),
            "the browser went to the provider while the session should have sufficed: {request}"
        );
    }
    let refreshed = successful_refreshes(&report);
    assert!(refreshed >= 4, "{refreshed} refreshes");
    assert_only_our_jwts_reached_the_browser(&report);
    let shots = [
        "session-kept.png",
        "second-tab-signed-in.png",
        "second-tab-session-ended.png",
        "ended-at-provider.png",
    ];
    for shot in shots {
        assert_screenshot(&stack, shot);
    }
    eprintln!("browser session test: {:.0?} in all", started.elapsed());
}

#[tokio::test]
async fn browser_one_device_ends_anothers_session_from_your_sessions() {
    let options = Options { demo: true, sessions: true, ..Options::default() };
    let stack = Stack::start("browser-your-sessions", options).await;
    let report = run_flows(&stack, "your-sessions", &[]).await;
    let step = |name: &str| step(&report, name);
    let alice = |held: &Value| {
        let user = held["user"].as_str().unwrap_or_default();
        held["state"] == "signed-in"
            && user.contains("Alice Example")
            && held["claims"]["sub"] == "alice"
    };
    // The panel's sessions, and the one marked "This device" (there must be exactly one).
    let listed = |shown: &Value| shown["sessions"].as_array().unwrap().clone();
    let current = |shown: &Value| {
        let current: Vec<Value> =
            listed(shown).into_iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1, "not exactly one session marked current: {shown}");
        current[0].clone()
    };

    // Two browser contexts (two devices) sign in as Alice through the provider's form, each
    // into its own session; after each login the page lists the user's sessions.
    let (a, b) = (step("a-signed-in"), step("b-signed-in"));
    for device in [&a, &b] {
        assert_eq!(device["askedPassword"], true, "{device}");
        assert!(alice(device), "{device}");
    }
    let sid_a = a["claims"]["sid"].as_str().expect("our JWT names the session").to_owned();
    let sid_b = b["claims"]["sid"].as_str().expect("our JWT names the session").to_owned();
    assert_ne!(sid_a, sid_b, "two devices, two sessions");
    assert_eq!(listed(&a["sessions"]).len(), 1, "{a}");
    assert_eq!(current(&a["sessions"])["sid"], sid_a.as_str(), "{a}");
    assert_eq!(listed(&b["sessions"]).len(), 2, "{b}");
    assert_eq!(current(&b["sessions"])["sid"], sid_b.as_str(), "{b}");

    // A's list, read again: both sessions, newest login (B's) first, A's own marked "This
    // device" with no "Sign out" button (its "Log out" does that), B's with one.
    let two = step("a-lists-two");
    assert_eq!(two["error"], Value::Null, "{two}");
    let sessions = listed(&two["sessions"]);
    let sids: Vec<&str> = sessions.iter().map(|s| s["sid"].as_str().unwrap()).collect();
    assert_eq!(sids, [sid_b.as_str(), sid_a.as_str()], "{two}");
    let own = current(&two["sessions"]);
    assert_eq!(own["sid"], sid_a.as_str(), "{two}");
    assert_eq!(own["mark"], "This device", "{two}");
    assert_eq!(own["buttons"], serde_json::json!([]), "{two}");
    let other = &sessions[0];
    assert_eq!(other["current"], false, "{two}");
    assert_eq!(other["mark"], Value::Null, "{two}");
    assert_eq!(other["buttons"], serde_json::json!(["Sign out"]), "{two}");
    for session in &sessions {
        // The device label taken at login (Chromium's user agent), the provider, and times.
        let device = session["device"].as_str().unwrap_or_default();
        assert!(device.contains("Chrome"), "{session}");
        assert_eq!(session["provider"], "default", "{session}");
        for time in ["created", "used"] {
            assert!(session[time].as_str().is_some_and(|t| !t.is_empty()), "{session}");
        }
    }

    // A signs out B's session: 204, and A's list then shows its own session alone.
    let ended = step("a-ended-b");
    assert_eq!(ended["sid"], sid_b.as_str(), "{ended}");
    assert_eq!(ended["ended"]["status"], 204, "{ended}");
    assert_eq!(ended["ended"]["path"], format!("/api/sessions/{sid_b}"), "{ended}");
    assert_eq!(ended["error"], Value::Null, "{ended}");
    assert!(alice(&ended), "A is still signed in: {ended}");
    assert_eq!(listed(&ended["sessions"]).len(), 1, "{ended}");
    assert_eq!(current(&ended["sessions"])["sid"], sid_a.as_str(), "{ended}");
    assert!(ended["sessions"]["note"].as_str().is_some_and(|n| n.starts_with("Signed out")));

    // B's next refresh is refused (its session is over): B forgets its token and shows the
    // signed-out state, without the panel.
    let refused = step("b-refresh");
    assert_eq!(refused["refresh"]["status"], 401, "{refused}");
    assert_eq!(refused["refresh"]["body"]["error"], "session_expired", "{refused}");
    assert_eq!(refused["state"], "signed-out", "{refused}");
    assert_eq!(refused["heading"], "Your session has ended", "{refused}");
    assert_eq!(refused["status"], "Your session has ended.", "{refused}");
    assert_eq!(refused["stored"], false, "B forgot its token: {refused}");
    assert_eq!(refused["claimsShown"], false, "{refused}");
    assert_eq!(refused["panel"], Value::Null, "{refused}");

    // A's next refresh succeeds, in the same session; its list still shows it alone.
    let renewed = step("a-refresh");
    assert_eq!(renewed["refresh"]["status"], 200, "{renewed}");
    assert!(alice(&renewed), "{renewed}");
    assert_eq!(renewed["claims"]["sid"], sid_a.as_str(), "{renewed}");
    assert_ne!(renewed["claims"]["jti"], a["claims"]["jti"], "a new token: {renewed}");
    assert_eq!(listed(&renewed["sessions"]).len(), 1, "{renewed}");
    assert_eq!(current(&renewed["sessions"])["sid"], sid_a.as_str(), "{renewed}");
    assert_eq!(renewed["error"], Value::Null, "{renewed}");

    // The API answers the browsers saw: the listings, one DELETE, and no provider token.
    let answers = report["api"].as_array().unwrap();
    let to = |path: &str, status: u64| {
        answers.iter().filter(|a| a["path"] == path && a["status"] == status).count()
    };
    assert_eq!(to(&format!("/api/sessions/{sid_b}"), 204), 1);
    assert!(to("/api/sessions", 200) >= 4, "{} listings", to("/api/sessions", 200));
    // Before each login the page looked for a session (none: session_missing); B's refresh
    // after A ended its session is the one refused as expired.
    let expired = answers.iter().filter(|a| {
        a["path"] == "/api/refresh"
            && a["body"].as_str().unwrap_or_default().contains("session_expired")
    });
    assert_eq!(expired.count(), 1);
    assert_only_our_jwts_reached_the_browser(&report);
    for shot in
        ["your-sessions-two.png", "your-sessions-one.png", "your-sessions-other-device-ended.png"]
    {
        assert_screenshot(&stack, shot);
    }
}

#[tokio::test]
async fn browser_spa_flow_and_logout_against_lemonldap() {
    let options = Options { demo: true, provider: ProviderKind::LemonLdap, ..Options::default() };
    let stack = Stack::start("browser-lemonldap", options).await;
    let user = [("USER_LOGIN", "dwho".to_owned()), ("USER_PASSWORD", "dwho".to_owned())];
    let report = run_flows(&stack, "lemonldap", &user).await;
    let step = |name: &str| step(&report, name);

    // Signed in through LemonLDAP::NG's login form: the page shows Doctor Who and our token.
    let spa = step("spa");
    assert_eq!(spa["askedPassword"], true, "{spa}");
    assert!(spa["user"].as_str().unwrap().contains("Doctor Who"), "{spa}");
    assert_eq!(spa["claims"]["claims"]["sub"], "dwho");
    assert_eq!(spa["claims"]["claims"]["idp"], stack.issuer());
    assert_eq!(spa["claims"]["header"]["kid"], "ours-1");
    // Chromium kept its SSO cookie (set with Domain=.localhost).
    assert_eq!(spa["ssoCookie"], true, "{spa}");

    // Log out passed its confirmation page and came back to the app, signed out; the next
    // login meets the login form again: the provider's session ended.
    let logout = step("logout");
    assert_eq!(logout["stored"], Value::Null, "{logout}");
    assert_eq!(logout["url"], format!("{}/", stack.app()), "{logout}");
    assert_eq!(step("login-again")["askedPassword"], true);
    assert_only_our_jwts_reached_the_browser(&report);
    assert_screenshot(&stack, "lemonldap-signed-in.png");
}

#[tokio::test]
async fn browser_user_picks_either_provider_on_the_demo_page() {
    let options = Options {
        demo: true,
        second_provider: Some(ProviderKind::LemonLdap),
        ..Options::default()
    };
    let stack = Stack::start("browser-two-providers", options).await;
    let report = run_flows(&stack, "two-providers", &[]).await;
    let step = |name: &str| step(&report, name);

    // The page offers one button per provider, and no plain "Log in".
    let choice = step("choice");
    assert_eq!(choice["plainLogin"], 0, "{choice}");
    let buttons = choice["buttons"].as_array().unwrap();
    for label in ["Sign in with the local provider", "Sign in with LemonLDAP::NG"] {
        assert!(buttons.iter().any(|b| b == label), "no {label:?}: {choice}");
    }

    // LemonLDAP::NG's form, as dwho: Doctor Who, a JWT naming LemonLDAP::NG.
    let lemon = step("lemon");
    assert_eq!(lemon["askedPassword"], true, "{lemon}");
    assert!(lemon["user"].as_str().unwrap().contains("Doctor Who"), "{lemon}");
    assert_eq!(lemon["claims"]["claims"]["sub"], "dwho");
    assert_eq!(lemon["claims"]["claims"]["idp"], stack.issuer_of(ProviderKind::LemonLdap));

    assert!(lemon["user"].as_str().unwrap().contains("LemonLDAP::NG"), "the provider shown");

    // Log out went through LemonLDAP::NG's logout (the page named the provider), not the
    // local provider's, ended its SSO session, and came back.
    let logout = step("logout");
    assert_eq!(logout["stored"], Value::Null, "{logout}");
    assert_eq!(logout["url"], format!("{}/", stack.app()), "{logout}");
    let origins = logout["origins"].as_array().unwrap();
    assert!(origins.contains(&stack.issuer_of(ProviderKind::LemonLdap).into()), "{logout}");
    assert!(!origins.contains(&stack.issuer().into()), "{logout}");
    assert_eq!(logout["ssoCookie"], false, "{logout}");

    // Then the local provider's form, as alice.
    let local = step("local");
    assert_eq!(local["askedPassword"], true, "{local}");
    assert!(local["user"].as_str().unwrap().contains("Alice Example"), "{local}");
    assert!(local["user"].as_str().unwrap().contains("the local provider"), "{local}");
    assert_eq!(local["claims"]["claims"]["sub"], "alice");
    assert_eq!(local["claims"]["claims"]["idp"], stack.issuer());
    assert_only_our_jwts_reached_the_browser(&report);
    assert_screenshot(&stack, "two-providers-lemon.png");
}

/// The cookie-only test's rounds of calls are this far apart: longer than our JWT lives.
const ROUND_SECONDS: u64 = JWT_TTL_SECONDS + 5;
/// The provider's access token lifetime in the cookie-only test: several expire per round.
const PROVIDER_TOKEN_TTL_SECONDS: u64 = 20;
/// Rounds of calls in the cookie-only test, and the extra `idp` call this long into each round
/// but the last (our JWT still valid, the provider's access token expired).
const ROUNDS: usize = 3;
const MID_SECONDS: u64 = 30;

/// Cookie-only: no JWT in any answer body the page received but the provider logout URL's
/// `id_token_hint` (an ID token of the provider's, there only), and in a header only in an
/// `HttpOnly` `Set-Cookie`.
fn assert_no_token_reached_the_page(report: &Value) {
    for answer in report["api"].as_array().unwrap() {
        let path = answer["path"].as_str().unwrap_or_default();
        let body = answer["body"].as_str().unwrap_or_default();
        for jwt in jwts_in(body) {
            let (_, claims) = jwt_parts(jwt);
            let hints = body.matches(&format!("id_token_hint={jwt}")).count();
            assert!(
                path == "/api/logout"
                    && claims["nonce"].is_string()
                    && hints > 0
                    && hints == body.matches(jwt).count(),
                "a JWT reached the page in the body of {path}, not as the logout's id_token_hint"
            );
        }
        for (name, value) in answer["headers"].as_object().unwrap() {
            let value = value.as_str().unwrap_or_default();
            for line in value.lines().filter(|l| !jwts_in(l).is_empty()) {
                let http_only = line.split(';').any(|a| a.trim().eq_ignore_ascii_case("httponly"));
                assert!(
                    name == "set-cookie" && http_only,
                    "a JWT reached the page in header {name} of {path}, readable by scripts"
                );
            }
        }
    }
}

#[tokio::test]
async fn cookie_only_demo_calls_the_upstream_through_the_proxy_across_jwt_lifetimes_holding_no_token()
 {
    let started = Instant::now();
    let options = Options {
        demo: true,
        demo_mode: Some("cookie".into()),
        sessions: true,
        function_env: vec![
            ("BROWSER_TOKENS".into(), "none".into()),
            ("SESSION_TTL_SECONDS".into(), JWT_TTL_SECONDS.to_string()),
        ],
        // Shorter than our JWT: the idp calls meet expired provider access tokens, which the
        // backend renews (in /api/refresh, and in the proxy itself while our JWT is valid).
        provider_env: vec![(
            "PROVIDER_ACCESS_TOKEN_TTL".into(),
            PROVIDER_TOKEN_TTL_SECONDS.to_string(),
        )],
        ..Options::default()
    };
    let stack = Stack::start("browser-cookie-only", options).await;
    let env = [
        ("ROUNDS", ROUNDS.to_string()),
        ("ROUND_SECONDS", ROUND_SECONDS.to_string()),
        ("MID_SECONDS", MID_SECONDS.to_string()),
    ];
    let report = run_flows(&stack, "cookie-only", &env).await;
    let step = |name: &str| step(&report, name);

    // The page says it runs cookie-only; one SPA login through the provider's form shows Alice
    // from the callback's answer and from /api/me, and no decoded token.
    let sign_in = step("sign-in");
    assert_eq!(sign_in["mode"]["data"], "cookie", "{sign_in}");
    assert!(sign_in["mode"]["text"].as_str().unwrap().contains("cookie-only"), "{sign_in}");
    assert_eq!(sign_in["askedPassword"], true, "{sign_in}");
    assert!(sign_in["user"].as_str().unwrap().contains("Alice Example"), "{sign_in}");
    assert_eq!(sign_in["sub"], "alice");
    assert_eq!(sign_in["claimsShown"], false, "{sign_in}");
    assert!(!sign_in["url"].as_str().unwrap().contains("code="), "{sign_in}");
    let buttons = ["Call the API (our token)", "Call the API (provider token)"];
    assert_eq!(sign_in["buttons"], serde_json::json!(buttons), "{sign_in}");
    let me = &sign_in["me"];
    assert_eq!(me["sub"], "alice", "{sign_in}");
    assert_eq!(me["aud"], stack.app());
    let sid = me["sid"].as_str().expect("our JWT names the session");
    // Our JWT lives in the HttpOnly cookie only (the test reads it through the browser's API).
    let session = &sign_in["session"];
    assert_eq!(session["httpOnly"], true, "{sign_in}");
    assert_eq!(session["secure"], true);
    assert_eq!(session["sameSite"], "Lax");
    let (header, claims) = jwt_parts(session["value"].as_str().unwrap());
    assert_eq!(header["kid"], "ours-1");
    assert_eq!((claims["sub"].as_str(), claims["sid"].as_str()), (Some("alice"), Some(sid)));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), JWT_TTL_SECONDS);

    // Every call reached the upstream with a valid bearer token for Alice, never a cookie:
    // ours with the echo API's audience, or the provider's access token.
    let calls = step("calls")["calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 3 * ROUNDS - 1, "two calls a round and one between rounds");
    for call in &calls {
        let answer = &call["answer"];
        assert_eq!(call["status"], 200, "{call}");
        assert_eq!(call["ok"], true, "{call}");
        assert_eq!(call["state"], "signed-in", "{call}");
        assert_eq!(answer["sub"], "alice", "{call}");
        assert_eq!(answer["cookie"], false, "the upstream got a cookie: {call}");
        assert_eq!(answer["authorization_scheme"], "Bearer", "{call}");
        assert_eq!(answer["x_csrf"], false, "{call}");
        assert_eq!(answer["method"], "GET", "{call}");
        match call["api"].as_str().unwrap() {
            "echo" => {
                assert_eq!(answer["verified"], "ours", "{call}");
                assert_eq!(answer["aud"], "echo-api", "{call}");
                assert_eq!(answer["sid"], sid, "{call}");
                assert_eq!(answer["path"], "/ours/whoami", "{call}");
                assert_eq!(answer["query"], format!("n={}", call["seq"]), "{call}");
            }
            "idp" => {
                assert_eq!(answer["verified"], "provider", "{call}");
                assert_eq!(answer["path"], "/provider/whoami", "{call}");
            }
            other => panic!("a call to {other}"),
        }
        // A round's first call after our JWT expired went through POST /api/refresh; calls in
        // our JWT's life did not.
        let renewed = call["round"].as_u64() > Some(1) && call["api"] == "echo";
        let renewed = renewed && call["mid"].is_null();
        assert_eq!(call["refreshed"], renewed, "{call}");
    }
    for call in &calls {
        let (api, t, ms) = (call["api"].as_str().unwrap(), &call["t"], &call["ms"]);
        let renewed = if call["refreshed"] == true { ", after /api/refresh" } else { "" };
        eprintln!("cookie-only call {} ({api}) at {t} s: {ms} ms{renewed}", call["seq"]);
    }
    let (first, last) = (calls[0]["t"].as_u64().unwrap(), calls.last().unwrap()["t"].as_u64());
    let span = last.unwrap() - first;
    assert!(span >= 2 * JWT_TTL_SECONDS, "the calls span {span} s, not two JWT lifetimes");
    let refreshed = successful_refreshes(&report);
    assert!(refreshed >= ROUNDS - 1, "{refreshed} refreshes");
    // The provider's access token was renewed by refresh grants: by /api/refresh at each
    // round, and by the proxy itself for the calls between rounds.
    let grants = |function: &str| {
        let metrics = stack.metric_lines();
        let by = |m: &&Value| m["FunctionName"] == function && m["Endpoint"] == "refresh";
        metrics.iter().filter(by).count()
    };
    let (by_refresh, by_proxy) = (grants("refresh"), grants("proxy"));
    assert!(by_refresh >= ROUNDS - 1, "{by_refresh} refresh grants by /api/refresh");
    assert!(by_proxy >= ROUNDS - 1, "{by_proxy} refresh grants by the proxy");

    // Logout went through the provider's end-session page (with the ID token as its hint),
    // came back signed out, and left no session cookie: the next call is refused.
    let logout = step("logout");
    assert!(logout["url"].as_str().unwrap().starts_with(&stack.app()), "{logout}");
    assert_eq!(logout["logoutUrlHasHint"], true, "{logout}");
    assert_eq!(logout["cookiesLeft"], serde_json::json!([]), "{logout}");
    assert_eq!(logout["after"]["status"], 401, "{logout}");
    assert_eq!(logout["after"]["body"]["error"], "missing_token", "{logout}");

    // At every step, nothing JWT-shaped in what the page received or can read (the flow fails
    // otherwise; its checks are counted here), and the same over the API's answers again.
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= calls.len() + 4, "{} checks", checks.len());
    for check in checks {
        assert_eq!(check["found"], serde_json::json!([]), "{check}");
        // A body the browser no longer had to give: only those of /api/login and /api/logout,
        // which the page reads just before it goes to the URL they hold (checked as addresses).
        for path in check["unread"].as_array().unwrap() {
            assert!(path == "/api/login" || path == "/api/logout", "{check}");
        }
        if !check["localStorage"].is_null() {
            assert_eq!((&check["localStorage"], &check["sessionStorage"]), (&0.into(), &0.into()));
            assert!(!check["documentCookie"].as_str().unwrap().contains("eyJ"), "{check}");
        }
    }
    assert!(report["answersChecked"].as_u64().unwrap() > 20, "{}", report["answersChecked"]);
    assert_no_token_reached_the_page(&report);

    // The functions logged none of the cookies' values (our JWTs, the session handles) nor the
    // provider's ID token, and the upstream no token at all.
    let secrets = &report["secrets"];
    let mut values: Vec<&str> = ["cookies", "idTokenHints"]
        .iter()
        .flat_map(|k| secrets[k].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    // One JWT of ours a round (the login's, then one per refresh), the session handle, the ID
    // token of the logout URL.
    assert!(values.len() >= ROUNDS + 2, "the browser held only {} secrets", values.len());
    assert_eq!(secrets["idTokenHints"].as_array().unwrap().len(), 1, "{secrets}");
    values.push("eyJhbGci");
    stack.assert_log_holds_none(&values);
    assert!(!stack.log("upstream").contains("eyJ"), "a token in the upstream's log");
    for shot in ["cookie-only-signed-in.png", "cookie-only-calls.png"] {
        assert_screenshot(&stack, shot);
    }
    eprintln!("browser cookie-only test: {:.0?} in all", started.elapsed());
}
