//! Both flows, sessions and PKCE against a second, independent OpenID provider: LemonLDAP::NG
//! 2.16 (`dev/lemonldap/lemonldap.py`). What it does differently from oidc-provider
//! (`dev/lemonldap/QUIRKS.md`) and the product must take: no RFC 9207 `iss`, `aud` as an
//! array, `typ: JWT`, profile claims from userinfo only and no `email_verified`, refresh
//! answers without a `refresh_token` and with an ID token without `nonce`, no revocation
//! endpoint, a confirmation page at logout.

use std::time::Duration;

use base64::Engine as _;
use e2e::flows::{self, me, param, session_handle, set_cookies, spa_callback};
use e2e::{
    Jar, Options, ProviderKind, Stack, client, confirm_logout_at_provider, exposed, jwt_parts,
    log_out_at_provider, sign_in_at_provider,
};
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION};
use serde_json::{Value, json};

const USER: &str = "dwho";

fn options() -> Options {
    Options { provider: ProviderKind::LemonLdap, ..Options::default() }
}

/// `/api/login`: the authorize URL and the transaction cookie (`name=value`).
async fn spa_login(stack: &Stack, http: &reqwest::Client) -> (String, String) {
    let (login_url, cookie) = flows::spa_login(stack, http, "/api/login").await;
    assert!(
        login_url.starts_with(&format!("{}/oauth2/authorize?", stack.issuer())),
        "the login goes to LemonLDAP::NG's authorization endpoint: {login_url}"
    );
    (login_url, cookie)
}

#[tokio::test]
async fn lemonldap_spa_flow_issues_our_token_for_dwho() {
    let options = Options {
        // LemonLDAP::NG states no `email_verified`: keep its e-mail, marked unverified.
        function_env: vec![("OIDC_UNVERIFIED_EMAIL".into(), "include".into())],
        ..options()
    };
    let stack = Stack::start("lemonldap_spa_flow", options).await;
    let http = client();
    let (login_url, tx_cookie) = spa_login(&stack, &http).await;
    let mut jar = Jar::default();
    let redirect = sign_in_at_provider(&http, &mut jar, &login_url, USER, USER).await;
    assert!(redirect.as_str().starts_with(&stack.spa_redirect()), "{redirect}");
    assert_eq!(param(&redirect, "iss"), None, "LemonLDAP::NG sends no RFC 9207 iss");
    // Its SSO cookie, set for Domain=.localhost, is the jar's for the provider's host.
    assert!(jar.get(&stack.issuer(), "lemonldap").is_some(), "{jar:?}");

    let resp = spa_callback(&stack, &http, &redirect, &tx_cookie).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", stack.log("functions"));
    // sub from the ID token; name and e-mail from userinfo, the only place it gives them.
    assert_eq!(
        body["user"],
        json!({"sub": USER, "email": "dwho@badwolf.org", "email_verified": false, "name": "Doctor Who"})
    );
    assert_eq!(body["token_type"], "Bearer");
    let token = body["token"].as_str().unwrap().to_owned();
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["kid"], "ours-1");
    assert_eq!(claims["iss"], stack.app());
    assert_eq!(claims["idp"], stack.issuer());
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["name"], "Doctor Who");
    assert_eq!(claims["email"], "dwho@badwolf.org");
    assert_eq!(claims["email_verified"], false);

    // Our JWT is what /api/me accepts; a tampered one is refused.
    let (status, me_claims) =
        me(&stack, &http, (AUTHORIZATION.as_str(), format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "{me_claims}");
    assert_eq!(
        (me_claims["sub"].as_str(), me_claims["idp"].as_str()),
        (Some(USER), Some(stack.issuer().as_str()))
    );
    let (status, _) = me(&stack, &http, (AUTHORIZATION.as_str(), format!("Bearer {token}x"))).await;
    assert_eq!(status, 401);

    let code = param(&redirect, "code").unwrap();
    let sealed = tx_cookie.split_once('=').unwrap().1;
    stack.assert_log_holds_none(&[sealed, &code, &token]);
}

