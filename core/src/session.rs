//! The token lifecycle as a state machine: one current token set, exactly one renewal in
//! flight however many callers ask, every new token set handed out for persistence, and the
//! liveness rules that keep a session from hammering a server or hiding a good token.
//!
//! The caller drives it, rustls-unbuffered style:
//!
//! 1. [`TokenSession::next`]`(now)` says what to do:
//!    - [`Next::Ready`]: use this access token;
//!    - [`Next::Send`]: perform this request, then hand its response to
//!      [`TokenSession::receive`] (or report a transport failure with [`TokenSession::fail`]).
//!      `current` is the still-valid token, when there is one: a caller may use it right away
//!      and let the renewal run in the background;
//!    - [`Next::Wait`]: another caller's renewal is in flight and there is no usable token;
//!      when it completes, call [`TokenSession::waited`] with the id you waited on.
//! 2. [`TokenSession::receive`] / [`TokenSession::fail`] return a [`Completion`]: the token set
//!    to persist, if any (the refresh token may have rotated), and the renewal's error, if it
//!    failed. When there is a token set, hand it to your storage, then call
//!    [`TokenSession::delivered`]: until then a second renewal cannot start, so token sets reach
//!    storage in renewal order. Then the caller that sent the renewal asks
//!    [`TokenSession::waited`] like every waiter.
//! 3. A caller that gives up on a renewal it is performing (its task was cancelled) calls
//!    [`TokenSession::abandon`]: the renewal is forgotten, and the next caller renews. Only
//!    when [`TokenSession::cancellable`] says so: a refresh is carried to its answer, which may
//!    hold a rotated refresh token.
//! 4. After an API answered 401 `invalid_token` (see [`crate::bearer::needs_renewal`]), call
//!    [`TokenSession::reject`] with the token it refused: the next `next()` renews, once, however
//!    many callers reject the same token.
//!
//! # Liveness rules
//! Every one is decided here, from `now`; the bindings only carry requests and wake waiters.
//! - **Two deadlines per token**: *renew-at* (expiry − skew, the skew capped at half the
//!   lifetime) and *expiry*. Between them the current token is served to every caller while one
//!   renewal runs; only callers with no usable token wait.
//! - **A failed renewal while the token is valid reaches no caller.** Failures (transport, 5xx,
//!   429, any error) start a backoff: the next renewal waits [`BACKOFF_BASE`] seconds doubled
//!   per consecutive failure, capped at [`BACKOFF_CAP`], jittered down by up to half (so the
//!   wait after failure *n* is in `[ceil(d/2), d]` with `d = min(BACKOFF_CAP, 2^(n-1))`), and at
//!   least the answer's `Retry-After` (capped at [`RETRY_AFTER_CAP`]). During the backoff,
//!   callers with a usable token get it; callers without get the failure (every waiter the same
//!   one); no request is sent.
//! - **Nothing loops.** A token that had already expired when it arrived (`expires_in: 0`, a
//!   past `exp`, a client clock ahead of the server's) is served, to its waiters and to every
//!   caller, until the backoff it starts ends; then one renewal. A renewal that returns the
//!   very access token the API just refused fails with [`Error::UnusableToken`] (after one
//!   try), and backs off like any failure. So a server that keeps answering uselessly costs one
//!   token request per backoff period, never one per API call.
//! - **A refresh token is never lost.** A rotated refresh token is in the [`Completion`] to
//!   persist, even when the rest of the answer is bad (a lifetime of `"1h"`, a token type
//!   grantline cannot send): the session keeps the new refresh token with the current set and
//!   hands that set out. (A session with no token set yet, whose first password-grant answer is
//!   bad, has nothing to keep it with: it repeats its grant.)
//! - **`invalid_grant` on a refresh** drops the dead refresh token (the set without it is
//!   handed out to persist) but keeps serving the access token until it expires or is
//!   rejected; then the session repeats its grant, or reports
//!   [`Error::ReauthorizationRequired`].
//! - **Only bearer tokens are served**: a token set whose `token_type` is `DPoP`, `N_A`...
//!   is [`Error::UnsupportedTokenType`] (RFC 6749 §7.1).
//!
//! ```
//! use grantline::{Client, Next, Provider, TokenSession};
//!
//! let client = Client::new(Provider::bookable(), "id").with_secret("secret");
//! let mut session = TokenSession::client_credentials(client, vec![]);
//! let now = 1_700_000_000;
//! let Next::Send { id, request, .. } = session.next(now)? else { unreachable!() };
//! // Another caller asking meanwhile, with no token yet, is told to wait for renewal `id`.
//! assert!(matches!(session.next(now)?, Next::Wait { id: w } if w == id));
//! # let _ = request;
//! let response = http::Response::new(br#"{"access_token":"tok","expires_in":3600}"#.to_vec());
//! let done = session.receive(id, &response, now)?;
//! if let Some(renewed) = &done.renewed {
//!     let _persist = renewed.tokens.to_json(); // store it, then:
//!     session.delivered(id);
//! }
//! let Next::Ready(token) = session.waited(id, now)? else { unreachable!() };
//! assert_eq!(token.secret(), "tok");
//! # Ok::<(), grantline::Error>(())
//! ```

