//! The `issuer` function: our tokens' issuer metadata, `GET /.well-known/openid-configuration`
//! and `GET /.well-known/jwks.json`, so any API (or API Gateway's JWT authorizer) verifies our
//! JWTs with no code of its own; and `GET /.well-known/client-jwks.json`, the public client
//! keys our `private_key_jwt` assertions are signed with, for providers that fetch them
//! (`jwks_uri` registration) rather than hold a pasted key.
//!
//! The documents are built once at cold start; requests only copy them out.

use http::StatusCode;
use serde_json::{Value, json};

use super::start::{ColdStart, NoProvider, Parts, StartError};
use crate::error::Error;
use crate::infra::config::ConfigError;
use crate::tokens::session::SessionTokens;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route};

/// How long verifiers may cache the documents. A rotation prepends the new key and the old one
/// stays published, and verifiers refetch on an unknown `kid`, so a few minutes are safe.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// The issuer function's state: the documents, serialized.
#[derive(Debug, Clone)]
pub struct Issuer {
    metadata: String,
    jwks: String,
    client_jwks: String,
}

impl ColdStart for Issuer {
    type Fetch = NoProvider;

    fn build(parts: Parts, _: NoProvider) -> Result<Self, StartError> {
        let (clients, signing_keys, _) = parts.secret.into_parts();
        let issuer = Self::new(&SessionTokens::from_config(&parts.config, signing_keys))?;
        Ok(issuer.with_client_keys(clients.public_jwks()))
    }
}

impl Issuer {
    /// Builds the documents for our tokens: every signing key (active and verify-only).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `SESSION_ISSUER` is not an https URL (http on loopback), since the
    /// metadata lives at `{SESSION_ISSUER}/.well-known/openid-configuration`.
    pub fn new(session: &SessionTokens) -> Result<Self, ConfigError> {
        let issuer = session.issuer();
        if !issuer.contains("://") {
            return Err(ConfigError {
                variable: "SESSION_ISSUER".into(),
                problem: "must be the https URL where the issuer metadata is served".into(),
            });
        }
        let keys: Vec<Value> = session.keys().iter().map(|k| k.public_jwk().clone()).collect();
        let mut algs: Vec<&str> = session.keys().iter().map(|k| k.alg_name()).collect();
        algs.dedup();
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            "id_token_signing_alg_values_supported": algs,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "iss", "aud", "sub", "iat", "exp", "jti", "email", "email_verified", "name", "idp"
            ],
        });
        Ok(Self {
            metadata: metadata.to_string(),
            jwks: json!({ "keys": keys }).to_string(),
            client_jwks: json!({ "keys": [] }).to_string(),
        })
    }

    /// These documents, with `client_keys` (public JWKs) published as the client JWKS.
    #[must_use]
    pub fn with_client_keys(mut self, client_keys: Vec<Value>) -> Self {
        self.client_jwks = json!({ "keys": client_keys }).to_string();
        self
    }
}

/// The documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `/.well-known/openid-configuration`.
    Metadata,
    /// `/.well-known/jwks.json`.
    Jwks,
    /// `/.well-known/client-jwks.json`.
    ClientJwks,
}

impl HttpFunction for Issuer {
    type Route = Document;

    const ROUTES: &'static [Route<Document>] = &[
        Route::get("/.well-known/openid-configuration", Document::Metadata),
        Route::head("/.well-known/openid-configuration", Document::Metadata),
        Route::get("/.well-known/jwks.json", Document::Jwks),
        Route::head("/.well-known/jwks.json", Document::Jwks),
        Route::get("/.well-known/client-jwks.json", Document::ClientJwks),
        Route::head("/.well-known/client-jwks.json", Document::ClientJwks),
    ];

    async fn handle(&self, doc: Document, _: &Request<'_>, _: u64) -> Result<Response, Error> {
        let body = match doc {
            Document::Metadata => &self.metadata,
            Document::Jwks => &self.jwks,
            Document::ClientJwks => &self.client_jwks,
        };
        Ok(Response::raw_json(StatusCode::OK, body.clone()).public(CACHE_CONTROL))
    }
}

#[cfg(test)]
mod tests;
