//! The `refresh` function: `POST /api/refresh` answers a fresh JWT for the session whose
//! handle the browser sends (`__Host-refresh`), refreshing the provider's tokens first when
//! the access token held for the session has expired.
//!
//! One refresh grant at a time per session, across every Lambda instance: the request that
//! takes the session's lease (a conditional write, `sessions::Sessions::lease`) uses the
//! refresh token and stores the rotated one; the others wait for the session's version to
//! move and mint from the result. See `sessions::store`.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use http::StatusCode;
use openidconnect::{OAuth2TokenResponse as _, TokenResponse as _};
use secrecy::ExposeSecret as _;
use serde::Serialize;

use super::callback::{CookieOnlyBody, UserRules, cookie_only};
use super::start::{ColdStart, DiscoveredWithKeys, Parts, StartError, Verifying, WithProvider};
use crate::error::Error;
use crate::infra::config::BrowserTokens;
use crate::infra::http::{Http, TOTAL_TIMEOUT};
use crate::infra::metrics::{self, Ended};
use crate::oidc::dpop::DpopKey;
use crate::oidc::exchange::{exchange_refresh_token, userinfo};
use crate::oidc::id_token;
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::oidc::provider::{Provider, Providers};
use crate::sessions::{Handle, LEASE_SECS, Lease, Opened, ProviderTokens, Record, Sessions};
use crate::tokens::session::{SessionTokens, User};
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route, answer_by, log_refusal, within_deadline};

/// The first pause of a request waiting for another's refresh grant before it reads the
/// session again; each next pause doubles, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// The longest pause between two reads of a waiting request: a grant of 9 s costs each
/// waiter about a dozen reads, not the 90 reads and 90 lease attempts of a fixed 100 ms.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// `pause`, shortened by up to a half at random, so that waiters that started together do
/// not read together.
fn jittered(pause: Duration) -> Duration {
    let mut byte = [0u8; 1];
    // Without randomness (never seen), the whole pause.
    if SystemRandom::new().fill(&mut byte).is_err() {
        return pause;
    }
    pause - pause / 2 * u32::from(byte[0]) / 255
}

