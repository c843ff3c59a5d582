//! The token session: a fuzz-chosen sequence of `next`, `receive`, `fail`, `waited`, `reject`,
//! `delivered` and `ready_until` calls, with `now` never going back, on a `TokenSession` built
//! with the client credentials grant, the password grant, or `from_tokens` (refresh only).
//!
//! Input: `arbitrary`-structured (see `Input`); responses are either built from fuzz-chosen
//! fields (fresh, repeated or rejected access tokens; fresh, repeated or empty refresh tokens;
//! lifetimes as numbers, strings, zero, negative or words; token types; `error` members;
//! `Retry-After`) or raw bytes.
//!
//! Invariants:
//! - no panic;
//! - single flight: a second `Send` never appears before the first is received or failed, and
//!   never while a renewed token set awaits `delivered`; `Wait` names the renewal in flight or
//!   being delivered; `receive`/`fail` accept exactly the id in flight;
//! - `next()` and `waited()` never return `Err` while the current token set has a usable
//!   access token (bearer, not expired at `now`, not rejected), and `Ready` hands out the
//!   current access token of a bearer set;
//! - nothing loops: two `Send`s at the same `now` need a `reject` or an `invalid_grant` in
//!   between;
//! - a refresh token is never lost: after a `receive` whose response was a 2xx JSON object with
//!   a non-empty string `refresh_token` (and no OAuth `error`), a session that had tokens holds
//!   exactly that refresh token, and so does the token set it hands out to persist
//!   (`"error": null`, `false` or `""` is no error; known finding `session-error-member`, which
//!   `GRANTLINE_FUZZ_ALLOW` can skip: any other non-string `error` drops the refresh token);
//! - `reject` is true exactly for the current access token; `delivered` exactly for the renewal
//!   being delivered; `ready_until() == Some(t)` means `next(now)` is `Ready` for `now < t`.
#![no_main]

use arbitrary::Arbitrary;
use grantline::{AccessToken, Client, Next, Provider, RefreshToken, TokenSession, TokenSet};
use grantline_fuzz::{check_error_text, content_type, response};
use libfuzzer_sys::fuzz_target;

const START: u64 = 1_700_000_000;

#[derive(Arbitrary, Debug)]
enum Setup {
    ClientCredentials { provider: u8 },
    Password { provider: u8 },
    FromTokens { provider: u8, tokens: Initial },
    ClientCredentialsWithTokens { provider: u8, tokens: Initial },
}

