// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A model of a fleet: several processes, each a `FleetSession`, over one in-memory store with
//! the documented semantics, against a token server that rotates refresh tokens and revokes the
//! whole grant when a used one comes back. A seeded scheduler interleaves their steps, with
//! store outages and lease holders killed while they hold the lease, and checks the fleet's
//! promises: no refresh token reused, no `invalid_grant`, no caller error while its process
//! holds a valid token, the stored refresh token is the server's current one, and one token
//! request per renewal period plus takeovers. `MODEL_TRACE=1` (with `--nocapture`) prints every
//! store operation and token request.

use std::collections::{HashMap, HashSet};

use grantline::fleet::{
    Action, FleetConfig, FleetNext, FleetSession, MemoryStore, StoreOp, StoreReply,
};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::{Client, GrantType, Password, Provider, SessionGrant, TokenSession};

/// xorshift64*: deterministic, seeded.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// The in-memory store, down until `down_until`.
#[derive(Default)]
struct Store {
    memory: MemoryStore,
    down_until: u64,
}

impl Store {
    /// Executes `op` at `now` (ms); `None` when the store is down.
    fn exec(&mut self, op: &StoreOp, now: u64) -> Option<StoreReply> {
        (now >= self.down_until).then(|| self.memory.execute(op, now))
    }
}

/// A token server with refresh-token rotation and reuse detection (like tests/load).
#[derive(Default)]
struct Server {
    lifetime: u64,
    /// Current refresh token -> family.
    current: HashMap<String, u64>,
    used: HashMap<String, u64>,
    revoked: HashSet<u64>,
    families: u64,
    minted: u64,
    requests: u64,
    reuse: u64,
    invalid_grant: u64,
}

impl Server {
    fn handle(&mut self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        self.requests += 1;
        let form: HashMap<String, String> = form_urlencoded::parse(request.body())
            .into_owned()
            .collect();
        let family = match form["grant_type"].as_str() {
            "password" => {
                self.families += 1;
                self.families
            }
            "refresh_token" => {
                let rt = &form["refresh_token"];
                if let Some(f) = self.current.remove(rt) {
                    self.used.insert(rt.clone(), f);
                    f
                } else {
                    if let Some(f) = self.used.get(rt) {
                        self.reuse += 1;
                        self.revoked.insert(*f);
                        let f = *f;
                        self.current.retain(|_, family| *family != f);
                    }
                    self.invalid_grant += 1;
                    return http::Response::builder()
                        .status(400)
                        .header("content-type", "application/json")
                        .body(br#"{"error":"invalid_grant"}"#.to_vec())
                        .unwrap();
                }
            }
            other => panic!("unexpected grant {other}"),
        };
        self.minted += 1;
        let rt = format!("rt-{}", self.minted);
        self.current.insert(rt.clone(), family);
        let body = format!(
            r#"{{"access_token":"at-{}","token_type":"Bearer","expires_in":{},"refresh_token":"{rt}"}}"#,
            self.minted, self.lifetime
        );
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.into_bytes())
            .unwrap()
    }
}

enum State {
    Idle,
    Acting(u64, Box<Action>),
    Sleeping(u64, u64),
}

struct Process {
    fleet: FleetSession,
    state: State,
}

fn protection() -> Protection {
    Protection::encrypted(EntryKey::new("k1", &[5u8; 32]).unwrap())
}

fn process(n: u64) -> Process {
    let provider = Provider::builder("model")
        .token_endpoint("https://as.example/token")
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .default_skew(60)
        .build()
        .unwrap();
    let client = Client::new(provider, "c").with_secret("s");
    let session = TokenSession::new(
        client,
        SessionGrant::Password {
            username: "u".into(),
            password: Password::new("p"),
            scopes: vec![],
        },
    );
    let config = FleetConfig::new("model", protection())
        .unwrap()
        .with_owner(&format!("p{n}"))
        .unwrap()
        .with_lease_ttl_ms(3_000);
    Process {
        fleet: FleetSession::new(session, config),
        state: State::Idle,
    }
}

struct Outcome {
    requests: u64,
    renewal_periods: u64,
    kills: u64,
    caller_errors: u64,
}

/// Runs `processes` processes for `seconds`, with outages and kills at the given rates (per
/// mille per step), and checks the fleet's promises.
fn run(seed: u64, processes: u64, seconds: u64, outage: u64, kill: u64) -> Outcome {
    run_with(seed, processes, seconds, outage, kill, 20)
}

