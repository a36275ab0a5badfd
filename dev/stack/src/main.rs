//! `stack`: the local stack from the command line.
//!
//! ```text
//! stack dev                       make dev: the whole product with the demo, on the usual ports
//! stack up [--spec FILE] [--name NAME] [--json] [--until-stdin-closes]
//!                                 the stack FILE describes (JSON of stack::Options; default:
//!                                 a test's stack); prints its endpoints and the functions'
//!                                 environment (--json: one JSON line), then runs until Ctrl-C,
//!                                 TERM, a service stopping, or (--until-stdin-closes) the end of
//!                                 its standard input, and stops everything it started
//! stack functions                 the functions' names, one a line
//! ```
//!
//! `make dev` ports: `MOTO_PORT` (5001), `PROVIDER_PORT` (3000), `LLNG_PORT` (3001),
//! `API_PORT` (9000), `UPSTREAM_PORT` (9100, the upstream API), `DEMO_PORT` (5173); a default
//! port that is taken is replaced by a free one, a port that is set and taken stops the start.
//! `DEV_LEMONLDAP=1` adds LemonLDAP::NG as a second provider; `DEV_CLIENT` registers our client
//! at the local oidc-provider as its JSON says (stack::ClientSpec, e.g. `{"fapi2": true}` or
//! `{"auth": "private_key_jwt", "dpop": "on"}`; the client key goes into the kept secret);
//! `DEV_COOKIE_ONLY=1` runs the
//! cookie-only posture (the functions get `BROWSER_TOKENS=none`, the demo `DEMO_MODE=cookie`:
//! no token in the page, its API calls through `/api/remote/`); `SECRET_ID` (spa-login/local) and
//! `SESSION_TABLE` (spa-login-local-sessions) name the secret and the table. It writes
//! `stack.json` (what `up --json` prints) and `functions.env` (the functions' environment, for
//! `cargo lambda watch --env-file`) into its logs folder, `.local/logs/<API port>/`.

use std::process::ExitCode;

use stack::{
    ClientSpec, Options, ProviderKind, ProviderSpec, Stack, StackError, port_is_free, root,
};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev().await,
        Some("up") => up(&args[1..]).await,
        Some("functions") => {
            say(&stack::function_names().join("\n"));
            Ok(())
        }
        _ => Err("usage: stack dev | stack up [--spec FILE] [--name NAME] [--json] [--until-stdin-closes] | stack functions".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stack: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The one place this binary writes to standard output.
#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

async fn up(args: &[String]) -> Result<(), String> {
    let default_name = format!("stack-{}", std::process::id());
    let (mut name, mut spec, mut json, mut stdin) = (default_name, None, false, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--until-stdin-closes" => stdin = true,
            "--spec" => spec = args.next().cloned(),
            "--name" => name = args.next().cloned().unwrap_or(name),
            other => return Err(format!("up: unknown argument {other}")),
        }
    }
    let options = match spec {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => Options::default(),
    };
    let mut stop = Stop::listen(stdin)?;
    let stack = start(&mut stop, &name, options).await?;
    if json {
        say(&stack.describe().to_string());
    } else {
        say(&stack.summary());
    }
    serve(stack, stop).await
}

