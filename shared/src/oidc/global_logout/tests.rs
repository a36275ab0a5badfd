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
