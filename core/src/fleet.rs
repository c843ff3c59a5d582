//! One token for a whole fleet: a [`TokenSession`] shared by many processes (in any language)
//! over a key-value store, Redis first. Sans-IO like the rest of the core: this module decides
//! every step, and the binding executes the store operations it asks for, as it executes HTTP
//! requests.
//!
//! # The protocol
//! Each process keeps its own [`TokenSession`] in front (its in-process single flight): a cached
//! token costs no store round trip until the session's
//! [`ready_until`](TokenSession::ready_until) passes. When the session wants to renew, the
//! [`FleetSession`] first asks the store:
//!
//! 1. **Read** the entry. A newer entry that is still fresh (another process renewed) is taken
//!    as it is: no token request.
//! 2. Otherwise **Acquire** the renewal lease (`SET NX PX`: an owner id and a TTL). The holder
//!    sends the token request, built from the newest refresh token there is, then
//!    **Commits** the new entry by compare-and-set on its `version` (a stale writer can never
//!    overwrite a newer refresh token), which also releases the lease and announces the
//!    version.
//! 3. Everyone else **Watches** for the new version (a pub/sub message, or a sleep: the core
//!    sets the timeout, with backoff from 25 ms to 500 ms, never past the lease's expiry), then
//!    reads again. A lease whose holder died expires, and the next **Acquire** takes it over.
//!    A renewal waits at most twice the lease TTL plus a second for others; then the store
//!    counts as failed.
//! 4. A failed renewal **Releases** the lease (only if still its owner).
//! 5. A commit whose answer is lost (the store failed mid-way) leaves the new refresh token in
//!    this process only. The lease stays ours until its TTL, so nobody else refreshes
//!    meanwhile, and the same compare-and-set is retried every [`COMMIT_RETRY_MS`] while the
//!    lease lasts (then at least every second), by the next caller of [`FleetSession::next`],
//!    before anything else (even once the token has expired). **The lease TTL is therefore the longest store outage a rotating
//!    refresh token survives in that instant**: an outage that starts between a holder's
//!    refresh and its commit and outlasts the lease lets another process take over with the
//!    previous refresh token (servers with a reuse grace period, like Auth0's and Okta's,
//!    forgive it; strict ones revoke the grant).
//!
//! # When the store fails
//! Any store error or timeout ([`FleetSession::store_failed`]) marks the store down for a
//! backoff (1 s doubled per consecutive failure, capped at 8 s); meanwhile renewals skip it:
//! - a grant that can be repeated safely (client credentials, password, token exchange, any
//!   grant that consumes nothing) renews alone, with the process's own single flight;
//! - a **refresh** does not, unless [`FleetConfig::renew_alone_when_store_down`] says so: other
//!   processes hold the same refresh token, and two refreshes with one rotating token revoke the
//!   whole grant on servers with reuse detection. The renewal fails with [`Error::Store`], which
//!   reaches callers only when no usable token is left (a valid token is always served), and
//!   the store is asked again a second later ([`STORE_REFRESH_RETRY_S`]), whatever its backoff:
//!   a store failure is not the token server's, and does not grow the session's backoff.
//!
//! Tokens obtained while the store was down stay local ([`FleetSession::unsaved`]); the next
//! renewal that reaches the store renews from them (their refresh token is the newest) unless
//! the store holds a newer version, and writes the result. An entry the store lost (a restart
//! without persistence) is written again the same way, from the local copy.
//!
//! # The store interface
//! Five operations ([`StoreOp`]), each answered with one [`StoreReply`] or a failure:
//!
//! | operation | does | atomicity needed |
//! |---|---|---|
//! | `Read` | returns the entry text, or none | none (a plain read) |
//! | `Acquire` | sets the lease to `owner` with a TTL of `ttl_ms` if there is none (or renews it if `owner` holds it); returns whether it did, the lease's remaining TTL, and the entry | the set-if-absent is atomic (`SET NX PX`, a conditional put, an advisory lock with expiry) |
//! | `Commit` | if the stored entry's `version` equals `expected_version` (no entry: 0), writes `entry`; in any case deletes the lease if `owner` holds it; announces `version` on `channel` | the version check and the write are one atomic step (a Lua script, `WATCH`/`MULTI`, a conditional put, a transaction) |
//! | `Release` | deletes the lease if `owner` holds it | compare-and-delete |
//! | `Watch` | returns when a newer version is announced on `channel`, or after `timeout_ms` | none: a store without notifications just sleeps |
//!
//! The entry is the sealed [`crate::store::Entry`] (encrypted at rest, language-neutral);
//! `version` is readable in clear for the compare-and-set. The store must be **durable** for
//! rotating refresh tokens: an entry that vanishes takes the newest refresh token with it,
//! unless a process still holds it (which then writes it back). [`redis`] has the Redis
//! mapping; Cloudflare Durable Objects, DynamoDB conditional writes or PostgreSQL rows
//! (`UPDATE ... WHERE version = $1`) fit the same table.
//!
//! # The loop
//! ```
//! use grantline::fleet::{Action, FleetConfig, FleetNext, FleetSession, StoreOp, StoreReply};
//! use grantline::store::{EntryKey, Protection};
//! use grantline::{Client, Provider, TokenSession};
//!
//! let client = Client::new(Provider::bookable(), "id").with_secret("secret");
//! let key = EntryKey::new("k1", &[9u8; 32])?;
//! let config = FleetConfig::new("billing-api", Protection::encrypted(key))?;
//! let mut shared = FleetSession::new(TokenSession::client_credentials(client, vec![]), config);
//! let now_ms = 1_700_000_000_000;
//!
//! let FleetNext::Perform { id, mut action, .. } = shared.next(now_ms)? else { unreachable!() };
//! let done = loop {
//!     action = match action {
//!         // An empty store: nothing to read, the lease is ours, the commit succeeds.
//!         Action::Store(StoreOp::Read { .. }) => shared.store_done(id, StoreReply::Entry(None), now_ms)?,
//!         Action::Store(StoreOp::Acquire { ttl_ms, .. }) => shared.store_done(
//!             id,
//!             StoreReply::Acquired { acquired: true, lease_ttl_ms: Some(ttl_ms), entry: None },
//!             now_ms,
//!         )?,
//!         Action::Send(_request) => {
//!             let response = http::Response::new(
//!                 br#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#.to_vec(),
//!             );
//!             shared.receive(id, &response, now_ms)?
//!         }
//!         Action::Store(StoreOp::Commit { .. }) => shared.store_done(id, StoreReply::Committed(true), now_ms)?,
//!         Action::Store(other) => unreachable!("{other:?}"),
//!         Action::Done(completion) => break completion,
//!     };
//! };
//! if done.renewed.is_some() {
//!     shared.delivered(id);
//! }
//! let FleetNext::Ready(token) = shared.waited(id, now_ms)? else { unreachable!() };
//! assert_eq!(token.secret(), "tok");
//! assert_eq!(shared.version(), 1);
//! # Ok::<(), grantline::Error>(())
//! ```

