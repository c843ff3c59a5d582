//! The async driver under tokio with many tasks: one renewal, cancellation safety, failures,
//! rotation, renewal ahead of expiry. The "server" is an in-process function with a gate, so the
//! tests decide when an exchange completes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity
)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantline::{Client, Error, GrantType, Provider, TokenSession, TokenSet};
use grantline_async::AsyncTokenSession;
use tokio::sync::watch;

/// A token endpoint: counts exchanges, answers when its gate is open, remembers whether an
/// exchange was dropped before it answered.
struct Server {
    exchanges: AtomicUsize,
    dropped: AtomicUsize,
    gate: watch::Sender<bool>,
    /// `Some(status)`: answer with this error status instead of a token.
    fail_with: Mutex<Option<u16>>,
    /// Issue refresh tokens (rotating: `rt-N`).
    rotate: AtomicBool,
    lifetime: AtomicU64,
}

impl Server {
    fn new() -> Arc<Self> {
        Arc::new(Server {
            exchanges: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            gate: watch::channel(true).0,
            fail_with: Mutex::new(None),
            rotate: AtomicBool::new(false),
            lifetime: AtomicU64::new(3600),
        })
    }

    fn close(&self) {
        self.gate.send_replace(false);
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }

    fn exchanges(&self) -> usize {
        self.exchanges.load(Ordering::SeqCst)
    }

    async fn send(
        self: Arc<Self>,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, String> {
        let n = self.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
        let body = String::from_utf8_lossy(request.body()).into_owned();
        // Counts the exchange as dropped unless it reaches its answer.
        struct Dropped<'a>(&'a AtomicUsize, bool);
        impl Drop for Dropped<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let mut dropped = Dropped(&self.dropped, false);
        let mut gate = self.gate.subscribe();
        gate.wait_for(|open| *open)
            .await
            .map_err(|e| e.to_string())?;
        dropped.1 = true;
        tokio::task::yield_now().await;
        let failing = *self.fail_with.lock().expect("lock");
        if let Some(status) = failing {
            return Ok(http::Response::builder()
                .status(status)
                .body(b"upstream down".to_vec())
                .expect("response"));
        }
        let mut answer = serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": self.lifetime.load(Ordering::SeqCst),
        });
        if self.rotate.load(Ordering::SeqCst) {
            answer["refresh_token"] = format!("rt-{n}").into();
        }
        assert!(body.contains("grant_type"), "a token request");
        Ok(http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(answer.to_string().into_bytes())
            .expect("response"))
    }
}

fn client() -> Client {
    Client::new(Provider::bookable(), "client-id").with_secret("client-secret")
}

/// A clock the test moves.
fn clock() -> (Arc<AtomicU64>, impl Fn() -> u64 + Send + Sync + 'static) {
    let now = Arc::new(AtomicU64::new(1_700_000_000));
    let read = Arc::clone(&now);
    (now, move || read.load(Ordering::SeqCst))
}

/// A client-credentials session over `server`, with the test's clock; token sets persisted in
/// the returned list.
fn session(
    server: &Arc<Server>,
    grant: TokenSession,
) -> (
    AsyncTokenSession,
    Arc<AtomicU64>,
    Arc<Mutex<Vec<(TokenSet, bool)>>>,
) {
    let (now, read) = clock();
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&stored);
    let server = Arc::clone(server);
    let s = AsyncTokenSession::builder(grant, move |r| Arc::clone(&server).send(r))
        .clock(read)
        .on_tokens(move |renewed| {
            store
                .lock()
                .expect("lock")
                .push((renewed.tokens.clone(), renewed.refresh_token_rotated));
        })
        .build();
    (s, now, stored)
}

fn cc() -> TokenSession {
    TokenSession::client_credentials(client(), vec![])
}

