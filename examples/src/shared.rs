//! [`SharedSession`]: a [`grantline::TokenSession`] shared by many threads, over the examples'
//! [`Transport`]. The reference for the waiting every binding builds: a mutex around the
//! sans-IO session, a condition variable to wait on, the HTTP exchange and the user's callback
//! made with the lock released, `delivered` after the callback, and every decision left to the
//! core.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use grantline::{Error, Next, Renewed, TokenSession};

use crate::{now, Transport};

/// Called with every token set to persist, in renewal order.
pub type OnTokens = Box<dyn Fn(&Renewed) + Send + Sync>;

/// A token session many threads share: a mutex around the sans-IO session, a condition variable
/// to wait on, the HTTP exchange and the `on_tokens` callback made with the lock released,
/// `delivered` after the callback, and every decision left to the core.
pub struct SharedSession {
    state: Mutex<TokenSession>,
    /// Notified whenever a renewal completes or its token set has been delivered.
    changed: Condvar,
    transport: Transport,
    on_tokens: Option<OnTokens>,
}

impl SharedSession {
    /// Shares `session`, renewing over `transport`; `on_tokens` gets every token set to persist.
    pub fn new(session: TokenSession, transport: Transport, on_tokens: Option<OnTokens>) -> Self {
        SharedSession {
            state: Mutex::new(session),
            changed: Condvar::new(),
            transport,
            on_tokens,
        }
    }

    fn lock(&self) -> MutexGuard<'_, TokenSession> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A valid access token: the current one, or the one a renewal brings. With a still-valid
    /// token this never waits, even while a renewal runs; without one, callers wait for the one
    /// renewal in flight.
    ///
    /// # Errors
    /// What the core says: the renewal's failure when no usable token is left,
    /// [`Error::ReauthorizationRequired`], configuration errors.
    pub fn token(&self) -> Result<String, Error> {
        let mut session = self.lock();
        let mut next = session.next(now())?;
        loop {
            next = match next {
                Next::Ready(token) => return Ok(token.secret().to_owned()),
                Next::Send { id, request, .. } => {
                    drop(session);
                    let sent = self.transport.send(&request);
                    session = self.lock();
                    let done = match sent {
                        Ok(response) => session.receive(id, &response, now())?,
                        Err(e) => session.fail(id, e.to_string(), now())?,
                    };
                    if let Some(renewed) = &done.renewed {
                        drop(session);
                        if let Some(on_tokens) = &self.on_tokens {
                            on_tokens(renewed);
                        }
                        session = self.lock();
                        session.delivered(id);
                    }
                    self.changed.notify_all();
                    session.waited(id, now())?
                }
                Next::Wait { id } => {
                    session = self
                        .changed
                        .wait(session)
                        .unwrap_or_else(PoisonError::into_inner);
                    session.waited(id, now())?
                }
            };
        }
    }

    /// The API refused `token` (401 `invalid_token`): the next [`SharedSession::token`] renews,
    /// once however many threads reject it.
    pub fn reject(&self, token: &str) -> bool {
        self.lock().reject(token)
    }

    /// The current token set, when there is one (for diagnostics and persistence).
    pub fn tokens(&self) -> Option<grantline::TokenSet> {
        self.lock().tokens().cloned()
    }
}
