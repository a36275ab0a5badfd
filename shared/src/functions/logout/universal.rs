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
//! `401 invalid_token` for a `jti` seen before. Then every session of the user at that
//! provider ends, each refresh token revoked before its item goes: `204`; or `503
//! logout_incomplete` when the deadline came first.
//!
//! The `jti` is recorded in the session table (as logout tokens' are, on every instance) with
//! a digest of the user the body names, and stays claimed until the run completes. The JWT
//! does not cover the body: so a repeat is accepted only for the same user while no run of it
//! has completed (the provider's retry after a `503`), and refused once one has, or for
//! anyone else (whoever obtained the JWT on its way cannot end another user with it).
//!
//! A user with no session here is answered `204` too, not `404`: we hold sessions, not
//! accounts, and "nothing left to end" is the request's outcome. The draft allows either;
//! `404` would also mark, in the provider's log, every user who never used the app, or whose
//! sessions a retry already ended.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
        let user = subject_digest(&subject);
        if !sessions.claim_request(idp, &jwt.jti, &user, keep_until).await? {
            return Err(unauthenticated("jti replayed, or its request named another user"));
        }
        let until = ending_by(req);
        let revoking = Revoking::new(self);
        let revoker = revoking.revoker();
        let ending = sessions.end_provider_sessions(idp, named, None, until, Some(&revoker));
        match ending.await {
            Ok(Ending { ended, complete }) => {
                metrics::sessions_ended(metrics::Ended::UniversalLogout, ended);
                let revoked = revoking.counts();
                let format = match subject {
                    Subject::IssSub { .. } => "iss_sub",
                    Subject::Email(_) => "email",
                };
                tracing::info!(ended, complete, format, %revoked, "universal logout");
                if !complete {
                    // Claimed for this user still: the provider's retry ends the rest.
                    return Err(Error::LogoutIncomplete(ended));
                }
            }
            Err(err) => return Err(err),
        }
        // Done: the JWT can end no one else, and is no retry of anything.
        if let Err(err) = sessions.settle_request(idp, &jwt.jti, &user, keep_until).await {
            tracing::warn!(
                error = err.code(),
                "request not recorded as done: a repeat for the same user stays possible"
            );
        }
        Ok(Response::no_content())
    }
}

/// A digest of the user `subject` names, as the replay record keeps it: bound to the JWT's
/// `jti`, so that the JWT (which does not cover the body) serves a retry for the same user
/// and no other. The e-mail is folded as the index folds it.
fn subject_digest(subject: &Subject) -> String {
    let named = match subject {
        Subject::IssSub { iss, sub } => format!("iss_sub\n{iss}\n{sub}"),
        Subject::Email(email) => format!("email\n{}", email.to_ascii_lowercase()),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, named.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests;
