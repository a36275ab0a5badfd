//! The session table: create, read, touch, refresh under a lease, delete.
//!
//! Several Lambda instances may serve one session at once, so nothing here is an in-memory
//! lock: every write that must not race is a DynamoDB conditional write. A refresh takes a
//! lease on the item (`lease`, conditional on the version it read and on no live lease), and
//! only the lease holder uses the refresh token; it writes the rotated one conditionally on
//! still holding the lease, bumping `ver`. Everyone else waits for `ver` to move and uses the
//! result, so a one-time refresh token is used once and its successor is never lost.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;

use super::handle::{Handle, random_id};
use super::memory::{Fault, Memory};
use super::seal::{ProviderTokens, SessionKeys};
use super::users::{
    BATCH, Item, Listed, Named, PAGE, Revocable, Table, email_key, live, scoped, store_error,
};
use crate::error::Error;
use crate::infra::config::SessionSettings;
use crate::infra::http::TOTAL_TIMEOUT;
use crate::tokens::session::User;

/// How long a refresh lease holds: the holder's worst case, by construction from the HTTP
/// client's total timeout ([`TOTAL_TIMEOUT`], every provider and table call): the lease write,
/// the token call, a JWKS refetch for the refreshed ID token, userinfo, and the store, each at
/// its timeout. A holder that is slow but alive never sees its lease taken over, so the
/// refresh token is never sent twice; and `/api/refresh` starts a grant only with this much
/// of its invocation left ([`crate::Refresh::renew`]), so no deadline cuts it before the
/// store either.
pub const LEASE_SECS: u64 = 5 * TOTAL_TIMEOUT.as_secs();

/// The most requests that wait for one session's refresh grant while its lease lives (tabs,
/// and the proxy's calls in `provider` mode): each counts itself once in the item
/// ([`Sessions::wait_turn`]), and one more is answered `session_busy` at once instead of
/// reading the item until the grant is stored. The count starts again with each lease.
pub const MAX_WAITING: u64 = 64;

/// Whose a new session is, and where they signed in.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The user.
    pub user: &'a User,
    /// The issuer of the user's ID token (a tenant's, for a multi-tenant provider).
    pub idp: &'a str,
    /// The provider's configured name (`OIDC_PROVIDERS`; `default` without it): the one
    /// whose client refreshes, revokes and logs the session out, whichever else admits `idp`.
    pub provider: &'a str,
    /// The provider's `sid`, when its ID token had one.
    pub provider_sid: Option<&'a str>,
    /// The device label of the login's user agent ([`super::device::label`]), when it had one.
    pub device: Option<&'a str>,
}

/// One session as stored.
#[derive(Debug)]
pub struct Record {
    /// The item's key (hash of the handle).
    pub key: String,
    /// Our session id, the `sid` claim of our JWTs: the item's key, so that a JWT's session is
    /// one `GetItem` away (`SESSION_CHECK=strict`), while the handle stays unknown.
    pub session_id: String,
    /// The provider's issuer.
    pub idp: String,
    /// The provider's configured name; `None` for an item stored before names were (its
    /// provider is then found by `idp`).
    pub provider: Option<String>,
    /// The user.
    pub user: User,
    /// The provider's `sid`, when known.
    pub provider_sid: Option<String>,
    /// The provider's tokens, opened.
    pub tokens: ProviderTokens,
    /// Login time (Unix seconds).
    pub created: u64,
    /// Last use.
    pub used: u64,
    /// Bumped by every refresh grant.
    pub version: u64,
    /// Until when a refresh in progress holds the item, if one does.
    pub lease_until: Option<u64>,
}

/// What [`Sessions::open`] found under a handle.
#[derive(Debug)]
pub enum Opened {
    /// No session.
    Missing,
    /// The session, its use recorded (the idle clock restarted).
    Used(Record),
    /// The session as stored, its use not recorded: it has ended ([`Sessions::ended`] says
    /// why); or it reaches its maximum age within the idle time, so that its `ttl` is the
    /// maximum age's end and [`Sessions::touch`] records the use; or the provider must be
    /// asked first (`renew` is due, or the item predates `renew`), and the use is recorded by
    /// [`Sessions::store_refreshed`] or [`Sessions::touch`] once the refresh succeeds.
    Unused(Record),
}

/// A refresh lease held on one session.
#[derive(Debug)]
pub struct Lease {
    owner: String,
}

/// The session table.
#[derive(Debug)]
pub struct Sessions {
    client: aws_sdk_dynamodb::Client,
    settings: SessionSettings,
    keys: SessionKeys,
    /// The table in memory instead of DynamoDB (the model-based tests only).
    memory: Option<Arc<Memory>>,
}

/// The in-memory table, when this one is (the model-based tests; `None` in a function): each
/// operation below has a branch that writes its condition and update over it, ahead of its
/// DynamoDB request.
macro_rules! in_memory {
    ($sessions:expr, $operation:literal) => {{
        match &$sessions.memory {
            Some(memory) => {
                memory.pause($operation).await;
                Some(memory.clone())
            }
            None => None,
        }
    }};
}

