//! The issuer rule of tenant templates (`announced_issuer_fits`, `IssuerRule::new`, `check`,
//! `admits`) and `OIDC_ALLOWED_TENANTS` (`allowed_tenants`). Input lines: the configured
//! issuer, the announced one, the allowed tenants, a token's `iss`, its `tid`.
//!
//! Asserts: a template is announced only for Microsoft's multi-tenant forms; a rule accepts a
//! token only for the exact issuer, or the template filled with the token's own allowed
//! tenant, and returns that issuer; every issuer a rule accepts, it admits again (as a session
//! records it); an exact rule ignores `tid`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{IssuerRule, TENANT_PLACEHOLDER, allowed_tenants, announced_issuer_fits};

const TEMPLATES: [&str; 2] =
    ["https://login.microsoftonline.com/{tenantid}/v2.0", "https://sts.windows.net/{tenantid}/"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut next = || lines.next();
    let (Some(configured), Some(announced)) = (next(), next()) else { return };
    let (tenants, iss, tid) = (next(), next(), next());

    let fits = announced_issuer_fits(configured, announced);
    if fits && announced.contains(TENANT_PLACEHOLDER) {
        assert!(TEMPLATES.contains(&announced), "{configured:?} announces {announced:?}");
        assert!(configured.starts_with("https://login.microsoftonline.com/"), "{configured:?}");
    }
    if fits && !announced.contains(TENANT_PLACEHOLDER) {
        assert_eq!(configured, announced);
    }
    let Ok(tenants) = allowed_tenants(tenants) else { return };
    let Ok(rule) = IssuerRule::new(configured, announced, tenants.as_ref()) else {
        return;
    };
    assert!(fits);
    assert_eq!(rule.announced(), announced);
    assert_eq!(rule.is_template(), announced.contains(TENANT_PLACEHOLDER));
    if let Some(accepted) = rule.check(iss, tid) {
        assert_eq!(Some(accepted.as_str()), iss);
        assert!(rule.admits(&accepted), "{accepted:?} accepted but not admitted");
        match &rule {
            IssuerRule::Exact(exact) => {
                assert_eq!(&accepted, exact);
                assert_eq!(rule.check(iss, None).as_deref(), Some(exact.as_str()));
            }
            IssuerRule::Tenant { template, tenants } => {
                let tid = tid.expect("a tenant");
                assert!(tenants.allows(tid));
                assert_eq!(accepted, template.replace(TENANT_PLACEHOLDER, tid));
                assert!(!accepted.contains(TENANT_PLACEHOLDER));
            }
        }
    }
    if let Some(iss) = iss
        && rule.admits(iss)
    {
        assert!(!iss.contains(TENANT_PLACEHOLDER), "{iss:?} admitted");
    }
});
