//! An async driver for [`grantline::TokenSession`] that runs on any executor (tokio, async-std,
//! smol, a hand-written one): you give it an async function that sends one HTTP request, and
//! every task that asks for a token shares one renewal.
//!
//! [`grantline`] itself stays sans-IO: it decides what to send and when, and this crate only
//! carries its decisions out. No HTTP client, no runtime and no timer come with it; the one
//! dependency besides the core is `futures-util` (for [`Shared`], the renewal future that every
//! waiting task polls).
//!
//! # What it guarantees
//! - **One renewal however many tasks ask.** The first task without a usable token starts it;
//!   every other task awaits the same future (no lock is held across an `.await`).
//! - **A valid token is never withheld.** While a renewal ahead of expiry runs, every other
//!   task gets the current token at once; a renewal that fails while the token is valid reaches
//!   nobody (see the core's liveness rules: backoff, `Retry-After`, nothing loops).
//! - **Every token set reaches [`Builder::on_tokens`], in renewal order**, before any task sees
//!   its access token through [`AsyncTokenSession::access_token`]'s waiters; so a rotated
//!   refresh token is persisted before it can be used.
//! - **Cancellation safety.** Dropping a task that waits for a renewal (a `select!`, a timeout,
//!   an aborted task) leaves the renewal to the other tasks awaiting it. When the last task
//!   awaiting it is dropped:
//!   - a renewal by the session's grant (client credentials, password) is cancelled: the HTTP
//!     future is dropped and the renewal [abandoned](grantline::TokenSession::abandon), so the
//!     next task to ask renews;
//!   - a **refresh is never cancelled** ([`grantline::TokenSession::cancellable`]): the server
//!     may already have rotated the refresh token, and only this answer carries the new one
//!     (sending the old one again would fail, or revoke the whole grant). It is handed to the
//!     [spawner](Builder::spawn) when there is one, and finishes in the background; without
//!     one, the session keeps it and the next task to wait drives it to its answer.
//!
//!   A renewal is never left half-done: it either completes (and its token set is delivered) or
//!   is forgotten, and no task ever waits on a renewal nobody can drive.
//!
//! # One token for a fleet of processes
//! [`Builder::fleet`] shares the token with every process that uses the same store and
//! [`FleetConfig`] name (over Redis with `grantline-redis`, or any store with the five
//! operations of [`grantline::fleet`]): the session then drives a
//! [`FleetSession`], whose store operations your store function executes. The tasks of one
//! process still share one renewal, a cached token costs no store call, and one process in the
//! fleet sends the token request while the others take its result from the store. See
//! [`grantline::fleet`] for the protocol and what happens when the store fails.
//!
//! # Deadlines
//! The session waits as long as your send function takes: give it a whole-request deadline
//! (e.g. `reqwest::ClientBuilder::timeout`, or `tokio::time::timeout` around the exchange, whose
//! `Elapsed` error becomes a failed renewal with backoff).
//!
//! # Example
//! With any async HTTP client; here a stand-in that answers every token request:
//! ```
//! use grantline::{Client, Provider, TokenSession};
//! use grantline_async::AsyncTokenSession;
//!
//! # async fn my_http_client_send(_: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, std::io::Error> {
//! #     Ok(http::Response::new(br#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#.to_vec()))
//! # }
//! # futures_util::FutureExt::now_or_never(async {
//! let client = Client::new(Provider::bookable(), "client-id").with_secret("client-secret");
//! let session = AsyncTokenSession::builder(
//!     TokenSession::client_credentials(client, vec![]),
//!     my_http_client_send, // async fn(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>
//! )
//! .on_tokens(|renewed| {
//!     let _persist = renewed.tokens.to_json(); // e.g. write it to your store
//! })
//! .build();
//!
//! let token = session.access_token().await?;
//! let header = grantline::bearer::authorization_header(&token)?; // `Authorization: Bearer ...`
//! # assert_eq!(token.secret(), "tok"); let _ = header;
//! // An API answered 401 `invalid_token` (grantline::bearer::needs_renewal): renew once.
//! session.reject(token.secret());
//! # Ok::<(), grantline::Error>(())
//! # }).expect("ready").expect("no error");
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::{FutureExt, Shared, WeakShared};
use grantline::fleet::{
    Action, FleetConfig, FleetNext, FleetSession, FleetStats, StoreOp, StoreReply,
};
use grantline::{AccessToken, Completion, Error, Next, Renewed, TokenSession, TokenSet};

