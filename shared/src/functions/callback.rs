//! The `callback` function: `/api/callback` and `/authorization-code/callback` finish a login.
//!
//! The checks run in this order, each with its own error code: the transaction cookie (present,
//! sealed by us, not expired, same flow); `state` (constant time); RFC 9207 `iss`; the
//! provider's `error=` (`login_required` and its kind keep their code, for the SPA); the code
//! exchange (client secret + PKCE verifier); the ID token (signature, `iss`, `aud`, `azp`,
//! `exp`, `iat`, `nonce`, `at_hash`, `sub`, and `auth_time` and `acr` when the login asked
//! for `max_age` or `acr_values`); userinfo `sub`;
//! then our JWT is minted. The login's own transaction cookie (named after `state`) is cleared
//! on every answer that names it; other logins in flight in the browser are left alone.
//!
//! # Security
//!
//! The provider's access, refresh and ID tokens never leave this module: the answer carries
//! only our JWT and the user's `sub`, `email` and `name`.

use std::time::Duration;

use http::StatusCode;
use openidconnect::core::CoreTokenResponse;
use openidconnect::{Nonce, OAuth2TokenResponse as _, TokenResponse as _};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::start::{ColdStart, DiscoveredWithKeys, Parts, StartError, Verifying, WithProvider};
use crate::error::{Error, InteractionNeeded};
use crate::infra::config::claims::ClaimCopy;
use crate::infra::config::{BrowserTokens, Config};
use crate::infra::http::Http;
use crate::infra::metrics;
use crate::oidc::dpop::DpopKey;
use crate::oidc::exchange::{UserInfo, exchange_code, sanitize_code, userinfo};
use crate::oidc::id_token;
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::oidc::provider::Providers;
use crate::return_to::ReturnTo;
use crate::sessions::{Handle, Owner, ProviderTokens, Sessions};
use crate::tokens::secret::{CookieKey, KeyRing};
use crate::tokens::session::{SessionTokens, User};
use crate::tokens::transaction::{Flow, Transaction};
use crate::web::cookies;
use crate::web::request::{MAX_INPUT, Query, Request};
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route, log_refusal, within_deadline};

/// The callback function's state: everything a login's second half needs.
#[derive(Debug)]
pub struct Callback {
    config: Config,
    providers: Providers<Verifying>,
    http: Http,
    cookie_keys: KeyRing<CookieKey>,
    session: SessionTokens,
    sessions: Option<Sessions>,
    /// How the user is made from the provider's word.
    rules: UserRules,
}

impl ColdStart for Callback {
    type Fetch = DiscoveredWithKeys;

    fn build(parts: Parts, fetched: DiscoveredWithKeys) -> Result<Self, StartError> {
        Self::with_jwks_cooldown(parts, fetched, JWKS_REFETCH_COOLDOWN)
    }
}

impl Callback {
    /// [`ColdStart::build`] with another least time between two JWKS fetches (tests).
    ///
    /// # Errors
    ///
    /// [`StartError::Provider`] when the provider cannot serve this relying party.
    pub fn with_jwks_cooldown(
        parts: Parts,
        fetched: DiscoveredWithKeys,
        cooldown: Duration,
    ) -> Result<Self, StartError> {
        let WithProvider { config, http, providers, signing_keys, cookie_keys, sessions } =
            parts.with_provider(fetched, cooldown)?;
        let session = SessionTokens::from_config(&config, signing_keys);
        let rules = UserRules::from_config(&config);
        Ok(Self { config, providers, http, cookie_keys, session, sessions, rules })
    }

    /// Our JWTs (tests verify what the callback minted).
    pub fn session(&self) -> &SessionTokens {
        &self.session
    }

    /// The cookie keys (tests seal transactions of their own).
    pub fn cookie_keys(&self) -> &KeyRing<CookieKey> {
        &self.cookie_keys
    }
}

/// What the provider sent back through the browser.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// `state`, to match the transaction's.
    pub state: Option<String>,
    /// RFC 9207 issuer identifier.
    pub iss: Option<String>,
    /// The provider's error code, when it refused.
    pub error: Option<String>,
    /// Ignored and never shown: the provider's words.
    #[serde(default)]
    pub error_description: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub error_uri: Option<String>,
    /// Ignored (some providers echo it).
    #[serde(default)]
    pub session_state: Option<String>,
}

