//! `SessionState`: the core's sans-IO token session ([`grantline::TokenSession`]) as it is, for
//! apps that drive it with their own HTTP and threading (coroutines, a `Task`, an actor), and
//! for the shared `session` test vectors. [`crate::NativeTokenSession`] is the same machine
//! driven for you.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::client::Client;
use crate::error::GrantlineError;
use crate::http::{HttpRequest, HttpResponse};
use crate::num;
use crate::tokens::{token_set, Renewed, TokenSet};

/// What the caller of a [`SessionState`] must do next. Printing it shows no token.
#[derive(Clone, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum Next {
    /// Use this access token (as `Authorization: Bearer`).
    Ready {
        /// The access token. Never log it.
        token: String,
    },
    /// Perform `request` (no redirects), then call `receive(id, response, now)`, or
    /// `fail(id, reason, now)` when it got no answer. `current` is the still-valid token during a
    /// renewal ahead of expiry: use it now if you like and let the renewal finish in the
    /// background; `null`/`nil` when there is no usable token.
    Send {
        /// The renewal's id.
        id: i64,
        /// The token request.
        request: Arc<HttpRequest>,
        /// The current, still usable access token, when there is one. Never log it.
        current: Option<String>,
    },
    /// Renewal `id` is in flight (or its token set is being delivered) and there is no usable
    /// token: when it is over, call `waited(id, now)`.
    Wait {
        /// The renewal to wait for.
        id: i64,
    },
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = grantline::secret::REDACTED;
        match self {
            Next::Ready { .. } => write!(f, "Ready(token={redacted})"),
            Next::Send {
                id,
                request,
                current,
            } => write!(
                f,
                "Send(id={id}, request={} {}, current={})",
                request.method(),
                request.shown_url(),
                if current.is_some() { redacted } else { "none" }
            ),
            Next::Wait { id } => write!(f, "Wait(id={id})"),
        }
    }
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<grantline::Next> for Next {
    fn from(n: grantline::Next) -> Self {
        match n {
            grantline::Next::Ready(token) => Next::Ready {
                token: token.secret().to_owned(),
            },
            grantline::Next::Send {
                id,
                request,
                current,
            } => Next::Send {
                id: num::out(id),
                request: crate::http::request(*request),
                current: current.map(|t| t.secret().to_owned()),
            },
            grantline::Next::Wait { id } => Next::Wait { id: num::out(id) },
        }
    }
}

/// What a completed renewal (`receive`, `fail`) leaves to do.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Completion {
    /// A token set to persist, when the renewal produced one (a new set; or after a failed
    /// answer that still rotated the refresh token, the current set with it; or after
    /// `invalid_grant`, the set without its dead refresh token). Hand it to storage, **then**
    /// call `delivered(id)` (even when storing failed): no other renewal starts before.
    pub renewed: Option<Renewed>,
    /// Why the renewal failed, when it did: for logs only. Callers learn from `waited(id, now)`
    /// whether it reaches them (only when no usable token is left).
    pub error: Option<GrantlineError>,
}

impl From<grantline::session::Completion> for Completion {
    fn from(c: grantline::session::Completion) -> Self {
        Completion {
            renewed: c.renewed.map(Into::into),
            error: c.error.map(Into::into),
        }
    }
}

/// The token lifecycle as a state machine, sans IO and clockless (`now` is Unix seconds):
/// exactly one renewal in flight, backoff after failures, token sets handed out in renewal
/// order. Thread-safe, but it never blocks: waiting is yours (see [`Next`]).
///
/// The loop: `next(now)` → `Ready`: use the token; `Send`: send the request, then
/// `receive`/`fail`, persist `renewed` if any and call `delivered(id)`, then `waited(id, now)`;
/// `Wait`: when renewal `id` is over, `waited(id, now)`. After an API answered 401
/// `invalid_token`, `reject(token)`.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct SessionState {
    inner: Mutex<grantline::TokenSession>,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        write!(
            f,
            "SessionState(client_id={}, has_tokens={}, renewing={}, failures={})",
            s.client().client_id(),
            s.tokens().is_some(),
            s.renewing(),
            s.failures()
        )
    }
}