/// Whether a refresh grant started now can end before `until`: [`LEASE_SECS`] covers the
/// holder's worst case (see there).
fn time_for_a_grant(until: Option<Instant>) -> bool {
    until.is_none_or(|until| until > Instant::now() + Duration::from_secs(LEASE_SECS))
}

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
    /// How the user is made from the provider's word, as at login.
    rules: UserRules,
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
        let rules = UserRules::from_config(&config);
        Self { providers, http, session, sessions, browser_tokens: config.browser_tokens, rules }
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

    /// A fresh JWT for the session of `handle` at `now`, within `until` (the invocation's
    /// budget; see [`Refresh::renew`]); see the module documentation.
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when the session has ended (it is deleted then), also when
    /// the provider refuses the refresh token or the refresh answer's ID token is refused, or
    /// the item no longer opens (its cookie key was removed); [`Error::SessionStore`]; the
    /// provider's other errors at the refresh grant (`502`/`504`, the session kept and its
    /// lease released); [`Error::ProviderTimeout`] when too little time is left to start a
    /// grant, or another request's grant outlasts the wait.
    pub async fn refresh(
        &self,
        handle: &Handle,
        now: u64,
        until: Option<Instant>,
    ) -> Result<Refreshed, Error> {
        let (record, at) = self.renew(handle, now, until).await?;
        self.mint(record, at)
    }

    /// The session of `handle` with a live provider access token, at the clock returned
    /// (`now`, moved on by the time this request waited for another's grant): the stored one
    /// while it lives, else the one the refresh grant gives (one grant per session across
    /// every instance). `/api/refresh` mints from it; the proxy sends its access token.
    ///
    /// A grant is started only with [`LEASE_SECS`] left before `until` (the invocation's
    /// deadline less its answer margin; no limit without one): the lease covers the holder's
    /// worst case, and so does the time left, so no deadline cuts a holder between the grant
    /// and the store. A request that finds another's lease live counts itself among the
    /// session's waiters ([`Sessions::wait_turn`]: beyond [`crate::sessions::MAX_WAITING`] it
    /// is answered `session_busy`), then only reads the item, after a pause that doubles from
    /// [`FIRST_PAUSE`] to [`LONGEST_PAUSE`] with jitter, until the version moves or the lease
    /// lapses; it takes the lease itself only once it has lapsed.
    ///
    /// # Errors
    ///
    /// As [`Refresh::refresh`].
    pub async fn renew(
        &self,
        handle: &Handle,
        now: u64,
        until: Option<Instant>,
    ) -> Result<(Record, u64), Error> {
        let sessions = self.sessions.as_ref().ok_or(Error::SessionsOff)?;
        let started = Instant::now();
        // Read and used in one call when no grant is due; otherwise (or near its maximum age)
        // the use is recorded below, once the refresh has succeeded.
        let opened = match sessions.open(handle, now).await {
            // An item that no longer opens (its cookie key was removed from the secret) ends.
            Err(err @ Error::SessionExpired(_)) => {
                sessions.delete(&handle.key()).await?;
                metrics::sessions_ended(Ended::Unusable, 1);
                return Err(err);
            }
            other => other?,
        };
        let (mut record, touched) = match opened {
            Opened::Missing => return Err(Error::SessionExpired("no such session")),
            Opened::Used(record) => (record, true),
            Opened::Unused(record) => (record, false),
        };
        let mut pause = FIRST_PAUSE;
        let mut counted = false;
        loop {
            // The clock passed in, moved on by the time this request has waited.
            let at = now + started.elapsed().as_secs();
            if let Some(why) = sessions.ended(&record, at) {
                return Err(
                    end(sessions, &record, Ended::Timeout, Error::SessionExpired(why)).await
                );
            }
            // A use recorded by `open` proved that no grant was due at `now`: this request
            // mints without one, even if `open` took long enough for `at` to reach `renew`.
            if touched || record.tokens.renew_at() > at {
                if !touched {
                    sessions.touch(&record, at).await?;
                }
                return self.still_configured(record).map(|r| (r, at));
            }
            let leased = record.lease_until.is_some_and(|lease| lease >= at);
            if !leased {
                if !time_for_a_grant(until) {
                    return Err(Error::ProviderTimeout("too little time left for a grant".into()));
                }
                // The lease runs from the clock read before its write, to the second.
                let lease_ends = Instant::now() + Duration::from_secs(LEASE_SECS - 1);
                if let Some(lease) = sessions.lease(&record, at).await? {
                    let renewed =
                        self.refresh_under(sessions, record, lease, at, lease_ends).await?;
                    return Ok((renewed, at));
                }
            }
            // Another request refreshes this session: wait for its result, counted among the
            // session's waiters once (too many, and this one is answered at once).
            if leased && !counted {
                if !sessions.wait_turn(&record).await? {
                    return Err(Error::SessionBusy);
                }
                counted = true;
            }
            if started.elapsed() > Duration::from_secs(LEASE_SECS + 5) {
                return Err(Error::ProviderTimeout("another refresh of this session".into()));
            }
            tokio::time::sleep(jittered(pause)).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
            record = sessions
                .reread(&record)
                .await?
                .ok_or(Error::SessionExpired("ended during the refresh"))?;
        }
    }

    /// The refresh grant under `lease`: store the rotated tokens and the user as the provider
    /// describes them now, or end the session when the provider refuses it, or give the lease
    /// back when the provider cannot be reached.
    async fn refresh_under(
        &self,
        sessions: &Sessions,
        record: Record,
        lease: Lease,
        now: u64,
        lease_ends: Instant,
    ) -> Result<Record, Error> {
        let Some(refresh_token) = record.tokens.refresh_token.clone() else {
            return Err(Error::Internal("refresh without a refresh token".into()));
        };
        let Some(upstream) = self.providers.of_session(record.provider.as_deref(), &record.idp)
        else {
            let gone = Error::SessionExpired("its provider is no longer configured");
            return Err(end(sessions, &record, Ended::Unusable, gone).await);
        };
        let dpop = DpopKey::of_session(upstream.provider.dpop, record.tokens.dpop_key.as_ref())?;
        let granted =
            exchange_refresh_token(&upstream.provider, &self.http, &refresh_token, dpop.as_ref());
        let answer = match granted.await {
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
        let mut verified = None;
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
            match checked {
                Ok(ok) => verified = Some(ok),
                // The refresh token is spent and its successor came with a token we refuse:
                // the session cannot go on.
                Err(err) => {
                    return Err(end(sessions, &record, Ended::IdTokenRefused, err).await);
                }
            }
        }
        let access = answer.access_token();
        let user =
            self.user_now(&upstream.provider, &record, verified, access, dpop.as_ref()).await;
        let (ttl, margin) = (self.session.ttl(), sessions.settings().renew_margin);
        let mut stored =
            ProviderTokens::from_response(&answer, Some(&record.tokens), now, ttl, margin);
        // The key the new tokens are bound to (the session's, or one made for this grant).
        stored.dpop_key = dpop.as_ref().map(DpopKey::to_stored);
        let stored_now =
            store_granted(sessions, &record, &lease, (&stored, &user), now, lease_ends);
        if let Err(err) = stored_now.await {
            // Ended during the grant (a logout, Universal Logout, the user from another
            // device): the rotated refresh token has no session to live in, so it dies at the
            // provider too rather than live on unknown to anyone.
            if matches!(err, Error::SessionExpired(_)) {
                let rotated = stored
                    .refresh_token
                    .as_ref()
                    .filter(|new| new.expose_secret() != refresh_token.expose_secret());
                if let (Some(revocation), Some(rotated)) = (&upstream.revocation, rotated) {
                    let revoked =
                        revocation.revoke_refresh_token(&self.http, rotated, dpop.as_ref()).await;
                    tracing::info!(
                        revoked = revoked.is_ok(),
                        "the session ended during its refresh grant: the grant's new refresh token revoked"
                    );
                }
            }
            return Err(err);
        }
        Ok(Record { tokens: stored, user, ..record })
    }

    /// The user as the provider describes them after a grant, by the login's rules
    /// ([`UserRules::user`]): from the refreshed ID token and, when the provider is asked at
    /// login, its userinfo; so a claim the provider no longer sends is dropped. With neither
    /// (no ID token in the answer, no userinfo), the stored user. The refresh token is spent
    /// by now, so a userinfo that fails ends nothing: what the ID token says stands, and the
    /// failure is logged.
    async fn user_now(
        &self,
        provider: &Provider,
        record: &Record,
        verified: Option<id_token::Verified>,
        access_token: &openidconnect::AccessToken,
        dpop: Option<&DpopKey>,
    ) -> User {
        let sub = &record.user.sub;
        let info = match provider.userinfo {
            true => match userinfo(provider, &self.http, access_token, sub, dpop).await {
                Ok(info) => Some(info),
                Err(err) => {
                    tracing::warn!(error = err.code(), detail = %err, "userinfo failed after a refresh grant: the ID token's claims only");
                    None
                }
            },
            false => None,
        };
        match (verified, info) {
            (Some(verified), info) => self.rules.user(verified, info),
            (None, Some(info)) => {
                // No ID token in the answer: userinfo speaks for the provider, on the stored
                // user's subject (userinfo checked it).
                let user = User { extra: Default::default(), ..record.user.clone() };
                let verified = id_token::Verified {
                    user: User { email: None, email_verified: None, name: None, ..user },
                    issuer: record.idp.clone(),
                    claims: Default::default(),
                };
                self.rules.user(verified, Some(info))
            }
            (None, None) => record.user.clone(),
        }
    }

    /// `record`, while its provider is still configured.
    fn still_configured(&self, record: Record) -> Result<Record, Error> {
        match self.providers.of_session(record.provider.as_deref(), &record.idp) {
            Some(_) => Ok(record),
            None => Err(Error::SessionExpired("its provider is no longer configured")),
        }
    }

    /// Our JWT for the session of `record` (fitting its cookie).
    fn mint(&self, record: Record, now: u64) -> Result<Refreshed, Error> {
        let Record { mut user, idp, session_id, .. } = record;
        let token = self.session.mint_fitting(&mut user, &idp, Some(&session_id), now)?;
        Ok(Refreshed { token, user })
    }
}

