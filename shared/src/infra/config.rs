//! Configuration from environment variables, parsed once at cold start.
//!
//! A [`Config`] can only exist valid: a missing or malformed variable is a [`ConfigError`] that
//! names the variable and what is wrong, and the function refuses to start.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use url::{Host, Url};

use crate::return_to::ReturnTo;

pub mod claims;
mod global_logout;
pub(crate) mod login_options;
mod remote;
mod tenants;
pub use global_logout::{GLOBAL_LOGOUT_PATH, GlobalLogout};
pub use login_options::{LoginOptions, LoginOptionsConfig, repeats_an_option};
pub use remote::{
    BrowserTokens, MAX_REMOTE_APIS, REMOTE_TIMEOUT_RANGE, RemoteApi, RemoteApis, UpstreamToken,
};
pub use tenants::{AllowedTenants, allowed_tenants};

/// A variable that is missing or malformed. Its value is never repeated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it.
    pub problem: String,
}

pub(crate) fn err(variable: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable: variable.into(), problem: problem.into() }
}

/// The most providers one deployment names in `OIDC_PROVIDERS`.
pub const MAX_PROVIDERS: usize = 8;

/// The name of the one provider configured without `OIDC_PROVIDERS`.
pub const DEFAULT_PROVIDER: &str = "default";

/// Bounds of `SESSION_TTL_SECONDS`.
pub const SESSION_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The OpenID providers, the default one first: one (named [`DEFAULT_PROVIDER`]) from
    /// `OIDC_ISSUER` and its companions, or those `OIDC_PROVIDERS` names, each from its own
    /// `OIDC_<NAME>_*` variables.
    pub providers: Vec<ProviderConfig>,
    /// `OIDC_UNVERIFIED_EMAIL=include`: keep an e-mail the provider does not state as verified
    /// (with `email_verified: false`); the default, `drop`, leaves it out.
    pub include_unverified_email: bool,
    /// `SECRET_ID`: Secrets Manager name or ARN.
    pub secret_id: String,
    /// `SESSION_ISSUER`: `iss` of our JWT.
    pub session_issuer: String,
    /// `SESSION_AUDIENCE`: `aud` of our JWT.
    pub session_audience: String,
    /// `SESSION_TTL_SECONDS`: lifetime of our JWT.
    pub session_ttl: Duration,
    /// `POST_LOGIN_PATH`: where the app goes when `return_to` is absent or refused.
    pub post_login_path: ReturnTo,
    /// `POST_LOGOUT_REDIRECT_URI`: where the provider sends the browser after logout (must be
    /// registered at the provider). `None`: the provider's default page.
    pub post_logout_redirect_uri: Option<Url>,
    /// `APP_ORIGIN`: absolute origin of the app for the server flow's final redirect, without a
    /// trailing slash. `None`: a relative redirect, that is the API's own origin.
    pub app_origin: Option<String>,
    /// Server-side sessions, when `SESSION_TABLE` names a DynamoDB table.
    pub sessions: Option<SessionSettings>,
    /// `JWT_CLAIMS` and its size caps: the provider's claims copied into our JWT.
    pub claims: claims::ClaimCopy,
    /// `LOGIN_PROMPTS`, `LOGIN_MAX_AGE`, `LOGIN_HINT`, `LOGIN_ACR_VALUES`: the login options
    /// an SPA may ask for ([`login_options`]).
    pub login_options: LoginOptionsConfig,
    /// `BROWSER_TOKENS`: whether a response body may carry our JWT (`none` with the server
    /// flow only, whatever the variable says).
    pub browser_tokens: BrowserTokens,
    /// `REMOTE_APIS`, their settings and `ALLOWED_ORIGINS`: what the `proxy` function reaches.
    pub remote: RemoteApis,
    /// `GLOBAL_LOGOUT_PROVIDERS` and `GLOBAL_LOGOUT_AUDIENCE`: Universal Logout, when on.
    pub global_logout: Option<GlobalLogout>,
}

