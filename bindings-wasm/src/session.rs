//! Token sessions: the core's token lifecycle state machine (`grantline::TokenSession`), driven
//! over `fetch` by `TokenSession`, and exposed step by step, sans-IO, as `SessionState`.
//!
//! How `TokenSession` drives the core (every decision is the core's; nothing here retries):
//! - `next()` says `Ready`: the caller gets the token at once (no async machinery).
//! - `Send` with `current` (a renewal ahead of expiry): the renewal starts in the background and
//!   the caller gets `current` at once.
//! - `Send` without `current`, or `Wait`: the caller awaits the one renewal Promise in flight,
//!   then asks the core `waited(id)`, which gives the token, the failure, or what to do next.
//! - A renewal sends its request, hands the answer to `receive` (or the transport failure to
//!   `fail`), awaits `onTokens` with the token set to persist, then calls `delivered` (even when
//!   `onTokens` threw): no second renewal starts before that, so token sets reach `onTokens` in
//!   renewal order. Only then does its Promise settle (it never rejects) and the waiters wake.
//! - A caller that gives up (its `timeout`, its `signal`) stops waiting; the renewal is never
//!   cut short, even when that caller was the only one (so the core's `abandon` is not used
//!   here): it ends at its answer or at the client's deadline, its token set is delivered, and
//!   the next caller gets it. Aborting a request the server may already have answered could
//!   lose a rotated refresh token, and callers with deadlines shorter than a slow token
//!   endpoint would each start a renewal that never finishes.
//! - With a `store` and a `fleet` config, the same driver drives the core's shared session
//!   (`grantline::fleet::FleetSession`, see `fleet.rs`): a renewal then also runs the store
//!   operations the core asks for, each within `storeTimeout` (a hung store is a store
//!   failure, never a hang). A cached token still costs nothing: no store round trip.

use crate::client::Client;
use crate::convert::{
    absent, get, headers_of, invalid, known_keys, now_or, opt_seconds, opt_string, or_null,
    response_from_js, set, strings, transport, Failure,
};
use crate::fetch::{fetch_failed, Call, Fetch};
use crate::fleet::Machine;
use crate::tokens::TokenSet;
use crate::types::{
    js, CallOptionsArg, FetchInit, Scopes, SessionGrantArg, SessionOptionsArg,
    SessionStateOptionsArg,
};
use grantline::fleet::{Action, FleetNext, StoreOp, StoreReply};
use grantline::session::Completion;
use grantline::{Error, Next, Password, Renewed, SessionGrant};
use js_sys::{Function, Object, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen]
extern "C" {
    /// The runtime's `Headers`.
    type Headers;
    #[wasm_bindgen(constructor, catch)]
    fn new(init: &JsValue) -> Result<Headers, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &Headers, name: &str, value: &str) -> Result<(), JsValue>;
}

#[wasm_bindgen(module = "/js/support.js")]
extern "C" {
    /// Gives a `next` answer its redacted printing.
    #[wasm_bindgen(js_name = makeNext)]
    fn make_next(o: Object) -> JsValue;
    /// Cancels a fetch `Response`'s body that will not be read (a refused answer before the
    /// retry), so that its connection is freed.
    fn discard(response: &JsValue);
}

struct State {
    core: Machine,
    /// The shared store (a `FleetStore`), with a fleet config; `None` alone.
    store: Option<JsValue>,
    /// The deadline of one store call, in milliseconds.
    store_timeout_ms: f64,
    /// The fleet's name, for `session.fleet`.
    fleet_name: Option<String>,
    fetch: Fetch,
    /// The renewal in flight or delivering its token set: its id and its Promise (which never
    /// rejects). Every caller without a usable token awaits this one Promise. Set when the core
    /// says `Send`, cleared once the renewal was delivered.
    inflight: Option<(u64, Promise)>,
    on_tokens: Option<Function>,
    on_error: Option<Function>,
    /// The renewal whose starting caller stopped waiting for it (its deadline passed, or its
    /// signal aborted): what its `onTokens` throws goes to `onError`, as a background
    /// renewal's does, since nobody else would learn it.
    orphaned: Option<u64>,
}

/// Keeps one token fresh for any number of callers: `getAccessToken()` renews before expiry
/// (the provider's skew, at most half the lifetime), and concurrent calls share one renewal.
/// While a renewal ahead of expiry runs, callers keep getting the still-valid token; a renewal
/// that fails while the token is valid reaches no caller (the next try waits a backoff); only
/// callers with no usable token wait, and get the failure when there is no token left. Every
/// new token set goes to `onTokens`, in renewal order (persist it: the refresh token may have
/// rotated). `session.fetch()` attaches the token and, on a 401 `invalid_token`, renews once
/// and retries once. With a `store` and a `fleet` config, the token is shared by every process
/// of the fleet: one token request per renewal for all of them (see `FleetConfig`).
#[wasm_bindgen]
pub struct TokenSession {
    state: Rc<RefCell<State>>,
}

