//! One token for a whole fleet (issue 12): the core's [`grantline::fleet`] as Kotlin and Swift
//! see it.
//!
//! - [`FleetConfig`] (with [`Protection`] and [`EntryKey`]): the shared session's name, how its
//!   entry is encrypted at rest, the renewal lease.
//! - [`FleetStore`]: the store interface the app implements over its store client (five
//!   operations; [`redis_acquire_script`] and friends are the core's Redis scripts, so a Redis
//!   client runs exactly the core's Lua). `TokenSession` (`NativeTokenSession`) takes a store
//!   and a config and then shares its token with every process that uses the same name.
//! - [`FleetState`]: the core's sans-IO [`grantline::fleet::FleetSession`] as it is, for apps
//!   that drive it themselves and for the shared `fleet_session` vectors (as [`SessionState`]
//!   is the core's `TokenSession`).
//! - [`StoreEntry`]: the sealed, versioned entry the store keeps.
//!
//! Times are **milliseconds** since the Unix epoch here (the store's leases are short).
//! Nothing prints a secret: keys show their `kid`, entries their size, tokens are redacted.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use grantline::fleet as core;

use crate::error::GrantlineError;
use crate::http::{HttpRequest, HttpResponse};
use crate::num;
use crate::state::{Completion, SessionState};
use crate::tokens::{token_set, TokenSet};

/// The deadline of one store call unless configured: a hung store is a failed call.
pub(crate) const DEFAULT_STORE_TIMEOUT_MS: u64 = 2_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A non-negative number from the caller (a version, a TTL), or `invalid_input`.
fn natural(what: &str, v: i64) -> Result<u64, GrantlineError> {
    u64::try_from(v)
        .map_err(|_| GrantlineError::invalid(format!("{what} cannot be negative ({v})")))
}

// ------------------------------------------------------------------ keys and protection

/// A key that encrypts shared entries at rest: 32 bytes (AES-256-GCM) and the id it is known
/// by. A secret: printing it shows the `kid` only.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct EntryKey {
    inner: grantline::store::EntryKey,
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EntryKey(kid={}, key={})",
            self.inner.kid(),
            grantline::secret::REDACTED
        )
    }
}

#[uniffi::export]
impl EntryKey {
    /// A key from its 32 bytes and its id (1 to 64 visible ASCII characters, no `:`). Every
    /// process of the fleet uses the same keys; keep them in your secret store.
    ///
    /// # Errors
    /// `InvalidKey` for a key that is not 32 bytes or a bad `kid` (the message never holds the
    /// key).
    #[uniffi::constructor]
    pub fn new(kid: String, key: Vec<u8>) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(EntryKey {
            inner: grantline::store::EntryKey::new(kid, &key)?,
        }))
    }

    /// The key's id.
    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }
}

/// How shared entries are protected at rest: encrypted (AES-256-GCM, the default choice) or,
/// only by explicit choice, in clear. Printing it shows key ids only.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Protection {
    inner: grantline::store::Protection,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            grantline::store::Protection::Encrypted { current, previous } => write!(
                f,
                "Protection(encrypted, kid={}, previous=[{}])",
                current.kid(),
                previous
                    .iter()
                    .map(|k| k.kid())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            grantline::store::Protection::Plaintext => f.write_str("Protection(plaintext)"),
        }
    }
}

#[uniffi::export]
impl Protection {
    /// Encryption with `current`; entries sealed with any of `previous` (keys being rotated
    /// out) are still read. Rotate by deploying the new key as `current` with the old one in
    /// `previous`: every entry written from then on uses the new key.
    #[uniffi::constructor(default(previous = []))]
    pub fn encrypted(current: &EntryKey, previous: Vec<Arc<EntryKey>>) -> Arc<Self> {
        let mut inner = grantline::store::Protection::encrypted(current.inner.clone());
        for key in previous {
            inner = inner.with_previous(key.inner.clone());
        }
        Arc::new(Protection { inner })
    }

    /// No encryption at rest: the refresh token lies in the store in clear. The explicit
    /// opt-in, for a store only trusted processes can read. A process with keys refuses
    /// plaintext entries (no downgrade).
    #[uniffi::constructor]
    pub fn plaintext() -> Arc<Self> {
        Arc::new(Protection {
            inner: grantline::store::Protection::plaintext(),
        })
    }

    /// Whether entries are encrypted.
    pub fn encrypts(&self) -> bool {
        matches!(self.inner, grantline::store::Protection::Encrypted { .. })
    }
}

// ------------------------------------------------------------------ the configuration

/// The store keys of one shared session.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreKeys {
    /// The entry: `grantline:{NAME}`.
    pub entry: String,
    /// The renewal lease: `grantline:{NAME}:lease`.
    pub lease: String,
    /// The channel announcing new versions: `grantline:{NAME}:renewed`.
    pub channel: String,
}

/// How a session shares its token over a [`FleetStore`]: the shared session's name (every
/// process of the fleet uses the same name and keys), the protection of its entry, the renewal
/// lease, and the deadline of each store call. One config may serve several sessions: each
/// gets a lease owner id of its own (unless `owner` is given). Printing it shows no key.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct FleetConfig {
    inner: core::FleetConfig,
    name: String,
    /// The owner id given, if any (else each session draws its own).
    owner: Option<String>,
    pub(crate) store_timeout: Duration,
    renew_alone: bool,
}

impl fmt::Display for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FleetConfig(entry={}, owner={}, lease_ttl_ms={}, store_timeout_ms={}, renew_alone_when_store_down={}, protection={})",
            self.inner.keys().entry,
            self.owner.as_deref().unwrap_or("(one per session)"),
            self.inner.lease_ttl_ms(),
            self.store_timeout.as_millis(),
            self.renew_alone,
            Protection {
                inner: self.inner.protection().clone()
            }
        )
    }
}

