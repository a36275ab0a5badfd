//! Discovery: the provider's metadata document, fetched once at cold start.

use openidconnect::AdditionalProviderMetadata;
use openidconnect::ProviderMetadata;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use serde::{Deserialize, Serialize};

use super::issuer::announced_issuer_fits;
use crate::infra::config::url_rule;
use crate::infra::http::{FetchError, Http};
use crate::infra::metrics::{self, Endpoint};

/// Discovery fields beyond openidconnect's core set.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<url::Url>,
    /// RFC 7009 token revocation (the refresh token of a session ended at logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<url::Url>,
    /// RFC 9207: the provider sends `iss` in authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 8414: the PKCE methods the provider supports; absent says nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9126: where a login pushes its authorization request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<url::Url>,
    /// RFC 9126: the provider takes authorization requests only through PAR.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449: the algorithms of DPoP proofs the provider takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
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
        "the discovery document's issuer {found:?} differs from OIDC_ISSUER {expected:?}: they must be equal, character for character (or, for Microsoft's multi-tenant endpoints, its {{tenantid}} template)"
    )]
    IssuerMismatch {
        /// `OIDC_ISSUER`.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The provider supports no client authentication we can do.
    #[error(
        "the provider supports neither client_secret_basic nor client_secret_post at its token endpoint: set OIDC_CLIENT_AUTH=private_key_jwt if it supports that"
    )]
    NoClientAuthMethod,
    /// `OIDC_CLIENT_AUTH` names a method the provider does not announce.
    #[error(
        "OIDC_CLIENT_AUTH is {method}, which the provider's token_endpoint_auth_methods_supported does not list"
    )]
    ClientAuthNotSupported {
        /// The configured method.
        method: &'static str,
    },
    /// `OIDC_PROFILE=fapi2` and the provider announces none of PS256, ES256, EdDSA for ID
    /// tokens.
    #[error(
        "OIDC_PROFILE is fapi2, and the provider announces none of PS256, ES256, EdDSA for ID tokens"
    )]
    NoFapi2Algorithm,
    /// `OIDC_CLIENT_ASSERTION_AUDIENCE=token_endpoint` and the token endpoint is on another
    /// origin than the issuer.
    #[error(
        "OIDC_CLIENT_ASSERTION_AUDIENCE is token_endpoint, and the discovery document's token_endpoint is on another origin than the issuer: an assertion for it could be replayed there; use issuer"
    )]
    TokenEndpointElsewhere,
    /// The active client key's algorithm is not in the provider's
    /// `token_endpoint_auth_signing_alg_values_supported`.
    #[error(
        "the active client key signs {alg}, which the provider's token_endpoint_auth_signing_alg_values_supported does not list: add a key it lists (secret-tool client-key add --alg ...)"
    )]
    ClientKeyAlgNotListed {
        /// The key's algorithm.
        alg: &'static str,
    },
    /// `OIDC_PROFILE=fapi2` and the active client key signs RS256.
    #[error(
        "OIDC_PROFILE is fapi2, and the active client key signs RS256: FAPI 2.0 takes PS256, ES256 or EdDSA (secret-tool client-key add --alg PS256)"
    )]
    Fapi2ClientKey,
    /// `OIDC_DPOP=on` and the provider announces no DPoP with ES256.
    #[error(
        "OIDC_DPOP is on, and the provider's dpop_signing_alg_values_supported does not list ES256 (or is absent)"
    )]
    NoDpop,
    /// `OIDC_PAR=on` and the provider announces no PAR endpoint.
    #[error("OIDC_PAR is on, and the provider announces no pushed_authorization_request_endpoint")]
    NoParEndpoint,
    /// `OIDC_PAR=off` and the provider requires PAR.
    #[error(
        "OIDC_PAR is off, and the provider announces require_pushed_authorization_requests: set it to auto"
    )]
    ParRequired,
    /// The provider announces no ID token algorithm we accept.
    #[error(
        "the provider announces none of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA for ID tokens"
    )]
    NoAcceptedAlgorithm,
    /// Discovery names a tenant template (Entra ID multi-tenant) and no tenant is allowed.
    #[error(
        "the discovery document's issuer {template:?} is a template for every Entra ID tenant: set OIDC_ALLOWED_TENANTS to the tenant ids to accept (or * for any tenant)"
    )]
    TenantsNotConfigured {
        /// The document's `issuer`.
        template: String,
    },
    /// An endpoint of the discovery document breaks the URL rule of configuration.
    #[error("the discovery document's {field} {problem}")]
    InsecureEndpoint {
        /// The field (`token_endpoint`, ...).
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The provider lists its PKCE methods, and S256 is not among them.
    #[error(
        "the provider's code_challenge_methods_supported does not list S256, which every login uses"
    )]
    NoPkceS256,
    /// The discovery document has no token endpoint.
    #[error("the discovery document has no token_endpoint")]
    NoTokenEndpoint,
}

