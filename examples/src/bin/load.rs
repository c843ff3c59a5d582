//! Faults under load, Rust: many threads share one [`SharedSession`] against the rotating token
//! server of `tests/load` (refresh tokens rotate, a reused one revokes the whole family, a share
//! of token requests fails before it is processed), and the figures are printed.
//!
//! ```sh
//! tests/interop/servers.sh run -- cargo run --release -p grantline-examples --bin load
//! ```
//!
//! Knobs: `LOAD_SECONDS` (20), `LOAD_THREADS` (64), `LOAD_LIFETIME` (2 s), `LOAD_FAIL_RATE`
//! (0.1), `LOAD_SEED` (1, the server's failure sequence). Exits non-zero on a correctness failure (an `invalid_grant`, a lost refresh token, an
//! error seen by a caller while a valid token existed); timings are printed, never asserted.
// `serde_json::Value`'s `[key]` gives `Null` for a missing key: it cannot panic.
#![allow(clippy::indexing_slicing)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grantline::{
    Client, ClientAuthMethod, GrantType, Password, Provider, SessionGrant, TokenSession,
};
use grantline_examples::{SharedSession, Transport};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn json_request(method: &str, url: &str, body: &str) -> http::Request<Vec<u8>> {
    let mut r = http::Request::new(body.as_bytes().to_vec());
    *r.method_mut() = method.parse().unwrap_or(http::Method::GET);
    if let Ok(uri) = url.parse() {
        *r.uri_mut() = uri;
    }
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn admin(transport: &Transport, method: &str, url: &str, body: &str) -> serde_json::Value {
    transport
        .send(&json_request(method, url, body))
        .ok()
        .and_then(|r| serde_json::from_slice(r.body()).ok())
        .unwrap_or(serde_json::Value::Null)
}

#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    api_ok: AtomicU64,
    api_401: AtomicU64,
    errors_while_valid: AtomicU64,
    errors_in_last_second: AtomicU64,
    errors_without_token: AtomicU64,
}

/// Whether the API refused `access` (the session rejected it): it is no longer the current
/// token, or the current one was rejected (the session then serves it to no one).
fn rejected(session: &SharedSession, access: &str) -> bool {
    session
        .tokens()
        .is_none_or(|t| !t.access_token().ct_eq(access))
}

