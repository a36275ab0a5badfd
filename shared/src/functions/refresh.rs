//! The `refresh` function: `POST /api/refresh` answers a fresh JWT for the session whose
//! handle the browser sends (`__Host-refresh`), refreshing the provider's tokens first when
//! the access token held for the session has expired.
//!
//! One refresh grant at a time per session, across every Lambda instance: the request that
//! takes the session's lease (a conditional write, `sessions::Sessions::lease`) uses the
//! refresh token and stores the rotated one; the others wait for the session's version to
//! move and mint from the result. See `sessions::store`.

use std::time::{Duration, Instant};

use http::StatusCode;
use openidconnect::{OAuth2TokenResponse as _, TokenResponse as _};
use secrecy::ExposeSecret as _;
use serde::Serialize;

use super::callback::{CookieOnlyBody, cookie_only};
use super::start::{ColdStart, DiscoveredWithKeys, Parts, StartError, Verifying, WithProvider};
use crate::error::Error;
use crate::infra::config::BrowserTokens;
use crate::infra::http::Http;
use crate::infra::metrics::{self, Ended};
use crate::oidc::exchange::exchange_refresh_token;
use crate::oidc::id_token;
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::oidc::provider::Providers;
use crate::sessions::{Handle, LEASE_SECS, Lease, Opened, ProviderTokens, Record, Sessions};
use crate::tokens::session::{SessionTokens, User};
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route, log_refusal, within_deadline};

/// How often a request waiting for another's refresh reads the session again.
const POLL: Duration = Duration::from_millis(100);

/// The refresh function's state.
#[derive(Debug)]
pub struct Refresh {
    /// Each provider's client and keys; a session is refreshed at the provider it was made
    /// with (its `idp`).
    providers: Providers<Verifying>,
    http: Http,
    session: SessionTokens,
    /// `None` when `SESSION_TABLE` is unset: every request is answered `sessions_not_configured`.
    sessions: Option<Sessions>,
    /// `BROWSER_TOKENS`: whether the answer may carry our JWT.
    browser_tokens: BrowserTokens,
}

impl ColdStart for Refresh {
    type Fetch = DiscoveredWithKeys;

    fn build(parts: Parts, fetched: DiscoveredWithKeys) -> Result<Self, StartError> {
        Ok(Self::from_parts(parts.with_provider(fetched, JWKS_REFETCH_COOLDOWN)?))
    }
}

impl Refresh {
    /// The state from the parts [`Parts::with_provider`] made (the proxy holds one to renew
    /// the provider's access tokens).
    pub(super) fn from_parts(parts: WithProvider) -> Self {
        let WithProvider { config, http, providers, signing_keys, sessions, .. } = parts;
        let session = SessionTokens::from_config(&config, signing_keys);
        Self { providers, http, session, sessions, browser_tokens: config.browser_tokens }
    }

    /// The session table, when sessions are on.
    pub(super) fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_ref()
    }
}

/// A fresh JWT for a session.
#[derive(Debug)]
pub struct Refreshed {
    /// Our JWT, with the session's `sid`.
    pub token: String,
    /// The user.
    pub user: User,
}

#[derive(Serialize)]
struct RefreshBody<'a> {
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    user: &'a User,
}

impl Refresh {
    /// Our JWTs (tests verify what was minted).
    pub fn session(&self) -> &SessionTokens {
        &self.session
    }

    /// A fresh JWT for the session of `handle` at `now`; see the module documentation.
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when the session has ended (it is deleted then), also when
    /// the provider refuses the refresh token or the refresh answer's ID token is refused;
    /// [`Error::SessionStore`]; the provider's other errors at the refresh grant (`502`/`504`,
    /// the session kept and its lease released).
    pub async fn refresh(&self, handle: &Handle, now: u64) -> Result<Refreshed, Error> {
        let (record, at) = self.renew(handle, now).await?;
        self.mint(record, at)
    }

