//! Pushed authorization requests against a provider on wiremock: what is pushed, what the
//! browser gets, and every way a PAR endpoint can fail a login.

use std::collections::HashMap;

use http::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::error::Error;
use crate::functions::login::Login;
use crate::functions::start::{ColdStart as _, Discovered, Fetch as _, StartError};
use crate::keygen::KeyAlg;
use crate::testing::{CLIENT_ID, FakeProvider, SPA_REDIRECT, key, secret_json};
use crate::tokens::transaction::Flow;
use crate::unix_now;

/// A provider announcing a PAR endpoint (and `extra`, where `{issuer}` in a URL stands for the
/// provider's own), and a login function against it.
async fn provider(
    extra: Value,
    overrides: &[(&'static str, &str)],
) -> (FakeProvider, Result<Login, StartError>) {
    let mut doc = json!({"pushed_authorization_request_endpoint": "{issuer}/par"});
    if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
        doc.extend(extra);
    }
    // The endpoints' URLs are the server's own, known once it runs: discovery is mounted again.
    let fake = FakeProvider::start_with(key("idp-1", KeyAlg::Rs256), json!({})).await;
    let mut discovery = fake.discovery();
    if let Value::Object(d) = &mut discovery {
        for (k, v) in doc.as_object().unwrap() {
            let v = match v.as_str() {
                Some(url) => json!(url.replace("{issuer}", &fake.issuer())),
                None => v.clone(),
            };
            d.insert(k.clone(), v);
        }
    }
    fake.server.reset().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
        .mount(&fake.server)
        .await;
    let parts = fake.parts(&secret_json(KeyAlg::Es256, 1), overrides);
    let built = match Discovered::fetch(&parts.http, &parts.config).await {
        Ok(fetched) => Login::build(parts, fetched),
        Err(e) => Err(e),
    };
    (fake, built)
}

async fn answer(fake: &FakeProvider, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path("/par"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&fake.server)
        .await;
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn a_login_pushes_every_parameter_and_the_browser_gets_only_client_id_and_request_uri() {
    let (fake, login) = provider(json!({}), &[]).await;
    let login = login.unwrap();
    let request_uri = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c";
    answer(&fake, 201, json!({"request_uri": request_uri, "expires_in": 60})).await;
    let start = login.start(Flow::Spa, None, Some("/app"), unix_now()).await.unwrap();
    let url = &start.authorize_url;
    assert!(url.as_str().starts_with(&format!("{}/authorize?", fake.issuer())), "{url}");
    let q = query(url);
    assert_eq!(q.len(), 2, "{url}");
    assert_eq!((q["client_id"].as_str(), q["request_uri"].as_str()), (CLIENT_ID, request_uri));

    // What was pushed: the whole request, with the client authenticated (Basic, by discovery's
    // default), over the back channel.
    let received = fake.server.received_requests().await.unwrap();
    let pushed: Vec<_> = received.iter().filter(|r| r.url.path() == "/par").collect();
    assert_eq!(pushed.len(), 1);
    let form: HashMap<String, String> =
        url::form_urlencoded::parse(&pushed[0].body).into_owned().collect();
    for name in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ] {
        assert!(form.contains_key(name), "{name} not pushed: {form:?}");
    }
    assert_eq!(form["redirect_uri"], SPA_REDIRECT);
    assert_eq!(form["code_challenge_method"], "S256");
    assert!(
        pushed[0].headers.get("authorization").unwrap().to_str().unwrap().starts_with("Basic ")
    );
    assert!(!form.contains_key("client_secret"));
    // The transaction cookie is set as without PAR: the callback is the same.
    assert!(start.set_cookie.starts_with("__Host-oidc-tx-"), "{}", start.set_cookie);
}

#[tokio::test]
async fn a_par_endpoint_that_refuses_or_answers_nonsense_fails_the_login_with_par_failed() {
    let long = format!("urn:ietf:params:oauth:request_uri:{}", "a".repeat(600));
    let cases: Vec<(u16, Value)> = vec![
        (400, json!({"error": "invalid_request", "error_description": "secret=abc"})),
        (401, json!({"error": "invalid_client"})),
        (500, json!("oops")),
        (201, json!({"expires_in": 60})),
        (201, json!({"request_uri": 42, "expires_in": 60})),
        (201, json!({"request_uri": "", "expires_in": 60})),
        (201, json!({"request_uri": "/relative", "expires_in": 60})),
        (201, json!({"request_uri": "javascript:alert(1)", "expires_in": 60})),
        (201, json!({"request_uri": "urn:x:with space", "expires_in": 60})),
        (201, json!({"request_uri": "http://idp.example/r/1", "expires_in": 60})),
        (201, json!({"request_uri": long, "expires_in": 60})),
        (201, json!({"request_uri": "urn:ietf:params:oauth:request_uri:1"})),
        (201, json!({"request_uri": "urn:ietf:params:oauth:request_uri:1", "expires_in": 0})),
        (201, json!({"request_uri": "urn:ietf:params:oauth:request_uri:1", "expires_in": 86400})),
        (201, json!({"request_uri": "urn:ietf:params:oauth:request_uri:1", "expires_in": "60"})),
        (302, json!({})),
    ];
    for (status, body) in cases {
        let (fake, login) = provider(json!({}), &[]).await;
        let login = login.unwrap();
        answer(&fake, status, body.clone()).await;
        let err = login.start(Flow::Spa, None, None, unix_now()).await.unwrap_err();
        assert!(matches!(err, Error::ParFailed(_)), "{status} {body}: {err:?}");
        assert_eq!((err.status().as_u16(), err.code()), (502, "par_failed"));
        // Nothing of the provider's words, beyond a sanitized error code, is kept.
        assert!(!format!("{err}").contains("secret=abc"), "{err}");
        // Over HTTP: the JSON error, and no transaction cookie.
        let req = crate::testing::request(&Method::GET, "/api/login");
        let resp = crate::web::routes::serve(&login, &req, unix_now()).await.into_http();
        assert_eq!(resp.status(), 502);
        assert!(resp.body().contains("\"par_failed\""), "{}", resp.body());
        assert!(resp.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn oidc_par_decides_with_discovery_and_a_contradiction_stops_the_cold_start() {
    // auto: pushed when announced (above); not when the provider announces no endpoint.
    let fake = FakeProvider::start().await;
    let login: Login = fake.function(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let start = login.start(Flow::Spa, None, None, unix_now()).await.unwrap();
    assert!(query(&start.authorize_url).contains_key("code_challenge"));
    // on, without an endpoint: refused, naming the setting.
    let parts = fake.parts(&secret_json(KeyAlg::Es256, 1), &[("OIDC_PAR", "on")]);
    let fetched = Discovered::fetch(&parts.http, &parts.config).await.unwrap();
    let err = Login::build(parts, fetched).unwrap_err().to_string();
    assert!(err.contains("OIDC_PAR is on"), "{err}");
    // off, at a provider that requires PAR: refused.
    let (_, login) =
        provider(json!({"require_pushed_authorization_requests": true}), &[("OIDC_PAR", "off")])
            .await;
    let err = login.unwrap_err().to_string();
    assert!(err.contains("OIDC_PAR is off"), "{err}");
    // off, at a provider that offers it: not pushed.
    let (fake, login) = provider(json!({}), &[("OIDC_PAR", "off")]).await;
    let start = login.unwrap().start(Flow::Spa, None, None, unix_now()).await.unwrap();
    assert!(query(&start.authorize_url).contains_key("code_challenge"));
    let received = fake.server.received_requests().await.unwrap();
    assert!(received.iter().all(|r| r.url.path() != "/par"));
}

#[tokio::test]
async fn the_authorization_endpoints_own_query_stays_in_the_browsers_url() {
    let endpoint = json!({"authorization_endpoint": "{issuer}/authorize?p=b2c_1_signin"});
    let (fake, login) = provider(endpoint, &[]).await;
    let login = login.unwrap();
    answer(
        &fake,
        201,
        json!({"request_uri": "urn:ietf:params:oauth:request_uri:x1", "expires_in": 60}),
    )
    .await;
    let start = login.start(Flow::Spa, None, None, unix_now()).await.unwrap();
    let names: Vec<String> =
        start.authorize_url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["p", "client_id", "request_uri"], "{}", start.authorize_url);
}
