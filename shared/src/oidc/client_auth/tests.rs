//! Client assertions as each provider style wants them, and the secret's client keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::infra::http::http_client;
use crate::oidc::discovery::discover;
use crate::oidc::exchange::exchange_code;
use crate::oidc::provider::Provider;
use crate::oidc::revoke::Revocation;
use crate::testing::{CLIENT_ID, FakeProvider, config_with};
use crate::tokens::keygen::{KeyAlg, signing_key_pem};
use crate::tokens::secret::{Secret, SecretError};
use crate::tokens::transaction::Flow;

/// A secret whose provider `default` has one client key `kid` of `alg` from `pem`.
fn secret_with_key(
    kid: &str,
    alg: &str,
    pem: &str,
    certificate: Option<&str>,
) -> Result<Secret, SecretError> {
    let mut key = json!({"kid": kid, "alg": alg, "private_key_pem": pem});
    if let Some(cert) = certificate {
        key["certificate_pem"] = json!(cert);
    }
    let doc = json!({
        "signing_keys": [{"kid": "ours-1", "private_key_pem": signing_key_pem(KeyAlg::Es256).unwrap().expose_secret()}],
        "cookie_keys": [STANDARD.encode([7u8; 32])],
        "client_keys": {"default": [key]},
    });
    Secret::from_json(&doc.to_string())
}

fn pem(alg: KeyAlg) -> String {
    signing_key_pem(alg).unwrap().expose_secret().to_owned()
}

fn ring(secret: &Secret) -> Arc<KeyRing<ClientKey>> {
    secret.client_secrets().keys_for("default").unwrap()
}

/// The assertion among `fields`, checked against `keys`' active key, with its header.
fn verified(
    fields: &[(&str, SecretString)],
    keys: &KeyRing<ClientKey>,
    aud: &str,
) -> (jsonwebtoken::Header, Value) {
    assert_eq!(fields[0].0, "client_assertion_type");
    assert_eq!(fields[0].1.expose_secret(), ASSERTION_TYPE);
    assert_eq!(fields[1].0, "client_assertion");
    let token = fields[1].1.expose_secret();
    let header = decode_header(token).unwrap();
    let key = keys.active().signing_key();
    let mut validation = Validation::new(key.algorithm());
    validation.set_audience(&[aud]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = decode::<Value>(token, key.decoding_key(), &validation).unwrap().claims;
    (header, claims)
}

#[test]
fn an_assertion_names_the_client_the_audience_and_a_fresh_jti_and_lives_60_seconds() {
    for (alg, key_alg) in
        [("PS256", KeyAlg::Rs256), ("RS256", KeyAlg::Rs256), ("ES256", KeyAlg::Es256)]
    {
        let secret = secret_with_key("client-1", alg, &pem(key_alg), None).unwrap();
        let keys = ring(&secret);
        let aud = "https://idp.example.com";
        let credentials = ClientCredentials::assertion(CLIENT_ID, keys.clone(), aud.into());
        let now = unix_now_for_tests();
        let first = credentials.assertion_fields(now).unwrap();
        let (header, claims) = verified(&first, &keys, aud);
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(header.kid.as_deref(), Some("client-1"));
        assert!(header.x5t_s256.is_none());
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some(CLIENT_ID), Some(CLIENT_ID))
        );
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + ASSERTION_LIFETIME_SECS);
        let second = credentials.assertion_fields(now).unwrap();
        let (_, again) = verified(&second, &keys, aud);
        assert_ne!(claims["jti"], again["jti"], "a jti is never reused");
        assert!(claims["jti"].as_str().unwrap().len() >= 22, "128 random bits");
        // A PS256 assertion does not verify as RS256: the algorithm named is the one used.
        if alg == "PS256" {
            let token = first[1].1.expose_secret();
            let as_rs256 =
                DecodingKey::from_jwk(&serde_json::from_value(keys.active().public_jwk()).unwrap())
                    .unwrap();
            let mut strict = Validation::new(Algorithm::RS256);
            strict.set_audience(&[aud]);
            assert!(decode::<Value>(token, &as_rs256, &strict).is_err());
        }
    }
}