use crate::client::Client;
use crate::error::Error;
use crate::grant::GrantRequest;
use crate::provider::GrantType;
use crate::secret::{AccessToken, Password};
use crate::text::{oauth_text, Charset};
use crate::token::{ParseFailure, TokenSet};

/// The first backoff after a failed renewal, in seconds.
pub const BACKOFF_BASE: u64 = 1;
/// The longest backoff between renewal attempts, in seconds (before `Retry-After`).
pub const BACKOFF_CAP: u64 = 60;
/// The longest `Retry-After` honoured, in seconds: a server cannot stop renewals for longer.
pub const RETRY_AFTER_CAP: u64 = 600;

/// How a session obtains a token when it has no usable refresh token.
#[derive(Debug, Clone)]
pub enum SessionGrant {
    /// Only by refreshing (tokens from an authorization code or device flow). When the
    /// refresh token is gone, [`Error::ReauthorizationRequired`].
    RefreshOnly,
    /// By repeating the client credentials grant.
    ClientCredentials {
        /// The scopes to ask for.
        scopes: Vec<String>,
    },
    /// By repeating the password grant.
    Password {
        /// The resource owner's username.
        username: String,
        /// The resource owner's password.
        password: Password,
        /// The scopes to ask for.
        scopes: Vec<String>,
    },
    /// By repeating any grant: token exchange, the JWT bearer grant, an extension grant
    /// (its `Debug` shows parameter names only).
    Grant(GrantRequest),
}

/// What the caller must do next. `#[must_use]`: ignoring a `Send` stalls every waiter.
///
/// `Debug` shows a `Send`'s method and URL only: its body holds credentials.
#[must_use]
pub enum Next {
    /// Use this access token (send it with [`crate::bearer::authorization_header`]).
    Ready(AccessToken),
    /// Perform this request, then call [`TokenSession::receive`] with `id` and the response,
    /// or [`TokenSession::fail`] with `id` if it could not be sent.
    Send {
        /// The renewal's id.
        id: u64,
        /// The token request (boxed: `Ready` is the hot path and stays small).
        request: Box<http::Request<Vec<u8>>>,
        /// The current access token when it is still valid (a renewal ahead of expiry): the
        /// caller may use it now and let the renewal complete in the background; `None` when
        /// there is no usable token and the caller needs the renewal's result.
        current: Option<AccessToken>,
    },
    /// Renewal `id` is in flight (or its token set is being delivered) and there is no usable
    /// token: wait until it completes, then call [`TokenSession::waited`] with `id`.
    Wait {
        /// The renewal being waited on.
        id: u64,
    },
}

impl core::fmt::Debug for Next {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Next::Ready(token) => f.debug_tuple("Ready").field(token).finish(),
            Next::Send {
                id,
                request,
                current,
            } => f
                .debug_struct("Send")
                .field("id", id)
                .field("method", request.method())
                .field("uri", &crate::redact::url(&request.uri().to_string()))
                .field("current", current)
                .finish_non_exhaustive(),
            Next::Wait { id } => f.debug_struct("Wait").field("id", id).finish(),
        }
    }
}

