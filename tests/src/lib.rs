//! The end-to-end harness: starts the real local stack on free loopback ports, per test.
//!
//! - moto ([`Moto`]: `.venv/bin/moto_server`), seeded with a fresh secret through `secret-tool`'s
//!   code path (the AWS SDK), so the functions read it exactly as in AWS; with
//!   [`Options::sessions`], also the session table, made by `dev/session_table.py` from
//!   `template.yaml`'s declaration;
//! - the local OpenID provider (`dev/provider`, npm `oidc-provider`);
//! - `cargo lambda watch` serving the `login` and `callback` functions;
//! - optionally the demo SPA (Vite), for browser tests.
//!
//! Every process runs in its own process group and is killed when the [`Stack`] (or the
//! [`Moto`]) drops. Logs go to `target/e2e/<name>/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub const CLIENT_ID: &str = "e2e-spa";
/// The byte of the one cookie key in every stack's secret (the session keys derive from it).
const COOKIE_KEY_BYTE: u8 = 7;
pub const SECRET_ID: &str = "spa-login/e2e";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An HTTP client that follows no redirects and keeps no cookies: tests handle both by hand.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

struct Service {
    name: &'static str,
    child: Child,
}

impl Service {
    /// Starts `command` as service `name` in a process group of its own, its output appended to
    /// `<logs>/<name>.log` (a restarted service keeps its earlier lines).
    fn spawn(logs: &Path, name: &'static str, command: &mut Command) -> Self {
        let out = File::options()
            .create(true)
            .append(true)
            .open(logs.join(format!("{name}.log")))
            .unwrap();
        let err = out.try_clone().unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child }
    }

    /// Whether the process has exited (a process that cannot start fails the wait at once).
    fn exited(&self) -> bool {
        // `try_wait` needs `&mut`; /proc tells without reaping.
        let pid = self.child.id();
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.split_whitespace().nth(2) == Some("Z"))
    }
}

/// An empty log directory `target/e2e/<name>/` for one test's services.
pub fn logs_dir(name: &str) -> PathBuf {
    let logs = root().join("target/e2e").join(name);
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    logs
}

/// A moto server (Secrets Manager and DynamoDB) on a free loopback port, logging to
/// `<logs>/moto.log`; its process group is killed on drop.
pub struct Moto {
    pub port: u16,
    logs: PathBuf,
    service: Service,
}

impl Moto {
    /// Starts `.venv/bin/moto_server` and waits until it answers.
    pub async fn start(logs: &Path) -> Self {
        let server = root().join(".venv/bin/moto_server");
        assert!(server.exists(), "run `make tools` (or `make test`) first: .venv is missing");
        let port = free_port();
        let mut command = Command::new(server);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let moto = Self {
            port,
            logs: logs.to_owned(),
            service: Service::spawn(logs, "moto", &mut command),
        };
        let ready = format!("{}/moto-api/", moto.endpoint());
        wait_until(&client(), &ready, Duration::from_secs(180), &moto.service, logs).await;
        moto
    }

    /// Its endpoint, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates the session table `table` from `template.yaml`'s declaration.
    pub fn create_session_table(&self, table: &str) {
        let line = self.session_table(table, "create");
        assert!(line.contains("created"), "session_table.py create: {line}");
    }

    /// `.venv/bin/python dev/session_table.py <command>` on table `table`; its stdout.
    pub fn session_table(&self, table: &str, command: &str) -> String {
        let out = Command::new(root().join(".venv/bin/python"))
            .arg(root().join("dev/session_table.py"))
            .arg(command)
            .args(["--endpoint", &self.endpoint()])
            .args(["--name", table, "--region", "us-east-1"])
            .env("AWS_ACCESS_KEY_ID", "e2e")
            .env("AWS_SECRET_ACCESS_KEY", "e2e")
            .output()
            .unwrap_or_else(|e| panic!("cannot run dev/session_table.py: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "dev/session_table.py {command} failed: {stdout}{}\nmoto's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.logs.join("moto.log")).unwrap_or_default()
        );
        stdout
    }

    /// A Secrets Manager client for this moto, built as the functions build theirs.
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        shared::testing::secrets_client_at(&self.endpoint())
    }

