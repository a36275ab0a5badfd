//! The secret's JSON document as the tool edits it: pure transformations, and a check of the
//! result by [`Secret::from_json`] (the functions' own parser) before anything is written.
//!
//! Every edit touches only its own field: `rotate` the signing and cookie keys, the client-key
//! edits one provider's `client_keys` entry; `client_secret`, `client_secrets` and unknown
//! fields pass through as they are.
//!
//! # Security
//!
//! A [`Document`] holds private keys as plain JSON strings: it has no `Debug`, and hands its
//! text out only as a `SecretString`. Messages name kids, providers and counts, never key
//! material.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value, json};
use shared::Secret;

use crate::material::NewClientKey;

/// Where a new client key goes in its provider's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// First: it signs from the functions' next cold start.
    Active,
    /// Second: published, but the current key keeps signing until `client-key activate`.
    Standby,
}

/// The secret's JSON, parsed for editing.
pub struct Document(Value);

impl Document {
    /// The current secret's `text`, which must already be a secret the functions accept.
    ///
    /// # Errors
    ///
    /// The functions' parse error (naming the field, never the value).
    pub fn parse(text: &str) -> Result<Self, String> {
        Secret::from_json(text)
            .map_err(|e| format!("the current secret is not valid, fix it first: {e}"))?;
        serde_json::from_str(text).map(Self).map_err(|_| "the current secret is not JSON".into())
    }

    /// A fresh document of one signing key and one cookie key, with no client credentials
    /// yet.
    pub fn fresh(signing_kid: &str, signing_pem: &SecretString, cookie_key: &SecretString) -> Self {
        Self(json!({
            "signing_keys": [{"kid": signing_kid, "private_key_pem": signing_pem.expose_secret()}],
            "cookie_keys": [cookie_key.expose_secret()],
        }))
    }

