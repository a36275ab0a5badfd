//! Responses as the functions build them, turned into `http::Response` by the entry crate.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::Error;

/// A response being built. Responses carry `Cache-Control: no-store` unless made public with
/// [`Response::public`]: they hold tokens, set cookies or redirect through a login.
/// A response body: text (our JSON) or bytes (a remote API's answer, passed through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// UTF-8 text.
    Text(String),
    /// Any bytes.
    Binary(Vec<u8>),
}

#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    body: Body,
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
            body: Body::Text(body),
            headers: vec![(CONTENT_TYPE, "application/json".to_owned())],
            cache_control: "no-store",
        }
    }

    /// `204 No Content`: done, nothing to say (`no-store` all the same).
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: Body::Text(String::new()),
            headers: Vec::new(),
            cache_control: "no-store",
        }
    }

    /// An answer passed through from a remote API: its status, the headers the caller chose
    /// and its bytes. It stays `no-store` (it is the user's own data).
    pub fn passthrough(
        status: StatusCode,
        headers: Vec<(http::HeaderName, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self { status, body: Body::Binary(body), headers, cache_control: "no-store" }
    }

    /// Whether the body or a header value holds `needle` (the proxy's check that an
    /// upstream's answer does not carry the token it was sent).
    pub fn contains(&self, needle: &[u8]) -> bool {
        let body: &[u8] = match &self.body {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
        };
        let holds = |haystack: &[u8]| {
            !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
        };
        holds(body) || self.headers.iter().any(|(_, v)| holds(v.as_bytes()))
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
            body: Body::Text(String::new()),
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

    /// The response with a text body, for tests and readers (a binary body, which only the
    /// proxy answers, is read lossily).
    pub fn into_http(self) -> http::Response<String> {
        self.into_http_with(|body| match body {
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Builds the `http::Response`, with the body as the caller's type (the entry crate's
    /// Lambda body: text stays text, bytes are sent as binary). A header value that is not
    /// valid is dropped and logged (it cannot happen with the values this crate builds).
    pub fn into_http_with<B>(self, body: impl FnOnce(Body) -> B) -> http::Response<B> {
        let mut out = http::Response::new(body(self.body));
        *out.status_mut() = self.status;
        let headers = out.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        // No answer of ours is ever to be sniffed into another type (a JSON error as HTML).
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
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
    fn every_answer_is_no_store_and_nosniff() {
        let r = Response::error(&Error::StateMismatch).into_http();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let r =
            Response::redirect(StatusCode::FOUND, "https://idp/authorize").set_cookie("a=b".into());
        let r = r.into_http();
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(r.headers()[LOCATION], "https://idp/authorize");
        assert_eq!(r.headers()[SET_COOKIE], "a=b");
    }
}
