//! The `logout` function: `POST /api/logout` and `GET /authorization-code/logout` forget the
//! session here, then send the browser to the provider's logout.
//!
//! Our JWTs are stateless: logout clears the session cookie and the transaction cookie, and the
//! SPA forgets its token; a bearer token already handed out stays valid until it expires (keep
//! `SESSION_TTL_SECONDS` short). The provider's session ends through its
//! `end_session_endpoint` (RP-initiated logout), when it announces one.
//!
//! With sessions on (`SESSION_TABLE`), logout also deletes the session of the handle cookie
//! and revokes its refresh token at the provider's `revocation_endpoint` (RFC 7009), when it
//! announces one; a revocation that fails is logged and the logout still completes.
//!
//! `POST /api/backchannel-logout` is the provider's call (OpenID Connect Back-Channel Logout
//! 1.0), server to server: a form with a `logout_token` ([`crate::oidc::logout_token`]) whose
//! `jti` was never seen (recorded in the session table, so on every instance) ends the
//! sessions it names. It needs no cookie and no CSRF header, never redirects, and answers
//! `200 {}` or `400 invalid_request`, both `no-store`.
//!
//! `POST /api/global-token-revocation` is Okta's Universal Logout ([`universal`]): a provider
//! of `GLOBAL_LOGOUT_PROVIDERS` ends every session of one of its users, and their refresh
//! tokens are revoked. `GET /api/sessions` and `DELETE /api/sessions/{sid}` ([`listing`]) let a
//! user see their sessions and end one from another.
//!
//! Whenever a logout ends other sessions than the caller's (everywhere, Universal Logout, a
//! user's `DELETE`), their refresh tokens are revoked too: each item is read, its token
//! revoked, then the item deleted at the version read, sixteen revocations at a time
//! ([`REVOCATIONS_IN_FLIGHT`]), until the invocation's deadline. What the deadline leaves
//! undone is still in the table, whole: the answer says so (`503 logout_incomplete`), and the
//! same request sent again revokes and ends the rest (a revocation sent twice is harmless, RFC
//! 7009). A revocation the provider refuses or does not answer is logged and counted, and its
//! session ends all the same.

use std::time::{Duration, Instant};

use http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::start::{ColdStart, Discovered, Parts, StartError};
use crate::error::Error;
use crate::infra::config::{GLOBAL_LOGOUT_PATH, GlobalLogout, LogoutStyle};
use crate::infra::http::Http;
use crate::infra::metrics;
use crate::oidc::dpop::DpopKey;
use crate::oidc::jwks::{JWKS_REFETCH_COOLDOWN, JwksCache};
use crate::oidc::logout_token::{self, MAX_AGE_SECS};
use crate::oidc::provider::{Provider, Providers, Upstream};
use crate::oidc::revoke::Revocation;
use crate::oidc::rp_logout::RpLogout;
use crate::sessions::{Ending, Handle, Named, Record, Revocable, Sessions};
use crate::tokens::session::SessionTokens;
use crate::web::cookies;
use crate::web::request::{Query, Request};
use crate::web::response::Response;
use crate::web::routes::{ANSWER_MARGIN, HttpFunction, Route, log_refusal};

/// The logout function's state: where logouts go, computed once at cold start.
#[derive(Debug)]
pub struct Logout {
    /// Each provider's logout, the default one first.
    providers: Providers<ProviderLogout>,
    /// Where the server flow goes when the provider has no logout: `POST_LOGIN_PATH`.
    home: String,
    /// The session table, when sessions are on.
    sessions: Option<Sessions>,
    http: Http,
    /// Our JWTs: who calls `/api/sessions` with one.
    session: SessionTokens,
    /// Universal Logout, when on (`GLOBAL_LOGOUT_PROVIDERS`).
    global: Option<GlobalLogout>,
}

