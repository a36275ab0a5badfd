//! A DPoP session's refresh grant after a cookie-key rotation, in process: the session sealed
//! under the old cookie key opens under the rotated ring, the grant carries a proof of the
//! session's own key, and the stored tokens are resealed under the new key with that key.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Method;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::functions::start::{Fetch as _, WithProvider};
use crate::infra::config::SessionSettings;
use crate::keygen::{KeyAlg, signing_key_pem};
use crate::oidc::dpop::DpopKey;
use crate::sessions::{Memory, Owner, SessionKeys};
use crate::testing::{FakeProvider, dynamodb_client_at, key};
use crate::tokens::secret::Secret;
use crate::web::request::Request;
use crate::web::routes::serve;

/// A secret with these cookie keys (the first seals).
fn secret(cookie_bytes: &[u8]) -> String {
    let keys: Vec<String> = cookie_bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
    json!({
        "client_secret": crate::testing::CLIENT_SECRET,
        "signing_keys": [{"kid": "ours-1", "private_key_pem": signing_key_pem(KeyAlg::Es256).unwrap().expose_secret()}],
        "cookie_keys": keys,
    })
    .to_string()
}

fn settings() -> SessionSettings {
    SessionSettings {
        table: "rotation".to_owned(),
        max_age: Duration::from_secs(3_600),
        idle: Duration::from_secs(3_600),
        strict: false,
        max_per_user: 50,
        renew_margin: Duration::ZERO,
    }
}

fn sessions(secret: &str, memory: &std::sync::Arc<Memory>) -> Sessions {
    let keys = SessionKeys::derive(Secret::from_json(secret).unwrap().cookie_keys()).unwrap();
    Sessions::in_memory(settings(), keys, memory.clone())
}

fn claims(jws: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').nth(1).unwrap()).unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_dpop_sessions_grant_after_a_cookie_key_rotation_proves_the_same_key_and_reseals_it() {
    let extra = json!({"dpop_signing_alg_values_supported": ["ES256"]});
    let provider = FakeProvider::start_with(key("idp-1", KeyAlg::Rs256), extra).await;
    provider.serve_jwks(&[&provider.key], None).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-2", "token_type": "DPoP", "expires_in": 600, "refresh_token": "rt-2",
        })))
        .mount(&provider.server)
        .await;
    let now = crate::unix_now();
    let memory = Memory::new(3_600, None);
    let (old, rotated, only_new) = (secret(&[1]), secret(&[2, 1]), secret(&[2]));

    // A session stored before the rotation, its access token expired, bound to its key.
    let key = DpopKey::generate().unwrap();
    let issuer = provider.issuer();
    let user = User {
        sub: "alice".into(),
        email: None,
        email_verified: None,
        name: None,
        extra: Default::default(),
    };
    let owner =
        Owner { user: &user, idp: &issuer, provider: "default", provider_sid: None, device: None };
    let tokens = ProviderTokens {
        refresh_token: Some("rt-1".to_owned().into()),
        access_token: "at-1".to_owned().into(),
        access_expires_at: now - 1,
        id_token: None,
        dpop_key: Some(key.to_stored()),
    };
    let (handle, item) = sessions(&old, &memory).create(&owner, &tokens, now - 60).await.unwrap();

    // The refresh function after the rotation: the new cookie key first.
    let vars = [("SESSION_TABLE", "rotation"), ("OIDC_USERINFO", "false"), ("OIDC_DPOP", "on")];
    let parts =
        provider.parts_with_sessions(&rotated, &vars, dynamodb_client_at("http://127.0.0.1:9"));
    let fetched =
        <Refresh as crate::functions::start::ColdStart>::Fetch::fetch(&parts.http, &parts.config)
            .await;
    let with = parts.with_provider(fetched.unwrap(), Duration::from_secs(60)).unwrap();
    let refresh =
        Refresh::from_parts(WithProvider { sessions: Some(sessions(&rotated, &memory)), ..with });
    let req = Request {
        cookies: Some(format!("{}={}", crate::cookies::REFRESH, handle.expose())),
        csrf: true,
        ..crate::testing::request(&Method::POST, "/api/refresh")
    };
    let resp = serve(&refresh, &req, now).await.into_http();
    assert_eq!(resp.status(), 200, "{}", resp.body());

    // The grant carried a proof of the session's own key.
    let received = provider.server.received_requests().await.unwrap();
    let grant = received.iter().find(|r| r.url.path() == "/token").unwrap();
    let proof = grant.headers["dpop"].to_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(proof.split('.').next().unwrap()).unwrap())
            .unwrap();
    let jwk = &header["jwk"];
    let thumbprint = {
        let canonical =
            format!(r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#, jwk["x"], jwk["y"]);
        URL_SAFE_NO_PAD
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()))
    };
    assert_eq!(thumbprint, key.thumbprint());
    assert_eq!(claims(proof)["htm"], "POST");

    // Resealed under the new cookie key alone, with the new tokens and the same key.
    let opened = sessions(&only_new, &memory).open(&handle, now).await.unwrap();
    let (crate::sessions::Opened::Used(record) | crate::sessions::Opened::Unused(record)) = opened
    else {
        panic!("the session is gone")
    };
    assert_eq!(record.key, item);
    assert_eq!(record.tokens.access_token.expose_secret(), "at-2");
    let kept = DpopKey::from_stored(record.tokens.dpop_key.as_ref().unwrap()).unwrap();
    assert_eq!(kept.thumbprint(), key.thumbprint());
}