impl CallbackParams {
    /// Reads the parameters from a query string.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] when a parameter is repeated or the query is too long.
    pub fn from_query(raw: Option<&str>) -> Result<Self, Error> {
        let q = Query::parse(raw)?;
        let get = |k: &str| q.get(k).map(str::to_owned);
        Ok(Self {
            code: get("code"),
            state: get("state"),
            iss: get("iss"),
            error: get("error"),
            error_description: None,
            error_uri: None,
            session_state: None,
        })
    }

    /// Reads the parameters from a JSON body `{code, state, iss?}`.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] when the body is not such JSON or is too large.
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        if body.len() > MAX_INPUT {
            return Err(Error::BadRequest("The request body is too large."));
        }
        serde_json::from_slice(body).map_err(|_| {
            Error::BadRequest("The body must be JSON: {\"code\", \"state\", \"iss\"}.")
        })
    }
}

/// A finished login.
#[derive(Debug)]
pub struct Completed {
    /// Our JWT.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The user.
    pub user: User,
    /// Where the app goes now.
    pub return_to: ReturnTo,
    /// The session's handle, for the `__Host-refresh` cookie, when sessions are on.
    pub handle: Option<Handle>,
}

impl Callback {
    /// Finishes a login of `flow`. See the module documentation for the order of checks.
    ///
    /// # Errors
    ///
    /// The [`Error`] of the first check that fails.
    pub async fn complete(
        &self,
        flow: Flow,
        params: &CallbackParams,
        cookie_header: Option<&str>,
        user_agent: Option<&str>,
        now: u64,
    ) -> Result<Completed, Error> {
        let (tx, code) = self.check_callback(flow, params, cookie_header, now)?;
        // The provider the login started with, and no other, from here on.
        let upstream = self.upstream(&tx)?;
        let provider = &upstream.provider;
        // OIDC_DPOP: the key the login made and bound the code to (one made here for a login
        // started before DPoP was on); the tokens are bound to it from the start.
        let dpop = DpopKey::of_session(provider.dpop, tx.dpop_key.as_ref())?;
        let tokens =
            exchange_code(provider, &self.http, flow, code, &tx.pkce_verifier, dpop.as_ref())
                .await?;
        let verified = self.check_tokens(&tx, &tokens, now).await?;
        let provider_sid = verified.provider_sid();
        let info = match provider.userinfo {
            true => {
                let sub = &verified.user.sub;
                let access = tokens.access_token();
                Some(userinfo(provider, &self.http, access, sub, dpop.as_ref()).await?)
            }
            false => None,
        };
        let issuer = verified.issuer.clone();
        let mut user = self.rules.user(verified, info);
        // The token's own issuer: the provider's, or its user's tenant's (Entra ID multi-tenant).
        let idp = &issuer;
        let (token, handle) = match &self.sessions {
            None => (self.session.mint_fitting(&mut user, idp, None, now)?, None),
            Some(sessions) => {
                let margin = sessions.settings().renew_margin;
                let ttl = self.session.ttl();
                let mut stored = ProviderTokens::from_response(&tokens, None, now, ttl, margin);
                stored.dpop_key = dpop.as_ref().map(DpopKey::to_stored);
                let device = crate::sessions::device_label(user_agent);
                let owner = Owner {
                    user: &user,
                    idp,
                    provider: &provider.name,
                    provider_sid: provider_sid.as_deref(),
                    device: device.as_deref(),
                };
                let (handle, sid) = sessions.create(&owner, &stored, now).await?;
                // The login stands whatever happens here: the cap is enforced again by the
                // user's next login.
                let cap = sessions.end_beyond_cap(idp, &user.sub, &sid);
                match tokio::time::timeout(CAP_BUDGET, cap).await.unwrap_or_else(|_| {
                    Err(Error::SessionStore("the cap took longer than its budget".into()))
                }) {
                    Ok(0) => {}
                    Ok(ended) => {
                        metrics::sessions_ended(metrics::Ended::OverCap, ended);
                        tracing::info!(
                            ended,
                            "oldest sessions of the user ended (SESSION_MAX_PER_USER)"
                        );
                    }
                    Err(err) => {
                        tracing::warn!(error = err.code(), detail = %err, "sessions over the cap not ended")
                    }
                }
                (self.session.mint_fitting(&mut user, idp, Some(&sid), now)?, Some(handle))
            }
        };
        Ok(Completed {
            token,
            expires_in: self.session.ttl().as_secs(),
            user,
            return_to: tx.return_to,
            handle,
        })
    }