/// The `tokens` and `skew` options, applied to a new core session.
pub(crate) fn configure(
    mut core: grantline::TokenSession,
    options: &JsValue,
    initial: Option<grantline::TokenSet>,
) -> Result<grantline::TokenSession, Error> {
    if let Some(skew) = opt_seconds(&get(options, "skew"), "skew")? {
        core = core.with_skew(skew);
    }
    let tokens = get(options, "tokens");
    match (initial, absent(&tokens)) {
        (Some(_), false) => {
            return Err(invalid(
                "fromTokens takes its tokens as an argument, not as options.tokens",
            ))
        }
        (Some(t), true) => core = core.with_tokens(t),
        (None, false) => {
            let json = tokens_json(&tokens)?;
            core = core.with_tokens(grantline::TokenSet::from_json(&json)?);
        }
        (None, true) => {}
    }
    Ok(core)
}

/// An optional callback option.
fn callback(options: &JsValue, name: &str) -> Result<Option<Function>, Error> {
    match get(options, name) {
        f if absent(&f) => Ok(None),
        f => f
            .dyn_into::<Function>()
            .map(Some)
            .map_err(|_| invalid(format!("{name} must be a function"))),
    }
}

fn session(
    client: &Client,
    grant: SessionGrant,
    options: &JsValue,
    initial: Option<grantline::TokenSet>,
) -> Result<TokenSession, Error> {
    known_keys(
        options,
        "session",
        &[
            "onTokens",
            "onError",
            "skew",
            "tokens",
            "store",
            "fleet",
            "storeTimeout",
        ],
    )?;
    let core = grantline::TokenSession::new(client.inner.clone(), grant);
    let core = configure(core, options, initial)?;
    let (store, fleet) = (get(options, "store"), get(options, "fleet"));
    let timeout = get(options, "storeTimeout");
    let store_timeout_ms = match timeout.as_f64() {
        _ if absent(&timeout) => DEFAULT_STORE_TIMEOUT_MS,
        Some(ms) if ms > 0.0 => ms,
        _ => {
            return Err(invalid(
                "storeTimeout must be a positive number of milliseconds",
            ))
        }
    };
    let (core, store, fleet_name) = match (absent(&store), absent(&fleet)) {
        (true, true) => (Machine::Local(Box::new(core)), None, None),
        (false, false) => {
            for op in ["read", "acquire", "commit", "release", "watch"] {
                if !get(&store, op).is_function() {
                    return Err(invalid(format!(
                        "store must have read, acquire, commit, release and watch methods (a FleetStore); {op} is missing"
                    )));
                }
            }
            let config = crate::fleet::fleet_config_arg(&fleet)?;
            let name = crate::fleet::name_of(&config);
            let shared = grantline::fleet::FleetSession::new(core, config);
            (Machine::Fleet(Box::new(shared)), Some(store), Some(name))
        }
        _ => {
            return Err(invalid(
                "a shared session needs both store (a FleetStore) and fleet (a FleetConfig)",
            ))
        }
    };
    Ok(TokenSession {
        state: Rc::new(RefCell::new(State {
            core,
            store,
            store_timeout_ms,
            fleet_name,
            fetch: client.fetch.clone(),
            inflight: None,
            on_tokens: callback(options, "onTokens")?,
            on_error: callback(options, "onError")?,
            orphaned: None,
        })),
    })
}

/// Restored tokens: a `TokenSet` (through its `serialize()`) or its serialized string.
pub(crate) fn tokens_json(v: &JsValue) -> Result<String, Error> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    let bad = || invalid("tokens must be a TokenSet or its serialize() string");
    let serialize: Function = get(v, "serialize").dyn_into().map_err(|_| bad())?;
    serialize
        .call0(v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(bad)
}

/// The current Unix time in milliseconds (the fleet machine's clock; the local session gets
/// the seconds of it).
fn now() -> u64 {
    // `Date.now()` cannot fail.
    crate::fleet::now_ms_or(None).unwrap_or_default()
}

/// The deadline of one store call unless `storeTimeout` says otherwise.
const DEFAULT_STORE_TIMEOUT_MS: f64 = 2_000.0;

