//! The local OpenID providers: the npm `oidc-provider` (`dev/provider/provider.mjs`) and
//! LemonLDAP::NG (`dev/lemonldap/lemonldap.py`), each started with our client registered.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::client::ClientSpec;
use crate::paths::root;

/// Which OpenID provider a slot runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// The npm `oidc-provider` (`dev/provider/provider.mjs`): users `alice`, `bob`.
    #[default]
    OidcProvider,
    /// LemonLDAP::NG 2.16 (`dev/lemonldap/lemonldap.py`; how it differs:
    /// `dev/lemonldap/QUIRKS.md`): users `dwho`, `rtyler`, `msmith`; no back-channel logout.
    #[serde(rename = "lemonldap")]
    LemonLdap,
}

impl ProviderKind {
    /// Its name in `OIDC_PROVIDERS` when a stack runs two providers: `local` for
    /// oidc-provider, `lemon` for LemonLDAP::NG.
    pub fn name(self) -> &'static str {
        match self {
            Self::OidcProvider => "local",
            Self::LemonLdap => "lemon",
        }
    }

    /// Its label on the demo page of a two-provider stack ("Sign in with <label>").
    pub fn label(self) -> &'static str {
        match self {
            Self::OidcProvider => "the local provider",
            Self::LemonLdap => "LemonLDAP::NG",
        }
    }

    /// Its demo users, as `user/password` pairs.
    pub fn users(self) -> &'static str {
        match self {
            Self::OidcProvider => "alice/alice, bob/bob",
            Self::LemonLdap => "dwho/dwho, rtyler/rtyler",
        }
    }
}

/// One provider of a stack, as its caller asks for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    /// Its name in `OIDC_PROVIDERS` (`OIDC_<NAME>_*`) when the stack has several.
    pub name: String,
    /// Our client id there. Providers with the same client id share one client secret.
    pub client_id: String,
    /// Its port; 0 picks a free one.
    pub port: u16,
    /// The issuer it announces, when a caller puts it behind a proxy of its own (the
    /// benchmarks' counting proxies); by default `http://localhost:<port>`.
    pub issuer: Option<String>,
    /// Extra environment (`PROVIDER_ACCESS_TOKEN_TTL`, `PROVIDER_TRUST_PROXY`, ...: see
    /// `dev/provider/provider.mjs`; for LemonLDAP::NG `LLNG_ACCESS_TOKEN_TTL`, `LLNG_LOG_LEVEL`,
    /// ...: see `dev/lemonldap/lemonldap.py`).
    pub env: Vec<(String, String)>,
}

/// What the provider is told about the relying party it serves.
pub(crate) struct Registration<'a> {
    pub(crate) port: u16,
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
    /// Both redirect URIs, comma-separated.
    pub(crate) redirect_uris: &'a str,
    pub(crate) post_logout_uri: &'a str,
    /// Our back-channel logout endpoint (sessions on, oidc-provider only).
    pub(crate) backchannel_logout_uri: Option<String>,
    /// Where LemonLDAP::NG keeps its state (its portal's log among it).
    pub(crate) state_dir: &'a Path,
    /// How our client is registered beyond its client secret (oidc-provider only).
    pub(crate) client: &'a ClientSpec,
    /// Where the issuer function publishes our client keys (`private_key_jwt`).
    pub(crate) client_jwks_uri: String,
}

/// The command that starts provider `kind` with `reg`.
pub(crate) fn command(kind: ProviderKind, reg: &Registration<'_>) -> Command {
    // Each script's names for the same settings: port, issuer, redirect URIs, post-logout URIs.
    let (mut command, names) = match kind {
        ProviderKind::OidcProvider => {
            let mut command = Command::new("node");
            command.arg("provider.mjs").current_dir(root().join("dev/provider"));
            // With sessions, a logout at the provider calls our back-channel logout.
            let backchannel = reg.backchannel_logout_uri.iter();
            command.envs(backchannel.map(|u| ("PROVIDER_BACKCHANNEL_LOGOUT_URI", u)));
            command.envs(reg.client.provider_env(&reg.client_jwks_uri));
            (
                command,
                [
                    "PROVIDER_PORT",
                    "PROVIDER_ISSUER",
                    "PROVIDER_REDIRECT_URIS",
                    "PROVIDER_POST_LOGOUT_REDIRECT_URIS",
                ],
            )
        }
        // No back-channel logout there (lemonldap.py refuses the setting).
        ProviderKind::LemonLdap => {
            let mut command = Command::new("python3");
            command.arg(root().join("dev/lemonldap/lemonldap.py")).current_dir(root());
            command.env("LLNG_STATE_DIR", reg.state_dir);
            (
                command,
                [
                    "LLNG_PORT",
                    "LLNG_ISSUER",
                    "LLNG_REDIRECT_URIS",
                    "LLNG_POST_LOGOUT_REDIRECT_URIS",
                ],
            )
        }
    };
    let [port, issuer, redirects, post_logout] = names;
    command
        .env(port, reg.port.to_string())
        .env(issuer, reg.issuer)
        .env(redirects, reg.redirect_uris)
        .env(post_logout, reg.post_logout_uri)
        .env("OIDC_CLIENT_ID", reg.client_id)
        .env("OIDC_CLIENT_SECRET", reg.client_secret);
    command
}
