//! The fleet session over a hostile store: a fuzz-chosen sequence of `next`, `waited`,
//! `store_done` (with fuzz-chosen replies: raw entry bytes, entries sealed with the fleet's key
//! holding fuzz-chosen tokens and versions, any lease TTL, any commit result, replies that do
//! not answer the operation asked), `store_failed`, `receive`, `fail`, `reject`, `delivered`,
//! `abandon` and `forget`, with time never going back.
//!
//! Invariants:
//! - no panic;
//! - `next()` and `waited()` never return `Err` while the local token set holds a usable access
//!   token (bearer, not expired at `now`, not rejected): a store never turns into a caller
//!   error while a valid token exists;
//! - every error message passes `check_error_text` and never holds a token or entry text;
//! - a refresh is never sent while the store was just reported down, unless the configuration
//!   allows renewing alone;
//! - the `Debug` of every action and reply never shows a token (entries are shown by size).
#![no_main]

use arbitrary::Arbitrary;
use grantline::fleet::{Action, FleetConfig, FleetNext, FleetSession, StoreOp, StoreReply};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::{AccessToken, Client, Password, RefreshToken, SessionGrant, TokenSession, TokenSet};
use grantline_fuzz::{check_error_text, content_type, response};
use libfuzzer_sys::fuzz_target;

const START: u64 = 1_700_000_000_000;
const SECRETS: [&str; 3] = ["AT-SECRET", "RT-SECRET", "PW-SECRET"];

#[derive(Arbitrary, Debug)]
struct Input {
    refresh_only: bool,
    renew_alone: bool,
    initial: Option<(bool, u16)>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Next { dt: u16 },
    Waited { dt: u16 },
    Reply { dt: u16, reply: Reply },
    StoreFailed { dt: u16 },
    Receive { dt: u16, status: u8, ct: u8, body: Body },
    Fail { dt: u16 },
    Reject { current: bool },
    Delivered,
    Abandon,
    Forget,
}

#[derive(Arbitrary, Debug)]
enum Reply {
    Entry(EntryChoice),
    Acquired { acquired: bool, ttl: Option<u32>, entry: EntryChoice },
    Committed(bool),
    Released,
    Watched,
}

#[derive(Arbitrary, Debug)]
enum EntryChoice {
    None,
    Raw(Vec<u8>),
    Sealed { version: u8, lifetime: u16, age: u16, refresh: bool, same_token: bool },
}

#[derive(Arbitrary, Debug)]
enum Body {
    Tokens { expires_in: u16, refresh: bool, error: bool },
    Raw(Vec<u8>),
}

fn protection() -> Protection {
    Protection::encrypted(EntryKey::new("k1", &[1u8; 32]).unwrap_or_else(|_| unreachable!()))
}

