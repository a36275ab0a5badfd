//! The `proxy` function: `ANY /api/remote/{name}/{path...}` forwards a cookie-authenticated
//! request of the SPA to the remote API `name` of `REMOTE_APIS`, with a bearer token attached
//! there: the backend-for-frontend of RFC 10017 section 6.1, in which the browser never holds
//! a token.
//!
//! The checks run in this order, each with its own error code: `X-CSRF: 1` (on every method:
//! a custom header forces a CORS preflight, so no other site can send it); the origin
//! (`Origin` and `Sec-Fetch-Site`, when sent, say the app's own origin or one of
//! `ALLOWED_ORIGINS`); the API's name; the path (it stays under the API's base); the body's
//! size; the session cookie's JWT (ours, verified; with `SESSION_CHECK=strict` its session
//! still live); for an API in `provider` mode the session handle, naming the same session,
//! and the provider's access token, refreshed through the same one-grant-per-session path as
//! `/api/refresh`. Then the upstream call, within the API's timeout and the invocation's
//! deadline.
//!
//! # Security
//!
//! Upstream gets `Authorization: Bearer <token>` and the browser's other end-to-end headers,
//! never its `Cookie`, `Authorization`, `X-CSRF` or hop-by-hop headers. No redirect is followed
//! or passed on (`upstream_redirected`); the upstream's `Set-Cookie` never reaches the
//! browser; only its status, body and content headers do. Bodies are capped both ways. No
//! token, cookie or body is logged.

use std::time::Instant;

use http::header::{self, HeaderName};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};

use super::refresh::Refresh;
use super::start::{ColdStart, DiscoveredWithKeys, Fetch, Parts, StartError};
use crate::error::{Error, VerifyError};
use crate::infra::clock::unix_now;
use crate::infra::config::{Config, RemoteApi, RemoteApis, UpstreamToken, is_loopback};
use crate::infra::http::{Http, upstream_client};
use crate::oidc::dpop::{DPOP, DpopKey};
use crate::oidc::jwks::JWKS_REFETCH_COOLDOWN;
use crate::sessions::{Handle, Sessions};
use crate::tokens::session::{SessionClaims, SessionTokens};
use crate::web::cookies;
use crate::web::request::Request;
use crate::web::response::Response;
use crate::web::routes::{ANSWER_MARGIN, HttpFunction, Route, answer_by, within_deadline};

/// The largest request body forwarded: Lambda's 6 MB invocation payload.
pub const MAX_REQUEST_BODY: usize = 6 * 1024 * 1024;
/// The largest upstream answer passed back: Lambda's 6 MB response payload, in which a binary
/// body travels base64-encoded (4 bytes for 3).
pub const MAX_ANSWER_BODY: usize = 4_500_000;

/// The route's path, in API Gateway's syntax.
pub const ROUTE_PATH: &str = "/api/remote/{name}/{proxy+}";
const PREFIX: &str = "/api/remote/";

/// Request headers never forwarded: credentials and our own control header, hop-by-hop
/// headers (RFC 9110 7.6.1), and those the client sets itself for the upstream connection.
const NOT_FORWARDED: &[&str] = &[
    "cookie",
    "authorization",
    "proxy-authorization",
    // A proof is ours to make, for the token we attach: a script's own never goes upstream.
    "dpop",
    "x-csrf",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    // What a client says of itself, which a script can write: an upstream that trusts a
    // proxy's `X-Forwarded-For` must not be fed the script's choice, and it learns nothing of
    // the user's address otherwise.
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-real-ip",
    // The answer is passed through as it comes: asking for no encoding keeps it readable
    // by the browser whatever API Gateway does with `Content-Encoding`.
    "accept-encoding",
];

/// Answer headers passed back: what describes the body, and validators.
const PASSED_BACK: &[&str] = &[
    "content-type",
    "content-language",
    "content-disposition",
    "content-range",
    "content-encoding",
    "accept-ranges",
    "etag",
    "last-modified",
];

/// The proxy's state.
#[derive(Debug)]
pub struct Proxy {
    remote: RemoteApis,
    /// `APP_ORIGIN`: the origin proxied requests come from; `None`: the API's own.
    app_origin: Option<String>,
    client: reqwest::Client,
    keys: Keys,
    /// `SESSION_CHECK=strict`: the JWT's session must still be live.
    strict: bool,
    /// Provider access tokens this instance read lately, by session (`provider` mode).
    reused: ProviderTokenCache,
}

