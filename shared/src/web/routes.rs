//! Routing: each function declares its routes in one table ([`HttpFunction::ROUTES`]), and
//! [`serve`] resolves a request against it, calls the function, and turns the result into the
//! response, logging one line either way.
//!
//! The tables are what `template.yaml` must send to each function: a test reads the template
//! and compares (`shared/tests/template.rs`).

use std::future::Future;

use crate::error::Error;
use crate::infra::metrics;
use crate::web::request::Request;
use crate::web::response::Response;

/// One route: method, path, and the function's own name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<R> {
    /// The method, upper case (`GET`, `POST`, `HEAD`).
    pub method: &'static str,
    /// The path, exactly (no parameters, no trailing slash).
    pub path: &'static str,
    /// What the function calls it.
    pub route: R,
}

impl<R> Route<R> {
    /// `GET path`.
    pub const fn get(path: &'static str, route: R) -> Self {
        Self { method: "GET", path, route }
    }

    /// `POST path`.
    pub const fn post(path: &'static str, route: R) -> Self {
        Self { method: "POST", path, route }
    }

    /// `DELETE path`.
    pub const fn delete(path: &'static str, route: R) -> Self {
        Self { method: "DELETE", path, route }
    }

    /// `HEAD path`.
    pub const fn head(path: &'static str, route: R) -> Self {
        Self { method: "HEAD", path, route }
    }

    /// Every method on `path`: API Gateway's `ANY`.
    pub const fn any(path: &'static str, route: R) -> Self {
        Self { method: ANY, path, route }
    }
}

/// Why a request matches no route of a table.
/// A route's method that matches every method (API Gateway's `ANY`).
pub const ANY: &str = "ANY";

/// Whether `path` is one of `pattern`'s paths, in API Gateway's syntax: a `{name}` segment is
/// one non-empty segment, a last `{name+}` segment is one or more segments (greedy), any other
/// segment is itself.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    for expected in pattern.split('/') {
        if expected.starts_with('{') && expected.ends_with("+}") {
            // The rest of the path, at least one character.
            return segments.next().is_some_and(|s| !s.is_empty())
                || segments.any(|s| !s.is_empty());
        }
        let Some(segment) = segments.next() else { return false };
        let variable = expected.starts_with('{') && expected.ends_with('}');
        if (variable && segment.is_empty()) || (!variable && segment != expected) {
            return false;
        }
    }
    segments.next().is_none()
}

#[derive(Debug)]
pub struct NoRoute<R> {
    /// A route of the same path, when only the method is wrong.
    pub path_route: Option<R>,
    /// [`Error::NotFound`] or [`Error::MethodNotAllowed`].
    pub error: Error,
}

/// The route of `req` in `routes`.
///
/// # Errors
///
/// [`NoRoute`]: [`Error::NotFound`] for an unknown path, [`Error::MethodNotAllowed`] (with a
/// route of that path) for a known path and another method.
pub fn resolve<R: Copy>(routes: &[Route<R>], req: &Request<'_>) -> Result<R, NoRoute<R>> {
    let mut same_path = routes.iter().filter(|r| path_matches(r.path, req.path)).peekable();
    let Some(first) = same_path.peek().map(|r| r.route) else {
        return Err(NoRoute { path_route: None, error: Error::NotFound });
    };
    same_path
        .find(|r| r.method == ANY || r.method == req.method.as_str())
        .map(|r| r.route)
        .ok_or(NoRoute { path_route: Some(first), error: Error::MethodNotAllowed })
}

/// A Lambda function that answers HTTP requests: its routes and how it serves them. Its state
/// is built once at cold start (`functions::ColdStart`) and passed by reference to [`serve`].
pub trait HttpFunction: Send + Sync {
    /// The function's own names for its routes.
    type Route: Copy + Send + Sync + 'static;

    /// Every route the function serves; `template.yaml` routes exactly these to it.
    const ROUTES: &'static [Route<Self::Route>];