    /// The checks before the code exchange: the transaction cookie (present, sealed by us, not
    /// expired, same flow), `state` in constant time, the RFC 9207 `iss`, the provider's
    /// `error=`, and a code. Returns the opened transaction and the code.
    ///
    /// # Errors
    ///
    /// The [`Error`] of the first check that fails.
    pub fn check_callback<'p>(
        &self,
        flow: Flow,
        params: &'p CallbackParams,
        cookie_header: Option<&str>,
        now: u64,
    ) -> Result<(Transaction, &'p str), Error> {
        let header = cookie_header.unwrap_or_default();
        let state = params.state.as_deref().filter(|s| !s.is_empty());
        let own = match state {
            Some(state) => cookies::transaction(header, &cookies::transaction_name(state))?,
            None => None,
        };
        let sealed = match own {
            Some(sealed) => sealed,
            None if cookies::transactions(header).next().is_none() => {
                return Err(Error::TransactionMissing);
            }
            // Logins are in flight, but none is this state's.
            None => return Err(Error::StateMismatch),
        };
        let tx = Transaction::open(sealed, &self.cookie_keys, now)?;
        if tx.flow != flow {
            return Err(Error::TransactionFlowMismatch);
        }
        let sent_state = params.state.as_deref().unwrap_or_default();
        if !bool::from(sent_state.as_bytes().ct_eq(tx.state.as_bytes())) || sent_state.is_empty() {
            return Err(Error::StateMismatch);
        }
        // RFC 9207: `iss`, when sent, must be the issuer of the provider this login started
        // with (whether or not it announces the parameter); one that announces it must send it.
        let provider = &self.upstream(&tx)?.provider;
        match params.iss.as_deref() {
            Some(iss) if iss != provider.issuer => return Err(Error::IssuerMismatch),
            None if provider.iss_parameter_supported => return Err(Error::IssuerMismatch),
            _ => {}
        }
        if let Some(error) = params.error.as_deref() {
            // `login_required` and its kind (after `prompt=none`): a code the SPA acts on.
            return Err(match InteractionNeeded::from_code(error) {
                Some(needed) => Error::InteractionNeeded(needed),
                None => Error::LoginFailed(sanitize_code(error)),
            });
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(Error::BadRequest("The callback carries no code."))?;
        Ok((tx, code))
    }

    /// The checks of the token response: `token_type` was checked by the exchange; here the ID
    /// token is required and verified against the login transaction at `now`, with what the
    /// login asked for (`max_age`, `acr_values`).
    ///
    /// # Errors
    ///
    /// [`Error::IdTokenMissing`] or the ID token check that failed.
    pub async fn check_tokens(
        &self,
        tx: &Transaction,
        tokens: &CoreTokenResponse,
        now: u64,
    ) -> Result<id_token::Verified, Error> {
        let id_token = tokens.id_token().ok_or(Error::IdTokenMissing)?;
        let nonce = Nonce::new(tx.nonce.expose_secret().to_owned());
        let jwks = &self.upstream(tx)?.jwks;
        let asked = id_token::Asked { max_age: tx.max_age, acr_values: &tx.acr_values };
        let access = tokens.access_token();
        id_token::verify(jwks, id_token, access, &nonce, tx.issued_at, asked, now).await
    }

    /// The provider the login of `tx` started with.
    ///
    /// # Errors
    ///
    /// [`Error::ProviderGone`] when the configuration no longer has it.
    fn upstream(&self, tx: &Transaction) -> Result<&Verifying, Error> {
        self.providers.named(tx.provider.as_deref()).map_err(|_| Error::ProviderGone)
    }
}

/// How long a login may spend ending the user's sessions beyond `SESSION_MAX_PER_USER`: the
/// login stands when it runs out (the next login ends them), rather than answer a timeout
/// for a session already stored.
const CAP_BUDGET: Duration = Duration::from_secs(2);

/// The longest `name` our JWT carries, in bytes; a longer one is left out (and logged).
pub const MAX_NAME_BYTES: usize = 256;

/// The longest `email` our JWT carries: an address is at most 254 characters (RFC 5321's
/// path limit), and the rest is no address; a longer one is left out (and logged).
pub const MAX_EMAIL_BYTES: usize = 254;

/// How the user of our JWTs is made from what the provider says: at login and at every
/// refresh grant, so that a refreshed JWT says what the provider says now.
#[derive(Debug, Clone)]
pub(super) struct UserRules {
    /// `JWT_CLAIMS` and its caps.
    claims: ClaimCopy,
    /// `OIDC_UNVERIFIED_EMAIL`.
    include_unverified_email: bool,
}

