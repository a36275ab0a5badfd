//! `POST /api/global-token-revocation`: Okta's Universal Logout, the Global Token Revocation
//! request of draft-parecki-oauth-global-token-revocation.
//!
//! In order, each refusal with its own answer (the draft's and Okta's guide's statuses):
//! `404 global_logout_not_configured` when `GLOBAL_LOGOUT_PROVIDERS` is unset; `401
//! invalid_token` without a valid request JWT of a configured provider
//! ([`crate::oidc::global_logout::verify`]); `403 revocation_forbidden` when that provider is
//! not in `GLOBAL_LOGOUT_PROVIDERS`; `400 invalid_request` for a body that is not the
//! draft's JSON; `422 unsupported_subject_format` for a subject format other than `iss_sub`
//! and `email`; `403 revocation_forbidden` for an `iss_sub` of another issuer than the JWT's;
//! `401 invalid_token` for a `jti` seen before (recorded as logout tokens' are). Then every
//! session of the user at that provider ends and their refresh tokens are revoked: `204`.
//!
//! A user with no session here is answered `204` too, not `404`: we hold sessions, not
//! accounts, and "nothing left to end" is the request's outcome. The draft allows either;
//! `404` would also mark, in the provider's log, every user who never used the app, or whose
//! sessions a retry already ended.

use super::{Logout, Revoking, ending_by};
use crate::error::Error;
use crate::infra::metrics;
use crate::oidc::global_logout::{self, BodyRefusal, MAX_AGE_SECS, Subject};
use crate::oidc::id_token::LEEWAY_SECS;
use crate::oidc::logout_token::claimed_issuer;
use crate::sessions::{Ending, Named};
use crate::web::request::Request;
use crate::web::response::Response;

impl Logout {
    /// Answers a Universal Logout request (see the module documentation).
    pub(super) async fn global_revocation(
        &self,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Response, Error> {
        let Some(global) = &self.global else { return Err(Error::GlobalLogoutOff) };
        let Some(sessions) = &self.sessions else { return Err(Error::SessionsOff) };
        let unauthenticated = Error::RevocationUnauthenticated;
        let token = match req.authorization.and_then(|h| h.split_once(' ')) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(unauthenticated("no bearer JWT")),
        };
        // The provider whose keys and exact issuer the JWT is then checked against.
        let provider = claimed_issuer(token)
            .and_then(|iss| self.providers.by_issuer(&iss))
            .ok_or(unauthenticated("iss is not a configured provider's issuer"))?;
        let jwks = provider.jwks.as_ref().ok_or(Error::SessionsOff)?;
        let jwt = global_logout::verify(jwks, token, &global.audience, now)
            .await
            .map_err(unauthenticated)?;
        if !global.providers.contains(&provider.provider.name) {
            return Err(Error::RevocationForbidden("provider not in GLOBAL_LOGOUT_PROVIDERS"));
        }
        if !req.is_json() {
            return Err(Error::RevocationMalformed("body not declared JSON"));
        }
        let subject = global_logout::subject(req.body).map_err(|refusal| match refusal {
            BodyRefusal::Malformed(why) => Error::RevocationMalformed(why),
            BodyRefusal::UnsupportedFormat => Error::UnsupportedSubjectFormat,
        })?;
        let named = match &subject {
            Subject::IssSub { iss, .. } if *iss != jwt.iss => {
                return Err(Error::RevocationForbidden("a subject of another issuer"));
            }
            Subject::IssSub { sub, .. } => Named::User(sub),
            Subject::Email(email) => Named::Email(email),
        };
        let idp = jwt.iss.as_str();
        let keep_until = jwt.iat + MAX_AGE_SECS + 2 * LEEWAY_SECS.unsigned_abs();
        if !sessions.remember_logout_token(idp, &jwt.jti, keep_until).await? {
            return Err(unauthenticated("jti replayed"));
        }
        let until = ending_by(req);
        let revoking = Revoking::new(self);
        let revoker = revoking.revoker();
        let ending = sessions.end_provider_sessions(idp, named, None, until, Some(&revoker));
        let failed = match ending.await {
            Ok(Ending { ended, complete }) => {
                metrics::sessions_ended(metrics::Ended::UniversalLogout, ended);
                let revoked = revoking.counts();
                let format = match subject {
                    Subject::IssSub { .. } => "iss_sub",
                    Subject::Email(_) => "email",
                };
                tracing::info!(ended, complete, format, %revoked, "universal logout");
                if complete {
                    return Ok(Response::no_content());
                }
                Error::LogoutIncomplete(ended)
            }
            Err(err) => err,
        };
        // Not done: the provider's retry must not be taken for a replay.
        if let Err(again) = sessions.forget_logout_token(idp, &jwt.jti).await {
            tracing::warn!(error = again.code(), "request token not forgotten");
        }
        Err(failed)
    }
}

#[cfg(test)]
mod tests;
