//! `GET /api/sessions` and `DELETE /api/sessions/{sid}`: a user's own sessions, listed and
//! ended one by one (a lost phone, a shared computer).
//!
//! The caller is known by our JWT (`Authorization: Bearer`, or the `__Host-session` cookie)
//! and its `sid` claim, or else by the session handle cookie; either way their session must
//! be live. They see and end only the sessions of their own user at their own provider (the
//! `by_subject` index of `idp` and `sub`): a `sid` of anyone else's session is answered `404
//! session_not_found` exactly as a `sid` that never existed, after the same one read, so
//! neither the answer nor its cost tells them apart. A listing shows no handle and no token:
//! `sid` (the item key, a hash of the handle), provider, login time, last use, the device
//! label taken at login, when it ends at the latest, and which one is the caller's.
//!
//! Ending one deletes it (on condition that it is this user's, read and deleted at the same
//! version) and revokes its refresh token at the provider, like a logout of that browser; the
//! browser learns it at its next refresh (`401 session_expired`). `DELETE` requires
//! `X-CSRF: 1`, whatever the credential, as `POST /api/logout` does.

use serde::Serialize;

use super::{Logout, Revoking};
use crate::error::{Error, VerifyError};
use crate::functions::access::Presented;
use crate::infra::metrics;
use crate::sessions::{Handle, Listed, Record, Sessions};
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;

/// The path `DELETE /api/sessions/{sid}` is under.
const PREFIX: &str = "/api/sessions/";

#[derive(Serialize)]
struct Listing<'a> {
    sessions: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    session: &'a Listed,
    /// The caller's own session.
    current: bool,
}

impl Logout {
    /// The caller's live session: by our JWT's `sid` (a bearer token wins over the cookie),
    /// else by the session handle cookie.
    ///
    /// # Errors
    ///
    /// [`Error::SessionsOff`]; [`Error::InvalidToken`] for a JWT we did not sign or that
    /// names no session; [`Error::SessionMissing`] without any credential;
    /// [`Error::SessionExpired`] when the session has ended; [`Error::SessionStore`].
    async fn caller<'s>(
        &'s self,
        req: &Request<'_>,
        now: u64,
    ) -> Result<(&'s Sessions, Record), Error> {
        let Some(sessions) = &self.sessions else { return Err(Error::SessionsOff) };
        let record = match Presented::from(req).credential() {
            Ok((token, _)) => {
                let claims = self.session.verify(token, now).map_err(Error::InvalidToken)?;
                let sid =
                    claims.sid.as_deref().ok_or(Error::InvalidToken(VerifyError::SessionEnded))?;
                sessions.get_by_id(sid).await?
            }
            Err(Error::MissingToken) => {
                let cookies = req.cookies.as_deref().unwrap_or_default();
                let handle = cookies::refresh(cookies)?.and_then(Handle::parse);
                let handle = handle.ok_or(Error::SessionMissing)?;
                sessions.get(&handle).await?
            }
            Err(other) => return Err(other),
        };
        let record = record.ok_or(Error::SessionExpired("no such session"))?;
        if let Some(why) = sessions.ended(&record, now) {
            return Err(Error::SessionExpired(why));
        }
        Ok((sessions, record))
    }

    /// `GET /api/sessions`: `200 {"sessions": [...]}`, newest login first.
    pub(super) async fn list_sessions(
        &self,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Response, Error> {
        let (sessions, caller) = self.caller(req, now).await?;
        let listed = sessions.user_sessions(&caller.idp, &caller.user.sub, now).await?;
        let entries =
            listed.iter().map(|s| Entry { session: s, current: s.sid == caller.key }).collect();
        tracing::info!(sessions = listed.len(), "sessions listed");
        Ok(Response::json(http::StatusCode::OK, &Listing { sessions: entries }))
    }

    /// `DELETE /api/sessions/{sid}`: `204`, the session ended and its refresh token revoked;
    /// the caller's own session clears its cookies too.
    pub(super) async fn end_one_session(
        &self,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Response, Error> {
        if !req.csrf {
            return Err(Error::CsrfRequired);
        }
        let sid = req.path.strip_prefix(PREFIX).ok_or(Error::SessionNotFound)?;
        let (sessions, caller) = self.caller(req, now).await?;
        let revoking = Revoking::new(self);
        let revoker = revoking.revoker();
        let ended = sessions.end_session_of(&caller.idp, &caller.user.sub, sid, &revoker);
        if !ended.await? {
            return Err(Error::SessionNotFound);
        }
        metrics::sessions_ended(metrics::Ended::ByUser, 1);
        let revoked = revoking.counts();
        let own = sid == caller.key;
        tracing::info!(own, %revoked, "session ended by its user");
        let response = Response::no_content();
        Ok(match own {
            true => {
                response.set_cookie(cookies::clear_session()).set_cookie(cookies::clear_refresh())
            }
            false => response,
        })
    }
}

#[cfg(test)]
mod tests;