/// One OpenID provider and our client registration there.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Its name: what `?provider=` picks and what its client secret is keyed by in the secret.
    pub name: String,
    /// `OIDC_ISSUER`: the provider's issuer, exactly as its discovery document states it.
    pub issuer: Url,
    /// `OIDC_ISSUER` as given, for exact comparisons.
    pub issuer_str: String,
    /// `OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `OIDC_REDIRECT_URI`: the SPA's callback page (SPA flow). `None` switches the flow off.
    pub spa_redirect_uri: Option<Url>,
    /// `OIDC_SERVER_REDIRECT_URI`: the API's `/authorization-code/callback` (server flow).
    /// `None` switches the flow off.
    pub server_redirect_uri: Option<Url>,
    /// `OIDC_SCOPES`, always including `openid`.
    pub scopes: Vec<String>,
    /// `OIDC_USERINFO`: call userinfo after the code exchange.
    pub userinfo: bool,
    /// `OIDC_ALLOWED_TENANTS`: the tenants a multi-tenant Entra ID issuer accepts
    /// ([`tenants`]).
    pub allowed_tenants: Option<AllowedTenants>,
    /// `OIDC_LOGOUT`: how the browser logs out at the provider.
    pub logout: LogoutStyle,
    /// `OIDC_CLIENT_AUTH`: how our client authenticates at the provider; `None` follows
    /// discovery (`client_secret_basic` unless only `client_secret_post` is announced).
    pub client_auth: Option<ClientAuthMethod>,
    /// `OIDC_CLIENT_ASSERTION_AUDIENCE`: the `aud` of `private_key_jwt` assertions.
    pub assertion_audience: AssertionAudience,
    /// `OIDC_PAR`: pushed authorization requests (RFC 9126).
    pub par: ParMode,
    /// `OIDC_DPOP`: the provider's tokens bound to a key of the session (RFC 9449).
    pub dpop: bool,
    /// `OIDC_PROFILE=fapi2`: the FAPI 2.0 Security Profile (the settings above made to fit it,
    /// RFC 9207 `iss` required, ID tokens signed PS256, ES256 or EdDSA only).
    pub fapi2: bool,
}

/// `OIDC_CLIENT_AUTH`: how our client authenticates at the token, PAR and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: the client secret in an `Authorization: Basic` header.
    SecretBasic,
    /// `client_secret_post`: the client secret in the form.
    SecretPost,
    /// `private_key_jwt`: a JWT signed with a client key of the secret; no client secret.
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// Its name in `OIDC_CLIENT_AUTH` and in discovery.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretBasic => "client_secret_basic",
            Self::SecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// `OIDC_CLIENT_ASSERTION_AUDIENCE`: what a `private_key_jwt` assertion names as `aud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// `issuer` (default): the provider's issuer identifier, the audience the 2025 fix for
    /// private_key_jwt recommends and FAPI 2.0 requires.
    Issuer,
    /// `token_endpoint`: the token endpoint's URL, for providers that want it (Entra ID, Okta;
    /// the default for their hosts).
    TokenEndpoint,
}

/// `OIDC_PAR`: whether a login pushes its authorization request first (RFC 9126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParMode {
    /// `auto` (default): when discovery announces a `pushed_authorization_request_endpoint`.
    Auto,
    /// `on`: always; a provider without the endpoint stops the cold start.
    On,
    /// `off`: never; a provider that requires it stops the cold start.
    Off,
}

/// `OIDC_LOGOUT`: how the browser ends its session at the provider ([`crate::oidc::rp_logout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutStyle {
    /// `auto` (default): `end_session_endpoint` when discovery names one, else Cognito's or
    /// Auth0's logout when the issuer's host is theirs, else none.
    Auto,
    /// `end_session`: RP-Initiated Logout 1.0.
    EndSession,
    /// `cognito`: `/logout` on the user pool domain.
    Cognito,
    /// `auth0`: `/v2/logout`.
    Auth0,
    /// `none`: our logout only.
    None,
}

