//! [`FleetTokens`]: the blocking, thread-safe driver of a [`FleetSession`].

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grantline::fleet::{Action, FleetNext, FleetSession, FleetStats};
use grantline::{AccessToken, Error, Renewed, TokenSet};

use crate::{Store, DEFAULT_DEADLINE};

type SendFn =
    dyn Fn(&http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, String> + Send + Sync;
type OnTokens = dyn Fn(&Renewed, Origin) + Send + Sync;
type Clock = dyn Fn() -> u64 + Send + Sync;

/// How long a waiting caller sleeps before it asks the session again, even unwoken (a safety
/// net: every renewal wakes its waiters when it ends).
const RECHECK: Duration = Duration::from_secs(1);

/// Where a token set handed to the [`FleetTokens::with_on_tokens`] hook came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A token request this process sent (with the lease, or alone while the store was down).
    Http,
    /// The store: another process renewed, and this one took its entry.
    Store,
}

/// What the [`FleetTokens::with_on_tokens`] hook learns besides the token set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Origin {
    /// The store version of the token set (the version it was committed as or read at; the
    /// previous version for a set obtained while the store was down, not yet written).
    pub version: u64,
    /// Where it came from.
    pub source: Source,
}

/// A [`FleetSession`] many threads share: one renewal at a time in this process, and one in
/// the whole fleet, carried out over a [`Store`] and your HTTP send function.
///
/// The reference design of `grantline_examples::SharedSession`, for the fleet machine: a mutex
/// around the sans-IO session and a condition variable for the callers that wait; the store
/// calls, the HTTP exchange and the `on_tokens` hook run with the lock released;
/// [`FleetSession::delivered`] after the hook; every decision is the core's. A cached token
/// costs no store call and no wait.
///
/// The thread that finds no token fresh enough performs the renewal (store operations, maybe a
/// token request) and returns its result; meanwhile, other threads get the current token while
/// it is valid, and wait for the renewal otherwise. A renewal is never left half-done: if the
/// send function, the store or the hook panics, the renewal is reported failed to the core
/// (a token set already received is marked delivered) and the waiters are woken.
pub struct FleetTokens {
    state: Mutex<FleetSession>,
    /// Notified whenever a renewal ends.
    changed: Condvar,
    store: Box<dyn Store>,
    send: Box<SendFn>,
    on_tokens: Option<Box<OnTokens>>,
    clock: Box<Clock>,
    deadline: Duration,
}

impl fmt::Debug for FleetTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fleet = self.lock();
        f.debug_struct("FleetTokens")
            .field("owner", &fleet.config().owner())
            .field("version", &fleet.version())
            .field("stats", &fleet.stats())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch, from the system clock (0 before 1970).
fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl FleetTokens {
    /// Drives `fleet` over `store`, sending token requests with `send`: a blocking function from
    /// a request to a response (any error that can be displayed: its text becomes the failed
    /// renewal's reason, escaped and capped by the core; it must hold no secret). `send` must
    /// not follow redirects, and should decode `Content-Encoding` and enforce a whole-request
    /// deadline shorter than the lease TTL.
    pub fn new<S, F, E>(fleet: FleetSession, store: S, send: F) -> Self
    where
        S: Store + 'static,
        F: Fn(&http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>
            + Send
            + Sync
            + 'static,
        E: fmt::Display,
    {
        FleetTokens {
            state: Mutex::new(fleet),
            changed: Condvar::new(),
            store: Box::new(store),
            send: Box::new(move |request| send(request).map_err(|e| e.to_string())),
            on_tokens: None,
            clock: Box::new(system_now_ms),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// Calls `hook` with every token set this process takes in (from its own token request or
    /// from the store), in order, with the lock released, before any caller gets its access
    /// token. Persist it there if you keep tokens beside the store; a panic in it is a failed
    /// delivery (see the type's documentation).
    #[must_use]
    pub fn with_on_tokens(
        mut self,
        hook: impl Fn(&Renewed, Origin) + Send + Sync + 'static,
    ) -> Self {
        self.on_tokens = Some(Box::new(hook));
        self
    }

    /// The deadline of each store call (default [`DEFAULT_DEADLINE`], 2 s): a store that does
    /// not answer in time is a failed call, never a hang.
    #[must_use]
    pub fn with_store_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The clock, in milliseconds since the Unix epoch (default: the system clock).
    #[must_use]
    pub fn with_clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Box::new(now_ms);
        self
    }

    fn lock(&self) -> MutexGuard<'_, FleetSession> {
        // The session is consistent between calls (the core does not panic midway), and no
        // user code runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    /// A valid access token: the cached one (no store call), or the one a renewal brings, this
    /// process's or another's.
    ///
    /// # Errors
    /// What the core decides, only when no usable token is left: the renewal's failure (every
    /// waiting caller gets the same one), [`Error::Store`] when the store failed and renewing
    /// alone is not safe (a refresh), [`Error::ReauthorizationRequired`] when there is no way
    /// to renew, configuration errors.
    pub fn access_token(&self) -> Result<AccessToken, Error> {
        let mut fleet = self.lock();
        let mut next = fleet.next(self.now())?;
        loop {
            next = match next {
                FleetNext::Ready(token) => return Ok(token),
                FleetNext::Wait { id } => {
                    fleet = self
                        .changed
                        .wait_timeout(fleet, RECHECK)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    fleet.waited(id, self.now())?
                }
                FleetNext::Perform { id, action, .. } => {
                    drop(fleet);
                    self.perform(id, action)?;
                    fleet = self.lock();
                    fleet.waited(id, self.now())?
                }
            };
        }
    }

    /// Carries renewal `id` out from `action` to its end: delivered and its waiters woken.
    fn perform(&self, id: u64, action: Action) -> Result<(), Error> {
        let mut guard = Performing {
            tokens: self,
            id,
            pending: Pending::Nothing,
            finished: false,
        };
        let mut action = action;
        let mut sent = false;
        loop {
            action = match action {
                Action::Store(op) => {
                    guard.pending = Pending::Store;
                    let reply = self.store.execute(&op, self.deadline);
                    let now = self.now();
                    let mut fleet = self.lock();
                    guard.pending = Pending::Nothing;
                    match reply {
                        Ok(reply) => fleet.store_done(id, reply, now)?,
                        Err(reason) => fleet.store_failed(id, &reason, now)?,
                    }
                }
                Action::Send(request) => {
                    sent = true;
                    guard.pending = Pending::Send;
                    let answer = (self.send)(&request);
                    let now = self.now();
                    let mut fleet = self.lock();
                    guard.pending = Pending::Nothing;
                    match answer {
                        Ok(response) => fleet.receive(id, &response, now)?,
                        Err(reason) => fleet.fail(id, &reason, now)?,
                    }
                }
                Action::Done(completion) => {
                    if let Some(renewed) = &completion.renewed {
                        if let Some(hook) = &self.on_tokens {
                            let origin = Origin {
                                version: self.lock().version(),
                                source: if sent { Source::Http } else { Source::Store },
                            };
                            guard.pending = Pending::Deliver;
                            hook(renewed, origin);
                        }
                        self.lock().delivered(id);
                    }
                    guard.finished = true;
                    self.changed.notify_all();
                    return Ok(());
                }
            };
        }
    }

    /// The API refused `access_token` (a 401 for which [`grantline::bearer::needs_renewal`] is
    /// true): the next [`FleetTokens::access_token`] renews, once however many threads reject
    /// it, and a store entry holding the same token is not taken. Returns whether it was the
    /// current token.
    pub fn reject(&self, access_token: &str) -> bool {
        self.lock().reject(access_token)
    }

    /// The counters: store round trips, failures, token requests, adoptions, commits.
    pub fn stats(&self) -> FleetStats {
        self.lock().stats()
    }

    /// The store version of the local token set (0 before the store was read or written).
    pub fn version(&self) -> u64 {
        self.lock().version()
    }

    /// This process's lease owner id (what the store's lease holds while it renews).
    pub fn owner(&self) -> String {
        self.lock().config().owner().to_owned()
    }

    /// The current token set, if any (for diagnostics and persistence).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.lock().session().tokens().cloned()
    }

    /// Runs `f` on the sans-IO fleet session under the lock (for its other getters, e.g.
    /// `ready_until_ms()`, `store_down()`). `f` must not call this driver back (the lock is not
    /// reentrant).
    pub fn with_fleet<R>(&self, f: impl FnOnce(&mut FleetSession) -> R) -> R {
        f(&mut self.lock())
    }
}

/// What the performing thread was doing outside the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Store,
    Send,
    Deliver,
}

/// Ends a renewal its performer left (a panic in user code, or an error from the core): the
/// core hears of a failure, and the waiters are woken.
struct Performing<'a> {
    tokens: &'a FleetTokens,
    id: u64,
    pending: Pending,
    finished: bool,
}

impl Drop for Performing<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (id, now) = (self.id, self.tokens.now());
        let reason = "the renewal was abandoned (its performer panicked)";
        let mut fleet = self.tokens.lock();
        let mut step = match self.pending {
            Pending::Store => fleet.store_failed(id, reason, now),
            Pending::Send => fleet.fail(id, reason, now),
            Pending::Deliver => {
                fleet.delivered(id);
                Err(Error::UnexpectedResponse { id })
            }
            Pending::Nothing => {
                fleet.forget(id);
                Err(Error::UnexpectedResponse { id })
            }
        };
        // Finish it without IO: every store operation and request left fails. Bounded: each
        // failure moves the renewal toward its end.
        for _ in 0..8 {
            step = match step {
                Ok(Action::Store(_)) => fleet.store_failed(id, reason, now),
                Ok(Action::Send(_)) => fleet.fail(id, reason, now),
                Ok(Action::Done(completion)) => {
                    if completion.renewed.is_some() {
                        fleet.delivered(id);
                    }
                    break;
                }
                Err(_) => break,
            };
        }
        drop(fleet);
        self.tokens.changed.notify_all();
    }
}
