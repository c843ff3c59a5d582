//! TokenSession, whole flows: single-flight renewal, renewal at skew, 401 handling, refresh
//! token rotation, failed renewals reaching every waiter.
// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use grantline::{
    Client, Error, GrantType, Next, Password, Provider, SessionGrant, TokenSession, TokenSet,
};

const T0: u64 = 1_700_000_000;

fn provider() -> Provider {
    Provider::builder("test")
        .token_endpoint("https://as.example/token")
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::RefreshToken)
        .grant(GrantType::Password)
        .build()
        .unwrap()
}

fn client() -> Client {
    Client::new(provider(), "client").with_secret("s3cret")
}

fn ok(body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn status(code: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(code)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn form(req: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    form_urlencoded_pairs(req.body())
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn param(req: &http::Request<Vec<u8>>, name: &str) -> Option<String> {
    form(req)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn expect_send(next: Next) -> (u64, http::Request<Vec<u8>>) {
    match next {
        Next::Send { id, request } => (id, *request),
        other => panic!("expected Send, got {other:?}"),
    }
}

fn expect_ready(next: Next) -> String {
    match next {
        Next::Ready(t) => t.secret().to_owned(),
        other => panic!("expected Ready, got {other:?}"),
    }
}

/// A session that holds token `tok-1`, valid for an hour from T0.
fn ready_session() -> TokenSession {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let (id, _) = expect_send(s.next(T0).unwrap());
    s.receive(id, &ok(r#"{"access_token":"tok-1","expires_in":3600}"#), T0)
        .unwrap();
    s
}

#[test]
fn a_thousand_callers_cause_one_token_request() {
    let mut s = TokenSession::client_credentials(client(), vec!["read".into()]);
    let mut sends = Vec::new();
    let mut waits = Vec::new();
    for _ in 0..1000 {
        match s.next(T0).unwrap() {
            Next::Send { id, request } => sends.push((id, request)),
            Next::Wait { id } => waits.push(id),
            Next::Ready(_) => panic!("no token yet"),
        }
    }
    assert_eq!(sends.len(), 1, "exactly one token request");
    assert_eq!(waits.len(), 999);
    let (id, request) = sends.pop().unwrap();
    assert!(waits.iter().all(|w| *w == id));
    assert_eq!(param(&request, "grant_type").unwrap(), "client_credentials");
    let renewed = s
        .receive(id, &ok(r#"{"access_token":"tok-1","expires_in":3600}"#), T0)
        .unwrap();
    assert_eq!(renewed.tokens.access_token().secret(), "tok-1");
    for w in waits {
        assert_eq!(expect_ready(s.waited(w, T0).unwrap()), "tok-1");
    }
}

#[test]
fn threads_sharing_a_session_cause_one_token_request() {
    // The pattern every binding uses: a lock around the session, a condition to wait on.
    struct Shared {
        session: Mutex<TokenSession>,
        done: Condvar,
        requests: Mutex<u32>,
    }
    let shared = Arc::new(Shared {
        session: Mutex::new(TokenSession::client_credentials(client(), vec![])),
        done: Condvar::new(),
        requests: Mutex::new(0),
    });
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let mut session = shared.session.lock().unwrap();
                let mut next = session.next(T0).unwrap();
                loop {
                    match next {
                        Next::Ready(t) => return t.secret().to_owned(),
                        Next::Send { id, request: _ } => {
                            drop(session);
                            *shared.requests.lock().unwrap() += 1;
                            thread::sleep(std::time::Duration::from_millis(20)); // the network
                            let resp = ok(r#"{"access_token":"tok-t","expires_in":3600}"#);
                            session = shared.session.lock().unwrap();
                            session.receive(id, &resp, T0).unwrap();
                            shared.done.notify_all();
                            next = session.next(T0).unwrap();
                        }
                        Next::Wait { id } => {
                            while session.renewing() {
                                session = shared.done.wait(session).unwrap();
                            }
                            next = session.waited(id, T0).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "tok-t");
    }
    assert_eq!(*shared.requests.lock().unwrap(), 1);
}

#[test]
fn renewal_starts_skew_before_expiry() {
    let mut s = ready_session();
    assert_eq!(s.skew(), 60);
    assert_eq!(expect_ready(s.next(T0 + 3539).unwrap()), "tok-1");
    let (_, req) = expect_send(s.next(T0 + 3540).unwrap());
    assert_eq!(param(&req, "grant_type").unwrap(), "client_credentials");

    // A 60 s token renews at half its lifetime, not 60 s early (it would never be used).
    let mut s = TokenSession::client_credentials(client(), vec![]).with_skew(60);
    let (id, _) = expect_send(s.next(T0).unwrap());
    s.receive(id, &ok(r#"{"access_token":"short","expires_in":60}"#), T0)
        .unwrap();
    assert_eq!(expect_ready(s.next(T0 + 29).unwrap()), "short");
    expect_send(s.next(T0 + 30).unwrap());

    // A configured skew is honoured.
    let mut s = ready_session().with_skew(300);
    assert_eq!(expect_ready(s.next(T0 + 3299).unwrap()), "tok-1");
    expect_send(s.next(T0 + 3300).unwrap());
}

#[test]
fn a_401_causes_exactly_one_renewal() {
    let mut s = ready_session();
    // A thousand callers used tok-1 and each got 401 invalid_token.
    let rejected = (0..1000).filter(|_| s.reject("tok-1")).count();
    assert_eq!(rejected, 1000);
    let mut sends = 0;
    let mut id = 0;
    for _ in 0..1000 {
        match s.next(T0 + 10).unwrap() {
            Next::Send { id: i, .. } => {
                sends += 1;
                id = i;
            }
            Next::Wait { .. } => {}
            Next::Ready(_) => panic!("the rejected token must not be handed out"),
        }
    }
    assert_eq!(sends, 1);
    s.receive(
        id,
        &ok(r#"{"access_token":"tok-2","expires_in":3600}"#),
        T0 + 10,
    )
    .unwrap();
    // Late 401s for the old token do not renew again.
    assert!(!s.reject("tok-1"));
    assert_eq!(expect_ready(s.next(T0 + 11).unwrap()), "tok-2");
}

#[test]
fn a_rotated_refresh_token_is_surfaced_and_used() {
    let tokens = TokenSet::new(
        grantline::AccessToken::new("at-1"),
        Some(grantline::RefreshToken::new("rt-1")),
        Some(T0 + 100),
        T0,
    );
    let mut s = TokenSession::from_tokens(client(), tokens);
    let (id, req) = expect_send(s.next(T0 + 100).unwrap());
    assert_eq!(param(&req, "grant_type").unwrap(), "refresh_token");
    assert_eq!(param(&req, "refresh_token").unwrap(), "rt-1");
    let renewed = s
        .receive(
            id,
            &ok(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":100}"#),
            T0 + 100,
        )
        .unwrap();
    assert!(renewed.refresh_token_rotated);
    assert_eq!(renewed.tokens.refresh_token().unwrap().secret(), "rt-2");
    // The persisted form carries the new refresh token.
    let restored = TokenSet::from_json(&renewed.tokens.to_json()).unwrap();
    assert_eq!(restored.refresh_token().unwrap().secret(), "rt-2");

    // The next refresh uses rt-2; an answer without refresh_token keeps it.
    let (id, req) = expect_send(s.next(T0 + 200).unwrap());
    assert_eq!(param(&req, "refresh_token").unwrap(), "rt-2");
    let renewed = s
        .receive(
            id,
            &ok(r#"{"access_token":"at-3","expires_in":100}"#),
            T0 + 200,
        )
        .unwrap();
    assert!(!renewed.refresh_token_rotated);
    assert_eq!(renewed.tokens.refresh_token().unwrap().secret(), "rt-2");
    assert_eq!(
        s.tokens().unwrap().refresh_token().unwrap().secret(),
        "rt-2"
    );
}

#[test]
fn a_failed_renewal_reaches_every_waiter_and_the_next_call_retries() {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let (id, _) = expect_send(s.next(T0).unwrap());
    let waiters: Vec<u64> = (0..999)
        .map(|_| match s.next(T0).unwrap() {
            Next::Wait { id } => id,
            other => panic!("expected Wait, got {other:?}"),
        })
        .collect();
    let err = s
        .receive(id, &status(503, "<html>Service Unavailable</html>"), T0)
        .unwrap_err();
    assert!(matches!(err, Error::UnexpectedStatus { status: 503, .. }));
    for w in waiters {
        assert_eq!(s.waited(w, T0).unwrap_err(), err);
    }
    // The next call tries again, with a new request.
    let (id2, _) = expect_send(s.next(T0 + 1).unwrap());
    assert_ne!(id2, id);
    // A transport failure reaches waiters the same way.
    let w = match s.next(T0 + 1).unwrap() {
        Next::Wait { id } => id,
        other => panic!("expected Wait, got {other:?}"),
    };
    let terr = s.fail(id2, "connection refused").unwrap();
    assert_eq!(s.waited(w, T0 + 1).unwrap_err(), terr);
    let (id3, _) = expect_send(s.next(T0 + 2).unwrap());
    s.receive(id3, &ok(r#"{"access_token":"finally"}"#), T0 + 2)
        .unwrap();
    assert_eq!(expect_ready(s.next(T0 + 3).unwrap()), "finally");
}

#[test]
fn a_dead_refresh_token_falls_back_to_the_grant_or_asks_for_reauthorization() {
    let tokens = || {
        TokenSet::new(
            grantline::AccessToken::new("at"),
            Some(grantline::RefreshToken::new("rt")),
            Some(T0),
            T0 - 3600,
        )
    };
    let invalid_grant = status(400, r#"{"error":"invalid_grant"}"#);

    let mut s = TokenSession::from_tokens(client(), tokens());
    let (id, _) = expect_send(s.next(T0).unwrap());
    assert_eq!(
        s.receive(id, &invalid_grant, T0).unwrap_err().oauth_code(),
        Some("invalid_grant")
    );
    assert_eq!(
        s.next(T0).unwrap_err(),
        Error::ReauthorizationRequired,
        "refresh-only session must ask for a new authorization"
    );

    let grant = SessionGrant::Password {
        username: "alice".into(),
        password: Password::new("wonderland"),
        scopes: vec![],
    };
    let mut s = TokenSession::new(client(), grant).with_tokens(tokens());
    let (id, _) = expect_send(s.next(T0).unwrap());
    s.receive(id, &invalid_grant, T0).unwrap_err();
    let (_, req) = expect_send(s.next(T0).unwrap());
    assert_eq!(param(&req, "grant_type").unwrap(), "password");
}

#[test]
fn responses_for_other_requests_are_refused() {
    let mut s = ready_session();
    let body = ok(r#"{"access_token":"x"}"#);
    assert_eq!(
        s.receive(42, &body, T0).unwrap_err(),
        Error::UnexpectedResponse { id: 42 }
    );
    assert_eq!(expect_ready(s.next(T0).unwrap()), "tok-1");
}

#[test]
fn a_session_restores_from_a_persisted_token_set() {
    let s = ready_session();
    let saved = s.tokens().unwrap().to_json();
    let mut restored = TokenSession::client_credentials(client(), vec![])
        .with_tokens(TokenSet::from_json(&saved).unwrap());
    assert_eq!(expect_ready(restored.next(T0 + 5).unwrap()), "tok-1");
}