/// A token set to persist.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Renewed {
    /// The new token set: persist it.
    pub tokens: TokenSet,
    /// Whether the refresh token changed (rotated, newly issued, or dropped after
    /// `invalid_grant`). When `true`, only the new set keeps access: losing it means
    /// authorizing again.
    pub refresh_token_rotated: bool,
}

/// What a completed renewal ([`TokenSession::receive`], [`TokenSession::fail`]) leaves to do.
#[derive(Debug, Clone)]
#[must_use]
#[non_exhaustive]
pub struct Completion {
    /// A token set to persist, when the renewal produced one: the new set, or after a failed
    /// answer that still carried a new refresh token, the current set with that refresh token.
    /// When `Some`, hand it to your storage, then call [`TokenSession::delivered`].
    pub renewed: Option<Renewed>,
    /// Why the renewal failed, when it did (for logs and metrics). Callers learn through
    /// [`TokenSession::waited`] and [`TokenSession::next`] whether it reaches them: only when no
    /// usable token is left.
    pub error: Option<Error>,
}

/// A renewal request, and whether it is a refresh.
type Renewal = (http::Request<Vec<u8>>, bool);

#[derive(Debug, Clone)]
struct InFlight {
    id: u64,
    refresh: bool,
    /// The access token the API refused, when that is why this renewal started.
    replacing_rejected: Option<AccessToken>,
}

/// The lifecycle of one token: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct TokenSession {
    client: Client,
    grant: SessionGrant,
    tokens: Option<TokenSet>,
    skew: u64,
    rejected: bool,
    in_flight: Option<InFlight>,
    /// A renewal whose token set was handed out and is not yet confirmed delivered.
    delivering: Option<u64>,
    next_id: u64,
    last_failure: Option<(u64, Error)>,
    /// Consecutive failed (or futile) renewals.
    failures: u32,
    /// No renewal is sent before this second.
    retry_at: u64,
    /// A token that had expired when it arrived is served until this second.
    grace_until: Option<u64>,
}

impl TokenSession {
    /// A session with no token yet, renewing with `grant`. The skew is the provider's default.
    pub fn new(client: Client, grant: SessionGrant) -> Self {
        let skew = client.provider().default_skew();
        TokenSession {
            client,
            grant,
            tokens: None,
            skew,
            rejected: false,
            in_flight: None,
            delivering: None,
            next_id: 1,
            last_failure: None,
            failures: 0,
            retry_at: 0,
            grace_until: None,
        }
    }

    /// A session that obtains and renews its token with the client credentials grant.
    pub fn client_credentials(client: Client, scopes: Vec<String>) -> Self {
        Self::new(client, SessionGrant::ClientCredentials { scopes })
    }

    /// A session restored from a token set (persisted, or just obtained from an authorization
    /// code or device flow), renewing by refresh token only.
    pub fn from_tokens(client: Client, tokens: TokenSet) -> Self {
        Self::new(client, SessionGrant::RefreshOnly).with_tokens(tokens)
    }

    /// Starts from this token set (restoring a persisted session). Forgets any rejection,
    /// failure and backoff.
    #[must_use]
    pub fn with_tokens(mut self, tokens: TokenSet) -> Self {
        self.tokens = Some(tokens);
        self.rejected = false;
        self.last_failure = None;
        self.failures = 0;
        self.retry_at = 0;
        self.grace_until = None;
        self
    }

    /// Renews `seconds` before expiry (capped at half the token's lifetime).
    #[must_use]
    pub fn with_skew(mut self, seconds: u64) -> Self {
        self.skew = seconds;
        self
    }