/// How long a warm instance sends a session's provider access token again without reading
/// the session item (never past the token's expiry): a read and a recorded use per request
/// would cost a DynamoDB round trip each, several times the proxy's own work. A session ended
/// meanwhile (logout, back-channel logout) may see its provider token sent for this long
/// after; with `SESSION_CHECK=strict` the session cookie's JWT is refused at once instead.
/// Its uses are recorded once per this period at most, far below any idle timeout.
pub const PROVIDER_TOKEN_REUSE_SECS: u64 = 10;
/// The most sessions whose token one instance keeps; beyond, the expired entries go, and if
/// none has, all of them.
const MAX_REUSED: usize = 1024;

/// Provider access tokens by session id, each with the time until which it may be sent.
#[derive(Default)]
struct ProviderTokenCache(std::sync::Mutex<std::collections::HashMap<String, (Relayed, u64)>>);

/// The token a request to a remote API carries: ours, or the provider's with the session's
/// DPoP key when the token is bound to one (`OIDC_DPOP`: each request then carries a proof).
#[derive(Clone)]
struct Relayed {
    token: SecretString,
    dpop: Option<SecretString>,
}

impl std::fmt::Debug for ProviderTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderTokenCache(..)")
    }
}

impl ProviderTokenCache {
    /// The token of session `sid`, while it may still be sent at `now`.
    fn get(&self, sid: &str, now: u64) -> Option<Relayed> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (relayed, until) = map.get(sid)?;
        (*until > now).then(|| relayed.clone())
    }

    /// Keeps `token` of session `sid` until `until`.
    fn put(&self, sid: &str, relayed: &Relayed, until: u64, now: u64) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_REUSED {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_REUSED {
                map.clear();
            }
        }
        map.insert(sid.to_owned(), (relayed.clone(), until));
    }
}

/// Our keys, and what gives the provider's access tokens when an API wants them.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one per instance, built once at cold start")]
enum Keys {
    /// Every API takes a JWT of ours; the session table only for `SESSION_CHECK=strict`.
    Ours { session: SessionTokens, sessions: Option<Sessions> },
    /// An API takes the provider's access token: the refresh function's state renews it.
    WithProvider(Refresh),
}

/// What the proxy fetches at cold start: discovery and JWKS only when an API takes the
/// provider's token (its refresh grant verifies ID tokens), nothing otherwise.
#[derive(Debug)]
pub struct ForRemoteApis(Option<DiscoveredWithKeys>);

impl Fetch for ForRemoteApis {
    async fn fetch(http: &Http, config: &Config) -> Result<Self, StartError> {
        Ok(Self(match config.remote.wants_provider_tokens() {
            true => Some(DiscoveredWithKeys::fetch(http, config).await?),
            false => None,
        }))
    }
}

impl ColdStart for Proxy {
    type Fetch = ForRemoteApis;

    fn build(parts: Parts, ForRemoteApis(fetched): ForRemoteApis) -> Result<Self, StartError> {
        let client = upstream_client().map_err(|e| StartError::Http(e.to_string()))?;
        let remote = parts.config.remote.clone();
        let app_origin = parts.config.app_origin.clone();
        let strict = parts.config.sessions.as_ref().is_some_and(|s| s.strict);
        let keys = match fetched {
            Some(fetched) => Keys::WithProvider(Refresh::from_parts(
                parts.with_provider(fetched, JWKS_REFETCH_COOLDOWN)?,
            )),
            None => {
                let Parts { config, secret, dynamodb, .. } = parts;
                let (_, signing_keys, cookie_keys) = secret.into_parts();
                let sessions = match strict {
                    true => Parts::sessions(&config, dynamodb, &cookie_keys)?,
                    false => None,
                };
                Keys::Ours { session: SessionTokens::from_config(&config, signing_keys), sessions }
            }
        };
        Ok(Self { remote, app_origin, client, keys, strict, reused: ProviderTokenCache::default() })
    }
}

impl Proxy {
    /// Our JWTs (tests mint the session cookie with them).
    pub fn session(&self) -> &SessionTokens {
        match &self.keys {
            Keys::Ours { session, .. } => session,
            Keys::WithProvider(refresh) => refresh.session(),
        }
    }

    fn sessions(&self) -> Option<&Sessions> {
        match &self.keys {
            Keys::Ours { sessions, .. } => sessions.as_ref(),
            Keys::WithProvider(refresh) => refresh.sessions(),
        }
    }

