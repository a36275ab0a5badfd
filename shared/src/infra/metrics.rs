//! Metrics without an agent: CloudWatch's embedded metric format (EMF), JSON lines on stdout
//! that CloudWatch Logs turns into metrics as it ingests the function's log, with no API call
//! and no extension in the function.
//!
//! Each request is served inside a [`scope`] that collects what happened (a login started, a
//! refusal and its code, a session ended and why, each provider call's latency); when it ends
//! [`Recorded::publish`] writes one EMF line per set of dimension values. Outside a scope (the
//! cold start's spawned tasks, the authorizer) a datum is published at once, on its own line.
//!
//! Written here rather than with a crate: the `metrics` facade with `metrics_cloudwatch_embedded`
//! would add a global registry, its own flush task and an allocation per label to every
//! function, for what is a few counters and one serde struct per request.
//!
//! # What a dimension may hold
//!
//! Only the function's name (`AWS_LAMBDA_FUNCTION_NAME`) and values from closed sets written in
//! this code: error codes, end reasons, endpoint names, start failure causes. Never a user, a
//! client, a path, a provider's answer or any other value from a request.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "SpaLogin";

/// A login sent to the provider (`/api/login`, the server flow's login).
pub const LOGIN_STARTED: &str = "LoginStarted";
/// A callback that issued our JWT.
pub const LOGIN_COMPLETED: &str = "LoginCompleted";
/// A `/api/refresh` that issued a fresh JWT.
pub const REFRESHED: &str = "Refreshed";
/// A request the `proxy` function passed to a remote API and answered with its answer.
pub const PROXIED: &str = "Proxied";

/// Every metric name the functions publish, and the dimensions beside `FunctionName` (the
/// template's alarms and dashboard may name no other: `template_metrics_are_ones_we_publish`).
pub const NAMES: &[&str] = &[
    LOGIN_STARTED,
    LOGIN_COMPLETED,
    REFRESHED,
    PROXIED,
    "Refused",
    "Failed",
    "ServerError",
    "SessionEnded",
    "ProviderLatency",
    "ProviderUnreachable",
    "ColdStart",
    "ColdStartFailed",
];
/// The dimensions beside `FunctionName`.
pub const DIMENSIONS: &[&str] = &["ErrorCode", "Reason", "Endpoint", "Cause"];
/// The metrics also published with no dimension at all: one total across functions and
/// dimension values, for an alarm that watches them all at once (the dashboard shows them by
/// their dimension).
pub const TOTALS: &[&str] = &["ProviderUnreachable"];

/// A provider endpoint whose latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The discovery document.
    Discovery,
    /// The JWKS.
    Jwks,
    /// The token endpoint, authorization-code grant.
    Token,
    /// The token endpoint, refresh grant.
    Refresh,
    /// The userinfo endpoint.
    Userinfo,
    /// The revocation endpoint.
    Revocation,
    /// The pushed authorization request endpoint (RFC 9126).
    Par,
}

impl Endpoint {
    /// The dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::Userinfo => "userinfo",
            Self::Revocation => "revocation",
            Self::Par => "par",
        }
    }
}

/// Why a session ended (the `Reason` dimension of `SessionEnded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `POST /api/logout` or the server flow's logout.
    Logout,
    /// `POST /api/logout {"everywhere": true}`: every session of the user.
    LogoutEverywhere,
    /// The provider's back-channel logout.
    Backchannel,
    /// Idle too long or past its maximum age.
    Timeout,
    /// The provider refused the refresh token (`invalid_grant`).
    RevokedAtProvider,
    /// The refresh answer held an ID token we refuse, or none could be read.
    IdTokenRefused,
    /// Its provider is no longer configured, or its item no longer opens.
    Unusable,
    /// The user's oldest, ended by a login beyond `SESSION_MAX_PER_USER`.
    OverCap,
    /// The provider's Universal Logout (`POST /api/global-token-revocation`).
    UniversalLogout,
    /// Ended by its user from another session (`DELETE /api/sessions/{sid}`).
    ByUser,
}

impl Ended {
    /// The dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutEverywhere => "logout_everywhere",
            Self::Backchannel => "backchannel",
            Self::Timeout => "timeout",
            Self::RevokedAtProvider => "revoked_at_provider",
            Self::IdTokenRefused => "id_token_refused",
            Self::Unusable => "unusable",
            Self::OverCap => "over_cap",
            Self::UniversalLogout => "universal_logout",
            Self::ByUser => "by_user",
        }
    }
}

