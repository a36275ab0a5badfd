//! The checks of a token that `jws` and `jws_signed` share: the token is checked as an ID
//! token (with and without `max_age` and `acr_values` asked), as a refreshed ID token and as a
//! logout token, against both fixed providers, and whatever is accepted must hold what the
//! checks promise.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::OnceLock;

use serde_json::Value;
use shared::fuzzing::{
    Asked, CLIENT_ID, GLOBAL_LOGOUT_AUDIENCE, GLOBAL_LOGOUT_MAX_AGE_SECS, LEEWAY_SECS,
    LOGIN_STARTED, LOGOUT_MAX_AGE_SECS, LogoutToken, NONCE, NOW, SUB, TENANT, Tenancy, Verified,
    claimed_issuer, global_logout_request, id_token, issuer, logout_token, refreshed_id_token,
};

/// The `acr` the strict check asks for.
const ACR: &str = "urn:fuzz:loa2";
/// The `max_age` the strict check asks for.
const MAX_AGE: u64 = 600;
/// `auth_time` of the session a refresh continues (the fixture's original ID token).
const ORIGINAL_AUTH_TIME: u64 = LOGIN_STARTED - 30;

fn leeway() -> u64 {
    LEEWAY_SECS.unsigned_abs()
}

/// A NumericDate claim as the checks read it.
fn date(v: &Verified, name: &str) -> Option<f64> {
    v.claims.get(name).and_then(Value::as_f64)
}

/// The issuer accepted is the provider's (for a tenant template, filled with the allowed
/// tenant, in the case the token wrote it) and the token's own `iss`.
fn check_issuer(accepted: &str, iss: Option<&str>, tenancy: Tenancy) {
    assert_eq!(Some(accepted), iss);
    match tenancy {
        Tenancy::Exact => assert_eq!(accepted, issuer(Tenancy::Exact)),
        Tenancy::Tenant => assert!(accepted.eq_ignore_ascii_case(issuer(Tenancy::Tenant))),
    }
}

