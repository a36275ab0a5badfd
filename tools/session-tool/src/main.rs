//! `session-tool`: list and end one user's sessions straight on the session table, for support
//! and incident response.
//!
//! ```text
//! session-tool list --table NAME --issuer URL --sub SUB [--provider NAME] [--json]
//! session-tool end  --table NAME --issuer URL --sub SUB [--provider NAME] [--sid SID ...]
//! ```
//!
//! A user is named as the table indexes sessions (`by_subject`): the provider's issuer, exactly
//! as its discovery document says it, and the user's `sub` there. `--provider` keeps only the
//! sessions whose stored provider name (`OIDC_PROVIDERS`; `default` for a single provider) is
//! that one. `--table` defaults to `SESSION_TABLE`, the functions' own variable.
//!
//! DynamoDB is reached with the operator's credentials through the SDK's standard environment
//! (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...), as `secret-tool` reaches Secrets
//! Manager, so the same commands work against moto locally. Exit status: 0 done, 1 failed (one
//! line on standard error), 2 a usage error.
//!
//! # Security
//!
//! The tool needs nothing of the deployment's secret and never opens a session's sealed
//! provider tokens: it reads what an item holds in clear (its id, provider name, device label
//! and times) and deletes items. It deletes only sessions that the listing of the named user
//! returned: a `--sid` that is not one of them is reported and left alone, so the tool cannot
//! delete an arbitrary item by its key. Ending a session does not revoke its refresh token at
//! the provider (it is sealed in the item the tool deletes): the operator revokes the user's
//! tokens at the provider, or ends the sessions through Universal Logout, which does.

mod print;

use std::process::ExitCode;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::ProvideCredentials as _;
use clap::{Args, Parser, Subcommand};
use shared::{Listed, Table};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the user's live sessions, newest login first: id, provider, device, login, last
    /// use and latest end (UTC).
    List {
        #[command(flatten)]
        user: User,
        /// Print a JSON array instead: sid, provider, device, created, used, expires (Unix
        /// seconds); `null` for what a session did not store.
        #[arg(long)]
        json: bool,
    },
    /// End (delete) the user's live sessions: all of them, or only those of --sid. Their
    /// refresh tokens at the provider are NOT revoked.
    End {
        #[command(flatten)]
        user: User,
        /// Only this session (repeatable), by its id as `list` prints it. One that is not a
        /// live session of this user is reported and left alone.
        #[arg(long = "sid", value_name = "SID", value_parser = non_empty)]
        sids: Vec<String>,
    },
}

/// Whose sessions: a user at a provider, as the table indexes them.
#[derive(Args)]
struct User {
    /// The session table (the stack's SessionTable).
    #[arg(long, env = "SESSION_TABLE", value_parser = non_empty)]
    table: String,
    /// The provider's issuer URL, exactly as its discovery document says it.
    #[arg(long, value_parser = parse_issuer)]
    issuer: String,
    /// The user's `sub` at that provider (also the `sub` of our JWTs).
    #[arg(long, value_parser = non_empty)]
    sub: String,
    /// Only the sessions logged in through this provider name (OIDC_PROVIDERS; `default` for
    /// a single provider).
    #[arg(long)]
    provider: Option<String>,
}

impl User {
    /// The user's live sessions (of `--provider` only, when given), newest login first.
    async fn sessions(&self, client: &Client) -> Result<Vec<Listed>, String> {
        let table = Table::new(client, &self.table);
        let listed = table.user_sessions(&self.issuer, &self.sub, shared::unix_now()).await;
        Ok(self.of_provider(listed.map_err(|e| e.to_string())?))
    }

    /// `listed` without the sessions of other provider names than `--provider`'s.
    fn of_provider(&self, mut listed: Vec<Listed>) -> Vec<Listed> {
        if let Some(provider) = &self.provider {
            listed.retain(|l| l.provider.as_deref() == Some(provider.as_str()));
        }
        listed
    }

