//! The provider's JWKS: fetched at cold start, parsed once into [`ProviderKey`]s, refetched
//! (at most once per cooldown) when an ID token names a key it does not hold.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientId, IdTokenVerifier, IssuerUrl, JsonWebKeyId};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::discovery::{ProviderError, get_json, parse_error};
use super::issuer::IssuerRule;
use super::key::{ProviderKey, ProviderKeySet, candidates};
use super::provider::Provider;
use crate::infra::http::Http;
use crate::infra::metrics::Endpoint;

/// The ID token verifier, over keys parsed once.
pub type Verifier = IdTokenVerifier<'static, ProviderKey>;

/// Least time between two JWKS fetches (the cold-start fetch counts).
pub const JWKS_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// Fetches the JWKS and keeps only keys usable for verifying signatures: `kty` RSA, EC or OKP,
/// `use` absent or `sig`, and the public parts present. Other keys are skipped, not fatal.
///
/// # Errors
///
/// [`ProviderError`] when the document cannot be fetched or is not a JWKS at all.
pub async fn fetch_jwks(http: &Http, jwks_uri: &str) -> Result<ProviderKeySet, ProviderError> {
    let body = get_json(http, jwks_uri, "JWKS", Endpoint::Jwks).await?;
    parse_jwks(&body)
}

/// Parses a JWKS document, skipping unusable keys. See [`fetch_jwks`].
///
/// # Errors
///
/// [`ProviderError::Invalid`] when it is not an object with a `keys` array.
pub fn parse_jwks(body: &[u8]) -> Result<ProviderKeySet, ProviderError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| parse_error("JWKS", &e))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Invalid { what: "JWKS", detail: "no keys array".into() })?;
    let mut usable = Vec::new();
    for value in keys.iter().filter(|k| usable_signing_key(k)) {
        let kid = value.get("kid").and_then(Value::as_str).unwrap_or("");
        let kid: String = kid.chars().filter(char::is_ascii_graphic).take(64).collect();
        // One key we cannot read (an algorithm or curve openidconnect does not know, such as
        // ES256K or RFC 9864's `Ed25519`) is skipped, as openidconnect's own JsonWebKeySet
        // does: the provider's other keys still verify.
        let Ok(key) = ProviderKey::from_json(value) else {
            tracing::warn!(kid, "JWKS key of an unsupported algorithm or shape; skipped");
            continue;
        };
        if !key.is_usable() {
            tracing::warn!(
                kid,
                "JWKS key is malformed or RSA under 2048 bits; it verifies nothing"
            );
        }
        usable.push(key);
    }
    Ok(ProviderKeySet::new(usable))
}

fn usable_signing_key(key: &Value) -> bool {
    let has = |field: &str| key.get(field).and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    let use_ok = match key.get("use") {
        None => true,
        Some(u) => u.as_str() == Some("sig"),
    };
    let parts_ok = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => has("n") && has("e"),
        Some("EC") => has("crv") && has("x") && has("y"),
        Some("OKP") => key.get("crv").and_then(Value::as_str) == Some("Ed25519") && has("x"),
        _ => false,
    };
    use_ok && parts_ok
}

/// The keys in use and their generation (how many refetches brought them).
struct Current {
    keys: Arc<ProviderKeySet>,
    generation: u64,
}

/// Why no key of the provider may check a token (ID token or logout token alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// `none`, HS*, or an algorithm we do not verify or the provider does not announce.
    AlgorithmNotAllowed,
    /// No key of the JWKS, even after a refetch, has that `kid` and accepts that algorithm.
    NoKey,
}