/// A metric's unit, as EMF names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// The dimension that qualifies a datum beside `FunctionName`: name and value.
type Dimension = Option<(&'static str, &'static str)>;

/// One value of one metric.
#[derive(Debug, Clone, PartialEq)]
struct Datum {
    name: &'static str,
    unit: Unit,
    value: f64,
    dimension: Dimension,
}

/// A refused request, as the request's log line reports it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The stable error code.
    pub code: &'static str,
    /// The internal detail (no secret, token or provider text; see [`crate::Error`]).
    pub detail: String,
}

/// What one scope recorded.
#[derive(Debug)]
pub struct Recorded {
    data: Vec<Datum>,
    /// The refusal, when the request was refused.
    pub refusal: Option<Refusal>,
    started: Instant,
}

impl Recorded {
    fn new() -> Self {
        Self { data: Vec::new(), refusal: None, started: Instant::now() }
    }

    /// Milliseconds since the scope began.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// The EMF lines of what was recorded at `timestamp_ms`: one per dimension value set.
    pub fn lines(&self, function: &str, namespace: &str, timestamp_ms: u128) -> Vec<String> {
        let mut groups: Vec<(Dimension, Vec<&Datum>)> = Vec::new();
        for datum in &self.data {
            // EMF takes at most 100 values per metric in one line: a fuller group is closed.
            let open = |(d, data): &&mut (Dimension, Vec<&Datum>)| {
                *d == datum.dimension && data.iter().filter(|x| x.name == datum.name).count() < 100
            };
            match groups.iter_mut().find(|g| open(g)) {
                Some((_, data)) => data.push(datum),
                None => groups.push((datum.dimension, vec![datum])),
            }
        }
        groups
            .into_iter()
            .map(|(dimension, data)| line(function, namespace, timestamp_ms, dimension, &data))
            .collect()
    }

    /// Writes [`Recorded::lines`] to stdout, where Lambda sends it to CloudWatch Logs.
    pub fn publish(&self) {
        let Some(settings) = settings() else { return };
        if self.data.is_empty() {
            return;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let mut out = std::io::stdout().lock();
        for line in self.lines(&settings.function, &settings.namespace, now) {
            // A lost metric line must not fail the request.
            let _ = writeln!(out, "{line}");
        }
    }
}

/// One EMF object: the metrics of `data` under `FunctionName` and, when given, `dimension`
/// (published twice then: with it, and with `FunctionName` alone, so that an alarm can watch
/// every code at once; and the code alone, across functions). Those of [`TOTALS`] are also
/// published with no dimension, by a second directive of the same object: a dimension set of
/// the first would apply to every metric of the line.
fn line(
    function: &str,
    namespace: &str,
    timestamp_ms: u128,
    dimension: Dimension,
    data: &[&Datum],
) -> String {
    let mut root = Map::new();
    root.insert("FunctionName".into(), function.into());
    let dimensions = match dimension {
        Some((key, value)) => {
            root.insert(key.into(), value.into());
            json!([["FunctionName"], ["FunctionName", key], [key]])
        }
        None => json!([["FunctionName"]]),
    };
    let mut metrics: Vec<Value> = Vec::new();
    let mut totals: Vec<Value> = Vec::new();
    for datum in data {
        match root.get_mut(datum.name) {
            // The same metric twice (two calls to one endpoint): EMF takes an array of values.
            Some(Value::Array(values)) => values.push(datum.value.into()),
            Some(first) => *first = json!([first.clone(), datum.value]),
            None => {
                root.insert(datum.name.into(), datum.value.into());
                let metric = json!({ "Name": datum.name, "Unit": datum.unit.as_str() });
                if TOTALS.contains(&datum.name) {
                    totals.push(metric.clone());
                }
                metrics.push(metric);
            }
        }
    }
    let mut directives =
        vec![json!({ "Namespace": namespace, "Dimensions": dimensions, "Metrics": metrics })];
    if !totals.is_empty() {
        directives.push(json!({ "Namespace": namespace, "Dimensions": [[]], "Metrics": totals }));
    }
    root.insert(
        "_aws".into(),
        json!({ "Timestamp": timestamp_ms as u64, "CloudWatchMetrics": directives }),
    );
    Value::Object(root).to_string()
}

/// Where metrics go: the namespace and the function's name, read once.
#[derive(Debug)]
struct Settings {
    namespace: String,
    function: String,
}

/// `None` when metrics are off: `METRICS=off`, or outside Lambda (no
/// `AWS_LAMBDA_FUNCTION_NAME`, which Lambda and `cargo lambda watch` set), where no log is
/// ingested and a test's output would only fill up.
fn settings() -> Option<&'static Settings> {
    static SETTINGS: OnceLock<Option<Settings>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            let off = std::env::var("METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("off"));
            let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|f| !f.is_empty());
            Some(Settings {
                namespace: std::env::var("METRICS_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
                function: function.filter(|_| !off)?,
            })
        })
        .as_ref()
}