/// The session a logout ended: its provider (configured name, when stored, and issuer) and
/// its last ID token (the logout's hint).
struct Ended {
    provider: Option<String>,
    idp: String,
    id_token: Option<SecretString>,
}

/// What logout needs of one provider.
#[derive(Debug)]
struct ProviderLogout {
    provider: Provider,
    /// Where the browser logs out at the provider.
    rp_logout: RpLogout,
    /// The provider's revocation endpoint, when it has one (with sessions).
    revocation: Option<Revocation>,
    /// The provider's keys for logout tokens, with sessions on: fetched by the first
    /// back-channel logout, so that the cold start of an ordinary logout does not pay for it.
    jwks: Option<JwksCache>,
}

impl Upstream for ProviderLogout {
    fn provider(&self) -> &Provider {
        &self.provider
    }
}

impl ColdStart for Logout {
    type Fetch = Discovered;

    fn build(parts: Parts, Discovered(metadata): Discovered) -> Result<Self, StartError> {
        let Parts { config, secret, http, dynamodb } = parts;
        let (client_secrets, signing_keys, cookie_keys) = secret.into_parts();
        let sessions = Parts::sessions(&config, dynamodb, &cookie_keys)?;
        let on = sessions.is_some();
        let providers = Parts::providers(
            &config,
            &client_secrets,
            metadata,
            |m| m,
            |provider, metadata| {
                let revocation = on.then(|| Revocation::from_metadata(&metadata, &provider));
                let jwks = on.then(|| {
                    let uri = metadata.jwks_uri().to_string();
                    JwksCache::unfetched(uri, &provider, http.clone(), JWKS_REFETCH_COOLDOWN)
                });
                let style = config.providers.iter().find(|p| p.name == provider.name);
                let style = style.map_or(LogoutStyle::Auto, |p| p.logout);
                let post_logout = config.post_logout_redirect_uri.as_ref();
                ProviderLogout {
                    rp_logout: RpLogout::new(&metadata, style, &provider.client_id, post_logout),
                    revocation: revocation.flatten(),
                    jwks,
                    provider,
                }
            },
        )?;
        Ok(Self {
            providers,
            home: config.app_url(config.post_login_path.as_str()),
            sessions,
            http,
            session: SessionTokens::from_config(&config, signing_keys),
            global: config.global_logout.clone(),
        })
    }
}

impl Logout {
    /// Ends the session of the handle in `cookie_header`, if sessions are on and there is one:
    /// the item is deleted, then its refresh token revoked at the provider (by `until`). With
    /// `everywhere`, every other session of its user at this provider is ended first, by
    /// `until`, each refresh token revoked before its item goes ([`Revoking`]). Returns the
    /// session's provider (its issuer) and last ID token, when there was a session.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`] when the table cannot be reached (the logout is refused, so the
    /// user can try again rather than believe the session ended);
    /// [`Error::LogoutIncomplete`] when `until` came before every other session had ended
    /// (this one is kept, so that the same request can end the rest).
    async fn end_session(
        &self,
        cookie_header: &str,
        everywhere: bool,
        until: Option<Instant>,
    ) -> Result<Option<Ended>, Error> {
        let Some(sessions) = &self.sessions else { return Ok(None) };
        let Some(handle) = cookies::refresh(cookie_header)?.and_then(Handle::parse) else {
            return Ok(None);
        };
        let Some(record) = sessions.get(&handle).await.or_else(|e| match e {
            Error::SessionExpired(_) => Ok(None),
            other => Err(other),
        })?
        else {
            sessions.delete(&handle.key()).await?;
            return Ok(None);
        };
        if everywhere {
            let user = Named::User(&record.user.sub);
            let revoking = Revoking::new(self);
            let revoker = revoking.revoker();
            let ending = sessions.end_provider_sessions(
                &record.idp,
                user,
                Some(&record.key),
                until,
                Some(&revoker),
            );
            let Ending { ended, complete } = ending.await?;
            metrics::sessions_ended(metrics::Ended::LogoutEverywhere, ended);
            let revoked = revoking.counts();
            tracing::info!(ended, complete, %revoked, "logout everywhere");
            if !complete {
                return Err(Error::LogoutIncomplete(ended));
            }
        }
        sessions.delete(&record.key).await?;
        metrics::sessions_ended(metrics::Ended::Logout, 1);
        let Record { provider, idp, tokens, .. } = record;
        if let Some(refresh_token) = tokens.refresh_token {
            let own = Revocable {
                provider: provider.clone(),
                idp: idp.clone(),
                refresh_token,
                dpop_key: tokens.dpop_key,
            };
            // Within the deadline, after however long the others took: the answer (the
            // provider's logout URL, the cookies cleared) must still leave.
            let revoked = match until {
                Some(until) => tokio::time::timeout_at(until.into(), self.revoke(&own)).await,
                None => Ok(self.revoke(&own).await),
            };
            match revoked.unwrap_or(Revoked::Failed(Error::ProviderTimeout("revocation".into()))) {
                Revoked::Done => {}
                Revoked::Failed(err) => {
                    tracing::warn!(error = err.code(), detail = %err, "refresh token not revoked");
                }
                // Said plainly, so that an operator does not believe the provider forgot it too.
                Revoked::NoEndpoint => tracing::info!(
                    "refresh token not revoked: the provider announces no revocation_endpoint; it lives at the provider until it expires"
                ),
            }
        }
        Ok(Some(Ended { provider, idp, id_token: tokens.id_token }))
    }