#[uniffi::export]
impl FleetConfig {
    /// A shared session named `name` (1 to 200 characters of `A-Z a-z 0-9 - _ . : /`).
    ///
    /// - `lease_ttl_ms`: the renewal lease's TTL (default 15000, at least 1000). Make it longer
    ///   than your HTTP client's whole-request deadline: a holder whose lease expires
    ///   mid-request may be overtaken.
    /// - `owner`: the lease owner id (default: 32 random hex digits drawn for each session);
    ///   for tests: owners must be unique in the fleet.
    /// - `renew_alone_when_store_down`: whether a **refresh** may run without the store while it
    ///   is down (default `false`: two processes refreshing one rotating refresh token revoke
    ///   the grant on servers with reuse detection). Grants that consume nothing (client
    ///   credentials, password) always renew alone then.
    /// - `store_timeout_ms`: the deadline of each store call (default 2000; a `watch` gets its
    ///   own timeout on top). A call that has not answered by then counts as a store failure:
    ///   a hung store never hangs a caller.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a bad name or owner, a negative number;
    /// `Configuration` (`random`) when the RNG fails.
    #[uniffi::constructor(default(
        lease_ttl_ms = None,
        owner = None,
        renew_alone_when_store_down = false,
        store_timeout_ms = None
    ))]
    pub fn new(
        name: String,
        protection: &Protection,
        lease_ttl_ms: Option<i64>,
        owner: Option<String>,
        renew_alone_when_store_down: bool,
        store_timeout_ms: Option<i64>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let mut inner = core::FleetConfig::new(&name, protection.inner.clone())?
            .renew_alone_when_store_down(renew_alone_when_store_down);
        if let Some(ms) = lease_ttl_ms {
            inner = inner.with_lease_ttl_ms(natural("lease_ttl_ms", ms)?);
        }
        if let Some(owner) = &owner {
            inner = inner.with_owner(owner)?;
        }
        let timeout = match store_timeout_ms {
            Some(ms) => natural("store_timeout_ms", ms)?.max(1),
            None => DEFAULT_STORE_TIMEOUT_MS,
        };
        Ok(Arc::new(FleetConfig {
            inner,
            name,
            owner,
            store_timeout: Duration::from_millis(timeout),
            renew_alone: renew_alone_when_store_down,
        }))
    }

    /// The store keys.
    pub fn keys(&self) -> StoreKeys {
        let k = self.inner.keys();
        StoreKeys {
            entry: k.entry.clone(),
            lease: k.lease.clone(),
            channel: k.channel.clone(),
        }
    }

    /// The lease owner id given, `null`/`nil` when each session draws its own.
    pub fn owner(&self) -> Option<String> {
        self.owner.clone()
    }

    /// The shared session's name.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The lease TTL in milliseconds.
    pub fn lease_ttl_ms(&self) -> i64 {
        num::out(self.inner.lease_ttl_ms())
    }

    /// The deadline of each store call, in milliseconds.
    pub fn store_timeout_ms(&self) -> i64 {
        i64::try_from(self.store_timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether a refresh may run without the store while it is down.
    pub fn renew_alone_when_store_down(&self) -> bool {
        self.renew_alone
    }

    /// Whether entries are encrypted at rest.
    pub fn encrypts(&self) -> bool {
        matches!(
            self.inner.protection(),
            grantline::store::Protection::Encrypted { .. }
        )
    }
}

impl FleetConfig {
    /// The core's config for one session: with the owner given, or a fresh random one.
    ///
    /// # Errors
    /// `Configuration` (`random`) when the RNG fails.
    pub(crate) fn for_session(&self) -> Result<core::FleetConfig, GrantlineError> {
        if self.owner.is_some() {
            return Ok(self.inner.clone());
        }
        Ok(
            core::FleetConfig::new(&self.name, self.inner.protection().clone())?
                .with_lease_ttl_ms(self.inner.lease_ttl_ms())
                .renew_alone_when_store_down(self.renew_alone),
        )
    }
}

// ------------------------------------------------------------------ store operations

/// A store operation the fleet machine asks for (see [`FleetStore`] for what each one must
/// do). Printing it shows the entry's size, never the entry.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum StoreOp {
    /// Read the entry: answer `StoreReply.Entry`.
    Read {
        /// The entry's key.
        key: String,
    },
    /// Take (or renew) the lease if free: answer `StoreReply.Acquired`.
    Acquire {
        /// The entry's key (its text comes back with the answer).
        key: String,
        /// The lease's key.
        lease: String,
        /// This process's owner id.
        owner: String,
        /// The lease's TTL in milliseconds.
        ttl_ms: i64,
    },
    /// Write `entry` if the stored version is `expected_version`, release the lease if owned,
    /// announce `version`: answer `StoreReply.Committed`.
    Commit {
        /// The entry's key.
        key: String,
        /// The lease's key.
        lease: String,
        /// This process's owner id.
        owner: String,
        /// The channel that announces new versions.
        channel: String,
        /// The version the stored entry must have (0: no entry).
        expected_version: i64,
        /// The version of `entry`: above the stored version and every version this process has seen.
        version: i64,
        /// The sealed entry to write.
        entry: String,
    },
    /// Delete the lease if `owner` holds it: answer `StoreReply.Released`.
    Release {
        /// The lease's key.
        lease: String,
        /// This process's owner id.
        owner: String,
    },
    /// Wait for a version newer than `version` on `channel`, at most `timeout_ms`: answer
    /// `StoreReply.Watched`.
    Watch {
        /// The channel.
        channel: String,
        /// The version this process has seen.
        version: i64,
        /// The longest wait in milliseconds.
        timeout_ms: i64,
    },
}

impl fmt::Display for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreOp::Read { key } => write!(f, "Read(key={key})"),
            StoreOp::Acquire { lease, ttl_ms, .. } => {
                write!(f, "Acquire(lease={lease}, ttl_ms={ttl_ms})")
            }
            StoreOp::Commit {
                key,
                expected_version,
                version,
                entry,
                ..
            } => write!(
                f,
                "Commit(key={key}, expected_version={expected_version}, version={version}, entry_bytes={})",
                entry.len()
            ),
            StoreOp::Release { lease, .. } => write!(f, "Release(lease={lease})"),
            StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            } => write!(
                f,
                "Watch(channel={channel}, version={version}, timeout_ms={timeout_ms})"
            ),
        }
    }
}

impl fmt::Debug for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StoreOp {
    /// The core's operation in the binding's terms; `None` for an operation this binding does
    /// not know (the core may add some).
    pub(crate) fn from_core(op: core::StoreOp) -> Option<Self> {
        Some(match op {
            core::StoreOp::Read { key } => StoreOp::Read { key },
            core::StoreOp::Acquire {
                key,
                lease,
                owner,
                ttl_ms,
            } => StoreOp::Acquire {
                key,
                lease,
                owner,
                ttl_ms: num::out(ttl_ms),
            },
            core::StoreOp::Commit {
                key,
                lease,
                owner,
                channel,
                expected_version,
                version,
                entry,
            } => StoreOp::Commit {
                key,
                lease,
                owner,
                channel,
                expected_version: num::out(expected_version),
                version: num::out(version),
                entry,
            },
            core::StoreOp::Release { lease, owner } => StoreOp::Release { lease, owner },
            core::StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            } => StoreOp::Watch {
                channel,
                version: num::out(version),
                timeout_ms: num::out(timeout_ms),
            },
            _ => return None,
        })
    }

    /// The operation's name: `read`, `acquire`, `commit`, `release` or `watch`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            StoreOp::Read { .. } => "read",
            StoreOp::Acquire { .. } => "acquire",
            StoreOp::Commit { .. } => "commit",
            StoreOp::Release { .. } => "release",
            StoreOp::Watch { .. } => "watch",
        }
    }
}

