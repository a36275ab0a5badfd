//! Fixtures: our client's names and redirects, keys and secret documents, the configuration
//! environment, and a bare request.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::infra::config::Config;
use crate::tokens::keygen::{KeyAlg, signing_key_pem};
use crate::tokens::signing::SigningKey;
use crate::web::request::Request;

pub const CLIENT_ID: &str = "spa-client";
pub const CLIENT_SECRET: &str = "client-secret-value-0123456789";
pub const SPA_REDIRECT: &str = "http://localhost:5173/callback";
pub const SERVER_REDIRECT: &str = "http://localhost:9000/authorization-code/callback";
pub const SESSION_ISSUER: &str = "https://login.example.com";
pub const SESSION_AUDIENCE: &str = "https://api.example.com";

/// A freshly generated signing key of `alg` with `kid`.
pub fn key(kid: &str, alg: KeyAlg) -> SigningKey {
    SigningKey::from_pkcs8_pem(kid, signing_key_pem(alg).unwrap().expose_secret()).unwrap()
}

/// A secret document with one key of `alg` and one cookie key of bytes `cookie_byte`.
pub fn secret_json(alg: KeyAlg, cookie_byte: u8) -> String {
    secret_json_with(alg, CLIENT_SECRET, cookie_byte)
}

/// [`secret_json`] with another client secret.
pub fn secret_json_with(alg: KeyAlg, client_secret: &str, cookie_byte: u8) -> String {
    json!({
        "client_secret": client_secret,
        "signing_keys": [{"kid": "ours-1", "private_key_pem": signing_key_pem(alg).unwrap().expose_secret()}],
        "cookie_keys": [STANDARD.encode([cookie_byte; 32])],
    })
    .to_string()
}

/// Environment for [`Config::from_lookup`], with `issuer`.
pub fn env(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OIDC_ISSUER", issuer.to_owned()),
        ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OIDC_REDIRECT_URI", SPA_REDIRECT.to_owned()),
        ("OIDC_SERVER_REDIRECT_URI", SERVER_REDIRECT.to_owned()),
        ("SECRET_ID", "spa-login/test".to_owned()),
        ("SESSION_ISSUER", SESSION_ISSUER.to_owned()),
        ("SESSION_AUDIENCE", SESSION_AUDIENCE.to_owned()),
        ("POST_LOGIN_PATH", "/home".to_owned()),
    ]
}

/// The configuration of [`env`] for `issuer`, each of `overrides` replacing or adding a variable.
pub fn config_with(issuer: &str, overrides: &[(&'static str, &str)]) -> Config {
    let mut vars = env(issuer);
    for (k, v) in overrides {
        vars.retain(|(name, _)| name != k);
        vars.push((k, (*v).to_owned()));
    }
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        .unwrap()
}

/// A request for `method path` with nothing else: no query, cookie, credentials or body.
pub fn request<'a>(method: &'a http::Method, path: &'a str) -> Request<'a> {
    Request {
        method,
        path,
        query: None,
        cookies: None,
        authorization: None,
        csrf: false,
        content_type: None,
        deadline: None,
        headers: None,
        body: b"",
    }
}
