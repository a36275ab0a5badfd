//! What real providers legitimately send in ID tokens, accepted; what they must not, refused.
//! Tokens are built here and checked by [`verify`] against a wiremock provider's discovery and
//! JWKS (or, for Entra ID's multi-tenant issuer, a recorded discovery document).

use std::time::Duration;

use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, Nonce};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::infra::clock::unix_now;
use crate::oidc::discovery::{Metadata, ProviderError};
use crate::oidc::jwks::parse_jwks;
use crate::oidc::provider::Provider;
use crate::testing::{
    CLIENT_ID, CLIENT_SECRET, FakeProvider, JwsKey, config_with, jws_hmac, jws_raw, key,
};
use crate::tokens::keygen::KeyAlg;

const ACCESS: &str = "provider-access-token";
const NONCE: &str = "nonce-of-this-login";
const EVERY_SAFE_ALG: [&str; 9] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// A provider announcing `algs` whose JWKS holds `keys`, and its JWKS cache.
async fn provider(algs: &[&str], keys: &[&JwsKey]) -> (FakeProvider, JwksCache) {
    let discovery = json!({"id_token_signing_alg_values_supported": algs});
    let provider = FakeProvider::start_with(key("unused", KeyAlg::Es256), discovery).await;
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&provider.server)
        .await;
    let cache = provider.jwks_cache(Duration::from_secs(30)).await;
    (provider, cache)
}

/// The standard claims for this login, with the `at_hash` of `key`'s algorithm.
fn claims(provider: &FakeProvider, key: &JwsKey) -> Value {
    let mut claims = provider.claims(NONCE, ACCESS);
    claims["at_hash"] = json!(key.at_hash(ACCESS));
    claims
}

/// [`verify`] at now, for a login started 5 s ago; a token that does not even parse is
/// `Malformed`, as the code exchange reports it.
async fn check(jwks: &JwksCache, token: &str) -> Result<Verified, Error> {
    let Ok(token) = token.parse::<CoreIdToken>() else {
        return Err(IdTokenError::Malformed.into());
    };
    let now = unix_now();
    let (access, nonce) = (AccessToken::new(ACCESS.into()), Nonce::new(NONCE.into()));
    verify(jwks, &token, &access, &nonce, now - 5, Asked::default(), now).await
}

