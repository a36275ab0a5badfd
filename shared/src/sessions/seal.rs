//! The provider's tokens, sealed at rest: AES-256-GCM under a key derived from each cookie key.
//!
//! The session keys are derived (HKDF-SHA256) from the secret's cookie keys rather than added
//! to the secret: they rotate with them (the first seals, every one still opens), and a sealed
//! cookie and a sealed session never share a key. The item's key `h` is bound in as associated
//! data, so a sealed blob moved to another item does not open.
//!
//! Two formats open; [`ProviderTokens::seal`] writes the second:
//!
//! | format | blob | plaintext |
//! | --- | --- | --- |
//! | 1 (first releases) | `nonce ‖ AES-256-GCM(plaintext)`, associated data `…/v1/` ‖ `h` | JSON `{"r","a","e","i"}` |
//! | 2 | `0x02 ‖ nonce ‖ AES-256-GCM(plaintext)`, associated data `…/v2/` ‖ `h` | packed (below) |
//!
//! A format 1 blob begins with its random nonce, so its first byte may be `0x02` too: a blob
//! that begins so is opened as format 2 first and, when that fails, as format 1. The associated
//! data names the format, so a blob never opens as the other format: whichever opens is right.
//!
//! The packed plaintext keeps a session item within one DynamoDB write unit (1 KB) for the usual
//! tokens (`size.rs` measures them). The tokens are base64url text, 6 bits a character: each
//! token, and each segment of a JWS (`header.payload.signature`), is stored as the bytes its
//! characters stand for (3 bytes for 4 characters; lower-case hex, 4 bits a character, as
//! bytes too). The JSON of the JWS headers and payloads, and any token of other characters,
//! is deflated (RFC 1951) with a preset dictionary of the usual claim names; the signatures and
//! opaque tokens, random bytes, are stored as they are. Every token comes back character for
//! character: the ID token is the logout's `id_token_hint`, which providers compare with what
//! they issued.
//!
//! ```text
//! plaintext := varint(e) flags varint(len(deflated)) deflated token(r)? token(a) token(i)?
//!              token(k)?
//! flags     := bit 0: r present, bit 1: i present, bit 2: k (the DPoP key) present
//! token     := 0 varint(bytes)              the token's text, from the inflated stream
//!            | 1 varint(chars) packed       base64url characters, 3 bytes for each 4
//!            | 2 varint(bytes) bytes        lower-case hex, 1 byte for each 2 characters
//!            | 3 varint(chars) varint(chars) varint(chars) packed
//!                                           a JWS: header and payload packed into the
//!                                           inflated stream, the signature here
//! varint    := unsigned LEB128
//! ```
//!
//! The inflated stream is capped ([`MAX_INFLATED`]): a blob that inflates further does not open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{CompressorOxide, TDEFLFlush, TDEFLStatus, compress};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

use crate::error::Error;
use crate::tokens::secret::{CookieKey, KeyRing};

const SALT: &[u8] = b"spa-login/session-tokens";
const INFO: &[u8] = b"v1";
/// Associated data of format 1 (JSON), before the item key.
const AAD_JSON: &[u8] = b"spa-login/session/v1/";
/// Associated data of format 2 (packed), before the item key.
const AAD_PACKED: &[u8] = b"spa-login/session/v2/";
/// The first byte of a format 2 blob.
const PACKED: u8 = 2;
/// The most a packed blob's deflated stream may inflate to: far above any token set a provider
/// issues (tokens travel in HTTP headers of a few KB), far below what would hurt a function.
pub const MAX_INFLATED: usize = 64 * 1024;

/// The preset dictionary of the deflated stream (RFC 1950's FDICT, without the zlib wrapper):
/// what JWS headers and OpenID Connect, OAuth and Okta claims share, the most common last (the
/// nearest, cheapest to refer to). Part of format 2: changing it needs a new format.
const DICTIONARY: &[u8] = concat!(
    r#"{"ver":1,"jti":"AT.","cid":"","uid":"","scp":["openid","profile","email","offline_access"],"#,
    r#""groups":["","roles":["","tid":"","oid":"","ver":"2.0","upn":"","scope":"openid profile email","#,
    r#""client_id":"","token_use":"","typ":"Bearer","azp":"","acr":"","amr":["pwd"],"idp":"","#,
    r#""preferred_username":"","given_name":"","family_name":"","locale":"","picture":"https://","#,
    r#""session_state":"","sid":"","email":"","email_verified":true,"name":"","#,
    r#""nonce":"","at_hash":"","c_hash":"","auth_time":17"#,
    r#","iss":"https://","sub":"","aud":"","exp":17,"iat":17,"nbf":17,"#,
    r#"{"typ":"JWT","alg":"RS256","kid":"{"alg":"RS256","typ":"at+jwt","kid":""}"#,
    r#"{"kid":"","alg":"RS256"}{"alg":"RS256","kid":""}"#,
)
.as_bytes();