    /// Prepends a new signing key and/or a new cookie key, keeping at most `keep` of each kind.
    ///
    /// # Errors
    ///
    /// When the document lacks the array.
    pub fn rotate(
        &mut self,
        signing_key: Option<Value>,
        cookie_key: Option<Value>,
        keep: usize,
    ) -> Result<(), String> {
        for (field, item) in [("signing_keys", signing_key), ("cookie_keys", cookie_key)] {
            let Some(item) = item else { continue };
            let list = self
                .0
                .get_mut(field)
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("the current secret has no {field} array"))?;
            list.insert(0, item);
            list.truncate(keep);
        }
        Ok(())
    }

    /// Adds `key` to `provider`'s client keys at `position`, keeping at most `keep` (the
    /// oldest, last, go first). Returns the kids dropped.
    ///
    /// # Errors
    ///
    /// The kid is already a client key's, `keep` would drop the new key, or the document's
    /// `client_keys` is not an object of arrays.
    pub fn add_client_key(
        &mut self,
        provider: &str,
        key: &NewClientKey,
        position: Position,
        keep: usize,
    ) -> Result<Vec<String>, String> {
        if let Some((owner, _)) =
            self.client_kids().into_iter().find(|(_, kids)| kids.iter().any(|k| k == key.kid()))
        {
            return Err(format!(
                "kid {:?} is already a client key's (provider {owner}): client key kids are unique",
                key.kid()
            ));
        }
        let list = self.client_keys_mut(provider)?;
        let at = match position {
            Position::Active => 0,
            Position::Standby => usize::from(!list.is_empty()),
        };
        if at >= keep {
            return Err("--keep must be 2 or more for a standby key, or it would be dropped".into());
        }
        list.insert(at, key.to_entry());
        let dropped = list.split_off(keep.min(list.len()));
        Ok(dropped.iter().filter_map(kid_of).map(str::to_owned).collect())
    }

    /// Moves `provider`'s client key `kid` to the front: it signs from the next cold start.
    ///
    /// # Errors
    ///
    /// The provider has no such key.
    pub fn activate_client_key(&mut self, provider: &str, kid: &str) -> Result<(), String> {
        let index = self.client_key_index(provider, kid)?;
        let list = self.client_keys_mut(provider)?;
        let key = list.remove(index);
        list.insert(0, key);
        Ok(())
    }

    /// Removes `provider`'s client key `kid`; the next one signs if it was the first.
    ///
    /// # Errors
    ///
    /// The provider has no such key, or it is the provider's only one.
    pub fn remove_client_key(&mut self, provider: &str, kid: &str) -> Result<(), String> {
        let index = self.client_key_index(provider, kid)?;
        let list = self.client_keys_mut(provider)?;
        if list.len() == 1 {
            return Err(format!(
                "{kid:?} is provider {provider}'s only client key: add another first"
            ));
        }
        list.remove(index);
        Ok(())
    }

    /// The client keys' kids by provider, each provider's signing key first.
    pub fn client_kids(&self) -> BTreeMap<String, Vec<String>> {
        let Some(Value::Object(providers)) = self.0.get("client_keys") else {
            return BTreeMap::new();
        };
        providers
            .iter()
            .map(|(name, keys)| {
                let kids = keys.as_array().into_iter().flatten().filter_map(kid_of);
                (name.clone(), kids.map(str::to_owned).collect())
            })
            .collect()
    }

    /// One line on `provider`'s client keys: `provider corp: a (signs), b`.
    pub fn describe_client_keys(&self, provider: &str) -> String {
        let kids = self.client_kids().remove(provider).unwrap_or_default();
        let list: Vec<String> = kids
            .iter()
            .enumerate()
            .map(|(i, kid)| if i == 0 { format!("{kid} (signs)") } else { kid.clone() })
            .collect();
        match list.is_empty() {
            true => format!("provider {provider}: no client key"),
            false => format!("provider {provider}: {}", list.join(", ")),
        }
    }

    /// The document as the functions will read it, and their parse of it.
    ///
    /// # Errors
    ///
    /// The functions' parse error: such a document must never be written.
    pub fn validated(&self) -> Result<(SecretString, Secret), String> {
        let text = SecretString::from(self.0.to_string());
        let secret = Secret::from_json(text.expose_secret())
            .map_err(|e| format!("the result would not be a valid secret, nothing written: {e}"))?;
        Ok((text, secret))
    }

    /// The document, indented, for `generate`'s standard output.
    ///
    /// # Errors
    ///
    /// When it does not serialise (it always does).
    pub fn pretty(&self) -> Result<SecretString, String> {
        serde_json::to_string_pretty(&self.0)
            .map(SecretString::from)
            .map_err(|_| "the secret does not serialise".into())
    }

    fn client_keys_mut(&mut self, provider: &str) -> Result<&mut Vec<Value>, String> {
        let root = self.0.as_object_mut().ok_or("the secret is not a JSON object")?;
        let providers = root
            .entry("client_keys")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or("client_keys is not an object")?;
        providers
            .entry(provider)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .ok_or_else(|| format!("client_keys.{provider} is not an array"))
    }

    fn client_key_index(&self, provider: &str, kid: &str) -> Result<usize, String> {
        let kids = self.client_kids().remove(provider).unwrap_or_default();
        kids.iter().position(|k| k == kid).ok_or_else(|| match kids.is_empty() {
            true => format!("provider {provider} has no client keys"),
            false => {
                format!("provider {provider} has no client key {kid:?}: its kids are {kids:?}")
            }
        })
    }
}

fn kid_of(entry: &Value) -> Option<&str> {
    entry.get("kid").and_then(Value::as_str)
}

/// `{"keys": [...]}`: `provider`'s client public keys, the signing one first, or every
/// provider's (what the functions serve at `/.well-known/client-jwks.json`).
///
/// # Errors
///
/// The secret has no client keys for `provider`.
pub fn client_jwks(secret: &Secret, provider: Option<&str>) -> Result<Value, String> {
    let keys = match provider {
        None => secret.client_secrets().public_jwks(),
        Some(name) => secret
            .client_secrets()
            .keys_for(name)
            .map_err(|_| format!("the secret has no client keys for provider {name}"))?
            .iter()
            .map(|k| k.public_jwk())
            .collect(),
    };
    Ok(json!({ "keys": keys }))
}

#[cfg(test)]
mod tests;