/// `SESSION_TABLE` and the limits of a session.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `SESSION_TABLE`: the DynamoDB table.
    pub table: String,
    /// `SESSION_MAX_AGE_SECONDS` (default 43200): the longest a session lives after login.
    pub max_age: Duration,
    /// `SESSION_IDLE_SECONDS` (default 3600): the longest a session lives without a refresh.
    pub idle: Duration,
    /// `SESSION_CHECK=strict`: `me` and the authorizer also require our JWT's session to
    /// still exist (one `GetItem` per request). `stateless` (default): the signature and `exp`
    /// only.
    pub strict: bool,
    /// `SESSION_MAX_PER_USER` (default 50, 1 to 1000): the most sessions one user may hold at
    /// one provider; a login beyond it ends the user's oldest.
    pub max_per_user: usize,
    /// `SESSION_RENEW_MARGIN_SECONDS` (default 60, 0 to 3600): how long before the provider's
    /// access token expires a refresh grant renews it, at most (a tenth of its lifetime when
    /// that is less).
    pub renew_margin: Duration,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    ///
    /// The first variable that is missing or malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    ///
    /// The first variable that is missing or malformed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or_else(|| err(name, "is required"));

        let providers = providers(&get)?;
        let include_unverified_email = match get("OIDC_UNVERIFIED_EMAIL").as_deref().map(str::trim)
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("drop") => false,
            Some(v) if v.eq_ignore_ascii_case("include") => true,
            Some(_) => return Err(err("OIDC_UNVERIFIED_EMAIL", "must be drop or include")),
        };

        let secret_id = required("SECRET_ID")?;
        let session_issuer = required("SESSION_ISSUER")?;
        if session_issuer.contains("://") {
            parse_url("SESSION_ISSUER", &session_issuer)?;
        }
        let session_audience = required("SESSION_AUDIENCE")?;

        let session_ttl = match get("SESSION_TTL_SECONDS") {
            None => Duration::from_secs(900),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(s) if SESSION_TTL_RANGE.contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(err(
                        "SESSION_TTL_SECONDS",
                        format!(
                            "must be a whole number of seconds from {} to {}",
                            SESSION_TTL_RANGE.start(),
                            SESSION_TTL_RANGE.end()
                        ),
                    ));
                }
            },
        };

        let post_login_path = match get("POST_LOGIN_PATH") {
            None => {
                ReturnTo::parse("/").ok_or_else(|| err("POST_LOGIN_PATH", "internal default"))?
            }
            Some(v) => ReturnTo::parse(v.trim()).ok_or_else(|| {
                err("POST_LOGIN_PATH", "must be a same-origin path starting with a single /")
            })?,
        };

        let app_origin = get("APP_ORIGIN").map(|v| parse_origin("APP_ORIGIN", &v)).transpose()?;
        let post_logout_redirect_uri = get("POST_LOGOUT_REDIRECT_URI")
            .map(|v| parse_url("POST_LOGOUT_REDIRECT_URI", &v))
            .transpose()?;

        let seconds = |name: &'static str, default: u64| match get(name) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(s) if (60..=31_536_000).contains(&s) => Ok(Duration::from_secs(s)),
                _ => Err(err(name, "must be a whole number of seconds from 60 to 31536000")),
            },
        };
        let strict = match get("SESSION_CHECK").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "stateless" => false,
            Some(v) if v == "strict" => true,
            Some(_) => return Err(err("SESSION_CHECK", "must be stateless or strict")),
        };
        let sessions = match get("SESSION_TABLE") {
            None if strict => {
                return Err(err("SESSION_CHECK", "strict needs SESSION_TABLE (the sessions)"));
            }
            None => None,
            Some(table) => Some(SessionSettings {
                table: table.trim().to_owned(),
                max_age: seconds("SESSION_MAX_AGE_SECONDS", 43_200)?,
                idle: seconds("SESSION_IDLE_SECONDS", 3_600)?,
                strict,
                renew_margin: match get("SESSION_RENEW_MARGIN_SECONDS") {
                    None => Duration::from_secs(60),
                    Some(v) => v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n <= 3_600)
                        .map(Duration::from_secs)
                        .ok_or_else(|| {
                            err(
                                "SESSION_RENEW_MARGIN_SECONDS",
                                "must be a whole number from 0 to 3600",
                            )
                        })?,
                },
                max_per_user: match get("SESSION_MAX_PER_USER") {
                    None => 50,
                    Some(v) => {
                        v.trim().parse().ok().filter(|n| (1..=1_000).contains(n)).ok_or_else(
                            || err("SESSION_MAX_PER_USER", "must be a whole number from 1 to 1000"),
                        )?
                    }
                },
            }),
        };

        let claims = claims::ClaimCopy::from_lookup(&get)?;
        let login_options = login_options::login_options(&get)?;
        let spa_flow = providers.iter().any(|p| p.spa_redirect_uri.is_some());
        let browser_tokens = remote::browser_tokens(&get, spa_flow)?;
        let remote = remote::remote_apis(&get, &session_audience, sessions.is_some())?;
        let global_logout =
            global_logout::global_logout(&get, &providers, &session_issuer, sessions.is_some())?;

        Ok(Self {
            browser_tokens,
            remote,
            claims,
            login_options,
            providers,
            include_unverified_email,
            secret_id,
            session_issuer,
            session_audience,
            session_ttl,
            post_login_path,
            post_logout_redirect_uri,
            app_origin,
            sessions,
            global_logout,
        })
    }
}