/// The answer to a [`StoreOp`]. Printing it shows the entry's size, never the entry.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum StoreReply {
    /// `Read`: the entry text, or `null`/`nil` when there is none.
    Entry {
        /// The entry.
        entry: Option<String>,
    },
    /// `Acquire`: whether the lease is now this process's, its remaining TTL in milliseconds
    /// (`null`/`nil` when the store cannot tell), and the entry text, read in the same step.
    Acquired {
        /// The lease is ours.
        acquired: bool,
        /// The lease's remaining TTL in milliseconds.
        lease_ttl_ms: Option<i64>,
        /// The entry.
        entry: Option<String>,
    },
    /// `Commit`: whether the entry was written (`false`: the stored version was not the
    /// expected one, or the stored entry is unreadable).
    Committed {
        /// The entry was written.
        written: bool,
    },
    /// `Release` is done (whether or not the lease was still ours).
    Released,
    /// `Watch` returned (a new version was announced, or the timeout passed).
    Watched,
}

impl fmt::Display for StoreReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |e: &Option<String>| {
            e.as_ref()
                .map_or("none".to_owned(), |e| e.len().to_string())
        };
        match self {
            StoreReply::Entry { entry } => write!(f, "Entry(entry_bytes={})", size(entry)),
            StoreReply::Acquired {
                acquired,
                lease_ttl_ms,
                entry,
            } => write!(
                f,
                "Acquired(acquired={acquired}, lease_ttl_ms={}, entry_bytes={})",
                lease_ttl_ms.map_or("none".to_owned(), |t| t.to_string()),
                size(entry)
            ),
            StoreReply::Committed { written } => write!(f, "Committed(written={written})"),
            StoreReply::Released => f.write_str("Released"),
            StoreReply::Watched => f.write_str("Watched"),
        }
    }
}

impl fmt::Debug for StoreReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<StoreReply> for core::StoreReply {
    fn from(r: StoreReply) -> Self {
        match r {
            StoreReply::Entry { entry } => core::StoreReply::Entry(entry),
            StoreReply::Acquired {
                acquired,
                lease_ttl_ms,
                entry,
            } => core::StoreReply::Acquired {
                acquired,
                // A negative TTL (Redis: -1 no expiry, -2 no key) is "cannot tell".
                lease_ttl_ms: lease_ttl_ms.and_then(|t| u64::try_from(t).ok()),
                entry,
            },
            StoreReply::Committed { written } => core::StoreReply::Committed(written),
            StoreReply::Released => core::StoreReply::Released,
            StoreReply::Watched => core::StoreReply::Watched,
        }
    }
}

// ------------------------------------------------------------------ the store interface

/// What [`FleetStore::acquire`] answers. Printing it shows the entry's size, never the entry.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct AcquireReply {
    /// Whether the lease is now this process's (taken, or renewed because it held it).
    pub acquired: bool,
    /// The lease's remaining TTL in milliseconds, `null`/`nil` when the store cannot tell.
    pub lease_ttl_ms: Option<i64>,
    /// The entry text, read in the same step; `null`/`nil` when there is none.
    pub entry: Option<String>,
}

/// The shared store a fleet of processes keeps one token set in: implement it over your store
/// client (Redis with Lettuce or Jedis, DynamoDB, PostgreSQL, a Durable Object...) and pass it
/// with a [`FleetConfig`] to `TokenSession`. The session calls it only to renew (a cached
/// token costs no store call), one call at a time per session, on a thread of its own, each
/// with the config's deadline (`store_timeout_ms`, 2 s by default).
///
/// The operations, and the atomicity each needs:
///
/// | operation | does | atomicity needed |
/// |---|---|---|
/// | `read` | returns the entry text, or none | none (a plain read) |
/// | `acquire` | sets the lease to `owner` with a TTL of `ttl_ms` if there is none (or renews it if `owner` holds it); returns whether it did, the lease's remaining TTL, and the entry | the set-if-absent is atomic (`SET NX PX`, a conditional put, an advisory lock with expiry) |
/// | `commit` | if the stored entry's `version` equals `expected_version` (no entry: 0), writes `entry`; in any case deletes the lease if `owner` holds it; announces `version` on `channel` | the version check and the write are one atomic step (a Lua script, `WATCH`/`MULTI`, a conditional put, a transaction) |
/// | `release` | deletes the lease if `owner` holds it | compare-and-delete |
/// | `watch` | returns when a newer version is announced on `channel`, or after `timeout_ms` | none: a store without notifications just sleeps `timeout_ms` |
///
/// The entry is a JSON text whose `version` member is readable in clear (for the
/// compare-and-set); the rest is encrypted with the fleet's key. The store must be durable for
/// rotating refresh tokens (an entry that vanishes takes the newest refresh token with it).
///
/// **Redis**: `read` is `GET key`; `acquire`, `commit` and `release` are the core's Lua
/// scripts ([`redis_acquire_script`], [`redis_commit_script`], [`redis_release_script`],
/// with their key and argument order documented there), whose replies
/// [`redis_acquire_reply`] and [`redis_commit_reply`] convert; `watch` is a `SUBSCRIBE` on a
/// dedicated connection until a message or the timeout, or simply a sleep. Kotlin's
/// `RedisFleetStore` does all of it over any client that can `GET` and `EVAL`.
///
/// **Failures**: throw (a `GrantlineException.Store` with a reason, or anything else: then the
/// reason is the exception's class name) when the store cannot answer: unreachable, timed out,
/// an error reply. Never throw for a "no": a lease someone else holds is
/// `acquired = false`, a version conflict is `commit` returning `false`. A failure never
/// reaches a caller while a valid token exists: the session skips the store for a backoff
/// (1 s, doubling up to 30 s) and renews alone when that is safe (client credentials,
/// password); a refresh then fails with `GrantlineException.Store`, which callers see only
/// when no usable token is left. Reasons must hold no secret (no password in a URL).
#[uniffi::export(with_foreign)]
pub trait FleetStore: Send + Sync {
    /// The entry's text at `key`, or `null`/`nil` when there is none.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn read(&self, key: String) -> Result<Option<String>, GrantlineError>;

