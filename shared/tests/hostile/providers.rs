//! Two providers in one deployment (`OIDC_PROVIDERS=corp,social`): a login goes to the one it
//! names and completes only against that one, whatever the callback says (mix-up, RFC 9700
//! section 4.4): its `iss`, an ID token of the other provider, a name that is not configured.

use http::Method;
use serde_json::json;
use shared::keygen::{KeyAlg, signing_key_pem};
use shared::testing::callbacks::*;
use shared::testing::{CLIENT_SECRET, FakeProvider, Rp, claims_of, key};
use shared::{Login, Request, serve, unix_now};

const SOCIAL_SECRET: &str = "social-client-secret";

/// The secret: the default provider's client secret, and `social`'s by name.
fn secret() -> String {
    json!({
        "client_secret": CLIENT_SECRET,
        "client_secrets": {"social": SOCIAL_SECRET},
        "signing_keys": [{"kid": "ours-1", "private_key_pem": secrecy::ExposeSecret::expose_secret(&signing_key_pem(KeyAlg::Es256).unwrap())}],
        "cookie_keys": [base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32])],
    })
    .to_string()
}

/// The variables of a deployment with the providers `corp` (the default) and `social` at these
/// issuers, with these client ids.
fn corp_and_social<'a>(
    corp: &'a str,
    social: &'a str,
    [corp_client, social_client]: [&'a str; 2],
) -> [(&'static str, &'a str); 7] {
    [
        ("OIDC_ISSUER", ""),
        ("OIDC_CLIENT_ID", ""),
        ("OIDC_PROVIDERS", "corp,social"),
        ("OIDC_CORP_ISSUER", corp),
        ("OIDC_CORP_CLIENT_ID", corp_client),
        ("OIDC_SOCIAL_ISSUER", social),
        ("OIDC_SOCIAL_CLIENT_ID", social_client),
    ]
}

/// `corp` (the default) and `social`, each with its own signing key and JWKS, and the
/// deployment's login and callback.
async fn two_providers() -> (FakeProvider, FakeProvider, Rp) {
    let corp = FakeProvider::start().await;
    corp.serve_jwks(&[&corp.key], None).await;
    let social = FakeProvider::start_with(key("social-1", KeyAlg::Es256), json!({})).await;
    social.serve_jwks(&[&social.key], None).await;
    let (corp_iss, social_iss) = (corp.issuer(), social.issuer());
    let clients = [shared::testing::CLIENT_ID; 2];
    let mut overrides = corp_and_social(&corp_iss, &social_iss, clients).to_vec();
    overrides.push(("OIDC_SOCIAL_SCOPES", "openid email"));
    let state = corp.state(&secret(), &overrides).await;
    (corp, social, state)
}

/// `GET /api/login?<query>`: the answer, the login URL and the login it started.
async fn login(
    state: &Rp,
    query: &str,
) -> (http::Response<String>, Option<url::Url>, Option<Started>) {
    let req =
        Request { query: Some(query), ..shared::testing::request(&Method::GET, "/api/login") };
    let resp = serve(&state.login, &req, unix_now()).await.into_http();
    if resp.status() != 200 {
        return (resp, None, None);
    }
    let url = url::Url::parse(json_body(&resp)["login_url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let cookie = set_cookies(&resp)[0].split(';').next().unwrap().to_owned();
    let started = Started { state: q["state"].clone(), nonce: q["nonce"].clone(), cookie };
    (resp, Some(url), Some(started))
}

#[tokio::test]
async fn each_provider_gets_its_own_logins_with_its_client_and_secret() {
    let (corp, social, state) = two_providers().await;
    // No parameter: the default provider.
    let (_, url, _) = login(&state, "").await;
    assert!(url.unwrap().as_str().starts_with(&format!("{}/authorize", corp.issuer())));
    // ?provider=social: its authorize endpoint and its scopes.
    let (_, url, started) = login(&state, "provider=social").await;
    let url = url.unwrap();
    assert!(url.as_str().starts_with(&format!("{}/authorize", social.issuer())), "{url}");
    let scope = url.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
    assert_eq!(scope, "openid email");
    // The callback exchanges the code at social with social's secret, verifies social's ID
    // token and names social in our JWT.
    let started = started.unwrap();
    let id_token = social.id_token(&social.claims(&started.nonce, ACCESS_TOKEN));
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{SOCIAL_SECRET}", shared::testing::CLIENT_ID)
        )
    );
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/token"))
        .and(wiremock::matchers::header("authorization", basic.as_str()))
        .respond_with(FakeProvider::token_response(&id_token, ACCESS_TOKEN))
        .expect(1)
        .mount(&social.server)
        .await;
    mount_userinfo(&social, json!({"sub": "alice"}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&social, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let ours = claims_of(json_body(&resp)["token"].as_str().unwrap());
    assert_eq!(ours["idp"], social.issuer());
    assert_eq!(ours["sub"], "alice");
}

#[tokio::test]
async fn a_callback_completes_only_against_the_provider_its_login_started_with() {
    let (corp, social, state) = two_providers().await;
    let (_, _, started) = login(&state, "provider=social").await;
    let started = started.unwrap();
    // Mix-up: the response claims to come from corp (RFC 9207 iss).
    let resp = spa_get(&state, &started, &ok_query(&corp, &started)).await;
    assert_refused(&resp, 400, "issuer_mismatch");

    // A login at corp whose token endpoint hands back an ID token of social (a valid one,
    // signed by social's key, for this nonce): refused, social's keys are not corp's.
    let (_, _, started) = login(&state, "").await;
    let started = started.unwrap();
    let foreign = social.id_token(&social.claims(&started.nonce, ACCESS_TOKEN));
    mount_token(&corp, FakeProvider::token_response(&foreign, ACCESS_TOKEN), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&corp, &started)).await;
    assert_eq!(resp.status(), 401, "{}", resp.body());
    assert!(
        json_body(&resp)["error"].as_str().unwrap().starts_with("id_token_"),
        "{}",
        resp.body()
    );
    // The social provider was never asked for a token.
    let social_tokens = social.server.received_requests().await.unwrap();
    assert!(social_tokens.iter().all(|r| r.url.path() != "/token"));
}

#[tokio::test]
async fn an_unknown_provider_is_refused_and_a_provider_without_its_secret_does_not_start() {
    let (_, _, state) = two_providers().await;
    for query in ["provider=other", "provider=CORP", "provider="] {
        let (resp, _, _) = login(&state, query).await;
        assert_eq!(resp.status(), 400, "{query}: {}", resp.body());
        assert_eq!(json_body(&resp)["error"], "unknown_provider", "{query}");
        assert!(set_cookies(&resp).is_empty(), "{query}: no login was started");
    }

    // social's client secret missing from the secret: the cold start names the provider, and
    // never falls back to the default provider's secret.
    let corp = FakeProvider::start().await;
    let social = FakeProvider::start().await;
    let (corp_iss, social_iss) = (corp.issuer(), social.issuer());
    let overrides = corp_and_social(&corp_iss, &social_iss, ["c", "s"]);
    let parts = corp.parts(&shared::testing::secret_json(KeyAlg::Es256, 1), &overrides);
    let fetched =
        <shared::Discovered as shared::Fetch>::fetch(&parts.http, &parts.config).await.unwrap();
    let err = <Login as shared::ColdStart>::build(parts, fetched).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"social\"") && text.contains("client_secrets"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
}
