//! moto: Secrets Manager and DynamoDB in one local process. The secret is stored through the
//! AWS SDK (as the functions read it), the session table made by `dev/session_table.py` from
//! `template.yaml`'s own declaration of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::StackError;
use crate::paths::{root, venv};
use crate::process::{Service, free_port};

/// The region and dummy credentials every local AWS client uses (moto ignores them).
pub const REGION: &str = "us-east-1";
pub(crate) const CREDENTIALS: &str = "local";

/// A moto server on loopback, logging to `<logs>/moto.log`; stopped when dropped.
pub struct Moto {
    pub port: u16,
    logs: PathBuf,
    service: Option<Service>,
}

impl Moto {
    /// Starts moto's server on `port` (0: a free one) and waits until it answers: through
    /// `dev/moto_server.py`, which handles its requests one at a time, so that a conditional
    /// write is atomic as DynamoDB's are (moto's own server lets two pass one condition).
    ///
    /// # Errors
    /// When the venv is missing, or moto does not come up.
    pub async fn start(logs: &Path, port: u16) -> Result<Self, StackError> {
        if !venv().join("moto_server").exists() {
            return Err(StackError::Missing(
                "moto is not installed (.venv/bin/moto_server): run `make tools`",
            ));
        }
        let port = if port == 0 { free_port()? } else { port };
        let mut command = Command::new(venv().join("python"));
        command.arg(root().join("dev/moto_server.py"));
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut service = Service::spawn(logs, "moto", &mut command)?;
        let ready = format!("http://127.0.0.1:{port}/moto-api/");
        let waited = service.wait_for(&crate::http(), &ready, Duration::from_secs(180)).await;
        let moto = Self { port, logs: logs.to_owned(), service: Some(service) };
        waited.map(|()| moto)
    }

    /// Whether the server has stopped.
    pub(crate) fn exited(&mut self) -> bool {
        self.service.as_mut().is_none_or(Service::exited)
    }

    /// Its endpoint, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stores secret `id` with `text`.
    pub(crate) async fn put_secret(&self, id: &str, text: &str) -> Result<(), StackError> {
        self.secrets()?
            .create_secret()
            .name(id)
            .secret_string(text)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StackError::Moto(format!("CreateSecret {id}: {}", shared::error_chain(&e)))
            })
    }

    /// Creates the session table `table` from `template.yaml`'s declaration.
    ///
    /// # Errors
    /// When `dev/session_table.py` fails.
    pub fn create_session_table(&self, table: &str) -> Result<(), StackError> {
        let line = self.session_table(table, "create")?;
        if line.contains("created") || line.contains("exists") {
            Ok(())
        } else {
            Err(StackError::Moto(format!("dev/session_table.py create: {line}")))
        }
    }

    /// `.venv/bin/python dev/session_table.py <command>` on table `table`: its standard output.
    ///
    /// # Errors
    /// When the script fails (its output and moto's log in the error).
    pub fn session_table(&self, table: &str, command: &str) -> Result<String, StackError> {
        let out = Command::new(venv().join("python"))
            .arg(root().join("dev/session_table.py"))
            .arg(command)
            .args(["--endpoint", &self.endpoint(), "--name", table, "--region", REGION])
            .env("AWS_ACCESS_KEY_ID", CREDENTIALS)
            .env("AWS_SECRET_ACCESS_KEY", CREDENTIALS)
            .output()
            .map_err(|e| StackError::io("dev/session_table.py", e))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let moto_log = std::fs::read_to_string(self.logs.join("moto.log")).unwrap_or_default();
        Err(StackError::Moto(format!(
            "dev/session_table.py {command} failed: {stdout}{}\nmoto's log:\n{moto_log}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }

    /// The AWS settings of this moto and the HTTP client, as the functions build theirs.
    fn aws(&self) -> Result<(shared::AwsEnv, shared::Http), StackError> {
        let endpoint = self.endpoint();
        let env = shared::AwsEnv::from_lookup(|name| match name {
            "AWS_REGION" => Some(REGION.to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some(CREDENTIALS.to_owned()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        })
        .map_err(|e| StackError::Moto(e.to_string()))?;
        let http = shared::http_client().map_err(|e| StackError::Moto(e.to_string()))?;
        Ok((env, http))
    }

    /// A Secrets Manager client for this moto, built as the functions build theirs.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (`EXTRA_CA_CERTS` unreadable).
    pub fn secrets(&self) -> Result<aws_sdk_secretsmanager::Client, StackError> {
        let (env, http) = self.aws()?;
        Ok(shared::secrets_client(&env, &http))
    }

    /// A DynamoDB client for this moto, built as the functions build theirs.
    ///
    /// # Errors
    /// As [`Moto::secrets`].
    pub fn dynamodb(&self) -> Result<aws_sdk_dynamodb::Client, StackError> {
        let (env, http) = self.aws()?;
        Ok(shared::dynamodb_client(&env, &http))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut service) = self.service.take() {
            service.stop();
        }
    }
}

/// Counts the requests a DynamoDB client sends (an SDK interceptor: `.interceptor(count)` on
/// the client's config), for the figures of the in-process suites and the load harness.
#[derive(Debug, Clone, Default)]
pub struct RequestCount(Arc<AtomicU64>);

impl RequestCount {
    /// The requests so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for RequestCount {
    fn name(&self) -> &'static str {
        "request-count"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