/// The keys that seal the provider's tokens in the table, the first sealing.
pub struct SessionKeys(Vec<LessSafeKey>);

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKeys({} keys)", self.0.len())
    }
}

impl SessionKeys {
    /// One session key per cookie key, in the same order.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when a derivation fails.
    pub fn derive(cookie_keys: &KeyRing<CookieKey>) -> Result<Self, Error> {
        let salt = Salt::new(HKDF_SHA256, SALT);
        cookie_keys
            .iter()
            .map(|k| {
                let prk = salt.extract(k.expose());
                let okm = prk
                    .expand(&[INFO], &AES_256_GCM)
                    .map_err(|_| Error::Internal("session key derivation failed".into()))?;
                Ok(LessSafeKey::new(UnboundKey::from(okm)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// What the provider gave for a session. Never logged.
#[derive(Clone, Deserialize)]
pub struct ProviderTokens {
    /// The refresh token, when the provider gave one.
    #[serde(rename = "r", default)]
    pub refresh_token: Option<SecretString>,
    /// The access token.
    #[serde(rename = "a")]
    pub access_token: SecretString,
    /// When the access token expires as we use it (Unix seconds): the provider's expiry less
    /// the renewal margin ([`ProviderTokens::from_response`]), so that it is renewed, and never
    /// sent upstream, within that margin of its end.
    #[serde(rename = "e")]
    pub access_expires_at: u64,
    /// The last ID token (for the next issue's logout hint).
    #[serde(rename = "i", default)]
    pub id_token: Option<SecretString>,
    /// The session's DPoP key (`OIDC_DPOP`), the base64url of its PKCS#8 bytes: the tokens are
    /// bound to it, and each request that uses them signs a proof with it.
    #[serde(rename = "k", default)]
    pub dpop_key: Option<SecretString>,
}

impl fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("access_expires_at", &self.access_expires_at)
            .field("dpop", &self.dpop_key.is_some())
            .finish_non_exhaustive()
    }
}

impl ProviderTokens {
    /// When the provider must be asked again, by a refresh grant: the access token's expiry
    /// while a refresh token is held; never (`u64::MAX`) without one, the access token then
    /// being all there is. `/api/refresh` and the `renew` attribute of the session item
    /// ([`super::Sessions::open`]) both read it.
    pub fn renew_at(&self) -> u64 {
        if self.refresh_token.is_some() { self.access_expires_at } else { u64::MAX }
    }

    /// What a token response gives: its refresh token and ID token (or `previous`' when a
    /// refresh answer does not rotate them), access token, and when to renew the access token:
    /// at `now` + `expires_in` (or + `fallback` when the provider gives none), less a margin of
    /// a tenth of that lifetime or `margin`, whichever is less. Some providers let a refresh
    /// token die with its access token, so a grant made only after the expiry is always
    /// refused; renewing a little before it (as Duende's refresh-before-expiration does) keeps
    /// such sessions alive, and a tenth of the lifetime never turns into a grant per refresh.
    pub fn from_response(
        tokens: &openidconnect::core::CoreTokenResponse,
        previous: Option<&Self>,
        now: u64,
        fallback: std::time::Duration,
        margin: std::time::Duration,
    ) -> Self {
        use openidconnect::{OAuth2TokenResponse as _, TokenResponse as _};
        let lifetime = tokens.expires_in().unwrap_or(fallback).as_secs();
        let margin = (lifetime / 10).min(margin.as_secs());
        Self {
            refresh_token: tokens
                .refresh_token()
                .map(|t| SecretString::from(t.secret().as_str()))
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            access_token: SecretString::from(tokens.access_token().secret().as_str()),
            access_expires_at: now + lifetime - margin,
            id_token: tokens
                .id_token()
                .map(|t| SecretString::from(t.to_string()))
                .or_else(|| previous.and_then(|p| p.id_token.clone())),
            // The key the tokens were bound to: the callback's, kept by every grant.
            dpop_key: previous.and_then(|p| p.dpop_key.clone()),
        }
    }
}

/// Format 1's plaintext.
#[cfg(test)]
#[derive(Serialize)]
struct Plain<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    r: Option<&'a str>,
    a: &'a str,
    e: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<&'a str>,
}

/// The associated data of a blob of the format `prefix` names, for item `item_key`.
fn aad(prefix: &[u8], item_key: &str) -> Vec<u8> {
    [prefix, item_key.as_bytes()].concat()
}

/// `plain` sealed under `key` with a fresh nonce: `nonce || ciphertext || tag`.
fn encrypt(key: &LessSafeKey, aad: Vec<u8>, plain: Vec<u8>) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Error::Internal("no randomness for a session nonce".into()))?;
    let mut sealed = plain;
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed)
        .map_err(|_| Error::Internal("session tokens could not be sealed".into()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// What `nonce || ciphertext || tag` hides, under the first of `keys` it opens with.
fn decrypt(keys: &SessionKeys, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    keys.0.iter().find_map(|key| {
        let mut in_out = body.to_vec();
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    })
}

impl ProviderTokens {
    /// `0x02 || nonce || AES-256-GCM(packed)` under the first session key, bound to
    /// `item_key` (format 2, in the module's documentation).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when randomness, compression or encryption fails, or the tokens are
    /// too large to open again ([`MAX_INFLATED`]).
    pub fn seal(&self, keys: &SessionKeys, item_key: &str) -> Result<Vec<u8>, Error> {
        let key = keys.0.first().ok_or_else(|| Error::Internal("no session key".into()))?;
        let sealed = encrypt(key, aad(AAD_PACKED, item_key), pack(self)?)?;
        Ok([[PACKED].as_slice(), &sealed].concat())
    }

    /// Opens what [`ProviderTokens::seal`] made, or what it made before format 2 (JSON), with
    /// any session key.
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when it opens under no key (the key was retired), does not
    /// parse, or inflates beyond [`MAX_INFLATED`]: the session cannot be used any more.
    pub fn open(sealed: &[u8], keys: &SessionKeys, item_key: &str) -> Result<Self, Error> {
        let unusable = || Error::SessionExpired("session tokens do not open");
        if let Some((&PACKED, rest)) = sealed.split_first()
            && let Some(plain) = decrypt(keys, &aad(AAD_PACKED, item_key), rest)
        {
            return unpack(&plain).ok_or_else(unusable);
        }
        let plain = decrypt(keys, &aad(AAD_JSON, item_key), sealed).ok_or_else(unusable)?;
        serde_json::from_slice(&plain).map_err(|_| unusable())
    }

    /// Format 1 (JSON): what [`ProviderTokens::seal`] made before format 2, for the tests that
    /// such items still open, and the item sizes of before.
    #[cfg(test)]
    pub(super) fn seal_json(&self, keys: &SessionKeys, item_key: &str) -> Result<Vec<u8>, Error> {
        let plain = serde_json::to_vec(&Plain {
            r: self.refresh_token.as_ref().map(|t| t.expose_secret()),
            a: self.access_token.expose_secret(),
            e: self.access_expires_at,
            i: self.id_token.as_ref().map(|t| t.expose_secret()),
        })
        .map_err(|_| Error::Internal("session tokens could not be serialized".into()))?;
        let key = keys.0.first().ok_or_else(|| Error::Internal("no session key".into()))?;
        encrypt(key, aad(AAD_JSON, item_key), plain)
    }
}

// Packing (format 2). Written here: no maintained crate packs base64url text as its bytes
// whatever its length, and LEB128 is a few lines, not worth a dependency.

/// A token kept as its text (in the inflated stream).
const KIND_TEXT: u8 = 0;
/// A token of base64url characters, packed.
const KIND_BASE64: u8 = 1;
/// A token of lower-case hex digits, as bytes.
const KIND_HEX: u8 = 2;
/// A JWS of three base64url segments.
const KIND_JWS: u8 = 3;
/// `flags`: a refresh token follows.
const HAS_REFRESH: u8 = 1;
/// `flags`: an ID token follows.
const HAS_ID: u8 = 2;
/// A packed plaintext's flag: a DPoP key follows the ID token (base64url, packed as a token).
const HAS_DPOP: u8 = 4;

/// Appends `value` as unsigned LEB128.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Whether `text` is all base64url characters (RFC 4648 section 5, no padding).
fn is_base64url(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `text` is lower-case hex digits, an even number of them (at least two).
fn is_hex(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The bytes base64url characters `text` stand for, `text` first completed with `A` (zero
/// bits) to a whole number of 4-character groups: 3 bytes a group, whatever the last
/// character's unused bits (a token need not be canonical base64). `None` for other
/// characters.
fn pack_base64(text: &str) -> Option<Vec<u8>> {
    let mut whole = String::with_capacity(text.len() + 3);
    whole.push_str(text);
    while !whole.len().is_multiple_of(4) {
        whole.push('A');
    }
    URL_SAFE_NO_PAD.decode(whole).ok()
}

/// The `chars` base64url characters that [`pack_base64`] packed as `bytes`.
fn unpack_base64(bytes: &[u8], chars: usize) -> Option<String> {
    if bytes.len() != packed_len(chars)? {
        return None;
    }
    let mut text = URL_SAFE_NO_PAD.encode(bytes);
    text.truncate(chars);
    Some(text)
}

/// How many bytes [`pack_base64`] makes of `chars` characters.
fn packed_len(chars: usize) -> Option<usize> {
    chars.div_ceil(4).checked_mul(3)
}

/// The bytes lower-case hex `text` stands for.
fn pack_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(*pair.first()?)? << 4 | digit(*pair.get(1)?)?))
        .collect()
}

/// `bytes` as lower-case hex.
fn unpack_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .map(char::from)
        .collect()
}

/// Appends `token`'s description to `out`, its deflatable part to `text`.
fn pack_token(out: &mut Vec<u8>, text: &mut Vec<u8>, token: &str) {
    let segments: Vec<&str> = token.split('.').collect();
    if let [header, payload, signature] = segments[..]
        && segments.iter().all(|s| is_base64url(s))
        && let (Some(h), Some(p), Some(s)) =
            (pack_base64(header), pack_base64(payload), pack_base64(signature))
    {
        out.push(KIND_JWS);
        for segment in [header, payload, signature] {
            put_varint(out, segment.len() as u64);
        }
        text.extend_from_slice(&h);
        text.extend_from_slice(&p);
        out.extend_from_slice(&s);
    } else if is_hex(token)
        && let Some(bytes) = pack_hex(token)
    {
        out.push(KIND_HEX);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    } else if !token.is_empty()
        && is_base64url(token)
        && let Some(bytes) = pack_base64(token)
    {
        out.push(KIND_BASE64);
        put_varint(out, token.len() as u64);
        out.extend_from_slice(&bytes);
    } else {
        out.push(KIND_TEXT);
        put_varint(out, token.len() as u64);
        text.extend_from_slice(token.as_bytes());
    }
}

/// Format 2's plaintext of `tokens`.
fn pack(tokens: &ProviderTokens) -> Result<Vec<u8>, Error> {
    let refresh = tokens.refresh_token.as_ref().map(|t| t.expose_secret());
    let id = tokens.id_token.as_ref().map(|t| t.expose_secret());
    let dpop = tokens.dpop_key.as_ref().map(|t| t.expose_secret());
    let mut described = Vec::new();
    let mut text = Vec::new();
    let all = [refresh, Some(tokens.access_token.expose_secret()), id, dpop];
    for token in all.into_iter().flatten() {
        pack_token(&mut described, &mut text, token);
    }
    if text.len() > MAX_INFLATED {
        return Err(Error::Internal("session tokens too large to seal".into()));
    }
    let deflated = deflate(&text)?;
    let mut out = Vec::with_capacity(described.len() + deflated.len() + 16);
    put_varint(&mut out, tokens.access_expires_at);
    out.push(
        if refresh.is_some() { HAS_REFRESH } else { 0 }
            | if id.is_some() { HAS_ID } else { 0 }
            | if dpop.is_some() { HAS_DPOP } else { 0 },
    );
    put_varint(&mut out, deflated.len() as u64);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&described);
    Ok(out)
}

/// Raw deflate of `text` (level 9) after [`DICTIONARY`]: the dictionary is compressed first
/// and flushed to a byte boundary (a sync flush keeps it in the window), its output dropped.
/// miniz_oxide has no preset dictionary of its own; [`inflate`] puts the dictionary back.
fn deflate(text: &[u8]) -> Result<Vec<u8>, Error> {
    let mut compressor = CompressorOxide::default();
    compressor.set_format_and_level(DataFormat::Raw, 9);
    run(&mut compressor, DICTIONARY, TDEFLFlush::Sync)?;
    run(&mut compressor, text, TDEFLFlush::Finish)
}

/// What `compressor` outputs for `input` up to `flush` (`Sync` or `Finish`).
fn run(
    compressor: &mut CompressorOxide,
    mut input: &[u8],
    flush: TDEFLFlush,
) -> Result<Vec<u8>, Error> {
    let failed = || Error::Internal("session tokens could not be compressed".into());
    let mut out = vec![0; input.len() * 2 + 128];
    let mut at = 0;
    loop {
        let room = out.get_mut(at..).ok_or_else(failed)?;
        let space = room.len();
        let (status, read, written) = compress(compressor, input, room, flush);
        at += written;
        input = input.get(read..).ok_or_else(failed)?;
        match status {
            TDEFLStatus::Done => break,
            // Flushed: everything read, and the output did not fill the room given.
            TDEFLStatus::Okay
                if flush != TDEFLFlush::Finish && input.is_empty() && written < space =>
            {
                break;
            }
            TDEFLStatus::Okay => out.resize(out.len() * 2, 0),
            _ => return Err(failed()),
        }
    }
    out.truncate(at);
    Ok(out)
}

/// What [`deflate`] made, inflated: [`DICTIONARY`] is put before it as a stored block (RFC 1951
/// section 3.2.4, not the last), so that its references into the dictionary resolve, and cut
/// from the output. `None` when it is no deflate stream or inflates beyond [`MAX_INFLATED`].
fn inflate(deflated: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(DICTIONARY.len()).ok()?;
    let mut stream = Vec::with_capacity(5 + DICTIONARY.len() + deflated.len());
    stream.push(0);
    stream.extend_from_slice(&len.to_le_bytes());
    stream.extend_from_slice(&(!len).to_le_bytes());
    stream.extend_from_slice(DICTIONARY);
    stream.extend_from_slice(deflated);
    let mut out = miniz_oxide::inflate::decompress_to_vec_with_limit(
        &stream,
        DICTIONARY.len() + MAX_INFLATED,
    )
    .ok()?;
    out.starts_with(DICTIONARY).then(|| out.split_off(DICTIONARY.len()))
}

/// Reads a packed plaintext front to back; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// The next byte.
    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    /// The next unsigned LEB128 (at most 64 bits).
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next LEB128 as a length.
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }
}