#[track_caller]
fn assert_refused(result: &Result<Verified, Error>, expected: IdTokenError) {
    match result {
        Err(Error::IdToken(e)) => assert_eq!(*e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

fn every_kind_of_key() -> Vec<JwsKey> {
    let mut keys: Vec<JwsKey> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        .into_iter()
        .map(|alg| JwsKey::rsa(&format!("k-{alg}"), alg))
        .collect();
    keys.push(JwsKey::of(key("k-ES256", KeyAlg::Es256)));
    keys.push(JwsKey::es384("k-ES384"));
    keys.push(JwsKey::of(key("k-EdDSA", KeyAlg::EdDsa)));
    keys
}

#[tokio::test]
async fn every_safe_algorithm_announced_verifies_with_a_key_of_its_type() {
    let keys = every_kind_of_key();
    let (provider, jwks) = provider(&EVERY_SAFE_ALG, &keys.iter().collect::<Vec<_>>()).await;
    assert_eq!(jwks.algorithms().len(), 9);
    for key in &keys {
        let token = key.sign(&claims(&provider, key), "JWT");
        let verified = check(&jwks, &token).await.unwrap_or_else(|e| panic!("{}: {e:?}", key.alg));
        assert_eq!(verified.user.sub, "alice");
        assert_eq!(verified.issuer, provider.issuer());
    }
}

#[tokio::test]
async fn an_algorithm_is_accepted_only_when_announced_rs512_included() {
    // Some providers sign with RS512 when the client registered no algorithm.
    let rs512 = JwsKey::rsa("k1", "RS512");
    let (announcing, jwks) = provider(&["RS512"], &[&rs512]).await;
    assert!(check(&jwks, &rs512.sign(&claims(&announcing, &rs512), "JWT")).await.is_ok());

    let (silent, jwks) = provider(&["RS256", "PS256", "ES256", "EdDSA"], &[&rs512]).await;
    let token = rs512.sign(&claims(&silent, &rs512), "JWT");
    assert_refused(&check(&jwks, &token).await, IdTokenError::AlgorithmNotAllowed);
}

#[tokio::test]
async fn lemonldap_announcing_none_and_hs_works_with_rs256_and_refuses_none_and_hs() {
    let announced = ["none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"];
    let rs256 = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&announced, &[&rs256]).await;
    use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
    assert_eq!(
        jwks.algorithms(),
        [Alg::RsaSsaPkcs1V15Sha256, Alg::RsaSsaPkcs1V15Sha384, Alg::RsaSsaPkcs1V15Sha512]
    );
    let c = claims(&provider, &rs256);
    assert!(check(&jwks, &rs256.sign(&c, "JWT")).await.is_ok());

    let none = jws_raw(&json!({"alg": "none", "kid": "idp-1"}), &c, b"");
    assert_refused(&check(&jwks, &none).await, IdTokenError::AlgorithmNotAllowed);
    for (alg, secret) in [("HS256", CLIENT_SECRET), ("HS384", CLIENT_SECRET), ("HS512", "k")] {
        let hs = jws_hmac(secret.as_bytes(), &json!({"alg": alg, "kid": "idp-1"}), &c);
        assert_refused(&check(&jwks, &hs).await, IdTokenError::AlgorithmNotAllowed);
    }
}

#[tokio::test]
async fn a_key_verifies_only_the_algorithms_of_its_type_curve_and_alg() {
    let p256 = JwsKey::of(key("p256", KeyAlg::Es256));
    let p384 = JwsKey::es384("p384");
    let rs256 = JwsKey::rsa("rsa-rs256", "RS256");
    let mut any_rsa = JwsKey::rsa("rsa-any", "RS384");
    any_rsa.jwk.as_object_mut().unwrap().remove("alg");
    let keys = [&p256, &p384, &rs256, &any_rsa];
    let (provider, jwks) = provider(&EVERY_SAFE_ALG, &keys).await;
    let c = claims(&provider, &p256);

    // A signature of one algorithm under the kid of a key of another curve or `alg`: that key
    // is not offered, so no key fits.
    for (alg, kid, signer) in [
        ("ES384", "p256", &p384),
        ("ES256", "p384", &p256),
        ("RS384", "rsa-rs256", &any_rsa),
        ("EdDSA", "p256", &p256),
        ("PS256", "p256", &rs256),
    ] {
        let token = signer.sign_with(&json!({"alg": alg, "kid": kid}), &c);
        assert_refused(&check(&jwks, &token).await, IdTokenError::UnknownKey);
    }
    // A key without `alg` verifies every algorithm of its type.
    for alg in ["RS384", "RS512", "PS512"] {
        let signer = JwsKey::rsa("rsa-any", alg);
        let token = signer.sign_with(&json!({"alg": alg, "kid": "rsa-any"}), &c);
        // Another key under the same kid: the right type, the wrong key.
        assert_refused(&check(&jwks, &token).await, IdTokenError::BadSignature);
    }
}

#[tokio::test]
async fn numeric_dates_may_carry_a_fraction() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let now = unix_now() as f64;
    let mut c = claims(&provider, &key);
    c["iat"] = json!(now + 0.12);
    c["exp"] = json!(now + 300.5);
    c["auth_time"] = json!(now - 10.75);
    c["nbf"] = json!(now - 0.5);
    assert!(check(&jwks, &key.sign(&c, "JWT")).await.is_ok(), "{c}");
    c["nbf"] = json!(now as u64);
    c["auth_time"] = json!(now as u64 - 10);
    assert!(check(&jwks, &key.sign(&c, "JWT")).await.is_ok(), "integers too");
}

#[tokio::test]
async fn numeric_dates_out_of_range_or_of_the_wrong_type_are_refused() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let now = unix_now();
    for (claim, value) in [
        ("exp", json!(-1)),
        ("exp", json!(1e300)),
        ("exp", json!("NaN")),
        ("iat", json!(-0.5)),
        ("iat", json!(9.3e18)),
        ("auth_time", json!(-5)),
        ("auth_time", json!(1e13)),
        ("auth_time", json!("yesterday")),
        ("nbf", json!(-1)),
        ("nbf", json!(1e13)),
        ("nbf", json!(null)),
    ] {
        let mut c = claims(&provider, &key);
        c[claim] = value.clone();
        let result = check(&jwks, &key.sign(&c, "JWT")).await;
        assert!(result.is_err(), "{claim} = {value} accepted");
    }
    // An `nbf` still ahead (beyond the leeway).
    let mut c = claims(&provider, &key);
    c["nbf"] = json!(now + 3600);
    assert_refused(&check(&jwks, &key.sign(&c, "JWT")).await, IdTokenError::IssuedInFuture);
    assert_eq!(numeric_date(f64::NAN), None);
    assert_eq!(numeric_date(f64::INFINITY), None);
    assert_eq!(numeric_date(1_764_612_345.12), Some(1_764_612_345));
    assert_eq!(numeric_date(MAX_NUMERIC_DATE as f64 + 1.0), None);
}