    /// Serves a request already matched to `route`, at `now` (Unix seconds).
    fn handle(
        &self,
        route: Self::Route,
        req: &Request<'_>,
        now: u64,
    ) -> impl Future<Output = Result<Response, Error>> + Send;

    /// The metric counted when `route` is served (`LoginStarted`, `LoginCompleted`,
    /// `Refreshed`); none by default.
    fn counted(route: Self::Route) -> Option<&'static str> {
        let _ = route;
        None
    }

    /// The answer to a refused request (`route` is `None` when no path matched): by default
    /// the JSON error. A function overrides it where a refusal must look otherwise (the server
    /// flow's redirects, `WWW-Authenticate`).
    fn refuse(&self, route: Option<Self::Route>, req: &Request<'_>, err: Error) -> Response {
        let _ = route;
        log_refusal(req, &err);
        Response::error(&err)
    }
}

/// Serves one request with `function`: resolve, handle, refuse. Then one log line either way
/// (method, path, status, the error code of a refusal, the duration; the Lambda runtime's span
/// adds the request id), and the request's metrics ([`metrics`]).
pub async fn serve<F: HttpFunction>(function: &F, req: &Request<'_>, now: u64) -> Response {
    // Boxed: the request's future is large (every function's whole path), and a caller that
    // joins two requests on one stack (tests) would otherwise hold both inline.
    let (response, recorded) = metrics::scope(Box::pin(answer(function, req, now))).await;
    let status = response.status().as_u16();
    // Hundredths of a millisecond: enough to read, short in the line.
    let duration_ms = (recorded.elapsed_ms() * 100.0).round() / 100.0;
    match &recorded.refusal {
        Some(refusal) => tracing::warn!(
            method = %req.method,
            path = req.path,
            status,
            error = refusal.code,
            detail = %refusal.detail,
            duration_ms,
            "refused"
        ),
        None => {
            tracing::info!(method = %req.method, path = req.path, status, duration_ms, "served")
        }
    }
    recorded.publish();
    response
}

async fn answer<F: HttpFunction>(function: &F, req: &Request<'_>, now: u64) -> Response {
    let route = match resolve(F::ROUTES, req) {
        Ok(route) => route,
        Err(NoRoute { path_route, error }) => return function.refuse(path_route, req, error),
    };
    match function.handle(route, req, now).await {
        Ok(response) => {
            if let Some(name) = F::counted(route) {
                metrics::count(name);
            }
            response
        }
        Err(err) => function.refuse(Some(route), req, err),
    }
}

/// Time kept back from the invocation's deadline to answer a refusal.
pub const ANSWER_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// When the answer to `req` must be ready: its invocation's deadline less [`ANSWER_MARGIN`];
/// `None` without a deadline (tests).
pub fn answer_by(req: &Request<'_>) -> Option<std::time::Instant> {
    req.deadline
        .map(|deadline| deadline.checked_sub(ANSWER_MARGIN).unwrap_or_else(std::time::Instant::now))
}

/// Runs `work` within the request's budget: the invocation's deadline less [`ANSWER_MARGIN`],
/// so that whatever happens at the provider or the table, an answer leaves before Lambda ends
/// the invocation. Without a deadline (tests), `work` runs unbounded.
///
/// # Errors
///
/// `work`'s error, or [`Error::ProviderTimeout`] when the budget runs out.
pub async fn within_deadline<T>(
    req: &Request<'_>,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match answer_by(req) {
        Some(answer_by) => tokio::time::timeout_at(answer_by.into(), work)
            .await
            .map_err(|_| Error::ProviderTimeout("request deadline".into()))?,
        None => work.await,
    }
}