use std::fmt;

use crate::error::Error;
use crate::secret::AccessToken;
use crate::session::{Completion, Next, TokenSession};
use crate::store::{Entry, Protection};
use crate::token::TokenSet;

/// The lease TTL unless configured: longer than a token request's whole deadline should be.
pub const DEFAULT_LEASE_TTL_MS: u64 = 15_000;
/// The shortest lease TTL accepted.
pub const MIN_LEASE_TTL_MS: u64 = 1_000;
/// The first `Watch` timeout while another process renews.
pub const WATCH_FIRST_MS: u64 = 25;
/// The longest `Watch` timeout.
pub const WATCH_CAP_MS: u64 = 500;
/// How soon a commit whose answer was lost is tried again while the lease is still ours.
pub const COMMIT_RETRY_MS: u64 = 200;
/// How soon a renewal that could not go on without the store (a shared refresh token) asks the
/// store again, in seconds.
pub const STORE_REFRESH_RETRY_S: u64 = 1;
/// The first pause after a store failure.
pub const STORE_BACKOFF_BASE_MS: u64 = 1_000;
/// The longest pause after store failures.
pub const STORE_BACKOFF_CAP_MS: u64 = 8_000;

/// The longest session name, in bytes.
const MAX_NAME: usize = 200;

/// The store keys of one shared session (see [`redis`] for the names).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreKeys {
    /// The entry: `grantline:{NAME}`.
    pub entry: String,
    /// The renewal lease: `grantline:{NAME}:lease`.
    pub lease: String,
    /// The channel announcing new versions: `grantline:{NAME}:renewed`.
    pub channel: String,
}

/// How a [`FleetSession`] uses the store: its name, the protection of its entry, the lease.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    name: String,
    keys: StoreKeys,
    protection: Protection,
    owner: String,
    lease_ttl_ms: u64,
    renew_alone: bool,
}

fn check_name(what: &str, value: &str, max: usize) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "the shared session's {what} must be 1 to {max} characters of A-Z a-z 0-9 - _ . : /"
        )))
    }
}

impl FleetConfig {
    /// A shared session named `name` (the fleet's processes use the same name and keys), with
    /// a random lease owner id for this process and the default lease TTL.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a name that is empty, longer than 200 bytes, or has
    /// characters outside `A-Z a-z 0-9 - _ . : /`; [`Error::Random`] when the RNG fails.
    pub fn new(name: &str, protection: Protection) -> Result<Self, Error> {
        check_name("name", name, MAX_NAME)?;
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|_| Error::Random)?;
        let owner = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(FleetConfig {
            name: name.to_owned(),
            keys: StoreKeys {
                entry: format!("grantline:{{{name}}}"),
                lease: format!("grantline:{{{name}}}:lease"),
                channel: format!("grantline:{{{name}}}:renewed"),
            },
            protection,
            owner,
            lease_ttl_ms: DEFAULT_LEASE_TTL_MS,
            renew_alone: false,
        })
    }

    /// The lease TTL in milliseconds (at least [`MIN_LEASE_TTL_MS`]). Make it longer than your
    /// transport's whole-request deadline: a holder whose lease expires mid-request may be
    /// overtaken, and with a rotating refresh token the two refreshes collide.
    #[must_use]
    pub fn with_lease_ttl_ms(mut self, ms: u64) -> Self {
        self.lease_ttl_ms = ms.max(MIN_LEASE_TTL_MS);
        self
    }

    /// Sets the lease owner id (default: 32 random hex digits). For tests and vectors; owners
    /// must be unique in the fleet.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty id, one over 64 bytes, or one with characters
    /// outside `A-Z a-z 0-9 - _ . : /`.
    pub fn with_owner(mut self, owner: &str) -> Result<Self, Error> {
        check_name("owner", owner, 64)?;
        self.owner = owner.to_owned();
        Ok(self)
    }

    /// Whether a refresh may run without the store while it is down (default `false`). Only for
    /// a fleet where one process refreshes (or a server without refresh-token rotation):
    /// otherwise two processes refreshing the same rotating token revoke the grant.
    #[must_use]
    pub fn renew_alone_when_store_down(mut self, yes: bool) -> Self {
        self.renew_alone = yes;
        self
    }

    /// The session's name (the fleet's processes share it).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The store keys.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }
    /// This process's lease owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }
    /// Whether a refresh may run without the store while it is down
    /// ([`FleetConfig::renew_alone_when_store_down`]).
    pub fn renews_alone_when_store_down(&self) -> bool {
        self.renew_alone
    }
    /// The lease TTL in milliseconds.
    pub fn lease_ttl_ms(&self) -> u64 {
        self.lease_ttl_ms
    }
    /// How entries are protected.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }
}

/// A store operation to execute (see the [module documentation](self) for the semantics each
/// one needs). `Debug` shows sizes, never the entry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// Read the entry: answer [`StoreReply::Entry`].
    Read {
        /// The entry's key.
        key: String,
    },
    /// Take (or renew) the lease if free: answer [`StoreReply::Acquired`].
    Acquire {
        /// The entry's key (its text comes back with the answer).
        key: String,
        /// The lease's key.
        lease: String,
        /// This process's owner id.
        owner: String,
        /// The lease's TTL.
        ttl_ms: u64,
    },
    /// Write `entry` if the stored version is `expected_version`, release the lease if owned,
    /// announce `version`: answer [`StoreReply::Committed`].
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
        expected_version: u64,
        /// The version of `entry`: above both the stored version and any this process has seen
        /// (versions never go back, even after a store lost its entry).
        version: u64,
        /// The sealed entry to write.
        entry: String,
    },
    /// Delete the lease if `owner` holds it: answer [`StoreReply::Released`].
    Release {
        /// The lease's key.
        lease: String,
        /// This process's owner id.
        owner: String,
    },
    /// Wait for a version newer than `version` on `channel`, at most `timeout_ms`: answer
    /// [`StoreReply::Watched`].
    Watch {
        /// The channel.
        channel: String,
        /// The version this process has seen.
        version: u64,
        /// The longest wait.
        timeout_ms: u64,
    },
}

