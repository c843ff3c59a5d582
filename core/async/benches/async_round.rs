//! `grantline-async` beside the `oauth2` crate's async API, in one run:
//! - `async_renewal`: a client-credentials token obtained through the session (the previous
//!   token rejected, so each iteration is one full renewal: decision, request, exchange over an
//!   in-memory async client, parse, delivery), against `oauth2`'s
//!   `exchange_client_credentials().request_async(..)` over the same in-memory client (oauth2
//!   has no session: this is its whole round);
//! - `async_cached`: `access_token()` with a fresh token (the hot path of every API call).
//!
//! Both futures complete without a runtime (`now_or_never`): what is measured is the library.
//! Run with `cargo bench -p grantline-async --bench async_round`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use grantline::{Client, ClientAuthMethod, GrantType, Provider, TokenSession};
use grantline_async::AsyncTokenSession;

const TOKEN_URL: &str = "https://auth.example.com/oauth/token";
const NOW: u64 = 1_700_000_000;

/// A token response with a new 40-character access token each time (the session refuses a
/// renewal that returns the token it just rejected).
fn canned() -> http::Response<Vec<u8>> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let body = format!(
        r#"{{"access_token":"3f1c9a7e5b2d4f608e1a9c3b{n:016x}","token_type":"Bearer","expires_in":3600,"scope":"read"}}"#
    );
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.into_bytes())
        .unwrap()
}

fn session() -> AsyncTokenSession {
    let provider = Provider::builder("bench")
        .token_endpoint(TOKEN_URL)
        .grant(GrantType::ClientCredentials)
        .auth_method(ClientAuthMethod::Basic)
        .build()
        .unwrap();
    let client = Client::new(provider, "client-id").with_secret("client-secret-0123456789");
    AsyncTokenSession::builder(
        TokenSession::client_credentials(client, vec!["read".into()]),
        |request: http::Request<Vec<u8>>| async move {
            black_box(&request);
            Ok::<_, Infallible>(canned())
        },
    )
    .clock(|| NOW)
    .build()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_renewal");
    let s = session();
    group.bench_function("grantline_async", |b| {
        b.iter(|| {
            if let Some(t) = s.tokens() {
                s.reject(t.access_token().secret());
            }
            s.access_token().now_or_never().unwrap().unwrap()
        });
    });
    let oauth = oauth2::basic::BasicClient::new(oauth2::ClientId::new("client-id".into()))
        .set_client_secret(oauth2::ClientSecret::new("client-secret-0123456789".into()))
        .set_token_uri(oauth2::TokenUrl::new(TOKEN_URL.into()).unwrap());
    let scope = oauth2::Scope::new("read".into());
    let http_client = |request: oauth2::HttpRequest| async move {
        black_box(&request);
        Ok::<_, Infallible>(canned())
    };
    group.bench_function("oauth2", |b| {
        b.iter(|| {
            oauth
                .exchange_client_credentials()
                .add_scope(scope.clone())
                .request_async(&http_client)
                .now_or_never()
                .unwrap()
                .unwrap()
        });
    });
    group.finish();

    let mut cached = c.benchmark_group("async_cached");
    let s = session();
    s.access_token().now_or_never().unwrap().unwrap();
    cached.bench_function("grantline_async", |b| {
        b.iter(|| s.access_token().now_or_never().unwrap().unwrap());
    });
    cached.finish();
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