fn unix_now_for_tests() -> u64 {
    crate::infra::clock::unix_now()
}

#[test]
fn a_client_secret_makes_no_assertion_and_goes_in_a_basic_header_or_the_form() {
    let basic = ClientCredentials::secret(CLIENT_ID, SecretString::from("s e/cret"), true);
    assert!(basic.assertion_fields(0).unwrap().is_empty());
    let auth = basic.authentication(0).unwrap();
    assert!(auth.form.is_empty());
    let header = auth.header.unwrap();
    let encoded = header.expose_secret().strip_prefix("Basic ").unwrap();
    // RFC 6749 2.3.1: each part form-encoded, then base64.
    assert_eq!(STANDARD.decode(encoded).unwrap(), format!("{CLIENT_ID}:s+e%2Fcret").as_bytes());
    let post = ClientCredentials::secret(CLIENT_ID, SecretString::from("s"), false);
    let auth = post.authentication(0).unwrap();
    assert!(auth.header.is_none());
    let names: Vec<&str> = auth.form.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["client_id", "client_secret"]);
    assert!(!format!("{basic:?}{post:?}").contains("s e/cret"), "Debug shows no secret");
}

#[test]
fn a_certificate_puts_its_sha256_thumbprint_in_the_header_and_must_certify_the_key() {
    let pem_key = pem(KeyAlg::Rs256);
    let cert_of = |pem: &str| {
        let pair = rcgen::KeyPair::from_pem(pem).unwrap();
        rcgen::CertificateParams::new(vec!["spa-login".into()]).unwrap().self_signed(&pair).unwrap()
    };
    let cert = cert_of(&pem_key);
    let secret = secret_with_key("entra-1", "RS256", &pem_key, Some(&cert.pem())).unwrap();
    let keys = ring(&secret);
    let expected = URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der()).as_ref());
    let credentials = ClientCredentials::assertion(CLIENT_ID, keys.clone(), "https://t".into());
    let (header, _) =
        verified(&credentials.assertion_fields(unix_now_for_tests()).unwrap(), &keys, "https://t");
    assert_eq!(header.x5t_s256.as_deref(), Some(expected.as_str()));
    assert_eq!(keys.active().public_jwk()["x5t#S256"], expected.as_str());
    // Another key's certificate is refused at cold start, naming the field.
    let other = cert_of(&pem(KeyAlg::Rs256));
    let err = secret_with_key("entra-1", "RS256", &pem_key, Some(&other.pem())).unwrap_err();
    assert!(
        err.to_string().contains("client_keys.default[0]: certificate_pem does not certify"),
        "{err}"
    );
    let err = secret_with_key("entra-1", "RS256", &pem_key, Some("not a cert")).unwrap_err();
    assert!(err.to_string().contains("certificate_pem is not a PEM certificate"), "{err}");
}

