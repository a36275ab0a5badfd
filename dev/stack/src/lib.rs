//! The one launcher of the local stack, for `make dev`, every end-to-end test and the
//! benchmarks:
//!
//! - moto ([`Moto`]: Secrets Manager and DynamoDB), seeded with the stack's secret through the
//!   AWS SDK (so the functions read it exactly as in AWS) and, with [`Options::sessions`], the
//!   session table made by `dev/session_table.py` from `template.yaml`'s declaration;
//! - the OpenID providers asked for ([`ProviderKind`]: the npm `oidc-provider`, LemonLDAP::NG),
//!   each with our client registered (at oidc-provider, also by `private_key_jwt`, with PAR,
//!   DPoP or the FAPI 2.0 profile: [`Options::client`]);
//! - the upstream API the proxy function forwards to (`dev/upstream/upstream.mjs`), with the
//!   functions: it verifies our JWT against the issuer function's JWKS, and the provider's
//!   access token at its userinfo endpoint;
//! - the functions under `cargo lambda watch` (every crate of `functions/`);
//! - the demo SPA (Vite), which proxies the API paths so the browser sees one origin.
//!
//! Everything listens on free loopback ports unless told otherwise, and each stack logs to a
//! folder of its own name, so stacks started at once do not collide. Every process runs in a
//! process group of its own and is stopped when the [`Stack`] drops: at the end of a test, on
//! its panic, when a start fails or is cut short, or (the `stack` binary) on Ctrl-C, TERM or
//! the end of its standard input, also while it starts. [`Stack::describe`] hands the caller the endpoints
//! and the exact environment of the functions, as JSON (`stack up --json`).

mod client;
mod describe;
mod functions;
mod moto;
mod paths;
mod process;
mod providers;
mod secret;
mod start;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use client::{ClientAuth, ClientSpec, Offer, SigAlg};
pub use moto::{Moto, REGION, RequestCount};
pub use paths::{functions as function_names, root, venv};
pub use process::{free_port, port_is_free};
pub use providers::{ProviderKind, ProviderSpec};
pub use secret::KID;
pub use start::Stack;

/// Our client id at the first provider, unless [`ProviderSpec::client_id`] says otherwise.
pub const CLIENT_ID: &str = "e2e-spa";
/// Our client id at the second provider of a two-provider stack (each provider its own client
/// id, client secret and issuer).
pub const SECOND_CLIENT_ID: &str = "e2e-spa-second";
/// The secret's name in moto, unless [`Options::secret_id`] says otherwise.
pub const SECRET_ID: &str = "spa-login/e2e";

/// Why a stack could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    #[error("{0}")]
    Missing(&'static str),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {service}: {why}")]
    Start { service: String, why: String },
    #[error(
        "{service} {} at {url}; its log is {}, which ends:\n{tail}",
        if *exited { "exited before answering" } else { "did not come up" },
        log.display()
    )]
    NotUp { service: String, url: String, exited: bool, log: PathBuf, tail: String },
    #[error("moto: {0}")]
    Moto(String),
    #[error("the secret: {0}")]
    Secret(String),
    #[error("{0}")]
    Options(String),
}

impl StackError {
    fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io { what: what.to_owned(), source }
    }
}

/// The signing key algorithm of the stack's secret.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    #[default]
    ES256,
    RS256,
    EdDSA,
}

impl From<Alg> for shared::keygen::KeyAlg {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::ES256 => Self::Es256,
            Alg::RS256 => Self::Rs256,
            Alg::EdDSA => Self::EdDsa,
        }
    }
}

/// What to start. The defaults are a test's: free ports, a fresh secret, the functions at
/// `TRACE` (so that a test can read their whole log for leaks), no demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The OpenID provider (with [`Options::second_provider`], the default one).
    pub provider: ProviderKind,
    /// A second OpenID provider in the same deployment (the other kind): the functions then
    /// get `OIDC_PROVIDERS=<first>,<second>` with the names of [`ProviderKind::name`], each
    /// provider its issuer, client id ([`CLIENT_ID`], [`SECOND_CLIENT_ID`]) and client secret
    /// (the secret's `client_secret` for the first, `client_secrets.<second>` for the second).
    pub second_provider: Option<ProviderKind>,
    /// The providers in full, instead of the two fields above (the benchmarks: two
    /// oidc-provider instances behind their own proxies).
    pub providers: Vec<ProviderSpec>,
    /// Extra environment for every provider of [`Options::provider`] and
    /// [`Options::second_provider`].
    pub provider_env: Vec<(String, String)>,
    /// How our client is registered at every oidc-provider of the stack, beyond its client
    /// secret: `private_key_jwt` (the stack makes the client key), PAR, DPoP, the FAPI 2.0
    /// profile. The default asks for none of them; anything else needs an oidc-provider.
    pub client: ClientSpec,
    /// Start the functions under `cargo lambda watch` (the benchmarks run their own).
    pub functions: bool,
    /// Start the upstream API even without [`Options::functions`] (the benchmarks, whose
    /// harness runs the proxy function itself): it always runs with the functions.
    pub upstream: bool,
    /// Do not wait for the functions to serve (tests of a failing cold start).
    pub functions_may_fail: bool,
    /// Rebuild a function when its sources change (`make dev`).
    pub watch_changes: bool,
    /// Extra environment for the functions, over the stack's own.
    pub function_env: Vec<(String, String)>,
    /// `AWS_LAMBDA_LOG_LEVEL` of the functions (`None`: their default, INFO).
    pub function_log_level: Option<String>,
    /// Create the session table in moto and give the functions `SESSION_TABLE`.
    pub sessions: bool,
    /// Start the demo SPA too; with two providers, it offers both (`DEMO_PROVIDERS`).
    pub demo: bool,
    /// The demo's posture (`DEMO_MODE`): `None` or `token`, the SPA holds our JWT; `cookie`,
    /// cookie-only (give the functions `BROWSER_TOKENS=none` too, through
    /// [`Options::function_env`]). The demo is told the remote APIs' names (`DEMO_REMOTE_APIS`)
    /// from the functions' `REMOTE_APIS`.
    pub demo_mode: Option<String>,
    /// The signing key algorithm of a fresh secret.
    pub alg: Alg,
    /// Keep the secret in this file across runs (made on first use) instead of a fresh one.
    pub secret_file: Option<PathBuf>,
    /// The secret's name in moto (default [`SECRET_ID`]).
    pub secret_id: Option<String>,
    /// The session table's name (default `sessions-<stack name>`).
    pub session_table: Option<String>,
    /// Where the logs go (default `target/stack/<stack name>/`), emptied first: a folder below
    /// the repository's `target/` or `.local/`, or a new or empty one.
    pub logs: Option<PathBuf>,
    /// moto's port (0: a free one).
    pub moto_port: u16,
    /// `cargo lambda watch`'s port (0: a free one).
    pub api_port: u16,
    /// The demo's port (0: a free one); it is also the app's origin, in the redirect URIs.
    pub demo_port: u16,
    /// The upstream API's port (0: a free one); it runs with the functions, or with
    /// [`Options::upstream`].
    pub upstream_port: u16,
    /// How long the functions may take to serve their first request (a first build included).
    pub functions_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            provider: ProviderKind::default(),
            second_provider: None,
            providers: Vec::new(),
            provider_env: Vec::new(),
            client: ClientSpec::default(),
            functions: true,
            upstream: false,
            functions_may_fail: false,
            watch_changes: false,
            function_env: Vec::new(),
            function_log_level: Some("TRACE".to_owned()),
            sessions: false,
            demo: false,
            demo_mode: None,
            alg: Alg::default(),
            secret_file: None,
            secret_id: None,
            session_table: None,
            logs: None,
            moto_port: 0,
            api_port: 0,
            demo_port: 0,
            upstream_port: 0,
            functions_timeout: Duration::from_secs(900),
        }
    }
}

