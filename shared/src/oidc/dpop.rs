//! DPoP (RFC 9449, `OIDC_DPOP=on`): the provider's tokens bound to a key of the session, so
//! that an access token leaking from an upstream it was relayed to, or from a log, is useless
//! without the key, which never leaves the session item (sealed with the cookie keys).
//!
//! Each session gets a P-256 key at its callback. Every request that presents or obtains a
//! token of the session carries a proof signed with it: the code exchange, each refresh grant,
//! userinfo, revocation, and the proxy's calls with the provider's token. A provider's nonce
//! (`DPoP-Nonce`) is remembered per origin, and a request it refuses with `use_dpop_nonce` is
//! sent once more with the nonce, never more.
//!
//! Written here: openidconnect makes no proofs. Requests made through openidconnect go through
//! [`DpopHttp`], which adds the proof to each request and, for a resource request (userinfo),
//! presents the token as `DPoP` rather than `Bearer`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsBigEndian as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use secrecy::{ExposeSecret as _, SecretBox, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

use super::client_auth::ClientCredentials;
use crate::error::Error;
use crate::infra::clock::unix_now;
use crate::infra::http::{FetchError, Http, TOTAL_TIMEOUT};
use crate::tokens::session::{b64_json, new_jti};

/// The header a proof travels in, and the one a provider's nonce comes in.
pub const DPOP: &str = "DPoP";
/// The header of a provider's nonce.
pub const DPOP_NONCE: &str = "DPoP-Nonce";
/// The most nonces remembered (one per origin a provider's endpoints are on).
const MAX_ORIGINS: usize = 16;
/// The longest nonce taken from a provider.
const MAX_NONCE_LEN: usize = 256;

/// A session's DPoP key: P-256, signing ES256.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    /// The private key as stored: the smallest RFC 5915 `ECPrivateKey` (version and the
    /// 32-byte scalar; the curve is known and the public point is computed when parsed), so a
    /// login transaction cookie carries it in 52 characters.
    der: SecretBox<Vec<u8>>,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("jkt", &self.thumbprint()).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ProofHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    jwk: &'a Value,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopKey {
    /// A fresh key.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] without randomness.
    pub fn generate() -> Result<Self, Error> {
        let failed = || Error::Internal("no DPoP key could be made".into());
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed())?;
        let scalar = pair.private_key().as_be_bytes().map_err(|_| failed())?;
        let scalar: &[u8] = scalar.as_ref();
        if scalar.len() != 32 {
            return Err(failed());
        }
        // SEQUENCE { INTEGER 1, OCTET STRING scalar } (RFC 5915 section 3).
        let mut der = vec![0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20];
        der.extend_from_slice(scalar);
        Self::from_der(&der)
    }

    /// The key of its DER bytes: RFC 5915 `ECPrivateKey` (as stored) or PKCS#8.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the bytes are no P-256 key.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| Error::Internal("the session's DPoP key does not parse".into()))?;
        let (x, y) = match pair.public_key().as_ref() {
            [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return Err(Error::Internal("the session's DPoP key is no P-256 key".into())),
        };
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        });
        Ok(Self { pair, der: SecretBox::new(Box::new(der.to_vec())), jwk })
    }

    /// The key as the session's tokens hold it ([`Self::to_stored`]).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when it is not one.
    pub fn from_stored(stored: &SecretString) -> Result<Self, Error> {
        let der = URL_SAFE_NO_PAD
            .decode(stored.expose_secret())
            .map_err(|_| Error::Internal("the session's DPoP key does not parse".into()))?;
        Self::from_der(&der)
    }

    /// The key as a login transaction and the session's tokens hold it: base64url of its DER.
    pub fn to_stored(&self) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(self.der.expose_secret()))
    }

    /// The key a request of a session at `provider` signs its proofs with: the session's
    /// (`stored`), or, for a session stored without one (made before `OIDC_DPOP` was on) or
    /// whose key no longer parses, a fresh one, which the next grant binds its tokens to; none
    /// when the provider's tokens are not bound.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] without randomness.
    pub fn of_session(dpop: bool, stored: Option<&SecretString>) -> Result<Option<Self>, Error> {
        if !dpop {
            return Ok(None);
        }
        match stored.map(Self::from_stored) {
            Some(Ok(key)) => Ok(Some(key)),
            Some(Err(_)) => {
                tracing::warn!(
                    "the session's DPoP key does not parse: a new one binds the next grant"
                );
                Self::generate().map(Some)
            }
            None => Self::generate().map(Some),
        }
    }

    /// The public key's JWK SHA-256 thumbprint (RFC 7638), `jkt` in a bound token's `cnf`.
    pub fn thumbprint(&self) -> String {
        // RFC 7638: the required members only, in lexicographic order, no spaces.
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.jwk["x"].as_str().unwrap_or_default(),
            self.jwk["y"].as_str().unwrap_or_default()
        );
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    /// A proof for `method` at `uri` at `now`: `htu` is `uri` without its query and fragment;
    /// `ath` the hash of `access_token` when the request presents one (a resource request);
    /// `nonce` the provider's, when it gave one.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when `uri` is no absolute URL, or signing fails.
    pub fn proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: u64,
    ) -> Result<String, Error> {
        let htu = htu(uri).ok_or_else(|| Error::Internal("a DPoP proof for no URL".into()))?;
        let header = ProofHeader { typ: "dpop+jwt", alg: "ES256", jwk: &self.jwk };
        let claims = ProofClaims {
            jti: new_jti()?,
            htm: method,
            htu: &htu,
            iat: now,
            ath: access_token.map(|t| URL_SAFE_NO_PAD.encode(digest(&SHA256, t.as_bytes()))),
            nonce,
        };
        let mut token = b64_json(&header)?;
        token.push('.');
        token.push_str(&b64_json(&claims)?);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), token.as_bytes())
            .map_err(|_| Error::Internal("DPoP proof signing failed".into()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(token)
    }
}

