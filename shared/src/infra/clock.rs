//! The one clock. Only the entry point reads it, once per request; everything below takes the
//! `now` it is handed (Unix seconds), so a test moves time by passing another value and every
//! check follows: the transaction's age, the ID token's `exp` and `iat`, our JWT's `exp`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
