//! A user's sessions, as a whole: who a logout or a Universal Logout names ([`Named`]), what
//! `GET /api/sessions` and `session-tool` list ([`Listed`]), and the refresh tokens of the
//! sessions an ending deleted, to be revoked at the provider ([`Revocable`]).
//!
//! [`Table`] reads and ends sessions with the table's name and a DynamoDB client only: no
//! cookie key, so that the operator's `session-tool` lists and ends sessions with its AWS
//! credentials and nothing of the deployment's secret. It never opens a session's tokens.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, WriteRequest};
use secrecy::SecretString;
use serde::Serialize;

use crate::error::Error;

/// A session item's attributes, as DynamoDB stores them.
pub type Item = HashMap<String, AttributeValue>;

/// A failed table call as [`Error::SessionStore`], named by the operation and the service's
/// error code only: the service's message could repeat item contents.
pub(crate) fn store_error<E: ProvideErrorMetadata, R>(
    what: &str,
) -> impl Fn(SdkError<E, R>) -> Error + '_ {
    move |e| {
        let kind = match &e {
            SdkError::ServiceError(s) => s.err().code().unwrap_or("service error").to_owned(),
            SdkError::TimeoutError(_) => "timeout".to_owned(),
            SdkError::DispatchFailure(_) => "unreachable".to_owned(),
            _ => "failed".to_owned(),
        };
        Error::SessionStore(format!("{what}: {kind}"))
    }
}

/// The sessions an ending names, at one provider (by its issuer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    /// The sessions of a provider session (its `sid`), only those of user `sub` when given
    /// (back-channel logout).
    ProviderSession {
        /// The provider's session id.
        sid: &'a str,
        /// The user, when the logout token names one too.
        sub: Option<&'a str>,
    },
    /// Every session of user `sub` (back-channel logout by `sub`, logout everywhere,
    /// Universal Logout's `iss_sub` format).
    User(&'a str),
    /// Every session whose user's e-mail is this one and was verified by the provider
    /// (Universal Logout's `email` format; compared without case).
    Email(&'a str),
}

impl Named<'_> {
    /// The index, its attribute and the value to find the sessions by, at provider `idp`.
    pub(crate) fn index(&self, idp: &str) -> (&'static str, &'static str, String) {
        match self {
            Self::ProviderSession { sid, .. } => ("by_provider_sid", "psid", scoped(idp, sid)),
            Self::User(sub) => ("by_subject", "subj", scoped(idp, sub)),
            Self::Email(email) => ("by_email", "mail", email_key(idp, email)),
        }
    }

    /// What every session found must still hold when it is deleted (each delete is
    /// conditional on it), where the index alone does not say or may be behind: the user of a
    /// provider session of a named user; the verified e-mail, which a refresh grant may have
    /// changed since the index (eventually consistent) was read. A user's `subj` never
    /// changes.
    pub(crate) fn condition(&self, idp: &str) -> Option<(&'static str, String)> {
        match self {
            Self::ProviderSession { sub: Some(sub), .. } => Some(("subj", scoped(idp, sub))),
            Self::Email(email) => Some(("mail", email_key(idp, email))),
            _ => None,
        }
    }
}

/// `value` (a provider's `sub` or `sid`) within provider `idp`: an identifier is only unique
/// per issuer (OpenID Connect Core 5.7).
pub(crate) fn scoped(idp: &str, value: &str) -> String {
    format!("{idp} {value}")
}

/// The `mail` attribute of a session of provider `idp` whose user's verified e-mail is
/// `email`: ASCII lower case, so that the provider's `Alice@Example.com` and a revocation
/// request's `alice@example.com` meet (the local part is case-sensitive in theory, in no
/// provider's practice). Only ASCII: Unicode's case folding maps other characters together
/// (the Kelvin sign and `k`), which two addresses must not share.
pub(crate) fn email_key(idp: &str, email: &str) -> String {
    scoped(idp, &email.to_ascii_lowercase())
}

/// The refresh token of a session an ending is about to delete, to be revoked at its
/// provider.
#[derive(Debug)]
pub struct Revocable {
    /// The provider's configured name, when the session stored it.
    pub provider: Option<String>,
    /// The provider's issuer.
    pub idp: String,
    /// The refresh token.
    pub refresh_token: SecretString,
    /// The session's DPoP key, when its tokens are bound to one.
    pub dpop_key: Option<SecretString>,
}