#[tokio::test]
async fn aud_as_a_string_or_an_array_with_the_azp_rules_of_core_3_1_3_7() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let with = |aud: Value, azp: Option<&str>| {
        let mut c = claims(&provider, &key);
        c["aud"] = aud;
        if let Some(azp) = azp {
            c["azp"] = json!(azp);
        }
        key.sign(&c, "JWT")
    };
    // A string; an array of one, with or without azp (LemonLDAP::NG sends both).
    assert!(check(&jwks, &with(json!(CLIENT_ID), None)).await.is_ok());
    assert!(check(&jwks, &with(json!([CLIENT_ID]), None)).await.is_ok());
    assert!(check(&jwks, &with(json!([CLIENT_ID]), Some(CLIENT_ID))).await.is_ok());
    // Several audiences: azp must be present and ours.
    let several = json!(["https://api.example", CLIENT_ID]);
    assert!(check(&jwks, &with(several.clone(), Some(CLIENT_ID))).await.is_ok());
    let refused = [
        (with(several.clone(), None), IdTokenError::AuthorizedPartyMismatch),
        (with(several, Some("another-client")), IdTokenError::AuthorizedPartyMismatch),
        (with(json!(CLIENT_ID), Some("another-client")), IdTokenError::AuthorizedPartyMismatch),
        (with(json!(["another-client"]), None), IdTokenError::AudienceMismatch),
        (with(json!([]), None), IdTokenError::AudienceMismatch),
    ];
    for (token, why) in refused {
        assert_refused(&check(&jwks, &token).await, why);
    }
}

#[tokio::test]
async fn extra_claims_of_any_shape_are_ignored() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let mut c = claims(&provider, &key);
    let extra = c.as_object_mut().unwrap();
    extra.insert("realm_access".into(), json!({"roles": ["user"]}));
    extra.insert("groups".into(), json!(["a", "b"]));
    extra.insert("ver".into(), json!("2.0"));
    extra.insert("acr".into(), json!("loa-1"));
    extra.insert("amr".into(), json!(["pwd", "mfa"]));
    extra.insert("sid".into(), json!("s-1"));
    extra.insert("uti".into(), json!(null));
    extra.insert("urn:vendor:claim".into(), json!({"nested": {"deep": [1, 2.5, true]}}));
    let header = json!({"alg": "RS256", "kid": "idp-1", "typ": "JWT", "x5t": "abc"});
    assert!(check(&jwks, &key.sign_with(&header, &c)).await.is_ok());
}

/// A change to a token's claims.
type Edit<'a> = dyn Fn(&mut Value) + 'a;

/// A refreshed ID token (OpenID Connect Core 12.2) for the session of the login token
/// `original`, at now; a token that does not parse is `Malformed`.
async fn check_refreshed(
    jwks: &JwksCache,
    issuer: &str,
    original: &str,
    token: &str,
) -> Result<User, Error> {
    let token: CoreIdToken = token.parse().map_err(|_| IdTokenError::Malformed)?;
    let now = unix_now();
    let original = Original { issuer, sub: "alice", id_token: Some(original), started: now - 3600 };
    let verified =
        verify_refreshed(jwks, &token, &AccessToken::new(ACCESS.into()), &original, now).await;
    verified.map(|v| v.user)
}

