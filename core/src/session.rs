//! The token lifecycle as a state machine: one current token set, exactly one renewal in
//! flight however many callers ask, every new token set handed out for persistence.
//!
//! The caller drives it, rustls-unbuffered style:
//!
//! 1. [`TokenSession::next`]`(now)` says what to do:
//!    - [`Next::Ready`]: use this access token;
//!    - [`Next::Send`]: perform this request, then hand its response to
//!      [`TokenSession::receive`] (or report a transport failure with [`TokenSession::fail`]);
//!    - [`Next::Wait`]: another caller's renewal is in flight; when it completes, call
//!      [`TokenSession::waited`] with the id you waited on.
//! 2. [`TokenSession::receive`] returns the new [`TokenSet`] (persist it: the refresh token
//!    may have rotated) or the renewal's error.
//! 3. After an API answered 401 `invalid_token` (see [`crate::bearer::needs_renewal`]), call
//!    [`TokenSession::reject`] with the token it refused: the next `next()` renews, once, however
//!    many callers reject the same token.
//!
//! ```
//! use grantline::{Client, Next, Provider, TokenSession};
//!
//! let client = Client::new(Provider::bookable(), "id").with_secret("secret");
//! let mut session = TokenSession::client_credentials(client, vec![]);
//! let now = 1_700_000_000;
//! let Next::Send { id, request } = session.next(now)? else { unreachable!() };
//! // Another caller asking meanwhile is told to wait for renewal `id`.
//! assert!(matches!(session.next(now)?, Next::Wait { id: w } if w == id));
//! # let _ = request;
//! let response = http::Response::new(br#"{"access_token":"tok","expires_in":3600}"#.to_vec());
//! let renewed = session.receive(id, &response, now)?;   // persist renewed.tokens
//! assert_eq!(renewed.tokens.access_token().secret(), "tok");
//! let Next::Ready(token) = session.waited(id, now)? else { unreachable!() };
//! assert_eq!(token.secret(), "tok");
//! # Ok::<(), grantline::Error>(())
//! ```

use crate::client::Client;
use crate::error::Error;
use crate::provider::GrantType;
use crate::secret::{AccessToken, Password};
use crate::token::TokenSet;

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
    },
    /// Renewal `id` is in flight: wait until it completes, then call
    /// [`TokenSession::waited`] with `id`.
    Wait {
        /// The renewal being waited on.
        id: u64,
    },
}

impl core::fmt::Debug for Next {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Next::Ready(token) => f.debug_tuple("Ready").field(token).finish(),
            Next::Send { id, request } => f
                .debug_struct("Send")
                .field("id", id)
                .field("method", request.method())
                .field("uri", request.uri())
                .finish_non_exhaustive(),
            Next::Wait { id } => f.debug_struct("Wait").field("id", id).finish(),
        }
    }
}