#[test]
fn client_keys_that_do_not_fit_are_refused_naming_the_key_never_showing_it() {
    let rsa = pem(KeyAlg::Rs256);
    for (alg, pem, problem) in [
        ("ES256", rsa.as_str(), "alg ES256 does not fit the key, which signs RS256"),
        ("PS256", &*pem(KeyAlg::Es256), "alg PS256 does not fit the key, which signs ES256"),
        ("HS256", rsa.as_str(), "alg must be RS256, PS256, ES256 or EdDSA"),
        ("none", rsa.as_str(), "alg must be RS256, PS256, ES256 or EdDSA"),
    ] {
        let err = secret_with_key("k", alg, pem, None).unwrap_err().to_string();
        assert!(err.contains(problem), "{alg}: {err}");
        assert!(!err.contains("PRIVATE KEY"), "{err}");
    }
    // One kid names one key across providers: the client JWKS publishes them all.
    let doc = json!({
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [STANDARD.encode([7u8; 32])],
        "client_keys": {"a": [{"kid": "same", "private_key_pem": pem(KeyAlg::Es256)}],
                        "b": [{"kid": "same", "private_key_pem": pem(KeyAlg::Es256)}]},
    });
    let err = Secret::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(err.contains("client_keys.b[0]: kid is used by another client key"), "{err}");
    // A secret with client keys and no client secret at all is whole.
    let secret = secret_with_key("k", "ES256", &pem(KeyAlg::Es256), None).unwrap();
    assert!(secret.client_secrets().for_provider("default", true).is_err());
    let jwks = secret.client_secrets().public_jwks();
    assert_eq!(jwks.len(), 1);
    assert_eq!((jwks[0]["kid"].as_str(), jwks[0]["alg"].as_str()), (Some("k"), Some("ES256")));
    assert!(jwks[0].get("d").is_none(), "no private part is published");
}

/// A provider at `fake` authenticating by private_key_jwt with an ES256 key, and its keys.
async fn private_key_jwt_provider(
    fake: &FakeProvider,
    overrides: &[(&'static str, &str)],
) -> (Provider, Arc<KeyRing<ClientKey>>) {
    let http = http_client().unwrap();
    let metadata = discover(&http, &fake.issuer()).await.unwrap();
    let mut vars = vec![("OIDC_CLIENT_AUTH", "private_key_jwt")];
    vars.extend_from_slice(overrides);
    let config = config_with(&fake.issuer(), &vars);
    let secret = secret_with_key("client-1", "ES256", &pem(KeyAlg::Es256), None).unwrap();
    let keys = ring(&secret);
    let provider = Provider::with_credentials(
        metadata,
        config.default_provider(),
        ClientMaterial::Keys(keys.clone()),
    )
    .unwrap();
    (provider, keys)
}

fn listed_methods() -> Value {
    json!({"token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"]})
}

/// The form fields of `body`.
fn fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn the_code_exchange_and_revocation_send_a_fresh_assertion_and_no_secret() {
    let fake =
        FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), listed_methods())
            .await;
    let revocation_url = format!("{}/revoke", fake.issuer());
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("client_assertion_type="))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60}),
            ),
        )
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&fake.server)
        .await;
    let (provider, keys) = private_key_jwt_provider(&fake, &[]).await;
    let http = http_client().unwrap();
    exchange_code(&provider, &http, Flow::Spa, "the-code", &SecretString::from("v"), None)
        .await
        .unwrap();
    let mut doc = fake.discovery();
    doc["revocation_endpoint"] = json!(revocation_url);
    doc["token_endpoint_auth_methods_supported"] =
        listed_methods()["token_endpoint_auth_methods_supported"].clone();
    let metadata: crate::oidc::discovery::Metadata = serde_json::from_value(doc).unwrap();
    let revocation = Revocation::from_metadata(&metadata, &provider).unwrap();
    revocation.revoke_refresh_token(&http, &SecretString::from("rt-1"), None).await.unwrap();

    let received = fake.server.received_requests().await.unwrap();
    let posts: Vec<_> = received.iter().filter(|r| r.method.as_str() == "POST").collect();
    assert_eq!(posts.len(), 2);
    let mut jtis = Vec::new();
    for request in posts {
        assert!(request.headers.get("authorization").is_none(), "no Basic header");
        let form = fields(&request.body);
        assert_eq!(form["client_id"], CLIENT_ID);
        assert!(!form.contains_key("client_secret"));
        let assertion = SecretString::from(form["client_assertion"].clone());
        let pair = [
            ("client_assertion_type", SecretString::from(form["client_assertion_type"].clone())),
            ("client_assertion", assertion),
        ];
        // The audience is the issuer identifier, by default.
        let (_, claims) = verified(&pair, &keys, &fake.issuer());
        jtis.push(claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1]);
}

