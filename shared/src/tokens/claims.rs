//! Claims copied from the provider into our JWT (`JWT_CLAIMS`): `groups`, `roles`,
//! `preferred_username`, ... from the ID token or userinfo, each size-capped and the whole
//! bounded, so that a user in 900 Entra ID groups cannot make a JWT no header or cookie takes.
//!
//! The claims we set ourselves are never taken from upstream: their names are refused in the
//! configuration ([`RESERVED`]) and skipped again when minting.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::infra::config::{ConfigError, err};

/// Claims of our JWT that only we set.
pub const RESERVED: [&str; 13] = [
    "iss",
    "aud",
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "sid",
    "idp",
    "email",
    "email_verified",
    "name",
    "typ",
];

/// The most claims `JWT_CLAIMS` names.
pub const MAX_CLAIMS: usize = 16;

/// Extra claims of a user, by name.
pub type Extra = BTreeMap<String, Value>;

/// `JWT_CLAIMS`, `JWT_CLAIM_MAX_BYTES`, `JWT_CLAIMS_MAX_BYTES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimCopy {
    /// The claims to copy, in order (the order in which the total is spent).
    pub names: Vec<String>,
    /// The largest one claim may be, as JSON (default 1024 bytes).
    pub max_claim_bytes: usize,
    /// The largest all of them may be together, as JSON (default 4096 bytes).
    pub max_total_bytes: usize,
}

impl ClaimCopy {
    /// Reads the three variables through `get`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a name we set ourselves, a malformed name, too many names, or a
    /// size out of range.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bytes = |name: &'static str, default: usize| match get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (16..=8192).contains(&n) => Ok(n),
                _ => Err(err(name, "must be a number of bytes from 16 to 8192")),
            },
        };
        let max_claim_bytes = bytes("JWT_CLAIM_MAX_BYTES", 1024)?;
        let max_total_bytes = bytes("JWT_CLAIMS_MAX_BYTES", 4096)?;
        let mut names: Vec<String> = Vec::new();
        let list = get("JWT_CLAIMS").unwrap_or_default();
        for name in list.split(|c: char| c == ',' || c.is_whitespace()).filter(|n| !n.is_empty()) {
            let well_formed = name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
            if !well_formed {
                return Err(err(
                    "JWT_CLAIMS",
                    "a name has characters other than A-Z a-z 0-9 _ - . :",
                ));
            }
            if RESERVED.contains(&name) {
                return Err(err(
                    "JWT_CLAIMS",
                    format!("{name} is set by this service and cannot be copied from the provider"),
                ));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if names.len() > MAX_CLAIMS {
            return Err(err("JWT_CLAIMS", format!("names more than {MAX_CLAIMS} claims")));
        }
        Ok(Self { names, max_claim_bytes, max_total_bytes })
    }

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

/// The claims of a JWS whose signature was already verified (an ID token): its payload as a
/// JSON object; empty when it does not decode (it did, to be verified).
pub fn payload_claims(jws: &str) -> Map<String, Value> {
    jws.split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
