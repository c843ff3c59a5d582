//! `grantline-redis` against a real Redis (`GRANTLINE_REDIS_URL`) and the load server of
//! `tests/load` (`GRANTLINE_LOAD_URL`: counts token requests, rotates refresh tokens, revokes a
//! family when a used refresh token comes back), both started by `tests/interop/servers.sh`.
//!
//! Processes are played by drivers that share nothing but Redis: each has its own
//! `FleetSession` and its own `RedisStore` (its own connections), and each uses many threads.
//!
//! Built only with the `interop` feature; skipped, with a message, when either URL is unset.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use grantline::fleet::{Action, FleetConfig, FleetNext, FleetSession, StoreOp, StoreReply};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::{
    AccessToken, Client, ClientAuthMethod, Error, GrantType, Password, Provider, RefreshToken,
    SessionGrant, TokenSession, TokenSet,
};
use grantline_examples::Transport;
use grantline_redis::{redis, AsyncRedisStore, FleetTokens, RedisStore, Store};
use serde_json::json;

/// The load server is shared: its tests reset it, so they take turns.
static LOAD_SERVER: Mutex<()> = Mutex::new(());

struct Servers {
    redis: String,
    load: String,
    _turn: Option<MutexGuard<'static, ()>>,
}

/// The servers' URLs, or `None` (and a message) when the test cannot run. `load`: the test
/// uses the load server, and takes its turn.
fn servers(test: &str, load: bool) -> Option<Servers> {
    let (Ok(redis), Ok(load_url)) = (
        std::env::var("GRANTLINE_REDIS_URL"),
        std::env::var("GRANTLINE_LOAD_URL"),
    ) else {
        eprintln!(
            "fleet::{test}: SKIPPED: GRANTLINE_REDIS_URL and GRANTLINE_LOAD_URL must be set \
             (run under tests/interop/servers.sh run)"
        );
        return None;
    };
    let turn = load.then(|| LOAD_SERVER.lock().unwrap_or_else(PoisonError::into_inner));
    Some(Servers {
        redis,
        load: load_url,
        _turn: turn,
    })
}

fn transport() -> Transport {
    Transport::with_timeout(Duration::from_secs(10))
}

fn admin(base: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let mut request = http::Request::new(
        body.as_ref()
            .map_or(Vec::new(), |b| b.to_string().into_bytes()),
    );
    if body.is_some() {
        *request.method_mut() = http::Method::POST;
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    *request.uri_mut() = format!("{base}{path}").parse().unwrap();
    let response = transport().send(&request).unwrap();
    serde_json::from_slice(response.body()).unwrap()
}

fn reset(load: &str, lifetime: f64) {
    admin(
        load,
        "/admin/reset",
        Some(json!({"lifetime": lifetime, "fail_rate": 0.0, "delay": 0.05})),
    );
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{tag}-{}-{nanos}", std::process::id())
}

fn protection() -> Protection {
    Protection::encrypted(EntryKey::new("k-test", &[0x42; 32]).unwrap())
}

fn client(load: &str) -> Client {
    let provider = Provider::builder("load")
        .token_endpoint(format!("{load}/token"))
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .auth_method(ClientAuthMethod::Body)
        .build()
        .unwrap();
    Client::new(provider, "fleet-rust").with_secret("load-secret")
}

fn password() -> SessionGrant {
    SessionGrant::Password {
        username: "fleet".into(),
        password: Password::new("fleet"),
        scopes: vec![],
    }
}

/// One "process": its own session, store connection and HTTP agent.
fn process(
    redis_url: &str,
    session: TokenSession,
    name: &str,
    lease_ms: Option<u64>,
) -> FleetTokens {
    let mut config = FleetConfig::new(name, protection()).unwrap();
    if let Some(ms) = lease_ms {
        config = config.with_lease_ttl_ms(ms);
    }
    let http = transport();
    FleetTokens::new(
        FleetSession::new(session, config),
        RedisStore::open(redis_url).unwrap(),
        move |request: &http::Request<Vec<u8>>| http.send(request),
    )
}

/// A Redis URL where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}/0")
}

fn raw(redis_url: &str) -> redis::Connection {
    redis::Client::open(redis_url)
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap()
}