fn check_id_token(v: &Verified, tenancy: Tenancy, login: bool) {
    assert!(!v.user.sub.is_empty());
    check_issuer(&v.issuer, v.claims.get("iss").and_then(Value::as_str), tenancy);
    if tenancy == Tenancy::Tenant {
        let tid = v.claims.get("tid").and_then(Value::as_str).unwrap_or_default();
        assert!(tid.eq_ignore_ascii_case(TENANT), "{:?}", v.claims);
    }
    let nonce = v.claims.get("nonce").and_then(Value::as_str);
    if login {
        assert_eq!(nonce, Some(NONCE));
    } else {
        assert!(nonce.is_none_or(|n| n == NONCE), "{:?}", v.claims);
    }
    let audiences: Vec<&str> = match v.claims.get("aud") {
        Some(Value::String(one)) => vec![one],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    assert!(audiences.contains(&CLIENT_ID), "{:?}", v.claims);
    let azp = v.claims.get("azp").and_then(Value::as_str);
    assert!(azp.is_none_or(|a| a == CLIENT_ID), "{:?}", v.claims);
    if audiences.len() > 1 {
        assert_eq!(azp, Some(CLIENT_ID), "{:?}", v.claims);
    }
    let (now, leeway) = (NOW as f64, leeway() as f64);
    let iat = date(v, "iat").expect("iat is required");
    assert!(iat <= now + leeway + 1.0, "{:?}", v.claims);
    if login {
        assert!(iat + leeway + 1.0 >= LOGIN_STARTED as f64, "{:?}", v.claims);
    }
    let exp = date(v, "exp").expect("exp is required");
    assert!(exp + leeway + 1.0 >= now, "{:?}", v.claims);
    assert!(date(v, "nbf").is_none_or(|nbf| nbf <= now + leeway + 1.0), "{:?}", v.claims);
}

fn check_asked(v: &Verified) {
    let auth_time = date(v, "auth_time").expect("auth_time is required with max_age");
    let (now, leeway) = (NOW as f64, leeway() as f64);
    assert!(auth_time <= now + leeway + 1.0, "{:?}", v.claims);
    assert!(auth_time + (MAX_AGE as f64) + leeway + 1.0 >= now, "{:?}", v.claims);
    assert_eq!(v.claims.get("acr").and_then(Value::as_str), Some(ACR));
}

fn check_refreshed(v: &Verified, tenancy: Tenancy) {
    check_id_token(v, tenancy, false);
    assert_eq!(v.user.sub, SUB);
    assert_eq!(v.issuer, issuer(tenancy), "the session's own issuer, exactly");
    if let Some(auth_time) = date(v, "auth_time") {
        assert!(auth_time.trunc() >= ORIGINAL_AUTH_TIME as f64, "{:?}", v.claims);
    }
}

fn check_logout(l: &LogoutToken, tenancy: Tenancy, token: &str) {
    let id = |s: &str| !s.is_empty() && s.len() <= 255;
    assert!(id(&l.jti), "{l:?}");
    assert!(l.sid.is_some() || l.sub.is_some(), "{l:?}");
    assert!(l.sid.as_deref().is_none_or(id) && l.sub.as_deref().is_none_or(id), "{l:?}");
    assert!(l.iat <= NOW + leeway(), "{l:?}");
    assert!(l.iat + LOGOUT_MAX_AGE_SECS + leeway() >= NOW, "{l:?}");
    check_issuer(&l.iss, claimed_issuer(token).as_deref(), tenancy);
}

/// `FUZZ_EXPLAIN=1`: print each check's outcome (to see why a seed is refused, running the
/// target on that one file).
fn explain() -> bool {
    static EXPLAIN: OnceLock<bool> = OnceLock::new();
    *EXPLAIN.get_or_init(|| std::env::var_os("FUZZ_EXPLAIN").is_some())
}

/// Checks `token` every way, against both providers.
pub fn check_token(token: &str) {
    let _ = claimed_issuer(token);
    let asked_acr = [ACR.to_owned()];
    let strict_asked = Asked { max_age: Some(MAX_AGE), acr_values: &asked_acr };
    // The multi-tenant provider only for claims naming a tenant: without `tid` it refuses
    // every token at the issuer check, and each check costs signature checks.
    let names_a_tenant = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .is_some_and(|claims| claims.windows(5).any(|w| w == b"\"tid\""));
    let tenancies: &[Tenancy] =
        if names_a_tenant { &[Tenancy::Exact, Tenancy::Tenant] } else { &[Tenancy::Exact] };
    for &tenancy in tenancies {
        let relaxed = id_token(token, tenancy, Asked::default());
        if explain() {
            eprintln!("{tenancy:?} ID token: {:?}", relaxed.as_ref().map(|v| &v.user));
            eprintln!("{tenancy:?} asked: {:?}", id_token(token, tenancy, strict_asked).is_ok());
            eprintln!("{tenancy:?} refreshed: {:?}", refreshed_id_token(token, tenancy).is_ok());
            eprintln!("{tenancy:?} logout token: {:?}", logout_token(token, tenancy));
        }
        if let Ok(v) = &relaxed {
            check_id_token(v, tenancy, true);
            let strict = id_token(token, tenancy, strict_asked);
            if let Ok(v) = &strict {
                check_asked(v);
            }
        }
        if let Ok(v) = &refreshed_id_token(token, tenancy) {
            check_refreshed(v, tenancy);
        }
        if let Ok(l) = &logout_token(token, tenancy) {
            check_logout(l, tenancy, token);
            assert!(relaxed.is_err(), "accepted both as a login's ID token and a logout token");
        }
        if let Ok(r) = &global_logout_request(token, tenancy) {
            check_global_logout(token, tenancy, &r.iss, r.iat);
            assert!(relaxed.is_err(), "accepted both as an ID token and a revocation request");
        }
    }
}

/// An accepted Universal Logout request JWT names our endpoint, its provider, a fresh `iat`
/// and `exp` at most five minutes apart, and our client as its `sub`.
fn check_global_logout(token: &str, tenancy: Tenancy, iss: &str, iat: u64) {
    let claims: Value = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|c| serde_json::from_slice(&c).ok())
        .expect("accepted claims are JSON");
    check_issuer(iss, claims.get("iss").and_then(Value::as_str), tenancy);
    let named = match claims.get("aud") {
        Some(Value::String(one)) => one == GLOBAL_LOGOUT_AUDIENCE,
        Some(Value::Array(many)) => many.iter().any(|a| a == GLOBAL_LOGOUT_AUDIENCE),
        _ => false,
    };
    assert!(named, "{claims}");
    assert!(iat <= NOW + leeway() && iat + GLOBAL_LOGOUT_MAX_AGE_SECS + leeway() >= NOW);
    let exp = claims.get("exp").and_then(Value::as_f64).expect("exp");
    assert!(exp + leeway() as f64 >= NOW as f64);
    assert_eq!(claims.get("sub").and_then(Value::as_str), Some(CLIENT_ID), "{claims}");
}