/// [`run`] with tokens of `lifetime` seconds.
fn run_with(
    seed: u64,
    processes: u64,
    seconds: u64,
    outage: u64,
    kill: u64,
    lifetime: u64,
) -> Outcome {
    let mut rng = Rng(seed | 1);
    let mut store = Store::default();
    let mut server = Server {
        lifetime,
        ..Server::default()
    };
    let mut fleet: Vec<Process> = (0..processes).map(process).collect();
    let mut spawned = processes;
    let (mut kills, mut caller_errors) = (0, 0);
    let start = 1_700_000_000_000u64;
    let end = start + seconds * 1000;
    let mut now = start;
    while now < end {
        now += rng.below(20) + 1;
        // Outages of up to 2.5 s, at least 3 s apart: shorter than the 3 s lease, so a holder
        // whose commit was lost writes it before its lease ends (the documented bound).
        if outage > 0 && rng.chance(outage) && now >= store.down_until + 3_000 {
            store.down_until = now + rng.below(2_500);
        }
        let i = usize::try_from(rng.below(processes)).unwrap();
        let p = &mut fleet[i];
        let state = std::mem::replace(&mut p.state, State::Idle);
        let next_state = match state {
            State::Idle => match p.fleet.next(now) {
                Ok(FleetNext::Ready(token)) => {
                    let at: u64 = token.secret().trim_start_matches("at-").parse().unwrap();
                    assert!(at > 0);
                    State::Idle
                }
                Ok(FleetNext::Wait { .. }) => State::Idle,
                Ok(FleetNext::Perform { id, action, .. }) => State::Acting(id, Box::new(action)),
                Err(e) => {
                    // Only a process without a valid token may see an error.
                    let valid = p
                        .fleet
                        .session()
                        .tokens()
                        .is_some_and(|t| t.expires_at().is_none_or(|at| now / 1000 < at));
                    assert!(!valid, "a caller saw {e} while its token was valid");
                    caller_errors += 1;
                    State::Idle
                }
            },
            State::Sleeping(id, until) if now >= until => {
                let a = p.fleet.store_done(id, StoreReply::Watched, now).unwrap();
                State::Acting(id, Box::new(a))
            }
            sleeping @ State::Sleeping(..) => sleeping,
            State::Acting(id, action) => match *action {
                Action::Store(StoreOp::Watch { timeout_ms, .. }) => {
                    State::Sleeping(id, now + timeout_ms)
                }
                Action::Store(op) => {
                    if std::env::var_os("MODEL_TRACE").is_some() {
                        eprintln!("{now} p{i} {op:?} down={}", now < store.down_until);
                    }
                    let a = match store.exec(&op, now) {
                        Some(reply) => p.fleet.store_done(id, reply, now).unwrap(),
                        None => p.fleet.store_failed(id, "store down", now).unwrap(),
                    };
                    State::Acting(id, Box::new(a))
                }
                Action::Send(request) => {
                    if kill > 0 && rng.chance(kill) {
                        // kill -9 before the request leaves: a fresh process takes the slot.
                        kills += 1;
                        spawned += 1;
                        *p = process(spawned);
                        continue;
                    }
                    let response = server.handle(&request);
                    if std::env::var_os("MODEL_TRACE").is_some() {
                        eprintln!(
                            "{now} p{i} sends {} -> {} (store down until {}, v{} unsaved {})",
                            String::from_utf8_lossy(request.body()),
                            response.status(),
                            store.down_until,
                            p.fleet.version(),
                            p.fleet.unsaved()
                        );
                    }
                    State::Acting(id, Box::new(p.fleet.receive(id, &response, now).unwrap()))
                }
                Action::Done(completion) => {
                    if completion.renewed.is_some() {
                        p.fleet.delivered(id);
                    }
                    match p.fleet.waited(id, now) {
                        Ok(FleetNext::Perform { id, action, .. }) => {
                            State::Acting(id, Box::new(action))
                        }
                        _ => State::Idle,
                    }
                }
            },
        };
        p.state = next_state;
    }
    assert_eq!(server.reuse, 0, "a refresh token was used twice");
    assert_eq!(server.invalid_grant, 0, "invalid_grant");
    // Nothing lost: the stored refresh token is the server's current one.
    let entry = Entry::open(
        store.memory.entry("grantline:{model}").unwrap(),
        &protection(),
    )
    .unwrap();
    let rt = entry.tokens().refresh_token().unwrap().secret().to_owned();
    let unsaved = fleet.iter().any(|p| p.fleet.unsaved());
    assert!(
        server.current.contains_key(&rt) || unsaved,
        "the stored refresh token is not current, and no process holds a newer one"
    );
    Outcome {
        requests: server.requests,
        // The 60 s skew is capped at half the lifetime: a renewal every half lifetime.
        renewal_periods: seconds / (lifetime / 2).max(1),
        kills,
        caller_errors,
    }
}

#[test]
fn a_quiet_fleet_makes_one_token_request_per_renewal_period() {
    for seed in 1..=5 {
        let o = run(seed, 6, 300, 0, 0);
        assert!(
            o.requests <= o.renewal_periods + 1,
            "seed {seed}: {} token requests for {} renewal periods",
            o.requests,
            o.renewal_periods
        );
        assert_eq!(o.caller_errors, 0, "seed {seed}");
    }
}

#[test]
fn killed_lease_holders_are_taken_over_without_reusing_a_refresh_token() {
    let mut kills = 0;
    for seed in 1..=20 {
        let o = run(seed, 5, 300, 0, 150);
        kills += o.kills;
        assert!(
            o.requests <= o.renewal_periods + 1 + o.kills,
            "seed {seed}: {} token requests, {} periods, {} kills",
            o.requests,
            o.renewal_periods,
            o.kills
        );
    }
    assert!(kills > 20, "the faults must happen: {kills} kills");
}

#[test]
fn store_outages_never_revoke_the_grant_nor_fail_a_caller_holding_a_token() {
    for seed in 1..=20 {
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!("seed {seed}");
        }
        run(seed, 5, 300, 3, 30);
    }
}

#[test]
fn tokens_that_fall_due_while_a_lost_commit_waits_never_reuse_a_refresh_token() {
    // 2 s tokens, renewed every second, and outages of up to 2.5 s (shorter than the 3 s
    // lease): a holder's token falls due while its commit waits for the store.
    for seed in 1..=20 {
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!("seed {seed}");
        }
        run_with(seed, 4, 120, 3, 0, 2);
    }
}