    /// Takes the lease `lease` for `owner` with a TTL of `ttl_ms` if nobody holds it (or
    /// extends it if `owner` holds it), atomically; then returns whether it is `owner`'s, its
    /// remaining TTL and the entry at `key`.
    ///
    /// # Errors
    /// When the store cannot answer (not when someone else holds the lease).
    fn acquire(
        &self,
        key: String,
        lease: String,
        owner: String,
        ttl_ms: i64,
    ) -> Result<AcquireReply, GrantlineError>;

    /// In one atomic step: if the entry at `key` has version `expected_version` (0 when there
    /// is none), writes `entry`; whatever the outcome, deletes `lease` if `owner` holds it;
    /// when written, announces `version` on `channel`. Returns whether it wrote.
    ///
    /// # Errors
    /// When the store cannot answer (not for a version conflict: that is `false`).
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        key: String,
        lease: String,
        owner: String,
        channel: String,
        expected_version: i64,
        version: i64,
        entry: String,
    ) -> Result<bool, GrantlineError>;

    /// Deletes `lease` if `owner` holds it (compare-and-delete).
    ///
    /// # Errors
    /// When the store cannot answer.
    fn release(&self, lease: String, owner: String) -> Result<(), GrantlineError>;

    /// Returns when a version newer than `version` is announced on `channel`, or after
    /// `timeout_ms` at the latest (a store without notifications sleeps `timeout_ms`).
    ///
    /// # Errors
    /// When the store cannot answer.
    fn watch(&self, channel: String, version: i64, timeout_ms: i64) -> Result<(), GrantlineError>;
}

impl fmt::Display for AcquireReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AcquireReply(acquired={}, lease_ttl_ms={}, entry_bytes={})",
            self.acquired,
            self.lease_ttl_ms
                .map_or("none".to_owned(), |t| t.to_string()),
            self.entry
                .as_ref()
                .map_or("none".to_owned(), |e| e.len().to_string())
        )
    }
}

impl fmt::Debug for AcquireReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Runs `op` on `store`: the reply, or why it failed (no secret: a `Store` or `Transport`
/// error's own reason, else the first line of what the foreign code threw, cut at the class
/// name).
fn call(store: &dyn FleetStore, op: StoreOp) -> Result<core::StoreReply, String> {
    let reply = match op {
        StoreOp::Read { key } => store.read(key).map(core::StoreReply::Entry),
        StoreOp::Acquire {
            key,
            lease,
            owner,
            ttl_ms,
        } => store.acquire(key, lease, owner, ttl_ms).map(|a| {
            StoreReply::Acquired {
                acquired: a.acquired,
                lease_ttl_ms: a.lease_ttl_ms,
                entry: a.entry,
            }
            .into()
        }),
        StoreOp::Commit {
            key,
            lease,
            owner,
            channel,
            expected_version,
            version,
            entry,
        } => store
            .commit(key, lease, owner, channel, expected_version, version, entry)
            .map(core::StoreReply::Committed),
        StoreOp::Release { lease, owner } => store
            .release(lease, owner)
            .map(|()| core::StoreReply::Released),
        StoreOp::Watch {
            channel,
            version,
            timeout_ms,
        } => store
            .watch(channel, version, timeout_ms)
            .map(|()| core::StoreReply::Watched),
    };
    reply.map_err(store_reason)
}

/// The reason a store failure gives the core: a `Store` or `Transport` error's own words;
/// anything else foreign code threw comes as its stack trace (Kotlin) or description (Swift):
/// only its first line's exception name is kept (messages may hold a connection URL).
fn store_reason(e: GrantlineError) -> String {
    match e {
        GrantlineError::Store { reason } => reason,
        GrantlineError::Transport { reason } if reason.contains('\n') || reason.contains('\t') => {
            let first = reason.lines().next().unwrap_or("").trim();
            let name = first.split(':').next().unwrap_or("").trim();
            format!("the store threw {name}")
        }
        GrantlineError::Transport { reason } => reason,
        other => other.to_string(),
    }
}

/// Executes `op` on `store` on a thread of its own and waits at most `deadline` for it (plus
/// the op's own timeout for a `watch`): a store that hangs is a failure, never a hung caller.
/// A call that overruns finishes in the background and its answer is dropped.
pub(crate) fn execute(
    store: &Arc<dyn FleetStore>,
    op: core::StoreOp,
    deadline: Duration,
) -> Result<core::StoreReply, String> {
    let Some(op) = StoreOp::from_core(op) else {
        return Err("the core asked for a store operation this binding does not know".into());
    };
    let name = op.name();
    let wait = match &op {
        StoreOp::Watch { timeout_ms, .. } => {
            deadline.saturating_add(Duration::from_millis(num::millis(*timeout_ms)))
        }
        _ => deadline,
    };
    let (tx, rx) = mpsc::sync_channel(1);
    let store = store.clone();
    std::thread::Builder::new()
        .name(format!("grantline-store-{name}"))
        .spawn(move || {
            // The receiver may have given up: then the answer is dropped.
            let _ = tx.send(call(&*store, op));
        })
        .map_err(|_| format!("no thread could be started for the store's {name}"))?;
    match rx.recv_timeout(wait) {
        Ok(reply) => reply,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the store's {name} did not answer within {} ms",
            wait.as_millis()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(format!("the store's {name} ended without an answer"))
        }
    }
}

/// What a store operation run on a thread of its own leaves for the future awaiting it.
#[derive(Default)]
struct Slot {
    reply: Option<Result<core::StoreReply, String>>,
    waker: Option<Waker>,
}

/// [`execute`] for the suspending session: the store's (blocking) call and its deadline run on
/// threads of their own, and the future completes when they are done; no coroutine or task
/// thread ever blocks on the store. Dropping the future leaves the call to finish alone.
pub(crate) struct StoreCall {
    slot: Arc<Mutex<Slot>>,
}

