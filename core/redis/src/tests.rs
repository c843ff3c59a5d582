//! The driver over a [`MemoryStore`]: no Redis needed (the Redis tests are in
//! `examples/tests/fleet.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantline::fleet::{FleetConfig, FleetSession, StoreOp, StoreReply};
use grantline::store::{EntryKey, Protection};
use grantline::{
    AccessToken, Client, ClientAuthMethod, Error, GrantType, Provider, RefreshToken, TokenSession,
    TokenSet,
};

use crate::{FleetTokens, MemoryStore, Origin, Source, Store};

fn client() -> Client {
    let provider = Provider::builder("test")
        .token_endpoint("https://as.example/token")
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::RefreshToken)
        .auth_method(ClientAuthMethod::Body)
        .build()
        .unwrap();
    Client::new(provider, "id").with_secret("secret")
}

fn config(name: &str) -> FleetConfig {
    let key = EntryKey::new("k1", &[3u8; 32]).unwrap();
    FleetConfig::new(name, Protection::encrypted(key)).unwrap()
}

/// A token server: counts requests, answers each with a new access token (and a rotated
/// refresh token).
#[derive(Clone, Default)]
struct Server {
    requests: Arc<AtomicU64>,
}

impl Server {
    fn send(
        &self,
    ) -> impl Fn(&http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, String>
           + Send
           + Sync
           + 'static {
        let requests = Arc::clone(&self.requests);
        move |_request| {
            std::thread::sleep(Duration::from_millis(20));
            let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(http::Response::new(
                format!(
                    r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{n}"}}"#
                )
                .into_bytes(),
            ))
        }
    }
    fn count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn driver(name: &str, store: &Arc<MemoryStore>, server: &Server) -> FleetTokens {
    let session = TokenSession::client_credentials(client(), vec![]);
    FleetTokens::new(
        FleetSession::new(session, config(name)),
        Arc::clone(store),
        server.send(),
    )
}

#[test]
fn drivers_sharing_a_store_make_one_token_request() {
    let store = Arc::new(MemoryStore::new());
    let server = Server::default();
    let drivers: Vec<_> = (0..3)
        .map(|_| Arc::new(driver("shared", &store, &server)))
        .collect();
    let handles: Vec<_> = drivers
        .iter()
        .flat_map(|d| (0..8).map(move |_| Arc::clone(d)))
        .map(|d| std::thread::spawn(move || d.access_token().unwrap().secret().to_owned()))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "at-1");
    }
    assert_eq!(server.count(), 1);
    let stats: Vec<_> = drivers.iter().map(|d| d.stats()).collect();
    assert_eq!(stats.iter().map(|s| s.http_renewals).sum::<u64>(), 1);
    assert_eq!(stats.iter().map(|s| s.adopted).sum::<u64>(), 2);
    assert!(drivers.iter().all(|d| d.version() == 1));
    assert!(store.lease_owner("grantline:{shared}:lease").is_none());
}

#[test]
fn a_cached_token_costs_no_store_call() {
    let store = Arc::new(MemoryStore::new());
    let server = Server::default();
    let d = driver("cached", &store, &server);
    d.access_token().unwrap();
    let after_renewal = d.stats().store_ops;
    // Read, Acquire, Commit on an empty store.
    assert_eq!(after_renewal, 3);
    for _ in 0..100 {
        d.access_token().unwrap();
    }
    assert_eq!(d.stats().store_ops, after_renewal);
}

#[test]
fn the_hook_hears_where_each_token_set_came_from() {
    let store = Arc::new(MemoryStore::new());
    let server = Server::default();
    let seen: Arc<Mutex<Vec<Origin>>> = Arc::default();
    let hooked = |d: FleetTokens| {
        let seen = Arc::clone(&seen);
        d.with_on_tokens(move |_, origin| seen.lock().unwrap().push(origin))
    };
    let a = hooked(driver("origin", &store, &server));
    let b = hooked(driver("origin", &store, &server));
    a.access_token().unwrap();
    b.access_token().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].version, seen[0].source), (1, Source::Http));
    assert_eq!((seen[1].version, seen[1].source), (1, Source::Store));
}

