//! The functions' side of a stack: the exact environment each function gets (the documented
//! variables plus the AWS SDK's standard ones, and the upstream API the proxy forwards to) and
//! `cargo lambda watch`, which serves every function of the workspace at
//! `/lambda-url/<name>/...`.

use std::process::Command;

use crate::moto::{CREDENTIALS, REGION};
use crate::paths::{root, venv};

/// What the environment is made from.
pub(crate) struct Deployment<'a> {
    /// Each provider, the default first.
    pub(crate) providers: Vec<ProviderVars<'a>>,
    pub(crate) app: &'a str,
    pub(crate) secret_id: &'a str,
    pub(crate) moto: String,
    pub(crate) session_table: Option<&'a str>,
    pub(crate) log_level: Option<&'a str>,
    /// The upstream API, when it runs (with the functions).
    pub(crate) upstream: Option<Upstream>,
}

/// One provider as the functions' environment names it.
pub(crate) struct ProviderVars<'a> {
    /// Its name in `OIDC_PROVIDERS` when there are several.
    pub(crate) name: &'a str,
    pub(crate) issuer: &'a str,
    /// Our client id there.
    pub(crate) client_id: &'a str,
    /// Its other settings, by the suffix of `OIDC_[<NAME>_]<SUFFIX>` (`CLIENT_AUTH`, `DPOP`,
    /// `PROFILE`: [`crate::ClientSpec`]).
    pub(crate) settings: Vec<(&'static str, &'static str)>,
}

/// The upstream API (`dev/upstream/upstream.mjs`) as the functions see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upstream {
    pub(crate) port: u16,
    /// An oidc-provider runs, whose access tokens the upstream checks under `/provider`.
    pub(crate) provider: bool,
}

/// The `aud` the upstream requires of our JWT, and so the audience the proxy asks for.
pub(crate) const UPSTREAM_AUDIENCE: &str = "echo-api";

/// The SPA flow's redirect URI: the app's `/callback`.
pub(crate) fn spa_redirect(app: &str) -> String {
    format!("{app}/callback")
}

/// The server flow's redirect URI, through the demo's proxy (one origin, as in AWS).
pub(crate) fn server_redirect(app: &str) -> String {
    format!("{app}/authorization-code/callback")
}

/// Where the provider sends the browser after logout: the app's `/`.
pub(crate) fn post_logout(app: &str) -> String {
    format!("{app}/")
}

/// The variables that name the providers: `OIDC_ISSUER`, `OIDC_CLIENT_ID` and the settings
/// (`OIDC_CLIENT_AUTH`, ...) for one; `OIDC_PROVIDERS` and each one's `OIDC_<NAME>_ISSUER`,
/// `OIDC_<NAME>_CLIENT_ID` and settings for several (the unprefixed ones are then refused as
/// ambiguous).
pub(crate) fn provider_env(providers: &[ProviderVars<'_>]) -> Vec<(String, String)> {
    let vars = |prefix: &str, p: &ProviderVars<'_>| {
        let named = [("ISSUER", p.issuer), ("CLIENT_ID", p.client_id)];
        let all = named.into_iter().chain(p.settings.iter().copied());
        all.map(|(suffix, value)| (format!("{prefix}{suffix}"), value.to_owned()))
            .collect::<Vec<_>>()
    };
    if let [only] = providers {
        return vars("OIDC_", only);
    }
    let names: Vec<&str> = providers.iter().map(|p| p.name).collect();
    let mut env = vec![("OIDC_PROVIDERS".to_owned(), names.join(","))];
    for p in providers {
        env.extend(vars(&format!("OIDC_{}_", p.name.to_ascii_uppercase()), p));
    }
    env
}

