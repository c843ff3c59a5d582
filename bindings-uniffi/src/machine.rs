//! The one state machine behind [`crate::NativeTokenSession`]: the core's
//! [`grantline::TokenSession`] alone, or shared by a fleet over a store
//! ([`grantline::fleet::FleetSession`]). Both speak the fleet's terms here (a renewal is a
//! series of [`Action`]s ending in `Done`; times are milliseconds), so the session's driver is
//! written once: a local renewal is a single `Send` followed by `Done`.

use grantline::fleet::{Action, FleetNext, FleetSession, StoreReply};
use grantline::{Error, Next, TokenSession};

use crate::fleet::FleetStats;

pub(crate) enum Machine {
    Local(Box<TokenSession>),
    Fleet(Box<Shared>),
}

pub(crate) struct Shared {
    fleet: FleetSession,
    /// The renewal between its `Perform` and its `Done`.
    flight: Option<u64>,
}

fn local(step: Next) -> FleetNext {
    match step {
        Next::Ready(token) => FleetNext::Ready(token),
        Next::Send {
            id,
            request,
            current,
        } => FleetNext::Perform {
            id,
            action: Action::Send(request),
            current,
        },
        Next::Wait { id } => FleetNext::Wait { id },
    }
}

impl Shared {
    /// Notes which renewal is between its `Perform` and its `Done`.
    fn track_next(&mut self, step: &FleetNext) {
        if let FleetNext::Perform { id, .. } = step {
            self.flight = Some(*id);
        }
    }

    fn track_action(&mut self, action: &Action) {
        if matches!(action, Action::Done(_)) {
            self.flight = None;
        }
    }
}

impl Machine {
    pub(crate) fn local(session: TokenSession) -> Self {
        Machine::Local(Box::new(session))
    }

    pub(crate) fn fleet(fleet: FleetSession) -> Self {
        Machine::Fleet(Box::new(Shared {
            fleet,
            flight: None,
        }))
    }

    /// The token session (the local copy, in a fleet).
    pub(crate) fn session(&self) -> &TokenSession {
        match self {
            Machine::Local(s) => s,
            Machine::Fleet(sh) => sh.fleet.session(),
        }
    }

    /// Until when `next` answers `Ready` without a round trip (Unix seconds, rounded down: a
    /// fleet's deadline is in milliseconds, e.g. the retry of a lost commit);
    /// `u64::MAX` when the expiry is unknown.
    pub(crate) fn ready_until(&self) -> Option<u64> {
        match self {
            Machine::Local(s) => s.ready_until(),
            Machine::Fleet(sh) => {
                sh.fleet
                    .ready_until_ms()
                    .map(|ms| if ms == u64::MAX { ms } else { ms / 1000 })
            }
        }
    }

    /// Whether a renewal is in flight (in a fleet: until its commit or release is done).
    pub(crate) fn renewing(&self) -> bool {
        self.session().renewing() || matches!(self, Machine::Fleet(sh) if sh.flight.is_some())
    }

    pub(crate) fn next(&mut self, now_ms: u64) -> Result<FleetNext, Error> {
        match self {
            Machine::Local(s) => s.next(now_ms / 1000).map(local),
            Machine::Fleet(sh) => {
                let step = sh.fleet.next(now_ms)?;
                sh.track_next(&step);
                Ok(step)
            }
        }
    }

    pub(crate) fn waited(&mut self, id: u64, now_ms: u64) -> Result<FleetNext, Error> {
        match self {
            Machine::Local(s) => s.waited(id, now_ms / 1000).map(local),
            Machine::Fleet(sh) => {
                let step = sh.fleet.waited(id, now_ms)?;
                sh.track_next(&step);
                Ok(step)
            }
        }
    }

    pub(crate) fn receive(
        &mut self,
        id: u64,
        response: &http::Response<&[u8]>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        match self {
            Machine::Local(s) => s.receive(id, response, now_ms / 1000).map(Action::Done),
            Machine::Fleet(sh) => {
                let action = sh.fleet.receive(id, response, now_ms)?;
                sh.track_action(&action);
                Ok(action)
            }
        }
    }

