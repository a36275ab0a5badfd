//! `secret-tool`: generate, store and rotate the secret the functions read at cold start.
//!
//! ```text
//! secret-tool generate [--alg RS256|ES256|EdDSA] [--kid KID] [--client-secret-env VAR]
//! secret-tool generate --client-auth private_key_jwt [--provider NAME]
//!                      [--client-key-alg PS256|RS256|ES256|EdDSA] [--client-key-kid KID]
//!                      [--certificate-out cert.pem [--certificate-days 365]] [--alg ...] [--kid KID]
//! secret-tool put --secret-id ID --file secret.json
//! secret-tool rotate --secret-id ID [--alg ...] [--keep 3] [--only signing|cookie]
//! secret-tool client-key add --secret-id ID [--provider NAME] [--alg PS256|RS256|ES256|EdDSA]
//!                      [--kid KID] [--keep 3] [--standby]
//!                      [--certificate-out cert.pem [--certificate-days 365]]
//! secret-tool client-key import --secret-id ID [--provider NAME] --key-file key.pem
//!                      [--certificate-file cert.pem] [--alg ...] [--kid KID] [--keep 3] [--standby]
//! secret-tool client-key activate --secret-id ID [--provider NAME] --kid KID
//! secret-tool client-key remove --secret-id ID [--provider NAME] --kid KID
//! secret-tool client-key jwks (--secret-id ID | --file secret.json) [--provider NAME]
//! ```
//!
//! Client keys are for providers whose client authenticates by `private_key_jwt`
//! (`OIDC_CLIENT_AUTH`); the provider name of a single-provider deployment is `default`. The
//! first key of a provider signs, the others stay published at
//! `{SessionIssuer}/.well-known/client-jwks.json`. A provider that keeps a copy of the keys
//! (a pasted JWKS, an uploaded certificate) must get a new key before it signs: add it with
//! `--standby`, register it, then `client-key activate` it. `client-key jwks` prints the public
//! keys to register; `--certificate-out` makes a self-signed certificate for providers that
//! register certificates (Entra ID), and `import` stores a key and certificate made elsewhere.
//! New keys sign PS256 unless told; an imported key signs what the secret gives a key without
//! `alg` (RS256 for RSA) unless told: `--alg PS256` for Entra ID.
//!
//! Secrets Manager is reached through the SDK's standard environment (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...), so the same commands work against moto locally.
//!
//! # Security
//!
//! `generate` writes the secret to standard output only; every other command prints no key
//! material, only kids, counts and public keys (JWKS on standard output, certificates to
//! `--certificate-out`). Every change is parsed by the functions' own parser before it is
//! written: the tool never stores a secret the functions would refuse. The client secret is
//! read from an environment variable, never from the command line (where `ps` would show it);
//! private keys are read from files.

mod document;
mod material;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_sdk_secretsmanager::Client;
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shared::Secret;
use shared::keygen::{self, KeyAlg};

use crate::document::{Document, Position, client_jwks};
use crate::material::{ClientKeyAlg, NewClientKey};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a fresh secret JSON: one signing key, one cookie key, and the client secret (or,
    /// with --client-auth private_key_jwt, one client key).
    Generate {
        /// Signing algorithm. RS256 is the only one API Gateway's JWT authorizer accepts.
        #[arg(long, default_value = "RS256", value_parser = parse_alg)]
        alg: KeyAlg,
        /// Key id of the signing key (default: the date and a random suffix).
        #[arg(long)]
        kid: Option<String>,
        /// How the client authenticates at the provider (OIDC_CLIENT_AUTH): a client secret,
        /// or a client key (private_key_jwt).
        #[arg(long, value_enum, default_value_t = ClientAuth::ClientSecretBasic)]
        client_auth: ClientAuth,
        /// Environment variable holding the OAuth client secret [default: OIDC_CLIENT_SECRET].
        #[arg(long)]
        client_secret_env: Option<String>,
        #[command(flatten)]
        client_key: GenerateClientKey,
    },
    /// Store a secret JSON file in Secrets Manager (creates the secret when missing).
    Put {
        /// Secret name or ARN.
        #[arg(long)]
        secret_id: String,
        /// File holding the secret JSON.
        #[arg(long)]
        file: PathBuf,
    },
    /// Prepend a new signing key and a new cookie key; older keys stay as verify-only. Client
    /// secrets and client keys are left as they are.
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
    /// Manage the client keys of providers that authenticate by private_key_jwt.
    #[command(subcommand)]
    ClientKey(ClientKeyCommand),
}

