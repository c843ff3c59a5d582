//! One client-credentials round (build the token request, parse the token response) with
//! grantline and with the `oauth2` crate, plus the hot path of a session holding a fresh token.
//!
//! Run with `cargo bench -p grantline --bench round`.
//!
//! Both rounds do the same work: a form body with `grant_type` and one scope, HTTP Basic client
//! authentication, and the same canned 200 JSON response built afresh each round (an HTTP
//! client hands over a new response every time). oauth2 gets it from its `SyncHttpClient`
//! closure; grantline gets it from the caller.

// A benchmark panics on a broken fixture on purpose: the workspace lints against unwrap/panic
// guard library code. `missing_docs`: `criterion_group!` generates an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use grantline::{Client, GrantType, Next, Provider, TokenSession, TokenSet};

const TOKEN_URL: &str = "https://auth.example.com/oauth/token";
const CLIENT_ID: &str = "client-id";
const CLIENT_SECRET: &str = "client-secret-0123456789";
const SCOPE: &str = "read";
const NOW: u64 = 1_700_000_000;
/// A realistic token response: a 40-character opaque access token.
const RESPONSE: &[u8] = br#"{"access_token":"3f1c9a7e5b2d4f608e1a9c3b7d5f2e4a6c8b0d1f","token_type":"Bearer","expires_in":3600,"scope":"read"}"#;

/// The canned response, as an HTTP client would return it: a fresh `http::Response` whose body
/// is a copy of the pre-built bytes.
fn canned_response(body: &[u8]) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .unwrap()
}

fn grantline_client() -> Client {
    let provider = Provider::builder("bench")
        .token_endpoint(TOKEN_URL)
        .grant(GrantType::ClientCredentials)
        .build()
        .unwrap();
    Client::new(provider, CLIENT_ID).with_secret(CLIENT_SECRET)
}

fn cc_round(c: &mut Criterion) {
    let mut group = c.benchmark_group("cc_round");
    let body: Vec<u8> = RESPONSE.to_vec();

    // grantline: request builder + parser, the caller does the IO.
    let client = grantline_client();
    let scopes = vec![SCOPE.to_owned()];
    {
        // Same request shape as oauth2's: form body, Basic auth, one scope.
        let r = client.client_credentials_request(&scopes, 0).unwrap();
        assert_eq!(r.body(), b"grant_type=client_credentials&scope=read");
        assert!(r.headers().contains_key(http::header::AUTHORIZATION));
        let t = TokenSet::from_response(&canned_response(&body), NOW).unwrap();
        assert_eq!(t.expires_at(), Some(NOW + 3600));
        assert_eq!(t.scopes(), Some(&[SCOPE.to_owned()][..]));
    }
    group.bench_function("grantline", |b| {
        b.iter(|| {
            let request = client
                .client_credentials_request(black_box(&scopes), 0)
                .unwrap();
            black_box(&request);
            let response = canned_response(black_box(&body));
            TokenSet::from_response(&response, black_box(NOW)).unwrap()
        });
    });

    // oauth2 5: the HTTP client is a closure returning the same canned response.
    let oauth = oauth2::basic::BasicClient::new(oauth2::ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(oauth2::ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_token_uri(oauth2::TokenUrl::new(TOKEN_URL.to_owned()).unwrap());
    let scope = oauth2::Scope::new(SCOPE.to_owned());
    let http_client = |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, Infallible> {
        black_box(&request);
        Ok(canned_response(black_box(&body)))
    };
    {
        use oauth2::TokenResponse as _;
        let check = |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, Infallible> {
            assert_eq!(request.body(), b"grant_type=client_credentials&scope=read");
            assert!(request.headers().contains_key(http::header::AUTHORIZATION));
            Ok(canned_response(&body))
        };
        let t = oauth
            .exchange_client_credentials()
            .add_scope(scope.clone())
            .request(&check)
            .unwrap();
        assert_eq!(t.expires_in(), Some(Duration::from_secs(3600)));
    }
    group.bench_function("oauth2", |b| {
        b.iter(|| {
            oauth
                .exchange_client_credentials()
                .add_scope(black_box(&scope).clone())
                .request(&http_client)
                .unwrap()
        });
    });
    group.finish();

    // The two halves of grantline's round, to see where its time goes.
    let mut halves = c.benchmark_group("cc_half");
    halves.bench_function("grantline_build", |b| {
        b.iter(|| {
            client
                .client_credentials_request(black_box(&scopes), 0)
                .unwrap()
        });
    });
    halves.bench_function("grantline_parse", |b| {
        b.iter(|| {
            let response = canned_response(black_box(&body));
            TokenSet::from_response(&response, black_box(NOW)).unwrap()
        });
    });
    halves.finish();
}

fn session_next(c: &mut Criterion) {
    let mut session = TokenSession::client_credentials(grantline_client(), vec![]);
    let Next::Send { id, .. } = session.next(NOW).unwrap() else {
        panic!("a new session must ask for a token");
    };
    let done = session
        .receive(id, &canned_response(RESPONSE), NOW)
        .unwrap();
    assert!(done.error.is_none());
    session.delivered(id);
    assert!(matches!(session.next(NOW + 1).unwrap(), Next::Ready(_)));

    let mut group = c.benchmark_group("session_next");
    group.bench_function("cached", |b| {
        b.iter(|| match session.next(black_box(NOW + 1)) {
            Ok(next @ Next::Ready(_)) => next,
            other => panic!("expected Ready, got {other:?}"),
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = cc_round, session_next
}
criterion_main!(benches);
