//! [`Stack::start`]: moto, the secret and the table, the providers, the upstream API and the
//! functions, the demo, in that order; and the running stack's endpoints.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::client::ClientSpec;
use crate::functions::{self, Deployment, ProviderVars, UPSTREAM_AUDIENCE, Upstream};
use crate::paths::root;
use crate::process::{Service, free_port, stop_all};
use crate::providers::{self, ProviderKind, ProviderSpec, Registration};
use crate::{Moto, Options, SECRET_ID, StackError, secret};

/// One running provider.
#[derive(Debug, Clone)]
pub struct Running {
    pub spec: ProviderSpec,
    pub port: u16,
    pub issuer: String,
    /// The name of its service, its log `<logs>/<service>.log`.
    pub service: String,
    /// How our client is registered there beyond its client secret ([`Options::client`] at
    /// oidc-provider).
    pub client: ClientSpec,
}

/// A running stack; dropping it stops everything it started.
pub struct Stack {
    pub name: String,
    pub logs: PathBuf,
    pub moto: Moto,
    pub providers: Vec<Running>,
    pub api_port: u16,
    pub demo_port: u16,
    /// The upstream API's port (it runs when the functions do, or with [`Options::upstream`]).
    pub upstream_port: u16,
    /// Our client secret at the first provider (the secret's `client_secret`).
    pub client_secret: String,
    /// The secret document stored in moto.
    pub secret: SecretString,
    pub secret_id: String,
    /// The session table's name, with [`Options::sessions`].
    pub session_table: Option<String>,
    pub(crate) options: Options,
    pub(crate) services: Vec<Service>,
    /// The app's origin (the demo's, also in the redirect URIs).
    pub(crate) app: String,
}

