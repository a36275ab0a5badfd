//! How our client is registered at an oidc-provider beyond a client secret ([`ClientSpec`]:
//! `private_key_jwt`, PAR, DPoP, the FAPI 2.0 profile), and what that asks of the provider
//! (`PROVIDER_*` of `dev/provider/provider.mjs`), of the functions (`OIDC_*`) and of the
//! secret (a client key in `client_keys`).

use serde::{Deserialize, Serialize};
use shared::keygen::KeyAlg;

/// How our client authenticates at the provider's token, PAR and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523: an assertion signed with a client key of the secret, whose public half the
    /// provider fetches from the issuer function's `/.well-known/client-jwks.json`.
    PrivateKeyJwt,
}

impl ClientAuth {
    fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// A JWS algorithm of a key the stack or the provider makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigAlg {
    RS256,
    PS256,
    ES256,
}

impl SigAlg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
        }
    }

    /// The key that signs it: RSA-2048 for RS256 and PS256, P-256 for ES256.
    pub(crate) fn key(self) -> KeyAlg {
        match self {
            Self::RS256 | Self::PS256 => KeyAlg::Rs256,
            Self::ES256 => KeyAlg::Es256,
        }
    }
}

/// Whether the provider offers a feature, and whether it requires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Offer {
    /// Not announced in discovery, not served.
    Off,
    /// Announced and served.
    On,
    /// Announced, and refused without it.
    Required,
}

impl Offer {
    fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Required => "required",
        }
    }
}

/// How our client is registered at an oidc-provider beyond a client secret. Every field left
/// out (`None`) is the provider's default: client_secret_basic, no PAR, no DPoP, an RS256 ID
/// token key; under [`ClientSpec::fapi2`], the profile's instead.
///
/// The functions are told only what our side cannot learn from discovery: `OIDC_PROFILE=fapi2`
/// (which implies the rest), else `OIDC_CLIENT_AUTH` when [`ClientSpec::auth`] is set and
/// `OIDC_DPOP=on` when [`ClientSpec::dpop`] is on or required (PAR follows discovery with the
/// default `OIDC_PAR=auto`). A provider that deviates further than these fields say (a test of
/// our refusals) is made with [`crate::Options::provider_env`] or [`crate::ProviderSpec::env`],
/// which win over them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSpec {
    /// `PROVIDER_CLIENT_AUTH`.
    pub auth: Option<ClientAuth>,
    /// The client key's algorithm with `private_key_jwt` (default PS256). The stack makes the
    /// key, kid `client-<provider name>-1`, under the provider's name in the secret's
    /// `client_keys`.
    pub key_alg: Option<SigAlg>,
    /// `PROVIDER_PAR`: pushed authorization requests (RFC 9126).
    pub par: Option<Offer>,
    /// `PROVIDER_DPOP`: DPoP (RFC 9449); required means the client's
    /// `dpop_bound_access_tokens`.
    pub dpop: Option<Offer>,
    /// `PROVIDER_DPOP_NONCE=1`: every DPoP proof must carry a server nonce (needs DPoP).
    pub dpop_nonce: bool,
    /// `PROVIDER_PROFILE=fapi2`: oidc-provider's FAPI 2.0 mode, with private_key_jwt, PAR and
    /// DPoP required and a PS256 ID token key unless the fields above say otherwise.
    pub fapi2: bool,
    /// `PROVIDER_SIGNING_ALG`: the provider's ID token signing key.
    pub id_token_alg: Option<SigAlg>,
}

impl ClientSpec {
    /// Whether our client needs a client key: it authenticates by `private_key_jwt`, or runs
    /// the FAPI 2.0 profile (which signs with one even at a provider that deviates).
    pub fn needs_client_key(&self) -> bool {
        self.fapi2 || self.auth == Some(ClientAuth::PrivateKeyJwt)
    }