/// `generate`'s options for its client key (with `--client-auth private_key_jwt` only).
#[derive(Args)]
struct GenerateClientKey {
    /// Provider the client key is for [default: default, the single provider's name].
    #[arg(long, value_parser = parse_provider)]
    provider: Option<String>,
    /// Algorithm of the client key [default: PS256].
    #[arg(long, value_parser = parse_client_alg)]
    client_key_alg: Option<ClientKeyAlg>,
    /// Key id of the client key (default: the provider, the date and a random suffix).
    #[arg(long)]
    client_key_kid: Option<String>,
    #[command(flatten)]
    certificate: CertificateOut,
}

/// A self-signed certificate of a new client key.
#[derive(Args)]
struct CertificateOut {
    /// Also make a self-signed certificate of the new client key (Entra ID's certificate
    /// credentials): stored with the key, and written to this new file for the provider.
    #[arg(long)]
    certificate_out: Option<PathBuf>,
    /// Validity of that certificate in days.
    #[arg(long, default_value_t = 365, requires = "certificate_out",
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    certificate_days: u32,
}

/// The secret and the provider whose client keys change.
#[derive(Args)]
struct Target {
    /// Secret name or ARN.
    #[arg(long)]
    secret_id: String,
    /// Provider name (OIDC_PROVIDERS); a single-provider deployment's is `default`.
    #[arg(long, default_value = shared::DEFAULT_PROVIDER, value_parser = parse_provider)]
    provider: String,
}

/// Options of a key that joins a provider's list.
#[derive(Args)]
struct Joining {
    /// Key id of the new key (default: the provider, the date and a random suffix).
    #[arg(long)]
    kid: Option<String>,
    /// How many client keys of this provider to keep, the new one included; the oldest go.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=10))]
    keep: u8,
    /// Publish the new key but keep signing with the current one, until `client-key
    /// activate`: for providers that must register the key first.
    #[arg(long)]
    standby: bool,
}

/// Where `client-key jwks` reads the secret.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct Source {
    /// Secret name or ARN.
    #[arg(long)]
    secret_id: Option<String>,
    /// A secret JSON file instead.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ClientKeyCommand {
    /// Generate a client key for a provider, store it in the secret (it signs from the next
    /// cold start, or later with --standby) and print the provider's public JWKS.
    Add {
        #[command(flatten)]
        target: Target,
        /// Algorithm of the new key.
        #[arg(long, default_value = "PS256", value_parser = parse_client_alg)]
        alg: ClientKeyAlg,
        #[command(flatten)]
        joining: Joining,
        #[command(flatten)]
        certificate: CertificateOut,
    },
    /// Store a client key made elsewhere, with its certificate (e.g. Entra ID's certificate
    /// credentials), and print the provider's public JWKS.
    Import {
        #[command(flatten)]
        target: Target,
        /// File holding the private key (unencrypted PKCS#8 PEM).
        #[arg(long)]
        key_file: PathBuf,
        /// File holding the key's certificate (PEM), which assertions then name by x5t#S256.
        #[arg(long)]
        certificate_file: Option<PathBuf>,
        /// Algorithm [default: the key's, as in the secret without `alg`: RS256 for an RSA key,
        /// ES256 for P-256, EdDSA for Ed25519]. Entra ID asks for PS256.
        #[arg(long, value_parser = parse_client_alg)]
        alg: Option<ClientKeyAlg>,
        #[command(flatten)]
        joining: Joining,
    },
    /// Make a provider's client key the one that signs (from the next cold start).
    Activate {
        #[command(flatten)]
        target: Target,
        /// Key id of the key.
        #[arg(long)]
        kid: String,
    },
    /// Remove a provider's client key (it is no longer published).
    Remove {
        #[command(flatten)]
        target: Target,
        /// Key id of the key.
        #[arg(long)]
        kid: String,
    },
    /// Print the client public keys as a JWKS, {"keys":[...]}: one provider's, or all (what
    /// the functions serve at /.well-known/client-jwks.json).
    Jwks {
        #[command(flatten)]
        source: Source,
        /// Only this provider's keys.
        #[arg(long, value_parser = parse_provider)]
        provider: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Signing,
    Cookie,
}

