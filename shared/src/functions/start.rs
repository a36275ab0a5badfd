//! The cold start, once per function instance: configuration from the environment, then the
//! secret from Secrets Manager while the provider's documents are fetched (two round trips of
//! wall time at most, whatever the number of providers: theirs are fetched concurrently), then
//! the function's own state ([`ColdStart::build`]).
//!
//! What a function fetches from the provider is a type ([`ColdStart::Fetch`]): a function
//! that verifies ID tokens asks for [`DiscoveredWithKeys`] and cannot be built without a JWKS;
//! one that never talks to the provider asks for [`NoProvider`] and has none.

use std::future::Future;
use std::time::Duration;

use crate::infra::aws::{AwsEnv, dynamodb_client, secrets_client};
use crate::infra::config::{ClientAuthMethod, Config, ConfigError, ProviderConfig, err};
use crate::infra::http::{Http, http_client};
use crate::infra::metrics;
use crate::oidc::client_auth::ClientMaterial;
use crate::oidc::discovery::{Metadata, ProviderError, discover};
use crate::oidc::jwks::{JwksCache, fetch_jwks};
use crate::oidc::key::ProviderKeySet;
use crate::oidc::provider::{Provider, Providers, Upstream};
use crate::oidc::revoke::Revocation;
use crate::sessions::{SessionKeys, Sessions};
use crate::tokens::secret::{self, ClientSecrets, Secret, SecretError};
use crate::tokens::secret::{CookieKey, KeyRing};
use crate::tokens::signing::SigningKey;

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
        /// Its issuer (`OIDC_ISSUER`, `OIDC_<NAME>_ISSUER`).
        issuer: String,
        /// Why.
        #[source]
        source: ProviderError,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    /// Sessions are configured but cannot be set up.
    #[error("sessions: {0}")]
    Sessions(String),
}

impl StartError {
    /// What failed, from a closed set (the `Cause` of the `ColdStartFailed` metric).
    pub const fn cause(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Secret { .. } => "secret",
            Self::Provider { .. } => "provider",
            Self::Http(_) => "http",
            Self::Sessions(_) => "sessions",
        }
    }

    /// A [`StartError::Provider`] for `provider`.
    pub fn provider(provider: &ProviderConfig, source: ProviderError) -> Self {
        Self::Provider { issuer: provider.issuer_str.clone(), source }
    }
}

/// What every cold start loads, whatever the function.
#[derive(Debug)]
pub struct Parts {
    /// The configuration.
    pub config: Config,
    /// The secret, parsed.
    pub secret: Secret,
    /// The outbound HTTP client (its connections opened at cold start serve the requests).
    pub http: Http,
    /// The DynamoDB client, when sessions are on (`SESSION_TABLE`).
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
}

impl Parts {
    /// The session table, when sessions are on: `SESSION_TABLE` through the DynamoDB client,
    /// sealing with keys derived from the cookie keys.
    ///
    /// # Errors
    ///
    /// [`StartError::Sessions`] when sessions are configured without a DynamoDB client (a test
    /// set-up), or the session keys cannot be derived.
    pub fn sessions(
        config: &Config,
        dynamodb: Option<aws_sdk_dynamodb::Client>,
        cookie_keys: &KeyRing<CookieKey>,
    ) -> Result<Option<Sessions>, StartError> {
        let Some(settings) = config.sessions.clone() else { return Ok(None) };
        let client = dynamodb.ok_or_else(|| {
            StartError::Sessions("SESSION_TABLE is set but no DynamoDB client".into())
        })?;
        let keys =
            SessionKeys::derive(cookie_keys).map_err(|e| StartError::Sessions(e.to_string()))?;
        Ok(Some(Sessions::new(client, settings, keys)))
    }
}

/// What a cold start fetches from the providers, concurrently with the secret.
pub trait Fetch: Sized + Send {
    /// Fetches it, from every provider at once.
    fn fetch(http: &Http, config: &Config)
    -> impl Future<Output = Result<Self, StartError>> + Send;
}

/// `fetch_one` for every provider of `config`, concurrently; the results in their order.
async fn each_provider<'a, T, F>(
    config: &'a Config,
    fetch_one: impl Fn(&'a ProviderConfig) -> F,
) -> Result<Vec<T>, StartError>
where
    F: Future<Output = Result<T, ProviderError>> + 'a,
{
    let fetch_one = &fetch_one;
    let fetches = config.providers.iter().map(|p| async move {
        fetch_one(p).await.map_err(|source| StartError::provider(p, source))
    });
    futures_util::future::try_join_all(fetches).await
}

