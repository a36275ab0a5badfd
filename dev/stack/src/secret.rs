//! The stack's secret: made fresh (tests, benchmarks) or kept in a file across runs
//! (`make dev`'s `.local/secret.json`), with one client secret per client id and a client key
//! per provider whose client authenticates by `private_key_jwt`, stored in moto through the AWS
//! SDK so that the functions read it exactly as in AWS.

use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shared::keygen::{self, KeyAlg};

use crate::StackError;
use crate::client::SigAlg;

/// The `kid` of a fresh secret's signing key.
pub const KID: &str = "ours-1";

/// A client key the secret must hold: the first of `client_keys.<provider>`, of `alg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientKey {
    /// The provider's name as the functions know it (`default` for the only one).
    pub(crate) provider: String,
    pub(crate) alg: SigAlg,
}

impl ClientKey {
    /// Its `kid`: `client-<provider>-1`.
    pub(crate) fn kid(&self) -> String {
        format!("client-{}-1", self.provider)
    }
}

/// A fresh random client secret.
pub(crate) fn client_secret() -> Result<String, StackError> {
    let token = keygen::random_token(32).map_err(|e| StackError::Secret(e.to_string()))?;
    Ok(token.expose_secret().to_owned())
}

/// A fresh secret document: `client_secret` (the first provider's), one signing key of `alg`
/// and one cookie key, `client_secrets` by provider name for the others, and the client `keys`.
pub(crate) fn fresh(
    alg: KeyAlg,
    first: &str,
    others: &[(String, String)],
    keys: &[ClientKey],
) -> Result<SecretString, StackError> {
    let doc = keygen::secret_json(&SecretString::from(first.to_owned()), KID, alg)
        .map_err(|e| StackError::Secret(e.to_string()))?;
    let mut doc: Value = serde_json::from_str(doc.expose_secret())
        .map_err(|_| StackError::Secret("not JSON".into()))?;
    if !others.is_empty() {
        let map: serde_json::Map<String, Value> =
            others.iter().map(|(name, secret)| (name.clone(), json!(secret))).collect();
        doc["client_secrets"] = Value::Object(map);
    }
    add_client_keys(&mut doc, keys)?;
    Ok(SecretString::from(doc.to_string()))
}

/// Gives every provider of `keys` a fresh client key in `doc`'s `client_keys`, unless its first
/// key there is one of the algorithm asked for (a kept secret's); one of another algorithm is
/// replaced. Whether `doc` changed.
fn add_client_keys(doc: &mut Value, keys: &[ClientKey]) -> Result<bool, StackError> {
    let mut changed = false;
    for key in keys {
        let first = &doc["client_keys"][&key.provider][0];
        if first["alg"].as_str() == Some(key.alg.as_str()) && first["private_key_pem"].is_string() {
            continue;
        }
        let pem = keygen::signing_key_pem(key.alg.key())
            .map_err(|e| StackError::Secret(e.to_string()))?;
        if !doc["client_keys"].is_object() {
            doc["client_keys"] = json!({});
        }
        doc["client_keys"][&key.provider] = json!([{
            "kid": key.kid(),
            "alg": key.alg.as_str(),
            "private_key_pem": pem.expose_secret(),
        }]);
        changed = true;
    }
    Ok(changed)
}

/// The secret kept in `path`, made on first use with `alg`; a provider name it does not know
/// yet gets a client secret of its own, and a provider of `keys` without a client key of its
/// algorithm gets one, written back. Returns the document and the client secret of each
/// provider name (the first's is `client_secret`).
pub(crate) fn kept(
    path: &Path,
    alg: KeyAlg,
    names: &[String],
    keys: &[ClientKey],
) -> Result<(SecretString, Vec<String>), StackError> {
    let shown = path.display().to_string();
    let (mut doc, mut changed): (Value, bool) = match std::fs::read_to_string(path) {
        Ok(text) => (
            serde_json::from_str(&text).map_err(|_| {
                StackError::Secret(format!("{shown} is not JSON: delete it to start over"))
            })?,
            false,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let first = client_secret()?;
            let doc = fresh(alg, &first, &[], &[])?;
            let doc = serde_json::from_str(doc.expose_secret())
                .map_err(|_| StackError::Secret("not JSON".into()))?;
            (doc, true)
        }
        Err(e) => return Err(StackError::io(&shown, e)),
    };
    let mut secrets = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let secret = if i == 0 {
            doc["client_secret"].as_str().map(str::to_owned)
        } else {
            doc["client_secrets"][name].as_str().map(str::to_owned)
        };
        let secret = match secret {
            Some(s) => s,
            None => {
                changed = true;
                let s = client_secret()?;
                if i == 0 {
                    doc["client_secret"] = json!(s);
                } else {
                    if !doc["client_secrets"].is_object() {
                        doc["client_secrets"] = json!({});
                    }
                    doc["client_secrets"][name] = json!(s);
                }
                s
            }
        };
        secrets.push(secret);
    }
    changed |= add_client_keys(&mut doc, keys)?;
    let text = serde_json::to_string_pretty(&doc).map_err(|e| StackError::Secret(e.to_string()))?;
    shared::Secret::from_json(&text).map_err(|e| StackError::Secret(format!("{shown}: {e}")))?;
    if changed {
        write_private(path, &text)?;
    }
    Ok((SecretString::from(text), secrets))
}