impl SessionState {
    fn lock(&self) -> MutexGuard<'_, grantline::TokenSession> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wrap(session: grantline::TokenSession) -> Arc<Self> {
        Arc::new(SessionState {
            inner: Mutex::new(session),
        })
    }

    /// A copy of the machine (for `FleetState`).
    pub(crate) fn snapshot(&self) -> grantline::TokenSession {
        self.lock().clone()
    }

    fn change(&self, f: impl FnOnce(grantline::TokenSession) -> grantline::TokenSession) {
        let mut s = self.lock();
        let current = s.clone();
        *s = f(current);
    }
}

#[uniffi::export]
impl SessionState {
    /// A session renewing with the client credentials grant.
    #[uniffi::constructor(default(scopes = []))]
    pub fn client_credentials(client: &Client, scopes: Vec<String>) -> Arc<Self> {
        Self::wrap(grantline::TokenSession::client_credentials(
            client.inner.clone(),
            scopes,
        ))
    }

    /// A session that obtains its token with the password grant and renews it with the refresh
    /// token when there is one (else with the password again).
    #[uniffi::constructor(default(scopes = []))]
    pub fn password(
        client: &Client,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> Arc<Self> {
        Self::wrap(grantline::TokenSession::new(
            client.inner.clone(),
            grantline::SessionGrant::Password {
                username,
                password: grantline::Password::new(password),
                scopes,
            },
        ))
    }

    /// A session with no token yet that renews by refresh token only (give it tokens with
    /// [`SessionState::restore`]); without one, `ReauthorizationRequired`.
    #[uniffi::constructor]
    pub fn refresh_only(client: &Client) -> Arc<Self> {
        Self::wrap(grantline::TokenSession::new(
            client.inner.clone(),
            grantline::SessionGrant::RefreshOnly,
        ))
    }

    /// A session over these tokens, renewed by refresh token only.
    #[uniffi::constructor]
    pub fn from_tokens(client: &Client, tokens: &TokenSet) -> Arc<Self> {
        Self::wrap(grantline::TokenSession::from_tokens(
            client.inner.clone(),
            tokens.inner.clone(),
        ))
    }

    /// Starts from this token set (restoring a persisted session). Forgets any rejection,
    /// failure and backoff.
    pub fn restore(&self, tokens: &TokenSet) {
        let tokens = tokens.inner.clone();
        self.change(|s| s.with_tokens(tokens));
    }

    /// Renews `seconds` before expiry (capped at half the token's lifetime; a negative margin
    /// counts as 0).
    pub fn set_skew(&self, seconds: i64) {
        let seconds = num::seconds(seconds);
        self.change(|s| s.with_skew(seconds));
    }

    /// What to do at `now`.
    ///
    /// # Errors
    /// Only when no usable token exists: the last renewal's error during its backoff;
    /// `ReauthorizationRequired`; `Configuration` (`unsupported_token_type`, building the
    /// request: `unsupported_grant`, `missing_endpoint`, `unsupported_auth_method`).
    pub fn next(&self, now: i64) -> Result<Next, GrantlineError> {
        Ok(self.lock().next(num::seconds(now))?.into())
    }

    /// For a caller told `Wait` on `id` (or that sent renewal `id`), once it is over.
    ///
    /// # Errors
    /// The failed renewal's error when no usable token is left; as [`SessionState::next`].
    pub fn waited(&self, id: i64, now: i64) -> Result<Next, GrantlineError> {
        Ok(self.lock().waited(num::id(id), num::seconds(now))?.into())
    }

    /// The answer to renewal `id`, received at `now`.
    ///
    /// # Errors
    /// Only `Configuration` (`unexpected_response`) when `id` is not the renewal in flight;
    /// the renewal's own failure is in [`Completion::error`].
    pub fn receive(
        &self,
        id: i64,
        response: &HttpResponse,
        now: i64,
    ) -> Result<Completion, GrantlineError> {
        let r = response.to_http()?;
        Ok(self
            .lock()
            .receive(num::id(id), &r, num::seconds(now))?
            .into())
    }

    /// Renewal `id` got no answer (network down, the deadline), at `now`.
    ///
    /// # Errors
    /// Only `Configuration` (`unexpected_response`) when `id` is not the renewal in flight.
    pub fn fail(&self, id: i64, reason: String, now: i64) -> Result<Completion, GrantlineError> {
        Ok(self
            .lock()
            .fail(num::id(id), reason, num::seconds(now))?
            .into())
    }
    /// Renewal `id` ended without an answer because whoever performed it gave up (a cancelled
    /// coroutine or task): not a failure, so no backoff and no error for anyone. Callers
    /// waiting for it get, from `waited(id, now)`, the usable token or a new `Send` (the next
    /// caller renews). Returns whether `id` was in flight.
    ///
    /// Only for cancellation by the client side: a request that may have reached the server and
    /// lost its answer (a timeout, a reset) is a `fail`, so that the session backs off.
    pub fn abandon(&self, id: i64) -> bool {
        self.lock().abandon(num::id(id))
    }

    /// The token set of renewal `id` reached storage: another renewal may start. Returns
    /// whether `id` was waiting for it.
    pub fn delivered(&self, id: i64) -> bool {
        self.lock().delivered(num::id(id))
    }

    /// The API refused `token` (401 `invalid_token`): the next `next()` renews. Returns whether
    /// it was the current token (another one is ignored).
    pub fn reject(&self, token: String) -> bool {
        self.lock().reject(&token)
    }

    /// Until when `next` keeps answering `Ready` with the current token if nothing else happens
    /// to the session (Unix seconds; `Long.MAX_VALUE`/`Int64.max` when the expiry is unknown);
    /// `null`/`nil` when `next` would not answer `Ready`.
    pub fn ready_until(&self) -> Option<i64> {
        num::out_opt(self.lock().ready_until())
    }

    /// The current token set, when there is one.
    pub fn tokens(&self) -> Option<Arc<TokenSet>> {
        self.lock().tokens().cloned().map(token_set)
    }

    /// Whether a renewal is in flight.
    pub fn renewing(&self) -> bool {
        self.lock().renewing()
    }

    /// How many renewals in a row have failed (0 after a success).
    pub fn failures(&self) -> i32 {
        num::count(self.lock().failures())
    }

    /// When the backoff after failed renewals ends (Unix seconds); `null`/`nil` after a success.
    pub fn retry_at(&self) -> Option<i64> {
        num::out_opt(self.lock().retry_at())
    }

    /// The renewal margin in seconds.
    pub fn skew(&self) -> i64 {
        num::out(self.lock().skew())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::provider::ProviderBuilder;
    use crate::types::GrantType;

    #[test]
    fn the_sans_io_loop_with_a_proactive_renewal() {
        let provider = ProviderBuilder::new("t".into())
            .token_endpoint("https://as.example/token".into())
            .grant(GrantType::ClientCredentials)
            .build()
            .unwrap();
        let client = Client::new(
            &provider,
            "id".into(),
            Some("s".into()),
            None,
            None,
            None,
            None,
            None,
        );
        let s = SessionState::client_credentials(&client, vec![]);
        let Next::Send { id, current, .. } = s.next(1000).unwrap() else {
            panic!("expected Send")
        };
        assert_eq!(current, None);
        assert!(matches!(s.next(1000).unwrap(), Next::Wait { id: w } if w == id));
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: br#"{"access_token":"tok-1","expires_in":100}"#.to_vec(),
        };
        let done = s.receive(id, &ok, 1000).unwrap();
        assert!(done.error.is_none());
        assert_eq!(done.renewed.unwrap().tokens.access_token(), "tok-1");
        assert!(s.delivered(id));
        let ready = s.waited(id, 1000).unwrap();
        assert!(matches!(&ready, Next::Ready { token } if token == "tok-1"));
        assert!(!ready.to_string().contains("tok-1"));
        // Inside the skew (half the lifetime: 50 s): the renewer gets Send with the current
        // token, everybody else the current token.
        assert_eq!(s.ready_until(), Some(1050));
        let send = s.next(1060).unwrap();
        assert!(!send.to_string().contains("tok-1"));
        let Next::Send { id, current, .. } = send else {
            panic!("expected Send")
        };
        assert_eq!(current.as_deref(), Some("tok-1"));
        assert!(matches!(s.next(1061).unwrap(), Next::Ready { token } if token == "tok-1"));
        // A failed renewal while the token is valid reaches nobody.
        let failed = s.fail(id, "reset".into(), 1061).unwrap();
        assert!(matches!(
            failed.error,
            Some(GrantlineError::Transport { .. })
        ));
        assert!(matches!(s.waited(id, 1061).unwrap(), Next::Ready { .. }));
        assert_eq!(s.failures(), 1);
        assert!(s.retry_at().is_some());
        assert!(matches!(
            s.fail(99, "x".into(), 1061),
            Err(GrantlineError::Configuration { ref kind, .. }) if kind == "unexpected_response"
        ));
    }
}
