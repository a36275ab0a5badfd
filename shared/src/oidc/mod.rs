//! OpenID Connect, as a relying party: discovery, the provider's keys and JWKS cache, the OAuth
//! client, the code exchange and userinfo, and the ID token checks. Imports [`crate::infra`]
//! and [`crate::tokens`], nothing above.
//!
//! Inside, one way: `key` <- `issuer` <- `discovery` <- `provider` <- `jwks` <- `id_token` <-
//! `logout_token`; `exchange` and `revoke` use `provider`.

pub mod client_auth;
pub mod discovery;
pub mod dpop;
pub mod exchange;
pub mod global_logout;
pub mod id_token;
pub mod issuer;
pub mod jwks;
pub mod key;
pub mod logout_token;
pub mod par;
pub mod provider;
pub mod revoke;
pub mod rp_logout;