    /// A DynamoDB client for this moto, built as the functions build theirs.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        shared::testing::dynamodb_client_at(&self.endpoint())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop(&mut self.service);
    }
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Start the demo SPA too (browser tests).
    pub demo: bool,
    /// Extra environment for the functions.
    pub function_env: Vec<(String, String)>,
    /// Do not wait for the functions to serve (tests of a failing cold start).
    pub functions_may_fail: bool,
    /// Create the session table in moto (`sessions-<stack name>`, from `template.yaml`) and give
    /// the functions `SESSION_TABLE`.
    pub sessions: bool,
    /// Extra environment for the provider (`PROVIDER_ACCESS_TOKEN_TTL`, `PROVIDER_ID_TOKEN_TTL`,
    /// `PROVIDER_REFRESH_TOKEN_TTL`: see `dev/provider/provider.mjs`).
    pub provider_env: Vec<(String, String)>,
}

/// A running stack.
pub struct Stack {
    options: Options,
    pub name: String,
    pub logs: PathBuf,
    pub moto: Moto,
    pub provider_port: u16,
    pub api_port: u16,
    pub demo_port: u16,
    pub client_secret: String,
    /// The session table's name, with [`Options::sessions`].
    pub session_table: Option<String>,
    services: Vec<Service>,
}

impl Stack {
    /// The provider's issuer.
    pub fn issuer(&self) -> String {
        format!("http://localhost:{}", self.provider_port)
    }

    /// The demo's origin (the app).
    pub fn app(&self) -> String {
        format!("http://localhost:{}", self.demo_port)
    }

    /// A function's URL under cargo lambda watch.
    pub fn function(&self, name: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{name}{path}", self.api_port)
    }

    /// The SPA's redirect URI (the demo's `/callback`).
    pub fn spa_redirect(&self) -> String {
        format!("{}/callback", self.app())
    }

    /// The server flow's redirect URI (through the demo's proxy, like one origin in AWS).
    pub fn server_redirect(&self) -> String {
        format!("{}/authorization-code/callback", self.app())
    }

    /// The functions logged at `TRACE` (the runtime and our crates), and no line holds any of
    /// `values` (secrets, tokens, cookie values, codes) nor the client secret.
    pub fn assert_log_holds_none(&self, values: &[&str]) {
        let log = self.log("functions");
        assert!(
            log.contains("log levels ours=trace"),
            "the functions did not run at TRACE:\n{log}"
        );
        for (i, value) in values.iter().copied().chain([self.client_secret.as_str()]).enumerate() {
            assert!(value.len() >= 8, "value {i} is too short to look for");
            if let Some(n) = log.lines().position(|l| l.contains(value)) {
                panic!("line {} of functions.log holds value {i}", n + 1);
            }
        }
    }