impl Future for StoreCall {
    type Output = Result<core::StoreReply, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        match slot.reply.take() {
            Some(reply) => Poll::Ready(reply),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Starts `op` on `store` with `deadline` (see [`execute`]), for a future to await.
pub(crate) fn execute_async(
    store: Arc<dyn FleetStore>,
    op: core::StoreOp,
    deadline: Duration,
) -> StoreCall {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let answer = slot.clone();
    let started = std::thread::Builder::new()
        .name("grantline-store".into())
        .spawn(move || {
            let reply = execute(&store, op, deadline);
            let waker = {
                let mut s = lock(&answer);
                s.reply = Some(reply);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    if started.is_err() {
        lock(&slot).reply = Some(Err("no thread could be started for a store call".into()));
    }
    StoreCall { slot }
}

// ------------------------------------------------------------------ a store in memory

/// The core's reference store in memory, with `watch` woken by commits.
#[derive(Default)]
struct MemoryFleetStore {
    /// The store, and the last version announced on each channel.
    state: Mutex<(core::MemoryStore, HashMap<String, i64>)>,
    announced: Condvar,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl MemoryFleetStore {
    fn run(&self, op: &core::StoreOp) -> core::StoreReply {
        lock(&self.state).0.execute(op, now_ms())
    }
}

impl FleetStore for MemoryFleetStore {
    fn read(&self, key: String) -> Result<Option<String>, GrantlineError> {
        match self.run(&core::StoreOp::Read { key }) {
            core::StoreReply::Entry(entry) => Ok(entry),
            _ => Err(GrantlineError::Store {
                reason: "the memory store answered another operation".into(),
            }),
        }
    }

    fn acquire(
        &self,
        key: String,
        lease: String,
        owner: String,
        ttl_ms: i64,
    ) -> Result<AcquireReply, GrantlineError> {
        let op = core::StoreOp::Acquire {
            key,
            lease,
            owner,
            ttl_ms: num::millis(ttl_ms),
        };
        match self.run(&op) {
            core::StoreReply::Acquired {
                acquired,
                lease_ttl_ms,
                entry,
            } => Ok(AcquireReply {
                acquired,
                lease_ttl_ms: num::out_opt(lease_ttl_ms),
                entry,
            }),
            _ => Err(GrantlineError::Store {
                reason: "the memory store answered another operation".into(),
            }),
        }
    }

    fn commit(
        &self,
        key: String,
        lease: String,
        owner: String,
        channel: String,
        expected_version: i64,
        version: i64,
        entry: String,
    ) -> Result<bool, GrantlineError> {
        let op = core::StoreOp::Commit {
            key,
            lease,
            owner,
            channel: channel.clone(),
            expected_version: num::millis(expected_version),
            version: num::millis(version),
            entry,
        };
        let mut state = lock(&self.state);
        let written = matches!(
            state.0.execute(&op, now_ms()),
            core::StoreReply::Committed(true)
        );
        if written {
            state.1.insert(channel, version);
            self.announced.notify_all();
        }
        Ok(written)
    }

    fn release(&self, lease: String, owner: String) -> Result<(), GrantlineError> {
        self.run(&core::StoreOp::Release { lease, owner });
        Ok(())
    }

    fn watch(&self, channel: String, version: i64, timeout_ms: i64) -> Result<(), GrantlineError> {
        let state = lock(&self.state);
        let _ = self
            .announced
            .wait_timeout_while(state, Duration::from_millis(num::millis(timeout_ms)), |s| {
                s.1.get(&channel).is_none_or(|v| *v <= version)
            })
            .unwrap_or_else(PoisonError::into_inner);
        Ok(())
    }
}

/// A [`FleetStore`] in memory: the core's reference store (`grantline::fleet::MemoryStore`),
/// every operation atomic under one lock, `watch` woken by commits. For several sessions of one
/// process sharing one token (each session is then a "process" of the fleet) and for tests;
/// it is no store for a fleet of processes (use Redis: `RedisFleetStore` in Kotlin).
#[uniffi::export]
pub fn memory_fleet_store() -> Arc<dyn FleetStore> {
    Arc::new(MemoryFleetStore::default())
}

// ------------------------------------------------------------------ Redis

/// The core's Redis script for `acquire`: `SET lease owner NX PX ttl` (or renew it when
/// `owner` holds it), then the lease's PTTL and the entry, in one step. Run it as
/// `EVAL script 2 <key> <lease> <owner> <ttl_ms>` (keys: entry, lease; arguments: owner,
/// ttl_ms); it answers `[acquired, pttl, entry?]`: convert with [`redis_acquire_reply`].
#[uniffi::export]
pub fn redis_acquire_script() -> String {
    core::redis::ACQUIRE.to_owned()
}

/// The core's Redis script for `commit`: compare-and-set on the entry's `version`, releasing
/// the lease if `owner` holds it and publishing the new version. Run it as
/// `EVAL script 2 <key> <lease> <owner> <expected_version> <entry> <channel> <version>`; it
/// answers `[1, version]` (written), `[0, current]` (conflict) or `[-1]` (unreadable entry):
/// convert the first integer with [`redis_commit_reply`].
#[uniffi::export]
pub fn redis_commit_script() -> String {
    core::redis::COMMIT.to_owned()
}

/// The core's Redis script for `release`: deletes the lease if `owner` holds it. Run it as
/// `EVAL script 1 <lease> <owner>`.
#[uniffi::export]
pub fn redis_release_script() -> String {
    core::redis::RELEASE.to_owned()
}

/// The reply to the `acquire` script: its first two integers and the entry (absent when the
/// array has two members).
#[uniffi::export]
pub fn redis_acquire_reply(acquired: i64, pttl: i64, entry: Option<String>) -> AcquireReply {
    match core::redis::acquire_reply(acquired, pttl, entry) {
        core::StoreReply::Acquired {
            acquired,
            lease_ttl_ms,
            entry,
        } => AcquireReply {
            acquired,
            lease_ttl_ms: num::out_opt(lease_ttl_ms),
            entry,
        },
        // The core's conversion always answers `Acquired`.
        _ => AcquireReply {
            acquired: false,
            lease_ttl_ms: None,
            entry: None,
        },
    }
}

/// The reply to the `commit` script: its first integer (1 written; 0 conflict; -1 unreadable
/// entry) as whether the entry was written.
#[uniffi::export]
pub fn redis_commit_reply(code: i64) -> bool {
    matches!(
        core::redis::commit_reply(code),
        core::StoreReply::Committed(true)
    )
}

// ------------------------------------------------------------------ the entry

/// A token set as the shared store keeps it: the tokens, the store's `version` and when it was
/// written (Unix seconds). Sealed, it is one JSON text, encrypted at rest (format 1, readable
/// by every grantline binding). Printing it shows no token.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct StoreEntry {
    inner: grantline::store::Entry,
}

impl fmt::Display for StoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StoreEntry(version={}, written_at={}, tokens={:?})",
            self.inner.version(),
            self.inner.written_at(),
            self.inner.tokens()
        )
    }
}

#[uniffi::export]
impl StoreEntry {
    /// An entry of `version` holding `tokens`, written at `written_at` (Unix seconds).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a negative version.
    #[uniffi::constructor]
    pub fn new(
        version: i64,
        tokens: &TokenSet,
        written_at: i64,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(StoreEntry {
            inner: grantline::store::Entry::new(
                natural("version", version)?,
                tokens.inner.clone(),
                num::seconds(written_at),
            ),
        }))
    }

    /// Reads a sealed entry back with `protection`'s keys.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) naming what is wrong (never a value of the entry):
    /// not a format-1 entry, a member missing or mistyped, over 1 MiB, a plaintext entry while
    /// `protection` holds keys (a downgrade), a `kid` no key has, a ciphertext that does not
    /// authenticate.
    #[uniffi::constructor]
    pub fn open(text: String, protection: &Protection) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(StoreEntry {
            inner: grantline::store::Entry::open(&text, &protection.inner)?,
        }))
    }

    /// The store's version of this entry (the compare-and-set counter).
    pub fn version(&self) -> i64 {
        num::out(self.inner.version())
    }

    /// When the entry was written (Unix seconds).
    pub fn written_at(&self) -> i64 {
        num::out(self.inner.written_at())
    }

    /// The token set.
    pub fn tokens(&self) -> Arc<TokenSet> {
        token_set(self.inner.tokens().clone())
    }

    /// The entry sealed with `protection`, with a fresh random nonce.
    ///
    /// # Errors
    /// `Configuration` (`random`) when the RNG fails.
    pub fn seal(&self, protection: &Protection) -> Result<String, GrantlineError> {
        Ok(self.inner.seal(&protection.inner)?)
    }

    /// [`StoreEntry::seal`] with the 12-byte nonce given: for tests and known-answer vectors
    /// only (a nonce must never repeat under one key).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a nonce that is not 12 bytes.
    pub fn seal_with_nonce(
        &self,
        protection: &Protection,
        nonce: Vec<u8>,
    ) -> Result<String, GrantlineError> {
        let nonce: [u8; 12] = nonce
            .as_slice()
            .try_into()
            .map_err(|_| GrantlineError::invalid("a nonce is 12 bytes"))?;
        Ok(self.inner.seal_with_nonce(&protection.inner, nonce)?)
    }
}