/// The providers: `OIDC_PROVIDERS` (comma-separated names, the default first), each read from
/// `OIDC_<NAME>_ISSUER`, `OIDC_<NAME>_CLIENT_ID` and, optionally, `OIDC_<NAME>_REDIRECT_URI`,
/// `_SERVER_REDIRECT_URI`, `_SCOPES`, `_USERINFO` (falling back to the unprefixed
/// `OIDC_REDIRECT_URI`, ...: one callback serves every provider). Without `OIDC_PROVIDERS`, one
/// provider named [`DEFAULT_PROVIDER`] from the unprefixed variables, as before.
fn providers(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<ProviderConfig>, ConfigError> {
    let Some(list) = get("OIDC_PROVIDERS") else {
        return Ok(vec![provider(get, DEFAULT_PROVIDER, None)?]);
    };
    for shared_only in ["OIDC_ISSUER", "OIDC_CLIENT_ID"] {
        if get(shared_only).is_some() {
            return Err(err(
                shared_only,
                "is ambiguous with OIDC_PROVIDERS: set OIDC_<NAME>_ISSUER and \
                 OIDC_<NAME>_CLIENT_ID for each provider instead",
            ));
        }
    }
    let mut out: Vec<ProviderConfig> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let valid = name.len() <= 16
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(err(
                "OIDC_PROVIDERS",
                "each name must be 1 to 16 lowercase letters and digits, starting with a letter",
            ));
        }
        if out.iter().any(|p| p.name == name) {
            return Err(err("OIDC_PROVIDERS", format!("names {name} twice")));
        }
        let prefix = format!("OIDC_{}_", name.to_ascii_uppercase());
        let position = format!("OIDC_{}_", out.len() + 1);
        let parsed = provider(get, name, Some((&prefix, &position)))?;
        if out.iter().any(|p| p.issuer_str == parsed.issuer_str) {
            return Err(err(
                format!("{prefix}ISSUER"),
                "is another provider's issuer: each provider needs its own",
            ));
        }
        out.push(parsed);
    }
    if out.len() > MAX_PROVIDERS {
        return Err(err("OIDC_PROVIDERS", format!("names more than {MAX_PROVIDERS} providers")));
    }
    Ok(out)
}