impl fmt::Debug for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreOp::Read { key } => f.debug_struct("Read").field("key", key).finish(),
            StoreOp::Acquire { lease, ttl_ms, .. } => f
                .debug_struct("Acquire")
                .field("lease", lease)
                .field("ttl_ms", ttl_ms)
                .finish_non_exhaustive(),
            StoreOp::Commit {
                key,
                expected_version,
                version,
                entry,
                ..
            } => f
                .debug_struct("Commit")
                .field("key", key)
                .field("expected_version", expected_version)
                .field("version", version)
                .field("entry_bytes", &entry.len())
                .finish_non_exhaustive(),
            StoreOp::Release { lease, .. } => f
                .debug_struct("Release")
                .field("lease", lease)
                .finish_non_exhaustive(),
            StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            } => f
                .debug_struct("Watch")
                .field("channel", channel)
                .field("version", version)
                .field("timeout_ms", timeout_ms)
                .finish(),
        }
    }
}

impl StoreOp {
    /// The operation's name: `read`, `acquire`, `commit`, `release` or `watch`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreOp::Read { .. } => "read",
            StoreOp::Acquire { .. } => "acquire",
            StoreOp::Commit { .. } => "commit",
            StoreOp::Release { .. } => "release",
            StoreOp::Watch { .. } => "watch",
        }
    }
}

/// The answer to a [`StoreOp`]. `Debug` shows sizes, never the entry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreReply {
    /// `Read`: the entry text, or `None` when there is none.
    Entry(Option<String>),
    /// `Acquire`: whether the lease is now this process's, its remaining TTL (`None` when the
    /// store cannot tell), and the entry text.
    Acquired {
        /// The lease is ours.
        acquired: bool,
        /// The lease's remaining TTL in milliseconds.
        lease_ttl_ms: Option<u64>,
        /// The entry, as read in the same step.
        entry: Option<String>,
    },
    /// `Commit`: whether the entry was written (`false`: the stored version was not the
    /// expected one, or the stored entry is unreadable).
    Committed(bool),
    /// `Release` is done (whether or not the lease was still ours).
    Released,
    /// `Watch` returned (a new version was announced, or the timeout passed).
    Watched,
}

impl fmt::Debug for StoreReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |e: &Option<String>| e.as_ref().map(String::len);
        match self {
            StoreReply::Entry(e) => f.debug_tuple("Entry").field(&size(e)).finish(),
            StoreReply::Acquired {
                acquired,
                lease_ttl_ms,
                entry,
            } => f
                .debug_struct("Acquired")
                .field("acquired", acquired)
                .field("lease_ttl_ms", lease_ttl_ms)
                .field("entry_bytes", &size(entry))
                .finish(),
            StoreReply::Committed(c) => f.debug_tuple("Committed").field(c).finish(),
            StoreReply::Released => f.write_str("Released"),
            StoreReply::Watched => f.write_str("Watched"),
        }
    }
}

/// What the caller performing renewal `id` does next.
#[must_use]
pub enum Action {
    /// Execute this store operation, then [`FleetSession::store_done`] with its reply, or
    /// [`FleetSession::store_failed`].
    Store(StoreOp),
    /// Send this token request, then [`FleetSession::receive`] its response, or
    /// [`FleetSession::fail`].
    Send(Box<http::Request<Vec<u8>>>),
    /// The renewal is over: persist [`Completion::renewed`] if any (the store already has it
    /// when it came from the fleet), call [`FleetSession::delivered`], then
    /// [`FleetSession::waited`] like every waiter, and wake the waiters.
    Done(Completion),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Store(op) => f.debug_tuple("Store").field(op).finish(),
            Action::Send(request) => f
                .debug_struct("Send")
                .field("method", request.method())
                .field("uri", &crate::redact::url(&request.uri().to_string()))
                .finish_non_exhaustive(),
            Action::Done(c) => f.debug_tuple("Done").field(c).finish(),
        }
    }
}

/// What [`FleetSession::next`] says.
#[must_use]
#[derive(Debug)]
// `Perform` is larger than `Ready`, but a `FleetNext` is returned by value and never stored:
// boxing it would only move the copy into an allocation.
#[allow(clippy::large_enum_variant)]
pub enum FleetNext {
    /// Use this access token.
    Ready(AccessToken),
    /// Perform renewal `id`: carry out `action`, and each action the answers return, until
    /// [`Action::Done`]. `current` is the still-valid token when there is one (use it now).
    Perform {
        /// The renewal's id.
        id: u64,
        /// The first step.
        action: Action,
        /// The current access token when it is still valid.
        current: Option<AccessToken>,
    },
    /// Renewal `id` is in flight in this process and there is no usable token: wait until it
    /// is done, then [`FleetSession::waited`].
    Wait {
        /// The renewal being waited on.
        id: u64,
    },
}

/// Counters of one shared session, for figures and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStats {
    /// Store operations asked for (round trips; a `Watch` counts one).
    pub store_ops: u64,
    /// Store operations that failed.
    pub store_failures: u64,
    /// Token requests this process sent (with the lease, or alone while the store was down).
    pub http_renewals: u64,
    /// Of those, sent alone while the store was down.
    pub fallback_renewals: u64,
    /// Renewals completed with another process's token set, without a token request.
    pub adopted: u64,
    /// Entries this process wrote.
    pub committed: u64,
    /// Commits refused because the store had moved on (another writer came first).
    pub conflicts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Read,
    Acquire,
    Watch,
    /// The token request is out; `alone`: without the store.
    Send {
        alone: bool,
    },
    Commit,
    Release,
}

#[derive(Debug)]
struct Flight {
    id: u64,
    phase: Phase,
    /// The token request for the newest tokens known (taken when sent).
    request: Option<http::Request<Vec<u8>>>,
    /// The lease is ours.
    lease: bool,
    /// The stored version this renewal builds on (the commit's expected version).
    base: u64,
    started_ms: u64,
    /// The next `Watch` timeout.
    watch_ms: u64,
    /// When the current holder's lease expires, as far as we know.
    lease_until_ms: u64,
    /// The completion to hand out once the commit or release is done.
    outcome: Option<Completion>,
    /// The version a `Commit` writes.
    writing: u64,
    /// A retried commit (no renewal behind it).
    retry: bool,
}

/// A commit to retry: the version it builds on, the version it writes, the sealed entry.
#[derive(Debug, Clone)]
struct PendingCommit {
    base: u64,
    writing: u64,
    entry: String,
    /// When our lease ends (as far as we know).
    lease_until_ms: u64,
    /// When to try again.
    retry_at_ms: u64,
}

impl Flight {
    fn new(id: u64, request: Option<http::Request<Vec<u8>>>, base: u64, now_ms: u64) -> Self {
        Flight {
            id,
            phase: Phase::Read,
            request,
            lease: false,
            base,
            started_ms: now_ms,
            watch_ms: WATCH_FIRST_MS,
            lease_until_ms: 0,
            outcome: None,
            writing: 0,
            retry: false,
        }
    }
}

