//! The stack's secret: made fresh (tests, benchmarks) or kept in a file across runs
//! (`make dev`'s `.local/secret.json`), with one client secret per client id, stored in moto
//! through the AWS SDK so that the functions read it exactly as in AWS.

use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shared::keygen::{self, KeyAlg};

use crate::StackError;

/// The `kid` of a fresh secret's signing key.
pub const KID: &str = "ours-1";

/// A fresh random client secret.
pub(crate) fn client_secret() -> Result<String, StackError> {
    let token = keygen::random_token(32).map_err(|e| StackError::Secret(e.to_string()))?;
    Ok(token.expose_secret().to_owned())
}

/// A fresh secret document: `client_secret` (the first provider's), one signing key of `alg`
/// and one cookie key, and `client_secrets` by provider name for the others.
pub(crate) fn fresh(
    alg: KeyAlg,
    first: &str,
    others: &[(String, String)],
) -> Result<SecretString, StackError> {
    let doc = keygen::secret_json(&SecretString::from(first.to_owned()), KID, alg)
        .map_err(|e| StackError::Secret(e.to_string()))?;
    with_client_secrets(doc.expose_secret(), others)
}

/// `doc` with `client_secrets` holding `others` (provider name, client secret).
fn with_client_secrets(doc: &str, others: &[(String, String)]) -> Result<SecretString, StackError> {
    let mut doc: Value =
        serde_json::from_str(doc).map_err(|_| StackError::Secret("not JSON".into()))?;
    if !others.is_empty() {
        let map: serde_json::Map<String, Value> =
            others.iter().map(|(name, secret)| (name.clone(), json!(secret))).collect();
        doc["client_secrets"] = Value::Object(map);
    }
    Ok(SecretString::from(doc.to_string()))
}

/// The secret kept in `path`, made on first use with `alg`; a provider name it does not know
/// yet gets a client secret of its own, written back. Returns the document and the client
/// secret of each provider name (the first's is `client_secret`).
pub(crate) fn kept(
    path: &Path,
    alg: KeyAlg,
    names: &[String],
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
            let doc = fresh(alg, &first, &[])?;
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
        let (first, secrets) = kept(&path, KeyAlg::Es256, &one).unwrap();
        let (again, same) = kept(&path, KeyAlg::Es256, &one).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret(), "made once, then read");
        assert_eq!(secrets, same);
        let two = vec!["local".to_owned(), "lemon".to_owned()];
        let (doc, both) = kept(&path, KeyAlg::Es256, &two).unwrap();
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
        let doc = fresh(KeyAlg::Es256, "s1", &others).unwrap();
        let secret = shared::Secret::from_json(doc.expose_secret()).unwrap();
        assert_eq!(secret.signing_keys().active().kid(), KID);
        let doc: Value = serde_json::from_str(doc.expose_secret()).unwrap();
        assert_eq!(
            (doc["client_secret"].as_str(), doc["client_secrets"]["second"].as_str()),
            (Some("s1"), Some("s2"))
        );
    }
}
