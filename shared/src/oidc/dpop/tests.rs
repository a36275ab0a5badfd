//! DPoP proofs and the nonce dance, against a provider on wiremock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::json;
use wiremock::{Mock, MockServer, Request as Received, Respond, ResponseTemplate};

use super::*;
use crate::infra::http::http_client;

/// The proof's claims, its signature checked with the key its header embeds.
fn opened(proof: &str) -> (jsonwebtoken::Header, Value) {
    let header = decode_header(proof).unwrap();
    assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
    assert_eq!(header.alg, Algorithm::ES256);
    let jwk = header.jwk.clone().expect("the public key in the header");
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = decode::<Value>(proof, &key, &validation).unwrap().claims;
    (header, claims)
}

#[test]
fn a_proof_names_method_and_uri_without_query_and_fragment_and_hashes_the_token() {
    let key = DpopKey::generate().unwrap();
    let proof =
        key.proof("POST", "https://idp.example.com/token?x=1#frag", None, None, 1_000).unwrap();
    let (header, claims) = opened(&proof);
    let jwk = serde_json::to_value(header.jwk.unwrap()).unwrap();
    assert!(jwk.get("d").is_none(), "no private part in the proof");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://idp.example.com/token");
    assert_eq!(claims["iat"], 1_000);
    assert!(claims.get("ath").is_none() && claims.get("nonce").is_none());
    let again =
        opened(&key.proof("POST", "https://idp.example.com/token", None, None, 1_000).unwrap()).1;
    assert_ne!(claims["jti"], again["jti"], "a fresh jti per proof");

    // A resource request: ath is the base64url SHA-256 of the token (RFC 9449 section 4.2).
    let (_, claims) = opened(
        &key.proof("GET", "https://api.example.com/me", Some("at-1"), Some("n-1"), 5).unwrap(),
    );
    let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, b"at-1"));
    assert_eq!(
        (claims["ath"].as_str(), claims["nonce"].as_str()),
        (Some(ath.as_str()), Some("n-1"))
    );
    assert!(key.proof("GET", "not a url", None, None, 5).is_err());
    assert!(key.proof("GET", "ftp://x/y", None, None, 5).is_err());
}

#[test]
fn the_key_survives_the_session_item_and_its_thumbprint_is_rfc_7638() {
    let key = DpopKey::generate().unwrap();
    let stored = key.to_stored();
    let back = DpopKey::from_stored(&stored).unwrap();
    assert_eq!(back.thumbprint(), key.thumbprint());
    // RFC 7638 section 3.1's canonical JSON of this key, hashed here by hand.
    let canonical = json!({"crv": "P-256", "kty": "EC", "x": key.jwk["x"], "y": key.jwk["y"]});
    let expected = URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.to_string().as_bytes()));
    assert_eq!(key.thumbprint(), expected);
    assert!(DpopKey::from_stored(&SecretString::from("bm90IGEga2V5")).is_err());
    assert!(!format!("{key:?}").contains(stored.expose_secret()));
    // A session without a key (or with one that no longer parses) gets a fresh one; none when
    // the provider's tokens are not bound.
    assert!(DpopKey::of_session(false, Some(&stored)).unwrap().is_none());
    let kept = DpopKey::of_session(true, Some(&stored)).unwrap().unwrap();
    assert_eq!(kept.thumbprint(), key.thumbprint());
    let fresh = DpopKey::of_session(true, Some(&SecretString::from("%%%"))).unwrap().unwrap();
    assert_ne!(fresh.thumbprint(), key.thumbprint());
}

/// Answers `use_dpop_nonce` (in the style of `status`) to every request, giving a new nonce
/// each time, and counts them.
struct AlwaysNonce(Arc<AtomicUsize>, u16);

impl Respond for AlwaysNonce {
    fn respond(&self, _: &Received) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let nonce = format!("nonce-{n}");
        match self.1 {
            400 => ResponseTemplate::new(400)
                .insert_header(DPOP_NONCE, nonce.as_str())
                .set_body_json(json!({"error": "use_dpop_nonce"})),
            _ => ResponseTemplate::new(401)
                .insert_header(DPOP_NONCE, nonce.as_str())
                .insert_header("www-authenticate", r#"DPoP error="use_dpop_nonce""#),
        }
    }
}

fn credentials() -> ClientCredentials {
    ClientCredentials::secret("client", SecretString::from("s"), true)
}

#[tokio::test]
async fn a_nonce_refusal_is_retried_once_with_the_nonce_and_never_loops() {
    for status in [400, 401] {
        let server = MockServer::start().await;
        let count = Arc::new(AtomicUsize::new(0));
        Mock::given(wiremock::matchers::any())
            .respond_with(AlwaysNonce(count.clone(), status))
            .mount(&server)
            .await;
        let (http, key, nonces, creds) = (
            http_client().unwrap(),
            DpopKey::generate().unwrap(),
            Nonces::default(),
            credentials(),
        );
        let client = DpopHttp::new(&http, Some(&key), &nonces, &creds);
        let uri = format!("{}/token", server.uri());
        let request = http::Request::post(&uri).body(b"grant_type=x".to_vec()).unwrap();
        let resp = client.send(request).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "the second refusal is the answer");
        assert_eq!(count.load(Ordering::SeqCst), 2, "one retry, no more");
        let received = server.received_requests().await.unwrap();
        let nonce_of =
            |r: &Received| opened(r.headers["dpop"].to_str().unwrap()).1["nonce"].clone();
        assert_eq!(nonce_of(&received[0]), Value::Null);
        assert_eq!(nonce_of(&received[1]), "nonce-0");
        // The latest nonce is remembered for the origin: the next request starts with it.
        assert_eq!(nonces.get(&uri).as_deref(), Some("nonce-1"));
    }
}