    /// The API and the path below its base that `path` (as sent, percent-encoded) names.
    ///
    /// # Errors
    ///
    /// [`Error::RemoteApiUnknown`], or [`Error::RemotePathRefused`] for a path that could
    /// leave the API's base.
    pub fn target<'p>(&self, path: &'p str) -> Result<(&RemoteApi, &'p str), Error> {
        let rest = path.strip_prefix(PREFIX).ok_or(Error::NotFound)?;
        let (name, below) = rest.split_once('/').ok_or(Error::NotFound)?;
        let api = self.remote.named(name).ok_or(Error::RemoteApiUnknown)?;
        check_path(below)?;
        Ok((api, below))
    }

    /// The origin check: a request that says where it comes from (`Origin`,
    /// `Sec-Fetch-Site`) must come from the app's origin or one of `ALLOWED_ORIGINS`.
    ///
    /// # Errors
    ///
    /// [`Error::OriginRefused`].
    pub fn check_origin(&self, req: &Request<'_>) -> Result<(), Error> {
        let Some(headers) = req.headers else { return Ok(()) };
        let origins: Vec<&[u8]> =
            headers.get_all(header::ORIGIN).iter().map(http::HeaderValue::as_bytes).collect();
        let origin = match origins.as_slice() {
            [] => None,
            [one] => Some(std::str::from_utf8(one).map_err(|_| refused("unreadable Origin"))?),
            _ => return Err(refused("Origin sent twice")),
        };
        let allowed = |o: &str| self.remote.allowed_origins.iter().any(|a| a == o);
        if let Some(origin) = origin
            && !self.own_origin(req, origin)
            && !allowed(origin)
        {
            return Err(refused("Origin is neither the app's nor an allowed one"));
        }
        let sites: Vec<&[u8]> =
            headers.get_all("sec-fetch-site").iter().map(http::HeaderValue::as_bytes).collect();
        match sites.as_slice() {
            [] | [b"same-origin"] => Ok(()),
            // Another origin of the site (an app on `APP_ORIGIN` beside the API), or another
            // site: only with an `Origin`, which then passed the check above.
            [b"same-site" | b"cross-site"] if origin.is_some() => Ok(()),
            _ => Err(refused("Sec-Fetch-Site is not same-origin")),
        }
    }

    /// Whether `origin` is the app's: `APP_ORIGIN`, else the API's own (its `Host`, over
    /// https; over http too on a loopback host, for local development).
    fn own_origin(&self, req: &Request<'_>, origin: &str) -> bool {
        if let Some(app) = &self.app_origin {
            return origin == app;
        }
        let Some(host) = req.header(header::HOST.as_str()) else { return false };
        if origin.strip_prefix("https://") == Some(host) {
            return true;
        }
        let loopback = url::Url::parse(&format!("http://{host}")).is_ok_and(|u| is_loopback(&u));
        loopback && origin.strip_prefix("http://") == Some(host)
    }

    /// The caller's claims, from the session cookie's JWT.
    async fn caller(&self, cookie_header: &str, now: u64) -> Result<SessionClaims, Error> {
        let token = cookies::session(cookie_header)?.ok_or(Error::MissingToken)?;
        let claims = self.session().verify(token, now).map_err(Error::InvalidToken)?;
        if self.strict
            && let Some(sessions) = self.sessions()
        {
            let sid =
                claims.sid.as_deref().ok_or(Error::InvalidToken(VerifyError::SessionEnded))?;
            if !sessions.is_live(sid, now).await? {
                return Err(Error::InvalidToken(VerifyError::SessionEnded));
            }
        }
        Ok(claims)
    }

    /// The token for `api`: a JWT of ours with the API's audience, or the session's provider
    /// access token (with its DPoP key when bound to one), renewed when it has expired.
    async fn token_for(
        &self,
        api: &RemoteApi,
        claims: &SessionClaims,
        cookie_header: &str,
        req: &Request<'_>,
        now: u64,
    ) -> Result<Relayed, Error> {
        match api.token {
            UpstreamToken::Ours => {
                let token =
                    self.session().mint_for_audience(claims, &api.name, &api.audience, now)?;
                Ok(Relayed { token: SecretString::from(token), dpop: None })
            }
            UpstreamToken::Provider => {
                let Keys::WithProvider(refresh) = &self.keys else {
                    return Err(Error::Internal("provider token mode without providers".into()));
                };
                let handle = cookies::refresh(cookie_header)?
                    .and_then(Handle::parse)
                    .ok_or(Error::SessionMissing)?;
                // The handle must name the JWT's own session: a handle planted beside the
                // victim's JWT must not lend its provider token to the victim's request, nor
                // the reverse.
                let sid = handle.key();
                if claims.sid.as_deref() != Some(sid.as_str()) {
                    return Err(Error::SessionMissing);
                }
                if let Some(relayed) = self.reused.get(&sid, now) {
                    return Ok(relayed);
                }
                let (record, at) =
                    within_deadline(req, refresh.renew(&handle, now, answer_by(req))).await?;
                let token = record.tokens.access_token.expose_secret();
                let expires = record.tokens.access_expires_at;
                // A session without a refresh token keeps its one access token to the end:
                // once that has expired there is nothing fresh to send, and a stale token is
                // never sent.
                if token.is_empty() || expires <= at {
                    return Err(Error::ProviderTokenUnavailable);
                }
                let relayed = Relayed {
                    token: SecretString::from(token.to_owned()),
                    dpop: record.tokens.dpop_key.clone(),
                };
                self.reused.put(&sid, &relayed, expires.min(at + PROVIDER_TOKEN_REUSE_SECS), at);
                Ok(relayed)
            }
        }
    }

    /// Sends the request to `api` at `path` (below its base) with `relayed`'s token (`Bearer`,
    /// or `DPoP` with a proof for this request), and passes the answer back.
    async fn forward(
        &self,
        req: &Request<'_>,
        api: &RemoteApi,
        path: &str,
        relayed: &Relayed,
    ) -> Result<Response, Error> {
        let token = relayed.token.expose_secret();
        let url = upstream_url(api, path, req.query)?;
        let method = Method::from_bytes(req.method.as_str().as_bytes())
            .map_err(|_| Error::BadRequest("The method cannot be forwarded."))?;
        // TRACE echoes the request (the bearer we attach among it); CONNECT makes a tunnel.
        if method == Method::TRACE || method == Method::CONNECT {
            return Err(Error::MethodNotAllowed);
        }
        let mut headers = forwarded_headers(req.headers);
        let scheme = if relayed.dpop.is_some() { "DPoP" } else { "Bearer" };
        let mut bearer = http::HeaderValue::from_str(&format!("{scheme} {token}"))
            .map_err(|_| Error::Internal("token not a header value".into()))?;
        // Never printed by the HTTP stack's own debug output.
        bearer.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, bearer);
        if let Some(stored) = &relayed.dpop {
            // RFC 9449 section 7: a proof of this request, with the token's hash (`ath`).
            let key = DpopKey::from_stored(stored)?;
            let proof = key.proof(method.as_str(), url.as_str(), Some(token), None, unix_now())?;
            let proof = http::HeaderValue::from_str(&proof)
                .map_err(|_| Error::Internal("proof not a header value".into()))?;
            headers.insert(DPOP, proof);
        }
        let request = self.client.request(method, url).headers(headers).body(req.body.to_vec());
        // The API's own timeout, and never past the invocation's deadline less the time to
        // answer.
        let left = req
            .deadline
            .map(|d| d.checked_duration_since(Instant::now() + ANSWER_MARGIN).unwrap_or_default());
        let timeout = left.map_or(api.timeout, |left| left.min(api.timeout));
        let answer = match tokio::time::timeout(timeout, call(request)).await {
            Ok(answer) => answer?,
            Err(_) => return Err(Error::UpstreamTimeout),
        };
        // An upstream that echoes its request (a debug route, an error page quoting headers)
        // would hand the bearer to the page: an answer holding it is not passed on.
        if answer.contains(token.as_bytes()) {
            return Err(Error::UpstreamEchoedToken);
        }
        Ok(answer)
    }
}