/// One provider's variables: `<prefix>ISSUER`, ... (`OIDC_ISSUER`, ... without a prefix); the
/// optional ones fall back to the unprefixed variable.
///
/// A provider of `OIDC_PROVIDERS` is read from its named prefix (`OIDC_CORP_`), else from its
/// position's (`OIDC_1_` for the first): the SAM template, whose variable names cannot depend
/// on a parameter, sets the positional ones.
fn provider(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    prefixes: Option<(&str, &str)>,
) -> Result<ProviderConfig, ConfigError> {
    let var = |base: &str| match prefixes {
        Some((named, _)) => format!("{named}{base}"),
        None => format!("OIDC_{base}"),
    };
    // This provider's variable `base` (named, then positional): (its name, its value).
    let own = |base: &str| {
        let named = var(base);
        let positional = prefixes.map(|(_, position)| format!("{position}{base}"));
        match get(&named) {
            Some(v) => Some((named, v)),
            None => positional.and_then(|p| get(&p).map(|v| (p, v))),
        }
    };
    // A provider's own variable, else the shared one.
    let optional = |base: &str| {
        own(base).or_else(|| get(&format!("OIDC_{base}")).map(|v| (format!("OIDC_{base}"), v)))
    };
    let required =
        |base: &str| own(base).map(|(_, v)| v).ok_or_else(|| err(var(base), "is required"));

    let issuer_str = required("ISSUER")?;
    let issuer = parse_url(own("ISSUER").map_or_else(|| var("ISSUER"), |(n, _)| n), &issuer_str)?;
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(err(var("ISSUER"), "must not have a query or fragment"));
    }
    let client_id = required("CLIENT_ID")?;
    let redirect = |base: &str| -> Result<Option<Url>, ConfigError> {
        let Some((variable, value)) = optional(base) else { return Ok(None) };
        let url = parse_url(variable.clone(), &value)?;
        if url.fragment().is_some() {
            return Err(err(variable, "must not have a fragment"));
        }
        Ok(Some(url))
    };
    let spa_redirect_uri = redirect("REDIRECT_URI")?;
    let server_redirect_uri = redirect("SERVER_REDIRECT_URI")?;
    if spa_redirect_uri.is_none() && server_redirect_uri.is_none() {
        return Err(err(
            var("REDIRECT_URI"),
            format!("set it (SPA flow) or {} (server flow), or both", var("SERVER_REDIRECT_URI")),
        ));
    }

    let (scopes_var, scopes_text) =
        optional("SCOPES").unwrap_or_else(|| (var("SCOPES"), "openid profile email".into()));
    let scopes: Vec<String> = scopes_text.split_whitespace().map(str::to_owned).collect();
    if scopes.iter().any(|s| !s.bytes().all(is_scope_char)) {
        return Err(err(scopes_var, "a scope has characters that RFC 6749 forbids"));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(err(scopes_var, "must include openid"));
    }

    let userinfo = match optional("USERINFO") {
        None => true,
        Some((_, v)) if v.trim().eq_ignore_ascii_case("true") => true,
        Some((_, v)) if v.trim().eq_ignore_ascii_case("false") => false,
        Some((variable, _)) => return Err(err(variable, "must be true or false")),
    };
    let allowed_tenants = allowed_tenants(optional("ALLOWED_TENANTS").map(|(_, v)| v).as_deref())?;
    let logout = match optional("LOGOUT") {
        None => LogoutStyle::Auto,
        Some((variable, value)) => match value.trim().to_ascii_lowercase().as_str() {
            "auto" => LogoutStyle::Auto,
            "end_session" => LogoutStyle::EndSession,
            "cognito" => LogoutStyle::Cognito,
            "auth0" => LogoutStyle::Auth0,
            "none" => LogoutStyle::None,
            _ => return Err(err(variable, "must be auto, end_session, cognito, auth0 or none")),
        },
    };
    let client_auth = match optional("CLIENT_AUTH") {
        None => None,
        Some((variable, value)) => Some(match value.trim() {
            "client_secret_basic" => ClientAuthMethod::SecretBasic,
            "client_secret_post" => ClientAuthMethod::SecretPost,
            "private_key_jwt" => ClientAuthMethod::PrivateKeyJwt,
            _ => {
                return Err(err(
                    variable,
                    "must be client_secret_basic, client_secret_post or private_key_jwt",
                ));
            }
        }),
    };
    let assertion_audience = match optional("CLIENT_ASSERTION_AUDIENCE") {
        None if wants_token_endpoint_audience(&issuer) => AssertionAudience::TokenEndpoint,
        None => AssertionAudience::Issuer,
        Some((variable, value)) => match value.trim() {
            "issuer" => AssertionAudience::Issuer,
            "token_endpoint" => AssertionAudience::TokenEndpoint,
            _ => return Err(err(variable, "must be issuer or token_endpoint")),
        },
    };
    let par = match optional("PAR") {
        None => ParMode::Auto,
        Some((variable, value)) => match value.trim().to_ascii_lowercase().as_str() {
            "auto" => ParMode::Auto,
            "on" => ParMode::On,
            "off" => ParMode::Off,
            _ => return Err(err(variable, "must be auto, on or off")),
        },
    };
    let dpop_set = match optional("DPOP") {
        None => None,
        Some((variable, value)) => match value.trim().to_ascii_lowercase().as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => return Err(err(variable, "must be on or off")),
        },
    };
    let fapi2 = match optional("PROFILE") {
        None => false,
        Some((variable, value)) => match value.trim().to_ascii_lowercase().as_str() {
            "fapi2" => true,
            "none" => false,
            _ => return Err(err(variable, "must be fapi2 or none")),
        },
    };
    let mut dpop = dpop_set.unwrap_or(false);
    let (mut client_auth, mut par, mut assertion_audience) = (client_auth, par, assertion_audience);
    if fapi2 {
        // The FAPI 2.0 Security Profile (section 5.3): private_key_jwt (or mTLS, which a Lambda
        // behind API Gateway cannot present), PAR, sender-constrained tokens (DPoP), PKCE S256
        // (every login sends it), `iss` in the response, and the issuer as the only audience. A
        // setting that says otherwise is a mistake to name, not to override in silence.
        let contradiction = |base: &str, what: &str| {
            let variable = optional(base).map_or_else(|| var(base), |(v, _)| v);
            err(variable, format!("{what} under OIDC_PROFILE=fapi2"))
        };
        match client_auth {
            None | Some(ClientAuthMethod::PrivateKeyJwt) => {}
            Some(_) => return Err(contradiction("CLIENT_AUTH", "must be private_key_jwt")),
        }
        if par == ParMode::Off {
            return Err(contradiction("PAR", "must be auto or on"));
        }
        if dpop_set == Some(false) {
            return Err(contradiction("DPOP", "must be on"));
        }
        if optional("CLIENT_ASSERTION_AUDIENCE").is_some()
            && assertion_audience == AssertionAudience::TokenEndpoint
        {
            return Err(contradiction("CLIENT_ASSERTION_AUDIENCE", "must be issuer"));
        }
        (client_auth, par, dpop, assertion_audience) =
            (Some(ClientAuthMethod::PrivateKeyJwt), ParMode::On, true, AssertionAudience::Issuer);
    }
    Ok(ProviderConfig {
        fapi2,
        dpop,
        client_auth,
        assertion_audience,
        par,
        logout,
        allowed_tenants,
        name: name.to_owned(),
        issuer,
        issuer_str,
        client_id,
        spa_redirect_uri,
        server_redirect_uri,
        scopes,
        userinfo,
    })
}