/// Waits until `f` holds (the tasks under test run on other threads).
async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached in 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_one_renewal_and_the_set_is_stored_once() {
    let server = Server::new();
    server.close();
    let (s, _, stored) = session(&server, cc());
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    until(|| server.exchanges() == 1).await;
    tokio::task::yield_now().await;
    server.open();
    for t in tasks {
        assert_eq!(t.await.expect("task").expect("token").secret(), "tok-1");
    }
    assert_eq!(server.exchanges(), 1);
    assert_eq!(stored.lock().expect("lock").len(), 1);
    // Cached: no exchange.
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    assert_eq!(server.exchanges(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_renewer_leaves_the_renewal_to_the_other_waiters() {
    let server = Server::new();
    server.close();
    let (s, _, _) = session(&server, cc());
    let first = {
        let s = s.clone();
        tokio::spawn(async move { s.access_token().await })
    };
    until(|| server.exchanges() == 1).await;
    let second = {
        let s = s.clone();
        tokio::spawn(async move { s.access_token().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    server.open();
    assert_eq!(
        second.await.expect("task").expect("token").secret(),
        "tok-1"
    );
    assert_eq!(
        server.exchanges(),
        1,
        "the renewal went on: no second exchange"
    );
    assert_eq!(server.dropped.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_waiter_cancelled_cancels_the_exchange_and_the_next_caller_renews() {
    let server = Server::new();
    server.close();
    let (s, _, _) = session(&server, cc());
    let timed_out = tokio::time::timeout(Duration::from_millis(50), s.access_token()).await;
    assert!(
        timed_out.is_err(),
        "the gate is closed: the caller times out"
    );
    assert_eq!(server.exchanges(), 1);
    assert_eq!(
        server.dropped.load(Ordering::SeqCst),
        1,
        "the exchange was dropped"
    );
    // Not a failure: no backoff, no error; the next caller renews at once.
    assert_eq!(s.with_session(|t| (t.failures(), t.renewing())), (0, false));
    server.open();
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-2");
    assert_eq!(server.exchanges(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_renewal_reaches_every_waiter_once_then_backs_off_without_a_request() {
    let server = Server::new();
    *server.fail_with.lock().expect("lock") = Some(503);
    server.close();
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&failures);
    let (_, read) = clock();
    let srv = Arc::clone(&server);
    let s = AsyncTokenSession::builder(cc(), move |r| Arc::clone(&srv).send(r))
        .clock(read)
        .on_failure(move |e| {
            assert!(!e.to_string().contains("client-secret"));
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    until(|| server.exchanges() == 1).await;
    server.open();
    for t in tasks {
        let e = t.await.expect("task").expect_err("no token");
        assert_eq!(e.status(), Some(503), "{e}");
    }
    assert_eq!(failures.load(Ordering::SeqCst), 1);
    // The backoff: the same error at once, no request.
    let e = s.access_token().await.expect_err("backing off");
    assert_eq!(e.status(), Some(503));
    assert_eq!(server.exchanges(), 1);
    assert_eq!(s.with_session(|t| t.failures()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_errors_are_typed_and_escaped() {
    let s = AsyncTokenSession::new(cc(), |_r| async {
        Err::<http::Response<Vec<u8>>, _>("connection refused\n\u{7}")
    });
    let e = s.access_token().await.expect_err("no server");
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(!e.to_string().contains('\u{7}'), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewal_ahead_of_expiry_blocks_no_other_task() {
    let server = Server::new();
    let (s, now, stored) = session(&server, cc());
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    now.fetch_add(3590, Ordering::SeqCst); // inside the skew, still valid
    server.close();
    let renewer = {
        let s = s.clone();
        tokio::spawn(async move { s.access_token().await })
    };
    until(|| server.exchanges() == 2).await;
    for _ in 0..100 {
        assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    }
    server.open();
    assert_eq!(
        renewer.await.expect("task").expect("token").secret(),
        "tok-2"
    );
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-2");
    assert_eq!(server.exchanges(), 2);
    assert_eq!(stored.lock().expect("lock").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_spawner_renewal_ahead_of_expiry_runs_in_the_background() {
    let server = Server::new();
    let (now, read) = clock();
    let srv = Arc::clone(&server);
    let s = AsyncTokenSession::builder(cc(), move |r| Arc::clone(&srv).send(r))
        .clock(read)
        .spawn(|f| {
            tokio::spawn(f);
        })
        .build();
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    now.fetch_add(3590, Ordering::SeqCst);
    server.close();
    // The caller that triggers the renewal is not held up by it.
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    until(|| server.exchanges() == 2).await;
    server.open();
    until(|| {
        s.tokens()
            .is_some_and(|t| t.access_token().secret() == "tok-2")
    })
    .await;
    assert_eq!(server.exchanges(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_refresh_token_is_stored_before_any_waiter_gets_its_access_token() {
    let server = Server::new();
    server.rotate.store(true, Ordering::SeqCst);
    let (s, now, stored) = session(&server, cc());
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    now.fetch_add(4000, Ordering::SeqCst); // expired: every caller waits for the refresh
    server.close();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            let stored = Arc::clone(&stored);
            tokio::spawn(async move {
                let token = s.access_token().await.expect("token");
                // The set carrying this token was stored before the token reached us.
                let stored = stored.lock().expect("lock");
                let last = stored.last().expect("stored");
                assert_eq!(last.0.access_token().secret(), token.secret());
                (token.secret().to_owned(), last.1)
            })
        })
        .collect();
    until(|| server.exchanges() == 2).await;
    server.open();
    for t in tasks {
        assert_eq!(t.await.expect("task"), ("tok-2".to_owned(), true));
    }
    let stored = stored.lock().expect("lock");
    let rt = stored
        .last()
        .and_then(|(t, _)| t.refresh_token().map(|r| r.secret().to_owned()));
    assert_eq!(rt.as_deref(), Some("rt-2"));
    assert_eq!(server.exchanges(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_rejecting_one_token_cause_one_renewal() {
    let server = Server::new();
    let (s, _, _) = session(&server, cc());
    let token = s.access_token().await.expect("token");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            let refused = token.secret().to_owned();
            tokio::spawn(async move {
                s.reject(&refused);
                s.access_token().await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task").expect("token").secret(), "tok-2");
    }
    assert_eq!(server.exchanges(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_callback_leaves_the_session_usable() {
    let server = Server::new();
    let (_, read) = clock();
    let srv = Arc::clone(&server);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let s = AsyncTokenSession::builder(cc(), move |r| Arc::clone(&srv).send(r))
        .clock(read)
        .on_tokens(move |_| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("storage down");
            }
        })
        .build();
    let first = {
        let s = s.clone();
        tokio::spawn(async move { s.access_token().await })
    };
    assert!(first.await.expect_err("panicked").is_panic());
    // The set was received before the callback: the session holds it and serves it; nothing
    // waits on a delivery that never comes.
    assert!(!s.with_session(|t| t.delivering()));
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    assert_eq!(server.exchanges(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_prints_no_secret() {
    let server = Server::new();
    let (s, _, _) = session(&server, cc());
    let token = s.access_token().await.expect("token");
    let shown = format!("{s:?}");
    assert!(!shown.contains(token.secret()), "{shown}");
    assert!(!shown.contains("client-secret"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancellations_at_every_point_never_strand_the_session() {
    let server = Server::new();
    let (s, _, stored) = session(&server, cc());
    for round in 0..30u64 {
        if let Some(t) = s.tokens() {
            s.reject(t.access_token().secret());
        }
        server.close();
        let tasks: Vec<_> = (0..40u64)
            .map(|i| {
                let s = s.clone();
                // Deadlines from 0 to 3 ms, against an exchange held for 2 ms: some callers
                // give up before the answer, some after, some while it is delivered.
                let patience = Duration::from_micros((i * 7919 + round * 104_729) % 3000);
                tokio::spawn(
                    async move { tokio::time::timeout(patience, s.access_token()).await.ok() },
                )
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(2)).await;
        server.open();
        for t in tasks {
            if let Some(got) = t.await.expect("task") {
                got.expect("a token, never an error");
            }
        }
        // Whatever was cancelled, the next caller gets a token and nothing is left in flight.
        let token = s.access_token().await.expect("token");
        assert_eq!(
            s.tokens().map(|t| t.access_token().secret().to_owned()),
            Some(token.secret().to_owned())
        );
        assert_eq!(
            s.with_session(|t| (t.renewing(), t.delivering(), t.failures())),
            (false, false, 0)
        );
    }
    // Every set that reached a caller was stored first.
    let last = stored
        .lock()
        .expect("lock")
        .last()
        .map(|(t, _)| t.access_token().secret().to_owned());
    assert_eq!(
        last,
        s.tokens().map(|t| t.access_token().secret().to_owned())
    );
    assert!(server.exchanges() >= 30, "one renewal per round at least");
}

/// A session whose token has expired and carries a refresh token: the next renewal is a refresh.
async fn expired_with_refresh_token(
    server: &Arc<Server>,
    spawn: bool,
) -> (AsyncTokenSession, Arc<Mutex<Vec<(TokenSet, bool)>>>) {
    server.rotate.store(true, Ordering::SeqCst);
    let (now, read) = clock();
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&stored);
    let srv = Arc::clone(server);
    // A provider with the refresh grant: the renewal after expiry is a refresh.
    let provider = Provider::builder("as")
        .token_endpoint("https://as.example/token")
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::RefreshToken)
        .build()
        .expect("provider");
    let client = Client::new(provider, "client-id").with_secret("client-secret");
    let grant = TokenSession::client_credentials(client, vec![]);
    let mut builder = AsyncTokenSession::builder(grant, move |r| Arc::clone(&srv).send(r))
        .clock(read)
        .on_tokens(move |renewed| {
            store
                .lock()
                .expect("lock")
                .push((renewed.tokens.clone(), renewed.refresh_token_rotated));
        });
    if spawn {
        builder = builder.spawn(|f| {
            tokio::spawn(f);
        });
    }
    let s = builder.build();
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-1");
    now.fetch_add(4000, Ordering::SeqCst);
    (s, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_callers_all_left_is_never_cancelled_and_the_next_caller_finishes_it() {
    let server = Server::new();
    let (s, stored) = expired_with_refresh_token(&server, false).await;
    server.close();
    let gave_up = tokio::time::timeout(Duration::from_millis(50), s.access_token()).await;
    assert!(gave_up.is_err(), "the gate is closed: the caller gives up");
    assert_eq!(server.exchanges(), 2);
    // The refresh was not cancelled: the server may already have rotated the refresh token.
    assert_eq!(server.dropped.load(Ordering::SeqCst), 0);
    assert!(s.with_session(|t| t.renewing()));
    server.open();
    // The next caller drives the same refresh to its answer: no second refresh request.
    assert_eq!(s.access_token().await.expect("token").secret(), "tok-2");
    assert_eq!(server.exchanges(), 2);
    let stored = stored.lock().expect("lock");
    let last = stored.last().expect("stored");
    assert_eq!(
        last.0
            .refresh_token()
            .map(|r| r.secret().to_owned())
            .as_deref(),
        Some("rt-2")
    );
    assert!(last.1, "rotated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_spawner_a_refresh_whose_callers_all_left_finishes_in_the_background() {
    let server = Server::new();
    let (s, stored) = expired_with_refresh_token(&server, true).await;
    server.close();
    let gave_up = tokio::time::timeout(Duration::from_millis(50), s.access_token()).await;
    assert!(gave_up.is_err());
    server.open();
    // Nobody asks again, and the rotated refresh token still reaches storage.
    until(|| stored.lock().expect("lock").len() == 2).await;
    let rt = stored.lock().expect("lock")[1]
        .0
        .refresh_token()
        .map(|r| r.secret().to_owned());
    assert_eq!(rt.as_deref(), Some("rt-2"));
    assert_eq!(server.dropped.load(Ordering::SeqCst), 0);
    assert_eq!(server.exchanges(), 2);
    assert!(!s.with_session(|t| t.renewing()));
}
