//! New client keys (`private_key_jwt`): generated here, or imported with their certificate, and
//! self-signed certificates of them for providers that register a certificate (Entra ID).
//!
//! # Security
//!
//! A [`NewClientKey`] holds its private key in a `SecretString` and has no `Debug`; errors name
//! the file or the field, never its content.

use chrono::Datelike as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shared::SigningKey;
use shared::keygen::{self, KeyAlg};

/// The algorithm a client key signs its assertions with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKeyAlg {
    /// RSA-2048 with PSS padding: what FAPI 2.0 and Entra ID ask for.
    Ps256,
    /// RSA-2048 with PKCS#1 v1.5 padding.
    Rs256,
    /// P-256.
    Es256,
    /// Ed25519 (few providers accept it).
    EdDsa,
}

impl std::str::FromStr for ClientKeyAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PS256" => Ok(Self::Ps256),
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(format!("unknown algorithm {other:?}: use PS256, RS256, ES256 or EdDSA")),
        }
    }
}

impl ClientKeyAlg {
    /// Its name in the secret's `alg` and in the JWS header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The kind of key it needs.
    fn key_alg(self) -> KeyAlg {
        match self {
            Self::Ps256 | Self::Rs256 => KeyAlg::Rs256,
            Self::Es256 => KeyAlg::Es256,
            Self::EdDsa => KeyAlg::EdDsa,
        }
    }

    /// The default for a key that signs `found` ([`SigningKey::alg_name`]): the secret's own
    /// default for an entry without `alg`.
    fn default_for(found: &str) -> Option<Self> {
        match found {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

/// The default kid of a new client key: `<provider>-<date>-<random suffix>`.
///
/// # Errors
///
/// When the system has no randomness.
pub fn default_kid(provider: &str) -> Result<String, String> {
    let suffix = keygen::random_token(3).map_err(|e| e.to_string())?;
    Ok(format!("{provider}-{}-{}", chrono::Utc::now().format("%Y-%m-%d"), suffix.expose_secret()))
}

/// One client key on its way into the secret's `client_keys`.
pub struct NewClientKey {
    kid: String,
    alg: ClientKeyAlg,
    private_key_pem: SecretString,
    certificate_pem: Option<String>,
}

impl NewClientKey {
    /// A fresh key of `alg` named `kid`.
    ///
    /// # Errors
    ///
    /// A bad kid, or the crypto library failing.
    pub fn generate(kid: String, alg: ClientKeyAlg) -> Result<Self, String> {
        let private_key_pem = keygen::signing_key_pem(alg.key_alg()).map_err(|e| e.to_string())?;
        // The same check the functions make of the kid, before anything is written.
        SigningKey::from_pkcs8_pem(&kid, private_key_pem.expose_secret())
            .map_err(|e| e.to_string())?;
        Ok(Self { kid, alg, private_key_pem, certificate_pem: None })
    }

    /// A key made elsewhere: `key_pem` (PKCS#8 PEM) and, optionally, its certificate.
    /// `alg` defaults by key as in the secret without `alg`: RS256 for RSA, ES256 for P-256,
    /// EdDSA for Ed25519.
    ///
    /// # Errors
    ///
    /// The key is no unencrypted PKCS#8 PEM of a supported kind, `alg` does not fit it, or the
    /// certificate file holds a private key. Whether the certificate certifies the key is
    /// checked with the whole secret ([`crate::document::Document::validated`]).
    pub fn import(
        kid: String,
        alg: Option<ClientKeyAlg>,
        key_pem: SecretString,
        certificate_pem: Option<String>,
    ) -> Result<Self, String> {
        let text = key_pem.expose_secret();
        let convert = "convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pk8.pem`";
        for (label, kind) in [
            ("RSA PRIVATE KEY", "a PKCS#1 RSA key"),
            ("EC PRIVATE KEY", "a SEC1 EC key"),
            ("ENCRYPTED PRIVATE KEY", "an encrypted key"),
        ] {
            if text.contains(&format!("-----BEGIN {label}-----")) {
                return Err(format!(
                    "--key-file holds {kind}, the secret takes an unencrypted PKCS#8 key: {convert}"
                ));
            }
        }
        let key = SigningKey::from_pkcs8_pem(&kid, text).map_err(|e| format!("--key-file: {e}"))?;
        let found = key.alg_name();
        let by_key = ClientKeyAlg::default_for(found)
            .ok_or("--key-file holds a key of no client key algorithm")?;
        let alg = match alg {
            None => by_key,
            Some(alg) if alg.key_alg() == by_key.key_alg() => alg,
            Some(alg) => {
                return Err(format!(
                    "--alg {} does not fit the key of --key-file, which signs {found}",
                    alg.name()
                ));
            }
        };
        if certificate_pem.as_deref().is_some_and(|c| c.contains("PRIVATE KEY-----")) {
            return Err(
                "--certificate-file also holds a private key: give the certificate alone".into()
            );
        }
        Ok(Self { kid, alg, private_key_pem: key_pem, certificate_pem })
    }

    /// Adds a self-signed certificate of the key, subject `CN=<kid>`, valid from `today` for
    /// `days` days, and returns its PEM (public: for the provider's app registration).
    ///
    /// # Errors
    ///
    /// When the certificate cannot be made.
    pub fn self_sign(&mut self, today: chrono::NaiveDate, days: u32) -> Result<&str, String> {
        let failed = |what: &str| format!("cannot make a certificate of the client key: {what}");
        let pair = rcgen::KeyPair::from_pem(self.private_key_pem.expose_secret())
            .map_err(|_| failed("unsupported key"))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|_| failed("parameters"))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, self.kid.clone());
        let until = today
            .checked_add_days(chrono::Days::new(days.into()))
            .ok_or_else(|| failed("--certificate-days is too far"))?;
        let ymd = |d: chrono::NaiveDate| -> Result<_, String> {
            let month = u8::try_from(d.month()).map_err(|_| failed("date"))?;
            let day = u8::try_from(d.day()).map_err(|_| failed("date"))?;
            Ok(rcgen::date_time_ymd(d.year(), month, day))
        };
        params.not_before = ymd(today)?;
        params.not_after = ymd(until)?;
        let certificate = params.self_signed(&pair).map_err(|_| failed("signing"))?;
        Ok(self.certificate_pem.insert(certificate.pem()))
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> ClientKeyAlg {
        self.alg
    }

    /// Whether a certificate goes with the key.
    pub fn has_certificate(&self) -> bool {
        self.certificate_pem.is_some()
    }

    /// The entry of `client_keys.<provider>`.
    ///
    /// # Security
    ///
    /// Holds the private key: only for the document that goes to Secrets Manager.
    pub fn to_entry(&self) -> Value {
        let mut entry = json!({
            "kid": self.kid,
            "alg": self.alg.name(),
            "private_key_pem": self.private_key_pem.expose_secret(),
        });
        if let (Some(pem), Value::Object(map)) = (&self.certificate_pem, &mut entry) {
            map.insert("certificate_pem".into(), Value::String(pem.clone()));
        }
        entry
    }
}

#[cfg(test)]
mod tests;
