//! The `Cookie` request header as the functions read it (`shared::cookies`), and the session
//! handle it may carry (`Handle::parse`).
//!
//! Asserts: a cookie of ours found once is the value every reader returns, and found twice
//! is refused by every reader; every transaction cookie listed carries the prefix; a handle
//! accepted has the fixed length and alphabet, hashes to a key that is not itself, and
//! round-trips through its `Set-Cookie`; every transaction cookie name is a token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::cookies::{self, REFRESH, SESSION, TRANSACTION_PREFIX};
use shared::{Error, Handle};

/// Characters of a handle.
const HANDLE_LEN: usize = 43;

fn is_handle_shaped(value: &str) -> bool {
    value.len() == HANDLE_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_handle(value: &str) {
    let Some(handle) = Handle::parse(value) else {
        assert!(!is_handle_shaped(value), "a handle-shaped value was refused: {value:?}");
        return;
    };
    assert!(is_handle_shaped(value), "accepted {value:?}");
    assert_eq!(handle.expose(), value);
    let key = handle.key();
    assert_eq!(key.len(), HANDLE_LEN);
    assert_ne!(key, value);
    // Its Set-Cookie carries it unchanged, and reads back as the same handle.
    let set = cookies::set_refresh(value, 60);
    let pair = set.split(';').next().unwrap_or_default();
    assert_eq!(pair, format!("{REFRESH}={value}"));
    assert_eq!(cookies::refresh(pair).ok().flatten(), Some(value));
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let header = header.as_ref();

    // Every transaction cookie, and each read again by its name.
    let found: Vec<(&str, &str)> = cookies::transactions(header).collect();
    for &(name, value) in &found {
        assert!(name.starts_with(TRANSACTION_PREFIX), "{name:?}");
        let times = found.iter().filter(|(n, _)| *n == name).count();
        match cookies::transaction(header, name) {
            Ok(Some(v)) => assert!(times == 1 && v == value, "{name:?} x{times}: {v:?}"),
            Err(Error::CookieDuplicated) => assert!(times > 1, "{name:?} listed once, refused"),
            other => panic!("{name:?} listed {times}x, read as {other:?}"),
        }
    }

    // The session cookie and the handle: present means not empty, twice means refused.
    for (name, read) in [
        (SESSION, cookies::session as fn(&str) -> Result<Option<&str>, Error>),
        (REFRESH, cookies::refresh),
    ] {
        match read(header) {
            Ok(Some(value)) => {
                assert!(!value.is_empty());
                assert!(header.contains(value));
                assert!(header.contains(name));
            }
            Ok(None) | Err(Error::CookieDuplicated) => {}
            Err(other) => panic!("{name}: {other:?}"),
        }
    }
    if let Ok(Some(value)) = cookies::refresh(header) {
        check_handle(value);
    }
    check_handle(header);

    // A transaction cookie's name, from any state: the prefix and 16 token characters.
    let name = cookies::transaction_name(header);
    let id = name.strip_prefix(TRANSACTION_PREFIX).unwrap_or_default();
    assert_eq!(id.len(), 16, "{name}");
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{name}");
});