#[tokio::test]
async fn the_assertion_audience_is_the_token_endpoint_when_asked_for_or_the_host_wants_it() {
    let fake =
        FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), listed_methods())
            .await;
    let (provider, _) =
        private_key_jwt_provider(&fake, &[("OIDC_CLIENT_ASSERTION_AUDIENCE", "token_endpoint")])
            .await;
    assert_eq!(
        provider.credentials.assertion_audience(),
        Some(format!("{}/token", fake.issuer()).as_str())
    );
    let (provider, _) = private_key_jwt_provider(&fake, &[]).await;
    assert_eq!(provider.credentials.assertion_audience(), Some(fake.issuer().as_str()));
    // Entra ID and Okta hosts default to their token endpoint.
    for (issuer, audience) in [
        (
            "https://login.microsoftonline.com/tenant-1/v2.0",
            crate::infra::config::AssertionAudience::TokenEndpoint,
        ),
        (
            "https://dev-1.okta.com/oauth2/default",
            crate::infra::config::AssertionAudience::TokenEndpoint,
        ),
        ("https://tenant.eu.auth0.com/", crate::infra::config::AssertionAudience::Issuer),
        ("https://sso.example.com/realms/main", crate::infra::config::AssertionAudience::Issuer),
    ] {
        let config = config_with(issuer, &[]);
        assert_eq!(config.default_provider().assertion_audience, audience, "{issuer}");
    }
}

#[tokio::test]
async fn a_method_the_provider_does_not_list_stops_the_cold_start_naming_the_variable() {
    let fake = FakeProvider::start_with(
        crate::testing::key("idp-1", KeyAlg::Rs256),
        json!({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}),
    )
    .await;
    let http = http_client().unwrap();
    let metadata = discover(&http, &fake.issuer()).await.unwrap();
    let config = config_with(&fake.issuer(), &[("OIDC_CLIENT_AUTH", "private_key_jwt")]);
    let err = Provider::client_auth_method(&metadata, config.default_provider()).unwrap_err();
    assert!(err.to_string().contains("OIDC_CLIENT_AUTH is private_key_jwt"), "{err}");
    // A bad value is refused by the configuration itself.
    let vars = crate::testing::env(&fake.issuer());
    let lookup = |name: &str| {
        if name == "OIDC_CLIENT_AUTH" {
            return Some("tls_client_auth".to_owned());
        }
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    };
    let err = crate::infra::config::Config::from_lookup(lookup).unwrap_err();
    assert_eq!(err.variable, "OIDC_CLIENT_AUTH");
}

#[test]
fn the_fapi2_profile_sets_its_modes_and_a_contradiction_stops_the_cold_start_naming_it() {
    let issuer = "https://dev-1.okta.com/oauth2/default";
    let config = config_with(issuer, &[("OIDC_PROFILE", "fapi2")]);
    let p = config.default_provider();
    assert!(p.fapi2 && p.dpop);
    assert_eq!(p.client_auth, Some(crate::infra::config::ClientAuthMethod::PrivateKeyJwt));
    assert_eq!(p.par, crate::infra::config::ParMode::On);
    // The issuer, even on a host whose default is the token endpoint: FAPI 2.0 takes no other.
    assert_eq!(p.assertion_audience, crate::infra::config::AssertionAudience::Issuer);
    // What the template sets by default fits: PAR auto, nothing else.
    let fits = config_with(issuer, &[("OIDC_PROFILE", "fapi2"), ("OIDC_PAR", "auto")]);
    assert_eq!(fits.default_provider().par, crate::infra::config::ParMode::On);
    let vars = crate::testing::env(issuer);
    for (name, value) in [
        ("OIDC_CLIENT_AUTH", "client_secret_basic"),
        ("OIDC_PAR", "off"),
        ("OIDC_DPOP", "off"),
        ("OIDC_CLIENT_ASSERTION_AUDIENCE", "token_endpoint"),
    ] {
        let lookup = |n: &str| match n {
            "OIDC_PROFILE" => Some("fapi2".to_owned()),
            n if n == name => Some(value.to_owned()),
            n => vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()),
        };
        let err = crate::infra::config::Config::from_lookup(lookup).unwrap_err();
        assert_eq!(err.variable, name);
        assert!(err.problem.contains("under OIDC_PROFILE=fapi2"), "{}", err.problem);
    }
}