impl Stack {
    /// Starts everything `options` asks for, and waits until each part answers (the functions:
    /// until `login` does, unless [`Options::functions_may_fail`]).
    ///
    /// # Errors
    /// When a part does not start; what was started is stopped again.
    pub async fn start(name: &str, options: Options) -> Result<Self, StackError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || !name.chars().all(plain) {
            return Err(StackError::Options(format!(
                "a stack's name is letters, digits, - and _: {name:?}"
            )));
        }
        let logs = options.logs.clone().unwrap_or_else(|| root().join("target/stack").join(name));
        empty_logs(&logs)?;
        std::fs::create_dir_all(&logs)
            .map_err(|e| StackError::io(&logs.display().to_string(), e))?;
        let specs = options.provider_specs()?;
        let moto = Moto::start(&logs, options.moto_port).await?;
        let port = |p: u16| if p == 0 { free_port() } else { Ok(p) };
        let (api_port, demo_port) = (port(options.api_port)?, port(options.demo_port)?);
        // Picked before the functions start: their environment names it.
        let upstream_port = port(options.upstream_port)?;
        let mut providers = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let port = port(spec.port)?;
            let issuer = spec.issuer.clone().unwrap_or_else(|| format!("http://localhost:{port}"));
            let service = match i {
                0 => "provider".to_owned(),
                1 => "second-provider".to_owned(),
                _ => format!("provider-{}", i + 1),
            };
            let client = options.client_for(spec.kind);
            providers.push(Running { spec: spec.clone(), port, issuer, service, client });
        }
        let (secret, client_secrets) = make_secret(&options, &providers)?;
        let mut stack = Self {
            name: name.to_owned(),
            logs,
            moto,
            api_port,
            demo_port,
            upstream_port,
            client_secret: client_secrets[0].clone(),
            secret,
            secret_id: options.secret_id.clone().unwrap_or_else(|| SECRET_ID.to_owned()),
            session_table: options.sessions.then(|| {
                options.session_table.clone().unwrap_or_else(|| format!("sessions-{name}"))
            }),
            options,
            providers,
            services: Vec::new(),
            app: format!("http://localhost:{demo_port}"),
        };
        stack.moto.put_secret(&stack.secret_id, stack.secret.expose_secret()).await?;
        if let Some(table) = &stack.session_table {
            stack.moto.create_session_table(table)?;
        }
        stack.start_providers(&client_secrets).await?;
        if stack.options.runs_upstream() {
            stack.start_upstream().await?;
        }
        if stack.options.functions {
            stack.start_functions().await?;
        }
        if stack.options.demo {
            stack.start_demo().await?;
        }
        Ok(stack)
    }

    /// Starts every provider at once, then waits for each. One that is still running but not
    /// even listening after 30 s is started once more (under load, a start has been seen to
    /// hang before it listens); one that listens gets 180 s in all to answer.
    async fn start_providers(&mut self, client_secrets: &[String]) -> Result<(), StackError> {
        for i in 0..self.providers.len() {
            let service = self.spawn_provider(i, client_secrets)?;
            self.services.push(service);
        }
        let http = crate::http();
        for i in 0..self.providers.len() {
            let url = self.discovery_url(i);
            let at = self.services.len() - self.providers.len() + i;
            let first = self.services[at].wait_for(&http, &url, Duration::from_secs(30)).await;
            let Err(StackError::NotUp { exited: false, .. }) = first else {
                first?;
                continue;
            };
            if crate::port_is_free(self.providers[i].port) {
                let name = &self.services[at].name;
                eprintln!("stack: {name} does not listen after 30 s: starting it once more");
                self.services[at].stop();
                self.services[at] = self.spawn_provider(i, client_secrets)?;
            }
            self.services[at].wait_for(&http, &url, Duration::from_secs(150)).await?;
        }
        Ok(())
    }

    /// Where provider `i`'s discovery answers: on its own port (its issuer may be a caller's
    /// proxy).
    fn discovery_url(&self, i: usize) -> String {
        let p = &self.providers[i];
        let base = if p.spec.issuer.is_some() {
            format!("http://127.0.0.1:{}", p.port)
        } else {
            p.issuer.clone()
        };
        format!("{base}/.well-known/openid-configuration")
    }

    fn spawn_provider(&self, i: usize, client_secrets: &[String]) -> Result<Service, StackError> {
        let p = &self.providers[i];
        let redirect_uris = format!("{},{}", self.spa_redirect(), self.server_redirect());
        let post_logout_uri = functions::post_logout(&self.app);
        // LemonLDAP::NG's state, its portal's log `portal.log` among it (one per stack).
        let state_dir = self.logs.join("lemonldap");
        if p.spec.kind == ProviderKind::LemonLdap {
            // It holds the provider's configuration, our client secret in it: its owner's only.
            private_dir(&state_dir)?;
        }
        let backchannel = (self.session_table.is_some()
            && p.spec.kind == ProviderKind::OidcProvider)
            .then(|| self.function("logout", "/api/backchannel-logout"));
        let reg = Registration {
            port: p.port,
            issuer: &p.issuer,
            client_id: &p.spec.client_id,
            client_secret: &client_secrets[i],
            redirect_uris: &redirect_uris,
            post_logout_uri: &post_logout_uri,
            backchannel_logout_uri: backchannel,
            state_dir: &state_dir,
            client: &p.client,
            // Served by the issuer function beside our JWKS; the provider fetches it at the
            // first private_key_jwt assertion, so it may start before the functions.
            client_jwks_uri: self.function("issuer", "/.well-known/client-jwks.json"),
        };
        let mut command = providers::command(p.spec.kind, &reg);
        command.envs(p.spec.env.iter().map(|(k, v)| (k, v)));
        Service::spawn(&self.logs, &p.service, &mut command)
    }

    /// Starts the upstream API and waits until it listens. It fetches our JWKS from the issuer
    /// function at its first request, so the functions may start after it; it is not restarted
    /// with them ([`Stack::restart_functions`]), as it fetches a JWKS again for a key it does
    /// not know.
    /// Starts the upstream API. A free port picked at the start may be taken by the time the
    /// providers are up (tests start stacks side by side): then it is started again, at most
    /// twice, on another free port (the functions, started after it, are told the last one).
    async fn start_upstream(&mut self) -> Result<(), StackError> {
        let mut tries = 0;
        loop {
            match self.start_upstream_once().await {
                Err(StackError::NotUp { exited: true, .. })
                    if self.options.upstream_port == 0 && tries < 2 =>
                {
                    tries += 1;
                    self.upstream_port = free_port()?;
                    eprintln!(
                        "stack: the upstream API's port was taken; trying {}",
                        self.upstream_port
                    );
                }
                done => return done,
            }
        }
    }

    async fn start_upstream_once(&mut self) -> Result<(), StackError> {
        let env = self.function_env();
        let session_issuer = env.iter().find(|(k, _)| k == "SESSION_ISSUER").map(|(_, v)| v);
        let mut upstream = Command::new("node");
        upstream
            .arg("upstream.mjs")
            .current_dir(root().join("dev/upstream"))
            .env("UPSTREAM_PORT", self.upstream_port.to_string())
            .env("UPSTREAM_JWKS_URL", self.function("issuer", "/.well-known/jwks.json"))
            // The issuer the functions are told, also when a test sets one of its own.
            .env("UPSTREAM_ISSUER", session_issuer.unwrap_or(&self.app))
            .env("UPSTREAM_AUDIENCE", UPSTREAM_AUDIENCE);
        if let Some(p) = self.providers.iter().find(|p| p.spec.kind == ProviderKind::OidcProvider) {
            upstream.env("UPSTREAM_PROVIDER_ISSUER", &p.issuer);
        }
        let mut service = Service::spawn(&self.logs, "upstream", &mut upstream)?;
        let url = format!("{}/_seen", self.upstream());
        let waited = service.wait_for(&crate::http(), &url, Duration::from_secs(30)).await;
        // A service that did not come up stops here (its drop), not with the stack.
        if waited.is_ok() {
            self.services.push(service);
        }
        waited
    }

    async fn start_functions(&mut self) -> Result<(), StackError> {
        let env = self.function_env();
        let mut watch = functions::watch(self.api_port, &env, self.options.watch_changes);
        let mut service = Service::spawn(&self.logs, "functions", &mut watch)?;
        if !self.options.functions_may_fail {
            // Up once login answers as a function does: `200`, or a refusal of its own, such
            // as `404 flow_not_configured` in a deployment with the server flow only (the
            // runtime answers 5xx while a function cannot start). Ours, not another server's:
            // every answer of our functions carries `nosniff` and `no-store`, and `cargo lambda
            // watch`'s own (a 404 while it does not know the function yet) carries neither.
            let url = self.function("login", "/api/login");
            let answered = |resp: &reqwest::Response| {
                let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
                resp.status().as_u16() < 500
                    && header("x-content-type-options") == Some("nosniff")
                    && header("cache-control") == Some("no-store")
            };
            let limit = self.options.functions_timeout;
            let waited = service.wait_for_answer(&crate::http(), &url, limit, answered).await;
            self.services.push(service);
            return waited;
        }
        self.services.push(service);
        Ok(())
    }

    /// Stops every function and starts them again: the next requests meet fresh cold starts
    /// (a new secret, a new JWKS).
    ///
    /// # Errors
    /// As [`Stack::start`].
    pub async fn restart_functions(&mut self) -> Result<(), StackError> {
        if let Some(at) = self.services.iter().position(|s| s.name == "functions") {
            self.services.remove(at).stop();
        }
        self.start_functions().await
    }

    async fn start_demo(&mut self) -> Result<(), StackError> {
        let mut demo = Command::new("npm");
        demo.args(["run", "dev", "--silent"])
            .current_dir(root().join("demo"))
            .env("DEMO_PORT", self.demo_port.to_string())
            .env("DEMO_API_ORIGIN", format!("http://127.0.0.1:{}", self.api_port));
        // Several providers: the page offers a button for each (`#login-<name>`).
        if self.providers.len() > 1 {
            let entries: Vec<String> = self
                .providers
                .iter()
                .map(|p| format!("{}={}", p.spec.name, p.spec.kind.label()))
                .collect();
            demo.env("DEMO_PROVIDERS", entries.join(","));
        }
        if let Some(mode) = &self.options.demo_mode {
            demo.env("DEMO_MODE", mode);
        }
        // The remote APIs the page may call (cookie-only): the names of the functions'
        // `REMOTE_APIS`, none when the functions do not run here.
        let env = if self.options.functions { self.function_env() } else { Vec::new() };
        let remote = env.iter().find(|(k, _)| k == "REMOTE_APIS").map_or("", |(_, v)| v);
        let names: Vec<&str> =
            remote.split(',').filter_map(|api| api.split_once('=')).map(|(n, _)| n).collect();
        demo.env("DEMO_REMOTE_APIS", names.join(","));
        let mut service = Service::spawn(&self.logs, "demo", &mut demo)?;
        let waited = service
            .wait_for(&crate::http(), &format!("{}/", self.app()), Duration::from_secs(180))
            .await;
        self.services.push(service);
        waited
    }

    /// The functions' exact environment.
    pub fn function_env(&self) -> Vec<(String, String)> {
        functions::env(&self.deployment(), &self.options.function_env)
    }

    /// The functions' environment without the variables that name the providers.
    pub fn common_env(&self) -> Vec<(String, String)> {
        functions::common_env(&self.deployment())
    }

    pub(crate) fn deployment(&self) -> Deployment<'_> {
        Deployment {
            providers: self
                .providers
                .iter()
                .map(|p| ProviderVars {
                    name: &p.spec.name,
                    issuer: &p.issuer,
                    client_id: &p.spec.client_id,
                    settings: p.client.function_settings(),
                })
                .collect(),
            app: &self.app,
            secret_id: &self.secret_id,
            moto: self.moto.endpoint(),
            session_table: self.session_table.as_deref(),
            log_level: self.options.function_log_level.as_deref(),
            upstream: self.options.functions.then(|| Upstream {
                port: self.upstream_port,
                provider: self.providers.iter().any(|p| p.spec.kind == ProviderKind::OidcProvider),
            }),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        stop_all(&mut self.services);
    }
}

