//! The OpenID provider: discovery, the OAuth client, the JWKS cache, and bounded HTTP.
//!
//! # Security
//!
//! The HTTP client follows no redirects (a redirect is an SSRF vector and never a valid answer
//! from a token endpoint), has a 3 s connect and 10 s total timeout, and reads at most
//! [`MAX_BODY`] bytes of any answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AsyncHttpClient, AuthType, ClientId, ClientSecret,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenVerifier,
    IssuerUrl, ProviderMetadata,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::Config;

mod key;
pub use key::{ProviderKey, ProviderKeySet};

/// The ID token verifier, over keys parsed once.
pub type Verifier = IdTokenVerifier<'static, ProviderKey>;

/// Connect timeout of every provider call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Total timeout of every provider call.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest provider answer read, in bytes.
pub const MAX_BODY: usize = 256 * 1024;
/// Least time between two JWKS fetches (the cold-start fetch counts).
pub const JWKS_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// ID token algorithms we verify, when the provider announces them. Never `none`, never HS*.
pub const ACCEPTED_ALGS: [CoreJwsSigningAlgorithm; 4] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Discovery fields beyond openidconnect's core set.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<url::Url>,
    /// RFC 9207: the provider sends `iss` in authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// The discovery document.
pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The OAuth client as built from discovery: authorize URL set, token and userinfo maybe.
pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider call that failed below the protocol.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within [`TOTAL_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// No connection.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The answer is larger than [`MAX_BODY`].
    #[error("answer larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Anything else on the way (bad request build, TLS, protocol).
    #[error("transport error: {0}")]
    Other(String),
}

impl FetchError {
    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable(crate::error::chain(e))
        } else {
            Self::Other(crate::error::chain(e))
        }
    }
}

/// The one outbound HTTP client: no redirects, bounded time and size, rustls with aws-lc-rs.
/// It is also the HTTP client of every openidconnect request.
#[derive(Debug, Clone)]
pub struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Builds the [`Http`] client.
///
/// # Errors
///
/// When the TLS stack cannot be set up.
pub fn http_client() -> Result<Http, reqwest::Error> {
    http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
}

/// [`http_client`] with other timeouts (tests).
///
/// # Errors
///
/// When the TLS stack cannot be set up.
pub fn http_client_with(connect: Duration, total: Duration) -> Result<Http, reqwest::Error> {
    // reqwest is built without a default crypto provider; use the one the AWS SDK already
    // links. An error means another one is installed already, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect)
        .timeout(total)
        .build()
        .map(Http)
}

impl Http {
    /// Sends `req` and reads at most [`MAX_BODY`] bytes of the answer.
    ///
    /// # Errors
    ///
    /// [`FetchError`].
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, FetchError> {
        let req = reqwest::Request::try_from(req)
            .map_err(|e| FetchError::Other(crate::error::chain(&e)))?;
        let mut resp = self.0.execute(req).await.map_err(|e| FetchError::from_reqwest(&e))?;
        if resp.content_length().is_some_and(|len| len > MAX_BODY as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut out = http::Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            out = out.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::from_reqwest(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body).map_err(|e| FetchError::Other(e.to_string()))
    }
}

/// Why the provider's metadata could not be loaded at cold start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Discovery or JWKS could not be fetched.
    #[error("{what} fetch failed: {source}")]
    Fetch {
        /// Which document.
        what: &'static str,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// Discovery or JWKS answered a non-200 status.
    #[error("{what} answered HTTP {status}")]
    Status {
        /// Which document.
        what: &'static str,
        /// The status.
        status: u16,
    },
    /// Discovery or JWKS is not JSON of the right shape.
    #[error("{what} is not valid: {detail}")]
    Invalid {
        /// Which document.
        what: &'static str,
        /// Parse error (field path and kind, never the provider's text beyond it).
        detail: String,
    },
    /// The discovery document names another issuer.
    #[error(
        "the discovery document's issuer {found:?} differs from OIDC_ISSUER {expected:?}: they must be equal, character for character"
    )]
    IssuerMismatch {
        /// `OIDC_ISSUER`.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The provider supports no client authentication we can do.
    #[error(
        "the provider supports neither client_secret_basic nor client_secret_post at its token endpoint"
    )]
    NoClientAuthMethod,
    /// The provider announces no ID token algorithm we accept.
    #[error("the provider announces none of RS256, PS256, ES256, EdDSA for ID tokens")]
    NoAcceptedAlgorithm,
    /// The discovery document has no token endpoint.
    #[error("the discovery document has no token_endpoint")]
    NoTokenEndpoint,
}

async fn get_json(http: &Http, url: &str, what: &'static str) -> Result<Vec<u8>, ProviderError> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| ProviderError::Invalid { what, detail: e.to_string() })?;
    let resp = http.send(req).await.map_err(|source| ProviderError::Fetch { what, source })?;
    if resp.status() != http::StatusCode::OK {
        return Err(ProviderError::Status { what, status: resp.status().as_u16() });
    }
    Ok(resp.into_body())
}

fn parse_error(what: &'static str, e: &serde_json::Error) -> ProviderError {
    // serde_json's message can quote the input; keep position and category only.
    ProviderError::Invalid {
        what,
        detail: format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column()),
    }
}

/// Fetches and checks the discovery document.
///
/// # Errors
///
/// [`ProviderError`]; [`ProviderError::IssuerMismatch`] unless the document's `issuer` equals
/// `OIDC_ISSUER` exactly.
pub async fn discover(http: &Http, config: &Config) -> Result<Metadata, ProviderError> {
    let url =
        format!("{}/.well-known/openid-configuration", config.issuer_str.trim_end_matches('/'));
    let body = get_json(http, &url, "discovery document").await?;
    let metadata: Metadata =
        serde_json::from_slice(&body).map_err(|e| parse_error("discovery document", &e))?;
    if metadata.issuer().as_str() != config.issuer_str {
        return Err(ProviderError::IssuerMismatch {
            expected: config.issuer_str.clone(),
            found: metadata.issuer().to_string(),
        });
    }
    Ok(metadata)
}

/// Fetches the JWKS and keeps only keys usable for verifying signatures: `kty` RSA, EC or OKP,
/// `use` absent or `sig`, and the public parts present. Other keys are skipped, not fatal.
///
/// # Errors
///
/// [`ProviderError`] when the document cannot be fetched or is not a JWKS at all.
pub async fn fetch_jwks(http: &Http, jwks_uri: &str) -> Result<ProviderKeySet, ProviderError> {
    let body = get_json(http, jwks_uri, "JWKS").await?;
    parse_jwks(&body)
}

/// Parses a JWKS document, skipping unusable keys. See [`fetch_jwks`].
///
/// # Errors
///
/// [`ProviderError::Invalid`] when it is not an object with a `keys` array.
pub fn parse_jwks(body: &[u8]) -> Result<ProviderKeySet, ProviderError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| parse_error("JWKS", &e))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Invalid { what: "JWKS", detail: "no keys array".into() })?;
    let mut usable = Vec::new();
    for value in keys.iter().filter(|k| usable_signing_key(k)) {
        let key = ProviderKey::from_json(value).map_err(|e| parse_error("JWKS", &e))?;
        if !key.is_usable() {
            let kid = value.get("kid").and_then(Value::as_str).unwrap_or("");
            let kid: String = kid.chars().filter(char::is_ascii_graphic).take(64).collect();
            tracing::warn!(
                kid,
                "JWKS key is malformed or RSA under 2048 bits; it verifies nothing"
            );
        }
        usable.push(key);
    }
    Ok(ProviderKeySet::new(usable))
}

fn usable_signing_key(key: &Value) -> bool {
    let has = |field: &str| key.get(field).and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    let use_ok = match key.get("use") {
        None => true,
        Some(u) => u.as_str() == Some("sig"),
    };
    let parts_ok = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => has("n") && has("e"),
        Some("EC") => has("crv") && has("x") && has("y"),
        Some("OKP") => key.get("crv").and_then(Value::as_str) == Some("Ed25519") && has("x"),
        _ => false,
    };
    use_ok && parts_ok
}

/// The provider, as this function uses it.
pub struct Provider {
    /// The OAuth client (authorize URL, token endpoint, userinfo).
    pub client: OidcClient,
    /// RFC 9207: the provider announces `iss` in authorization responses.
    pub iss_parameter_supported: bool,
    /// RP-initiated logout, when announced.
    pub end_session_endpoint: Option<url::Url>,
    /// The ID token algorithms we accept from this provider.
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// The JWKS, where the function verifies ID tokens.
    pub jwks: Option<JwksCache>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("iss_parameter_supported", &self.iss_parameter_supported)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Builds the client from checked metadata.
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when the provider cannot serve this relying party.
    pub fn new(
        metadata: Metadata,
        config: &Config,
        client_secret: &SecretString,
    ) -> Result<Self, ProviderError> {
        if metadata.token_endpoint().is_none() {
            return Err(ProviderError::NoTokenEndpoint);
        }
        // RFC 8414 / OIDC Discovery: absent means client_secret_basic.
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            None => AuthType::BasicAuth,
            Some(m) if m.contains(&CoreClientAuthMethod::ClientSecretBasic) => AuthType::BasicAuth,
            Some(m) if m.contains(&CoreClientAuthMethod::ClientSecretPost) => AuthType::RequestBody,
            Some(_) => return Err(ProviderError::NoClientAuthMethod),
        };
        let algorithms: Vec<_> = ACCEPTED_ALGS
            .into_iter()
            .filter(|a| metadata.id_token_signing_alg_values_supported().contains(a))
            .collect();
        if algorithms.is_empty() {
            return Err(ProviderError::NoAcceptedAlgorithm);
        }
        let extra = metadata.additional_metadata().clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(client_secret.expose_secret().to_owned())),
        )
        .set_auth_type(auth_type);
        Ok(Self {
            client,
            iss_parameter_supported: extra.authorization_response_iss_parameter_supported,
            end_session_endpoint: extra.end_session_endpoint,
            algorithms,
            jwks: None,
        })
    }
}

/// The provider's JWKS, with a rate-limited refetch for unknown `kid`s.
pub struct JwksCache {
    uri: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    algorithms: Vec<CoreJwsSigningAlgorithm>,
    cooldown: Duration,
    verifier: RwLock<Arc<Verifier>>,
    /// When the JWKS was last fetched; held while a refetch runs, so requests never race.
    last_fetch: Mutex<Instant>,
}

impl JwksCache {
    /// A cache holding `jwks`, fetched just now from `uri`.
    pub fn new(
        uri: String,
        jwks: ProviderKeySet,
        config: &Config,
        algorithms: Vec<CoreJwsSigningAlgorithm>,
        cooldown: Duration,
    ) -> Self {
        // The configured spelling, for the exact `iss` match (config has checked it parses).
        let issuer = IssuerUrl::new(config.issuer_str.clone())
            .unwrap_or_else(|_| IssuerUrl::from_url(config.issuer.clone()));
        let client_id = ClientId::new(config.client_id.clone());
        let verifier = build_verifier(&client_id, &issuer, &algorithms, jwks);
        Self {
            uri,
            issuer,
            client_id,
            algorithms,
            cooldown,
            verifier: RwLock::new(Arc::new(verifier)),
            last_fetch: Mutex::new(Instant::now()),
        }
    }

    /// The current verifier.
    pub fn verifier(&self) -> Arc<Verifier> {
        match self.verifier.read() {
            Ok(v) => Arc::clone(&v),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Refetches the JWKS unless the last fetch is younger than the cooldown. Returns whether
    /// a new JWKS is in place.
    pub async fn refetch(&self, http: &Http) -> bool {
        let mut last = self.last_fetch.lock().await;
        if last.elapsed() < self.cooldown {
            tracing::warn!("ID token names an unknown key; JWKS refetch skipped (cooldown)");
            return false;
        }
        *last = Instant::now();
        match fetch_jwks(http, &self.uri).await {
            Ok(jwks) => {
                let verifier =
                    build_verifier(&self.client_id, &self.issuer, &self.algorithms, jwks);
                match self.verifier.write() {
                    Ok(mut v) => *v = Arc::new(verifier),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(verifier),
                }
                tracing::info!("JWKS refetched for an unknown key");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch failed; keeping the cached keys");
                false
            }
        }
    }
}

/// A verifier for a public client (so never HS*), limited to `algorithms`, with 60 s of leeway
/// on `exp` (`iat` is checked by the caller).
fn build_verifier(
    client_id: &ClientId,
    issuer: &IssuerUrl,
    algorithms: &[CoreJwsSigningAlgorithm],
    jwks: ProviderKeySet,
) -> Verifier {
    IdTokenVerifier::new_public_client(client_id.clone(), issuer.clone(), jwks)
        .set_allowed_algs(algorithms.iter().cloned())
        .set_time_fn(|| {
            chrono::Utc::now() - chrono::TimeDelta::seconds(crate::callback::LEEWAY_SECS)
        })
        // Extra audiences are allowed only with `azp` equal to the client id, checked after.
        .set_other_audience_verifier_fn(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_only_usable_signing_keys() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "eA", "y": "eQ"},
            {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": "eA"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "eA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "weird"},
            "not an object"
        ]});
        let jwks = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = jwks
            .keys()
            .iter()
            .filter_map(|k| openidconnect::JsonWebKey::key_id(k).map(|id| id.to_string()))
            .collect();
        assert_eq!(kids, ["rsa", "ec", "ed"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"{\"keys\": {}}").is_err());
    }
}
