//! `JWT_CLAIMS`, `JWT_CLAIM_MAX_BYTES`, `JWT_CLAIMS_MAX_BYTES`: which provider claims our JWT
//! carries ([`crate::tokens::claims`] copies them).

use super::{ConfigError, err};

/// Claims of our JWT that only we set.
pub const RESERVED: [&str; 14] = [
    "iss",
    "aud",
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "sid",
    "api",
    "idp",
    "email",
    "email_verified",
    "name",
    "typ",
];

/// The most claims `JWT_CLAIMS` names.
pub const MAX_CLAIMS: usize = 16;

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
}