    /// Revokes the refresh token of `ended` at its provider.
    async fn revoke(&self, ended: &Revocable) -> Revoked {
        let provider = self.providers.of_session(ended.provider.as_deref(), &ended.idp);
        let Some(revocation) = provider.and_then(|p| p.revocation.as_ref()) else {
            return Revoked::NoEndpoint;
        };
        let dpop = ended.dpop_key.as_ref().and_then(|k| DpopKey::from_stored(k).ok());
        match revocation.revoke_refresh_token(&self.http, &ended.refresh_token, dpop.as_ref()).await
        {
            Ok(()) => Revoked::Done,
            Err(err) => Revoked::Failed(err),
        }
    }
}

/// Refresh tokens revoked in parallel while ending many sessions: enough for a thousand in a
/// few seconds at a provider answering in 50 ms, few enough not to look like an attack.
pub(crate) const REVOCATIONS_IN_FLIGHT: usize = 16;

/// One revocation's outcome.
enum Revoked {
    Done,
    Failed(Error),
    /// The provider announces no `revocation_endpoint`.
    NoEndpoint,
}

/// The revocations of one request's ending: at most [`REVOCATIONS_IN_FLIGHT`] at once,
/// each outcome counted for the log line.
struct Revoking<'a> {
    logout: &'a Logout,
    permits: tokio::sync::Semaphore,
    counts: std::sync::Mutex<Revocations>,
}

impl<'a> Revoking<'a> {
    fn new(logout: &'a Logout) -> Self {
        Self {
            logout,
            permits: tokio::sync::Semaphore::new(REVOCATIONS_IN_FLIGHT),
            counts: std::sync::Mutex::default(),
        }
    }

    /// Revokes `token`, once a permit is free, and counts the outcome.
    async fn revoke(&self, token: Revocable) {
        // Never closed: a permit always comes.
        let _permit = self.permits.acquire().await;
        let outcome = self.logout.revoke(&token).await;
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.asked += 1;
        match outcome {
            Revoked::Done => counts.revoked += 1,
            Revoked::Failed(err) => {
                counts.failed += 1;
                tracing::warn!(error = err.code(), detail = %err, "a refresh token not revoked");
            }
            Revoked::NoEndpoint => counts.no_endpoint += 1,
        }
    }

