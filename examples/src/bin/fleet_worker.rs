//! The Rust worker of the cross-language fleet harness (`tests/fleet/fleet.py`): one process of
//! a fleet that shares one token session over Redis, with `M` caller threads for `T` seconds
//! against the load server of `tests/load`.
//!
//! ```text
//! fleet-worker --redis URL --name NAME --key-hex 64HEX --kid KID --token-url URL/token
//!              --api-url URL/api --client-id ID --client-secret SECRET
//!              --grant client_credentials|password --callers M --seconds T
//!              [--no-store] [--lease-ms MS] [--hold-ms MS]
//! fleet-worker check --redis URL --name NAME --key-hex 64HEX --kid KID --check-url URL/admin/check
//! ```
//!
//! Each caller loops: get a token, `GET` the API with it, reject it on a 401, sleep 20 ms.
//! stdout gets JSON lines, flushed: `start` (with this process's lease owner id), `renewed`
//! per token set taken in, `error` per caller error, `done` with the counters. `--no-store`
//! runs the same driver over a store private to this process (the baseline without sharing);
//! `--hold-ms` delays every token request (a test hook: a lease holder caught mid-renewal).
//!
//! `check` opens the shared entry and asks the load server about its refresh token:
//! `{"state":"current|used|revoked|unknown","version":V}`, or `{"state":"none"}` without an
//! entry or a refresh token.
// `serde_json::Value`'s `[key]` gives `Null` for a missing key: it cannot panic.
#![allow(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use grantline::fleet::{FleetConfig, FleetSession, StoreOp, StoreReply};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::{
    Client, ClientAuthMethod, GrantType, Password, Provider, SessionGrant, TokenSession,
};
use grantline_examples::Transport;
use grantline_redis::{FleetTokens, MemoryStore, RedisStore, Source, Store};
use serde_json::json;

const USAGE: &str = "usage: fleet-worker --redis URL --name NAME --key-hex 64HEX --kid KID \
--token-url URL --api-url URL --client-id ID --client-secret SECRET \
--grant client_credentials|password --callers M --seconds T [--no-store] [--lease-ms MS] [--hold-ms MS]\n\
       fleet-worker check --redis URL --name NAME --key-hex 64HEX --kid KID --check-url URL";

/// One JSON line on stdout, flushed (lines of concurrent threads never interleave).
fn emit(line: &serde_json::Value) {
    static OUT: Mutex<()> = Mutex::new(());
    let _guard = OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            if name == "no-store" {
                flags.push(name.to_owned());
                continue;
            }
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_owned(), value.clone());
        }
        Ok(Args { values, flags })
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is missing"))
    }

    fn number(&self, name: &str, default: Option<u64>) -> Result<u64, String> {
        match (self.values.get(name), default) {
            (Some(v), _) => v
                .parse()
                .map_err(|_| format!("--{name} must be a whole number")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{name} is missing")),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

fn hex_key(hex: &str) -> Result<Vec<u8>, String> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err("--key-hex must be an even number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| "--key-hex must be hex digits".to_owned())
        })
        .collect()
}

fn protection(args: &Args) -> Result<Protection, String> {
    let key = hex_key(args.get("key-hex")?)?;
    let key = EntryKey::new(args.get("kid")?, &key).map_err(|e| e.to_string())?;
    Ok(Protection::encrypted(key))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some("check") => Args::parse(argv.get(1..).unwrap_or_default()).and_then(|a| check(&a)),
        Some("--help" | "-h") | None => Err(USAGE.to_owned()),
        Some(_) => Args::parse(&argv).and_then(|a| work(&a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("fleet-worker: {why}");
            ExitCode::FAILURE
        }
    }
}

/// `check`: the shared entry's version and its refresh token's state at the load server.
fn check(args: &Args) -> Result<(), String> {
    let protection = protection(args)?;
    let config =
        FleetConfig::new(args.get("name")?, protection.clone()).map_err(|e| e.to_string())?;
    let store = RedisStore::open(args.get("redis")?)?;
    let read = StoreOp::Read {
        key: config.keys().entry.clone(),
    };
    let StoreReply::Entry(text) = store.execute(&read, Duration::from_secs(5))? else {
        return Err("the store answered a read with something else".into());
    };
    let Some(text) = text else {
        emit(&json!({"state": "none"}));
        return Ok(());
    };
    let entry = Entry::open(&text, &protection).map_err(|e| e.to_string())?;
    let Some(refresh) = entry.tokens().refresh_token() else {
        emit(&json!({"state": "none", "version": entry.version()}));
        return Ok(());
    };
    let mut request = http::Request::new(
        json!({ "refresh_token": refresh.secret() })
            .to_string()
            .into_bytes(),
    );
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = args
        .get("check-url")?
        .parse()
        .map_err(|_| "--check-url is not a URL".to_owned())?;
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let response = Transport::new().send(&request).map_err(|e| e.to_string())?;
    let answer: serde_json::Value = serde_json::from_slice(response.body()).map_err(|_| {
        format!(
            "the check endpoint answered HTTP {} without JSON",
            response.status()
        )
    })?;
    emit(&json!({"state": answer["state"], "version": entry.version()}));
    Ok(())
}

#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    errors: AtomicU64,
    api_401: AtomicU64,
}

