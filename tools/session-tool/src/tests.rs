use clap::{CommandFactory as _, Parser as _};

use super::*;

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("session-tool").chain(args.iter().copied()))
        .map(|cli| cli.command)
}

const ALICE: [&str; 6] = ["--table", "t", "--issuer", "https://idp", "--sub", "alice"];

/// `command` for alice, with `more` arguments.
fn with<'a>(command: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    [command].into_iter().chain(ALICE).chain(more.iter().copied()).collect()
}

fn listed(sid: &str, provider: Option<&str>) -> Listed {
    Listed {
        sid: sid.to_owned(),
        provider: provider.map(str::to_owned),
        created: 1,
        used: 2,
        device: None,
        expires: 3,
    }
}

#[test]
fn the_command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn list_names_the_user_by_issuer_and_sub_and_takes_a_provider_and_json() {
    let Ok(Command::List { user, json }) = parse(&with("list", &[])) else {
        panic!("list parses");
    };
    assert_eq!(
        (user.table.as_str(), user.issuer.as_str(), user.sub.as_str()),
        ("t", "https://idp", "alice")
    );
    assert!(user.provider.is_none() && !json);
    let Ok(Command::List { user, json }) = parse(&with("list", &["--provider", "corp", "--json"]))
    else {
        panic!("list --provider --json parses");
    };
    assert_eq!(user.provider.as_deref(), Some("corp"));
    assert!(json);
}

#[test]
fn the_table_defaults_to_the_functions_variable() {
    let cli = Cli::command();
    for command in ["list", "end"] {
        let sub = cli.find_subcommand(command).unwrap();
        let table = sub.get_arguments().find(|a| a.get_id() == "table").unwrap();
        assert_eq!(table.get_env(), Some(std::ffi::OsStr::new("SESSION_TABLE")), "{command}");
    }
}

#[test]
fn end_takes_every_session_or_repeated_sids() {
    let Ok(Command::End { sids, .. }) = parse(&with("end", &[])) else { panic!("end parses") };
    assert!(sids.is_empty());
    let Ok(Command::End { sids, user }) =
        parse(&with("end", &["--sid", "a", "--sid", "b", "--provider", "default"]))
    else {
        panic!("end --sid parses");
    };
    assert_eq!(sids, ["a", "b"]);
    assert_eq!(user.provider.as_deref(), Some("default"));
}

#[test]
fn usage_errors_exit_with_2() {
    let no_issuer = ["list", "--table", "t", "--sub", "alice"];
    let no_sub = ["end", "--table", "t", "--issuer", "https://idp"];
    for refused in [
        &no_issuer[..],
        &no_sub,
        &["list", "--table", "t", "--issuer", "idp.example.com", "--sub", "alice"],
        &["list", "--table", "t", "--issuer", "https://idp ", "--sub", "alice"],
        &["list", "--table", "", "--issuer", "https://idp", "--sub", "alice"],
        &["end", "--table", "t", "--issuer", "https://idp", "--sub", " "],
        &with("end", &["--sid", ""]),
        &with("end", &["--json"]),
        &with("list", &["--sid", "a"]),
        &["forget"],
    ] {
        let e = parse(refused).err().unwrap_or_else(|| panic!("{refused:?} parses"));
        assert_eq!(e.exit_code(), 2, "{refused:?}: {e}");
    }
}

#[test]
fn an_issuer_is_kept_exactly_as_written() {
    assert_eq!(parse_issuer("https://idp.example.com").as_deref(), Ok("https://idp.example.com"));
    assert_eq!(parse_issuer("https://idp/oauth2/").as_deref(), Ok("https://idp/oauth2/"));
    assert_eq!(parse_issuer("http://127.0.0.1:3000").as_deref(), Ok("http://127.0.0.1:3000"));
}

#[test]
fn end_without_sids_ends_every_listed_session() {
    let listed = [listed("a", None), listed("b", None)];
    assert_eq!(select(&listed, &[]), (vec!["a".to_owned(), "b".to_owned()], vec![]));
}

#[test]
fn a_sid_that_is_not_the_users_is_reported_not_ended() {
    let listed = [listed("a", None), listed("b", None)];
    let asked = ["b", "bobs", "b", "bobs"].map(str::to_owned);
    assert_eq!(select(&listed, &asked), (vec!["b".to_owned()], vec!["bobs".to_owned()]));
    assert_eq!(select(&[], &asked[..2]), (vec![], vec!["b".to_owned(), "bobs".to_owned()]));
}

#[test]
fn a_provider_keeps_only_its_sessions() {
    let Ok(Command::List { user, .. }) = parse(&with("list", &["--provider", "corp"])) else {
        panic!("list parses");
    };
    let all = vec![listed("a", Some("corp")), listed("b", Some("default")), listed("c", None)];
    let kept: Vec<String> = user.of_provider(all.clone()).into_iter().map(|l| l.sid).collect();
    assert_eq!(kept, ["a"]);
    let Ok(Command::List { user, .. }) = parse(&with("list", &[])) else { panic!("list parses") };
    assert_eq!(user.of_provider(all.clone()), all);
    assert_eq!(user.described(), "alice at https://idp");
}

#[test]
fn a_failure_is_reported_on_one_line() {
    let sdk = "no credentials found in chain. Attempted:\n  Environment: not set\n  Profile: not enabled\n";
    assert_eq!(
        one_line(sdk),
        "no credentials found in chain. Attempted: Environment: not set; Profile: not enabled"
    );
    assert_eq!(
        one_line("session store failed: Query: unreachable"),
        "session store failed: Query: unreachable"
    );
}