    pub(crate) fn fail(&mut self, id: u64, reason: &str, now_ms: u64) -> Result<Action, Error> {
        match self {
            Machine::Local(s) => s.fail(id, reason, now_ms / 1000).map(Action::Done),
            Machine::Fleet(sh) => {
                let action = sh.fleet.fail(id, reason, now_ms)?;
                sh.track_action(&action);
                Ok(action)
            }
        }
    }

    /// The store's answer (`Ok`) or failure (`Err`, its reason) to renewal `id`'s operation.
    pub(crate) fn stored(
        &mut self,
        id: u64,
        result: Result<StoreReply, String>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        match self {
            Machine::Local(_) => Err(Error::UnexpectedResponse { id }),
            Machine::Fleet(sh) => {
                let action = match result {
                    Ok(reply) => sh.fleet.store_done(id, reply, now_ms)?,
                    Err(reason) => sh.fleet.store_failed(id, &reason, now_ms)?,
                };
                sh.track_action(&action);
                Ok(action)
            }
        }
    }

    /// Renewal `id` lost its performer (it unwound, or misused the machine): forget it
    /// whatever its phase (a lease it held expires on its own; a commit whose answer is lost is
    /// read back by the next renewal), so that no waiter sleeps on a renewal nobody finishes.
    pub(crate) fn give_up(&mut self, id: u64) {
        match self {
            Machine::Local(s) => {
                s.abandon(id);
            }
            Machine::Fleet(sh) => {
                sh.fleet.forget(id);
                sh.fleet.delivered(id);
                sh.flight = None;
            }
        }
    }

    pub(crate) fn delivered(&mut self, id: u64) -> bool {
        match self {
            Machine::Local(s) => s.delivered(id),
            Machine::Fleet(sh) => sh.fleet.delivered(id),
        }
    }

    pub(crate) fn reject(&mut self, access_token: &str) -> bool {
        match self {
            Machine::Local(s) => s.reject(access_token),
            Machine::Fleet(sh) => sh.fleet.reject(access_token),
        }
    }

    /// Restores a persisted token set; in a fleet it is the local copy, with no store version
    /// (the store's entry wins over it at the next renewal).
    pub(crate) fn restore(&mut self, tokens: grantline::TokenSet) {
        match self {
            Machine::Local(s) => **s = s.as_ref().clone().with_tokens(tokens),
            Machine::Fleet(sh) => sh.fleet.restore(tokens),
        }
    }

    /// Changes the session's settings (`set_skew`).
    pub(crate) fn change(&mut self, change: impl FnOnce(TokenSession) -> TokenSession) {
        let s = match self {
            Machine::Local(s) => s,
            Machine::Fleet(sh) => sh.fleet.session_mut(),
        };
        *s = change(s.clone());
    }

    /// The fleet's counters (`None` without a store).
    pub(crate) fn stats(&self) -> Option<FleetStats> {
        match self {
            Machine::Local(_) => None,
            Machine::Fleet(sh) => Some(sh.fleet.stats().into()),
        }
    }

    /// The store version of the local token set (`None` without a store).
    pub(crate) fn version(&self) -> Option<u64> {
        match self {
            Machine::Local(_) => None,
            Machine::Fleet(sh) => Some(sh.fleet.version()),
        }
    }

    /// The lease owner id (`None` without a store).
    pub(crate) fn owner(&self) -> Option<&str> {
        match self {
            Machine::Local(_) => None,
            Machine::Fleet(sh) => Some(sh.fleet.config().owner()),
        }
    }

    /// The shared entry's key (`None` without a store).
    pub(crate) fn entry_key(&self) -> Option<&str> {
        match self {
            Machine::Local(_) => None,
            Machine::Fleet(sh) => Some(&sh.fleet.config().keys().entry),
        }
    }
}
