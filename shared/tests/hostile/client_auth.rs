//! Providers hostile to a client that authenticates by `private_key_jwt` and binds its tokens
//! with DPoP: one that answers a DPoP request with a `Bearer` token, one that asks for a nonce
//! on every request, and one that refuses any assertion it has seen before.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use shared::Flow;
use shared::keygen::{KeyAlg, signing_key_pem};
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, Rp, key};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request as Received, Respond, ResponseTemplate};

/// A secret with no client secret at all: our signing key, a cookie key, one client key.
fn secret() -> String {
    let pem = |alg| signing_key_pem(alg).unwrap().expose_secret().to_owned();
    json!({
        "signing_keys": [{"kid": "ours-1", "private_key_pem": pem(KeyAlg::Es256)}],
        "cookie_keys": [STANDARD.encode([1u8; 32])],
        "client_keys": {"default": [{"kid": "client-1", "alg": "ES256", "private_key_pem": pem(KeyAlg::Es256)}]},
    })
    .to_string()
}

/// A provider announcing private_key_jwt and DPoP, and our deployment against it.
async fn provider() -> (FakeProvider, Rp) {
    let extra = json!({
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "dpop_signing_alg_values_supported": ["ES256"],
    });
    let provider = FakeProvider::start_with(key("idp-1", KeyAlg::Rs256), extra).await;
    provider.serve_jwks(&[&provider.key], None).await;
    let overrides =
        [("OIDC_CLIENT_AUTH", "private_key_jwt"), ("OIDC_DPOP", "on"), ("OIDC_USERINFO", "false")];
    let state = provider.state(&secret(), &overrides).await;
    (provider, state)
}

/// The claims of a compact JWS, unverified (the provider's view of what it received).
fn claims(jws: &str) -> Value {
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn form(request: &Received) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

#[tokio::test]
async fn a_dpop_request_answered_with_a_bearer_token_is_refused() {
    let (provider, state) = provider().await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    // The provider ignored the proof: its token is not bound, and could be replayed by anyone.
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 502, "token_exchange_failed");
    // What it received: a proof of the token endpoint, and an assertion, never a secret.
    let received = provider.server.received_requests().await.unwrap();
    let token = received.iter().find(|r| r.url.path() == "/token").unwrap();
    let proof = claims(token.headers["dpop"].to_str().unwrap());
    assert_eq!(
        (proof["htm"].as_str(), proof["htu"].as_str()),
        (Some("POST"), Some(format!("{}/token", provider.issuer()).as_str()))
    );
    let fields = form(token);
    assert!(fields.contains_key("client_assertion") && !fields.contains_key("client_secret"));
}

/// A token endpoint that wants a new nonce on the first request of each kind, refuses an
/// assertion whose `jti` it has seen (`invalid_client`), and otherwise answers a DPoP token.
struct Strict {
    id_token: String,
    seen: Arc<Mutex<HashSet<String>>>,
    nonces: Arc<Mutex<u32>>,
}

impl Respond for Strict {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        let fields = form(request);
        let jti = claims(&fields["client_assertion"])["jti"].as_str().unwrap().to_owned();
        if !self.seen.lock().unwrap().insert(jti) {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        let proof = claims(request.headers["dpop"].to_str().unwrap());
        let mut issued = self.nonces.lock().unwrap();
        let current = format!("nonce-{issued}");
        if proof["nonce"].as_str() != Some(current.as_str()) {
            *issued += 1;
            return ResponseTemplate::new(400)
                .insert_header("dpop-nonce", format!("nonce-{issued}").as_str())
                .set_body_json(json!({"error": "use_dpop_nonce"}));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "DPoP", "expires_in": 3600,
            "id_token": self.id_token, "refresh_token": "provider-refresh-token",
        }))
    }
}

#[tokio::test]
async fn a_nonce_is_fetched_once_and_no_assertion_is_ever_sent_twice() {
    let (provider, state) = provider().await;
    let started = begin(&state, Flow::Spa, None);
    let id_token = provider.id_token(&provider.claims(&started.nonce, ACCESS_TOKEN));
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let strict = Strict { id_token, seen: seen.clone(), nonces: Arc::new(Mutex::new(0)) };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(strict)
        .mount(&provider.server)
        .await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let received = provider.server.received_requests().await.unwrap();
    let tokens: Vec<_> = received.iter().filter(|r| r.url.path() == "/token").collect();
    // The first request learned the nonce; the second carried it with a fresh assertion and a
    // fresh proof. Never a third.
    assert_eq!(tokens.len(), 2);
    assert_eq!(seen.lock().unwrap().len(), 2, "every assertion was new");
    let proofs: Vec<Value> =
        tokens.iter().map(|r| claims(r.headers["dpop"].to_str().unwrap())).collect();
    assert_eq!((proofs[0].get("nonce"), proofs[1]["nonce"].as_str()), (None, Some("nonce-1")));
    assert_ne!(proofs[0]["jti"], proofs[1]["jti"]);
    assert_eq!(form(tokens[0])["code"], form(tokens[1])["code"], "the same code, sent twice");
}

#[tokio::test]
async fn a_provider_that_asks_for_a_new_nonce_every_time_gets_one_retry_then_an_error() {
    let (provider, state) = provider().await;
    let started = begin(&state, Flow::Spa, None);
    let count = Arc::new(Mutex::new(0u32));
    let counted = count.clone();
    let answer = move |_: &Received| {
        let mut n = counted.lock().unwrap();
        *n += 1;
        ResponseTemplate::new(400)
            .insert_header("dpop-nonce", format!("always-new-{n}").as_str())
            .set_body_json(json!({"error": "use_dpop_nonce"}))
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(answer)
        .mount(&provider.server)
        .await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_refused(&resp, 502, "token_exchange_failed");
    assert_eq!(*count.lock().unwrap(), 2, "one retry, never a loop");
}
