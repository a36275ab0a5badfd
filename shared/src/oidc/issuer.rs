//! The issuer a token must name: the configured issuer exactly, or, for Microsoft Entra ID's
//! multi-tenant endpoints, the issuer template of discovery with the token's own tenant.
//!
//! Discovery of `https://login.microsoftonline.com/common/v2.0` (also `organizations`,
//! `consumers`) announces `"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"`, and
//! the v1 endpoint (`https://login.microsoftonline.com/common`) announces
//! `"https://sts.windows.net/{tenantid}/"`: each ID token's `iss` is that template with
//! `{tenantid}` replaced by the user's tenant, its `tid` claim. Such an issuer is accepted only
//! from those hosts and forms ([`announced_issuer_fits`]), and only with
//! `OIDC_ALLOWED_TENANTS` set ([`IssuerRule::new`]); a token then needs a `tid` that is a GUID
//! on that list, and an `iss` equal to the template filled with it ([`IssuerRule::check`]).
//! openid-client (`{tenantid}` replaced by `tid`) and Microsoft.Identity.Web do the same.

use crate::infra::config::AllowedTenants;

/// The placeholder of Microsoft's issuer templates.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The multi-tenant path segments of Microsoft's endpoints.
const MULTI_TENANT_SEGMENTS: [&str; 3] = ["common", "organizations", "consumers"];

/// `(configured issuer with {segment}, the template its discovery announces)`.
const MULTI_TENANT_FORMS: [(&str, &str); 2] = [
    (
        "https://login.microsoftonline.com/{segment}/v2.0",
        "https://login.microsoftonline.com/{tenantid}/v2.0",
    ),
    ("https://login.microsoftonline.com/{segment}", "https://sts.windows.net/{tenantid}/"),
];

/// Whether discovery of `configured` (`OIDC_ISSUER`) may announce `announced` as its issuer:
/// equal, character for character (and no template), or Microsoft's tenant template of a
/// multi-tenant endpoint.
pub fn announced_issuer_fits(configured: &str, announced: &str) -> bool {
    if announced.contains(TENANT_PLACEHOLDER) {
        multi_tenant_template(configured) == Some(announced)
    } else {
        configured == announced
    }
}

/// The issuer template that discovery of Microsoft's multi-tenant `configured` announces.
fn multi_tenant_template(configured: &str) -> Option<&'static str> {
    let configured = configured.strip_suffix('/').unwrap_or(configured);
    MULTI_TENANT_FORMS.iter().find_map(|(form, template)| {
        MULTI_TENANT_SEGMENTS
            .iter()
            .any(|segment| form.replace("{segment}", segment) == configured)
            .then_some(*template)
    })
}

/// Why the provider's issuer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerProblem {
    /// Discovery names another issuer than the configured one (and no template of it).
    Mismatch,
    /// Discovery names a tenant template, and `OIDC_ALLOWED_TENANTS` is not set.
    TenantsNotConfigured,
}

/// What `iss` a token of this provider must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerRule {
    /// Exactly this issuer.
    Exact(String),
    /// `template` with [`TENANT_PLACEHOLDER`] replaced by the token's `tid`, one of `tenants`.
    Tenant {
        /// The issuer as discovery announces it.
        template: String,
        /// `OIDC_ALLOWED_TENANTS`.
        tenants: AllowedTenants,
    },
}

impl IssuerRule {
    /// The rule for a provider configured as `configured` whose discovery announces
    /// `announced`, with `tenants` from `OIDC_ALLOWED_TENANTS`.
    ///
    /// # Errors
    ///
    /// [`IssuerProblem`]: a template without an allow list is a configuration error, never a
    /// silent accept of every tenant.
    pub fn new(
        configured: &str,
        announced: &str,
        tenants: Option<&AllowedTenants>,
    ) -> Result<Self, IssuerProblem> {
        if !announced_issuer_fits(configured, announced) {
            return Err(IssuerProblem::Mismatch);
        }
        if !announced.contains(TENANT_PLACEHOLDER) {
            return Ok(Self::Exact(announced.to_owned()));
        }
        let tenants = tenants.ok_or(IssuerProblem::TenantsNotConfigured)?.clone();
        Ok(Self::Tenant { template: announced.to_owned(), tenants })
    }

    /// The issuer as discovery announces it (a template for [`IssuerRule::Tenant`]).
    pub fn announced(&self) -> &str {
        match self {
            Self::Exact(issuer) => issuer,
            Self::Tenant { template, .. } => template,
        }
    }

    /// True for a tenant template.
    pub fn is_template(&self) -> bool {
        matches!(self, Self::Tenant { .. })
    }

