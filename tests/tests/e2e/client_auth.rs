//! Client authentication without a shared secret against the real oidc-provider: our client
//! registered for `private_key_jwt` with its keys fetched from our `client-jwks.json`, PAR
//! required. The provider's own checks are the oracle (it refuses a bad or replayed assertion,
//! a plain authorization request); its log says what it received.

use std::time::Duration;

use e2e::flows;
use e2e::{
    ClientAuth, ClientSpec, Jar, Offer, Options, SigAlg, Stack, client, get_json, jwt_parts,
    sign_in_at_provider,
};
use reqwest::header::LOCATION;
use secrecy::ExposeSecret as _;
use serde_json::Value;

/// The provider's access-token lifetime: short enough to wait past for a refresh grant.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(6);

/// The provider's log lines that say what it received or refused.
fn provider_lines(stack: &Stack) -> Vec<String> {
    let log = stack.log("provider");
    log.lines()
        .filter(|l| l.contains("provider: received") || l.contains("provider: refused"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn private_key_jwt_through_par_logs_in_both_flows_refreshes_and_revokes_with_no_client_secret()
 {
    let options = Options {
        sessions: true,
        client: ClientSpec {
            auth: Some(ClientAuth::PrivateKeyJwt),
            key_alg: Some(SigAlg::PS256),
            par: Some(Offer::Required),
            ..ClientSpec::default()
        },
        provider_env: vec![(
            "PROVIDER_ACCESS_TOKEN_TTL".into(),
            ACCESS_TOKEN_TTL.as_secs().to_string(),
        )],
        ..Options::default()
    };
    let stack = Stack::start("client-auth-pkjwt", options).await;
    let http = client();

    // Our client keys are published, the private part never.
    let jwks = get_json(&http, &stack.function("issuer", "/.well-known/client-jwks.json")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(
        (keys[0]["kid"].as_str(), keys[0]["alg"].as_str()),
        (Some("client-default-1"), Some("PS256"))
    );
    assert!(keys[0].get("d").is_none() && keys[0].get("p").is_none());

    // SPA flow: the browser's authorize URL carries only client_id and request_uri.
    let (login_url, tx) = flows::spa_login(&stack, &http, "/api/login").await;
    let url = url::Url::parse(&login_url).unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{login_url}");
    assert!(
        flows::param(&url, "request_uri")
            .unwrap()
            .starts_with("urn:ietf:params:oauth:request_uri:")
    );
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &login_url, "alice", "alice").await;
    let resp = flows::spa_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 200, "{}\n{}", stack.log("functions"), stack.log("provider"));
    let handle = flows::session_handle(&resp);
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let sid = jwt_parts(&token).1["sid"].as_str().unwrap().to_owned();

    // Server flow, the same way.
    let (authorize, tx) = flows::server_login(&stack, &http, "/authorization-code/login").await;
    let authorize = url::Url::parse(&authorize).unwrap();
    assert!(flows::param(&authorize, "redirect_uri").is_none(), "{authorize}");
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), authorize.as_str(), "bob", "bob").await;
    let resp = flows::server_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    assert!(resp.headers()[LOCATION].to_str().unwrap().starts_with('/'));

    // The access token expires: a refresh grant, authenticated the same way.
    let version = stack.session_version(&sid);
    tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!(status, 200, "{body}\n{}", stack.log("provider"));
    assert!(stack.session_version(&sid) > version, "a refresh grant was made");

    // Logout revokes the session's refresh token with an assertion too.
    let resp = flows::post_with_handle(&stack, &http, "logout", "/api/logout", &handle).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));

    let lines = provider_lines(&stack);
    let saw = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    // Two logins, and the stack's own probe of `/api/login` while it waited for the functions.
    assert!(saw("received par auth=private_key_jwt") >= 2, "{lines:#?}");
    assert_eq!(saw("received authorization par=yes"), 2, "{lines:#?}");
    assert_eq!(
        saw("received token grant=authorization_code auth=private_key_jwt"),
        2,
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("grant=authorization_code") || l.contains("par=yes")),
        "{lines:#?}"
    );
    assert!(saw("received token grant=refresh_token auth=private_key_jwt") >= 1, "{lines:#?}");
    assert_eq!(
        saw("received token grant=refresh_token"),
        saw("received token grant=refresh_token auth=private_key_jwt"),
        "{lines:#?}"
    );
    assert_eq!(
        saw("received revocation auth=private_key_jwt token=refresh_token"),
        1,
        "{lines:#?}"
    );
    assert_eq!(saw("provider: refused"), 0, "{lines:#?}");

    // Neither the assertions, nor the client key, nor any token reached our log.
    let value = handle.split_once('=').unwrap().1;
    stack.assert_log_holds_none(&[value, &token]);
    let published = stack
        .metric_lines()
        .iter()
        .any(|m| m["Endpoint"] == "par" && m.get("ProviderLatency").is_some());
    assert!(published, "the PAR call is measured");
}