/// A boxed, `Send` future (what the send function and the spawner deal in).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The renewal every waiting task polls: the exchange, then the core's bookkeeping.
type Renewal = Shared<BoxFuture<()>>;

type SendFn = dyn Fn(http::Request<Vec<u8>>) -> BoxFuture<Result<http::Response<Vec<u8>>, String>>
    + Send
    + Sync;
type StoreFn = dyn Fn(StoreOp) -> BoxFuture<Result<StoreReply, String>> + Send + Sync;
/// Milliseconds since the Unix epoch.
type Clock = dyn Fn() -> u64 + Send + Sync;
type OnTokens = dyn Fn(&Renewed) + Send + Sync;
type OnFailure = dyn Fn(&Error) + Send + Sync;
type Spawn = dyn Fn(BoxFuture<()>) + Send + Sync;

/// Milliseconds since the Unix epoch, from the system clock (0 before 1970).
fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Configures an [`AsyncTokenSession`]: [`AsyncTokenSession::builder`], then
/// [`Builder::build`].
pub struct Builder {
    session: TokenSession,
    send: Arc<SendFn>,
    clock: Arc<Clock>,
    fleet: Option<(FleetConfig, Arc<StoreFn>)>,
    on_tokens: Option<Arc<OnTokens>>,
    on_failure: Option<Arc<OnFailure>>,
    spawn: Option<Arc<Spawn>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The clock, in seconds since the Unix epoch (default: the system clock). For tests, and
    /// for platforms whose clock is not `SystemTime`.
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(move || now().saturating_mul(1000));
        self
    }

    /// The clock in milliseconds since the Unix epoch (the fleet's leases and waits count in
    /// milliseconds; [`Builder::clock`] gives whole seconds).
    #[must_use]
    pub fn clock_ms(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now_ms);
        self
    }

    /// Shares the token with every process that uses the same store and [`FleetConfig`] name
    /// (see [`grantline::fleet`]): the session then drives a [`FleetSession`], and `store`
    /// executes its operations (e.g. `grantline_redis::AsyncRedisStore::execute`). A cached
    /// token still costs no store call.
    ///
    /// `store` must answer every operation or fail within a deadline (a hung store is a
    /// failure, and the session falls back as the core decides), and a `Watch` must return by
    /// its `timeout_ms`. Renewals through the store are never cancelled midway: when every task
    /// awaiting one is dropped, it goes on in the [spawner](Builder::spawn), or with the next
    /// task that asks.
    #[must_use]
    pub fn fleet<F, Fut, E>(mut self, config: FleetConfig, store: F) -> Self
    where
        F: Fn(StoreOp) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StoreReply, E>> + Send + 'static,
        E: fmt::Display,
    {
        let store: Arc<StoreFn> = Arc::new(move |op| {
            let call = store(op);
            Box::pin(async move { call.await.map_err(|e| e.to_string()) })
        });
        self.fleet = Some((config, store));
        self
    }

    /// Called with every token set to persist (in renewal order, once per renewal), before any
    /// waiting task gets its access token. When
    /// [`Renewed::refresh_token_rotated`] is `true`, only the new set keeps access: store it.
    ///
    /// It runs on the task that completes the renewal, with no lock held: it may call the
    /// session back. It should not block for long (a blocking write stalls that task's executor
    /// thread); hand the set to a channel if storing it is slow.
    #[must_use]
    pub fn on_tokens(mut self, f: impl Fn(&Renewed) + Send + Sync + 'static) -> Self {
        self.on_tokens = Some(Arc::new(f));
        self
    }

    /// Called with every failed renewal's error (for logs and metrics), including the ones no
    /// caller sees because a valid token was left. It carries no secret.
    #[must_use]
    pub fn on_failure(mut self, f: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(f));
        self
    }

    /// Lets the session run renewals in the background: `spawn` runs a future on your executor
    /// (e.g. `|f| { tokio::spawn(f); }`). It is used for renewals ahead of expiry (the task that
    /// triggers one then gets the current token at once, like every other task; without a
    /// spawner, that task performs the renewal and gets the new token) and for a refresh whose
    /// every waiting task was cancelled (it finishes, and its token set reaches
    /// [`Builder::on_tokens`]; without a spawner, the next task to wait drives it).
    #[must_use]
    pub fn spawn(mut self, spawn: impl Fn(BoxFuture<()>) + Send + Sync + 'static) -> Self {
        self.spawn = Some(Arc::new(spawn));
        self
    }

    /// The session.
    #[must_use]
    pub fn build(self) -> AsyncTokenSession {
        let (machine, store) = match self.fleet {
            Some((config, store)) => (
                Machine::Fleet(FleetSession::new(self.session, config)),
                Some(store),
            ),
            None => (Machine::Local(self.session), None),
        };
        AsyncTokenSession {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    machine,
                    renewal: None,
                }),
                send: self.send,
                store,
                clock: self.clock,
                on_tokens: self.on_tokens,
                on_failure: self.on_failure,
                spawn: self.spawn,
            }),
        }
    }
}

