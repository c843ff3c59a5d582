// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The async driver over a shared store: several sessions ("processes") with their own tasks,
//! one store (the core's in-memory reference store), a stub token server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantline::fleet::{FleetConfig, MemoryStore, StoreOp, StoreReply};
use grantline::store::{EntryKey, Protection};
use grantline::{Client, GrantType, Password, Provider, SessionGrant, TokenSession};
use grantline_async::AsyncTokenSession;

const T0: u64 = 1_700_000_000_000;

/// A token server: client credentials, password (a new family) and refresh with rotation;
/// a used refresh token presented again counts as a reuse.
#[derive(Default)]
struct Server {
    requests: AtomicU64,
    reuse: AtomicU64,
    state: Mutex<(u64, HashMap<String, bool>)>,
}

impl Server {
    fn answer(&self, request: &http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        // The stub's own values need no decoding.
        let form: HashMap<String, String> = String::from_utf8_lossy(request.body())
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut state = self.state.lock().unwrap();
        if let Some(rt) = form.get("refresh_token") {
            match state.1.get(rt) {
                Some(true) => {
                    state.1.insert(rt.clone(), false);
                }
                _ => {
                    self.reuse.fetch_add(1, Ordering::SeqCst);
                    return http::Response::builder()
                        .status(400)
                        .header("content-type", "application/json")
                        .body(br#"{"error":"invalid_grant"}"#.to_vec())
                        .unwrap();
                }
            }
        }
        state.0 += 1;
        let n = state.0;
        let rt = format!("rt-{n}");
        state.1.insert(rt.clone(), true);
        let body = format!(
            r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":100,"refresh_token":"{rt}"}}"#
        );
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.into_bytes())
            .unwrap()
    }
}

fn provider() -> Provider {
    Provider::builder("as")
        .token_endpoint("https://as.example/token")
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .build()
        .unwrap()
}

struct Fleet {
    server: Arc<Server>,
    store: Arc<Mutex<MemoryStore>>,
    clock: Arc<AtomicU64>,
    store_up: Arc<std::sync::atomic::AtomicBool>,
}

impl Fleet {
    fn new() -> Self {
        Fleet {
            server: Arc::new(Server::default()),
            store: Arc::new(Mutex::new(MemoryStore::new())),
            clock: Arc::new(AtomicU64::new(T0)),
            store_up: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    /// A process: its own session over the shared store.
    fn process(&self, grant: SessionGrant) -> AsyncTokenSession {
        let client = Client::new(provider(), "c").with_secret("s");
        let key = EntryKey::new("k1", &[3u8; 32]).unwrap();
        let config = FleetConfig::new("async", Protection::encrypted(key))
            .unwrap()
            .with_lease_ttl_ms(5_000);
        let server = Arc::clone(&self.server);
        let (store, clock, up) = (
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.store_up),
        );
        let now = Arc::clone(&self.clock);
        AsyncTokenSession::builder(TokenSession::new(client, grant), move |request| {
            let server = Arc::clone(&server);
            async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok::<_, String>(server.answer(&request))
            }
        })
        .clock_ms(move || now.load(Ordering::SeqCst))
        .fleet(config, move |op: StoreOp| {
            let (store, clock, up) = (Arc::clone(&store), Arc::clone(&clock), Arc::clone(&up));
            async move {
                if !up.load(Ordering::SeqCst) {
                    return Err("connection refused".to_owned());
                }
                if let StoreOp::Watch { timeout_ms, .. } = &op {
                    tokio::time::sleep(Duration::from_millis(*timeout_ms)).await;
                    return Ok(StoreReply::Watched);
                }
                let now = clock.load(Ordering::SeqCst);
                Ok(store.lock().unwrap().execute(&op, now))
            }
        })
        .build()
    }
}

