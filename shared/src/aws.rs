//! The AWS SDK over our one HTTP client.
//!
//! The SDK's default HTTPS client is a second HTTP stack next to reqwest (its own hyper
//! client, HTTP/2, rustls configuration) that reads every file of `/etc/ssl/certs` at each cold
//! start. Secrets Manager is one request per cold start, so the SDK here sends it through
//! [`Http`]: the same connection pool, TLS configuration (compiled-in web PKI roots, which
//! hold Amazon's) and limits as every provider call.

use std::fmt;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::provider::{FetchError, Http};

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

/// A Secrets Manager client over `http`. Endpoint, region and credentials come from the SDK's
/// standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
/// the credentials Lambda sets, or a profile), so a local emulator needs no code of its own.
pub async fn secrets_manager(http: &Http) -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(SdkHttp::new(http.clone()))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{body_string, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::provider::{MAX_BODY, http_client};

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
