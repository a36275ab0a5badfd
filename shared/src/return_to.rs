//! `return_to`: where the app goes after login. Only same-origin relative paths are kept.

use std::fmt;

/// Longest accepted `return_to`, in bytes: it rides in the transaction cookie.
pub const MAX_LEN: usize = 512;

/// A same-origin relative path: starts with exactly one `/`, has no `\`, no percent-encoded `/`
/// or `\`, only visible ASCII (no spaces or control characters), and so no scheme and no host.
///
/// Browsers strip tabs and newlines and treat `\` as `/` when they resolve a URL, so `/\evil`,
/// `/\t/evil` and `//evil` would all leave the origin: each is refused.
#[derive(Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// Accepts `value` when it is a safe relative path.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        let safe = bytes.first() == Some(&b'/')
            && !matches!(bytes.get(1), Some(b'/' | b'\\'))
            && value.len() <= MAX_LEN
            && bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\')
            && !contains_encoded_separator(bytes)
            && !has_dot_segment(value);
        safe.then(|| Self(value.to_owned()))
    }

    /// `value` when it is safe, else `fallback`.
    pub fn or_fallback(value: Option<&str>, fallback: &Self) -> Self {
        value.and_then(Self::parse).unwrap_or_else(|| fallback.clone())
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `.` or `..` segment in the path (before `?` or `#`), with each dot written as `.` or as
/// `%2E` in any case. A browser resolves them away, and `/..//evil.example` becomes
/// `//evil.example`: another origin for any same-origin page that redirects to the path.
fn has_dot_segment(value: &str) -> bool {
    let path = value.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|segment| {
        let dots = segment.to_ascii_lowercase().replace("%2e", ".");
        dots == "." || dots == ".."
    })
}

/// `%2F` or `%5C` in any case.
fn contains_encoded_separator(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| {
        w[0] == b'%' && matches!((w[1], w[2].to_ascii_uppercase()), (b'2', b'F') | (b'5', b'C'))
    })
}

impl fmt::Debug for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_same_origin_paths() {
        for ok in [
            "/",
            "/app",
            "/app/page?x=1&y=2#frag",
            "/a/b/c.html",
            "/@user",
            "/a%20b",
            "/.well-known/x",
            "/a/..b/c.",
            "/search?q=../..//x",
            "/app#../..",
        ] {
            assert_eq!(ReturnTo::parse(ok).map(|r| r.0), Some(ok.to_owned()), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_that_can_leave_the_origin() {
        let long = format!("/{}", "a".repeat(MAX_LEN));
        let refused = [
            "",
            "app",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/app\\..\\..\\evil",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "//evil.example/%2F",
            "/%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/x/%2F%2Fevil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/\0",
            "/\x7f",
            "/ space",
            "/caf\u{e9}",
            "/\u{2215}\u{2215}evil.example",
            " /app",
            long.as_str(),
        ];
        for bad in refused {
            assert!(ReturnTo::parse(bad).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn return_to_refuses_dot_segments_in_every_spelling() {
        for bad in [
            "/..//evil.example",
            "/a/../..//x",
            "/%2e%2e//x",
            "/%2E%2E//x",
            "/.%2E/x",
            "/%2e./x",
            "/./x",
            "/a/%2e/b",
            "/..",
            "/a/..?x=1",
            "/a/.#f",
        ] {
            assert!(ReturnTo::parse(bad).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn falls_back_when_unsafe_or_absent() {
        let home = ReturnTo::parse("/home").unwrap_or_else(|| ReturnTo("/".into()));
        assert_eq!(ReturnTo::or_fallback(Some("//evil"), &home).as_str(), "/home");
        assert_eq!(ReturnTo::or_fallback(None, &home).as_str(), "/home");
        assert_eq!(ReturnTo::or_fallback(Some("/x"), &home).as_str(), "/x");
    }
}
