//! Entry points for the fuzz targets of `fuzz/` (feature `fuzzing`, off by default): the
//! parsers of browser and provider input that are not public, re-exported or wrapped, and a
//! fixed provider to check tokens against.
//!
//! Nothing here parses: every function hands its input to the parser the functions use. The
//! fixture is built once per process from fixed values: a provider on
//! `https://idp.example` (and an Entra ID multi-tenant one) announcing RS256, ES256 and EdDSA,
//! whose JWKS holds a fixed Ed25519 key (which [`sign`] signs with) and an RSA key, our
//! client `fuzz-client`, and one login in flight ([`NONCE`], [`LOGIN_STARTED`], [`NOW`]).
//! Nothing reaches the network: the JWKS is given in memory with a refetch cooldown longer
//! than any run, and token endpoint and userinfo answers are handed to openidconnect by an
//! HTTP client that answers the fuzzed bytes.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce as AeadNonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreGenderClaim, CoreIdToken, CoreTokenResponse};
use openidconnect::{
    AccessToken, AsyncHttpClient, AuthorizationCode, HttpRequest, HttpResponse, Nonce,
    PkceCodeVerifier, SubjectIdentifier, UserInfoClaims, UserInfoError,
};
use secrecy::SecretString;

use crate::error::{Error, IdTokenError};
use crate::infra::config::Config;
use crate::infra::http::{CONNECT_TIMEOUT, FetchError, TOTAL_TIMEOUT, http_client_with};
use crate::oidc::discovery::{Metadata, ProviderError, check_endpoints, parse_error};
use crate::oidc::exchange::{AllClaims, checked, token_error};
use crate::oidc::id_token::{Original, verify, verify_refreshed};
use crate::oidc::jwks::{JwksCache, parse_jwks};
use crate::oidc::provider::Provider;
use crate::tokens::secret::CookieKey;
use crate::tokens::signing::SigningKey;
use crate::tokens::transaction::{AAD as TRANSACTION_AAD, Flow};

pub use crate::infra::config::{AllowedTenants, allowed_tenants, repeats_an_option};
pub use crate::oidc::exchange::UserInfo;
pub use crate::oidc::global_logout::{
    BodyRefusal, MAX_AGE_SECS as GLOBAL_LOGOUT_MAX_AGE_SECS, RequestToken, Subject,
    subject as global_logout_subject,
};
pub use crate::oidc::id_token::{Asked, LEEWAY_SECS, Verified};
pub use crate::oidc::issuer::{IssuerRule, TENANT_PLACEHOLDER, announced_issuer_fits};
pub use crate::oidc::key::candidates;
pub use crate::oidc::logout_token::{
    BACKCHANNEL_LOGOUT_EVENT, LogoutToken, MAX_AGE_SECS as LOGOUT_MAX_AGE_SECS, Refusal,
    claimed_issuer,
};
pub use crate::return_to::MAX_LEN as RETURN_TO_MAX_LEN;
pub use crate::tokens::claims::{ClaimCopy, Extra, RESERVED};
pub use crate::tokens::transaction::MAX_COOKIE_LEN as TRANSACTION_MAX_COOKIE_LEN;

/// The time of every check, in Unix seconds (2023-11-14T22:13:20Z).
pub const NOW: u64 = 1_700_000_000;
/// When the login in flight started: ID tokens issued before it (minus leeway) are stale.
pub const LOGIN_STARTED: u64 = NOW - 5;
/// The exact issuer of the fixed provider.
pub const ISSUER: &str = "https://idp.example";
/// The issuer configured for the multi-tenant provider (Entra ID's `common` v2 endpoint).
pub const TENANT_CONFIGURED: &str = "https://login.microsoftonline.com/common/v2.0";
/// The issuer template its discovery announces.
pub const TENANT_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
/// The one tenant `OIDC_ALLOWED_TENANTS` allows.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Our client id at both providers.
pub const CLIENT_ID: &str = "fuzz-client";
/// The `nonce` the login in flight sent.
pub const NONCE: &str = "fuzz-nonce";
/// The provider's access token of the login (for `at_hash`).
pub const ACCESS_TOKEN: &str = "fuzz-access-token";
/// The user of the session being refreshed, and whom userinfo must name.
pub const SUB: &str = "alice";
/// The `kid` of the fixed Ed25519 key ([`sign`]).
pub const ED25519_KID: &str = "fuzz-ed25519";
/// The `kid` of the fixed RSA key (public only: nothing signs with it).
pub const RSA_KID: &str = "fuzz-rsa";

