//! The login options an SPA may pass to `/api/login` (and the server flow's
//! `/authorization-code/login`) for the provider's authorize request: `prompt`, `max_age`,
//! `login_hint`, `acr_values` (OpenID Connect Core 3.1.2.1), each within what the deployment
//! allows.
//!
//! Configuration (all optional; the default allows none, so an authorize request stays what
//! it was unless the operator opts in):
//!
//! - `LOGIN_PROMPTS`: the `prompt` values allowed, among `none`, `login`, `consent`,
//!   `select_account`, `create` (space- or comma-separated).
//! - `LOGIN_MAX_AGE`: `off`, or the largest `max_age` (seconds) an SPA may ask for.
//! - `LOGIN_HINT`: `true` lets the SPA pass `login_hint` (`false` by default).
//! - `LOGIN_ACR_VALUES`: the `acr` values an SPA may ask for (space- or comma-separated).
//!
//! A request's options are read by [`LoginOptionsConfig::read`]: anything not allowed,
//! malformed or oversized is [`Error::LoginOptionRefused`], before any login starts.

use crate::error::Error;

use super::{ConfigError, err};

/// The `prompt` values of OpenID Connect Core 3.1.2.1 and Initiating User Registration 1.0.
pub const KNOWN_PROMPTS: [&str; 5] = ["none", "login", "consent", "select_account", "create"];

/// The largest `LOGIN_MAX_AGE`: one year.
pub const MAX_MAX_AGE: u64 = 31_536_000;

/// The longest `login_hint` passed on, in bytes.
pub const MAX_LOGIN_HINT_LEN: usize = 256;

/// The longest `acr` value, in bytes (configured or asked).
pub const MAX_ACR_LEN: usize = 100;

/// The most `acr` values one login may ask for (they ride in the transaction cookie).
pub const MAX_ACR_ASKED: usize = 4;

/// The most `acr` values `LOGIN_ACR_VALUES` may name.
pub const MAX_ACR_CONFIGURED: usize = 16;

/// The parameters of a login request that are login options.
pub const PARAMETERS: [&str; 4] = ["prompt", "max_age", "login_hint", "acr_values"];

/// What the deployment allows an SPA to ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOptionsConfig {
    /// `LOGIN_PROMPTS`: the allowed `prompt` values.
    pub prompts: Vec<String>,
    /// `LOGIN_MAX_AGE`: the largest `max_age` allowed; `None`: `max_age` refused.
    pub max_age: Option<u64>,
    /// `LOGIN_HINT=true`: `login_hint` allowed.
    pub login_hint: bool,
    /// `LOGIN_ACR_VALUES`: the `acr` values allowed.
    pub acr_values: Vec<String>,
}

/// The options of one login, each already allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOptions {
    /// `prompt` values, in the order asked (`none` only ever alone).
    pub prompts: Vec<String>,
    /// `max_age` in seconds: the ID token's `auth_time` must be within it.
    pub max_age: Option<u64>,
    /// `login_hint`, passed on as is (a hint to the provider, never trusted by us).
    pub login_hint: Option<String>,
    /// `acr_values`, in order of preference: the ID token's `acr` must be one of them.
    pub acr_values: Vec<String>,
}

/// RFC 6749's NQCHAR-like rule for a space-separated token: visible ASCII, no `"` or `\`.
fn is_token(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split([' ', ',']).filter(|w| !w.is_empty())
}

/// Reads `LOGIN_PROMPTS`, `LOGIN_MAX_AGE`, `LOGIN_HINT` and `LOGIN_ACR_VALUES`.
///
/// # Errors
///
/// The variable that is malformed.
pub fn login_options(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<LoginOptionsConfig, ConfigError> {
    let mut prompts: Vec<String> = Vec::new();
    for word in get("LOGIN_PROMPTS").as_deref().map(words).into_iter().flatten() {
        if !KNOWN_PROMPTS.contains(&word) {
            return Err(err(
                "LOGIN_PROMPTS",
                "each value must be none, login, consent, select_account or create",
            ));
        }
        if prompts.iter().any(|p| p == word) {
            return Err(err("LOGIN_PROMPTS", format!("names {word} twice")));
        }
        prompts.push(word.to_owned());
    }
    let max_age = match get("LOGIN_MAX_AGE").map(|v| v.trim().to_ascii_lowercase()) {
        None => None,
        Some(v) if v == "off" => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=MAX_MAX_AGE).contains(&n) => Some(n),
            _ => {
                return Err(err(
                    "LOGIN_MAX_AGE",
                    format!("must be off or a whole number of seconds from 1 to {MAX_MAX_AGE}"),
                ));
            }
        },
    };
    let login_hint = match get("LOGIN_HINT").map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "false" => false,
        Some(v) if v == "true" => true,
        Some(_) => return Err(err("LOGIN_HINT", "must be true or false")),
    };
    let mut acr_values: Vec<String> = Vec::new();
    for word in get("LOGIN_ACR_VALUES").as_deref().map(words).into_iter().flatten() {
        if !is_token(word, MAX_ACR_LEN) {
            return Err(err(
                "LOGIN_ACR_VALUES",
                format!("each value must be 1 to {MAX_ACR_LEN} visible ASCII characters"),
            ));
        }
        if acr_values.iter().any(|a| a == word) {
            return Err(err("LOGIN_ACR_VALUES", "names a value twice"));
        }
        acr_values.push(word.to_owned());
    }
    if acr_values.len() > MAX_ACR_CONFIGURED {
        return Err(err(
            "LOGIN_ACR_VALUES",
            format!("names more than {MAX_ACR_CONFIGURED} values"),
        ));
    }
    Ok(LoginOptionsConfig { prompts, max_age, login_hint, acr_values })
}

