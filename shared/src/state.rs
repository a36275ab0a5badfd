//! The immutable state each function builds once, at cold start.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openidconnect::{RedirectUrl, Scope};

use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::provider::{self, JwksCache, Metadata, Provider, ProviderError, ProviderKeySet};
use crate::secret::{self, CookieKey, Secret, SecretError};
use crate::session::SessionTokens;

/// Why a function refuses to start. Each message names what to fix; none carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// An environment variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The secret could not be read or parsed.
    #[error("secret {secret_id:?}: {source}")]
    Secret {
        /// `SECRET_ID`.
        secret_id: String,
        /// Why.
        #[source]
        source: SecretError,
    },
    /// The provider's metadata could not be loaded, or the provider cannot serve us.
    #[error("OpenID provider {issuer:?}: {source}")]
    Provider {
        /// `OIDC_ISSUER`.
        issuer: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// What a function loads at cold start beyond config and secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The secret only (issuer metadata, me, authorizer).
    Secret,
    /// Discovery (login, logout).
    Discovery,
    /// Discovery and the JWKS (callback).
    DiscoveryAndJwks,
}

/// Everything a function needs to serve requests. Built once; shared by reference.
pub struct State {
    /// The configuration.
    pub config: Config,
    /// The provider, where the function talks to it.
    provider: Option<Provider>,
    /// The outbound HTTP client.
    pub http: provider::Http,
    /// Cookie keys, the active one first.
    pub cookie_keys: Vec<CookieKey>,
    /// Our JWTs.
    pub session: SessionTokens,
    pub(crate) spa_redirect: Option<RedirectUrl>,
    pub(crate) server_redirect: Option<RedirectUrl>,
    pub(crate) scopes: Vec<Scope>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

impl State {
    /// The provider.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] in a function that did not load it at cold start.
    pub fn provider(&self) -> Result<&Provider, Error> {
        self.provider.as_ref().ok_or_else(|| Error::Internal("provider not loaded".into()))
    }

    /// The whole cold start of a function: configuration from the environment, then
    /// [`State::load`]. A failure is logged as one line naming what to fix, then returned so
    /// the function exits instead of serving.
    ///
    /// # Errors
    ///
    /// [`StartError`].
    pub async fn cold_start(needs: Needs) -> Result<Self, StartError> {
        let started = std::time::Instant::now();
        let result = match Config::from_env() {
            Ok(config) => Self::load(config, needs).await,
            Err(e) => Err(e.into()),
        };
        match &result {
            Ok(_) => {
                tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "cold start done")
            }
            Err(e) => tracing::error!(error = %e, "cold start failed; not serving"),
        }
        result
    }

    /// The cold start: reads the secret from Secrets Manager while fetching discovery, then the
    /// JWKS (while the secret may still be on its way): two round trips of wall time at most.
    ///
    /// # Errors
    ///
    /// [`StartError`], which the caller logs before exiting.
    pub async fn load(config: Config, needs: Needs) -> Result<Self, StartError> {
        let http = provider::http_client().map_err(|e| StartError::Http(e.to_string()))?;
        let secrets = crate::aws::secrets_client(&crate::aws::AwsEnv::from_env()?, &http);
        let secret_id = config.secret_id.clone();
        // Its own task, so that the SDK's request signing and the key parsing (CPU) run on
        // another worker while discovery and the JWKS are on the wire: `join!` of two futures
        // on one task would let either hold the other back.
        let secret = tokio::spawn(async move { secret::fetch(&secrets, &secret_id).await });
        let metadata = async {
            if needs == Needs::Secret {
                return Ok(None);
            }
            let metadata = provider::discover(&http, &config).await?;
            let jwks = match needs {
                Needs::DiscoveryAndJwks => {
                    Some(provider::fetch_jwks(&http, metadata.jwks_uri().as_str()).await?)
                }
                _ => None,
            };
            Ok::<_, ProviderError>(Some((metadata, jwks)))
        };
        let (secret, metadata) = tokio::join!(secret, metadata);
        let metadata = metadata
            .map_err(|source| StartError::Provider { issuer: config.issuer_str.clone(), source })?;
        let secret = secret
            .unwrap_or_else(|e| Err(SecretError::Fetch(format!("the fetch task ended: {e}"))))
            .map_err(|source| StartError::Secret { secret_id: config.secret_id.clone(), source })?;
        Self::from_parts(config, secret, metadata, http, provider::JWKS_REFETCH_COOLDOWN)
    }

    /// Assembles the state from loaded parts (the cold start's last step; tests call it with
    /// parts of their own).
    ///
    /// # Errors
    ///
    /// [`StartError::Provider`] when the provider cannot serve this relying party.
    pub fn from_parts(
        config: Config,
        secret: Secret,
        provider: Option<(Metadata, Option<ProviderKeySet>)>,
        http: provider::Http,
        jwks_cooldown: Duration,
    ) -> Result<Self, StartError> {
        let (client_secret, signing_keys, cookie_keys) = secret.into_parts();
        let provider = match provider {
            None => None,
            Some((metadata, jwks)) => {
                let jwks_uri = metadata.jwks_uri().to_string();
                let mut provider =
                    Provider::new(metadata, &config, &client_secret).map_err(|source| {
                        StartError::Provider { issuer: config.issuer_str.clone(), source }
                    })?;
                provider.jwks = jwks.map(|jwks| {
                    let algorithms = provider.algorithms.clone();
                    JwksCache::new(jwks_uri, jwks, &config, algorithms, jwks_cooldown)
                });
                Some(provider)
            }
        };
        let session = SessionTokens::new(
            config.session_issuer.clone(),
            config.session_audience.clone(),
            config.session_ttl,
            signing_keys,
        );
        let scopes = config
            .scopes
            .iter()
            .filter(|s| *s != "openid")
            .map(|s| Scope::new(s.clone()))
            .collect();
        Ok(Self {
            spa_redirect: config.spa_redirect_uri.clone().map(RedirectUrl::from_url),
            server_redirect: config.server_redirect_uri.clone().map(RedirectUrl::from_url),
            scopes,
            config,
            provider,
            http,
            cookie_keys,
            session,
        })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