/// The seed of the fixed Ed25519 key.
const ED25519_SEED: [u8; 32] = [0x5e; 32];
/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410), before its 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The modulus of the fixed RSA key (2048 bits), base64url.
const RSA_N: &str = "0f6Mwwpr-NZJ8LBhMM3RFE-Y0DrpgPuadl6gClyy0t_D_NCPLNUSbKtXTm_pJ5CCslN-WrbZT9ObZTpCBMhtqMOK-3qspAg7w_g0jjw9_60MoJxPMEkmw5TrSsmLID2UOHR9-QK-LwzA4NP7XQOCIY8o-A8oRW9j6th3c2FiQk95QjGZ1Z2bPp2fYmtea9da7S8DwZpy81a9V76bfef6shFaQaUPG3xrXgEDbOiFb33TOkV0B1_yw5rgrmHOA602GOIWwq9b9cfJI3sT_iGimrAEtyBzfCiQ4CnVJ3ca15dweaf-CHoczvsNSCiHX0g7K7NUZb9gldTE2bXSOMUYbQ";
/// Longer than any fuzzing run: the JWKS given is never refetched.
const NO_REFETCH: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Where a refetch would go, were it ever attempted: a closed port on loopback.
const UNREACHABLE_JWKS: &str = "http://127.0.0.1:9/jwks";

/// Which of the two fixed providers a token or document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenancy {
    /// The provider whose issuer is exactly [`ISSUER`].
    Exact,
    /// The Entra ID multi-tenant provider ([`TENANT_TEMPLATE`], [`TENANT`] allowed).
    Tenant,
}

/// One of the two fixed providers: its configuration, client and JWKS cache, and the ID token
/// of the session a refresh continues.
struct Upstream {
    config: Config,
    provider: Provider,
    jwks: JwksCache,
    issuer: String,
    original_id_token: String,
}

/// Everything fixed, built once per process.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    key: SigningKey,
    exact: Upstream,
    tenant: Upstream,
}

impl Fixture {
    /// The provider of `tenancy`.
    fn upstream(&self, tenancy: Tenancy) -> &Upstream {
        match tenancy {
            Tenancy::Exact => &self.exact,
            Tenancy::Tenant => &self.tenant,
        }
    }
}

/// The discovery document of a fixed provider whose endpoints are on `base`.
fn discovery_document(issuer: &str, base: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    })
}

/// The configuration of our client at `issuer`, as the functions read it.
fn config(issuer: &str, tenants: Option<&str>) -> Result<Config, String> {
    let mut vars = vec![
        ("OIDC_ISSUER", issuer),
        ("OIDC_CLIENT_ID", CLIENT_ID),
        ("OIDC_REDIRECT_URI", "https://app.example/callback"),
        ("OIDC_SERVER_REDIRECT_URI", "https://api.example/authorization-code/callback"),
        ("SECRET_ID", "fuzz/secret"),
        ("SESSION_ISSUER", "https://login.example"),
        ("SESSION_AUDIENCE", "https://api.example"),
        ("POST_LOGIN_PATH", "/home"),
    ];
    vars.extend(tenants.map(|t| ("OIDC_ALLOWED_TENANTS", t)));
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        .map_err(|e| e.to_string())
}