/// The worker: `--callers` threads for `--seconds` over one shared session.
fn work(args: &Args) -> Result<(), String> {
    let no_store = args.flag("no-store");
    let callers = args.number("callers", None)?;
    let seconds = args.number("seconds", None)?;
    let hold = Duration::from_millis(args.number("hold-ms", Some(0))?);
    let api_url = args.get("api-url")?.to_owned();
    let grant = match args.get("grant")? {
        "client_credentials" => SessionGrant::ClientCredentials { scopes: vec![] },
        "password" => SessionGrant::Password {
            username: "fleet".into(),
            password: Password::new("fleet"),
            scopes: vec![],
        },
        other => return Err(format!("--grant {other:?}: client_credentials or password")),
    };
    let provider = Provider::builder("fleet")
        .token_endpoint(args.get("token-url")?)
        .grant(GrantType::ClientCredentials)
        .grant(GrantType::Password)
        .grant(GrantType::RefreshToken)
        .auth_method(ClientAuthMethod::Body)
        .build()
        .map_err(|e| e.to_string())?;
    let client =
        Client::new(provider, args.get("client-id")?).with_secret(args.get("client-secret")?);
    let mut config =
        FleetConfig::new(args.get("name")?, protection(args)?).map_err(|e| e.to_string())?;
    if let Some(ms) = args.values.get("lease-ms") {
        config = config.with_lease_ttl_ms(
            ms.parse()
                .map_err(|_| "--lease-ms must be a whole number")?,
        );
    }
    let store: Box<dyn Store> = if no_store {
        // The baseline: the same driver over a store no other process sees.
        Box::new(MemoryStore::new())
    } else {
        Box::new(RedisStore::open(args.get("redis")?)?)
    };
    let transport = Transport::with_timeout(Duration::from_secs(10));
    let http = transport.clone();
    let send = move |request: &http::Request<Vec<u8>>| {
        // The harness's hook: every token request waits before it leaves (a lease holder can
        // be killed mid-renewal, before the server sees its refresh token).
        if !hold.is_zero() && !no_store {
            std::thread::sleep(hold);
        }
        http.send(request)
    };
    let tokens = Arc::new(
        FleetTokens::new(
            FleetSession::new(TokenSession::new(client, grant), config),
            store,
            send,
        )
        .with_on_tokens(|renewed, origin| {
            emit(&json!({
                "event": "renewed",
                "version": origin.version,
                "source": if origin.source == Source::Http { "http" } else { "store" },
                "refresh_rotated": renewed.refresh_token_rotated,
            }));
        }),
    );
    emit(
        &json!({"event": "start", "lang": "rust", "pid": std::process::id(), "owner": tokens.owner()}),
    );

    let counts = Arc::new(Counts::default());
    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (tokens, counts, transport, api_url) = (
                Arc::clone(&tokens),
                Arc::clone(&counts),
                transport.clone(),
                api_url.clone(),
            );
            std::thread::spawn(move || {
                while Instant::now() < until {
                    counts.calls.fetch_add(1, Ordering::Relaxed);
                    match tokens.access_token() {
                        Ok(token) => {
                            let mut api = http::Request::new(Vec::new());
                            if let Ok(uri) = api_url.parse() {
                                *api.uri_mut() = uri;
                            }
                            if let Ok(value) = grantline::bearer::authorization_header(&token) {
                                api.headers_mut().insert(http::header::AUTHORIZATION, value);
                            }
                            if let Ok(r) = transport.send(&api) {
                                if r.status() == 401 {
                                    counts.api_401.fetch_add(1, Ordering::Relaxed);
                                    tokens.reject(token.secret());
                                }
                            }
                        }
                        Err(e) => {
                            counts.errors.fetch_add(1, Ordering::Relaxed);
                            emit(&json!({"event": "error", "kind": e.kind(), "message": e.to_string()}));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let stats = tokens.stats();
    emit(&json!({
        "event": "done",
        "calls": counts.calls.load(Ordering::Relaxed),
        "errors": counts.errors.load(Ordering::Relaxed),
        "api_401": counts.api_401.load(Ordering::Relaxed),
        "http_renewals": stats.http_renewals,
        "adopted": stats.adopted,
        "store_ops": stats.store_ops,
        "store_failures": stats.store_failures,
        "fallback_renewals": stats.fallback_renewals,
    }));
    Ok(())
}