/// The next token of `described`, its text parts from `text`.
fn unpack_token(described: &mut Reader<'_>, text: &mut Reader<'_>) -> Option<String> {
    match described.byte()? {
        KIND_TEXT => {
            let len = described.len()?;
            String::from_utf8(text.take(len)?.to_vec()).ok()
        }
        KIND_BASE64 => {
            let chars = described.len()?;
            unpack_base64(described.take(packed_len(chars)?)?, chars)
        }
        KIND_HEX => {
            let len = described.len()?;
            Some(unpack_hex(described.take(len)?))
        }
        KIND_JWS => {
            let (h, p, s) = (described.len()?, described.len()?, described.len()?);
            let header = unpack_base64(text.take(packed_len(h)?)?, h)?;
            let payload = unpack_base64(text.take(packed_len(p)?)?, p)?;
            let signature = unpack_base64(described.take(packed_len(s)?)?, s)?;
            Some(format!("{header}.{payload}.{signature}"))
        }
        _ => None,
    }
}

/// The tokens of format 2's plaintext `plain`; `None` when it is malformed.
fn unpack(plain: &[u8]) -> Option<ProviderTokens> {
    let mut described = Reader(plain);
    let access_expires_at = described.varint()?;
    let flags = described.byte()?;
    if flags & !(HAS_REFRESH | HAS_ID | HAS_DPOP) != 0 {
        return None;
    }
    let deflated_len = described.len()?;
    let inflated = inflate(described.take(deflated_len)?)?;
    let mut text = Reader(&inflated);
    let mut next = || unpack_token(&mut described, &mut text).map(SecretString::from);
    let refresh_token = if flags & HAS_REFRESH != 0 { Some(next()?) } else { None };
    let access_token = next()?;
    let id_token = if flags & HAS_ID != 0 { Some(next()?) } else { None };
    let dpop_key = if flags & HAS_DPOP != 0 { Some(next()?) } else { None };
    // Nothing left over: what was sealed is exactly what opened.
    (described.0.is_empty() && text.0.is_empty()).then_some(ProviderTokens {
        refresh_token,
        access_token,
        access_expires_at,
        id_token,
        dpop_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(bytes: &[[u8; 32]]) -> KeyRing<CookieKey> {
        KeyRing::new(bytes.iter().map(|b| CookieKey::new(*b)).collect()).unwrap()
    }

    fn tokens() -> ProviderTokens {
        ProviderTokens {
            refresh_token: Some("provider-refresh-token".to_owned().into()),
            access_token: "provider-access-token".to_owned().into(),
            access_expires_at: 1_000,
            id_token: None,
            dpop_key: None,
        }
    }

    #[test]
    fn a_dpop_key_survives_sealing_and_a_cookie_key_rotation_and_stays_with_each_grant() {
        let key = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg".to_owned() + &"A".repeat(100);
        let with_key = ProviderTokens { dpop_key: Some(key.clone().into()), ..tokens() };
        let old = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let sealed = with_key.seal(&old, "item-a").unwrap();
        // Rotated: the new cookie key first; the old one still opens, the new one reseals.
        let rotated = SessionKeys::derive(&ring(&[[2; 32], [1; 32]])).unwrap();
        let opened = ProviderTokens::open(&sealed, &rotated, "item-a").unwrap();
        assert_eq!(opened.dpop_key.as_ref().unwrap().expose_secret(), key);
        let resealed = opened.seal(&rotated, "item-a").unwrap();
        let only_new = SessionKeys::derive(&ring(&[[2; 32]])).unwrap();
        let reopened = ProviderTokens::open(&resealed, &only_new, "item-a").unwrap();
        assert_eq!(reopened.dpop_key.as_ref().unwrap().expose_secret(), key);
        // A grant's new tokens keep the key they are bound to.
        let answer: openidconnect::core::CoreTokenResponse = serde_json::from_value(
            serde_json::json!({"access_token": "at-2", "token_type": "DPoP", "expires_in": 60}),
        )
        .unwrap();
        let next = ProviderTokens::from_response(
            &answer,
            Some(&reopened),
            0,
            std::time::Duration::from_secs(60),
            std::time::Duration::ZERO,
        );
        assert_eq!(next.dpop_key.unwrap().expose_secret(), key);
        assert!(!format!("{with_key:?}").contains(&key[..20]));
    }

    #[test]
    fn sealed_tokens_open_under_any_key_bound_to_their_item() {
        let old = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let rotated = SessionKeys::derive(&ring(&[[2; 32], [1; 32]])).unwrap();
        let sealed = tokens().seal(&old, "item-a").unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("provider-refresh-token") && !text.contains("provider-access"));
        let opened = ProviderTokens::open(&sealed, &rotated, "item-a").unwrap();
        assert_eq!(opened.refresh_token.unwrap().expose_secret(), "provider-refresh-token");
        assert_eq!(opened.access_expires_at, 1_000);
        assert!(ProviderTokens::open(&sealed, &old, "item-b").is_err(), "moved to another item");
        let retired = SessionKeys::derive(&ring(&[[2; 32]])).unwrap();
        assert!(ProviderTokens::open(&sealed, &retired, "item-a").is_err());
        assert!(!format!("{:?}", tokens()).contains("provider-"));
    }

    fn with(refresh: Option<&str>, access: &str, id: Option<&str>) -> ProviderTokens {
        ProviderTokens {
            refresh_token: refresh.map(|t| t.to_owned().into()),
            access_token: access.to_owned().into(),
            access_expires_at: 1_767_312_345,
            id_token: id.map(|t| t.to_owned().into()),
            dpop_key: None,
        }
    }

    fn text(t: &Option<SecretString>) -> Option<String> {
        t.as_ref().map(|t| t.expose_secret().to_owned())
    }

    fn assert_same(a: &ProviderTokens, b: &ProviderTokens) {
        assert_eq!(text(&a.refresh_token), text(&b.refresh_token));
        assert_eq!(a.access_token.expose_secret(), b.access_token.expose_secret());
        assert_eq!(a.access_expires_at, b.access_expires_at);
        assert_eq!(text(&a.id_token), text(&b.id_token));
    }

    /// `tokens` sealed and opened again, checked the same.
    fn assert_round_trip(tokens: &ProviderTokens) {
        let keys = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let sealed = tokens.seal(&keys, "item-a").unwrap();
        assert_eq!(sealed.first(), Some(&PACKED));
        assert_same(&ProviderTokens::open(&sealed, &keys, "item-a").unwrap(), tokens);
    }

    /// An RS256-shaped JWS: JSON header and claims, 256 bytes of signature.
    const JWS: &str = concat!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6IjdjNGUifQ.",
        "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIiwiYXVkIjoic3BhIiwiZXhwIjoxNzY3MzE1OTQ1LCJpYXQiOjE3NjczMTIzNDUsIm5vbmNlIjoibiJ9.",
        "QkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFEU0lHTkFUVVJFQkFE",
    );

    #[test]
    fn every_token_comes_back_character_for_character() {
        let odd = [
            "",
            "x",
            "a_nanoid-token-whose-last-character-has-bitZ",
            "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff",
            "abc",
            "ABCDEF0123",
            "ya29.a0AfH6SMBx-Google-style",
            "a.b.c.d.e",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
            "..",
            "padded+/base64==",
            "tøken with spaces\n and \"quotes\"",
            JWS,
        ];
        for access in odd {
            assert_round_trip(&with(None, access, None));
            assert_round_trip(&with(Some(access), JWS, Some(access)));
            assert_round_trip(&with(Some("r"), access, Some(JWS)));
        }
    }

    #[test]
    fn the_dictionary_helps_and_packing_shrinks_a_jws() {
        let claims = pack_base64(JWS.split('.').nth(1).unwrap()).unwrap();
        let plain = miniz_oxide::deflate::compress_to_vec(&claims, 9);
        assert!(deflate(&claims).unwrap().len() < plain.len());
        let packed = pack(&with(None, JWS, Some(JWS))).unwrap();
        assert!(packed.len() < 2 * JWS.len() * 3 / 4, "{} of {}", packed.len(), 2 * JWS.len());
    }

    #[test]
    fn a_blob_of_format_1_still_opens() {
        let keys = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let tokens = with(Some("refresh"), "access", Some(JWS));
        let old = tokens.seal_json(&keys, "item-a").unwrap();
        assert_same(&ProviderTokens::open(&old, &keys, "item-a").unwrap(), &tokens);
        assert!(ProviderTokens::open(&old, &keys, "item-b").is_err());
        // A format 1 blob whose random nonce begins with format 2's marker: it fails as
        // format 2 and opens as format 1.
        let marked = (0..20_000)
            .map(|_| tokens.seal_json(&keys, "item-a").unwrap())
            .find(|blob| blob.first() == Some(&PACKED))
            .unwrap();
        assert_same(&ProviderTokens::open(&marked, &keys, "item-a").unwrap(), &tokens);
        // And a format 2 blob never opens as format 1: the associated data names the format.
        let new = tokens.seal(&keys, "item-a").unwrap();
        assert!(decrypt(&keys, &aad(AAD_JSON, "item-a"), &new).is_none());
        assert!(decrypt(&keys, &aad(AAD_JSON, "item-a"), &new[1..]).is_none());
    }

    #[test]
    fn a_blob_of_format_2_sealed_by_an_earlier_release_opens() {
        // Sealed once under the key of cookie key [1; 32] for item `item-a`; kept as is, so
        // that a change to the packing, the dictionary or the deflate library that would
        // leave stored sessions unopenable fails here.
        const SEALED: &str = concat!(
            "0248b4fd6b3f588daf99569c51d81f0bb9b1fe1e467f618b2913757a03857de10dd8f007116c5190f32918de",
            "1cac2882cbe56324f8c42ec23778e709e41bc8009fe7656140deb17b773a94a17f1fbd2ec10eadbc8176029f",
            "af1a9e455b04fe383ca0622ac2f1b9a68148bc6d5d11b8b891df8af0f75208377165eeff3f0ec8f766beb12c",
            "043b5fb994589df411b6b871df54d3edeee45316f58a6c14ffd0c62dc7ebe1a8b265ac103949be80657acff7",
            "95d58988c21ff4023147a9a5bdc00e867499277b972739014d0b763d557ee5508a135f94090c1b8e95cd543f",
            "5a06bc44122b71cb07ad34a14ef3796a56afe2fabc603b1769fe30f36f7a3945ba91c902c192f778b2857232",
            "d8e527eb57973b3dbee8671f354e7ab1e36730f7e526c09940c3d33444e49fe5692e08c7b555a6211c58f49a",
            "90f5c56d9ddccc6109d58f9a82adf9eee90699b9a5e8f8894def05f2f8b5deec409e33a86a391cde2a831a99",
            "66a4bcdbd87226192b5d62ad29994eab8ed00beeddabe9f1524965b756c901f8ae26b2fb2eabc413970dc8c8",
            "e3168c8dc60c7bb2a83f02fef13aa7175a04a0878809bf6605b71a9f4398c03387a7d7307bad3c30dbdedc24",
            "9950438273dcf03b16cf3a50afa397d874dc82e09189dfac6d6a",
        );
        let keys = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let sealed: Vec<u8> = (0..SEALED.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&SEALED[i..i + 2], 16).unwrap())
            .collect();
        let opened = ProviderTokens::open(&sealed, &keys, "item-a").unwrap();
        assert_same(
            &opened,
            &with(
                Some("NWmN3b0QvxQ1pVXpGXl1W3qkYdcXHmE2p7MIcxJ2hZu"),
                "4f6c0c1a9de0b2b61c2a5f0b9f6e1d3a7c8b2e4f5a6d7c8e9f0a1b2c3d4e5f60",
                Some(JWS),
            ),
        );
    }

    #[test]
    fn a_blob_that_inflates_too_far_does_not_open() {
        let keys = SessionKeys::derive(&ring(&[[1; 32]])).unwrap();
        let bomb = |len: usize| {
            let deflated = deflate(&vec![b'a'; len]).unwrap();
            let mut plain = Vec::new();
            put_varint(&mut plain, 1_000);
            plain.push(0);
            put_varint(&mut plain, deflated.len() as u64);
            plain.extend_from_slice(&deflated);
            plain.push(KIND_TEXT);
            put_varint(&mut plain, len as u64);
            let sealed = encrypt(&keys.0[0], aad(AAD_PACKED, "item-a"), plain).unwrap();
            [[PACKED].as_slice(), &sealed].concat()
        };
        let at_cap = ProviderTokens::open(&bomb(MAX_INFLATED), &keys, "item-a").unwrap();
        assert_eq!(at_cap.access_token.expose_secret().len(), MAX_INFLATED);
        let small = bomb(16 * MAX_INFLATED);
        assert!(small.len() < 2_000, "a small blob: {}", small.len());
        assert!(matches!(
            ProviderTokens::open(&small, &keys, "item-a"),
            Err(Error::SessionExpired(_))
        ));
        assert!(matches!(
            ProviderTokens::open(&bomb(MAX_INFLATED + 1), &keys, "item-a"),
            Err(Error::SessionExpired(_))
        ));
        // What could not be opened again is not sealed.
        let huge = with(None, &" ".repeat(MAX_INFLATED + 1), None);
        assert!(matches!(huge.seal(&keys, "item-a"), Err(Error::Internal(_))));
    }

    #[test]
    fn a_malformed_plaintext_does_not_open() {
        let plain = pack(&with(Some("r"), JWS, Some("00ff"))).unwrap();
        assert!(unpack(&plain).is_some());
        assert!(unpack(&[plain.as_slice(), &[0]].concat()).is_none(), "left over");
        for cut in 0..plain.len() {
            assert!(unpack(&plain[..cut]).is_none(), "cut at {cut}");
        }
        let mut flags = plain.clone();
        flags[5] |= 4;
        assert!(unpack(&flags).is_none(), "unknown flag");
    }

    proptest::proptest! {
        #[test]
        fn any_tokens_come_back(
            refresh in proptest::option::of("[A-Za-z0-9_.-]{0,60}"),
            access in "[A-Za-z0-9_.=+/ -]{0,120}|\\PC{0,40}",
            id in proptest::option::of("[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,60}"),
        ) {
            let tokens = with(refresh.as_deref(), &access, id.as_deref());
            let opened = unpack(&pack(&tokens).unwrap()).unwrap();
            assert_same(&opened, &tokens);
        }
    }

    #[test]
    fn the_session_key_is_not_the_cookie_key() {
        // A cookie key sealing directly and the derived key must differ: the same bytes under
        // AES-256-GCM with each give different ciphertexts for one nonce.
        let keys = SessionKeys::derive(&ring(&[[7; 32]])).unwrap();
        let direct = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
        let mut a = b"same".to_vec();
        let mut b = b"same".to_vec();
        let nonce = [0u8; NONCE_LEN];
        keys.0[0]
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut a)
            .unwrap();
        direct
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut b)
            .unwrap();
        assert_ne!(a, b);
    }
}
