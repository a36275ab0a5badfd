//! The `login` function: `GET /api/login` and `GET /authorization-code/login` start a login.

use std::borrow::Cow;

use http::StatusCode;
use openidconnect::core::{CoreAuthPrompt, CoreResponseType};
use openidconnect::{
    AuthenticationContextClass, AuthenticationFlow, CsrfToken, LoginHint, Nonce, PkceCodeChallenge,
};
use secrecy::SecretString;
use serde::Serialize;

use super::start::{ColdStart, Discovered, Parts, StartError};
use crate::error::Error;
use crate::infra::config::{LoginOptions, LoginOptionsConfig, repeats_an_option};
use crate::infra::http::Http;
use crate::oidc::dpop::DpopKey;
use crate::oidc::par;
use crate::oidc::provider::{Provider, Providers};
use crate::return_to::ReturnTo;
use crate::tokens::secret::{CookieKey, KeyRing};
use crate::tokens::transaction::{Flow, Transaction};
use crate::web::cookies;
use crate::web::request::{Query, Request};
use crate::web::response::Response;
use crate::web::routes::{HttpFunction, Route};

/// Random bytes in `state` and `nonce` (256 bits each).
const RANDOM_LEN: u32 = 32;

/// The login function's state: each provider's authorize endpoint and the cookie keys, and
/// the HTTP client of pushed authorization requests.
#[derive(Debug)]
pub struct Login {
    providers: Providers<Provider>,
    http: Http,
    cookie_keys: KeyRing<CookieKey>,
    post_login_path: ReturnTo,
    login_options: LoginOptionsConfig,
}

impl ColdStart for Login {
    type Fetch = Discovered;

    fn build(parts: Parts, Discovered(metadata): Discovered) -> Result<Self, StartError> {
        let (client_secrets, _, cookie_keys) = parts.secret.into_parts();
        let providers =
            Parts::providers(&parts.config, &client_secrets, metadata, |m| m, |p, _| p)?;
        let config = parts.config;
        Ok(Self {
            providers,
            http: parts.http,
            cookie_keys,
            post_login_path: config.post_login_path,
            login_options: config.login_options,
        })
    }
}

/// A login ready to send to the provider.
#[derive(Debug)]
pub struct LoginStart {
    /// The provider's authorize URL with every parameter.
    pub authorize_url: url::Url,
    /// `Set-Cookie` carrying the sealed transaction.
    pub set_cookie: String,
}

impl Login {
    /// The cookie keys (tests open the transaction cookie with them).
    pub fn cookie_keys(&self) -> &KeyRing<CookieKey> {
        &self.cookie_keys
    }

    /// Starts a login of `flow` at `provider` (a name; `None`: the default provider): fresh
    /// `state`, `nonce` and PKCE S256 verifier, sealed with the active cookie key together with
    /// the provider and `return_to` (or `POST_LOGIN_PATH` when it is absent or not a safe
    /// relative path). With PAR (`OIDC_PAR`), the authorization request is pushed to the
    /// provider first, and the URL carries only `client_id` and `request_uri`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProvider`]; [`Error::FlowNotConfigured`] when the flow's redirect URI
    /// is not set for that provider; [`Error::Internal`] when sealing fails; with PAR,
    /// [`Error::ParFailed`], [`Error::ProviderTimeout`], [`Error::ProviderUnreachable`].
    pub async fn start(
        &self,
        flow: Flow,
        provider: Option<&str>,
        return_to: Option<&str>,
        now: u64,
    ) -> Result<LoginStart, Error> {
        self.start_with(flow, provider, return_to, &LoginOptions::default(), now).await
    }

    /// [`Login::start`] with login `options` (already allowed by
    /// [`LoginOptionsConfig::read`]): each passed to the provider's authorize request;
    /// `max_age` and `acr_values` also sealed in the transaction, for the callback to enforce.
    ///
    /// # Errors
    ///
    /// As [`Login::start`].
    pub async fn start_with(
        &self,
        flow: Flow,
        provider: Option<&str>,
        return_to: Option<&str>,
        options: &LoginOptions,
        now: u64,
    ) -> Result<LoginStart, Error> {
        let (mut login, provider) = self.prepare(flow, provider, return_to, options, now)?;
        if let Some(endpoint) = &provider.par_endpoint {
            login.authorize_url =
                par::push(provider, &self.http, endpoint, &login.authorize_url, now).await?;
        }
        Ok(login)
    }

