//! RFC 7009 token revocation: the refresh token of a session that ends at logout.
//!
//! Written here rather than through openidconnect: its client offers `revoke_token` only on a
//! client type whose revocation endpoint is always set, and a provider may announce none. The
//! request is one form POST with the client's authentication (RFC 7009 section 2.1), the
//! token endpoint's ([`ClientCredentials`]: a fresh assertion for `private_key_jwt`).

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

use super::client_auth::ClientCredentials;
use super::discovery::Metadata;
use super::dpop::{DpopHttp, DpopKey, Nonces};
use super::provider::Provider;
use crate::error::Error;
use crate::infra::clock::unix_now;
use crate::infra::http::{FetchError, Http};
use crate::infra::metrics::{self, Endpoint};

/// The provider's revocation endpoint and how to authenticate there.
pub struct Revocation {
    url: url::Url,
    credentials: ClientCredentials,
    /// The revocation endpoint's DPoP nonces (a server's own, RFC 9449 section 8).
    nonces: Nonces,
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl Revocation {
    /// The revocation endpoint the provider announces, if any, with the client authentication
    /// of its token endpoint.
    pub fn from_metadata(metadata: &Metadata, provider: &Provider) -> Option<Self> {
        let url = metadata.additional_metadata().revocation_endpoint.clone()?;
        Some(Self { url, credentials: provider.credentials.clone(), nonces: Nonces::default() })
    }

    /// Revokes `refresh_token`, with a proof of `dpop` when the session has a DPoP key. RFC
    /// 7009: 200 means revoked (or already invalid).
    ///
    /// # Errors
    ///
    /// [`Error::ProviderTimeout`], [`Error::ProviderUnreachable`], or
    /// [`Error::TokenExchangeFailed`] for another status (the body is not kept).
    pub async fn revoke_refresh_token(
        &self,
        http: &Http,
        refresh_token: &SecretString,
        dpop: Option<&DpopKey>,
    ) -> Result<(), Error> {
        let fields =
            [("token", refresh_token.expose_secret()), ("token_type_hint", "refresh_token")];
        let req = self.credentials.form_post(&self.url, &fields, unix_now())?;
        // A DPoP session's token is revoked with a proof of its key too (RFC 9449 does not
        // require one here; a provider that checks it finds the session's key), and the
        // provider's nonce when it asks for one, once, with a fresh assertion.
        let client = DpopHttp::new(http, dpop, &self.nonces, &self.credentials);
        let resp =
            metrics::provider_call(Endpoint::Revocation, client.send(req), FetchError::unreachable)
                .await;
        let resp = resp.map_err(|e| match e {
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
