//! A session's device label, taken from the login's `User-Agent`: the browser's family and the
//! operating system ("Firefox on Linux"), so that a user can tell their sessions apart in
//! `GET /api/sessions`. Never the user agent itself: it is stored with the session, and a full
//! one (versions, device models) is a fingerprint.
//!
//! Written here rather than with a user-agent crate: those carry a database of thousands of
//! expressions (uap-core's) that every cold start of the callback would compile, for a label
//! that needs a dozen families. A browser that is none of them is "Other browser"; a string
//! that is no user agent at all gives no label.

/// The longest user agent read: anything longer is no browser's.
const MAX_USER_AGENT: usize = 512;

/// Browser families, first match wins: each brand that builds on Chromium names Chrome
/// (and Safari) too, so it comes before them; Chrome names Safari, so it comes before Safari.
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Vivaldi/", "Vivaldi"),
    ("YaBrowser/", "Yandex Browser"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
];

/// Operating systems, first match wins: Android's user agents say Linux, iOS's say "like Mac
/// OS X", ChromeOS's (CrOS) say Linux on some builds.
const SYSTEMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
    ("FreeBSD", "FreeBSD"),
];

/// The label of a session logged in with `user_agent`: "Browser on System", "Browser",
/// "Other browser on System", or `None` when the header is absent, empty, too long or not
/// printable ASCII (then nothing about it is kept).
pub fn label(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?.trim();
    if ua.is_empty() || ua.len() > MAX_USER_AGENT || !ua.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return None;
    }
    let found = |table: &[(&str, &'static str)]| {
        table.iter().find(|(token, _)| ua.contains(token)).map(|(_, name)| *name)
    };
    match (found(BROWSERS), found(SYSTEMS)) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(browser), None) => Some(browser.to_owned()),
        (None, Some(system)) => Some(format!("Other browser on {system}")),
        (None, None) => Some("Other browser".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn real_user_agents_get_their_family_and_system_and_nothing_else() {
        for (ua, expected) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Headless Chrome on Linux",
            ),
            ("curl/8.5.0", "Other browser"),
            ("Mozilla/5.0 (X11; Linux x86_64) SomethingNew/1.0", "Other browser on Linux"),
        ] {
            assert_eq!(label(Some(ua)).as_deref(), Some(expected), "{ua}");
        }
        // The device model (Pixel 8) and versions are never part of a label.
        let pixel =
            label(Some("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Safari/537.36"));
        assert!(!pixel.unwrap().contains("Pixel"));
    }

    #[test]
    fn no_label_from_a_header_that_is_no_user_agent() {
        let long = "a".repeat(513);
        for ua in [None, Some(""), Some("   "), Some(long.as_str()), Some("Firefox/1\u{7}")] {
            assert_eq!(label(ua), None, "{ua:?}");
        }
        assert_eq!(label(Some("é Firefox/1")), None);
    }
}
