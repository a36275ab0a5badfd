//! Universal Logout's request body (`oidc::global_logout::subject`): any bytes, and whatever
//! is read names a user by one of the two formats, each field non-empty and bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fuzzing::{BodyRefusal, Subject, global_logout_subject};

fuzz_target!(|data: &[u8]| {
    match global_logout_subject(data) {
        Ok(Subject::IssSub { iss, sub }) => {
            assert!(!iss.is_empty() && iss.len() <= 320 && !sub.is_empty() && sub.len() <= 320);
        }
        Ok(Subject::Email(email)) => {
            let (local, domain) = email.split_once('@').expect("an address");
            assert!(!local.is_empty() && !domain.is_empty() && email.len() <= 320);
        }
        Err(BodyRefusal::Malformed(_) | BodyRefusal::UnsupportedFormat) => {}
    }
});
