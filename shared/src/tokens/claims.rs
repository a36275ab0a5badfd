//! Claims copied from the provider into our JWT (`JWT_CLAIMS`): `groups`, `roles`,
//! `preferred_username`, ... from the ID token or userinfo, each size-capped and the whole
//! bounded, so that a user in 900 Entra ID groups cannot make a JWT no header or cookie takes.
//!
//! The claims we set ourselves are never taken from upstream: their names are refused in the
//! configuration ([`RESERVED`]) and skipped again when minting.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use crate::infra::config::claims::{ClaimCopy, RESERVED};

/// Extra claims of a user, by name.
pub type Extra = BTreeMap<String, Value>;

impl ClaimCopy {
    /// The configured claims found in `userinfo` (first) or `id_token`, each no larger than
    /// the cap, together no larger than the total, in the configured order. A claim too large
    /// is left out and logged (its name and size, never its value): the login goes on without
    /// it.
    pub fn copy(
        &self,
        id_token: &Map<String, Value>,
        userinfo: Option<&Map<String, Value>>,
    ) -> Extra {
        let mut out = Extra::new();
        let mut total = 0;
        for name in &self.names {
            let Some(value) = userinfo.and_then(|u| u.get(name)).or_else(|| id_token.get(name))
            else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let size = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
            if size > self.max_claim_bytes {
                tracing::warn!(claim = %name, size, cap = self.max_claim_bytes, "claim too large, left out of our JWT");
                continue;
            }
            if total + size > self.max_total_bytes {
                tracing::warn!(claim = %name, size, total, cap = self.max_total_bytes, "claims over their total, left out of our JWT");
                continue;
            }
            total += size;
            out.insert(name.clone(), value.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests;
