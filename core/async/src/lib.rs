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
use grantline::{AccessToken, Error, Next, Renewed, TokenSession, TokenSet};

/// A boxed, `Send` future (what the send function and the spawner deal in).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The renewal every waiting task polls: the exchange, then the core's bookkeeping.
type Renewal = Shared<BoxFuture<()>>;

type SendFn = dyn Fn(http::Request<Vec<u8>>) -> BoxFuture<Result<http::Response<Vec<u8>>, String>>
    + Send
    + Sync;
type Clock = dyn Fn() -> u64 + Send + Sync;
type OnTokens = dyn Fn(&Renewed) + Send + Sync;
type OnFailure = dyn Fn(&Error) + Send + Sync;
type Spawn = dyn Fn(BoxFuture<()>) + Send + Sync;

/// Seconds since the Unix epoch, from the system clock (0 before 1970).
fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Configures an [`AsyncTokenSession`]: [`AsyncTokenSession::builder`], then
/// [`Builder::build`].
pub struct Builder {
    session: TokenSession,
    send: Arc<SendFn>,
    clock: Arc<Clock>,
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
        self.clock = Arc::new(now);
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
        AsyncTokenSession {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    session: self.session,
                    renewal: None,
                }),
                send: self.send,
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
            .field("session", &state.session)
            .field("renewal", &state.renewal.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}

struct Inner {
    state: Mutex<State>,
    send: Arc<SendFn>,
    clock: Arc<Clock>,
    on_tokens: Option<Arc<OnTokens>>,
    on_failure: Option<Arc<OnFailure>>,
    spawn: Option<Arc<Spawn>>,
}

struct State {
    session: TokenSession,
    /// The renewal in flight or being delivered, and a handle on its future.
    renewal: Option<(u64, Handle)>,
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
            clock: Arc::new(system_now),
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
        let mut step = self.step(|session, now| session.next(now))?;
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
                    step = self.step(|session, now| session.waited(id, now))?;
                }
            }
        }
    }

    /// The API refused `access_token` (a 401 for which [`grantline::bearer::needs_renewal`] is
    /// true): the next [`AsyncTokenSession::access_token`] renews, once however many tasks
    /// reject the same token. Returns whether it was the current token.
    pub fn reject(&self, access_token: &str) -> bool {
        self.inner.lock().session.reject(access_token)
    }

    /// The current token set, if any (for diagnostics and persistence).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.inner.lock().session.tokens().cloned()
    }

    /// Runs `f` on the sans-IO session under the session's lock (for the getters, e.g.
    /// `failures()`, `retry_at()`, `ready_until()`, and for `with_tokens`-style changes). `f` must
    /// not call this session back (the lock is not reentrant).
    pub fn with_session<R>(&self, f: impl FnOnce(&mut TokenSession) -> R) -> R {
        f(&mut self.inner.lock().session)
    }

    /// One decision of the core, taken under the lock, and what the task does about it. A
    /// `Send` starts the renewal future here, under the same lock, so a task told `Wait` always
    /// finds the future to await.
    fn step(
        &self,
        decide: impl FnOnce(&mut TokenSession, u64) -> Result<Next, Error>,
    ) -> Result<Step, Error> {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let mut next = decide(&mut state.session, now)?;
        loop {
            return match next {
                Next::Ready(token) => Ok(Step::Ready(token)),
                Next::Send {
                    id,
                    request,
                    current,
                } => {
                    let keep = !state.session.cancellable(id);
                    let renewal = self.start(&mut state, id, *request, keep);
                    match (current, &self.inner.spawn) {
                        (Some(token), Some(spawn)) => {
                            drop(state);
                            spawn(Box::pin(renewal));
                            Ok(Step::Ready(token))
                        }
                        _ => Ok(Step::Await(id, renewal, keep)),
                    }
                }
                Next::Wait { id } => {
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
                            next = state.session.waited(id, now)?;
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
    /// renewal that may be cancelled, strong for one to `keep` (a refresh).
    fn start(
        &self,
        state: &mut State,
        id: u64,
        request: http::Request<Vec<u8>>,
        keep: bool,
    ) -> Renewal {
        // The future holds the session weakly: a kept renewal held by the session must not keep
        // the session alive (a cycle) once every user of it is gone.
        let session = Arc::downgrade(&self.inner);
        let exchange = (self.inner.send)(request);
        let future: BoxFuture<()> = Box::pin(async move {
            let mut guard = Guard {
                inner: session.clone(),
                id,
                done: false,
            };
            let result = exchange.await;
            let Some(inner) = session.upgrade() else {
                guard.done = true;
                return;
            };
            let now = inner.now();
            let completion = {
                let mut state = inner.lock();
                match result {
                    Ok(response) => state.session.receive(id, &response, now),
                    Err(reason) => state.session.fail(id, reason, now),
                }
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
    state.session.abandon(id);
    state.session.delivered(id);
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
