#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::infra::config::ConfigError;

fn parse(vars: &[(&str, &str)]) -> Result<ClaimCopy, ConfigError> {
    let map: HashMap<String, String> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    ClaimCopy::from_lookup(&|name: &str| map.get(name).cloned())
}

fn obj(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn names_are_read_in_order_and_ours_are_refused() {
    let copy = parse(&[("JWT_CLAIMS", "groups, roles preferred_username,groups")]).unwrap();
    assert_eq!(copy.names, ["groups", "roles", "preferred_username"]);
    assert_eq!((copy.max_claim_bytes, copy.max_total_bytes), (1024, 4096));
    assert!(parse(&[]).unwrap().names.is_empty(), "nothing is copied by default");
    for ours in RESERVED {
        let e = parse(&[("JWT_CLAIMS", &format!("groups,{ours}"))]).unwrap_err();
        assert_eq!(e.variable, "JWT_CLAIMS");
        assert!(e.problem.contains(ours), "{e}");
    }
    assert!(parse(&[("JWT_CLAIMS", "gr\"oups")]).is_err());
    let many: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
    assert!(parse(&[("JWT_CLAIMS", &many.join(","))]).is_err());
    assert_eq!(parse(&[("JWT_CLAIM_MAX_BYTES", "8")]).unwrap_err().variable, "JWT_CLAIM_MAX_BYTES");
    assert_eq!(
        parse(&[("JWT_CLAIMS_MAX_BYTES", "x")]).unwrap_err().variable,
        "JWT_CLAIMS_MAX_BYTES"
    );
}

#[test]
fn claims_come_from_userinfo_first_each_capped_and_the_whole_bounded() {
    let copy = ClaimCopy {
        names: vec!["groups".into(), "roles".into(), "preferred_username".into(), "absent".into()],
        max_claim_bytes: 64,
        max_total_bytes: 80,
    };
    let id_token = obj(json!({"groups": ["a", "b"], "roles": ["admin"], "sub": "alice"}));
    let userinfo = obj(json!({"preferred_username": "alice@corp", "roles": ["reader"]}));
    let out = copy.copy(&id_token, Some(&userinfo));
    assert_eq!(out["groups"], json!(["a", "b"]));
    assert_eq!(out["roles"], json!(["reader"]), "userinfo wins over the ID token");
    assert_eq!(out["preferred_username"], "alice@corp");
    assert!(!out.contains_key("absent") && !out.contains_key("sub"));

    // Entra's 200 groups: over the cap, left out; the others stay.
    let huge: Vec<String> = (0..200).map(|i| format!("00000000-0000-0000-0000-{i:012}")).collect();
    let out = copy.copy(&obj(json!({"groups": huge, "roles": ["admin"]})), None);
    assert!(!out.contains_key("groups"));
    assert_eq!(out["roles"], json!(["admin"]));

    // The total: what comes first is kept until the total is spent.
    let big = "x".repeat(50);
    let out =
        copy.copy(&obj(json!({"groups": big, "roles": big, "preferred_username": "a"})), None);
    assert!(out.contains_key("groups") && !out.contains_key("roles"), "{out:?}");
    assert_eq!(out["preferred_username"], "a", "a small later claim still fits");
    let size: usize = out.values().map(|v| serde_json::to_string(v).unwrap().len()).sum();
    assert!(size <= 80);
}