/// A [`TokenSession`] shared by many tasks: see the [crate documentation](crate). Cloning it is
/// cheap and every clone shares the one session.
#[derive(Clone)]
pub struct AsyncTokenSession {
    inner: Arc<Inner>,
}

impl fmt::Debug for AsyncTokenSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("AsyncTokenSession")
            .field("session", state.machine.session())
            .field("renewal", &state.renewal.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}

struct Inner {
    state: Mutex<State>,
    send: Arc<SendFn>,
    store: Option<Arc<StoreFn>>,
    clock: Arc<Clock>,
    on_tokens: Option<Arc<OnTokens>>,
    on_failure: Option<Arc<OnFailure>>,
    spawn: Option<Arc<Spawn>>,
}

struct State {
    machine: Machine,
    /// The renewal in flight or being delivered, and a handle on its future.
    renewal: Option<(u64, Handle)>,
}

/// The sans-IO machine the session drives: a process-local [`TokenSession`], or a
/// [`FleetSession`] shared over a store.
// One per session, never moved after `build`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Machine {
    Local(TokenSession),
    Fleet(FleetSession),
}

/// One decision of either machine (returned by value, never stored).
#[allow(clippy::large_enum_variant)]
enum Decision {
    Ready(AccessToken),
    Wait(u64),
    /// Perform renewal `id`, starting with `work`.
    Perform(u64, Work, Option<AccessToken>),
}

/// The next piece of a renewal.
enum Work {
    /// A local renewal's one request.
    Send(http::Request<Vec<u8>>),
    /// A fleet renewal's next action.
    Fleet(Action),
}

impl Machine {
    fn session(&self) -> &TokenSession {
        match self {
            Machine::Local(s) => s,
            Machine::Fleet(f) => f.session(),
        }
    }

    fn session_mut(&mut self) -> &mut TokenSession {
        match self {
            Machine::Local(s) => s,
            Machine::Fleet(f) => f.session_mut(),
        }
    }

    fn decision(next: Next) -> Decision {
        match next {
            Next::Ready(t) => Decision::Ready(t),
            Next::Wait { id } => Decision::Wait(id),
            Next::Send {
                id,
                request,
                current,
            } => Decision::Perform(id, Work::Send(*request), current),
        }
    }

    fn fleet_decision(next: FleetNext) -> Decision {
        match next {
            FleetNext::Ready(t) => Decision::Ready(t),
            FleetNext::Wait { id } => Decision::Wait(id),
            FleetNext::Perform {
                id,
                action,
                current,
            } => Decision::Perform(id, Work::Fleet(action), current),
        }
    }

    fn next(&mut self, now_ms: u64) -> Result<Decision, Error> {
        match self {
            Machine::Local(s) => s.next(now_ms / 1000).map(Self::decision),
            Machine::Fleet(f) => f.next(now_ms).map(Self::fleet_decision),
        }
    }

    fn waited(&mut self, id: u64, now_ms: u64) -> Result<Decision, Error> {
        match self {
            Machine::Local(s) => s.waited(id, now_ms / 1000).map(Self::decision),
            Machine::Fleet(f) => f.waited(id, now_ms).map(Self::fleet_decision),
        }
    }

    /// Whether renewal `id` must be carried to its end: a refresh, and every fleet renewal
    /// (its store steps and commit must not be cut midway).
    fn keep(&self, id: u64) -> bool {
        match self {
            Machine::Local(s) => !s.cancellable(id),
            Machine::Fleet(_) => true,
        }
    }

    fn reject(&mut self, access_token: &str) -> bool {
        match self {
            Machine::Local(s) => s.reject(access_token),
            Machine::Fleet(f) => f.reject(access_token),
        }
    }