    /// The current token set, when there is one.
    pub fn tokens(&self) -> Option<&TokenSet> {
        self.tokens.as_ref()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The renewal margin in seconds.
    pub fn skew(&self) -> u64 {
        self.skew
    }

    /// Whether a renewal is in flight.
    pub fn renewing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether a completed renewal's token set is waiting for [`TokenSession::delivered`]
    /// (no other renewal starts until then).
    pub fn delivering(&self) -> bool {
        self.delivering.is_some()
    }

    /// How many renewals in a row have failed (0 after a success).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the backoff after a failed renewal ends (Unix seconds): no renewal is sent before
    /// then. `None` when the last renewal succeeded.
    pub fn retry_at(&self) -> Option<u64> {
        (self.failures > 0).then_some(self.retry_at)
    }

    /// The current token set when its access token may be used at `now`: a bearer token, not
    /// rejected, not expired (or expired on arrival and still in its grace).
    fn usable(&self, now: u64) -> Option<&TokenSet> {
        let t = self.tokens.as_ref()?;
        if self.rejected || !t.is_bearer() {
            return None;
        }
        match t.expires_at() {
            None => Some(t),
            Some(at) if now < at => Some(t),
            Some(_) if self.grace_until.is_some_and(|g| now < g) => Some(t),
            Some(_) => None,
        }
    }

    /// What [`TokenSession::next`] says at `now`: use a token, send a renewal, or wait for one.
    ///
    /// # Errors
    /// Only when no usable token exists: the last renewal's error while its backoff runs;
    /// [`Error::ReauthorizationRequired`] when there is no way to renew;
    /// [`Error::UnsupportedTokenType`] for a token set that is not a bearer token;
    /// configuration errors from building the request ([`Error::UnsupportedGrant`],
    /// [`Error::MissingEndpoint`], [`Error::UnsupportedAuthMethod`]).
    pub fn next(&mut self, now: u64) -> Result<Next, Error> {
        let usable = self
            .usable(now)
            .map(|t| (t.access_token().clone(), t.expires_within(now, self.skew)));
        let busy = self.in_flight.as_ref().map(|f| f.id).or(self.delivering);
        if let Some(id) = busy {
            return Ok(match usable {
                Some((token, _)) => Next::Ready(token),
                None => Next::Wait { id },
            });
        }
        match usable {
            Some((token, due)) => {
                if !due || now < self.retry_at {
                    return Ok(Next::Ready(token));
                }
                // Renewal ahead of expiry: a failure to build it costs nobody the token.
                match self.renewal_request(now) {
                    Ok(Some((request, refresh))) => Ok(self.send(request, refresh, Some(token))),
                    Ok(None) | Err(_) => Ok(Next::Ready(token)),
                }
            }
            None => {
                if let Some(t) = &self.tokens {
                    if !t.is_bearer() {
                        return Err(crate::bearer::check_bearer(t)
                            .err()
                            .unwrap_or(Error::ReauthorizationRequired));
                    }
                }
                if now < self.retry_at {
                    if let Some((_, e)) = &self.last_failure {
                        return Err(e.clone());
                    }
                }
                match self.renewal_request(now)? {
                    Some((request, refresh)) => Ok(self.send(request, refresh, None)),
                    None => Err(Error::ReauthorizationRequired),
                }
            }
        }
    }

    /// The grant that renews the token: refresh when there is a refresh token (and the
    /// provider has the grant), else the session's grant (`true`: a refresh); `None` when
    /// there is no way.
    fn renewal_grant(&self) -> Option<(GrantRequest, bool)> {
        let refresh_token = self
            .tokens
            .as_ref()
            .and_then(TokenSet::refresh_token)
            .filter(|_| self.client.provider().supports(GrantType::RefreshToken));
        Some(match (refresh_token, &self.grant) {
            (Some(rt), _) => (GrantRequest::refresh(rt, Vec::<String>::new()), true),
            (None, SessionGrant::ClientCredentials { scopes }) => {
                (GrantRequest::client_credentials(scopes), false)
            }
            (
                None,
                SessionGrant::Password {
                    username,
                    password,
                    scopes,
                },
            ) => (GrantRequest::password(username, password, scopes), false),
            (None, SessionGrant::Grant(grant)) => (grant.clone(), false),
            (None, SessionGrant::RefreshOnly) => return None,
        })
    }

    /// The request that renews the token at `now` (see [`Self::renewal_grant`]).
    fn renewal_request(&self, now: u64) -> Result<Option<Renewal>, Error> {
        match self.renewal_grant() {
            None => Ok(None),
            Some((grant, refresh)) => Ok(Some((self.client.grant_request(&grant, now)?, refresh))),
        }
    }

    fn send(
        &mut self,
        request: http::Request<Vec<u8>>,
        refresh: bool,
        current: Option<AccessToken>,
    ) -> Next {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let replacing_rejected = if self.rejected {
            self.tokens.as_ref().map(|t| t.access_token().clone())
        } else {
            None
        };
        self.in_flight = Some(InFlight {
            id,
            refresh,
            replacing_rejected,
        });
        Next::Send {
            id,
            request: Box::new(request),
            current,
        }
    }

    /// Hands in the response to renewal `id`, received at `now`. See the
    /// [module documentation](self) for what success, failure, rotation and `invalid_grant` do.
    ///
    /// # Errors
    /// Only [`Error::UnexpectedResponse`], when `id` is not the renewal in flight. The
    /// renewal's own failure is in [`Completion::error`].
    pub fn receive(
        &mut self,
        id: u64,
        response: &http::Response<impl AsRef<[u8]>>,
        now: u64,
    ) -> Result<Completion, Error> {
        let flight = self.take_flight(id)?;
        let scope_separator = self.client.provider().response_scope_separator();
        let mut tokens = match TokenSet::parse(response, now, scope_separator) {
            Ok(tokens) => tokens,
            Err(ParseFailure {
                error,
                refresh_token,
            }) => {
                if flight.refresh && error.oauth_code() == Some("invalid_grant") {
                    return Ok(self.refresh_token_refused(id, error));
                }
                let retry_after = retry_after(response.headers(), now);
                return Ok(self.failed(id, error, refresh_token, now, retry_after));
            }
        };
        let rotated = match (&self.tokens, flight.refresh) {
            (Some(old), true) => tokens.inherit_refresh_token(old),
            _ => tokens.refresh_token().is_some(),
        };
        let keep = rotated.then(|| tokens.refresh_token().cloned()).flatten();
        if let Err(error) = crate::bearer::check_bearer(&tokens) {
            return Ok(self.failed(id, error, keep, now, None));
        }
        if let Some(refused) = &flight.replacing_rejected {
            if tokens.access_token().ct_eq(refused.secret()) {
                let error = Error::UnusableToken {
                    reason: "the renewal returned the access token the API had just refused".into(),
                };
                return Ok(self.failed(id, error, keep, now, None));
            }
        }
        self.rejected = false;
        if tokens.expires_at().is_some_and(|at| at <= now) {
            // Served until the backoff ends, then renewed once: never a loop of renewals.
            self.failures = self.failures.saturating_add(1);
            self.retry_at = now.saturating_add(backoff(self.failures, None));
            self.grace_until = Some(self.retry_at);
            self.last_failure = Some((
                id,
                Error::UnusableToken {
                    reason: "the access token had already expired when it arrived".into(),
                },
            ));
        } else {
            self.failures = 0;
            self.retry_at = 0;
            self.grace_until = None;
            self.last_failure = None;
        }
        self.tokens = Some(tokens.clone());
        self.delivering = Some(id);
        Ok(Completion {
            renewed: Some(Renewed {
                tokens,
                refresh_token_rotated: rotated,
            }),
            error: None,
        })
    }

    /// `invalid_grant` on a refresh: the refresh token is dead. Drop it (and hand the set
    /// without it out), keep serving the access token; a session that can repeat its grant
    /// does so on the next `next()`, without backoff and without failing its waiters.
    fn refresh_token_refused(&mut self, id: u64, error: Error) -> Completion {
        let repeatable = !matches!(self.grant, SessionGrant::RefreshOnly);
        if !repeatable {
            self.last_failure = Some((id, error.clone()));
        }
        let renewed = self.tokens.as_mut().map(|t| {
            t.drop_refresh_token();
            Renewed {
                tokens: t.clone(),
                refresh_token_rotated: true,
            }
        });
        if renewed.is_some() {
            self.delivering = Some(id);
        }
        Completion {
            renewed,
            error: Some(error),
        }
    }

    /// A failed renewal: back off, remember the error for the waiters, and keep a new refresh
    /// token the answer carried.
    fn failed(
        &mut self,
        id: u64,
        error: Error,
        new_refresh_token: Option<crate::RefreshToken>,
        now: u64,
        retry_after: Option<u64>,
    ) -> Completion {
        self.failures = self.failures.saturating_add(1);
        self.retry_at = now.saturating_add(backoff(self.failures, retry_after));
        self.last_failure = Some((id, error.clone()));
        let renewed = match (new_refresh_token, self.tokens.as_mut()) {
            (Some(rt), Some(t)) if !t.refresh_token().is_some_and(|old| old.ct_eq(rt.secret())) => {
                t.set_refresh_token(rt);
                self.delivering = Some(id);
                Some(Renewed {
                    tokens: t.clone(),
                    refresh_token_rotated: true,
                })
            }
            _ => None,
        };
        Completion {
            renewed,
            error: Some(error),
        }
    }

    /// Reports that renewal `id` could not be sent or answered (network down, timeout, the
    /// whole-request deadline), at `now`. It fails like any renewal (backoff; the waiters get
    /// the error only when no usable token is left). `reason` is escaped and capped.
    ///
    /// # Errors
    /// Only [`Error::UnexpectedResponse`], when `id` is not the renewal in flight.
    pub fn fail(
        &mut self,
        id: u64,
        reason: impl AsRef<str>,
        now: u64,
    ) -> Result<Completion, Error> {
        self.take_flight(id)?;
        let error = Error::Transport {
            reason: oauth_text(reason.as_ref(), Charset::Text, 512),
        };
        Ok(self.failed(id, error, None, now, None))
    }

    /// Whether renewal `id` may be cancelled mid-flight (and then [abandoned](Self::abandon))
    /// without losing anything: `false` for a refresh, whose answer may carry a rotated refresh
    /// token that only it delivers (the server may already have rotated when the caller gives
    /// up; the old refresh token is then dead, or revokes the whole grant if sent again). A
    /// driver keeps such a renewal going until its answer, even when every caller waiting for
    /// it has gone. `false` too when `id` is not in flight.
    pub fn cancellable(&self, id: u64) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.id == id && !f.refresh)
    }

    /// Forgets renewal `id`, which ended without an answer because whoever performed it gave up
    /// (a cancelled task or coroutine, an aborted call): not a failure, so no backoff and no
    /// error for anyone. Waiters calling [`TokenSession::waited`] get the usable token, or a new
    /// [`Next::Send`]: the next caller renews. Returns whether `id` was in flight.
    ///
    /// Use it only when the request was cancelled by the client side. A request that may have
    /// reached the server and whose answer was lost (a timeout, a reset) is a
    /// [`TokenSession::fail`]: the server may be struggling, and backing off protects it. Either
    /// way, a refresh token the server rotated in a lost answer is gone; the next refresh then
    /// meets `invalid_grant` and the session repeats its grant or asks to authorize again.
    pub fn abandon(&mut self, id: u64) -> bool {
        self.take_flight(id).is_ok()
    }

    /// The token set of renewal `id` (in [`Completion::renewed`]) reached storage: another
    /// renewal may start. Returns whether `id` was waiting for it. Call it even when storing
    /// failed, or callers without a usable token wait forever.
    pub fn delivered(&mut self, id: u64) -> bool {
        if self.delivering == Some(id) {
            self.delivering = None;
            true
        } else {
            false
        }
    }

    /// For a caller that was told [`Next::Wait`] on `id` (or sent renewal `id`) and saw it
    /// complete: the usable token if there is one, else the renewal's error if it failed, else
    /// what [`TokenSession::next`] says now.
    ///
    /// # Errors
    /// The failed renewal's error, or the errors of [`TokenSession::next`].
    pub fn waited(&mut self, id: u64, now: u64) -> Result<Next, Error> {
        if self.usable(now).is_none() {
            if let Some((failed, e)) = &self.last_failure {
                if *failed == id {
                    return Err(e.clone());
                }
            }
        }
        self.next(now)
    }

    /// The API refused `access_token` (401 `invalid_token`): renew on the next `next()`.
    /// A token other than the current one (already renewed by another caller) is ignored, so
    /// many callers rejecting the same token cause one renewal. Returns whether it was the
    /// current token.
    pub fn reject(&mut self, access_token: &str) -> bool {
        match &self.tokens {
            Some(t) if t.access_token().ct_eq(access_token) => {
                self.rejected = true;
                true
            }
            _ => false,
        }
    }

    /// Until when [`TokenSession::next`] keeps answering [`Next::Ready`] with the current access
    /// token if nothing else happens to the session (no [`TokenSession::reject`], no completed
    /// renewal, no new tokens, no skew change): `Some(t)` means `next(now)` is `Ready` for every
    /// `now < t` from now on (`u64::MAX` when the expiry is unknown); `None` when `next` would
    /// not answer `Ready` (no token, a rejected one, one that is not a bearer token).
    ///
    /// For bindings where every call into Rust is costly (Kotlin over JNA): they may keep the
    /// token and this deadline, answer from them until it passes, and forget them whenever they
    /// change the session.
    pub fn ready_until(&self) -> Option<u64> {
        let tokens = self.tokens.as_ref()?;
        if self.rejected || !tokens.is_bearer() {
            return None;
        }
        let usable_until = match tokens.expires_at() {
            None => u64::MAX,
            Some(at) => at.max(self.grace_until.unwrap_or(0)),
        };
        if self.in_flight.is_some() || self.delivering.is_some() {
            return Some(usable_until);
        }
        let renew_at = match tokens.expires_at() {
            None => u64::MAX,
            // The first second at which `TokenSet::expires_within(now, skew)` holds.
            Some(at) => at.saturating_sub(self.skew.min(tokens.lifetime().unwrap_or(0) / 2)),
        };
        let can_renew = self
            .renewal_grant()
            .is_some_and(|(grant, _)| self.client.check_grant_request(&grant).is_ok());
        Some(if !can_renew {
            usable_until
        } else if self.retry_at > renew_at {
            self.retry_at.min(usable_until)
        } else {
            renew_at
        })
    }

    /// The current access token when it may be used at `now` (what `next` would serve).
    pub(crate) fn usable_token(&self, now: u64) -> Option<AccessToken> {
        self.usable(now).map(|t| t.access_token().clone())
    }

    /// A fresh id from the session's sequence, for work a wrapper performs outside a renewal
    /// (the fleet's retried commit), so that ids never collide.
    pub(crate) fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Completes renewal `id` with a token set obtained elsewhere (another process's renewal,
    /// read from a shared store): as if the renewal's answer had carried it.
    pub(crate) fn complete_with(
        &mut self,
        id: u64,
        tokens: TokenSet,
        now: u64,
    ) -> Result<Completion, Error> {
        self.take_flight(id)?;
        let rotated = match (&self.tokens, tokens.refresh_token()) {
            (Some(old), Some(new)) => !old.refresh_token().is_some_and(|o| o.ct_eq(new.secret())),
            (Some(old), None) => old.refresh_token().is_some(),
            (None, new) => new.is_some(),
        };
        self.rejected = false;
        self.failures = 0;
        self.retry_at = 0;
        self.grace_until = None;
        self.last_failure = None;
        let _ = now;
        self.tokens = Some(tokens.clone());
        self.delivering = Some(id);
        Ok(Completion {
            renewed: Some(Renewed {
                tokens,
                refresh_token_rotated: rotated,
            }),
            error: None,
        })
    }

    /// Replaces the token set while renewal `id` is in flight (a newer set, read from a shared
    /// store, that is due for renewal too) and returns the renewal request built from it;
    /// `None` when it leaves no way to renew.
    pub(crate) fn adopt_in_flight(
        &mut self,
        id: u64,
        tokens: TokenSet,
        now: u64,
    ) -> Result<Option<http::Request<Vec<u8>>>, Error> {
        if self.in_flight.as_ref().is_none_or(|f| f.id != id) {
            return Err(Error::UnexpectedResponse { id });
        }
        let same = self
            .tokens
            .as_ref()
            .is_some_and(|t| t.access_token().ct_eq(tokens.access_token().secret()));
        if !same {
            self.rejected = false;
        }
        self.tokens = Some(tokens);
        let renewal = self.renewal_request(now)?;
        if let (Some(flight), Some((_, refresh))) = (self.in_flight.as_mut(), &renewal) {
            flight.refresh = *refresh;
            if !same {
                flight.replacing_rejected = None;
            }
        }
        Ok(renewal.map(|(request, _)| request))
    }

    /// Fails renewal `id` with `error`, like any failed renewal: backoff, and the waiters get
    /// `error` only when no usable token is left.
    pub(crate) fn fail_with(
        &mut self,
        id: u64,
        error: Error,
        now: u64,
    ) -> Result<Completion, Error> {
        self.take_flight(id)?;
        Ok(self.failed(id, error, None, now, None))
    }

    /// Fails renewal `id` with `error` without counting it as a failure of the token server
    /// (a shared store that cannot be used): the next renewal may start `pause` seconds later,
    /// and the server's own backoff is left as it was. The waiters get `error` only when no
    /// usable token is left.
    pub(crate) fn pause_with(
        &mut self,
        id: u64,
        error: Error,
        now: u64,
        pause: u64,
    ) -> Result<Completion, Error> {
        self.take_flight(id)?;
        self.retry_at = self.retry_at.max(now.saturating_add(pause));
        self.last_failure = Some((id, error.clone()));
        Ok(Completion {
            renewed: None,
            error: Some(error),
        })
    }

    fn take_flight(&mut self, id: u64) -> Result<InFlight, Error> {
        if self.in_flight.as_ref().is_some_and(|f| f.id == id) {
            if let Some(flight) = self.in_flight.take() {
                return Ok(flight);
            }
        }
        Err(Error::UnexpectedResponse { id })
    }
}

