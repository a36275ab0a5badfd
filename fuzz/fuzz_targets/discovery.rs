//! A discovery document (the bytes the provider answers), through the checks of cold start
//! (`discover`'s parse, issuer and endpoint rules, then `Provider::new`), for our client at
//! the exact issuer and at Entra ID's multi-tenant one.
//!
//! Asserts: an accepted document names the configured issuer (or its tenant template), every
//! endpoint we send to is https (or http on loopback) with a host and no credentials, the
//! algorithms accepted are among ours and never empty, and the document re-serializes to JSON
//! that parses back to the same document.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{ISSUER, TENANT_TEMPLATE, Tenancy, discovery};
use shared::{ACCEPTED_ALGS, Metadata, is_loopback};

fn check_url(url: &url::Url) {
    assert!(url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)), "{url}");
    assert!(url.host().is_some(), "{url}");
    assert!(url.username().is_empty() && url.password().is_none(), "{url}");
}

fuzz_target!(|data: &[u8]| {
    for tenancy in [Tenancy::Exact, Tenancy::Tenant] {
        let Ok((metadata, provider)) = discovery(data, tenancy) else { continue };
        let expected = match tenancy {
            Tenancy::Exact => ISSUER,
            Tenancy::Tenant => TENANT_TEMPLATE,
        };
        assert_eq!(metadata.issuer().as_str(), expected);
        check_url(metadata.authorization_endpoint().url());
        check_url(metadata.jwks_uri().url());
        metadata.token_endpoint().map(|u| check_url(u.url())).expect("a token endpoint");
        if let Some(u) = metadata.userinfo_endpoint() {
            check_url(u.url());
        }
        let extra = metadata.additional_metadata();
        extra.end_session_endpoint.iter().chain(&extra.revocation_endpoint).for_each(check_url);
        assert!(!provider.algorithms.is_empty());
        assert!(provider.algorithms.iter().all(|a| ACCEPTED_ALGS.contains(a)));
        // Serialized and parsed again, the same document.
        let json = serde_json::to_value(&metadata).expect("serializes");
        let again: Metadata = serde_json::from_value(json.clone()).expect("parses again");
        assert_eq!(serde_json::to_value(&again).expect("serializes"), json);
    }
});