    /// The session of `handle` with a live provider access token, at the clock returned
    /// (`now`, moved on by the time this request waited for another's grant): the stored one
    /// while it lives, else the one the refresh grant gives (one grant per session across
    /// every instance). `/api/refresh` mints from it; the proxy sends its access token.
    ///
    /// # Errors
    ///
    /// As [`Refresh::refresh`].
    pub async fn renew(&self, handle: &Handle, now: u64) -> Result<(Record, u64), Error> {
        let sessions = self.sessions.as_ref().ok_or(Error::SessionsOff)?;
        let started = Instant::now();
        // Read and used in one call when no grant is due; otherwise (or near its maximum age)
        // the use is recorded below, once the refresh has succeeded.
        let (mut record, touched) = match sessions.open(handle, now).await? {
            Opened::Missing => return Err(Error::SessionExpired("no such session")),
            Opened::Used(record) => (record, true),
            Opened::Unused(record) => (record, false),
        };
        loop {
            // The clock passed in, moved on by the time this request has waited.
            let at = now + started.elapsed().as_secs();
            if let Some(why) = sessions.ended(&record, at) {
                return Err(
                    end(sessions, &record, Ended::Timeout, Error::SessionExpired(why)).await
                );
            }
            // Our JWT does not depend on the provider's access token: refreshing it is how the
            // provider is asked again, once per its lifetime, so no margin before its expiry.
            // A use recorded by `open` proved that no grant was due at `now`: this request
            // mints without one, even if `open` took long enough for `at` to reach `renew`.
            if touched || record.tokens.renew_at() > at {
                if !touched {
                    sessions.touch(&record, at).await?;
                }
                return self.still_configured(record).map(|r| (r, at));
            }
            if let Some(lease) = sessions.lease(&record, at).await? {
                let renewed = self.refresh_under(sessions, record, lease, at).await?;
                return Ok((renewed, at));
            }
            // Another request refreshes this session: wait for its result.
            if started.elapsed() > Duration::from_secs(LEASE_SECS + 5) {
                return Err(Error::ProviderTimeout("another refresh of this session".into()));
            }
            tokio::time::sleep(POLL).await;
            record = sessions
                .reread(&record)
                .await?
                .ok_or(Error::SessionExpired("ended during the refresh"))?;
        }
    }

    /// The refresh grant under `lease`: store the rotated tokens, or end the session when the
    /// provider refuses it, or give the lease back when the provider cannot be reached.
    async fn refresh_under(
        &self,
        sessions: &Sessions,
        record: Record,
        lease: Lease,
        now: u64,
    ) -> Result<Record, Error> {
        let Some(refresh_token) = record.tokens.refresh_token.clone() else {
            return Err(Error::Internal("refresh without a refresh token".into()));
        };
        let Some(upstream) = self.providers.by_issuer(&record.idp) else {
            let gone = Error::SessionExpired("its provider is no longer configured");
            return Err(end(sessions, &record, Ended::Unusable, gone).await);
        };
        let answer =
            match exchange_refresh_token(&upstream.provider, &self.http, &refresh_token).await {
                Ok(answer) => answer,
                // `invalid_grant`, or an ID token that does not even parse (refused as one that
                // fails its checks, below).
                Err(err @ Error::SessionExpired(_)) => {
                    return Err(end(sessions, &record, Ended::RevokedAtProvider, err).await);
                }
                Err(err @ Error::IdToken(_)) => {
                    return Err(end(sessions, &record, Ended::IdTokenRefused, err).await);
                }
                Err(err) => {
                    // The provider is down or slow: nobody is logged out for that.
                    sessions.release(&record, &lease).await?;
                    return Err(err);
                }
            };
        if let Some(id_token) = answer.id_token() {
            let previous = record.tokens.id_token.as_ref().map(|t| t.expose_secret());
            let original = id_token::Original {
                issuer: &record.idp,
                sub: &record.user.sub,
                id_token: previous,
                started: record.created,
            };
            let checked = id_token::verify_refreshed(
                &upstream.jwks,
                id_token,
                answer.access_token(),
                &original,
                now,
            )
            .await;
            if let Err(err) = checked {
                // The refresh token is spent and its successor came with a token we refuse:
                // the session cannot go on.
                return Err(end(sessions, &record, Ended::IdTokenRefused, err).await);
            }
        }
        let stored =
            ProviderTokens::from_response(&answer, Some(&record.tokens), now, self.session.ttl());
        if !sessions.store_refreshed(&record, &lease, &stored, now).await? {
            return Err(Error::SessionExpired("the refresh lease was lost"));
        }
        Ok(Record { tokens: stored, ..record })
    }

