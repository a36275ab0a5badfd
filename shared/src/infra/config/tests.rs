use std::collections::HashMap;

use super::*;

fn base() -> HashMap<&'static str, String> {
    HashMap::from([
        ("OIDC_ISSUER", "https://idp.example.com/oauth2/default".to_owned()),
        ("OIDC_CLIENT_ID", "client-1".to_owned()),
        ("OIDC_REDIRECT_URI", "https://app.example.com/callback".to_owned()),
        ("SECRET_ID", "spa-login/secret".to_owned()),
        ("SESSION_ISSUER", "https://api.example.com".to_owned()),
        ("SESSION_AUDIENCE", "https://api.example.com".to_owned()),
    ])
}

fn parse(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| vars.get(name).cloned())
}

fn with(name: &'static str, value: &str) -> Result<Config, ConfigError> {
    let mut vars = base();
    vars.insert(name, value.to_owned());
    parse(&vars)
}

fn without(name: &'static str) -> Result<Config, ConfigError> {
    let mut vars = base();
    vars.remove(name);
    parse(&vars)
}

fn failing_variable(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(_) => "accepted".into(),
        Err(e) => e.variable,
    }
}

#[test]
fn defaults_apply_to_optional_variables() {
    let c = parse(&base()).unwrap();
    assert_eq!(c.default_provider().scopes, ["openid", "profile", "email"]);
    assert!(c.default_provider().userinfo);
    assert_eq!(c.session_ttl, Duration::from_secs(900));
    assert_eq!(c.post_login_path.as_str(), "/");
    assert_eq!(c.app_origin, None);
    assert_eq!(c.default_provider().server_redirect_uri, None);
    assert_eq!(c.default_provider().issuer_str, "https://idp.example.com/oauth2/default");
}

#[test]
fn every_required_variable_is_named_when_missing() {
    for name in ["OIDC_ISSUER", "OIDC_CLIENT_ID", "SECRET_ID", "SESSION_ISSUER", "SESSION_AUDIENCE"]
    {
        let e = without(name).unwrap_err();
        assert_eq!(e.variable, name);
        assert!(e.to_string().contains(name) && e.to_string().contains("required"), "{e}");
    }
    assert_eq!(failing_variable(with("OIDC_CLIENT_ID", "   ")), "OIDC_CLIENT_ID");
}

#[test]
fn one_redirect_uri_at_least() {
    let mut vars = base();
    vars.remove("OIDC_REDIRECT_URI");
    assert_eq!(failing_variable(parse(&vars)), "OIDC_REDIRECT_URI");
    vars.insert(
        "OIDC_SERVER_REDIRECT_URI",
        "https://api.example.com/authorization-code/callback".into(),
    );
    let c = parse(&vars).unwrap();
    assert!(
        c.default_provider().spa_redirect_uri.is_none()
            && c.default_provider().server_redirect_uri.is_some()
    );
}

#[test]
fn urls_must_be_https_except_on_loopback() {
    for name in [
        "OIDC_ISSUER",
        "OIDC_REDIRECT_URI",
        "OIDC_SERVER_REDIRECT_URI",
        "APP_ORIGIN",
        "POST_LOGOUT_REDIRECT_URI",
    ] {
        assert_eq!(failing_variable(with(name, "http://idp.example.com")), name);
        assert_eq!(failing_variable(with(name, "ftp://idp.example.com")), name);
        assert_eq!(failing_variable(with(name, "not a url")), name);
        assert_eq!(failing_variable(with(name, "https://user:pw@idp.example.com")), name);
        assert_eq!(failing_variable(with(name, "http://10.0.0.1:3000")), name);
        assert_eq!(failing_variable(with(name, "http://localhost.evil.example")), name);
        for ok in ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"] {
            assert_eq!(failing_variable(with(name, ok)), "accepted", "{name}={ok}");
        }
    }
    assert_eq!(
        failing_variable(with("SESSION_ISSUER", "http://api.example.com")),
        "SESSION_ISSUER"
    );
    assert_eq!(failing_variable(with("SESSION_ISSUER", "spa-login")), "accepted");
}

#[test]
fn issuer_and_redirects_refuse_query_and_fragment_where_meaningless() {
    assert_eq!(
        failing_variable(with("OIDC_ISSUER", "https://idp.example.com/?x=1")),
        "OIDC_ISSUER"
    );
    assert_eq!(failing_variable(with("OIDC_ISSUER", "https://idp.example.com/#x")), "OIDC_ISSUER");
    assert_eq!(
        failing_variable(with("OIDC_REDIRECT_URI", "https://app.example.com/callback#x")),
        "OIDC_REDIRECT_URI"
    );
}