/// A [`TokenSession`] shared by a fleet over a store: see the [module documentation](self).
#[derive(Debug)]
pub struct FleetSession {
    session: TokenSession,
    config: FleetConfig,
    /// The store version of the local token set (0: none read or written).
    version: u64,
    /// The local token set is newer than the store's `version` (obtained while the store was
    /// down, or its commit failed).
    unsaved: bool,
    flight: Option<Flight>,
    /// A commit whose answer was lost (the store failed): retried by a caller holding a valid
    /// token once the store's backoff ends, until it is written or the store moved on.
    pending: Option<PendingCommit>,
    store_failures: u32,
    store_retry_at_ms: u64,
    rejected: Option<AccessToken>,
    stats: FleetStats,
    /// Why the store last failed (an error, or an entry this process cannot read).
    last_store_error: Option<Error>,
}

impl FleetSession {
    /// Shares `session` over the store described by `config`. The session's own token set (if
    /// any) is the local copy; the store's newer entry wins at the first renewal.
    pub fn new(session: TokenSession, config: FleetConfig) -> Self {
        FleetSession {
            session,
            config,
            version: 0,
            unsaved: false,
            flight: None,
            pending: None,
            store_failures: 0,
            store_retry_at_ms: 0,
            rejected: None,
            stats: FleetStats::default(),
            last_store_error: None,
        }
    }

    /// The local session.
    pub fn session(&self) -> &TokenSession {
        &self.session
    }
    /// The local session, for its getters and settings (`with_skew`-style changes through
    /// `std::mem::replace`). Tokens set here are the local copy: the store's newer entry still
    /// wins at the next renewal. Replacing it while a renewal is in flight ends that renewal's
    /// bookkeeping: its answers are then refused with [`Error::UnexpectedResponse`].
    pub fn session_mut(&mut self) -> &mut TokenSession {
        &mut self.session
    }
    /// Restores a token set kept by this process (its own persistence) as the local copy, with
    /// no store version: at the next renewal the store's entry, when there is one, wins over
    /// it (its refresh token may be newer); when there is none, this set renews and its
    /// successor seeds the store.
    /// Forgets any lost commit still to retry. See [`TokenSession::with_tokens`].
    pub fn restore(&mut self, tokens: TokenSet) {
        self.session = self.session.clone().with_tokens(tokens);
        self.version = 0;
        self.unsaved = false;
        self.pending = None;
    }
    /// The configuration.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }
    /// The store version of the local token set (0 before the store was read or written).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The counters.
    pub fn stats(&self) -> FleetStats {
        self.stats
    }
    /// Until when `next` answers `Ready` without a store round trip (Unix milliseconds); see
    /// [`TokenSession::ready_until`].
    pub fn ready_until_ms(&self) -> Option<u64> {
        let until = self.session.ready_until().map(|s| {
            if s == u64::MAX {
                s
            } else {
                s.saturating_mul(1000)
            }
        })?;
        // A lost commit is retried from `next` once the store's backoff ends.
        Some(match &self.pending {
            Some(p) => until.min(p.retry_at_ms),
            None => until,
        })
    }
    /// Whether the local token set is newer than the store's (renewed while the store was
    /// down, or its commit failed): the next renewal that reaches the store writes it.
    pub fn unsaved(&self) -> bool {
        self.unsaved
    }
    /// Why the store last failed ([`Error::Store`]: the adapter's reason, or why an entry could
    /// not be read), for logs; it holds no secret. Kept until the next failure.
    pub fn last_store_error(&self) -> Option<&Error> {
        self.last_store_error.as_ref()
    }
    /// Whether the store is being skipped after a failure, at `now_ms`.
    pub fn store_down(&self, now_ms: u64) -> bool {
        now_ms < self.store_retry_at_ms
    }

    /// What to do at `now_ms` (Unix milliseconds): use a token, perform a renewal, or wait for
    /// this process's renewal in flight.
    ///
    /// # Errors
    /// As [`TokenSession::next`], only when no usable token exists.
    pub fn next(&mut self, now_ms: u64) -> Result<FleetNext, Error> {
        if let Some(p) = self.pending.clone() {
            if self.flight.is_none() && now_ms >= p.retry_at_ms {
                // This process alone holds the newest refresh token, and its lease keeps the
                // others from refreshing only for a while: writing it comes first, whatever
                // the session would do (serve, renew, or report its backoff).
                let current = self.session.usable_token(now_ms / 1000);
                let (id, action) = self.retry_commit(p, now_ms);
                return Ok(FleetNext::Perform {
                    id,
                    action,
                    current,
                });
            }
        }
        let step = self.session.next(now_ms / 1000)?;
        self.map_next(step, now_ms)
    }

    /// For a caller that waited on (or performed) renewal `id`: as [`TokenSession::waited`].
    ///
    /// # Errors
    /// The failed renewal's error, or the errors of [`FleetSession::next`].
    pub fn waited(&mut self, id: u64, now_ms: u64) -> Result<FleetNext, Error> {
        let step = self.session.waited(id, now_ms / 1000)?;
        self.map_next(step, now_ms)
    }

    fn map_next(&mut self, step: Next, now_ms: u64) -> Result<FleetNext, Error> {
        Ok(match step {
            Next::Ready(token) => match self.pending.clone() {
                Some(p) if self.flight.is_none() && now_ms >= p.retry_at_ms => {
                    // Retry the lost commit, on a caller that holds a valid token.
                    let (id, action) = self.retry_commit(p, now_ms);
                    FleetNext::Perform {
                        id,
                        action,
                        current: Some(token),
                    }
                }
                _ => FleetNext::Ready(token),
            },
            Next::Wait { id } => FleetNext::Wait { id },
            Next::Send {
                id,
                request,
                current,
            } => {
                if let Some(busy) = self.flight.as_ref().map(|f| f.id) {
                    // The previous renewal is still releasing its lease: it goes first.
                    self.session.abandon(id);
                    return Ok(match current {
                        Some(token) => FleetNext::Ready(token),
                        None => FleetNext::Wait { id: busy },
                    });
                }
                if let Some(p) = self.pending.clone().filter(|p| now_ms >= p.retry_at_ms) {
                    // This process alone holds the newest refresh token, and its lease keeps the
                    // others from refreshing only for a while: writing it comes before renewing
                    // (which then reads it back).
                    self.session.abandon(id);
                    let (id, action) = self.retry_commit(p, now_ms);
                    return Ok(FleetNext::Perform {
                        id,
                        action,
                        current,
                    });
                }
                let action = self.begin(id, *request, now_ms)?;
                FleetNext::Perform {
                    id,
                    action,
                    current,
                }
            }
        })
    }