tokio::task_local! {
    static SCOPE: RefCell<Recorded>;
}

/// Runs `work`, recording what it reports; returns its output and what was recorded (the
/// caller logs and publishes it).
pub async fn scope<T>(work: impl Future<Output = T>) -> (T, Recorded) {
    let (out, recorded) = SCOPE
        .scope(RefCell::new(Recorded::new()), async {
            let out = work.await;
            (out, SCOPE.with(|r| std::mem::replace(&mut *r.borrow_mut(), Recorded::new())))
        })
        .await;
    (out, recorded)
}

fn record(datum: Datum) {
    debug_assert!(NAMES.contains(&datum.name), "{} is not in NAMES", datum.name);
    debug_assert!(datum.dimension.is_none_or(|(key, _)| DIMENSIONS.contains(&key)));
    let kept = SCOPE.try_with(|r| r.borrow_mut().data.push(datum.clone()));
    if kept.is_err() {
        Recorded { data: vec![datum], refusal: None, started: Instant::now() }.publish();
    }
}

/// Counts one `name` (`LoginStarted`, `LoginCompleted`, `Refreshed`...).
pub fn count(name: &'static str) {
    record(Datum { name, unit: Unit::Count, value: 1.0, dimension: None });
}

/// Counts `n` sessions ended for `why`.
pub fn sessions_ended(why: Ended, n: usize) {
    if n > 0 {
        record(Datum {
            name: "SessionEnded",
            unit: Unit::Count,
            value: n as f64,
            dimension: Some(("Reason", why.as_str())),
        });
    }
}

/// Counts a refusal under its code, `Failed` too when the fault is ours or the provider's
/// (`fault`), and `ServerError` for a `5xx`; keeps it for the request's log line. Returns
/// whether a scope took it (outside one, the caller logs).
pub fn refused(code: &'static str, status: u16, fault: bool, detail: String) -> bool {
    record(Datum {
        name: "Refused",
        unit: Unit::Count,
        value: 1.0,
        dimension: Some(("ErrorCode", code)),
    });
    if fault {
        count("Failed");
    }
    if status >= 500 {
        count("ServerError");
    }
    SCOPE.try_with(|r| r.borrow_mut().refusal = Some(Refusal { code, detail })).is_ok()
}

/// The cold start's duration, or its failure and a cause from a closed set.
pub fn cold_start(result: Result<f64, &'static str>) {
    match result {
        Ok(ms) => record(Datum {
            name: "ColdStart",
            unit: Unit::Milliseconds,
            value: ms,
            dimension: None,
        }),
        Err(cause) => record(Datum {
            name: "ColdStartFailed",
            unit: Unit::Count,
            value: 1.0,
            dimension: Some(("Cause", cause)),
        }),
    }
}

/// Runs the call to `endpoint`, recording its latency (`ProviderLatency`, by `Endpoint`),
/// whatever its outcome, and `ProviderUnreachable` when `unreachable` says so of its result,
/// or when the call is dropped unfinished (the request's deadline cut it short).
pub async fn provider_call<T>(
    endpoint: Endpoint,
    call: impl Future<Output = T>,
    unreachable: impl FnOnce(&T) -> bool,
) -> T {
    let mut pending = Pending { endpoint, started: Instant::now(), done: false };
    let out = call.await;
    pending.done = true;
    pending.record(unreachable(&out));
    out
}

/// A provider call under way: recorded once, when it ends or is dropped unfinished.
struct Pending {
    endpoint: Endpoint,
    started: Instant,
    done: bool,
}