/// Empties the logs folder of the last run, but only one of ours: below the repository's
/// `target/` or `.local/`, or empty already.
fn empty_logs(logs: &std::path::Path) -> Result<(), StackError> {
    use std::path::Component;
    let plain = logs.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !logs.is_absolute() || !plain {
        let shown = logs.display();
        return Err(StackError::Options(format!(
            "the logs folder is an absolute path without . or ..: {shown}"
        )));
    }
    let ours = [root().join("target"), root().join(".local")];
    let ours = ours.iter().any(|dir| logs.starts_with(dir) && logs != dir);
    let busy = std::fs::read_dir(logs).map(|mut entries| entries.next().is_some());
    match busy {
        Ok(true) if !ours => Err(StackError::Options(format!(
            "the logs folder {} is not empty and not below target/ or .local/: choose another",
            logs.display()
        ))),
        Ok(_) => std::fs::remove_dir_all(logs)
            .map_err(|e| StackError::io(&logs.display().to_string(), e)),
        Err(_) => Ok(()),
    }
}

/// Creates `dir` readable by its owner only.
fn private_dir(dir: &std::path::Path) -> Result<(), StackError> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let io = |e| StackError::io(&dir.display().to_string(), e);
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// The stack's secret and each provider's client secret (providers with the same client id
/// share one), with a client key for each provider whose client needs one.
fn make_secret(
    options: &Options,
    providers: &[Running],
) -> Result<(SecretString, Vec<String>), StackError> {
    let specs: Vec<&ProviderSpec> = providers.iter().map(|p| &p.spec).collect();
    let keys = client_keys(providers);
    if let Some(path) = &options.secret_file {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        return secret::kept(path, options.alg.into(), &names, &keys);
    }
    let mut secrets: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let shared_with = specs[..i].iter().position(|s| s.client_id == spec.client_id);
        secrets.push(match shared_with {
            Some(j) => secrets[j].clone(),
            None => secret::client_secret()?,
        });
    }
    let others: Vec<(String, String)> =
        specs.iter().zip(&secrets).skip(1).map(|(s, c)| (s.name.clone(), c.clone())).collect();
    let doc = secret::fresh(options.alg.into(), &secrets[0], &others, &keys)?;
    Ok((doc, secrets))
}