    /// `record`, while its provider is still configured.
    fn still_configured(&self, record: Record) -> Result<Record, Error> {
        match self.providers.by_issuer(&record.idp) {
            Some(_) => Ok(record),
            None => Err(Error::SessionExpired("its provider is no longer configured")),
        }
    }

    /// Our JWT for the session of `record`.
    fn mint(&self, record: Record, now: u64) -> Result<Refreshed, Error> {
        let token = self.session.mint_in_session(
            &record.user,
            &record.idp,
            Some(&record.session_id),
            now,
        )?;
        Ok(Refreshed { token, user: record.user })
    }
}

/// Ends the session of `record` because of `why` (counted under `reason`): the item is deleted
/// and the answer is [`Error::SessionExpired`], whatever the cause.
///
/// A refused ID token in a refresh answer ends the session too, but its own `401` code would
/// neither clear the cookies (`refuse` clears them for an ended session only) nor
/// tell the app that the session is over: the browser would keep a handle that names nothing.
/// So every end answers `session_expired`; the check that failed stays in the detail (logs).
async fn end(sessions: &Sessions, record: &Record, reason: Ended, why: Error) -> Error {
    if let Err(err) = sessions.delete(&record.key).await {
        return err;
    }
    metrics::sessions_ended(reason, 1);
    match why {
        Error::SessionExpired(why) => Error::SessionExpired(why),
        other => Error::SessionExpired(other.code()),
    }
}

impl HttpFunction for Refresh {
    type Route = ();

    const ROUTES: &'static [Route<()>] = &[Route::post("/api/refresh", ())];

    fn counted(_: ()) -> Option<&'static str> {
        Some(crate::infra::metrics::REFRESHED)
    }

    /// `POST /api/refresh` with `X-CSRF: 1` and the session handle cookie: `200` JSON with a
    /// fresh JWT; with `BROWSER_TOKENS=none` or a request carrying `__Host-session`, the JWT
    /// goes only into a fresh session cookie and the JSON has the user and its lifetime.
    async fn handle(&self, (): (), req: &Request<'_>, now: u64) -> Result<Response, Error> {
        if !req.csrf {
            return Err(Error::CsrfRequired);
        }
        let header = req.cookies.as_deref().unwrap_or_default();
        let handle =
            cookies::refresh(header)?.and_then(Handle::parse).ok_or(Error::SessionMissing)?;
        let cookie_only = cookie_only(self.browser_tokens, req)?;
        let done = within_deadline(req, self.refresh(&handle, now)).await?;
        let expires_in = self.session.ttl().as_secs();
        Ok(if cookie_only {
            let body = CookieOnlyBody { expires_in, user: &done.user, return_to: None };
            Response::json(StatusCode::OK, &body)
                .set_cookie(cookies::set_session(&done.token, expires_in))
        } else {
            let body = RefreshBody {
                token: &done.token,
                token_type: "Bearer",
                expires_in,
                user: &done.user,
            };
            Response::json(StatusCode::OK, &body)
        })
    }

    /// The JSON error; a session that has ended (or a handle that names none) also clears the
    /// session cookies, so the app shows the signed-out state.
    fn refuse(&self, _: Option<()>, req: &Request<'_>, err: Error) -> Response {
        log_refusal(req, &err);
        let ended = matches!(err, Error::SessionExpired(_) | Error::SessionMissing);
        let response = Response::error(&err);
        if ended {
            response.set_cookie(cookies::clear_refresh()).set_cookie(cookies::clear_session())
        } else {
            response
        }
    }
}