/// Nothing from the provider (issuer metadata, `/api/me`, the authorizer).
#[derive(Debug)]
pub struct NoProvider;

impl Fetch for NoProvider {
    async fn fetch(_: &Http, _: &Config) -> Result<Self, StartError> {
        Ok(Self)
    }
}

/// Every provider's discovery document, in the configuration's order (login, logout).
#[derive(Debug)]
pub struct Discovered(pub Vec<Metadata>);

impl Fetch for Discovered {
    async fn fetch(http: &Http, config: &Config) -> Result<Self, StartError> {
        each_provider(config, |p| discover(http, &p.issuer_str)).await.map(Self)
    }
}

/// Every provider's discovery document and the JWKS it names, fetched after it (callback,
/// refresh), in the configuration's order.
#[derive(Debug)]
pub struct DiscoveredWithKeys(pub Vec<(Metadata, ProviderKeySet)>);

impl Fetch for DiscoveredWithKeys {
    async fn fetch(http: &Http, config: &Config) -> Result<Self, StartError> {
        let fetched = each_provider(config, |p| async move {
            let metadata = discover(http, &p.issuer_str).await?;
            let jwks = fetch_jwks(http, metadata.jwks_uri().as_str()).await?;
            Ok((metadata, jwks))
        });
        fetched.await.map(Self)
    }
}

/// One provider as a function that verifies its tokens keeps it: its client and its keys.
#[derive(Debug)]
pub struct Verifying {
    /// The provider's client, with the client secret.
    pub provider: Provider,
    /// The provider's keys, refetched at most once per the cooldown given.
    pub jwks: JwksCache,
    /// The provider's revocation endpoint, when it announces one: the refresh function
    /// revokes a grant's new refresh token that its session, ended during the grant, cannot
    /// hold.
    pub revocation: Option<Revocation>,
}

impl Upstream for Verifying {
    fn provider(&self) -> &Provider {
        &self.provider
    }
}

/// What a function that calls the providers and verifies their ID tokens (callback, refresh)
/// assembles from [`Parts`] and [`DiscoveredWithKeys`].
pub struct WithProvider {
    /// The configuration.
    pub config: Config,
    /// The outbound HTTP client.
    pub http: Http,
    /// Each provider's client and keys, the default one first.
    pub providers: Providers<Verifying>,
    /// Our signing keys.
    pub signing_keys: KeyRing<SigningKey>,
    /// Our cookie keys.
    pub cookie_keys: KeyRing<CookieKey>,
    /// The session table, when sessions are on.
    pub sessions: Option<Sessions>,
}

impl Parts {
    /// Each provider's client from its discovery document (`metadata`, in the configuration's
    /// order) with its client secret or client keys (`OIDC_CLIENT_AUTH`), made into what the function keeps by `keep`.
    ///
    /// # Errors
    ///
    /// [`StartError::Provider`] when a provider cannot serve this relying party;
    /// [`StartError::Secret`] when the secret holds no client secret (or, for
    /// `private_key_jwt`, no client key) for one.
    pub fn providers<M, T: Upstream>(
        config: &Config,
        client_secrets: &ClientSecrets,
        fetched: Vec<M>,
        metadata: impl Fn(&M) -> &Metadata,
        mut keep: impl FnMut(Provider, M) -> T,
    ) -> Result<Providers<T>, StartError> {
        let mut kept = Vec::with_capacity(fetched.len());
        for (index, (p, m)) in config.providers.iter().zip(fetched).enumerate() {
            let in_secret =
                |source| StartError::Secret { secret_id: config.secret_id.clone(), source };
            let method = Provider::client_auth_method(metadata(&m), p)
                .map_err(|source| StartError::provider(p, source))?;
            let material = match method {
                ClientAuthMethod::PrivateKeyJwt => {
                    ClientMaterial::Keys(client_secrets.keys_for(&p.name).map_err(in_secret)?)
                }
                _ => ClientMaterial::Secret(
                    client_secrets.for_provider(&p.name, index == 0).map_err(in_secret)?.clone(),
                ),
            };
            let provider = Provider::with_credentials(metadata(&m).clone(), p, material)
                .map_err(|source| StartError::provider(p, source))?;
            // A session, a logout token and a refresh find their provider by issuer where
            // nothing names it: one issuer must never belong to two providers.
            let overlapping = kept
                .iter()
                .find(|other: &&T| other.provider().issuer_rule().overlaps(provider.issuer_rule()));
            if let Some(other) = overlapping {
                let problem = format!(
                    "providers {:?} and {:?} could both accept one issuer (one exact issuer and \
                     a tenant template admitting it, or one template allowing a tenant twice): \
                     leave that tenant out of OIDC_ALLOWED_TENANTS of the template's provider",
                    other.provider().name,
                    provider.name
                );
                return Err(err("OIDC_PROVIDERS", problem).into());
            }
            kept.push(keep(provider, m));
        }
        Providers::new(kept).ok_or_else(|| err("OIDC_PROVIDERS", "names no provider").into())
    }