    /// Forgets renewal `id` (completed, dropped or unwound) and its delivery.
    fn end(&mut self, id: u64) {
        match self {
            Machine::Local(s) => {
                s.abandon(id);
                s.delivered(id);
            }
            Machine::Fleet(f) => {
                f.forget(id);
                f.delivered(id);
            }
        }
    }
}

/// How the session holds a renewal's future.
enum Handle {
    /// A cancellable renewal: the tasks awaiting it own it, so that when the last of them is
    /// dropped, the exchange is dropped.
    Weak(WeakShared<BoxFuture<()>>),
    /// A refresh: kept until its answer, whoever drives it.
    Strong(Renewal),
}

impl Handle {
    fn live(&self) -> Option<Renewal> {
        match self {
            Handle::Weak(weak) => weak.upgrade(),
            Handle::Strong(renewal) => Some(renewal.clone()),
        }
    }
}

/// What a task does after one decision of the core.
enum Step {
    Ready(AccessToken),
    /// Await renewal `id`; `keep`: it must not be cancelled (a refresh).
    Await(u64, Renewal, bool),
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements (the core never panics midway); a panic in
        // another task's callback does not hold this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }
}

impl AsyncTokenSession {
    /// Configures a session that drives `session` and sends its renewals with `send`: an async
    /// function from a request to a response (any error type that can be displayed: its text
    /// becomes the failed renewal's reason, escaped and capped by the core). `send` must not
    /// follow redirects, and should decode `Content-Encoding` and enforce a deadline.
    pub fn builder<F, Fut, E>(session: TokenSession, send: F) -> Builder
    where
        F: Fn(http::Request<Vec<u8>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<http::Response<Vec<u8>>, E>> + Send + 'static,
        E: fmt::Display,
    {
        let send: Arc<SendFn> = Arc::new(move |request| {
            let exchange = send(request);
            Box::pin(async move { exchange.await.map_err(|e| e.to_string()) })
        });
        Builder {
            session,
            send,
            clock: Arc::new(system_now_ms),
            fleet: None,
            on_tokens: None,
            on_failure: None,
            spawn: None,
        }
    }

    /// [`AsyncTokenSession::builder`] with the defaults: system clock, no callbacks.
    pub fn new<F, Fut, E>(session: TokenSession, send: F) -> Self
    where
        F: Fn(http::Request<Vec<u8>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<http::Response<Vec<u8>>, E>> + Send + 'static,
        E: fmt::Display,
    {
        Self::builder(session, send).build()
    }

    /// A valid access token: the current one, or the one the renewal in flight brings. With a
    /// usable token this returns at once, without an exchange, even while a renewal runs.
    ///
    /// Cancel-safe: dropping the future never leaves a renewal half-done (see the
    /// [crate documentation](crate)).
    ///
    /// # Errors
    /// What the core decides: the renewal's failure when no usable token is left (every waiting
    /// task gets the same one; during the backoff that follows, callers get it at once),
    /// [`Error::ReauthorizationRequired`] when there is no way to renew, configuration errors.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        let mut step = self.step(|machine, now| machine.next(now))?;
        loop {
            match step {
                Step::Ready(token) => return Ok(token),
                Step::Await(id, renewal, keep) => {
                    let mut waiting = Waiting {
                        renewal: Some(renewal),
                        keep,
                        spawn: self.inner.spawn.as_deref(),
                    };
                    if let Some(renewal) = waiting.renewal.clone() {
                        renewal.await;
                    }
                    waiting.renewal = None;
                    step = self.step(|machine, now| machine.waited(id, now))?;
                }
            }
        }
    }

    /// The API refused `access_token` (a 401 for which [`grantline::bearer::needs_renewal`] is
    /// true): the next [`AsyncTokenSession::access_token`] renews, once however many tasks
    /// reject the same token. Returns whether it was the current token.
    pub fn reject(&self, access_token: &str) -> bool {
        self.inner.lock().machine.reject(access_token)
    }

    /// The current token set, if any (for diagnostics and persistence).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.inner.lock().machine.session().tokens().cloned()
    }

    /// The fleet's counters (store operations, token requests, takeovers...) when the session
    /// is shared through a store ([`Builder::fleet`]).
    pub fn fleet_stats(&self) -> Option<FleetStats> {
        match &self.inner.lock().machine {
            Machine::Fleet(f) => Some(f.stats()),
            Machine::Local(_) => None,
        }
    }

