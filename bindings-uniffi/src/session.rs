//! `NativeTokenSession`: a token kept fresh for many threads, one renewal at a time.
//!
//! The core's [`grantline::TokenSession`] decides everything (use the token, send this
//! renewal, wait for the one in flight; expiry, skew, rotation, `invalid_grant`); this object
//! only puts it behind a mutex, performs the HTTP exchange it asks for with the lock released,
//! and wakes the threads that wait on a condition variable. Foreign code (the transport, the
//! listener) is never called with the lock held.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::client::Client;
use crate::error::GrantlineError;
use crate::http::{header_map, now, HttpRequest, HttpResponse, HttpTransport};
use crate::tokens::{token_set, Renewed, TokenSet};

/// Told about every new token set a [`NativeTokenSession`] obtains, in the order they were obtained:
/// persist it (when `refreshTokenRotated` is true, only the new set keeps access).
///
/// Called on the thread of one of the callers, never with a grantline lock held; it may call
/// the session back.
#[uniffi::export(with_foreign)]
pub trait TokenListener: Send + Sync {
    /// A renewal completed.
    ///
    /// # Errors
    /// Whatever it throws is thrown from the session call that delivered it; the session
    /// keeps the new tokens either way.
    fn on_tokens(&self, renewed: Renewed) -> Result<(), GrantlineError>;
}

/// An access token with the core's promise: `NativeTokenSession.access_token_lease` answers with
/// this token until `ready_until` (Unix seconds; `u64::MAX` when the expiry is unknown, 0 when
/// there is no promise) unless the session is changed. Printing it shows no token.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct TokenLease {
    /// The access token. Never log it.
    pub access_token: String,
    /// Until when it stays the answer.
    pub ready_until: u64,
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
    session: grantline::TokenSession,
    /// How many renewals have completed: a waiter wakes when it changes.
    completed: u64,
    /// Renewals not yet handed to the listener, oldest first.
    undelivered: VecDeque<grantline::Renewed>,
    /// Whether a thread is handing them over (so they go out one at a time, in order).
    delivering: bool,
}

/// A token kept fresh: `accessToken()` returns a valid access token, renewing it through the
/// client's transport when needed (client credentials, password, or refresh token), with
/// exactly one renewal in flight however many threads ask. Thread-safe; calls block, so make
/// them off the main thread.
///
/// Named `NativeTokenSession` in every language: Kotlin's `NativeTokenSession` is a hand-written class around it
/// (`kotlin/grantline/NativeTokenSession.kt`) that keeps the core's lease of the token on the JVM side
/// (each call into Rust costs microseconds over JNA); Swift's `NativeTokenSession` is a type alias of
/// it (`swift/Sources/Grantline/NativeTokenSession.swift`).
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct NativeTokenSession {
    state: Mutex<State>,
    renewed: Condvar,
    transport: Arc<dyn HttpTransport>,
    listener: Option<Arc<dyn TokenListener>>,
}

impl fmt::Display for NativeTokenSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        write!(
            f,
            "NativeTokenSession(client_id={}, has_tokens={}, renewing={})",
            state.session.client().client_id(),
            state.session.tokens().is_some(),
            state.session.renewing()
        )
    }
}