#[test]
fn scopes_must_include_openid_and_be_valid_tokens() {
    assert_eq!(
        with("OIDC_SCOPES", "openid  email").unwrap().default_provider().scopes,
        ["openid", "email"]
    );
    assert_eq!(failing_variable(with("OIDC_SCOPES", "profile email")), "OIDC_SCOPES");
    assert_eq!(failing_variable(with("OIDC_SCOPES", "openid em\"ail")), "OIDC_SCOPES");
    assert_eq!(failing_variable(with("OIDC_SCOPES", "openid em\\ail")), "OIDC_SCOPES");
}

#[test]
fn userinfo_is_a_boolean() {
    assert!(!with("OIDC_USERINFO", "false").unwrap().default_provider().userinfo);
    assert!(with("OIDC_USERINFO", "TRUE").unwrap().default_provider().userinfo);
    for bad in ["yes", "0", "1", "off"] {
        assert_eq!(failing_variable(with("OIDC_USERINFO", bad)), "OIDC_USERINFO");
    }
}

#[test]
fn session_ttl_is_bounded_seconds() {
    assert_eq!(with("SESSION_TTL_SECONDS", "300").unwrap().session_ttl, Duration::from_secs(300));
    for bad in ["0", "59", "86401", "-5", "15m", "1.5", "99999999999999999999"] {
        assert_eq!(
            failing_variable(with("SESSION_TTL_SECONDS", bad)),
            "SESSION_TTL_SECONDS",
            "{bad}"
        );
    }
}

#[test]
fn session_limits_accept_60_seconds_and_more() {
    let mut vars = base();
    vars.insert("SESSION_TABLE", "sessions".to_owned());
    let settings = parse(&vars).unwrap().sessions.unwrap();
    assert_eq!((settings.max_age.as_secs(), settings.idle.as_secs()), (43_200, 3_600));
    for name in ["SESSION_MAX_AGE_SECONDS", "SESSION_IDLE_SECONDS"] {
        let mut vars = vars.clone();
        vars.insert(name, "60".to_owned());
        let settings = parse(&vars).unwrap().sessions.unwrap();
        let limit = if name == "SESSION_IDLE_SECONDS" { settings.idle } else { settings.max_age };
        assert_eq!(limit, Duration::from_secs(60), "{name}");
        for bad in ["59", "0", "31536001", "1h"] {
            vars.insert(name, bad.to_owned());
            assert_eq!(failing_variable(parse(&vars)), name, "{name}={bad}");
        }
    }
}

#[test]
fn post_login_path_must_be_same_origin() {
    assert_eq!(with("POST_LOGIN_PATH", "/app").unwrap().post_login_path.as_str(), "/app");
    for bad in ["https://evil.example", "//evil.example", "app", "/\\evil"] {
        assert_eq!(failing_variable(with("POST_LOGIN_PATH", bad)), "POST_LOGIN_PATH", "{bad}");
    }
}

#[test]
fn app_origin_is_an_origin_without_path() {
    assert_eq!(
        with("APP_ORIGIN", "https://app.example.com/").unwrap().app_origin.as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        with("APP_ORIGIN", "http://localhost:5173").unwrap().app_origin.as_deref(),
        Some("http://localhost:5173")
    );
    assert_eq!(failing_variable(with("APP_ORIGIN", "https://app.example.com/app")), "APP_ORIGIN");
    assert_eq!(failing_variable(with("APP_ORIGIN", "https://app.example.com?x")), "APP_ORIGIN");
}

#[test]
fn errors_never_repeat_the_value() {
    let e = with("OIDC_ISSUER", "http://secret-looking-host.example/").unwrap_err();
    assert!(!e.to_string().contains("secret-looking-host"), "{e}");
}

#[test]
fn session_check_is_stateless_by_default_and_strict_only_with_sessions() {
    let mut vars = base();
    vars.insert("SESSION_TABLE", "sessions".to_owned());
    let sessions = |vars: &HashMap<_, _>| parse(vars).unwrap().sessions.unwrap();
    assert!(!sessions(&vars).strict);
    vars.insert("SESSION_CHECK", "Strict".to_owned());
    assert!(sessions(&vars).strict);
    vars.insert("SESSION_CHECK", "stateless".to_owned());
    assert!(!sessions(&vars).strict);
    vars.insert("SESSION_CHECK", "sometimes".to_owned());
    assert_eq!(failing_variable(parse(&vars)), "SESSION_CHECK");
    assert_eq!(failing_variable(with("SESSION_CHECK", "strict")), "SESSION_CHECK");
}