    /// Starts a flight that retries a lost commit.
    fn retry_commit(&mut self, p: PendingCommit, now_ms: u64) -> (u64, Action) {
        let id = self.session.allocate_id();
        let mut flight = Flight::new(id, None, p.base, now_ms);
        flight.writing = p.writing;
        flight.retry = true;
        flight.lease_until_ms = p.lease_until_ms;
        self.flight = Some(flight);
        (id, self.commit(p.base, p.writing, p.entry))
    }

    fn begin(
        &mut self,
        id: u64,
        request: http::Request<Vec<u8>>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        self.flight = Some(Flight::new(id, Some(request), self.version, now_ms));
        // While the store backs off, a renewal that may go alone does; one that may not (a
        // shared refresh token) asks the store anyway: only the store can give it a token, and
        // its own pause (STORE_REFRESH_RETRY_S) already paces it.
        let refresh = !self.session.cancellable(id);
        if self.store_down(now_ms) && (!refresh || self.config.renew_alone) {
            return self.alone(
                id,
                Error::Store {
                    reason: "the shared store is unavailable (backing off after a failure)".into(),
                },
                now_ms,
            );
        }
        Ok(self.store(StoreOp::Read {
            key: self.config.keys.entry.clone(),
        }))
    }

    fn store(&mut self, op: StoreOp) -> Action {
        self.stats.store_ops += 1;
        if let Some(flight) = self.flight.as_mut() {
            flight.phase = match &op {
                StoreOp::Read { .. } => Phase::Read,
                StoreOp::Acquire { .. } => Phase::Acquire,
                StoreOp::Watch { .. } => Phase::Watch,
                StoreOp::Commit { .. } => Phase::Commit,
                StoreOp::Release { .. } => Phase::Release,
            };
        }
        Action::Store(op)
    }

    fn flight(&mut self, id: u64) -> Result<&mut Flight, Error> {
        match self.flight.as_mut() {
            Some(f) if f.id == id => Ok(f),
            _ => Err(Error::UnexpectedResponse { id }),
        }
    }

    /// Whether `tokens` can be served at `now` without renewing.
    fn fresh(&self, tokens: &TokenSet, now: u64) -> bool {
        tokens.is_bearer()
            && !tokens.expires_within(now, self.session.skew())
            && !self
                .rejected
                .as_ref()
                .is_some_and(|r| tokens.access_token().ct_eq(r.secret()))
    }

    /// The renewal goes on without the store: send alone when that is safe, else fail.
    fn alone(&mut self, id: u64, why: Error, now_ms: u64) -> Result<Action, Error> {
        let refresh = !self.session.cancellable(id);
        let flight = self.flight(id)?;
        let request = flight.request.take();
        match request {
            Some(request) if !refresh || self.config.renew_alone => {
                self.flight(id)?.phase = Phase::Send { alone: true };
                self.stats.http_renewals += 1;
                self.stats.fallback_renewals += 1;
                Ok(Action::Send(Box::new(request)))
            }
            _ => {
                self.flight = None;
                // Not the token server's failure: the next renewal tries the store again in a
                // second, whatever the store's own backoff (a refresh always asks the store).
                let completion =
                    self.session
                        .pause_with(id, why, now_ms / 1000, STORE_REFRESH_RETRY_S)?;
                Ok(Action::Done(completion))
            }
        }
    }

    /// Hands in the reply to the store operation of renewal `id`, at `now_ms`.
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal in flight. A reply that does
    /// not answer the operation asked counts as a store failure.
    pub fn store_done(&mut self, id: u64, reply: StoreReply, now_ms: u64) -> Result<Action, Error> {
        let phase = self.flight(id)?.phase;
        self.store_failures = 0;
        match (phase, reply) {
            (Phase::Read, StoreReply::Entry(entry)) => self.decide(id, entry, None, now_ms),
            (
                Phase::Acquire,
                StoreReply::Acquired {
                    acquired,
                    lease_ttl_ms,
                    entry,
                },
            ) => {
                let ttl = self.config.lease_ttl_ms;
                let flight = self.flight(id)?;
                flight.lease = acquired;
                flight.lease_until_ms = now_ms.saturating_add(lease_ttl_ms.unwrap_or(ttl).min(ttl));
                self.decide(id, entry, Some(acquired), now_ms)
            }
            (Phase::Watch, StoreReply::Watched) => Ok(self.store(StoreOp::Read {
                key: self.config.keys.entry.clone(),
            })),
            (Phase::Commit, StoreReply::Committed(written)) => {
                let flight = self.flight.take().ok_or(Error::UnexpectedResponse { id })?;
                self.pending = None;
                if written {
                    self.version = flight.writing;
                    self.unsaved = false;
                    self.stats.committed += 1;
                } else {
                    // Another writer came first: its entry is newer, and the next renewal
                    // reads it. Ours stays local meanwhile.
                    self.stats.conflicts += 1;
                }
                Ok(Action::Done(flight.outcome.unwrap_or(Completion {
                    renewed: None,
                    error: None,
                })))
            }
            (Phase::Release, StoreReply::Released) => {
                let flight = self.flight.take().ok_or(Error::UnexpectedResponse { id })?;
                Ok(Action::Done(flight.outcome.unwrap_or(Completion {
                    renewed: None,
                    error: None,
                })))
            }
            (phase, reply) => self.store_failed(
                id,
                &format!(
                    "the store answered {reply:?} to {}",
                    match phase {
                        Phase::Read => "read",
                        Phase::Acquire => "acquire",
                        Phase::Watch => "watch",
                        Phase::Commit => "commit",
                        Phase::Release => "release",
                        Phase::Send { .. } => "no store operation",
                    }
                ),
                now_ms,
            ),
        }
    }

