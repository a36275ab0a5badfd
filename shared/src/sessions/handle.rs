//! The session handle: what the browser holds, and the table key derived from it.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::Error;

/// Random bytes in a handle (256 bits).
const HANDLE_BYTES: usize = 32;
/// Characters of a handle, base64url without padding.
const HANDLE_LEN: usize = 43;

/// An opaque session handle. Never logged; the table stores only [`Handle::key`].
pub struct Handle(SecretString);

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handle(..)")
    }
}

impl Handle {
    /// A fresh handle from AWS-LC's generator.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when no randomness is available.
    pub fn new() -> Result<Self, Error> {
        let mut bytes = [0u8; HANDLE_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::Internal("no randomness for a session handle".into()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes).into()))
    }

    /// A handle as the browser sent it, if it has the shape of one.
    pub fn parse(value: &str) -> Option<Self> {
        shaped(value).then(|| Self(value.to_owned().into()))
    }

    /// Whether `value` has the shape of a table key ([`Handle::key`]), our session id: the
    /// base64url of 32 bytes, as a handle is.
    pub fn is_key(value: &str) -> bool {
        shaped(value)
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The table key: base64url(SHA-256(handle)). It cannot be turned back into the handle.
    pub fn key(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, self.expose().as_bytes()).as_ref())
    }
}

/// 43 base64url characters: 32 bytes, a handle's or a SHA-256 digest's.
fn shaped(value: &str) -> bool {
    value.len() == HANDLE_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 128 random bits, base64url: our session id (`sid`), or a lease owner.
pub(super) fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("no randomness for a session id".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_fresh_opaque_and_keyed_by_hash() {
        let (a, b) = (Handle::new().unwrap(), Handle::new().unwrap());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), HANDLE_LEN);
        assert_eq!(a.key(), Handle::parse(a.expose()).unwrap().key());
        assert_ne!(a.key(), a.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
        for bad in ["", "short", &"a".repeat(44), &format!("{}=", &"a".repeat(42))] {
            assert!(Handle::parse(bad).is_none(), "{bad}");
        }
    }
}
