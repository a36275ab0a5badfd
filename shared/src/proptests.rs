//! Property tests for every parser that reads input from the browser or the provider: no panic
//! on any input, and round trips hold.

use proptest::prelude::*;
use secrecy::{ExposeSecret as _, SecretString};

use crate::functions::callback::CallbackParams;
use crate::return_to::ReturnTo;
use crate::tokens::secret::{CookieKey, KeyRing, Secret};
use crate::tokens::transaction::{Flow, Transaction};
use crate::web::cookies;
use crate::web::request::Query;

fn keys() -> KeyRing<CookieKey> {
    KeyRing::new(vec![CookieKey::new([1; 32]), CookieKey::new([2; 32])]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn query_parsing_never_panics(raw in ".{0,600}") {
        let _ = Query::parse(Some(&raw));
        let _ = CallbackParams::from_query(Some(&raw));
    }

    #[test]
    fn query_round_trips_distinct_parameters(pairs in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,40}", 0..8)) {
        let raw: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let q = Query::parse(Some(&raw)).unwrap();
        for (k, v) in &pairs {
            prop_assert_eq!(q.get(k), Some(v.as_str()));
        }
    }

    #[test]
    fn json_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = CallbackParams::from_json(&body);
        let _ = Secret::from_json(&String::from_utf8_lossy(&body));
    }

    #[test]
    fn json_body_fields_round_trip(code in ".{0,64}", state in ".{0,64}", iss in proptest::option::of(".{0,64}")) {
        let body = serde_json::json!({"code": code, "state": state, "iss": iss}).to_string();
        let p = CallbackParams::from_json(body.as_bytes()).unwrap();
        prop_assert_eq!(p.code.as_deref(), Some(code.as_str()));
        prop_assert_eq!(p.state.as_deref(), Some(state.as_str()));
        prop_assert_eq!(p.iss, iss);
    }

    #[test]
    fn return_to_never_panics_and_what_it_keeps_stays_on_the_origin(value in ".{0,80}") {
        if let Some(kept) = ReturnTo::parse(&value) {
            let base = url::Url::parse("https://app.example.com/start").unwrap();
            let resolved = base.join(kept.as_str()).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin(), "{:?} left the origin", value);
            // `/..//x` resolves to `//x`: same origin for the URL parser, another for any page
            // that redirects to the path.
            prop_assert!(!resolved.path().starts_with("//"), "{:?} resolves to {}", value, resolved);
            prop_assert_eq!(kept.as_str(), value.as_str());
        }
    }

    #[test]
    fn return_to_keeps_plain_paths(segments in proptest::collection::vec("[A-Za-z0-9_.~-]{1,10}", 0..6), query in proptest::option::of("[a-z0-9=&]{0,20}")) {
        // Dot segments are refused (a browser resolves them away); every other segment is kept.
        prop_assume!(segments.iter().all(|s| s != "." && s != ".."));
        let mut path = format!("/{}", segments.join("/"));
        if let Some(q) = query {
            path.push('?');
            path.push_str(&q);
        }
        prop_assert_eq!(ReturnTo::parse(&path).map(|r| r.as_str().to_owned()), Some(path));
    }

    #[test]
    fn cookie_opening_never_panics(value in ".{0,3000}", now in any::<u64>()) {
        let _ = Transaction::open(&value, &keys(), now);
        let _ = cookies::transaction(&value, "__Host-oidc-tx-x");
        let _ = cookies::transactions(&value).count();
        let _ = cookies::session(&value);
    }

    #[test]
    fn cookie_bytes_never_open_unless_sealed_by_us(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        use base64::Engine as _;
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(Transaction::open(&value, &keys(), 1_000_000).is_err());
    }

    #[test]
    fn transaction_round_trips(state in "[A-Za-z0-9_-]{1,64}", nonce in "[A-Za-z0-9_-]{1,64}", verifier in "[A-Za-z0-9._~-]{43,128}", path in "/|(/[a-z0-9]{1,10}){1,4}", issued in 0u64..4_000_000_000, server in any::<bool>()) {
        let flow = if server { Flow::Server } else { Flow::Spa };
        let tx = Transaction {
            state: state.clone(),
            nonce: SecretString::from(nonce.as_str()),
            pkce_verifier: SecretString::from(verifier.as_str()),
            return_to: ReturnTo::parse(&path).unwrap(),
            issued_at: issued,
            flow,
            provider: None,
            max_age: None,
            acr_values: Vec::new(),
            dpop_key: None,
        };
        let sealed = tx.seal(keys().iter().nth(1).unwrap()).unwrap();
        prop_assert!(sealed.len() <= crate::tokens::transaction::MAX_COOKIE_LEN);
        let opened = Transaction::open(&sealed, &keys(), issued).unwrap();
        prop_assert_eq!(opened.state, state);
        prop_assert_eq!(opened.nonce.expose_secret(), nonce.as_str());
        prop_assert_eq!(opened.pkce_verifier.expose_secret(), verifier.as_str());
        prop_assert_eq!(opened.return_to.as_str(), path.as_str());
        prop_assert_eq!(opened.flow, flow);
    }

    #[test]
    fn jwks_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = crate::oidc::jwks::parse_jwks(&body);
    }
}
