//! A cookie jar for the provider's pages: enough for their session and interaction cookies.

use std::collections::HashMap;

use reqwest::header::SET_COOKIE;

/// A minimal cookie jar: enough for the providers' session and interaction cookies. A cookie
/// without `Domain` goes back to its host only; one with `Domain` (LemonLDAP::NG's SSO cookie
/// has `Domain=.localhost`) to that domain and its subdomains, and is refused from a host
/// outside it, as a browser does. Ports are not told apart (browsers share cookies across
/// ports), paths are not looked at. A cookie set empty, with `Max-Age=0` or with an `Expires`
/// in the past is removed.
#[derive(Debug, Default, Clone)]
pub struct Jar(HashMap<CookieScope, HashMap<String, String>>);

/// Where a cookie goes back to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CookieScope {
    /// Its host only (no `Domain`).
    Host(String),
    /// The domain and its subdomains (`Domain`, leading dot dropped).
    Domain(String),
}

impl CookieScope {
    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Host(own) => own == host,
            Self::Domain(domain) => {
                host == domain
                    || host.strip_suffix(domain.as_str()).is_some_and(|sub| sub.ends_with('.'))
            }
        }
    }
}

impl Jar {
    pub fn store(&mut self, url: &str, resp: &reqwest::Response) {
        let host = host_of(url);
        for value in resp.headers().get_all(SET_COOKIE) {
            let mut parts = value.to_str().unwrap().split(';');
            let (name, v) = parts.next().unwrap().split_once('=').unwrap();
            let (name, v) = (name.trim(), v.trim());
            let mut scope = CookieScope::Host(host.clone());
            let mut expired = v.is_empty();
            for attribute in parts {
                let (key, arg) = attribute.split_once('=').unwrap_or((attribute, ""));
                let arg = arg.trim();
                match key.trim().to_ascii_lowercase().as_str() {
                    "domain" => {
                        let domain = arg.trim_start_matches('.').to_ascii_lowercase();
                        scope = CookieScope::Domain(domain);
                    }
                    "max-age" => expired |= arg.parse::<i64>().is_ok_and(|age| age <= 0),
                    "expires" => expired |= cookie_date(arg).is_some_and(|at| at <= unix_now()),
                    _ => {}
                }
            }
            if !scope.matches(&host) {
                continue;
            }
            let cookies = self.0.entry(scope).or_default();
            if expired {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), v.to_owned());
            }
        }
    }

    /// Every cookie the jar sends to `url`.
    fn sent_to(&self, url: &str) -> impl Iterator<Item = (&String, &String)> {
        let host = host_of(url);
        self.0.iter().filter(move |(scope, _)| scope.matches(&host)).flat_map(|(_, c)| c.iter())
    }

    pub fn header(&self, url: &str) -> Option<String> {
        let pairs: Vec<String> = self.sent_to(url).map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub fn get(&self, url: &str, name: &str) -> Option<String> {
        self.sent_to(url).find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }
}

pub(crate) fn host_of(url: &str) -> String {
    // Browsers share cookies across ports: so does this jar.
    url::Url::parse(url).unwrap().host_str().unwrap().to_owned()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A cookie's `Expires` date (`Wed, 21 Oct 2015 07:28:00 GMT`, or with `-` between day,
/// month and year) in Unix seconds; `None` when it does not read as one.
fn cookie_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut day, mut month, mut year, mut time) = (None, None, None, None);
    for word in text.split([' ', '-', ',']).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        if let Some(m) = MONTHS.iter().position(|m| lower.starts_with(m)) {
            month = Some(i64::try_from(m).unwrap() + 1);
        } else if word.contains(':') {
            let hms: Vec<i64> = word.split(':').map(|n| n.parse().ok()).collect::<Option<_>>()?;
            time = Some(hms.iter().fold(0, |acc, n| acc * 60 + n));
        } else if let Ok(n) = word.parse::<i64>() {
            if word.len() == 4 { year = Some(n) } else { day = Some(n) }
        }
    }
    let (y, m, d) = (year?, month?, day?);
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + time.unwrap_or(0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(set_cookies: &[&str]) -> reqwest::Response {
        let mut resp = http::Response::builder();
        for cookie in set_cookies {
            resp = resp.header(SET_COOKIE, *cookie);
        }
        reqwest::Response::from(resp.body("").unwrap())
    }

    #[test]
    fn cookie_dates_read_as_unix_seconds() {
        assert_eq!(cookie_date("Wed, 21 Oct 2015 00:00:00 GMT"), Some(1_445_385_600));
        assert_eq!(cookie_date("Thu, 01-Jan-1970 00:00:01 GMT"), Some(1));
        assert_eq!(cookie_date("Sat, 29 Feb 2048 12:30:05 GMT"), Some(2_466_592_205));
        assert_eq!(cookie_date("soon"), None);
    }

    #[test]
    fn the_jar_honours_domain_and_expiry() {
        let mut jar = Jar::default();
        let portal = "http://localhost:3001/oauth2/authorize";
        jar.store(
            portal,
            &answer(&[
                "lemonldap=sso; domain=.localhost; path=/; HttpOnly=1; SameSite=Lax",
                "lemonldappdata=pending; path=/; HttpOnly=1",
                "foreign=x; Domain=example.com",
            ]),
        );
        assert_eq!(jar.get("http://localhost:5173/", "lemonldap").as_deref(), Some("sso"));
        assert_eq!(jar.get("http://app.localhost/", "lemonldap").as_deref(), Some("sso"));
        assert_eq!(jar.get("http://app.localhost/", "lemonldappdata"), None, "host-only");
        assert_eq!(jar.get("http://127.0.0.1/", "lemonldap"), None);
        assert_eq!(jar.get("http://example.com/", "foreign"), None, "refused from localhost");
        jar.store(
            portal,
            &answer(&[
                "lemonldap=0; domain=.localhost; path=/; expires=Wed, 21 Oct 2015 00:00:00 GMT",
                "lemonldappdata=; path=/",
            ]),
        );
        assert_eq!(jar.header(portal), None, "both removed");
        jar.store(portal, &answer(&["a=1; Max-Age=3600", "b=2; Max-Age=0"]));
        assert_eq!(jar.header(portal).as_deref(), Some("a=1"));
    }
}