impl UserRules {
    /// The rules of `config`.
    pub(super) fn from_config(config: &Config) -> Self {
        Self {
            claims: config.claims.clone(),
            include_unverified_email: config.include_unverified_email,
        }
    }

    /// The user of a verified ID token and, when the provider is asked, its userinfo: `email`
    /// (with its verification) and `name` from userinfo first, the copied claims from userinfo
    /// first, each capped ([`ClaimCopy::copy`]); an e-mail kept only if verified (unless
    /// `OIDC_UNVERIFIED_EMAIL`). Whatever neither source says now is left out.
    pub(super) fn user(&self, verified: id_token::Verified, info: Option<UserInfo>) -> User {
        let id_token::Verified { mut user, claims: id_claims, .. } = verified;
        let mut info_claims = None;
        if let Some(info) = info {
            // An e-mail and its verification travel together, from whichever source gave it.
            if info.email.is_some() {
                (user.email, user.email_verified) = (info.email, info.email_verified);
            }
            user.name = info.name.or(user.name);
            info_claims = Some(info.claims);
        }
        if !self.claims.names.is_empty() {
            user.extra = self.claims.copy(&id_claims, info_claims.as_ref());
        }
        keep_email_if_verified(&mut user, self.include_unverified_email);
        if user.name.as_ref().is_some_and(|name| name.len() > MAX_NAME_BYTES) {
            let size = user.name.take().map_or(0, |name| name.len());
            tracing::warn!(
                claim = "name",
                size,
                cap = MAX_NAME_BYTES,
                "claim too large, left out of our JWT"
            );
        }
        if user.email.as_ref().is_some_and(|email| email.len() > MAX_EMAIL_BYTES) {
            let size = user.email.take().map_or(0, |email| email.len());
            user.email_verified = None;
            tracing::warn!(
                claim = "email",
                size,
                cap = MAX_EMAIL_BYTES,
                "claim too large, left out of our JWT"
            );
        }
        user
    }
}

/// OpenID Connect Core 5.7: an e-mail address is not an identifier, and one the provider does
/// not state as verified may not even be the user's. It is kept only with `email_verified:
/// true`, or, when `OIDC_UNVERIFIED_EMAIL=include`, with `email_verified: false`.
fn keep_email_if_verified(user: &mut User, include_unverified: bool) {
    match (user.email.is_some(), user.email_verified) {
        (true, Some(true)) => {}
        (true, _) if include_unverified => user.email_verified = Some(false),
        _ => (user.email, user.email_verified) = (None, None),
    }
}

#[derive(Serialize)]
struct CallbackBody<'a> {
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    user: &'a User,
    return_to: &'a str,
}

/// The SPA flow's answer when no token may reach JavaScript: the user and how long the
/// session cookie lives (and, at the callback, where the app goes).
#[derive(Serialize)]
pub(super) struct CookieOnlyBody<'a> {
    pub(super) expires_in: u64,
    pub(super) user: &'a User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) return_to: Option<&'a str>,
}

/// Whether this answer must keep our JWT out of its body (RFC 10017 section 6.1): always with
/// `BROWSER_TOKENS=none` (and with the server flow only), and in every mode for a request that
/// carries the `HttpOnly` session cookie, whose holder chose the cookie; a script must not be
/// able to trade that cookie for a token it can read.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when the session cookie appears twice.
pub(super) fn cookie_only(mode: BrowserTokens, req: &Request<'_>) -> Result<bool, Error> {
    let carries_session = match req.cookies.as_deref() {
        Some(header) => cookies::session(header)?.is_some(),
        None => false,
    };
    Ok(mode == BrowserTokens::None || carries_session)
}

/// How a callback arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRoute {
    /// `GET /api/callback?code&state[&iss]`.
    SpaQuery,
    /// `POST /api/callback` `{code, state, iss?}`.
    SpaJson,
    /// `GET /authorization-code/callback?...`.
    Server,
}

impl CallbackRoute {
    fn flow(self) -> Flow {
        match self {
            Self::SpaQuery | Self::SpaJson => Flow::Spa,
            Self::Server => Flow::Server,
        }
    }

    /// The parameters of a callback arriving by this route.
    fn params(self, req: &Request<'_>) -> Result<CallbackParams, Error> {
        match self {
            Self::SpaQuery | Self::Server => CallbackParams::from_query(req.query),
            // A cross-site form can post text/plain or form data without a preflight; JSON
            // it cannot.
            Self::SpaJson if !req.is_json() => Err(Error::UnsupportedMediaType),
            Self::SpaJson => CallbackParams::from_json(req.body),
        }
    }
}

