//! `GLOBAL_LOGOUT_PROVIDERS` and `GLOBAL_LOGOUT_AUDIENCE`: the providers allowed to end a
//! user's sessions through `POST /api/global-token-revocation` (Okta's Universal Logout,
//! draft-parecki-oauth-global-token-revocation), and the audience their request JWTs name.

use super::{ConfigError, ProviderConfig, err, parse_url};

/// The path of the Universal Logout endpoint, on the API.
pub const GLOBAL_LOGOUT_PATH: &str = "/api/global-token-revocation";

/// Universal Logout, when on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalLogout {
    /// `GLOBAL_LOGOUT_PROVIDERS`: the configured names of the providers allowed to call.
    pub providers: Vec<String>,
    /// `GLOBAL_LOGOUT_AUDIENCE` (default `{SESSION_ISSUER}/api/global-token-revocation`): the
    /// `aud` a request's JWT must name: our endpoint's URL, as registered at the provider.
    pub audience: String,
}

/// Universal Logout as the variables read by `get` set it: off (`None`) without
/// `GLOBAL_LOGOUT_PROVIDERS`.
///
/// # Errors
///
/// A name that is no configured provider's, or named twice; Universal Logout without
/// sessions (there would be nothing to end); an audience that is no URL, or none where
/// `SESSION_ISSUER` is no URL to make one of.
pub(super) fn global_logout(
    get: &impl Fn(&str) -> Option<String>,
    providers: &[ProviderConfig],
    session_issuer: &str,
    sessions_on: bool,
) -> Result<Option<GlobalLogout>, ConfigError> {
    const VAR: &str = "GLOBAL_LOGOUT_PROVIDERS";
    let Some(names) = get(VAR) else {
        if get("GLOBAL_LOGOUT_AUDIENCE").is_some() {
            return Err(err("GLOBAL_LOGOUT_AUDIENCE", "is set but GLOBAL_LOGOUT_PROVIDERS is not"));
        }
        return Ok(None);
    };
    if !sessions_on {
        return Err(err(VAR, "needs SESSION_TABLE: Universal Logout ends server-side sessions"));
    }
    let mut allowed: Vec<String> = Vec::new();
    for name in names.split(',').map(str::trim) {
        if !providers.iter().any(|p| p.name == name) {
            return Err(err(VAR, format!("names {name:?}, which is not a configured provider")));
        }
        if allowed.iter().any(|a| a == name) {
            return Err(err(VAR, format!("names {name:?} twice")));
        }
        allowed.push(name.to_owned());
    }
    let audience = match get("GLOBAL_LOGOUT_AUDIENCE") {
        Some(audience) => parse_url("GLOBAL_LOGOUT_AUDIENCE", &audience)?.to_string(),
        None if session_issuer.contains("://") => {
            format!("{}{GLOBAL_LOGOUT_PATH}", session_issuer.trim().trim_end_matches('/'))
        }
        None => {
            return Err(err(
                "GLOBAL_LOGOUT_AUDIENCE",
                "is required when SESSION_ISSUER is not a URL: the endpoint's URL as registered at the provider",
            ));
        }
    };
    Ok(Some(GlobalLogout { providers: allowed, audience }))
}
