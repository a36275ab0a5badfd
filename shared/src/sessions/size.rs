//! How large DynamoDB counts an item, and so how many write units writing it costs.
//!
//! DynamoDB's rule ("DynamoDB item sizes and formats", Amazon DynamoDB Developer Guide,
//! `CapacityUnitCalculations`): an item's size is the sum, over its attributes, of the name's
//! UTF-8 length and the value's size:
//!
//! - a string: its UTF-8 length; a binary: its raw length (not its base64 on the wire);
//! - a number: about 1 byte per two significant digits (leading and trailing zeroes trimmed),
//!   plus 1 byte;
//! - a Boolean or a null: 1 byte;
//! - a list or a map: 3 bytes, plus 1 byte and the size of each element (a map's element with
//!   its name);
//! - a set: the sizes of its elements (the guide gives no overhead for sets).
//!
//! A write unit writes up to 1 KB (1024 bytes) of item; `UpdateItem` is charged for the larger
//! of the item before and after the update. No client library computes this: the SDK only
//! reports the units a call consumed, after it.

use aws_sdk_dynamodb::types::AttributeValue;

use super::users::Item;

/// Bytes of item one write unit writes.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// The size DynamoDB counts for `item` (no I/O).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// The write units of writing an item of `size` bytes (at least one).
pub fn write_units(size: usize) -> usize {
    size.div_ceil(WRITE_UNIT_BYTES).max(1)
}

/// The size of one attribute value, without its name.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(all) => all.iter().map(String::len).sum(),
        AttributeValue::Ns(all) => all.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(all) => all.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(all) => 3 + all.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(all) => {
            3 + all.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>()
        }
        // A type this SDK does not know: at least its tag.
        _ => 1,
    }
}

