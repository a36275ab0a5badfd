//! Discovery: the provider's metadata document, fetched once at cold start.

use openidconnect::AdditionalProviderMetadata;
use openidconnect::ProviderMetadata;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use serde::{Deserialize, Serialize};

use crate::infra::http::{FetchError, Http};

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

pub(crate) async fn get_json(
    http: &Http,
    url: &str,
    what: &'static str,
) -> Result<Vec<u8>, ProviderError> {
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

pub(crate) fn parse_error(what: &'static str, e: &serde_json::Error) -> ProviderError {
    // serde_json's message can quote the input; keep position and category only.
    ProviderError::Invalid {
        what,
        detail: format!("{:?} error at line {}, column {}", e.classify(), e.line(), e.column()),
    }
}

/// Fetches and checks the discovery document of `issuer` (exactly as configured).
///
/// # Errors
///
/// [`ProviderError`]; [`ProviderError::IssuerMismatch`] unless the document's `issuer` equals
/// `issuer` exactly.
pub async fn discover(http: &Http, issuer: &str) -> Result<Metadata, ProviderError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let body = get_json(http, &url, "discovery document").await?;
    let metadata: Metadata =
        serde_json::from_slice(&body).map_err(|e| parse_error("discovery document", &e))?;
    if metadata.issuer().as_str() != issuer {
        return Err(ProviderError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer().to_string(),
        });
    }
    Ok(metadata)
}
