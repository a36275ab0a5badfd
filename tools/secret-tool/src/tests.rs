use clap::{CommandFactory as _, Parser as _};
use serde_json::json;

use super::*;

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("secret-tool").chain(args.iter().copied()))
        .map(|cli| cli.command)
}

#[test]
fn the_command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn client_key_commands_default_to_the_single_providers_name_and_ps256() {
    let Ok(Command::ClientKey(ClientKeyCommand::Add { target, alg, joining, certificate })) =
        parse(&["client-key", "add", "--secret-id", "s"])
    else {
        panic!("add parses");
    };
    assert_eq!((target.provider.as_str(), alg), (shared::DEFAULT_PROVIDER, ClientKeyAlg::Ps256));
    assert_eq!((joining.keep, joining.standby, joining.kid), (3, false, None));
    assert!(certificate.certificate_out.is_none());
    for refused in [
        &["client-key", "add", "--secret-id", "s", "--provider", "Corp"][..],
        &["client-key", "add", "--secret-id", "s", "--provider", "a-b"],
        &["client-key", "add", "--secret-id", "s", "--alg", "HS256"],
        &["client-key", "add", "--secret-id", "s", "--keep", "0"],
        &["client-key", "add", "--secret-id", "s", "--certificate-days", "30"],
        &["client-key", "import", "--secret-id", "s"],
        &["client-key", "activate", "--secret-id", "s"],
        &["client-key", "jwks"],
        &["client-key", "jwks", "--secret-id", "s", "--file", "f"],
    ] {
        assert!(parse(refused).is_err(), "{refused:?}");
    }
    assert!(parse(&["client-key", "jwks", "--file", "f", "--provider", "corp"]).is_ok());
}

#[test]
fn generate_keeps_its_client_secret_default_and_takes_private_key_jwt() {
    let Ok(Command::Generate { client_auth, client_secret_env, client_key, .. }) =
        parse(&["generate"])
    else {
        panic!("generate parses");
    };
    assert!(client_auth == ClientAuth::ClientSecretBasic && client_secret_env.is_none());
    assert!(client_key.provider.is_none() && client_key.client_key_alg.is_none());
    let Ok(Command::Generate { client_auth, client_key, .. }) = parse(&[
        "generate",
        "--client-auth",
        "private_key_jwt",
        "--provider",
        "corp",
        "--client-key-alg",
        "ES256",
    ]) else {
        panic!("generate private_key_jwt parses");
    };
    assert!(client_auth == ClientAuth::PrivateKeyJwt);
    assert_eq!(client_key.provider.as_deref(), Some("corp"));
    assert_eq!(client_key.client_key_alg, Some(ClientKeyAlg::Es256));
}

#[test]
fn generate_with_a_client_key_makes_a_secret_without_client_secret() {
    let options = GenerateClientKey {
        provider: Some("corp".into()),
        client_key_alg: Some(ClientKeyAlg::Es256),
        client_key_kid: Some("corp-1".into()),
        certificate: CertificateOut { certificate_out: None, certificate_days: 365 },
    };
    let text = generate_with_client_key("ours-1", KeyAlg::Rs256, options).unwrap();
    let secret = Secret::from_json(text.expose_secret()).unwrap();
    assert!(secret.client_secrets().for_provider("corp", true).is_err());
    assert_eq!(secret.signing_keys().active().kid(), "ours-1");
    let jwks = client_jwks(&secret, Some("corp")).unwrap();
    assert_eq!(
        (&jwks["keys"][0]["kid"], &jwks["keys"][0]["alg"]),
        (&json!("corp-1"), &json!("ES256"))
    );
}

#[test]
fn puts_summary_names_kids_by_provider_and_nothing_else() {
    let pem = |alg| keygen::signing_key_pem(alg).unwrap().expose_secret().to_owned();
    let text = json!({
        "client_secret": "the-client-secret",
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [keygen::cookie_key().unwrap().expose_secret()],
        "client_keys": {"corp": [{"kid": "corp-2", "private_key_pem": pem(KeyAlg::Es256)},
                                 {"kid": "corp-1", "private_key_pem": pem(KeyAlg::Es256)}],
                        "entra": [{"kid": "entra-1", "private_key_pem": pem(KeyAlg::Rs256)}]},
    })
    .to_string();
    let summary = client_keys_summary(&Document::parse(&text).unwrap());
    assert_eq!(summary, "; client keys (first signs): corp [corp-2, corp-1], entra [entra-1]");
    let without = text.replace("\"client_keys\"", "\"unused\"");
    assert_eq!(client_keys_summary(&Document::parse(&without).unwrap()), "");
}