/// The client keys the secret must hold, under each provider's name as the functions know it:
/// `default` for the only one (the unprefixed variables), else its `OIDC_PROVIDERS` name.
fn client_keys(providers: &[Running]) -> Vec<secret::ClientKey> {
    let name = |p: &Running| match providers.len() {
        1 => shared::DEFAULT_PROVIDER.to_owned(),
        _ => p.spec.name.clone(),
    };
    let alg = |p: &Running| p.client.client_key_alg();
    providers
        .iter()
        .filter_map(|p| alg(p).map(|alg| secret::ClientKey { provider: name(p), alg }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientAuth, SigAlg};

    fn running(name: &str, client: ClientSpec) -> Running {
        let spec = ProviderSpec { name: name.to_owned(), ..ProviderSpec::default() };
        Running { spec, port: 0, issuer: String::new(), service: String::new(), client }
    }

    #[test]
    fn a_client_key_is_named_as_the_functions_name_its_provider() {
        let pkjwt = ClientSpec { auth: Some(ClientAuth::PrivateKeyJwt), ..ClientSpec::default() };
        let only = client_keys(&[running("local", pkjwt.clone())]);
        assert_eq!(only.len(), 1);
        assert_eq!((only[0].provider.as_str(), only[0].alg), ("default", SigAlg::PS256));
        assert_eq!(only[0].kid(), "client-default-1");
        let two = [running("local", ClientSpec::default()), running("second", pkjwt)];
        let keys = client_keys(&two);
        assert_eq!(keys.len(), 1, "only the provider that asks");
        assert_eq!(keys[0].kid(), "client-second-1");
    }
}