#[tokio::test]
async fn a_bearer_token_is_presented_as_dpop_with_its_hash_and_a_retry_gets_a_fresh_assertion() {
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::any())
        .respond_with(AlwaysNonce(count, 401))
        .mount(&server)
        .await;
    let (http, key, nonces, creds) =
        (http_client().unwrap(), DpopKey::generate().unwrap(), Nonces::default(), credentials());
    let client = DpopHttp::new(&http, Some(&key), &nonces, &creds);
    let uri = format!("{}/userinfo", server.uri());
    let request =
        http::Request::get(&uri).header("authorization", "Bearer at-7").body(Vec::new()).unwrap();
    client.send(request).await.unwrap();
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].headers["authorization"], "DPoP at-7");
    let (_, claims) = opened(received[0].headers["dpop"].to_str().unwrap());
    assert_eq!(claims["ath"], URL_SAFE_NO_PAD.encode(digest(&SHA256, b"at-7")).as_str());
    assert_eq!(claims["htm"], "GET");

    // A form with a client assertion is sent again with a new one: the provider has spent
    // the first one's jti.
    let secret = crate::tokens::secret::Secret::from_json(
        &json!({
            "signing_keys": [{"kid": "ours-1", "private_key_pem": crate::keygen::signing_key_pem(crate::keygen::KeyAlg::Es256).unwrap().expose_secret()}],
            "cookie_keys": [base64::engine::general_purpose::STANDARD.encode([1u8; 32])],
            "client_keys": {"default": [{"kid": "c-1", "private_key_pem": crate::keygen::signing_key_pem(crate::keygen::KeyAlg::Es256).unwrap().expose_secret()}]},
        })
        .to_string(),
    )
    .unwrap();
    let assertion = ClientCredentials::assertion(
        "client",
        secret.client_secrets().keys_for("default").unwrap(),
        "https://idp".into(),
    );
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(AlwaysNonce(Arc::new(AtomicUsize::new(0)), 400))
        .mount(&server)
        .await;
    let client = DpopHttp::new(&http, Some(&key), &nonces, &assertion);
    let fields = assertion.assertion_fields(unix_now()).unwrap();
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token");
    for (k, v) in &fields {
        form.append_pair(k, v.expose_secret());
    }
    let request = http::Request::post(format!("{}/token", server.uri()))
        .body(form.finish().into_bytes())
        .unwrap();
    client.send(request).await.unwrap();
    let received = server.received_requests().await.unwrap();
    let assertion_of = |r: &Received| {
        url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "client_assertion")
            .unwrap()
            .1
            .into_owned()
    };
    assert_ne!(assertion_of(&received[0]), assertion_of(&received[1]));
    let grant = |r: &Received| {
        url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "grant_type")
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(grant(&received[1]), "refresh_token", "the rest of the form is kept");
}

#[test]
fn a_nonce_that_is_not_printable_or_overlong_is_not_taken() {
    let nonces = Nonces::default();
    let uri = "https://idp.example.com/token";
    for bad in ["", "with space", "x\u{7f}", &"n".repeat(300)] {
        nonces.put(uri, bad);
        assert_eq!(nonces.get(uri), None, "{bad:?}");
    }
    nonces.put(uri, "good-1");
    assert_eq!(
        nonces.get("https://idp.example.com/userinfo").as_deref(),
        Some("good-1"),
        "per origin"
    );
    assert_eq!(nonces.get("https://other.example.com/token"), None);
}

/// [`AlwaysNonce`], each answer after `delay`.
struct SlowNonce(AlwaysNonce, std::time::Duration);

impl Respond for SlowNonce {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        self.0.respond(request).set_delay(self.1)
    }
}

#[tokio::test]
async fn a_nonce_retry_stays_within_one_calls_timeout() {
    // Each answer within the HTTP client's own timeout, the two together not: the refresh
    // lease counts a provider call at that timeout, nonce retry included.
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    let slow = SlowNonce(AlwaysNonce(count.clone(), 400), TOTAL_TIMEOUT * 6 / 10);
    Mock::given(wiremock::matchers::any()).respond_with(slow).mount(&server).await;
    let (http, key, nonces, creds) =
        (http_client().unwrap(), DpopKey::generate().unwrap(), Nonces::default(), credentials());
    let client = DpopHttp::new(&http, Some(&key), &nonces, &creds);
    let request =
        http::Request::post(format!("{}/token", server.uri())).body(b"grant_type=x".to_vec());
    // Without the bound, both answers would arrive (each within the client's timeout) and the
    // second refusal would be the answer.
    let sent = client.send(request.unwrap()).await;
    assert!(matches!(sent, Err(FetchError::Timeout)), "{sent:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "the retry was sent, and cut");
}
