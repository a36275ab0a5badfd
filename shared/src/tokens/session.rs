//! Our own JWT: minted after a successful callback, verified by our functions and any API.
//!
//! Header `{"alg", "typ": "JWT", "kid"}`; claims `iss`, `aud`, `sub`, `iat`, `exp`, `jti`,
//! `email` and `name` when known, and the provider's issuer as `idp`.

use std::collections::HashSet;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use crate::error::{Error, VerifyError};
use crate::infra::config::Config;
use crate::tokens::claims::{Extra, RESERVED};
use crate::tokens::secret::KeyRing;
use crate::tokens::signing::SigningKey;

/// Clock skew tolerated when verifying our own tokens.
pub const LEEWAY_SECS: u64 = 30;

/// The longest token of ours: a `__Host-session` cookie carrying it, with its name and
/// attributes, stays within the 4096 bytes every browser keeps (RFC 6265 6.1); a longer one is
/// dropped silently, which in the server flow is a login loop.
pub const MAX_TOKEN_BYTES: usize = 3_968;

/// The claims of our JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// `SESSION_ISSUER`.
    pub iss: String,
    /// `SESSION_AUDIENCE`.
    pub aud: String,
    /// The provider's `sub`.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Unique id of this token.
    pub jti: String,
    /// E-mail, when the provider told it and stated it verified (or `OIDC_UNVERIFIED_EMAIL`
    /// is `include`). Not an identifier: `sub` with `idp` is (OpenID Connect Core 5.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider verified `email`, as it stated; present exactly when `email` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Display name, when the provider told it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The provider's issuer.
    pub idp: String,
    /// Our session, when sessions are on (its id, not the browser's handle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The remote API this token was minted for by the proxy (`REMOTE_APIS` name): such a
    /// token is refused by [`SessionTokens::verify`], so a remote API cannot replay it to us
    /// (at `/api/me`, behind the authorizer, or as a session cookie at the proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The provider's claims `JWT_CLAIMS` copies (`groups`, `roles`, ...), never one of the
    /// above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The user a token is minted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The provider's `sub`.
    pub sub: String,
    /// E-mail, when known.
    pub email: Option<String>,
    /// `email_verified` as the provider stated it for that e-mail.
    pub email_verified: Option<bool>,
    /// Display name, when known.
    pub name: Option<String>,
    /// The claims `JWT_CLAIMS` copied from the provider at login.
    #[serde(default, skip_serializing_if = "Extra::is_empty")]
    pub extra: Extra,
}

/// Mints and verifies our JWTs.
#[derive(Debug)]
pub struct SessionTokens {
    issuer: String,
    audience: String,
    ttl: Duration,
    keys: KeyRing<SigningKey>,
}