    /// What the session store calls before it deletes each session.
    fn revoker<'s>(&'s self) -> impl Fn(Revocable) -> BoxedRevocation<'s> + Send + Sync + 's {
        move |token| Box::pin(self.revoke(token))
    }

    fn counts(&self) -> Revocations {
        *self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One revocation in flight, as [`crate::sessions::Revoker`] hands it back.
type BoxedRevocation<'a> = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What [`Revoking`] did, for the log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Revocations {
    /// Refresh tokens sent to be revoked.
    asked: usize,
    revoked: usize,
    /// Refused by the provider, or unanswered.
    failed: usize,
    /// Of a provider with no revocation endpoint.
    no_endpoint: usize,
}

impl std::fmt::Display for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} refresh tokens revoked ({} failed, {} without a revocation endpoint)",
            self.revoked, self.asked, self.failed, self.no_endpoint,
        )
    }
}

impl Logout {
    /// A back-channel logout: the sessions the provider's valid, unseen logout token names are
    /// deleted. `Ok` also when they were none (an unknown `sid`).
    ///
    /// # Errors
    ///
    /// [`Error::LogoutTokenRefused`] for anything but a form with one valid, unseen
    /// `logout_token` (nothing is deleted then); [`Error::SessionsOff`];
    /// [`Error::SessionStore`] or [`Error::LogoutIncomplete`] (the deadline came before every
    /// session had ended): the token is forgotten again, so the provider's retry is no replay
    /// and ends the rest.
    async fn backchannel(&self, req: &Request<'_>, now: u64) -> Result<usize, Error> {
        let Some(sessions) = &self.sessions else {
            return Err(Error::SessionsOff);
        };
        if !req.has_content_type("application/x-www-form-urlencoded") {
            return Err(Error::LogoutTokenRefused("not a form body"));
        }
        let body = std::str::from_utf8(req.body)
            .map_err(|_| Error::LogoutTokenRefused("body is not UTF-8"))?;
        let form =
            Query::parse(Some(body)).map_err(|_| Error::LogoutTokenRefused("form malformed"))?;
        let token = form.get("logout_token").ok_or(Error::LogoutTokenRefused("no logout_token"))?;
        // The provider whose keys and exact issuer the token is then checked against.
        let jwks = logout_token::claimed_issuer(token)
            .and_then(|iss| self.providers.by_issuer(&iss))
            .and_then(|p| p.jwks.as_ref())
            .ok_or(Error::LogoutTokenRefused("iss is not a configured provider's issuer"))?;
        let token =
            logout_token::verify(jwks, token, now).await.map_err(Error::LogoutTokenRefused)?;
        let idp = token.iss.as_str();
        let keep_until = token.iat + MAX_AGE_SECS + 2 * crate::oidc::id_token::LEEWAY_SECS as u64;
        if !sessions.remember_logout_token(idp, &token.jti, keep_until).await? {
            return Err(Error::LogoutTokenRefused("jti replayed"));
        }
        let named = match (token.sid.as_deref(), token.sub.as_deref()) {
            (Some(sid), sub) => Named::ProviderSession { sid, sub },
            (None, Some(sub)) => Named::User(sub),
            (None, None) => return Err(Error::LogoutTokenRefused("neither sid nor sub")),
        };
        // The provider ended its session itself: nothing to revoke there.
        let ending = sessions.end_provider_sessions(idp, named, None, ending_by(req), None).await;
        let failed = match ending {
            Ok(Ending { ended, complete: true }) => {
                metrics::sessions_ended(metrics::Ended::Backchannel, ended);
                return Ok(ended);
            }
            Ok(Ending { ended, complete: false }) => {
                metrics::sessions_ended(metrics::Ended::Backchannel, ended);
                Error::LogoutIncomplete(ended)
            }
            Err(err) => err,
        };
        if let Err(again) = sessions.forget_logout_token(idp, &token.jti).await {
            tracing::warn!(error = again.code(), "logout token not forgotten");
        }
        Err(failed)
    }
}