fn now() -> u64 {
    grantline_examples::now()
}

/// Callers on `tokens` for `seconds`: token, API call, reject on 401, 20 ms pause. Returns
/// (calls, caller errors, API 401s).
fn callers(tokens: &Arc<FleetTokens>, load: &str, threads: usize, seconds: f64) -> (u64, u64, u64) {
    let (calls, errors, unauthorized) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (tokens, calls, errors, unauthorized) = (
                Arc::clone(tokens),
                Arc::clone(&calls),
                Arc::clone(&errors),
                Arc::clone(&unauthorized),
            );
            let api = format!("{load}/api");
            let http = transport();
            std::thread::spawn(move || {
                while Instant::now() < until {
                    calls.fetch_add(1, Ordering::Relaxed);
                    match tokens.access_token() {
                        Ok(token) => {
                            let mut request = http::Request::new(Vec::new());
                            *request.uri_mut() = api.parse().unwrap();
                            request.headers_mut().insert(
                                http::header::AUTHORIZATION,
                                grantline::bearer::authorization_header(&token).unwrap(),
                            );
                            if http.send(&request).is_ok_and(|r| r.status() == 401) {
                                unauthorized.fetch_add(1, Ordering::Relaxed);
                                tokens.reject(token.secret());
                            }
                        }
                        Err(e) => {
                            eprintln!("caller error: {e}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    (
        calls.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        unauthorized.load(Ordering::Relaxed),
    )
}

#[test]
fn two_processes_sharing_a_name_make_one_token_request() {
    let Some(s) = servers("two_processes_sharing_a_name_make_one_token_request", true) else {
        return;
    };
    reset(&s.load, 60.0);
    let name = unique("one-request");
    let procs: Vec<_> = (0..2)
        .map(|_| {
            let session = TokenSession::client_credentials(client(&s.load), vec![]);
            Arc::new(process(&s.redis, session, &name, None))
        })
        .collect();
    let handles: Vec<_> = procs
        .iter()
        .flat_map(|p| (0..8).map(move |_| Arc::clone(p)))
        .map(|p| {
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| p.access_token().unwrap().secret().to_owned())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let tokens: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every caller got the one token"
    );
    let stats = admin(&s.load, "/admin/stats", None);
    assert_eq!(stats["token_requests"], 1, "{stats}");
    let (a, b) = (procs[0].stats(), procs[1].stats());
    assert_eq!(a.http_renewals + b.http_renewals, 1);
    assert_eq!(a.adopted + b.adopted, 1);
    assert_eq!((procs[0].version(), procs[1].version()), (1, 1));
    println!(
        "two processes x 8 threads x 5 calls: 1 token request; store ops {} + {}",
        a.store_ops, b.store_ops
    );
}

#[test]
fn a_rotating_refresh_token_survives_two_processes() {
    let Some(s) = servers("a_rotating_refresh_token_survives_two_processes", true) else {
        return;
    };
    let (lifetime, seconds) = (2.0, 7.0);
    reset(&s.load, lifetime);
    let name = unique("rotation");
    let procs: Vec<_> = (0..2)
        .map(|_| {
            Arc::new(process(
                &s.redis,
                TokenSession::new(client(&s.load), password()),
                &name,
                None,
            ))
        })
        .collect();
    // Which process wins a race for the lease is up to the scheduler, so the hand-offs are
    // forced first: A alone, then B alone (B's first renewal can only use a refresh token A
    // rotated), then A alone again (A's next renewal uses one B rotated); then both race.
    let (a, b) = (&procs[0], &procs[1]);
    let alone = |p: &Arc<FleetTokens>, secs: f64| callers(p, &s.load, 4, secs);
    let mut results = vec![alone(a, 1.5)];
    let a_before = a.stats().http_renewals;
    results.push(alone(b, 2.0));
    assert!(
        b.stats().http_renewals >= 1,
        "B renewed with the refresh token A rotated: {:?}",
        b.stats()
    );
    results.push(alone(a, 2.0));
    assert!(
        a.stats().http_renewals > a_before,
        "A renewed with the refresh token B rotated: {:?}",
        a.stats()
    );
    let rest = seconds - 5.5;
    let runs: Vec<_> = procs
        .iter()
        .map(|p| {
            let (p, load) = (Arc::clone(p), s.load.clone());
            std::thread::spawn(move || callers(&p, &load, 4, rest))
        })
        .collect();
    results.extend(runs.into_iter().map(|r| r.join().unwrap()));
    let stats = admin(&s.load, "/admin/stats", None);
    println!(
        "rotation, 2 processes x 4 threads, {seconds} s, lifetime {lifetime} s: server {stats}"
    );
    for p in &procs {
        println!("  {:?}", p.stats());
    }
    let calls: u64 = results.iter().map(|r| r.0).sum();
    println!("  calls {calls}");
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(stats["reuse_detected"], 0, "{stats}");
    assert_eq!(stats["families"], 1, "{stats}");
    assert!(
        results.iter().all(|r| r.1 == 0),
        "no caller error: {results:?}"
    );
    // The skew is half the lifetime: one renewal per second for the whole fleet (+1 for the
    // first token, +1 for a second boundary).
    let bound = (seconds * 2.0 / lifetime) as u64 + 2;
    assert!(
        stats["token_requests"].as_u64().unwrap() <= bound,
        "{stats} > {bound}"
    );

    // The entry's refresh token is the current one at the server: nothing was lost.
    let store = RedisStore::open(&s.redis).unwrap();
    let config = FleetConfig::new(&name, protection()).unwrap();
    let read = StoreOp::Read {
        key: config.keys().entry.clone(),
    };
    let StoreReply::Entry(Some(text)) = store.execute(&read, Duration::from_secs(2)).unwrap()
    else {
        panic!("no entry");
    };
    let entry = Entry::open(&text, &protection()).unwrap();
    let rt = entry.tokens().refresh_token().unwrap().secret().to_owned();
    let state = admin(
        &s.load,
        "/admin/check",
        Some(json!({ "refresh_token": rt })),
    );
    assert_eq!(state["state"], "current", "{state}");
}

#[test]
fn a_store_outage_reaches_no_caller_holding_a_valid_token() {
    let Some(s) = servers(
        "a_store_outage_reaches_no_caller_holding_a_valid_token",
        true,
    ) else {
        return;
    };
    reset(&s.load, 60.0);
    let down = closed_port();
    let name = unique("outage");

    // Client credentials: renews alone, the caller gets a token.
    let cc = process(
        &down,
        TokenSession::client_credentials(client(&s.load), vec![]),
        &name,
        None,
    );
    let started = Instant::now();
    assert!(cc.access_token().is_ok());
    let stats = cc.stats();
    assert!(
        stats.store_failures >= 1 && stats.fallback_renewals == 1,
        "{stats:?}"
    );
    println!(
        "closed port: a client-credentials token in {:?}, {stats:?}",
        started.elapsed()
    );
    // Backing off from the store: cached tokens are still served, with no store call.
    for _ in 0..10 {
        assert!(cc.access_token().is_ok());
    }
    assert_eq!(cc.stats().store_ops, stats.store_ops);

    // Refresh only, a valid token due for renewal: served; no refresh without the store.
    let t = now();
    let due = TokenSet::new(
        AccessToken::new("still-valid"),
        Some(RefreshToken::new("rt")),
        Some(t + 30),
        t - 600,
    );
    let refresh = process(
        &down,
        TokenSession::from_tokens(client(&s.load), due).with_skew(60),
        &name,
        None,
    );
    assert_eq!(refresh.access_token().unwrap().secret(), "still-valid");

    // Refresh only, expired: the store error, and no token request.
    let expired = TokenSet::new(
        AccessToken::new("expired"),
        Some(RefreshToken::new("rt")),
        Some(t - 1),
        t - 600,
    );
    let refresh = process(
        &down,
        TokenSession::from_tokens(client(&s.load), expired),
        &name,
        None,
    );
    let err = refresh.access_token().unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(!err.to_string().contains("redis://"), "{err}");
    let stats = admin(&s.load, "/admin/stats", None);
    assert_eq!(
        stats["token_requests"], 1,
        "only the client-credentials request: {stats}"
    );
}

#[test]
fn hostile_entries_are_typed_failures_not_crashes() {
    let Some(s) = servers("hostile_entries_are_typed_failures_not_crashes", true) else {
        return;
    };
    reset(&s.load, 60.0);
    let other_key = Protection::encrypted(EntryKey::new("k-test", &[0x17; 32]).unwrap());
    let t = now();
    let foreign = Entry::new(
        5,
        TokenSet::new(
            AccessToken::new("foreign"),
            Some(RefreshToken::new("rt")),
            Some(t + 3600),
            t,
        ),
        t,
    )
    .seal(&other_key)
    .unwrap();
    let plaintext = Entry::new(
        5,
        TokenSet::new(AccessToken::new("downgrade"), None, Some(t + 3600), t),
        t,
    )
    .seal(&Protection::plaintext())
    .unwrap();
    let mut con = raw(&s.redis);
    for (what, garbage) in [
        ("not JSON", "garbage \u{0} \u{fffd}".to_owned()),
        ("an empty object", "{}".to_owned()),
        (
            "a huge version",
            r#"{"format":1,"version":1e400}"#.to_owned(),
        ),
        ("another key under the same kid", foreign),
        ("a plaintext entry in an encrypted fleet", plaintext),
        ("1 MiB of JSON", format!("[{}]", "1,".repeat(600_000) + "1")),
    ] {
        let name = unique("hostile");
        let key = format!("grantline:{{{name}}}");
        redis::cmd("SET")
            .arg(&key)
            .arg(&garbage)
            .query::<()>(&mut con)
            .unwrap();
        let cc = process(
            &s.redis,
            TokenSession::client_credentials(client(&s.load), vec![]),
            &name,
            None,
        );
        let token = cc.access_token().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_ne!(token.secret(), "foreign", "{what}");
        assert_ne!(token.secret(), "downgrade", "{what}");
        assert_eq!(cc.stats().store_failures, 1, "{what}");
        let t = now();
        let expired = TokenSet::new(
            AccessToken::new("x"),
            Some(RefreshToken::new("rt")),
            Some(t - 1),
            t - 600,
        );
        let refresh = process(
            &s.redis,
            TokenSession::from_tokens(client(&s.load), expired),
            &name,
            None,
        );
        let err = refresh.access_token().unwrap_err();
        assert!(matches!(err, Error::Store { .. }), "{what}: {err:?}");
        let stored: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        assert_eq!(stored, garbage, "{what}: the entry was not overwritten");
        redis::cmd("DEL").arg(&key).query::<()>(&mut con).unwrap();
    }
}

#[test]
fn a_holder_that_stops_mid_renewal_is_taken_over_after_the_lease_ttl() {
    let Some(s) = servers(
        "a_holder_that_stops_mid_renewal_is_taken_over_after_the_lease_ttl",
        true,
    ) else {
        return;
    };
    reset(&s.load, 60.0);
    let name = unique("takeover");
    let lease_ms = 1000;
    // The holder: reads, takes the lease, and stops before its token request (a process that
    // died mid-renewal).
    let config = FleetConfig::new(&name, protection())
        .unwrap()
        .with_lease_ttl_ms(lease_ms);
    let mut dead = FleetSession::new(TokenSession::new(client(&s.load), password()), config);
    let store = RedisStore::open(&s.redis).unwrap();
    let ms = || {
        u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    };
    let FleetNext::Perform { id, mut action, .. } = dead.next(ms()).unwrap() else {
        panic!("the holder renews");
    };
    while let Action::Store(op) = action {
        let reply = store.execute(&op, Duration::from_secs(2)).unwrap();
        action = dead.store_done(id, reply, ms()).unwrap();
    }
    assert!(
        matches!(action, Action::Send(_)),
        "the holder has the lease: {action:?}"
    );
    let held_at = Instant::now();
    drop(dead);

    let live = process(
        &s.redis,
        TokenSession::new(client(&s.load), password()),
        &name,
        Some(lease_ms),
    );
    assert!(live.access_token().is_ok());
    let took = held_at.elapsed();
    let stats = live.stats();
    println!("takeover after {took:?} (lease {lease_ms} ms): {stats:?}");
    assert!(
        took >= Duration::from_millis(lease_ms * 7 / 10),
        "it waited for the lease: {took:?}"
    );
    assert!(
        took < Duration::from_millis(lease_ms + 1500),
        "it took over soon after: {took:?}"
    );
    assert_eq!(stats.http_renewals, 1);
    assert_eq!(admin(&s.load, "/admin/stats", None)["token_requests"], 1);
}

#[test]
fn round_trips_of_a_renewal_and_of_a_cached_access() {
    let Some(s) = servers("round_trips_of_a_renewal_and_of_a_cached_access", true) else {
        return;
    };
    reset(&s.load, 60.0);
    let name = unique("cost");
    let first = process(
        &s.redis,
        TokenSession::client_credentials(client(&s.load), vec![]),
        &name,
        None,
    );
    first.access_token().unwrap();
    let renewal = first.stats().store_ops;
    for _ in 0..1000 {
        first.access_token().unwrap();
    }
    let cached = first.stats().store_ops - renewal;
    let second = process(
        &s.redis,
        TokenSession::client_credentials(client(&s.load), vec![]),
        &name,
        None,
    );
    second.access_token().unwrap();
    let adoption = second.stats().store_ops;
    println!(
        "store round trips: a renewal with a token request {renewal} (read, acquire, commit); \
         taking another process's entry {adoption} (read); 1000 cached accesses {cached}"
    );
    assert_eq!(renewal, 3);
    assert_eq!(cached, 0);
    assert_eq!(adoption, 1);
}

/// The five operations as the table says, over a store (blocking or async, through `run`).
fn follows_the_table(redis_url: &str, run: &dyn Fn(StoreOp) -> Result<StoreReply, String>) {
    let name = unique("table");
    let keys = FleetConfig::new(&name, protection())
        .unwrap()
        .keys()
        .clone();
    let acquire = |owner: &str| StoreOp::Acquire {
        key: keys.entry.clone(),
        lease: keys.lease.clone(),
        owner: owner.into(),
        ttl_ms: 1000,
    };
    let commit = |owner: &str, expected: u64| StoreOp::Commit {
        key: keys.entry.clone(),
        lease: keys.lease.clone(),
        owner: owner.into(),
        channel: keys.channel.clone(),
        expected_version: expected,
        version: expected + 1,
        entry: format!(r#"{{"format":1,"version":{}}}"#, expected + 1),
    };
    let read = || StoreOp::Read {
        key: keys.entry.clone(),
    };
    assert_eq!(run(read()).unwrap(), StoreReply::Entry(None));
    let StoreReply::Acquired {
        acquired: true,
        lease_ttl_ms: Some(ttl),
        entry: None,
    } = run(acquire("a")).unwrap()
    else {
        panic!("a takes the lease");
    };
    assert!(ttl > 0 && ttl <= 1000);
    assert!(matches!(
        run(acquire("a")).unwrap(),
        StoreReply::Acquired { acquired: true, .. }
    ));
    assert!(matches!(
        run(acquire("b")).unwrap(),
        StoreReply::Acquired {
            acquired: false,
            ..
        }
    ));
    // A stale writer (expected version 1, the store has none) is refused, and loses its lease.
    assert_eq!(run(commit("a", 1)).unwrap(), StoreReply::Committed(false));
    assert!(matches!(
        run(acquire("b")).unwrap(),
        StoreReply::Acquired { acquired: true, .. }
    ));
    // A watch wakes at the commit's announcement, long before its timeout.
    let watch = |version, timeout_ms| StoreOp::Watch {
        channel: keys.channel.clone(),
        version,
        timeout_ms,
    };
    let writer = {
        let (url, op) = (redis_url.to_owned(), commit("b", 0));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            RedisStore::open(&url)
                .unwrap()
                .execute(&op, Duration::from_secs(2))
        })
    };
    let t = Instant::now();
    assert_eq!(run(watch(0, 3000)).unwrap(), StoreReply::Watched);
    let woke = t.elapsed();
    assert_eq!(writer.join().unwrap().unwrap(), StoreReply::Committed(true));
    assert!(
        woke < Duration::from_millis(2000),
        "woken by the announcement: {woke:?}"
    );
    // No newer version: the timeout.
    let t = Instant::now();
    assert_eq!(run(watch(1, 100)).unwrap(), StoreReply::Watched);
    assert!(t.elapsed() >= Duration::from_millis(100));
    let StoreReply::Entry(Some(text)) = run(read()).unwrap() else {
        panic!("the entry");
    };
    assert_eq!(text, r#"{"format":1,"version":1}"#);
    // The commit released b's lease; a release by a non-owner changes nothing.
    assert!(matches!(
        run(acquire("c")).unwrap(),
        StoreReply::Acquired { acquired: true, .. }
    ));
    let release = |owner: &str| StoreOp::Release {
        lease: keys.lease.clone(),
        owner: owner.into(),
    };
    assert_eq!(run(release("a")).unwrap(), StoreReply::Released);
    assert!(matches!(
        run(acquire("d")).unwrap(),
        StoreReply::Acquired {
            acquired: false,
            ..
        }
    ));
    assert_eq!(run(release("c")).unwrap(), StoreReply::Released);
    assert!(matches!(
        run(acquire("d")).unwrap(),
        StoreReply::Acquired { acquired: true, .. }
    ));
    // An unreadable entry is never overwritten (the script's -1).
    let mut con = raw(redis_url);
    redis::cmd("SET")
        .arg(&keys.entry)
        .arg("garbage")
        .query::<()>(&mut con)
        .unwrap();
    assert_eq!(run(commit("d", 1)).unwrap(), StoreReply::Committed(false));
    // ...and the commit still ends the holder's lease: nobody waits out its TTL.
    let lease: Option<String> = redis::cmd("GET").arg(&keys.lease).query(&mut con).unwrap();
    assert_eq!(lease, None);
    redis::cmd("DEL")
        .arg(&keys.entry)
        .arg(&keys.lease)
        .query::<()>(&mut con)
        .unwrap();
}

#[test]
fn the_blocking_store_follows_the_table() {
    let Some(s) = servers("the_blocking_store_follows_the_table", false) else {
        return;
    };
    let store = RedisStore::open(&s.redis).unwrap();
    follows_the_table(&s.redis, &|op| store.execute(&op, Duration::from_secs(2)));
    // After `SCRIPT FLUSH` the scripts are loaded again (EVALSHA, then SCRIPT LOAD).
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut raw(&s.redis))
        .unwrap();
    follows_the_table(&s.redis, &|op| store.execute(&op, Duration::from_secs(2)));
}

#[test]
fn the_async_store_follows_the_table() {
    let Some(s) = servers("the_async_store_follows_the_table", false) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = AsyncRedisStore::open(&s.redis).unwrap();
    follows_the_table(&s.redis, &|op| runtime.block_on(store.execute(op)));
    // The future is `Send` (spawnable), as grantline-async needs.
    let store = Arc::new(store);
    let spawned = runtime
        .block_on(runtime.spawn({
            let store = Arc::clone(&store);
            async move {
                store
                    .execute(StoreOp::Read {
                        key: unique("none"),
                    })
                    .await
            }
        }))
        .unwrap();
    assert_eq!(spawned.unwrap(), StoreReply::Entry(None));
}

#[test]
fn unreachable_stores_fail_within_the_deadline() {
    let Some(_s) = servers("unreachable_stores_fail_within_the_deadline", false) else {
        return;
    };
    let down = closed_port();
    let read = StoreOp::Read { key: "k".into() };
    let started = Instant::now();
    let err = RedisStore::open(&down)
        .unwrap()
        .execute(&read, Duration::from_secs(2))
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!err.contains("redis://"), "{err}");
    // A hung Redis (a listener that never answers): the deadline, not a hang.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "redis://:hunter2@127.0.0.1:{}/0",
        hung.local_addr().unwrap().port()
    );
    let store = RedisStore::open(&url).unwrap();
    let started = Instant::now();
    let err = store
        .execute(&read, Duration::from_millis(300))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!format!("{store:?}").contains("hunter2"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = AsyncRedisStore::open(&url)
        .unwrap()
        .with_deadline(Duration::from_millis(300));
    let started = Instant::now();
    let err = runtime.block_on(store.execute(read)).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.contains("hunter2"), "{err}");
    drop(hung);
}

/// A TCP proxy to Redis whose connections can all be cut at once: a Redis restart as the
/// clients see it (their kept connections closed; new ones work).
struct Proxy {
    url: String,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start(redis_url: &str) -> Proxy {
        let target = redis_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/0", listener.local_addr().unwrap());
        let conns: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let kept = Arc::clone(&conns);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut list = kept.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { url, conns }
    }

    /// Closes every connection made so far.
    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kept_connections_closed_by_a_restart_are_replaced_without_a_failure() {
    let Some(s) = servers(
        "kept_connections_closed_by_a_restart_are_replaced_without_a_failure",
        false,
    ) else {
        return;
    };
    let proxy = Proxy::start(&s.redis);
    let keys = FleetConfig::new(&unique("restart"), protection())
        .unwrap()
        .keys()
        .clone();
    let read = StoreOp::Read {
        key: keys.entry.clone(),
    };
    let watch = StoreOp::Watch {
        channel: keys.channel.clone(),
        version: 0,
        timeout_ms: 20,
    };
    let deadline = Duration::from_secs(2);
    let store = RedisStore::open(&proxy.url).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_store = AsyncRedisStore::open(&proxy.url).unwrap();
    for round in 0..3 {
        assert_eq!(
            store.execute(&read, deadline),
            Ok(StoreReply::Entry(None)),
            "round {round}"
        );
        assert_eq!(
            store.execute(&watch, deadline),
            Ok(StoreReply::Watched),
            "round {round}"
        );
        assert_eq!(
            runtime.block_on(async_store.execute(read.clone())),
            Ok(StoreReply::Entry(None)),
            "round {round}"
        );
        assert_eq!(
            runtime.block_on(async_store.execute(watch.clone())),
            Ok(StoreReply::Watched),
            "round {round}"
        );
        proxy.cut();
    }
}

/// `grantline-async` with `AsyncRedisStore` and reqwest: the Rust async service's way.
async fn reqwest_send(
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, reqwest::Error> {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let http = HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    });
    let response = http.execute(request.try_into()?).await?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body).unwrap_or_default())
}