    /// True when `issuer` (one a token passed this rule with, as a session records it) is this
    /// rule's: the exact issuer, or the template filled with an allowed tenant.
    pub fn admits(&self, issuer: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == issuer,
            Self::Tenant { template, .. } => {
                let (head, tail) =
                    template.split_once(TENANT_PLACEHOLDER).unwrap_or((template, ""));
                let tid = issuer.strip_prefix(head).and_then(|rest| rest.strip_suffix(tail));
                self.check(Some(issuer), tid).is_some()
            }
        }
    }

    /// Whether one issuer could pass both this rule and `other`: the same exact issuer, an
    /// exact issuer that a template admits (an Entra tenant's beside `common` with `*`), or
    /// one template with tenant lists that share a tenant. Two templates that differ never
    /// fill to the same issuer here: Entra ID's templates differ only in their fixed parts.
    pub fn overlaps(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Exact(exact), template @ Self::Tenant { .. })
            | (template @ Self::Tenant { .. }, Self::Exact(exact)) => template.admits(exact),
            (
                Self::Tenant { template: a, tenants: ours },
                Self::Tenant { template: b, tenants: theirs },
            ) => a == b && ours.shares_a_tenant_with(theirs),
        }
    }

    /// The token's issuer when a token naming `iss` and `tid` passes this rule.
    pub fn check(&self, iss: Option<&str>, tid: Option<&str>) -> Option<String> {
        let iss = iss?;
        let expected = match self {
            Self::Exact(issuer) => issuer.clone(),
            Self::Tenant { template, tenants } => {
                let tid = tid.filter(|tid| tenants.allows(tid))?;
                template.replace(TENANT_PLACEHOLDER, tid)
            }
        };
        (iss == expected).then_some(expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::config::allowed_tenants;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const OTHER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    const V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const V1: &str = "https://sts.windows.net/{tenantid}/";

    fn only(tid: &str) -> AllowedTenants {
        allowed_tenants(Some(tid)).unwrap().unwrap()
    }

    #[test]
    fn a_recorded_issuer_is_admitted_only_for_an_allowed_tenant_of_the_template() {
        let rule =
            IssuerRule::new("https://login.microsoftonline.com/common/v2.0", V2, Some(&only(TID)));
        let rule = rule.unwrap();
        assert!(rule.admits(&format!("https://login.microsoftonline.com/{TID}/v2.0")));
        assert!(!rule.admits(&format!("https://login.microsoftonline.com/{OTHER}/v2.0")));
        assert!(!rule.admits(V2));
        assert!(!rule.admits(&format!("https://login.microsoftonline.com/{TID}/v2.0/x")));
        assert!(!rule.admits(&format!("https://evil.example/{TID}/v2.0")));
        let exact = IssuerRule::Exact("https://idp.example".into());
        assert!(exact.admits("https://idp.example") && !exact.admits("https://idp.example/"));
    }

    #[test]
    fn two_rules_overlap_when_one_issuer_could_pass_both() {
        let tenant_issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
        let exact = IssuerRule::Exact(tenant_issuer.clone());
        let any = IssuerRule::Tenant { template: V2.into(), tenants: AllowedTenants::Any };
        let this_one = IssuerRule::Tenant { template: V2.into(), tenants: only(TID) };
        let other_one = IssuerRule::Tenant { template: V2.into(), tenants: only(OTHER) };
        let v1_any = IssuerRule::Tenant { template: V1.into(), tenants: AllowedTenants::Any };
        let overlapping = [
            ("one exact issuer twice", &exact, &IssuerRule::Exact(tenant_issuer)),
            ("a tenant's issuer beside common with *", &exact, &any),
            ("common with * beside a tenant's issuer", &any, &exact),
            ("a tenant's issuer beside the template allowing it", &exact, &this_one),
            ("one template, a tenant allowed by both", &any, &this_one),
        ];
        for (case, a, b) in overlapping {
            assert!(a.overlaps(b), "{case}");
        }
        let apart = [
            ("two exact issuers", &exact, &IssuerRule::Exact("https://idp.example".into())),
            ("a tenant's issuer beside a template allowing another", &exact, &other_one),
            ("one template, other tenants", &this_one, &other_one),
            ("the v1 and v2 templates", &any, &v1_any),
        ];
        for (case, a, b) in apart {
            assert!(!a.overlaps(b) && !b.overlaps(a), "{case}");
        }
    }

    #[test]
    fn discovery_may_announce_a_template_only_for_microsofts_multi_tenant_forms() {
        for segment in ["common", "organizations", "consumers"] {
            let v2 = format!("https://login.microsoftonline.com/{segment}/v2.0");
            assert!(announced_issuer_fits(&v2, V2), "{v2}");
            assert!(announced_issuer_fits(&format!("{v2}/"), V2), "{v2}/");
            let v1 = format!("https://login.microsoftonline.com/{segment}");
            assert!(announced_issuer_fits(&v1, V1), "{v1}");
            assert!(!announced_issuer_fits(&v1, V2) && !announced_issuer_fits(&v2, V1));
        }
        for (configured, announced) in [
            // A tenant's own endpoint names its own issuer, never a template.
            (format!("https://login.microsoftonline.com/{TID}/v2.0"), V2.to_owned()),
            // Another host announcing Microsoft's template, or its own.
            ("https://idp.example/common/v2.0".to_owned(), V2.to_owned()),
            ("https://idp.example".to_owned(), "https://idp.example/{tenantid}".to_owned()),
            (
                "https://login.microsoftonline.com/common/v2.0".to_owned(),
                "https://evil/".to_owned(),
            ),
        ] {
            assert!(!announced_issuer_fits(&configured, &announced), "{configured} {announced}");
        }
        assert!(announced_issuer_fits("https://idp.example", "https://idp.example"));
        assert!(!announced_issuer_fits("https://idp.example", "https://idp.example/"));
    }

    #[test]
    fn a_template_needs_an_allow_list() {
        let common = "https://login.microsoftonline.com/common/v2.0";
        assert_eq!(IssuerRule::new(common, V2, None), Err(IssuerProblem::TenantsNotConfigured));
        let rule = IssuerRule::new(common, V2, Some(&AllowedTenants::Any)).unwrap();
        assert!(rule.is_template());
        assert_eq!(rule.announced(), V2);
        assert_eq!(
            IssuerRule::new("https://a.example", "https://b.example", None),
            Err(IssuerProblem::Mismatch)
        );
        // A placeholder anywhere else is refused, even when it equals the configuration.
        let odd = "https://idp.example/{tenantid}";
        assert_eq!(
            IssuerRule::new(odd, odd, Some(&AllowedTenants::Any)),
            Err(IssuerProblem::Mismatch)
        );
        let exact = IssuerRule::new("https://idp.example", "https://idp.example", None).unwrap();
        assert_eq!(exact, IssuerRule::Exact("https://idp.example".into()));
    }

    #[test]
    fn a_token_names_the_template_filled_with_its_own_allowed_tenant() {
        let common = "https://login.microsoftonline.com/common/v2.0";
        let rule = IssuerRule::new(common, V2, Some(&only(TID))).unwrap();
        let ours = V2.replace(TENANT_PLACEHOLDER, TID);
        assert_eq!(rule.check(Some(&ours), Some(TID)), Some(ours.clone()));
        // Another tenant, even a consistent one; no tid; a tid that is no GUID; iss and tid
        // of different tenants; the template itself.
        let theirs = V2.replace(TENANT_PLACEHOLDER, OTHER);
        assert_eq!(rule.check(Some(&theirs), Some(OTHER)), None);
        assert_eq!(rule.check(Some(&ours), None), None);
        assert_eq!(rule.check(Some(&ours), Some(OTHER)), None);
        assert_eq!(rule.check(Some(&theirs), Some(TID)), None);
        assert_eq!(rule.check(Some(V2), Some(TID)), None);
        assert_eq!(rule.check(None, Some(TID)), None);
        // `*`: any tenant, still its own.
        let any = IssuerRule::new(common, V2, Some(&AllowedTenants::Any)).unwrap();
        assert_eq!(any.check(Some(&theirs), Some(OTHER)), Some(theirs.clone()));
        assert_eq!(any.check(Some(&theirs), Some(TID)), None);
        let slash = V2.replace(TENANT_PLACEHOLDER, "common/../x");
        assert_eq!(any.check(Some(&slash), Some("common/../x")), None);
        // v1.
        let v1 = IssuerRule::new(
            "https://login.microsoftonline.com/organizations",
            V1,
            Some(&only(TID)),
        );
        let v1_iss = format!("https://sts.windows.net/{TID}/");
        assert_eq!(v1.unwrap().check(Some(&v1_iss), Some(TID)), Some(v1_iss));
        // Exact: the tid plays no part.
        let exact = IssuerRule::Exact("https://idp.example".into());
        assert_eq!(
            exact.check(Some("https://idp.example"), None).as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(exact.check(Some("https://idp.example/"), Some(TID)), None);
    }
}