/// `OIDC_CLIENT_AUTH`'s values.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClientAuth {
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
}

fn parse_alg(s: &str) -> Result<KeyAlg, String> {
    s.parse()
}

fn parse_client_alg(s: &str) -> Result<ClientKeyAlg, String> {
    s.parse()
}

/// A provider name as `OIDC_PROVIDERS` takes it.
fn parse_provider(s: &str) -> Result<String, String> {
    let valid = s.len() <= 16
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    match valid {
        true => Ok(s.to_owned()),
        false => Err("a provider name is 1 to 16 lowercase letters and digits, starting with a \
                      letter (as in OIDC_PROVIDERS)"
            .into()),
    }
}

fn default_kid() -> Result<String, String> {
    let suffix = keygen::random_token(3).map_err(|e| e.to_string())?;
    Ok(format!("{}-{}", chrono::Utc::now().format("%Y-%m-%d"), suffix.expose_secret()))
}

/// Prints to standard output: the fresh secret of `generate` (on request), or public keys.
fn print_stdout(text: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
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
        Command::Generate { alg, kid, client_auth, client_secret_env, client_key } => {
            let kid = match kid {
                Some(k) => k,
                None => default_kid()?,
            };
            let doc = match client_auth {
                ClientAuth::PrivateKeyJwt => {
                    if client_secret_env.is_some() {
                        return Err("--client-secret-env does not go with --client-auth \
                                    private_key_jwt, which needs no client secret"
                            .into());
                    }
                    generate_with_client_key(&kid, alg, client_key)?
                }
                ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost => {
                    let GenerateClientKey { provider, client_key_alg, client_key_kid, .. } =
                        &client_key;
                    if provider.is_some()
                        || client_key_alg.is_some()
                        || client_key_kid.is_some()
                        || client_key.certificate.certificate_out.is_some()
                    {
                        return Err("--provider, --client-key-alg, --client-key-kid and \
                                    --certificate-out go with --client-auth private_key_jwt"
                            .into());
                    }
                    let env = client_secret_env.as_deref().unwrap_or("OIDC_CLIENT_SECRET");
                    let client_secret = std::env::var(env)
                        .ok()
                        .filter(|v| !v.is_empty())
                        .map(SecretString::from)
                        .ok_or_else(|| format!("set {env} to the OAuth client secret"))?;
                    keygen::secret_json(&client_secret, &kid, alg).map_err(|e| e.to_string())?
                }
            };
            // The one place a secret is printed: on request, to standard output.
            print_stdout(doc.expose_secret());
            Ok(())
        }
        Command::Put { secret_id, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let secret =
                Secret::from_json(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let doc = Document::parse(&text)?;
            put(&client().await?, &secret_id, &text).await?;
            eprintln!(
                "stored {secret_id}: {} signing key(s), active {:?}; {} cookie key(s){}",
                secret.signing_keys().len(),
                secret.signing_keys().active().kid(),
                secret.cookie_keys().len(),
                client_keys_summary(&doc)
            );
            Ok(())
        }
        Command::Rotate { secret_id, alg, kid, keep, only } => {
            let client = client().await?;
            let mut doc = Document::parse(get(&client, &secret_id).await?.expose_secret())?;
            let kid = match kid {
                Some(k) => k,
                None => default_kid()?,
            };
            let signing = match only {
                Some(Only::Cookie) => None,
                _ => {
                    let pem = keygen::signing_key_pem(alg).map_err(|e| e.to_string())?;
                    Some(json!({"kid": kid, "private_key_pem": pem.expose_secret()}))
                }
            };
            let cookie = match only {
                Some(Only::Signing) => None,
                _ => Some(json!(keygen::cookie_key().map_err(|e| e.to_string())?.expose_secret())),
            };
            doc.rotate(signing, cookie, usize::from(keep))?;
            let (text, rotated) = doc.validated()?;
            put(&client, &secret_id, text.expose_secret()).await?;
            let kids: Vec<_> = rotated.signing_keys().iter().map(|k| k.kid()).collect();
            eprintln!(
                "rotated {secret_id}: signing keys {kids:?} (first signs, others verify); {} cookie key(s). Functions pick the new keys up at their next cold start.",
                rotated.cookie_keys().len()
            );
            Ok(())
        }
        Command::ClientKey(command) => client_key(command).await,
    }
}

