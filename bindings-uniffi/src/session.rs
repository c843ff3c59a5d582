//! `NativeTokenSession`: a token kept fresh for many threads, one renewal at a time.
//!
//! The core's [`grantline::TokenSession`] decides everything (use the token, send this
//! renewal, wait for the one in flight; expiry, skew, rotation, backoff, `invalid_grant`); with
//! a [`FleetStore`], the core's [`grantline::fleet::FleetSession`] wraps it and also decides
//! every store operation (read the shared entry, take the lease, commit, watch). This object
//! only puts the machine ([`crate::machine::Machine`], either of the two) behind a mutex,
//! performs the HTTP exchanges and store operations it asks for with the lock released, hands
//! new token sets to the listener, and wakes the threads that wait on a condition variable.
//! Foreign code (the transport, the store, the listener) is never called with the lock held.
//!
//! The loop each caller runs, exactly as the core's `session` and `fleet` modules say:
//! - `Ready(token)`: return it. While another thread renews ahead of expiry, callers with a
//!   usable token get it at once: only callers without one wait. No store call.
//! - `Perform { id, action, .. }`: this thread performs the renewal (synchronously): each
//!   `Store` operation (on a thread of its own, with the config's deadline) answered with
//!   `store_done`/`store_failed`, each `Send` with `receive`/`fail`, until `Done`; it gives the
//!   token set to persist to the listener **first**, then calls `delivered(id)` (even when the
//!   listener threw), then wakes the waiters, then asks `waited(id)` like every waiter. Without
//!   a store, a renewal is one `Send`, then `Done`.
//! - `Wait { id }`: sleep until renewal `id` is over (delivered included), then `waited(id)`.
//!
//! The binding never retries on its own: it follows `next`/`waited`, and the core's backoff
//! keeps a failing server from being hammered.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use grantline::fleet::{Action, FleetNext};

use crate::client::Client;
use crate::error::GrantlineError;
use crate::fleet::{FleetConfig, FleetStats, FleetStore};
use crate::http::{HttpRequest, HttpResponse, HttpTransport};
use crate::machine::Machine;
use crate::num;
use crate::tokens::{token_set, Renewed, TokenSet};

/// Told about every token set a [`NativeTokenSession`] obtains, in renewal order: persist it
/// (when `refreshTokenRotated` is true, only the new set keeps access).
///
/// Called on the thread that performed the renewal, never with a grantline lock held, before
/// the threads waiting for that renewal are woken and before another renewal can start: a slow
/// save cannot let an older set overwrite a newer one. It may call the session back; a call
/// that would have to wait for the very renewal being delivered fails instead of deadlocking.
#[uniffi::export(with_foreign)]
pub trait TokenListener: Send + Sync {
    /// A renewal produced a token set to persist: a new one, or the current one with a
    /// rotated refresh token from an otherwise unusable answer, or the current one without its
    /// refresh token after `invalid_grant`.
    ///
    /// # Errors
    /// Whatever it throws is thrown from the session call that performed the renewal; the
    /// session keeps the new tokens and counts the set as delivered either way.
    fn on_tokens(&self, renewed: Renewed) -> Result<(), GrantlineError>;
}

/// An access token with a promise: `NativeTokenSession.access_token_lease` answers with this
/// token until `ready_until` (Unix seconds; `Long.MAX_VALUE`/`Int64.max` when the expiry is
/// unknown, 0 when there is no promise) unless the session is changed. Printing it shows no
/// token.
///
/// `ready_until` is the core's `ready_until()` (the renew-at deadline; during a renewal, the
/// current token's expiry), shortened to the next second while a renewal is in flight or being
/// delivered, so that a cache built on it picks up the renewed token promptly. The token stays
/// valid until then whatever the renewal does: only a rejection or new tokens (which a cache
/// must forget itself) end it sooner.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct TokenLease {
    /// The access token. Never log it.
    pub access_token: String,
    /// Until when it stays the answer.
    pub ready_until: i64,
}

impl fmt::Display for TokenLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenLease(access_token={}, ready_until={})",
            grantline::secret::REDACTED,
            self.ready_until
        )
    }
}

struct State {
    /// The core's machine: the token session, alone or shared over the store.
    session: Machine,
    /// The highest renewal id that is over (answer received and token set delivered): a thread
    /// told to wait for renewal `id` sleeps while this is below `id` (ids only grow).
    finished: u64,
    /// The renewal whose token set is with the listener now.
    delivering: Option<u64>,
    /// The body limit of API calls through [`NativeTokenSession::send`] (none: no limit).
    max_api_body: Option<u64>,
}

static SESSION_KEYS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The renewals this thread is delivering now (session key, renewal id): a listener that
    /// calls its session back must not wait for its own delivery.
    static DELIVERING: RefCell<Vec<(u64, u64)>> = const { RefCell::new(Vec::new()) };
}

/// A token kept fresh: `accessToken()` returns a valid access token, renewing it through the
/// client's transport when needed (client credentials, password, or refresh token), with
/// exactly one renewal in flight however many threads ask. Thread-safe; calls may block (the
/// thread that renews, and threads with no usable token while it does), so make them off the
/// main thread.
///
/// Kotlin's `TokenSession` is a hand-written class around it (`kotlin/grantline/TokenSession.kt`)
/// that keeps the token lease on the JVM side (each call into Rust costs microseconds over JNA);
/// Swift's `TokenSession` is a type alias of it (`swift/Sources/Grantline/TokenSession.swift`).
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct NativeTokenSession {
    state: Mutex<State>,
    renewed: Condvar,
    transport: Arc<dyn HttpTransport>,
    /// The client's whole-request deadline, for renewals and API calls.
    timeout: Option<Duration>,
    listener: Option<Arc<dyn TokenListener>>,
    /// The fleet's store and the deadline of each call to it.
    store: Option<(Arc<dyn FleetStore>, Duration)>,
    key: u64,
    clock: Clock,
}

/// Where the session reads the time: the system clock, or a test's.
#[derive(Clone)]
enum Clock {
    System,
    #[cfg(test)]
    Fake(Arc<AtomicU64>),
}

