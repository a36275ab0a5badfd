//! RFC 7009 token revocation: the refresh token of a session that ends at logout.
//!
//! Written here rather than through openidconnect: its client offers `revoke_token` only on a
//! client type whose revocation endpoint is always set, and a provider may announce none. The
//! request is one form POST with the client's authentication (RFC 7009 section 2.1).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openidconnect::core::CoreClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};

use super::discovery::Metadata;
use super::provider::Provider;
use crate::error::Error;
use crate::infra::http::{FetchError, Http};
use crate::infra::metrics::{self, Endpoint};

/// The provider's revocation endpoint and how to authenticate there.
pub struct Revocation {
    url: url::Url,
    client_id: String,
    client_secret: SecretString,
    basic: bool,
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

impl Revocation {
    /// The revocation endpoint the provider announces, if any, with the client authentication
    /// of its token endpoint (`client_secret_basic` unless only `client_secret_post` is listed).
    pub fn from_metadata(
        metadata: &Metadata,
        provider: &Provider,
        client_secret: &SecretString,
    ) -> Option<Self> {
        let url = metadata.additional_metadata().revocation_endpoint.clone()?;
        let basic = !metadata.token_endpoint_auth_methods_supported().is_some_and(|m| {
            !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && m.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        Some(Self {
            url,
            client_id: provider.client_id.clone(),
            client_secret: client_secret.clone(),
            basic,
        })
    }

    /// Revokes `refresh_token`. RFC 7009: 200 means revoked (or already invalid).
    ///
    /// # Errors
    ///
    /// [`Error::ProviderTimeout`], [`Error::ProviderUnreachable`], or
    /// [`Error::TokenExchangeFailed`] for another status (the body is not kept).
    pub async fn revoke_refresh_token(
        &self,
        http: &Http,
        refresh_token: &SecretString,
    ) -> Result<(), Error> {
        let token = refresh_token.expose_secret();
        let mut pairs = vec![("token", token), ("token_type_hint", "refresh_token")];
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.url.as_str())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json");
        if self.basic {
            // RFC 6749 2.3.1: each part form-encoded before base64.
            let id: String =
                url::form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect();
            let secret: String =
                url::form_urlencoded::byte_serialize(self.client_secret.expose_secret().as_bytes())
                    .collect();
            let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
            req = req.header(http::header::AUTHORIZATION, basic);
        } else {
            pairs.push(("client_id", &self.client_id));
            pairs.push(("client_secret", self.client_secret.expose_secret()));
        }
        let req = req
            .body(form(&pairs).into_bytes())
            .map_err(|_| Error::Internal("revocation request could not be built".into()))?;
        let sent =
            metrics::provider_call(Endpoint::Revocation, http.send(req), FetchError::unreachable);
        let resp = sent.await.map_err(|e| match e {
            FetchError::Timeout => Error::ProviderTimeout("revocation endpoint".into()),
            FetchError::Unreachable(detail) | FetchError::Other(detail) => {
                Error::ProviderUnreachable(detail)
            }
            FetchError::TooLarge => {
                Error::TokenExchangeFailed("revocation answer too large".into())
            }
        })?;
        match resp.status().as_u16() {
            200 => Ok(()),
            status => Err(Error::TokenExchangeFailed(format!("revocation answered HTTP {status}"))),
        }
    }
}