/// Whether the conditional write `what` was made: `false` when its condition did not hold.
fn written<T, E: ProvideErrorMetadata, R>(
    what: &str,
    result: Result<T, SdkError<E, R>>,
) -> Result<bool, Error> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(store_error(what)(e)),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The item key recording a used logout token: a hash, so that the key has the handle keys'
/// shape and a provider's `jti` of any length or alphabet fits.
fn logout_token_key(idp: &str, jti: &str) -> String {
    let hash =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{idp}\n{jti}").as_bytes());
    format!("logout-token {}", URL_SAFE_NO_PAD.encode(hash.as_ref()))
}

fn get_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

/// The `mail` attribute (index `by_email`) of a session of `user` at `idp`: only for an
/// e-mail the provider says it verified, so that a Universal Logout by e-mail ends no one who
/// merely typed that address somewhere.
fn verified_email(idp: &str, user: &User) -> Option<String> {
    match (&user.email, user.email_verified) {
        (Some(email), Some(true)) if !email.is_empty() => Some(email_key(idp, email)),
        _ => None,
    }
}

impl Sessions {
    /// The table of `settings`, through `client`, sealing with `keys`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        settings: SessionSettings,
        keys: SessionKeys,
    ) -> Self {
        Self { client, settings, keys, memory: None }
    }

    /// The table of `settings` held in `memory` (tests: see [`Memory`]).
    #[cfg(any(test, feature = "test-support"))]
    pub fn in_memory(settings: SessionSettings, keys: SessionKeys, memory: Arc<Memory>) -> Self {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        Self { client, settings, keys, memory: Some(memory) }
    }

    /// The limits of a session.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// When DynamoDB may drop an item created at `created` and used at `used`.
    fn expiry(&self, created: u64, used: u64) -> u64 {
        (created + self.settings.max_age.as_secs()).min(used + self.settings.idle.as_secs())
    }

    /// Stores a new session of `owner`; returns its handle (for the cookie) and our session id.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`] when the table cannot be written; [`Error::Internal`] when
    /// sealing fails.
    pub async fn create(
        &self,
        owner: &Owner<'_>,
        tokens: &ProviderTokens,
        now: u64,
    ) -> Result<(Handle, String), Error> {
        let handle = Handle::new()?;
        let (item, session_id) = self.new_item(&handle, owner, tokens, now)?;
        if let Some(memory) = in_memory!(self, "PutItem") {
            if !memory.put_new(&session_id, item) {
                return Err(Error::SessionStore("PutItem: ConditionalCheckFailedException".into()));
            }
            return Ok((handle, session_id));
        }
        self.client
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(h)")
            .send()
            .await
            .map_err(store_error("PutItem"))?;
        Ok((handle, session_id))
    }

    /// The item a new session of `handle` is stored as, and its session id (no I/O:
    /// [`Sessions::create`] writes it; the benchmarks decode it).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when serializing or sealing fails.
    pub fn new_item(
        &self,
        handle: &Handle,
        owner: &Owner<'_>,
        tokens: &ProviderTokens,
        now: u64,
    ) -> Result<(Item, String), Error> {
        let Owner { user, idp, provider, provider_sid, device } = *owner;
        let key = handle.key();
        let user_json = serde_json::to_string(user)
            .map_err(|_| Error::Internal("user could not be serialized".into()))?;
        let sealed = tokens.seal(&self.keys, &key)?;
        let mut item = Item::from([
            ("h".to_owned(), s(&key)),
            ("subj".to_owned(), s(scoped(idp, &user.sub))),
            ("idp".to_owned(), s(idp)),
            ("prov".to_owned(), s(provider)),
            ("u".to_owned(), s(user_json)),
            ("tok".to_owned(), AttributeValue::B(Blob::new(sealed))),
            ("created".to_owned(), n(now)),
            ("used".to_owned(), n(now)),
            ("ver".to_owned(), n(0)),
            ("ttl".to_owned(), n(self.expiry(now, now))),
            ("renew".to_owned(), n(tokens.renew_at())),
        ]);
        if let Some(psid) = provider_sid {
            item.insert("psid".to_owned(), s(scoped(idp, psid)));
        }
        if let Some(mail) = verified_email(idp, user) {
            item.insert("mail".to_owned(), s(mail));
        }
        if let Some(device) = device {
            item.insert("dev".to_owned(), s(device));
        }
        Ok((item, key))
    }

    /// The session of `handle`, read consistently; `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`] when the table cannot be read; [`Error::SessionExpired`] when
    /// the item is unusable (its tokens do not open).
    pub async fn get(&self, handle: &Handle) -> Result<Option<Record>, Error> {
        self.get_key(&handle.key()).await
    }

    /// The session of `handle`, its use at `now` recorded in the same call: one conditional
    /// `UpdateItem` that answers the item, instead of a `GetItem` and then an `UpdateItem`.
    ///
    /// The condition is that the session is live (not [`Sessions::ended`]), that its
    /// maximum age does not end within the idle time (then its new `ttl` is `now` + idle,
    /// whatever its login time, and needs no read first), and that the provider need not be
    /// asked before minting (`renew`, [`ProviderTokens::renew_at`], after `now`): a refresh
    /// grant may fail, and a refresh that fails is no use of the session. When the condition
    /// fails, DynamoDB answers the item as it is ([`Opened::Unused`]); so does it for an item
    /// written before `renew` existed.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`] when the table cannot be written; [`Error::SessionExpired`] when
    /// the item is unusable (its tokens do not open).
    pub async fn open(&self, handle: &Handle, now: u64) -> Result<Opened, Error> {
        let key = handle.key();
        let idle = self.settings.idle.as_secs();
        let idle_end = now + idle;
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let born = idle_end.saturating_sub(self.settings.max_age.as_secs());
            let result = memory.update(
                &key,
                |item| {
                    item.is_some_and(|i| {
                        let at_least =
                            |name: &str, bound: u64| get_n(i, name).is_some_and(|v| v >= bound);
                        at_least("used", now.saturating_sub(idle))
                            && at_least("created", born)
                            && get_n(i, "renew").is_some_and(|renew| renew > now)
                    })
                },
                |i| {
                    i.insert("used".to_owned(), n(now));
                    i.insert("ttl".to_owned(), n(idle_end));
                },
            );
            return match result {
                Ok(item) => Ok(Opened::Used(self.record(&key, &item)?)),
                Err(Some(item)) => Ok(Opened::Unused(self.record(&key, &item)?)),
                Err(None) => Ok(Opened::Missing),
            };
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&key))
            .update_expression("SET used = :now, #ttl = :ttl")
            .condition_expression(
                "attribute_exists(h) AND used >= :active AND created >= :born AND renew > :now",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(idle_end))
            // Not idle too long: `now - used <= idle`.
            .expression_attribute_values(":active", n(now.saturating_sub(idle)))
            // `created + max_age >= now + idle`: the maximum age ends after the idle time.
            .expression_attribute_values(
                ":born",
                n(idle_end.saturating_sub(self.settings.max_age.as_secs())),
            )
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| {
                    Error::SessionStore("UpdateItem: no attributes in the answer".to_owned())
                })?;
                Ok(Opened::Used(self.record(&key, item)?))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        Some(item) => Ok(Opened::Unused(self.record(&key, item)?)),
                        None => Ok(Opened::Missing),
                    }
                }
                _ => Err(store_error("UpdateItem")(e)),
            },
        }
    }

    /// The session whose id (our JWTs' `sid`, the item key) is `sid`, read consistently;
    /// `None` when there is none, or `sid` has not a session id's shape (so that no other
    /// item of the table, a logout token's record, is ever read by it).
    ///
    /// # Errors
    ///
    /// As [`Sessions::get`].
    pub async fn get_by_id(&self, sid: &str) -> Result<Option<Record>, Error> {
        match Handle::is_key(sid) {
            true => self.get_key(sid).await,
            false => Ok(None),
        }
    }

    /// Ends session `sid` if it is one of user `sub` at `idp` (read, its refresh token
    /// revoked by `revoke`, then deleted at the version read): whether it was. Another user's
    /// session is left alone and answered as one that does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn end_session_of(
        &self,
        idp: &str,
        sub: &str,
        sid: &str,
        revoke: &Revoker<'_>,
    ) -> Result<bool, Error> {
        if !Handle::is_key(sid) {
            return Ok(false);
        }
        let user = scoped(idp, sub);
        self.end_one(sid, Some(("subj", &user)), Some(revoke)).await
    }

    async fn get_key(&self, key: &str) -> Result<Option<Record>, Error> {
        if let Some(memory) = in_memory!(self, "GetItem") {
            return memory.get(key).map(|item| self.record(key, &item)).transpose();
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.settings.table)
            .key("h", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("GetItem"))?;
        out.item().map(|item| self.record(key, item)).transpose()
    }

    /// The session stored as `item` under item key `key`, its tokens opened (no I/O).
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when the item is unusable: an attribute is missing or its
    /// tokens do not open.
    pub fn record(&self, key: &str, item: &Item) -> Result<Record, Error> {
        let broken = || Error::SessionExpired("session item is incomplete");
        let sealed = item.get("tok").and_then(|v| v.as_b().ok()).ok_or_else(broken)?;
        let user: User =
            serde_json::from_str(&get_s(item, "u").ok_or_else(broken)?).map_err(|_| broken())?;
        Ok(Record {
            key: key.to_owned(),
            session_id: key.to_owned(),
            idp: get_s(item, "idp").ok_or_else(broken)?,
            provider: get_s(item, "prov"),
            user,
            provider_sid: get_s(item, "psid")
                .and_then(|p| p.split_once(' ').map(|(_, sid)| sid.to_owned())),
            tokens: ProviderTokens::open(sealed.as_ref(), &self.keys, key)?,
            created: get_n(item, "created").ok_or_else(broken)?,
            used: get_n(item, "used").ok_or_else(broken)?,
            version: get_n(item, "ver").ok_or_else(broken)?,
            lease_until: get_n(item, "lease"),
        })
    }

    /// Why `record` has ended at `now`, if it has: its maximum age since login, or its idle
    /// time since the last use.
    pub fn ended(&self, record: &Record, now: u64) -> Option<&'static str> {
        if now.saturating_sub(record.created) > self.settings.max_age.as_secs() {
            Some("maximum age reached")
        } else if now.saturating_sub(record.used) > self.settings.idle.as_secs() {
            Some("idle too long")
        } else {
            None
        }
    }

    /// Records a use at `now` (the idle clock restarts).
    ///
    /// # Errors
    ///
    /// [`Error::SessionExpired`] when the item is gone; [`Error::SessionStore`].
    pub async fn touch(&self, record: &Record, now: u64) -> Result<(), Error> {
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let ttl = self.expiry(record.created, now);
            let touched = memory.update(
                &record.key,
                |item| item.is_some(),
                |i| {
                    i.insert("used".to_owned(), n(now));
                    i.insert("ttl".to_owned(), n(ttl));
                },
            );
            return touched.map(drop).map_err(|_| Error::SessionExpired("ended meanwhile"));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&record.key))
            .update_expression("SET used = :now, #ttl = :ttl")
            .condition_expression("attribute_exists(h)")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(self.expiry(record.created, now)))
            .send()
            .await;
        if !written("UpdateItem", result)? {
            return Err(Error::SessionExpired("ended meanwhile"));
        }
        Ok(())
    }

    /// Takes the refresh lease of `record` at `now`, if its version is still the one read and
    /// no live lease holds it. `None` when another refresh has it or has finished.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`]; [`Error::Internal`] without randomness.
    pub async fn lease(&self, record: &Record, now: u64) -> Result<Option<Lease>, Error> {
        let owner = random_id()?;
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let version = record.version;
            let taken = memory.update(
                &record.key,
                |item| {
                    item.is_some_and(|i| {
                        get_n(i, "ver") == Some(version)
                            && get_n(i, "lease").is_none_or(|lease| lease < now)
                    })
                },
                |i| {
                    i.insert("lease".to_owned(), n(now + LEASE_SECS));
                    i.insert("lease_by".to_owned(), s(&owner));
                    i.insert("waiting".to_owned(), n(0));
                },
            );
            return Ok(taken.is_ok().then_some(Lease { owner }));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&record.key))
            .update_expression("SET lease = :until, lease_by = :owner, waiting = :zero")
            .expression_attribute_values(":zero", n(0))
            .condition_expression(
                "attribute_exists(h) AND ver = :ver AND (attribute_not_exists(lease) OR lease < :now)",
            )
            .expression_attribute_values(":until", n(now + LEASE_SECS))
            .expression_attribute_values(":owner", s(&owner))
            .expression_attribute_values(":ver", n(record.version))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        Ok(written("UpdateItem", result)?.then_some(Lease { owner }))
    }

    /// Stores what a refresh grant gave, under `lease`: the sealed tokens (sealed under the
    /// active key, whichever key sealed them before) and their `renew`, the user as the
    /// provider describes them now, `ver` + 1, the use at `now`, and the lease released.
    /// `false` when the lease was lost (it expired and another refresh took over), in which
    /// case nothing is written.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`]; [`Error::Internal`] when serializing or sealing fails.
    pub async fn store_refreshed(
        &self,
        record: &Record,
        lease: &Lease,
        tokens: &ProviderTokens,
        user: &User,
        now: u64,
    ) -> Result<bool, Error> {
        let user_json = serde_json::to_string(user)
            .map_err(|_| Error::Internal("user could not be serialized".into()))?;
        // The e-mail follows the provider too: a changed or no longer verified one leaves
        // the index `by_email`.
        let mail = verified_email(&record.idp, user);
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let fault = memory.store_fault();
            let failed = || Error::SessionStore("UpdateItem: timeout".into());
            if fault == Fault::Before {
                return Err(failed());
            }
            let sealed = tokens.seal(&self.keys, &record.key)?;
            let ttl = self.expiry(record.created, now);
            let stored = memory.update(
                &record.key,
                |item| item.and_then(|i| get_s(i, "lease_by")).is_some_and(|by| by == lease.owner),
                |i| {
                    i.insert("tok".to_owned(), AttributeValue::B(Blob::new(sealed)));
                    i.insert("u".to_owned(), s(user_json));
                    match mail {
                        Some(mail) => i.insert("mail".to_owned(), s(mail)),
                        None => i.remove("mail"),
                    };
                    i.insert("renew".to_owned(), n(tokens.renew_at()));
                    let version = get_n(i, "ver").unwrap_or_default();
                    i.insert("ver".to_owned(), n(version + 1));
                    i.insert("used".to_owned(), n(now));
                    i.insert("ttl".to_owned(), n(ttl));
                    i.remove("lease");
                    i.remove("lease_by");
                    i.remove("waiting");
                },
            );
            if fault == Fault::After {
                return Err(failed());
            }
            return Ok(stored.is_ok());
        }
        let (set_mail, remove_mail) = match mail.is_some() {
            true => (", mail = :mail", ""),
            false => ("", ", mail"),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&record.key))
            .update_expression(format!(
                "SET tok = :tok, u = :u, renew = :renew, ver = ver + :one, used = :now, \
                 #ttl = :ttl{set_mail} REMOVE lease, lease_by, waiting{remove_mail}",
            ))
            .condition_expression("lease_by = :owner")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(
                ":tok",
                AttributeValue::B(Blob::new(tokens.seal(&self.keys, &record.key)?)),
            )
            .expression_attribute_values(":u", s(user_json))
            .expression_attribute_values(":renew", n(tokens.renew_at()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(self.expiry(record.created, now)))
            .expression_attribute_values(":owner", s(&lease.owner));
        let result = match mail {
            Some(mail) => result.expression_attribute_values(":mail", s(mail)),
            None => result,
        };
        written("UpdateItem", result.send().await)
    }

    /// Gives `lease` back without a new version (the provider could not be reached): the next
    /// refresh may try at once.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn release(&self, record: &Record, lease: &Lease) -> Result<(), Error> {
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let holder = |item: Option<&Item>| {
                item.and_then(|i| get_s(i, "lease_by")) == Some(lease.owner.clone())
            };
            let _released = memory.update(&record.key, holder, |i| {
                i.remove("lease");
                i.remove("lease_by");
                i.remove("waiting");
            });
            return Ok(());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&record.key))
            .update_expression("REMOVE lease, lease_by, waiting")
            .condition_expression("lease_by = :owner")
            .expression_attribute_values(":owner", s(&lease.owner))
            .send()
            .await;
        // Not holding the lease any more is fine: someone else has it, or none is needed.
        written("UpdateItem", result)?;
        Ok(())
    }

    /// Counts this request among those waiting for the session's refresh grant while its
    /// lease lives; `false` when [`MAX_WAITING`] already do (the request is answered
    /// `session_busy`). One conditional `UpdateItem`, made once per waiting request.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn wait_turn(&self, record: &Record) -> Result<bool, Error> {
        if let Some(memory) = in_memory!(self, "UpdateItem") {
            let counted = memory.update(
                &record.key,
                |item| item.is_some_and(|i| get_n(i, "waiting").is_none_or(|w| w < MAX_WAITING)),
                |i| {
                    let waiting = get_n(i, "waiting").unwrap_or_default();
                    i.insert("waiting".to_owned(), n(waiting + 1));
                },
            );
            return Ok(counted.is_ok());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.settings.table)
            .key("h", s(&record.key))
            .update_expression("ADD waiting :one")
            .condition_expression(
                "attribute_exists(h) AND (attribute_not_exists(waiting) OR waiting < :max)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_WAITING))
            .send()
            .await;
        written("UpdateItem", result)
    }

    /// The session again, after another refresh may have changed it.
    ///
    /// # Errors
    ///
    /// As [`Sessions::get`].
    pub async fn reread(&self, record: &Record) -> Result<Option<Record>, Error> {
        self.get_key(&record.key).await
    }

    /// Deletes the session of item key `key` (gone already is fine).
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        if let Some(memory) = in_memory!(self, "DeleteItem") {
            memory.delete(key, |_| true);
            return Ok(());
        }
        self.client
            .delete_item()
            .table_name(&self.settings.table)
            .key("h", s(key))
            .send()
            .await
            .map_err(store_error("DeleteItem"))?;
        Ok(())
    }

    /// Whether our session `sid` (a JWT's `sid` claim) is still live at `now`: its item exists
    /// and its `ttl` (the earlier of the maximum age and the idle end) has not passed. One
    /// consistent `GetItem` of one attribute: `SESSION_CHECK=strict`.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn is_live(&self, sid: &str, now: u64) -> Result<bool, Error> {
        if let Some(memory) = in_memory!(self, "GetItem") {
            return Ok(memory
                .get(sid)
                .and_then(|item| get_n(&item, "ttl"))
                .is_some_and(|t| t > now));
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.settings.table)
            .key("h", s(sid))
            .projection_expression("#ttl")
            .expression_attribute_names("#ttl", "ttl")
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("GetItem"))?;
        Ok(out.item().and_then(|item| get_n(item, "ttl")).is_some_and(|ttl| ttl > now))
    }

    /// Records that logout token `jti` of provider `idp` was used, until `until` (Unix
    /// seconds, when DynamoDB may drop the record). `false` when it was seen before, on any
    /// instance: a replay.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn remember_logout_token(
        &self,
        idp: &str,
        jti: &str,
        until: u64,
    ) -> Result<bool, Error> {
        if let Some(memory) = in_memory!(self, "PutItem") {
            let key = logout_token_key(idp, jti);
            let item = Item::from([("h".to_owned(), s(&key)), ("ttl".to_owned(), n(until))]);
            return Ok(memory.put_new(&key, item));
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.settings.table)
            .item("h", s(logout_token_key(idp, jti)))
            .item("ttl", n(until))
            .condition_expression("attribute_not_exists(h)")
            .send()
            .await;
        written("PutItem", result)
    }

    /// Forgets logout token `jti` again, so that the provider's retry of a back-channel
    /// logout that failed half-way is not taken for a replay.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn forget_logout_token(&self, idp: &str, jti: &str) -> Result<(), Error> {
        self.delete(&logout_token_key(idp, jti)).await
    }

    /// Claims Universal Logout request `jti` of provider `idp` for the user it names
    /// (`subject`, a digest of the request's subject identifier), recorded until `until`.
    /// `true` when the `jti` was never seen, or was seen for this same user by a run that did
    /// not complete (the provider's retry); `false` for anything else: a replay of a request
    /// that completed, or the same JWT naming another user (the JWT does not cover the body,
    /// so whoever obtained it must not be able to end someone else with it).
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn claim_request(
        &self,
        idp: &str,
        jti: &str,
        subject: &str,
        until: u64,
    ) -> Result<bool, Error> {
        let key = logout_token_key(idp, jti);
        if let Some(memory) = in_memory!(self, "PutItem") {
            let claimed = memory.update(
                &key,
                |item| {
                    item.is_none_or(|i| {
                        get_s(i, "s").as_deref() == Some(subject) && get_n(i, "p") == Some(1)
                    })
                },
                |i| {
                    i.insert("ttl".to_owned(), n(until));
                    i.insert("s".to_owned(), s(subject));
                    i.insert("p".to_owned(), n(1));
                },
            );
            return Ok(claimed.is_ok());
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.settings.table)
            .item("h", s(key))
            .item("ttl", n(until))
            .item("s", s(subject))
            .item("p", n(1))
            .condition_expression("attribute_not_exists(h) OR (s = :s AND p = :one)")
            .expression_attribute_values(":s", s(subject))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        written("PutItem", result)
    }

    /// Records that the run of Universal Logout request `jti` completed: the `jti` can no
    /// longer be claimed, not even for the same user.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn settle_request(
        &self,
        idp: &str,
        jti: &str,
        subject: &str,
        until: u64,
    ) -> Result<(), Error> {
        let key = logout_token_key(idp, jti);
        if let Some(memory) = in_memory!(self, "PutItem") {
            let _settled = memory.update(
                &key,
                |_| true,
                |i| {
                    i.insert("ttl".to_owned(), n(until));
                    i.insert("s".to_owned(), s(subject));
                    i.remove("p");
                },
            );
            return Ok(());
        }
        self.client
            .put_item()
            .table_name(&self.settings.table)
            .item("h", s(key))
            .item("ttl", n(until))
            .item("s", s(subject))
            .send()
            .await
            .map_err(store_error("PutItem"))?;
        Ok(())
    }

    /// Ends the sessions of provider `idp` that `named` names, but `except` (the item key of
    /// a session its caller ends itself). With `revoke`, each session's refresh token is
    /// revoked before its item is deleted ([`Sessions::end_one`]): a session is never gone
    /// here while its token lives on at the provider unasked, and whatever the deadline
    /// leaves undone is still in the table for the next run. Stops at `until`: what is left of
    /// the work is then left undone and [`Ending::complete`] is `false`, so that the caller
    /// can answer before its invocation's deadline and the provider (or the user) can run it
    /// again.
    ///
    /// The deletes run in batches of [`BATCH`], [`PARALLEL_BATCHES`] at a time: one user's
    /// thousands of sessions end in seconds, not one round trip after another. Without
    /// `revoke` and without a condition to check, a batch is one `BatchWriteItem`; otherwise
    /// each session is ended on its own, in parallel too (the revoker bounds how many
    /// revocations run at once).
    ///
    /// The indexes are eventually consistent: a session created in the last moment before the
    /// call may not be found yet.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn end_provider_sessions(
        &self,
        idp: &str,
        named: Named<'_>,
        except: Option<&str>,
        until: Option<Instant>,
        revoke: Option<&Revoker<'_>>,
    ) -> Result<Ending, Error> {
        let (index, attribute, value) = named.index(idp);
        let condition = named.condition(idp);
        let condition = condition.as_ref().map(|(a, v)| (*a, v.as_str()));
        if let Some(memory) = in_memory!(self, "Query") {
            let mut ending = Ending { ended: 0, complete: true };
            for key in memory.query(attribute, &value) {
                if until.is_some_and(|until| Instant::now() >= until) {
                    ending.complete = false;
                    break;
                }
                if Some(key.as_str()) != except {
                    ending.ended += usize::from(self.end_one(&key, condition, revoke).await?);
                }
            }
            return Ok(ending);
        }
        let mut pages = self
            .client
            .query()
            .table_name(&self.settings.table)
            .index_name(index)
            .key_condition_expression("#a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", s(value))
            .limit(PAGE)
            .into_paginator()
            .send();
        let mut running = FuturesUnordered::new();
        let mut ending = Ending { ended: 0, complete: true };
        let mut keys: Vec<String> = Vec::new();
        let mut listed = false;
        loop {
            // Fill the batches from the index, then keep PARALLEL_BATCHES of them running.
            while !listed && keys.len() < BATCH {
                match by(until, pages.next()).await {
                    None => {
                        ending.complete = false;
                        listed = true;
                    }
                    Some(None) => listed = true,
                    Some(Some(page)) => {
                        let page = page.map_err(store_error("Query"))?;
                        let found = page.items().iter().filter_map(|item| get_s(item, "h"));
                        keys.extend(found.filter(|key| Some(key.as_str()) != except));
                    }
                }
            }
            if !keys.is_empty() && ending.complete && running.len() < PARALLEL_BATCHES {
                let batch: Vec<String> = keys.drain(..keys.len().min(BATCH)).collect();
                running.push(self.delete_batch(batch, condition, revoke));
                continue;
            }
            match by(until, running.next()).await {
                None => {
                    ending.complete = false;
                    break;
                }
                Some(None) if keys.is_empty() || !ending.complete => break,
                Some(None) => {}
                Some(Some(ended)) => ending.ended += ended?,
            }
        }
        Ok(ending)
    }

    /// Ends the sessions of item keys `keys` (at most [`BATCH`]): in one `BatchWriteItem`, or
    /// each on its own ([`Sessions::end_one`]) with a `condition` or `revoke`. Returns how
    /// many were deleted (or sent to be: a batch does not tell which keys named an item).
    async fn delete_batch(
        &self,
        keys: Vec<String>,
        condition: Option<(&str, &str)>,
        revoke: Option<&Revoker<'_>>,
    ) -> Result<usize, Error> {
        if condition.is_none() && revoke.is_none() {
            return self.table().delete(&keys).await;
        }
        let ends = keys.iter().map(|key| self.end_one(key, condition, revoke));
        let mut ended = 0;
        for result in futures_util::future::join_all(ends).await {
            ended += usize::from(result?);
        }
        Ok(ended)
    }

    /// Ends the session of item key `key`, on `condition` (an attribute and the value it must
    /// hold: the user, or the verified e-mail) when given. With `revoke`, the item is read,
    /// its refresh token revoked, and the item deleted on condition that its version is still
    /// the one read: a refresh grant stored in between is read again and its rotated token
    /// revoked too, up to [`END_ATTEMPTS`] times, after which the item is deleted whatever it
    /// holds. Returns whether a session was deleted.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    async fn end_one(
        &self,
        key: &str,
        condition: Option<(&str, &str)>,
        revoke: Option<&Revoker<'_>>,
    ) -> Result<bool, Error> {
        let holds =
            |item: &Item| condition.is_none_or(|(a, v)| get_s(item, a).as_deref() == Some(v));
        let Some(revoke) = revoke else {
            return self.delete_if(key, condition, None).await;
        };
        for _ in 1..END_ATTEMPTS {
            let item = match self.read_for_ending(key).await? {
                Some(item) if holds(&item) => item,
                // Gone, or not the one named: nothing to end here.
                _ => return Ok(false),
            };
            if let Some(token) = self.revocable(key, &item) {
                revoke(token).await;
            }
            if self.delete_if(key, condition, get_n(&item, "ver")).await? {
                return Ok(true);
            }
        }
        self.delete_if(key, condition, None).await
    }

    /// The attributes of item `key` an ending needs to revoke its refresh token, read
    /// consistently; `None` when there is no item.
    async fn read_for_ending(&self, key: &str) -> Result<Option<Item>, Error> {
        if let Some(memory) = in_memory!(self, "GetItem") {
            return Ok(memory.get(key));
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.settings.table)
            .key("h", s(key))
            .projection_expression("h, subj, idp, prov, tok, ver, mail")
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("GetItem"))?;
        Ok(out.item)
    }

    /// Deletes item `key` on `condition` (an attribute and its value) and at `version`, each
    /// when given; `false` when a condition did not hold (a missing item holds none).
    async fn delete_if(
        &self,
        key: &str,
        condition: Option<(&str, &str)>,
        version: Option<u64>,
    ) -> Result<bool, Error> {
        if let Some(memory) = in_memory!(self, "DeleteItem") {
            return Ok(memory.delete(key, |item| {
                let Some(item) = item else { return condition.is_none() && version.is_none() };
                condition.is_none_or(|(a, v)| get_s(item, a).as_deref() == Some(v))
                    && version.is_none_or(|v| get_n(item, "ver") == Some(v))
            }));
        }
        let mut conditions = Vec::new();
        let mut delete =
            self.client.delete_item().table_name(&self.settings.table).key("h", s(key));
        if let Some((attribute, value)) = condition {
            conditions.push("#c = :c");
            delete = delete
                .expression_attribute_names("#c", attribute)
                .expression_attribute_values(":c", s(value));
        }
        if let Some(version) = version {
            conditions.push("ver = :ver");
            delete = delete.expression_attribute_values(":ver", n(version));
        }
        if !conditions.is_empty() {
            delete = delete.condition_expression(conditions.join(" AND "));
        }
        written("DeleteItem", delete.send().await)
    }

    /// The refresh token of the session stored as `item` under `key`, if it has one and its
    /// tokens open (an item sealed under a removed cookie key has nothing to revoke).
    fn revocable(&self, key: &str, item: &Item) -> Option<Revocable> {
        let sealed = item.get("tok").and_then(|v| v.as_b().ok())?;
        let tokens = ProviderTokens::open(sealed.as_ref(), &self.keys, key).ok()?;
        Some(Revocable {
            provider: get_s(item, "prov"),
            idp: get_s(item, "idp")?,
            refresh_token: tokens.refresh_token?,
            dpop_key: tokens.dpop_key,
        })
    }

    /// The table by name, for listings and batch deletes.
    fn table(&self) -> Table<'_> {
        Table::new(&self.client, &self.settings.table)
    }

    /// The live sessions of user `sub` at provider `idp` at `now`, newest first: what
    /// `GET /api/sessions` lists. No token is opened.
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
        if let Some(memory) = in_memory!(self, "Query") {
            let keys = memory.query("subj", &scoped(idp, sub));
            let items = keys.iter().filter_map(|key| memory.get(key));
            return Ok(live(items.filter_map(|item| Listed::of(&item)).collect(), now));
        }
        self.table().user_sessions(idp, sub, now).await
    }

    /// Ends the oldest sessions of user `sub` at `idp` beyond [`SessionSettings::max_per_user`],
    /// keeping `keep` (the session just created) whatever its age. Returns how many ended.
    ///
    /// One `Query` of the user's keys (the index holds keys only); only over the cap, their
    /// login times are read (`BatchGetItem`, `created` only) and the oldest deleted. The index
    /// is eventually consistent: a session made a moment ago elsewhere may not count yet, and
    /// the next login ends it.
    ///
    /// # Errors
    ///
    /// [`Error::SessionStore`].
    pub async fn end_beyond_cap(&self, idp: &str, sub: &str, keep: &str) -> Result<usize, Error> {
        let cap = self.settings.max_per_user;
        if let Some(memory) = in_memory!(self, "Query") {
            let others: Vec<String> = memory
                .query("subj", &scoped(idp, sub))
                .into_iter()
                .filter(|key| key != keep)
                .collect();
            let over = (others.len() + 1).saturating_sub(cap);
            let mut born: Vec<(u64, String)> = others
                .into_iter()
                .filter_map(|key| Some((get_n(&memory.get(&key)?, "created")?, key)))
                .collect();
            born.sort_unstable();
            let mut ended = 0;
            for (_, key) in born.into_iter().take(over) {
                memory.delete(&key, |_| true);
                ended += 1;
            }
            return Ok(ended);
        }
        let table = self.table();
        let mut others = table.user_keys(idp, sub, usize::MAX).await?;
        others.retain(|key| key != keep);
        // `keep` is one of the cap.
        let over = (others.len() + 1).saturating_sub(cap);
        if over == 0 {
            return Ok(0);
        }
        let read = table.read(&others, "h, created").await?;
        let mut born: Vec<(u64, String)> = read
            .iter()
            .filter_map(|item| Some((get_n(item, "created")?, get_s(item, "h")?)))
            .collect();
        // Oldest first; a tie broken by key, so that every instance picks the same.
        born.sort_unstable();
        let oldest: Vec<String> = born.into_iter().take(over).map(|(_, key)| key).collect();
        let mut ended = 0;
        for batch in oldest.chunks(BATCH) {
            ended += table.delete(batch).await?;
        }
        Ok(ended)
    }
}