#[wasm_bindgen]
impl TokenSession {
    /// A session that obtains and renews its token with the client credentials grant.
    /// `options`: `onTokens(tokens, { refreshTokenRotated, source, version })`,
    /// `onError(error)`, `skew` (seconds), `tokens` (a `TokenSet` or its `serialize()` string
    /// to start from); `store` (a `FleetStore`, e.g. `grantline/redis`) with `fleet` (a
    /// `FleetConfig` or its options) to share the token with a fleet of processes, and
    /// `storeTimeout` (milliseconds per store call, default 2000).
    #[wasm_bindgen(js_name = clientCredentials)]
    pub fn client_credentials(
        client: &Client,
        scopes: Option<Scopes>,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        let scopes = js(scopes);
        let scopes = strings(&scopes, "scopes")?;
        Ok(session(
            client,
            SessionGrant::ClientCredentials { scopes },
            &options,
            None,
        )?)
    }

    /// A session that obtains its token with the password grant, and renews it by refreshing
    /// (or by the password grant again when there is no refresh token).
    pub fn password(
        client: &Client,
        username: String,
        password: String,
        scopes: Option<Scopes>,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        let scopes = js(scopes);
        let grant = SessionGrant::Password {
            username,
            password: Password::new(password),
            scopes: strings(&scopes, "scopes")?,
        };
        Ok(session(client, grant, &options, None)?)
    }

    /// A session over tokens obtained before (authorization code, device flow), renewed by
    /// refreshing. When the refresh token is gone, `getAccessToken()` throws
    /// `ReauthorizationRequiredError`.
    #[wasm_bindgen(js_name = fromTokens)]
    pub fn from_tokens(
        client: &Client,
        tokens: &TokenSet,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        Ok(session(
            client,
            SessionGrant::RefreshOnly,
            &options,
            Some(tokens.inner.clone()),
        )?)
    }