/// The name of the transaction cookie of this callback's login, when the request carries it.
fn own_transaction(params: &CallbackParams, req: &Request<'_>) -> Option<String> {
    let name = cookies::transaction_name(params.state.as_deref().filter(|s| !s.is_empty())?);
    let header = req.cookies.as_deref()?;
    cookies::transactions(header).any(|(n, _)| n == name).then_some(name)
}

/// Every answer of a known callback route clears the login's own transaction cookie (and no
/// other) and sends no referrer.
fn finish(response: Response, own: Option<String>) -> Response {
    own.map(|name| cookies::clear_transaction(&name))
        .into_iter()
        .fold(response, Response::set_cookie)
        .header(http::header::REFERRER_POLICY, "no-referrer")
}

impl HttpFunction for Callback {
    type Route = CallbackRoute;

    const ROUTES: &'static [Route<CallbackRoute>] = &[
        Route::get("/api/callback", CallbackRoute::SpaQuery),
        Route::post("/api/callback", CallbackRoute::SpaJson),
        Route::get("/authorization-code/callback", CallbackRoute::Server),
    ];

    fn counted(_: CallbackRoute) -> Option<&'static str> {
        Some(crate::infra::metrics::LOGIN_COMPLETED)
    }

    /// - `GET /api/callback` and `POST /api/callback`: `200` JSON with our JWT; with
    ///   `BROWSER_TOKENS=none` (or a request carrying `__Host-session`), the user, its lifetime
    ///   and `return_to` only, our JWT in the `HttpOnly` session cookie.
    /// - `GET /authorization-code/callback`: `303` to the app with our JWT in an `HttpOnly`
    ///   session cookie.
    async fn handle(
        &self,
        route: CallbackRoute,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Response, Error> {
        let params = route.params(req)?;
        let work = self.complete(
            route.flow(),
            &params,
            req.cookies.as_deref(),
            req.header("user-agent"),
            now,
        );
        // One budget for the token call, a JWKS refetch and userinfo: whatever happens at the
        // provider, the answer (JSON or the server flow's redirect, the cookie cleared) leaves
        // before the invocation's deadline.
        // Decided before the provider is called: a duplicated session cookie is refused
        // before the code is spent.
        let cookie_only = cookie_only(self.config.browser_tokens, req)?;
        let done = within_deadline(req, work).await?;
        let response = match route.flow() {
            Flow::Spa if cookie_only => Response::json(
                StatusCode::OK,
                &CookieOnlyBody {
                    expires_in: done.expires_in,
                    user: &done.user,
                    return_to: Some(done.return_to.as_str()),
                },
            )
            .set_cookie(cookies::set_session(&done.token, done.expires_in)),
            Flow::Spa => Response::json(
                StatusCode::OK,
                &CallbackBody {
                    token: &done.token,
                    token_type: "Bearer",
                    expires_in: done.expires_in,
                    user: &done.user,
                    return_to: done.return_to.as_str(),
                },
            ),
            Flow::Server => Response::redirect(
                StatusCode::SEE_OTHER,
                &self.config.app_url(done.return_to.as_str()),
            )
            .set_cookie(cookies::set_session(&done.token, done.expires_in)),
        };
        let response = match (&done.handle, &self.sessions) {
            (Some(handle), Some(sessions)) => response.set_cookie(cookies::set_refresh(
                handle.expose(),
                sessions.settings().max_age.as_secs(),
            )),
            _ => response,
        };
        Ok(finish(response, own_transaction(&params, req)))
    }

    /// The SPA flow answers the JSON error; the server flow redirects to
    /// `POST_LOGIN_PATH?error=<code>`. Both clear the login's transaction cookie when the
    /// callback names one the browser holds.
    fn refuse(&self, route: Option<CallbackRoute>, req: &Request<'_>, err: Error) -> Response {
        log_refusal(req, &err);
        let own = route.and_then(|r| r.params(req).ok()).and_then(|p| own_transaction(&p, req));
        match route.map(CallbackRoute::flow) {
            None => Response::error(&err),
            Some(Flow::Spa) => finish(Response::error(&err), own),
            Some(Flow::Server) => {
                let path = self.config.post_login_path.as_str();
                let sep = if path.contains('?') { '&' } else { '?' };
                let location = self.config.app_url(&format!("{path}{sep}error={}", err.code()));
                finish(Response::redirect(StatusCode::SEE_OTHER, &location), own)
            }
        }
    }
}

#[cfg(test)]
mod tests;