/// One live session of a user, as listed: never its handle or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Our session id (the `sid` claim of its JWTs; the item's key).
    pub sid: String,
    /// The provider's configured name; `None` for an item stored before names were.
    pub provider: Option<String>,
    /// Login time (Unix seconds).
    pub created: u64,
    /// Last use (Unix seconds): the last refresh, `me` or proxied call that recorded one.
    pub used: u64,
    /// The device label taken at login ([`super::device::label`]).
    pub device: Option<String>,
    /// When the session ends at the latest, if unused (Unix seconds): the earlier of its idle
    /// end and its maximum age.
    pub expires: u64,
}

/// What a listing reads of each item.
pub(crate) const LISTED_ATTRIBUTES: &str = "h, prov, created, used, dev, #ttl";

impl Listed {
    /// The listing of `item` (read with [`LISTED_ATTRIBUTES`]), if it is a session.
    pub(crate) fn of(item: &Item) -> Option<Self> {
        let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let n = |name: &str| {
            item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok())
        };
        Some(Self {
            sid: s("h")?,
            provider: s("prov"),
            created: n("created")?,
            used: n("used")?,
            device: s("dev"),
            expires: n("ttl")?,
        })
    }
}

/// The live sessions of `listed`, newest login first (ties by `sid`, so that the order is
/// stable).
pub(crate) fn live(mut listed: Vec<Listed>, now: u64) -> Vec<Listed> {
    listed.retain(|l| l.expires > now);
    listed.sort_unstable_by(|a, b| b.created.cmp(&a.created).then_with(|| a.sid.cmp(&b.sid)));
    listed
}

/// Keys per page of an index query: about 150 bytes each, so that a page stays well within
/// what the HTTP client reads of an answer ([`crate::infra::http::MAX_BODY`]), where
/// DynamoDB's own page may reach 1 MB.
pub(crate) const PAGE: i32 = 1_000;

/// Keys per `BatchWriteItem` (DynamoDB's limit).
pub(crate) const BATCH: usize = 25;

/// Keys per `BatchGetItem` (DynamoDB's limit).
const READ_BATCH: usize = 100;

/// The most sessions one listing reads: far above `SESSION_MAX_PER_USER`'s default (50), so
/// that a raised cap still lists whole, and a bound on the work of one request.
pub const MAX_LISTED: usize = 1_000;

/// The session table by its name, with no cookie key: listings and deletes.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    client: &'a aws_sdk_dynamodb::Client,
    name: &'a str,
}

impl<'a> Table<'a> {
    /// Table `name` through `client`.
    pub fn new(client: &'a aws_sdk_dynamodb::Client, name: &'a str) -> Self {
        Self { client, name }
    }