    /// A usable access token: the current one, or a renewed one. Concurrent calls share one
    /// renewal (one token request); during a renewal ahead of expiry the current token is
    /// returned at once. `options`: `timeout` (milliseconds this caller waits for a renewal;
    /// default the client's) and `signal`: giving up rejects this call with a `TransportError`.
    /// The renewal itself is never cut short by a caller that gives up, even the only one: it
    /// runs to its answer or to the client's deadline, its token set reaches `onTokens` (a
    /// rotated refresh token is never lost) and the next caller gets the token. A signal that
    /// has already aborted rejects at once, and starts nothing.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self, options: Option<CallOptionsArg>) -> Promise {
        let options = js(options);
        let wait = match self.wait_bound(&options, "getAccessToken") {
            Ok(w) => w,
            Err(e) => return Promise::reject(&Failure(e).into()),
        };
        if let Some(e) = wait.as_ref().and_then(|w| w.aborted("getAccessToken")) {
            return Promise::reject(&Failure(e).into());
        }
        let first = self.state.borrow_mut().core.next(now());
        match first {
            // The common case, a cached token: no async machinery (and no store round trip).
            Ok(FleetNext::Ready(token)) => Promise::resolve(&JsValue::from_str(token.secret())),
            // A renewal ahead of expiry: it runs in the background, the caller goes on.
            Ok(FleetNext::Perform {
                id,
                action,
                current: Some(current),
            }) => {
                // It never rejects, and it is kept as the renewal in flight.
                let _renewal = start(&self.state, id, action, true);
                Promise::resolve(&JsValue::from_str(current.secret()))
            }
            Err(e) => Promise::reject(&Failure(e).into()),
            Ok(next) => {
                let state = self.state.clone();
                future_to_promise(async move {
                    drive(&state, next, wait.as_ref()).await.map(JsValue::from)
                })
            }
        }
    }

    /// `fetch(input, init)` with `Authorization: Bearer <token>`. On a 401 whose
    /// `WWW-Authenticate` says `invalid_token` (or gives no error), the token is rejected,
    /// renewed once and the request retried once. A `Request` input is cloned for the retry;
    /// a streamed `init.body` cannot be sent twice. The answer's body is yours to read, streamed:
    /// never cut, never buffered. `init.signal` (or a `Request`'s own signal) aborts the whole
    /// call, the wait for a token included, and after it the body read, as with `fetch`.
    /// `options`: `timeout` (milliseconds until the answer's head, the token included; default
    /// the client's) and `signal`. Giving up never cuts a token renewal short (see
    /// `getAccessToken`).
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestInfo | URL")] input: JsValue,
        init: Option<FetchInit>,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let init = js(init);
        let options = js(options);
        let state = self.state.clone();
        future_to_promise(async move {
            let fetch = state.borrow().fetch.clone();
            let call = fetch.call(&options, "fetch", &[]).map_err(Failure)?;
            let end = call.ends_at();
            // The request's own signal also ends the wait for a token.
            let own = match get(&init, "signal") {
                s if absent(&s) => get(&input, "signal"),
                s => s,
            };
            let wait = call.until(end).also_ended_by(own);
            let token = access_token(&state, &wait).await?;
            let first = match get(&input, "clone").dyn_into::<Function>() {
                Ok(clone) if !input.is_string() => clone.call0(&input)?,
                _ => input.clone(),
            };
            let response = authorized(&fetch, &first, &init, &token, &call.until(end)).await?;
            let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
            let headers = headers_of(&get(&response, "headers")).map_err(Failure)?;
            if !grantline::bearer::needs_renewal(status, &headers) {
                return Ok(response);
            }
            discard(&response);
            state.borrow_mut().core.reject(&token);
            let token = access_token(&state, &wait.until(end)).await?;
            authorized(&fetch, &input, &init, &token, &call.until(end)).await
        })
    }

    /// Resolves (never rejects) once no renewal is in flight: the running one, if any, has
    /// ended, its token set went to `onTokens` and, in a shared session, to the store. Await it
    /// before a process exits: a renewal cut short after the server answered can lose a rotated
    /// refresh token.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn settled(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            loop {
                let running = state.borrow().inflight.as_ref().map(|(_, p)| p.clone());
                match running {
                    // A renewal's Promise never rejects; the next one may have started since.
                    Some(renewal) => {
                        let _ = JsFuture::from(renewal).await;
                    }
                    None => return Ok(JsValue::UNDEFINED),
                }
            }
        })
    }

    /// Marks `token` as refused by the API (a 401 `invalid_token`): the next
    /// `getAccessToken()` renews, once, however many callers reject the same token. Returns
    /// whether it was the current token.
    pub fn reject(&self, token: &str) -> bool {
        self.state.borrow_mut().core.reject(token)
    }

    /// The current token set, when there is one.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Option<TokenSet> {
        self.state
            .borrow()
            .core
            .session()
            .tokens()
            .cloned()
            .map(TokenSet::from)
    }

    /// Whether a renewal is in flight.
    #[wasm_bindgen(getter)]
    pub fn renewing(&self) -> bool {
        self.state.borrow().core.session().renewing()
    }

    /// How many renewals in a row have failed (0 after a success): for logs and metrics.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.state.borrow().core.session().failures()
    }

    /// When the backoff after a failed renewal ends (Unix seconds): no renewal is sent before
    /// then. `undefined` when the last renewal succeeded.
    #[wasm_bindgen(getter, js_name = retryAt)]
    pub fn retry_at(&self) -> Option<f64> {
        self.state
            .borrow()
            .core
            .session()
            .retry_at()
            .map(|s| s as f64)
    }

    /// The view `JSON.stringify()` shows: `{ client, renewing, failures, retryAt, tokens }`
    /// (`client` and `tokens` as their own redacted views; absent values `null`).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "SessionView")]
    pub fn to_view(&self) -> JsValue {
        let s = self.state.borrow();
        session_view(s.core.session(), s.fetch.timeout_ms())
    }

    /// A shared session's state (with `store` and `fleet`): `{ name, owner, version, storeDown,
    /// stats }`, `stats` being the counters of the fleet machine (store round trips, token
    /// requests, adoptions...); `undefined` for a session alone.
    #[wasm_bindgen(getter, unchecked_return_type = "FleetView | undefined")]
    pub fn fleet(&self) -> JsValue {
        let s = self.state.borrow();
        s.core.fleet_view(s.fleet_name.as_deref())
    }

    /// `TokenSession { client, renewing, tokens: [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        let s = self.state.borrow();
        let core = s.core.session();
        format!(
            "TokenSession {{ client: {}, renewing: {}, tokens: {} }}",
            core.client().client_id(),
            core.renewing(),
            if core.tokens().is_some() {
                "[redacted]"
            } else {
                "none"
            }
        )
    }
}

impl TokenSession {
    /// How long a caller waits for a renewal: unbounded (the renewal's own deadline ends it)
    /// unless the call has options.
    fn wait_bound(&self, options: &JsValue, what: &str) -> Result<Option<Call>, Error> {
        if absent(options) {
            return Ok(None);
        }
        self.state.borrow().fetch.call(options, what, &[]).map(Some)
    }
}

