//! `grantline-async` over reqwest on tokio, as the README's Rust quick start writes it, against
//! real servers on 127.0.0.1 (started by `tests/interop/servers.sh`):
//! - oauth2-mock-server (a third party's server): many tasks, one token, usable at its API;
//! - the load server of `tests/load` (counts token requests, rotates refresh tokens, revokes a
//!   family when a used refresh token comes back, injects resets and 503s): many tasks, one
//!   token request per renewal, no `invalid_grant`, the last persisted refresh token current.
//!
//! Built only with the `interop` feature; a missing server URL fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use grantline::{
    Client, ClientAuthMethod, GrantType, Password, Provider, SessionGrant, TokenSession,
};
use grantline_async::AsyncTokenSession;

/// One HTTP exchange: no redirects, a whole-request deadline, gzip decoded (the README's `send`).
async fn send(request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, reqwest::Error> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    let http = HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
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

/// The load server is shared: its tests reset it, so they take turns.
static LOAD_SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn server(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run under tests/interop/servers.sh run"))
}

async fn admin(base: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let http = reqwest::Client::new();
    let url = format!("{base}{path}");
    let response = if body.is_null() {
        http.get(url).send().await
    } else {
        http.post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
    };
    serde_json::from_slice(&response.unwrap().bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_one_token_from_oauth2_mock_server() {
    let base = server("GRANTLINE_MOCK_URL");
    let mut discovery = grantline::Discovery::new(&base).unwrap();
    let provider = loop {
        let response = send(discovery.request()).await.unwrap();
        if let Some(p) = discovery.receive(&response).unwrap() {
            break p;
        }
    };
    // The mock's metadata lists only `none`; it accepts Basic (see tests/interop/README.md).
    let provider = provider
        .to_builder()
        .auth_method(ClientAuthMethod::Basic)
        .build()
        .unwrap();
    let client = Client::new(provider, "test-client").with_secret("test-secret");
    let stored = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&stored);
    let session =
        AsyncTokenSession::builder(TokenSession::client_credentials(client, vec![]), send)
            .on_tokens(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            })
            .build();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.access_token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one token for every task");
    assert_eq!(stored.load(Ordering::SeqCst), 1, "one token set stored");
    // The mock's userinfo endpoint takes it.
    let api = reqwest::Client::new()
        .get(format!("{base}/userinfo"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credentials_many_tasks_one_token_request() {
    let _turn = LOAD_SERVER.lock().await;
    let base = server("GRANTLINE_LOAD_URL");
    admin(
        &base,
        "/admin/reset",
        serde_json::json!({"lifetime": 60, "fail_rate": 0.0}),
    )
    .await;
    let provider = Provider::builder("load")
        .token_endpoint(format!("{base}/token"))
        .grant(GrantType::ClientCredentials)
        .auth_method(ClientAuthMethod::Body)
        .build()
        .unwrap();
    let client = Client::new(provider, "async").with_secret("load-secret");
    let session = AsyncTokenSession::new(TokenSession::client_credentials(client, vec![]), send);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.access_token().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = admin(&base, "/admin/stats", serde_json::Value::Null).await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
}

/// Tasks call the API for a few seconds while tokens live 2 s, refresh tokens rotate and 10% of
/// token requests fail (resets, 503 + Retry-After). Every renewal hands its set to `on_tokens`;
/// a cancelled caller (a short timeout) never strands the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_refresh_tokens_under_faults_and_cancellations_are_never_lost() {
    let _turn = LOAD_SERVER.lock().await;
    let base = server("GRANTLINE_LOAD_URL");
    admin(
        &base,
        "/admin/reset",
        serde_json::json!({"lifetime": 2, "fail_rate": 0.1, "retry_after": 1, "delay": 0.05, "seed": 7}),
    )
    .await;
    let provider = Provider::builder("load")
        .token_endpoint(format!("{base}/token"))
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .auth_method(ClientAuthMethod::Body)
        .build()
        .unwrap();
    let client = Client::new(provider, "async-rotation").with_secret("load-secret");
    let grant = SessionGrant::Password {
        username: "user".into(),
        password: Password::new("pw"),
        scopes: vec![],
    };
    let last_refresh = Arc::new(Mutex::new(None::<String>));
    let persist = Arc::clone(&last_refresh);
    let session = AsyncTokenSession::builder(TokenSession::new(client, grant), send)
        .on_tokens(move |renewed| {
            let rt = renewed
                .tokens
                .refresh_token()
                .map(|r| r.secret().to_owned());
            *persist.lock().unwrap() = rt;
        })
        .build();
    let until = Instant::now() + Duration::from_secs(5);
    let api_ok = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let s = session.clone();
            let api = format!("{base}/api");
            let ok = Arc::clone(&api_ok);
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while Instant::now() < until {
                    // Every fourth task gives up quickly: cancellations mid-renewal.
                    let patience = Duration::from_millis(if i % 4 == 0 { 20 } else { 10_000 });
                    let Ok(got) = tokio::time::timeout(patience, s.access_token()).await else {
                        continue;
                    };
                    let Ok(token) = got else {
                        // No valid token and the renewal failed (an injected fault): backoff.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let r = http
                        .get(&api)
                        .bearer_auth(token.secret())
                        .send()
                        .await
                        .unwrap();
                    if grantline::bearer::needs_renewal(r.status().as_u16(), r.headers()) {
                        s.reject(token.secret());
                    } else if r.status() == 200 {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = admin(&base, "/admin/stats", serde_json::Value::Null).await;
    eprintln!("async rotation run: {stats}");
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(stats["reuse_detected"], 0, "{stats}");
    assert!(stats["rotations"].as_u64().unwrap() >= 2, "{stats}");
    assert!(api_ok.load(Ordering::SeqCst) > 0);
    // The refresh token persisted last is the family's current one: nothing was lost.
    let last = last_refresh
        .lock()
        .unwrap()
        .clone()
        .expect("a refresh token was stored");
    let check = admin(
        &base,
        "/admin/check",
        serde_json::json!({ "refresh_token": last }),
    )
    .await;
    assert_eq!(check["state"], "current", "{check}");
}
