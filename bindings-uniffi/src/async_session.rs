//! `AsyncTokenSession`: a token kept fresh for many coroutines (Kotlin) or tasks (Swift), one
//! renewal at a time, without blocking a thread.
//!
//! It is [`grantline_async::AsyncTokenSession`] (the workspace's runtime-agnostic driver of the
//! core's session) with the foreign transport's `sendAsync` as its send function. uniffi drives
//! the Rust futures from the caller's coroutine or task; the renewal is one shared future that
//! every caller waiting for it polls. So:
//! - a thousand concurrent callers cause one token request; while a renewal ahead of expiry
//!   runs, callers with a usable token get it at once;
//! - cancelling a caller (its coroutine or task) drops its future: when other callers await the
//!   same renewal, they carry on driving it; when it was the last one, the renewal's future is
//!   dropped, which cancels the foreign `sendAsync` in flight (uniffi cancels its coroutine or
//!   task) and abandons the renewal in the core (no backoff: the next caller renews). A refresh
//!   is the exception (`grantline::TokenSession::cancellable`): the session keeps it, since its
//!   answer may carry a rotated refresh token, and the next caller that waits drives it to its
//!   end. A renewal is never left half-done.
//!
//! With a [`FleetStore`] and a [`FleetConfig`], the driver is `grantline-async`'s fleet mode: the
//! core's `FleetSession` decides, and each store operation runs on a thread of its own with the
//! config's deadline (the store interface is blocking; no coroutine or task thread waits on it).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::client::Client;
use crate::error::GrantlineError;
use crate::fleet::{FleetConfig, FleetStats, FleetStore};
use crate::http::{HttpRequest, HttpResponse, HttpTransport};
use crate::num;
use crate::session::{with_bearer, within_limit, TokenListener};
use crate::tokens::{token_set, TokenSet};

/// A token kept fresh, for coroutines and tasks: `accessToken()` (Kotlin `suspend`, Swift
/// `async`) returns a usable access token, renewing it through the client's transport
/// (`HttpTransport.sendAsync`) when needed, with exactly one renewal in flight however many
/// callers ask. No call blocks a thread. The blocking twin, for Java and plain threads, is
/// `TokenSession`.
///
/// Cancelling a caller never leaves a renewal half-done: the other callers waiting for it carry
/// it on; if none is left, the exchange is cancelled and the next caller renews (without the
/// backoff of a failure), except a refresh, which is carried to its answer (it may rotate the
/// refresh token). Every new token set reaches the [`TokenListener`] in renewal order,
/// before the callers waiting for it get its token; the listener runs inside that renewal (on the
/// coroutine or task that completes it), so it must not wait for a token of this session. Printing
/// the session shows no token.
///
/// With a [`FleetStore`] and a [`FleetConfig`] (both or neither), the token is shared by every
/// process that uses the same fleet name and keys, as `TokenSession`'s is: one token request
/// per lifetime for the fleet, a cached token with no store call. Renewals through the store are
/// never cancelled midway (a cancelled caller leaves them to the next one).
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct AsyncTokenSession {
    inner: grantline_async::AsyncTokenSession,
    transport: Arc<dyn HttpTransport>,
    /// The client's whole-request deadline, for API calls (renewals carry it already).
    timeout: Option<Duration>,
    client_id: String,
    /// The body limit of API calls through [`AsyncTokenSession::send`] (none: no limit).
    max_api_body: Mutex<Option<u64>>,
    /// What the listener last threw, to be thrown once by the next call that completes.
    listener_error: Arc<Mutex<Option<GrantlineError>>>,
}

impl fmt::Display for AsyncTokenSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (has_tokens, renewing, failures) = self
            .inner
            .with_session(|s| (s.tokens().is_some(), s.renewing(), s.failures()));
        write!(
            f,
            "AsyncTokenSession(client_id={}, has_tokens={has_tokens}, renewing={renewing}, failures={failures})",
            self.client_id,
        )
    }
}

