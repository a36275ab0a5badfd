//! `OIDC_ALLOWED_TENANTS`: the Entra ID tenants whose users may log in through a multi-tenant
//! issuer (`https://login.microsoftonline.com/common/v2.0` and its kin, whose discovery names
//! the issuer `https://login.microsoftonline.com/{tenantid}/v2.0`).
//!
//! Kept apart from the rest of the configuration: one variable, one function.

use super::{ConfigError, err};

/// Which tenants a templated issuer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedTenants {
    /// `*`: any tenant (any organisation's users, and personal accounts through `common`).
    Any,
    /// These tenant ids (GUIDs, lower case).
    Only(Vec<String>),
}

impl AllowedTenants {
    /// Whether `tid` (a token's `tid` claim) is a tenant id this list allows.
    pub fn allows(&self, tid: &str) -> bool {
        is_tenant_id(tid)
            && match self {
                Self::Any => true,
                Self::Only(ids) => ids.iter().any(|id| id.eq_ignore_ascii_case(tid)),
            }
    }
}

impl AllowedTenants {
    /// Whether a tenant could be allowed by both lists.
    pub fn shares_a_tenant_with(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Any, _) | (_, Self::Any) => true,
            (Self::Only(ours), Self::Only(theirs)) => {
                ours.iter().any(|id| theirs.iter().any(|t| t.eq_ignore_ascii_case(id)))
            }
        }
    }
}

/// A tenant id as Entra ID writes it: a GUID, `8-4-4-4-12` hexadecimal digits.
fn is_tenant_id(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Parses `OIDC_ALLOWED_TENANTS` (`None`: unset): `*`, or tenant ids separated by commas.
///
/// # Errors
///
/// A [`ConfigError`] naming the variable when an entry is not a GUID, or `*` is mixed with ids.
pub fn allowed_tenants(value: Option<&str>) -> Result<Option<AllowedTenants>, ConfigError> {
    const NAME: &str = "OIDC_ALLOWED_TENANTS";
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value == "*" {
        return Ok(Some(AllowedTenants::Any));
    }
    let mut ids = Vec::new();
    for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        if id == "*" {
            return Err(err(NAME, "* stands alone: any tenant, or a list of tenant ids"));
        }
        if !is_tenant_id(id) {
            return Err(err(NAME, "each entry must be a tenant id (a GUID), or the whole value *"));
        }
        ids.push(id.to_ascii_lowercase());
    }
    Ok(Some(AllowedTenants::Only(ids)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const B: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    #[test]
    fn a_list_of_guids_or_a_star() {
        assert_eq!(allowed_tenants(None), Ok(None));
        assert_eq!(allowed_tenants(Some("  ")), Ok(None));
        assert_eq!(allowed_tenants(Some(" * ")), Ok(Some(AllowedTenants::Any)));
        let upper = A.to_ascii_uppercase();
        let list = allowed_tenants(Some(&format!("{upper}, {B},"))).unwrap().unwrap();
        assert_eq!(list, AllowedTenants::Only(vec![A.to_owned(), B.to_owned()]));
        assert!(list.allows(A) && list.allows(&upper) && list.allows(B));
        assert!(!list.allows("00000000-0000-0000-0000-000000000000"));
        assert!(AllowedTenants::Any.allows(A));
        assert!(!AllowedTenants::Any.allows("common"), "a tid must be a GUID, even for *");
        assert!(!AllowedTenants::Any.allows(&format!("{A}/x")));
    }

    #[test]
    fn anything_else_names_the_variable() {
        for bad in ["common", &format!("{A},*"), "72f988bf-86f1-41af-91ab-2d7cd011db4", "x,y"] {
            let e = allowed_tenants(Some(bad)).unwrap_err();
            assert_eq!(e.variable, "OIDC_ALLOWED_TENANTS", "{bad}");
        }
    }
}