/// `Error::OriginRefused`.
fn refused(why: &'static str) -> Error {
    Error::OriginRefused(why)
}

/// The path below an API's base, as sent (percent-encoded), must stay below it: no empty,
/// `.` or `..` segment (also percent-encoded, also with `;` parameters), no encoded `/`, `\`,
/// NUL or `%`, no `\`, no control character. Percent-encoding is otherwise passed on as it
/// came.
fn check_path(path: &str) -> Result<(), Error> {
    if path.is_empty() {
        return Err(Error::RemotePathRefused("empty path"));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b'\\' || b == b' ' || b >= 0x80) {
        return Err(Error::RemotePathRefused("a control character, space or backslash"));
    }
    let lower = path.to_ascii_lowercase();
    // `%25` is an encoded `%`: a server that decodes twice would read `%252e%252e` as `..`.
    for encoded in ["%2f", "%5c", "%00", "%25"] {
        if lower.contains(encoded) {
            return Err(Error::RemotePathRefused("an encoded slash, backslash, NUL or percent"));
        }
    }
    let segments: Vec<&str> = lower.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        // `a//b`, or a path that starts with `/`: a second host in some readers' eyes. A
        // trailing `/` is the API's business.
        if segment.is_empty() && i + 1 != segments.len() {
            return Err(Error::RemotePathRefused("an empty segment"));
        }
        // Java servers (Tomcat, Jetty, Spring) drop a segment's `;...` parameters before
        // resolving dot segments: `..;x` is `..` there.
        let name = segment.split(';').next().unwrap_or_default();
        if matches!(name.replace("%2e", ".").as_str(), "." | "..") {
            return Err(Error::RemotePathRefused("a dot segment"));
        }
    }
    Ok(())
}

