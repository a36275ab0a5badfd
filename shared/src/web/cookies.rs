//! Every cookie we set or read, in one place.
//!
//! | cookie | holds | set by | lifetime |
//! | --- | --- | --- | --- |
//! | `__Host-oidc-tx` | the sealed login transaction | login | [`transaction::LIFETIME`] |
//! | `__Host-session` | our JWT (server flow) | the server flow's callback | the JWT's |
//!
//! # Security
//!
//! All are `__Host-` cookies: `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`.
//! Values are never logged.

use crate::error::Error;
use crate::tokens::transaction;

/// The login transaction cookie.
pub const TRANSACTION: &str = "__Host-oidc-tx";
/// The server flow's session cookie (our JWT).
pub const SESSION: &str = "__Host-session";

/// A `Set-Cookie` value for one of our `__Host-` cookies, `Max-Age` in seconds (0 deletes it).
fn host_cookie(name: &'static str, value: &str, max_age_secs: u64) -> String {
    cookie::Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
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

/// The `Set-Cookie` that stores a sealed transaction.
pub fn set_transaction(sealed: &str) -> String {
    host_cookie(TRANSACTION, sealed, transaction::LIFETIME.as_secs())
}

/// The `Set-Cookie` that deletes the transaction cookie.
pub fn clear_transaction() -> String {
    host_cookie(TRANSACTION, "", 0)
}

/// The sealed transaction in a `Cookie` request header, if any.
///
/// # Errors
///
/// [`Error::CookieDuplicated`] when it appears twice.
pub fn transaction(cookie_header: &str) -> Result<Option<&str>, Error> {
    value(cookie_header, TRANSACTION)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes_are_strict() {
        let set = set_transaction("abc");
        for part in
            ["__Host-oidc-tx=abc", "Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=600"]
        {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.to_ascii_lowercase().contains("domain"));
        let clear = clear_transaction();
        assert!(
            clear.starts_with("__Host-oidc-tx=;")
                && clear.contains("Max-Age=0")
                && clear.contains("Path=/"),
            "{clear}"
        );
    }

    #[test]
    fn finds_the_cookie_among_others() {
        assert_eq!(transaction("a=1; __Host-oidc-tx=v.alue; b=2").unwrap(), Some("v.alue"));
        assert_eq!(transaction("__Host-oidc-tx=x").unwrap(), Some("x"));
        assert_eq!(transaction("oidc-tx=x; __host-oidc-tx=y").unwrap(), None);
        assert_eq!(transaction("").unwrap(), None);
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
    }

    #[test]
    fn a_cookie_of_ours_twice_in_one_header_is_refused() {
        for header in [
            "__Host-oidc-tx=victim; __Host-oidc-tx=attacker",
            "__Host-oidc-tx=a; x=1; __Host-oidc-tx=a",
        ] {
            assert!(matches!(transaction(header), Err(Error::CookieDuplicated)), "{header}");
        }
        let twice = "__Host-session=victim; __Host-session=attacker";
        assert!(matches!(session(twice), Err(Error::CookieDuplicated)));
        assert_eq!(transaction("__Host-oidc-tx=a; __Host-session=b").unwrap(), Some("a"));
    }
}