/// The size of number `n` as DynamoDB sends it (`-12.50`, `1767312345`, `1E+3`): its
/// significant digits, leading and trailing zeroes trimmed, two to a byte, plus a byte.
fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
    use aws_sdk_dynamodb::primitives::Blob;
    use secrecy::{ExposeSecret as _, SecretString};
    use serde_json::{Value, json};

    use super::*;
    use crate::sessions::{Handle, Owner, ProviderTokens, SessionKeys};
    use crate::testing::{JwsKey, at_hash, offline_sessions, secret_json};
    use crate::tokens::keygen::KeyAlg;
    use crate::tokens::secret::Secret;
    use crate::tokens::session::User;

    /// Login time of the measured items: ten significant digits, as most are.
    const NOW: u64 = 1_767_312_345;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = Item::from([
            ("s".to_owned(), AttributeValue::S("héllo".to_owned())),
            ("n".to_owned(), AttributeValue::N("1767312345".to_owned())),
            ("z".to_owned(), AttributeValue::N("1767000000".to_owned())),
            ("b".to_owned(), AttributeValue::B(Blob::new(vec![0; 10]))),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("l".to_owned(), AttributeValue::L(vec![AttributeValue::S("ab".to_owned())])),
            (
                "m".to_owned(),
                AttributeValue::M([("k".to_owned(), AttributeValue::N("0".to_owned()))].into()),
            ),
        ]);
        // s 1+6, n 1+(5+1), z 1+(2+1) (trailing zeroes), b 1+10, t 1+1, l 1+3+1+2, m 1+3+1+1+1.
        assert_eq!(item_size(&item), 7 + 7 + 4 + 11 + 2 + 7 + 7);
        assert_eq!(number_size("-0012.50"), 3);
        assert_eq!(number_size("1E+3"), 2);
        assert_eq!((write_units(0), write_units(1024), write_units(1025)), (1, 1, 2));
    }

    /// `n` random characters of the base64url alphabet (as nanoid makes tokens).
    fn nanoid(n: usize) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bytes = vec![0u8; n];
        SystemRandom::new().fill(&mut bytes).unwrap();
        bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect()
    }

    /// `bytes` random bytes as lower-case hex.
    fn hex(bytes: usize) -> String {
        let mut raw = vec![0u8; bytes];
        SystemRandom::new().fill(&mut raw).unwrap();
        raw.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// One provider's login: what the session item holds.
    struct Login {
        provider: &'static str,
        idp: String,
        user: User,
        provider_sid: Option<String>,
        tokens: ProviderTokens,
    }

    fn user(sub: &str, email: &str, verified: Option<bool>, name: &str) -> User {
        User {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            email_verified: verified,
            name: Some(name.to_owned()),
            extra: Default::default(),
        }
    }

    fn tokens(refresh: String, access: String, id: String) -> ProviderTokens {
        ProviderTokens {
            refresh_token: Some(SecretString::from(refresh)),
            access_token: SecretString::from(access),
            access_expires_at: NOW + 3_600,
            id_token: Some(SecretString::from(id)),
            dpop_key: None,
        }
    }

    /// oidc-provider (the local provider, dev/provider): opaque 43-character tokens, an RS256
    /// ID token with a `kid` of a UUID, the user's claims in it.
    fn oidc_provider(key: &JwsKey) -> Login {
        let idp = "http://localhost:3000".to_owned();
        let (access, sid) = (nanoid(43), nanoid(21));
        let id = key.sign_with(
            &json!({"alg": "RS256", "kid": "7c4e1f0a-9b2d-4e8f-a6c3-5d1b7e9f2a40"}),
            &json!({
                "sub": "alice", "email": "alice@example.com", "email_verified": true,
                "name": "Alice Example", "nonce": nanoid(43), "at_hash": at_hash(&access),
                "sid": sid, "auth_time": NOW - 4, "aud": "local-spa", "exp": NOW + 3_600,
                "iat": NOW, "iss": idp,
            }),
        );
        Login {
            provider: "oidc-provider",
            user: user("alice", "alice@example.com", Some(true), "Alice Example"),
            provider_sid: Some(sid),
            tokens: tokens(nanoid(43), access, id),
            idp,
        }
    }

    /// LemonLDAP::NG 2.16 (dev/lemonldap/QUIRKS.md): opaque tokens of 64 hex digits, an RS256
    /// ID token with `typ`, `aud` as an array, `azp`, `acr`, no `sid` and no user claims.
    fn lemonldap(key: &JwsKey) -> Login {
        let idp = "https://auth.example.com".to_owned();
        let access = hex(32);
        let id = key.sign_with(
            &json!({"typ": "JWT", "alg": "RS256", "kid": "lemonldap-ng-sig-2025"}),
            &json!({
                "iss": idp, "sub": "dwho", "aud": ["local-spa"], "azp": "local-spa",
                "iat": NOW, "exp": NOW + 3_600, "auth_time": NOW - 4, "acr": "loa-2",
                "nonce": nanoid(43), "at_hash": at_hash(&access),
            }),
        );
        Login {
            provider: "LemonLDAP::NG",
            user: user("dwho", "dwho@badwolf.org", None, "Doctor Who"),
            provider_sid: None,
            tokens: tokens(hex(32), access, id),
            idp,
        }
    }

    /// Okta's custom authorization server: an RS256 JWT access token of about 1000 characters
    /// (Okta's claims and two custom ones), an opaque refresh token of 43 characters, an RS256
    /// ID token of about 900.
    fn okta(key: &JwsKey) -> Login {
        let idp = "https://dev-48213597.okta.com/oauth2/default".to_owned();
        let header = json!({"kid": nanoid(43), "alg": "RS256"});
        let uid = format!("00u{}", nanoid(17));
        let cid = format!("0oa{}", nanoid(17));
        let access = key.sign_with(
            &header,
            &json!({
                "ver": 1, "jti": format!("AT.{}", nanoid(43)), "iss": idp,
                "aud": "api://default", "iat": NOW, "exp": NOW + 3_600, "cid": cid, "uid": uid,
                "scp": ["openid", "profile", "email", "offline_access"], "auth_time": NOW - 4,
                "sub": "alice.example@example.com", "groups": ["Everyone", "Engineering"],
                "tenant": "acme-corp",
            }),
        );
        let id = key.sign_with(
            &header,
            &json!({
                "sub": uid, "ver": 1, "iss": idp, "aud": cid,
                "iat": NOW, "exp": NOW + 3_600, "jti": format!("ID.{}", nanoid(43)),
                "amr": ["pwd"], "idp": format!("00o{}", nanoid(17)), "nonce": nanoid(43),
                "auth_time": NOW - 4, "at_hash": key.at_hash(&access),
            }),
        );
        Login {
            provider: "Okta",
            user: user(&uid, "alice.example@example.com", Some(true), "Alice Example"),
            provider_sid: None,
            tokens: tokens(nanoid(43), access, id),
            idp,
        }
    }

    /// What a session item of `login` measures: with the tokens as sealed before (JSON), as
    /// sealed now, and now while a refresh holds its lease (`lease`, `lease_by`).
    struct Measured {
        tok: usize,
        before: usize,
        after: usize,
        leased: usize,
    }

    fn measure(login: &Login) -> Measured {
        let secret = secret_json(KeyAlg::Es256, 3);
        let sessions = offline_sessions(&secret);
        let keys = SessionKeys::derive(Secret::from_json(&secret).unwrap().cookie_keys()).unwrap();
        let handle = Handle::new().unwrap();
        let (item, key) = sessions
            .new_item(
                &handle,
                &Owner {
                    user: &login.user,
                    idp: &login.idp,
                    provider: "default",
                    provider_sid: login.provider_sid.as_deref(),
                    // The longest label of a common browser.
                    device: Some("Samsung Internet on Android"),
                },
                &login.tokens,
                NOW,
            )
            .unwrap();
        // The item opens to the very tokens: the ID token is the logout's hint, verbatim.
        let opened = sessions.record(&key, &item).unwrap().tokens;
        let text = |t: &Option<SecretString>| t.as_ref().map(|t| t.expose_secret().to_owned());
        assert_eq!(text(&opened.id_token), text(&login.tokens.id_token));
        assert_eq!(text(&opened.refresh_token), text(&login.tokens.refresh_token));
        assert_eq!(opened.access_token.expose_secret(), login.tokens.access_token.expose_secret());
        let mut before = item.clone();
        before.insert(
            "tok".to_owned(),
            AttributeValue::B(Blob::new(login.tokens.seal_json(&keys, &key).unwrap())),
        );
        let mut leased = item.clone();
        leased.insert("lease".to_owned(), AttributeValue::N((NOW + 15).to_string()));
        leased.insert("lease_by".to_owned(), AttributeValue::S(nanoid(22)));
        let tok = item.get("tok").and_then(|v| v.as_b().ok()).map_or(0, |b| b.as_ref().len());
        Measured {
            tok,
            before: item_size(&before),
            after: item_size(&item),
            leased: item_size(&leased),
        }
    }

    fn token_len(t: &Option<SecretString>) -> usize {
        t.as_ref().map_or(0, |t| t.expose_secret().len())
    }

    #[test]
    fn a_typical_session_item_fits_one_write_unit() {
        let key = JwsKey::rsa("provider", "RS256");
        let logins = [oidc_provider(&key), lemonldap(&key), okta(&key)];
        let okta_lengths = (
            logins[2].tokens.access_token.expose_secret().len(),
            token_len(&logins[2].tokens.id_token),
        );
        assert!((950..=1_050).contains(&okta_lengths.0), "Okta access token {okta_lengths:?}");
        assert!((850..=950).contains(&okta_lengths.1), "Okta ID token {okta_lengths:?}");
        let claims: Value =
            crate::testing::claims_of(logins[0].tokens.id_token.as_ref().unwrap().expose_secret());
        assert_eq!(claims["sub"], "alice");
        for login in &logins {
            let m = measure(login);
            eprintln!(
                "{}: tokens (refresh, access, ID) {} {} {} chars; item before {} B ({} units), after {} B ({} units, `tok` {} B), leased {} B",
                login.provider,
                token_len(&login.tokens.refresh_token),
                login.tokens.access_token.expose_secret().len(),
                token_len(&login.tokens.id_token),
                m.before,
                write_units(m.before),
                m.after,
                write_units(m.after),
                m.tok,
                m.leased,
            );
            assert!(write_units(m.before) >= 2, "{}: before {}", login.provider, m.before);
            if login.provider == "Okta" {
                // Two RSA-2048 signatures (512 bytes, random: they do not compress), both kept
                // (the ID token is the logout's hint), two claim sets and a long issuer three
                // times over: more than 1 KB, but one write unit less than before.
                assert!(m.after > WRITE_UNIT_BYTES);
                assert_eq!(write_units(m.after) + 1, write_units(m.before));
            } else {
                assert!(m.after <= WRITE_UNIT_BYTES, "{}: after {}", login.provider, m.after);
                assert!(m.leased <= WRITE_UNIT_BYTES, "{}: leased {}", login.provider, m.leased);
            }
        }
    }
}
