//! A test's stack: the launcher's ([`stack::Stack`], `dev/stack`) started or the test fails,
//! its logs in `target/e2e/<name>/`, with what tests ask of it beside.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use base64::Engine as _;
use secrecy::ExposeSecret as _;
use serde_json::Value;
use stack::{Moto, Options};

use crate::{CLIENT_ID, client, flows, get_json};

/// A running stack; dropping it (at the end of the test, or on its panic) stops everything.
pub struct Stack(stack::Stack);

impl Deref for Stack {
    type Target = stack::Stack;
    fn deref(&self) -> &stack::Stack {
        &self.0
    }
}

impl DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut stack::Stack {
        &mut self.0
    }
}

/// `target/e2e/<name>/`: where test `name`'s services log.
pub fn logs_dir(name: &str) -> PathBuf {
    stack::root().join("target/e2e").join(name)
}

/// A moto of its own for test `name` (logs in [`logs_dir`], emptied first).
pub async fn moto(name: &str) -> Moto {
    let logs = logs_dir(name);
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    Moto::start(&logs, 0).await.unwrap_or_else(|e| panic!("{e}"))
}

impl Stack {
    /// Starts what `options` asks for (logs in [`logs_dir`]).
    ///
    /// A service that exits before it answers is started again with the whole stack, on
    /// fresh ports, up to twice: a port picked free can be taken by another test's server
    /// before ours binds it (every test starts stacks on free loopback ports at once).
    pub async fn start(name: &str, options: Options) -> Self {
        let options = Options { logs: Some(logs_dir(name)), ..options };
        let mut attempt = 1;
        loop {
            match stack::Stack::start(name, options.clone()).await {
                Ok(stack) => return Self(stack),
                Err(e @ stack::StackError::NotUp { exited: true, .. }) if attempt < 3 => {
                    eprintln!("{name}: start {attempt} failed, starting again: {e}");
                    attempt += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Stops every function and starts them again: the next requests meet fresh cold starts.
    pub async fn restart_functions(&mut self) {
        self.0.restart_functions().await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Every item of the session table, as DynamoDB's typed JSON text: a test looks in it for
    /// values that must never be stored in clear (handles, tokens).
    pub fn scan_sessions(&self) -> String {
        self.0.scan_sessions().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The session table as moto describes it.
    pub fn describe_session_table(&self) -> Value {
        self.0.describe_session_table().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The provider's tokens held for session `sid` (our JWT's `sid` claim), opened with the
    /// session key this stack's secret derives: what only the functions can read.
    pub fn session_provider_tokens(&self, sid: &str) -> shared::ProviderTokens {
        let items: Vec<Value> = serde_json::from_str(&self.scan_sessions()).unwrap();
        let item = items.iter().find(|i| i["h"]["S"] == sid).expect("the session item");
        let secret = shared::Secret::from_json(self.secret.expose_secret()).unwrap();
        let (_, _, cookie_keys) = secret.into_parts();
        let keys = shared::SessionKeys::derive(&cookie_keys).unwrap();
        let sealed =
            base64::engine::general_purpose::STANDARD.decode(item["tok"]["B"].as_str().unwrap());
        let sealed = sealed.unwrap();
        shared::ProviderTokens::open(&sealed, &keys, item["h"]["S"].as_str().unwrap()).unwrap()
    }

    /// The session item's version: how many refresh grants it has seen.
    pub fn session_version(&self, sid: &str) -> u64 {
        let items: Vec<Value> = serde_json::from_str(&self.scan_sessions()).unwrap();
        let item = items.iter().find(|i| i["h"]["S"] == sid).expect("the session item");
        item["ver"]["N"].as_str().unwrap().parse().unwrap()
    }

    /// A refresh grant sent straight to the provider's token endpoint as our client, bypassing
    /// the functions: its status and the error code of a refusal.
    pub async fn provider_refresh_grant(&self, refresh_token: &str) -> (u16, Option<String>) {
        let http = client();
        let discovery =
            get_json(&http, &format!("{}/.well-known/openid-configuration", self.issuer())).await;
        let resp = http
            .post(discovery["token_endpoint"].as_str().unwrap())
            .basic_auth(CLIENT_ID, Some(&self.client_secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or_default();
        (status, body["error"].as_str().map(str::to_owned))
    }

    /// `POST /api/refresh` with the session handle cookie `handle` (`name=value`) and
    /// `X-CSRF: 1`, as the app sends it: the status and the JSON body (`null` when none).
    pub async fn refresh(&self, http: &reqwest::Client, handle: &str) -> (u16, Value) {
        let resp = flows::post_with_handle(self, http, "refresh", "/api/refresh", handle).await;
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// The functions logged at `TRACE` (the runtime and our crates), and no line holds any of
    /// `values` (tokens, cookie values, codes) nor any value of the stack's secret.
    pub fn assert_log_holds_none(&self, values: &[&str]) {
        let log = self.log("functions");
        // In the text log format or in Lambda's JSON one.
        let at_trace = log.contains("log levels ours=trace")
            || log
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|l| l["fields"]["message"] == "log levels" && l["fields"]["ours"] == "trace");
        assert!(at_trace, "the functions did not run at TRACE:\n{log}");
        let secret = self.secret_material();
        let secrets = secret.iter().map(String::as_str);
        for (i, value) in values.iter().copied().chain(secrets).enumerate() {
            assert!(value.len() >= 8, "value {i} is too short to look for");
            if let Some(n) = log.lines().position(|l| l.contains(value)) {
                panic!("line {} of functions.log holds value {i}", n + 1);
            }
        }
    }

    /// Every secret value of the stack's secret: the client secrets, each cookie key, and each
    /// signing and client key's PEM body line by line (a log could hold any of them).
    fn secret_material(&self) -> Vec<String> {
        let doc: Value = serde_json::from_str(self.secret.expose_secret()).unwrap();
        let mut values = vec![doc["client_secret"].as_str().unwrap().to_owned()];
        let others = doc["client_secrets"].as_object().into_iter().flatten();
        values.extend(others.filter_map(|(_, v)| v.as_str()).map(str::to_owned));
        let cookie_keys = doc["cookie_keys"].as_array().into_iter().flatten();
        values.extend(cookie_keys.filter_map(Value::as_str).map(str::to_owned));
        let client_keys = doc["client_keys"].as_object().into_iter().flatten();
        let client_keys = client_keys.flat_map(|(_, keys)| keys.as_array().into_iter().flatten());
        for key in doc["signing_keys"].as_array().into_iter().flatten().chain(client_keys) {
            let pem = key["private_key_pem"].as_str().unwrap();
            // The base64 lines (64 characters each, the last one shorter); not the armour.
            values.extend(
                pem.lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).map(str::to_owned),
            );
        }
        values.retain(|v| !v.is_empty());
        values
    }

    /// The functions' metric lines (CloudWatch embedded metric format objects in their log).
    pub fn metric_lines(&self) -> Vec<Value> {
        self.log("functions")
            .lines()
            .filter(|l| l.starts_with('{') && l.contains("\"_aws\""))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}
