//! Every cookie we set or read, in one place.
//!
//! | cookie | holds | set by | lifetime |
//! | --- | --- | --- | --- |
//! | `__Host-oidc-tx-<id>` | one sealed login transaction | login | [`transaction::LIFETIME`] |
//! | `__Host-session` | our JWT (server flow) | the server flow's callback | the JWT's |
//! | `__Host-refresh` | the opaque session handle (sessions on) | the callback (both flows) | `SESSION_MAX_AGE_SECONDS` |
//!
//! # Security
//!
//! Each login in flight has its own transaction cookie, named after its `state`
//! ([`transaction_name`]): logins started in several tabs each complete, in any order, and a
//! callback finds and clears only its own. Login keeps at most [`MAX_IN_FLIGHT`] of them per
//! browser and drops the oldest, so they cannot pile up.
//!
//! All are `__Host-` cookies: `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`;
//! the session handle is `SameSite=Strict` (only the app's own requests need it).
//! Values are never logged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;
use crate::tokens::transaction;

/// The name of every login transaction cookie starts with this.
pub const TRANSACTION_PREFIX: &str = "__Host-oidc-tx-";
/// Most logins in flight per browser; starting one more drops the oldest.
pub const MAX_IN_FLIGHT: usize = 4;
/// Characters of the hashed `state` in a transaction cookie's name (96 bits).
const NAME_ID_LEN: usize = 16;
/// The server flow's session cookie (our JWT).
pub const SESSION: &str = "__Host-session";
/// The session handle cookie (server-side sessions).
pub const REFRESH: &str = "__Host-refresh";

/// A `Set-Cookie` value for one of our `__Host-` cookies, `Max-Age` in seconds (0 deletes it).
fn host_cookie(name: &str, value: &str, max_age_secs: u64) -> String {
    host_cookie_same_site(name, value, max_age_secs, cookie::SameSite::Lax)
}

fn host_cookie_same_site(
    name: &str,
    value: &str,
    max_age_secs: u64,
    same_site: cookie::SameSite,
) -> String {
    cookie::Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(0)))
        .build()
        .to_string()
}

/// The value of cookie `name` in a `Cookie` request header, if any.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when `name` appears twice: a cookie planted by a sibling
/// subdomain (or through a nameless-cookie prefix bypass) must not be picked over the
/// victim's, and "first wins" would let it.
fn value<'h>(cookie_header: &'h str, name: &str) -> Result<Option<&'h str>, Error> {
    let mut found = cookie::Cookie::split_parse(cookie_header)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .filter_map(|c| c.value_raw());
    let first = found.next();
    if found.next().is_some() {
        return Err(Error::CookieDuplicated);
    }
    Ok(first)
}

/// The name of the transaction cookie of the login whose `state` is `state`:
/// [`TRANSACTION_PREFIX`] and the start of `base64url(SHA-256(state))`. The callback finds its
/// own from the `state` the provider sends back; the name tells nothing of the state itself.
pub fn transaction_name(state: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, state.as_bytes());
    let mut id = URL_SAFE_NO_PAD.encode(digest.as_ref());
    id.truncate(NAME_ID_LEN);
    format!("{TRANSACTION_PREFIX}{id}")
}

/// The `Set-Cookie` that stores a sealed transaction under `name`.
pub fn set_transaction(name: &str, sealed: &str) -> String {
    host_cookie(name, sealed, transaction::LIFETIME.as_secs())
}

/// The `Set-Cookie` that deletes the transaction cookie `name`.
pub fn clear_transaction(name: &str) -> String {
    host_cookie(name, "", 0)
}

/// Every transaction cookie in a `Cookie` request header, `(name, value)`, in header order
/// (a name twice is listed twice).
pub fn transactions(cookie_header: &str) -> impl Iterator<Item = (&str, &str)> {
    cookie::Cookie::split_parse(cookie_header)
        .filter_map(Result::ok)
        .filter_map(|c| Some((c.name_raw()?, c.value_raw()?)))
        .filter(|(name, _)| name.starts_with(TRANSACTION_PREFIX))
}

/// The value of the transaction cookie `name` in a `Cookie` request header, if any.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when it appears twice.
pub fn transaction<'h>(cookie_header: &'h str, name: &str) -> Result<Option<&'h str>, Error> {
    value(cookie_header, name)
}

/// The `Set-Cookie` that stores our JWT for the server flow, for `max_age` seconds.
pub fn set_session(token: &str, max_age: u64) -> String {
    host_cookie(SESSION, token, max_age)
}

/// The `Set-Cookie` that deletes the session cookie.
pub fn clear_session() -> String {
    host_cookie(SESSION, "", 0)
}