    /// The store answered with the entry (and, after `Acquire`, whether the lease is ours):
    /// take a newer fresh entry, write back a newer local one, renew, or wait.
    fn decide(
        &mut self,
        id: u64,
        text: Option<String>,
        acquired: Option<bool>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        let now = now_ms / 1000;
        let stored = match text
            .as_deref()
            .map(|t| Entry::open(t, &self.config.protection))
        {
            None => None,
            Some(Ok(entry)) => Some(entry),
            Some(Err(e)) => {
                let reason = match e {
                    Error::InvalidInput { reason } => reason,
                    other => other.to_string(),
                };
                self.release_quietly(id);
                return self.fault(
                    id,
                    format!("the shared entry is unreadable: {reason}"),
                    now_ms,
                );
            }
        };
        let stored_version = stored.as_ref().map_or(0, Entry::version);
        if let Some(entry) = stored.filter(|e| e.version() > self.version) {
            let tokens = entry.into_tokens();
            self.version = stored_version;
            self.unsaved = false;
            self.pending = None;
            if self.fresh(&tokens, now) {
                self.stats.adopted += 1;
                let completion = self.session.complete_with(id, tokens, now)?;
                return Ok(self.finish(id, completion));
            }
            let request = self.session.adopt_in_flight(id, tokens, now)?;
            self.flight(id)?.request = request;
        }
        self.flight(id)?.base = stored_version;
        if acquired == Some(true) {
            let flight = self.flight(id)?;
            return match flight.request.take() {
                Some(request) => {
                    flight.phase = Phase::Send { alone: false };
                    self.stats.http_renewals += 1;
                    Ok(Action::Send(Box::new(request)))
                }
                None => {
                    let completion =
                        self.session
                            .fail_with(id, Error::ReauthorizationRequired, now)?;
                    Ok(self.release(id, completion))
                }
            };
        }
        if acquired.is_none() {
            return Ok(self.store(StoreOp::Acquire {
                key: self.config.keys.entry.clone(),
                lease: self.config.keys.lease.clone(),
                owner: self.config.owner.clone(),
                ttl_ms: self.config.lease_ttl_ms,
            }));
        }
        // Another process holds the lease: wait for its version, bounded.
        let limit = self
            .config
            .lease_ttl_ms
            .saturating_mul(2)
            .saturating_add(1_000);
        let flight = self.flight(id)?;
        if now_ms.saturating_sub(flight.started_ms) > limit {
            return self.fault(
                id,
                "timed out waiting for another process's renewal".into(),
                now_ms,
            );
        }
        let until_expiry = flight
            .lease_until_ms
            .saturating_sub(now_ms)
            .saturating_add(5);
        let timeout_ms = flight.watch_ms.min(until_expiry).max(1);
        flight.watch_ms = flight.watch_ms.saturating_mul(2).min(WATCH_CAP_MS);
        Ok(self.store(StoreOp::Watch {
            channel: self.config.keys.channel.clone(),
            version: stored_version,
            timeout_ms,
        }))
    }

    fn commit(&mut self, expected_version: u64, version: u64, entry: String) -> Action {
        self.store(StoreOp::Commit {
            key: self.config.keys.entry.clone(),
            lease: self.config.keys.lease.clone(),
            owner: self.config.owner.clone(),
            channel: self.config.keys.channel.clone(),
            expected_version,
            version,
            entry,
        })
    }

    /// Ends renewal `id` with `completion`: releasing the lease first when it is ours.
    fn finish(&mut self, id: u64, completion: Completion) -> Action {
        match self.flight.as_ref() {
            Some(f) if f.id == id && f.lease => self.release(id, completion),
            _ => {
                self.flight = None;
                Action::Done(completion)
            }
        }
    }

    fn release(&mut self, id: u64, completion: Completion) -> Action {
        match self.flight.as_mut() {
            Some(f) if f.id == id && f.lease => {
                f.outcome = Some(completion);
                f.lease = false;
                self.store(StoreOp::Release {
                    lease: self.config.keys.lease.clone(),
                    owner: self.config.owner.clone(),
                })
            }
            _ => {
                self.flight = None;
                Action::Done(completion)
            }
        }
    }

    /// Forgets a lease we may hold without a round trip: it expires on its own.
    fn release_quietly(&mut self, id: u64) {
        if let Ok(flight) = self.flight(id) {
            flight.lease = false;
        }
    }

    /// The store cannot serve this renewal: back off from it, and renew alone if safe.
    fn fault(&mut self, id: u64, reason: String, now_ms: u64) -> Result<Action, Error> {
        let error = self.store_failure(reason, now_ms);
        self.alone(id, error, now_ms)
    }

    /// Counts a store failure: the reason kept for logs, and the store set aside for a backoff.
    fn store_failure(&mut self, reason: String, now_ms: u64) -> Error {
        let error = Error::Store { reason };
        self.last_store_error = Some(error.clone());
        self.store_failures = self.store_failures.saturating_add(1);
        self.stats.store_failures += 1;
        let pause = STORE_BACKOFF_BASE_MS
            .saturating_mul(1u64 << (self.store_failures - 1).min(16))
            .min(STORE_BACKOFF_CAP_MS);
        self.store_retry_at_ms = now_ms.saturating_add(pause);
        error
    }

    /// Reports that the store operation of renewal `id` failed (an error, a timeout, a lost
    /// connection), at `now_ms`. `reason` is escaped and capped; it must not hold a secret.
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal in flight.
    pub fn store_failed(&mut self, id: u64, reason: &str, now_ms: u64) -> Result<Action, Error> {
        let reason = crate::text::oauth_text(reason, crate::text::Charset::Text, 512);
        let phase = self.flight(id)?.phase;
        match phase {
            Phase::Read | Phase::Acquire | Phase::Watch => {
                self.release_quietly(id);
                self.fault(id, reason, now_ms)
            }
            Phase::Commit | Phase::Release => {
                let mut flight = self.flight.take().ok_or(Error::UnexpectedResponse { id })?;
                self.store_failure(reason, now_ms);
                if phase == Phase::Commit {
                    // Whether it was written is unknown, and only this process has the new
                    // refresh token. The lease stays ours until its TTL, so nobody else
                    // renews meanwhile: retry the same compare-and-set every
                    // COMMIT_RETRY_MS while the lease lasts, then at least every second
                    // (if it was written, the retry answers "not written" and the next
                    // renewal reads it back).
                    self.unsaved = true;
                    if let Some(tokens) = self.session.tokens() {
                        let entry = Entry::new(flight.writing, tokens.clone(), now_ms / 1000)
                            .seal(&self.config.protection);
                        if let Ok(entry) = entry {
                            let soon = now_ms.saturating_add(COMMIT_RETRY_MS);
                            self.pending = Some(PendingCommit {
                                base: flight.base,
                                writing: flight.writing,
                                entry,
                                lease_until_ms: flight.lease_until_ms,
                                retry_at_ms: if soon < flight.lease_until_ms {
                                    soon
                                } else {
                                    self.store_retry_at_ms.min(now_ms.saturating_add(1_000))
                                },
                            });
                        }
                    }
                }
                Ok(Action::Done(flight.outcome.take().unwrap_or(Completion {
                    renewed: None,
                    error: None,
                })))
            }
            Phase::Send { .. } => Err(Error::UnexpectedResponse { id }),
        }
    }

    /// Hands in the token response of renewal `id`, received at `now_ms`.
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal whose request is out.
    pub fn receive(
        &mut self,
        id: u64,
        response: &http::Response<impl AsRef<[u8]>>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        let Phase::Send { alone } = self.flight(id)?.phase else {
            return Err(Error::UnexpectedResponse { id });
        };
        let now = now_ms / 1000;
        let completion = self.session.receive(id, response, now)?;
        self.after_answer(id, completion, alone, now)
    }

