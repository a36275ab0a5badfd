//! The logout URL of each provider style, from recorded discovery shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use super::*;

const CLIENT: &str = "client-1";

fn metadata(issuer: &str, authorize: &str, extra: Value) -> Metadata {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": authorize,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    serde_json::from_value(doc).unwrap()
}

fn query(url: &str) -> Vec<(String, String)> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

fn back() -> Url {
    Url::parse("https://app.example.com/").unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn end_session_sends_client_id_the_redirect_and_the_sessions_id_token_as_hint() {
    let okta = metadata(
        "https://example.okta.com/oauth2/default",
        "https://example.okta.com/oauth2/default/v1/authorize",
        json!({"end_session_endpoint": "https://example.okta.com/oauth2/default/v1/logout"}),
    );
    let logout = RpLogout::new(&okta, LogoutStyle::Auto, CLIENT, Some(&back()));
    assert!(matches!(logout, RpLogout::EndSession(_)));
    let hint = SecretString::from("eyJ.the-id-token.sig");
    let with_hint = logout.url(Some(&hint)).unwrap();
    assert!(with_hint.starts_with("https://example.okta.com/oauth2/default/v1/logout?"));
    assert_eq!(
        query(&with_hint),
        pairs(&[
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", "https://app.example.com/"),
            ("id_token_hint", "eyJ.the-id-token.sig"),
        ])
    );
    // Without a session (stateless), no hint.
    let bare = logout.url(None).unwrap();
    assert!(!query(&bare).iter().any(|(k, _)| k == "id_token_hint"), "{bare}");
    assert!(!logout.is_unsupported());
}

#[test]
fn cognito_logs_out_on_the_user_pool_domain_with_logout_uri_and_no_hint() {
    let cognito = metadata(
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
        "https://login.example.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
        json!({}),
    );
    let logout = RpLogout::new(&cognito, LogoutStyle::Auto, CLIENT, Some(&back()));
    let url = logout.url(Some(&SecretString::from("eyJ.id.token"))).unwrap();
    assert!(url.starts_with("https://login.example.auth.eu-west-1.amazoncognito.com/logout?"));
    assert_eq!(
        query(&url),
        pairs(&[("client_id", CLIENT), ("logout_uri", "https://app.example.com/")])
    );
}

#[test]
fn auth0_without_end_session_uses_v2_logout_with_return_to() {
    let auth0 = metadata(
        "https://tenant.eu.auth0.com/",
        "https://tenant.eu.auth0.com/authorize",
        json!({}),
    );
    let logout = RpLogout::new(&auth0, LogoutStyle::Auto, CLIENT, Some(&back()));
    let url = logout.url(None).unwrap();
    assert!(url.starts_with("https://tenant.eu.auth0.com/v2/logout?"), "{url}");
    assert_eq!(
        query(&url),
        pairs(&[("client_id", CLIENT), ("returnTo", "https://app.example.com/")])
    );
    // With Auth0's OIDC logout on, its discovery names end_session_endpoint: that one wins.
    let oidc = metadata(
        "https://tenant.eu.auth0.com/",
        "https://tenant.eu.auth0.com/authorize",
        json!({"end_session_endpoint": "https://tenant.eu.auth0.com/oidc/logout"}),
    );
    let url = RpLogout::new(&oidc, LogoutStyle::Auto, CLIENT, None).url(None).unwrap();
    assert!(url.starts_with("https://tenant.eu.auth0.com/oidc/logout?client_id="), "{url}");
}

#[test]
fn google_has_no_logout_and_oidc_logout_overrides_recognition() {
    let google = metadata(
        "https://accounts.google.com",
        "https://accounts.google.com/o/oauth2/v2/auth",
        json!({"revocation_endpoint": "https://oauth2.googleapis.com/revoke"}),
    );
    let logout = RpLogout::new(&google, LogoutStyle::Auto, CLIENT, Some(&back()));
    assert!(logout.is_unsupported());
    assert_eq!(logout.url(Some(&SecretString::from("eyJ.x.y"))), None);
    // An Auth0 custom domain is not recognised: OIDC_LOGOUT=auth0 says it.
    let custom =
        metadata("https://login.example.com/", "https://login.example.com/authorize", json!({}));
    assert!(RpLogout::new(&custom, LogoutStyle::Auto, CLIENT, None).is_unsupported());
    let forced = RpLogout::new(&custom, LogoutStyle::Auth0, CLIENT, None).url(None).unwrap();
    assert_eq!(forced, "https://login.example.com/v2/logout?client_id=client-1");
    // OIDC_LOGOUT=none: our logout only, even where the provider has one.
    let okta = metadata(
        "https://example.okta.com",
        "https://example.okta.com/oauth2/v1/authorize",
        json!({"end_session_endpoint": "https://example.okta.com/oauth2/v1/logout"}),
    );
    assert!(RpLogout::new(&okta, LogoutStyle::None, CLIENT, None).is_unsupported());
    // end_session asked where there is none: none, not a made-up URL.
    assert!(RpLogout::new(&google, LogoutStyle::EndSession, CLIENT, None).is_unsupported());
}
