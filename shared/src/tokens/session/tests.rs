use secrecy::ExposeSecret as _;

use super::*;
use crate::keygen::{KeyAlg, signing_key_pem};
use crate::tokens::secret::KeyRing;

fn key(kid: &str, alg: KeyAlg) -> SigningKey {
    SigningKey::from_pkcs8_pem(kid, signing_key_pem(alg).unwrap().expose_secret()).unwrap()
}

fn tokens(keys: Vec<SigningKey>) -> SessionTokens {
    SessionTokens::new(
        "https://api.example.com".into(),
        "spa".into(),
        Duration::from_secs(900),
        KeyRing::new(keys).unwrap(),
    )
}

fn alice() -> User {
    User {
        sub: "alice".into(),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        name: Some("Alice".into()),
        extra: Default::default(),
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut it = token.split('.');
    let mut next =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (next(), next())
}

fn forge(header: serde_json::Value, claims: serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[test]
fn mints_and_verifies_with_every_key_kind() {
    for (alg, name) in
        [(KeyAlg::Rs256, "RS256"), (KeyAlg::Es256, "ES256"), (KeyAlg::EdDsa, "EdDSA")]
    {
        let t = tokens(vec![key("k1", alg)]);
        let token = t.mint(&alice(), "https://idp.example.com", now()).unwrap();
        let (header, claims) = parts(&token);
        assert_eq!(header["alg"], name);
        assert_eq!(header["kid"], "k1");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims["iss"], "https://api.example.com");
        assert_eq!(claims["aud"], "spa");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["idp"], "https://idp.example.com");
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 900);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        let verified = t.verify(&token, now()).unwrap();
        assert_eq!(verified.email.as_deref(), Some("alice@example.com"));
        assert_eq!(verified.name.as_deref(), Some("Alice"));
    }
}

#[test]
fn every_token_gets_its_own_jti() {
    let t = tokens(vec![key("k1", KeyAlg::Es256)]);
    let a = t.verify(&t.mint(&alice(), "idp", now()).unwrap(), now()).unwrap();
    let b = t.verify(&t.mint(&alice(), "idp", now()).unwrap(), now()).unwrap();
    assert_ne!(a.jti, b.jti);
}

#[test]
fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let old_pem = signing_key_pem(KeyAlg::Rs256).unwrap();
    let old_key = || SigningKey::from_pkcs8_pem("old", old_pem.expose_secret()).unwrap();
    let old = tokens(vec![old_key()]);
    let old_token = old.mint(&alice(), "idp", now()).unwrap();
    let rotated = tokens(vec![key("new", KeyAlg::Es256), old_key()]);
    assert_eq!(rotated.verify(&old_token, now()).unwrap().sub, "alice");
    let new_token = rotated.mint(&alice(), "idp", now()).unwrap();
    assert_eq!(parts(&new_token).0["kid"], "new");
    // A removed key no longer verifies.
    let after = tokens(vec![key("new", KeyAlg::Es256)]);
    assert_eq!(after.verify(&old_token, now()), Err(VerifyError::UnknownKey));
}

#[test]
fn refuses_expired_and_foreign_tokens() {
    let pem = signing_key_pem(KeyAlg::Es256).unwrap();
    let same_key = || SigningKey::from_pkcs8_pem("k1", pem.expose_secret()).unwrap();
    let with = |iss: &str, aud: &str| {
        let keys = KeyRing::new(vec![same_key()]).unwrap();
        SessionTokens::new(iss.into(), aud.into(), Duration::from_secs(900), keys)
    };
    let ours = with("https://api.example.com", "spa");

    let expired = ours.mint(&alice(), "idp", now() - 900 - LEEWAY_SECS - 5).unwrap();
    assert_eq!(ours.verify(&expired, now()), Err(VerifyError::Expired));
    // Inside the leeway it still verifies.
    let just_expired = ours.mint(&alice(), "idp", now() - 900 - 5).unwrap();
    assert!(ours.verify(&just_expired, now()).is_ok());

    let other_key = tokens(vec![key("k1", KeyAlg::Es256)]);
    let token = other_key.mint(&alice(), "idp", now()).unwrap();
    assert_eq!(ours.verify(&token, now()), Err(VerifyError::Invalid), "same kid, other key");

    let token = with("https://evil.example", "spa").mint(&alice(), "idp", now()).unwrap();
    assert_eq!(ours.verify(&token, now()), Err(VerifyError::Invalid), "other issuer");
    let token = with("https://api.example.com", "other").mint(&alice(), "idp", now()).unwrap();
    assert_eq!(ours.verify(&token, now()), Err(VerifyError::Invalid), "other audience");
}

