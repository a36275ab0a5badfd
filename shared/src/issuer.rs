//! Our tokens' issuer metadata: `GET /.well-known/openid-configuration` and
//! `GET /.well-known/jwks.json`, so any API (or API Gateway's JWT authorizer) verifies our JWTs
//! with no code of its own.
//!
//! Both documents are built once at cold start; requests only copy them out.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::error::Error;
use crate::http::{Request, Response};
use crate::state::State;

/// How long verifiers may cache the documents. A rotation prepends the new key and the old one
/// stays published, and verifiers refetch on an unknown `kid`, so a few minutes are safe.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// The two documents, serialized.
#[derive(Debug, Clone)]
pub struct Documents {
    metadata: String,
    jwks: String,
}

impl Documents {
    /// Builds the documents from the configuration and every signing key (active and
    /// verify-only).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `SESSION_ISSUER` is not an https URL (http on loopback), since the
    /// metadata lives at `{SESSION_ISSUER}/.well-known/openid-configuration`.
    pub fn new(state: &State) -> Result<Self, ConfigError> {
        let issuer = &state.config.session_issuer;
        if !issuer.contains("://") {
            return Err(ConfigError {
                variable: "SESSION_ISSUER",
                problem: "must be the https URL where the issuer metadata is served".into(),
            });
        }
        let keys: Vec<Value> =
            state.session.keys().iter().map(|k| k.public_jwk().clone()).collect();
        let mut algs: Vec<&str> = state.session.keys().iter().map(|k| k.alg_name()).collect();
        algs.dedup();
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            "id_token_signing_alg_values_supported": algs,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "aud", "sub", "iat", "exp", "jti", "email", "name", "idp"],
        });
        Ok(Self { metadata: metadata.to_string(), jwks: json!({ "keys": keys }).to_string() })
    }

    /// Serves the two routes.
    pub fn handle(&self, req: &Request<'_>) -> Response {
        let body = match req.path {
            "/.well-known/openid-configuration" => &self.metadata,
            "/.well-known/jwks.json" => &self.jwks,
            _ => return crate::respond(req, Err(Error::NotFound)),
        };
        if !matches!(*req.method, Method::GET | Method::HEAD) {
            return crate::respond(req, Err(Error::MethodNotAllowed));
        }
        let response = Response::raw_json(StatusCode::OK, body.clone()).public(CACHE_CONTROL);
        crate::respond(req, Ok(response))
    }
}

#[cfg(test)]
mod tests;
