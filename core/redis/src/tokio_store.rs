//! [`AsyncRedisStore`]: the store interface over redis's tokio client.

use std::fmt;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use grantline::fleet::{StoreOp, StoreReply};
use redis::aio::{MultiplexedConnection, PubSub};
use redis::{AsyncConnectionConfig, Value};

use crate::sync::{acquire_reply, announces_newer, commit_reply, read_reply, stale, Scripts};
use crate::{redis_reason, DEFAULT_DEADLINE};

/// The store interface over Redis for async code on tokio: the same mapping as
/// [`RedisStore`](crate::RedisStore), with a multiplexed connection for the commands (shared
/// by every concurrent call) and a dedicated pub/sub connection for `Watch`.
///
/// - Every call runs under the deadline (default [`DEFAULT_DEADLINE`], 2 s; a `Watch` under
///   its `timeout_ms` plus the deadline), connecting included. A failed call drops the
///   connection, and the next call connects again.
/// - `Watch` subscribes to the channel and returns at the first message announcing a newer
///   version, or after `timeout_ms`. One subscriber connection is kept for reuse; concurrent
///   watches over the same store open their own for the call.
/// - Needs a tokio runtime (the connections' background tasks are spawned on it).
///
/// `Debug` never shows the URL (it may hold a password), nor does any error text.
pub struct AsyncRedisStore {
    client: redis::Client,
    commands: Mutex<Option<MultiplexedConnection>>,
    watcher: Mutex<Option<PubSub>>,
    scripts: Scripts,
    deadline: Duration,
}

impl fmt::Debug for AsyncRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `future` within `deadline`, its error or the timeout as a text without secrets.
async fn within<T>(
    deadline: Duration,
    what: &str,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(deadline, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(redis_reason(what, &e)),
        Err(_) => Err(format!("redis {what}: timed out")),
    }
}

impl AsyncRedisStore {
    /// A store at `url` (`redis://[:password@]host:port/db`). Nothing is connected yet: the
    /// first operation connects.
    ///
    /// # Errors
    /// A text (without the URL) when `url` is not a Redis URL this build can use.
    pub fn open(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("the Redis URL cannot be used: {}", e.category()))?;
        Ok(Self::from_client(client))
    }

    /// A store over a `redis::Client` configured by hand.
    pub fn from_client(client: redis::Client) -> Self {
        AsyncRedisStore {
            client,
            commands: Mutex::new(None),
            watcher: Mutex::new(None),
            scripts: Scripts::new(),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The deadline of each call (default [`DEFAULT_DEADLINE`]).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Executes `op` (see the [crate documentation](crate) for what each operation does).
    ///
    /// # Errors
    /// Why it failed or timed out, as a text that holds no secret.
    pub async fn execute(&self, op: StoreOp) -> Result<StoreReply, String> {
        match op {
            StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            } => self.watch(&channel, version, timeout_ms).await,
            other => self.command(&other).await,
        }
    }

    async fn command(&self, op: &StoreOp) -> Result<StoreReply, String> {
        let what = op.name();
        let deadline = tokio::time::Instant::now() + self.deadline;
        let cached = lock(&self.commands).clone();
        let reused = cached.is_some();
        let mut result = tokio::time::timeout_at(deadline, self.attempt(cached, op)).await;
        if reused && matches!(&result, Ok(Err(e)) if stale(e)) {
            // A kept connection closed under us (a Redis restart): once more on a new one
            // (safe for every operation; see `RedisStore`).
            lock(&self.commands).take();
            result = tokio::time::timeout_at(deadline, self.attempt(None, op)).await;
        }
        let failure = match result {
            Ok(Ok(reply)) => return reply,
            Ok(Err(e)) => redis_reason(what, &e),
            Err(_) => format!("redis {what}: timed out"),
        };
        // A reply may still be on its way: never reuse the connection for another.
        lock(&self.commands).take();
        Err(failure)
    }

    async fn attempt(
        &self,
        cached: Option<MultiplexedConnection>,
        op: &StoreOp,
    ) -> redis::RedisResult<Result<StoreReply, String>> {
        let mut con = match cached {
            Some(con) => con,
            None => self.connection().await?,
        };
        self.run(&mut con, op).await
    }

    /// A new multiplexed connection, kept for the next calls.
    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(Some(self.deadline));
        let con = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *lock(&self.commands) = Some(con.clone());
        Ok(con)
    }

    /// One command; `Ok(Err(..))` for a reply that does not fit.
    async fn run(
        &self,
        con: &mut MultiplexedConnection,
        op: &StoreOp,
    ) -> redis::RedisResult<Result<StoreReply, String>> {
        Ok(match op {
            StoreOp::Read { key } => read_reply(
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(con)
                    .await?,
            ),
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
                    .invoke_async::<Value>(con)
                    .await?,
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
                    .invoke_async::<Value>(con)
                    .await?,
            ),
            StoreOp::Release { lease, owner } => {
                self.scripts
                    .release
                    .key(lease)
                    .arg(owner)
                    .invoke_async::<Value>(con)
                    .await?;
                Ok(StoreReply::Released)
            }
            other => Err(format!(
                "redis: the operation {} is not a command",
                other.name()
            )),
        })
    }

    async fn watch(
        &self,
        channel: &str,
        version: u64,
        timeout_ms: u64,
    ) -> Result<StoreReply, String> {
        let cached = lock(&self.watcher).take();
        let reused = cached.is_some();
        let mut pubsub = match cached {
            Some(pubsub) => pubsub,
            None => within(self.deadline, "watch", self.client.get_async_pubsub()).await?,
        };
        let subscribed = tokio::time::timeout(self.deadline, pubsub.subscribe(channel)).await;
        match subscribed {
            Ok(Ok(())) => {}
            Ok(Err(e)) if reused && stale(&e) => {
                // The kept subscriber connection did not survive a Redis restart: a new one.
                pubsub = within(self.deadline, "watch", self.client.get_async_pubsub()).await?;
                within(self.deadline, "watch", pubsub.subscribe(channel)).await?;
            }
            Ok(Err(e)) => return Err(redis_reason("watch", &e)),
            Err(_) => return Err("redis watch: timed out".into()),
        }
        let wait = Duration::from_millis(timeout_ms);
        let healthy = tokio::time::timeout(wait, async {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                if message.get_channel_name() == channel
                    && announces_newer(message.get_payload::<String>().ok(), version)
                {
                    return true;
                }
            }
            // The connection closed.
            false
        })
        .await
        .unwrap_or(true);
        if healthy
            && within(self.deadline, "watch", pubsub.unsubscribe(channel))
                .await
                .is_ok()
        {
            let mut slot = lock(&self.watcher);
            if slot.is_none() {
                *slot = Some(pubsub);
            }
        }
        Ok(StoreReply::Watched)
    }
}