/// A compact JWS of the raw `header` and `claims` bytes, signed by `key`.
fn compact(key: &SigningKey, header: &[u8], claims: &[u8]) -> Result<String, String> {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = key.sign(input.as_bytes()).map_err(|_| "Ed25519 signing failed")?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// One fixed provider: configured as `configured`, announcing `issuer`.
fn upstream(
    key: &SigningKey,
    configured: &str,
    announced: &str,
    base: &str,
    tenants: Option<&str>,
) -> Result<Upstream, String> {
    let config = config(configured, tenants)?;
    let document = discovery_document(announced, base);
    let metadata: Metadata = serde_json::from_value(document).map_err(|e| e.to_string())?;
    let secret = SecretString::from("fuzz-client-secret");
    let provider =
        Provider::new(metadata, config.default_provider(), &secret).map_err(|e| e.to_string())?;
    let jwks = serde_json::json!({"keys": [
        key.public_jwk(),
        {"kty": "RSA", "kid": RSA_KID, "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
    ]});
    let keys = parse_jwks(jwks.to_string().as_bytes()).map_err(|e| e.to_string())?;
    // Never used (the JWKS is not refetched); without `EXTRA_CA_CERTS`, whatever the
    // environment says.
    let http = http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT).map_err(|e| e.to_string())?;
    let jwks = JwksCache::new(UNREACHABLE_JWKS.to_owned(), keys, &provider, http, NO_REFETCH);
    let issuer = announced.replace(TENANT_PLACEHOLDER, TENANT);
    let mut claims = serde_json::json!({
        "iss": issuer, "sub": SUB, "aud": CLIENT_ID, "nonce": NONCE,
        "iat": LOGIN_STARTED, "exp": LOGIN_STARTED + 300, "auth_time": LOGIN_STARTED - 30,
    });
    if tenants.is_some() {
        claims["tid"] = TENANT.into();
    }
    let header = serde_json::json!({"alg": "EdDSA", "kid": ED25519_KID});
    let original_id_token =
        compact(key, header.to_string().as_bytes(), claims.to_string().as_bytes())?;
    Ok(Upstream { config, provider, jwks, issuer, original_id_token })
}

/// Builds the fixture: the runtime, the fixed key, both providers.
fn build() -> Result<Fixture, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let mut pkcs8 = ED25519_PKCS8_PREFIX.to_vec();
    pkcs8.extend_from_slice(&ED25519_SEED);
    let key = SigningKey::from_pkcs8_der(ED25519_KID, &pkcs8).map_err(|e| e.to_string())?;
    let exact = upstream(&key, ISSUER, ISSUER, ISSUER, None)?;
    let tenant = upstream(
        &key,
        TENANT_CONFIGURED,
        TENANT_TEMPLATE,
        "https://login.microsoftonline.com/common/oauth2/v2.0",
        Some(TENANT),
    )?;
    Ok(Fixture { runtime, key, exact, tenant })
}

/// The fixture, built on first use.
// Built from constants only: a failure is a bug of this module, found on the first run.
#[allow(clippy::panic)]
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build().unwrap_or_else(|e| panic!("fuzzing fixture: {e}")))
}

/// The issuer a token of `tenancy`'s provider carries (the template filled with [`TENANT`]).
pub fn issuer(tenancy: Tenancy) -> &'static str {
    &fixture().upstream(tenancy).issuer
}

/// A compact JWS of exactly these `header` and `claims` bytes (each base64url-encoded as is,
/// not re-serialized), signed with the fixed Ed25519 key [`ED25519_KID`] whatever the header
/// says: a token whose signature verifies when its header names EdDSA, so that the checks
/// after the signature are reached.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    // The input is any bytes; only an error of AWS-LC itself fails, and then nothing is signed.
    compact(&fixture().key, header, claims).unwrap_or_default()
}