/// Everything but the providers: redirect URIs (the app's; the API sits behind the demo's
/// proxy, one origin as in AWS), the secret, our JWT's issuer and audience, the session table,
/// the AWS SDK's settings for moto, and the proxy's remote APIs when the upstream runs.
pub(crate) fn common_env(d: &Deployment<'_>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("OIDC_REDIRECT_URI", spa_redirect(d.app)),
        ("OIDC_SERVER_REDIRECT_URI", server_redirect(d.app)),
        ("SECRET_ID", d.secret_id.to_owned()),
        ("SESSION_ISSUER", d.app.to_owned()),
        ("SESSION_AUDIENCE", d.app.to_owned()),
        ("POST_LOGIN_PATH", "/".to_owned()),
        ("POST_LOGOUT_REDIRECT_URI", post_logout(d.app)),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", CREDENTIALS.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", CREDENTIALS.to_owned()),
        ("AWS_ENDPOINT_URL", d.moto.clone()),
        // cargo lambda's own log level (the emulator reads RUST_LOG too).
        ("RUST_LOG", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // The SDK reaches moto's DynamoDB through AWS_ENDPOINT_URL, like Secrets Manager.
    env.extend(d.session_table.map(|t| ("SESSION_TABLE".to_owned(), t.to_owned())));
    env.extend(d.log_level.map(|l| ("AWS_LAMBDA_LOG_LEVEL".to_owned(), l.to_owned())));
    if let Some(upstream) = d.upstream {
        env.extend(remote_api_env(upstream, d.session_table.is_some()));
    }
    env
}

/// The proxy's remote APIs, both served by the upstream: `echo` with our JWT; with sessions
/// and an oidc-provider, `idp` with the provider's access token too (the mode needs the session
/// table, and only oidc-provider's tokens are what the upstream checks).
fn remote_api_env(upstream: Upstream, sessions: bool) -> Vec<(String, String)> {
    let base = format!("http://127.0.0.1:{}", upstream.port);
    let idp = sessions && upstream.provider;
    let mut apis = format!("echo={base}/ours");
    if idp {
        apis.push_str(&format!(",idp={base}/provider"));
    }
    let mut env = vec![
        ("REMOTE_APIS".to_owned(), apis),
        ("REMOTE_API_ECHO_AUDIENCE".to_owned(), UPSTREAM_AUDIENCE.to_owned()),
    ];
    if idp {
        env.push(("REMOTE_API_IDP_TOKEN".to_owned(), "provider".to_owned()));
    }
    env
}