/// `generate --client-auth private_key_jwt`: the fresh secret with a client key and no client
/// secret.
fn generate_with_client_key(
    kid: &str,
    alg: KeyAlg,
    options: GenerateClientKey,
) -> Result<SecretString, String> {
    let provider = options.provider.unwrap_or_else(|| shared::DEFAULT_PROVIDER.to_owned());
    let client_kid = match options.client_key_kid {
        Some(k) => k,
        None => material::default_kid(&provider)?,
    };
    let client_alg = options.client_key_alg.unwrap_or(ClientKeyAlg::Ps256);
    let mut key = NewClientKey::generate(client_kid, client_alg)?;
    let signing = keygen::signing_key_pem(alg).map_err(|e| e.to_string())?;
    let cookie = keygen::cookie_key().map_err(|e| e.to_string())?;
    let mut doc = Document::fresh(kid, &signing, &cookie);
    let certificate = options.certificate.make(&mut key)?;
    doc.add_client_key(&provider, &key, Position::Active, 1)?;
    doc.validated()?;
    let pretty = doc.pretty()?;
    if let Some((path, pem)) = certificate {
        write_new(&path, &pem)?;
        eprintln!("wrote the client key's certificate to {}", path.display());
    }
    eprintln!(
        "client key {} ({}) for provider {provider}; set OIDC_CLIENT_AUTH=private_key_jwt. \
         Register its public key at the provider: save this output and run \
         `secret-tool client-key jwks --file FILE`, or give the provider \
         {{SessionIssuer}}/.well-known/client-jwks.json once deployed.",
        key.kid(),
        key.alg().name()
    );
    Ok(pretty)
}

impl CertificateOut {
    /// With `--certificate-out`, a self-signed certificate of `key` (added to it), and where
    /// it goes.
    fn make(&self, key: &mut NewClientKey) -> Result<Option<(PathBuf, String)>, String> {
        let Some(path) = &self.certificate_out else { return Ok(None) };
        if path.exists() {
            return Err(format!("{} exists: --certificate-out makes a new file", path.display()));
        }
        let today = chrono::Utc::now().date_naive();
        let pem = key.self_sign(today, self.certificate_days)?.to_owned();
        Ok(Some((path.clone(), pem)))
    }
}

/// Writes `text` to a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn client_key(command: ClientKeyCommand) -> Result<(), String> {
    match command {
        ClientKeyCommand::Add { target, alg, joining, certificate } => {
            let kid = match &joining.kid {
                Some(k) => k.clone(),
                None => material::default_kid(&target.provider)?,
            };
            let mut key = NewClientKey::generate(kid, alg)?;
            let certificate = certificate.make(&mut key)?;
            join(&target, &key, &joining, certificate).await
        }
        ClientKeyCommand::Import { target, key_file, certificate_file, alg, joining } => {
            let key_pem = std::fs::read_to_string(&key_file)
                .map(SecretString::from)
                .map_err(|e| format!("cannot read {}: {e}", key_file.display()))?;
            let certificate_pem = match &certificate_file {
                None => None,
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                ),
            };
            let kid = match &joining.kid {
                Some(k) => k.clone(),
                None => material::default_kid(&target.provider)?,
            };
            let key = NewClientKey::import(kid, alg, key_pem, certificate_pem)?;
            join(&target, &key, &joining, None).await
        }
        ClientKeyCommand::Activate { target, kid } => {
            edit(&target, |doc| doc.activate_client_key(&target.provider, &kid)).await?;
            eprintln!("Functions sign with {kid} from their next cold start.");
            Ok(())
        }
        ClientKeyCommand::Remove { target, kid } => {
            edit(&target, |doc| doc.remove_client_key(&target.provider, &kid)).await?;
            eprintln!(
                "{kid} is no longer published from the functions' next cold start; remove it at the provider too."
            );
            Ok(())
        }
        ClientKeyCommand::Jwks { source: Source { secret_id, file }, provider } => {
            let text = match (&secret_id, &file) {
                (_, Some(path)) => std::fs::read_to_string(path)
                    .map(SecretString::from)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                (Some(id), None) => get(&client().await?, id).await?,
                (None, None) => return Err("give --secret-id or --file".into()),
            };
            let secret = Secret::from_json(text.expose_secret()).map_err(|e| e.to_string())?;
            let jwks = client_jwks(&secret, provider.as_deref())?;
            if jwks["keys"].as_array().is_some_and(Vec::is_empty) {
                eprintln!("the secret has no client keys");
            }
            print_stdout(&pretty_json(&jwks)?);
            Ok(())
        }
    }
}

