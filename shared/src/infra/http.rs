//! The one outbound HTTP client: every provider call and every AWS call goes through it.
//!
//! # Security
//!
//! It follows no redirects (a redirect is an SSRF vector and never a valid answer from a token
//! endpoint), has a 3 s connect and 10 s total timeout, and reads at most [`MAX_BODY`] bytes of
//! any answer. TLS is rustls with aws-lc-rs and the compiled-in web PKI roots.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Connect timeout of every outbound call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Total timeout of every outbound call.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read, in bytes.
pub const MAX_BODY: usize = 256 * 1024;

/// An outbound call that failed below the protocol.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within [`TOTAL_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// No connection.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The answer is larger than [`MAX_BODY`].
    #[error("answer larger than {MAX_BODY} bytes")]
    TooLarge,
    /// Anything else on the way (bad request build, TLS, protocol).
    #[error("transport error: {0}")]
    Other(String),
}

impl FetchError {
    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable(crate::error::chain(e))
        } else {
            Self::Other(crate::error::chain(e))
        }
    }
}

/// The one outbound HTTP client: no redirects, bounded time and size, rustls with aws-lc-rs.
/// It is also the HTTP client of every openidconnect request.
#[derive(Debug, Clone)]
pub struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Builds the [`Http`] client.
///
/// # Errors
///
/// When the TLS stack cannot be set up.
pub fn http_client() -> Result<Http, reqwest::Error> {
    http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
}

/// [`http_client`] with other timeouts (tests).
///
/// # Errors
///
/// When the TLS stack cannot be set up.
pub fn http_client_with(connect: Duration, total: Duration) -> Result<Http, reqwest::Error> {
    // reqwest is built without a default crypto provider; use the one the AWS SDK already
    // links. An error means another one is installed already, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect)
        .timeout(total)
        .build()
        .map(Http)
}

impl Http {
    /// Sends `req` and reads at most [`MAX_BODY`] bytes of the answer.
    ///
    /// # Errors
    ///
    /// [`FetchError`].
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, FetchError> {
        let req = reqwest::Request::try_from(req)
            .map_err(|e| FetchError::Other(crate::error::chain(&e)))?;
        let mut resp = self.0.execute(req).await.map_err(|e| FetchError::from_reqwest(&e))?;
        if resp.content_length().is_some_and(|len| len > MAX_BODY as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut out = http::Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            out = out.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::from_reqwest(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body).map_err(|e| FetchError::Other(e.to_string()))
    }
}
