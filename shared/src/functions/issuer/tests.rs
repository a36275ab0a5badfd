use http::Method;

use super::*;
use crate::keygen::KeyAlg;
use crate::testing::{FakeProvider, SESSION_ISSUER};
use crate::web::routes::serve;
use crate::{Access, User, unix_now};

async fn get(docs: &Issuer, path: &str) -> http::Response<String> {
    let req = crate::testing::request(&Method::GET, path);
    serve(docs, &req, unix_now()).await.into_http()
}

#[tokio::test]
async fn publishes_metadata_and_every_signing_key() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let secret = serde_json::json!({
        "client_secret": "x",
        "signing_keys": [
            {"kid": "new", "private_key_pem": secrecy::ExposeSecret::expose_secret(&crate::keygen::signing_key_pem(KeyAlg::Rs256).unwrap())},
            {"kid": "old", "private_key_pem": secrecy::ExposeSecret::expose_secret(&crate::keygen::signing_key_pem(KeyAlg::Es256).unwrap())},
        ],
        "cookie_keys": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    });
    let docs: Issuer = provider.function(&secret.to_string(), &[]).await;
    let state: Access = provider.function(&secret.to_string(), &[]).await;

    let resp = get(&docs, "/.well-known/openid-configuration").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], CACHE_CONTROL);
    let meta: Value = serde_json::from_str(resp.body()).unwrap();
    assert_eq!(meta["issuer"], SESSION_ISSUER);
    assert_eq!(meta["jwks_uri"], format!("{SESSION_ISSUER}/.well-known/jwks.json"));
    assert_eq!(meta["id_token_signing_alg_values_supported"], json!(["RS256", "ES256"]));

    let resp = get(&docs, "/.well-known/jwks.json").await;
    let jwks: Value = serde_json::from_str(resp.body()).unwrap();
    let kids: Vec<_> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["new", "old"]);
    assert!(!resp.body().contains("\"d\""), "no private part");

    // A token minted by the active key verifies against the published JWKS with a stock library.
    let token = state
        .session()
        .mint(
            &User {
                sub: "alice".into(),
                email: None,
                email_verified: None,
                name: None,
                extra: Default::default(),
            },
            "idp",
            unix_now(),
        )
        .unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(resp.body()).unwrap();
    let jwk = set.find("new").unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[crate::testing::SESSION_AUDIENCE]);
    v.set_issuer(&[SESSION_ISSUER]);
    let decoded = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &v,
    )
    .unwrap();
    assert_eq!(decoded.claims["sub"], "alice");

    assert_eq!(get(&docs, "/.well-known/other").await.status(), 404);
}

#[tokio::test]
async fn refuses_to_start_without_a_url_issuer() {
    let provider = FakeProvider::start().await;
    let parts = provider
        .parts(&crate::testing::secret_json(KeyAlg::Es256, 1), &[("SESSION_ISSUER", "spa-login")]);
    match Issuer::build(parts, NoProvider) {
        Err(StartError::Config(e)) => assert_eq!(e.variable, "SESSION_ISSUER"),
        other => panic!("{other:?}"),
    }
}
