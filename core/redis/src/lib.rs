//! One OAuth token for a whole fleet of processes: grantline's sans-IO
//! [`FleetSession`](grantline::fleet::FleetSession) shared over Redis.
//!
//! Inside one process, a [`grantline::TokenSession`] already makes one token request per token
//! lifetime however many callers ask. [`FleetTokens`] does it for every process that shares a
//! session name: the first one to need a renewal takes a lease in the store and renews; the
//! others wait for its new entry and take it, without a token request. The core
//! ([`grantline::fleet`]) decides every step; this crate carries the steps out:
//!
//! - [`Store`]: the five store operations, blocking, each under a deadline. [`RedisStore`]
//!   implements it over the `redis` crate, [`MemoryStore`] within one process (tests, and
//!   threads that share nothing else);
//! - `AsyncRedisStore` (feature `tokio`): the same operations as an `async fn` on tokio;
//! - [`FleetTokens`]: the blocking, thread-safe driver (`access_token()` from any thread): a
//!   mutex around the [`FleetSession`](grantline::fleet::FleetSession), a condition variable
//!   for the callers that wait, and the store calls, HTTP exchanges and the `on_tokens` hook
//!   made with the lock released. A cached token costs no store round trip.
//!
//! # The store interface
//! A [`Store`] executes one [`StoreOp`] and answers with one
//! [`StoreReply`], or fails (an error or the deadline passed:
//! every failure is the same to the core, which then skips the store for a backoff). What each
//! operation needs (the full table is in [`grantline::fleet`]):
//!
//! | operation | does | atomicity needed |
//! |---|---|---|
//! | `Read` | the entry text, or none | none |
//! | `Acquire` | takes the lease for `owner` with a TTL if it is free (or renews it if `owner` holds it); answers whether it did, the lease's remaining TTL and the entry | set-if-absent (`SET NX PX`) |
//! | `Commit` | writes `entry` if the stored entry's `version` is `expected_version` (0: none); deletes the lease if `owner` holds it; announces `version` on `channel` | the version check and the write in one step |
//! | `Release` | deletes the lease if `owner` holds it | compare-and-delete |
//! | `Watch` | returns when a newer version is announced on `channel`, or after `timeout_ms` | none (a store without notifications sleeps) |
//!
//! A failure must not be reported as an answer: a `Commit` whose outcome is unknown (the
//! connection dropped) is a failure, and the core reads the store again at the next renewal.
//! The store must be durable for rotating refresh tokens. Failure texts must not hold a secret:
//! a connection URL may carry a password, and an entry a refresh token.
//!
//! # Redis
//! [`RedisStore`] maps the operations as [`grantline::fleet::redis`] says: `GET` for `Read`,
//! the core's Lua scripts `ACQUIRE`, `COMMIT` and `RELEASE` through `EVALSHA` (loaded with
//! `SCRIPT LOAD` when the server answers `NOSCRIPT`), and `Watch` as a `SUBSCRIBE` on a second,
//! dedicated connection that waits for a message announcing a newer version or the timeout.
//! Every call has a deadline (default [`DEFAULT_DEADLINE`], 2 s) for connecting, sending and
//! reading; a connection that failed is dropped and opened again at the next call.
//!
//! # Example
//! Two drivers (two processes in real life, each with its own store connection) share one
//! session: one token request. Here over a [`MemoryStore`] and a stand-in HTTP function, so
//! that it runs anywhere:
//! ```
//! use std::sync::Arc;
//! use grantline::fleet::{FleetConfig, FleetSession};
//! use grantline::store::{EntryKey, Protection};
//! use grantline::{Client, Provider, TokenSession};
//! use grantline_redis::{FleetTokens, MemoryStore};
//!
//! let store = Arc::new(MemoryStore::new());
//! let key = EntryKey::new("k-2026", &[7u8; 32])?; // 32 bytes from your secret manager
//! let process = || -> Result<FleetTokens, grantline::Error> {
//!     let client = Client::new(Provider::bookable(), "client-id").with_secret("client-secret");
//!     let session = TokenSession::client_credentials(client, vec![]);
//!     let config = FleetConfig::new("billing-api", Protection::encrypted(key.clone()))?;
//!     // Your HTTP client: no redirects followed, a whole-request deadline.
//!     let send = |_request: &http::Request<Vec<u8>>| -> Result<http::Response<Vec<u8>>, String> {
//!         Ok(http::Response::new(
//!             br#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#.to_vec(),
//!         ))
//!     };
//!     Ok(FleetTokens::new(FleetSession::new(session, config), Arc::clone(&store), send))
//! };
//! let (a, b) = (process()?, process()?);
//! assert_eq!(a.access_token()?.secret(), "tok"); // renews: Read, Acquire, token request, Commit
//! assert_eq!(b.access_token()?.secret(), "tok"); // reads the entry: no token request
//! assert_eq!(a.stats().http_renewals + b.stats().http_renewals, 1);
//! assert_eq!(b.stats().adopted, 1);
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! Over Redis, each process opens its own [`RedisStore`]:
//! ```no_run
//! # use grantline::fleet::{FleetConfig, FleetSession};
//! # use grantline::store::{EntryKey, Protection};
//! # use grantline::{Client, Provider, TokenSession};
//! use grantline_redis::{FleetTokens, RedisStore};
//!
//! # let send = |_: &http::Request<Vec<u8>>| -> Result<http::Response<Vec<u8>>, String> { Err("bring your HTTP client".into()) };
//! # let client = Client::new(Provider::bookable(), "client-id").with_secret("client-secret");
//! let store = RedisStore::open("redis://127.0.0.1:6379/0").map_err(|reason| grantline::Error::Store { reason })?;
//! let config = FleetConfig::new("billing-api", Protection::encrypted(EntryKey::new("k-2026", &[7u8; 32])?))?;
//! let tokens = FleetTokens::new(
//!     FleetSession::new(TokenSession::client_credentials(client, vec![]), config),
//!     store,
//!     send,
//! )
//! .with_on_tokens(|renewed, origin| {
//!     println!("version {} from {:?}, refresh rotated: {}", origin.version, origin.source, renewed.refresh_token_rotated);
//! });
//! let token = tokens.access_token()?;
//! let header = grantline::bearer::authorization_header(&token)?;
//! # let _ = header;
//! // An API answered 401 `invalid_token`: renew once, for the whole fleet.
//! tokens.reject(token.secret());
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! # When Redis is down
//! The core decides (see [`grantline::fleet`]): a grant that can be repeated (client
//! credentials, password) renews alone; a refresh does not (two processes refreshing one
//! rotating token revoke it) and fails with [`grantline::Error::Store`], which reaches only
//! callers that hold no valid token. The store is tried again after a backoff.

