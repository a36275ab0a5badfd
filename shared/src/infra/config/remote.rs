//! The browser's posture (RFC 10017): `BROWSER_TOKENS`, and the remote APIs the `proxy`
//! function reaches for the SPA (`REMOTE_APIS`, `REMOTE_API_<NAME>_*`, `ALLOWED_ORIGINS`).

use std::time::Duration;

use url::Url;

use super::{ConfigError, err, parse_origin, parse_url};

/// The most remote APIs `REMOTE_APIS` names.
pub const MAX_REMOTE_APIS: usize = 16;

/// The longest an upstream may take, and the default (`REMOTE_API_<NAME>_TIMEOUT_SECONDS`).
/// API Gateway stops an HTTP API integration at 30 s, so 29 at most.
pub const REMOTE_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=29;
const DEFAULT_REMOTE_TIMEOUT: u64 = 10;

/// `BROWSER_TOKENS`: may a response body carry our JWT to the SPA's JavaScript?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserTokens {
    /// `body` (the default): the SPA flow answers our JWT in its JSON (RFC 10017 section 6.2).
    Body,
    /// `none`: no response carries a token a script can read; our JWT travels only in the
    /// `HttpOnly` `__Host-session` cookie (RFC 10017 section 6.1). A deployment with the
    /// server flow only is read as `none` whatever the variable says.
    None,
}

/// Which token the proxy sends upstream (`REMOTE_API_<NAME>_TOKEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamToken {
    /// `ours` (the default): a JWT of ours for the user, with the API's own audience.
    Ours,
    /// `provider`: the provider's access token of the session, refreshed on the server.
    Provider,
}

/// One remote API of `REMOTE_APIS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteApi {
    /// Its name in `/api/remote/{name}/...`: 1 to 16 lowercase letters and digits.
    pub name: String,
    /// Where `/api/remote/{name}/` leads: an https URL (http on loopback) without query,
    /// fragment or trailing `/`.
    pub base: Url,
    /// The token sent upstream.
    pub token: UpstreamToken,
    /// `aud` of our JWT in [`UpstreamToken::Ours`] mode (default `SESSION_AUDIENCE`).
    pub audience: String,
    /// How long the upstream may take.
    pub timeout: Duration,
}

/// What the proxy is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteApis {
    /// The APIs, as listed.
    pub apis: Vec<RemoteApi>,
    /// `ALLOWED_ORIGINS`: origins a proxied request may come from besides the app's own.
    pub allowed_origins: Vec<String>,
}

impl RemoteApis {
    /// The API named `name`.
    pub fn named(&self, name: &str) -> Option<&RemoteApi> {
        self.apis.iter().find(|api| api.name == name)
    }

    /// Whether an API wants the provider's access token (the proxy then needs the providers
    /// and the session table).
    pub fn wants_provider_tokens(&self) -> bool {
        self.apis.iter().any(|api| api.token == UpstreamToken::Provider)
    }
}

/// `BROWSER_TOKENS`, read as `none` when no provider has an SPA redirect URI.
pub(super) fn browser_tokens(
    get: &impl Fn(&str) -> Option<String>,
    spa_flow: bool,
) -> Result<BrowserTokens, ConfigError> {
    let asked = match get("BROWSER_TOKENS").map(|v| v.trim().to_ascii_lowercase()) {
        None => BrowserTokens::Body,
        Some(v) if v == "body" => BrowserTokens::Body,
        Some(v) if v == "none" => BrowserTokens::None,
        Some(_) => return Err(err("BROWSER_TOKENS", "must be body or none")),
    };
    Ok(if spa_flow { asked } else { BrowserTokens::None })
}

/// `REMOTE_APIS`, each API's `REMOTE_API_<NAME>_*`, and `ALLOWED_ORIGINS`.
pub(super) fn remote_apis(
    get: &impl Fn(&str) -> Option<String>,
    session_audience: &str,
    sessions: bool,
) -> Result<RemoteApis, ConfigError> {
    let allowed_origins = match get("ALLOWED_ORIGINS") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| parse_origin("ALLOWED_ORIGINS", o))
            .collect::<Result<_, _>>()?,
    };
    let Some(list) = get("REMOTE_APIS") else {
        return Ok(RemoteApis { apis: Vec::new(), allowed_origins });
    };
    let mut apis: Vec<RemoteApi> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, url)) = entry.split_once('=') else {
            return Err(err("REMOTE_APIS", "must be comma-separated name=https://url"));
        };
        let name = name.trim();
        let valid = (1..=16).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(err(
                "REMOTE_APIS",
                "each name must be 1 to 16 lowercase letters and digits",
            ));
        }
        if apis.iter().any(|api| api.name == name) {
            return Err(err("REMOTE_APIS", format!("names {name} twice")));
        }
        let mut base = parse_url("REMOTE_APIS", url)?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(err(
                "REMOTE_APIS",
                format!("{name}: the URL must have no query or fragment"),
            ));
        }
        // `{base}/{path}`: the base ends without `/`, the path starts after one.
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        let var = |setting: &str| format!("REMOTE_API_{}_{setting}", name.to_ascii_uppercase());
        let token = match get(&var("TOKEN")).map(|v| v.trim().to_ascii_lowercase()) {
            None => UpstreamToken::Ours,
            Some(v) if v == "ours" => UpstreamToken::Ours,
            Some(v) if v == "provider" => UpstreamToken::Provider,
            Some(_) => return Err(err(var("TOKEN"), "must be ours or provider")),
        };
        if token == UpstreamToken::Provider && !sessions {
            return Err(err(
                var("TOKEN"),
                "provider needs SESSION_TABLE (the provider's tokens live in the session)",
            ));
        }
        let audience =
            get(&var("AUDIENCE")).map_or_else(|| session_audience.to_owned(), |a| a.trim().into());
        let timeout = match get(&var("TIMEOUT_SECONDS")) {
            None => DEFAULT_REMOTE_TIMEOUT,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(s) if REMOTE_TIMEOUT_RANGE.contains(&s) => s,
                _ => {
                    return Err(err(
                        var("TIMEOUT_SECONDS"),
                        format!(
                            "must be a whole number of seconds from {} to {}",
                            REMOTE_TIMEOUT_RANGE.start(),
                            REMOTE_TIMEOUT_RANGE.end()
                        ),
                    ));
                }
            },
        };
        apis.push(RemoteApi {
            name: name.to_owned(),
            base,
            token,
            audience,
            timeout: Duration::from_secs(timeout),
        });
    }
    if apis.len() > MAX_REMOTE_APIS {
        return Err(err("REMOTE_APIS", format!("names more than {MAX_REMOTE_APIS} APIs")));
    }
    Ok(RemoteApis { apis, allowed_origins })
}
