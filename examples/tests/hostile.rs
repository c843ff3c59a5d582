//! The examples' ureq transport against the hostile loopback server (`tests/hostile`): every
//! misbehaviour ends in a typed error or a refused body, at the deadline, with no redirect
//! followed, memory bounded and no secret from the page in any message.
//!
//! Run under `tests/interop/servers.sh run -- cargo test -p grantline-examples --features
//! interop --test hostile` (which exports `GRANTLINE_HOSTILE_URL`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use grantline::{Error, TokenSet};
use grantline_examples::{now, Transport};

const DEADLINE: Duration = Duration::from_secs(2);

fn base() -> String {
    std::env::var("GRANTLINE_HOSTILE_URL")
        .expect("run under tests/interop/servers.sh run (GRANTLINE_HOSTILE_URL)")
}

fn post(path: &str) -> http::Request<Vec<u8>> {
    http::Request::post(format!("{}{path}", base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=client_credentials&client_secret=HOSTILEsecret42".to_vec())
        .unwrap()
}

fn transport() -> Transport {
    Transport::with_timeout(DEADLINE)
}

/// Sends and times it; the whole request must end within the deadline (plus slack for a
/// loaded 2-core machine).
fn timed(path: &str) -> (Result<http::Response<Vec<u8>>, Error>, Duration) {
    let t0 = Instant::now();
    let result = transport().send(&post(path));
    let took = t0.elapsed();
    assert!(
        took < DEADLINE + Duration::from_secs(3),
        "{path}: took {took:?}, past the {DEADLINE:?} deadline"
    );
    (result, took)
}

fn assert_no_secret(text: &str) {
    for secret in [
        "S3cr3t!x",
        "Xy7#longsecretvalue",
        "hostile-leaked-access-token-0123456789",
        "HOSTILEsecret42",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn slow_servers_end_at_the_whole_request_deadline() {
    for path in ["/drip", "/drip-headers", "/hang"] {
        let (result, took) = timed(path);
        let e = result.expect_err(path);
        assert_eq!(e.kind(), "transport", "{path}: {e}");
        assert!(
            took >= DEADLINE - Duration::from_millis(200),
            "{path}: {took:?}"
        );
        assert_no_secret(&e.to_string());
    }
}

#[test]
fn broken_connections_are_transport_errors() {
    for path in ["/reset", "/close-mid-body"] {
        let (result, _) = timed(path);
        let e = result.expect_err(path);
        assert_eq!(e.kind(), "transport", "{path}: {e}");
        assert_no_secret(&format!("{e} {e:?}"));
    }
}

#[test]
fn huge_and_inflating_bodies_stop_at_the_cap() {
    for path in ["/huge", "/huge-chunked", "/gzip-bomb"] {
        let (result, _) = timed(path);
        let response = result.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(response.body().len(), grantline::MAX_BODY + 1, "{path}");
        let e = TokenSet::from_response(&response, now()).unwrap_err();
        assert_eq!(e.kind(), "malformed", "{path}: {e}");
    }
}

#[test]
fn compressed_answers_are_decoded() {
    for (path, token) in [("/gzip", "gzip-token"), ("/deflate", "deflate-token")] {
        let (result, _) = timed(path);
        let tokens = TokenSet::from_response(&result.unwrap(), now()).unwrap();
        assert_eq!(tokens.access_token().secret(), token);
    }
}

#[test]
fn redirects_are_never_followed() {
    let tag = format!("rust-{}", std::process::id());
    for status in [301, 302, 303, 307, 308] {
        let (result, _) = timed(&format!("/redirect-{status}?tag={tag}"));
        let response = result.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let e = TokenSet::from_response(&response, now()).unwrap_err();
        assert_eq!(e.kind(), "unexpected_status");
    }
    let captured = grantline_examples::get(&format!("{}/captured?tag={tag}", base())).unwrap();
    let body: serde_json::Value = serde_json::from_slice(captured.body()).unwrap();
    assert_eq!(body["count"], 0, "a redirect was followed: {body}");
}

#[test]
fn error_pages_are_typed_and_secret_free() {
    let (result, _) = timed("/html-error");
    let e = TokenSet::from_response(&result.unwrap(), now()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnexpectedStatus {
                status: 502,
                excerpt: Some(_)
            }
        ),
        "{e:?}"
    );
    assert_no_secret(&format!("{e} {e:?}"));

    let (result, _) = timed("/empty-403");
    let e = TokenSet::from_response(&result.unwrap(), now()).unwrap_err();
    assert_eq!(
        e,
        Error::UnexpectedStatus {
            status: 403,
            excerpt: None
        }
    );

    let (result, _) = timed("/error-200");
    let e = TokenSet::from_response(&result.unwrap(), now()).unwrap_err();
    assert_eq!(e.oauth_code(), Some("invalid_grant"));
    assert_eq!(e.status(), Some(200));
}
