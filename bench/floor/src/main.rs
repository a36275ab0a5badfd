//! The floor of a cold start, for the cold-start harness (bench/coldstart): what any function
//! with the callback's needs must do before its first `/next`, and nothing else.
//!
//! It execs, builds a reqwest client with the same TLS stack as ours (rustls, aws-lc-rs, the web
//! PKI roots and `EXTRA_CA_CERTS`), sends the callback's three outbound requests to the same
//! emulators (Secrets Manager's `GetSecretValue`, unsigned as moto accepts it, while the
//! provider's discovery document and then its JWKS are fetched), reads the answers without
//! parsing them beyond `jwks_uri`, and asks the Runtime API for its first event. Then it
//! answers every event with a fixed `200`. Our functions' init divided by this one's is how far
//! from the floor they are: what is left is configuration, key parsing, the SDK's signing and
//! our own work.
//!
//! With `FLOOR=runtime` it skips the three fetches: exec, the client and the Runtime API loop
//! alone, the runtime-only no-op beside the peers' (bench/peers/*/noop). With `FLOOR=secret`
//! it fetches the secret alone: the floor of a function that needs no provider at cold start
//! (the proxy with only `ours`-mode remote APIs).

use std::error::Error;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn var(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(path) = std::env::var_os("EXTRA_CA_CERTS").filter(|p| !p.is_empty()) {
        for cert in reqwest::Certificate::from_pem_bundle(&std::fs::read(path)?)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    let http = builder.build()?;
    match std::env::var("FLOOR").as_deref() {
        Ok("runtime") => {}
        Ok("secret") => {
            secret(&http).await?;
        }
        _ => fetch(&http).await?,
    }
    serve(&http).await
}

/// The callback's three outbound requests: the secret while discovery, then the JWKS.
async fn fetch(http: &reqwest::Client) -> Result<()> {
    let issuer = var("OIDC_ISSUER")?;
    let keys = async {
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let doc: serde_json::Value =
            http.get(discovery).send().await?.error_for_status()?.json().await?;
        let jwks = doc["jwks_uri"].as_str().ok_or("the discovery document has no jwks_uri")?;
        let resp = http.get(jwks).send().await?.error_for_status()?;
        Ok::<_, Box<dyn Error + Send + Sync>>(resp.bytes().await?.len())
    };
    let (secret, keys) = tokio::join!(secret(http), keys);
    let (_, _) = (secret?, keys?);
    Ok(())
}

/// Secrets Manager's `GetSecretValue` for `SECRET_ID`, unsigned as moto accepts it: the
/// answer's size.
async fn secret(http: &reqwest::Client) -> Result<usize> {
    let (aws, secret_id) = (var("AWS_ENDPOINT_URL")?, var("SECRET_ID")?);
    let body = serde_json::json!({ "SecretId": secret_id }).to_string();
    let credential = "floor/20260101/us-east-1/secretsmanager/aws4_request";
    let resp = http
        .post(&aws)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "secretsmanager.GetSecretValue")
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"),
        )
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.bytes().await?.len())
}

/// The Runtime API loop: a fixed `200` for every event.
async fn serve(http: &reqwest::Client) -> Result<()> {
    let api = format!("http://{}/2018-06-01/runtime/invocation", var("AWS_LAMBDA_RUNTIME_API")?);
    loop {
        let next = http.get(format!("{api}/next")).send().await?.error_for_status()?;
        let id = next
            .headers()
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .ok_or("an event without a request id")?
            .to_owned();
        let _ = next.bytes().await?;
        let answer =
            r#"{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{}"}"#;
        http.post(format!("{api}/{id}/response")).body(answer).send().await?.error_for_status()?;
    }
}
