use super::*;

#[test]
fn both_subject_formats_are_read_under_either_name() {
    for name in ["sub_id", "subject"] {
        let body =
            format!(r#"{{"{name}": {{"format": "iss_sub", "iss": "https://op", "sub": "u1"}}}}"#);
        assert_eq!(
            subject(body.as_bytes()),
            Ok(Subject::IssSub { iss: "https://op".into(), sub: "u1".into() })
        );
    }
    let body = br#"{"sub_id": {"format": "email", "email": "Alice@Example.com"}}"#;
    assert_eq!(subject(body), Ok(Subject::Email("Alice@Example.com".into())));
}

#[test]
fn a_malformed_body_is_400_and_another_format_is_422() {
    let big =
        format!(r#"{{"sub_id": {{"format": "email", "email": "{}@x"}}}}"#, "a".repeat(MAX_BODY));
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"sub_id": {}}"#,
        r#"{"sub_id": {"format": 1}}"#,
        r#"{"sub_id": {"format": "iss_sub", "iss": "https://op"}}"#,
        r#"{"sub_id": {"format": "iss_sub", "sub": "u1"}}"#,
        r#"{"sub_id": {"format": "iss_sub", "iss": "", "sub": "u1"}}"#,
        r#"{"sub_id": {"format": "email"}}"#,
        r#"{"sub_id": {"format": "email", "email": "no-at-sign"}}"#,
        r#"{"sub_id": {"format": "email", "email": "@example.com"}}"#,
        r#"{"sub_id": {"format": "email", "email": 7}}"#,
        r#"{"sub_id": {"format": "email", "email": "a@b"}, "subject": {"format": "email", "email": "c@d"}}"#,
        big.as_str(),
    ] {
        assert!(matches!(subject(body.as_bytes()), Err(BodyRefusal::Malformed(_))), "{body}");
    }
    for format in ["opaque", "phone_number", "account", "did", "uri", "aliases", "ISS_SUB"] {
        let body = format!(r#"{{"sub_id": {{"format": "{format}", "id": "x"}}}}"#);
        assert_eq!(subject(body.as_bytes()), Err(BodyRefusal::UnsupportedFormat), "{format}");
    }
}

#[tokio::test]
async fn a_rotated_key_is_found_by_one_refetch_and_an_unknown_one_after_it_refused() {
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    use crate::keygen::KeyAlg;
    use crate::testing::{CLIENT_ID, FakeProvider, jws, key};

    let provider = FakeProvider::start().await;
    let rotated = key("idp-2", KeyAlg::Es256);
    // The JWKS as first read holds the old key only; from then on, both.
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(provider.jwks(&[&provider.key])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&provider.server)
        .await;
    provider.serve_jwks(&[&provider.key, &rotated], None).await;
    let parts = provider.parts(&crate::testing::secret_json(KeyAlg::Es256, 1), &[]);
    let metadata = crate::oidc::discovery::discover(&parts.http, &provider.issuer()).await.unwrap();
    let idp = crate::oidc::provider::Provider::new(
        metadata,
        parts.config.default_provider(),
        &secrecy::SecretString::from(crate::testing::CLIENT_SECRET),
    )
    .unwrap();
    let uri = format!("{}/jwks", provider.issuer());
    let jwks = JwksCache::unfetched(uri, &idp, parts.http, Duration::ZERO);
    let aud = "https://api.example/api/global-token-revocation";
    let now = crate::unix_now();
    let token = |signer: &crate::SigningKey, kid: &str, jti: &str| {
        let header =
            json!({"alg": signer.alg_name(), "kid": kid, "typ": "global-token-revocation+jwt"});
        let claims = json!({"iss": provider.issuer(), "aud": aud, "sub": CLIENT_ID, "iat": now, "exp": now + 300, "jti": jti});
        jws(&header, &claims, signer)
    };
    assert!(verify(&jwks, &token(&provider.key, "idp-1", "a"), aud, now).await.is_ok());
    let fresh = verify(&jwks, &token(&rotated, "idp-2", "b"), aud, now).await;
    assert_eq!(fresh.map(|t| t.jti), Ok("b".to_owned()), "found by the refetch");
    let unknown = key("idp-3", KeyAlg::Es256);
    assert_eq!(
        verify(&jwks, &token(&unknown, "idp-3", "c"), aud, now).await,
        Err("no key of the provider's JWKS for this kid and algorithm")
    );
    let received = provider.server.received_requests().await.unwrap();
    assert_eq!(received.iter().filter(|r| r.url.path() == "/jwks").count(), 3);
}