/// Time kept back, besides [`ANSWER_MARGIN`], from the deadline of a logout that ends many
/// sessions: enough to forget a back-channel logout's token (one `DeleteItem`, a few
/// milliseconds when the table answers at all), so that the provider's retry is not refused
/// as a replay. A table slower than that can still leave the token recorded: the provider's
/// retry is then refused, and the sessions left end at their idle time or maximum age.
const FORGET_MARGIN: Duration = Duration::from_secs(2);

/// When a logout must stop ending sessions: the invocation's deadline less the margins;
/// `None` (no limit) without a deadline (tests).
fn ending_by(req: &Request<'_>) -> Option<Instant> {
    let margin = ANSWER_MARGIN + FORGET_MARGIN;
    req.deadline.map(|deadline| deadline.checked_sub(margin).unwrap_or_else(Instant::now))
}

/// The largest `POST /api/logout` body read: what it may hold is a few dozen bytes, and
/// nothing larger is parsed.
const MAX_LOGOUT_BODY: usize = 1024;

/// `POST /api/logout`'s optional JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    /// End every session of the user (at this provider), not only this browser's.
    #[serde(default)]
    everywhere: bool,
    /// The provider to log out of, when no session names it (stateless; default: the
    /// default provider).
    #[serde(default)]
    provider: Option<String>,
}

impl LogoutRequest {
    /// No body, or `{"everywhere": true|false, "provider": "<name>"}` sent as JSON, of at most
    /// [`MAX_LOGOUT_BODY`] bytes.
    fn from_body(req: &Request<'_>) -> Result<Self, Error> {
        if req.body.is_empty() {
            return Ok(Self::default());
        }
        if req.body.len() > MAX_LOGOUT_BODY {
            return Err(Error::RequestTooLarge);
        }
        if !req.is_json() {
            return Err(Error::UnsupportedMediaType);
        }
        serde_json::from_slice(req.body).map_err(|_| {
            Error::BadRequest(
                "The body must be empty or {\"everywhere\": true, \"provider\": \"<name>\"}.",
            )
        })
    }
}

#[derive(Serialize)]
struct LogoutBody<'a> {
    /// Where to send the browser to end the provider's session too.
    logout_url: Option<&'a str>,
    /// `redirect`: go to `logout_url`; `unsupported`: the provider has no logout for relying
    /// parties, so its own session goes on (the user signs out there, if at all).
    provider_logout: &'static str,
}

/// The two ways to log out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRoute {
    /// `POST /api/logout`: JSON.
    Api,
    /// `GET /authorization-code/logout`: a redirect.
    Server,
    /// `POST /api/backchannel-logout`: the provider's logout token.
    Backchannel,
    /// `POST /api/global-token-revocation`: the provider's Universal Logout.
    GlobalRevocation,
    /// `GET /api/sessions`: the caller's user's sessions.
    Sessions,
    /// `DELETE /api/sessions/{sid}`: end one of them.
    EndSession,
}

impl HttpFunction for Logout {
    type Route = LogoutRoute;