    /// Each provider's client and JWKS cache (refetching at most once per `cooldown`), the
    /// session table, and the keys of the secret.
    ///
    /// # Errors
    ///
    /// [`StartError::Provider`] when a provider cannot serve this relying party;
    /// [`StartError::Secret`]; [`StartError::Sessions`].
    pub fn with_provider(
        self,
        DiscoveredWithKeys(fetched): DiscoveredWithKeys,
        cooldown: Duration,
    ) -> Result<WithProvider, StartError> {
        let Self { config, secret, http, dynamodb } = self;
        let (client_secrets, signing_keys, cookie_keys) = secret.into_parts();
        let sessions = Self::sessions(&config, dynamodb, &cookie_keys)?;
        let providers = Self::providers(
            &config,
            &client_secrets,
            fetched,
            |(m, _)| m,
            |provider, (m, keys)| {
                let jwks = JwksCache::new(
                    m.jwks_uri().to_string(),
                    keys,
                    &provider,
                    http.clone(),
                    cooldown,
                );
                let revocation = Revocation::from_metadata(&m, &provider);
                Verifying { provider, jwks, revocation }
            },
        )?;
        Ok(WithProvider { config, http, providers, signing_keys, cookie_keys, sessions })
    }
}

/// A function's state, built once at cold start from [`Parts`] and what it fetched.
pub trait ColdStart: Sized {
    /// What the cold start fetches from the provider.
    type Fetch: Fetch;

    /// Assembles the state (the cold start's last step; tests call it with parts of their own).
    ///
    /// # Errors
    ///
    /// [`StartError`] when the parts cannot serve this function.
    fn build(parts: Parts, fetched: Self::Fetch) -> Result<Self, StartError>;
}

/// The whole cold start of a function: configuration from the environment, then [`load`]. A
/// failure is logged as one line naming what to fix, then returned so the function exits
/// instead of serving.
///
/// # Errors
///
/// [`StartError`].
pub async fn cold_start<S: ColdStart>() -> Result<S, StartError> {
    let (result, recorded) = metrics::scope(async {
        match Config::from_env() {
            Ok(config) => load(config).await,
            Err(e) => Err(e.into()),
        }
    })
    .await;
    let elapsed_ms = recorded.elapsed_ms();
    match &result {
        Ok(_) => tracing::info!(elapsed_ms = elapsed_ms.round() as u64, "cold start done"),
        Err(e) => tracing::error!(error = %e, "cold start failed; not serving"),
    }
    recorded.publish();
    metrics::cold_start(result.as_ref().map(|_| elapsed_ms).map_err(StartError::cause));
    result
}

/// The cold start after configuration: reads the secret from Secrets Manager while fetching
/// what the function needs from the provider, then builds the state.
///
/// When sessions are on, the DynamoDB client is made here too (no request is sent before the
/// first session is used).
///
/// # Errors
///
/// [`StartError`], which the caller logs before exiting.
pub async fn load<S: ColdStart>(config: Config) -> Result<S, StartError> {
    let http = http_client().map_err(|e| StartError::Http(e.to_string()))?;
    let aws = AwsEnv::from_env()?;
    let secrets = secrets_client(&aws, &http);
    let dynamodb = config.sessions.is_some().then(|| dynamodb_client(&aws, &http));
    let secret_id = config.secret_id.clone();
    // Its own task, so that the SDK's request signing and the key parsing (CPU) run on another
    // worker while discovery and the JWKS are on the wire: `join!` of two futures on one task
    // would let either hold the other back.
    let secret = tokio::spawn(async move { secret::fetch(&secrets, &secret_id).await });
    let (secret, fetched) = tokio::join!(secret, S::Fetch::fetch(&http, &config));
    let fetched = fetched?;
    let secret = secret
        .unwrap_or_else(|e| Err(SecretError::Fetch(format!("the fetch task ended: {e}"))))
        .map_err(|source| StartError::Secret { secret_id: config.secret_id.clone(), source })?;
    S::build(Parts { config, secret, http, dynamodb }, fetched)
}