impl NativeTokenSession {
    fn create(
        client: &Client,
        session: grantline::TokenSession,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(NativeTokenSession {
            state: Mutex::new(State {
                session,
                completed: 0,
                undelivered: VecDeque::new(),
                delivering: false,
            }),
            renewed: Condvar::new(),
            transport: client.transport()?.clone(),
            listener,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Performs renewal `id` with the lock released, hands the outcome to the core, wakes the
    /// waiters. Returns the new access token and the core's `ready_until`.
    fn renew(
        &self,
        id: u64,
        request: http::Request<Vec<u8>>,
    ) -> Result<TokenLease, GrantlineError> {
        let result = self.transport.send(Arc::new(HttpRequest::from(request)));
        let at = now();
        let mut state = self.lock();
        let outcome = match result {
            Ok(response) => match response.to_http() {
                Ok(r) => state
                    .session
                    .receive(id, &r, at)
                    .map_err(GrantlineError::from),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let outcome = match outcome {
            Ok(renewed) => Ok(renewed),
            Err(e) => {
                // The core has taken the flight back on receive(); only a response that never
                // reached it (transport failure, unusable status) still has to be failed.
                if state.session.renewing() {
                    let reason = match &e {
                        GrantlineError::Transport { reason } => reason.clone(),
                        other => other.to_string(),
                    };
                    let _ = state.session.fail(id, reason);
                }
                Err(e)
            }
        };
        state.completed = state.completed.wrapping_add(1);
        self.renewed.notify_all();
        let renewed = outcome?;
        let lease = TokenLease {
            access_token: renewed.tokens.access_token().secret().to_owned(),
            ready_until: state.session.ready_until().unwrap_or(0),
        };
        if self.listener.is_some() {
            state.undelivered.push_back(renewed);
        }
        drop(state);
        self.deliver()?;
        Ok(lease)
    }

    /// The single-flight loop behind `access_token` and `access_token_lease`.
    fn lease(&self) -> Result<TokenLease, GrantlineError> {
        let mut state = self.lock();
        let mut step = state.session.next(now());
        loop {
            match step? {
                grantline::Next::Ready(token) => {
                    let ready_until = state.session.ready_until().unwrap_or(0);
                    let pending = !state.undelivered.is_empty();
                    drop(state);
                    if pending {
                        self.deliver()?;
                    }
                    return Ok(TokenLease {
                        access_token: token.secret().to_owned(),
                        ready_until,
                    });
                }
                grantline::Next::Send { id, request } => {
                    drop(state);
                    return self.renew(id, *request);
                }
                grantline::Next::Wait { id } => {
                    let seen = state.completed;
                    while state.completed == seen {
                        state = self
                            .renewed
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    step = state.session.waited(id, now());
                }
            }
        }
    }

    /// Hands undelivered renewals to the listener, in order, one thread at a time, never with
    /// the lock held.
    fn deliver(&self) -> Result<(), GrantlineError> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        let mut first_error = None;
        let mut state = self.lock();
        if state.delivering {
            return Ok(()); // the thread delivering now will deliver ours too, in order
        }
        state.delivering = true;
        while let Some(renewed) = state.undelivered.pop_front() {
            drop(state);
            if let Err(e) = listener.on_tokens(renewed.into()) {
                first_error.get_or_insert(e);
            }
            state = self.lock();
        }
        state.delivering = false;
        drop(state);
        first_error.map_or(Ok(()), Err)
    }

    fn with_session(&self, f: impl FnOnce(grantline::TokenSession) -> grantline::TokenSession) {
        let mut state = self.lock();
        let current = state.session.clone();
        state.session = f(current);
    }
}

#[uniffi::export]
impl NativeTokenSession {
    /// A session that obtains and renews its token with the client credentials grant, through
    /// the client's transport.
    ///
    /// # Errors
    /// `Configuration` when the client has no transport.
    #[uniffi::constructor(default(scopes = [], listener = None))]
    pub fn client_credentials(
        client: &Client,
        scopes: Vec<String>,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session = grantline::TokenSession::client_credentials(client.inner.clone(), scopes);
        Self::create(client, session, listener)
    }

    /// A session that obtains its token with the password grant and renews it with the refresh
    /// token when there is one (else with the password again).
    ///
    /// # Errors
    /// `Configuration` when the client has no transport.
    #[uniffi::constructor(default(scopes = [], listener = None))]
    pub fn password(
        client: &Client,
        username: String,
        password: String,
        scopes: Vec<String>,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session = grantline::TokenSession::new(
            client.inner.clone(),
            grantline::SessionGrant::Password {
                username,
                password: grantline::Password::new(password),
                scopes,
            },
        );
        Self::create(client, session, listener)
    }

    /// A session over tokens from an authorization code or device flow (or restored from
    /// storage), renewed with the refresh token only; when that is gone, calls fail with
    /// `ReauthorizationRequired`.
    ///
    /// # Errors
    /// `Configuration` when the client has no transport.
    #[uniffi::constructor(default(listener = None))]
    pub fn from_tokens(
        client: &Client,
        tokens: &TokenSet,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let session =
            grantline::TokenSession::from_tokens(client.inner.clone(), tokens.inner.clone());
        Self::create(client, session, listener)
    }

    /// A valid access token: the current one, or a new one after the renewal this call or
    /// another thread's performs. Blocks during a renewal.
    ///
    /// # Errors
    /// The renewal's error (`OAuth`, `MalformedResponse`, `Transport`) for this call and every
    /// thread that waited on it; `ReauthorizationRequired`; `Configuration`; what the listener
    /// threw.
    pub fn access_token(&self) -> Result<String, GrantlineError> {
        self.lease().map(|l| l.access_token)
    }

    /// [`NativeTokenSession::access_token`] with the core's promise attached: the token stays the
    /// answer until `ready_until` (Unix seconds) unless the session is changed (a rejection,
    /// restored tokens, a new skew). For bindings where each call into Rust is costly: the
    /// Kotlin `NativeTokenSession` keeps the lease and answers from it until then.
    ///
    /// # Errors
    /// As [`NativeTokenSession::access_token`].
    pub fn access_token_lease(&self) -> Result<TokenLease, GrantlineError> {
        self.lease()
    }

    /// Sends an API request with `Authorization: Bearer <access_token>` through the session's
    /// transport: no renewal, no retry (the building block of a foreign `send`).
    ///
    /// # Errors
    /// `Configuration` when the token cannot be sent in a header; the transport's.
    pub fn send_with(
        &self,
        request: &HttpRequest,
        access_token: String,
    ) -> Result<HttpResponse, GrantlineError> {
        self.transport.send(with_bearer(request, &access_token)?)
    }

    /// Sends an API request with `Authorization: Bearer <access token>` through the
    /// transport. When the API answers 401 `invalid_token` (or a bare 401), the token is
    /// rejected, renewed once (one renewal however many threads see the 401) and the request
    /// retried once; the retry's answer is returned whatever it is.
    ///
    /// # Errors
    /// As [`NativeTokenSession::access_token`], and the transport's.
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse, GrantlineError> {
        let token = self.access_token()?;
        let response = self.transport.send(with_bearer(request, &token)?)?;
        if !grantline::bearer::needs_renewal(response.status, &header_map(&response.headers)) {
            return Ok(response);
        }
        self.lock().session.reject(&token);
        let token = self.access_token()?;
        self.transport.send(with_bearer(request, &token)?)
    }

    /// The API refused `access_token` (401 `invalid_token`): the next call renews it. A token
    /// that is no longer the current one is ignored. Returns whether it was the current one.
    pub fn reject(&self, access_token: String) -> bool {
        self.lock().session.reject(&access_token)
    }

    /// The current token set, when there is one (to persist at shutdown, say).
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        self.lock().session.tokens().cloned().map(token_set)
    }

    /// Starts from this token set (restoring a persisted session).
    pub fn restore(&self, tokens: &TokenSet) {
        let tokens = tokens.inner.clone();
        self.with_session(|s| s.with_tokens(tokens));
    }

    /// Renews `seconds` before expiry (capped at half the token's lifetime; the provider's
    /// default otherwise).
    pub fn set_skew(&self, seconds: u64) {
        self.with_session(|s| s.with_skew(seconds));
    }

    /// Whether a renewal is in flight.
    pub fn renewing(&self) -> bool {
        self.lock().session.renewing()
    }
}

/// `request` with `Authorization: Bearer <token>` (replacing any `Authorization`).
fn with_bearer(request: &HttpRequest, token: &str) -> Result<Arc<HttpRequest>, GrantlineError> {
    let value = grantline::bearer::authorization_header(&grantline::AccessToken::new(token))?;
    let mut r = request.inner.clone();
    r.headers_mut().insert(http::header::AUTHORIZATION, value);
    Ok(Arc::new(HttpRequest::from(r)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;
    use crate::http::Header;
    use crate::provider::Provider;

    /// A token endpoint that answers `access-N` (N = its call count), slowly, and an API that
    /// answers 401 `invalid_token` to `access-1` and 200 to anything else.
    struct Server {
        token_calls: AtomicUsize,
        api_calls: AtomicUsize,
        fail_tokens: bool,
    }

    impl Server {
        fn new(fail_tokens: bool) -> Arc<Self> {
            Arc::new(Server {
                token_calls: AtomicUsize::new(0),
                api_calls: AtomicUsize::new(0),
                fail_tokens,
            })
        }
    }

    impl HttpTransport for Server {
        fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
            if request.url().ends_with("/token") {
                let n = self.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
                // Long enough for the other threads to be waiting on this renewal.
                std::thread::sleep(Duration::from_millis(if self.fail_tokens {
                    300
                } else {
                    50
                }));
                if self.fail_tokens {
                    return Err(GrantlineError::Transport {
                        reason: "connection refused".into(),
                    });
                }
                let body = format!(
                    r#"{{"access_token":"access-{n}","refresh_token":"refresh-{n}","expires_in":3600}}"#
                );
                return Ok(HttpResponse {
                    status: 200,
                    headers: vec![],
                    body: body.into_bytes(),
                });
            }
            self.api_calls.fetch_add(1, Ordering::SeqCst);
            let ok = request.header("authorization".into()).as_deref() != Some("Bearer access-1");
            Ok(HttpResponse {
                status: if ok { 200 } else { 401 },
                headers: vec![Header {
                    name: "www-authenticate".into(),
                    value: r#"Bearer error="invalid_token""#.into(),
                }],
                body: vec![],
            })
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, bool)>>);

    impl TokenListener for Recorder {
        fn on_tokens(&self, renewed: Renewed) -> Result<(), GrantlineError> {
            self.0
                .lock()
                .unwrap()
                .push((renewed.tokens.access_token(), renewed.refresh_token_rotated));
            Ok(())
        }
    }

    fn client(server: &Arc<Server>) -> Arc<Client> {
        let provider = crate::provider::ProviderBuilder::new("test".into())
            .token_endpoint("http://127.0.0.1:9/token".into())
            .grant(crate::types::GrantType::ClientCredentials)
            .grant(crate::types::GrantType::RefreshToken)
            .build()
            .unwrap();
        let transport: Arc<dyn HttpTransport> = server.clone();
        Client::new(
            &provider,
            "id".into(),
            Some("s".into()),
            None,
            None,
            Some(transport),
        )
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
        let server = Server::new(false);
        let listener = Arc::new(Recorder::default());
        let session = NativeTokenSession::client_credentials(
            &client(&server),
            vec![],
            Some(listener.clone()),
        )
        .unwrap();
        let tokens = hammer(&session, 32);
        assert!(tokens.iter().all(|t| t.as_deref() == Ok("access-1")));
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 1);
        assert_eq!(*listener.0.lock().unwrap(), [("access-1".to_owned(), true)]);
        // A rejection renews once; the rotated refresh token reaches the listener.
        assert!(session.reject("access-1".into()));
        assert!(hammer(&session, 32)
            .iter()
            .all(|t| t.as_deref() == Ok("access-2")));
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
        assert_eq!(listener.0.lock().unwrap().len(), 2);
        assert!(
            listener.0.lock().unwrap()[1].1,
            "refresh-1 rotated to refresh-2"
        );
        assert!(!session.renewing());
    }

    #[test]
    fn a_failed_renewal_reaches_every_waiter_and_the_next_call_retries() {
        let server = Server::new(true);
        let session =
            NativeTokenSession::client_credentials(&client(&server), vec![], None).unwrap();
        let results = hammer(&session, 8);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(GrantlineError::Transport { reason }) if reason == "connection refused")));
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 1);
        assert!(session.access_token().is_err());
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn send_renews_once_after_a_401_and_retries_once() {
        let server = Server::new(false);
        let session =
            NativeTokenSession::client_credentials(&client(&server), vec![], None).unwrap();
        let api = HttpRequest::new(
            "GET".into(),
            "http://127.0.0.1:9/api".into(),
            vec![],
            vec![],
        )
        .unwrap();
        let response = session.send(&api).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
        assert_eq!(server.api_calls.load(Ordering::SeqCst), 2);
        assert_eq!(session.access_token().unwrap(), "access-2");
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
        let server = Server::new(false);
        let session = NativeTokenSession::client_credentials(
            &client(&server),
            vec![],
            Some(Arc::new(Failing)),
        )
        .unwrap();
        assert!(
            matches!(session.access_token(), Err(GrantlineError::Transport { reason }) if reason == "disk full")
        );
        assert_eq!(session.access_token().unwrap(), "access-1");
        assert!(!session.to_string().contains("access-1"));
    }

    #[test]
    fn a_lease_carries_the_cores_deadline_and_send_with_sends_as_told() {
        let server = Server::new(false);
        let session =
            NativeTokenSession::client_credentials(&client(&server), vec![], None).unwrap();
        let before = now();
        let lease = session.access_token_lease().unwrap();
        assert_eq!(lease.access_token, "access-1");
        // expires_in 3600, the provider's default skew 60.
        assert!((before + 3540..=now() + 3540).contains(&lease.ready_until));
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
        )
        .unwrap();
        assert_eq!(
            session.send_with(&api, "access-1".into()).unwrap().status,
            401
        );
        assert_eq!(server.token_calls.load(Ordering::SeqCst), 2, "no renewal");
    }

    #[test]
    fn a_client_without_transport_cannot_make_a_session() {
        let provider = Provider::bookable();
        let client = Client::new(&provider, "id".into(), None, None, None, None);
        assert!(matches!(
            NativeTokenSession::client_credentials(&client, vec![], None),
            Err(GrantlineError::Configuration { .. })
        ));
    }
}