impl Clock {
    /// Unix milliseconds (a fake clock holds seconds).
    fn now_ms(&self) -> u64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            #[cfg(test)]
            Clock::Fake(t) => t.load(Ordering::SeqCst).saturating_mul(1000),
        }
    }

    /// Unix seconds.
    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
}

impl fmt::Display for NativeTokenSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        let s = state.session.session();
        write!(
            f,
            "NativeTokenSession(client_id={}, has_tokens={}, renewing={}, failures={}",
            s.client().client_id(),
            s.tokens().is_some(),
            s.renewing(),
            s.failures(),
        )?;
        match state.session.entry_key() {
            Some(entry) => write!(f, ", shared={entry})"),
            None => f.write_str(")"),
        }
    }
}

/// Where a renewal is, so that an unwinding thread still completes it (a waiter must never
/// sleep forever on a renewal nobody finishes).
enum Phase {
    Sending,
    Delivering,
    Over,
}

struct Flight<'a> {
    session: &'a NativeTokenSession,
    id: u64,
    phase: Phase,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut state = match self.phase {
            Phase::Over => return,
            _ => self.session.lock(),
        };
        match self.phase {
            // The thread performing it unwound (a panicking transport or store): nobody will
            // answer, and it is no fault of the server's, so no backoff: the next caller
            // renews. (In a fleet, a renewal past the point of no return is failed to its end.)
            Phase::Sending => {
                state.session.give_up(self.id);
            }
            _ => {
                state.session.delivered(self.id);
                state.delivering = None;
            }
        }
        self.session.finish(state, self.id);
    }
}

/// The store and its config, both or neither.
type Sharing = (Arc<dyn FleetStore>, Arc<FleetConfig>);

fn sharing(
    store: Option<Arc<dyn FleetStore>>,
    fleet: Option<Arc<FleetConfig>>,
) -> Result<Option<Sharing>, GrantlineError> {
    match (store, fleet) {
        (Some(store), Some(fleet)) => Ok(Some((store, fleet))),
        (None, None) => Ok(None),
        _ => Err(GrantlineError::invalid(
            "a shared session needs both a store and a fleet config (or neither)",
        )),
    }
}

impl NativeTokenSession {
    fn create(
        client: &Client,
        session: grantline::TokenSession,
        listener: Option<Arc<dyn TokenListener>>,
        store: Option<Arc<dyn FleetStore>>,
        fleet: Option<Arc<FleetConfig>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let shared = sharing(store, fleet)?;
        Self::create_with_clock(client, session, listener, shared, Clock::System)
    }