mod driver;
mod memory;
mod sync;
#[cfg(test)]
mod tests;
#[cfg(feature = "tokio")]
mod tokio_store;

use std::sync::Arc;
use std::time::Duration;

use grantline::fleet::{StoreOp, StoreReply};

pub use driver::{FleetTokens, Origin, Source};
pub use memory::MemoryStore;
pub use sync::RedisStore;
#[cfg(feature = "tokio")]
pub use tokio_store::AsyncRedisStore;

/// The `redis` crate this one is built on (for a [`redis::Client`] configured by hand).
pub use redis;

/// The deadline of one store call unless configured: connecting, sending and reading together.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// A shared store, blocking: executes one operation of the fleet protocol within `deadline`
/// (see the [crate documentation](crate) for what each operation needs).
///
/// `Send + Sync`: [`FleetTokens`] calls it from whichever thread performs a renewal (one call at
/// a time per driver; a store shared by several drivers gets concurrent calls).
pub trait Store: Send + Sync {
    /// Executes `op`, answering within `deadline` (a `Watch` within its `timeout_ms`, plus
    /// `deadline` for the round trips around it).
    ///
    /// # Errors
    /// Why the operation failed or timed out, as a text that holds no secret (no URL with its
    /// password, no entry): it reaches logs and, when no token is left, callers.
    fn execute(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String>;
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn execute(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String> {
        (**self).execute(op, deadline)
    }
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn execute(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String> {
        (**self).execute(op, deadline)
    }
}

impl<S: Store + ?Sized> Store for &S {
    fn execute(&self, op: &StoreOp, deadline: Duration) -> Result<StoreReply, String> {
        (**self).execute(op, deadline)
    }
}

/// A redis error as a text without secrets: its category, and the server's error code.
fn redis_reason(what: &str, e: &redis::RedisError) -> String {
    if e.is_timeout() {
        return format!("redis {what}: timed out");
    }
    if e.is_connection_refusal() {
        return format!("redis {what}: connection refused");
    }
    if e.is_connection_dropped() {
        return format!("redis {what}: connection lost");
    }
    match e.code() {
        // Server error codes are one word (`NOAUTH`, `WRONGPASS`, `READONLY`, `ERR`); the
        // detail after them may quote arguments, so it is left out.
        Some(code) if !code.is_empty() => format!("redis {what}: {} ({code})", e.category()),
        _ => format!("redis {what}: {}", e.category()),
    }
}

/// The README's example, compiled as a doctest so that it works as written.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