#[test]
fn several_providers_each_from_their_own_variables_the_first_is_the_default() {
    let mut vars = base();
    vars.remove("OIDC_ISSUER");
    vars.remove("OIDC_CLIENT_ID");
    vars.insert("OIDC_PROVIDERS", "corp, google".into());
    vars.insert("OIDC_CORP_ISSUER", "https://corp.okta.com/oauth2/default".into());
    vars.insert("OIDC_CORP_CLIENT_ID", "corp-client".into());
    vars.insert("OIDC_GOOGLE_ISSUER", "https://accounts.google.com".into());
    vars.insert("OIDC_GOOGLE_CLIENT_ID", "google-client".into());
    vars.insert("OIDC_GOOGLE_SCOPES", "openid email".into());
    vars.insert("OIDC_GOOGLE_USERINFO", "false".into());
    let c = parse(&vars).unwrap();
    let names: Vec<_> = c.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["corp", "google"]);
    assert_eq!(c.default_provider().client_id, "corp-client");
    let google = &c.providers[1];
    assert_eq!(google.issuer_str, "https://accounts.google.com");
    assert_eq!(google.scopes, ["openid", "email"]);
    assert!(!google.userinfo && c.providers[0].userinfo);
    // The shared redirect URI serves both (one callback for every provider).
    assert_eq!(google.spa_redirect_uri, c.providers[0].spa_redirect_uri);
    assert!(google.spa_redirect_uri.is_some());

    // Each provider's own variables are named when missing or wrong.
    let mut missing = vars.clone();
    missing.remove("OIDC_GOOGLE_CLIENT_ID");
    assert_eq!(failing_variable(parse(&missing)), "OIDC_GOOGLE_CLIENT_ID");
    let mut bad = vars.clone();
    bad.insert("OIDC_GOOGLE_ISSUER", "http://accounts.google.com".into());
    assert_eq!(failing_variable(parse(&bad)), "OIDC_GOOGLE_ISSUER");
    let mut bad = vars.clone();
    bad.insert("OIDC_GOOGLE_SCOPES", "email".into());
    assert_eq!(failing_variable(parse(&bad)), "OIDC_GOOGLE_SCOPES");
    // Two providers with one issuer, a name twice, a bad name, the unprefixed issuer beside
    // OIDC_PROVIDERS: refused.
    let mut same = vars.clone();
    same.insert("OIDC_GOOGLE_ISSUER", "https://corp.okta.com/oauth2/default".into());
    assert_eq!(failing_variable(parse(&same)), "OIDC_GOOGLE_ISSUER");
    for list in ["corp,corp", "Corp", "corp,", "1corp", "corp-2", "averyveryverylongname"] {
        let mut v = vars.clone();
        v.insert("OIDC_PROVIDERS", list.into());
        assert_eq!(failing_variable(parse(&v)), "OIDC_PROVIDERS", "{list}");
    }
    let mut ambiguous = vars.clone();
    ambiguous.insert("OIDC_ISSUER", "https://corp.okta.com/oauth2/default".into());
    assert_eq!(failing_variable(parse(&ambiguous)), "OIDC_ISSUER");
    // Without OIDC_PROVIDERS: one provider named default, as before.
    let single = parse(&base()).unwrap();
    assert_eq!(single.providers.len(), 1);
    assert_eq!(single.default_provider().name, DEFAULT_PROVIDER);
}

#[test]
fn a_provider_may_be_read_from_its_position_as_the_sam_template_sets_it() {
    let mut vars = base();
    vars.remove("OIDC_ISSUER");
    vars.remove("OIDC_CLIENT_ID");
    vars.insert("OIDC_PROVIDERS", "okta,google".into());
    vars.insert("OIDC_1_ISSUER", "https://example.okta.com".into());
    vars.insert("OIDC_1_CLIENT_ID", "okta-client".into());
    vars.insert("OIDC_2_ISSUER", "https://accounts.google.com".into());
    vars.insert("OIDC_2_CLIENT_ID", "google-client".into());
    vars.insert("OIDC_2_SCOPES", "openid email".into());
    let c = parse(&vars).unwrap();
    assert_eq!(c.providers[0].name, "okta");
    assert_eq!(c.providers[0].client_id, "okta-client");
    assert_eq!(c.providers[1].issuer_str, "https://accounts.google.com");
    assert_eq!(c.providers[1].scopes, ["openid", "email"]);
    // The named variable wins over the positional one.
    vars.insert("OIDC_GOOGLE_CLIENT_ID", "named".into());
    assert_eq!(parse(&vars).unwrap().providers[1].client_id, "named");
    // A missing one is named by its named variable.
    vars.remove("OIDC_GOOGLE_CLIENT_ID");
    vars.remove("OIDC_2_CLIENT_ID");
    assert_eq!(failing_variable(parse(&vars)), "OIDC_GOOGLE_CLIENT_ID");
    // An empty value (what the template sets for an unused provider) counts as unset.
    vars.insert("OIDC_2_CLIENT_ID", "".into());
    assert_eq!(failing_variable(parse(&vars)), "OIDC_GOOGLE_CLIENT_ID");
}

