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
//! `API_PORT` (9000), `DEMO_PORT` (5173); a default port that is taken is replaced by a free one,
//! a port that is set and taken stops the start. `DEV_LEMONLDAP=1` adds LemonLDAP::NG as a second
//! provider; `SECRET_ID` (spa-login/local) and `SESSION_TABLE` (spa-login-local-sessions) name
//! the secret and the table. It writes `stack.json` (what `up --json` prints) and
//! `functions.env` (the functions' environment, for `cargo lambda watch --env-file`) into its
//! logs folder, `.local/logs/<API port>/`.

use std::process::ExitCode;

use stack::{Options, ProviderKind, ProviderSpec, Stack, StackError, port_is_free, root};
use tokio::io::AsyncReadExt as _;
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
    let (mut name, mut spec, mut json, mut stdin) = ("stack".to_owned(), None, false, false);
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
    let stack = Stack::start(&name, options).await.map_err(|e| e.to_string())?;
    if json {
        say(&stack.describe().to_string());
    } else {
        say(&stack.summary());
    }
    serve(stack, stdin).await
}

/// `make dev`'s stack.
async fn dev() -> Result<(), String> {
    let lemon = std::env::var("DEV_LEMONLDAP").is_ok_and(|v| v == "1");
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
        sessions: true,
        demo: true,
        watch_changes: true,
        function_log_level: None,
        secret_file: Some(local.join("secret.json")),
        secret_id: Some(var_or("SECRET_ID", "spa-login/local")),
        session_table: Some(var_or("SESSION_TABLE", "spa-login-local-sessions")),
        logs: Some(local.join("logs").join(api_port.to_string())),
        moto_port: port("MOTO_PORT", 5001)?,
        api_port,
        demo_port: port("DEMO_PORT", 5173)?,
        ..Options::default()
    };
    eprintln!(
        "stack: starting moto, the provider(s), cargo lambda watch and the demo (a first build takes a few minutes)"
    );
    let stack = Stack::start("dev", options).await.map_err(|e: StackError| e.to_string())?;
    // For `cargo lambda watch --env-file .local/functions.env` alone, and for scripts.
    let env: String = stack.function_env().iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let wrote = std::fs::write(local.join("functions.env"), env)
        .and_then(|()| std::fs::write(local.join("stack.json"), stack.describe().to_string()));
    wrote.map_err(|e| format!(".local/: {e}"))?;
    say(&stack.summary());
    say(
        "  (the same as JSON: .local/stack.json; the functions' environment: .local/functions.env)",
    );
    serve(stack, false).await
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
            eprintln!("stack: port {default} ({name}) is taken: using a free one");
            Ok(0)
        }
    }
}

/// Runs until Ctrl-C, TERM, a service stopping or (with `stdin`) the end of standard input;
/// then the stack drops, which stops everything it started.
async fn serve(mut stack: Stack, stdin: bool) -> Result<(), String> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let closed = async {
        if stdin {
            let mut sink = Vec::new();
            let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = term.recv() => Ok(()),
        () = closed => Ok(()),
        name = stack.until_a_service_stops() => {
            Err(format!("{name} stopped; its log is {}", stack.logs.join(format!("{name}.log")).display()))
        }
    };
    eprintln!("stack: stopping");
    drop(stack);
    outcome
}