#[tokio::test]
async fn lemonldap_server_flow_sets_the_session_cookie() {
    let stack = Stack::start("lemonldap_server_flow", options()).await;
    let http = client();
    let path = "/authorization-code/login?return_to=%2Fdashboard";
    let (authorize, tx_cookie) = flows::server_login(&stack, &http, path).await;
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", stack.issuer())), "{authorize}");
    let redirect = sign_in_at_provider(&http, &mut Jar::default(), &authorize, USER, USER).await;
    assert!(redirect.as_str().starts_with(&stack.server_redirect()), "{redirect}");

    let resp = flows::server_callback(&stack, &http, &redirect, &tx_cookie).await;
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    assert_eq!(resp.headers()[LOCATION], "/dashboard");
    let cookies = set_cookies(&resp);
    let session =
        cookies.iter().find(|c| c.starts_with("__Host-session=")).expect("the session cookie");
    assert!(
        ["HttpOnly", "Secure", "SameSite=Lax"].iter().all(|a| session.contains(a)),
        "{session}"
    );
    assert!(cookies.iter().any(|c| c.starts_with("__Host-oidc-tx-") && c.contains("=;")));
    let token = session.trim_start_matches("__Host-session=").split(';').next().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["name"], "Doctor Who");
    // OIDC_UNVERIFIED_EMAIL's default: an e-mail the provider does not state as verified is
    // left out.
    assert!(claims.get("email").is_none(), "{claims}");

    // /api/me with the cookie alone.
    let (status, me_claims) =
        me(&stack, &http, (COOKIE.as_str(), format!("__Host-session={token}"))).await;
    assert_eq!(status, 200, "{me_claims}");
    assert_eq!(me_claims["sub"], USER);
    stack.assert_log_holds_none(&[token, &param(&redirect, "code").unwrap()]);
}

/// The provider's access token lifetime in the sessions test.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(5);

/// A SPA login with sessions on, the provider's cookies kept in `jar`: our JWT and the session
/// handle cookie (`name=value`).
async fn spa_session(stack: &Stack, http: &reqwest::Client, jar: &mut Jar) -> (String, String) {
    let (login_url, tx_cookie) = spa_login(stack, http).await;
    let redirect = sign_in_at_provider(http, jar, &login_url, USER, USER).await;
    let resp = spa_callback(stack, http, &redirect, &tx_cookie).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let handle = session_handle(&resp);
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    (token, handle)
}