/// The ID token check of the callback (`oidc::id_token::verify`) on `token`, for the login in
/// flight ([`NONCE`], [`ACCESS_TOKEN`], [`LOGIN_STARTED`]) at [`NOW`], as the code exchange
/// hands it over (a token that does not parse as a JWS is `Malformed`).
///
/// # Errors
///
/// [`Error::IdToken`] with the first failed check.
pub fn id_token(token: &str, tenancy: Tenancy, asked: Asked<'_>) -> Result<Verified, Error> {
    let Ok(token) = token.parse::<CoreIdToken>() else {
        return Err(IdTokenError::Malformed.into());
    };
    let fx = fixture();
    let access = AccessToken::new(ACCESS_TOKEN.to_owned());
    let nonce = Nonce::new(NONCE.to_owned());
    let jwks = &fx.upstream(tenancy).jwks;
    fx.runtime.block_on(verify(jwks, &token, &access, &nonce, LOGIN_STARTED, asked, NOW))
}

/// The check of an ID token of a refresh grant's answer (`verify_refreshed`), for the session
/// of [`SUB`] whose last ID token is the fixture's (nonce [`NONCE`]), started at
/// [`LOGIN_STARTED`].
///
/// # Errors
///
/// As `verify_refreshed`.
pub fn refreshed_id_token(token: &str, tenancy: Tenancy) -> Result<Verified, Error> {
    let Ok(token) = token.parse::<CoreIdToken>() else {
        return Err(IdTokenError::Malformed.into());
    };
    let fx = fixture();
    let upstream = fx.upstream(tenancy);
    let original = Original {
        issuer: &upstream.issuer,
        sub: SUB,
        id_token: Some(&upstream.original_id_token),
        started: LOGIN_STARTED,
    };
    let access = AccessToken::new(ACCESS_TOKEN.to_owned());
    fx.runtime.block_on(verify_refreshed(&upstream.jwks, &token, &access, &original, NOW))
}

/// The back-channel logout token check (`oidc::logout_token::verify`) at [`NOW`].
///
/// # Errors
///
/// The reason of the first failed check.
pub fn logout_token(token: &str, tenancy: Tenancy) -> Result<LogoutToken, Refusal> {
    let fx = fixture();
    fx.runtime.block_on(crate::oidc::logout_token::verify(&fx.upstream(tenancy).jwks, token, NOW))
}

/// The audience Universal Logout requests are checked for in [`global_logout_request`].
pub const GLOBAL_LOGOUT_AUDIENCE: &str = "https://api.example/api/global-token-revocation";

/// Universal Logout's request JWT check (`oidc::global_logout::verify`) at [`NOW`], for
/// [`GLOBAL_LOGOUT_AUDIENCE`].
///
/// # Errors
///
/// The reason of the first failed check.
pub fn global_logout_request(token: &str, tenancy: Tenancy) -> Result<RequestToken, Refusal> {
    let fx = fixture();
    let jwks = &fx.upstream(tenancy).jwks;
    fx.runtime.block_on(crate::oidc::global_logout::verify(
        jwks,
        token,
        GLOBAL_LOGOUT_AUDIENCE,
        NOW,
    ))
}

/// The checks of a discovery document after its fetch, in the order `discover` runs them
/// (parse, issuer, endpoints), then the client built from it as at cold start, for our client
/// configured at `tenancy`'s issuer. The document is returned beside the client.
///
/// # Errors
///
/// [`ProviderError`] of the first failed check.
pub fn discovery(body: &[u8], tenancy: Tenancy) -> Result<(Metadata, Provider), ProviderError> {
    let config = &fixture().upstream(tenancy).config;
    let configured = config.default_provider().issuer_str.as_str();
    let metadata: Metadata =
        serde_json::from_slice(body).map_err(|e| parse_error("discovery document", &e))?;
    if !announced_issuer_fits(configured, metadata.issuer().as_str()) {
        return Err(ProviderError::IssuerMismatch {
            expected: configured.to_owned(),
            found: metadata.issuer().to_string(),
        });
    }
    check_endpoints(&metadata)?;
    let secret = SecretString::from("fuzz-client-secret");
    let provider = Provider::new(metadata.clone(), config.default_provider(), &secret)?;
    Ok((metadata, provider))
}