#[test]
fn async_processes_over_redis_make_one_token_request_per_lifetime() {
    let Some(s) = servers(
        "async_processes_over_redis_make_one_token_request_per_lifetime",
        true,
    ) else {
        return;
    };
    reset(&s.load, 2.0);
    let name = unique("async");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let processes: Vec<grantline_async::AsyncTokenSession> = (0..3)
        .map(|_| {
            let store = Arc::new(AsyncRedisStore::open(&s.redis).unwrap());
            let config = FleetConfig::new(&name, protection()).unwrap();
            grantline_async::AsyncTokenSession::builder(
                TokenSession::new(client(&s.load), password()),
                reqwest_send,
            )
            .fleet(config, move |op| {
                let store = Arc::clone(&store);
                async move { store.execute(op).await }
            })
            .build()
        })
        .collect();
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for p in &processes {
            for _ in 0..10 {
                let p = p.clone();
                tasks.push(tokio::spawn(async move {
                    let mut calls = 0u64;
                    while started.elapsed() < Duration::from_secs(5) {
                        let token = p.access_token().await.unwrap();
                        assert!(!token.secret().is_empty());
                        calls += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    calls
                }));
            }
        }
        for t in tasks {
            assert!(t.await.unwrap() > 0);
        }
    });
    let stats = admin(&s.load, "/admin/stats", None);
    let requests = stats["token_requests"].as_u64().unwrap();
    // 5 s of 2 s tokens renewed a little ahead of expiry: about one request a second across
    // the whole fleet (3 processes without the store would make 3 each time).
    eprintln!(
        "async fleet: {requests} token requests for 3 processes x 10 tasks over 5 s \
         (2 s tokens renewed about every second)"
    );
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(stats["reuse_detected"], 0, "{stats}");
    assert_eq!(stats["families"], 1, "{stats}");
    assert!(requests <= 8, "{requests} token requests: {stats}");
    let renewed: u64 = processes
        .iter()
        .map(|p| p.fleet_stats().unwrap().http_renewals)
        .sum();
    assert_eq!(renewed, requests);
}