#[tokio::test]
async fn under_fapi2_only_ps256_es256_or_eddsa_id_tokens_and_iss_is_required() {
    let mut doc = listed_methods();
    doc["id_token_signing_alg_values_supported"] = json!(["RS256", "PS256"]);
    doc["dpop_signing_alg_values_supported"] = json!(["ES256"]);
    doc["pushed_authorization_request_endpoint"] = json!("https://idp.example/par");
    let fake =
        FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), doc.clone()).await;
    let (provider, _) = private_key_jwt_provider(&fake, &[("OIDC_PROFILE", "fapi2")]).await;
    assert_eq!(
        provider.algorithms,
        [openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPssSha256]
    );
    assert!(provider.dpop && provider.par_endpoint.is_some() && provider.iss_parameter_supported);
    // RS256 only: refused at cold start.
    doc["id_token_signing_alg_values_supported"] = json!(["RS256"]);
    let fake = FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), doc).await;
    let http = http_client().unwrap();
    let metadata = discover(&http, &fake.issuer()).await.unwrap();
    let config = config_with(&fake.issuer(), &[("OIDC_PROFILE", "fapi2")]);
    let secret = secret_with_key("client-1", "ES256", &pem(KeyAlg::Es256), None).unwrap();
    let err = Provider::with_credentials(
        metadata,
        config.default_provider(),
        ClientMaterial::Keys(ring(&secret)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("OIDC_PROFILE is fapi2"), "{err}");
    // An RS256 client key: refused too; PS256 of the same kind of key is taken.
    let fake = FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), {
        let mut d = listed_methods();
        d["id_token_signing_alg_values_supported"] = json!(["PS256"]);
        d["dpop_signing_alg_values_supported"] = json!(["ES256"]);
        d["pushed_authorization_request_endpoint"] = json!("https://idp.example/par");
        d
    })
    .await;
    let config = config_with(&fake.issuer(), &[("OIDC_PROFILE", "fapi2")]);
    let rsa = pem(KeyAlg::Rs256);
    for (alg, ok) in [("RS256", false), ("PS256", true)] {
        let metadata = discover(&http, &fake.issuer()).await.unwrap();
        let secret = secret_with_key("client-1", alg, &rsa, None).unwrap();
        let keys = ClientMaterial::Keys(ring(&secret));
        let built = Provider::with_credentials(metadata, config.default_provider(), keys);
        assert_eq!(built.is_ok(), ok, "{alg}: {:?}", built.err().map(|e| e.to_string()));
    }
}