#[test]
fn a_store_outage_never_reaches_a_caller_with_a_valid_token() {
    let store = Arc::new(MemoryStore::new());
    store.set_unavailable(true);
    let server = Server::default();
    // Client credentials: renews alone.
    let cc = driver("down", &store, &server);
    assert_eq!(cc.access_token().unwrap().secret(), "at-1");
    assert_eq!(cc.stats().fallback_renewals, 1);

    // Refresh only, token still valid but due for renewal: the token is served.
    let t = now();
    let due = TokenSet::new(
        AccessToken::new("old"),
        Some(RefreshToken::new("rt-0")),
        Some(t + 20),
        t - 3000,
    );
    let session = TokenSession::from_tokens(client(), due).with_skew(60);
    let refresh = FleetTokens::new(
        FleetSession::new(session, config("down")),
        Arc::clone(&store),
        server.send(),
    );
    assert_eq!(refresh.access_token().unwrap().secret(), "old");
    assert!(refresh.stats().store_failures >= 1);

    // Refresh only, token expired: the store error reaches the caller; no refresh was sent.
    let expired = TokenSet::new(
        AccessToken::new("old"),
        Some(RefreshToken::new("rt-0")),
        Some(t - 1),
        t - 3600,
    );
    let session = TokenSession::from_tokens(client(), expired);
    let refresh = FleetTokens::new(
        FleetSession::new(session, config("down")),
        Arc::clone(&store),
        server.send(),
    );
    let err = refresh.access_token().unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert_eq!(server.count(), 1);

    // The store is back: after its backoff, the refresh goes through it.
    store.set_unavailable(false);
    let back = refresh.with_clock(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 120_000
    });
    assert_eq!(back.access_token().unwrap().secret(), "at-2");
    assert_eq!(back.stats().committed, 1);
}

#[test]
fn a_hostile_entry_is_a_store_failure_not_a_crash() {
    let store = Arc::new(MemoryStore::new());
    let server = Server::default();
    for garbage in [
        "garbage",
        "{}",
        r#"{"format":1,"version":99,"written_at":0,"expires_at":null,"alg":"none","tokens":{"access_token":"x"}}"#,
        r#"{"format":1,"version":1e400}"#,
    ] {
        store.put_entry("grantline:{hostile}", garbage);
        let d = driver("hostile", &store, &server);
        // Client credentials renew alone; the garbage is neither taken nor overwritten.
        assert!(d.access_token().is_ok());
        assert_eq!(d.stats().store_failures, 1);
        assert_eq!(store.entry("grantline:{hostile}").as_deref(), Some(garbage));
    }
}

#[test]
fn a_panicking_send_leaves_no_waiter_stuck() {
    let store = Arc::new(MemoryStore::new());
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let d = Arc::new(FleetTokens::new(
        FleetSession::new(
            TokenSession::client_credentials(client(), vec![]),
            config("panic"),
        ),
        Arc::clone(&store),
        move |_: &http::Request<Vec<u8>>| -> Result<http::Response<Vec<u8>>, String> {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(50));
                panic!("the HTTP client panicked");
            }
            Ok(http::Response::new(
                br#"{"access_token":"ok","token_type":"Bearer","expires_in":3600}"#.to_vec(),
            ))
        },
    ));
    let first = {
        let d = Arc::clone(&d);
        std::thread::spawn(move || d.access_token())
    };
    std::thread::sleep(Duration::from_millis(10));
    let waiter = {
        let d = Arc::clone(&d);
        std::thread::spawn(move || d.access_token())
    };
    assert!(first.join().is_err(), "the panic reaches its own thread");
    // The waiter gets the failure, not a hang.
    assert!(waiter.join().unwrap().is_err());
    // The failure started the core's backoff: nothing was sent again.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn memory_store_follows_the_table() {
    let store = MemoryStore::new();
    let d = Duration::from_secs(1);
    let acquire = |owner: &str| StoreOp::Acquire {
        key: "e".into(),
        lease: "l".into(),
        owner: owner.into(),
        ttl_ms: 1000,
    };
    let commit = |owner: &str, expected: u64| StoreOp::Commit {
        key: "e".into(),
        lease: "l".into(),
        owner: owner.into(),
        channel: "c".into(),
        expected_version: expected,
        version: expected + 1,
        entry: format!(r#"{{"version":{}}}"#, expected + 1),
    };
    let acquired = |r: StoreReply| matches!(r, StoreReply::Acquired { acquired: true, .. });
    assert!(acquired(store.execute(&acquire("a"), d).unwrap()));
    assert!(acquired(store.execute(&acquire("a"), d).unwrap()));
    assert!(!acquired(store.execute(&acquire("b"), d).unwrap()));
    assert_eq!(
        store.execute(&commit("a", 1), d).unwrap(),
        StoreReply::Committed(false)
    );
    assert!(
        acquired(store.execute(&acquire("b"), d).unwrap()),
        "the conflicting commit released a's lease"
    );
    assert_eq!(
        store.execute(&commit("b", 0), d).unwrap(),
        StoreReply::Committed(true)
    );
    let watch = |version| StoreOp::Watch {
        channel: "c".into(),
        version,
        timeout_ms: 2000,
    };
    let t = std::time::Instant::now();
    assert_eq!(store.execute(&watch(0), d).unwrap(), StoreReply::Watched);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "version 1 was announced"
    );
    let t = std::time::Instant::now();
    let short = StoreOp::Watch {
        channel: "c".into(),
        version: 1,
        timeout_ms: 30,
    };
    store.execute(&short, d).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    store
        .execute(
            &StoreOp::Release {
                lease: "l".into(),
                owner: "x".into(),
            },
            d,
        )
        .unwrap();
    assert_eq!(
        store
            .execute(&StoreOp::Read { key: "e".into() }, d)
            .unwrap(),
        StoreReply::Entry(Some(r#"{"version":1}"#.into()))
    );
}
