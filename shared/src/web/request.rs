//! What the functions read of a request, without Lambda types: method, path, query, cookies,
//! `Authorization`, `X-CSRF`, body. The entry crate fills it from the Lambda event.

use std::collections::HashMap;
use std::time::Instant;

use http::Method;

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
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// When the answer must be sent by: the Lambda invocation's deadline (the entry point sets
    /// it), `None` outside Lambda.
    pub deadline: Option<Instant>,
    /// The body.
    pub body: &'a [u8],
    /// Every header, for the functions that read more than the above (the proxy forwards
    /// some and checks `Origin`, `Sec-Fetch-Site` and `Host`). `None` where a test builds the
    /// request by hand.
    pub headers: Option<&'a http::HeaderMap>,
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
            content_type: headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            deadline: None,
            body: req.body().as_ref(),
            headers: Some(headers),
        }
    }
}

impl Request<'_> {
    /// The value of header `name`, when present once and readable as text (a header sent
    /// twice reads as absent: the caller decides what absence means).
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers?.get_all(name).iter();
        let first = values.next()?;
        values.next().is_none().then(|| first.to_str().ok()).flatten()
    }

    /// True when the body is declared JSON (`application/json`, any parameters, any case):
    /// a type a cross-site form cannot send without a CORS preflight.
    pub fn is_json(&self) -> bool {
        self.has_content_type("application/json")
    }

    /// True when the body is declared as media type `mime` (any parameters, any case).
    pub fn has_content_type(&self, mime: &str) -> bool {
        self.content_type
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(mime))
    }
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