    fn create_with_clock(
        client: &Client,
        session: grantline::TokenSession,
        listener: Option<Arc<dyn TokenListener>>,
        shared: Option<Sharing>,
        clock: Clock,
    ) -> Result<Arc<Self>, GrantlineError> {
        let (session, store) = match shared {
            None => (Machine::local(session), None),
            Some((store, config)) => (
                Machine::fleet(grantline::fleet::FleetSession::new(
                    session,
                    config.for_session()?,
                )),
                Some((store, config.store_timeout)),
            ),
        };
        Ok(Arc::new(NativeTokenSession {
            state: Mutex::new(State {
                session,
                finished: 0,
                delivering: None,
                max_api_body: None,
            }),
            renewed: Condvar::new(),
            transport: client.transport()?.clone(),
            timeout: client.timeout,
            listener,
            store,
            key: SESSION_KEYS.fetch_add(1, Ordering::Relaxed),
            clock,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Renewal `id` is over: wake its waiters.
    fn finish(&self, mut state: MutexGuard<'_, State>, id: u64) {
        state.finished = state.finished.max(id);
        drop(state);
        self.renewed.notify_all();
    }

    /// Performs renewal `id` from `action` on, with the lock released during every exchange
    /// and store call; hands the outcome to the core, the token set to the listener, then
    /// wakes the waiters. `Err` only for what the listener threw (or a misuse the core
    /// reports).
    fn perform(&self, id: u64, mut action: Action) -> Result<(), GrantlineError> {
        let mut flight = Flight {
            session: self,
            id,
            phase: Phase::Sending,
        };
        let (mut state, completion) = loop {
            let step = match action {
                Action::Store(op) => {
                    let result = match &self.store {
                        Some((store, deadline)) => crate::fleet::execute(store, op, *deadline),
                        None => Err("no store".to_owned()),
                    };
                    let at = self.clock.now_ms();
                    let mut state = self.lock();
                    let step = state.session.stored(id, result, at);
                    (state, step)
                }
                Action::Send(request) => {
                    let result = self
                        .transport
                        .send(Arc::new(HttpRequest::endpoint(*request, self.timeout)));
                    let at = self.clock.now_ms();
                    let mut state = self.lock();
                    let step = match &result {
                        Ok(response) => match response.to_http() {
                            Ok(r) => state.session.receive(id, &r, at),
                            Err(e) => state.session.fail(id, &e.to_string(), at),
                        },
                        Err(GrantlineError::Transport { reason }) => {
                            state.session.fail(id, reason, at)
                        }
                        Err(other) => state.session.fail(id, &other.to_string(), at),
                    };
                    (state, step)
                }
                Action::Done(completion) => break (self.lock(), completion),
            };
            match step {
                (_, Ok(next)) => action = next,
                (mut state, Err(misuse)) => {
                    state.session.give_up(id);
                    flight.phase = Phase::Over;
                    self.finish(state, id);
                    return Err(misuse.into());
                }
            }
        };
        // The core's `Completion::error` is the renewal's own failure, for logs: callers learn
        // what reaches them from `waited`.
        let (Some(renewed), Some(listener)) = (completion.renewed, &self.listener) else {
            // Nothing to hand out, or nobody to hand it to.
            state.session.delivered(id);
            flight.phase = Phase::Over;
            self.finish(state, id);
            return Ok(());
        };
        state.delivering = Some(id);
        flight.phase = Phase::Delivering;
        drop(state);
        DELIVERING.with(|d| d.borrow_mut().push((self.key, id)));
        let outcome = listener.on_tokens(renewed.into());
        DELIVERING.with(|d| d.borrow_mut().retain(|&entry| entry != (self.key, id)));
        let mut state = self.lock();
        state.session.delivered(id);
        state.delivering = None;
        flight.phase = Phase::Over;
        self.finish(state, id);
        outcome
    }

    /// Whether this thread is delivering renewal `id` of this session (a listener calling back).
    fn delivering_here(&self, id: u64) -> bool {
        DELIVERING.with(|d| d.borrow().contains(&(self.key, id)))
    }

    /// The single-flight loop behind `access_token` and `access_token_lease`.
    fn lease(&self) -> Result<TokenLease, GrantlineError> {
        let mut listener_error = None;
        let mut state = self.lock();
        let mut step = state.session.next(self.clock.now_ms());
        loop {
            // An error means no usable token: that is what the caller must hear (the
            // listener's error, if any, was its own to report).
            match step? {
                FleetNext::Ready(token) => {
                    let ready_until = lease_deadline(&state, self.clock.now());
                    drop(state);
                    if let Some(e) = listener_error {
                        return Err(e);
                    }
                    return Ok(TokenLease {
                        access_token: token.secret().to_owned(),
                        ready_until: num::out(ready_until),
                    });
                }
                FleetNext::Perform { id, action, .. } => {
                    // Performed here, synchronously: callers with a usable token are not
                    // waiting for it (they get `Ready` meanwhile).
                    drop(state);
                    if let Err(e) = self.perform(id, action) {
                        listener_error.get_or_insert(e);
                    }
                    state = self.lock();
                    step = state.session.waited(id, self.clock.now_ms());
                }
                FleetNext::Wait { id } => {
                    if self.delivering_here(id) {
                        return Err(GrantlineError::invalid(
                            "the token listener asked its session for a token while that token set was being delivered to it: use the tokens passed to onTokens",
                        ));
                    }
                    while state.finished < id {
                        state = self
                            .renewed
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    step = state.session.waited(id, self.clock.now_ms());
                }
            }
        }
    }

    fn with_session(&self, f: impl FnOnce(grantline::TokenSession) -> grantline::TokenSession) {
        self.lock().session.change(f);
    }
}

/// The lease deadline: the core's `ready_until`, and while a renewal is in flight or being
/// delivered, no later than the next second (the core's deadline then is the current token's
/// expiry: right, but a cache kept that long would miss the renewed token and its renew-at).
fn lease_deadline(state: &State, now: u64) -> u64 {
    let until = state.session.ready_until().unwrap_or(0);
    if state.session.renewing() || state.delivering.is_some() {
        until.min(now.saturating_add(1))
    } else {
        until
    }
}

#[uniffi::export]
impl NativeTokenSession {
    /// A session that obtains and renews its token with the client credentials grant, through
    /// the client's transport.
    ///
    /// With `store` and `fleet` (both, or neither), the token is shared by every process that
    /// uses the same fleet name and keys (see [`FleetStore`]): one token request for the fleet
    /// per lifetime, a rotating refresh token never used twice. A cached token still costs no
    /// store call.
    ///
    /// # Errors
    /// `Configuration` when the client has no transport, or only one of `store` and `fleet`
    /// is given.
    #[uniffi::constructor(default(scopes = [], listener = None, store = None, fleet = None))]
    pub fn client_credentials(
        client: &Client,
        scopes: Vec<String>,
        listener: Option<Arc<dyn TokenListener>>,
        store: Option<Arc<dyn FleetStore>>,
        fleet: Option<Arc<FleetConfig>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session = grantline::TokenSession::client_credentials(client.inner.clone(), scopes);
        Self::create(client, session, listener, store, fleet)
    }

    /// A session that obtains its token with the password grant and renews it with the refresh
    /// token when there is one (else with the password again).
    ///
    /// With `store` and `fleet` (both, or neither), the token is shared by every process that
    /// uses the same fleet name and keys (see [`FleetStore`]): one token request for the fleet
    /// per lifetime, a rotating refresh token never used twice. A cached token still costs no
    /// store call.
    ///
    /// # Errors
    /// `Configuration` when the client has no transport, or only one of `store` and `fleet`
    /// is given.
    #[uniffi::constructor(default(scopes = [], listener = None, store = None, fleet = None))]
    pub fn password(
        client: &Client,
        username: String,
        password: String,
        scopes: Vec<String>,
        listener: Option<Arc<dyn TokenListener>>,
        store: Option<Arc<dyn FleetStore>>,
        fleet: Option<Arc<FleetConfig>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session = grantline::TokenSession::new(
            client.inner.clone(),
            grantline::SessionGrant::Password {
                username,
                password: grantline::Password::new(password),
                scopes,
            },
        );
        Self::create(client, session, listener, store, fleet)
    }

    /// A session over tokens from an authorization code or device flow (or restored from
    /// storage), renewed with the refresh token only; when that is gone, calls fail with
    /// `ReauthorizationRequired`.
    ///
    /// With `store` and `fleet` (both, or neither), the token is shared by every process that
    /// uses the same fleet name and keys (see [`FleetStore`]): one refresh for the fleet per
    /// lifetime, the rotating refresh token never used twice; a newer entry in the store wins
    /// over `tokens` at the first renewal. A cached token still costs no
    /// store call.
    ///
    /// # Errors
    /// `Configuration` when the client has no transport, or only one of `store` and `fleet`
    /// is given.
    #[uniffi::constructor(default(listener = None, store = None, fleet = None))]
    pub fn from_tokens(
        client: &Client,
        tokens: &TokenSet,
        listener: Option<Arc<dyn TokenListener>>,
        store: Option<Arc<dyn FleetStore>>,
        fleet: Option<Arc<FleetConfig>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session =
            grantline::TokenSession::from_tokens(client.inner.clone(), tokens.inner.clone());
        Self::create(client, session, listener, store, fleet)
    }

    /// A usable access token: the current one (also while another thread renews it ahead of
    /// expiry), or a new one after the renewal this call performs or waits for.
    ///
    /// # Errors
    /// Only when no usable token is left: the renewal's error (`OAuth`, `MalformedResponse`,
    /// `Transport`) for this call and every thread that waited on it, and during the backoff
    /// that follows; `ReauthorizationRequired`; `Configuration` (`unsupported_token_type` for
    /// a `DPoP`... token). And what the listener threw, from the call that performed the
    /// renewal.
    pub fn access_token(&self) -> Result<String, GrantlineError> {
        self.lease().map(|l| l.access_token)
    }

    /// [`NativeTokenSession::access_token`] with a promise attached: the token stays the
    /// answer until `ready_until` (Unix seconds) unless the session is changed (a rejection,
    /// restored tokens, a new skew). For bindings where each call into Rust is costly: the
    /// Kotlin `TokenSession` keeps the lease and answers from it until then.
    ///
    /// # Errors
    /// As [`NativeTokenSession::access_token`].
    pub fn access_token_lease(&self) -> Result<TokenLease, GrantlineError> {
        self.lease()
    }

    /// Sends an API request with `Authorization: Bearer <access_token>` through the session's
    /// transport: no renewal, no retry (the building block of a foreign `send`). The request's
    /// deadline, else the client's, applies; its body limit, else the session's API body limit
    /// ([`NativeTokenSession::set_max_api_body`]).
    ///
    /// # Errors
    /// `Configuration` when the token cannot be sent in a header; `MalformedResponse`
    /// (`malformed`) when the body exceeds the limit (never a silent cut); the transport's.
    pub fn send_with(
        &self,
        request: &HttpRequest,
        access_token: String,
    ) -> Result<HttpResponse, GrantlineError> {
        let limit = request.max_response_body.or(self.lock().max_api_body);
        let outgoing = with_bearer(request, &access_token, self.timeout, limit)?;
        within_limit(request, limit, self.transport.send(outgoing)?)
    }

    /// Sends an API request with `Authorization: Bearer <access token>` through the
    /// transport. When the API answers 401 `invalid_token` (or a bare 401), the token is
    /// rejected, renewed once (one renewal however many threads see the 401) and the request
    /// retried once; the retry's answer is returned whatever it is. The body limit and deadline
    /// are those of [`NativeTokenSession::send_with`].
    ///
    /// # Errors
    /// As [`NativeTokenSession::access_token`] and [`NativeTokenSession::send_with`].
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, GrantlineError> {
        let token = self.access_token()?;
        let response = self.send_with(request, token.clone())?;
        if !response.needs_renewal() {
            return Ok(response);
        }
        self.lock().session.reject(&token);
        let token = self.access_token()?;
        self.send_with(request, token)
    }

    /// The API refused `access_token` (401 `invalid_token`): the next call renews it. A token
    /// that is no longer the current one is ignored. Returns whether it was the current one.
    pub fn reject(&self, access_token: String) -> bool {
        self.lock().session.reject(&access_token)
    }

    /// The current token set, when there is one (to persist at shutdown, say).
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        self.lock()
            .session
            .session()
            .tokens()
            .cloned()
            .map(token_set)
    }

    /// Starts from this token set (restoring a persisted session). Forgets any rejection,
    /// failure and backoff.
    pub fn restore(&self, tokens: &TokenSet) {
        self.lock().session.restore(tokens.inner.clone());
    }

    /// Renews `seconds` before expiry (capped at half the token's lifetime; the provider's
    /// default otherwise; a negative margin counts as 0).
    pub fn set_skew(&self, seconds: i64) {
        let seconds = num::seconds(seconds);
        self.with_session(move |s| s.with_skew(seconds));
    }

    /// The body limit of API calls through [`NativeTokenSession::send`] and
    /// [`NativeTokenSession::send_with`], for requests that carry none: a larger body is an
    /// error, never cut silently. `null`/`nil` (the default): no limit.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a negative limit (pass `null`/`nil` for none).
    pub fn set_max_api_body(&self, bytes: Option<i64>) -> Result<(), GrantlineError> {
        self.lock().max_api_body = num::limit(bytes)?;
        Ok(())
    }

    /// The API body limit ([`NativeTokenSession::set_max_api_body`]).
    pub fn max_api_body(&self) -> Option<i64> {
        num::out_opt(self.lock().max_api_body)
    }

    /// Whether a renewal is in flight.
    pub fn renewing(&self) -> bool {
        self.lock().session.renewing()
    }

    /// How many renewals in a row have failed (0 after a success), for logs and metrics.
    pub fn failures(&self) -> i32 {
        num::count(self.lock().session.session().failures())
    }

    /// When the backoff after failed renewals ends (Unix seconds): no renewal is sent before
    /// then. `null`/`nil` after a success. For logs and metrics.
    pub fn retry_at(&self) -> Option<i64> {
        num::out_opt(self.lock().session.session().retry_at())
    }

    /// The fleet's counters (store round trips, token requests, adopted entries...);
    /// `null`/`nil` for a session without a store.
    pub fn fleet_stats(&self) -> Option<FleetStats> {
        self.lock().session.stats()
    }

    /// The store version of the local token set (0 before the store was read or written);
    /// `null`/`nil` for a session without a store.
    pub fn fleet_version(&self) -> Option<i64> {
        self.lock().session.version().map(num::out)
    }

    /// This session's lease owner id in the fleet; `null`/`nil` for a session without a store.
    pub fn fleet_owner(&self) -> Option<String> {
        self.lock().session.owner().map(str::to_owned)
    }
}

/// `response` to `request`, refused when its body is over `limit` (never cut silently).
pub(crate) fn within_limit(
    request: &HttpRequest,
    limit: Option<u64>,
    response: HttpResponse,
) -> Result<HttpResponse, GrantlineError> {
    match limit {
        Some(limit) if response.body.len() as u64 > limit => {
            Err(GrantlineError::MalformedResponse {
                kind: "malformed".into(),
                status: response.status,
                reason: format!(
                    "the response body from {} is larger than the limit of {limit} bytes set for it (setMaxApiBody, or the request's maxResponseBody)",
                    request.shown_url()
                ),
                excerpt: None,
            })
        }
        _ => Ok(response),
    }
}

/// `request` with `Authorization: Bearer <token>` (replacing any `Authorization`), the
/// deadline (its own, else `timeout`) and the body limit.
pub(crate) fn with_bearer(
    request: &HttpRequest,
    token: &str,
    timeout: Option<Duration>,
    limit: Option<u64>,
) -> Result<Arc<HttpRequest>, GrantlineError> {
    let value = grantline::bearer::authorization_header(&grantline::AccessToken::new(token))?;
    let mut r = request.inner.clone();
    r.headers_mut().insert(http::header::AUTHORIZATION, value);
    Ok(Arc::new(HttpRequest {
        inner: r,
        timeout: request.timeout.or(timeout),
        max_response_body: limit,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;

    use super::*;
    use crate::http::Header;
    use crate::provider::{Provider, ProviderBuilder};
    use crate::types::GrantType;

    const T0: u64 = 1_700_000_000;

    /// A token endpoint and an API. The token endpoint answers `answer(n)` for its n-th call
    /// (1-based) after `delay`; while `gate` is closed, token calls wait for it to open. The API
    /// answers 401 `invalid_token` to `Bearer access-1` and 200 with `api_body` otherwise.
    struct Server {
        token_calls: AtomicUsize,
        api_calls: AtomicUsize,
        answer: Box<dyn Fn(usize) -> Result<HttpResponse, GrantlineError> + Send + Sync>,
        delay: Duration,
        gate: Mutex<bool>,
        opened: Condvar,
        api_body: Vec<u8>,
        last_api_request: Mutex<Option<(Option<Duration>, Option<i64>)>>,
    }

    fn json(status: u16, body: String) -> Result<HttpResponse, GrantlineError> {
        Ok(HttpResponse {
            status: status.into(),
            headers: vec![Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: body.into_bytes(),
        })
    }

    /// `access-N` + `refresh-N`, valid for `lifetime` seconds.
    fn rotating(lifetime: u64) -> impl Fn(usize) -> Result<HttpResponse, GrantlineError> {
        move |n| {
            json(
                200,
                format!(
                    r#"{{"access_token":"access-{n}","refresh_token":"refresh-{n}","expires_in":{lifetime}}}"#
                ),
            )
        }
    }

    impl Server {
        fn new(
            answer: impl Fn(usize) -> Result<HttpResponse, GrantlineError> + Send + Sync + 'static,
        ) -> Arc<Self> {
            Arc::new(Server {
                token_calls: AtomicUsize::new(0),
                api_calls: AtomicUsize::new(0),
                answer: Box::new(answer),
                delay: Duration::from_millis(50),
                gate: Mutex::new(true),
                opened: Condvar::new(),
                api_body: b"{}".to_vec(),
                last_api_request: Mutex::new(None),
            })
        }

        fn tokens(&self) -> usize {
            self.token_calls.load(Ordering::SeqCst)
        }

        fn close_gate(&self) {
            *self.gate.lock().unwrap() = false;
        }

        fn open_gate(&self) {
            *self.gate.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    #[async_trait::async_trait]
    impl HttpTransport for Server {
        async fn send_async(
            &self,
            request: Arc<HttpRequest>,
        ) -> Result<HttpResponse, GrantlineError> {
            self.send(request)
        }
        fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
            if request.url().ends_with("/token") {
                assert_eq!(
                    request.max_response_body(),
                    Some(grantline::MAX_BODY as i64)
                );
                let n = self.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
                std::thread::sleep(self.delay);
                let mut open = self.gate.lock().unwrap();
                while !*open {
                    open = self.opened.wait(open).unwrap();
                }
                drop(open);
                return (self.answer)(n);
            }
            self.api_calls.fetch_add(1, Ordering::SeqCst);
            *self.last_api_request.lock().unwrap() =
                Some((request.timeout(), request.max_response_body()));
            let ok = request.header("authorization".into()).as_deref() != Some("Bearer access-1");
            Ok(HttpResponse {
                status: if ok { 200 } else { 401 },
                headers: vec![Header {
                    name: "www-authenticate".into(),
                    value: r#"Bearer error="invalid_token""#.into(),
                }],
                body: self.api_body.clone(),
            })
        }
    }

    /// Records what it is given; each call can be slowed down.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<(String, Option<String>, bool)>>,
        slow_first: Option<Duration>,
        in_call: AtomicUsize,
        overlapped: AtomicUsize,
    }

    impl TokenListener for Recorder {
        fn on_tokens(&self, renewed: Renewed) -> Result<(), GrantlineError> {
            if self.in_call.fetch_add(1, Ordering::SeqCst) > 0 {
                self.overlapped.fetch_add(1, Ordering::SeqCst);
            }
            let first = self.seen.lock().unwrap().is_empty();
            if let (true, Some(d)) = (first, self.slow_first) {
                std::thread::sleep(d);
            }
            self.seen.lock().unwrap().push((
                renewed.tokens.access_token(),
                renewed.tokens.refresh_token(),
                renewed.refresh_token_rotated,
            ));
            self.in_call.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn provider() -> Arc<Provider> {
        ProviderBuilder::new("test".into())
            .token_endpoint("http://127.0.0.1:9/token".into())
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::RefreshToken)
            .build()
            .unwrap()
    }

    fn client(server: &Arc<Server>) -> Arc<Client> {
        let transport: Arc<dyn HttpTransport> = server.clone();
        Client::new(
            &provider(),
            "id".into(),
            Some("s".into()),
            None,
            None,
            Some(transport),
            Some(Duration::from_secs(7)),
            None,
        )
    }

    /// A client credentials session on a fake clock at `T0`.
    fn session(
        server: &Arc<Server>,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> (Arc<NativeTokenSession>, Arc<AtomicU64>) {
        let clock = Arc::new(AtomicU64::new(T0));
        let c = client(server);
        let core = grantline::TokenSession::client_credentials(c.inner.clone(), vec![]);
        let s = NativeTokenSession::create_with_clock(
            &c,
            core,
            listener,
            None,
            Clock::Fake(clock.clone()),
        )
        .unwrap();
        (s, clock)
    }

    fn hammer(
        session: &Arc<NativeTokenSession>,
        threads: usize,
    ) -> Vec<Result<String, GrantlineError>> {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (s, b) = (session.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    s.access_token()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn many_threads_one_renewal_and_the_listener_hears_it_once() {
        let server = Server::new(rotating(3600));
        let listener = Arc::new(Recorder::default());
        let (session, _) = session(&server, Some(listener.clone()));
        let tokens = hammer(&session, 32);
        assert!(tokens.iter().all(|t| t.as_deref() == Ok("access-1")));
        assert_eq!(server.tokens(), 1);
        assert_eq!(
            *listener.seen.lock().unwrap(),
            [("access-1".to_owned(), Some("refresh-1".to_owned()), true)]
        );
        // A rejection renews once; the rotated refresh token reaches the listener.
        assert!(session.reject("access-1".into()));
        assert!(hammer(&session, 32)
            .iter()
            .all(|t| t.as_deref() == Ok("access-2")));
        assert_eq!(server.tokens(), 2);
        let seen = listener.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].2, "refresh-1 rotated to refresh-2");
        assert!(!session.renewing());
    }

    #[test]
    fn a_failed_renewal_without_a_token_reaches_every_waiter_and_backs_off() {
        let server = Server::new(|_| {
            Err(GrantlineError::Transport {
                reason: "connection refused".into(),
            })
        });
        let (session, clock) = session(&server, None);
        let results = hammer(&session, 8);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(GrantlineError::Transport { reason }) if reason == "connection refused")));
        assert_eq!(server.tokens(), 1);
        // During the backoff: the failure again, no request.
        assert!(session.access_token().is_err());
        assert_eq!(server.tokens(), 1);
        assert_eq!(session.failures(), 1);
        assert_eq!(session.retry_at(), Some(T0 as i64 + 1));
        // After it: one more try.
        clock.store(T0 + 1, Ordering::SeqCst);
        assert!(session.access_token().is_err());
        assert_eq!(server.tokens(), 2);
    }

    #[test]
    fn a_proactive_renewal_blocks_nobody_with_a_usable_token() {
        let server = Server::new(rotating(100));
        let listener = Arc::new(Recorder::default());
        let (session, clock) = session(&server, Some(listener.clone()));
        assert_eq!(session.access_token().unwrap(), "access-1");
        // Skew: 60 s capped at half the lifetime, 50 s: renew-at is T0 + 50.
        assert_eq!(
            session.access_token_lease().unwrap().ready_until,
            T0 as i64 + 50
        );
        clock.store(T0 + 60, Ordering::SeqCst);
        server.close_gate();
        let renewer = {
            let s = session.clone();
            std::thread::spawn(move || s.access_token())
        };
        while !session.renewing() {
            std::thread::yield_now();
        }
        // Others get the current token at once, with a lease no longer than the next second.
        for result in hammer(&session, 16) {
            assert_eq!(result.unwrap(), "access-1");
        }
        let lease = session.access_token_lease().unwrap();
        assert_eq!(lease.access_token, "access-1");
        assert_eq!(lease.ready_until, T0 as i64 + 61);
        server.open_gate();
        assert_eq!(renewer.join().unwrap().unwrap(), "access-2");
        assert_eq!(server.tokens(), 2);
        assert_eq!(session.access_token().unwrap(), "access-2");
        assert_eq!(
            session.access_token_lease().unwrap().ready_until,
            T0 as i64 + 110
        );
        assert_eq!(listener.seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_failed_proactive_renewal_reaches_no_caller() {
        let server = Server::new(|n| match n {
            1 => rotating(100)(1),
            _ => json(503, r#"{"error":"temporarily_unavailable"}"#.into()),
        });
        let (session, clock) = session(&server, None);
        assert_eq!(session.access_token().unwrap(), "access-1");
        clock.store(T0 + 60, Ordering::SeqCst);
        for result in hammer(&session, 8) {
            assert_eq!(result.unwrap(), "access-1", "the failure reaches nobody");
        }
        assert_eq!(server.tokens(), 2);
        // Backoff: still the current token, no request in the same second.
        assert_eq!(session.access_token().unwrap(), "access-1");
        assert_eq!(server.tokens(), 2);
        assert_eq!(session.failures(), 1);
    }

    #[test]
    fn token_sets_reach_a_slow_listener_in_renewal_order() {
        let server = Server::new(rotating(3600));
        let listener = Arc::new(Recorder {
            slow_first: Some(Duration::from_millis(300)),
            ..Recorder::default()
        });
        let (session, _) = session(&server, Some(listener.clone()));
        // Renewal 1 is being saved (slowly) when another thread is refused its token and
        // renews again: renewal 2 waits for the save, its set arrives second.
        let first = {
            let s = session.clone();
            std::thread::spawn(move || s.access_token())
        };
        while server.tokens() == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(150));
        let token = session.access_token().unwrap();
        assert_eq!(
            token, "access-1",
            "a usable token while its set is delivered"
        );
        assert!(session.reject(token));
        assert_eq!(session.access_token().unwrap(), "access-2");
        // The first thread, done delivering, may have performed renewal 2 itself.
        assert!(first.join().unwrap().is_ok());
        assert_eq!(server.tokens(), 2);
        let seen = listener.seen.lock().unwrap().clone();
        let order: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(order, ["access-1", "access-2"]);
        assert_eq!(listener.overlapped.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_listener_gets_the_rotation_flag() {
        // Renewal 2 answers without a refresh token: the old one is kept, not rotated.
        let server = Server::new(|n| match n {
            1 => rotating(3600)(1),
            _ => json(
                200,
                r#"{"access_token":"access-2","expires_in":3600}"#.into(),
            ),
        });
        let listener = Arc::new(Recorder::default());
        let (session, _) = session(&server, Some(listener.clone()));
        session.access_token().unwrap();
        session.reject("access-1".into());
        assert_eq!(session.access_token().unwrap(), "access-2");
        let seen = listener.seen.lock().unwrap().clone();
        assert!(seen[0].2);
        assert_eq!(
            seen[1],
            ("access-2".to_owned(), Some("refresh-1".to_owned()), false)
        );
    }

    #[test]
    fn a_token_expired_on_arrival_is_served_and_never_loops() {
        let server = Server::new(|n| {
            json(
                200,
                format!(r#"{{"access_token":"access-{n}","expires_in":0}}"#),
            )
        });
        let (session, clock) = session(&server, None);
        for _ in 0..5 {
            assert_eq!(session.access_token().unwrap(), "access-1");
        }
        assert_eq!(server.tokens(), 1);
        // After the backoff it starts: one renewal, served again.
        clock.store(T0 + 1, Ordering::SeqCst);
        for _ in 0..5 {
            assert_eq!(session.access_token().unwrap(), "access-2");
        }
        assert_eq!(server.tokens(), 2);
    }

    #[test]
    fn dpop_tokens_are_refused_without_a_loop() {
        let server = Server::new(|n| {
            json(
                200,
                format!(r#"{{"access_token":"access-{n}","token_type":"DPoP","expires_in":3600}}"#),
            )
        });
        let (session, _) = session(&server, None);
        for _ in 0..3 {
            assert!(matches!(
                session.access_token(),
                Err(GrantlineError::Configuration { ref kind, .. }) if kind == "unsupported_token_type"
            ));
        }
        assert_eq!(server.tokens(), 1);
    }

    #[test]
    fn a_listener_calling_its_session_back_does_not_deadlock() {
        struct CallsBack(Mutex<Option<Arc<NativeTokenSession>>>, Mutex<Vec<bool>>);
        impl TokenListener for CallsBack {
            fn on_tokens(&self, _: Renewed) -> Result<(), GrantlineError> {
                let s = self.0.lock().unwrap().clone().unwrap();
                self.1.lock().unwrap().push(s.access_token().is_ok());
                Ok(())
            }
        }
        let server = Server::new(rotating(3600));
        let listener = Arc::new(CallsBack(Mutex::new(None), Mutex::new(vec![])));
        let (session, _) = session(&server, Some(listener.clone()));
        *listener.0.lock().unwrap() = Some(session.clone());
        assert_eq!(session.access_token().unwrap(), "access-1");
        // The new token is usable while delivered: the listener gets it.
        assert_eq!(*listener.1.lock().unwrap(), [true]);
        *listener.0.lock().unwrap() = None;
    }

    #[test]
    fn send_renews_once_after_a_401_and_retries_once() {
        let server = Server::new(rotating(3600));
        let (session, _) = session(&server, None);
        let api = HttpRequest::new(
            "GET".into(),
            "http://127.0.0.1:9/api".into(),
            vec![],
            vec![],
            None,
            None,
        )
        .unwrap();
        let response = session.send(&api).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(server.tokens(), 2);
        assert_eq!(server.api_calls.load(Ordering::SeqCst), 2);
        assert_eq!(session.access_token().unwrap(), "access-2");
        // The client's deadline and no body limit, unless the request or session says otherwise.
        assert_eq!(
            *server.last_api_request.lock().unwrap(),
            Some((Some(Duration::from_secs(7)), None))
        );
    }

    #[test]
    fn api_bodies_over_the_limit_are_errors_never_cut() {
        let mut server = Server::new(rotating(3600));
        Arc::get_mut(&mut server).unwrap().api_body = vec![b'x'; 100];
        let (session, _) = session(&server, None);
        let api = HttpRequest::new(
            "GET".into(),
            "http://127.0.0.1:9/api?secret=x".into(),
            vec![],
            vec![],
            Some(Duration::from_secs(2)),
            None,
        )
        .unwrap();
        session.access_token().unwrap();
        session.reject("access-1".into());
        assert_eq!(session.send(&api).unwrap().body.len(), 100);
        session.set_max_api_body(Some(99)).unwrap();
        assert!(session.set_max_api_body(Some(-1)).is_err());
        assert_eq!(session.max_api_body(), Some(99));
        let e = session.send(&api).err().unwrap();
        assert!(
            matches!(&e, GrantlineError::MalformedResponse { kind, status: 200, reason, .. } if kind == "malformed" && reason.contains("http://127.0.0.1:9/api ") && !reason.contains("secret"))
        );
        assert_eq!(
            *server.last_api_request.lock().unwrap(),
            Some((Some(Duration::from_secs(2)), Some(99)))
        );
        // The request's own limit wins.
        let roomy = api.with_max_response_body(Some(100)).unwrap();
        assert_eq!(session.send(&roomy).unwrap().body.len(), 100);
    }

    #[test]
    fn a_throwing_listener_is_reported_and_the_tokens_are_kept() {
        struct Failing;
        impl TokenListener for Failing {
            fn on_tokens(&self, _: Renewed) -> Result<(), GrantlineError> {
                Err(GrantlineError::Transport {
                    reason: "disk full".into(),
                })
            }
        }
        let server = Server::new(rotating(3600));
        let (session, _) = session(&server, Some(Arc::new(Failing)));
        assert!(
            matches!(session.access_token(), Err(GrantlineError::Transport { reason }) if reason == "disk full")
        );
        assert_eq!(session.access_token().unwrap(), "access-1");
        assert!(!session.to_string().contains("access-1"));
        // Delivered anyway: the next renewal is not held back.
        session.reject("access-1".into());
        assert!(session.access_token().is_err());
        assert_eq!(session.access_token().unwrap(), "access-2");
    }

    #[test]
    fn a_lease_carries_the_cores_deadline_and_send_with_sends_as_told() {
        let server = Server::new(rotating(3600));
        let (session, _) = session(&server, None);
        let lease = session.access_token_lease().unwrap();
        assert_eq!(lease.access_token, "access-1");
        // expires_in 3600, the provider's default skew 60.
        assert_eq!(lease.ready_until, T0 as i64 + 3540);
        assert!(!lease.to_string().contains("access-1"));
        assert!(session.reject("access-1".into()));
        assert_eq!(
            session.access_token_lease().unwrap().access_token,
            "access-2"
        );
        let api = HttpRequest::new(
            "GET".into(),
            "http://127.0.0.1:9/api".into(),
            vec![],
            vec![],
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            session.send_with(&api, "access-1".into()).unwrap().status,
            401
        );
        assert_eq!(server.tokens(), 2, "no renewal");
    }

    #[test]
    fn a_client_without_transport_cannot_make_a_session() {
        let provider = Provider::bookable();
        let client = Client::new(&provider, "id".into(), None, None, None, None, None, None);
        assert!(matches!(
            NativeTokenSession::client_credentials(&client, vec![], None, None, None),
            Err(GrantlineError::Configuration { .. })
        ));
    }

    /// The entry, the lease (owner, expiry) and the last version announced.
    type MemoryState = (Option<String>, Option<(String, std::time::Instant)>, i64);

    /// A store in memory, atomic under one lock. `down`: every call fails.
    #[derive(Default)]
    struct Memory {
        state: Mutex<MemoryState>,
        announced: Condvar,
        down: std::sync::atomic::AtomicBool,
        calls: AtomicUsize,
    }

    impl Memory {
        fn check(&self) -> Result<(), GrantlineError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(GrantlineError::Store {
                    reason: "connection refused".into(),
                });
            }
            Ok(())
        }
    }

    impl FleetStore for Memory {
        fn read(&self, _: String) -> Result<Option<String>, GrantlineError> {
            self.check()?;
            Ok(self.state.lock().unwrap().0.clone())
        }
        fn acquire(
            &self,
            _: String,
            _: String,
            owner: String,
            ttl_ms: i64,
        ) -> Result<crate::fleet::AcquireReply, GrantlineError> {
            self.check()?;
            let mut s = self.state.lock().unwrap();
            let now = std::time::Instant::now();
            let free = match &s.1 {
                None => true,
                Some((o, until)) => *until <= now || *o == owner,
            };
            if free {
                s.1 = Some((owner, now + Duration::from_millis(ttl_ms as u64)));
            }
            let left =
                s.1.as_ref()
                    .map(|(_, u)| u.saturating_duration_since(now).as_millis() as i64);
            Ok(crate::fleet::AcquireReply {
                acquired: free,
                lease_ttl_ms: left,
                entry: s.0.clone(),
            })
        }
        fn commit(
            &self,
            _: String,
            _: String,
            owner: String,
            _: String,
            expected_version: i64,
            version: i64,
            entry: String,
        ) -> Result<bool, GrantlineError> {
            self.check()?;
            let mut s = self.state.lock().unwrap();
            let current = s.0.as_deref().map_or(0, |e| {
                serde_json::from_str::<serde_json::Value>(e).unwrap()["version"]
                    .as_i64()
                    .unwrap()
            });
            if s.1.as_ref().is_some_and(|(o, _)| *o == owner) {
                s.1 = None;
            }
            if current != expected_version {
                return Ok(false);
            }
            s.0 = Some(entry);
            s.2 = version;
            self.announced.notify_all();
            Ok(true)
        }
        fn release(&self, _: String, owner: String) -> Result<(), GrantlineError> {
            self.check()?;
            let mut s = self.state.lock().unwrap();
            if s.1.as_ref().is_some_and(|(o, _)| *o == owner) {
                s.1 = None;
            }
            Ok(())
        }
        fn watch(&self, _: String, version: i64, timeout_ms: i64) -> Result<(), GrantlineError> {
            self.check()?;
            let s = self.state.lock().unwrap();
            let _ = self
                .announced
                .wait_timeout_while(s, Duration::from_millis(timeout_ms as u64), |s| {
                    s.2 <= version
                })
                .unwrap();
            Ok(())
        }
    }

    fn shared(server: &Arc<Server>, store: &Arc<Memory>, refresh: bool) -> Arc<NativeTokenSession> {
        let key = crate::fleet::EntryKey::new("k1".into(), vec![7; 32]).unwrap();
        let config = FleetConfig::new(
            "test".into(),
            &crate::fleet::Protection::encrypted(&key, vec![]),
            Some(1000),
            None,
            false,
            Some(1000),
        )
        .unwrap();
        let c = client(server);
        let core = if refresh {
            let expired = grantline::TokenSet::new(
                grantline::AccessToken::new("access-0"),
                Some(grantline::RefreshToken::new("refresh-0")),
                Some(1),
                0,
            );
            grantline::TokenSession::from_tokens(c.inner.clone(), expired)
        } else {
            grantline::TokenSession::client_credentials(c.inner.clone(), vec![])
        };
        let store: Arc<dyn FleetStore> = store.clone();
        NativeTokenSession::create(&c, core, None, Some(store), Some(config)).unwrap()
    }

    #[test]
    fn sessions_sharing_a_store_make_one_token_request_and_cached_tokens_cost_no_store_call() {
        let server = Server::new(rotating(3600));
        let store = Arc::new(Memory::default());
        let sessions: Vec<_> = (0..4).map(|_| shared(&server, &store, false)).collect();
        let handles: Vec<_> = sessions
            .iter()
            .flat_map(|s| (0..4).map(move |_| s.clone()))
            .map(|s| std::thread::spawn(move || s.access_token()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), "access-1");
        }
        assert_eq!(server.tokens(), 1);
        let stats: Vec<FleetStats> = sessions.iter().map(|s| s.fleet_stats().unwrap()).collect();
        assert_eq!(stats.iter().map(|s| s.http_renewals).sum::<i64>(), 1);
        assert_eq!(stats.iter().map(|s| s.adopted).sum::<i64>(), 3);
        let calls = store.calls.load(Ordering::SeqCst);
        for s in &sessions {
            assert_eq!(s.access_token().unwrap(), "access-1");
            assert_eq!(s.fleet_version(), Some(1));
        }
        assert_eq!(
            store.calls.load(Ordering::SeqCst),
            calls,
            "cached: no store call"
        );
        assert!(sessions[0].to_string().contains("shared=grantline:{test}"));
    }

    #[test]
    fn a_store_down_falls_back_for_client_credentials_and_fails_a_refresh_with_store() {
        let server = Server::new(rotating(3600));
        let store = Arc::new(Memory::default());
        store.down.store(true, Ordering::SeqCst);
        let cc = shared(&server, &store, false);
        assert_eq!(cc.access_token().unwrap(), "access-1");
        assert_eq!(cc.fleet_stats().unwrap().fallback_renewals, 1);
        let refresh = shared(&server, &store, true);
        assert!(matches!(
            refresh.access_token(),
            Err(GrantlineError::Store { ref reason }) if reason == "connection refused"
        ));
        assert_eq!(server.tokens(), 1, "no refresh without the store");
        assert!(matches!(
            NativeTokenSession::client_credentials(
                &client(&server),
                vec![],
                None,
                Some(store.clone() as Arc<dyn FleetStore>),
                None
            ),
            Err(GrantlineError::Configuration { .. })
        ));
    }
}