#[tokio::test]
async fn the_provider_refuses_an_assertion_for_another_audience_and_the_login_says_par_failed() {
    // The provider in FAPI 2.0 mode takes only its issuer as an assertion's audience: our client
    // told to name the token endpoint is refused at the PAR endpoint, and the login answers our
    // own error, naming nothing of the provider's.
    let options = Options {
        client: ClientSpec {
            auth: Some(ClientAuth::PrivateKeyJwt),
            par: Some(Offer::Required),
            ..ClientSpec::default()
        },
        provider_env: vec![("PROVIDER_PROFILE".into(), "fapi2".into())],
        function_env: vec![("OIDC_CLIENT_ASSERTION_AUDIENCE".into(), "token_endpoint".into())],
        // Login never answers below 500 here, which is what the stack waits for.
        functions_may_fail: true,
        ..Options::default()
    };
    let stack = Stack::start("client-auth-refused", options).await;
    let http = client();
    // Until the function has started (the runtime listens, then its own 5xx carry none of our
    // JSON errors).
    let mut answered = None;
    for _ in 0..480 {
        let sent = http.get(stack.function("login", "/api/login")).send().await;
        if let Ok(resp) = sent
            && resp.headers().get("content-type").is_some_and(|t| t == "application/json")
        {
            answered = Some(resp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let resp =
        answered.unwrap_or_else(|| panic!("login never answered\n{}", stack.log("functions")));
    assert_eq!(resp.status(), 502, "{}", stack.log("functions"));
    assert!(flows::set_cookies(&resp).is_empty(), "no login in flight");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "par_failed");
    let lines = provider_lines(&stack);
    assert!(lines.iter().any(|l| l.contains("refused par: invalid_client")), "{lines:#?}");
}

/// A userinfo request at the provider with `token` presented as `scheme`, and a proof of
/// `key` when given (with the provider's nonce when it asks for one): the final status.
async fn userinfo_with(
    stack: &Stack,
    token: &str,
    scheme: &str,
    key: Option<&shared::DpopKey>,
) -> u16 {
    let http = client();
    let discovery =
        get_json(&http, &format!("{}/.well-known/openid-configuration", stack.issuer())).await;
    let url = discovery["userinfo_endpoint"].as_str().unwrap().to_owned();
    let mut nonce: Option<String> = None;
    for _ in 0..2 {
        let mut req = http.get(&url).header("authorization", format!("{scheme} {token}"));
        if let Some(key) = key {
            let proof =
                key.proof("GET", &url, Some(token), nonce.as_deref(), shared::unix_now()).unwrap();
            req = req.header("dpop", proof);
        }
        let resp = req.send().await.unwrap();
        let given = resp.headers().get("dpop-nonce").map(|v| v.to_str().unwrap().to_owned());
        if resp.status() == 401 && given.is_some() && nonce.is_none() && key.is_some() {
            nonce = given;
            continue;
        }
        return resp.status().as_u16();
    }
    unreachable!("at most one retry")
}

#[tokio::test]
async fn the_fapi2_profile_logs_in_both_flows_refreshes_relays_and_logs_out_with_dpop_bound_tokens()
{
    let options = Options {
        sessions: true,
        client: ClientSpec { fapi2: true, dpop_nonce: true, ..ClientSpec::default() },
        provider_env: vec![(
            "PROVIDER_ACCESS_TOKEN_TTL".into(),
            ACCESS_TOKEN_TTL.as_secs().to_string(),
        )],
        function_env: vec![("BROWSER_TOKENS".into(), "none".into())],
        ..Options::default()
    };
    let stack = Stack::start("client-auth-fapi2", options).await;
    let http = client();

    // The login goes through PAR; the provider's ID token is PS256 (the profile's).
    let (login_url, tx) = flows::spa_login(&stack, &http, "/api/login").await;
    let url = url::Url::parse(&login_url).unwrap();
    assert_eq!(url.query_pairs().count(), 2, "{login_url}");
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &login_url, "alice", "alice").await;
    assert!(flows::param(&redirect, "iss").is_some(), "RFC 9207 iss in the response");
    let resp = flows::spa_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 200, "{}\n{}", stack.log("functions"), stack.log("provider"));
    let set = flows::set_cookies(&resp);
    let cookie = |name: &str| {
        let whole = set.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        whole.split(';').next().unwrap().to_owned()
    };
    let (session, handle) = (cookie("__Host-session="), cookie("__Host-refresh="));
    let jwt = session.trim_start_matches("__Host-session=").to_owned();
    let sid = jwt_parts(&jwt).1["sid"].as_str().unwrap().to_owned();

    // The session holds its DPoP key; the provider's access token is worth nothing without it:
    // refused as a Bearer token, refused with another key's proof, taken with the session's.
    let tokens = stack.session_provider_tokens(&sid);
    let stored = tokens.dpop_key.as_ref().expect("the session's DPoP key");
    let key = shared::DpopKey::from_stored(stored).unwrap();
    let access = secrecy::ExposeSecret::expose_secret(&tokens.access_token).to_owned();
    assert_eq!(userinfo_with(&stack, &access, "Bearer", None).await, 401);
    let stranger = shared::DpopKey::generate().unwrap();
    assert_eq!(userinfo_with(&stack, &access, "DPoP", Some(&stranger)).await, 401);
    assert_eq!(userinfo_with(&stack, &access, "DPoP", Some(&key)).await, 200);

    // The proxy relays the bound token with a proof of this request, of the session's key.
    let cookies = format!("{session}; {handle}");
    let relay = || {
        http.get(stack.function("proxy", "/api/remote/idp/me?x=1"))
            .header("cookie", &cookies)
            .header("x-csrf", "1")
    };
    let resp = relay().send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let saw: Value = resp.json().await.unwrap();
    assert_eq!(
        (saw["authorization_scheme"].as_str(), saw["jkt"].as_str()),
        (Some("DPoP"), Some(key.thumbprint().as_str())),
        "{saw}"
    );

    // After the access token's expiry: a refresh grant with a proof (and the provider's
    // nonce), the new token bound to the same key, relayed again.
    let version = stack.session_version(&sid);
    tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
    let resp = relay().send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}\n{}", stack.log("functions"), stack.log("provider"));
    let saw: Value = resp.json().await.unwrap();
    assert_eq!(saw["jkt"].as_str(), Some(key.thumbprint().as_str()));
    assert!(stack.session_version(&sid) > version, "a refresh grant was made");
    let renewed = stack.session_provider_tokens(&sid);
    let renewed_key = shared::DpopKey::from_stored(renewed.dpop_key.as_ref().unwrap()).unwrap();
    assert_eq!(renewed_key.thumbprint(), key.thumbprint());

    // The server flow, as another user: the same profile, its own key.
    let (authorize, tx) = flows::server_login(&stack, &http, "/authorization-code/login").await;
    let authorize = url::Url::parse(&authorize).unwrap();
    assert_eq!(authorize.query_pairs().count(), 2, "{authorize}");
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), authorize.as_str(), "bob", "bob").await;
    let resp = flows::server_callback(&stack, &http, &redirect, &tx).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));

    // Logout revokes with an assertion.
    let resp = flows::post_with_handle(&stack, &http, "logout", "/api/logout", &handle).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));

    let lines = provider_lines(&stack);
    let saw = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(
        saw("received token grant=authorization_code auth=private_key_jwt dpop=yes par=yes"),
        2,
        "{lines:#?}"
    );
    // At least the one grant the relay made (a loaded machine may outlast the 6 s token once
    // more), each authenticated and bound the same way.
    assert!(
        saw("received token grant=refresh_token auth=private_key_jwt dpop=yes") >= 1,
        "{lines:#?}"
    );
    assert_eq!(
        saw("received token grant=refresh_token"),
        saw("received token grant=refresh_token auth=private_key_jwt dpop=yes"),
        "{lines:#?}"
    );
    assert!(saw("received userinfo dpop=yes") >= 2, "{lines:#?}");
    // The code was bound to the session's key at the login (`dpop_jkt`): the provider redeems
    // it only with a proof of that key.
    assert_eq!(saw("received authorization par=yes dpop_jkt=yes"), 2, "{lines:#?}");
    assert_eq!(
        saw("received revocation auth=private_key_jwt token=refresh_token"),
        1,
        "{lines:#?}"
    );
    // The nonce dance happened, and nothing else was refused but this test's own probes.
    assert!(saw("refused token: use_dpop_nonce") >= 1, "{lines:#?}");
    let other = lines
        .iter()
        .filter(|l| {
            l.contains("refused")
                && !l.contains("use_dpop_nonce")
                && !l.contains("refused userinfo")
        })
        .count();
    assert_eq!(other, 0, "{lines:#?}");

    let value = handle.split_once('=').unwrap().1;
    stack.assert_log_holds_none(&[value, &jwt, &access, stored.expose_secret()]);
}
