//! AWS clients built as the functions build theirs, with dummy credentials: for moto at an
//! endpoint, or for a session table that never connects.

use std::time::Duration;

use crate::infra::aws::{AwsEnv, dynamodb_client, secrets_client};
use crate::infra::config::SessionSettings;
use crate::infra::http::http_client;
use crate::sessions::{SessionKeys, Sessions};
use crate::tokens::secret::Secret;

/// The AWS environment in `us-east-1` with dummy credentials, sending to `endpoint` (a local
/// emulator, moto) when one is given.
fn aws_env(endpoint: Option<&str>) -> AwsEnv {
    AwsEnv::from_lookup(|name| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
        "AWS_ENDPOINT_URL" => endpoint.map(str::to_owned),
        _ => None,
    })
    .unwrap()
}

/// A Secrets Manager client for moto (or any endpoint) at `endpoint`, built as the functions
/// build theirs ([`crate::infra::aws::secrets_client`]), with dummy credentials.
pub fn secrets_client_at(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    secrets_client(&aws_env(Some(endpoint)), &http_client().unwrap())
}

/// A DynamoDB client for moto at `endpoint`, built as the functions build theirs
/// ([`crate::infra::aws::dynamodb_client`]), with dummy credentials.
pub fn dynamodb_client_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    dynamodb_client(&aws_env(Some(endpoint)), &http_client().unwrap())
}

/// A session table whose client never connects, sealing with the session keys of `secret`'s
/// cookie keys and the default limits: for what needs no I/O (an item made and decoded).
pub fn offline_sessions(secret: &str) -> Sessions {
    let client = dynamodb_client(&aws_env(None), &http_client().unwrap());
    let settings = SessionSettings {
        table: "offline".to_owned(),
        max_age: Duration::from_secs(43_200),
        idle: Duration::from_secs(3_600),
        strict: false,
        max_per_user: 50,
        renew_margin: Duration::from_secs(60),
    };
    let keys = SessionKeys::derive(Secret::from_json(secret).unwrap().cookie_keys());
    Sessions::new(client, settings, keys.unwrap())
}