#[derive(Arbitrary, Debug)]
struct Initial {
    refresh: bool,
    expires_in: Option<u16>,
    issued_ago: u16,
    json_type: Option<TokenType>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TokenType {
    Bearer,
    LowerBearer,
    DPoP,
    Mac,
    Empty,
}

impl TokenType {
    fn text(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::LowerBearer => "bearer",
            TokenType::DPoP => "DPoP",
            TokenType::Mac => "mac",
            TokenType::Empty => "",
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    setup: Setup,
    skew: Option<u16>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Next {
        dt: u16,
    },
    Receive {
        id: IdChoice,
        dt: u16,
        response: Resp,
    },
    Fail {
        id: IdChoice,
        dt: u16,
        reason: String,
    },
    Waited {
        id: IdChoice,
        dt: u16,
    },
    Reject {
        token: TokenChoice,
    },
    Delivered {
        id: IdChoice,
    },
    ReadyUntil,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum IdChoice {
    InFlight,
    Last,
    Raw(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TokenChoice {
    Current,
    Previous,
    Other,
}

#[derive(Arbitrary, Debug)]
struct Resp {
    status: u8,
    content_type: u8,
    retry_after: Option<RetryAfter>,
    body: Body,
}

#[derive(Arbitrary, Debug)]
enum RetryAfter {
    Seconds(u16),
    Huge,
    Date(u32),
    Garbage(String),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Json {
        access: Option<Access>,
        token_type: Option<TokenType>,
        expires_in: Option<Lifetime>,
        refresh: Option<Refresh>,
        error: Option<ErrorMember>,
        scope: Option<String>,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Access {
    Fresh,
    Current,
    Rejected,
    Empty,
    Number,
    WithSpace,
    Jwt { exp_offset: i32 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Refresh {
    Fresh,
    Same,
    Empty,
    Number,
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Lifetime {
    Seconds(u32),
    Zero,
    Text(u16),
    Negative,
    Word,
    Float(u16),
    Huge,
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ErrorMember {
    InvalidGrant,
    Other,
    Empty,
    False,
    True,
    Null,
    Number,
}

fn provider(b: u8) -> Provider {
    match b % 4 {
        0 => Provider::bookable(),
        1 => Provider::bindeo(),
        2 => Provider::libro(),
        _ => Provider::booking_experts(),
    }
}

struct Model {
    now: u64,
    counter: u64,
    /// The renewal in flight (between `Send` and its `receive`/`fail`).
    in_flight: Option<u64>,
    /// A renewal whose token set was handed out and not yet `delivered`.
    delivering: Option<u64>,
    last_id: u64,
    /// Access tokens the API refused (`reject` returned true).
    rejected: Vec<String>,
    previous_access: Option<String>,
    last_send_at: Option<u64>,
    /// A `reject` or an `invalid_grant` since the last `Send`: a new renewal at the same second
    /// is legitimate.
    excused: bool,
}

impl Model {
    fn fresh(&mut self, what: &str) -> String {
        self.counter += 1;
        format!("{what}-{}", self.counter)
    }

    fn id(&self, c: IdChoice) -> u64 {
        match c {
            IdChoice::InFlight => self.in_flight.unwrap_or(self.last_id),
            IdChoice::Last => self.last_id,
            IdChoice::Raw(r) => u64::from(r),
        }
    }

    fn advance(&mut self, dt: u16) {
        // Mostly small steps, sometimes long ones (past lifetimes and backoffs).
        let step = if dt >= 0xf000 {
            u64::from(dt) * 16
        } else {
            u64::from(dt % 128)
        };
        self.now = self.now.saturating_add(step);
    }

    /// Whether the session's current token is usable at `now`, as far as the model knows.
    fn usable(&self, s: &TokenSession) -> bool {
        s.tokens().is_some_and(|t| {
            t.is_bearer()
                && t.expires_at().is_none_or(|at| self.now < at)
                && !self.rejected.iter().any(|r| t.access_token().ct_eq(r))
        })
    }

    fn check_next(&mut self, s: &TokenSession, what: &str, r: &Result<Next, grantline::Error>) {
        match r {
            Ok(Next::Ready(token)) => {
                let current = s.tokens().map(|t| t.access_token().secret().to_owned());
                assert_eq!(
                    Some(token.secret().to_owned()),
                    current,
                    "{what}: Ready with a token that is not the current one"
                );
                assert!(
                    s.tokens().is_some_and(TokenSet::is_bearer),
                    "{what}: Ready with a token that is not a bearer token"
                );
            }
            Ok(Next::Send { id, .. }) => {
                assert!(
                    self.in_flight.is_none(),
                    "{what}: a second renewal ({id}) while {:?} is in flight",
                    self.in_flight
                );
                assert!(
                    self.delivering.is_none(),
                    "{what}: a renewal ({id}) while {:?} is being delivered",
                    self.delivering
                );
                if self.last_send_at == Some(self.now) {
                    assert!(
                        self.excused,
                        "{what}: two renewals at the same second {}",
                        self.now
                    );
                }
                self.in_flight = Some(*id);
                self.last_id = *id;
                self.last_send_at = Some(self.now);
                self.excused = false;
            }
            Ok(Next::Wait { id }) => {
                assert!(
                    self.in_flight == Some(*id) || self.delivering == Some(*id),
                    "{what}: Wait on {id}, but in flight {:?}, delivering {:?}",
                    self.in_flight,
                    self.delivering
                );
            }
            Err(e) => {
                check_error_text(e);
                assert!(
                    !self.usable(s),
                    "{what}: error {e} while the current token is usable at {}",
                    self.now
                );
            }
        }
    }
}

/// The refresh token a 2xx JSON answer carries and a session must keep: a non-empty string
/// `refresh_token` in an object without an OAuth `error` (a non-empty string).
fn carried_refresh_token(status: u16, body: &[u8]) -> Option<String> {
    if !(200..300).contains(&status) {
        return None;
    }
    let trimmed = body
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(body)
        .trim_ascii();
    let serde_json::Value::Object(o) = serde_json::from_slice(trimmed).ok()? else {
        return None;
    };
    match o.get("error") {
        None | Some(serde_json::Value::Null | serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::String(e)) if e.is_empty() => {}
        Some(serde_json::Value::String(_)) => return None,
        // Known finding `session-error-member`: `"error": true` or `1` in a 2xx answer makes it
        // malformed, and its refresh token is dropped.
        Some(_) if grantline_fuzz::allowed("session-error-member") => return None,
        Some(_) => {}
    }
    match o.get("refresh_token")? {
        serde_json::Value::String(r) if !r.is_empty() => Some(r.clone()),
        _ => None,
    }
}

fn build_body(m: &mut Model, s: &TokenSession, body: &Body) -> Vec<u8> {
    let (access, token_type, expires_in, refresh, error, scope) = match body {
        Body::Raw(bytes) => return bytes.clone(),
        Body::Json {
            access,
            token_type,
            expires_in,
            refresh,
            error,
            scope,
        } => (access, token_type, expires_in, refresh, error, scope),
    };
    let current = s.tokens().map(|t| t.access_token().secret().to_owned());
    let mut o = serde_json::Map::new();
    if let Some(a) = access {
        let v = match a {
            Access::Fresh => m.fresh("at").into(),
            Access::Current => current.clone().unwrap_or_else(|| m.fresh("at")).into(),
            Access::Rejected => m
                .rejected
                .last()
                .cloned()
                .unwrap_or_else(|| m.fresh("at"))
                .into(),
            Access::Empty => "".into(),
            Access::Number => 42.into(),
            Access::WithSpace => "a b".into(),
            Access::Jwt { exp_offset } => {
                use base64::Engine as _;
                let exp = m.now as i64 + i64::from(*exp_offset);
                let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(format!(r#"{{"exp":{exp},"n":{}}}"#, m.counter));
                m.counter += 1;
                format!("eyJhbGciOiJub25lIn0.{payload}.c2ln").into()
            }
        };
        o.insert("access_token".into(), v);
    }
    if let Some(t) = token_type {
        o.insert("token_type".into(), t.text().into());
    }
    if let Some(l) = expires_in {
        let v: serde_json::Value = match l {
            Lifetime::Seconds(n) => (*n % 100_000).into(),
            Lifetime::Zero => 0.into(),
            Lifetime::Text(n) => n.to_string().into(),
            Lifetime::Negative => (-1).into(),
            Lifetime::Word => "1h".into(),
            Lifetime::Float(n) => (f64::from(*n) + 0.5).into(),
            Lifetime::Huge => 1e300.into(),
            Lifetime::Null => serde_json::Value::Null,
        };
        o.insert("expires_in".into(), v);
    }
    if let Some(r) = refresh {
        let current_rt = s
            .tokens()
            .and_then(|t| t.refresh_token())
            .map(|r| r.secret().to_owned());
        let v: serde_json::Value = match r {
            Refresh::Fresh => m.fresh("rt").into(),
            Refresh::Same => current_rt.unwrap_or_else(|| m.fresh("rt")).into(),
            Refresh::Empty => "".into(),
            Refresh::Number => 7.into(),
            Refresh::Null => serde_json::Value::Null,
        };
        o.insert("refresh_token".into(), v);
    }
    if let Some(e) = error {
        let v: serde_json::Value = match e {
            ErrorMember::InvalidGrant => "invalid_grant".into(),
            ErrorMember::Other => "temporarily_unavailable".into(),
            ErrorMember::Empty => "".into(),
            ErrorMember::False => false.into(),
            ErrorMember::True => true.into(),
            ErrorMember::Null => serde_json::Value::Null,
            ErrorMember::Number => 1.into(),
        };
        o.insert("error".into(), v);
    }
    if let Some(sc) = scope {
        o.insert("scope".into(), sc.clone().into());
    }
    serde_json::to_vec(&serde_json::Value::Object(o)).unwrap_or_default()
}

fn http_response(m: &mut Model, s: &TokenSession, r: &Resp) -> http::Response<Vec<u8>> {
    let body = build_body(m, s, &r.body);
    let mut resp = response(
        grantline_fuzz::status(r.status),
        content_type(r.content_type),
        &body,
    );
    let retry = match &r.retry_after {
        None => None,
        Some(RetryAfter::Seconds(n)) => Some(n.to_string()),
        Some(RetryAfter::Huge) => Some("99999999999999999999".to_owned()),
        Some(RetryAfter::Date(d)) => {
            let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
            let months = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            Some(format!(
                "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
                days[(*d % 7) as usize],
                1 + d % 31,
                months[((*d >> 3) % 12) as usize],
                1970 + (d >> 8) % 8100,
                (d >> 4) % 24,
                (d >> 2) % 60,
                (d >> 6) % 61
            ))
        }
        Some(RetryAfter::Garbage(g)) => Some(g.clone()),
    };
    if let Some(v) = retry.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

fn initial_tokens(m: &mut Model, i: &Initial) -> TokenSet {
    let issued = m.now.saturating_sub(u64::from(i.issued_ago));
    let access = AccessToken::new(m.fresh("at"));
    let refresh = i.refresh.then(|| RefreshToken::new(m.fresh("rt")));
    let expires_at = i.expires_in.map(|e| issued + u64::from(e));
    let t = TokenSet::new(access, refresh, expires_at, issued);
    match i.json_type {
        // A persisted set with another token type goes through JSON, as an app restores it.
        Some(tt) => {
            let mut v: serde_json::Value =
                serde_json::from_str(&t.to_json()).unwrap_or(serde_json::Value::Null);
            v["token_type"] = tt.text().into();
            TokenSet::from_json(&v.to_string()).unwrap_or(t)
        }
        None => t,
    }
}

fuzz_target!(|input: Input| {
    let mut m = Model {
        now: START,
        counter: 0,
        in_flight: None,
        delivering: None,
        last_id: 0,
        rejected: Vec::new(),
        previous_access: None,
        last_send_at: None,
        excused: false,
    };
    let client = |p: u8| Client::new(provider(p), "cid").with_secret("csecret");
    let mut s = match &input.setup {
        Setup::ClientCredentials { provider } => {
            TokenSession::client_credentials(client(*provider), vec![])
        }
        Setup::Password { provider } => TokenSession::new(
            client(*provider),
            grantline::SessionGrant::Password {
                username: "alice".into(),
                password: grantline::Password::new("wonderland"),
                scopes: vec![],
            },
        ),
        Setup::FromTokens { provider, tokens } => {
            let t = initial_tokens(&mut m, tokens);
            TokenSession::from_tokens(client(*provider), t)
        }
        Setup::ClientCredentialsWithTokens { provider, tokens } => {
            let t = initial_tokens(&mut m, tokens);
            TokenSession::client_credentials(client(*provider), vec![]).with_tokens(t)
        }
    };
    if let Some(skew) = input.skew {
        s = s.with_skew(u64::from(skew));
    }

    for op in input.ops.iter().take(64) {
        match op {
            Op::Next { dt } => {
                m.advance(*dt);
                let r = s.next(m.now);
                m.check_next(&s, "next", &r);
            }
            Op::Waited { id, dt } => {
                m.advance(*dt);
                let id = m.id(*id);
                let r = s.waited(id, m.now);
                m.check_next(&s, "waited", &r);
            }
            Op::Receive { id, dt, response } => {
                m.advance(*dt);
                let id = m.id(*id);
                let resp = http_response(&mut m, &s, response);
                let carried = carried_refresh_token(resp.status().as_u16(), resp.body());
                let had_tokens = s.tokens().is_some();
                let before = s.tokens().map(|t| t.access_token().secret().to_owned());
                match s.receive(id, &resp, m.now) {
                    Ok(done) => {
                        assert_eq!(
                            m.in_flight,
                            Some(id),
                            "receive accepted {id}, not in flight"
                        );
                        m.in_flight = None;
                        if let Some(renewed) = &done.renewed {
                            m.delivering = Some(id);
                            if let (Some(rt), true) = (&carried, had_tokens) {
                                assert_eq!(
                                    renewed.tokens.refresh_token().map(|r| r.secret()),
                                    Some(rt.as_str()),
                                    "the token set to persist lost the new refresh token"
                                );
                            }
                        }
                        if let Some(e) = &done.error {
                            check_error_text(e);
                            if e.oauth_code() == Some("invalid_grant") {
                                m.excused = true;
                            }
                        }
                        if let (Some(rt), true) = (&carried, had_tokens) {
                            assert_eq!(
                                s.tokens()
                                    .and_then(|t| t.refresh_token())
                                    .map(|r| r.secret()),
                                Some(rt.as_str()),
                                "the session lost the new refresh token (error: {:?})",
                                done.error.as_ref().map(ToString::to_string)
                            );
                        }
                        let after = s.tokens().map(|t| t.access_token().secret().to_owned());
                        if after != before {
                            m.previous_access = before;
                        }
                    }
                    Err(e) => {
                        assert_ne!(
                            m.in_flight,
                            Some(id),
                            "receive refused the renewal in flight: {e}"
                        );
                        assert_eq!(e.kind(), "unexpected_response");
                    }
                }
            }
            Op::Fail { id, dt, reason } => {
                m.advance(*dt);
                let id = m.id(*id);
                match s.fail(id, reason, m.now) {
                    Ok(done) => {
                        assert_eq!(m.in_flight, Some(id), "fail accepted {id}, not in flight");
                        m.in_flight = None;
                        assert!(done.renewed.is_none(), "a transport failure renewed tokens");
                        if let Some(e) = &done.error {
                            check_error_text(e);
                        }
                    }
                    Err(e) => {
                        assert_ne!(
                            m.in_flight,
                            Some(id),
                            "fail refused the renewal in flight: {e}"
                        );
                    }
                }
            }
            Op::Reject { token } => {
                let current = s.tokens().map(|t| t.access_token().secret().to_owned());
                let t = match token {
                    TokenChoice::Current => current.clone().unwrap_or_default(),
                    TokenChoice::Previous => m.previous_access.clone().unwrap_or_default(),
                    TokenChoice::Other => "not-a-token".to_owned(),
                };
                let hit = s.reject(&t);
                assert_eq!(hit, current.as_deref() == Some(t.as_str()), "reject({t})");
                if hit {
                    m.rejected.push(t);
                    m.excused = true;
                }
            }
            Op::Delivered { id } => {
                let id = m.id(*id);
                let was = s.delivered(id);
                assert_eq!(was, m.delivering == Some(id), "delivered({id})");
                if was {
                    m.delivering = None;
                }
            }
            Op::ReadyUntil => {
                if let Some(until) = s.ready_until() {
                    if m.now < until {
                        let mut probe = s.clone();
                        let r = probe.next(m.now);
                        assert!(
                            matches!(r, Ok(Next::Ready(_))),
                            "ready_until {until} but next({}) is {:?}",
                            m.now,
                            r.map_err(|e| e.to_string())
                        );
                    }
                }
            }
        }
    }
});