/// RFC 9449 section 4.2: `htu` is the request's URI without query and fragment.
pub fn htu(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The nonces providers gave, by origin (RFC 9449 section 8: a nonce is the server's, and a
/// provider's token endpoint and userinfo may be different servers). Kept for the life of the
/// function instance, so a warm instance rarely pays the `use_dpop_nonce` round trip.
#[derive(Debug, Default)]
pub struct Nonces(Mutex<HashMap<String, String>>);

impl Nonces {
    fn origin(uri: &str) -> Option<String> {
        url::Url::parse(uri).ok().map(|u| u.origin().ascii_serialization())
    }

    /// The nonce last given for `uri`'s origin.
    pub fn get(&self, uri: &str) -> Option<String> {
        let origin = Self::origin(uri)?;
        self.0.lock().ok()?.get(&origin).cloned()
    }

    /// Remembers `nonce` for `uri`'s origin; a nonce of other than printable ASCII, or overlong,
    /// is not taken (it goes into our proofs). Whether it was taken.
    pub fn put(&self, uri: &str, nonce: &str) -> bool {
        let usable = !nonce.is_empty()
            && nonce.len() <= MAX_NONCE_LEN
            && nonce.bytes().all(|b| b.is_ascii_graphic());
        let (Some(origin), true) = (Self::origin(uri), usable) else { return false };
        let Ok(mut map) = self.0.lock() else { return false };
        if map.len() >= MAX_ORIGINS && !map.contains_key(&origin) {
            map.clear();
        }
        map.insert(origin, nonce.to_owned());
        true
    }
}

/// Whether `resp` asks for a (new) nonce: `400 {"error": "use_dpop_nonce"}` from an
/// authorization server, `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` from a
/// resource server.
pub fn asks_for_nonce(resp: &HttpResponse) -> bool {
    match resp.status().as_u16() {
        400 => serde_json::from_slice::<Value>(resp.body())
            .is_ok_and(|v| v["error"] == "use_dpop_nonce"),
        401 => resp
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce")),
        _ => false,
    }
}

/// The HTTP client of a session's requests to its provider: without a DPoP key (`None`), the
/// requests go out as they are; with one, each request gets a
/// proof (with the provider's nonce when one is known); `Authorization: Bearer <token>` becomes
/// `DPoP <token>` with `ath`; a `use_dpop_nonce` refusal is retried once with the nonce it
/// gave, with a fresh client assertion when the request carries one (the provider has spent
/// the first one's `jti`).
pub struct DpopHttp<'a> {
    http: &'a Http,
    key: Option<&'a DpopKey>,
    nonces: &'a Nonces,
    credentials: &'a ClientCredentials,
}

impl<'a> DpopHttp<'a> {
    /// Requests through `http` with proofs of `key` (none without one), `nonces` remembered,
    /// assertions renewed with `credentials`.
    pub fn new(
        http: &'a Http,
        key: Option<&'a DpopKey>,
        nonces: &'a Nonces,
        credentials: &'a ClientCredentials,
    ) -> Self {
        Self { http, key, nonces, credentials }
    }

    /// Sends `request` with a proof; once more with the provider's nonce if it asks for one.
    /// Both tries together take at most [`TOTAL_TIMEOUT`], as one call without DPoP does: the
    /// refresh lease (`LEASE_SECS`, in the session store) counts each provider call at that.
    ///
    /// # Errors
    ///
    /// [`FetchError`]; [`FetchError::Timeout`] when both tries outlast [`TOTAL_TIMEOUT`];
    /// [`FetchError::Other`] when no proof can be made.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let Some(key) = self.key else { return self.http.send(request).await };
        let proven = self.send_with_proofs(key, request);
        tokio::time::timeout(TOTAL_TIMEOUT, proven).await.map_err(|_| FetchError::Timeout)?
    }

    /// [`DpopHttp::send`] with `key`, unbounded.
    async fn send_with_proofs(
        &self,
        key: &DpopKey,
        request: HttpRequest,
    ) -> Result<HttpResponse, FetchError> {
        let (parts, body) = request.into_parts();
        let uri = parts.uri.to_string();
        let bearer = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| SecretString::from(t.to_owned()));
        let mut body = body;
        let mut asked = false;
        loop {
            let nonce = self.nonces.get(&uri);
            let token = bearer.as_ref().map(|t| t.expose_secret());
            let proof = key
                .proof(parts.method.as_str(), &uri, token, nonce.as_deref(), unix_now())
                .map_err(|e| FetchError::Other(e.to_string()))?;
            let mut request = http::Request::from_parts(parts.clone(), body.clone());
            let headers = request.headers_mut();
            let value = |v: &str| {
                http::HeaderValue::from_str(v).map_err(|_| FetchError::Other("header".into()))
            };
            headers.insert(DPOP, value(&proof)?);
            if let Some(token) = token {
                headers.insert(http::header::AUTHORIZATION, value(&format!("DPoP {token}"))?);
            }
            let resp = self.http.send(request).await?;
            let given = resp.headers().get(DPOP_NONCE).and_then(|v| v.to_str().ok());
            // One retry, and only with a nonce we took and other than the one just refused.
            let fresh =
                given.is_some_and(|g| self.nonces.put(&uri, g) && Some(g) != nonce.as_deref());
            if asked || !fresh || !asks_for_nonce(&resp) {
                return Ok(resp);
            }
            asked = true;
            body = self.renewed(body).map_err(|e| FetchError::Other(e.to_string()))?;
        }
    }

    /// `body` with a fresh client assertion, when it is a form that carries one.
    fn renewed(&self, body: Vec<u8>) -> Result<Vec<u8>, Error> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        if !pairs.iter().any(|(k, _)| k == "client_assertion") {
            return Ok(body);
        }
        let fresh = self.credentials.assertion_fields(unix_now())?;
        let fresh: HashMap<&str, &str> =
            fresh.iter().map(|(k, v)| (*k, v.expose_secret())).collect();
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            out.append_pair(k, fresh.get(k.as_str()).copied().unwrap_or(v));
        }
        Ok(out.finish().into_bytes())
    }
}

impl<'c> AsyncHttpClient<'c> for DpopHttp<'_> {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests;