    /// Reports that the token request of renewal `id` could not be sent or answered.
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal whose request is out.
    pub fn fail(&mut self, id: u64, reason: &str, now_ms: u64) -> Result<Action, Error> {
        let Phase::Send { alone } = self.flight(id)?.phase else {
            return Err(Error::UnexpectedResponse { id });
        };
        let now = now_ms / 1000;
        let completion = self.session.fail(id, reason, now)?;
        self.after_answer(id, completion, alone, now)
    }

    fn after_answer(
        &mut self,
        id: u64,
        completion: Completion,
        alone: bool,
        now: u64,
    ) -> Result<Action, Error> {
        if alone {
            if completion.renewed.is_some() {
                self.unsaved = true;
            }
            self.flight = None;
            return Ok(Action::Done(completion));
        }
        let Some(renewed) = &completion.renewed else {
            return Ok(self.release(id, completion));
        };
        let base = self.flight(id)?.base;
        let writing = base.max(self.version) + 1;
        match Entry::new(writing, renewed.tokens.clone(), now).seal(&self.config.protection) {
            Ok(sealed) => {
                let flight = self.flight(id)?;
                flight.writing = writing;
                flight.outcome = Some(completion);
                flight.lease = false;
                Ok(self.commit(base, writing, sealed))
            }
            Err(_) => {
                self.unsaved = true;
                Ok(self.release(id, completion))
            }
        }
    }

    /// Whether renewal `id` may be cancelled now (see [`TokenSession::cancellable`]): while it
    /// only talks to the store, or sends a request that consumes nothing.
    pub fn cancellable(&self, id: u64) -> bool {
        match &self.flight {
            Some(f) if f.id == id => match f.phase {
                Phase::Read | Phase::Acquire | Phase::Watch => true,
                Phase::Send { .. } => self.session.cancellable(id),
                // A retried commit stays pending when abandoned.
                Phase::Commit => f.retry,
                Phase::Release => false,
            },
            _ => false,
        }
    }

    /// Forgets renewal `id`, given up by whoever performed it (see
    /// [`TokenSession::abandon`]). A lease it held expires on its own. Returns whether `id` was
    /// in flight.
    pub fn abandon(&mut self, id: u64) -> bool {
        if !self.cancellable(id) {
            return false;
        }
        let retry = self.flight.as_ref().is_some_and(|f| f.retry);
        self.flight = None;
        self.session.abandon(id) || retry
    }

    /// Drops renewal `id` whatever its phase: for a driver whose renewal ended abnormally (its
    /// future was dropped or panicked mid-way). Unlike [`FleetSession::abandon`] it never
    /// refuses: a lease it held expires on its own, and a commit whose answer is lost is what the
    /// next renewal reads back. Returns whether `id` was in flight.
    pub fn forget(&mut self, id: u64) -> bool {
        let ours = self.flight.as_ref().is_some_and(|f| f.id == id);
        if ours {
            self.flight = None;
        }
        self.session.abandon(id) || ours
    }

    /// The token set of renewal `id` reached the caller's own storage (see
    /// [`TokenSession::delivered`]).
    pub fn delivered(&mut self, id: u64) -> bool {
        self.session.delivered(id)
    }

    /// The API refused `access_token`: renew once (see [`TokenSession::reject`]); an entry in
    /// the store holding the same token is not taken as fresh.
    pub fn reject(&mut self, access_token: &str) -> bool {
        let current = self.session.reject(access_token);
        if current {
            self.rejected = Some(AccessToken::new(access_token));
        }
        current
    }
}

/// The store interface's semantics in memory: the reference for adapters, a store for tests,
/// and a way to share one token between sessions of one process. It answers every operation at
/// once; a `Watch` returns [`StoreReply::Watched`] immediately, so its driver sleeps
/// `timeout_ms` itself (or until another session commits).
///
/// `Debug` shows the keys, never an entry.
#[derive(Default)]
pub struct MemoryStore {
    entries: std::collections::HashMap<String, String>,
    /// Lease key -> (owner, expiry in Unix milliseconds).
    leases: std::collections::HashMap<String, (String, u64)>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.entries.keys().collect::<Vec<_>>())
            .field("leases", &self.leases.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text stored under `key`.
    pub fn entry(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The owner of the lease `lease` at `now_ms`, when it is held.
    pub fn lease_owner(&self, lease: &str, now_ms: u64) -> Option<&str> {
        self.leases
            .get(lease)
            .filter(|(_, until)| *until > now_ms)
            .map(|(owner, _)| owner.as_str())
    }

    /// Replaces (or with `None` removes) the text under `key`: for tests (a store that lost its
    /// entry, a hostile entry).
    pub fn set_entry(&mut self, key: &str, text: Option<String>) {
        match text {
            Some(t) => self.entries.insert(key.to_owned(), t),
            None => self.entries.remove(key),
        };
    }

    /// Executes `op` at `now_ms` (Unix milliseconds), with the atomicity the
    /// [module documentation](self) asks of every store.
    pub fn execute(&mut self, op: &StoreOp, now_ms: u64) -> StoreReply {
        self.leases.retain(|_, (_, until)| *until > now_ms);
        match op {
            StoreOp::Read { key } => StoreReply::Entry(self.entries.get(key).cloned()),
            StoreOp::Acquire {
                key,
                lease,
                owner,
                ttl_ms,
            } => {
                let acquired = self.leases.get(lease).is_none_or(|(o, _)| o == owner);
                if acquired {
                    self.leases.insert(
                        lease.clone(),
                        (owner.clone(), now_ms.saturating_add(*ttl_ms)),
                    );
                }
                StoreReply::Acquired {
                    acquired,
                    lease_ttl_ms: self.leases.get(lease).map(|(_, until)| until - now_ms),
                    entry: self.entries.get(key).cloned(),
                }
            }
            StoreOp::Commit {
                key,
                lease,
                owner,
                expected_version,
                entry,
                ..
            } => {
                // A commit ends the holder's renewal, whatever its outcome.
                if self.leases.get(lease).is_some_and(|(o, _)| o == owner) {
                    self.leases.remove(lease);
                }
                let current = match self.entries.get(key) {
                    None => Some(0),
                    Some(text) => serde_json::from_str::<serde_json::Value>(text)
                        .ok()
                        .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64)),
                };
                // Like the Redis script: an unreadable entry is never overwritten.
                let Some(current) = current else {
                    return StoreReply::Committed(false);
                };
                if current == *expected_version {
                    self.entries.insert(key.clone(), entry.clone());
                    StoreReply::Committed(true)
                } else {
                    StoreReply::Committed(false)
                }
            }
            StoreOp::Release { lease, owner } => {
                if self.leases.get(lease).is_some_and(|(o, _)| o == owner) {
                    self.leases.remove(lease);
                }
                StoreReply::Released
            }
            StoreOp::Watch { .. } => StoreReply::Watched,
        }
    }
}

