//! The token endpoint's answer to a code exchange (`exchange_code`'s reading of it:
//! openidconnect's parse, our error mapping and the `Bearer` check), as a 200 and as a 400.
//!
//! Asserts: an accepted answer is a `Bearer` token response that re-serializes to one that
//! parses back with the same tokens; an error answer is never accepted; a refusal that
//! quotes the provider's error code keeps only its sanitized form; an answer refused as a
//! malformed ID token does carry an `id_token` string that does not parse.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openidconnect::OAuth2TokenResponse as _;
use openidconnect::core::{CoreIdToken, CoreTokenResponse, CoreTokenType};
use shared::fuzzing::token_answer;
use shared::{Error, IdTokenError};

fuzz_target!(|data: &[u8]| {
    match token_answer(200, data) {
        Ok(tokens) => {
            assert_eq!(*tokens.token_type(), CoreTokenType::Bearer);
            let json = serde_json::to_vec(&tokens).expect("serializes");
            let again: CoreTokenResponse = serde_json::from_slice(&json).expect("parses again");
            assert_eq!(again.access_token().secret(), tokens.access_token().secret());
            assert_eq!(
                again.extra_fields().id_token().map(ToString::to_string),
                tokens.extra_fields().id_token().map(ToString::to_string)
            );
        }
        Err(Error::IdToken(IdTokenError::Malformed)) => {
            let body: serde_json::Value = serde_json::from_slice(data).expect("JSON");
            let id_token = body.get("id_token").and_then(|t| t.as_str()).expect("an id_token");
            assert!(id_token.parse::<CoreIdToken>().is_err());
        }
        Err(Error::TokenExchangeFailed(_)) => {}
        Err(other) => panic!("{other:?}"),
    }
    match token_answer(400, data) {
        Ok(tokens) => panic!("an error answer was accepted: {tokens:?}"),
        Err(Error::TokenExchangeFailed(detail)) => {
            if let Some(code) = detail.strip_prefix("provider error ") {
                assert!(code.len() <= 64, "{detail}");
                assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{detail}");
            }
        }
        Err(Error::IdToken(IdTokenError::Malformed)) => {}
        Err(other) => panic!("{other:?}"),
    }
});
