//! The end-to-end harness: starts the real local stack on free loopback ports, per test.
//!
//! - moto ([`Moto`]: `.venv/bin/moto_server`), seeded with a fresh secret through `secret-tool`'s
//!   code path (the AWS SDK), so the functions read it exactly as in AWS; with
//!   [`Options::sessions`], also the session table, made by `dev/session_table.py` from
//!   `template.yaml`'s declaration;
//! - the local OpenID provider: the npm `oidc-provider` (`dev/provider`) by default, or
//!   LemonLDAP::NG (`dev/lemonldap/lemonldap.py`) with [`Options::provider`]; with
//!   [`Options::second_provider`], the other one too, in one deployment (`OIDC_PROVIDERS`);
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

/// Which OpenID provider a stack runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProviderKind {
    /// The npm `oidc-provider` (`dev/provider/provider.mjs`): users `alice`, `bob`.
    #[default]
    OidcProvider,
    /// LemonLDAP::NG 2.16 (`dev/lemonldap/lemonldap.py`; how it differs:
    /// `dev/lemonldap/QUIRKS.md`): users `dwho`, `rtyler`, `msmith`; no back-channel logout.
    LemonLdap,
}

impl ProviderKind {
    /// Its name in `OIDC_PROVIDERS` when a stack runs two providers: `local` for
    /// oidc-provider, `lemon` for LemonLDAP::NG.
    pub fn name(self) -> &'static str {
        match self {
            Self::OidcProvider => "local",
            Self::LemonLdap => "lemon",
        }
    }

    /// Its label on the demo page of a two-provider stack ("Sign in with <label>").
    pub fn label(self) -> &'static str {
        match self {
            Self::OidcProvider => "the local provider",
            Self::LemonLdap => "LemonLDAP::NG",
        }
    }
}

/// The client id our client has at the second provider of a two-provider stack (each provider
/// its own client id, client secret and issuer).
pub const SECOND_CLIENT_ID: &str = "e2e-spa-second";

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The OpenID provider (with [`Options::second_provider`], the default one).
    pub provider: ProviderKind,
    /// A second OpenID provider in the same deployment (it must be the other kind): the
    /// functions then get `OIDC_PROVIDERS=<first>,<second>` with the names of
    /// [`ProviderKind::name`] (`local`, `lemon`), each provider its issuer (its own port),
    /// client id ([`CLIENT_ID`], [`SECOND_CLIENT_ID`]) and client secret (the secret's
    /// `client_secret` for the first, `client_secrets.<second>` for the second).
    pub second_provider: Option<ProviderKind>,
    /// Start the demo SPA too (browser tests); with [`Options::second_provider`], it offers
    /// both (`DEMO_PROVIDERS`).
    pub demo: bool,
    /// Extra environment for the functions.
    pub function_env: Vec<(String, String)>,
    /// Do not wait for the functions to serve (tests of a failing cold start).
    pub functions_may_fail: bool,
    /// Create the session table in moto (`sessions-<stack name>`, from `template.yaml`) and give
    /// the functions `SESSION_TABLE`.
    pub sessions: bool,
    /// Extra environment for the provider (`PROVIDER_ACCESS_TOKEN_TTL`, `PROVIDER_ID_TOKEN_TTL`,
    /// `PROVIDER_REFRESH_TOKEN_TTL`: see `dev/provider/provider.mjs`; for LemonLDAP::NG
    /// `LLNG_ACCESS_TOKEN_TTL`, `LLNG_LOG_LEVEL`, ...: see `dev/lemonldap/lemonldap.py`).
    pub provider_env: Vec<(String, String)>,
}

/// A running stack.
pub struct Stack {
    options: Options,
    pub name: String,
    pub logs: PathBuf,
    pub moto: Moto,
    pub provider_port: u16,
    /// The second provider's port, with [`Options::second_provider`].
    pub second_port: u16,
    pub api_port: u16,
    pub demo_port: u16,
    pub client_secret: String,
    /// Our client secret at the second provider, with [`Options::second_provider`].
    pub second_client_secret: String,
    /// The session table's name, with [`Options::sessions`].
    pub session_table: Option<String>,
    services: Vec<Service>,
}