    /// The algorithm of the client key the stack makes, when one is needed.
    pub fn client_key_alg(&self) -> Option<SigAlg> {
        self.needs_client_key().then(|| self.key_alg.unwrap_or(SigAlg::PS256))
    }

    fn dpop_on(&self) -> bool {
        match self.dpop {
            Some(offer) => offer != Offer::Off,
            None => self.fapi2,
        }
    }

    /// Refuses what cannot work together.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.dpop_nonce && !self.dpop_on() {
            return Err("dpop_nonce needs DPoP: dpop on or required, or fapi2".to_owned());
        }
        if self.key_alg.is_some() && !self.needs_client_key() {
            return Err("key_alg is the client key's, for auth private_key_jwt or fapi2".to_owned());
        }
        Ok(())
    }

    /// The provider's environment (`dev/provider/provider.mjs`); `client_jwks_uri` is where
    /// our client keys are published (the issuer function's `/.well-known/client-jwks.json`).
    pub(crate) fn provider_env(&self, client_jwks_uri: &str) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if self.fapi2 {
            env.push(("PROVIDER_PROFILE", "fapi2".to_owned()));
        }
        if let Some(auth) = self.auth {
            env.push(("PROVIDER_CLIENT_AUTH", auth.as_str().to_owned()));
        }
        if self.needs_client_key() {
            env.push(("PROVIDER_CLIENT_JWKS_URI", client_jwks_uri.to_owned()));
        }
        if let Some(par) = self.par {
            env.push(("PROVIDER_PAR", par.as_str().to_owned()));
        }
        if let Some(dpop) = self.dpop {
            env.push(("PROVIDER_DPOP", dpop.as_str().to_owned()));
        }
        if self.dpop_nonce {
            env.push(("PROVIDER_DPOP_NONCE", "1".to_owned()));
        }
        if let Some(alg) = self.id_token_alg {
            env.push(("PROVIDER_SIGNING_ALG", alg.as_str().to_owned()));
        }
        env
    }

    /// The functions' settings for this provider, by the suffix of `OIDC_[<NAME>_]...`.
    pub(crate) fn function_settings(&self) -> Vec<(&'static str, &'static str)> {
        if self.fapi2 {
            return vec![("PROFILE", "fapi2")];
        }
        let mut settings = Vec::new();
        if let Some(auth) = self.auth {
            settings.push(("CLIENT_AUTH", auth.as_str()));
        }
        if self.dpop_on() {
            settings.push(("DPOP", "on"));
        }
        settings
    }

    /// A few words for `make dev`'s summary; `None` for the default.
    pub fn summary(&self) -> Option<String> {
        if *self == Self::default() {
            return None;
        }
        let mut parts = Vec::new();
        if self.fapi2 {
            parts.push("FAPI 2.0".to_owned());
        }
        if let Some(auth) = self.auth {
            parts.push(auth.as_str().to_owned());
        }
        if let Some(alg) = self.client_key_alg() {
            parts.push(format!("client key {}", alg.as_str()));
        }
        if let Some(par) = self.par {
            parts.push(format!("PAR {}", par.as_str()));
        }
        if let Some(dpop) = self.dpop {
            parts.push(format!("DPoP {}", dpop.as_str()));
        }
        if self.dpop_nonce {
            parts.push("DPoP nonces".to_owned());
        }
        if let Some(alg) = self.id_token_alg {
            parts.push(format!("ID tokens {}", alg.as_str()));
        }
        Some(parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const URI: &str = "http://127.0.0.1:9000/lambda-url/issuer/.well-known/client-jwks.json";

    #[test]
    fn the_default_asks_nothing_of_anyone() {
        let spec = ClientSpec::default();
        assert_eq!(spec.provider_env(URI), Vec::new());
        assert_eq!(spec.function_settings(), Vec::new());
        assert_eq!(spec.client_key_alg(), None);
        assert_eq!(spec.summary(), None);
        assert_eq!(spec.check(), Ok(()));
    }

    #[test]
    fn private_key_jwt_publishes_a_ps256_key_and_tells_both_sides() {
        let spec = ClientSpec { auth: Some(ClientAuth::PrivateKeyJwt), ..ClientSpec::default() };
        assert_eq!(
            spec.provider_env(URI),
            vec![
                ("PROVIDER_CLIENT_AUTH", "private_key_jwt".to_owned()),
                ("PROVIDER_CLIENT_JWKS_URI", URI.to_owned()),
            ]
        );
        assert_eq!(spec.function_settings(), vec![("CLIENT_AUTH", "private_key_jwt")]);
        assert_eq!(spec.client_key_alg(), Some(SigAlg::PS256));
    }

    #[test]
    fn fapi2_tells_the_functions_the_profile_alone_and_the_provider_what_deviates() {
        let spec = ClientSpec { fapi2: true, dpop_nonce: true, ..ClientSpec::default() };
        assert_eq!(
            spec.provider_env(URI),
            vec![
                ("PROVIDER_PROFILE", "fapi2".to_owned()),
                ("PROVIDER_CLIENT_JWKS_URI", URI.to_owned()),
                ("PROVIDER_DPOP_NONCE", "1".to_owned()),
            ]
        );
        assert_eq!(spec.function_settings(), vec![("PROFILE", "fapi2")]);
        assert_eq!(spec.client_key_alg(), Some(SigAlg::PS256));
        assert_eq!(spec.check(), Ok(()));
        let deviating = ClientSpec { par: Some(Offer::On), key_alg: Some(SigAlg::ES256), ..spec };
        assert!(deviating.provider_env(URI).contains(&("PROVIDER_PAR", "on".to_owned())));
        assert_eq!(deviating.client_key_alg(), Some(SigAlg::ES256));
    }

    #[test]
    fn dpop_and_par_as_asked_and_the_functions_turn_dpop_on() {
        let spec = ClientSpec {
            par: Some(Offer::Required),
            dpop: Some(Offer::On),
            id_token_alg: Some(SigAlg::ES256),
            ..ClientSpec::default()
        };
        assert_eq!(
            spec.provider_env(URI),
            vec![
                ("PROVIDER_PAR", "required".to_owned()),
                ("PROVIDER_DPOP", "on".to_owned()),
                ("PROVIDER_SIGNING_ALG", "ES256".to_owned()),
            ]
        );
        assert_eq!(spec.function_settings(), vec![("DPOP", "on")]);
        assert_eq!(spec.client_key_alg(), None, "client secrets still");
        let off = ClientSpec { dpop: Some(Offer::Off), ..ClientSpec::default() };
        assert_eq!(off.function_settings(), Vec::new());
    }

    #[test]
    fn what_cannot_work_together_is_refused() {
        let nonce = ClientSpec { dpop_nonce: true, ..ClientSpec::default() };
        assert!(nonce.check().is_err());
        let key = ClientSpec { key_alg: Some(SigAlg::ES256), ..ClientSpec::default() };
        assert!(key.check().is_err());
        let off = ClientSpec {
            dpop: Some(Offer::Off),
            dpop_nonce: true,
            fapi2: true,
            ..ClientSpec::default()
        };
        assert!(off.check().is_err(), "fapi2 with DPoP off has no DPoP");
    }

    #[test]
    fn a_spec_reads_from_json_and_refuses_unknown_fields() {
        let spec: ClientSpec = serde_json::from_str(
            r#"{"auth": "private_key_jwt", "key_alg": "ES256", "par": "on", "dpop": "required"}"#,
        )
        .unwrap();
        assert_eq!(spec.auth, Some(ClientAuth::PrivateKeyJwt));
        assert_eq!(spec.dpop, Some(Offer::Required));
        assert!(serde_json::from_str::<ClientSpec>(r#"{"fapi": true}"#).is_err());
        assert!(serde_json::from_str::<ClientSpec>(r#"{"par": "yes"}"#).is_err());
    }
}