impl Options {
    /// Whether the upstream API runs: with the functions, or when asked for alone.
    pub(crate) fn runs_upstream(&self) -> bool {
        self.functions || self.upstream
    }

    /// How our client is registered at a provider of `kind`: [`Options::client`] at
    /// oidc-provider, the default elsewhere.
    pub(crate) fn client_for(&self, kind: ProviderKind) -> ClientSpec {
        match kind {
            ProviderKind::OidcProvider => self.client.clone(),
            ProviderKind::LemonLdap => ClientSpec::default(),
        }
    }

    /// The providers to start: [`Options::providers`], or the ones [`Options::provider`] and
    /// [`Options::second_provider`] name; refused when [`Options::client`] cannot apply.
    fn provider_specs(&self) -> Result<Vec<ProviderSpec>, StackError> {
        let specs = self.slots()?;
        if self.client != ClientSpec::default() {
            if !specs.iter().any(|s| s.kind == ProviderKind::OidcProvider) {
                return Err(StackError::Options(
                    "Options::client applies to oidc-provider, and this stack runs none".into(),
                ));
            }
            self.client
                .check()
                .map_err(|e| StackError::Options(format!("Options::client: {e}")))?;
        }
        Ok(specs)
    }

    fn slots(&self) -> Result<Vec<ProviderSpec>, StackError> {
        if !self.providers.is_empty() {
            return Ok(self.providers.clone());
        }
        let slot = |kind: ProviderKind, client_id: &str| ProviderSpec {
            kind,
            name: kind.name().to_owned(),
            client_id: client_id.to_owned(),
            env: self.provider_env.clone(),
            ..ProviderSpec::default()
        };
        let mut specs = vec![slot(self.provider, CLIENT_ID)];
        if let Some(second) = self.second_provider {
            if second == self.provider {
                return Err(StackError::Options(
                    "the second provider must be the other kind".into(),
                ));
            }
            specs.push(slot(second, SECOND_CLIENT_ID));
        }
        Ok(specs)
    }
}

/// An HTTP client that follows no redirects and keeps no cookies, with a total `timeout`.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    client.timeout(timeout).build().unwrap_or_default()
}

/// The client of the stack's own requests (is a service up yet?).
pub(crate) fn http() -> reqwest::Client {
    http_client(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_client_spec_goes_to_oidc_provider_and_is_refused_without_one() {
        let fapi = ClientSpec { fapi2: true, ..ClientSpec::default() };
        let two = Options {
            second_provider: Some(ProviderKind::LemonLdap),
            client: fapi.clone(),
            ..Options::default()
        };
        assert_eq!(two.provider_specs().unwrap().len(), 2);
        assert_eq!(two.client_for(ProviderKind::OidcProvider), fapi);
        assert_eq!(two.client_for(ProviderKind::LemonLdap), ClientSpec::default());
        let lemon =
            Options { provider: ProviderKind::LemonLdap, client: fapi, ..Options::default() };
        assert!(lemon.provider_specs().is_err());
        let nonce = ClientSpec { dpop_nonce: true, ..ClientSpec::default() };
        let alone = Options { client: nonce, ..Options::default() };
        assert!(alone.provider_specs().is_err(), "a DPoP nonce without DPoP");
    }

    #[test]
    fn options_read_the_client_spec_from_json() {
        let options: Options =
            serde_json::from_str(r#"{"client": {"fapi2": true, "dpop_nonce": true}}"#).unwrap();
        assert!(options.client.fapi2 && options.client.dpop_nonce);
        assert!(serde_json::from_str::<Options>(r#"{"client": {"pkjwt": true}}"#).is_err());
    }
}
