//! [`RedisStore`]: the store interface over a blocking Redis connection.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use grantline::fleet::{self, StoreOp, StoreReply};
use redis::{Connection, ConnectionLike as _, Script, Value};

use crate::{redis_reason, Store};

/// The core's three Lua scripts, ready for `EVALSHA`.
pub(crate) struct Scripts {
    pub(crate) acquire: Script,
    pub(crate) commit: Script,
    pub(crate) release: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            acquire: Script::new(fleet::redis::ACQUIRE),
            commit: Script::new(fleet::redis::COMMIT),
            release: Script::new(fleet::redis::RELEASE),
        }
    }
}

/// The reply of the `ACQUIRE` script: `[acquired, pttl, entry?]`.
pub(crate) fn acquire_reply(value: Value) -> Result<StoreReply, String> {
    let bad = || "redis acquire: the script answered an unexpected reply".to_owned();
    let Value::Array(items) = value else {
        return Err(bad());
    };
    let mut items = items.into_iter();
    let (Some(Value::Int(acquired)), Some(Value::Int(pttl))) = (items.next(), items.next()) else {
        return Err(bad());
    };
    let entry = match items.next() {
        None | Some(Value::Nil) => None,
        Some(Value::BulkString(bytes)) => Some(String::from_utf8(bytes).map_err(|_| {
            "redis acquire: the entry is not UTF-8 (not a grantline entry)".to_owned()
        })?),
        Some(Value::SimpleString(text)) => Some(text),
        Some(_) => return Err(bad()),
    };
    Ok(fleet::redis::acquire_reply(acquired, pttl, entry))
}

/// The reply of the `COMMIT` script: `[1, version]`, `[0, current]` or `[-1]`.
pub(crate) fn commit_reply(value: Value) -> Result<StoreReply, String> {
    match value {
        Value::Array(items) => match items.first() {
            Some(Value::Int(code)) => Ok(fleet::redis::commit_reply(*code)),
            _ => Err("redis commit: the script answered an unexpected reply".into()),
        },
        _ => Err("redis commit: the script answered an unexpected reply".into()),
    }
}

/// The reply of `GET`.
pub(crate) fn read_reply(value: Option<Vec<u8>>) -> Result<StoreReply, String> {
    match value {
        None => Ok(StoreReply::Entry(None)),
        Some(bytes) => String::from_utf8(bytes)
            .map(|text| StoreReply::Entry(Some(text)))
            .map_err(|_| "redis read: the entry is not UTF-8 (not a grantline entry)".into()),
    }
}

/// Whether `e` says the connection was closed under us (a kept connection whose server restarted
/// or dropped it while idle): worth one more try on a new connection. Not a timeout: the
/// deadline is spent.
pub(crate) fn stale(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() && !e.is_timeout()
}

/// Whether a pub/sub message announces a version newer than `version` (any message that is
/// not a version counts: the caller reads the entry again anyway).
pub(crate) fn announces_newer(payload: Option<String>, version: u64) -> bool {
    payload
        .and_then(|p| p.trim().parse::<u64>().ok())
        .is_none_or(|v| v > version)
}

