//! Two real providers in one deployment (`OIDC_PROVIDERS=local,lemon`): the npm oidc-provider
//! (`local`, the default; users alice, bob) and LemonLDAP::NG (`lemon`; users dwho, ...), each
//! with its own issuer, client id and client secret. Every login, refresh and logout goes to
//! the provider it started with, and a callback that mixes the two is refused.

use std::time::Duration;

use e2e::flows::{self, first_cookie, param, session_handle, set_cookies};
use e2e::{
    CLIENT_ID, Jar, Options, ProviderKind, SECOND_CLIENT_ID, Stack, client, exposed, jwt_parts,
    sign_in_at_provider,
};
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};

const LOCAL: ProviderKind = ProviderKind::OidcProvider;
const LEMON: ProviderKind = ProviderKind::LemonLdap;

fn options() -> Options {
    Options { provider: LOCAL, second_provider: Some(LEMON), ..Options::default() }
}

/// Each provider's user (login and password are the same).
fn user_at(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OidcProvider => "alice",
        ProviderKind::LemonLdap => "dwho",
    }
}

/// Our client id at each provider.
fn client_id_at(kind: ProviderKind) -> &'static str {
    if kind == LOCAL { CLIENT_ID } else { SECOND_CLIENT_ID }
}

/// `/api/login` (with `?provider=<name>` when `provider` is given): the authorize URL and the
/// transaction cookie (`name=value`); the authorize URL is checked to be `expected`'s.
async fn spa_login(
    stack: &Stack,
    http: &reqwest::Client,
    provider: Option<&str>,
    expected: ProviderKind,
) -> (String, String) {
    let path = match provider {
        Some(name) => format!("/api/login?provider={name}"),
        None => "/api/login".to_owned(),
    };
    let resp = http.get(stack.function("login", &path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}\n{}", stack.log("functions"));
    let cookie = first_cookie(&resp);
    let login_url = resp.json::<Value>().await.unwrap()["login_url"].as_str().unwrap().to_owned();
    let url = url::Url::parse(&login_url).unwrap();
    assert_eq!(
        url.origin().ascii_serialization(),
        stack.issuer_of(expected),
        "{path} goes to {expected:?}: {login_url}"
    );
    assert_eq!(param(&url, "client_id").as_deref(), Some(client_id_at(expected)), "{login_url}");
    (login_url, cookie)
}

/// `GET /api/callback` with `query` and the transaction cookie.
async fn spa_callback(
    stack: &Stack,
    http: &reqwest::Client,
    query: &str,
    cookie: &str,
) -> reqwest::Response {
    http.get(stack.function("callback", &format!("/api/callback?{query}")))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// A whole SPA login at `kind` (named by `provider`, or the default with `None`), the
/// provider's cookies kept in `jar`: the callback's answer.
async fn spa_sign_in(
    stack: &Stack,
    http: &reqwest::Client,
    jar: &mut Jar,
    provider: Option<&str>,
    kind: ProviderKind,
) -> reqwest::Response {
    let (login_url, tx) = spa_login(stack, http, provider, kind).await;
    let user = user_at(kind);
    let redirect = sign_in_at_provider(http, jar, &login_url, user, user).await;
    assert!(redirect.as_str().starts_with(&stack.spa_redirect()), "{redirect}");
    spa_callback(stack, http, redirect.query().unwrap(), &tx).await
}

#[tokio::test]
async fn two_providers_spa_and_server_flows_each_at_its_own_provider() {
    let stack = Stack::start("two_providers_flows", options()).await;
    let http = client();

    // (a) The SPA flow at each: no parameter is the default (local), `?provider=lemon` is
    // LemonLDAP::NG; each JWT names its provider's issuer and user.
    let mut tokens = Vec::new();
    for (provider, kind, name) in
        [(None, LOCAL, "Alice Example"), (Some("lemon"), LEMON, "Doctor Who")]
    {
        let resp = spa_sign_in(&stack, &http, &mut Jar::default(), provider, kind).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{kind:?}: {body}\n{}", stack.log("functions"));
        assert_eq!(body["user"]["sub"], user_at(kind), "{body}");
        assert_eq!(body["user"]["name"], name, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let (header, claims) = jwt_parts(&token);
        assert_eq!(header["kid"], "ours-1");
        assert_eq!(claims["iss"], stack.app());
        assert_eq!(claims["idp"], stack.issuer_of(kind), "{kind:?}: {claims}");
        assert_eq!(claims["sub"], user_at(kind), "{claims}");
        tokens.push(token);
    }
    // `?provider=local` names the default explicitly.
    spa_login(&stack, &http, Some("local"), LOCAL).await;

    // (b) The server flow at the non-default one.
    let path = "/authorization-code/login?provider=lemon&return_to=%2Fdash";
    let (authorize, tx) = flows::server_login(&stack, &http, path).await;
    let lemon = stack.issuer_of(LEMON);
    assert!(authorize.starts_with(&format!("{lemon}/oauth2/authorize?")), "{authorize}");
    let client_id = param(&url::Url::parse(&authorize).unwrap(), "client_id");
    assert_eq!(client_id.as_deref(), Some(SECOND_CLIENT_ID), "{authorize}");
    let redirect =
        sign_in_at_provider(&http, &mut Jar::default(), &authorize, "dwho", "dwho").await;
    assert!(redirect.as_str().starts_with(&stack.server_redirect()), "{redirect}");
    let callback = format!("/authorization-code/callback?{}", redirect.query().unwrap());
    let resp =
        http.get(stack.function("callback", &callback)).header(COOKIE, &tx).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{}", stack.log("functions"));
    assert_eq!(resp.headers()[LOCATION], "/dash");
    let cookies = set_cookies(&resp);
    let session =
        cookies.iter().find(|c| c.starts_with("__Host-session=")).expect("the session cookie");
    let token = session.trim_start_matches("__Host-session=").split(';').next().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!((claims["sub"].as_str(), claims["idp"].as_str()), (Some("dwho"), Some(&*lemon)));

    // (e) An unknown provider: 400 unknown_provider, at both login routes, nothing started.
    for path in ["/api/login?provider=google", "/authorization-code/login?provider=google"] {
        let resp = http.get(stack.function("login", path)).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        assert!(
            !set_cookies(&resp).iter().any(|c| c.starts_with("__Host-oidc-tx-")),
            "{path}: no login transaction"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unknown_provider", "{path}: {body}");
    }

    let mut secrets: Vec<&str> = tokens.iter().map(String::as_str).collect();
    secrets.push(token);
    stack.assert_log_holds_none(&secrets);
}

/// The provider's access token lifetime in the sessions test (both providers).
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(5);

async fn logout(stack: &Stack, http: &reqwest::Client, handle: &str) -> Value {
    let resp = flows::post_with_handle(stack, http, "logout", "/api/logout", handle).await;
    assert_eq!(resp.status(), 200, "{}", stack.log("functions"));
    resp.json().await.unwrap()
}

#[tokio::test]
async fn two_providers_sessions_refresh_and_log_out_at_their_own_provider() {
    let ttl = ACCESS_TOKEN_TTL.as_secs().to_string();
    let options = Options {
        sessions: true,
        provider_env: vec![
            ("PROVIDER_ACCESS_TOKEN_TTL".into(), ttl.clone()),
            ("LLNG_ACCESS_TOKEN_TTL".into(), ttl),
        ],
        ..options()
    };
    let stack = Stack::start("two_providers_sessions", options).await;
    let http = client();

    // One session at each provider.
    let mut sessions = Vec::new();
    for (provider, kind) in [(None, LOCAL), (Some("lemon"), LEMON)] {
        let resp = spa_sign_in(&stack, &http, &mut Jar::default(), provider, kind).await;
        assert_eq!(resp.status(), 200, "{kind:?}\n{}", stack.log("functions"));
        let handle = session_handle(&resp);
        let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let sid = jwt_parts(&token).1["sid"].as_str().expect("a session").to_owned();
        let refresh_token = stack.session_provider_tokens(&sid).refresh_token.map(|t| exposed(&t));
        sessions.push((kind, handle, sid, refresh_token.expect("a refresh token")));
    }

    // (c) Both access tokens expire; each session's refresh makes a refresh grant at its own
    // provider: the ID token it stores is that provider's, for our client there, and the
    // JWT still names that provider and user.
    tokio::time::sleep(ACCESS_TOKEN_TTL + Duration::from_secs(1)).await;
    for (kind, handle, sid, login_refresh_token) in &sessions {
        let before = stack.session_version(sid);
        let (status, body) = stack.refresh(&http, handle).await;
        assert_eq!(status, 200, "{kind:?}: {body}\n{}", stack.log("functions"));
        assert_eq!(stack.session_version(sid), before + 1, "{kind:?}: one refresh grant");
        let (_, claims) = jwt_parts(body["token"].as_str().unwrap());
        assert_eq!(claims["idp"], stack.issuer_of(*kind), "{kind:?}: {claims}");
        assert_eq!(claims["sub"], user_at(*kind), "{claims}");
        let held = stack.session_provider_tokens(sid);
        let (_, id_token) = jwt_parts(&exposed(held.id_token.as_ref().unwrap()));
        assert_eq!(id_token["iss"], stack.issuer_of(*kind), "{kind:?}: {id_token}");
        // `aud`: a string at oidc-provider, an array at LemonLDAP::NG.
        let aud = match &id_token["aud"] {
            Value::Array(aud) => Value::Array(aud.clone()),
            aud => json!([aud]),
        };
        assert_eq!(aud, json!([client_id_at(*kind)]), "{kind:?}: {id_token}");
        let kept = exposed(held.refresh_token.as_ref().unwrap());
        // oidc-provider rotates its refresh tokens, LemonLDAP::NG keeps the login's.
        assert_eq!(kept == *login_refresh_token, *kind == LEMON, "{kind:?}");
    }

    // Our logout of each session answers its own provider's logout URL, with our client id
    // there. The local session's logout leaves the lemon session alive.
    let (local, lemon) = (&sessions[0], &sessions[1]);
    let body = logout(&stack, &http, &local.1).await;
    let local_logout = url::Url::parse(body["logout_url"].as_str().unwrap()).unwrap();
    assert_eq!(local_logout.origin().ascii_serialization(), stack.issuer_of(LOCAL), "{body}");
    assert_eq!(param(&local_logout, "client_id").as_deref(), Some(CLIENT_ID));
    let (status, body) = stack.refresh(&http, &local.1).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    let (status, body) = stack.refresh(&http, &lemon.1).await;
    assert_eq!(status, 200, "the lemon session survives: {body}");

    let body = logout(&stack, &http, &lemon.1).await;
    let lemon_logout = url::Url::parse(body["logout_url"].as_str().unwrap()).unwrap();
    let lemon_issuer = stack.issuer_of(LEMON);
    assert!(lemon_logout.as_str().starts_with(&format!("{lemon_issuer}/oauth2/logout?")), "{body}");
    assert_eq!(param(&lemon_logout, "client_id").as_deref(), Some(SECOND_CLIENT_ID));
    let (status, body) = stack.refresh(&http, &lemon.1).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("session_expired")), "{body}");
    for (_, _, sid, _) in &sessions {
        assert!(!stack.scan_sessions().contains(sid.as_str()), "the session item is deleted");
    }
}

/// A callback query: `code`, `state` and, when given, `iss`.
fn callback_query(code: &str, state: &str, iss: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", code).append_pair("state", state);
    if let Some(iss) = iss {
        q.append_pair("iss", iss);
    }
    q.finish()
}

/// The callback's refusal: its status and error code, checked to mint nothing (no token, no
/// session or handle cookie).
async fn refused(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let minted = set_cookies(&resp).into_iter().find(|c| {
        (c.starts_with("__Host-session=") || c.starts_with("__Host-refresh=")) && !c.contains("=;")
    });
    assert_eq!(minted, None, "a refused callback set a session");
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(body.get("token").is_none(), "a refused callback minted a token: {body}");
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn two_providers_refuse_a_callback_that_mixes_them_up() {
    let stack = Stack::start("two_providers_mix_up", options()).await;
    let http = client();
    let local = stack.issuer_of(LOCAL);

    // A login started at each provider, each signed in there: a code and state from each.
    let (local_url, local_tx) = spa_login(&stack, &http, None, LOCAL).await;
    let (lemon_url, lemon_tx) = spa_login(&stack, &http, Some("lemon"), LEMON).await;
    let local_back =
        sign_in_at_provider(&http, &mut Jar::default(), &local_url, "alice", "alice").await;
    let lemon_back =
        sign_in_at_provider(&http, &mut Jar::default(), &lemon_url, "dwho", "dwho").await;
    assert_eq!(param(&local_back, "iss").as_deref(), Some(&*local), "oidc-provider sends iss");
    assert_eq!(param(&lemon_back, "iss"), None, "LemonLDAP::NG sends none");
    let (local_code, local_state) =
        (param(&local_back, "code").unwrap(), param(&local_back, "state").unwrap());
    let (lemon_code, lemon_state) =
        (param(&lemon_back, "code").unwrap(), param(&lemon_back, "state").unwrap());
    let lemon_login = (lemon_state.as_str(), lemon_tx.as_str());
    let local_login = (local_state.as_str(), local_tx.as_str());
    let attempt = |code: &str, (state, tx): (&str, &str), iss: Option<&str>| {
        let (query, tx) = (callback_query(code, state, iss), tx.to_owned());
        let (stack, http) = (&stack, &http);
        async move { refused(spa_callback(stack, http, &query, &tx).await).await }
    };
    let mismatch = (400, "issuer_mismatch".to_owned());
    let exchange_failed = (502, "token_exchange_failed".to_owned());

    // The lemon login's own code and state, but the local provider's `iss`: issuer_mismatch
    // (RFC 9207), before any code exchange.
    assert_eq!(attempt(&lemon_code, lemon_login, Some(&local)).await, mismatch);

    // The local code replayed at the lemon login (its state and cookie): with the local `iss`
    // it is refused as above; without, the code goes to LemonLDAP::NG's token endpoint,
    // which does not know it.
    assert_eq!(attempt(&local_code, lemon_login, Some(&local)).await, mismatch);
    assert_eq!(attempt(&local_code, lemon_login, None).await, exchange_failed);

    // The lemon code replayed at the local login: without `iss` refused (oidc-provider
    // announces it, so it must come); with the local `iss` forged, the code goes to
    // oidc-provider's token endpoint, which does not know it.
    assert_eq!(attempt(&lemon_code, local_login, None).await, mismatch);
    assert_eq!(attempt(&lemon_code, local_login, Some(&local)).await, exchange_failed);

    // One login's state with the other login's transaction cookie: no transaction of its own.
    let crossed = (lemon_state.as_str(), local_tx.as_str());
    assert_eq!(attempt(&lemon_code, crossed, None).await, (400, "state_mismatch".to_owned()));

    // Each code is still good at its own login: the refusals spent neither.
    for (code, state, iss, tx, user) in [
        (&lemon_code, &lemon_state, None, &lemon_tx, "dwho"),
        (&local_code, &local_state, Some(local.as_str()), &local_tx, "alice"),
    ] {
        let resp = spa_callback(&stack, &http, &callback_query(code, state, iss), tx).await;
        assert_eq!(resp.status(), 200, "{user}: {}", stack.log("functions"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["user"]["sub"], user, "{body}");
    }
}