/// The provider's JWKS, with a rate-limited refetch for unknown `kid`s.
pub struct JwksCache {
    uri: String,
    http: Http,
    issuer: IssuerUrl,
    issuer_rule: IssuerRule,
    client_id: ClientId,
    algorithms: Vec<CoreJwsSigningAlgorithm>,
    cooldown: Duration,
    /// The current keys, and how many refetches brought them.
    current: RwLock<Current>,
    /// When the JWKS was last fetched (`None`: not yet); held while a refetch runs, so
    /// requests never race.
    last_fetch: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache").field("uri", &self.uri).finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache holding `jwks`, fetched just now from the provider's `jwks_uri`; refetches go
    /// through `http`.
    pub fn new(
        uri: String,
        jwks: ProviderKeySet,
        provider: &Provider,
        http: Http,
        cooldown: Duration,
    ) -> Self {
        let issuer = provider.issuer_url().clone();
        let issuer_rule = provider.issuer_rule().clone();
        let client_id = ClientId::new(provider.client_id.clone());
        let algorithms = provider.algorithms.clone();
        let current = Current { keys: Arc::new(jwks), generation: 0 };
        Self {
            uri,
            http,
            issuer,
            issuer_rule,
            client_id,
            algorithms,
            cooldown,
            current: RwLock::new(current),
            last_fetch: Mutex::new(Some(Instant::now())),
        }
    }

    /// A cache holding no key yet: the first token to verify fetches the JWKS from `uri`
    /// (the logout function, whose usual request needs no key, spares its cold start that).
    pub fn unfetched(uri: String, provider: &Provider, http: Http, cooldown: Duration) -> Self {
        let cache = Self::new(uri, ProviderKeySet::new(Vec::new()), provider, http, cooldown);
        Self { last_fetch: Mutex::new(None), ..cache }
    }

    /// The client id ID tokens must be meant for.
    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    /// The provider's issuer, exactly as its discovery document gives it (a template for a
    /// multi-tenant issuer: see [`Self::issuer_rule`]).
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// What `iss` the provider's tokens must carry.
    pub fn issuer_rule(&self) -> &IssuerRule {
        &self.issuer_rule
    }

    /// The JWS algorithms accepted from this provider: ours that it announces.
    pub fn algorithms(&self) -> &[CoreJwsSigningAlgorithm] {
        &self.algorithms
    }

    /// The current keys; read [`Self::generation`] first when a refetch may follow.
    pub fn keys(&self) -> Arc<ProviderKeySet> {
        Arc::clone(&self.current().keys)
    }

    /// The one rule of which keys may check a token signed with `alg` naming `kid`, for ID
    /// tokens and logout tokens alike: `alg` must be one we accept that the provider announces,
    /// and the keys are the current set's [`candidates`]; when none is held, the JWKS is
    /// refetched once (within the cooldown) and asked again.
    ///
    /// # Errors
    ///
    /// [`KeyRefusal`].
    pub async fn keys_for(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        kid: Option<&JsonWebKeyId>,
    ) -> Result<Vec<ProviderKey>, KeyRefusal> {
        if !self.algorithms.contains(alg) {
            return Err(KeyRefusal::AlgorithmNotAllowed);
        }
        let seen = self.generation();
        let held = candidates(&self.keys(), kid, alg);
        if !held.is_empty() {
            return Ok(held);
        }
        if !self.refetch(seen).await {
            return Err(KeyRefusal::NoKey);
        }
        let fetched = candidates(&self.keys(), kid, alg);
        if fetched.is_empty() { Err(KeyRefusal::NoKey) } else { Ok(fetched) }
    }

