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

use grantline::session::Completion;
use grantline::{
    AccessToken, Client, Error, GrantType, Next, Password, Provider, RefreshToken, SessionGrant,
    TokenSession, TokenSet,
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
        Next::Send { id, request, .. } => (id, *request),
        other => panic!("expected Send, got {other:?}"),
    }
}

fn expect_ready(next: Next) -> String {
    match next {
        Next::Ready(t) => t.secret().to_owned(),
        other => panic!("expected Ready, got {other:?}"),
    }
}

fn expect_wait(next: Next) -> u64 {
    match next {
        Next::Wait { id } => id,
        other => panic!("expected Wait, got {other:?}"),
    }
}

/// Hands renewal `id` its response; when it produced a token set, "persists" it.
fn complete(
    s: &mut TokenSession,
    id: u64,
    response: &http::Response<Vec<u8>>,
    now: u64,
) -> Completion {
    let done = s.receive(id, response, now).unwrap();
    if done.renewed.is_some() {
        assert!(s.delivered(id));
    }
    done
}

/// A session that holds token `tok-1`, valid for an hour from T0.
fn ready_session() -> TokenSession {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let (id, _) = expect_send(s.next(T0).unwrap());
    let done = complete(
        &mut s,
        id,
        &ok(r#"{"access_token":"tok-1","expires_in":3600}"#),
        T0,
    );
    assert!(done.error.is_none());
    s
}

fn refresh_session(expires_at: u64) -> TokenSession {
    TokenSession::from_tokens(
        client(),
        TokenSet::new(
            AccessToken::new("at-1"),
            Some(RefreshToken::new("rt-1")),
            Some(expires_at),
            T0 - 3600,
        ),
    )
}

#[test]
fn a_thousand_callers_cause_one_token_request() {
    let mut s = TokenSession::client_credentials(client(), vec!["read".into()]);
    let mut sends = Vec::new();
    let mut waits = Vec::new();
    for _ in 0..1000 {
        match s.next(T0).unwrap() {
            Next::Send {
                id,
                request,
                current,
            } => {
                assert!(current.is_none(), "no token yet");
                sends.push((id, request));
            }
            Next::Wait { id } => waits.push(id),
            Next::Ready(_) => panic!("no token yet"),
        }
    }
    assert_eq!(sends.len(), 1, "exactly one token request");
    assert_eq!(waits.len(), 999);
    let (id, request) = sends.pop().unwrap();
    assert!(waits.iter().all(|w| *w == id));
    assert_eq!(param(&request, "grant_type").unwrap(), "client_credentials");
    let done = s
        .receive(id, &ok(r#"{"access_token":"tok-1","expires_in":3600}"#), T0)
        .unwrap();
    assert_eq!(
        done.renewed.unwrap().tokens.access_token().secret(),
        "tok-1"
    );
    assert!(s.delivered(id));
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
                        Next::Send { id, .. } => {
                            drop(session);
                            *shared.requests.lock().unwrap() += 1;
                            thread::sleep(std::time::Duration::from_millis(20)); // the network
                            let resp = ok(r#"{"access_token":"tok-t","expires_in":3600}"#);
                            session = shared.session.lock().unwrap();
                            let done = session.receive(id, &resp, T0).unwrap();
                            if done.renewed.is_some() {
                                // (persist, with the lock released, in a real binding)
                                session.delivered(id);
                            }
                            shared.done.notify_all();
                            next = session.waited(id, T0).unwrap();
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
    let _ = complete(
        &mut s,
        id,
        &ok(r#"{"access_token":"short","expires_in":60}"#),
        T0,
    );
    assert_eq!(expect_ready(s.next(T0 + 29).unwrap()), "short");
    expect_send(s.next(T0 + 30).unwrap());

    // A configured skew is honoured.
    let mut s = ready_session().with_skew(300);
    assert_eq!(expect_ready(s.next(T0 + 3299).unwrap()), "tok-1");
    expect_send(s.next(T0 + 3300).unwrap());
}

#[test]
fn a_proactive_renewal_hands_everyone_the_current_token() {
    let mut s = ready_session();
    // Inside the skew: the first caller sends the renewal and may use the current token.
    match s.next(T0 + 3550).unwrap() {
        Next::Send { current, .. } => assert_eq!(current.unwrap().secret(), "tok-1"),
        other => panic!("expected Send, got {other:?}"),
    }
    // Everyone else keeps getting the still-valid token while it is in flight: nobody waits.
    for _ in 0..100 {
        assert_eq!(expect_ready(s.next(T0 + 3550).unwrap()), "tok-1");
    }
    assert!(s.renewing());
    // Once it has expired, callers wait for the renewal.
    assert_eq!(expect_wait(s.next(T0 + 3600).unwrap()), 2);
}

#[test]
fn a_failed_renewal_while_the_token_is_valid_reaches_no_caller() {
    let mut s = ready_session();
    let (id, _) = expect_send(s.next(T0 + 3550).unwrap());
    let done = s
        .receive(
            id,
            &status(503, "<html>Service Unavailable</html>"),
            T0 + 3550,
        )
        .unwrap();
    assert!(matches!(
        done.error,
        Some(Error::UnexpectedStatus { status: 503, .. })
    ));
    assert!(done.renewed.is_none());
    // The renewer and every other caller keep the valid token.
    assert_eq!(expect_ready(s.waited(id, T0 + 3550).unwrap()), "tok-1");
    assert_eq!(expect_ready(s.next(T0 + 3550).unwrap()), "tok-1");
    assert_eq!(s.failures(), 1);
    // The first backoff is 1 s: one new attempt after it, not per call.
    assert_eq!(s.retry_at(), Some(T0 + 3551));
    let (id, _) = expect_send(s.next(T0 + 3551).unwrap());
    let _ = s.fail(id, "connection reset", T0 + 3551).unwrap();
    assert_eq!(expect_ready(s.next(T0 + 3551).unwrap()), "tok-1");
    // Exponential: after the second failure the wait is 1 or 2 s.
    let retry = s.retry_at().unwrap();
    assert!((T0 + 3552..=T0 + 3553).contains(&retry), "{retry}");
    assert_eq!(expect_ready(s.next(retry - 1).unwrap()), "tok-1");
    expect_send(s.next(retry).unwrap());
}

#[test]
fn backoff_doubles_is_capped_and_honours_retry_after() {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..10 {
        let (id, _) = expect_send(s.next(now).unwrap());
        let _ = s.receive(id, &status(500, "oops"), now).unwrap();
        let wait = s.retry_at().unwrap() - now;
        waits.push(wait);
        // No usable token: during the backoff, callers get the failure without a request.
        assert_eq!(
            s.next(now + wait - 1).unwrap_err().kind(),
            "unexpected_status"
        );
        now += wait;
    }
    for (n, wait) in waits.iter().enumerate() {
        let d = 1u64 << n.min(6);
        let d = d.min(60);
        assert!(
            (d.div_ceil(2)..=d).contains(wait),
            "failure {}: waited {wait}, d {d}",
            n + 1
        );
    }
    // Retry-After wins when longer, in seconds or as an HTTP date, capped at 600 s.
    for (header, min_wait) in [
        ("120", 120),
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120),  // T0 + 2 min
        ("Wed, 15 Nov 2023 00:13:20 GMT", 7200), // T0 + 2 h
        ("86400", 600),
    ] {
        let mut s = TokenSession::client_credentials(client(), vec![]);
        let (id, _) = expect_send(s.next(T0).unwrap());
        let resp = http::Response::builder()
            .status(429)
            .header("retry-after", header)
            .body(br#"{"error":"slow_down"}"#.to_vec())
            .unwrap();
        let _ = s.receive(id, &resp, T0).unwrap();
        let min_wait = min_wait.min(600);
        assert_eq!(s.retry_at(), Some(T0 + min_wait), "{header}");
    }
}

#[test]
fn a_failure_with_no_valid_token_reaches_every_waiter_the_same() {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let (id, _) = expect_send(s.next(T0).unwrap());
    let waiters: Vec<u64> = (0..999).map(|_| expect_wait(s.next(T0).unwrap())).collect();
    let done = s
        .receive(id, &status(503, "<html>Service Unavailable</html>"), T0)
        .unwrap();
    let err = done.error.unwrap();
    assert!(matches!(err, Error::UnexpectedStatus { status: 503, .. }));
    assert_eq!(s.waited(id, T0).unwrap_err(), err);
    for w in waiters {
        assert_eq!(s.waited(w, T0).unwrap_err(), err);
    }
    // During the backoff, new callers get it too, with no request.
    assert_eq!(s.next(T0).unwrap_err(), err);
    // After it, one new request.
    let (id2, _) = expect_send(s.next(T0 + 1).unwrap());
    assert_ne!(id2, id);
    let w = expect_wait(s.next(T0 + 1).unwrap());
    let done = s.fail(id2, "connection refused", T0 + 1).unwrap();
    let terr = done.error.unwrap();
    assert_eq!(terr.kind(), "transport");
    assert_eq!(s.waited(w, T0 + 1).unwrap_err(), terr);
    let at = s.retry_at().unwrap();
    let (id3, _) = expect_send(s.next(at).unwrap());
    let _ = complete(&mut s, id3, &ok(r#"{"access_token":"finally"}"#), at);
    assert_eq!(expect_ready(s.next(at + 1).unwrap()), "finally");
    assert_eq!(s.failures(), 0);
}

#[test]
fn a_token_expired_on_arrival_is_served_and_never_loops() {
    for body in [
        r#"{"access_token":"zero","expires_in":0}"#,
        r#"{"access_token":"zero","expires":1600000000}"#,
    ] {
        let mut s = TokenSession::client_credentials(client(), vec![]);
        let (id, _) = expect_send(s.next(T0).unwrap());
        let w = expect_wait(s.next(T0).unwrap());
        let done = complete(&mut s, id, &ok(body), T0);
        assert!(done.error.is_none());
        // Served to the renewer, its waiter, and five more callers in the same second.
        assert_eq!(expect_ready(s.waited(id, T0).unwrap()), "zero");
        assert_eq!(expect_ready(s.waited(w, T0).unwrap()), "zero");
        for _ in 0..5 {
            assert_eq!(expect_ready(s.next(T0).unwrap()), "zero");
        }
        // One renewal after the backoff, not one per call.
        let at = s.retry_at().unwrap();
        assert_eq!(at, T0 + 1);
        let (id, _) = expect_send(s.next(at).unwrap());
        let _ = complete(&mut s, id, &ok(body), at);
        let at2 = s.retry_at().unwrap();
        assert!(at2 > at, "the wait grows");
        // The API refusing it: no request per API call, the typed error until the backoff ends.
        assert!(s.reject("zero"));
        assert_eq!(s.next(at).unwrap_err().kind(), "unusable_token");
        expect_send(s.next(at2).unwrap());
    }
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
            Next::Send { id: i, current, .. } => {
                assert!(current.is_none(), "a rejected token is not current");
                sends += 1;
                id = i;
            }
            Next::Wait { .. } => {}
            Next::Ready(_) => panic!("the rejected token must not be handed out"),
        }
    }
    assert_eq!(sends, 1);
    let _ = complete(
        &mut s,
        id,
        &ok(r#"{"access_token":"tok-2","expires_in":3600}"#),
        T0 + 10,
    );
    // Late 401s for the old token do not renew again.
    assert!(!s.reject("tok-1"));
    assert_eq!(expect_ready(s.next(T0 + 11).unwrap()), "tok-2");
}

#[test]
fn the_rejected_token_reissued_is_a_typed_error_and_bounded() {
    let mut s = ready_session();
    let mut requests = 0;
    // Each "API call" rejects the token and asks again: requests stay bounded by the backoff.
    for second in 0..30 {
        let now = T0 + 10 + second;
        s.reject("tok-1");
        match s.next(now) {
            Ok(Next::Send { id, .. }) => {
                requests += 1;
                let done = s
                    .receive(
                        id,
                        &ok(r#"{"access_token":"tok-1","expires_in":3600}"#),
                        now,
                    )
                    .unwrap();
                assert_eq!(done.error.unwrap().kind(), "unusable_token");
                assert_eq!(s.waited(id, now).unwrap_err().kind(), "unusable_token");
            }
            Ok(other) => panic!("the rejected token must not be served: {other:?}"),
            Err(e) => assert_eq!(e.kind(), "unusable_token"),
        }
    }
    assert!(requests <= 6, "{requests} token requests in 30 s");
}

#[test]
fn a_rotated_refresh_token_is_surfaced_and_used() {
    let mut s = refresh_session(T0 + 100);
    let (id, req) = expect_send(s.next(T0 + 100).unwrap());
    assert_eq!(param(&req, "grant_type").unwrap(), "refresh_token");
    assert_eq!(param(&req, "refresh_token").unwrap(), "rt-1");
    let renewed = complete(
        &mut s,
        id,
        &ok(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":100}"#),
        T0 + 100,
    )
    .renewed
    .unwrap();
    assert!(renewed.refresh_token_rotated);
    assert_eq!(renewed.tokens.refresh_token().unwrap().secret(), "rt-2");
    // The persisted form carries the new refresh token.
    let restored = TokenSet::from_json(&renewed.tokens.to_json()).unwrap();
    assert_eq!(restored.refresh_token().unwrap().secret(), "rt-2");

    // The next refresh uses rt-2; an answer without refresh_token keeps it.
    let (id, req) = expect_send(s.next(T0 + 200).unwrap());
    assert_eq!(param(&req, "refresh_token").unwrap(), "rt-2");
    let renewed = complete(
        &mut s,
        id,
        &ok(r#"{"access_token":"at-3","expires_in":100}"#),
        T0 + 200,
    )
    .renewed
    .unwrap();
    assert!(!renewed.refresh_token_rotated);
    assert_eq!(renewed.tokens.refresh_token().unwrap().secret(), "rt-2");
    assert_eq!(
        s.tokens().unwrap().refresh_token().unwrap().secret(),
        "rt-2"
    );
}

#[test]
fn a_bad_answer_never_loses_its_new_refresh_token() {
    for bad in [
        r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":"1h"}"#,
        r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":-5}"#,
        r#"{"access_token":"a t","refresh_token":"rt-2"}"#,
        r#"{"access_token":"at-2","refresh_token":"rt-2","token_type":"DPoP"}"#,
    ] {
        let mut s = refresh_session(T0 + 100);
        let (id, _) = expect_send(s.next(T0 + 50).unwrap());
        let done = s.receive(id, &ok(bad), T0 + 50).unwrap();
        assert!(done.error.is_some(), "{bad}");
        let renewed = done
            .renewed
            .expect("the set with the new refresh token, to persist");
        assert!(renewed.refresh_token_rotated);
        assert_eq!(renewed.tokens.refresh_token().unwrap().secret(), "rt-2");
        assert_eq!(
            renewed.tokens.access_token().secret(),
            "at-1",
            "the old access token stays"
        );
        // Until it is delivered, no second renewal can start (callers with a token are served).
        assert_eq!(expect_ready(s.next(T0 + 51).unwrap()), "at-1");
        assert!(!s.renewing());
        assert!(s.delivered(id));
        // The valid access token is still served; the next refresh uses rt-2.
        assert_eq!(expect_ready(s.waited(id, T0 + 50).unwrap()), "at-1");
        let at = s.retry_at().unwrap();
        let (_, req) = expect_send(s.next(at).unwrap());
        assert_eq!(param(&req, "refresh_token").unwrap(), "rt-2", "{bad}");
    }
}

#[test]
fn invalid_grant_drops_the_refresh_token_but_keeps_the_access_token() {
    let invalid_grant = status(400, r#"{"error":"invalid_grant"}"#);
    // Refresh-only, renewing ahead of expiry: the access token is still served until it expires.
    let mut s = refresh_session(T0 + 100);
    let (id, _) = expect_send(s.next(T0 + 50).unwrap());
    let done = s.receive(id, &invalid_grant, T0 + 50).unwrap();
    assert_eq!(done.error.unwrap().oauth_code(), Some("invalid_grant"));
    let renewed = done.renewed.unwrap();
    assert!(
        renewed.tokens.refresh_token().is_none(),
        "persist the set without it"
    );
    assert!(s.delivered(id));
    assert_eq!(expect_ready(s.waited(id, T0 + 50).unwrap()), "at-1");
    assert_eq!(expect_ready(s.next(T0 + 99).unwrap()), "at-1");
    assert_eq!(
        s.next(T0 + 100).unwrap_err(),
        Error::ReauthorizationRequired
    );

    // Expired already: the waiters get the refusal, later callers ReauthorizationRequired.
    let mut s = refresh_session(T0);
    let (id, _) = expect_send(s.next(T0).unwrap());
    let w = expect_wait(s.next(T0).unwrap());
    let done = complete(&mut s, id, &invalid_grant, T0);
    assert_eq!(done.error.unwrap().oauth_code(), Some("invalid_grant"));
    assert_eq!(
        s.waited(w, T0).unwrap_err().oauth_code(),
        Some("invalid_grant")
    );
    assert_eq!(s.next(T0).unwrap_err(), Error::ReauthorizationRequired);

    // A session that can repeat its grant does so at once, and its waiters get the new token.
    let grant = SessionGrant::Password {
        username: "alice".into(),
        password: Password::new("wonderland"),
        scopes: vec![],
    };
    let mut s = TokenSession::new(client(), grant)
        .with_tokens(refresh_session(T0).tokens().unwrap().clone());
    let (id, _) = expect_send(s.next(T0).unwrap());
    let w = expect_wait(s.next(T0).unwrap());
    let _ = complete(&mut s, id, &invalid_grant, T0);
    let (id2, req) = expect_send(s.waited(w, T0).unwrap());
    assert_eq!(param(&req, "grant_type").unwrap(), "password");
    let _ = complete(
        &mut s,
        id2,
        &ok(r#"{"access_token":"pw","expires_in":60}"#),
        T0,
    );
    assert_eq!(expect_ready(s.waited(id, T0).unwrap()), "pw");
}

#[test]
fn token_sets_reach_storage_in_renewal_order() {
    let mut s = ready_session();
    s.reject("tok-1");
    let (id, _) = expect_send(s.next(T0 + 1).unwrap());
    let first = s
        .receive(
            id,
            &ok(r#"{"access_token":"tok-2","expires_in":3600}"#),
            T0 + 1,
        )
        .unwrap();
    assert!(first.renewed.is_some());
    // While the first set is being saved (slowly), the API refuses tok-2 too: no second renewal
    // may start before the first set reached storage.
    assert!(s.reject("tok-2"));
    assert_eq!(expect_wait(s.next(T0 + 2).unwrap()), id);
    assert!(!s.delivered(id + 7), "another id changes nothing");
    assert!(s.delivered(id));
    assert!(!s.delivered(id), "once");
    let (id2, _) = expect_send(s.waited(id, T0 + 2).unwrap());
    assert_eq!(id2, id + 1);
}

#[test]
fn a_token_that_is_not_bearer_is_never_served() {
    let mut s = TokenSession::client_credentials(client(), vec![]);
    let (id, _) = expect_send(s.next(T0).unwrap());
    let done = s
        .receive(
            id,
            &ok(r#"{"access_token":"dpop","token_type":"DPoP","expires_in":60}"#),
            T0,
        )
        .unwrap();
    assert_eq!(done.error.unwrap().kind(), "unsupported_token_type");
    assert_eq!(
        s.waited(id, T0).unwrap_err().kind(),
        "unsupported_token_type"
    );
    // Restored from storage: refused too.
    let mut restored = TokenSet::from_json(
        r#"{"access_token":"dpop","token_type":"DPoP","issued_at":1,"expiry_source":"unknown"}"#,
    )
    .unwrap();
    assert!(!restored.is_bearer());
    restored = TokenSet::from_json(&restored.to_json()).unwrap();
    let mut s = TokenSession::client_credentials(client(), vec![]).with_tokens(restored);
    assert_eq!(s.next(T0).unwrap_err().kind(), "unsupported_token_type");
    assert_eq!(s.ready_until(), None);
}

#[test]
fn responses_for_other_requests_are_refused() {
    let mut s = ready_session();
    let body = ok(r#"{"access_token":"x"}"#);
    assert_eq!(
        s.receive(42, &body, T0).unwrap_err(),
        Error::UnexpectedResponse { id: 42 }
    );
    assert_eq!(
        s.fail(42, "x", T0).unwrap_err(),
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

#[test]
fn ready_until_never_promises_a_token_next_would_not_give() {
    // Random walks over the session: whenever ready_until says t, next(now) is Ready with the
    // same token for every now < t until something happens.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..300 {
        let mut s = refresh_session(T0 + 200);
        let mut now = T0;
        let mut in_flight: Option<u64> = None;
        for _ in 0..40 {
            if let Some(until) = s.ready_until() {
                let Ok(Next::Ready(token)) = s.clone().next(now) else {
                    assert!(
                        until <= now,
                        "ready_until {until} but next({now}) is not Ready"
                    );
                    continue;
                };
                for probe in [now, until.saturating_sub(1).max(now).min(now + 1000)] {
                    if probe < until {
                        let got = expect_ready(s.clone().next(probe).unwrap());
                        assert_eq!(got, token.secret());
                    }
                }
            }
            now += rand(120);
            match (rand(4), in_flight) {
                (0, None) => {
                    if let Ok(Next::Send { id, .. }) = s.next(now) {
                        in_flight = Some(id);
                    }
                }
                (1, Some(id)) => {
                    let bodies = [
                        r#"{"access_token":"n","refresh_token":"r","expires_in":300}"#,
                        r#"{"access_token":"m","expires_in":0}"#,
                        r#"{"error":"invalid_grant"}"#,
                        "<html>502</html>",
                    ];
                    let body = bodies[rand(4) as usize];
                    let code = if body.contains("error") {
                        400
                    } else if body.starts_with('<') {
                        502
                    } else {
                        200
                    };
                    let done = s.receive(id, &status(code, body), now).unwrap();
                    if done.renewed.is_some() {
                        s.delivered(id);
                    }
                    in_flight = None;
                }
                (2, _) => {
                    let current = s.tokens().map(|t| t.access_token().secret().to_owned());
                    if let Some(t) = current {
                        s.reject(&t);
                    }
                }
                _ => {}
            }
        }
    }
}