/// A session's redacted view (see `TokenSession.toJSON`).
fn session_view(core: &grantline::TokenSession, timeout: Option<f64>) -> JsValue {
    let o = Object::new();
    set(
        &o,
        "client",
        crate::client::client_view(core.client(), timeout),
    );
    set(&o, "renewing", core.renewing());
    set(&o, "failures", core.failures());
    set(&o, "retryAt", or_null(core.retry_at().map(|s| s as f64)));
    set(
        &o,
        "tokens",
        or_null(core.tokens().map(|t| TokenSet::from(t.clone()).to_view())),
    );
    o.into()
}

/// One caller's way to a usable token, waiting at most as `wait` says.
async fn access_token(state: &Rc<RefCell<State>>, wait: &Call) -> Result<String, JsValue> {
    // An aborted call starts nothing (no renewal either).
    if let Some(e) = wait.aborted("session.fetch") {
        return Err(Failure(e).into());
    }
    let next = state.borrow_mut().core.next(now()).map_err(Failure)?;
    drive(state, next, Some(wait)).await
}

/// Carries on from what the session said (`next`) until there is a token or an error. Every
/// turn of the loop awaits a renewal (a request, or one another caller sent), then asks the
/// core: it never spins.
async fn drive(
    state: &Rc<RefCell<State>>,
    mut next: FleetNext,
    wait: Option<&Call>,
) -> Result<String, JsValue> {
    loop {
        let (id, renewal, mine) = match next {
            FleetNext::Ready(token) => return Ok(token.secret().to_owned()),
            FleetNext::Perform {
                id,
                action,
                current,
            } => {
                let renewal = start(state, id, action, current.is_some());
                if let Some(current) = current {
                    return Ok(current.secret().to_owned());
                }
                (id, renewal, true)
            }
            FleetNext::Wait { id } => {
                let renewal = match &state.borrow().inflight {
                    Some((i, p)) if *i == id => p.clone(),
                    // The core waits on a renewal this driver did not start: cannot happen
                    // (the renewal's Promise is kept until it was delivered). Never spin on it.
                    _ => return Err(Failure(Error::UnexpectedResponse { id }).into()),
                };
                (id, renewal, false)
            }
        };
        let settled = match wait {
            None => renewal,
            Some(call) => crate::convert::bounded(
                &renewal,
                call.timeout,
                &call.signal,
                &call.also,
                call.whole,
            ),
        };
        let outcome = match JsFuture::from(settled).await {
            Ok(outcome) => outcome,
            Err(e) => {
                if mine {
                    state.borrow_mut().orphaned = Some(id);
                }
                return Err(Failure(fetch_failed(&e)).into());
            }
        };
        // The renewal this caller sent, whose onTokens threw: the caller learns it (the session
        // kept the new tokens).
        if mine && !outcome.is_undefined() {
            return Err(outcome);
        }
        next = state.borrow_mut().core.waited(id, now()).map_err(Failure)?;
    }
}

/// Starts renewal `id` (a Promise that never rejects: it resolves with `undefined`, or with
/// what `onTokens` threw) at its first `action`, and keeps it as the one in flight.
fn start(state: &Rc<RefCell<State>>, id: u64, action: Action, background: bool) -> Promise {
    let renewal = future_to_promise(renew(state.clone(), id, action, background));
    state.borrow_mut().inflight = Some((id, renewal.clone()));
    renewal
}