/// Writes `text` to `path` readable by its owner only, through a temporary file.
fn write_private(path: &Path, text: &str) -> Result<(), StackError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let io = |e| StackError::io(&path.display().to_string(), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    // The mode applies to a file made now; one left by a crash is narrowed here.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_kept_secret_is_made_once_and_grows_a_client_secret_per_new_provider() {
        let dir = std::env::temp_dir().join(format!("stack-secret-{}", std::process::id()));
        let path = dir.join("secret.json");
        let one = vec!["local".to_owned()];
        let (first, secrets) = kept(&path, KeyAlg::Es256, &one, &[]).unwrap();
        let (again, same) = kept(&path, KeyAlg::Es256, &one, &[]).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret(), "made once, then read");
        assert_eq!(secrets, same);
        let two = vec!["local".to_owned(), "lemon".to_owned()];
        let (doc, both) = kept(&path, KeyAlg::Es256, &two, &[]).unwrap();
        assert_eq!(both[0], secrets[0], "the first provider keeps its client secret");
        assert_ne!(both[1], both[0]);
        let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
        assert_eq!(doc["client_secrets"]["lemon"], both[1].as_str());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fresh_secret_names_the_other_providers_client_secrets() {
        let others = [("second".to_owned(), "s2".to_owned())];
        let doc = fresh(KeyAlg::Es256, "s1", &others, &[]).unwrap();
        let secret = shared::Secret::from_json(doc.expose_secret()).unwrap();
        assert_eq!(secret.signing_keys().active().kid(), KID);
        let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
        assert_eq!(
            (doc["client_secret"].as_str(), doc["client_secrets"]["second"].as_str()),
            (Some("s1"), Some("s2"))
        );
        assert!(doc.get("client_keys").is_none(), "no client key unless asked for");
    }

    fn key(provider: &str, alg: SigAlg) -> ClientKey {
        ClientKey { provider: provider.to_owned(), alg }
    }

    #[test]
    fn a_fresh_secret_holds_a_client_key_per_provider_that_asks_under_its_name() {
        let keys = [key("default", SigAlg::PS256)];
        let doc = fresh(KeyAlg::Es256, "s1", &[], &keys).unwrap();
        // The functions' parser reads it (and checks each key against its alg).
        shared::Secret::from_json(doc.expose_secret()).unwrap();
        let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
        let ring = doc["client_keys"]["default"].as_array().unwrap();
        assert_eq!(ring.len(), 1);
        assert_eq!(
            (ring[0]["kid"].as_str(), ring[0]["alg"].as_str()),
            (Some("client-default-1"), Some("PS256"))
        );
        let pem = ring[0]["private_key_pem"].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8");
        assert_eq!(doc["client_secret"], "s1", "the client secret stays");

        let two = [key("local", SigAlg::ES256), key("second", SigAlg::RS256)];
        let others = [("second".to_owned(), "s2".to_owned())];
        let doc = fresh(KeyAlg::Es256, "s1", &others, &two).unwrap();
        shared::Secret::from_json(doc.expose_secret()).unwrap();
        let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
        assert_eq!(doc["client_keys"]["local"][0]["alg"], "ES256");
        assert_eq!(doc["client_keys"]["second"][0]["kid"], "client-second-1");
    }

    #[test]
    fn a_kept_secret_gains_a_client_key_once_and_a_new_one_for_another_algorithm() {
        let dir = std::env::temp_dir().join(format!("stack-client-key-{}", std::process::id()));
        let path = dir.join("secret.json");
        let names = vec!["local".to_owned()];
        let (plain, _) = kept(&path, KeyAlg::Es256, &names, &[]).unwrap();
        let ps = [key("default", SigAlg::PS256)];
        let (with_key, _) = kept(&path, KeyAlg::Es256, &names, &ps).unwrap();
        let (again, _) = kept(&path, KeyAlg::Es256, &names, &ps).unwrap();
        assert_eq!(with_key.expose_secret(), again.expose_secret(), "made once, then read");
        let pem = |doc: &SecretString| {
            let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
            doc["client_keys"]["default"][0]["private_key_pem"].as_str().map(str::to_owned)
        };
        assert_eq!(pem(&plain), None);
        let before: Value = serde_json::from_str(plain.expose_secret()).unwrap();
        let after: Value = serde_json::from_str(with_key.expose_secret()).unwrap();
        assert_eq!(before["signing_keys"], after["signing_keys"], "the rest is kept");
        assert_eq!(before["client_secret"], after["client_secret"]);
        let es = [key("default", SigAlg::ES256)];
        let (other, _) = kept(&path, KeyAlg::Es256, &names, &es).unwrap();
        assert_ne!(pem(&other), pem(&with_key), "another algorithm, another key");
        let doc: Value = serde_json::from_str(other.expose_secret()).unwrap();
        assert_eq!(doc["client_keys"]["default"][0]["alg"], "ES256");
        // The functions' parser reads what was written.
        let text = std::fs::read_to_string(&path).unwrap();
        shared::Secret::from_json(&text).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