    /// [`Login::start_with`] up to the authorize URL with every parameter in its query, and the
    /// provider it is for: what PAR, when on, then pushes.
    ///
    /// # Errors
    ///
    /// As [`Login::start`], but for PAR's.
    pub fn prepare(
        &self,
        flow: Flow,
        provider: Option<&str>,
        return_to: Option<&str>,
        options: &LoginOptions,
        now: u64,
    ) -> Result<(LoginStart, &Provider), Error> {
        let provider = self.providers.named(provider)?;
        let redirect = provider.redirect_uri(flow)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                || CsrfToken::new_random_len(RANDOM_LEN),
                || Nonce::new_random_len(RANDOM_LEN),
            )
            .add_scopes(provider.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Borrowed(redirect));
        for prompt in &options.prompts {
            request = request.add_prompt(match prompt.as_str() {
                "none" => CoreAuthPrompt::None,
                "login" => CoreAuthPrompt::Login,
                "consent" => CoreAuthPrompt::Consent,
                "select_account" => CoreAuthPrompt::SelectAccount,
                other => CoreAuthPrompt::Extension(other.to_owned()),
            });
        }
        if let Some(max_age) = options.max_age {
            request = request.set_max_age(std::time::Duration::from_secs(max_age));
        }
        if let Some(hint) = &options.login_hint {
            request = request.set_login_hint(LoginHint::new(hint.clone()));
        }
        for acr in &options.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        // OIDC_DPOP: the session's key is made here, and the code bound to it (`dpop_jkt`,
        // RFC 9449 section 10): only a code exchange with a proof of this key redeems it.
        let dpop = DpopKey::of_session(provider.dpop, None)?;
        if let Some(key) = &dpop {
            request = request.add_extra_param("dpop_jkt", key.thumbprint());
        }
        let (authorize_url, csrf, nonce) = request.url();
        let transaction = Transaction {
            state: csrf.into_secret(),
            nonce: SecretString::from(nonce.secret().as_str()),
            pkce_verifier: SecretString::from(verifier.into_secret()),
            return_to: ReturnTo::or_fallback(return_to, &self.post_login_path),
            issued_at: now,
            flow,
            // The default provider is not named, so that its logins read as before.
            provider: (provider.name != self.providers.default_one().name)
                .then(|| provider.name.clone()),
            max_age: options.max_age,
            acr_values: options.acr_values.clone(),
            dpop_key: dpop.as_ref().map(DpopKey::to_stored),
        };
        let sealed = transaction.seal(self.cookie_keys.active())?;
        let name = cookies::transaction_name(&transaction.state);
        let set_cookie = cookies::set_transaction(&name, &sealed);
        Ok((LoginStart { authorize_url, set_cookie }, provider))
    }

    /// The `Set-Cookie`s that make room for one more login among those in flight in
    /// `cookie_header`: each transaction cookie that does not open at `now` (expired, sealed
    /// under a retired key, not ours, not under its own name, twice in the header) is deleted,
    /// and so are the oldest ones beyond [`cookies::MAX_IN_FLIGHT`] - 1. Every other login in
    /// flight is left alone, so logins in several tabs each complete.
    pub fn make_room(&self, cookie_header: Option<&str>, now: u64) -> Vec<String> {
        let found: Vec<(&str, &str)> =
            cookie_header.map(cookies::transactions).into_iter().flatten().collect();
        let twice = |name: &str| found.iter().filter(|(n, _)| *n == name).count() > 1;
        let mut in_flight: Vec<(u64, &str)> = Vec::new();
        let mut clear: Vec<&str> = Vec::new();
        for &(name, value) in &found {
            if clear.contains(&name) {
                continue;
            }
            match Transaction::open(value, &self.cookie_keys, now) {
                Ok(tx) if !twice(name) && cookies::transaction_name(&tx.state) == name => {
                    in_flight.push((tx.issued_at, name));
                }
                _ => clear.push(name),
            }
        }
        in_flight.sort_unstable();
        let excess = (in_flight.len() + 1).saturating_sub(cookies::MAX_IN_FLIGHT);
        clear.extend(in_flight.iter().take(excess).map(|(_, name)| *name));
        clear.into_iter().map(cookies::clear_transaction).collect()
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    login_url: &'a str,
}

impl HttpFunction for Login {
    type Route = Flow;

    const ROUTES: &'static [Route<Flow>] = &[
        Route::get("/api/login", Flow::Spa),
        Route::get("/authorization-code/login", Flow::Server),
    ];

    fn counted(_: Flow) -> Option<&'static str> {
        Some(crate::infra::metrics::LOGIN_STARTED)
    }

    /// `?provider=<name>` picks the provider (default: the first configured); `?return_to=`
    /// where the app goes afterwards; `prompt`, `max_age`, `login_hint`, `acr_values` within
    /// what the configuration allows (otherwise `400 login_option_refused`, no cookie set).
    ///
    /// `GET /api/login` answers `200 {"login_url"}`, `GET /authorization-code/login` answers
    /// `302` to the provider. Both set the login's transaction cookie and delete those
    /// [`Login::make_room`] drops.
    async fn handle(&self, flow: Flow, req: &Request<'_>, now: u64) -> Result<Response, Error> {
        // A repeated option is the options' own refusal, not a generic bad request.
        if repeats_an_option(req.query) {
            return Err(Error::LoginOptionRefused("a login option is repeated"));
        }
        let query = Query::parse(req.query)?;
        let options = self.login_options.read(|name| query.get(name))?;
        let login = self
            .start_with(flow, query.get("provider"), query.get("return_to"), &options, now)
            .await?;
        let url = login.authorize_url.as_str();
        let response = match flow {
            Flow::Spa => Response::json(StatusCode::OK, &LoginBody { login_url: url }),
            Flow::Server => Response::redirect(StatusCode::FOUND, url),
        };
        let dropped = self.make_room(req.cookies.as_deref(), now);
        Ok(dropped.into_iter().fold(response.set_cookie(login.set_cookie), Response::set_cookie))
    }
}

#[cfg(test)]
mod tests;