/// Carries out renewal `id` from `action` until the core says `Done`: sends the token request
/// and hands the answer (or the transport failure) to the core; runs each store operation on
/// the store, within `storeTimeout`, and hands the reply (or the failure) to the core. Then
/// the token set goes to `onTokens` (awaited) and the delivery is confirmed. No borrow of the
/// state is held while JavaScript runs (fetch, the store, callbacks): they may call back into
/// the session.
async fn renew(
    state: Rc<RefCell<State>>,
    id: u64,
    mut action: Action,
    background: bool,
) -> Result<JsValue, JsValue> {
    let (fetch, store, store_timeout) = {
        let s = state.borrow();
        (s.fetch.clone(), s.store.clone(), s.store_timeout_ms)
    };
    // Whether this renewal's token set came from a token request (else from the store).
    let mut sent = false;
    let completion = loop {
        let step = match action {
            Action::Done(done) => break Ok(done),
            Action::Send(request) => {
                sent = true;
                let answer = fetch.send(&request, &fetch.default_call()).await;
                let mut s = state.borrow_mut();
                let now = now();
                match answer {
                    Ok(response) => s.core.receive(id, &response, now),
                    Err(e) => s.core.fail(id, &reason(e), now),
                }
            }
            Action::Store(op) => {
                let reply = match &store {
                    Some(store) => run_store(store, &op, store_timeout).await,
                    None => Err("no store".to_owned()),
                };
                let mut s = state.borrow_mut();
                let now = now();
                match reply {
                    Ok(reply) => s.core.store_done(id, reply, now),
                    Err(why) => s.core.store_failed(id, &why, now),
                }
            }
        };
        match step {
            Ok(next) => action = next,
            Err(e) => break Err(e),
        }
    };
    let (on_tokens, on_error, version) = {
        let s = state.borrow();
        (s.on_tokens.clone(), s.on_error.clone(), s.core.version())
    };
    let mut outcome = JsValue::UNDEFINED;
    match completion {
        // Only for a renewal the core is not waiting for: cannot happen here.
        Err(e) => outcome = Failure(e).into(),
        Ok(done) => {
            if let (Some(error), Some(f)) = (&done.error, &on_error) {
                crate::convert::call_quietly(f, &Failure(error.clone()).into());
            }
            if let Some(renewed) = done.renewed {
                if let Some(f) = &on_tokens {
                    let source = version.map(|v| (if sent { "http" } else { "store" }, v));
                    if let Err(thrown) = deliver(f, renewed, source).await {
                        outcome = thrown;
                    }
                }
                // Even when onTokens threw: else no renewal could ever start again.
                state.borrow_mut().core.delivered(id);
            }
        }
    }
    let orphaned = {
        let mut s = state.borrow_mut();
        if matches!(&s.inflight, Some((i, _)) if *i == id) {
            s.inflight = None;
        }
        s.orphaned.take_if(|o| *o == id).is_some()
    };
    // A background renewal, or one whose caller gave up, has no caller to tell: onError hears it.
    if (background || orphaned) && !outcome.is_undefined() {
        if let Some(f) = &on_error {
            crate::convert::call_quietly(f, &outcome);
        }
    }
    Ok(outcome)
}

/// Runs store operation `op` on `store` within `timeout` ms (a watch: its own timeout more):
/// the reply, or why it failed (never a secret: the store's error message).
async fn run_store(store: &JsValue, op: &StoreOp, timeout: f64) -> Result<StoreReply, String> {
    let name = op.name();
    let deadline = match op {
        StoreOp::Watch { timeout_ms, .. } => timeout + *timeout_ms as f64,
        _ => timeout,
    };
    let call = crate::fleet::store_call(store, &crate::fleet::store_op_to_js(op).into(), deadline);
    match JsFuture::from(call).await {
        Ok(answer) => crate::fleet::store_answer(name, &answer),
        Err(thrown) => {
            let message = crate::convert::message_of(&thrown);
            Err(if message.is_empty() {
                format!("the store's {name} failed")
            } else {
                format!("the store's {name} failed: {message}")
            })
        }
    }
}

/// Hands a token set to `onTokens` and awaits what it returns. `source` (a shared session):
/// where the set came from (`http`: this process's token request; `store`: another
/// process's renewal) and its store version.
async fn deliver(
    f: &Function,
    renewed: Renewed,
    source: Option<(&str, u64)>,
) -> Result<(), JsValue> {
    let info = Object::new();
    set(&info, "refreshTokenRotated", renewed.refresh_token_rotated);
    if let Some((source, version)) = source {
        set(&info, "source", source);
        set(&info, "version", version as f64);
    }
    let result = f.call2(
        &JsValue::UNDEFINED,
        &TokenSet::from(renewed.tokens).into(),
        &info,
    )?;
    if result.is_object() && get(&result, "then").is_function() {
        // An async onTokens (persisting to a store) completes before the token is used.
        JsFuture::from(Promise::resolve(&result)).await?;
    }
    Ok(())
}

fn reason(e: Error) -> String {
    match e {
        Error::Transport { reason } => reason,
        other => other.to_string(),
    }
}

/// `fetch(input, init)` with the bearer header added to `init.headers` (or the `Request`'s).
async fn authorized(
    fetch: &Fetch,
    input: &JsValue,
    init: &JsValue,
    token: &str,
    call: &Call,
) -> Result<JsValue, JsValue> {
    let base = match get(init, "headers") {
        h if absent(&h) => get(input, "headers"),
        h => h,
    };
    let headers = Headers::new(&base).map_err(|e| Failure(transport("bad headers", &e)))?;
    // A bare token from the session, which serves bearer tokens only.
    let value = grantline::bearer::authorization_header(&grantline::AccessToken::new(token))
        .map_err(Failure)?;
    headers.set("authorization", value.to_str().unwrap_or_default())?;
    let init2 = Object::new();
    if !absent(init) {
        Object::assign(&init2, init.unchecked_ref());
    }
    set(&init2, "headers", headers);
    Ok(fetch
        .api(input, &init2.into(), call)
        .await
        .map_err(Failure)?)
}

// ------------------------------------------------------------------------------ sans-IO

