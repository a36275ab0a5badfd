//! What a running stack tells its caller: its endpoints, the functions' environment, its logs
//! and its session table; as methods (Rust callers), as JSON (`stack up --json`) and as the
//! text `make dev` prints.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::functions;
use crate::paths::functions as function_names;
use crate::providers::ProviderKind;
use crate::start::{Running, Stack};
use crate::{StackError, venv};

impl Stack {
    /// The first provider's issuer.
    pub fn issuer(&self) -> String {
        self.providers[0].issuer.clone()
    }

    /// The provider running `kind` (the first one of that kind).
    ///
    /// # Panics
    /// When the stack runs no provider of that kind: a test asked for what it did not start.
    #[allow(clippy::panic)]
    pub fn provider(&self, kind: ProviderKind) -> &Running {
        self.providers
            .iter()
            .find(|p| p.spec.kind == kind)
            .unwrap_or_else(|| panic!("this stack does not run {kind:?}"))
    }

    /// The issuer of the provider running `kind`.
    pub fn issuer_of(&self, kind: ProviderKind) -> String {
        self.provider(kind).issuer.clone()
    }

    /// The log of the provider running `kind`.
    pub fn provider_log(&self, kind: ProviderKind) -> String {
        self.log(&self.provider(kind).service)
    }

    /// The app's origin: the demo's, which proxies the API paths.
    pub fn app(&self) -> String {
        self.app.clone()
    }

    /// A function's URL under `cargo lambda watch`.
    pub fn function(&self, name: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{name}{path}", self.api_port)
    }

    /// The upstream API's origin (`/ours/...` wants our JWT, `/provider/...` the provider's
    /// access token, `/_seen` counts the requests that reached either); it runs when the
    /// functions do, or with [`crate::Options::upstream`].
    pub fn upstream(&self) -> String {
        format!("http://127.0.0.1:{}", self.upstream_port)
    }

    /// The SPA's redirect URI (the app's `/callback`).
    pub fn spa_redirect(&self) -> String {
        functions::spa_redirect(&self.app)
    }

    /// The server flow's redirect URI (through the demo's proxy, like one origin in AWS).
    pub fn server_redirect(&self) -> String {
        functions::server_redirect(&self.app)
    }

    /// The text a service has logged so far (`functions`, `moto`, `provider`, `demo`, ...).
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{service}.log"))).unwrap_or_default()
    }

    /// Every item of the session table as DynamoDB's typed JSON text
    /// (`[{"h": {"S": "..."}, ...}]`, binary values in standard base64).
    ///
    /// # Errors
    /// Without sessions, or when `dev/session_table.py` fails.
    pub fn scan_sessions(&self) -> Result<String, StackError> {
        self.moto.session_table(self.table()?, "scan")
    }

    /// The session table as moto describes it: `{"Table": DescribeTable, "TimeToLive":
    /// DescribeTimeToLive}`.
    ///
    /// # Errors
    /// As [`Stack::scan_sessions`].
    pub fn describe_session_table(&self) -> Result<Value, StackError> {
        let text = self.moto.session_table(self.table()?, "describe")?;
        serde_json::from_str(&text).map_err(|e| StackError::Moto(format!("describe: {e}")))
    }

    fn table(&self) -> Result<&str, StackError> {
        let missing = || StackError::Options("a stack started with sessions: true".into());
        self.session_table.as_deref().ok_or_else(missing)
    }

    /// The first service that has stopped, if any (`make dev` ends when one does).
    pub fn stopped(&mut self) -> Option<String> {
        if self.moto.exited() {
            return Some("moto".to_owned());
        }
        self.services.iter_mut().find_map(|s| s.exited().then(|| s.name.clone()))
    }

    /// Waits until a service stops; its name.
    pub async fn until_a_service_stops(&mut self) -> String {
        loop {
            if let Some(name) = self.stopped() {
                return name;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Everything a caller needs to use the stack, as JSON (no secret in it): the app, moto,
    /// each provider (with how our client is registered there, `client`), the functions with their exact environment (`env`) and the part of it
    /// that does not name the providers (`common_env`), the upstream API's origin (`upstream`,
    /// null when it does not run), the logs.
    pub fn describe(&self) -> Value {
        let map = |env: Vec<(String, String)>| {
            env.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<serde_json::Map<_, _>>()
        };
        let providers: Vec<Value> = self
            .providers
            .iter()
            .map(|p| {
                json!({
                    "name": p.spec.name, "kind": p.spec.kind, "issuer": p.issuer, "port": p.port,
                    "client_id": p.spec.client_id, "users": p.spec.kind.users(),
                    "client": p.client,
                    "log": self.logs.join(format!("{}.log", p.service)),
                })
            })
            .collect();
        let functions = self.options.functions.then(|| {
            json!({
                "url": format!("http://127.0.0.1:{}/lambda-url/{{name}}", self.api_port),
                "port": self.api_port,
                "names": function_names(),
                "env": map(self.function_env()),
            })
        });
        json!({
            "name": self.name,
            "app": self.app(),
            "demo": self.options.demo,
            "logs": self.logs,
            "moto": {
                "endpoint": self.moto.endpoint(),
                "region": crate::REGION,
                "secret_id": self.secret_id,
                "session_table": self.session_table,
            },
            "providers": providers,
            "functions": functions,
            "upstream": self.options.runs_upstream().then(|| self.upstream()),
            "common_env": map(self.common_env()),
        })
    }

    /// [`Stack::describe`] as the text `make dev` prints.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let app = self.app();
        let _ = writeln!(out, "\n  Ready. Open {app}/ and sign in:");
        for p in &self.providers {
            let _ = writeln!(
                out,
                "    {:<22} {}  users {}",
                p.spec.kind.label(),
                p.issuer,
                p.spec.kind.users()
            );
            if let Some(client) = p.client.summary() {
                let _ = writeln!(out, "    {:<22} our client: {client}", "");
            }
        }
        let _ = writeln!(out);
        let row = |out: &mut String, what: &str, value: &str| {
            let _ = writeln!(out, "  {what:<26} {value}");
        };
        if self.options.functions {
            let url = format!("http://127.0.0.1:{}/lambda-url/<function>/...", self.api_port);
            row(&mut out, "API (cargo lambda watch)", &url);
            row(&mut out, "", &format!("functions: {}", function_names().join(" ")));
            row(
                &mut out,
                "Our issuer metadata",
                &format!("{app}/.well-known/openid-configuration"),
            );
            row(&mut out, "Upstream API (REMOTE_APIS)", &self.upstream());
        }
        let moto = self.moto.endpoint();
        row(&mut out, "Secrets Manager (moto)", &format!("{moto}   secret \"{}\"", self.secret_id));
        if let Some(table) = &self.session_table {
            row(&mut out, "DynamoDB (moto)", &format!("{moto}   table \"{table}\""));
            let scan = format!(
                "({}/python dev/session_table.py scan --endpoint {moto} --name {table})",
                venv().strip_prefix(crate::root()).unwrap_or(&venv()).display()
            );
            row(&mut out, "", &scan);
        }
        row(&mut out, "Logs", &format!("{}/", self.logs.display()));
        let _ = writeln!(out, "\n  The functions' environment:");
        for (k, v) in self.function_env() {
            let _ = writeln!(out, "    {k}={v}");
        }
        let _ = writeln!(out, "\n  Ctrl-C stops everything.");
        out
    }
}