/// The reason a failed exchange gives the core (a `Transport` error's own words).
fn reason(e: GrantlineError) -> String {
    match e {
        GrantlineError::Transport { reason } => reason,
        other => other.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AsyncTokenSession {
    fn create(
        client: &Client,
        session: grantline::TokenSession,
        listener: Option<Arc<dyn TokenListener>>,
        store: Option<Arc<dyn FleetStore>>,
        fleet: Option<Arc<FleetConfig>>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let transport = client.transport()?.clone();
        let timeout = client.timeout;
        let sender = transport.clone();
        let send = move |request: http::Request<Vec<u8>>| {
            let transport = sender.clone();
            async move {
                let outgoing = Arc::new(HttpRequest::endpoint(request, timeout));
                let response = transport.send_async(outgoing).await.map_err(reason)?;
                response.into_http().map_err(reason)
            }
        };
        let listener_error = Arc::new(Mutex::new(None));
        let mut builder = grantline_async::AsyncTokenSession::builder(session, send);
        match (store, fleet) {
            (Some(store), Some(fleet)) => {
                let deadline = fleet.store_timeout;
                builder = builder.fleet(fleet.for_session()?, move |op| {
                    crate::fleet::execute_async(store.clone(), op, deadline)
                });
            }
            (None, None) => {}
            _ => {
                return Err(GrantlineError::invalid(
                    "a shared session needs both a store and a fleet config (or neither)",
                ))
            }
        }
        if let Some(listener) = listener {
            let slot = listener_error.clone();
            builder = builder.on_tokens(move |renewed: &grantline::Renewed| {
                if let Err(e) = listener.on_tokens(renewed.clone().into()) {
                    *lock(&slot) = Some(e);
                }
            });
        }
        Ok(Arc::new(AsyncTokenSession {
            inner: builder.build(),
            transport,
            timeout,
            client_id: client.inner.client_id().to_owned(),
            max_api_body: Mutex::new(None),
            listener_error,
        }))
    }

    /// The listener's error, once, if it threw since the last call that reported it.
    fn listener_failed(&self) -> Result<(), GrantlineError> {
        match lock(&self.listener_error).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[uniffi::export]
impl AsyncTokenSession {
    /// A session that obtains and renews its token with the client credentials grant, through
    /// the client's transport.
    ///
    /// With `store` and `fleet` (both, or neither), shared by the fleet (see [`FleetStore`]).
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
    /// With `store` and `fleet` (both, or neither), shared by the fleet (see [`FleetStore`]).
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
    /// With `store` and `fleet` (both, or neither), shared by the fleet (see [`FleetStore`]).
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

    /// A usable access token: the current one (also while a renewal ahead of expiry runs), or
    /// the one the renewal this call starts or waits for brings. Suspends; never blocks a
    /// thread. Cancelling it is safe (see the type's documentation).
    ///
    /// # Errors
    /// Only when no usable token is left: the renewal's error (`OAuth`, `MalformedResponse`,
    /// `Transport`), the same for every caller that waited for it and during the backoff that
    /// follows; `ReauthorizationRequired`; `Configuration` (`unsupported_token_type` for a
    /// `DPoP`... token). And, once, what the listener threw (the tokens are kept and count as
    /// delivered; the next call to complete reports it).
    pub async fn access_token(&self) -> Result<String, GrantlineError> {
        let token = self.inner.access_token().await;
        self.listener_failed()?;
        Ok(token?.secret().to_owned())
    }

    /// Sends an API request with `Authorization: Bearer <access_token>` through the transport's
    /// `sendAsync`: no renewal, no retry. The request's deadline, else the client's, applies;
    /// its body limit, else the session's API body limit ([`AsyncTokenSession::set_max_api_body`]).
    ///
    /// # Errors
    /// `Configuration` when the token cannot be sent in a header; `MalformedResponse`
    /// (`malformed`) when the body exceeds the limit (never a silent cut); the transport's.
    pub async fn send_with(
        &self,
        request: Arc<HttpRequest>,
        access_token: String,
    ) -> Result<HttpResponse, GrantlineError> {
        let limit = request.max_response_body.or(*lock(&self.max_api_body));
        let outgoing = with_bearer(&request, &access_token, self.timeout, limit)?;
        let response = self.transport.send_async(outgoing).await?;
        within_limit(&request, limit, response)
    }

    /// Sends an API request with `Authorization: Bearer <access token>`. When the API answers
    /// 401 `invalid_token` (or a bare 401), the token is rejected, renewed once (one renewal
    /// however many callers see the 401) and the request retried once; the retry's answer is
    /// returned whatever it is. Body limit and deadline as [`AsyncTokenSession::send_with`].
    ///
    /// # Errors
    /// As [`AsyncTokenSession::access_token`] and [`AsyncTokenSession::send_with`].
    pub async fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
        let token = self.access_token().await?;
        let response = self.send_with(request.clone(), token.clone()).await?;
        if !response.needs_renewal() {
            return Ok(response);
        }
        self.inner.reject(&token);
        let token = self.access_token().await?;
        self.send_with(request, token).await
    }

    /// The API refused `access_token` (401 `invalid_token`): the next call renews it. A token
    /// that is no longer the current one is ignored. Returns whether it was the current one.
    pub fn reject(&self, access_token: String) -> bool {
        self.inner.reject(&access_token)
    }

    /// The current token set, when there is one (to persist at shutdown, say).
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        self.inner.tokens().map(token_set)
    }

    /// Starts from this token set (restoring a persisted session). Forgets any rejection,
    /// failure and backoff.
    pub fn restore(&self, tokens: &TokenSet) {
        self.inner.restore(tokens.inner.clone());
    }

    /// Renews `seconds` before expiry (capped at half the token's lifetime; the provider's
    /// default otherwise; a negative margin counts as 0).
    pub fn set_skew(&self, seconds: i64) {
        let seconds = num::seconds(seconds);
        self.inner
            .with_session(|s| *s = s.clone().with_skew(seconds));
    }

    /// The body limit of API calls through [`AsyncTokenSession::send`] for requests that carry
    /// none: a larger body is an error, never cut silently. `null`/`nil` (the default): none.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a negative limit.
    pub fn set_max_api_body(&self, bytes: Option<i64>) -> Result<(), GrantlineError> {
        *lock(&self.max_api_body) = num::limit(bytes)?;
        Ok(())
    }

    /// The API body limit ([`AsyncTokenSession::set_max_api_body`]).
    pub fn max_api_body(&self) -> Option<i64> {
        num::out_opt(*lock(&self.max_api_body))
    }

    /// Whether a renewal is in flight.
    pub fn renewing(&self) -> bool {
        self.inner.with_session(|s| s.renewing())
    }

    /// How many renewals in a row have failed (0 after a success), for logs and metrics.
    pub fn failures(&self) -> i32 {
        num::count(self.inner.with_session(|s| s.failures()))
    }

    /// When the backoff after failed renewals ends (Unix seconds); `null`/`nil` after a
    /// success. For logs and metrics.
    pub fn retry_at(&self) -> Option<i64> {
        num::out_opt(self.inner.with_session(|s| s.retry_at()))
    }

    /// The fleet's counters (store round trips, token requests, adopted entries...);
    /// `null`/`nil` for a session without a store.
    pub fn fleet_stats(&self) -> Option<FleetStats> {
        self.inner.fleet_stats().map(Into::into)
    }

    /// This session's lease owner id in the fleet; `null`/`nil` for a session without a store.
    pub fn fleet_owner(&self) -> Option<String> {
        self.inner.fleet_owner()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::flows::block_on;
    use crate::http::Header;
    use crate::provider::ProviderBuilder;
    use crate::tokens::Renewed;
    use crate::types::GrantType;
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    /// A token endpoint (`tok-N`) whose `send_async` stays pending while `held`, noting when an
    /// exchange in flight is dropped; an API answering 401 to `tok-1` and 200 otherwise.
    #[derive(Default)]
    struct Endpoint {
        held: AtomicBool,
        tokens: AtomicUsize,
        dropped: AtomicUsize,
    }

    /// Counts a dropped exchange unless disarmed.
    struct Dropped<'a>(&'a AtomicUsize, bool);
    impl Drop for Dropped<'_> {
        fn drop(&mut self) {
            if self.1 {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[async_trait::async_trait]
    impl HttpTransport for Endpoint {
        fn send(&self, _: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
            panic!("the async session sends with send_async")
        }
        async fn send_async(
            &self,
            request: Arc<HttpRequest>,
        ) -> Result<HttpResponse, GrantlineError> {
            if !request.url().ends_with("/token") {
                let refused =
                    request.header("authorization".into()).as_deref() == Some("Bearer tok-1");
                return Ok(HttpResponse {
                    status: if refused { 401 } else { 200 },
                    headers: vec![Header {
                        name: "www-authenticate".into(),
                        value: r#"Bearer error="invalid_token""#.into(),
                    }],
                    body: b"api".to_vec(),
                });
            }
            let mut guard = Dropped(&self.dropped, true);
            std::future::poll_fn(|_| {
                if self.held.load(Ordering::SeqCst) {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            guard.1 = false;
            let n = self.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: format!(r#"{{"access_token":"tok-{n}","expires_in":3600}}"#).into_bytes(),
            })
        }
    }

    fn session(
        endpoint: &Arc<Endpoint>,
        listener: Option<Arc<dyn TokenListener>>,
    ) -> Arc<AsyncTokenSession> {
        let provider = ProviderBuilder::new("t".into())
            .token_endpoint("http://127.0.0.1:9/token".into())
            .grant(GrantType::ClientCredentials)
            .build()
            .unwrap();
        let transport: Arc<dyn HttpTransport> = endpoint.clone();
        let client = Client::new(
            &provider,
            "id".into(),
            Some("s".into()),
            None,
            None,
            Some(transport),
            None,
            None,
        );
        AsyncTokenSession::client_credentials(&client, vec![], listener, None, None).unwrap()
    }

    #[test]
    fn a_dropped_only_caller_cancels_the_exchange_and_the_next_caller_renews() {
        let endpoint = Arc::new(Endpoint::default());
        endpoint.held.store(true, Ordering::SeqCst);
        let s = session(&endpoint, None);
        {
            let mut call = Box::pin(s.access_token());
            let pending = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(pending.is_pending());
            assert!(s.renewing());
        }
        assert_eq!(
            endpoint.dropped.load(Ordering::SeqCst),
            1,
            "exchange dropped"
        );
        assert!(!s.renewing());
        assert_eq!(s.failures(), 0, "an abandoned renewal is no failure");
        endpoint.held.store(false, Ordering::SeqCst);
        assert_eq!(block_on(s.access_token()).unwrap(), "tok-1");
        assert!(!s.to_string().contains("tok-1"));
    }

    #[test]
    fn send_renews_once_after_a_401_and_a_throwing_listener_is_reported_once() {
        struct Failing;
        impl TokenListener for Failing {
            fn on_tokens(&self, _: Renewed) -> Result<(), GrantlineError> {
                Err(GrantlineError::Transport {
                    reason: "disk full".into(),
                })
            }
        }
        let endpoint = Arc::new(Endpoint::default());
        let s = session(&endpoint, Some(Arc::new(Failing)));
        assert!(matches!(
            block_on(s.access_token()),
            Err(GrantlineError::Transport { ref reason }) if reason == "disk full"
        ));
        assert_eq!(block_on(s.access_token()).unwrap(), "tok-1");
        let api = HttpRequest::new(
            "GET".into(),
            "http://127.0.0.1:9/api".into(),
            vec![],
            vec![],
            None,
            None,
        )
        .unwrap();
        // 401 to tok-1: one renewal (whose listener throws: reported by this call), one retry.
        assert!(block_on(s.send(api.clone())).is_err());
        assert_eq!(block_on(s.access_token()).unwrap(), "tok-2");
        let ok = block_on(s.send(api.clone())).unwrap();
        assert_eq!((ok.status, ok.body.as_slice()), (200, b"api".as_slice()));
        s.set_max_api_body(Some(2)).unwrap();
        assert!(matches!(
            block_on(s.send(api)),
            Err(GrantlineError::MalformedResponse { ref kind, .. }) if kind == "malformed"
        ));
        assert_eq!(endpoint.tokens.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn async_sessions_sharing_a_store_make_one_token_request() {
        let endpoint = Arc::new(Endpoint::default());
        let store = crate::fleet::memory_fleet_store();
        let key = crate::fleet::EntryKey::new("k1".into(), vec![7; 32]).unwrap();
        let config = FleetConfig::new(
            "async".into(),
            &crate::fleet::Protection::encrypted(&key, vec![]),
            None,
            None,
            false,
            None,
        )
        .unwrap();
        let provider = ProviderBuilder::new("t".into())
            .token_endpoint("http://127.0.0.1:9/token".into())
            .grant(GrantType::ClientCredentials)
            .build()
            .unwrap();
        let transport: Arc<dyn HttpTransport> = endpoint.clone();
        let client = Client::new(
            &provider,
            "id".into(),
            Some("s".into()),
            None,
            None,
            Some(transport),
            None,
            None,
        );
        let make = || {
            AsyncTokenSession::client_credentials(
                &client,
                vec![],
                None,
                Some(store.clone()),
                Some(config.clone()),
            )
            .unwrap()
        };
        let (a, b) = (make(), make());
        assert_eq!(block_on(a.access_token()).unwrap(), "tok-1");
        assert_eq!(block_on(b.access_token()).unwrap(), "tok-1");
        assert_eq!(endpoint.tokens.load(Ordering::SeqCst), 1);
        assert_eq!(a.fleet_stats().unwrap().http_renewals, 1);
        assert_eq!(b.fleet_stats().unwrap().adopted, 1);
        assert_ne!(a.fleet_owner(), b.fleet_owner());
        assert!(s_is_local(&session(&endpoint, None)));
    }

    fn s_is_local(s: &AsyncTokenSession) -> bool {
        s.fleet_stats().is_none() && s.fleet_owner().is_none()
    }
}