impl Pending {
    fn record(&self, unreachable: bool) {
        let dimension = Some(("Endpoint", self.endpoint.as_str()));
        let latency = self.started.elapsed().as_secs_f64() * 1000.0;
        record(Datum {
            name: "ProviderLatency",
            unit: Unit::Milliseconds,
            value: latency,
            dimension,
        });
        if unreachable {
            record(Datum { name: "ProviderUnreachable", unit: Unit::Count, value: 1.0, dimension });
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.record(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[tokio::test]
    async fn a_scope_groups_its_data_by_dimension_values_in_valid_emf() {
        let ((), recorded) = scope(async {
            count("LoginCompleted");
            provider_call(Endpoint::Token, async {}, |()| false).await;
            provider_call(Endpoint::Userinfo, async {}, |()| true).await;
            provider_call(Endpoint::Token, async {}, |()| false).await;
            sessions_ended(Ended::Backchannel, 2);
            sessions_ended(Ended::Logout, 0);
        })
        .await;
        let lines = recorded.lines("fn-callback", "NS", 1_764_612_345_000);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        let plain = parse(&lines[0]);
        assert_eq!(plain["FunctionName"], "fn-callback");
        assert_eq!(plain["LoginCompleted"], 1.0);
        let directive = &plain["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(plain["_aws"]["Timestamp"], 1_764_612_345_000_u64);
        assert_eq!(directive["Namespace"], "NS");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(directive["Metrics"], json!([{ "Name": "LoginCompleted", "Unit": "Count" }]));

        let token = parse(&lines[1]);
        assert_eq!(token["Endpoint"], "token");
        assert_eq!(token["ProviderLatency"].as_array().map(Vec::len), Some(2), "{token}");
        let directive = &token["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["FunctionName"], ["FunctionName", "Endpoint"], ["Endpoint"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "ProviderLatency", "Unit": "Milliseconds" }]),
            "one declaration however many values"
        );
        assert_eq!(token["_aws"]["CloudWatchMetrics"].as_array().map(Vec::len), Some(1));
        let userinfo = parse(&lines[2]);
        assert_eq!(
            (userinfo["Endpoint"].as_str(), userinfo["ProviderUnreachable"].as_f64()),
            (Some("userinfo"), Some(1.0))
        );
        assert_eq!(
            userinfo["_aws"]["CloudWatchMetrics"][1],
            json!({
                "Namespace": "NS",
                "Dimensions": [[]],
                "Metrics": [{ "Name": "ProviderUnreachable", "Unit": "Count" }],
            }),
            "the total across functions and endpoints, in the same line: {userinfo}"
        );
        assert_eq!(
            userinfo["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([
                { "Name": "ProviderLatency", "Unit": "Milliseconds" },
                { "Name": "ProviderUnreachable", "Unit": "Count" },
            ]),
            "by function and by endpoint too, latency with no total"
        );
        let ended = parse(&lines[3]);
        assert_eq!(
            (ended["Reason"].as_str(), ended["SessionEnded"].as_f64()),
            (Some("backchannel"), Some(2.0))
        );
        assert!(recorded.refusal.is_none());
    }

    #[tokio::test]
    async fn a_refusal_is_counted_by_code_kept_for_the_log_line_and_5xx_counted_apart() {
        let (taken, recorded) = scope(async {
            refused("provider_unreachable", 502, true, "token endpoint: timed out".into())
        })
        .await;
        assert!(taken);
        assert_eq!(recorded.refusal.as_ref().map(|r| r.code), Some("provider_unreachable"));
        let lines = recorded.lines("f", "NS", 0);
        let by_code = parse(&lines[0]);
        assert_eq!(
            (by_code["ErrorCode"].as_str(), by_code["Refused"].as_f64()),
            (Some("provider_unreachable"), Some(1.0))
        );
        assert!(!lines[0].contains("timed out"), "the detail is no dimension: {}", lines[0]);
        assert_eq!(
            (parse(&lines[1])["Failed"].as_f64(), parse(&lines[1])["ServerError"].as_f64()),
            (Some(1.0), Some(1.0))
        );
        let ((), client_error) = scope(async {
            refused("csrf_required", 403, false, String::new());
        })
        .await;
        let lines = client_error.lines("f", "NS", 0);
        assert_eq!(lines.len(), 1, "no Failed nor ServerError for a client's mistake: {lines:?}");
    }

    #[tokio::test]
    async fn a_call_cut_short_by_the_deadline_counts_as_unreachable() {
        let ((), recorded) = scope(async {
            let never = provider_call(Endpoint::Token, std::future::pending::<()>(), |()| false);
            let cut = tokio::time::timeout(std::time::Duration::from_millis(5), never).await;
            assert!(cut.is_err());
        })
        .await;
        let token = parse(&recorded.lines("f", "NS", 0)[0]);
        assert_eq!(
            (token["Endpoint"].as_str(), token["ProviderUnreachable"].as_f64()),
            (Some("token"), Some(1.0))
        );
        assert_eq!(token["_aws"]["CloudWatchMetrics"][1]["Dimensions"], json!([[]]), "{token}");
        assert!(token["ProviderLatency"].as_f64().is_some_and(|ms| ms >= 4.0), "{token}");
    }

    #[tokio::test]
    async fn a_line_holds_at_most_100_values_of_a_metric() {
        let ((), recorded) = scope(async {
            for _ in 0..150 {
                provider_call(Endpoint::Jwks, async {}, |()| false).await;
            }
        })
        .await;
        let lines = recorded.lines("f", "NS", 0);
        let sizes: Vec<usize> = lines
            .iter()
            .map(|l| parse(l)["ProviderLatency"].as_array().map_or(1, Vec::len))
            .collect();
        assert_eq!(sizes, [100, 50]);
    }

    #[tokio::test]
    async fn scopes_do_not_see_each_other() {
        let ((), outer) = scope(async {
            count(LOGIN_STARTED);
            let ((), inner) = scope(async { count(REFRESHED) }).await;
            assert_eq!(inner.data.len(), 1);
            assert_eq!(inner.data[0].name, REFRESHED);
        })
        .await;
        assert_eq!(outer.data.iter().map(|d| d.name).collect::<Vec<_>>(), [LOGIN_STARTED]);
    }

    /// A metric as the template reads it: its name and dimensions, each with its value (empty
    /// where a dashboard search takes every value).
    type Read = (String, Vec<(String, String)>);

    /// Every metric, by each dimension set, that an EMF line of ours declares: each recorder
    /// called once, inside a scope, and the lines it writes read back.
    async fn published() -> BTreeSet<(String, BTreeSet<String>)> {
        let ((), recorded) = scope(async {
            for name in [LOGIN_STARTED, LOGIN_COMPLETED, REFRESHED, PROXIED] {
                count(name);
            }
            refused("internal_error", 500, true, String::new());
            sessions_ended(Ended::Logout, 1);
            cold_start(Ok(1.0));
            cold_start(Err("provider"));
            provider_call(Endpoint::Token, async {}, |()| true).await;
        })
        .await;
        let mut published = BTreeSet::new();
        for line in recorded.lines("f", "NS", 0) {
            let line = parse(&line);
            for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                for metric in directive["Metrics"].as_array().unwrap() {
                    for set in directive["Dimensions"].as_array().unwrap() {
                        let set = set.as_array().unwrap().iter();
                        let set = set.map(|d| d.as_str().unwrap().to_owned()).collect();
                        published.insert((metric["Name"].as_str().unwrap().to_owned(), set));
                    }
                }
            }
        }
        published
    }

    /// The metrics the template's alarms and dashboard read from our namespace
    /// (`SpaLogin/<stack>`). CloudFormation's short tags come back as plain nodes: `!Ref X` is
    /// `X`, `!Sub [text, {vars}]` a list.
    fn template_reads() -> Vec<Read> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let template = yaml_rust2::YamlLoader::load_from_str(&text).unwrap().remove(0);
        let mut reads: Vec<Read> = Vec::new();
        for (id, resource) in template["Resources"].as_hash().unwrap() {
            let properties = &resource["Properties"];
            match resource["Type"].as_str() {
                Some("AWS::CloudWatch::Alarm") => {
                    // One metric in the alarm's own properties, or a MetricStat per query.
                    let queries = properties["Metrics"].as_vec().into_iter().flatten();
                    let stats = queries.map(|q| &q["MetricStat"]["Metric"]);
                    for metric in std::iter::once(properties).chain(stats) {
                        if !metric["Namespace"].as_str().is_some_and(ours) {
                            continue;
                        }
                        let name = metric["MetricName"].as_str().unwrap_or_else(|| {
                            panic!("{id:?}: a metric of our namespace without MetricName")
                        });
                        let dimensions = metric["Dimensions"].as_vec().into_iter().flatten();
                        let dimensions = dimensions.map(|d| {
                            let field = |f: &str| d[f].as_str().unwrap_or_default().to_owned();
                            (field("Name"), field("Value"))
                        });
                        reads.push((name.to_owned(), dimensions.collect()));
                    }
                }
                Some("AWS::CloudWatch::Dashboard") => {
                    reads.extend(dashboard_reads(&properties["DashboardBody"]));
                }
                _ => {}
            }
        }
        reads
    }

    fn ours(namespace: &str) -> bool {
        namespace.starts_with("SpaLogin/")
    }

    /// The dashboard's body is `!Sub [json, {variables}]`: each variable a string or
    /// `!If [condition, then, else]` (its `then`, as good JSON as the other).
    fn dashboard_reads(body: &yaml_rust2::Yaml) -> Vec<Read> {
        let mut json =
            body[0].as_str().expect("DashboardBody: !Sub [json, {variables}]").to_owned();
        for (name, value) in body[1].as_hash().into_iter().flatten() {
            let value = value.as_str().or_else(|| value[1].as_str()).unwrap();
            json = json.replace(&format!("${{{}}}", name.as_str().unwrap()), value);
        }
        let body: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("the dashboard's body is not JSON once substituted: {e}"));
        let mut reads = Vec::new();
        for widget in body["widgets"].as_array().unwrap() {
            for series in widget["properties"]["metrics"].as_array().into_iter().flatten() {
                if let Some(expression) = series[0]["expression"].as_str() {
                    // SEARCH('{"<namespace>",<dimension>,...} MetricName="<name>"', ...)
                    let (schema, rest) = expression
                        .split_once("SEARCH('{")
                        .and_then(|(_, rest)| rest.split_once("} "))
                        .unwrap_or_else(|| {
                            panic!("a dashboard expression we cannot read: {expression}")
                        });
                    let (namespace, dimensions) = schema.split_once(',').unwrap_or((schema, ""));
                    let name = rest.strip_prefix("MetricName=\"").and_then(|r| r.split('"').next());
                    let name =
                        name.unwrap_or_else(|| panic!("a search without MetricName: {rest}"));
                    if ours(namespace.trim_matches('"')) {
                        let dimensions = dimensions.split(',').filter(|d| !d.is_empty());
                        let dimensions = dimensions.map(|d| (d.to_owned(), String::new()));
                        reads.push((name.to_owned(), dimensions.collect()));
                    }
                } else {
                    // [namespace, name, dimension, value, ...], options last.
                    let strings: Vec<&str> =
                        series.as_array().unwrap().iter().filter_map(Value::as_str).collect();
                    if ours(strings[0]) {
                        let dimensions =
                            strings[2..].chunks(2).map(|d| (d[0].to_owned(), d[1].to_owned()));
                        reads.push((strings[1].to_owned(), dimensions.collect()));
                    }
                }
            }
        }
        reads
    }