/// The whole environment: the providers', the common one, then `extra` over both.
pub(crate) fn env(d: &Deployment<'_>, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = provider_env(&d.providers);
    env.extend(common_env(d));
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// `cargo lambda watch` on `port` with `env`; `watch_changes` rebuilds a function when its
/// sources change (`make dev`), otherwise it serves what is built.
pub(crate) fn watch(port: u16, env: &[(String, String)], watch_changes: bool) -> Command {
    let mut command = Command::new(venv().join("cargo-lambda"));
    command.args(["lambda", "watch"]);
    if !watch_changes {
        command.arg("--ignore-changes");
    }
    command
        .args(["--disable-cors", "--invoke-address", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .current_dir(root())
        // cargo-lambda finds zig as `python3 -m ziglang` with the first python3 on PATH.
        .env("PATH", format!("{}:{}", venv().display(), std::env::var("PATH").unwrap_or_default()))
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn deployment<'a>(providers: Vec<(&'a str, &'a str, &'a str)>) -> Deployment<'a> {
        let providers = providers
            .into_iter()
            .map(|(name, issuer, client_id)| ProviderVars {
                name,
                issuer,
                client_id,
                settings: Vec::new(),
            })
            .collect();
        Deployment {
            providers,
            app: "http://localhost:5173",
            secret_id: "spa-login/local",
            moto: "http://127.0.0.1:5001".to_owned(),
            session_table: Some("sessions"),
            log_level: None,
            upstream: None,
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn one_provider_is_named_by_the_unprefixed_variables() {
        let env = env(&deployment(vec![("local", "http://localhost:3000", "spa")]), &[]);
        assert_eq!(get(&env, "OIDC_ISSUER"), Some("http://localhost:3000"));
        assert_eq!(get(&env, "OIDC_CLIENT_ID"), Some("spa"));
        assert_eq!(get(&env, "OIDC_PROVIDERS"), None);
        assert_eq!(get(&env, "OIDC_REDIRECT_URI"), Some("http://localhost:5173/callback"));
        assert_eq!(get(&env, "SESSION_TABLE"), Some("sessions"));
        assert_eq!(get(&env, "AWS_ENDPOINT_URL"), Some("http://127.0.0.1:5001"));
        assert_eq!(get(&env, "AWS_LAMBDA_LOG_LEVEL"), None);
    }

    #[test]
    fn several_providers_each_under_its_name_and_extra_variables_win() {
        let providers = vec![("local", "http://a", "one"), ("lemon", "http://b", "two")];
        let extra = [("SESSION_TABLE".to_owned(), String::new())];
        let env = env(&deployment(providers), &extra);
        assert_eq!(get(&env, "OIDC_PROVIDERS"), Some("local,lemon"));
        assert_eq!(get(&env, "OIDC_LEMON_ISSUER"), Some("http://b"));
        assert_eq!(get(&env, "OIDC_LOCAL_CLIENT_ID"), Some("one"));
        assert_eq!(get(&env, "OIDC_ISSUER"), None, "ambiguous beside OIDC_PROVIDERS");
        assert_eq!(get(&env, "SESSION_TABLE"), Some(""));
        assert_eq!(env.iter().filter(|(k, _)| k == "SESSION_TABLE").count(), 1);
    }

    #[test]
    fn a_providers_client_settings_follow_its_naming() {
        let fapi = crate::ClientSpec { fapi2: true, ..crate::ClientSpec::default() };
        let mut one = deployment(vec![("local", "http://a", "one")]);
        one.providers[0].settings = fapi.function_settings();
        let vars = env(&one, &[]);
        assert_eq!(get(&vars, "OIDC_PROFILE"), Some("fapi2"));
        assert_eq!(get(&vars, "OIDC_CLIENT_AUTH"), None, "the profile implies it");

        let pkjwt = crate::ClientSpec {
            auth: Some(crate::ClientAuth::PrivateKeyJwt),
            dpop: Some(crate::Offer::Required),
            ..crate::ClientSpec::default()
        };
        let mut two = deployment(vec![("local", "http://a", "one"), ("lemon", "http://b", "two")]);
        two.providers[0].settings = pkjwt.function_settings();
        let vars = env(&two, &[]);
        assert_eq!(get(&vars, "OIDC_LOCAL_CLIENT_AUTH"), Some("private_key_jwt"));
        assert_eq!(get(&vars, "OIDC_LOCAL_DPOP"), Some("on"));
        assert_eq!(get(&vars, "OIDC_CLIENT_AUTH"), None, "ambiguous beside OIDC_PROVIDERS");
        assert_eq!(get(&vars, "OIDC_LEMON_CLIENT_AUTH"), None, "the other provider as before");
        assert_eq!(get(&vars, "OIDC_LEMON_DPOP"), None);
    }

    #[test]
    fn no_upstream_no_remote_apis() {
        let env = env(&deployment(vec![("local", "http://a", "one")]), &[]);
        assert!(env.iter().all(|(k, _)| !k.starts_with("REMOTE_API")), "{env:?}");
    }

    #[test]
    fn the_upstream_serves_echo_with_our_jwt_and_with_sessions_idp_with_the_providers_token() {
        let mut d = deployment(vec![("local", "http://a", "one")]);
        d.upstream = Some(Upstream { port: 9100, provider: true });
        let env = env(&d, &[]);
        let apis = "echo=http://127.0.0.1:9100/ours,idp=http://127.0.0.1:9100/provider";
        assert_eq!(get(&env, "REMOTE_APIS"), Some(apis));
        assert_eq!(get(&env, "REMOTE_API_ECHO_AUDIENCE"), Some("echo-api"));
        assert_eq!(get(&env, "REMOTE_API_IDP_TOKEN"), Some("provider"));
        assert_eq!(get(&env, "REMOTE_API_ECHO_TOKEN"), None, "ours, the default");
    }

    #[test]
    fn without_sessions_or_an_oidc_provider_only_echo() {
        for (sessions, provider) in [(false, true), (true, false)] {
            let mut d = deployment(vec![("lemon", "http://b", "two")]);
            d.session_table = sessions.then_some("sessions");
            d.upstream = Some(Upstream { port: 4242, provider });
            let env = env(&d, &[]);
            assert_eq!(get(&env, "REMOTE_APIS"), Some("echo=http://127.0.0.1:4242/ours"));
            assert_eq!(get(&env, "REMOTE_API_ECHO_AUDIENCE"), Some("echo-api"));
            assert_eq!(get(&env, "REMOTE_API_IDP_TOKEN"), None);
        }
    }
}