// ------------------------------------------------------------------ the sans-IO machine

/// What the caller performing a fleet renewal does next. Printing it shows no token.
#[derive(Clone, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum FleetAction {
    /// Execute this store operation, then `storeDone(id, reply, nowMs)`, or
    /// `storeFailed(id, reason, nowMs)`.
    Store {
        /// The operation.
        op: StoreOp,
    },
    /// Send this token request (no redirects), then `receive(id, response, nowMs)`, or
    /// `fail(id, reason, nowMs)`.
    Send {
        /// The token request.
        request: Arc<HttpRequest>,
    },
    /// The renewal is over: persist `completion.renewed` if any (the store already has it),
    /// call `delivered(id)`, wake this process's waiters, then `waited(id, nowMs)`.
    Done {
        /// What the renewal produced.
        completion: Completion,
    },
}

impl fmt::Display for FleetAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetAction::Store { op } => write!(f, "Store({op})"),
            FleetAction::Send { request } => {
                write!(f, "Send({} {})", request.method(), request.shown_url())
            }
            FleetAction::Done { completion } => write!(
                f,
                "Done(renewed={}, error={})",
                completion.renewed.is_some(),
                completion
                    .error
                    .as_ref()
                    .map_or("none".to_owned(), ToString::to_string)
            ),
        }
    }
}

impl fmt::Debug for FleetAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn action(a: core::Action) -> Result<FleetAction, GrantlineError> {
    Ok(match a {
        core::Action::Store(op) => FleetAction::Store {
            op: StoreOp::from_core(op).ok_or_else(|| {
                GrantlineError::invalid(
                    "the core asked for a store operation this binding does not know",
                )
            })?,
        },
        core::Action::Send(request) => FleetAction::Send {
            request: crate::http::request(*request),
        },
        core::Action::Done(completion) => FleetAction::Done {
            completion: completion.into(),
        },
    })
}

/// What [`FleetState::next`] says. Printing it shows no token.
#[derive(Clone, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum FleetNext {
    /// Use this access token.
    Ready {
        /// The access token. Never log it.
        token: String,
    },
    /// Perform renewal `id`: carry out `action`, and each action the answers return, until
    /// `FleetAction.Done`. `current` is the still-valid token when there is one (use it now).
    Perform {
        /// The renewal's id.
        id: i64,
        /// The first step.
        action: FleetAction,
        /// The current access token when it is still valid. Never log it.
        current: Option<String>,
    },
    /// Renewal `id` is in flight in this process and there is no usable token: wait until it
    /// is done, then `waited(id, nowMs)`.
    Wait {
        /// The renewal being waited on.
        id: i64,
    },
}

impl fmt::Display for FleetNext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = grantline::secret::REDACTED;
        match self {
            FleetNext::Ready { .. } => write!(f, "Ready(token={redacted})"),
            FleetNext::Perform {
                id,
                action,
                current,
            } => write!(
                f,
                "Perform(id={id}, action={action}, current={})",
                if current.is_some() { redacted } else { "none" }
            ),
            FleetNext::Wait { id } => write!(f, "Wait(id={id})"),
        }
    }
}

impl fmt::Debug for FleetNext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn fleet_next(n: core::FleetNext) -> Result<FleetNext, GrantlineError> {
    Ok(match n {
        core::FleetNext::Ready(token) => FleetNext::Ready {
            token: token.secret().to_owned(),
        },
        core::FleetNext::Perform {
            id,
            action: a,
            current,
        } => FleetNext::Perform {
            id: num::out(id),
            action: action(a)?,
            current: current.map(|t| t.secret().to_owned()),
        },
        core::FleetNext::Wait { id } => FleetNext::Wait { id: num::out(id) },
    })
}

/// Counters of one shared session, for figures, logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct FleetStats {
    /// Store operations asked for (round trips; a `watch` counts one).
    pub store_ops: i64,
    /// Store operations that failed.
    pub store_failures: i64,
    /// Token requests this process sent (with the lease, or alone while the store was down).
    pub http_renewals: i64,
    /// Of those, sent alone while the store was down.
    pub fallback_renewals: i64,
    /// Renewals completed with another process's token set, without a token request.
    pub adopted: i64,
    /// Entries this process wrote.
    pub committed: i64,
    /// Commits refused because the store had moved on (another writer came first).
    pub conflicts: i64,
}