impl LoginOptionsConfig {
    /// The login options of a request, read through `get` (one query parameter; a repeated
    /// one is refused before this). Absent options are absent; an empty one is refused.
    ///
    /// # Errors
    ///
    /// [`Error::LoginOptionRefused`] naming the option that is not allowed, malformed or
    /// oversized.
    pub fn read<'q>(&self, get: impl Fn(&str) -> Option<&'q str>) -> Result<LoginOptions, Error> {
        let refuse = Error::LoginOptionRefused;
        let mut options = LoginOptions::default();
        if let Some(value) = get("prompt") {
            if value.len() > 64 {
                return Err(refuse("prompt is too long"));
            }
            for word in value.split(' ') {
                if !self.prompts.iter().any(|p| p == word) {
                    return Err(refuse("prompt names a value that is not allowed"));
                }
                if options.prompts.iter().any(|p| p == word) {
                    return Err(refuse("prompt names a value twice"));
                }
                options.prompts.push(word.to_owned());
            }
            // Core 3.1.2.1: none with any other value is an error.
            if options.prompts.len() > 1 && options.prompts.iter().any(|p| p == "none") {
                return Err(refuse("prompt none comes with another value"));
            }
        }
        if let Some(value) = get("max_age") {
            let largest = self.max_age.ok_or(refuse("max_age is not allowed"))?;
            // Digits only: no sign, no space, no fraction; at most 10 of them.
            if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse("max_age is not a whole number of seconds"));
            }
            let seconds: u64 = value.parse().map_err(|_| refuse("max_age is malformed"))?;
            if seconds > largest {
                return Err(refuse("max_age is larger than allowed"));
            }
            options.max_age = Some(seconds);
        }
        if let Some(value) = get("login_hint") {
            if !self.login_hint {
                return Err(refuse("login_hint is not allowed"));
            }
            let printable = value.chars().all(|c| !c.is_control());
            if value.trim().is_empty() || value.len() > MAX_LOGIN_HINT_LEN || !printable {
                return Err(refuse("login_hint is empty, too long or not printable"));
            }
            options.login_hint = Some(value.to_owned());
        }
        if let Some(value) = get("acr_values") {
            if value.len() > MAX_ACR_ASKED * (MAX_ACR_LEN + 1) {
                return Err(refuse("acr_values is too long"));
            }
            for word in value.split(' ') {
                if !self.acr_values.iter().any(|a| a == word) {
                    return Err(refuse("acr_values names a value that is not allowed"));
                }
                if options.acr_values.iter().any(|a| a == word) {
                    return Err(refuse("acr_values names a value twice"));
                }
                options.acr_values.push(word.to_owned());
            }
            if options.acr_values.len() > MAX_ACR_ASKED {
                return Err(refuse("acr_values asks for too many values"));
            }
        }
        Ok(options)
    }
}