/// The wait before the next renewal after `failures` failures in a row (see the module
/// documentation), at least `retry_after` (capped).
fn backoff(failures: u32, retry_after: Option<u64>) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    let d = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
    let jittered = d - random_below(d / 2 + 1);
    jittered
        .max(1)
        .max(retry_after.unwrap_or(0).min(RETRY_AFTER_CAP))
}

/// A random number in `0..n` (0 when the system RNG fails: no jitter, still a backoff).
fn random_below(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) % n,
        Err(_) => 0,
    }
}

/// `Retry-After` (RFC 9110 §10.2.3) as seconds from `now`: delay-seconds or an IMF-fixdate.
fn retry_after(headers: &http::HeaderMap, now: u64) -> Option<u64> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    imf_fixdate(value).map(|at| at.saturating_sub(now))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as Unix seconds.
fn imf_fixdate(s: &str) -> Option<u64> {
    let mut parts = s.split(' ');
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, sec): (u64, u64, u64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    if parts.next()? != "GMT" || parts.next().is_some() || !(1970..=9999).contains(&year) {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::{AccessToken, Provider};

    fn session(expires_at: Option<u64>, issued_at: u64, skew: u64) -> TokenSession {
        let client = Client::new(Provider::bookable(), "id").with_secret("s");
        let tokens = TokenSet::new(AccessToken::new("t"), None, expires_at, issued_at);
        TokenSession::client_credentials(client, vec![])
            .with_tokens(tokens)
            .with_skew(skew)
    }

    #[test]
    fn ready_until_is_exactly_where_next_stops_answering_ready() {
        for (expires_at, skew) in [
            (Some(1_100), 60),
            (Some(1_100), 10),
            (Some(1_000), 60),
            (Some(5), 60),
        ] {
            let mut s = session(expires_at, 1_000, skew);
            let until = s.ready_until().unwrap();
            for now in 900..1_200 {
                let ready = matches!(s.clone().next(now).unwrap(), Next::Ready(_));
                assert_eq!(
                    ready,
                    now < until,
                    "expires_at {expires_at:?}, skew {skew}, now {now}"
                );
            }
            // Rejected, or renewing: no promise.
            assert!(s.reject("t"));
            assert_eq!(s.ready_until(), None);
        }
        assert_eq!(session(None, 1_000, 60).ready_until(), Some(u64::MAX));
        let mut s = session(Some(1_000), 0, 60);
        let Next::Send { .. } = s.next(2_000).unwrap() else {
            panic!("renewal expected")
        };
        // In flight with an expired token: no promise from now on.
        assert!(s.ready_until().is_none_or(|t| t <= 2_000));
        let fresh =
            TokenSession::client_credentials(Client::new(Provider::bookable(), "id"), vec![]);
        assert_eq!(fresh.ready_until(), None);
    }
}
