//! Tokens and keys of our own: the secret and its key rings, our signing keys, fresh key
//! material, the sealed login transaction, and our JWT. Imports [`crate::infra`] (the secret's
//! fetch) and the vocabulary modules, nothing above.

pub mod claims;
pub mod keygen;
pub mod secret;
pub mod session;
pub mod signing;
pub mod transaction;