/// The token session as a state machine, sans-IO (the shared `session` vectors drive it; build
/// your own driver on it, or use `TokenSession`). `next(now)` says what to do:
/// `{ next: 'ready', token }`, `{ next: 'send', id, request, current }` (send `request`, hand
/// its answer to `receive`, or its failure to `fail`; `current`: the still-valid token a
/// caller may use meanwhile) or `{ next: 'wait', id }` (renewal `id` is in flight: when it
/// completes, call `waited(id)`). `receive` and `fail` return `{ renewed, error }`: persist
/// `renewed.tokens` when present, then call `delivered(id)`. A renewal your driver cancelled
/// before its answer is `abandon(id)`. Times are Unix seconds (default: now).
#[wasm_bindgen]
pub struct SessionState {
    core: grantline::TokenSession,
}

/// A session grant object (`{ type, ... }`) as the core's grant.
pub(crate) fn grant_of(v: &JsValue) -> Result<SessionGrant, Error> {
    let kind = opt_string(&get(v, "type"), "grant.type")?.unwrap_or_default();
    match kind.as_str() {
        "client_credentials" => {
            known_keys(v, "grant", &["type", "scopes"])?;
            Ok(SessionGrant::ClientCredentials {
                scopes: strings(&get(v, "scopes"), "grant.scopes")?,
            })
        }
        "password" => {
            known_keys(v, "grant", &["type", "username", "password", "scopes"])?;
            let text = |key: &str| {
                opt_string(&get(v, key), key)?
                    .ok_or_else(|| invalid(format!("a password grant needs a {key}")))
            };
            Ok(SessionGrant::Password {
                username: text("username")?,
                password: Password::new(text("password")?),
                scopes: strings(&get(v, "scopes"), "grant.scopes")?,
            })
        }
        "refresh_only" => {
            known_keys(v, "grant", &["type"])?;
            Ok(SessionGrant::RefreshOnly)
        }
        _ => Err(invalid(
            "grant.type must be client_credentials, password or refresh_only",
        )),
    }
}

/// A renewal id from JavaScript.
fn id_of(id: f64) -> Result<u64, Error> {
    crate::convert::seconds(id, "id")
        .map_err(|_| invalid("id must be a renewal id (a whole number)"))
}

fn next_to_js(next: Next) -> JsValue {
    let o = Object::new();
    match next {
        Next::Ready(token) => {
            set(&o, "next", "ready");
            set(&o, "token", token.secret());
        }
        Next::Send {
            id,
            request,
            current,
        } => {
            set(&o, "next", "send");
            set(&o, "id", id as f64);
            set(&o, "request", crate::convert::request_to_js(&request));
            set(
                &o,
                "current",
                current.as_ref().map(|t| t.secret().to_owned()),
            );
        }
        Next::Wait { id } => {
            set(&o, "next", "wait");
            set(&o, "id", id as f64);
        }
    }
    make_next(o)
}

pub(crate) fn completion_to_js(done: Completion) -> JsValue {
    let o = Object::new();
    let renewed = done.renewed.map(|r| {
        let renewed = Object::new();
        set(&renewed, "tokens", TokenSet::from(r.tokens));
        set(&renewed, "refreshTokenRotated", r.refresh_token_rotated);
        JsValue::from(renewed)
    });
    set(&o, "renewed", renewed.unwrap_or(JsValue::UNDEFINED));
    set(
        &o,
        "error",
        done.error
            .map_or(JsValue::UNDEFINED, |e| JsValue::from(Failure(e))),
    );
    o.into()
}

fn at(now: Option<f64>) -> Result<u64, Error> {
    now_or(now)
}

#[wasm_bindgen]
impl SessionState {
    /// A session of `client` renewing with `grant`: `{ type: 'client_credentials', scopes? }`,
    /// `{ type: 'password', username, password, scopes? }` or `{ type: 'refresh_only' }`.
    /// `options`: `tokens` (a `TokenSet` or its `serialize()` string), `skew` (seconds).
    #[wasm_bindgen(constructor)]
    pub fn new(
        client: &Client,
        grant: SessionGrantArg,
        options: Option<SessionStateOptionsArg>,
    ) -> Result<SessionState, Failure> {
        let options = js(options);
        known_keys(&options, "SessionState", &["tokens", "skew"])?;
        let core = grantline::TokenSession::new(client.inner.clone(), grant_of(&grant)?);
        Ok(SessionState {
            core: configure(core, &options, None)?,
        })
    }