fn entry_text(choice: &EntryChoice, now_ms: u64, n: u64) -> Option<String> {
    match choice {
        EntryChoice::None => None,
        EntryChoice::Raw(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        EntryChoice::Sealed { version, lifetime, age, refresh, same_token } => {
            let now = now_ms / 1000;
            let issued = now.saturating_sub(u64::from(*age));
            let access = if *same_token { "AT-SECRET-0".to_owned() } else { format!("AT-SECRET-s{n}") };
            let tokens = TokenSet::new(
                AccessToken::new(access),
                refresh.then(|| RefreshToken::new(format!("RT-SECRET-s{n}"))),
                Some(issued + u64::from(*lifetime)),
                issued,
            );
            Entry::new(u64::from(*version), tokens, now).seal(&protection()).ok()
        }
    }
}

fn no_secret(shown: &str) {
    for s in SECRETS {
        assert!(!shown.contains(s), "a secret is shown: {shown}");
    }
}

fuzz_target!(|input: Input| {
    let client = Client::new(grantline_fuzz::provider(0), "c").with_secret("s");
    let grant = if input.refresh_only {
        SessionGrant::RefreshOnly
    } else {
        SessionGrant::Password {
            username: "u".into(),
            password: Password::new("PW-SECRET"),
            scopes: vec![],
        }
    };
    let mut session = TokenSession::new(client, grant);
    if let Some((refresh, lifetime)) = input.initial {
        session = session.with_tokens(TokenSet::new(
            AccessToken::new("AT-SECRET-0"),
            refresh.then(|| RefreshToken::new("RT-SECRET-0")),
            Some(START / 1000 + u64::from(lifetime)),
            START / 1000,
        ));
    }
    let Ok(config) = FleetConfig::new("fuzz", protection()) else { return };
    let config = config.renew_alone_when_store_down(input.renew_alone);
    let mut fleet = FleetSession::new(session, config);
    let mut now = START;
    let mut current: Option<u64> = None;
    let mut last_id = 0u64;
    let mut n = 0u64;
    let mut store_just_failed = false;

    let usable = |f: &FleetSession, now: u64, rejected: &Option<String>| {
        f.session().tokens().is_some_and(|t| {
            t.is_bearer()
                && t.expires_at().is_none_or(|at| now / 1000 < at)
                && !rejected.as_ref().is_some_and(|r| t.access_token().secret() == r)
        })
    };
    let mut rejected: Option<String> = None;

    for op in input.ops.into_iter().take(64) {
        n += 1;
        let id = current.unwrap_or(last_id);
        let result: Option<(u64, Result<Action, grantline::Error>)> = match op {
            Op::Next { dt } | Op::Waited { dt } => {
                now += u64::from(dt);
                let had = usable(&fleet, now, &rejected);
                let r = if matches!(op, Op::Next { .. }) { fleet.next(now) } else { fleet.waited(id, now) };
                match r {
                    Ok(FleetNext::Perform { id: new, action, .. }) => {
                        last_id = new;
                        Some((new, Ok(action)))
                    }
                    Ok(FleetNext::Ready(t)) => {
                        no_secret(&format!("{:?}", FleetNext::Ready(t)));
                        None
                    }
                    Ok(FleetNext::Wait { .. }) => None,
                    Err(e) => {
                        assert!(!had, "a caller saw {e} while a usable token existed");
                        no_secret(&check_error_text(&e));
                        None
                    }
                }
            }
            Op::Reply { dt, reply } => {
                now += u64::from(dt);
                let reply = match reply {
                    Reply::Entry(e) => StoreReply::Entry(entry_text(&e, now, n)),
                    Reply::Acquired { acquired, ttl, entry } => StoreReply::Acquired {
                        acquired,
                        lease_ttl_ms: ttl.map(u64::from),
                        entry: entry_text(&entry, now, n),
                    },
                    Reply::Committed(c) => StoreReply::Committed(c),
                    Reply::Released => StoreReply::Released,
                    Reply::Watched => StoreReply::Watched,
                };
                no_secret(&format!("{reply:?}"));
                store_just_failed = false;
                Some((id, fleet.store_done(id, reply, now)))
            }
            Op::StoreFailed { dt } => {
                now += u64::from(dt);
                store_just_failed = true;
                Some((id, fleet.store_failed(id, "store down", now)))
            }
            Op::Receive { dt, status, ct, body } => {
                now += u64::from(dt);
                let body = match body {
                    Body::Tokens { expires_in, refresh, error } => {
                        let mut b = format!(r#"{{"access_token":"AT-SECRET-r{n}","token_type":"Bearer","expires_in":{expires_in}"#);
                        if refresh {
                            b.push_str(&format!(r#","refresh_token":"RT-SECRET-r{n}""#));
                        }
                        if error {
                            b.push_str(r#","error":"invalid_grant""#);
                        }
                        b.push('}');
                        b.into_bytes()
                    }
                    Body::Raw(bytes) => bytes,
                };
                let resp = response(grantline_fuzz::status(status), content_type(ct), &body);
                Some((id, fleet.receive(id, &resp, now)))
            }
            Op::Fail { dt } => {
                now += u64::from(dt);
                Some((id, fleet.fail(id, "reset", now)))
            }
            Op::Reject { current: yes } => {
                let token = if yes {
                    fleet.session().tokens().map(|t| t.access_token().secret().to_owned())
                } else {
                    Some("other".to_owned())
                };
                if let Some(t) = token {
                    if fleet.reject(&t) {
                        rejected = Some(t);
                    }
                }
                None
            }
            Op::Delivered => {
                fleet.delivered(id);
                None
            }
            Op::Abandon => {
                if fleet.abandon(id) {
                    current = None;
                }
                None
            }
            Op::Forget => {
                fleet.forget(id);
                current = None;
                None
            }
        };
        match result {
            Some((id, Ok(action))) => {
                no_secret(&format!("{action:?}"));
                if let Action::Send(request) = &action {
                    let body = String::from_utf8_lossy(request.body()).into_owned();
                    if store_just_failed && !input.renew_alone {
                        assert!(
                            !body.contains("grant_type=refresh_token"),
                            "a refresh sent alone while the store is down"
                        );
                    }
                }
                if let Action::Store(StoreOp::Commit { entry, .. }) = &action {
                    // What a process writes, it can read back.
                    assert!(Entry::open(entry, &protection()).is_ok());
                }
                current = match action {
                    Action::Done(_) => None,
                    _ => Some(id),
                };
            }
            Some((_, Err(e))) => {
                no_secret(&check_error_text(&e));
            }
            None => {}
        }
    }
});