    const ROUTES: &'static [Route<LogoutRoute>] = &[
        Route::post("/api/logout", LogoutRoute::Api),
        Route::get("/authorization-code/logout", LogoutRoute::Server),
        Route::post("/api/backchannel-logout", LogoutRoute::Backchannel),
        Route::post(GLOBAL_LOGOUT_PATH, LogoutRoute::GlobalRevocation),
        Route::get("/api/sessions", LogoutRoute::Sessions),
        Route::delete("/api/sessions/{sid}", LogoutRoute::EndSession),
    ];

    /// - `POST /api/logout` answers `200 {"logout_url": ...}`. It requires `X-CSRF: 1`, with or
    ///   without a cookie, so a cross-site form cannot log anyone out (a cross-site script
    ///   cannot send the header without a CORS preflight that API Gateway refuses).
    /// - `GET /authorization-code/logout` answers `303` to the provider's logout, or to
    ///   `POST_LOGIN_PATH` when the provider has none.
    /// - `POST /api/backchannel-logout` answers `200 {}` (see the module documentation).
    ///
    /// The first two clear the session cookies and every login transaction cookie the browser
    /// sends.
    async fn handle(
        &self,
        route: LogoutRoute,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Response, Error> {
        let (everywhere, named) = match route {
            LogoutRoute::Backchannel => {
                let ended = self.backchannel(req, now).await?;
                tracing::info!(ended, "back-channel logout");
                return Ok(Response::raw_json(StatusCode::OK, "{}".to_owned()));
            }
            LogoutRoute::GlobalRevocation => return self.global_revocation(req, now).await,
            LogoutRoute::Sessions => return self.list_sessions(req, now).await,
            LogoutRoute::EndSession => return self.end_one_session(req, now).await,
            LogoutRoute::Api if !req.csrf => return Err(Error::CsrfRequired),
            LogoutRoute::Api => {
                let body = LogoutRequest::from_body(req)?;
                (body.everywhere, body.provider)
            }
            LogoutRoute::Server => {
                (false, Query::parse(req.query)?.get("provider").map(Into::into))
            }
        };
        // A session names its provider; without one, the request may (else the default one).
        let asked = self.providers.named(named.as_deref())?;
        let ended = self.end_session(
            req.cookies.as_deref().unwrap_or_default(),
            everywhere,
            ending_by(req),
        );
        let ended = ended.await?;
        let (session_provider, id_token) = match &ended {
            Some(Ended { provider, idp, id_token }) => {
                (self.providers.of_session(provider.as_deref(), idp), id_token.as_ref())
            }
            None => (None, None),
        };
        let provider = session_provider.unwrap_or(asked);
        let logout_url = provider.rp_logout.url(id_token);
        let answer = match route {
            LogoutRoute::Server => Response::redirect(
                StatusCode::SEE_OTHER,
                logout_url.as_deref().unwrap_or(&self.home),
            ),
            _ => {
                let provider_logout =
                    if provider.rp_logout.is_unsupported() { "unsupported" } else { "redirect" };
                let body = LogoutBody { logout_url: logout_url.as_deref(), provider_logout };
                Response::json(StatusCode::OK, &body)
            }
        };
        let in_flight = req.cookies.as_deref().map(cookies::transactions).into_iter().flatten();
        let mut names: Vec<&str> = in_flight.map(|(name, _)| name).collect();
        names.sort_unstable();
        names.dedup();
        let clears = names.into_iter().map(cookies::clear_transaction);
        let response = answer.set_cookie(cookies::clear_session());
        let response = match self.sessions {
            Some(_) => response.set_cookie(cookies::clear_refresh()),
            None => response,
        };
        Ok(clears.fold(response, Response::set_cookie))
    }

    /// The JSON error. The back-channel route answers every refusal of its request as
    /// `invalid_request` (Back-Channel Logout 1.0, 2.8), another method included; a store
    /// failure stays `503`, so the provider may retry.
    fn refuse(&self, route: Option<LogoutRoute>, req: &Request<'_>, err: Error) -> Response {
        let err = match (route, err) {
            (Some(LogoutRoute::Backchannel), Error::MethodNotAllowed) => {
                Error::LogoutTokenRefused("not a POST")
            }
            (_, err) => err,
        };
        log_refusal(req, &err);
        Response::error(&err)
    }
}

#[cfg(test)]
impl Logout {
    /// This state with the session table `sessions` (the model-based tests' in-memory one).
    pub(crate) fn with_sessions(self, sessions: Sessions) -> Self {
        Self { sessions: Some(sessions), ..self }
    }
}

mod listing;
mod universal;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod world;