/// Stores what a refresh grant gave (`granted`: the tokens and the user) under `lease`, which
/// holds until `lease_ends`: the provider has rotated the refresh token already, so a table
/// call that fails is tried again while the lease leaves time for one more (each is bounded
/// at [`TOTAL_TIMEOUT`]). A call that failed or timed out may have been applied all the same:
/// a retry that finds the lease gone reads the item, and the grant is stored when the item
/// holds the next version with this grant's access token.
///
/// # Errors
///
/// [`Error::SessionExpired`] when another request took the lease over; the table's error when
/// the lease runs out first (the lease then lapses, and the next grant sends the refresh
/// token the provider has rotated: the provider refuses it and the session ends).
async fn store_granted(
    sessions: &Sessions,
    record: &Record,
    lease: &Lease,
    (tokens, user): (&ProviderTokens, &User),
    now: u64,
    lease_ends: Instant,
) -> Result<(), Error> {
    let mut pause = Duration::from_millis(100);
    loop {
        match sessions.store_refreshed(record, lease, tokens, user, now).await {
            Ok(true) => return Ok(()),
            Ok(false) => {
                let again = sessions.reread(record).await?;
                let ours = again.is_some_and(|stored| {
                    stored.version == record.version + 1
                        && stored.tokens.access_token.expose_secret()
                            == tokens.access_token.expose_secret()
                });
                return match ours {
                    true => Ok(()),
                    false => Err(Error::SessionExpired("the refresh lease was lost")),
                };
            }
            Err(err) if Instant::now() + pause + TOTAL_TIMEOUT < lease_ends => {
                tracing::warn!(error = err.code(), detail = %err, "a refresh grant's store failed: trying again within the lease");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(err) => return Err(err),
        }
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
        // Said before the cookie is looked at: without sessions there is no handle to send,
        // and "sign in first" would send the SPA round a login loop.
        if self.sessions.is_none() {
            return Err(Error::SessionsOff);
        }
        let header = req.cookies.as_deref().unwrap_or_default();
        let handle =
            cookies::refresh(header)?.and_then(Handle::parse).ok_or(Error::SessionMissing)?;
        let cookie_only = cookie_only(self.browser_tokens, req)?;
        let done = within_deadline(req, self.refresh(&handle, now, answer_by(req))).await?;
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

#[cfg(test)]
mod tests;