#[test]
fn browser_tokens_is_body_or_none_and_none_without_the_spa_flow() {
    assert_eq!(parse(&base()).unwrap().browser_tokens, BrowserTokens::Body);
    assert_eq!(with("BROWSER_TOKENS", "none").unwrap().browser_tokens, BrowserTokens::None);
    assert_eq!(with("BROWSER_TOKENS", " Body ").unwrap().browser_tokens, BrowserTokens::Body);
    assert_eq!(failing_variable(with("BROWSER_TOKENS", "cookie")), "BROWSER_TOKENS");
    let mut server_only = base();
    server_only.remove("OIDC_REDIRECT_URI");
    server_only.insert(
        "OIDC_SERVER_REDIRECT_URI",
        "https://api.example.com/authorization-code/callback".into(),
    );
    assert_eq!(parse(&server_only).unwrap().browser_tokens, BrowserTokens::None);
}

#[test]
fn remote_apis_are_named_https_urls_with_their_settings() {
    let mut vars = base();
    vars.insert(
        "REMOTE_APIS",
        "orders=https://orders.example.com/v1/, billing2=http://127.0.0.1:9100".into(),
    );
    vars.insert("REMOTE_API_ORDERS_AUDIENCE", "orders-api".into());
    vars.insert("REMOTE_API_BILLING2_TIMEOUT_SECONDS", "3".into());
    vars.insert("ALLOWED_ORIGINS", "https://admin.example.com/, https://app.example.com".into());
    let remote = parse(&vars).unwrap().remote;
    let orders = remote.named("orders").unwrap();
    assert_eq!(orders.base.as_str(), "https://orders.example.com/v1");
    assert_eq!((orders.audience.as_str(), orders.token), ("orders-api", UpstreamToken::Ours));
    assert_eq!(orders.timeout, Duration::from_secs(10));
    let billing = remote.named("billing2").unwrap();
    assert_eq!(billing.audience, "https://api.example.com", "SESSION_AUDIENCE by default");
    assert_eq!(billing.timeout, Duration::from_secs(3));
    assert_eq!(remote.allowed_origins, ["https://admin.example.com", "https://app.example.com"]);
    assert!(!remote.wants_provider_tokens());
    assert!(parse(&base()).unwrap().remote.apis.is_empty());
}

#[test]
fn remote_apis_refuse_what_could_misroute_a_token() {
    for (name, value, variable) in [
        ("REMOTE_APIS", "orders", "REMOTE_APIS"),
        ("REMOTE_APIS", "Orders=https://o.example.com", "REMOTE_APIS"),
        ("REMOTE_APIS", "a-b=https://o.example.com", "REMOTE_APIS"),
        ("REMOTE_APIS", "abcdefghijklmnopq=https://o.example.com", "REMOTE_APIS"),
        ("REMOTE_APIS", "o=http://o.example.com", "REMOTE_APIS"),
        ("REMOTE_APIS", "o=https://user:pw@o.example.com", "REMOTE_APIS"),
        ("REMOTE_APIS", "o=https://o.example.com/?x=1", "REMOTE_APIS"),
        ("REMOTE_APIS", "o=https://o.example.com,o=https://p.example.com", "REMOTE_APIS"),
        ("ALLOWED_ORIGINS", "https://app.example.com/path", "ALLOWED_ORIGINS"),
        ("ALLOWED_ORIGINS", "*", "ALLOWED_ORIGINS"),
    ] {
        assert_eq!(failing_variable(with(name, value)), variable, "{name}={value}");
    }
    let many: Vec<String> = (0..17).map(|i| format!("a{i}=https://a.example.com")).collect();
    assert_eq!(failing_variable(with("REMOTE_APIS", &many.join(","))), "REMOTE_APIS");
    let mut vars = base();
    vars.insert("REMOTE_APIS", "o=https://o.example.com".into());
    for (setting, value) in
        [("TOKEN", "theirs"), ("TIMEOUT_SECONDS", "0"), ("TIMEOUT_SECONDS", "30")]
    {
        let mut v = vars.clone();
        let name: &'static str = Box::leak(format!("REMOTE_API_O_{setting}").into_boxed_str());
        v.insert(name, value.into());
        assert_eq!(failing_variable(parse(&v)), name);
    }
    let mut v = vars.clone();
    v.insert("REMOTE_API_O_TOKEN", "provider".into());
    assert_eq!(failing_variable(parse(&v)), "REMOTE_API_O_TOKEN", "provider without sessions");
    v.insert("SESSION_TABLE", "sessions".into());
    assert!(parse(&v).unwrap().remote.wants_provider_tokens());
}