/// `add` and `import`: puts `key` into the target provider's list, stores the secret, writes
/// the certificate made for it, and prints the provider's public JWKS.
async fn join(
    target: &Target,
    key: &NewClientKey,
    joining: &Joining,
    certificate: Option<(PathBuf, String)>,
) -> Result<(), String> {
    let position = if joining.standby { Position::Standby } else { Position::Active };
    // The certificate file first, so that a key is never stored with a certificate nobody
    // has; it goes again when the secret is not stored.
    if let Some((path, pem)) = &certificate {
        write_new(path, pem)?;
    }
    let mut dropped = Vec::new();
    let stored = edit(target, |doc| {
        dropped = doc.add_client_key(&target.provider, key, position, usize::from(joining.keep))?;
        Ok(())
    })
    .await;
    let secret = match (stored, &certificate) {
        (Ok(secret), _) => secret,
        (Err(e), None) => return Err(e),
        (Err(e), Some((path, _))) => {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
    };
    if !dropped.is_empty() {
        eprintln!("dropped (beyond --keep {}): {}", joining.keep, dropped.join(", "));
    }
    let signs = match position {
        Position::Active => {
            format!("{} signs from the functions' next cold start", key.kid())
        }
        Position::Standby => format!(
            "{} is published from the next cold start; it signs once you run `secret-tool client-key activate --secret-id {} --provider {} --kid {}`",
            key.kid(),
            target.secret_id,
            target.provider,
            key.kid()
        ),
    };
    match certificate {
        Some((path, _)) => {
            eprintln!(
                "{signs}. Upload the certificate {} to the provider's app registration{}.",
                path.display(),
                before(position)
            );
        }
        None if key.has_certificate() => {
            eprintln!("{signs}. The provider must have its certificate{}.", before(position));
        }
        None => eprintln!(
            "{signs}. Register these public keys at the provider (or give it \
             {{SessionIssuer}}/.well-known/client-jwks.json):"
        ),
    }
    print_stdout(&pretty_json(&client_jwks(&secret, Some(&target.provider))?)?);
    Ok(())
}

/// When a provider that keeps a copy of the key must have it.
fn before(position: Position) -> &'static str {
    match position {
        Position::Active => " before then (or use --standby next time)",
        Position::Standby => " before it is activated",
    }
}

/// Reads the target secret, applies `change`, checks the result with the functions' parser,
/// writes it and prints the provider's kids. Returns the parsed result.
async fn edit(
    target: &Target,
    change: impl FnOnce(&mut Document) -> Result<(), String>,
) -> Result<Secret, String> {
    let client = client().await?;
    let mut doc = Document::parse(get(&client, &target.secret_id).await?.expose_secret())?;
    change(&mut doc)?;
    let (text, secret) = doc.validated()?;
    put(&client, &target.secret_id, text.expose_secret()).await?;
    eprintln!(
        "stored {}: client keys of {}",
        target.secret_id,
        doc.describe_client_keys(&target.provider)
    );
    Ok(secret)
}

/// `; client keys: corp [a, b]` for `put`'s line, or nothing.
fn client_keys_summary(doc: &Document) -> String {
    let kids = doc.client_kids();
    if kids.is_empty() {
        return String::new();
    }
    let providers: Vec<String> =
        kids.iter().map(|(p, kids)| format!("{p} [{}]", kids.join(", "))).collect();
    format!("; client keys (first signs): {}", providers.join(", "))
}

fn pretty_json(value: &Value) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|_| "the JWKS does not serialise".into())
}

async fn get(client: &Client, secret_id: &str) -> Result<SecretString, String> {
    client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(sdk_error)?
        .secret_string()
        .map(|s| SecretString::from(s.to_owned()))
        .ok_or_else(|| "the secret has no string value".into())
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

#[cfg(test)]
mod tests;