/// A [`Store`] over Redis with the blocking `redis` client: one connection for the commands and
/// a second, dedicated one for `Watch` (pub/sub), each opened on first use and opened again
/// after a failure.
///
/// - `Read` is `GET`; `Acquire`, `Commit` and `Release` run the core's Lua scripts
///   ([`grantline::fleet::redis`]) by `EVALSHA`, loading them on `NOSCRIPT`.
/// - `Watch` subscribes to the channel on the dedicated connection and returns at the first
///   message announcing a newer version, or after `timeout_ms`, then unsubscribes. An error
///   while waiting drops that connection and counts as the timeout (the entry is read right
///   after anyway). When another thread is already watching over this store (drivers sharing
///   one store), it sleeps `timeout_ms` instead.
/// - Every call runs under its deadline: connect, send and read timeouts from what is left of
///   it. A failed call drops its connection: a reply that arrives late is never taken for the
///   answer to the next command.
///
/// `Debug` never shows the URL (it may hold a password), nor does any error text.
pub struct RedisStore {
    client: redis::Client,
    commands: Mutex<Option<Connection>>,
    watcher: Mutex<Option<Connection>>,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What is left of `deadline` since `start`, at least a millisecond (a zero timeout means
/// "none" to the socket).
fn left(start: Instant, deadline: Duration) -> Option<Duration> {
    let left = deadline.saturating_sub(start.elapsed());
    (!left.is_zero()).then_some(left)
}

impl RedisStore {
    /// A store at `url` (`redis://[:password@]host:port/db`, or `redis+unix:///path`). Nothing
    /// is connected yet: the first operation connects.
    ///
    /// # Errors
    /// A text (without the URL) when `url` is not a Redis URL this build can use (`rediss://`
    /// needs TLS, which this crate does not enable).
    pub fn open(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("the Redis URL cannot be used: {}", e.category()))?;
        Ok(Self::from_client(client))
    }

    /// A store over a `redis::Client` configured by hand.
    pub fn from_client(client: redis::Client) -> Self {
        RedisStore {
            client,
            commands: Mutex::new(None),
            watcher: Mutex::new(None),
            scripts: Scripts::new(),
        }
    }

    fn connect(
        &self,
        start: Instant,
        deadline: Duration,
        what: &str,
    ) -> Result<Connection, String> {
        let timeout = left(start, deadline).ok_or_else(|| format!("redis {what}: timed out"))?;
        self.client
            .get_connection_with_timeout(timeout)
            .map_err(|e| redis_reason(what, &e))
    }

    /// Sets the connection's socket timeouts to what is left of the deadline.
    fn arm(con: &Connection, start: Instant, deadline: Duration, what: &str) -> Result<(), String> {
        let timeout = left(start, deadline).ok_or_else(|| format!("redis {what}: timed out"))?;
        con.set_read_timeout(Some(timeout))
            .and_then(|()| con.set_write_timeout(Some(timeout)))
            .map_err(|e| redis_reason(what, &e))
    }

    fn command(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String> {
        let what = op.name();
        let start = Instant::now();
        let mut slot = lock(&self.commands);
        let (mut con, reused) = match slot.take() {
            Some(con) => (con, true),
            None => (self.connect(start, deadline, what)?, false),
        };
        Self::arm(&con, start, deadline, what)?;
        let mut result = self.run(&mut con, op);
        if reused && matches!(&result, Err(e) if stale(e)) {
            // A connection that sat idle through a Redis restart (or an idle timeout on the
            // server): it was closed before this command reached a server, so once more on a
            // new one. (Even a `Commit` that did reach it is safe to repeat: it is a
            // compare-and-set on the version, and answers "not written" the second time.)
            con = self.connect(start, deadline, what)?;
            Self::arm(&con, start, deadline, what)?;
            result = self.run(&mut con, op);
        }
        match result {
            Ok(reply) => {
                *slot = Some(con);
                reply
            }
            // A reply may still be on its way: the connection is not reused.
            Err(e) => Err(redis_reason(what, &e)),
        }
    }

    /// One command; `Ok(Err(..))` for a reply that does not fit the operation.
    fn run(
        &self,
        con: &mut Connection,
        op: &StoreOp,
    ) -> redis::RedisResult<Result<StoreReply, String>> {
        Ok(match op {
            StoreOp::Read { key } => {
                read_reply(redis::cmd("GET").arg(key).query::<Option<Vec<u8>>>(con)?)
            }
            StoreOp::Acquire {
                key,
                lease,
                owner,
                ttl_ms,
            } => acquire_reply(
                self.scripts
                    .acquire
                    .key(key)
                    .key(lease)
                    .arg(owner)
                    .arg(ttl_ms)
                    .invoke::<Value>(con)?,
            ),
            StoreOp::Commit {
                key,
                lease,
                owner,
                channel,
                expected_version,
                version,
                entry,
            } => commit_reply(
                self.scripts
                    .commit
                    .key(key)
                    .key(lease)
                    .arg(owner)
                    .arg(expected_version)
                    .arg(entry)
                    .arg(channel)
                    .arg(version)
                    .invoke::<Value>(con)?,
            ),
            StoreOp::Release { lease, owner } => {
                self.scripts
                    .release
                    .key(lease)
                    .arg(owner)
                    .invoke::<Value>(con)?;
                Ok(StoreReply::Released)
            }
            other => Err(format!(
                "redis: the operation {} is not a command",
                other.name()
            )),
        })
    }

    fn watch(
        &self,
        channel: &str,
        version: u64,
        timeout_ms: u64,
        deadline: Duration,
    ) -> Result<StoreReply, String> {
        let wait = Duration::from_millis(timeout_ms);
        let mut slot = match self.watcher.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // Another driver sharing this store is watching: no second subscriber
                // connection, a sleep.
                std::thread::sleep(wait);
                return Ok(StoreReply::Watched);
            }
        };
        let start = Instant::now();
        let (mut con, reused) = match slot.take() {
            Some(con) => (con, true),
            None => (self.connect(start, deadline, "watch")?, false),
        };
        Self::arm(&con, start, deadline, "watch")?;
        let mut outcome = subscribe_and_wait(&mut con, channel, version, wait, deadline);
        if reused && matches!(&outcome, Err(e) if stale(e)) {
            // The kept subscriber connection did not survive a Redis restart: a new one.
            con = self.connect(start, deadline, "watch")?;
            Self::arm(&con, start, deadline, "watch")?;
            outcome = subscribe_and_wait(&mut con, channel, version, wait, deadline);
        }
        match outcome {
            Err(e) => Err(redis_reason("watch", &e)),
            Ok(reusable) => {
                if reusable && con.is_open() {
                    *slot = Some(con);
                }
                Ok(StoreReply::Watched)
            }
        }
    }
}

/// `SUBSCRIBE channel`, then waits up to `wait` for a message announcing a version newer than
/// `version`, then unsubscribes. `Err` when subscribing failed; `Ok(false)` when the connection
/// broke while waiting (the rest of the wait is slept: the caller reads the entry next, which
/// tells whether Redis is there, and a broken subscriber must not turn waits into a busy loop);
/// `Ok(true)` when the connection can be kept.
fn subscribe_and_wait(
    con: &mut Connection,
    channel: &str,
    version: u64,
    wait: Duration,
    deadline: Duration,
) -> redis::RedisResult<bool> {
    let mut pubsub = con.as_pubsub();
    pubsub.subscribe(channel)?;
    let until = Instant::now() + wait;
    loop {
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let message = pubsub
            .set_read_timeout(Some(remaining))
            .and_then(|()| pubsub.get_message());
        match message {
            Ok(message) => {
                if message.get_channel_name() == channel
                    && announces_newer(message.get_payload::<String>().ok(), version)
                {
                    break;
                }
            }
            Err(e) if e.is_timeout() => break,
            Err(_) => {
                drop(pubsub);
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                return Ok(false);
            }
        }
    }
    // Unsubscribing (when `pubsub` is dropped) reads its confirmation: give it a deadline.
    Ok(pubsub.set_read_timeout(Some(deadline)).is_ok())
}

impl Store for RedisStore {
    fn execute(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String> {
        match op {
            StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            } => self.watch(channel, *version, *timeout_ms, deadline),
            other => self.command(other, deadline),
        }
    }
}