#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl SessionTokens {
    /// Tokens of `issuer` for `audience`, living `ttl`, signed by the active key of `keys`.
    pub fn new(issuer: String, audience: String, ttl: Duration, keys: KeyRing<SigningKey>) -> Self {
        Self { issuer, audience, ttl, keys }
    }

    /// Tokens as configured (`SESSION_ISSUER`, `SESSION_AUDIENCE`, `SESSION_TTL_SECONDS`).
    pub fn from_config(config: &Config, keys: KeyRing<SigningKey>) -> Self {
        Self::new(
            config.session_issuer.clone(),
            config.session_audience.clone(),
            config.session_ttl,
            keys,
        )
    }

    /// `iss` of our tokens (`SESSION_ISSUER`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The lifetime of minted tokens.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// All keys, active first (for a JWKS).
    pub fn keys(&self) -> &KeyRing<SigningKey> {
        &self.keys
    }

    /// Mints a token for `user`, issued at `now` (Unix seconds), signed by the active key.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or signing fails.
    pub fn mint(&self, user: &User, idp: &str, now: u64) -> Result<String, Error> {
        self.mint_in_session(user, idp, None, now)
    }

    /// [`SessionTokens::mint`] with the `sid` claim naming our session `sid`, when there is one.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or signing fails.
    pub fn mint_in_session(
        &self,
        user: &User,
        idp: &str,
        sid: Option<&str>,
        now: u64,
    ) -> Result<String, Error> {
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.sub.clone(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            jti: new_jti()?,
            email: user.email.clone(),
            email_verified: user.email.as_ref().and(user.email_verified),
            name: user.name.clone(),
            idp: idp.to_owned(),
            sid: sid.map(str::to_owned),
            api: None,
            extra: user
                .extra
                .iter()
                .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        };
        self.sign(&claims)
    }

    /// [`SessionTokens::mint_in_session`] for a token that must fit the `__Host-session` cookie
    /// (and any header): when it would be longer than [`MAX_TOKEN_BYTES`], the copied claims
    /// of `user` are left out, the largest first, each logged by name and size, until it fits;
    /// `user` is left as the token says it.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or signing fails.
    pub fn mint_fitting(
        &self,
        user: &mut User,
        idp: &str,
        sid: Option<&str>,
        now: u64,
    ) -> Result<String, Error> {
        loop {
            let token = self.mint_in_session(user, idp, sid, now)?;
            if token.len() <= MAX_TOKEN_BYTES {
                return Ok(token);
            }
            let largest = user
                .extra
                .iter()
                .map(|(name, value)| (serde_json::to_string(value).map_or(0, |v| v.len()), name))
                .max()
                .map(|(size, name)| (size, name.clone()));
            let Some((size, name)) = largest else {
                // `name` and `email` are capped, `sub` and `idp` bounded: never seen.
                return Err(Error::Internal("our token outgrows a cookie without claims".into()));
            };
            tracing::warn!(claim = %name, size, token = token.len(), cap = MAX_TOKEN_BYTES, "our token would outgrow its cookie: claim left out");
            user.extra.remove(&name);
        }
    }

    /// A token for remote API `api` (the proxy's `ours` mode): the claims of the caller's
    /// verified token `of`, with `aud` = `audience`, `api` = `api`, a fresh `jti`, issued at
    /// `now`, expiring with `of` (never later than our lifetime from `now`).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness or signing fails.
    pub fn mint_for_audience(
        &self,
        of: &SessionClaims,
        api: &str,
        audience: &str,
        now: u64,
    ) -> Result<String, Error> {
        let claims = SessionClaims {
            api: Some(api.to_owned()),
            aud: audience.to_owned(),
            iat: now,
            exp: of.exp.min(now + self.ttl.as_secs()),
            jti: new_jti()?,
            ..of.clone()
        };
        self.sign(&claims)
    }

    /// `claims` signed by the active key, as a compact JWS.
    fn sign(&self, claims: &SessionClaims) -> Result<String, Error> {
        let key = self.keys.active();
        let header = JwsHeader { alg: key.alg_name(), typ: "JWT", kid: key.kid() };
        let mut token = b64_json(&header)?;
        token.push('.');
        token.push_str(&b64_json(claims)?);
        let signature =
            key.sign(token.as_bytes()).map_err(|_| Error::Internal("signing failed".into()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }

    /// Verifies one of our tokens at `now` (Unix seconds): `kid` names one of our keys, `alg` is
    /// that key's algorithm, the signature holds, `iss` and `aud` are ours, `exp` has not
    /// passed (beyond [`LEEWAY_SECS`]), and it was not minted for a remote API.
    ///
    /// # Errors
    ///
    /// [`VerifyError`].
    pub fn verify(&self, token: &str, now: u64) -> Result<SessionClaims, VerifyError> {
        let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(VerifyError::Malformed)?;
        let key = self.keys.iter().find(|k| k.kid() == kid).ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.algorithm() {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let mut validation = Validation::new(key.algorithm());
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.required_spec_claims = ["exp", "iat", "iss", "aud", "sub"]
            .into_iter()
            .map(String::from)
            .collect::<HashSet<_>>();
        // `exp` is checked below against the `now` passed in, not jsonwebtoken's clock.
        validation.validate_exp = false;
        let claims = decode::<SessionClaims>(token, key.decoding_key(), &validation)
            .map_err(|_| VerifyError::Invalid)?
            .claims;
        if claims.exp.saturating_add(LEEWAY_SECS) < now {
            return Err(VerifyError::Expired);
        }
        if claims.api.is_some() {
            return Err(VerifyError::ForRemoteApi);
        }
        Ok(claims)
    }
}

/// A fresh `jti`: 128 random bits.
pub(crate) fn new_jti() -> Result<String, Error> {
    let mut jti = [0u8; 16];
    SystemRandom::new()
        .fill(&mut jti)
        .map_err(|_| Error::Internal("no randomness for jti".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(jti))
}

/// `value` as base64url JSON: a part of a compact JWS.
pub(crate) fn b64_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_vec(value)
        .map(|json| URL_SAFE_NO_PAD.encode(json))
        .map_err(|_| Error::Internal("token part not serializable".into()))
}

#[cfg(test)]
mod tests;
