//! How the browser ends its session at the provider (RP-initiated logout), per provider.
//!
//! Providers differ here more than anywhere else:
//!
//! - OpenID Connect RP-Initiated Logout 1.0 (`end_session_endpoint` in discovery: Okta,
//!   Entra ID, Keycloak, Auth0 with its OIDC logout on, IdentityServer/Duende, the local
//!   providers): `client_id`, `post_logout_redirect_uri` and, when a session holds one, the
//!   session's last ID token as `id_token_hint`. Many of them honour the redirect only with the
//!   hint (Okta, IdentityServer, Connect2id).
//! - Amazon Cognito announces no `end_session_endpoint`; its `/logout` on the user pool's domain
//!   (the host of its authorization endpoint) takes `client_id` and `logout_uri`.
//! - Auth0 without its OIDC logout announces none either; its `/v2/logout` takes `client_id`
//!   and `returnTo`.
//! - Google and others have no logout for relying parties: ours only, and the answer says so.
//!
//! The style is recognised from discovery and the issuer's host, or set with `OIDC_LOGOUT`
//! (custom domains of Auth0 or Cognito cannot be recognised).
//!
//! Written here because openidconnect 4 builds no logout URL at all.

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::discovery::Metadata;
use crate::infra::config::LogoutStyle;

/// A provider's logout, decided at cold start.
#[derive(Debug, Clone)]
pub enum RpLogout {
    /// `end_session_endpoint` with `client_id` (and `post_logout_redirect_uri`); the session's
    /// ID token is added as `id_token_hint`.
    EndSession(Url),
    /// Cognito's `/logout` with `client_id` (and `logout_uri`).
    Cognito(Url),
    /// Auth0's `/v2/logout` with `client_id` (and `returnTo`).
    Auth0(Url),
    /// The provider has no logout for relying parties.
    Unsupported,
}

impl RpLogout {
    /// The logout of the provider `metadata` describes, for `client_id`, sending the browser
    /// back to `post_logout` when it is set. `style` (`OIDC_LOGOUT`) overrides recognition.
    pub fn new(
        metadata: &Metadata,
        style: LogoutStyle,
        client_id: &str,
        post_logout: Option<&Url>,
    ) -> Self {
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let issuer = metadata.issuer().url();
        let host = issuer.host_str().unwrap_or_default();
        let style = match style {
            LogoutStyle::Auto if end_session.is_some() => LogoutStyle::EndSession,
            LogoutStyle::Auto if is_cognito(host) => LogoutStyle::Cognito,
            LogoutStyle::Auto if host.ends_with(".auth0.com") => LogoutStyle::Auth0,
            LogoutStyle::Auto => LogoutStyle::None,
            chosen => chosen,
        };
        let with = |mut url: Url, back: &str| {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("client_id", client_id);
                if let Some(uri) = post_logout {
                    q.append_pair(back, uri.as_str());
                }
            }
            url
        };
        let on_host = |path: &str, base: &Url| {
            let mut url = base.clone();
            url.set_path(path);
            url.set_query(None);
            url.set_fragment(None);
            url
        };
        match style {
            LogoutStyle::EndSession => match end_session {
                Some(url) => Self::EndSession(with(url, "post_logout_redirect_uri")),
                None => Self::Unsupported,
            },
            // The user pool domain serves both /oauth2/authorize and /logout.
            LogoutStyle::Cognito => {
                let base = metadata.authorization_endpoint().url();
                Self::Cognito(with(on_host("/logout", base), "logout_uri"))
            }
            LogoutStyle::Auth0 => Self::Auth0(with(on_host("/v2/logout", issuer), "returnTo")),
            LogoutStyle::None | LogoutStyle::Auto => Self::Unsupported,
        }
    }

    /// The URL to send the browser to, with `id_token_hint` for an end-session endpoint when
    /// the session holds an ID token; `None` when the provider has no logout.
    pub fn url(&self, id_token: Option<&SecretString>) -> Option<String> {
        match self {
            Self::EndSession(url) => {
                let mut url = url.clone();
                if let Some(hint) = id_token {
                    url.query_pairs_mut().append_pair("id_token_hint", hint.expose_secret());
                }
                Some(url.into())
            }
            Self::Cognito(url) | Self::Auth0(url) => Some(url.as_str().to_owned()),
            Self::Unsupported => None,
        }
    }

    /// True when the provider has no logout (the answer says so).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::Unsupported)
    }
}

/// `cognito-idp.<region>.amazonaws.com`, the host of a Cognito user pool's issuer.
fn is_cognito(host: &str) -> bool {
    host.strip_prefix("cognito-idp.").is_some_and(|rest| rest.ends_with(".amazonaws.com"))
}

#[cfg(test)]
mod tests;