#[tokio::test]
async fn a_token_endpoint_audience_on_another_origin_than_the_issuer_is_refused() {
    let fake = FakeProvider::start().await;
    // Discovery's URL rule refuses a non-loopback http endpoint: the document is built here.
    let mut document = fake.discovery();
    document["token_endpoint"] = json!("https://elsewhere.example/token");
    document["token_endpoint_auth_methods_supported"] = json!(["private_key_jwt"]);
    let metadata: crate::oidc::discovery::Metadata = serde_json::from_value(document).unwrap();
    let config = config_with(
        &fake.issuer(),
        &[
            ("OIDC_CLIENT_AUTH", "private_key_jwt"),
            ("OIDC_CLIENT_ASSERTION_AUDIENCE", "token_endpoint"),
        ],
    );
    let secret = secret_with_key("client-1", "ES256", &pem(KeyAlg::Es256), None).unwrap();
    let err = Provider::with_credentials(
        metadata.clone(),
        config.default_provider(),
        ClientMaterial::Keys(ring(&secret)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("another origin than the issuer"), "{err}");
    // With the issuer as audience (the default), the same document is fine.
    let config = config_with(&fake.issuer(), &[("OIDC_CLIENT_AUTH", "private_key_jwt")]);
    assert!(
        Provider::with_credentials(
            metadata,
            config.default_provider(),
            ClientMaterial::Keys(ring(&secret))
        )
        .is_ok()
    );
}

#[test]
fn one_key_never_serves_two_providers() {
    let shared_pem = pem(KeyAlg::Es256);
    let doc = json!({
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [STANDARD.encode([7u8; 32])],
        "client_keys": {"a": [{"kid": "a-1", "private_key_pem": shared_pem}],
                        "b": [{"kid": "b-1", "private_key_pem": shared_pem}]},
    });
    let err = Secret::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(
        err.contains("client_keys.b[0]: the same key is a client key of provider \"a\""),
        "{err}"
    );
    assert!(!err.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn revocation_of_a_dpop_session_follows_the_nonce_once_with_a_fresh_assertion() {
    let fake =
        FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), listed_methods())
            .await;
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(move |r: &wiremock::Request| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match r.headers.get("dpop").map(|p| p.to_str().unwrap().to_owned()) {
                Some(proof) if proof_claims(&proof)["nonce"] == "n-1" => ResponseTemplate::new(200),
                _ => ResponseTemplate::new(400)
                    .insert_header("dpop-nonce", "n-1")
                    .set_body_json(json!({"error": "use_dpop_nonce"})),
            }
        })
        .mount(&fake.server)
        .await;
    let (provider, _) = private_key_jwt_provider(&fake, &[]).await;
    let mut doc = fake.discovery();
    doc["revocation_endpoint"] = json!(format!("{}/revoke", fake.issuer()));
    doc["token_endpoint_auth_methods_supported"] =
        listed_methods()["token_endpoint_auth_methods_supported"].clone();
    let metadata: crate::oidc::discovery::Metadata = serde_json::from_value(doc).unwrap();
    let revocation = Revocation::from_metadata(&metadata, &provider).unwrap();
    let key = crate::oidc::dpop::DpopKey::generate().unwrap();
    let http = http_client().unwrap();
    revocation.revoke_refresh_token(&http, &SecretString::from("rt-1"), Some(&key)).await.unwrap();
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    let received = fake.server.received_requests().await.unwrap();
    let assertions: Vec<String> = received
        .iter()
        .filter(|r| r.url.path() == "/revoke")
        .map(|r| fields(&r.body)["client_assertion"].clone())
        .collect();
    assert_ne!(assertions[0], assertions[1], "the first assertion was spent");
}

/// The claims of a compact JWS, unverified.
fn proof_claims(jws: &str) -> Value {
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_client_key_whose_algorithm_the_provider_does_not_list_stops_the_cold_start() {
    let mut doc = listed_methods();
    doc["token_endpoint_auth_signing_alg_values_supported"] = json!(["RS256", "ES256"]);
    let fake = FakeProvider::start_with(crate::testing::key("idp-1", KeyAlg::Rs256), doc).await;
    let http = http_client().unwrap();
    let config = config_with(&fake.issuer(), &[("OIDC_CLIENT_AUTH", "private_key_jwt")]);
    let rsa = pem(KeyAlg::Rs256);
    for (alg, ok) in [("PS256", false), ("RS256", true)] {
        let metadata = discover(&http, &fake.issuer()).await.unwrap();
        let secret = secret_with_key("client-1", alg, &rsa, None).unwrap();
        let built = Provider::with_credentials(
            metadata,
            config.default_provider(),
            ClientMaterial::Keys(ring(&secret)),
        );
        match (built, ok) {
            (Ok(_), true) => {}
            (Err(err), false) => {
                assert!(err.to_string().contains("signs PS256, which the provider"), "{err}")
            }
            (built, _) => panic!("{alg}: {:?}", built.err().map(|e| e.to_string())),
        }
    }
}
