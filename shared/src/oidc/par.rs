//! Pushed authorization requests (RFC 9126, `OIDC_PAR`): the login's authorization request goes
//! to the provider over the back channel, with the client authenticated, and the browser gets
//! an authorize URL carrying only `client_id` and the `request_uri` the provider answered. The
//! request's parameters (redirect URI, scopes, PKCE challenge, state, nonce) then cannot be
//! read or changed in the browser, and a provider checks them before any user is involved.
//!
//! Written here rather than through openidconnect, which has no PAR: the parameters are the
//! ones openidconnect put in the authorize URL, posted as a form with the client's
//! authentication ([`ClientCredentials`](super::client_auth::ClientCredentials)).

use serde::Deserialize;

use super::exchange::sanitize_code;
use super::provider::Provider;
use crate::error::Error;
use crate::infra::http::{FetchError, Http};
use crate::infra::metrics::{self, Endpoint};

/// The longest `request_uri` taken from a provider: it goes into the browser's URL.
pub const MAX_REQUEST_URI_LEN: usize = 512;

/// The longest `expires_in` taken: RFC 9126 advises a short lifetime (its example is 60 s), and
/// a login's transaction lives 10 minutes anyway.
pub const MAX_EXPIRES_IN: u64 = 600;

#[derive(Deserialize)]
struct PushedAnswer {
    request_uri: Option<serde_json::Value>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: Option<String>,
}

/// Pushes the authorization request of `authorize_url` (openidconnect's, every parameter in its
/// query) to `endpoint` and returns the URL the browser goes to: the same authorization
/// endpoint with `client_id` and `request_uri` only.
///
/// # Errors
///
/// [`Error::ParFailed`] when the provider refuses or its answer is unusable (not 201 or 200,
/// not JSON, no `request_uri` of a URI's shape, a non-positive or overlong `expires_in`);
/// [`Error::ProviderTimeout`], [`Error::ProviderUnreachable`].
pub async fn push(
    provider: &Provider,
    http: &Http,
    endpoint: &url::Url,
    authorize_url: &url::Url,
    now: u64,
) -> Result<url::Url, Error> {
    let params: Vec<(String, String)> = authorize_url.query_pairs().into_owned().collect();
    let fields: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let req = provider.credentials.form_post(endpoint, &fields, now)?;
    let sent = metrics::provider_call(Endpoint::Par, http.send(req), FetchError::unreachable);
    let resp = sent.await.map_err(|e| match e {
        FetchError::Timeout => Error::ProviderTimeout("PAR endpoint".into()),
        FetchError::Unreachable(detail) | FetchError::Other(detail) => {
            Error::ProviderUnreachable(detail)
        }
        FetchError::TooLarge => Error::ParFailed("answer too large".into()),
    })?;
    let status = resp.status().as_u16();
    if !matches!(status, 200 | 201) {
        let code = serde_json::from_slice::<ErrorAnswer>(resp.body())
            .ok()
            .and_then(|e| e.error)
            .map_or_else(
                || format!("HTTP {status}"),
                |c| format!("provider error {}", sanitize_code(&c)),
            );
        return Err(Error::ParFailed(code));
    }
    let answer: PushedAnswer = serde_json::from_slice(resp.body())
        .map_err(|_| Error::ParFailed("answer is not JSON".into()))?;
    let request_uri = answer
        .request_uri
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .filter(|uri| is_request_uri(uri))
        .ok_or_else(|| Error::ParFailed("no request_uri of a URI's shape".into()))?;
    match answer.expires_in.as_ref().and_then(serde_json::Value::as_u64) {
        Some(1..=MAX_EXPIRES_IN) => {}
        _ => return Err(Error::ParFailed("expires_in missing or out of range".into())),
    }
    // The authorization endpoint as discovery gave it (its own query, such as a policy, kept).
    let mut url = provider.client.auth_uri().url().clone();
    url.query_pairs_mut()
        .append_pair("client_id", &provider.client_id)
        .append_pair("request_uri", request_uri);
    Ok(url)
}

/// An absolute URI (RFC 9126 suggests `urn:ietf:params:oauth:request_uri:<reference>`) of
/// printable ASCII, at most [`MAX_REQUEST_URI_LEN`] long: it travels in the browser's URL, so a
/// provider's answer must not smuggle a scheme a browser acts on, nor spaces or controls.
fn is_request_uri(uri: &str) -> bool {
    let scheme = uri.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase());
    uri.len() <= MAX_REQUEST_URI_LEN
        && uri.bytes().all(|b| b.is_ascii_graphic())
        && matches!(scheme.as_deref(), Some("urn" | "https"))
        && url::Url::parse(uri).is_ok()
}

#[cfg(test)]
mod tests;