/// The Redis mapping of the store operations: three Lua scripts and the conversion of their
/// replies. Keys: the entry `grantline:{NAME}`, the lease `grantline:{NAME}:lease` and the
/// channel `grantline:{NAME}:renewed` (the braces are a Redis Cluster hash tag: all three on one
/// slot).
///
/// | operation | Redis |
/// |---|---|
/// | `Read` | `GET entry` |
/// | `Acquire` | `EVAL ACQUIRE 2 entry lease owner ttl_ms` → `[acquired, pttl, entry?]` |
/// | `Commit` | `EVAL COMMIT 2 entry lease owner expected_version entry_text channel version` → `[1, version]`, `[0, current]` or `[-1]` |
/// | `Release` | `EVAL RELEASE 1 lease owner` |
/// | `Watch` | `SUBSCRIBE channel` on a dedicated connection until a message or the timeout (or a sleep) |
pub mod redis {
    use super::StoreReply;

    /// `SET lease owner NX PX ttl` (or renew it when `owner` holds it), then the lease's PTTL
    /// and the entry, in one step. `KEYS`: entry, lease; `ARGV`: owner, ttl_ms.
    pub const ACQUIRE: &str = r"local got = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
if not got and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  got = true
end
local ttl = redis.call('PTTL', KEYS[2])
local entry = redis.call('GET', KEYS[1])
if got then return {1, ttl, entry} end
return {0, ttl, entry}
";

    /// Compare-and-set on the entry's `version` (0 when absent), publishing the new version;
    /// the lease is released first if `owner` holds it, whatever the outcome (a commit ends
    /// the holder's renewal). `KEYS`: entry, lease; `ARGV`: owner,
    /// expected_version, entry_text, channel, version.
    pub const COMMIT: &str = r"if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if not ok or type(doc) ~= 'table' or type(doc.version) ~= 'number' then return {-1} end
  v = doc.version
end
if v ~= tonumber(ARGV[2]) then return {0, v} end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, tonumber(ARGV[5])}
";

    /// Deletes the lease if `owner` holds it. `KEYS`: lease; `ARGV`: owner.
    pub const RELEASE: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

    /// The reply to `ACQUIRE`: its first two integers and the entry (absent when the array has
    /// two members).
    pub fn acquire_reply(acquired: i64, pttl: i64, entry: Option<String>) -> StoreReply {
        StoreReply::Acquired {
            acquired: acquired == 1,
            lease_ttl_ms: u64::try_from(pttl).ok(),
            entry,
        }
    }

    /// The reply to `COMMIT`: its first integer (1 written; 0 conflict; -1 unreadable entry).
    pub fn commit_reply(code: i64) -> StoreReply {
        StoreReply::Committed(code == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::EntryKey;
    use crate::{Client, Provider, RefreshToken};

    fn protection() -> Protection {
        Protection::encrypted(EntryKey::new("k1", &[4u8; 32]).unwrap())
    }

    #[test]
    fn names_and_owners_are_checked() {
        for bad in [
            "",
            "a b",
            "a}b",
            "a{b",
            "line\nbreak",
            "tab\t",
            "é",
            "*",
            &"x".repeat(201),
        ] {
            let e = FleetConfig::new(bad, protection()).expect_err(bad);
            assert_eq!(e.kind(), "invalid_input");
            assert!(!e.to_string().contains('\n'));
        }
        let ok = FleetConfig::new("billing-api:prod/eu_1.v2", protection()).unwrap();
        assert_eq!(ok.keys().entry, "grantline:{billing-api:prod/eu_1.v2}");
        assert_eq!(ok.name(), "billing-api:prod/eu_1.v2");
        assert_eq!(
            ok.keys().lease,
            "grantline:{billing-api:prod/eu_1.v2}:lease"
        );
        assert_eq!(ok.owner().len(), 32);
        assert_ne!(
            ok.owner(),
            FleetConfig::new("n", protection()).unwrap().owner()
        );
        assert!(ok.clone().with_owner("a b").is_err());
        assert!(ok.clone().with_owner(&"o".repeat(65)).is_err());
        assert_eq!(
            ok.clone().with_lease_ttl_ms(5).lease_ttl_ms(),
            MIN_LEASE_TTL_MS
        );
        assert!(!ok.renews_alone_when_store_down());
        assert!(ok
            .renew_alone_when_store_down(true)
            .renews_alone_when_store_down());
    }

    #[test]
    fn nothing_secret_is_printed_and_unreadable_entries_say_why() {
        let tokens = TokenSet::new(
            AccessToken::new("AT-SECRET"),
            Some(RefreshToken::new("RT-SECRET")),
            Some(1_700_003_600),
            1_700_000_000,
        );
        let sealed = Entry::new(1, tokens.clone(), 1_700_000_000)
            .seal(&Protection::plaintext())
            .unwrap();
        let op = StoreOp::Commit {
            key: "k".into(),
            lease: "l".into(),
            owner: "o".into(),
            channel: "c".into(),
            expected_version: 0,
            version: 1,
            entry: sealed.clone(),
        };
        let reply = StoreReply::Acquired {
            acquired: true,
            lease_ttl_ms: Some(1),
            entry: Some(sealed.clone()),
        };
        let mut memory = MemoryStore::new();
        memory.execute(&op, 0);
        for shown in [
            format!("{op:?}"),
            format!("{reply:?}"),
            format!("{:?}", StoreReply::Entry(Some(sealed.clone()))),
            format!("{:?}", Action::Store(op.clone())),
            format!("{memory:?}"),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
        }
        // A fleet holding keys reads a plaintext entry: refused, and the reason is kept.
        let client = Client::new(Provider::bookable(), "c").with_secret("s");
        let config = FleetConfig::new("n", protection()).unwrap();
        let mut fleet = FleetSession::new(TokenSession::client_credentials(client, vec![]), config);
        let FleetNext::Perform { id, .. } = fleet.next(1_700_000_000_000).unwrap() else {
            panic!("perform expected");
        };
        let action = fleet
            .store_done(id, StoreReply::Entry(Some(sealed)), 1_700_000_000_000)
            .unwrap();
        assert!(matches!(action, Action::Send(_)));
        let why = fleet.last_store_error().unwrap().to_string();
        // A restored set has no store version: the store's entry wins over it.
        fleet.restore(tokens);
        assert_eq!((fleet.version(), fleet.unsaved()), (0, false));
        assert!(
            why.contains("unreadable") && !why.contains("SECRET"),
            "{why}"
        );
        assert_eq!(fleet.stats().store_failures, 1);
    }
}
