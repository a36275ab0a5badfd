//! Token endpoint and userinfo answers as providers send them, from a wiremock provider.

use openidconnect::TokenResponse as _;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::oidc::discovery::discover;
use crate::sessions::ProviderTokens;
use crate::testing::{CLIENT_SECRET, FakeProvider, config_with};

async fn start() -> (FakeProvider, Provider, Http) {
    let fake = FakeProvider::start().await;
    let http = crate::infra::http::http_client().unwrap();
    let metadata = discover(&http, &fake.issuer()).await.unwrap();
    let config = config_with(&fake.issuer(), &[]);
    let provider =
        Provider::new(metadata, config.default_provider(), &SecretString::from(CLIENT_SECRET))
            .unwrap();
    (fake, provider, http)
}

async fn answer(fake: &FakeProvider, grant: &str, body: Value) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(grant))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&fake.server)
        .await;
}

async fn code(provider: &Provider, http: &Http) -> Result<CoreTokenResponse, Error> {
    exchange_code(provider, http, Flow::Spa, "the-code", &SecretString::from("verifier"), None)
        .await
}

async fn refresh(provider: &Provider, http: &Http) -> Result<CoreTokenResponse, Error> {
    exchange_refresh_token(provider, http, &SecretString::from("rt-0"), None).await
}

#[tokio::test]
async fn token_type_is_bearer_in_any_case_and_nothing_else() {
    for (token_type, ok) in [
        (json!("Bearer"), true),
        (json!("bearer"), true),
        (json!("BEARER"), true),
        (json!("bEaReR"), true),
        (json!("mac"), false),
        (json!("DPoP"), false),
        (json!("N_A"), false),
        (json!("Bearer "), false),
        (json!(""), false),
        (json!(null), false),
        (json!(1), false),
    ] {
        let (fake, provider, http) = start().await;
        let body = json!({"access_token": "at", "token_type": token_type, "expires_in": 60});
        answer(&fake, "grant_type=authorization_code", body.clone()).await;
        answer(&fake, "grant_type=refresh_token", body).await;
        for result in [code(&provider, &http).await, refresh(&provider, &http).await] {
            match result {
                Ok(_) => assert!(ok, "{token_type} accepted"),
                Err(Error::TokenExchangeFailed(_)) => assert!(!ok, "{token_type} refused"),
                Err(other) => panic!("{token_type}: {other:?}"),
            }
        }
        let (fake, provider, http) = start().await;
        answer(&fake, "grant_type", json!({"access_token": "at", "expires_in": 60})).await;
        assert!(matches!(code(&provider, &http).await, Err(Error::TokenExchangeFailed(_))));
    }
}

#[tokio::test]
async fn extra_members_of_a_token_answer_are_ignored() {
    let (fake, provider, http) = start().await;
    // Keycloak's and Entra ID's extras, and some of any shape.
    let body = json!({
        "access_token": "at", "token_type": "Bearer", "expires_in": 300,
        "refresh_expires_in": 1800, "refresh_token": "rt-1", "not-before-policy": 0,
        "session_state": "f3c3e8b5", "scope": "openid profile email", "ext_expires_in": 3599,
        "id_token": fake.id_token(&fake.claims("n", "at")),
        "x-vendor": {"nested": [1, {"deep": true}]}, "expires_on": null,
    });
    answer(&fake, "grant_type=authorization_code", body).await;
    let tokens = code(&provider, &http).await.unwrap();
    assert_eq!(tokens.access_token().secret(), "at");
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn refresh_answers_without_id_token_refresh_token_or_offline_access() {
    let (fake, provider, http) = start().await;
    // LemonLDAP::NG: no refresh_token (no rotation); the scope granted without
    // offline_access; no ID token (Core 12.2 allows it).
    let body = json!({
        "access_token": "at-1", "token_type": "bearer", "expires_in": 300,
        "scope": "openid profile email",
    });
    answer(&fake, "grant_type=refresh_token", body).await;
    let answer = refresh(&provider, &http).await.unwrap();
    assert!(answer.refresh_token().is_none() && answer.id_token().is_none());
    let previous = ProviderTokens {
        refresh_token: Some(SecretString::from("rt-0")),
        access_token: SecretString::from("at-0"),
        access_expires_at: 0,
        id_token: Some(SecretString::from("the-login-id-token")),
        dpop_key: None,
    };
    let stored = ProviderTokens::from_response(
        &answer,
        Some(&previous),
        1_000,
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(stored.refresh_token.as_ref().map(|t| t.expose_secret()), Some("rt-0"));
    assert_eq!(stored.id_token.as_ref().map(|t| t.expose_secret()), Some("the-login-id-token"));
    assert_eq!(stored.access_token.expose_secret(), "at-1");
    // Renewed a tenth of its 300 s early (under the 60 s margin).
    assert_eq!(stored.access_expires_at, 1_270);
}

#[tokio::test]
async fn extra_members_of_userinfo_are_ignored_and_its_sub_must_match() {
    let (fake, provider, http) = start().await;
    let body = json!({
        "sub": "alice", "name": "Alice", "email": "alice@example.com", "email_verified": true,
        "preferred_username": "alice", "groups": ["a"], "realm_access": {"roles": ["r"]},
        "updated_at": 1_764_612_345.5, "urn:vendor": null,
    });
    Mock::given(method("GET"))
        .and(path("/userinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&fake.server)
        .await;
    let at = AccessToken::new("at".into());
    let info = userinfo(&provider, &http, &at, "alice", None).await.unwrap();
    assert_eq!(info.email.as_deref(), Some("alice@example.com"));
    assert_eq!(info.name.as_deref(), Some("Alice"));
    let other = userinfo(&provider, &http, &at, "bob", None).await;
    assert!(matches!(other, Err(Error::UserinfoSubjectMismatch)), "{other:?}");
}