/// `{base}/{path}?{query}`, checked to be under the base's origin and path.
fn upstream_url(api: &RemoteApi, path: &str, query: Option<&str>) -> Result<url::Url, Error> {
    let base = api.base.as_str().trim_end_matches('/');
    let mut joined = format!("{base}/{path}");
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        joined.push('?');
        joined.push_str(query);
    }
    let url = url::Url::parse(&joined)
        .map_err(|_| Error::RemotePathRefused("not a URL below the API's base"))?;
    let base_path = api.base.path().trim_end_matches('/');
    let under = url.origin() == api.base.origin()
        && url.path().strip_prefix(base_path).is_some_and(|rest| rest.starts_with('/'))
        && url.fragment().is_none();
    if !under {
        return Err(Error::RemotePathRefused("not a URL below the API's base"));
    }
    Ok(url)
}

/// The browser's headers that go upstream: all but [`NOT_FORWARDED`] and those its
/// `Connection` header names (hop-by-hop by declaration).
fn forwarded_headers(from: Option<&HeaderMap>) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Some(from) = from else { return out };
    let declared: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        let name_str = name.as_str();
        if NOT_FORWARDED.contains(&name_str) || declared.iter().any(|d| d == name_str) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// One upstream call: a redirect is refused, the body is read up to [`MAX_ANSWER_BODY`], and
/// the status, the [`PASSED_BACK`] headers and the body are answered.
async fn call(request: reqwest::RequestBuilder) -> Result<Response, Error> {
    // `without_url`: the error's text must not carry the query string into the logs.
    let mut answer = request.send().await.map_err(|e| match e.is_timeout() {
        true => Error::UpstreamTimeout,
        false => Error::UpstreamUnreachable(crate::error::chain(&e.without_url())),
    })?;
    let status = answer.status();
    if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
        return Err(Error::UpstreamRedirected);
    }
    if answer.content_length().is_some_and(|len| len > MAX_ANSWER_BODY as u64) {
        return Err(Error::UpstreamTooLarge);
    }
    let headers: Vec<(HeaderName, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| PASSED_BACK.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.clone(), value.to_str().ok()?.to_owned())))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| Error::UpstreamUnreachable(crate::error::chain(&e.without_url())))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BODY {
            return Err(Error::UpstreamTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response::passthrough(status, headers, body))
}

impl HttpFunction for Proxy {
    type Route = ();

    const ROUTES: &'static [Route<()>] = &[Route::any(ROUTE_PATH, ())];

    fn counted(_: ()) -> Option<&'static str> {
        Some(crate::infra::metrics::PROXIED)
    }

    /// `ANY /api/remote/{name}/{path...}`: the remote API's answer, or our JSON error. See the
    /// module documentation for the order of checks.
    async fn handle(&self, (): (), req: &Request<'_>, now: u64) -> Result<Response, Error> {
        if !req.csrf {
            return Err(Error::CsrfRequired);
        }
        self.check_origin(req)?;
        let (api, path) = self.target(req.path)?;
        if req.body.len() > MAX_REQUEST_BODY {
            return Err(Error::RequestTooLarge);
        }
        let cookie_header = req.cookies.as_deref().unwrap_or_default();
        let claims = self.caller(cookie_header, now).await?;
        let relayed = self.token_for(api, &claims, cookie_header, req, now).await?;
        self.forward(req, api, path, &relayed).await
    }
}

#[cfg(test)]
mod tests;
