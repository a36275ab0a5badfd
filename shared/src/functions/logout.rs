//! The `logout` function: `POST /api/logout` and `GET /authorization-code/logout` forget the
//! session here, then send the browser to the provider's logout.
//!
//! Our JWTs are stateless: logout clears the session cookie and the transaction cookie, and the
//! SPA forgets its token; a bearer token already handed out stays valid until it expires (keep
//! `SESSION_TTL_SECONDS` short). The provider's session ends through its
//! `end_session_endpoint` (RP-initiated logout), when it announces one.

use http::StatusCode;
use serde::Serialize;

use super::start::{ColdStart, Discovered, Parts, StartError};
use crate::error::Error;
use crate::infra::config::Config;
use crate::oidc::discovery::Metadata;
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route};

/// The logout function's state: where logouts go, computed once at cold start.
#[derive(Debug)]
pub struct Logout {
    /// The provider's logout URL, `None` when it announces no `end_session_endpoint`.
    logout_url: Option<String>,
    /// Where the server flow goes when the provider has no logout: `POST_LOGIN_PATH`.
    home: String,
}

impl ColdStart for Logout {
    type Fetch = Discovered;

    fn build(parts: Parts, Discovered(metadata): Discovered) -> Result<Self, StartError> {
        let config = &parts.config;
        Ok(Self {
            logout_url: provider_logout_url(&metadata, config),
            home: config.app_url(config.post_login_path.as_str()),
        })
    }
}

/// The provider's logout URL with `client_id` and, when configured,
/// `post_logout_redirect_uri`; `None` when the provider announces no `end_session_endpoint`.
fn provider_logout_url(metadata: &Metadata, config: &Config) -> Option<String> {
    let mut url = metadata.additional_metadata().end_session_endpoint.clone()?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &config.client_id);
        if let Some(uri) = &config.post_logout_redirect_uri {
            q.append_pair("post_logout_redirect_uri", uri.as_str());
        }
    }
    Some(url.into())
}

#[derive(Serialize)]
struct LogoutBody<'a> {
    logout_url: Option<&'a str>,
}

/// The two ways to log out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRoute {
    /// `POST /api/logout`: JSON.
    Api,
    /// `GET /authorization-code/logout`: a redirect.
    Server,
}

impl HttpFunction for Logout {
    type Route = LogoutRoute;

    const ROUTES: &'static [Route<LogoutRoute>] = &[
        Route::post("/api/logout", LogoutRoute::Api),
        Route::get("/authorization-code/logout", LogoutRoute::Server),
    ];

    /// - `POST /api/logout` answers `200 {"logout_url": ...}`. It requires `X-CSRF: 1`, with or
    ///   without a cookie, so a cross-site form cannot log anyone out (a cross-site script
    ///   cannot send the header without a CORS preflight that API Gateway refuses).
    /// - `GET /authorization-code/logout` answers `303` to the provider's logout, or to
    ///   `POST_LOGIN_PATH` when the provider has none.
    ///
    /// Both clear the session cookie and every login transaction cookie the browser sends.
    async fn handle(
        &self,
        route: LogoutRoute,
        req: &Request<'_>,
        _: u64,
    ) -> Result<Response, Error> {
        let response = match route {
            LogoutRoute::Api => {
                if !req.csrf {
                    return Err(Error::CsrfRequired);
                }
                Response::json(
                    StatusCode::OK,
                    &LogoutBody { logout_url: self.logout_url.as_deref() },
                )
            }
            LogoutRoute::Server => Response::redirect(
                StatusCode::SEE_OTHER,
                self.logout_url.as_deref().unwrap_or(&self.home),
            ),
        };
        let in_flight = req.cookies.as_deref().map(cookies::transactions).into_iter().flatten();
        let mut names: Vec<&str> = in_flight.map(|(name, _)| name).collect();
        names.sort_unstable();
        names.dedup();
        let clears = names.into_iter().map(cookies::clear_transaction);
        Ok(clears.fold(response.set_cookie(cookies::clear_session()), Response::set_cookie))
    }
}

#[cfg(test)]
mod tests;
