//! How our client authenticates at a provider's token, pushed-authorization and revocation
//! endpoints (`OIDC_CLIENT_AUTH`): with the client secret (`client_secret_basic`,
//! `client_secret_post`), or with no shared secret at all, by a JWT signed with a client key of
//! the secret (`private_key_jwt`: RFC 7523 section 2.2, OpenID Connect Core section 9).
//!
//! Assertions are made here: openidconnect sends a client secret but makes no assertion. Each
//! request gets a fresh one, with `iss` = `sub` = the client id, `aud` = the provider's issuer
//! identifier (the audience the 2025 fix for private_key_jwt recommends, and the only one FAPI
//! 2.0 accepts) or, for providers known to want it, its token endpoint (`OIDC_CLIENT_ASSERTION_AUDIENCE`),
//! a random `jti` and an `exp` 60 s ahead.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

use crate::error::Error;
use crate::tokens::secret::{ClientKey, KeyRing};
use crate::tokens::session::{b64_json, new_jti};

/// `client_assertion_type` of a JWT assertion (RFC 7523 section 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid: the provider must use it at once, and refuses it once
/// expired.
pub const ASSERTION_LIFETIME_SECS: u64 = 60;

/// What the secret holds for one provider's client: its client secret, or its client keys.
pub enum ClientMaterial {
    /// The client secret.
    Secret(SecretString),
    /// The client keys, the active one first.
    Keys(Arc<KeyRing<ClientKey>>),
}

/// The client's credentials at one provider.
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    how: How,
}

#[derive(Clone)]
enum How {
    /// The client secret, in an `Authorization: Basic` header (`basic`) or in the form.
    Secret { secret: SecretString, basic: bool },
    /// A JWT signed with the active client key, for `audience`.
    Assertion { keys: Arc<KeyRing<ClientKey>>, audience: String },
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match &self.how {
            How::Secret { basic: true, .. } => "client_secret_basic",
            How::Secret { basic: false, .. } => "client_secret_post",
            How::Assertion { .. } => "private_key_jwt",
        };
        f.debug_struct("ClientCredentials").field("method", &method).finish_non_exhaustive()
    }
}

/// What one request carries to authenticate the client: an `Authorization` header value, or
/// form fields.
pub struct Authentication {
    /// `Authorization: Basic ...`, for `client_secret_basic`.
    pub header: Option<SecretString>,
    /// Form fields (`client_id` and `client_secret`, or `client_id` and the assertion; none
    /// beside a Basic header).
    pub form: Vec<(&'static str, SecretString)>,
}

#[derive(Serialize)]
struct AssertionHeader<'a> {
    alg: &'a str,
    kid: &'a str,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<&'a str>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl ClientCredentials {
    /// The client secret, sent in a Basic header (`basic`) or in the form.
    pub fn secret(client_id: &str, secret: SecretString, basic: bool) -> Self {
        Self { client_id: client_id.to_owned(), how: How::Secret { secret, basic } }
    }

    /// A JWT assertion signed by the active key of `keys`, for `audience`.
    pub fn assertion(client_id: &str, keys: Arc<KeyRing<ClientKey>>, audience: String) -> Self {
        Self { client_id: client_id.to_owned(), how: How::Assertion { keys, audience } }
    }

    /// The client secret, when this client authenticates with one (openidconnect sends it).
    pub fn client_secret(&self) -> Option<&SecretString> {
        match &self.how {
            How::Secret { secret, .. } => Some(secret),
            How::Assertion { .. } => None,
        }
    }

    /// True for `client_secret_basic`.
    pub fn is_basic(&self) -> bool {
        matches!(self.how, How::Secret { basic: true, .. })
    }

    /// The audience of this client's assertions, when it makes any.
    pub fn assertion_audience(&self) -> Option<&str> {
        match &self.how {
            How::Assertion { audience, .. } => Some(audience),
            How::Secret { .. } => None,
        }
    }

    /// The form fields of a fresh assertion at `now` (`client_assertion_type`,
    /// `client_assertion`); none for a client secret. openidconnect adds `client_id` itself.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when signing fails or no randomness is available.
    pub fn assertion_fields(&self, now: u64) -> Result<Vec<(&'static str, SecretString)>, Error> {
        match &self.how {
            How::Secret { .. } => Ok(Vec::new()),
            How::Assertion { keys, audience } => Ok(vec![
                ("client_assertion_type", SecretString::from(ASSERTION_TYPE)),
                ("client_assertion", self.sign_assertion(keys.active(), audience, now)?),
            ]),
        }
    }

    /// Everything a hand-made request (revocation, PAR) carries to authenticate at `now`.
    ///
    /// # Errors
    ///
    /// As [`Self::assertion_fields`].
    pub fn authentication(&self, now: u64) -> Result<Authentication, Error> {
        let id = || SecretString::from(self.client_id.clone());
        match &self.how {
            How::Secret { secret, basic: true } => {
                // RFC 6749 section 2.3.1: each part form-encoded before base64.
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair =
                    format!("{}:{}", encode(&self.client_id), encode(secret.expose_secret()));
                let header = SecretString::from(format!("Basic {}", STANDARD.encode(pair)));
                Ok(Authentication { header: Some(header), form: Vec::new() })
            }
            How::Secret { secret, basic: false } => Ok(Authentication {
                header: None,
                form: vec![("client_id", id()), ("client_secret", secret.clone())],
            }),
            How::Assertion { .. } => {
                let mut form = vec![("client_id", id())];
                form.extend(self.assertion_fields(now)?);
                Ok(Authentication { header: None, form })
            }
        }
    }

    /// A form POST of `fields` to `url` (revocation, PAR), the client authenticated at `now`:
    /// the Basic header, or the form fields of [`Self::authentication`] (a `client_id` already
    /// among `fields` is not sent twice).
    ///
    /// # Errors
    ///
    /// As [`Self::assertion_fields`].
    pub fn form_post(
        &self,
        url: &url::Url,
        fields: &[(&str, &str)],
        now: u64,
    ) -> Result<openidconnect::HttpRequest, Error> {
        let auth = self.authentication(now)?;
        let has_id = fields.iter().any(|(name, _)| *name == "client_id");
        let ours = auth.form.iter().filter(|(name, _)| !(has_id && *name == "client_id"));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().copied())
            .extend_pairs(ours.map(|(name, value)| (*name, value.expose_secret())))
            .finish();
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json");
        if let Some(header) = &auth.header {
            req = req.header(http::header::AUTHORIZATION, header.expose_secret());
        }
        req.body(body.into_bytes())
            .map_err(|_| Error::Internal("an authenticated form request could not be built".into()))
    }

    fn sign_assertion(
        &self,
        key: &ClientKey,
        audience: &str,
        now: u64,
    ) -> Result<SecretString, Error> {
        let signer = key.signing_key();
        let header =
            AssertionHeader { alg: signer.alg_name(), kid: signer.kid(), x5t_s256: key.x5t_s256() };
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: audience,
            jti: new_jti()?,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let mut token = b64_json(&header)?;
        token.push('.');
        token.push_str(&b64_json(&claims)?);
        let signature = signer
            .sign(token.as_bytes())
            .map_err(|_| Error::Internal("client assertion signing failed".into()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(SecretString::from(token))
    }
}

#[cfg(test)]
mod tests;
