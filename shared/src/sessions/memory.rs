//! The session table in memory, for the model-based tests of the session state machine
//! (built only by [`super::Sessions::in_memory`], with the `test-support` feature; a function
//! never holds one)
//! (`functions::sessions_model`): each [`super::Sessions`] operation has, beside its DynamoDB
//! request, the same condition and update written as Rust over this map, so that refresh,
//! logout and the strict check run their real code against many simulated instances at once.
//!
//! Every call is atomic, as a DynamoDB single-item write is: one lock around the condition and
//! the update. Before each call, a seeded pause (a yield, or a sleep of up to 2 ms) lets the
//! other instances' calls in between, so that a seed is one interleaving. What the session
//! invariants forbid is recorded as a violation as it happens: an item that comes back after
//! it was deleted, and a `ttl` past the session's maximum age.
//!
//! `sessions_proven::the_in_memory_table_answers_a_fixed_sequence_as_moto_does` (tests/) runs
//! one sequence of operations on this and on moto and compares every answer and item.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

/// An item, as the table stores it.
type Item = HashMap<String, AttributeValue>;

/// A session table in memory (tests).
#[derive(Debug)]
pub struct Memory {
    state: Mutex<State>,
    /// `SESSION_MAX_AGE_SECONDS`: no item's `ttl` may pass `created` plus it.
    max_age: u64,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<String, Item>,
    /// Keys deleted: never written again.
    deleted: HashSet<String>,
    violations: Vec<String>,
    /// The pauses' generator (xorshift64), when seeded.
    rng: Option<u64>,
    /// Calls so far, by operation.
    calls: HashMap<&'static str, usize>,
    /// One in how many stores of a refresh grant fail (`None`: none does).
    store_faults: Option<u64>,
}

/// How a store of a refresh grant fails, when the seed says it does: as a table call that
/// times out before DynamoDB has it, or after it has applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault.
    None,
    /// The call fails unapplied.
    Before,
    /// The call is applied, and fails all the same.
    After,
}

impl Memory {
    /// An empty table for sessions of at most `max_age` seconds; `seed` makes the pauses
    /// between calls (none without one).
    pub fn new(max_age: u64, seed: Option<u64>) -> Arc<Self> {
        let state = State { rng: seed.map(|s| s | 1), ..State::default() };
        Arc::new(Self { state: Mutex::new(state), max_age })
    }

    /// This table with one in `one_in` stores of a refresh grant failing ([`Fault`]).
    pub fn with_store_faults(self: Arc<Self>, one_in: u64) -> Arc<Self> {
        self.state().store_faults = Some(one_in.max(1));
        self
    }

    /// Whether this store of a refresh grant fails, and how (from the seed).
    pub fn store_fault(&self) -> Fault {
        let mut state = self.state();
        let Some(one_in) = state.store_faults else { return Fault::None };
        let Some(x) = state.rng.as_mut() else { return Fault::None };
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        match (*x % one_in, *x % 2) {
            (0, 0) => Fault::Before,
            (0, _) => Fault::After,
            _ => Fault::None,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets other tasks run first, as the network would: a yield or a short sleep, chosen by
    /// the seed. Counts the call as `operation`.
    pub async fn pause(&self, operation: &'static str) {
        let roll = {
            let mut state = self.state();
            *state.calls.entry(operation).or_default() += 1;
            state.rng.as_mut().map(|x| {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                *x
            })
        };
        match roll.map(|r| r % 4) {
            None => {}
            Some(0) => tokio::time::sleep(Duration::from_micros(roll.unwrap_or(0) % 2_000)).await,
            Some(_) => tokio::task::yield_now().await,
        }
    }

    /// Writes `item` under `key` if no item is there (`attribute_not_exists(h)`).
    pub fn put_new(&self, key: &str, item: Item) -> bool {
        let mut state = self.state();
        if state.items.contains_key(key) {
            return false;
        }
        self.check_write(&mut state, key, &item);
        state.items.insert(key.to_owned(), item);
        true
    }

    /// An `UpdateItem`: when `condition` holds of the item (`None`: none is stored), `update`
    /// changes it (making it, when none was stored, as DynamoDB does) and the new item is
    /// answered; otherwise the item as it is (`Err`).
    pub fn update(
        &self,
        key: &str,
        condition: impl FnOnce(Option<&Item>) -> bool,
        update: impl FnOnce(&mut Item),
    ) -> Result<Item, Option<Item>> {
        let mut state = self.state();
        let current = state.items.get(key);
        if !condition(current) {
            return Err(current.cloned());
        }
        let mut item = current.cloned().unwrap_or_default();
        item.entry("h".to_owned()).or_insert_with(|| AttributeValue::S(key.to_owned()));
        update(&mut item);
        self.check_write(&mut state, key, &item);
        state.items.insert(key.to_owned(), item.clone());
        Ok(item)
    }

    /// A consistent `GetItem`.
    pub fn get(&self, key: &str) -> Option<Item> {
        self.state().items.get(key).cloned()
    }

    /// A `DeleteItem` on `condition` (of the stored item, if any); `false` when it did not
    /// hold. Deleting nothing is done.
    pub fn delete(&self, key: &str, condition: impl FnOnce(Option<&Item>) -> bool) -> bool {
        let mut state = self.state();
        if !condition(state.items.get(key)) {
            return false;
        }
        if state.items.remove(key).is_some() {
            state.deleted.insert(key.to_owned());
        }
        true
    }

    /// The keys of the items whose `attribute` is `value` (an index query).
    pub fn query(&self, attribute: &str, value: &str) -> Vec<String> {
        let state = self.state();
        let matches = |item: &&Item| {
            item.get(attribute).and_then(|v| v.as_s().ok()).is_some_and(|v| v == value)
        };
        state.items.iter().filter(|(_, item)| matches(item)).map(|(key, _)| key.clone()).collect()
    }

    /// Records a violation of the session invariants found by the caller.
    pub fn violation(&self, what: String) {
        self.state().violations.push(what);
    }

    /// The violations recorded so far.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Every item, by key.
    pub fn items(&self) -> BTreeMap<String, Item> {
        self.state().items.clone()
    }

    /// Whether `key` was deleted (and so its session ended).
    pub fn was_deleted(&self, key: &str) -> bool {
        self.state().deleted.contains(key)
    }

    /// Calls so far, by operation.
    pub fn calls(&self) -> HashMap<&'static str, usize> {
        self.state().calls.clone()
    }

    fn check_write(&self, state: &mut State, key: &str, item: &Item) {
        if state.deleted.contains(key) {
            state.violations.push(format!("item {key:.8} written again after it was deleted"));
        }
        let number = |name: &str| {
            item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok())
        };
        if let (Some(created), Some(ttl)) = (number("created"), number("ttl"))
            && ttl > created + self.max_age
        {
            state.violations.push(format!("item {key:.8}: ttl {ttl} past its maximum age"));
        }
    }
}