fn main() -> ExitCode {
    let Ok(base) = std::env::var("GRANTLINE_LOAD_URL") else {
        eprintln!("GRANTLINE_LOAD_URL is not set: run under tests/interop/servers.sh run");
        return ExitCode::FAILURE;
    };
    let seconds: u64 = env("LOAD_SECONDS", 20);
    let threads: usize = env("LOAD_THREADS", 64);
    let lifetime: f64 = env("LOAD_LIFETIME", 2.0);
    let fail_rate: f64 = env("LOAD_FAIL_RATE", 0.1);
    let seed: u64 = env("LOAD_SEED", 1);
    let transport = Transport::with_timeout(Duration::from_secs(10));
    admin(
        &transport,
        "POST",
        &format!("{base}/admin/reset"),
        &format!(
            r#"{{"lifetime":{lifetime},"fail_rate":{fail_rate},"retry_after":1,"seed":{seed}}}"#
        ),
    );

    let provider = match Provider::builder("load")
        .token_endpoint(format!("{base}/token"))
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .auth_method(ClientAuthMethod::Body)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = Client::new(provider, "load-rust").with_secret("load-secret");
    let grant = SessionGrant::Password {
        username: "alice".into(),
        password: Password::new("wonderland"),
        scopes: vec![],
    };
    let persisted: Arc<Mutex<(u64, Option<String>)>> = Arc::default();
    let saved = Arc::clone(&persisted);
    let session = Arc::new(SharedSession::new(
        TokenSession::new(client, grant),
        transport.clone(),
        Some(Box::new(move |renewed| {
            let mut p = saved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            p.0 += 1;
            p.1 = renewed
                .tokens
                .refresh_token()
                .map(|r| r.secret().to_owned());
        })),
    ));
    let counts = Arc::new(Counts::default());
    let until = Instant::now() + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (session, counts, transport, base) = (
                Arc::clone(&session),
                Arc::clone(&counts),
                transport.clone(),
                base.clone(),
            );
            std::thread::spawn(move || {
                while Instant::now() < until {
                    counts.calls.fetch_add(1, Ordering::Relaxed);
                    // The token the session held before the call: if the call fails, was it
                    // still valid?
                    let before = session.tokens();
                    match session.token() {
                        Ok(token) => {
                            let mut api = json_request("GET", &format!("{base}/api"), "");
                            if let Ok(v) = grantline::bearer::authorization_header(
                                &grantline::AccessToken::new(token.as_str()),
                            ) {
                                api.headers_mut().insert(http::header::AUTHORIZATION, v);
                            }
                            match transport.send(&api) {
                                Ok(r) if r.status() == 200 => {
                                    counts.api_ok.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(r) if r.status() == 401 => {
                                    counts.api_401.fetch_add(1, Ordering::Relaxed);
                                    session.reject(&token);
                                }
                                _ => {}
                            }
                        }
                        Err(_) => {
                            // Was the token held before the call still valid, by the client's
                            // whole-second clock and by the server's?
                            let at = grantline_examples::now();
                            let (client_valid, server_valid) = before.map_or((false, false), |t| {
                                let access = t.access_token().secret();
                                let url = format!("{base}/admin/token-valid?token={access}");
                                (
                                    t.expires_at().is_none_or(|e| at < e)
                                        && !rejected(&session, access),
                                    admin(&transport, "GET", &url, "")["valid"] == true,
                                )
                            });
                            let counter = match (client_valid, server_valid) {
                                (true, true) => &counts.errors_while_valid,
                                (false, true) => &counts.errors_in_last_second,
                                _ => &counts.errors_without_token,
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let stats = admin(&transport, "GET", &format!("{base}/admin/stats"), "");
    let (deliveries, last_refresh) = persisted
        .lock()
        .map(|p| (p.0, p.1.clone()))
        .unwrap_or((0, None));
    let check = last_refresh
        .as_deref()
        .map_or(serde_json::Value::Null, |rt| {
            admin(
                &transport,
                "POST",
                &format!("{base}/admin/check"),
                &serde_json::json!({ "refresh_token": rt }).to_string(),
            )["state"]
                .clone()
        });
    let lost = u64::from(check != "current");
    let invalid_grant = stats["invalid_grant"].as_u64().unwrap_or(u64::MAX);
    let errors_while_valid = counts.errors_while_valid.load(Ordering::Relaxed);
    let lifetimes = seconds as f64 / lifetime;
    println!("load (Rust, {threads} threads, {seconds} s, token lifetime {lifetime} s, fail rate {fail_rate}):");
    println!(
        "  token requests {} ({} processed, {} resets, {} 503s) for {lifetimes:.1} lifetimes; rotations {}",
        stats["token_requests"], stats["processed"], stats["injected_resets"], stats["injected_503"], stats["rotations"]
    );
    println!(
        "  caller calls {}, API 200 {}, API 401 {}; token sets delivered {deliveries}",
        counts.calls.load(Ordering::Relaxed),
        counts.api_ok.load(Ordering::Relaxed),
        counts.api_401.load(Ordering::Relaxed),
    );
    println!(
        "  invalid_grant {invalid_grant} (must be 0); lost refresh tokens {lost} (last persisted is {check}; must be 0)"
    );
    println!(
        "  errors seen while a valid token existed {errors_while_valid} (must be 0); errors with no valid token {}; in a token's last second by the server's clock {}",
        counts.errors_without_token.load(Ordering::Relaxed),
        counts.errors_in_last_second.load(Ordering::Relaxed),
    );
    if invalid_grant == 0 && lost == 0 && errors_while_valid == 0 {
        ExitCode::SUCCESS
    } else {
        println!("load: FAILED");
        ExitCode::FAILURE
    }
}