/// What [`Sessions::end_provider_sessions`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// Sessions ended.
    pub ended: usize,
    /// Whether every session named was found and ended; `false` when the deadline came first.
    pub complete: bool,
}

/// What revokes a session's refresh token before an ending deletes its item: the logout
/// function's, which holds each provider's client (the session store knows no provider).
/// It reports nothing back: a revocation that fails is its to log and count, and the session
/// ends all the same.
pub type Revoker<'a> =
    dyn Fn(Revocable) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Send + Sync + 'a;

/// Batches in flight at once while ending many sessions: 400 deletes per round trip.
const PARALLEL_BATCHES: usize = 16;

/// How many times an ending reads, revokes and deletes one session that a refresh grant
/// keeps changing in between, the last time deleting it whatever it holds (its latest refresh
/// token then goes unrevoked here; the refresh function revokes a grant's token that its
/// ended session cannot hold).
const END_ATTEMPTS: usize = 3;

/// `work`'s output, or `None` when `until` comes first (never without `until`).
async fn by<T>(until: Option<Instant>, work: impl Future<Output = T>) -> Option<T> {
    match until {
        Some(until) => tokio::time::timeout_at(until.into(), work).await.ok(),
        None => Some(work.await),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::testing::{offline_sessions, secret_json};
    use crate::tokens::keygen::KeyAlg;

    #[test]
    fn a_new_item_decodes_to_its_session_and_an_incomplete_one_is_refused() {
        let sessions = offline_sessions(&secret_json(KeyAlg::Es256, 3));
        let handle = Handle::new().unwrap();
        let user = User {
            sub: "alice".to_owned(),
            email: None,
            email_verified: None,
            name: None,
            extra: Default::default(),
        };
        let tokens = ProviderTokens {
            refresh_token: Some("provider-refresh".to_owned().into()),
            access_token: "provider-access".to_owned().into(),
            access_expires_at: 1_600,
            id_token: None,
            dpop_key: None,
        };
        let owner = Owner {
            user: &user,
            idp: "https://idp",
            provider: "idp",
            provider_sid: Some("psid"),
            device: Some("Firefox on Linux"),
        };
        let (item, sid) = sessions.new_item(&handle, &owner, &tokens, 1_000).unwrap();
        assert_eq!(get_s(&item, "h"), Some(handle.key()));
        let record = sessions.record(&handle.key(), &item).unwrap();
        assert_eq!(
            (record.session_id.as_str(), record.idp.as_str()),
            (sid.as_str(), "https://idp")
        );
        assert_eq!(
            (record.user.sub.as_str(), record.provider_sid.as_deref()),
            ("alice", Some("psid"))
        );
        assert_eq!(record.provider.as_deref(), Some("idp"));
        assert_eq!((record.created, record.used, record.version), (1_000, 1_000, 0));
        assert_eq!(record.tokens.access_token.expose_secret(), "provider-access");
        assert_eq!(record.lease_until, None);
        assert!(sessions.ended(&record, 1_000).is_none());
        let mut incomplete = item.clone();
        incomplete.remove("ver");
        assert!(matches!(
            sessions.record(&handle.key(), &incomplete),
            Err(Error::SessionExpired(_))
        ));
        // Sealed under this item's key: under another key the tokens do not open.
        assert!(sessions.record(&Handle::new().unwrap().key(), &item).is_err());
    }
}
