//! The AWS clients (Secrets Manager, and DynamoDB for sessions): configured from the standard
//! AWS environment variables, sending through our one HTTP client.
//!
//! In Lambda the runtime sets `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`; a local emulator (moto) adds `AWS_ENDPOINT_URL`, or a service's own
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL_DYNAMODB`. Nothing else is read (no profiles, IMDS, SSO or web
//! identity): `aws-config`'s provider chain, with STS and its own HTTP client, would add a
//! megabyte to every function for a single request per cold start.
//!
//! The SDK's default HTTPS client is a second HTTP stack next to reqwest (its own hyper client,
//! HTTP/2, rustls configuration) that reads every file of `/etc/ssl/certs` at each cold start.
//! [`SdkHttp`] sends the SDK's requests through [`Http`] instead: the same connection pool, TLS
//! configuration (compiled-in web PKI roots, which hold Amazon's) and limits as every provider
//! call.

use std::fmt;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use secrecy::{ExposeSecret as _, SecretString};

use crate::infra::config::{ConfigError, err, parse_url};
use crate::infra::http::{FetchError, Http, TOTAL_TIMEOUT};

/// What the AWS clients need from the environment.
pub struct AwsEnv {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// `AWS_SESSION_TOKEN`, set in Lambda, absent for long-term keys.
    pub session_token: Option<SecretString>,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL` (unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`); `None` means the regional AWS endpoint.
    pub endpoint_url: Option<String>,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, as for Secrets Manager.
    pub dynamodb_endpoint_url: Option<String>,
}

impl fmt::Debug for AwsEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsEnv")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("dynamodb_endpoint_url", &self.dynamodb_endpoint_url)
            .finish_non_exhaustive()
    }
}

impl AwsEnv {
    /// Reads the process environment.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests). Empty values count as unset, as in the SDK.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| {
            get(name).ok_or_else(|| {
                err(name, "not set (the Lambda runtime sets it; locally, export it)")
            })
        };
        let region = match get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
            Some(region) => region,
            None => required("AWS_REGION")?,
        };
        let ignore_endpoints = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let endpoint = |service: &'static str| {
            if ignore_endpoints {
                return Ok(None);
            }
            [service, "AWS_ENDPOINT_URL"]
                .into_iter()
                .find_map(|name| get(name).map(|url| (name, url)))
                // The same rule as every other URL: https, or http on loopback only (signed
                // requests, the secret and the sessions must not cross a network in clear text).
                .map(|(name, url)| parse_url(name, &url).map(|_| url.trim().to_owned()))
                .transpose()
        };
        let endpoint_url = endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER")?;
        let dynamodb_endpoint_url = endpoint("AWS_ENDPOINT_URL_DYNAMODB")?;
        Ok(Self {
            region,
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?.into(),
            session_token: get("AWS_SESSION_TOKEN").map(Into::into),
            endpoint_url,
            dynamodb_endpoint_url,
        })
    }
}

/// The static credentials of `env`.
fn credentials(env: &AwsEnv) -> Credentials {
    Credentials::new(
        env.access_key_id.clone(),
        env.secret_access_key.expose_secret().to_owned(),
        env.session_token.as_ref().map(|t| t.expose_secret().to_owned()),
        None,
        "environment",
    )
}

/// The Secrets Manager client: behavior version latest, static credentials from `env`, requests
/// sent by `http` (its timeouts, its rustls with aws-lc-rs and webpki roots).
pub fn secrets_client(env: &AwsEnv, http: &Http) -> aws_sdk_secretsmanager::Client {
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(env.region.clone()))
        .credentials_provider(credentials(env))
        .http_client(SdkHttp::new(http.clone()));
    if let Some(url) = &env.endpoint_url {
        config = config.endpoint_url(url.clone());
    }
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

/// The DynamoDB client (sessions), configured as [`secrets_client`] is, with every operation
/// bounded at [`TOTAL_TIMEOUT`] retries included: the SDK's standard retries (3 attempts) would
/// otherwise let one table call outlast the refresh lease, which counts each call at that.
pub fn dynamodb_client(env: &AwsEnv, http: &Http) -> aws_sdk_dynamodb::Client {
    let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .operation_timeout(TOTAL_TIMEOUT)
        .build();
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .region(Region::new(env.region.clone()))
        .credentials_provider(credentials(env))
        .http_client(SdkHttp::new(http.clone()));
    if let Some(url) = &env.dynamodb_endpoint_url {
        config = config.endpoint_url(url.clone());
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// [`Http`] as the SDK's HTTP client.
#[derive(Clone)]
pub struct SdkHttp(Http);

impl SdkHttp {
    /// Wraps the client.
    pub fn new(http: Http) -> Self {
        Self(http)
    }
}

impl fmt::Debug for SdkHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkHttp")
    }
}

impl HttpClient for SdkHttp {
    /// The timeouts are [`Http`]'s own (3 s connect, 10 s in all), whatever the SDK asks.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for SdkHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = to_plain(request)?;
            let response = http.send(request).await.map_err(|e| match e {
                FetchError::Timeout => ConnectorError::timeout(e.into()),
                FetchError::Unreachable(_) => ConnectorError::io(e.into()),
                FetchError::TooLarge | FetchError::Other(_) => {
                    ConnectorError::other(e.into(), None)
                }
            })?;
            HttpResponse::try_from(response.map(SdkBody::from))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The SDK's request as a plain `http` request. Secrets Manager's bodies are small JSON held in
/// memory; a streaming body is refused.
fn to_plain(request: HttpRequest) -> Result<http::Request<Vec<u8>>, ConnectorError> {
    let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let body = body
        .bytes()
        .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?
        .to_vec();
    Ok(http::Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{body_string, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::infra::http::{MAX_BODY, http_client};

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    const BASE: [(&str, &str); 3] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];

    #[test]
    fn lambda_environment() {
        let mut vars = BASE.to_vec();
        vars.push(("AWS_SESSION_TOKEN", "token"));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(env.region, "eu-west-1");
        assert_eq!(env.session_token.unwrap().expose_secret(), "token");
        assert_eq!(env.endpoint_url, None);
    }

    #[test]
    fn missing_variables_are_named() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(AwsEnv::from_lookup(lookup(&vars)).unwrap_err().variable, missing);
        }
        let mut vars = BASE.to_vec();
        vars[1] = ("AWS_ACCESS_KEY_ID", "");
        assert_eq!(AwsEnv::from_lookup(lookup(&vars)).unwrap_err().variable, "AWS_ACCESS_KEY_ID");
    }

    #[test]
    fn default_region_is_a_fallback() {
        let mut vars: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != "AWS_REGION").collect();
        vars.push(("AWS_DEFAULT_REGION", "us-east-2"));
        assert_eq!(AwsEnv::from_lookup(lookup(&vars)).unwrap().region, "us-east-2");
    }

    #[test]
    fn service_endpoint_wins_over_global_one() {
        let mut vars = BASE.to_vec();
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:1"));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(env.endpoint_url.as_deref(), Some("http://127.0.0.1:1"));
        vars.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2"));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(env.endpoint_url.as_deref(), Some("http://127.0.0.1:2"));
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        assert_eq!(AwsEnv::from_lookup(lookup(&vars)).unwrap().endpoint_url, None);
    }

    #[test]
    fn malformed_or_clear_text_endpoints_are_named() {
        for bad in ["localhost:4566", "http://moto.internal:5000", "https://user:pw@example.com"] {
            let mut vars = BASE.to_vec();
            vars.push(("AWS_ENDPOINT_URL", bad));
            let err = AwsEnv::from_lookup(lookup(&vars)).unwrap_err();
            assert_eq!(err.variable, "AWS_ENDPOINT_URL", "{bad}");
        }
        let mut vars = BASE.to_vec();
        vars.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://secretsmanager.example.com"));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(env.endpoint_url.as_deref(), Some("https://secretsmanager.example.com"));
    }

    /// The whole path: SDK config, our connector, SigV4, the JSON protocol, against a mock.
    #[tokio::test]
    async fn get_secret_value_through_reqwest() {
        use wiremock::matchers::{header, header_exists, method};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "secretsmanager.GetSecretValue"))
            .and(header_exists("authorization"))
            .and(header_exists("x-amz-security-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/x-amz-json-1.1")
                    .set_body_string(r#"{"Name":"s","SecretString":"hello"}"#),
            )
            .expect(1)
            .mount(&server)
            .await;
        let mut vars = BASE.to_vec();
        vars.push(("AWS_SESSION_TOKEN", "token"));
        let uri = server.uri();
        vars.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", &uri));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        let http = crate::infra::http::http_client().unwrap();
        let out =
            secrets_client(&env, &http).get_secret_value().secret_id("s").send().await.unwrap();
        assert_eq!(out.secret_string(), Some("hello"));
    }

    #[tokio::test]
    async fn service_errors_come_back_as_errors() {
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(
                ResponseTemplate::new(400)
                    .insert_header("content-type", "application/x-amz-json-1.1")
                    .set_body_string(
                        r#"{"__type":"ResourceNotFoundException","message":"no such secret"}"#,
                    ),
            )
            .mount(&server)
            .await;
        let mut vars = BASE.to_vec();
        let uri = server.uri();
        vars.push(("AWS_ENDPOINT_URL", &uri));
        let env = AwsEnv::from_lookup(lookup(&vars)).unwrap();
        let http = crate::infra::http::http_client().unwrap();
        let err = secrets_client(&env, &http).get_secret_value().secret_id("s").send().await;
        let err = err.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
    }

    fn request(uri: &str, body: SdkBody) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("x-amz-target", "secretsmanager.GetSecretValue")
            .body(body)
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    #[tokio::test]
    async fn sends_the_sdks_request_and_hands_back_the_answer() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", "secretsmanager.GetSecretValue"))
            .and(body_string("{\"SecretId\":\"s\"}"))
            .respond_with(
                ResponseTemplate::new(400)
                    .insert_header("x-amzn-requestid", "r1")
                    .set_body_string("{}"),
            )
            .expect(1)
            .mount(&server)
            .await;
        let sdk = SdkHttp::new(http_client().unwrap());
        let response = sdk
            .call(request(&format!("{}/", server.uri()), SdkBody::from("{\"SecretId\":\"s\"}")))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r1"));
        assert_eq!(response.body().bytes(), Some(&b"{}"[..]));
    }

    #[tokio::test]
    async fn refuses_oversized_answers_and_reports_unreachable_endpoints() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; MAX_BODY + 1]))
            .mount(&server)
            .await;
        let sdk = SdkHttp::new(http_client().unwrap());
        let err = sdk.call(request(&server.uri(), SdkBody::empty())).await.unwrap_err();
        assert!(err.is_other(), "{err:?}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err =
            sdk.call(request(&format!("http://{closed}/"), SdkBody::empty())).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
    }
}