#[tokio::test]
async fn a_refreshed_id_token_may_lack_nonce_must_keep_iss_sub_aud_and_no_earlier_auth_time() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let issuer = provider.issuer();
    let now = unix_now();
    let mut login = claims(&provider, &key);
    login["iat"] = json!(now - 3600);
    login["auth_time"] = json!(now - 3600);
    login["aud"] = json!([CLIENT_ID]);
    let original = key.sign(&login, "JWT");
    let refreshed = |edit: &Edit| {
        let mut c = claims(&provider, &key);
        c["auth_time"] = json!(now - 3600);
        c.as_object_mut().unwrap().remove("nonce");
        edit(&mut c);
        key.sign(&c, "JWT")
    };
    let accepted: [(&str, &Edit); 6] = [
        ("no nonce", &|_| {}),
        ("the login's nonce", &|c| c["nonce"] = json!(NONCE)),
        ("aud as a string", &|c| c["aud"] = json!(CLIENT_ID)),
        ("no auth_time", &|c| {
            c.as_object_mut().unwrap().remove("auth_time");
        }),
        ("auth_time with a fraction", &|c| c["auth_time"] = json!(now as f64 - 3599.5)),
        // The user signed in again, on another device: some providers say so here.
        ("a later auth_time", &|c| c["auth_time"] = json!(now - 60)),
    ];
    for (case, edit) in accepted {
        let result = check_refreshed(&jwks, &issuer, &original, &refreshed(edit)).await;
        assert!(result.is_ok(), "{case}: {result:?}");
    }
    let refused: [(&str, &Edit); 7] = [
        // A logout token of the provider's: no nonce either, but never an ID token.
        ("a logout token's events", &|c| {
            c["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        }),
        ("another nonce", &|c| c["nonce"] = json!("another")),
        ("another sub", &|c| c["sub"] = json!("mallory")),
        ("another iss", &|c| c["iss"] = json!("https://evil.example")),
        ("another aud besides ours", &|c| {
            c["aud"] = json!([CLIENT_ID, "other"]);
            c["azp"] = json!(CLIENT_ID);
        }),
        ("an earlier auth_time", &|c| c["auth_time"] = json!(now - 7200)),
        ("expired", &|c| c["exp"] = json!(now - 3600)),
    ];
    for (case, edit) in refused {
        let result = check_refreshed(&jwks, &issuer, &original, &refreshed(edit)).await;
        assert!(result.is_err(), "{case} accepted");
    }
    // A token typed as a logout token is none either, whatever its claims.
    let mut c = claims(&provider, &key);
    c["auth_time"] = json!(now - 3600);
    c.as_object_mut().unwrap().remove("nonce");
    let typed = key.sign(&c, "logout+jwt");
    assert!(check_refreshed(&jwks, &issuer, &original, &typed).await.is_err(), "typ logout+jwt");
    // The session's issuer is compared too (an Entra ID tenant's, say).
    let token = refreshed(&|_| {});
    let result = check_refreshed(&jwks, "https://other.example", &original, &token).await;
    assert!(matches!(result, Err(Error::IdToken(IdTokenError::IssuerMismatch))));
}

// ---- Entra ID multi-tenant ----

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Discovery of `https://login.microsoftonline.com/common/v2.0` as Entra ID answers it (the
/// parts we read, and some we do not), with the JWKS at `jwks_uri`.
fn entra_discovery(issuer: &str, jwks_uri: &str) -> Value {
    let base = "https://login.microsoftonline.com/common";
    json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": jwks_uri,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "at_hash", "email"],
        "kerberos_endpoint": format!("{base}/kerberos"),
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// The provider for `configured` (`OIDC_ISSUER`) whose discovery announces `announced`, with
/// `OIDC_ALLOWED_TENANTS` = `tenants`, and the JWKS cache over `key`.
fn entra(
    configured: &str,
    announced: &str,
    tenants: Option<&str>,
    key: &JwsKey,
) -> Result<JwksCache, ProviderError> {
    let jwks_uri = "http://127.0.0.1:9/common/discovery/v2.0/keys";
    let metadata: Metadata = serde_json::from_value(entra_discovery(announced, jwks_uri)).unwrap();
    let overrides: Vec<(&'static str, &str)> =
        tenants.map(|t| vec![("OIDC_ALLOWED_TENANTS", t)]).unwrap_or_default();
    let config = config_with(configured, &overrides);
    let provider = Provider::new(
        metadata,
        config.default_provider(),
        &secrecy::SecretString::from(CLIENT_SECRET),
    )?;
    let keys = parse_jwks(json!({"keys": [key.jwk]}).to_string().as_bytes()).unwrap();
    let http = crate::infra::http::http_client().unwrap();
    Ok(JwksCache::new(jwks_uri.into(), keys, &provider, http, Duration::from_secs(3600)))
}

/// An ID token of tenant `tid` naming `iss`.
fn entra_token(key: &JwsKey, iss: &str, tid: Option<&str>) -> String {
    let now = unix_now();
    let mut c = json!({
        "ver": "2.0", "iss": iss, "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "aud": CLIENT_ID, "exp": now + 3600, "iat": now, "nbf": now, "nonce": NONCE,
        "oid": "00000000-0000-0000-66f3-3332eca7ea81", "email": "alice@contoso.example",
        "at_hash": key.at_hash(ACCESS),
    });
    if let Some(tid) = tid {
        c["tid"] = json!(tid);
    }
    key.sign(&c, "JWT")
}

const V2_COMMON: &str = "https://login.microsoftonline.com/common/v2.0";
const V2_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

#[tokio::test]
async fn entra_multi_tenant_accepts_the_issuer_of_an_allowed_tenant_only() {
    let key = JwsKey::of(key("entra-1", KeyAlg::Rs256));
    let jwks = entra(V2_COMMON, V2_TEMPLATE, Some(TENANT), &key).unwrap();
    let ours = V2_TEMPLATE.replace("{tenantid}", TENANT);
    let verified = check(&jwks, &entra_token(&key, &ours, Some(TENANT))).await.unwrap();
    assert_eq!(verified.issuer, ours, "the tenant's issuer is the session's idp");

    let theirs = V2_TEMPLATE.replace("{tenantid}", OTHER_TENANT);
    for token in [
        entra_token(&key, &theirs, Some(OTHER_TENANT)),
        entra_token(&key, &ours, None),
        entra_token(&key, &ours, Some(OTHER_TENANT)),
        entra_token(&key, &theirs, Some(TENANT)),
        entra_token(&key, V2_TEMPLATE, Some(TENANT)),
        entra_token(
            &key,
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
            Some(TENANT),
        ),
    ] {
        assert_refused(&check(&jwks, &token).await, IdTokenError::IssuerMismatch);
    }

    // `*`: any tenant, each with its own issuer.
    let any = entra(V2_COMMON, V2_TEMPLATE, Some("*"), &key).unwrap();
    assert!(check(&any, &entra_token(&key, &theirs, Some(OTHER_TENANT))).await.is_ok());
    let refused = check(&any, &entra_token(&key, &theirs, Some(TENANT))).await;
    assert_refused(&refused, IdTokenError::IssuerMismatch);
    let refused = check(&any, &entra_token(&key, &theirs, Some("common"))).await;
    assert_refused(&refused, IdTokenError::IssuerMismatch);
}

#[tokio::test]
async fn entra_v1_and_organizations_use_the_same_rule() {
    let key = JwsKey::of(key("entra-1", KeyAlg::Rs256));
    let v1 = "https://sts.windows.net/{tenantid}/";
    let jwks = entra("https://login.microsoftonline.com/organizations", v1, Some(TENANT), &key);
    let jwks = jwks.unwrap();
    let iss = format!("https://sts.windows.net/{TENANT}/");
    assert!(check(&jwks, &entra_token(&key, &iss, Some(TENANT))).await.is_ok());
    let orgs = entra(
        "https://login.microsoftonline.com/organizations/v2.0",
        V2_TEMPLATE,
        Some(TENANT),
        &key,
    );
    let iss = V2_TEMPLATE.replace("{tenantid}", TENANT);
    assert!(check(&orgs.unwrap(), &entra_token(&key, &iss, Some(TENANT))).await.is_ok());
}

#[test]
fn a_tenant_template_without_allowed_tenants_stops_the_cold_start() {
    let key = JwsKey::of(key("entra-1", KeyAlg::Rs256));
    let err = entra(V2_COMMON, V2_TEMPLATE, None, &key).unwrap_err();
    assert!(matches!(err, ProviderError::TenantsNotConfigured { .. }), "{err}");
    assert!(err.to_string().contains("OIDC_ALLOWED_TENANTS"), "{err}");
    // A template where it does not belong: another host, or a tenant's own endpoint.
    for configured in
        ["https://idp.example/common/v2.0", &V2_TEMPLATE.replace("{tenantid}", TENANT)]
    {
        let err = entra(configured, V2_TEMPLATE, Some("*"), &key).unwrap_err();
        assert!(matches!(err, ProviderError::IssuerMismatch { .. }), "{configured}: {err}");
    }
    // A tenant's own endpoint, as before: exact.
    let own = V2_TEMPLATE.replace("{tenantid}", TENANT);
    let jwks = entra(&own, &own, None, &key).unwrap();
    assert!(!jwks.issuer_rule().is_template());
}

/// [`verify`] at now for a login started 5 s ago that `asked` for `max_age` or `acr_values`.
async fn check_asked(jwks: &JwksCache, token: &str, asked: Asked<'_>) -> Result<Verified, Error> {
    let Ok(token) = token.parse::<CoreIdToken>() else {
        return Err(IdTokenError::Malformed.into());
    };
    let now = unix_now();
    let (access, nonce) = (AccessToken::new(ACCESS.into()), Nonce::new(NONCE.into()));
    verify(jwks, &token, &access, &nonce, now - 5, asked, now).await
}

#[tokio::test]
async fn max_age_needs_an_auth_time_within_it_and_the_leeway() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let now = unix_now();
    let asked = Asked { max_age: Some(300), acr_values: &[] };
    let with_auth_time = |auth_time: Value| {
        let mut c = claims(&provider, &key);
        c["auth_time"] = auth_time;
        key.sign(&c, "JWT")
    };
    // Within max_age, at its edge with the leeway, and a fraction.
    for auth_time in [json!(now - 10), json!(now - 300 - 60), json!(now as f64 - 100.5)] {
        assert!(check_asked(&jwks, &with_auth_time(auth_time.clone()), asked).await.is_ok());
    }
    // max_age=0 (force a fresh sign-in): a sign-in just now passes, within the leeway.
    let zero = Asked { max_age: Some(0), acr_values: &[] };
    assert!(check_asked(&jwks, &with_auth_time(json!(now - 2)), zero).await.is_ok());
    assert_refused(
        &check_asked(&jwks, &with_auth_time(json!(now - 300 - 61)), asked).await,
        IdTokenError::AuthTooOld,
    );
    assert_refused(
        &check_asked(&jwks, &with_auth_time(json!(now - 3600)), zero).await,
        IdTokenError::AuthTooOld,
    );
    assert_refused(
        &check_asked(&jwks, &with_auth_time(json!(now + 3600)), asked).await,
        IdTokenError::IssuedInFuture,
    );
    // No auth_time at all: refused when max_age was asked, accepted when it was not.
    let without = key.sign(&claims(&provider, &key), "JWT");
    assert_refused(&check_asked(&jwks, &without, asked).await, IdTokenError::AuthTimeMissing);
    assert!(check_asked(&jwks, &without, Asked::default()).await.is_ok());
    // An old sign-in is no concern of a login that did not ask for max_age.
    let old = with_auth_time(json!(now - 86_400));
    assert!(check_asked(&jwks, &old, Asked::default()).await.is_ok());
    assert!(check_asked(&jwks, &with_auth_time(json!("soon")), asked).await.is_err());
}

#[tokio::test]
async fn acr_values_need_an_acr_among_those_asked() {
    let key = JwsKey::of(key("idp-1", KeyAlg::Rs256));
    let (provider, jwks) = provider(&["RS256"], &[&key]).await;
    let acr_values = ["urn:a:mfa".to_owned(), "urn:a:hwk".to_owned()];
    let asked = Asked { max_age: None, acr_values: &acr_values };
    let with_acr = |acr: Option<Value>| {
        let mut c = claims(&provider, &key);
        if let Some(acr) = acr {
            c["acr"] = acr;
        }
        key.sign(&c, "JWT")
    };
    for acr in ["urn:a:mfa", "urn:a:hwk"] {
        assert!(check_asked(&jwks, &with_acr(Some(json!(acr))), asked).await.is_ok(), "{acr}");
    }
    for acr in [None, Some(json!("urn:a:pwd")), Some(json!("URN:A:MFA")), Some(json!(""))] {
        assert_refused(
            &check_asked(&jwks, &with_acr(acr.clone()), asked).await,
            IdTokenError::AcrNotSatisfied,
        );
    }
    // An acr that is not a string is a malformed token, asked or not.
    let array = with_acr(Some(json!(["urn:a:mfa"])));
    assert_refused(&check_asked(&jwks, &array, asked).await, IdTokenError::Malformed);
    // Any acr, or none, when the login asked for none.
    assert!(
        check_asked(&jwks, &with_acr(Some(json!("urn:a:pwd"))), Asked::default()).await.is_ok()
    );
    assert!(check_asked(&jwks, &with_acr(None), Asked::default()).await.is_ok());
}