/// `make dev`'s stack.
async fn dev() -> Result<(), String> {
    let lemon = std::env::var("DEV_LEMONLDAP").is_ok_and(|v| v == "1");
    let cookie_only = std::env::var("DEV_COOKIE_ONLY").is_ok_and(|v| v == "1");
    let client: ClientSpec = match std::env::var("DEV_CLIENT").ok().filter(|v| !v.is_empty()) {
        Some(json) => serde_json::from_str(&json).map_err(|e| format!("DEV_CLIENT: {e}"))?,
        None => ClientSpec::default(),
    };
    let local = root().join(".local");
    let mut providers = vec![ProviderSpec {
        kind: ProviderKind::OidcProvider,
        name: "local".into(),
        client_id: "local-spa".into(),
        port: port("PROVIDER_PORT", 3000)?,
        ..ProviderSpec::default()
    }];
    if lemon {
        providers.push(ProviderSpec {
            kind: ProviderKind::LemonLdap,
            name: "lemon".into(),
            client_id: "local-spa-lemon".into(),
            port: port("LLNG_PORT", 3001)?,
            ..ProviderSpec::default()
        });
    }
    let api_port = port("API_PORT", 9000)?;
    let options = Options {
        providers,
        client,
        sessions: true,
        demo: true,
        demo_mode: cookie_only.then(|| "cookie".to_owned()),
        function_env: match cookie_only {
            true => vec![("BROWSER_TOKENS".to_owned(), "none".to_owned())],
            false => Vec::new(),
        },
        watch_changes: true,
        function_log_level: None,
        secret_file: Some(local.join("secret.json")),
        secret_id: Some(var_or("SECRET_ID", "spa-login/local")),
        session_table: Some(var_or("SESSION_TABLE", "spa-login-local-sessions")),
        logs: Some(local.join("logs").join(api_port.to_string())),
        moto_port: port("MOTO_PORT", 5001)?,
        api_port,
        upstream_port: port("UPSTREAM_PORT", 9100)?,
        demo_port: port("DEMO_PORT", 5173)?,
        ..Options::default()
    };
    eprintln!(
        "stack: starting moto, the provider(s), the upstream API, cargo lambda watch and the demo (a first build takes a few minutes)"
    );
    let mut stop = Stop::listen(false)?;
    let stack = start(&mut stop, "dev", options).await?;
    // For `cargo lambda watch --env-file <logs>/functions.env` alone, and for scripts: in this
    // run's own folder, so that a second `make dev` does not overwrite them.
    let env: String = stack.function_env().iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let wrote = std::fs::write(stack.logs.join("functions.env"), env)
        .and_then(|()| std::fs::write(stack.logs.join("stack.json"), stack.describe().to_string()));
    wrote.map_err(|e| format!("{}: {e}", stack.logs.display()))?;
    say(&stack.summary());
    say("  The same as JSON: stack.json in the logs folder; the environment: functions.env there.");
    serve(stack, stop).await
}

fn var_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Port `name` for `make dev`: as set (refused when taken), or `default`, or a free one when
/// `default` is taken (another `make dev`, say).
fn port(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(set) => {
            let port: u16 = set.parse().map_err(|_| format!("{name}={set} is not a port"))?;
            if port_is_free(port) {
                Ok(port)
            } else {
                Err(format!(
                    "port {port} ({name}) is taken; free it or choose another, e.g. {name}={}",
                    port + 10
                ))
            }
        }
        None if port_is_free(default) => Ok(default),
        None => {
            let free = stack::free_port().map_err(|e| e.to_string())?;
            eprintln!("stack: port {default} ({name}) is taken: using {free}");
            Ok(free)
        }
    }
}

/// What stops the stack: Ctrl-C, TERM or (with `--until-stdin-closes`) the end of standard
/// input, listened for from the start, so that a stop while the stack starts (a first build
/// takes minutes) stops what has started too.
struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    fn listen(stdin: bool) -> Result<Self, String> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let signalled = tx.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            let _ = signalled.send(true);
        });
        if stdin {
            // A thread of its own: a read of standard input would hold up the runtime's end.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = tx.send(true);
            });
        }
        Ok(Self(rx))
    }

    async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Starts the stack unless a stop comes first; then what had started is stopped (dropped).
async fn start(stop: &mut Stop, name: &str, options: Options) -> Result<Stack, String> {
    tokio::select! {
        started = Stack::start(name, options) => started.map_err(|e: StackError| e.to_string()),
        () = stop.requested() => Err("stopped while starting; what had started is stopped".into()),
    }
}

/// Runs until a stop or a service stopping; then the stack drops, which stops everything it
/// started.
async fn serve(mut stack: Stack, mut stop: Stop) -> Result<(), String> {
    let outcome = tokio::select! {
        () = stop.requested() => Ok(()),
        name = stack.until_a_service_stops() => {
            Err(format!("{name} stopped; its log is {}", stack.logs.join(format!("{name}.log")).display()))
        }
    };
    eprintln!("stack: stopping");
    drop(stack);
    outcome
}
