//! `secret-tool`: generate, store and rotate the secret the functions read at cold start.
//!
//! ```text
//! secret-tool generate [--alg RS256|ES256|EdDSA] [--kid KID] [--client-secret-env VAR]
//! secret-tool put --secret-id ID --file secret.json
//! secret-tool rotate --secret-id ID [--alg ...] [--keep 3] [--only signing|cookie]
//! ```
//!
//! Secrets Manager is reached through the SDK's standard environment (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...), so the same commands work against moto locally.
//!
//! # Security
//!
//! `generate` writes the secret to standard output only; `put` and `rotate` never print key
//! material, only kids and counts. The client secret is read from an environment variable,
//! never from the command line (where `ps` would show it).

use std::process::ExitCode;

use aws_sdk_secretsmanager::Client;
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shared::Secret;
use shared::keygen::{self, KeyAlg};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a fresh secret JSON: one signing key, one cookie key, the client secret.
    Generate {
        /// Signing algorithm. RS256 is the only one API Gateway's JWT authorizer accepts.
        #[arg(long, default_value = "RS256", value_parser = parse_alg)]
        alg: KeyAlg,
        /// Key id of the signing key (default: the date and a random suffix).
        #[arg(long)]
        kid: Option<String>,
        /// Environment variable holding the OAuth client secret.
        #[arg(long, default_value = "OIDC_CLIENT_SECRET")]
        client_secret_env: String,
    },
    /// Store a secret JSON file in Secrets Manager (creates the secret when missing).
    Put {
        /// Secret name or ARN.
        #[arg(long)]
        secret_id: String,
        /// File holding the secret JSON.
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Prepend a new signing key and a new cookie key; older keys stay as verify-only.
    Rotate {
        /// Secret name or ARN.
        #[arg(long)]
        secret_id: String,
        /// Algorithm of the new signing key.
        #[arg(long, default_value = "RS256", value_parser = parse_alg)]
        alg: KeyAlg,
        /// Key id of the new signing key.
        #[arg(long)]
        kid: Option<String>,
        /// How many keys of each kind to keep, the new one included.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=10))]
        keep: u8,
        /// Rotate only one kind of key.
        #[arg(long)]
        only: Option<Only>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Signing,
    Cookie,
}

fn parse_alg(s: &str) -> Result<KeyAlg, String> {
    s.parse()
}

fn default_kid() -> Result<String, String> {
    let suffix = keygen::random_token(3).map_err(|e| e.to_string())?;
    Ok(format!("{}-{}", chrono::Utc::now().format("%Y-%m-%d"), suffix.expose_secret()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secret-tool: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A Secrets Manager client from the SDK's whole provider chain (environment, profiles, SSO,
/// instance roles), sending through the functions' own HTTP client.
async fn client() -> Result<Client, String> {
    let http = shared::http_client().map_err(|e| format!("HTTP client: {e}"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::SdkHttp::new(http))
        .load()
        .await;
    Ok(Client::new(&sdk))
}

fn sdk_error<E: std::error::Error + 'static>(e: E) -> String {
    shared::error_chain(&e)
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Generate { alg, kid, client_secret_env } => {
            let client_secret = std::env::var(&client_secret_env)
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| format!("set {client_secret_env} to the OAuth client secret"))?;
            let kid = match kid {
                Some(k) => k,
                None => default_kid()?,
            };
            let doc = keygen::secret_json(&client_secret, &kid, alg).map_err(|e| e.to_string())?;
            // The one place a secret is printed: on request, to standard output.
            #[allow(clippy::print_stdout)]
            {
                println!("{}", doc.expose_secret());
            }
            Ok(())
        }
        Command::Put { secret_id, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let secret =
                Secret::from_json(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            put(&client().await?, &secret_id, &text).await?;
            eprintln!(
                "stored {secret_id}: {} signing key(s), active {:?}; {} cookie key(s)",
                secret.signing_keys().len(),
                secret.signing_keys().active().kid(),
                secret.cookie_keys().len()
            );
            Ok(())
        }
        Command::Rotate { secret_id, alg, kid, keep, only } => {
            let client = client().await?;
            let current = client
                .get_secret_value()
                .secret_id(&secret_id)
                .send()
                .await
                .map_err(sdk_error)?
                .secret_string()
                .map(|s| SecretString::from(s.to_owned()))
                .ok_or("the secret has no string value")?;
            Secret::from_json(current.expose_secret())
                .map_err(|e| format!("the current secret is not valid, fix it first: {e}"))?;
            let mut doc: Value = serde_json::from_str(current.expose_secret())
                .map_err(|_| "the current secret is not JSON")?;
            let kid = match kid {
                Some(k) => k,
                None => default_kid()?,
            };
            let keep = usize::from(keep);
            if only != Some(Only::Cookie) {
                let pem = keygen::signing_key_pem(alg).map_err(|e| e.to_string())?;
                prepend(
                    &mut doc,
                    "signing_keys",
                    json!({"kid": kid, "private_key_pem": pem.expose_secret()}),
                    keep,
                )?;
            }
            if only != Some(Only::Signing) {
                let key = keygen::cookie_key().map_err(|e| e.to_string())?;
                prepend(&mut doc, "cookie_keys", json!(key.expose_secret()), keep)?;
            }
            let text = SecretString::from(doc.to_string());
            let rotated = Secret::from_json(text.expose_secret()).map_err(|e| e.to_string())?;
            put(&client, &secret_id, text.expose_secret()).await?;
            let kids: Vec<_> = rotated.signing_keys().iter().map(|k| k.kid()).collect();
            eprintln!(
                "rotated {secret_id}: signing keys {kids:?} (first signs, others verify); {} cookie key(s). Functions pick the new keys up at their next cold start.",
                rotated.cookie_keys().len()
            );
            Ok(())
        }
    }
}

fn prepend(doc: &mut Value, field: &str, item: Value, keep: usize) -> Result<(), String> {
    let list = doc
        .get_mut(field)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("the current secret has no {field} array"))?;
    list.insert(0, item);
    list.truncate(keep);
    Ok(())
}

async fn put(client: &Client, secret_id: &str, text: &str) -> Result<(), String> {
    match client.put_secret_value().secret_id(secret_id).secret_string(text).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            client
                .create_secret()
                .name(secret_id)
                .secret_string(text)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_error)
        }
        Err(e) => Err(sdk_error(e)),
    }
}
