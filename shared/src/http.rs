//! HTTP in and out, without Lambda types: the request parts the logic reads, and responses.

use std::collections::HashMap;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Method, StatusCode};
use serde::Serialize;

use crate::error::Error;

/// What the functions read of a request.
#[derive(Debug)]
pub struct Request<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Every `Cookie` header, joined with `; `.
    pub cookies: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// `X-CSRF: 1` is present: the request cannot come from a cross-site form.
    pub csrf: bool,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Reads the parts of an `http::Request`.
    pub fn from_http<B: AsRef<[u8]>>(req: &'a http::Request<B>) -> Self {
        let headers = req.headers();
        let cookies: Vec<&str> =
            headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        Self {
            method: req.method(),
            path: req.uri().path(),
            query: req.uri().query(),
            cookies: (!cookies.is_empty()).then(|| cookies.join("; ")),
            authorization: headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
            csrf: headers.get("x-csrf").is_some_and(|v| v.as_bytes() == b"1"),
            body: req.body().as_ref(),
        }
    }
}

/// A `Set-Cookie` value for one of our `__Host-` cookies: `Path=/`, `Secure`, `HttpOnly`,
/// `SameSite=Lax`, no `Domain`, `Max-Age` in seconds (0 deletes it).
pub fn host_cookie(name: &'static str, value: &str, max_age_secs: u64) -> String {
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
pub fn cookie_value<'h>(cookie_header: &'h str, name: &str) -> Option<&'h str> {
    cookie::Cookie::split_parse(cookie_header)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

/// Largest query string or body read, in bytes.
pub const MAX_INPUT: usize = 8 * 1024;

/// Query parameters, each at most once.
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses `application/x-www-form-urlencoded` text.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] when the text is too long or names a parameter twice (a second
    /// `state` or `code` is an injection attempt, not something to pick from).
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        let raw = raw.unwrap_or_default();
        if raw.len() > MAX_INPUT {
            return Err(Error::BadRequest("The query string is too long."));
        }
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            if map.insert(k.into_owned(), v.into_owned()).is_some() {
                return Err(Error::BadRequest("A query parameter is repeated."));
            }
        }
        Ok(Self(map))
    }

    /// One parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A response being built. Responses carry `Cache-Control: no-store` unless made public with
/// [`Response::public`]: they hold tokens, set cookies or redirect through a login.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    body: String,
    headers: Vec<(http::HeaderName, String)>,
    cache_control: &'static str,
}

impl Response {
    /// A JSON response.
    pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Self {
        match serde_json::to_string(body) {
            Ok(body) => Self::raw_json(status, body),
            Err(_) => Self::error(&Error::Internal("response not serializable".into())),
        }
    }

    /// A response with a body that is JSON already.
    pub fn raw_json(status: StatusCode, body: String) -> Self {
        Self {
            status,
            body,
            headers: vec![(CONTENT_TYPE, "application/json".to_owned())],
            cache_control: "no-store",
        }
    }

    /// Replaces `no-store` with a public caching policy (public documents only).
    #[must_use]
    pub fn public(mut self, cache_control: &'static str) -> Self {
        self.cache_control = cache_control;
        self
    }

    /// The JSON error response of `err`.
    pub fn error(err: &Error) -> Self {
        Self::json(err.status(), &err.body())
    }

    /// A redirect with `status` (302 or 303) to `location`.
    pub fn redirect(status: StatusCode, location: &str) -> Self {
        Self {
            status,
            body: String::new(),
            headers: vec![(LOCATION, location.to_owned())],
            cache_control: "no-store",
        }
    }

    /// Adds a `Set-Cookie`.
    #[must_use]
    pub fn set_cookie(mut self, value: String) -> Self {
        self.headers.push((SET_COOKIE, value));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: http::HeaderName, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Builds the `http::Response`. A header value that is not valid is dropped and logged
    /// (it cannot happen with the values this crate builds).
    pub fn into_http(self) -> http::Response<String> {
        let mut out = http::Response::new(self.body);
        *out.status_mut() = self.status;
        let headers = out.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        for (name, value) in self.headers {
            match HeaderValue::try_from(value) {
                Ok(v) => {
                    headers.append(name, v);
                }
                Err(_) => tracing::error!(header = %name, "dropped an invalid header value"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_refuses_repeated_parameters_and_huge_input() {
        assert!(matches!(Query::parse(Some("state=a&state=b")), Err(Error::BadRequest(_))));
        assert!(matches!(Query::parse(Some("code=a&code=a")), Err(Error::BadRequest(_))));
        let huge = format!("code={}", "a".repeat(MAX_INPUT));
        assert!(matches!(Query::parse(Some(&huge)), Err(Error::BadRequest(_))));
        let q = Query::parse(Some("return_to=%2Fapp%3Fx%3D1&empty=&plus=a+b")).unwrap();
        assert_eq!(q.get("return_to"), Some("/app?x=1"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(q.get("plus"), Some("a b"));
        assert_eq!(q.get("missing"), None);
        assert!(Query::parse(None).unwrap().get("x").is_none());
    }

    #[test]
    fn every_response_is_no_store() {
        let r = Response::error(&Error::StateMismatch).into_http();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let r =
            Response::redirect(StatusCode::FOUND, "https://idp/authorize").set_cookie("a=b".into());
        let r = r.into_http();
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[LOCATION], "https://idp/authorize");
        assert_eq!(r.headers()[SET_COOKIE], "a=b");
    }

    #[test]
    fn cookies_from_several_headers_are_joined() {
        let req = http::Request::builder()
            .uri("/api/callback?code=1")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(Vec::<u8>::new())
            .unwrap();
        let parts = Request::from_http(&req);
        assert_eq!(parts.cookies.as_deref(), Some("a=1; b=2"));
        assert_eq!(parts.path, "/api/callback");
        assert_eq!(parts.query, Some("code=1"));
    }
}