impl Stack {
    /// `POST /api/refresh` with the session handle cookie `handle` (`name=value`) and
    /// `X-CSRF: 1`, as the app sends it: the status and the JSON body (`null` when none).
    pub async fn refresh(&self, http: &reqwest::Client, handle: &str) -> (u16, serde_json::Value) {
        let resp = http
            .post(self.function("refresh", "/api/refresh"))
            .header(COOKIE, handle)
            .header("x-csrf", "1")
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The provider's issuer (both providers serve it at the root of their port on
    /// `localhost`); with two providers, the first's.
    pub fn issuer(&self) -> String {
        format!("http://localhost:{}", self.provider_port)
    }

    /// The issuer of provider `kind`: the first or, with [`Options::second_provider`], the
    /// second (panics when the stack does not run it).
    pub fn issuer_of(&self, kind: ProviderKind) -> String {
        if kind == self.options.provider {
            self.issuer()
        } else {
            assert_eq!(
                self.options.second_provider,
                Some(kind),
                "this stack does not run {kind:?}"
            );
            format!("http://localhost:{}", self.second_port)
        }
    }

    /// The log of provider `kind`'s service (`provider.log` for the first, `second-provider.log`
    /// for the second).
    pub fn provider_log(&self, kind: ProviderKind) -> String {
        if kind == self.options.provider {
            self.log("provider")
        } else {
            self.log("second-provider")
        }
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
        // In the text log format or in Lambda's JSON one.
        let at_trace = log.contains("log levels ours=trace")
            || log
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .any(|l| l["fields"]["message"] == "log levels" && l["fields"]["ours"] == "trace");
        assert!(at_trace, "the functions did not run at TRACE:\n{log}");
        let secrets = [self.client_secret.as_str(), self.second_client_secret.as_str()];
        for (i, value) in values.iter().copied().chain(secrets).enumerate() {
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

    /// The functions' metric lines (CloudWatch embedded metric format objects in their log).
    pub fn metric_lines(&self) -> Vec<serde_json::Value> {
        self.log("functions")
            .lines()
            .filter(|l| l.starts_with('{') && l.contains("\"_aws\""))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Starts moto, seeds the secret, starts the provider and `cargo lambda watch`, and waits
    /// until the `login` function answers.
    pub async fn start(name: &str, options: Options) -> Self {
        let root = root();
        let logs = logs_dir(name);
        let client_secret = shared::keygen::random_token(32).unwrap();
        let client_secret = secrecy::ExposeSecret::expose_secret(&client_secret).to_owned();
        let second_client_secret = shared::keygen::random_token(32).unwrap();
        let second_client_secret =
            secrecy::ExposeSecret::expose_secret(&second_client_secret).to_owned();
        assert_ne!(
            Some(options.provider),
            options.second_provider,
            "the second provider must be the other kind"
        );
        // Secrets Manager, and DynamoDB for sessions.
        let moto = Moto::start(&logs).await;
        let mut stack = Self {
            options: options.clone(),
            name: name.to_owned(),
            logs,
            moto,
            provider_port: free_port(),
            second_port: free_port(),
            api_port: free_port(),
            demo_port: free_port(),
            client_secret,
            second_client_secret,
            session_table: options.sessions.then(|| format!("sessions-{name}")),
            services: Vec::new(),
        };
        let secret = shared::testing::secret_json_with(
            shared::keygen::KeyAlg::Es256,
            &stack.client_secret,
            COOKIE_KEY_BYTE,
        );
        let mut secret: serde_json::Value = serde_json::from_str(&secret).unwrap();
        if let Some(second) = options.second_provider {
            // `client_secret` serves the default provider only; the second one's by its name.
            secret["client_secrets"] =
                serde_json::json!({ second.name(): stack.second_client_secret });
        }
        stack.seed_secret(&secret.to_string()).await;
        if let Some(table) = &stack.session_table {
            stack.moto.create_session_table(table);
        }

        // The OpenID provider(s), started together.
        let mut provider = stack.provider_command(options.provider);
        provider.envs(options.provider_env.iter().map(|(k, v)| (k, v)));
        stack.spawn("provider", &mut provider);
        if let Some(second) = options.second_provider {
            let mut command = stack.provider_command(second);
            command.envs(options.provider_env.iter().map(|(k, v)| (k, v)));
            stack.spawn("second-provider", &mut command);
        }
        let discovery = format!("{}/.well-known/openid-configuration", stack.issuer());
        stack.wait_for("provider", &discovery, Duration::from_secs(180)).await;
        if let Some(second) = options.second_provider {
            let discovery = format!("{}/.well-known/openid-configuration", stack.issuer_of(second));
            stack.wait_for("second-provider", &discovery, Duration::from_secs(180)).await;
        }

        // The functions.
        stack.start_functions().await;

        if options.demo {
            let mut demo = Command::new("npm");
            demo.args(["run", "dev", "--silent"])
                .current_dir(root.join("demo"))
                .env("DEMO_PORT", stack.demo_port.to_string())
                .env("DEMO_API_ORIGIN", format!("http://127.0.0.1:{}", stack.api_port));
            // Two providers: the page offers a button for each (`#login-<name>`).
            if let Some(second) = options.second_provider {
                let entry = |kind: ProviderKind| format!("{}={}", kind.name(), kind.label());
                demo.env(
                    "DEMO_PROVIDERS",
                    format!("{},{}", entry(options.provider), entry(second)),
                );
            }
            stack.spawn("demo", &mut demo);
            stack.wait_for("demo", &format!("{}/", stack.app()), Duration::from_secs(180)).await;
        }
        stack
    }

    /// The command that starts provider `kind` (the first or the second) on its port, with our
    /// client registered: its client id and secret, both redirect URIs, the app's `/` after
    /// logout.
    fn provider_command(&self, kind: ProviderKind) -> Command {
        let redirects = format!("{},{}", self.spa_redirect(), self.server_redirect());
        let post_logout = format!("{}/", self.app());
        let (port, client_id, secret) = if kind == self.options.provider {
            (self.provider_port, CLIENT_ID, &self.client_secret)
        } else {
            (self.second_port, SECOND_CLIENT_ID, &self.second_client_secret)
        };
        match kind {
            ProviderKind::OidcProvider => {
                let mut command = Command::new("node");
                command
                    .arg("provider.mjs")
                    .current_dir(root().join("dev/provider"))
                    .env("PROVIDER_PORT", port.to_string())
                    .env("OIDC_CLIENT_ID", client_id)
                    .env("OIDC_CLIENT_SECRET", secret)
                    .env("PROVIDER_REDIRECT_URIS", redirects)
                    .env("PROVIDER_POST_LOGOUT_REDIRECT_URIS", post_logout)
                    // With sessions, a logout at the provider calls our back-channel logout.
                    .envs(self.options.sessions.then(|| {
                        let uri = self.function("logout", "/api/backchannel-logout");
                        ("PROVIDER_BACKCHANNEL_LOGOUT_URI", uri)
                    }));
                command
            }
            // No back-channel logout there (lemonldap.py refuses the setting). Its state, the
            // portal's log included, stays in `<logs>/lemonldap/` (`log("lemonldap/portal")`).
            ProviderKind::LemonLdap => {
                let mut command = Command::new("python3");
                command
                    .arg(root().join("dev/lemonldap/lemonldap.py"))
                    .current_dir(root())
                    .env("LLNG_PORT", port.to_string())
                    .env("LLNG_ISSUER", self.issuer_of(kind))
                    .env("LLNG_STATE_DIR", self.logs.join("lemonldap"))
                    .env("OIDC_CLIENT_ID", client_id)
                    .env("OIDC_CLIENT_SECRET", secret)
                    .env("LLNG_REDIRECT_URIS", redirects)
                    .env("LLNG_POST_LOGOUT_REDIRECT_URIS", post_logout);
                command
            }
        }
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
        if let Some(second) = self.options.second_provider {
            // Several providers: each one's issuer and client id under its name; the unprefixed
            // ones are then refused as ambiguous. The redirect URIs are shared.
            let first = self.options.provider;
            env.retain(|(k, _)| k != "OIDC_ISSUER" && k != "OIDC_CLIENT_ID");
            let var = |kind: ProviderKind, what: &str| {
                format!("OIDC_{}_{what}", kind.name().to_ascii_uppercase())
            };
            env.extend([
                ("OIDC_PROVIDERS".to_owned(), format!("{},{}", first.name(), second.name())),
                (var(first, "ISSUER"), self.issuer()),
                (var(first, "CLIENT_ID"), CLIENT_ID.to_owned()),
                (var(second, "ISSUER"), self.issuer_of(second)),
                (var(second, "CLIENT_ID"), SECOND_CLIENT_ID.to_owned()),
            ]);
        }
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

fn host_of(url: &str) -> String {
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

/// An HTML form as a browser submits it: its action resolved against the page's URL (without
/// fragment: LemonLDAP::NG's forms post to `#`, the page itself), every named input with its
/// value, and the page's confirming button when it has a name and value (oidc-provider's
/// "Yes, sign me out" button, which sits outside its form).
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first form of `html`, the page at `page`.
    fn first(html: &str, page: &str) -> Option<Self> {
        let form = &html[html.find("<form")?..];
        let form = &form[..form.find("</form>").unwrap_or(form.len())];
        let action = attribute(opening_tags(form, "<form").next()?, "action").unwrap_or_default();
        let mut action = url::Url::parse(page).ok()?.join(&action).ok()?;
        action.set_fragment(None);
        let mut fields: Vec<(String, String)> = opening_tags(form, "<input")
            .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value"))))
            .map(|(name, value)| (name, value.unwrap_or_default()))
            .collect();
        let confirm = opening_tags(html, "<button")
            .find_map(|b| Some((attribute(b, "name")?, attribute(b, "value")?)));
        fields.extend(confirm);
        Some(Self { action: action.to_string(), fields })
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// Sets field `name` to `value`, if the form has it.
    fn fill(&mut self, name: &str, value: &str) {
        for (_, v) in self.fields.iter_mut().filter(|(n, _)| n == name) {
            value.clone_into(v);
        }
    }
}

/// Each `<tag ...` opening tag of `html` (up to its `>`).
fn opening_tags<'a>(html: &'a str, open: &'a str) -> impl Iterator<Item = &'a str> {
    html.match_indices(open).filter_map(|(at, _)| {
        let tag = &html[at..];
        tag.find('>').map(|end| &tag[..end])
    })
}

/// The value of the double-quoted attribute `name` of an opening tag, its entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let from = tag
        .match_indices(&key)
        .find(|(at, _)| tag[..*at].ends_with(char::is_whitespace))
        .map(|(at, _)| at + key.len())?;
    let value = &tag[from..from + tag[from..].find('"')?];
    let entities =
        [("&quot;", "\""), ("&#39;", "'"), ("&#x27;", "'"), ("&#x2F;", "/"), ("&lt;", "<")];
    let value = entities.iter().fold(value.to_owned(), |v, (e, c)| v.replace(e, c));
    Some(value.replace("&gt;", ">").replace("&amp;", "&"))
}

/// Sends `req` (to `url`) with the jar's cookies, and keeps the cookies it answers.
async fn send_with(jar: &mut Jar, url: &str, req: reqwest::RequestBuilder) -> reqwest::Response {
    let req = match jar.header(url) {
        Some(cookies) => req.header(COOKIE, cookies),
        None => req,
    };
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    jar.store(url, &resp);
    resp
}

/// Where a redirect answered at `url` sends the browser.
fn location(url: &str, resp: &reqwest::Response) -> url::Url {
    let location = resp.headers()[LOCATION].to_str().unwrap();
    url::Url::parse(url).unwrap().join(location).unwrap()
}

/// Signs in at the provider as `user`, starting from `authorize_url`, and returns the redirect
/// to the redirect URI (with `code` and `state`, and `iss` when the provider sends it; or
/// `error`). Works through either provider's pages: a login form (oidc-provider's
/// `login`/`password`, LemonLDAP::NG's `user`/`password` with its CSRF `token`, posted with
/// every other field it holds), a consent form, redirects; a remembered provider session skips
/// the forms.
pub async fn sign_in_at_provider(
    http: &reqwest::Client,
    jar: &mut Jar,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> url::Url {
    let at_redirect_uri =
        |url: &url::Url| url.query_pairs().any(|(k, _)| k == "code" || k == "error");
    let mut url = authorize_url.to_owned();
    for _ in 0..12 {
        let resp = send_with(jar, &url, http.get(&url)).await;
        let status = resp.status();
        let next = if status.is_redirection() {
            location(&url, &resp)
        } else {
            assert_eq!(status, 200, "provider answered {status} at {url}");
            let html = resp.text().await.unwrap();
            let mut form =
                Form::first(&html, &url).unwrap_or_else(|| panic!("no form at {url}: {html}"));
            if form.has("password") {
                form.fill("login", user);
                form.fill("user", user);
                form.fill("password", password);
            }
            let action = form.action.clone();
            let resp = send_with(jar, &action, http.post(&action).form(&form.fields)).await;
            let status = resp.status();
            assert!(status.is_redirection(), "form post to {action} answered {status}");
            location(&action, &resp)
        };
        if at_redirect_uri(&next) {
            return next;
        }
        url = next.to_string();
    }
    panic!("the provider login did not end in a redirect to the app");
}

/// `GET url`'s JSON body (the test fails on an error or a body that is not JSON).
pub async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Goes to a provider logout URL (its `end_session_endpoint`, with our parameters or not) with
/// the provider's cookies in `jar`, confirming on its page as a user would (oidc-provider's
/// "Yes, sign me out", LemonLDAP::NG's "Accept", the form as it is); returns where the
/// provider then sends the browser.
pub async fn confirm_logout_at_provider(
    http: &reqwest::Client,
    jar: &mut Jar,
    logout_url: &str,
) -> url::Url {
    let resp = send_with(jar, logout_url, http.get(logout_url)).await;
    let (url, resp) = if resp.status() == 200 {
        let html = resp.text().await.unwrap();
        let form = Form::first(&html, logout_url).expect("the logout form");
        let resp = send_with(jar, &form.action, http.post(&form.action).form(&form.fields)).await;
        (form.action, resp)
    } else {
        (logout_url.to_owned(), resp)
    };
    assert!(resp.status().is_redirection(), "logout at {url} answered {}", resp.status());
    location(&url, &resp)
}

/// Logs out at the provider itself (its `end_session_endpoint`, confirmed as a user would),
/// with the provider's session cookies in `jar`: what a user does at the provider's own page,
/// without our logout.
pub async fn log_out_at_provider(http: &reqwest::Client, jar: &mut Jar, issuer: &str) {
    log_out_at_provider_as(http, jar, issuer, CLIENT_ID).await;
}

/// [`log_out_at_provider`] for our client `client_id` there ([`SECOND_CLIENT_ID`] at a
/// two-provider stack's second provider).
pub async fn log_out_at_provider_as(
    http: &reqwest::Client,
    jar: &mut Jar,
    issuer: &str,
    client_id: &str,
) {
    let discovery = get_json(http, &format!("{issuer}/.well-known/openid-configuration")).await;
    let endpoint = discovery["end_session_endpoint"].as_str().expect("an end_session_endpoint");
    let url = format!("{endpoint}?client_id={client_id}");
    confirm_logout_at_provider(http, jar, &url).await;
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

    #[test]
    fn a_form_reads_as_a_browser_submits_it() {
        let page = "http://localhost:3001/oauth2/authorize?client_id=c&state=s";
        let html = r##"<p><form id="lform" action="#" method="post">
            <input type="hidden" name="url" value="aHR0cA==" />
            <input type="hidden" name="timezone" />
            <input id="token" type="hidden" name="token" value="17_3" />
            <input id="userfield" name="user" type="text" value="" />
            <input id="passwordfield" name="password" type="password" />
            <button type="submit" class="btn">Connect</button></form>
            <button id="refuse" val="x">No</button>"##;
        let mut form = Form::first(html, page).unwrap();
        assert_eq!(form.action, page, "action=\"#\" posts to the page itself");
        assert!(form.has("password"));
        form.fill("user", "dwho");
        let fields: Vec<(&str, &str)> =
            form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("url", "aHR0cA=="),
                ("timezone", ""),
                ("token", "17_3"),
                ("user", "dwho"),
                ("password", "")
            ]
        );

        let html = r##"<form id="op.logoutForm" method="post" action="/session/end/confirm">
            <input type="hidden" name="xsrf" value="a&amp;b"/></form>
            <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes</button>"##;
        let form = Form::first(html, "http://localhost:3000/session/end?client_id=c").unwrap();
        assert_eq!(form.action, "http://localhost:3000/session/end/confirm");
        let fields: Vec<(&str, &str)> =
            form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(fields, [("xsrf", "a&b"), ("logout", "yes")]);
    }
}