pub(crate) async fn get_json(
    http: &Http,
    url: &str,
    what: &'static str,
    endpoint: Endpoint,
) -> Result<Vec<u8>, ProviderError> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| ProviderError::Invalid { what, detail: e.to_string() })?;
    let sent = metrics::provider_call(endpoint, http.send(req), FetchError::unreachable).await;
    let resp = sent.map_err(|source| ProviderError::Fetch { what, source })?;
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
/// `issuer` exactly, or is the tenant template of a Microsoft multi-tenant `issuer`
/// ([`announced_issuer_fits`]).
pub async fn discover(http: &Http, issuer: &str) -> Result<Metadata, ProviderError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let body = get_json(http, &url, "discovery document", Endpoint::Discovery).await?;
    let metadata: Metadata =
        serde_json::from_slice(&body).map_err(|e| parse_error("discovery document", &e))?;
    if !announced_issuer_fits(issuer, metadata.issuer().as_str()) {
        return Err(ProviderError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer().to_string(),
        });
    }
    check_endpoints(&metadata)?;
    Ok(metadata)
}

/// Every endpoint we may send to (the client secret, a code, a token, a browser) follows the
/// URL rule of configuration ([`url_rule`]). An endpoint added to [`ExtraMetadata`] belongs
/// in this list.
pub(crate) fn check_endpoints(metadata: &Metadata) -> Result<(), ProviderError> {
    let extra = metadata.additional_metadata();
    let endpoints: [(&'static str, Option<&url::Url>); 7] = [
        ("authorization_endpoint", Some(metadata.authorization_endpoint().url())),
        ("token_endpoint", metadata.token_endpoint().map(|u| u.url())),
        ("userinfo_endpoint", metadata.userinfo_endpoint().map(|u| u.url())),
        ("jwks_uri", Some(metadata.jwks_uri().url())),
        ("end_session_endpoint", extra.end_session_endpoint.as_ref()),
        ("revocation_endpoint", extra.revocation_endpoint.as_ref()),
        (
            "pushed_authorization_request_endpoint",
            extra.pushed_authorization_request_endpoint.as_ref(),
        ),
    ];
    for (field, url) in endpoints {
        if let Some(url) = url {
            url_rule(url).map_err(|problem| ProviderError::InsecureEndpoint { field, problem })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::keygen::KeyAlg;
    use crate::testing::{FakeProvider, key};

    #[tokio::test]
    async fn discovery_endpoints_follow_the_url_rule_of_configuration() {
        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
            "revocation_endpoint",
            "pushed_authorization_request_endpoint",
        ] {
            for bad in
                ["http://idp.example/x", "ftp://localhost/x", "https://user:pw@idp.example/x"]
            {
                let provider =
                    FakeProvider::start_with(key("k", KeyAlg::Es256), json!({ field: bad })).await;
                let http = crate::infra::http::http_client().unwrap();
                let err = discover(&http, &provider.issuer()).await.unwrap_err();
                assert!(
                    matches!(err, ProviderError::InsecureEndpoint { field: f, .. } if f == field),
                    "{field} = {bad}: {err}"
                );
                assert!(err.to_string().contains(field), "{err}");
            }
        }
        let provider = FakeProvider::start_with(
            key("k", KeyAlg::Es256),
            json!({"end_session_endpoint": "http://[::1]:9/logout"}),
        )
        .await;
        let http = crate::infra::http::http_client().unwrap();
        assert!(discover(&http, &provider.issuer()).await.is_ok(), "http on loopback is fine");
    }

    #[tokio::test]
    async fn extra_members_of_discovery_are_ignored() {
        let extra = json!({
            "cloud_instance_name": "microsoftonline.com",
            "tenant_region_scope": null,
            "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.idp.example/token"},
            "claims_supported": ["sub", "tid", "urn:vendor:claim"],
            "frontchannel_logout_supported": true,
            "backchannel_logout_session_supported": "yes",
            "x-vendor": [1, {"deep": [true]}],
            "id_token_signing_alg_values_supported":
                ["none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512"],
        });
        let provider = FakeProvider::start_with(key("k", KeyAlg::Es256), extra).await;
        let http = crate::infra::http::http_client().unwrap();
        let metadata = discover(&http, &provider.issuer()).await.unwrap();
        let config = crate::testing::config_with(&provider.issuer(), &[]);
        let secret = secrecy::SecretString::from("s");
        let built =
            crate::oidc::provider::Provider::new(metadata, config.default_provider(), &secret)
                .unwrap();
        assert_eq!(built.algorithms.len(), 3, "RS256, RS384, RS512; never none or HS*");
    }

    #[tokio::test]
    async fn pkce_refused_at_cold_start_without_s256() {
        let config = |issuer: &str| crate::testing::config_with(issuer, &[]);
        let secret = secrecy::SecretString::from("s");
        let http = crate::infra::http::http_client().unwrap();
        for (methods, ok) in
            [(json!(["plain"]), false), (json!([]), false), (json!(["S256"]), true)]
        {
            let provider = FakeProvider::start_with(
                key("k", KeyAlg::Es256),
                json!({"code_challenge_methods_supported": methods}),
            )
            .await;
            let metadata = discover(&http, &provider.issuer()).await.unwrap();
            let built = crate::oidc::provider::Provider::new(
                metadata,
                config(&provider.issuer()).default_provider(),
                &secret,
            );
            assert_eq!(built.is_ok(), ok, "{methods}");
            if !ok {
                assert!(matches!(built, Err(ProviderError::NoPkceS256)));
            }
        }
    }
}
