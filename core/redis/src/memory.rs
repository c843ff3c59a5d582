//! [`MemoryStore`]: the store interface within one process.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grantline::fleet::{self, StoreOp, StoreReply};

use crate::Store;

/// A [`Store`] in this process's memory: the core's reference semantics
/// ([`grantline::fleet::MemoryStore`]) behind one mutex, with `Watch` woken by `Commit`
/// through a condition variable.
///
/// For tests, examples, and drivers in one process that share nothing else; it is not shared
/// across processes, and it is gone when the process ends. `Debug` shows keys, never an entry.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    announced: Condvar,
    unavailable: AtomicBool,
}

#[derive(Default)]
struct State {
    store: fleet::MemoryStore,
    /// Channel -> the newest version announced.
    versions: HashMap<String, u64>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("store", &self.lock().store)
            .field("unavailable", &self.unavailable.load(Ordering::Relaxed))
            .finish()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every operation fail (`true`) or work again (`false`): a store outage, for tests.
    pub fn set_unavailable(&self, down: bool) {
        self.unavailable.store(down, Ordering::SeqCst);
    }

    /// The entry text under `key` (for tests and inspection).
    pub fn entry(&self, key: &str) -> Option<String> {
        self.lock().store.entry(key).map(str::to_owned)
    }

    /// Puts `text` under `key` as it is, outside the protocol (for tests: a hostile entry).
    pub fn put_entry(&self, key: &str, text: &str) {
        self.lock().store.set_entry(key, Some(text.to_owned()));
    }

    /// The owner of the lease `key`, when it is held (for tests and inspection).
    pub fn lease_owner(&self, key: &str) -> Option<String> {
        self.lock()
            .store
            .lease_owner(key, now_ms())
            .map(str::to_owned)
    }
}

impl Store for MemoryStore {
    fn execute(&self, op: &StoreOp, _deadline: Duration) -> Result<StoreReply, String> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err("the in-memory store is unavailable".into());
        }
        let mut state = self.lock();
        let StoreOp::Watch {
            channel,
            version,
            timeout_ms,
        } = op
        else {
            let reply = state.store.execute(op, now_ms());
            if let (
                StoreOp::Commit {
                    channel, version, ..
                },
                StoreReply::Committed(true),
            ) = (op, &reply)
            {
                let announced = state.versions.entry(channel.clone()).or_default();
                *announced = (*announced).max(*version);
                self.announced.notify_all();
            }
            return Ok(reply);
        };
        let until = Instant::now() + Duration::from_millis(*timeout_ms);
        loop {
            if state.versions.get(channel).is_some_and(|v| v > version) {
                return Ok(StoreReply::Watched);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(StoreReply::Watched);
            }
            state = self
                .announced
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