/// Whether `raw` (a query string) names one of the login options [`PARAMETERS`] twice.
pub fn repeats_an_option(raw: Option<&str>) -> bool {
    let mut seen = [0usize; PARAMETERS.len()];
    for (name, _) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if let Some(i) = PARAMETERS.iter().position(|p| *p == name) {
            seen[i] += 1;
        }
    }
    seen.iter().any(|n| *n > 1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<LoginOptionsConfig, ConfigError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        login_options(&|name: &str| vars.get(name).cloned())
    }

    fn all_allowed() -> LoginOptionsConfig {
        config(&[
            ("LOGIN_PROMPTS", "none login consent create"),
            ("LOGIN_MAX_AGE", "3600"),
            ("LOGIN_HINT", "true"),
            ("LOGIN_ACR_VALUES", "urn:a:pwd, urn:a:mfa"),
        ])
        .unwrap()
    }

    fn read(config: &LoginOptionsConfig, query: &[(&str, &str)]) -> Result<LoginOptions, Error> {
        config.read(|name| query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    #[track_caller]
    fn assert_refused(result: Result<LoginOptions, Error>) {
        match result {
            Err(e @ Error::LoginOptionRefused(_)) => {
                assert_eq!(e.code(), "login_option_refused");
                assert_eq!(e.status(), 400);
            }
            other => panic!("expected login_option_refused, got {other:?}"),
        }
    }

    #[test]
    fn the_default_allows_no_option_and_absent_options_pass() {
        let default = config(&[]).unwrap();
        assert_eq!(default, LoginOptionsConfig::default());
        assert_eq!(read(&default, &[("return_to", "/x")]).unwrap(), LoginOptions::default());
        for (name, value) in
            [("prompt", "none"), ("max_age", "0"), ("login_hint", "a"), ("acr_values", "x")]
        {
            assert_refused(read(&default, &[(name, value)]));
        }
        let off = config(&[("LOGIN_MAX_AGE", "off"), ("LOGIN_HINT", "false")]).unwrap();
        assert_eq!(off, LoginOptionsConfig::default());
    }

    #[test]
    fn malformed_configuration_names_its_variable() {
        for (name, value) in [
            ("LOGIN_PROMPTS", "none sometimes"),
            ("LOGIN_PROMPTS", "none none"),
            ("LOGIN_MAX_AGE", "0"),
            ("LOGIN_MAX_AGE", "-5"),
            ("LOGIN_MAX_AGE", "31536001"),
            ("LOGIN_MAX_AGE", "on"),
            ("LOGIN_HINT", "yes"),
            ("LOGIN_ACR_VALUES", "a a"),
            ("LOGIN_ACR_VALUES", "quote\"d"),
        ] {
            let e = config(&[(name, value)]).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
        }
        let long = "a".repeat(MAX_ACR_LEN + 1);
        assert_eq!(
            config(&[("LOGIN_ACR_VALUES", &long)]).unwrap_err().variable,
            "LOGIN_ACR_VALUES"
        );
        let many: Vec<String> = (0..=MAX_ACR_CONFIGURED).map(|i| format!("acr{i}")).collect();
        let many = many.join(" ");
        assert!(config(&[("LOGIN_ACR_VALUES", &many)]).is_err());
    }

    #[test]
    fn allowed_options_are_read_as_asked() {
        let options = read(
            &all_allowed(),
            &[
                ("prompt", "login consent"),
                ("max_age", "300"),
                ("login_hint", "alice@example.com"),
                ("acr_values", "urn:a:mfa urn:a:pwd"),
            ],
        )
        .unwrap();
        assert_eq!(options.prompts, ["login", "consent"]);
        assert_eq!(options.max_age, Some(300));
        assert_eq!(options.login_hint.as_deref(), Some("alice@example.com"));
        assert_eq!(options.acr_values, ["urn:a:mfa", "urn:a:pwd"]);
        assert_eq!(read(&all_allowed(), &[("max_age", "0")]).unwrap().max_age, Some(0));
        assert_eq!(read(&all_allowed(), &[("max_age", "3600")]).unwrap().max_age, Some(3600));
        assert_eq!(read(&all_allowed(), &[("prompt", "none")]).unwrap().prompts, ["none"]);
    }

    #[test]
    fn options_outside_the_allow_list_malformed_repeated_or_oversized_are_refused() {
        let allowed = all_allowed();
        for (name, value) in [
            ("prompt", "select_account"),
            ("prompt", ""),
            ("prompt", "login  consent"),
            ("prompt", "login login"),
            ("prompt", "none login"),
            ("prompt", "Login"),
            ("max_age", "3601"),
            ("max_age", ""),
            ("max_age", "-1"),
            ("max_age", "+5"),
            ("max_age", "1.5"),
            ("max_age", " 5"),
            ("max_age", "99999999999999999999"),
            ("login_hint", ""),
            ("login_hint", "  "),
            ("login_hint", "a\nb"),
            ("acr_values", "urn:a:other"),
            ("acr_values", ""),
            ("acr_values", "urn:a:pwd urn:a:pwd"),
        ] {
            assert_refused(read(&allowed, &[(name, value)]));
        }
        let long = "a".repeat(MAX_LOGIN_HINT_LEN + 1);
        assert_refused(read(&allowed, &[("login_hint", &long)]));
        let long = "login ".repeat(20);
        assert_refused(read(&allowed, &[("prompt", &long)]));
        let many = "urn:a:pwd ".repeat(MAX_ACR_ASKED * 30);
        assert_refused(read(&allowed, &[("acr_values", &many)]));
    }

    #[test]
    fn a_repeated_option_parameter_is_seen() {
        assert!(repeats_an_option(Some("prompt=none&prompt=login")));
        assert!(repeats_an_option(Some("max_age=1&x=2&max_age=1")));
        assert!(!repeats_an_option(Some("prompt=none&max_age=1&return_to=%2F")));
        assert!(!repeats_an_option(None));
    }
}