#[test]
fn refuses_none_hmac_and_algorithm_confusion() {
    let t = tokens(vec![key("k1", KeyAlg::Rs256)]);
    let token = t.mint(&alice(), "idp", now()).unwrap();
    let (_, claims) = parts(&token);
    let none = forge(serde_json::json!({"alg": "none", "kid": "k1"}), claims.clone(), b"");
    assert!(t.verify(&none, now()).is_err());
    let hs = forge(serde_json::json!({"alg": "HS256", "kid": "k1"}), claims.clone(), b"sig");
    assert_eq!(t.verify(&hs, now()), Err(VerifyError::AlgorithmMismatch));
    let es = forge(serde_json::json!({"alg": "ES256", "kid": "k1"}), claims.clone(), &[0; 64]);
    assert_eq!(t.verify(&es, now()), Err(VerifyError::AlgorithmMismatch));
    let no_kid = forge(serde_json::json!({"alg": "RS256"}), claims.clone(), &[0; 256]);
    assert_eq!(t.verify(&no_kid, now()), Err(VerifyError::Malformed));
    // Claims changed after signing.
    let sig = token.rsplit('.').next().unwrap();
    let mut tampered = claims;
    tampered["sub"] = "mallory".into();
    let forged = format!(
        "{}.{}.{sig}",
        token.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(tampered.to_string())
    );
    assert_eq!(t.verify(&forged, now()), Err(VerifyError::Invalid));
    for garbage in ["", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9"] {
        assert!(t.verify(garbage, now()).is_err(), "{garbage}");
    }
}

/// The proxy's token for a remote API: the caller's claims with the API's audience and name,
/// a fresh `jti`, never outliving the caller's token; and never accepted back as a session of
/// ours, even with our own audience (a remote API cannot replay it to us).
#[test]
fn a_token_for_a_remote_api_is_the_callers_and_never_ours_again() {
    let t = tokens(vec![key("k1", KeyAlg::Es256)]);
    let at = now();
    let session = t.mint_in_session(&alice(), "https://idp", Some("s-1"), at - 800).unwrap();
    let claims = t.verify(&session, at).unwrap();
    let for_orders = t.mint_for_audience(&claims, "orders", "orders-api", at).unwrap();
    let (_, c) = parts(&for_orders);
    assert_eq!((c["aud"].as_str(), c["api"].as_str()), (Some("orders-api"), Some("orders")));
    assert_eq!((c["sub"].as_str(), c["sid"].as_str()), (Some("alice"), Some("s-1")));
    assert_eq!(c["exp"].as_u64(), Some(claims.exp), "no longer than the caller's token");
    assert_ne!(c["jti"].as_str(), Some(claims.jti.as_str()));
    let same_audience = t.mint_for_audience(&claims, "orders", "spa", at).unwrap();
    assert_eq!(t.verify(&same_audience, at).unwrap_err(), VerifyError::ForRemoteApi);
}

#[test]
fn a_token_that_would_outgrow_its_cookie_leaves_out_the_largest_claims_first() {
    let ours = tokens(vec![key("ours-1", KeyAlg::Rs256)]);
    let mut user = alice();
    // Each within the per-claim caps, together past what a cookie holds.
    user.extra.insert("groups".into(), serde_json::json!(["g".repeat(1_500)]));
    user.extra.insert("roles".into(), serde_json::json!(["r".repeat(1_200)]));
    user.extra.insert("dept".into(), serde_json::json!("research"));
    let whole = ours.mint_in_session(&user, "https://idp", Some(&"s".repeat(43)), now()).unwrap();
    assert!(whole.len() > MAX_TOKEN_BYTES, "the case is over the cap: {}", whole.len());
    let token = ours.mint_fitting(&mut user, "https://idp", Some(&"s".repeat(43)), now()).unwrap();
    assert!(token.len() <= MAX_TOKEN_BYTES, "{}", token.len());
    let (_, claims) = parts(&token);
    assert!(claims.get("groups").is_none(), "the largest is left out");
    assert_eq!(claims["roles"][0].as_str().map(str::len), Some(1_200), "the next one fits");
    assert_eq!(claims["dept"], "research");
    assert!(!user.extra.contains_key("groups"), "the user says what the token says");
    // At the limit: a token that fits keeps everything.
    let mut fits = alice();
    let token = ours.mint_fitting(&mut fits, "https://idp", None, now()).unwrap();
    assert_eq!(parts(&token).1["name"], "Alice");
}