    /// The lease owner id of this process in the fleet ([`Builder::fleet`]), for logs.
    pub fn fleet_owner(&self) -> Option<String> {
        match &self.inner.lock().machine {
            Machine::Fleet(f) => Some(f.config().owner().to_owned()),
            Machine::Local(_) => None,
        }
    }

    /// Starts from this token set (restoring a persisted session): forgets any rejection,
    /// failure and backoff. In a fleet ([`Builder::fleet`]) it is the local copy only: the
    /// store's entry, when there is one, wins over it at the next renewal.
    pub fn restore(&self, tokens: TokenSet) {
        match &mut self.inner.lock().machine {
            Machine::Local(s) => *s = s.clone().with_tokens(tokens),
            Machine::Fleet(f) => f.restore(tokens),
        }
    }

    /// Runs `f` on the sans-IO session under the session's lock (for the getters, e.g.
    /// `failures()`, `retry_at()`, `ready_until()`, and for `with_tokens`-style changes). `f` must
    /// not call this session back (the lock is not reentrant).
    pub fn with_session<R>(&self, f: impl FnOnce(&mut TokenSession) -> R) -> R {
        f(self.inner.lock().machine.session_mut())
    }

    /// One decision of the core, taken under the lock, and what the task does about it. A
    /// renewal to perform starts its future here, under the same lock, so a task told `Wait`
    /// always finds the future to await.
    fn step(
        &self,
        decide: impl FnOnce(&mut Machine, u64) -> Result<Decision, Error>,
    ) -> Result<Step, Error> {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let mut next = decide(&mut state.machine, now)?;
        loop {
            return match next {
                Decision::Ready(token) => Ok(Step::Ready(token)),
                Decision::Perform(id, work, current) => {
                    let keep = state.machine.keep(id);
                    let renewal = self.start(&mut state, id, work, keep);
                    match (current, &self.inner.spawn) {
                        (Some(token), Some(spawn)) => {
                            drop(state);
                            spawn(Box::pin(renewal));
                            Ok(Step::Ready(token))
                        }
                        _ => Ok(Step::Await(id, renewal, keep)),
                    }
                }
                Decision::Wait(id) => {
                    let live = state
                        .renewal
                        .as_ref()
                        .filter(|(r, _)| *r == id)
                        .and_then(|(_, handle)| handle.live());
                    match live {
                        Some(renewal) => {
                            let keep = matches!(state.renewal, Some((_, Handle::Strong(_))));
                            Ok(Step::Await(id, renewal, keep))
                        }
                        None => {
                            // Its last task was dropped a moment ago and its future's drop has
                            // not taken the lock yet: finish its cleanup here (idempotent).
                            let gone = cleanup(&mut state, id);
                            next = state.machine.waited(id, now)?;
                            if gone.is_some() {
                                // Never dropped under the lock (a handle's drop may take it).
                                drop(state);
                                drop(gone);
                                state = self.inner.lock();
                            }
                            continue;
                        }
                    }
                }
            };
        }
    }

    /// Creates renewal `id`'s future and records a handle on it (under the lock): weak for a
    /// renewal that may be cancelled, strong for one to `keep` (a refresh, a fleet renewal).
    fn start(&self, state: &mut State, id: u64, work: Work, keep: bool) -> Renewal {
        // The future holds the session weakly: a kept renewal held by the session must not keep
        // the session alive (a cycle) once every user of it is gone.
        let session = Arc::downgrade(&self.inner);
        // A local renewal's exchange starts now (as it always did); a fleet's steps run in turn.
        let first = match work {
            Work::Send(request) => First::Exchange((self.inner.send)(request)),
            Work::Fleet(action) => First::Action(action),
        };
        let future: BoxFuture<()> = Box::pin(async move {
            let mut guard = Guard {
                inner: session.clone(),
                id,
                done: false,
            };
            let completion = match first {
                First::Exchange(exchange) => {
                    let result = exchange.await;
                    let Some(inner) = session.upgrade() else {
                        guard.done = true;
                        return;
                    };
                    let now = inner.now();
                    let mut state = inner.lock();
                    let Machine::Local(s) = &mut state.machine else {
                        return;
                    };
                    match result {
                        Ok(response) => s.receive(id, &response, now / 1000),
                        Err(reason) => s.fail(id, reason, now / 1000),
                    }
                }
                First::Action(action) => run_fleet(&session, id, action).await,
            };
            let Some(inner) = session.upgrade() else {
                guard.done = true;
                return;
            };
            // `Err` only if `id` is no longer in flight (the session was reset under it by
            // `with_session`): nothing to deliver.
            if let Ok(completion) = completion {
                if let (Some(error), Some(on_failure)) = (&completion.error, &inner.on_failure) {
                    on_failure(error);
                }
                if let Some(renewed) = &completion.renewed {
                    if let Some(on_tokens) = &inner.on_tokens {
                        on_tokens(renewed);
                    }
                }
            }
            let gone = cleanup(&mut inner.lock(), id);
            guard.done = true;
            drop(gone);
        });
        let renewal = future.shared();
        state.renewal = if keep {
            Some((id, Handle::Strong(renewal.clone())))
        } else {
            renewal.downgrade().map(|weak| (id, Handle::Weak(weak)))
        };
        renewal
    }
}

