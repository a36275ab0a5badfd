//! Server-side sessions in DynamoDB, on when `SESSION_TABLE` is set.
//!
//! A session is created by a successful callback and lives until logout (here, everywhere,
//! or the provider's back-channel logout), its maximum age, its idle time, the provider's
//! refusal at refresh, a login of its user beyond `SESSION_MAX_PER_USER` (the oldest end), or
//! its item no longer opening (its cookie key removed from the secret). The browser holds only an opaque handle
//! ([`Handle`], 256 random bits, in the `__Host-refresh` cookie); the table is keyed by a hash
//! of it, and the provider's tokens in it are sealed ([`SessionKeys`]), so a dump of the table
//! can be replayed neither as cookies nor as provider tokens.
//!
//! | attribute | holds |
//! | --- | --- |
//! | `h` (key) | base64url(SHA-256(handle)): also our session id, the `sid` claim of our JWTs |
//! | `subj` | `idp` and `sub`, for the index `by_subject` |
//! | `psid` | `idp` and the provider's `sid`, when its ID token had one (index `by_provider_sid`) |
//! | `prov` | the provider's configured name: refresh, revocation and logout use its client |
//! | `mail` | `idp` and the user's e-mail in lower case, only when the provider verified it (index `by_email`: Universal Logout by e-mail); rewritten by each refresh grant |
//! | `dev` | the device label of the login's user agent ("Firefox on Linux"; never the user agent) |
//! | `u` | the user (JSON: sub, email, email_verified, name, the copied claims), as the provider last said: written at login and at each refresh grant |
//! | `tok` | the provider's tokens, sealed under the session key with `h` bound in |
//! | `created`, `used`, `ttl` | login time, last use, and when DynamoDB may drop the item |
//! | `ver` | bumped by every refresh grant; refreshes write conditionally on it |
//! | `renew` | when a refresh grant is due: the access token's expiry less the renewal margin (`SESSION_RENEW_MARGIN_SECONDS`); never if no refresh token |
//! | `lease`, `lease_by` | the one refresh in progress, if any, and until when |
//! | `waiting` | how many requests wait for that refresh (at most `MAX_WAITING`) |
//!
//! `template.yaml` (`SessionTable`) declares the table; `dev/session_table.py` creates it
//! locally from that declaration.

mod device;
mod handle;
mod memory;
mod seal;
// An item's size in DynamoDB's count, measured by the tests: nothing needs it at run time.
#[cfg(test)]
mod size;
mod store;
mod users;

pub use device::label as device_label;
pub use handle::Handle;
pub use memory::Memory;
pub use seal::{ProviderTokens, SessionKeys};
pub use store::{Ending, LEASE_SECS, Lease, MAX_WAITING, Opened, Owner, Record, Revoker, Sessions};
pub use users::{Item as SessionItem, Listed, MAX_LISTED, Named, Revocable, Table};