impl From<core::FleetStats> for FleetStats {
    fn from(s: core::FleetStats) -> Self {
        FleetStats {
            store_ops: num::out(s.store_ops),
            store_failures: num::out(s.store_failures),
            http_renewals: num::out(s.http_renewals),
            fallback_renewals: num::out(s.fallback_renewals),
            adopted: num::out(s.adopted),
            committed: num::out(s.committed),
            conflicts: num::out(s.conflicts),
        }
    }
}

/// The fleet protocol as a state machine, sans IO (`now_ms`: Unix milliseconds): a token
/// session shared by many processes over a store, with this process's own single flight in
/// front. Thread-safe, but it never blocks: the store, HTTP and waiting are yours.
/// `TokenSession` with a store is the same machine driven for you.
///
/// The loop: `next(nowMs)` → `Ready`: use the token; `Perform`: carry out its `action` and each
/// action that `storeDone`/`storeFailed`/`receive`/`fail` return until `Done`, persist
/// `renewed` if any, `delivered(id)`, wake your waiters, `waited(id, nowMs)`; `Wait`: when
/// renewal `id` is over, `waited(id, nowMs)`.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct FleetState {
    inner: Mutex<core::FleetSession>,
}

impl fmt::Display for FleetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.inner);
        write!(
            f,
            "FleetState(entry={}, owner={}, version={}, has_tokens={}, renewing={})",
            s.config().keys().entry,
            s.config().owner(),
            s.version(),
            s.session().tokens().is_some(),
            s.session().renewing()
        )
    }
}