    /// An ID token verifier over `keys` (from [`Self::keys_for`]), whose `exp` check compares
    /// against `clock` (Unix seconds: the caller's now, minus its leeway), never the wall
    /// clock. For a tenant template, `iss` is the caller's check ([`IssuerRule::check`]).
    pub fn verifier(&self, keys: Vec<ProviderKey>, clock: i64) -> Verifier {
        let at = chrono::DateTime::from_timestamp(clock, 0).unwrap_or_default();
        build_verifier(&self.client_id, &self.issuer, &self.algorithms, ProviderKeySet::new(keys))
            .require_issuer_match(!self.issuer_rule.is_template())
            .set_time_fn(move || at)
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many refetches brought the current keys: read it before [`Self::keys`] and hand it
    /// to [`Self::refetch`].
    pub fn generation(&self) -> u64 {
        self.current().generation
    }

    /// Refetches the JWKS unless the last fetch is younger than the cooldown. Returns whether
    /// keys newer than generation `seen` are in place: a request that waited while another
    /// refetched uses the keys that refetch brought.
    pub async fn refetch(&self, seen: u64) -> bool {
        let mut last = self.last_fetch.lock().await;
        if self.generation() != seen {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < self.cooldown) {
            tracing::warn!("a token names an unknown key; JWKS refetch skipped (cooldown)");
            return false;
        }
        *last = Some(Instant::now());
        match fetch_jwks(&self.http, &self.uri).await {
            Ok(jwks) => {
                let mut current =
                    self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                let generation = current.generation + 1;
                *current = Current { keys: Arc::new(jwks), generation };
                tracing::info!("JWKS refetched for an unknown key");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch failed; keeping the cached keys");
                false
            }
        }
    }
}

/// A verifier for a public client (so never HS*), limited to `algorithms`. Its clock is set per
/// request ([`JwksCache::verifier`]); `iat` is checked by the caller.
fn build_verifier(
    client_id: &ClientId,
    issuer: &IssuerUrl,
    algorithms: &[CoreJwsSigningAlgorithm],
    jwks: ProviderKeySet,
) -> Verifier {
    IdTokenVerifier::new_public_client(client_id.clone(), issuer.clone(), jwks)
        .set_allowed_algs(algorithms.iter().cloned())
        // Extra audiences are allowed only with `azp` equal to the client id, checked after.
        .set_other_audience_verifier_fn(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `kid`s of the keys `parse_jwks` keeps from `doc`.
    fn kids_of(doc: &Value) -> Vec<String> {
        let jwks = parse_jwks(doc.to_string().as_bytes()).unwrap();
        jwks.keys()
            .iter()
            .filter_map(|k| openidconnect::JsonWebKey::key_id(k).map(|id| id.to_string()))
            .collect()
    }

    #[test]
    fn one_unusable_key_does_not_throw_away_the_jwks() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "kid": "k1", "crv": "secp256k1", "alg": "ES256K", "x": "eA", "y": "eQ"},
            {"kty": "OKP", "kid": "ed-9864", "crv": "Ed25519", "alg": "Ed25519", "x": "eA"},
            {"kty": "RSA", "kid": "rsa-odd", "alg": "RS1", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "eA", "y": "eQ"},
        ]});
        let kids = kids_of(&doc);
        assert!(kids.contains(&"ec".to_owned()), "{kids:?}");
        assert!(!kids.contains(&"k1".to_owned()), "{kids:?}");
    }

    #[test]
    fn extra_members_of_a_jwks_and_its_keys_are_ignored() {
        // Entra ID's keys carry x5t, x5c and issuer; Keycloak's x5t#S256; and a vendor member.
        let signer = crate::testing::key("k1", crate::tokens::keygen::KeyAlg::Rs256);
        let mut jwk = signer.public_jwk().clone();
        let extra = jwk.as_object_mut().unwrap();
        extra.insert("x5t".into(), "bW9jaw".into());
        extra.insert("x5t#S256".into(), "bW9jaw".into());
        extra.insert("x5c".into(), serde_json::json!(["MIIC"]));
        extra.insert("issuer".into(), "https://login.microsoftonline.com/{tenantid}/v2.0".into());
        extra.insert("cloud_instance_name".into(), "microsoftonline.com".into());
        let doc = serde_json::json!({"keys": [jwk], "x-vendor": {"rotated": null}});
        let jwks = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert!(jwks.keys().iter().all(ProviderKey::is_usable));
        assert_eq!(kids_of(&doc), ["k1"]);
    }

    #[test]
    fn jwks_keeps_only_usable_signing_keys() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "eA", "y": "eQ"},
            {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": "eA"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "eA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "weird"},
            "not an object"
        ]});
        let kids = kids_of(&doc);
        assert_eq!(kids, ["rsa", "ec", "ed"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"{\"keys\": {}}").is_err());
    }
}
