//! `JWT_CLAIMS`: the provider's claims copied into our JWT, each capped, the whole bounded; the
//! claims we set ourselves are never taken from upstream, whatever the provider sends.

use serde_json::json;
use shared::keygen::KeyAlg;
use shared::testing::callbacks::*;
use shared::testing::{FakeProvider, claims_of, secret_json};
use shared::{Flow, unix_now};

#[tokio::test]
async fn configured_claims_reach_our_jwt_capped_and_ours_stay_ours() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let overrides = [("JWT_CLAIMS", "groups,roles,department"), ("JWT_CLAIM_MAX_BYTES", "200")];
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &overrides).await;
    let started = begin(&state, Flow::Spa, None);
    let mut claims = provider.claims(&started.nonce, ACCESS_TOKEN);
    let huge: Vec<String> = (0..50).map(|i| format!("group-{i:04}")).collect();
    claims.as_object_mut().unwrap().extend(
        json!({
            "groups": ["admins", "devs"],
            "department": huge,
            // Claims only we set: never copied, whatever the provider puts there.
            "idp": "https://evil.example",
            "sid": "forged",
            "jti": "forged",
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let id_token = provider.id_token(&claims);
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    let info = json!({"sub": "alice", "roles": ["reader"], "iss": "https://evil.example"});
    mount_userinfo(&provider, info, 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let token = json_body(&resp)["token"].as_str().unwrap().to_owned();
    let ours = claims_of(&token);
    assert_eq!(ours["groups"], json!(["admins", "devs"]), "from the ID token");
    assert_eq!(ours["roles"], json!(["reader"]), "from userinfo");
    assert!(ours.get("department").is_none(), "over JWT_CLAIM_MAX_BYTES: left out");
    assert_eq!(ours["idp"], provider.issuer());
    assert_ne!(ours["jti"], "forged");
    assert!(ours.get("sid").is_none(), "no session here: no sid at all");
    assert_eq!(ours["iss"], shared::testing::SESSION_ISSUER);
    // Our own verifier reads it back, extra claims included.
    let verified = state.callback.session().verify(&token, unix_now()).unwrap();
    assert_eq!(verified.sub, "alice");
    assert_eq!(verified.extra["groups"], json!(["admins", "devs"]));
}

#[tokio::test]
async fn without_jwt_claims_nothing_extra_is_copied() {
    let provider = FakeProvider::start().await;
    provider.serve_jwks(&[&provider.key], None).await;
    let state = provider.state(&secret_json(KeyAlg::Es256, 1), &[]).await;
    let started = begin(&state, Flow::Spa, None);
    let mut claims = provider.claims(&started.nonce, ACCESS_TOKEN);
    claims["groups"] = json!(["admins"]);
    let id_token = provider.id_token(&claims);
    mount_token(&provider, FakeProvider::token_response(&id_token, ACCESS_TOKEN), 1).await;
    mount_userinfo(&provider, json!({"sub": "alice", "roles": ["r"]}), 1).await;
    let resp = spa_get(&state, &started, &ok_query(&provider, &started)).await;
    assert_eq!(resp.status(), 200, "{}", resp.body());
    let ours = claims_of(json_body(&resp)["token"].as_str().unwrap());
    assert!(ours.get("groups").is_none() && ours.get("roles").is_none(), "{ours}");
}