    /// The keys of the sessions of user `sub` at provider `idp` (index `by_subject`), at most
    /// `limit` of them.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn user_keys(
        &self,
        idp: &str,
        sub: &str,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        let mut pages = self
            .client
            .query()
            .table_name(self.name)
            .index_name("by_subject")
            .key_condition_expression("subj = :v")
            .expression_attribute_values(":v", AttributeValue::S(scoped(idp, sub)))
            .limit(PAGE)
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while keys.len() < limit {
            let Some(item) = pages.next().await else { break };
            let item = item.map_err(store_error("Query"))?;
            if let Some(key) = item.get("h").and_then(|v| v.as_s().ok()) {
                keys.push(key.clone());
            }
        }
        Ok(keys)
    }

    /// The items of `keys`, with the attributes of `projection` only (`#ttl` names `ttl`,
    /// a reserved word), in any order; a key with no item is left out.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`]; [`Error::Internal`] for a request the SDK cannot build.
    pub async fn read(&self, keys: &[String], projection: &str) -> Result<Vec<Item>, Error> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(READ_BATCH) {
            let mut wanted: Vec<Item> = chunk
                .iter()
                .map(|key| Item::from([("h".to_owned(), AttributeValue::S(key.clone()))]))
                .collect();
            // DynamoDB may leave part of a batch unread (throttled): asked again until done.
            while !wanted.is_empty() {
                let mut asked = KeysAndAttributes::builder()
                    .set_keys(Some(wanted))
                    .projection_expression(projection);
                if projection.contains("#ttl") {
                    asked = asked.expression_attribute_names("#ttl", "ttl");
                }
                let asked = asked.build().map_err(|_| Error::Internal("a batch read".into()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.name, asked)
                    .send()
                    .await
                    .map_err(store_error("BatchGetItem"))?;
                items.extend(
                    out.responses.and_then(|mut r| r.remove(self.name)).unwrap_or_default(),
                );
                wanted = out
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(self.name))
                    .map(|left| left.keys)
                    .unwrap_or_default();
            }
        }
        Ok(items)
    }

    /// The live sessions of user `sub` at provider `idp` at `now`, newest first; at most
    /// [`MAX_LISTED`].
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn user_sessions(
        &self,
        idp: &str,
        sub: &str,
        now: u64,
    ) -> Result<Vec<Listed>, Error> {
        let keys = self.user_keys(idp, sub, MAX_LISTED).await?;
        let items = self.read(&keys, LISTED_ATTRIBUTES).await?;
        Ok(live(items.iter().filter_map(Listed::of).collect(), now))
    }

    /// Deletes the items of `keys` (at most [`BATCH`]) in one `BatchWriteItem`, sent again
    /// for what DynamoDB leaves unprocessed. Returns how many were sent (a batch does not
    /// tell which keys named an item).
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`]; [`Error::Internal`] for a request the SDK cannot build.
    pub async fn delete(&self, keys: &[String]) -> Result<usize, Error> {
        let mut requests = keys
            .iter()
            .map(|key| {
                let delete =
                    DeleteRequest::builder().key("h", AttributeValue::S(key.clone())).build();
                let delete = delete.map_err(|_| Error::Internal("a delete request".into()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // A pause that doubles between retries of what is left (throttling); the caller's
        // deadline bounds the whole.
        let mut pause = std::time::Duration::from_millis(25);
        while !requests.is_empty() {
            let out = self
                .client
                .batch_write_item()
                .request_items(self.name, requests)
                .send()
                .await
                .map_err(store_error("BatchWriteItem"))?;
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(self.name))
                .unwrap_or_default();
            if !requests.is_empty() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
            }
        }
        Ok(keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sid: &str, created: u64, ttl: u64, device: Option<&str>) -> Item {
        let mut item = Item::from([
            ("h".to_owned(), AttributeValue::S(sid.to_owned())),
            ("prov".to_owned(), AttributeValue::S("default".to_owned())),
            ("created".to_owned(), AttributeValue::N(created.to_string())),
            ("used".to_owned(), AttributeValue::N((created + 1).to_string())),
            ("ttl".to_owned(), AttributeValue::N(ttl.to_string())),
        ]);
        if let Some(device) = device {
            item.insert("dev".to_owned(), AttributeValue::S(device.to_owned()));
        }
        item
    }

    #[test]
    fn a_listing_keeps_live_sessions_newest_first_and_reads_nothing_else() {
        let items = [
            item("old", 100, 5_000, Some("Firefox on Linux")),
            item("ended", 200, 900, None),
            item("new", 300, 5_000, None),
            // A logout token's record: no login time, so not a session.
            Item::from([
                ("h".to_owned(), AttributeValue::S("logout-token x".to_owned())),
                ("ttl".to_owned(), AttributeValue::N("5000".to_owned())),
            ]),
        ];
        let listed = live(items.iter().filter_map(Listed::of).collect(), 1_000);
        let sids: Vec<&str> = listed.iter().map(|l| l.sid.as_str()).collect();
        assert_eq!(sids, ["new", "old"]);
        assert_eq!(listed[1].device.as_deref(), Some("Firefox on Linux"));
        assert_eq!((listed[1].created, listed[1].used, listed[1].expires), (100, 101, 5_000));
        let json = serde_json::to_value(&listed[1]).unwrap();
        let mut fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["created", "device", "expires", "provider", "sid", "used"]);
    }

    #[test]
    fn each_subject_format_finds_its_index_and_emails_meet_without_case() {
        let idp = "https://idp";
        assert_eq!(
            Named::User("alice").index(idp),
            ("by_subject", "subj", "https://idp alice".to_owned())
        );
        assert_eq!(
            Named::Email("Alice@Example.COM").index(idp),
            ("by_email", "mail", "https://idp alice@example.com".to_owned())
        );
        let sid = Named::ProviderSession { sid: "op-1", sub: Some("bob") };
        assert_eq!(sid.index(idp), ("by_provider_sid", "psid", "https://idp op-1".to_owned()));
        assert_eq!(sid.condition(idp), Some(("subj", "https://idp bob".to_owned())));
        assert_eq!(Named::User("bob").condition(idp), None);
        let mail = Named::Email("Bob@Example.com").condition(idp);
        assert_eq!(mail, Some(("mail", "https://idp bob@example.com".to_owned())));
        // Unicode's folding is not ours: the Kelvin sign stays itself.
        assert_ne!(email_key(idp, "\u{212a}@example.com"), email_key(idp, "k@example.com"));
    }
}