/// Every task of every process asks at once; returns the tokens they got.
async fn ask_all(processes: &[AsyncTokenSession], tasks: usize) -> Vec<String> {
    let mut handles = Vec::new();
    for p in processes {
        for _ in 0..tasks {
            let p = p.clone();
            handles.push(tokio::spawn(async move {
                p.access_token().await.unwrap().secret().to_owned()
            }));
        }
    }
    let mut tokens = Vec::new();
    for h in handles {
        tokens.push(h.await.unwrap());
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_processes_many_tasks_one_token_request() {
    let fleet = Fleet::new();
    let processes: Vec<_> = (0..4)
        .map(|_| fleet.process(SessionGrant::ClientCredentials { scopes: vec![] }))
        .collect();
    let tokens = ask_all(&processes, 25).await;
    assert_eq!(fleet.server.requests.load(Ordering::SeqCst), 1);
    assert!(tokens.iter().all(|t| t == "at-1"), "{tokens:?}");
    // Cached: no store operation however many times it is asked.
    let before: Vec<_> = processes
        .iter()
        .map(|p| p.fleet_stats().unwrap().store_ops)
        .collect();
    ask_all(&processes, 50).await;
    let after: Vec<_> = processes
        .iter()
        .map(|p| p.fleet_stats().unwrap().store_ops)
        .collect();
    assert_eq!(before, after);
    let renewed_here: u64 = processes
        .iter()
        .map(|p| p.fleet_stats().unwrap().http_renewals)
        .sum();
    assert_eq!(renewed_here, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotating_refresh_token_is_never_used_twice_across_processes() {
    let fleet = Fleet::new();
    let grant = || SessionGrant::Password {
        username: "u".into(),
        password: Password::new("p"),
        scopes: vec![],
    };
    let processes: Vec<_> = (0..3).map(|_| fleet.process(grant())).collect();
    ask_all(&processes, 10).await;
    for round in 1..=5 {
        // Past renew-at (the 60 s skew is capped at half the 100 s lifetime).
        fleet.clock.fetch_add(51_000, Ordering::SeqCst);
        let tokens = ask_all(&processes, 10).await;
        let want = format!("at-{}", round + 1);
        // A renewal ahead of expiry serves the current token meanwhile; once done, all agree.
        let again = ask_all(&processes, 1).await;
        assert!(
            again.iter().all(|t| *t == want),
            "round {round}: {again:?} ({tokens:?})"
        );
    }
    assert_eq!(fleet.server.reuse.load(Ordering::SeqCst), 0);
    assert_eq!(fleet.server.requests.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_down_client_credentials_renews_alone_and_nobody_sees_an_error() {
    let fleet = Fleet::new();
    fleet.store_up.store(false, Ordering::SeqCst);
    let processes: Vec<_> = (0..3)
        .map(|_| fleet.process(SessionGrant::ClientCredentials { scopes: vec![] }))
        .collect();
    let tokens = ask_all(&processes, 10).await;
    assert_eq!(tokens.len(), 30);
    // Each process renewed alone, once.
    assert_eq!(fleet.server.requests.load(Ordering::SeqCst), 3);
    for p in &processes {
        let stats = p.fleet_stats().unwrap();
        assert_eq!((stats.fallback_renewals, stats.store_failures), (1, 1));
    }
    // The store returns: the next renewal goes through it again.
    fleet.store_up.store(true, Ordering::SeqCst);
    fleet.clock.fetch_add(51_000, Ordering::SeqCst);
    ask_all(&processes, 5).await;
    ask_all(&processes, 1).await;
    assert_eq!(fleet.server.requests.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_a_refresh_waits_for_the_store_and_errors_only_without_a_token() {
    let fleet = Fleet::new();
    let grant = SessionGrant::Password {
        username: "u".into(),
        password: Password::new("p"),
        scopes: vec![],
    };
    let p = fleet.process(grant);
    p.access_token().await.unwrap();
    fleet.store_up.store(false, Ordering::SeqCst);
    // Due, still valid: served, the failed renewal reaches nobody.
    fleet.clock.fetch_add(60_000, Ordering::SeqCst);
    assert_eq!(p.access_token().await.unwrap().secret(), "at-1");
    // Expired, and the store down: refreshing alone could revoke the fleet's grant.
    fleet.clock.fetch_add(50_000, Ordering::SeqCst);
    let e = p.access_token().await.unwrap_err();
    assert_eq!(e.kind(), "store", "{e}");
    assert_eq!(fleet.server.requests.load(Ordering::SeqCst), 1);
}