/// Records a refused request for its log line and its metrics: status and stable code, plus
/// the internal detail (which holds no secret, token or provider text; see [`Error`]). Outside
/// [`serve`] it is logged at once.
pub fn log_refusal(req: &Request<'_>, err: &Error) {
    let status = err.status().as_u16();
    if metrics::refused(err.code(), status, err.is_fault(), err.to_string()) {
        return;
    }
    tracing::warn!(
        method = %req.method,
        path = req.path,
        status,
        error = err.code(),
        detail = %err,
        "refused"
    );
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    const ROUTES: &[Route<u8>] = &[Route::get("/a", 1), Route::post("/a", 2), Route::get("/b", 3)];

    fn req<'a>(method: &'a Method, path: &'a str) -> Request<'a> {
        crate::testing::request(method, path)
    }

    #[test]
    fn resolves_by_path_then_method() {
        assert_eq!(resolve(ROUTES, &req(&Method::GET, "/a")).unwrap(), 1);
        assert_eq!(resolve(ROUTES, &req(&Method::POST, "/a")).unwrap(), 2);
        assert_eq!(resolve(ROUTES, &req(&Method::GET, "/b")).unwrap(), 3);
        let e = resolve(ROUTES, &req(&Method::PUT, "/b")).unwrap_err();
        assert_eq!((e.path_route, e.error.code()), (Some(3), "method_not_allowed"));
        let e = resolve(ROUTES, &req(&Method::GET, "/a/")).unwrap_err();
        assert_eq!((e.path_route, e.error.code()), (None, "not_found"));
    }

    /// Serves `/a` (counted as a login started) and refuses `/b` with a bad gateway.
    #[test]
    fn patterns_match_as_api_gateway_does() {
        let p = "/api/remote/{name}/{proxy+}";
        for yes in ["/api/remote/orders/x", "/api/remote/a/b/c?", "/api/remote/a/b/c/"] {
            assert!(path_matches(p, yes), "{yes}");
        }
        for no in
            ["/api/remote/orders", "/api/remote/orders/", "/api/remote//x", "/api/remotex/a/b"]
        {
            assert!(!path_matches(p, no), "{no}");
        }
        assert!(path_matches("/api/me", "/api/me"));
        assert!(!path_matches("/api/me", "/api/me/"));
        assert!(!path_matches("/api/{x}", "/api/a/b"));
        const ANY_ROUTES: &[Route<u8>] = &[Route::any("/api/remote/{name}/{proxy+}", 7)];
        for method in [Method::GET, Method::DELETE, Method::PATCH] {
            assert_eq!(resolve(ANY_ROUTES, &req(&method, "/api/remote/a/b")).unwrap(), 7);
        }
    }

    struct Counted;

    impl HttpFunction for Counted {
        type Route = u8;

        const ROUTES: &'static [Route<u8>] = ROUTES;

        fn counted(route: u8) -> Option<&'static str> {
            (route == 1).then_some(metrics::LOGIN_STARTED)
        }

        async fn handle(&self, route: u8, _: &Request<'_>, _: u64) -> Result<Response, Error> {
            match route {
                1 => Ok(Response::json(http::StatusCode::OK, &serde_json::json!({}))),
                _ => Err(Error::ProviderUnreachable("connection refused".into())),
            }
        }
    }

    #[tokio::test]
    async fn each_answer_is_counted_and_a_refusal_kept_with_its_code_for_the_log_line() {
        let (served, recorded) =
            metrics::scope(answer(&Counted, &req(&Method::GET, "/a"), 0)).await;
        assert_eq!(served.status(), 200);
        assert!(recorded.refusal.is_none());
        let lines = recorded.lines("f", "NS", 0);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(r#""LoginStarted":1.0"#), "{}", lines[0]);

        for (method, path, code) in [
            (Method::GET, "/b", "provider_unreachable"),
            (Method::DELETE, "/a", "method_not_allowed"),
            (Method::GET, "/c", "not_found"),
        ] {
            let (refused, recorded) =
                metrics::scope(answer(&Counted, &req(&method, path), 0)).await;
            assert_eq!(recorded.refusal.as_ref().map(|r| r.code), Some(code), "{path}");
            let text = recorded.lines("f", "NS", 0).join("\n");
            assert!(text.contains(&format!(r#""ErrorCode":"{code}""#)), "{text}");
            assert_eq!(text.contains("ServerError"), refused.status().is_server_error(), "{text}");
            assert!(
                !text.contains("LoginStarted") && !text.contains("connection refused"),
                "{text}"
            );
        }
    }
}
