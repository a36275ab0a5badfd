//! OpenID Connect login for single-page apps, on AWS Lambda: all the logic, no Lambda types.
//!
//! 1. `login` seals a [`Transaction`] (state, nonce, PKCE verifier, `return_to`) into a
//!    `__Host-` cookie and answers the provider's authorize URL.
//! 2. `callback` opens the cookie, checks `state` and the RFC 9207 `iss`, exchanges the code with
//!    the client secret and the PKCE verifier, checks the ID token, asks userinfo, and mints our
//!    own short-lived JWT ([`SessionTokens`]). The provider's tokens never leave the function.
//!
//! Each function's state is a type ([`Login`], [`Callback`], [`Logout`], [`Issuer`],
//! [`Access`]) built once at cold start ([`cold_start`]) and passed by reference to every
//! request ([`serve`]). The modules are private and layered, each importing only those below
//! it (ARCHITECTURE.md has the map):
//!
//! ```text
//! functions   one module per Lambda function: state, cold start, handlers
//! web         request, response, cookies, route tables and serve
//! oidc        discovery, JWKS and keys, OAuth client, code exchange, ID token checks
//! sessions    server-side sessions in DynamoDB: the handle, the sealed provider tokens, the
//!             refresh lease (one refresh grant at a time); beside oidc, neither imports the other
//! tokens      the secret and key rings, signing keys, the transaction cookie, our JWT
//! infra       configuration, the HTTP client, AWS, the clock
//! error, return_to   the vocabulary every layer may use
//! ```

mod error;
mod functions;
mod infra;
mod oidc;
mod return_to;
mod sessions;
mod tokens;
mod web;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(test)]
mod proptests;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use error::{
    Error, ErrorBody, IdTokenError, InteractionNeeded, VerifyError, chain as error_chain,
};
pub use functions::access::{Access, Credential, Me, Presented};
pub use functions::callback::{Callback, CallbackParams, CallbackRoute, Completed};
pub use functions::issuer::{CACHE_CONTROL as ISSUER_CACHE_CONTROL, Document, Issuer};
pub use functions::login::{Login, LoginStart};
pub use functions::logout::{Logout, LogoutRoute};
pub use functions::proxy::{ForRemoteApis, MAX_ANSWER_BODY, MAX_REQUEST_BODY, Proxy};
pub use functions::refresh::{Refresh, Refreshed};
pub use functions::start::{
    ColdStart, Discovered, DiscoveredWithKeys, Fetch, NoProvider, Parts, StartError, cold_start,
    load,
};
pub use infra::aws::{AwsEnv, SdkHttp, dynamodb_client, secrets_client};
pub use infra::clock::unix_now;
pub use infra::config::{
    BrowserTokens, Config, ConfigError, DEFAULT_PROVIDER, LoginOptions, LoginOptionsConfig,
    MAX_PROVIDERS, MAX_REMOTE_APIS, ProviderConfig, REMOTE_TIMEOUT_RANGE, RemoteApi, RemoteApis,
    SESSION_TTL_RANGE, SessionSettings, UpstreamToken, is_loopback,
};
pub use infra::http::{
    CONNECT_TIMEOUT, ClientError, EXTRA_CA_CERTS, FetchError, Http, MAX_BODY, TOTAL_TIMEOUT,
    extra_ca_certs, http_client, http_client_with, upstream_client,
};
pub use oidc::client_auth::{ClientCredentials, ClientMaterial};
pub use oidc::discovery::{ExtraMetadata, Metadata, ProviderError, discover};
pub use oidc::dpop::{DpopKey, htu as dpop_htu};
pub use oidc::id_token::{LEEWAY_SECS as ID_TOKEN_LEEWAY_SECS, MAX_ID_TOKEN_LEN};
pub use oidc::jwks::{JWKS_REFETCH_COOLDOWN, JwksCache, Verifier, fetch_jwks, parse_jwks};
pub use oidc::key::{ProviderKey, ProviderKeySet};
pub use oidc::provider::{ACCEPTED_ALGS, OidcClient, Provider, Providers, Upstream};
pub use return_to::ReturnTo;
pub use sessions::{
    Ending, Handle, LEASE_SECS, Lease, Listed, MAX_LISTED, MAX_WAITING, Memory, Named, Opened,
    Owner, ProviderTokens, Record, Revocable, Revoker, SessionItem, SessionKeys, Sessions, Table,
};
pub use tokens::keygen;
pub use tokens::secret::{
    ClientSecrets, CookieKey, KeyRing, Secret, SecretError, fetch as fetch_secret,
};
pub use tokens::session::{LEEWAY_SECS as SESSION_LEEWAY_SECS, SessionClaims, SessionTokens, User};
pub use tokens::signing::{SigningKey, SigningKeyError};
pub use tokens::transaction::{Flow, LIFETIME as TRANSACTION_LIFETIME, Transaction};
pub use web::cookies;
pub use web::request::{MAX_INPUT, Query, Request};
pub use web::response::{Body, Response};
pub use web::routes::{HttpFunction, NoRoute, Route, log_refusal, resolve, serve};