impl Config {
    /// The default provider: the only one, or the first `OIDC_PROVIDERS` names.
    pub fn default_provider(&self) -> &ProviderConfig {
        // `providers` is never empty: parsing refuses a configuration without one.
        &self.providers[0]
    }

    /// `APP_ORIGIN` + `path`, or `path` alone (a relative redirect: the API's own origin).
    pub fn app_url(&self, path: &str) -> String {
        match &self.app_origin {
            Some(origin) => format!("{origin}{path}"),
            None => path.to_owned(),
        }
    }
}

/// Providers whose documentation asks for the token endpoint as a client assertion's `aud`:
/// Entra ID (`login.microsoftonline.com`) and Okta (`*.okta.com`, `*.oktapreview.com`).
fn wants_token_endpoint_audience(issuer: &Url) -> bool {
    let host = issuer.host_str().unwrap_or_default().to_ascii_lowercase();
    host == "login.microsoftonline.com"
        || [".okta.com", ".oktapreview.com", ".okta-emea.com"].iter().any(|s| host.ends_with(s))
}

/// RFC 6749 scope-token characters: `%x21 / %x23-5B / %x5D-7E`.
fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// True for `localhost`, `127.0.0.1` and `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// An absolute https URL, or http on a loopback host; no credentials.
pub(crate) fn parse_url(variable: impl Into<String>, value: &str) -> Result<Url, ConfigError> {
    let variable = variable.into();
    let url = match Url::parse(value.trim()) {
        Ok(url) => url,
        Err(e) => return Err(err(variable, format!("is not a URL ({e})"))),
    };
    url_rule(&url).map_err(|problem| err(variable, problem))?;
    Ok(url)
}

/// The rule every URL we send to follows, from configuration or from discovery: https, or
/// http on `localhost`, `127.0.0.1` and `[::1]` only; a host; no credentials.
///
/// # Errors
///
/// What is wrong, as a phrase after the URL's name.
pub fn url_rule(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err("must use https (http is allowed only on localhost, 127.0.0.1 and [::1])");
        }
        _ => return Err("must be an https URL"),
    }
    if url.host().is_none() {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    Ok(())
}

/// `scheme://host[:port]` with nothing after it (a single trailing `/` is dropped).
pub(crate) fn parse_origin(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = parse_url(variable, value)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(err(variable, "must be an origin (scheme://host[:port]) with no path"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests;