/// A completed renewal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Renewed {
    /// The new token set: persist it.
    pub tokens: TokenSet,
    /// Whether the refresh token changed (rotated or newly issued). When `true`, only the new
    /// set keeps access: losing it means authorizing again.
    pub refresh_token_rotated: bool,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: u64,
    refresh: bool,
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
    next_id: u64,
    last_failure: Option<(u64, Error)>,
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
            next_id: 1,
            last_failure: None,
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

    /// Starts from this token set (restoring a persisted session).
    #[must_use]
    pub fn with_tokens(mut self, tokens: TokenSet) -> Self {
        self.tokens = Some(tokens);
        self.rejected = false;
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

    /// What to do at `now` (Unix seconds): use a token, send a renewal, or wait for one.
    ///
    /// # Errors
    /// [`Error::ReauthorizationRequired`] when the token needs renewal and there is no way to
    /// renew it; configuration errors from building the request ([`Error::UnsupportedGrant`],
    /// [`Error::MissingEndpoint`]).
    pub fn next(&mut self, now: u64) -> Result<Next, Error> {
        if let Some(f) = self.in_flight {
            return Ok(Next::Wait { id: f.id });
        }
        if let Some(t) = &self.tokens {
            if !self.rejected && !t.expires_within(now, self.skew) {
                return Ok(Next::Ready(t.access_token().clone()));
            }
        }
        let refresh_token = self
            .tokens
            .as_ref()
            .and_then(TokenSet::refresh_token)
            .filter(|_| self.client.provider().supports(GrantType::RefreshToken));
        let (request, refresh) = match (refresh_token, &self.grant) {
            (Some(rt), _) => (self.client.refresh_request(rt, &[])?, true),
            (None, SessionGrant::ClientCredentials { scopes }) => {
                (self.client.client_credentials_request(scopes)?, false)
            }
            (
                None,
                SessionGrant::Password {
                    username,
                    password,
                    scopes,
                },
            ) => (
                self.client.password_request(username, password, scopes)?,
                false,
            ),
            (None, SessionGrant::RefreshOnly) => return Err(Error::ReauthorizationRequired),
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.in_flight = Some(InFlight { id, refresh });
        Ok(Next::Send {
            id,
            request: Box::new(request),
        })
    }

    /// Hands in the response to renewal `id`, received at `now`.
    ///
    /// On success the new token set replaces the old one (a refresh answer without
    /// `refresh_token` keeps the old refresh token) and is returned for persistence. On failure
    /// the error is returned here and to every caller that waited on `id`
    /// ([`TokenSession::waited`]); the next `next()` tries again. A refresh refused with
    /// `invalid_grant` drops the dead refresh token, so the next attempt repeats the session's
    /// grant or reports [`Error::ReauthorizationRequired`].
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal in flight; otherwise the
    /// errors of [`TokenSet::from_response`].
    pub fn receive(
        &mut self,
        id: u64,
        response: &http::Response<impl AsRef<[u8]>>,
        now: u64,
    ) -> Result<Renewed, Error> {
        let flight = self.take_flight(id)?;
        match TokenSet::from_response(response, now) {
            Ok(mut tokens) => {
                let rotated = match (&self.tokens, flight.refresh) {
                    (Some(old), true) => tokens.inherit_refresh_token(old),
                    _ => tokens.refresh_token().is_some(),
                };
                self.tokens = Some(tokens.clone());
                self.rejected = false;
                self.last_failure = None;
                Ok(Renewed {
                    tokens,
                    refresh_token_rotated: rotated,
                })
            }
            Err(e) => {
                if flight.refresh && e.oauth_code() == Some("invalid_grant") {
                    if let Some(t) = &mut self.tokens {
                        t.drop_refresh_token();
                    }
                    self.rejected = true;
                }
                self.last_failure = Some((id, e.clone()));
                Err(e)
            }
        }
    }

    /// Reports that renewal `id` could not be sent or answered (network down, timeout).
    /// Returns the error that [`TokenSession::waited`] hands to its waiters; the next `next()`
    /// tries again.
    ///
    /// # Errors
    /// [`Error::UnexpectedResponse`] when `id` is not the renewal in flight.
    pub fn fail(&mut self, id: u64, reason: impl Into<String>) -> Result<Error, Error> {
        self.take_flight(id)?;
        let error = Error::Transport {
            reason: reason.into(),
        };
        self.last_failure = Some((id, error.clone()));
        Ok(error)
    }

    /// For a caller that was told [`Next::Wait`] on `id` and saw it complete: the renewal's
    /// error if it failed, otherwise what [`TokenSession::next`] says now.
    ///
    /// # Errors
    /// The failed renewal's error, or the errors of [`TokenSession::next`].
    pub fn waited(&mut self, id: u64, now: u64) -> Result<Next, Error> {
        match &self.last_failure {
            Some((failed, e)) if *failed == id => Err(e.clone()),
            _ => self.next(now),
        }
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
    /// token if nothing else happens to the session (no [`TokenSession::reject`], no new tokens,
    /// no skew change): `Some(t)` means `next(now)` is `Ready` for every `now < t` (`u64::MAX`
    /// when the expiry is unknown); `None` when `next` would not answer `Ready` now (no token, a
    /// rejected one, a renewal in flight).
    ///
    /// For bindings where every call into Rust is costly (Kotlin over JNA): they may keep the
    /// token and this deadline, answer from them until it passes, and forget them whenever they
    /// change the session.
    pub fn ready_until(&self) -> Option<u64> {
        if self.in_flight.is_some() || self.rejected {
            return None;
        }
        let tokens = self.tokens.as_ref()?;
        Some(match tokens.expires_at() {
            None => u64::MAX,
            // The first second at which `TokenSet::expires_within(now, skew)` holds.
            Some(at) => at.saturating_sub(self.skew.min(tokens.lifetime().unwrap_or(0) / 2)),
        })
    }

    fn take_flight(&mut self, id: u64) -> Result<InFlight, Error> {
        match self.in_flight {
            Some(f) if f.id == id => {
                self.in_flight = None;
                Ok(f)
            }
            _ => Err(Error::UnexpectedResponse { id }),
        }
    }
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
        assert_eq!(s.ready_until(), None);
        let fresh =
            TokenSession::client_credentials(Client::new(Provider::bookable(), "id"), vec![]);
        assert_eq!(fresh.ready_until(), None);
    }
}