    /// What to do at `now`: use a token, send a renewal, or wait for one.
    #[wasm_bindgen(unchecked_return_type = "Next")]
    pub fn next(&mut self, now: Option<f64>) -> Result<JsValue, Failure> {
        Ok(next_to_js(self.core.next(at(now)?)?))
    }

    /// For a caller that waited on renewal `id` (or sent it) and saw it complete: the usable
    /// token, else the renewal's failure (thrown), else what `next()` says now.
    #[wasm_bindgen(unchecked_return_type = "Next")]
    pub fn waited(&mut self, id: f64, now: Option<f64>) -> Result<JsValue, Failure> {
        Ok(next_to_js(self.core.waited(id_of(id)?, at(now)?)?))
    }

    /// The answer to renewal `id` (`{ status, headers, body }`), received at `now`. Throws only
    /// for a renewal that is not in flight (kind `unexpected_response`); the renewal's own
    /// failure is the completion's `error`.
    #[wasm_bindgen(unchecked_return_type = "Completion")]
    pub fn receive(
        &mut self,
        id: f64,
        #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, Failure> {
        let response = response_from_js(&response)?;
        Ok(completion_to_js(self.core.receive(
            id_of(id)?,
            &response,
            at(now)?,
        )?))
    }

    /// Renewal `id` could not be sent or answered (`reason`: what the transport said).
    #[wasm_bindgen(unchecked_return_type = "Completion")]
    pub fn fail(&mut self, id: f64, reason: &str, now: Option<f64>) -> Result<JsValue, Failure> {
        Ok(completion_to_js(self.core.fail(
            id_of(id)?,
            reason,
            at(now)?,
        )?))
    }

    /// The token set of renewal `id` reached storage (call it even when storing failed):
    /// another renewal may start. Returns whether `id` was waiting for it.
    pub fn delivered(&mut self, id: f64) -> bool {
        id_of(id).is_ok_and(|id| self.core.delivered(id))
    }

    /// Renewal `id` ended without an answer because the caller performing it gave up on the
    /// client side (an aborted signal, a cancelled task): it is forgotten, with no failure
    /// counted and no backoff; callers that waited on it get, from `waited(id)`, the usable
    /// token or a new `send` (the next caller renews). Its answer, should it still come, is
    /// refused by `receive`. Returns whether `id` was in flight. A request that may have
    /// reached the server and whose answer was lost (a deadline, a reset) is a `fail()`
    /// instead: backing off protects a struggling server. Either way a refresh token rotated
    /// in a lost answer is gone (`TokenSession` never abandons a renewal for that reason).
    pub fn abandon(&mut self, id: f64) -> bool {
        id_of(id).is_ok_and(|id| self.core.abandon(id))
    }

    /// The API refused `token` (401 `invalid_token`): renew on the next `next()`. Returns
    /// whether it was the current token.
    pub fn reject(&mut self, token: &str) -> bool {
        self.core.reject(token)
    }

    /// Until when (Unix seconds, exclusive) `next()` keeps answering `ready` with the current
    /// token if nothing else happens to the session (`1.8446744073709552e19` when the expiry is
    /// unknown); `undefined` when `next()` would not answer `ready`.
    #[wasm_bindgen(js_name = readyUntil)]
    pub fn ready_until(&self) -> Option<f64> {
        self.core.ready_until().map(|t| t as f64)
    }

    /// The current token set, when there is one.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Option<TokenSet> {
        self.core.tokens().cloned().map(TokenSet::from)
    }

    /// Whether a renewal is in flight.
    #[wasm_bindgen(getter)]
    pub fn renewing(&self) -> bool {
        self.core.renewing()
    }

    /// How many renewals in a row have failed.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.core.failures()
    }

    /// When the backoff after a failed renewal ends (Unix seconds), when one runs.
    #[wasm_bindgen(getter, js_name = retryAt)]
    pub fn retry_at(&self) -> Option<f64> {
        self.core.retry_at().map(|s| s as f64)
    }

    /// The renewal margin, in seconds.
    #[wasm_bindgen(getter)]
    pub fn skew(&self) -> f64 {
        self.core.skew() as f64
    }

    /// The view `JSON.stringify()` shows: `{ client, renewing, failures, retryAt, tokens }`, as
    /// `TokenSession`'s (`client.timeout` is `null`: a `SessionState` sends nothing).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "SessionView")]
    pub fn to_view(&self) -> JsValue {
        session_view(&self.core, None)
    }

    /// `SessionState { client, renewing, tokens: [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!(
            "SessionState {{ client: {}, renewing: {}, tokens: {} }}",
            self.core.client().client_id(),
            self.core.renewing(),
            if self.core.tokens().is_some() {
                "[redacted]"
            } else {
                "none"
            }
        )
    }
}