/// How a renewal's future begins (moved once, into the future).
#[allow(clippy::large_enum_variant)]
enum First {
    Exchange(BoxFuture<Result<http::Response<Vec<u8>>, String>>),
    Action(Action),
}

/// Carries out a fleet renewal's actions until it is done: each store operation and token
/// request runs with the lock released, and its answer goes back to the core under the lock.
async fn run_fleet(
    session: &Weak<Inner>,
    id: u64,
    mut action: Action,
) -> Result<Completion, Error> {
    loop {
        let Some(inner) = session.upgrade() else {
            return Err(Error::UnexpectedResponse { id });
        };
        action = match action {
            Action::Done(completion) => return Ok(completion),
            Action::Store(op) => {
                let store = inner
                    .store
                    .clone()
                    .ok_or(Error::UnexpectedResponse { id })?;
                drop(inner);
                let result = store(op).await;
                let inner = session.upgrade().ok_or(Error::UnexpectedResponse { id })?;
                let now = inner.now();
                let mut state = inner.lock();
                let Machine::Fleet(f) = &mut state.machine else {
                    return Err(Error::UnexpectedResponse { id });
                };
                match result {
                    Ok(reply) => f.store_done(id, reply, now)?,
                    Err(reason) => f.store_failed(id, &reason, now)?,
                }
            }
            Action::Send(request) => {
                let exchange = (inner.send)(*request);
                drop(inner);
                let result = exchange.await;
                let inner = session.upgrade().ok_or(Error::UnexpectedResponse { id })?;
                let now = inner.now();
                let mut state = inner.lock();
                let Machine::Fleet(f) = &mut state.machine else {
                    return Err(Error::UnexpectedResponse { id });
                };
                match result {
                    Ok(response) => f.receive(id, &response, now)?,
                    Err(reason) => f.fail(id, &reason, now)?,
                }
            }
        };
    }
}

/// A task awaiting a renewal. Dropped before the renewal ends (the task was cancelled), as the
/// last task awaiting a renewal to keep (a refresh): hands it to the spawner, so that it
/// finishes in the background.
struct Waiting<'a> {
    renewal: Option<Renewal>,
    keep: bool,
    spawn: Option<&'a Spawn>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(renewal) = self.renewal.take() else {
            return;
        };
        // Ours and the session's: no other task drives it.
        if self.keep && renewal.strong_count() == Some(2) {
            if let Some(spawn) = self.spawn {
                spawn(Box::pin(renewal));
            }
        }
    }
}

/// Ends renewal `id`'s bookkeeping however its future ends: completed (its set delivered),
/// dropped before its answer (abandoned: the next task renews), or unwound by a panicking
/// callback (its set is in the session: delivered, so nothing waits forever). Returns the
/// session's handle on it, for the caller to drop once the lock is released.
#[must_use]
fn cleanup(state: &mut State, id: u64) -> Option<Handle> {
    state.machine.end(id);
    if state.renewal.as_ref().is_some_and(|(r, _)| *r == id) {
        state.renewal.take().map(|(_, handle)| handle)
    } else {
        None
    }
}

/// Runs [`cleanup`] when a renewal's future is dropped before it completes.
struct Guard {
    inner: Weak<Inner>,
    id: u64,
    done: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(inner) = self.inner.upgrade() {
            let gone = cleanup(&mut inner.lock(), self.id);
            drop(gone);
        }
    }
}
