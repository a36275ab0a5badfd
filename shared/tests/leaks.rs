//! No leaks: hostile cases run while the logs are captured; neither the logs nor the responses
//! may show the client secret, a private key, a cookie key or a provider token. A binary of its
//! own, so its log capture is the process-wide subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::Method;
use secrecy::ExposeSecret as _;
use serde_json::json;
use shared::Flow;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{CLIENT_SECRET, FakeProvider};
use wiremock::ResponseTemplate;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_or_token_in_any_log_line_or_response() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let pem = shared::keygen::signing_key_pem(KeyAlg::Es256).unwrap();
    let secret = json!({
        "client_secret": CLIENT_SECRET,
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem.expose_secret()}],
        "cookie_keys": [base64::engine::general_purpose::STANDARD.encode([0x5a; 32])],
    })
    .to_string();
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret, &[]).await;
    let mut responses = String::new();
    let mut id_tokens = Vec::new();

    // A success, then hostile answers from the provider and the browser.
    type Answer = Box<dyn Fn(&str) -> ResponseTemplate>;
    let answers: Vec<Answer> = vec![
        Box::new(|id| FakeProvider::token_response(id, ACCESS_TOKEN)),
        Box::new(|_| {
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": format!("secret {CLIENT_SECRET}")}))
        }),
        Box::new(|id| {
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": ACCESS_TOKEN, "token_type": "DPoP", "id_token": id}),
            )
        }),
        Box::new(|_| {
            ResponseTemplate::new(500).set_body_string(format!("<pre>{ACCESS_TOKEN}</pre>"))
        }),
    ];
    for answer in answers {
        let s = begin(&state, Flow::Spa, None);
        let id = provider.id_token(&provider.claims(&s.nonce, ACCESS_TOKEN));
        id_tokens.push(id.clone());
        wiremock::Mock::given(wiremock::matchers::path("/token"))
            .respond_with(answer(&id))
            .up_to_n_times(1)
            .mount(&provider.server)
            .await;
        wiremock::Mock::given(wiremock::matchers::path("/userinfo"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sub": "alice"})))
            .up_to_n_times(1)
            .mount(&provider.server)
            .await;
        let resp = spa_get(&state, &s, &ok_query(&provider, &s)).await;
        responses.push_str(&format!("{:?}{}", resp.headers(), resp.body()));
        let tampered = call(
            &state,
            Method::GET,
            "/api/callback",
            Some(&ok_query(&provider, &s)),
            b"",
            Some(&s.cookie_with("AAAA")),
        )
        .await;
        responses.push_str(tampered.body());
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refused") && logs.contains("served"), "the logs were captured:\n{logs}");
    let cookie_key = base64::engine::general_purpose::STANDARD.encode([0x5a; 32]);
    let pem_body = pem.expose_secret().lines().nth(1).unwrap().to_owned();
    let mut forbidden = vec![
        CLIENT_SECRET.to_owned(),
        ACCESS_TOKEN.to_owned(),
        "provider-refresh-token".into(),
        cookie_key,
        pem_body,
        "PRIVATE KEY".into(),
    ];
    forbidden.extend(id_tokens);
    for needle in &forbidden {
        assert!(!logs.contains(needle.as_str()), "the logs show {needle}:\n{logs}");
        assert!(!responses.contains(needle.as_str()), "a response shows {needle}");
    }
}