/// The session cookie's value in a `Cookie` request header, if any and not empty.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when it appears twice.
pub fn session(cookie_header: &str) -> Result<Option<&str>, Error> {
    Ok(value(cookie_header, SESSION)?.filter(|v| !v.is_empty()))
}

/// The `Set-Cookie` that stores the session handle for `max_age` seconds.
pub fn set_refresh(handle: &str, max_age: u64) -> String {
    host_cookie_same_site(REFRESH, handle, max_age, cookie::SameSite::Strict)
}

/// The `Set-Cookie` that deletes the session handle.
pub fn clear_refresh() -> String {
    host_cookie_same_site(REFRESH, "", 0, cookie::SameSite::Strict)
}

/// The session handle in a `Cookie` request header, if any and not empty.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when it appears twice.
pub fn refresh(cookie_header: &str) -> Result<Option<&str>, Error> {
    Ok(value(cookie_header, REFRESH)?.filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_holding_our_longest_token_stays_within_what_browsers_keep() {
        let longest = "a".repeat(crate::tokens::session::MAX_TOKEN_BYTES);
        // The longest Max-Age: SESSION_TTL_SECONDS at its most, and a year beyond.
        let cookie = set_session(&longest, 31_536_000 * 10);
        assert!(cookie.len() <= 4096, "{} bytes", cookie.len());
    }

    #[test]
    fn cookie_attributes_are_strict() {
        let name = transaction_name("some-state");
        let set = set_transaction(&name, "abc");
        for part in [&format!("{name}=abc"), "Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(set.contains("Max-Age=600"), "{set}");
        assert!(!set.to_ascii_lowercase().contains("domain"));
        let clear = clear_transaction(&name);
        assert!(
            clear.starts_with(&format!("{name}=;"))
                && clear.contains("Max-Age=0")
                && clear.contains("Path=/"),
            "{clear}"
        );
    }

    #[test]
    fn each_state_names_its_own_cookie() {
        let (a, b) = (transaction_name("state-a"), transaction_name("state-b"));
        assert_ne!(a, b);
        assert_eq!(a, transaction_name("state-a"));
        assert!(a.starts_with(TRANSACTION_PREFIX) && a.len() == TRANSACTION_PREFIX.len() + 16);
        assert!(!a.contains("state"));
        // A cookie name is an RFC 6265 token: base64url has no separator.
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let name = transaction_name("s");
        let header = format!("a=1; {name}=v.alue; {TRANSACTION_PREFIX}other=w; b=2");
        assert_eq!(transaction(&header, &name).unwrap(), Some("v.alue"));
        let all: Vec<_> = transactions(&header).collect();
        assert_eq!(all, [(name.as_str(), "v.alue"), ("__Host-oidc-tx-other", "w")]);
        assert_eq!(transaction("oidc-tx-x=x; __host-oidc-tx-y=y", &name).unwrap(), None);
        assert_eq!(transactions("__Host-oidc-tx=x; __host-oidc-tx-y=y").count(), 0);
        assert_eq!(transaction("", &name).unwrap(), None);
    }

    #[test]
    fn the_session_cookie_is_locked_down_too_and_empty_means_absent() {
        let set = set_session("jwt", 900);
        for part in ["__Host-session=jwt", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(clear_session().starts_with("__Host-session=;"));
        assert_eq!(session("a=1; __Host-session=jwt").unwrap(), Some("jwt"));
        assert_eq!(session("__Host-session=").unwrap(), None);
        let set = set_refresh("handle", 3600);
        for part in ["__Host-refresh=handle", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(clear_refresh().starts_with("__Host-refresh=;"));
        assert_eq!(refresh("__Host-refresh=h; a=1").unwrap(), Some("h"));
        assert!(matches!(
            refresh("__Host-refresh=h; __Host-refresh=x"),
            Err(Error::CookieDuplicated)
        ));
    }

    #[test]
    fn a_cookie_of_ours_twice_in_one_header_is_refused() {
        let name = transaction_name("s");
        for header in
            [format!("{name}=victim; {name}=attacker"), format!("{name}=a; x=1; {name}=a")]
        {
            assert!(
                matches!(transaction(&header, &name), Err(Error::CookieDuplicated)),
                "{header}"
            );
        }
        let twice = "__Host-session=victim; __Host-session=attacker";
        assert!(matches!(session(twice), Err(Error::CookieDuplicated)));
        let other = format!("{name}=a; __Host-session=b; {TRANSACTION_PREFIX}x=c");
        assert_eq!(transaction(&other, &name).unwrap(), Some("a"));
    }
}