    /// The user as the reports name them: `alice at https://idp (provider default)`.
    fn described(&self) -> String {
        let provider = self.provider.as_ref().map(|p| format!(" (provider {p})"));
        format!("{} at {}{}", self.sub, self.issuer, provider.unwrap_or_default())
    }
}

/// A value that must not be empty: an empty `SESSION_TABLE` is a usage error too, not a
/// table named "".
fn non_empty(s: &str) -> Result<String, String> {
    match s.trim().is_empty() {
        true => Err("must not be empty".into()),
        false => Ok(s.to_owned()),
    }
}

/// An issuer URL, taken as written: sessions are found by its exact text, so a normalised
/// form (a slash added) would find none.
fn parse_issuer(s: &str) -> Result<String, String> {
    let url = s.starts_with("https://") || s.starts_with("http://");
    match url && !s.contains(char::is_whitespace) {
        true => Ok(s.to_owned()),
        false => Err("the provider's issuer URL, exactly as its discovery document says it \
                      (https://...)"
            .into()),
    }
}

/// Sessions per `BatchWriteItem`: DynamoDB's limit, which [`Table::delete`] takes.
const BATCH: usize = 25;

/// The sessions to end out of `listed` (the user's live sessions) and the `sids` asked for
/// that are none of them: every listed one when `sids` is empty.
fn select(listed: &[Listed], sids: &[String]) -> (Vec<String>, Vec<String>) {
    if sids.is_empty() {
        return (listed.iter().map(|l| l.sid.clone()).collect(), Vec::new());
    }
    let (mut ending, mut unknown) = (Vec::new(), Vec::new());
    for sid in sids {
        let to = match listed.iter().any(|l| &l.sid == sid) {
            true => &mut ending,
            false => &mut unknown,
        };
        if !to.contains(sid) {
            to.push(sid.clone());
        }
    }
    (ending, unknown)
}

/// Prints to standard output: the listing, and how many sessions an ending ended.
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
            eprintln!("session-tool: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `text` on one line, as a failure is reported: its lines joined by `; ` (by a space after
/// one that ends with `:`). The SDK's "no credentials" error lists each provider it tried on
/// a line of its own.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

/// A DynamoDB client from the SDK's whole provider chain (environment, profiles, instance
/// roles), sending through the functions' own HTTP client, as `secret-tool` builds its Secrets
/// Manager client. The region and the credentials are checked first, so that their absence is
/// said plainly rather than as a failed request.
async fn client() -> Result<Client, String> {
    let http = shared::http_client().map_err(|e| format!("HTTP client: {e}"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::SdkHttp::new(http))
        .load()
        .await;
    if sdk.region().is_none() {
        return Err("no AWS region: set AWS_REGION (or a profile's region)".into());
    }
    let credentials = sdk.credentials_provider().ok_or("no AWS credentials provider")?;
    credentials
        .provide_credentials()
        .await
        .map_err(|e| format!("no AWS credentials: {}", shared::error_chain(&e)))?;
    Ok(Client::new(&sdk))
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::List { user, json } => {
            let listed = user.sessions(&client().await?).await?;
            if json {
                print_stdout(&print::json(&listed)?);
            } else if listed.is_empty() {
                eprintln!("no live sessions of {}", user.described());
            } else {
                print_stdout(&print::table(&listed));
            }
            Ok(())
        }
        Command::End { user, sids } => {
            let client = client().await?;
            let listed = user.sessions(&client).await?;
            let (ending, unknown) = select(&listed, &sids);
            for sid in &unknown {
                eprintln!("not ended: {sid} is not a live session of {}", user.described());
            }
            let table = Table::new(&client, &user.table);
            let mut ended = 0;
            for chunk in ending.chunks(BATCH) {
                let deleted = table.delete(chunk).await;
                ended += deleted.map_err(|e| format!("{e} (after ending {ended} sessions)"))?;
            }
            print_stdout(&print::ended(ended, &user.described()));
            if ended > 0 {
                eprintln!("{}", print::NOT_REVOKED);
            }
            match unknown.len() {
                0 => Ok(()),
                n => Err(format!("{n} --sid named no live session of this user: not ended")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