    /// The metrics the template's alarms and dashboard read, with their dimensions, are ones an
    /// EMF line of ours declares: a renamed metric or a dimension set we do not publish (a total
    /// of a metric outside [`TOTALS`]) would leave an alarm that can never fire, or an empty graph.
    #[tokio::test]
    async fn template_metrics_are_ones_we_publish() {
        let published = published().await;
        let names: BTreeSet<&str> = published.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, NAMES.iter().copied().collect(), "published() calls every recorder");
        let keys: BTreeSet<&str> =
            published.iter().flat_map(|(_, set)| set).map(String::as_str).collect();
        let mut dimensions = DIMENSIONS.to_vec();
        dimensions.push("FunctionName");
        assert_eq!(keys, dimensions.into_iter().collect(), "published() records every dimension");

        let reads = template_reads();
        assert!(reads.len() >= 8, "the template's layout changed: {reads:?}");
        for (name, dimensions) in &reads {
            let set: BTreeSet<String> = dimensions.iter().map(|(key, _)| key.clone()).collect();
            let by = published.iter().filter(|(n, _)| n == name).map(|(_, set)| set);
            assert!(
                published.contains(&(name.clone(), set.clone())),
                "the template reads {name} by the dimensions {set:?}, a set we never publish it with: \
                 we publish it by {:?}",
                by.collect::<Vec<_>>()
            );
        }
        let values = |key: &str| -> BTreeSet<String> {
            let read = reads.iter().flat_map(|(_, dimensions)| dimensions);
            read.filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone()).collect()
        };
        // The one error code an alarm watches is the code the session store's failures answer,
        // and the one cold start failure a provider's.
        let store = crate::Error::SessionStore(String::new());
        assert_eq!(values("ErrorCode"), [store.code().to_owned()].into(), "the ErrorCode values");
        let status = crate::ProviderError::Status { what: "discovery", status: 500 };
        let provider = crate::StartError::Provider { issuer: String::new(), source: status };
        assert_eq!(values("Cause"), [provider.cause().to_owned()].into(), "the Cause values");
    }
}