    /// The text a service has logged so far.
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{service}.log"))).unwrap_or_default()
    }

    /// Starts moto, seeds the secret, starts the provider and `cargo lambda watch`, and waits
    /// until the `login` function answers.
    pub async fn start(name: &str, options: Options) -> Self {
        let root = root();
        let logs = logs_dir(name);
        let client_secret = shared::keygen::random_token(32).unwrap();
        let client_secret = secrecy::ExposeSecret::expose_secret(&client_secret).to_owned();
        // Secrets Manager, and DynamoDB for sessions.
        let moto = Moto::start(&logs).await;
        let mut stack = Self {
            options: options.clone(),
            name: name.to_owned(),
            logs,
            moto,
            provider_port: free_port(),
            api_port: free_port(),
            demo_port: free_port(),
            client_secret,
            session_table: options.sessions.then(|| format!("sessions-{name}")),
            services: Vec::new(),
        };
        stack
            .seed_secret(&shared::testing::secret_json_with(
                shared::keygen::KeyAlg::Es256,
                &stack.client_secret,
                COOKIE_KEY_BYTE,
            ))
            .await;
        if let Some(table) = &stack.session_table {
            stack.moto.create_session_table(table);
        }

        // The OpenID provider.
        let mut provider = Command::new("node");
        provider
            .arg("provider.mjs")
            .current_dir(root.join("dev/provider"))
            .env("PROVIDER_PORT", stack.provider_port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", &stack.client_secret)
            .env(
                "PROVIDER_REDIRECT_URIS",
                format!("{},{}", stack.spa_redirect(), stack.server_redirect()),
            )
            .env("PROVIDER_POST_LOGOUT_REDIRECT_URIS", format!("{}/", stack.app()))
            // With sessions, a logout at the provider calls our back-channel logout.
            .envs(options.sessions.then(|| {
                let uri = stack.function("logout", "/api/backchannel-logout");
                ("PROVIDER_BACKCHANNEL_LOGOUT_URI", uri)
            }))
            .envs(options.provider_env.iter().map(|(k, v)| (k, v)));
        stack.spawn("provider", &mut provider);
        let discovery = format!("{}/.well-known/openid-configuration", stack.issuer());
        stack.wait_for("provider", &discovery, Duration::from_secs(180)).await;

        // The functions.
        stack.start_functions().await;

        if options.demo {
            let mut demo = Command::new("npm");
            demo.args(["run", "dev", "--silent"])
                .current_dir(root.join("demo"))
                .env("DEMO_PORT", stack.demo_port.to_string())
                .env("DEMO_API_ORIGIN", format!("http://127.0.0.1:{}", stack.api_port));
            stack.spawn("demo", &mut demo);
            stack.wait_for("demo", &format!("{}/", stack.app()), Duration::from_secs(180)).await;
        }
        stack
    }

    /// Starts `cargo lambda watch` and, unless the functions may fail, waits until `login`
    /// answers.
    async fn start_functions(&mut self) {
        let venv = root().join(".venv/bin");
        let mut watch = Command::new(venv.join("cargo-lambda"));
        watch
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--disable-cors",
                "--invoke-address",
                "127.0.0.1",
                "-P",
            ])
            .arg(self.api_port.to_string())
            .current_dir(root())
            .env(
                "PATH",
                format!("{}:{}", venv.display(), std::env::var("PATH").unwrap_or_default()),
            );
        for (k, v) in self.function_env(&self.options.function_env) {
            watch.env(k, v);
        }
        self.spawn("functions", &mut watch);
        if !self.options.functions_may_fail {
            let url = self.function("login", "/api/login");
            self.wait_for("functions", &url, Duration::from_secs(600)).await;
        }
    }

    /// Stops every function and starts them again: the next requests meet fresh cold starts
    /// (a new secret, a new JWKS).
    pub async fn restart_functions(&mut self) {
        if let Some(pos) = self.services.iter().position(|s| s.name == "functions") {
            let mut service = self.services.remove(pos);
            stop(&mut service);
        }
        self.start_functions().await;
    }

    /// The functions' environment: the documented variables plus the SDK's standard ones.
    fn function_env(&self, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("OIDC_ISSUER", self.issuer()),
            ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OIDC_REDIRECT_URI", self.spa_redirect()),
            ("OIDC_SERVER_REDIRECT_URI", self.server_redirect()),
            ("SECRET_ID", SECRET_ID.to_owned()),
            ("SESSION_ISSUER", self.app()),
            ("SESSION_AUDIENCE", self.app()),
            ("POST_LOGIN_PATH", "/".to_owned()),
            ("POST_LOGOUT_REDIRECT_URI", format!("{}/", self.app())),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "e2e".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "e2e".to_owned()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            // cargo lambda's own log level (the emulator reads RUST_LOG too).
            ("RUST_LOG", "info".to_owned()),
            // Every e2e stack runs the functions at the most verbose level an operator can
            // set, so the tests that read the log (`assert_log_holds_none`) check TRACE.
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(table) = &self.session_table {
            // The SDK reaches moto's DynamoDB through AWS_ENDPOINT_URL, like Secrets Manager.
            env.push(("SESSION_TABLE".to_owned(), table.clone()));
        }
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// Stores `secret` in moto through the AWS SDK.
    pub async fn seed_secret(&self, secret: &str) {
        self.secrets()
            .await
            .create_secret()
            .name(SECRET_ID)
            .secret_string(secret)
            .send()
            .await
            .unwrap();
    }

    /// `dev/session_table.py <command>` on this stack's table; its stdout.
    fn session_table_command(&self, command: &str) -> String {
        let table = self.session_table.as_deref().expect("a stack started with sessions: true");
        self.moto.session_table(table, command)
    }

    /// Every item of the session table, as JSON text: an array of items in DynamoDB's typed
    /// JSON (`[{"h": {"S": "..."}, ...}]`, binary values in standard base64). A test looks in it
    /// for values that must never be stored in clear (handles, tokens).
    pub fn scan_sessions(&self) -> String {
        self.session_table_command("scan")
    }

    /// The provider's tokens held for session `sid` (our JWT's `sid` claim), opened with the
    /// session key this stack's secret derives: what only the functions can read.
    pub fn session_provider_tokens(&self, sid: &str) -> shared::ProviderTokens {
        let items: Vec<serde_json::Value> = serde_json::from_str(&self.scan_sessions()).unwrap();
        let item = items.iter().find(|i| i["h"]["S"] == sid).expect("the session item");
        let secret = shared::testing::secret_json_with(
            shared::keygen::KeyAlg::Es256,
            &self.client_secret,
            COOKIE_KEY_BYTE,
        );
        let (_, _, cookie_keys) = shared::Secret::from_json(&secret).unwrap().into_parts();
        let keys = shared::SessionKeys::derive(&cookie_keys).unwrap();
        let sealed =
            base64::engine::general_purpose::STANDARD.decode(item["tok"]["B"].as_str().unwrap());
        let sealed = sealed.unwrap();
        shared::ProviderTokens::open(&sealed, &keys, item["h"]["S"].as_str().unwrap()).unwrap()
    }

    /// A refresh grant sent straight to the provider's token endpoint as our client, bypassing
    /// the functions: its status and the error code of a refusal.
    pub async fn provider_refresh_grant(&self, refresh_token: &str) -> (u16, Option<String>) {
        let http = client();
        let discovery =
            get_json(&http, &format!("{}/.well-known/openid-configuration", self.issuer())).await;
        let resp = http
            .post(discovery["token_endpoint"].as_str().unwrap())
            .basic_auth(CLIENT_ID, Some(&self.client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        (status, body["error"].as_str().map(str::to_owned))
    }

    /// The session table as moto describes it: `{"Table": DescribeTable, "TimeToLive":
    /// DescribeTimeToLive}`.
    pub fn describe_session_table(&self) -> serde_json::Value {
        serde_json::from_str(&self.session_table_command("describe")).unwrap()
    }

    /// A Secrets Manager client for this stack's moto, built as the functions build theirs.
    pub async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        self.moto.secrets()
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) {
        self.services.push(Service::spawn(&self.logs, name, command));
    }

    /// Waits until service `name` answers `url` with a success.
    async fn wait_for(&self, name: &str, url: &str, limit: Duration) {
        let service = self.services.iter().rev().find(|s| s.name == name).unwrap();
        wait_until(&client(), url, limit, service, &self.logs).await;
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for service in &mut self.services {
            // The whole group: cargo lambda watch and npm start children of their own.
            signal_group("TERM", service.child.id());
        }
        for service in &mut self.services {
            stop(service);
        }
    }
}

/// Stops a service's process group: TERM, up to 5 s of grace, then KILL.
fn stop(service: &mut Service) {
    signal_group("TERM", service.child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group("KILL", service.child.id());
    let _ = service.child.wait();
}

/// Sends `signal` to the process group led by `pid` (each service leads its own group).
fn signal_group(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// Waits until `url` answers a success, failing with `service`'s log (from `logs`) when it
/// exits first or `limit` passes.
async fn wait_until(
    http: &reqwest::Client,
    url: &str,
    limit: Duration,
    service: &Service,
    logs: &Path,
) {
    let deadline = Instant::now() + limit;
    let log = || std::fs::read_to_string(logs.join(format!("{}.log", service.name)));
    let name = service.name;
    loop {
        if let Ok(resp) = http.get(url).send().await
            && resp.status().is_success()
        {
            return;
        }
        if service.exited() {
            panic!(
                "{name} exited before answering at {url}; its log:\n{}",
                log().unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            panic!("{name} did not come up at {url}; its log:\n{}", log().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A minimal cookie jar per host: enough for the provider's session and interaction cookies.
#[derive(Debug, Default, Clone)]
pub struct Jar(HashMap<String, HashMap<String, String>>);

impl Jar {
    pub fn store(&mut self, url: &str, resp: &reqwest::Response) {
        let host = host_of(url);
        let cookies = self.0.entry(host).or_default();
        for value in resp.headers().get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, v) = pair.split_once('=').unwrap();
            let expired = value.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
            if expired {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), v.to_owned());
            }
        }
    }

    pub fn header(&self, url: &str) -> Option<String> {
        let cookies = self.0.get(&host_of(url))?;
        (!cookies.is_empty())
            .then(|| cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    pub fn get(&self, url: &str, name: &str) -> Option<String> {
        self.0.get(&host_of(url))?.get(name).cloned()
    }
}

fn host_of(url: &str) -> String {
    // Browsers share cookies across ports: so does this jar.
    url::Url::parse(url).unwrap().host_str().unwrap().to_owned()
}

/// Signs in at the provider as `user` (password = login), starting from `authorize_url`, and
/// returns the redirect to `redirect_uri` with `code`, `state` and `iss`.
pub async fn sign_in_at_provider(
    http: &reqwest::Client,
    jar: &mut Jar,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> url::Url {
    let mut url = authorize_url.to_owned();
    for _ in 0..12 {
        let mut req = http.get(&url);
        if let Some(c) = jar.header(&url) {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        jar.store(&url, &resp);
        let status = resp.status();
        if status.is_redirection() {
            let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
            let next = url::Url::parse(&url).unwrap().join(&location).unwrap();
            if next.query_pairs().any(|(k, _)| k == "code" || k == "error") {
                return next;
            }
            url = next.to_string();
            continue;
        }
        assert_eq!(status, 200, "provider answered {status} at {url}");
        let html = resp.text().await.unwrap();
        let action =
            between(&html, "action=\"", "\"").unwrap_or_else(|| panic!("no form at {url}: {html}"));
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", user), ("password", password)]
        } else {
            vec![("prompt", "consent")]
        };
        let mut req = http.post(action).form(&form);
        if let Some(c) = jar.header(action) {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        jar.store(action, &resp);
        assert!(resp.status().is_redirection(), "form post to {action} answered {}", resp.status());
        let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
        url = url::Url::parse(action).unwrap().join(&location).unwrap().to_string();
    }
    panic!("the provider login did not end in a redirect to the app");
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// `GET url`'s JSON body (the test fails on an error or a body that is not JSON).
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Logs out at the provider itself (its `end_session_endpoint`, confirmed as a user would),
/// with the provider's session cookies in `jar`: what a user does at the provider's own page,
/// without our logout.
pub async fn log_out_at_provider(http: &reqwest::Client, jar: &mut Jar, issuer: &str) {
    let url = format!("{issuer}/session/end?client_id={CLIENT_ID}");
    let mut req = http.get(&url);
    if let Some(c) = jar.header(&url) {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    jar.store(&url, &resp);
    assert_eq!(resp.status(), 200, "the provider's logout page");
    let html = resp.text().await.unwrap();
    let action = between(&html, "action=\"", "\"").expect("the logout form");
    let action = url::Url::parse(&url).unwrap().join(action).unwrap().to_string();
    let xsrf = between(&html, "name=\"xsrf\" value=\"", "\"").expect("the form's xsrf");
    let mut req = http.post(&action).form(&[("xsrf", xsrf), ("logout", "yes")]);
    if let Some(c) = jar.header(&action) {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_redirection(), "logout confirmed: {}", resp.status());
}

/// The decoded header and claims of a JWT.
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let raw =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    (next(), next())
}

/// Every JWT-looking word (`eyJ...`) in `text`.
pub fn jwts_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|w| w.starts_with("eyJ"))
        .collect()
}