#[uniffi::export]
impl FleetState {
    /// Shares (a copy of) `session` over the store described by `config`. The session's token
    /// set, if any, is the local copy; the store's newer entry wins at the first renewal.
    ///
    /// # Errors
    /// `Configuration` (`random`) when the RNG fails (drawing the lease owner id).
    #[uniffi::constructor]
    pub fn new(session: &SessionState, config: &FleetConfig) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(FleetState {
            inner: Mutex::new(core::FleetSession::new(
                session.snapshot(),
                config.for_session()?,
            )),
        }))
    }

    /// What to do at `now_ms`.
    ///
    /// # Errors
    /// As `SessionState.next`, only when no usable token exists.
    pub fn next(&self, now_ms: i64) -> Result<FleetNext, GrantlineError> {
        fleet_next(lock(&self.inner).next(num::millis(now_ms))?)
    }

    /// For a caller told `Wait` on `id` (or that performed renewal `id`), once it is over.
    ///
    /// # Errors
    /// The failed renewal's error when no usable token is left; as [`FleetState::next`].
    pub fn waited(&self, id: i64, now_ms: i64) -> Result<FleetNext, GrantlineError> {
        fleet_next(lock(&self.inner).waited(num::id(id), num::millis(now_ms))?)
    }

    /// The store's reply to renewal `id`'s operation, at `now_ms`. A reply that does not
    /// answer the operation asked counts as a store failure.
    ///
    /// # Errors
    /// `Configuration` (`unexpected_response`) when `id` is not the renewal in flight.
    pub fn store_done(
        &self,
        id: i64,
        reply: StoreReply,
        now_ms: i64,
    ) -> Result<FleetAction, GrantlineError> {
        action(lock(&self.inner).store_done(num::id(id), reply.into(), num::millis(now_ms))?)
    }

    /// Renewal `id`'s store operation failed (an error, a timeout, a lost connection), at
    /// `now_ms`. `reason` must not hold a secret.
    ///
    /// # Errors
    /// `Configuration` (`unexpected_response`) when `id` is not the renewal in flight.
    pub fn store_failed(
        &self,
        id: i64,
        reason: String,
        now_ms: i64,
    ) -> Result<FleetAction, GrantlineError> {
        action(lock(&self.inner).store_failed(num::id(id), &reason, num::millis(now_ms))?)
    }

    /// The token response of renewal `id`, received at `now_ms`.
    ///
    /// # Errors
    /// `Configuration` (`unexpected_response`) when `id` is not the renewal whose request is
    /// out.
    pub fn receive(
        &self,
        id: i64,
        response: &HttpResponse,
        now_ms: i64,
    ) -> Result<FleetAction, GrantlineError> {
        let r = response.to_http()?;
        action(lock(&self.inner).receive(num::id(id), &r, num::millis(now_ms))?)
    }

    /// Renewal `id`'s token request got no answer, at `now_ms`.
    ///
    /// # Errors
    /// `Configuration` (`unexpected_response`) when `id` is not the renewal whose request is
    /// out.
    pub fn fail(
        &self,
        id: i64,
        reason: String,
        now_ms: i64,
    ) -> Result<FleetAction, GrantlineError> {
        action(lock(&self.inner).fail(num::id(id), &reason, num::millis(now_ms))?)
    }

    /// Whether renewal `id` may be cancelled now: while it only talks to the store, or sends a
    /// request that consumes nothing.
    pub fn cancellable(&self, id: i64) -> bool {
        lock(&self.inner).cancellable(num::id(id))
    }

    /// Forgets renewal `id`, given up by whoever performed it (only when `cancellable`). A
    /// lease it held expires on its own. Returns whether `id` was in flight.
    pub fn abandon(&self, id: i64) -> bool {
        lock(&self.inner).abandon(num::id(id))
    }

    /// Drops renewal `id` whatever its phase, for a driver whose renewal ended abnormally (its
    /// performer crashed mid-way): a lease it held expires on its own, and a commit whose
    /// answer is lost is what the next renewal reads back. Returns whether `id` was in flight.
    pub fn forget(&self, id: i64) -> bool {
        lock(&self.inner).forget(num::id(id))
    }

    /// Whether the local token set is newer than the store's (renewed while the store was
    /// down, or its commit failed): the next renewal that reaches the store writes it.
    pub fn unsaved(&self) -> bool {
        lock(&self.inner).unsaved()
    }

    /// The token set of renewal `id` reached the caller's storage: another renewal may start.
    pub fn delivered(&self, id: i64) -> bool {
        lock(&self.inner).delivered(num::id(id))
    }

    /// The API refused `token`: renew once; an entry in the store holding the same token is
    /// not taken as fresh. Returns whether it was the current token.
    pub fn reject(&self, token: String) -> bool {
        lock(&self.inner).reject(&token)
    }

    /// The counters.
    pub fn stats(&self) -> FleetStats {
        lock(&self.inner).stats().into()
    }

    /// The store version of the local token set (0 before the store was read or written).
    pub fn version(&self) -> i64 {
        num::out(lock(&self.inner).version())
    }

    /// Until when `next` answers `Ready` without a store round trip (Unix milliseconds;
    /// `Long.MAX_VALUE`/`Int64.max` when the expiry is unknown); `null`/`nil` when it would
    /// not answer `Ready`.
    pub fn ready_until_ms(&self) -> Option<i64> {
        num::out_opt(lock(&self.inner).ready_until_ms())
    }

    /// Whether the store is being skipped after a failure, at `now_ms`.
    pub fn store_down(&self, now_ms: i64) -> bool {
        lock(&self.inner).store_down(num::millis(now_ms))
    }

    /// The current token set, when there is one.
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        lock(&self.inner).session().tokens().cloned().map(token_set)
    }

    /// This process's lease owner id.
    pub fn owner(&self) -> String {
        lock(&self.inner).config().owner().to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn keys_and_configs_print_no_secret() {
        let key = EntryKey::new("k1".into(), vec![7; 32]).unwrap();
        assert_eq!(
            key.to_string(),
            "EntryKey(kid=k1, key=<redacted>)".replace("<redacted>", grantline::secret::REDACTED)
        );
        assert!(EntryKey::new("k1".into(), vec![7; 31]).is_err());
        let old = EntryKey::new("k0".into(), vec![8; 32]).unwrap();
        let p = Protection::encrypted(&key, vec![old]);
        assert_eq!(
            p.to_string(),
            "Protection(encrypted, kid=k1, previous=[k0])"
        );
        let c = FleetConfig::new(
            "billing".into(),
            &p,
            Some(500),
            Some("me".into()),
            false,
            None,
        )
        .unwrap();
        assert_eq!(c.for_session().unwrap().owner(), "me");
        let any = FleetConfig::new("billing".into(), &p, None, None, true, None).unwrap();
        let (a, b) = (any.for_session().unwrap(), any.for_session().unwrap());
        assert_ne!(a.owner(), b.owner(), "one owner per session");
        assert_eq!(a.lease_ttl_ms(), 15_000);
        assert_eq!(c.lease_ttl_ms(), 1000, "at least the minimum");
        assert_eq!(c.store_timeout_ms(), 2000);
        assert_eq!(c.keys().entry, "grantline:{billing}");
        assert!(c.to_string().contains("owner=me"));
        assert!(FleetConfig::new("bad name".into(), &p, None, None, false, None).is_err());
        assert!(FleetConfig::new("ok".into(), &p, Some(-1), None, false, None).is_err());
    }

    #[test]
    fn entries_seal_and_open_and_print_no_token() {
        let key = EntryKey::new("k1".into(), vec![7; 32]).unwrap();
        let p = Protection::encrypted(&key, vec![]);
        let tokens = TokenSet::new(
            "at-1".into(),
            Some("rt-1".into()),
            Some(1_700_003_600),
            1_700_000_000,
        );
        let e = StoreEntry::new(3, &tokens, 1_700_000_000).unwrap();
        let sealed = e.seal_with_nonce(&p, vec![1; 12]).unwrap();
        assert!(!sealed.contains("rt-1"));
        assert_eq!(sealed, e.seal_with_nonce(&p, vec![1; 12]).unwrap());
        assert!(e.seal_with_nonce(&p, vec![1; 11]).is_err());
        let back = StoreEntry::open(sealed, &p).unwrap();
        assert_eq!(back.version(), 3);
        assert_eq!(back.tokens().refresh_token().as_deref(), Some("rt-1"));
        assert!(!back.to_string().contains("at-1"));
        assert!(StoreEntry::open("{}".into(), &p).is_err());
        assert!(StoreEntry::open(e.seal(&Protection::plaintext()).unwrap(), &p).is_err());
    }

    #[test]
    fn redis_replies_and_store_reasons() {
        assert_eq!(
            redis_acquire_reply(1, 900, None),
            AcquireReply {
                acquired: true,
                lease_ttl_ms: Some(900),
                entry: None
            }
        );
        assert_eq!(
            redis_acquire_reply(0, -2, Some("e".into())).lease_ttl_ms,
            None
        );
        assert!(redis_commit_reply(1));
        assert!(!redis_commit_reply(0));
        assert!(!redis_commit_reply(-1));
        assert!(redis_acquire_script().contains("NX"));
        let trace = "io.lettuce.core.RedisConnectionException: Unable to connect to redis://:pw@h\n\tat x.y(Z.kt:1)";
        assert_eq!(
            store_reason(GrantlineError::Transport {
                reason: trace.into()
            }),
            "the store threw io.lettuce.core.RedisConnectionException"
        );
        assert_eq!(
            store_reason(GrantlineError::Store {
                reason: "down".into()
            }),
            "down"
        );
    }

    struct Hung;
    impl FleetStore for Hung {
        fn read(&self, _: String) -> Result<Option<String>, GrantlineError> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(None)
        }
        fn acquire(
            &self,
            _: String,
            _: String,
            _: String,
            _: i64,
        ) -> Result<AcquireReply, GrantlineError> {
            Err(GrantlineError::Store {
                reason: "refused".into(),
            })
        }
        fn commit(
            &self,
            _: String,
            _: String,
            _: String,
            _: String,
            _: i64,
            _: i64,
            _: String,
        ) -> Result<bool, GrantlineError> {
            Ok(true)
        }
        fn release(&self, _: String, _: String) -> Result<(), GrantlineError> {
            Ok(())
        }
        fn watch(&self, _: String, _: i64, timeout_ms: i64) -> Result<(), GrantlineError> {
            std::thread::sleep(Duration::from_millis(timeout_ms as u64));
            Ok(())
        }
    }

    #[test]
    fn a_hung_store_call_is_a_failure_at_its_deadline() {
        let store: Arc<dyn FleetStore> = Arc::new(Hung);
        let read = core::StoreOp::Read { key: "k".into() };
        let e = execute(&store, read.clone(), Duration::from_millis(50)).unwrap_err();
        assert_eq!(e, "the store's read did not answer within 50 ms");
        assert_eq!(
            execute(&store, read, Duration::from_secs(2)).unwrap(),
            core::StoreReply::Entry(None)
        );
        // A watch gets its own timeout on top of the deadline.
        let watch = core::StoreOp::Watch {
            channel: "c".into(),
            version: 1,
            timeout_ms: 100,
        };
        assert_eq!(
            execute(&store, watch, Duration::from_millis(50)).unwrap(),
            core::StoreReply::Watched
        );
        let acquire = core::StoreOp::Acquire {
            key: "k".into(),
            lease: "l".into(),
            owner: "o".into(),
            ttl_ms: 1000,
        };
        assert_eq!(
            execute(&store, acquire, Duration::from_secs(1)).unwrap_err(),
            "refused"
        );
    }
}
