//! The provider as our client sees it: the OAuth client built from discovery and the client
//! secret, with what this relying party is configured to ask of it (scopes, redirect URIs,
//! userinfo).

use openidconnect::core::{CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm};
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    RedirectUrl, Scope,
};
use secrecy::{ExposeSecret as _, SecretString};

use super::client_auth::{ClientCredentials, ClientMaterial};
use super::discovery::{Metadata, ProviderError};
use super::dpop::{DpopHttp, DpopKey, Nonces};
use super::issuer::{IssuerProblem, IssuerRule};
use crate::error::Error;
use crate::infra::config::{AssertionAudience, ClientAuthMethod, ParMode, ProviderConfig};
use crate::infra::http::Http;
use crate::tokens::transaction::Flow;

/// JWS algorithms we verify (ID tokens, logout tokens), when the provider announces them: each
/// with a key of its type only ([`super::key::ProviderKey::accepts`]). Never `none`, never HS*.
pub const ACCEPTED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The ID token algorithms FAPI 2.0 allows (section 5.4): PS256, ES256, EdDSA.
pub const FAPI2_ALGS: [CoreJwsSigningAlgorithm; 3] = [
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The algorithms accepted from a provider announcing `announced`: [`ACCEPTED_ALGS`] it names,
/// whatever else it names (LemonLDAP::NG announces `none` and HS* beside RS256).
pub fn accepted_algorithms(announced: &[CoreJwsSigningAlgorithm]) -> Vec<CoreJwsSigningAlgorithm> {
    ACCEPTED_ALGS.into_iter().filter(|a| announced.contains(a)).collect()
}

/// The OAuth client as built from discovery: authorize URL set, token and userinfo maybe.
pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider, as a function that starts or finishes logins uses it.
pub struct Provider {
    /// Its name in the configuration (`?provider=`).
    pub name: String,
    /// The OAuth client (authorize URL, token endpoint, userinfo), holding the client secret.
    pub client: OidcClient,
    /// `OIDC_ISSUER` exactly as configured (and as discovery stated it, or its tenant
    /// template).
    pub issuer: String,
    issuer_url: IssuerUrl,
    issuer_rule: IssuerRule,
    /// `OIDC_CLIENT_ID`.
    pub client_id: String,
    /// RFC 9207: the provider announces `iss` in authorization responses.
    pub iss_parameter_supported: bool,
    /// RP-initiated logout, when announced.
    pub end_session_endpoint: Option<url::Url>,
    /// The ID token algorithms we accept from this provider.
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// Scopes to request beyond `openid` (which openidconnect always sends).
    pub scopes: Vec<Scope>,
    /// Call userinfo after the code exchange (`OIDC_USERINFO`, and the provider has one).
    pub userinfo: bool,
    /// How our client authenticates (the token request's, PAR's and revocation's).
    pub credentials: ClientCredentials,
    /// The PAR endpoint, when logins push their authorization request (`OIDC_PAR`).
    pub par_endpoint: Option<url::Url>,
    /// The provider's tokens are bound to a key of each session (`OIDC_DPOP`).
    pub dpop: bool,
    /// The DPoP nonces the provider gave, by origin.
    pub dpop_nonces: Nonces,
    spa_redirect: Option<RedirectUrl>,
    server_redirect: Option<RedirectUrl>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("iss_parameter_supported", &self.iss_parameter_supported)
            .field("algorithms", &self.algorithms)
            .field("credentials", &self.credentials)
            .field("par", &self.par_endpoint.is_some())
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Builds the client from checked metadata, the configuration and the client secret.
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when the provider cannot serve this relying party.
    pub fn new(
        metadata: Metadata,
        config: &ProviderConfig,
        client_secret: &SecretString,
    ) -> Result<Self, ProviderError> {
        Self::with_credentials(metadata, config, ClientMaterial::Secret(client_secret.clone()))
    }

    /// How our client authenticates at the provider of `metadata`: `OIDC_CLIENT_AUTH`, which
    /// the provider must list (an absent list means `client_secret_basic` only, RFC 8414),
    /// else `client_secret_basic` unless only `client_secret_post` is listed.
    ///
    /// # Errors
    ///
    /// [`ProviderError::ClientAuthNotSupported`], [`ProviderError::NoClientAuthMethod`].
    pub fn client_auth_method(
        metadata: &Metadata,
        config: &ProviderConfig,
    ) -> Result<ClientAuthMethod, ProviderError> {
        let announced = metadata.token_endpoint_auth_methods_supported();
        let lists = |m: &CoreClientAuthMethod| {
            announced.map_or(*m == CoreClientAuthMethod::ClientSecretBasic, |l| l.contains(m))
        };
        let named = |method: ClientAuthMethod| match method {
            ClientAuthMethod::SecretBasic => CoreClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::SecretPost => CoreClientAuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt => CoreClientAuthMethod::PrivateKeyJwt,
        };
        match config.client_auth {
            Some(method) if lists(&named(method)) => Ok(method),
            Some(method) => Err(ProviderError::ClientAuthNotSupported { method: method.as_str() }),
            None if lists(&CoreClientAuthMethod::ClientSecretBasic) => {
                Ok(ClientAuthMethod::SecretBasic)
            }
            None if lists(&CoreClientAuthMethod::ClientSecretPost) => {
                Ok(ClientAuthMethod::SecretPost)
            }
            None => Err(ProviderError::NoClientAuthMethod),
        }
    }

    /// Builds the client from checked metadata, the configuration and the client's secret or
    /// keys (`material`, which [`Self::client_auth_method`] chose).
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when the provider cannot serve this relying party.
    pub fn with_credentials(
        metadata: Metadata,
        config: &ProviderConfig,
        material: ClientMaterial,
    ) -> Result<Self, ProviderError> {
        let announced = metadata.issuer().as_str();
        let issuer_rule =
            IssuerRule::new(&config.issuer_str, announced, config.allowed_tenants.as_ref())
                .map_err(|problem| match problem {
                    IssuerProblem::Mismatch => ProviderError::IssuerMismatch {
                        expected: config.issuer_str.clone(),
                        found: announced.to_owned(),
                    },
                    IssuerProblem::TenantsNotConfigured => {
                        ProviderError::TenantsNotConfigured { template: announced.to_owned() }
                    }
                })?;
        if config.allowed_tenants.is_some() && !issuer_rule.is_template() {
            tracing::warn!("OIDC_ALLOWED_TENANTS is set, but the issuer is no tenant template");
        }
        if metadata.token_endpoint().is_none() {
            return Err(ProviderError::NoTokenEndpoint);
        }
        // Every login sends an S256 challenge; a provider that says it cannot check one would
        // ignore it, and the code would travel unprotected.
        let pkce = &metadata.additional_metadata().code_challenge_methods_supported;
        if pkce.as_ref().is_some_and(|methods| !methods.iter().any(|m| m == "S256")) {
            return Err(ProviderError::NoPkceS256);
        }
        let method = Self::client_auth_method(&metadata, config)?;
        let token_endpoint = metadata.token_endpoint().ok_or(ProviderError::NoTokenEndpoint)?;
        let credentials = match (method, material) {
            (ClientAuthMethod::PrivateKeyJwt, ClientMaterial::Keys(keys))
                if config.fapi2 && keys.active().signing_key().alg_name() == "RS256" =>
            {
                // FAPI 2.0 section 5.4: PS256, ES256 or EdDSA, client assertions included.
                return Err(ProviderError::Fapi2ClientKey);
            }
            (ClientAuthMethod::PrivateKeyJwt, ClientMaterial::Keys(keys)) => {
                // The provider lists the algorithms it takes for assertions (RFC 8414): a key
                // it does not take would fail every login, so it stops the cold start instead.
                let alg = keys.active().signing_key().alg_name();
                let listed = metadata.token_endpoint_auth_signing_alg_values_supported();
                let named = |a: &CoreJwsSigningAlgorithm| {
                    serde_json::to_value(a).ok().is_some_and(|v| v.as_str() == Some(alg))
                };
                if listed.is_some_and(|algs| !algs.iter().any(named)) {
                    return Err(ProviderError::ClientKeyAlgNotListed { alg });
                }
                let audience = match config.assertion_audience {
                    AssertionAudience::Issuer => metadata.issuer().as_str().to_owned(),
                    // The audience attack on private_key_jwt (2025): an assertion for a token
                    // endpoint that discovery names on another origin than the issuer's could
                    // be replayed there by whoever wrote that discovery document.
                    AssertionAudience::TokenEndpoint
                        if token_endpoint.url().origin() != metadata.issuer().url().origin() =>
                    {
                        return Err(ProviderError::TokenEndpointElsewhere);
                    }
                    AssertionAudience::TokenEndpoint => token_endpoint.as_str().to_owned(),
                };
                ClientCredentials::assertion(&config.client_id, keys, audience)
            }
            (ClientAuthMethod::PrivateKeyJwt, ClientMaterial::Secret(_)) => {
                return Err(ProviderError::ClientAuthNotSupported { method: "private_key_jwt" });
            }
            (_, ClientMaterial::Keys(_)) => return Err(ProviderError::NoClientAuthMethod),
            (method, ClientMaterial::Secret(secret)) => ClientCredentials::secret(
                &config.client_id,
                secret,
                method == ClientAuthMethod::SecretBasic,
            ),
        };
        // openidconnect sends the secret itself (Basic or in the form); with an assertion it
        // sends only `client_id` in the form, and the exchange adds the assertion.
        let auth_type =
            if credentials.is_basic() { AuthType::BasicAuth } else { AuthType::RequestBody };
        let par_endpoint = Self::par_endpoint(&metadata, config.par)?;
        let dpop_algs = &metadata.additional_metadata().dpop_signing_alg_values_supported;
        if config.dpop && !dpop_algs.as_ref().is_some_and(|a| a.iter().any(|a| a == "ES256")) {
            return Err(ProviderError::NoDpop);
        }
        let mut algorithms = accepted_algorithms(metadata.id_token_signing_alg_values_supported());
        if config.fapi2 {
            // FAPI 2.0 section 5.4: PS256, ES256 or EdDSA only.
            algorithms.retain(|a| FAPI2_ALGS.contains(a));
            if algorithms.is_empty() {
                return Err(ProviderError::NoFapi2Algorithm);
            }
        }
        if algorithms.is_empty() {
            return Err(ProviderError::NoAcceptedAlgorithm);
        }
        let extra = metadata.additional_metadata().clone();
        let issuer_url = metadata.issuer().clone();
        let has_userinfo = metadata.userinfo_endpoint().is_some();
        let client_secret =
            credentials.client_secret().map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            client_secret,
        )
        .set_auth_type(auth_type);
        let scopes = config
            .scopes
            .iter()
            .filter(|s| *s != "openid")
            .map(|s| Scope::new(s.clone()))
            .collect();
        Ok(Self {
            name: config.name.clone(),
            client,
            issuer: config.issuer_str.clone(),
            issuer_url,
            issuer_rule,
            client_id: config.client_id.clone(),
            // FAPI 2.0 requires `iss` in every authorization response (RFC 9207): it is then
            // required whatever discovery says.
            iss_parameter_supported: extra.authorization_response_iss_parameter_supported
                || config.fapi2,
            end_session_endpoint: extra.end_session_endpoint,
            algorithms,
            scopes,
            userinfo: config.userinfo && has_userinfo,
            credentials,
            par_endpoint,
            dpop: config.dpop,
            dpop_nonces: Nonces::default(),
            spa_redirect: config.spa_redirect_uri.clone().map(RedirectUrl::from_url),
            server_redirect: config.server_redirect_uri.clone().map(RedirectUrl::from_url),
        })
    }

    /// The PAR endpoint logins push to under `mode`, if any.
    ///
    /// # Errors
    ///
    /// [`ProviderError::NoParEndpoint`] for `on` without an endpoint;
    /// [`ProviderError::ParRequired`] for `off` at a provider that requires PAR.
    fn par_endpoint(metadata: &Metadata, mode: ParMode) -> Result<Option<url::Url>, ProviderError> {
        let extra = metadata.additional_metadata();
        let endpoint = extra.pushed_authorization_request_endpoint.clone();
        match mode {
            ParMode::Off if extra.require_pushed_authorization_requests => {
                Err(ProviderError::ParRequired)
            }
            ParMode::Off => Ok(None),
            ParMode::On => endpoint.map(Some).ok_or(ProviderError::NoParEndpoint),
            // A provider that requires PAR and names no endpoint is refused at its first login
            // rather than here: it says so in its own error.
            ParMode::Auto => Ok(endpoint),
        }
    }

    /// The HTTP client of a request of a session, through `http`: with a proof of `key`, the
    /// session's DPoP key, when it has one.
    pub fn dpop_client<'a>(&'a self, http: &'a Http, key: Option<&'a DpopKey>) -> DpopHttp<'a> {
        DpopHttp::new(http, key, &self.dpop_nonces, &self.credentials)
    }

    /// The redirect URI of `flow`.
    ///
    /// # Errors
    ///
    /// [`Error::FlowNotConfigured`] when the flow's redirect URI is not set.
    pub fn redirect_uri(&self, flow: Flow) -> Result<&RedirectUrl, Error> {
        match flow {
            Flow::Spa => self.spa_redirect.as_ref(),
            Flow::Server => self.server_redirect.as_ref(),
        }
        .ok_or(Error::FlowNotConfigured)
    }

    /// The issuer as openidconnect compares it (the configured spelling, for the exact `iss`
    /// match; the template for a multi-tenant issuer, which openidconnect does not compare).
    pub fn issuer_url(&self) -> &IssuerUrl {
        &self.issuer_url
    }

    /// What `iss` this provider's tokens must carry.
    pub fn issuer_rule(&self) -> &IssuerRule {
        &self.issuer_rule
    }
}