/// `parse_jwks`, re-exported under the name of its family.
///
/// # Errors
///
/// As [`parse_jwks`].
pub fn jwks(body: &[u8]) -> Result<crate::oidc::key::ProviderKeySet, ProviderError> {
    parse_jwks(body)
}

/// An HTTP client that answers every request with one canned response.
struct Canned {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl<'c> AsyncHttpClient<'c> for Canned {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, _request: HttpRequest) -> Self::Future {
        let response = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, self.content_type)
            .body(self.body.clone())
            .map_err(|e| FetchError::Other(e.to_string()));
        Box::pin(async move { response })
    }
}

/// The token endpoint's answer `body` with HTTP `status` to a code exchange, read as
/// `exchange_code` reads it: openidconnect's parse of the token response (or error response),
/// then our mapping of its errors and the `Bearer` check.
///
/// # Errors
///
/// As `exchange_code` for an answer: [`Error::TokenExchangeFailed`], or
/// [`IdTokenError::Malformed`] when the answer's `id_token` does not parse.
pub fn token_answer(status: u16, body: &[u8]) -> Result<CoreTokenResponse, Error> {
    let fx = fixture();
    let provider = &fx.exact.provider;
    let redirect = provider.redirect_uri(Flow::Spa)?;
    let answer = Canned { status, content_type: "application/json", body: body.to_vec() };
    let request = provider
        .client
        .exchange_code(AuthorizationCode::new("fuzz-code".to_owned()))
        .map_err(|_| Error::Internal("no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new("fuzz-verifier".repeat(4)))
        .set_redirect_uri(Cow::Borrowed(redirect));
    let result = fx.runtime.block_on(request.request_async(&answer));
    checked(result.map_err(token_error), false)
}

/// The userinfo answer `body`, of `Content-Type` `content_type` (`application/json`, or
/// `application/jwt` for a signed answer), read as `userinfo` reads it for the user [`SUB`]:
/// openidconnect's parse and subject check, every claim kept for `JWT_CLAIMS`.
///
/// # Errors
///
/// openidconnect's [`UserInfoError`], before `userinfo` maps it to ours.
pub fn userinfo_answer(
    content_type: &'static str,
    body: &[u8],
) -> Result<UserInfo, UserInfoError<FetchError>> {
    let fx = fixture();
    let answer = Canned { status: 200, content_type, body: body.to_vec() };
    let request = fx
        .exact
        .provider
        .client
        .user_info(
            AccessToken::new(ACCESS_TOKEN.to_owned()),
            Some(SubjectIdentifier::new(SUB.to_owned())),
        )
        .map_err(|_| UserInfoError::Other("no userinfo endpoint".into()))?;
    let claims: UserInfoClaims<AllClaims, CoreGenderClaim> =
        fx.runtime.block_on(request.request_async(&answer))?;
    Ok(UserInfo {
        claims: claims.additional_claims().all.clone(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
    })
}

/// A login transaction cookie value holding exactly `plain` (any bytes, not necessarily a
/// transaction), sealed under `key` in the cookie's format (`base64url(nonce || AES-256-GCM)`
/// with the transaction's associated data), so that `Transaction::open` reaches its reading of
/// the plaintext. The nonce is fixed: these cookies only ever meet the fuzzer.
pub fn seal_transaction_plaintext(plain: &[u8], key: &CookieKey) -> String {
    let nonce = [0u8; NONCE_LEN];
    let mut in_out = plain.to_vec();
    let sealed = UnboundKey::new(&AES_256_GCM, key.expose()).map(LessSafeKey::new).and_then(|k| {
        k.seal_in_place_append_tag(
            AeadNonce::assume_unique_for_key(nonce),
            Aad::from(TRANSACTION_AAD),
            &mut in_out,
        )
    });
    if sealed.is_err() {
        return String::new();
    }
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&in_out);
    URL_SAFE_NO_PAD.encode(raw)
}