#[tokio::test]
async fn lemonldap_sessions_refresh_without_rotation_and_end_at_either_logout() {
    let options = Options {
        sessions: true,
        provider_env: vec![(
            "LLNG_ACCESS_TOKEN_TTL".into(),
            ACCESS_TOKEN_TTL.as_secs().to_string(),
        )],
        ..options()
    };
    let stack = Stack::start("lemonldap_sessions", options).await;
    let http = client();
    let mut jar = Jar::default();
    let (token, handle) = spa_session(&stack, &http, &mut jar).await;
    let sid = jwt_parts(&token).1["sid"].as_str().expect("our JWT names the session").to_owned();
    let issued = stack.session_provider_tokens(&sid);
    let refresh_token = exposed(issued.refresh_token.as_ref().expect("a refresh token"));
    let login_id_token = exposed(issued.id_token.as_ref().expect("the ID token is kept"));
    assert!(jwt_parts(&login_id_token).1["nonce"].is_string(), "the login's ID token has a nonce");

    // The access token expires; the next refresh makes a refresh grant (the session's version
    // moves by one). LemonLDAP::NG answers it with no refresh_token and an ID token without
    // nonce: the session goes on, with the old refresh token kept.
    let mut access_token = exposed(&issued.access_token);
    for grant in 1..=2 {
        let before = stack.session_version(&sid);
        tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
        let (status, body) = stack.refresh(&http, &handle).await;
        assert_eq!(status, 200, "grant {grant}: {body}\n{}", stack.log("functions"));
        let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
        assert_eq!(
            (claims["sub"].as_str(), claims["sid"].as_str()),
            (Some(USER), Some(sid.as_str()))
        );
        assert_eq!(body["user"]["name"], "Doctor Who", "the user as at login");
        assert_eq!(stack.session_version(&sid), before + 1, "grant {grant}: one refresh grant");
        let held = stack.session_provider_tokens(&sid);
        assert_ne!(exposed(&held.access_token), access_token, "grant {grant}: a new access token");
        access_token = exposed(&held.access_token);
        let kept = exposed(held.refresh_token.as_ref().expect("the refresh token is kept"));
        assert_eq!(kept, refresh_token, "not rotated: the one from the login is kept");
        let id_token = exposed(held.id_token.as_ref().unwrap());
        assert_ne!(id_token, login_id_token, "the refresh answer's ID token is stored");
        let (header, claims) = jwt_parts(&id_token);
        assert_eq!(header["typ"], "JWT");
        assert_eq!((claims["sub"].as_str(), claims.get("nonce")), (Some(USER), None), "{claims}");
        assert_eq!(claims["aud"], json!([e2e::CLIENT_ID]), "aud as an array");
    }
    let held = stack.session_provider_tokens(&sid);

    // LemonLDAP::NG has no back-channel logout: a session whose user logs out at the provider
    // itself learns it at its next refresh grant, which the provider refuses (`invalid_grant`),
    // and ends. (A second browser, so a second SSO session.)
    let mut other_jar = Jar::default();
    let (other, other_handle) = spa_session(&stack, &http, &mut other_jar).await;
    let other_sid = jwt_parts(&other).1["sid"].as_str().unwrap().to_owned();
    log_out_at_provider(&http, &mut other_jar, &stack.issuer()).await;
    tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
    let (status, body) = stack.refresh(&http, &other_handle).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    assert!(!stack.scan_sessions().contains(&other_sid), "the session item is deleted");

    // Our logout ends the session, and answers LemonLDAP::NG's end-session endpoint (it has no
    // revocation endpoint: the refresh token lives on at the provider until its SSO session ends).
    let resp = flows::post_with_handle(&stack, &http, "logout", "/api/logout", &handle).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    let cleared = set_cookies(&resp)
        .iter()
        .any(|c| c.starts_with("__Host-refresh=;") && c.contains("Max-Age=0"));
    assert!(cleared, "the handle cookie is cleared");
    let body: Value = resp.json().await.unwrap();
    let logout_url = url::Url::parse(body["logout_url"].as_str().unwrap()).unwrap();
    assert!(
        logout_url.as_str().starts_with(&format!("{}/oauth2/logout?", stack.issuer())),
        "{logout_url}"
    );
    assert_eq!(param(&logout_url, "client_id").as_deref(), Some(e2e::CLIENT_ID));
    assert_eq!(param(&logout_url, "post_logout_redirect_uri"), Some(format!("{}/", stack.app())));
    let (status, body) = stack.refresh(&http, &handle).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    assert!(!stack.scan_sessions().contains(&sid), "the session item is deleted");
    assert_eq!(
        stack.provider_refresh_grant(&refresh_token).await.0,
        200,
        "not revoked at the provider"
    );

    // The browser follows the logout URL: LemonLDAP::NG asks, the user accepts, it sends the
    // browser back to the app, and its SSO session (and with it the refresh token) is over.
    let back = confirm_logout_at_provider(&http, &mut jar, logout_url.as_str()).await;
    assert_eq!(back.as_str(), format!("{}/", stack.app()));
    assert_eq!(jar.get(&stack.issuer(), "lemonldap"), None, "the SSO cookie is gone");
    let dead = stack.provider_refresh_grant(&refresh_token).await;
    assert_eq!(dead, (400, Some("invalid_grant".to_owned())), "it died with the SSO session");

    stack.assert_log_holds_none(&[
        handle.split_once('=').unwrap().1,
        &token,
        &refresh_token,
        &exposed(&held.access_token),
        &login_id_token,
    ]);
}

#[tokio::test]
async fn lemonldap_token_request_carries_the_logins_pkce_verifier() {
    // At debug level the portal logs the code_verifier it receives and the outcome of its check.
    let options =
        Options { provider_env: vec![("LLNG_LOG_LEVEL".into(), "debug".into())], ..options() };
    let stack = Stack::start("lemonldap_pkce", options).await;
    let http = client();
    let (login_url, tx_cookie) = spa_login(&stack, &http).await;
    let login = url::Url::parse(&login_url).unwrap();
    assert_eq!(param(&login, "code_challenge_method").as_deref(), Some("S256"));
    let challenge = param(&login, "code_challenge").expect("a PKCE challenge");
    let redirect = sign_in_at_provider(&http, &mut Jar::default(), &login_url, USER, USER).await;
    let resp = spa_callback(&stack, &http, &redirect, &tx_cookie).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));

    // The token request carried a verifier whose S256 is the login's challenge, and the portal
    // (PKCE required) validated it.
    let portal = stack.log("lemonldap/portal");
    let received = "PKCE code verifier received: ";
    let verifier = portal
        .lines()
        .find_map(|l| {
            l.split_once(received).map(|(_, v)| v.split_whitespace().next().unwrap_or(""))
        })
        .unwrap_or_else(|| panic!("the portal saw no code_verifier:\n{portal}"));
    assert!((43..=128).contains(&verifier.len()), "RFC 7636 verifier length: {}", verifier.len());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    assert_eq!(hashed, challenge, "the verifier is the login's");
    assert!(portal.contains("PKCE challenge validated (S256 method)"), "{portal}");
    // It was never in the browser's hands: not in the login URL, not in the functions' log.
    assert!(!login_url.contains(verifier));
    stack.assert_log_holds_none(&[verifier]);
}