/// What a function keeps of one provider: the [`Provider`] itself, or more around it.
pub trait Upstream {
    /// The provider.
    fn provider(&self) -> &Provider;
}

impl Upstream for Provider {
    fn provider(&self) -> &Provider {
        self
    }
}

/// The providers of a deployment, the default one first, as a function keeps them. A request
/// picks one by name (`?provider=`), a transaction, a session or a logout token by issuer:
/// every step of a login uses the provider its first step chose.
#[derive(Debug)]
pub struct Providers<T> {
    /// Never empty.
    items: Vec<T>,
}

impl<T: Upstream> Providers<T> {
    /// The providers, the default one first; `None` when there is none.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (!items.is_empty()).then_some(Self { items })
    }

    /// The default provider.
    pub fn default_one(&self) -> &T {
        // `items` is never empty (see `new`).
        &self.items[0]
    }

    /// The provider `name`, or the default one for `None`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProvider`] for a name the configuration does not have.
    pub fn named(&self, name: Option<&str>) -> Result<&T, Error> {
        match name {
            None => Ok(self.default_one()),
            Some(name) => {
                self.items.iter().find(|p| p.provider().name == name).ok_or(Error::UnknownProvider)
            }
        }
    }

    /// The provider whose issuer is exactly `issuer`, or, for a multi-tenant issuer, whose
    /// template filled with an allowed tenant is `issuer` (what a session records).
    pub fn by_issuer(&self, issuer: &str) -> Option<&T> {
        let items = || self.items.iter();
        items()
            .find(|p| p.provider().issuer == issuer)
            .or_else(|| items().find(|p| p.provider().issuer_rule().admits(issuer)))
    }

    /// The provider of a session: the one it names (`provider`, the configured name stored at
    /// login), while that one still admits the session's issuer `idp`; by `idp` for a session
    /// stored without a name, or whose name is no longer configured (a provider renamed: no
    /// two providers admit one issuer, the cold start refuses that). `None` when the named
    /// provider now has another issuer, or no provider admits `idp`: the session cannot go on
    /// with a client it was not made with.
    pub fn of_session(&self, provider: Option<&str>, idp: &str) -> Option<&T> {
        let named = provider.and_then(|name| self.items.iter().find(|p| p.provider().name == name));
        match named {
            Some(named) => Some(named).filter(|p| p.provider().issuer_rule().admits(idp)),
            None => self.by_issuer(idp),
        }
    }

    /// Every provider, the default one first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::oidc::discovery::discover;
    use crate::testing::{CLIENT_SECRET, FakeProvider, config_with};

    /// A provider named `name` at `fake`.
    async fn named(fake: &FakeProvider, name: &str) -> Provider {
        let http = crate::infra::http::http_client().unwrap();
        let metadata = discover(&http, &fake.issuer()).await.unwrap();
        let config = config_with(&fake.issuer(), &[]);
        let mut provider_config = config.default_provider().clone();
        provider_config.name = name.to_owned();
        Provider::new(metadata, &provider_config, &SecretString::from(CLIENT_SECRET)).unwrap()
    }

    #[tokio::test]
    async fn a_session_finds_the_provider_it_names_and_the_issuer_only_without_a_name() {
        let (corp, social) = (FakeProvider::start().await, FakeProvider::start().await);
        let providers =
            Providers::new(vec![named(&corp, "corp").await, named(&social, "social").await])
                .unwrap();
        let name = |found: Option<&Provider>| found.map(|p| p.name.clone());
        let (corp_iss, social_iss) = (corp.issuer(), social.issuer());
        // By the name stored at login, while that provider still admits the session's issuer.
        assert_eq!(name(providers.of_session(Some("social"), &social_iss)), Some("social".into()));
        assert_eq!(name(providers.of_session(Some("corp"), &social_iss)), None);
        // Stored before names were, or under a name no longer configured: by issuer.
        assert_eq!(name(providers.of_session(None, &corp_iss)), Some("corp".into()));
        assert_eq!(name(providers.of_session(Some("renamed"), &social_iss)), Some("social".into()));
        assert_eq!(name(providers.of_session(None, "https://gone.example")), None);
    }
}
