//! One token for a whole fleet (issue 12): the core's shared-session machine
//! (`grantline::fleet::FleetSession`) exposed step by step, sans-IO, as `FleetState`; its
//! configuration (`FleetConfig`: the session's name, the keys that encrypt the shared entry, the
//! lease); the entry itself (`StoreEntry`); and the Redis scripts of the core
//! (`fleetRedisScripts()`, for the adapter in `grantline/redis`).
//!
//! `TokenSession` drives the same machine over `fetch` and a store (its `store` and `fleet`
//! options, see `session.rs`): [`Machine`] is what it drives, with or without a store.
//!
//! Times are Unix **milliseconds** here (the core's fleet clock), where `SessionState` takes
//! seconds.

use crate::client::Client;
use crate::convert::{
    absent, get, invalid, known_keys, opt_bool, opt_string, or_null, response_from_js, set, Failure,
};
use crate::session::{completion_to_js, configure, grant_of};
use crate::tokens::TokenSet;
use crate::types::{js, SessionGrantArg, SessionStateOptionsArg};
use grantline::fleet::{Action, FleetNext, FleetSession, StoreOp, StoreReply};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::{Error, Next};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

#[wasm_bindgen(module = "/js/fleet.js")]
extern "C" {
    /// Gives a fleet action its redacted printing.
    #[wasm_bindgen(js_name = makeAction)]
    fn make_action(o: Object) -> JsValue;
    /// `store[action.op](action, { signal })` within `timeout` ms: the store's answer, or a
    /// rejection with an `Error` saying what failed.
    #[wasm_bindgen(js_name = storeCall)]
    pub(crate) fn store_call(store: &JsValue, action: &JsValue, timeout: f64) -> js_sys::Promise;
}

#[wasm_bindgen(module = "/js/support.js")]
extern "C" {
    /// Gives a `next` answer its redacted printing.
    #[wasm_bindgen(js_name = makeNext)]
    fn make_next(o: Object) -> JsValue;
}

/// The current Unix time in milliseconds (`Date.now()`), or the `now` a caller passed.
pub(crate) fn now_ms_or(now: Option<f64>) -> Result<u64, Error> {
    match now {
        Some(n) => millis(n, "nowMs"),
        // Date.now() is milliseconds since the epoch, always positive here.
        None => Ok(js_sys::Date::now() as u64),
    }
}

/// A whole, non-negative number of milliseconds.
fn millis(v: f64, what: &str) -> Result<u64, Error> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a whole, non-negative number of milliseconds"
        )))
    }
}

// ------------------------------------------------------------------------------ protection

/// The protection of the entry: `{ keys: [{ kid, key }] }` (the first key seals; all open) or
/// `{ plaintext: true }` (the explicit opt-in), read from `options`, which may hold other
/// members (a `FleetConfig`'s options).
fn protection_of(options: &JsValue) -> Result<Protection, Error> {
    let keys = get(options, "keys");
    let plaintext = opt_bool(&get(options, "plaintext"), "plaintext")?.unwrap_or(false);
    match (absent(&keys), plaintext) {
        (false, false) => {
            if !Array::is_array(&keys) {
                return Err(invalid("keys must be a list of { kid, key }"));
            }
            let mut built = Vec::new();
            for k in Array::from(&keys).iter() {
                known_keys(&k, "key", &["kid", "key"])?;
                let kid = opt_string(&get(&k, "kid"), "key.kid")?
                    .ok_or_else(|| invalid("every key needs a kid (a string)"))?;
                built.push(EntryKey::new(kid, &key_bytes(&get(&k, "key"))?)?);
            }
            let mut all = built.into_iter();
            let current = all
                .next()
                .ok_or_else(|| invalid("keys must hold at least one key"))?;
            Ok(all.fold(Protection::encrypted(current), Protection::with_previous))
        }
        (true, true) => Ok(Protection::plaintext()),
        (false, true) => Err(invalid(
            "give either keys or plaintext: true, not both (plaintext stores refresh tokens in clear)",
        )),
        (true, false) => Err(invalid(
            "the shared entry needs keys: [{ kid, key }] (32 random bytes each), or the explicit plaintext: true",
        )),
    }
}

/// An entry key's 32 bytes: a `Uint8Array` (or `ArrayBuffer`), never a string (a hex or base64
/// text of the right length would otherwise pass as 32 characters of key). Zeroized when
/// dropped.
fn key_bytes(v: &JsValue) -> Result<Zeroizing<Vec<u8>>, Error> {
    if v.is_string() || absent(v) {
        return Err(Error::InvalidKey {
            reason: "an entry key is a Uint8Array of 32 bytes (decode a hex or base64 text first)"
                .into(),
        });
    }
    let bytes = Zeroizing::new(crate::convert::bytes(v, "key.key")?);
    Ok(bytes)
}

/// The kids of a protection (`None`: plaintext).
fn kids(p: &Protection) -> Option<Vec<String>> {
    match p {
        Protection::Encrypted { current, previous } => Some(
            std::iter::once(current)
                .chain(previous)
                .map(|k| k.kid().to_owned())
                .collect(),
        ),
        Protection::Plaintext => None,
    }
}

/// A protection argument: a `FleetConfig`, or `{ keys }` / `{ plaintext: true }`.
fn protection_arg(v: &JsValue) -> Result<Protection, Error> {
    if let Some(config) = crate::convert::instance::<FleetConfig>(v) {
        return Ok(config.inner.protection().clone());
    }
    known_keys(v, "protection", &["keys", "plaintext"])?;
    protection_of(v)
}

// ------------------------------------------------------------------------------ FleetConfig

/// How a session is shared by a fleet: its `name` (every process of the fleet uses the same
/// name and keys), the keys that encrypt the shared entry at rest (AES-256-GCM; the first one
/// seals, all open: rotate by putting the new key first), this process's lease owner id, the
/// lease TTL. A secret holder: it prints the `kid`s only, never key material.
#[wasm_bindgen]
#[derive(Clone)]
pub struct FleetConfig {
    pub(crate) inner: grantline::fleet::FleetConfig,
    name: String,
    renew_alone: bool,
}

#[wasm_bindgen]
impl FleetConfig {
    /// `{ name, keys: [{ kid, key: Uint8Array(32) }] }` (or `plaintext: true` instead of
    /// `keys`, the explicit opt-in to refresh tokens in clear in the store), and optionally
    /// `owner` (default: 32 random hex digits), `leaseTtlMs` (default 15000, at least 1000;
    /// longer than a token request's whole deadline), `renewAloneWhenStoreDown` (default
    /// `false`: a refresh waits for the store; only for a fleet with one refreshing process or a
    /// server without refresh-token rotation).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "FleetConfigOptions")] options: JsValue,
    ) -> Result<FleetConfig, Failure> {
        Ok(config_of(&options)?)
    }

    /// The shared session's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// This process's lease owner id.
    #[wasm_bindgen(getter)]
    pub fn owner(&self) -> String {
        self.inner.owner().to_owned()
    }

    /// The lease TTL in milliseconds.
    #[wasm_bindgen(getter, js_name = leaseTtlMs)]
    pub fn lease_ttl_ms(&self) -> f64 {
        self.inner.lease_ttl_ms() as f64
    }

    /// Whether a refresh may run without the store while it is down.
    #[wasm_bindgen(getter, js_name = renewAloneWhenStoreDown)]
    pub fn renew_alone_when_store_down(&self) -> bool {
        self.renew_alone
    }

    /// The ids of the keys, the sealing one first; `undefined` in plaintext mode.
    #[wasm_bindgen(getter)]
    pub fn kids(&self) -> Option<Vec<String>> {
        kids(self.inner.protection())
    }

    /// The store keys: `{ entry, lease, channel }` (`grantline:{NAME}`, `grantline:{NAME}:lease`,
    /// `grantline:{NAME}:renewed`).
    #[wasm_bindgen(getter, js_name = storeKeys, unchecked_return_type = "StoreKeys")]
    pub fn store_keys(&self) -> JsValue {
        let k = self.inner.keys();
        let o = Object::new();
        set(&o, "entry", k.entry.as_str());
        set(&o, "lease", k.lease.as_str());
        set(&o, "channel", k.channel.as_str());
        o.into()
    }

    /// A copy, for the options objects that take a config (the original stays usable).
    #[wasm_bindgen(js_name = __copy, skip_typescript)]
    pub fn copy(&self) -> FleetConfig {
        self.clone()
    }

    /// The view `JSON.stringify()` shows: `{ name, owner, leaseTtlMs, renewAloneWhenStoreDown,
    /// protection }`, `protection` being `{ alg: 'A256GCM', kids }` or `'plaintext'`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "FleetConfigView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "name", self.name.as_str());
        set(&o, "owner", self.inner.owner());
        set(&o, "leaseTtlMs", self.inner.lease_ttl_ms() as f64);
        set(&o, "renewAloneWhenStoreDown", self.renew_alone);
        set(&o, "protection", protection_view(self.inner.protection()));
        o.into()
    }

    /// `FleetConfig { name, owner, kids }`: never key material.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        let protection = match kids(self.inner.protection()) {
            Some(k) => format!("A256GCM, kids {}", k.join(", ")),
            None => "plaintext".into(),
        };
        format!(
            "FleetConfig {{ name: {}, owner: {}, {protection} }}",
            self.name,
            self.inner.owner()
        )
    }
}

fn protection_view(p: &Protection) -> JsValue {
    match kids(p) {
        Some(k) => {
            let o = Object::new();
            set(&o, "alg", "A256GCM");
            set(
                &o,
                "kids",
                crate::convert::string_array(k.iter().map(String::as_str)),
            );
            o.into()
        }
        None => JsValue::from_str("plaintext"),
    }
}

/// A `FleetConfig` from its options object (see `FleetConfig::new`).
fn config_of(options: &JsValue) -> Result<FleetConfig, Error> {
    if !options.is_object() {
        return Err(invalid(
            "a FleetConfig needs { name, keys } (or plaintext: true)",
        ));
    }
    known_keys(
        options,
        "FleetConfig",
        &[
            "name",
            "keys",
            "plaintext",
            "owner",
            "leaseTtlMs",
            "renewAloneWhenStoreDown",
        ],
    )?;
    let name = opt_string(&get(options, "name"), "name")?
        .ok_or_else(|| invalid("a FleetConfig needs a name"))?;
    let mut inner = grantline::fleet::FleetConfig::new(&name, protection_of(options)?)?;
    if let Some(owner) = opt_string(&get(options, "owner"), "owner")? {
        inner = inner.with_owner(&owner)?;
    }
    let ttl = get(options, "leaseTtlMs");
    if !absent(&ttl) {
        let ms = ttl
            .as_f64()
            .ok_or_else(|| invalid("leaseTtlMs must be a number"))?;
        inner = inner.with_lease_ttl_ms(millis(ms, "leaseTtlMs")?);
    }
    let renew_alone = opt_bool(
        &get(options, "renewAloneWhenStoreDown"),
        "renewAloneWhenStoreDown",
    )?
    .unwrap_or(false);
    Ok(FleetConfig {
        inner: inner.renew_alone_when_store_down(renew_alone),
        name,
        renew_alone,
    })
}

/// The `fleet` option of a session: a `FleetConfig`, or its options object.
pub(crate) fn fleet_config_arg(v: &JsValue) -> Result<grantline::fleet::FleetConfig, Error> {
    match crate::convert::instance::<FleetConfig>(v) {
        Some(config) => Ok(config.inner),
        None => Ok(config_of(v)?.inner),
    }
}

/// The Lua scripts of the core's Redis mapping, `{ acquire, commit, release }` (see
/// `grantline/redis`, which runs them with `EVALSHA`). For a Redis adapter of your own.
#[wasm_bindgen(js_name = fleetRedisScripts, unchecked_return_type = "FleetRedisScripts")]
pub fn fleet_redis_scripts() -> JsValue {
    let o = Object::new();
    set(&o, "acquire", grantline::fleet::redis::ACQUIRE);
    set(&o, "commit", grantline::fleet::redis::COMMIT);
    set(&o, "release", grantline::fleet::redis::RELEASE);
    Object::freeze(&o).into()
}

// ------------------------------------------------------------------------------ StoreEntry

/// A token set as the shared store keeps it: the tokens, the store's `version` (the
/// compare-and-set counter) and when it was written (Unix seconds). `seal()` gives the
/// language-neutral text a store holds (encrypted with the config's first key), `open()` reads
/// one back. Prints without its tokens.
#[wasm_bindgen]
pub struct StoreEntry {
    inner: Entry,
}

#[wasm_bindgen]
impl StoreEntry {
    /// An entry of `version` holding `tokens` (a `TokenSet` or its `serialize()` string),
    /// written at `writtenAt` (Unix seconds).
    #[wasm_bindgen(constructor)]
    pub fn new(
        version: f64,
        #[wasm_bindgen(unchecked_param_type = "TokenSet | string")] tokens: JsValue,
        written_at: f64,
    ) -> Result<StoreEntry, Failure> {
        let version = crate::convert::seconds(version, "version")
            .map_err(|_| invalid("version must be a whole, non-negative number"))?;
        let written_at = crate::convert::seconds(written_at, "writtenAt")?;
        let json = crate::session::tokens_json(&tokens)?;
        let tokens = grantline::TokenSet::from_json(&json)?;
        Ok(StoreEntry {
            inner: Entry::new(version, tokens, written_at),
        })
    }

    /// Reads a sealed entry with `protection` (a `FleetConfig`, `{ keys }` or
    /// `{ plaintext: true }`). Throws a `ConfigurationError` (kind `invalid_input`) naming what
    /// is wrong, never a value of the entry.
    pub fn open(
        text: &str,
        #[wasm_bindgen(unchecked_param_type = "FleetConfig | EntryProtection")] protection: JsValue,
    ) -> Result<StoreEntry, Failure> {
        Ok(StoreEntry {
            inner: Entry::open(text, &protection_arg(&protection)?)?,
        })
    }

    /// The sealed text, encrypted with a fresh random nonce (in clear under
    /// `{ plaintext: true }`).
    pub fn seal(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FleetConfig | EntryProtection")] protection: JsValue,
    ) -> Result<String, Failure> {
        Ok(self.inner.seal(&protection_arg(&protection)?)?)
    }

    /// `seal()` with the 12-byte nonce given: for known-answer tests only (a nonce must never
    /// repeat under one key).
    #[wasm_bindgen(js_name = sealWithNonce)]
    pub fn seal_with_nonce(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FleetConfig | EntryProtection")] protection: JsValue,
        nonce: &[u8],
    ) -> Result<String, Failure> {
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| invalid("the nonce is 12 bytes"))?;
        Ok(self
            .inner
            .seal_with_nonce(&protection_arg(&protection)?, nonce)?)
    }

    /// The store's version of this entry.
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.inner.version() as f64
    }

    /// When the entry was written (Unix seconds).
    #[wasm_bindgen(getter, js_name = writtenAt)]
    pub fn written_at(&self) -> f64 {
        self.inner.written_at() as f64
    }

    /// The token set.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> TokenSet {
        TokenSet::from(self.inner.tokens().clone())
    }

    /// The view `JSON.stringify()` shows: `{ version, writtenAt, tokens }` (the token set's
    /// redacted view).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "StoreEntryView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "version", self.inner.version() as f64);
        set(&o, "writtenAt", self.inner.written_at() as f64);
        set(&o, "tokens", self.tokens().to_view());
        o.into()
    }

    /// `StoreEntry { version, writtenAt, tokens: [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!(
            "StoreEntry {{ version: {}, writtenAt: {}, tokens: [redacted] }}",
            self.inner.version(),
            self.inner.written_at()
        )
    }
}

// ------------------------------------------------------------------------------ the machine

/// What a `TokenSession` drives: the core's session alone, or shared over a store. Both speak
/// the fleet machine's language (`FleetNext`, `Action`): the local session's `Send` is a
/// `Perform` whose action is `Send`, and its completion an `Action::Done`.
pub(crate) enum Machine {
    Local(Box<grantline::TokenSession>),
    Fleet(Box<FleetSession>),
}

impl Machine {
    pub(crate) fn session(&self) -> &grantline::TokenSession {
        match self {
            Machine::Local(s) => s,
            Machine::Fleet(f) => f.session(),
        }
    }

    fn local(next: Next) -> FleetNext {
        match next {
            Next::Ready(token) => FleetNext::Ready(token),
            Next::Wait { id } => FleetNext::Wait { id },
            Next::Send {
                id,
                request,
                current,
            } => FleetNext::Perform {
                id,
                action: Action::Send(request),
                current,
            },
        }
    }

    pub(crate) fn next(&mut self, now_ms: u64) -> Result<FleetNext, Error> {
        match self {
            Machine::Local(s) => s.next(now_ms / 1000).map(Self::local),
            Machine::Fleet(f) => f.next(now_ms),
        }
    }

    pub(crate) fn waited(&mut self, id: u64, now_ms: u64) -> Result<FleetNext, Error> {
        match self {
            Machine::Local(s) => s.waited(id, now_ms / 1000).map(Self::local),
            Machine::Fleet(f) => f.waited(id, now_ms),
        }
    }

    pub(crate) fn receive(
        &mut self,
        id: u64,
        response: &http::Response<Vec<u8>>,
        now_ms: u64,
    ) -> Result<Action, Error> {
        match self {
            Machine::Local(s) => s.receive(id, response, now_ms / 1000).map(Action::Done),
            Machine::Fleet(f) => f.receive(id, response, now_ms),
        }
    }

    pub(crate) fn fail(&mut self, id: u64, reason: &str, now_ms: u64) -> Result<Action, Error> {
        match self {
            Machine::Local(s) => s.fail(id, reason, now_ms / 1000).map(Action::Done),
            Machine::Fleet(f) => f.fail(id, reason, now_ms),
        }
    }

    pub(crate) fn store_done(
        &mut self,
        id: u64,
        reply: StoreReply,
        now_ms: u64,
    ) -> Result<Action, Error> {
        match self {
            Machine::Local(_) => Err(Error::UnexpectedResponse { id }),
            Machine::Fleet(f) => f.store_done(id, reply, now_ms),
        }
    }

    pub(crate) fn store_failed(
        &mut self,
        id: u64,
        reason: &str,
        now_ms: u64,
    ) -> Result<Action, Error> {
        match self {
            Machine::Local(_) => Err(Error::UnexpectedResponse { id }),
            Machine::Fleet(f) => f.store_failed(id, reason, now_ms),
        }
    }

    pub(crate) fn delivered(&mut self, id: u64) -> bool {
        match self {
            Machine::Local(s) => s.delivered(id),
            Machine::Fleet(f) => f.delivered(id),
        }
    }

    pub(crate) fn reject(&mut self, token: &str) -> bool {
        match self {
            Machine::Local(s) => s.reject(token),
            Machine::Fleet(f) => f.reject(token),
        }
    }

    /// The store version of the local token set (fleet only).
    pub(crate) fn version(&self) -> Option<u64> {
        match self {
            Machine::Local(_) => None,
            Machine::Fleet(f) => Some(f.version()),
        }
    }

    /// `{ name, owner, version, storeDown, stats }` of a shared session; `undefined` alone.
    pub(crate) fn fleet_view(&self, name: Option<&str>) -> JsValue {
        match self {
            Machine::Local(_) => JsValue::UNDEFINED,
            Machine::Fleet(f) => {
                let o = Object::new();
                set(&o, "name", name);
                set(&o, "owner", f.config().owner());
                set(&o, "version", f.version() as f64);
                set(&o, "storeDown", f.store_down(js_sys::Date::now() as u64));
                set(&o, "stats", stats_to_js(&f.stats()));
                o.into()
            }
        }
    }
}

/// The name in a config's entry key `grantline:{NAME}`.
pub(crate) fn name_of(config: &grantline::fleet::FleetConfig) -> String {
    let entry = &config.keys().entry;
    entry
        .strip_prefix("grantline:{")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(entry)
        .to_owned()
}

fn stats_to_js(s: &grantline::fleet::FleetStats) -> JsValue {
    let o = Object::new();
    set(&o, "storeOps", s.store_ops as f64);
    set(&o, "storeFailures", s.store_failures as f64);
    set(&o, "httpRenewals", s.http_renewals as f64);
    set(&o, "fallbackRenewals", s.fallback_renewals as f64);
    set(&o, "adopted", s.adopted as f64);
    set(&o, "committed", s.committed as f64);
    set(&o, "conflicts", s.conflicts as f64);
    o.into()
}

// ------------------------------------------------------------------------------ conversions

/// A store operation as the plain object the stores and drivers get:
/// `{ action: 'store', op: 'read', key }`, ... (see the `StoreOp` type).
pub(crate) fn store_op_to_js(op: &StoreOp) -> Object {
    let o = Object::new();
    set(&o, "action", "store");
    set(&o, "op", op.name());
    match op {
        StoreOp::Read { key } => set(&o, "key", key.as_str()),
        StoreOp::Acquire {
            key,
            lease,
            owner,
            ttl_ms,
        } => {
            set(&o, "key", key.as_str());
            set(&o, "lease", lease.as_str());
            set(&o, "owner", owner.as_str());
            set(&o, "ttlMs", *ttl_ms as f64);
        }
        StoreOp::Commit {
            key,
            lease,
            owner,
            channel,
            expected_version,
            version,
            entry,
        } => {
            set(&o, "key", key.as_str());
            set(&o, "lease", lease.as_str());
            set(&o, "owner", owner.as_str());
            set(&o, "channel", channel.as_str());
            set(&o, "expectedVersion", *expected_version as f64);
            set(&o, "version", *version as f64);
            set(&o, "entry", entry.as_str());
        }
        StoreOp::Release { lease, owner } => {
            set(&o, "lease", lease.as_str());
            set(&o, "owner", owner.as_str());
        }
        StoreOp::Watch {
            channel,
            version,
            timeout_ms,
        } => {
            set(&o, "channel", channel.as_str());
            set(&o, "version", *version as f64);
            set(&o, "timeoutMs", *timeout_ms as f64);
        }
        // A future operation: its name only (a driver answers it with storeFailed).
        _ => {}
    }
    o
}

/// An action as a plain object: a store operation, `{ action: 'send', request }` or
/// `{ action: 'done', completion }`. Prints redacted.
fn action_to_js(action: Action) -> JsValue {
    let o = match action {
        Action::Store(op) => store_op_to_js(&op),
        Action::Send(request) => {
            let o = Object::new();
            set(&o, "action", "send");
            set(&o, "request", crate::convert::request_to_js(&request));
            o
        }
        Action::Done(completion) => {
            let o = Object::new();
            set(&o, "action", "done");
            set(&o, "completion", completion_to_js(completion));
            o
        }
    };
    make_action(o)
}

fn next_to_js(next: FleetNext) -> JsValue {
    let o = Object::new();
    match next {
        FleetNext::Ready(token) => {
            set(&o, "next", "ready");
            set(&o, "token", token.secret());
        }
        FleetNext::Wait { id } => {
            set(&o, "next", "wait");
            set(&o, "id", id as f64);
        }
        FleetNext::Perform {
            id,
            action,
            current,
        } => {
            set(&o, "next", "perform");
            set(&o, "id", id as f64);
            set(&o, "action", action_to_js(action));
            set(
                &o,
                "current",
                current.as_ref().map(|t| t.secret().to_owned()),
            );
        }
    }
    make_next(o)
}

/// An optional entry text in a reply: a string, or `null`/`undefined` for none.
fn entry_text(v: &JsValue, what: &str) -> Result<Option<String>, String> {
    if absent(v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| format!("{what} is neither a string nor null"))
}

/// A reply object of `FleetState.storeDone`: `{ entry }`, `{ acquired, leaseTtlMs, entry }`,
/// `{ committed }`, `{ released: true }` or `{ watched: true }`.
fn explicit_reply(v: &JsValue) -> Result<StoreReply, Error> {
    let has =
        |k: &str| v.is_object() && js_sys::Reflect::has(v, &JsValue::from_str(k)).unwrap_or(false);
    let bad = |e: String| invalid(format!("reply: {e}"));
    if has("acquired") {
        known_keys(v, "reply", &["acquired", "leaseTtlMs", "entry"])?;
        return acquired_reply(v).map_err(bad);
    }
    if has("entry") {
        known_keys(v, "reply", &["entry"])?;
        return Ok(StoreReply::Entry(
            entry_text(&get(v, "entry"), "entry").map_err(bad)?,
        ));
    }
    if has("committed") {
        known_keys(v, "reply", &["committed"])?;
        let c = get(v, "committed")
            .as_bool()
            .ok_or_else(|| invalid("reply: committed must be a boolean"))?;
        return Ok(StoreReply::Committed(c));
    }
    if has("released") {
        known_keys(v, "reply", &["released"])?;
        return Ok(StoreReply::Released);
    }
    if has("watched") {
        known_keys(v, "reply", &["watched"])?;
        return Ok(StoreReply::Watched);
    }
    Err(invalid(
        "a store reply is { entry }, { acquired, leaseTtlMs, entry }, { committed }, { released: true } or { watched: true }",
    ))
}

fn acquired_reply(v: &JsValue) -> Result<StoreReply, String> {
    let acquired = get(v, "acquired")
        .as_bool()
        .ok_or("acquired is not a boolean")?;
    let ttl = get(v, "leaseTtlMs");
    let lease_ttl_ms = if absent(&ttl) {
        None
    } else {
        let ms = ttl.as_f64().ok_or("leaseTtlMs is not a number")?;
        // A negative TTL (Redis: no lease, or no expiry) means the store cannot tell.
        (ms >= 0.0).then(|| ms.min(u64::MAX as f64) as u64)
    };
    Ok(StoreReply::Acquired {
        acquired,
        lease_ttl_ms,
        entry: entry_text(&get(v, "entry"), "entry")?,
    })
}

/// What a `FleetStore` method resolved with, as the reply to operation `op`: `read` a string
/// or `null`; `acquire` `{ acquired, leaseTtlMs, entry }`; `commit` a boolean; `release` and
/// `watch` anything. `Err`: why the answer is not one (a store failure).
pub(crate) fn store_answer(op: &str, v: &JsValue) -> Result<StoreReply, String> {
    match op {
        "read" => Ok(StoreReply::Entry(entry_text(v, "the store's read answer")?)),
        "acquire" => {
            if !v.is_object() {
                return Err(
                    "the store's acquire answer is not { acquired, leaseTtlMs, entry }".into(),
                );
            }
            acquired_reply(v).map_err(|e| format!("the store's acquire answer: {e}"))
        }
        "commit" => v
            .as_bool()
            .map(StoreReply::Committed)
            .ok_or_else(|| "the store's commit answer is not a boolean".into()),
        "release" => Ok(StoreReply::Released),
        "watch" => Ok(StoreReply::Watched),
        other => Err(format!("unknown store operation {other}")),
    }
}

// ------------------------------------------------------------------------------ FleetState

/// The shared session as a state machine, sans-IO (the shared `fleet_session` vectors drive it;
/// `TokenSession` with a `store` drives it over fetch and your store). Times are Unix
/// **milliseconds** (default: now).
///
/// `next(nowMs)` says `{ next: 'ready', token }`, `{ next: 'wait', id }` (renewal `id` runs in
/// this process: when it is done, `waited(id)`), or `{ next: 'perform', id, action, current }`:
/// carry out `action`, then each action the answers return, until `{ action: 'done' }`:
/// - `{ action: 'store', op, ... }`: run it on the store, then `storeDone(id, reply)` or
///   `storeFailed(id, reason)`;
/// - `{ action: 'send', request }`: send it, then `receive(id, response)` or `fail(id, reason)`;
/// - `{ action: 'done', completion }`: persist `completion.renewed` if any, call
///   `delivered(id)`, wake the waiters, then `waited(id)` like them.
#[wasm_bindgen]
pub struct FleetState {
    core: FleetSession,
    name: String,
}

fn id_of(id: f64) -> Result<u64, Error> {
    crate::convert::seconds(id, "id")
        .map_err(|_| invalid("id must be a renewal id (a whole number)"))
}

#[wasm_bindgen]
impl FleetState {
    /// A session of `client` renewing with `grant` (as `SessionState`'s), shared as `config`
    /// says. `options`: `tokens` (a `TokenSet` or its `serialize()` string: the local copy),
    /// `skew` (seconds).
    #[wasm_bindgen(constructor)]
    pub fn new(
        client: &Client,
        grant: SessionGrantArg,
        #[wasm_bindgen(unchecked_param_type = "FleetConfig | FleetConfigOptions")] config: JsValue,
        options: Option<SessionStateOptionsArg>,
    ) -> Result<FleetState, Failure> {
        let options = js(options);
        known_keys(&options, "FleetState", &["tokens", "skew"])?;
        let session = grantline::TokenSession::new(client.inner.clone(), grant_of(&grant)?);
        let session = configure(session, &options, None)?;
        let config = fleet_config_arg(&config)?;
        Ok(FleetState {
            name: name_of(&config),
            core: FleetSession::new(session, config),
        })
    }

    /// What to do at `nowMs`: use a token, perform a renewal, or wait for this process's.
    #[wasm_bindgen(unchecked_return_type = "FleetNext")]
    pub fn next(&mut self, now_ms: Option<f64>) -> Result<JsValue, Failure> {
        Ok(next_to_js(self.core.next(now_ms_or(now_ms)?)?))
    }

    /// For a caller that waited on (or performed) renewal `id`: the usable token, else the
    /// renewal's failure (thrown), else what `next()` says now.
    #[wasm_bindgen(unchecked_return_type = "FleetNext")]
    pub fn waited(&mut self, id: f64, now_ms: Option<f64>) -> Result<JsValue, Failure> {
        Ok(next_to_js(
            self.core.waited(id_of(id)?, now_ms_or(now_ms)?)?,
        ))
    }

    /// The store's reply to the operation of renewal `id`: `{ entry }` (read), `{ acquired,
    /// leaseTtlMs, entry }` (acquire), `{ committed }`, `{ released: true }` or
    /// `{ watched: true }`. A reply that does not answer the operation asked counts as a store
    /// failure. Returns the next action.
    #[wasm_bindgen(js_name = storeDone, unchecked_return_type = "FleetAction")]
    pub fn store_done(
        &mut self,
        id: f64,
        #[wasm_bindgen(unchecked_param_type = "StoreReply")] reply: JsValue,
        now_ms: Option<f64>,
    ) -> Result<JsValue, Failure> {
        let reply = explicit_reply(&reply)?;
        Ok(action_to_js(self.core.store_done(
            id_of(id)?,
            reply,
            now_ms_or(now_ms)?,
        )?))
    }

    /// The store operation of renewal `id` failed (an error, a timeout, a lost connection):
    /// `reason` says what, without a secret. Returns the next action.
    #[wasm_bindgen(js_name = storeFailed, unchecked_return_type = "FleetAction")]
    pub fn store_failed(
        &mut self,
        id: f64,
        reason: &str,
        now_ms: Option<f64>,
    ) -> Result<JsValue, Failure> {
        Ok(action_to_js(self.core.store_failed(
            id_of(id)?,
            reason,
            now_ms_or(now_ms)?,
        )?))
    }

    /// The answer to the token request of renewal `id` (`{ status, headers, body }`).
    #[wasm_bindgen(unchecked_return_type = "FleetAction")]
    pub fn receive(
        &mut self,
        id: f64,
        #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
        now_ms: Option<f64>,
    ) -> Result<JsValue, Failure> {
        let response = response_from_js(&response)?;
        Ok(action_to_js(self.core.receive(
            id_of(id)?,
            &response,
            now_ms_or(now_ms)?,
        )?))
    }

    /// The token request of renewal `id` could not be sent or answered.
    #[wasm_bindgen(unchecked_return_type = "FleetAction")]
    pub fn fail(&mut self, id: f64, reason: &str, now_ms: Option<f64>) -> Result<JsValue, Failure> {
        Ok(action_to_js(self.core.fail(
            id_of(id)?,
            reason,
            now_ms_or(now_ms)?,
        )?))
    }

    /// The token set of renewal `id` reached storage: another renewal may start.
    pub fn delivered(&mut self, id: f64) -> bool {
        id_of(id).is_ok_and(|id| self.core.delivered(id))
    }

    /// Whether renewal `id` may be given up now (while it talks to the store, or sends a
    /// request that consumes nothing).
    pub fn cancellable(&self, id: f64) -> bool {
        id_of(id).is_ok_and(|id| self.core.cancellable(id))
    }

    /// Forgets renewal `id`, given up by whoever performed it (a lease it held expires on its
    /// own). Returns whether it was in flight.
    pub fn abandon(&mut self, id: f64) -> bool {
        id_of(id).is_ok_and(|id| self.core.abandon(id))
    }

    /// The API refused `token`: renew once; a stored entry holding the same token is not taken
    /// as fresh. Returns whether it was the current token.
    pub fn reject(&mut self, token: &str) -> bool {
        self.core.reject(token)
    }

    /// The store version of the local token set (0 before the store was read or written).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.core.version() as f64
    }

    /// The counters: `{ storeOps, storeFailures, httpRenewals, fallbackRenewals, adopted,
    /// committed, conflicts }`.
    #[wasm_bindgen(getter, unchecked_return_type = "FleetStats")]
    pub fn stats(&self) -> JsValue {
        stats_to_js(&self.core.stats())
    }

    /// Until when (Unix milliseconds) `next()` answers `ready` without a store round trip;
    /// `undefined` when it would not.
    #[wasm_bindgen(js_name = readyUntilMs)]
    pub fn ready_until_ms(&self) -> Option<f64> {
        self.core.ready_until_ms().map(|t| t as f64)
    }

    /// Whether the store is being skipped after a failure, at `nowMs`.
    #[wasm_bindgen(js_name = storeDown)]
    pub fn store_down(&self, now_ms: Option<f64>) -> Result<bool, Failure> {
        Ok(self.core.store_down(now_ms_or(now_ms)?))
    }

    /// This process's lease owner id.
    #[wasm_bindgen(getter)]
    pub fn owner(&self) -> String {
        self.core.config().owner().to_owned()
    }

    /// The current token set, when there is one.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Option<TokenSet> {
        self.core.session().tokens().cloned().map(TokenSet::from)
    }

    /// Whether a renewal is in flight in the local session.
    #[wasm_bindgen(getter)]
    pub fn renewing(&self) -> bool {
        self.core.session().renewing()
    }

    /// How many renewals in a row have failed.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.core.session().failures()
    }

    /// The view `JSON.stringify()` shows: `{ name, owner, version, stats, tokens }` (the token
    /// set's redacted view, `null` when none).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "FleetStateView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "name", self.name.as_str());
        set(&o, "owner", self.core.config().owner());
        set(&o, "version", self.core.version() as f64);
        set(&o, "stats", stats_to_js(&self.core.stats()));
        set(
            &o,
            "tokens",
            or_null(
                self.core
                    .session()
                    .tokens()
                    .map(|t| TokenSet::from(t.clone()).to_view()),
            ),
        );
        o.into()
    }

    /// `FleetState { name, version, tokens: [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!(
            "FleetState {{ name: {}, version: {}, tokens: {} }}",
            self.name,
            self.core.version(),
            if self.core.session().tokens().is_some() {
                "[redacted]"
            } else {
                "none"
            }
        )
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_FLEET: &'static str = r#"
/** An entry key: its id and 32 random bytes (keep them as a secret; every process of the fleet has the same). */
export interface EntryKeyInput { kid: string; key: Uint8Array }
/** How the shared entry is protected: AES-256-GCM under `keys` (the first seals, all open), or in clear by explicit choice. */
export type EntryProtection = { keys: EntryKeyInput[] } | { plaintext: true };
/** Options of `new FleetConfig()`. */
export type FleetConfigOptions = EntryProtection & {
  /** The shared session's name: 1-200 characters of `A-Z a-z 0-9 - _ . : /`. Every process of the fleet uses the same. */
  name: string;
  /** This process's lease owner id (default: 32 random hex digits); unique in the fleet. */
  owner?: string;
  /** The lease TTL in milliseconds (default 15000, at least 1000): longer than a token request's whole deadline. */
  leaseTtlMs?: number;
  /** Whether a refresh may run without the store while it is down (default false: two processes refreshing one rotating token revoke the grant). */
  renewAloneWhenStoreDown?: boolean;
};
/** `config.storeKeys`: the Redis keys (a Cluster hash tag keeps them on one slot). */
export interface StoreKeys { entry: string; lease: string; channel: string }
/** `config.toJSON()`: no key material. */
export interface FleetConfigView {
  name: string; owner: string; leaseTtlMs: number; renewAloneWhenStoreDown: boolean;
  protection: { alg: 'A256GCM'; kids: string[] } | 'plaintext';
}
/** `entry.toJSON()`. */
export interface StoreEntryView { version: number; writtenAt: number; tokens: TokenSetView }
/** The core's Lua scripts for Redis (`fleetRedisScripts()`). */
export interface FleetRedisScripts { readonly acquire: string; readonly commit: string; readonly release: string }

/** Read the entry: answer its text, or `null` when there is none. No atomicity needed. */
export interface StoreRead { action: 'store'; op: 'read'; key: string }
/**
 * Set the lease `lease` to `owner` with a TTL of `ttlMs` if there is none, or renew it if
 * `owner` holds it (atomic: `SET NX PX`, a conditional put); answer whether it did, the
 * lease's remaining TTL (`null`: unknown) and the entry's text, read in the same step.
 */
export interface StoreAcquire { action: 'store'; op: 'acquire'; key: string; lease: string; owner: string; ttlMs: number }
/**
 * If the stored entry's `version` is `expectedVersion` (no entry: 0), write `entry`, in one
 * atomic step (a Lua script, `WATCH`/`MULTI`, a conditional put, a transaction); in any case
 * delete the lease if `owner` holds it; announce `version` on `channel`. Answer whether it
 * wrote. The store must be durable for rotating refresh tokens.
 */
export interface StoreCommit {
  action: 'store'; op: 'commit'; key: string; lease: string; owner: string; channel: string;
  expectedVersion: number; version: number; entry: string;
}
/** Delete the lease if `owner` holds it (compare-and-delete). */
export interface StoreRelease { action: 'store'; op: 'release'; lease: string; owner: string }
/** Return when a version newer than `version` is announced on `channel`, or after `timeoutMs` (a store without notifications just sleeps). */
export interface StoreWatch { action: 'store'; op: 'watch'; channel: string; version: number; timeoutMs: number }
/** A store operation the fleet machine asks for. */
export type StoreOp = StoreRead | StoreAcquire | StoreCommit | StoreRelease | StoreWatch;
/** What a store's `acquire` answers. */
export interface AcquireResult { acquired: boolean; leaseTtlMs?: number | null; entry?: string | null }
/** Per-call options a session gives every store call. */
export interface StoreCallOptions {
  /** Aborted when the call's deadline passes (the session's `storeTimeout`): stop waiting, free what the call holds. */
  signal?: AbortSignal;
}

/**
 * A shared store of token sessions: five operations, each with the atomicity its type says. A
 * method that throws, rejects, or does not settle within the session's `storeTimeout` is a
 * store failure: the session backs off from the store (1 s, doubled per failure, up to 30 s),
 * renews alone when that is safe (a grant that consumes nothing), and never lets a store
 * failure reach a caller holding a valid token. `grantline/redis` has the Redis one.
 */
export interface FleetStore {
  read(op: StoreRead, options: StoreCallOptions): Promise<string | null | undefined>;
  acquire(op: StoreAcquire, options: StoreCallOptions): Promise<AcquireResult>;
  commit(op: StoreCommit, options: StoreCallOptions): Promise<boolean>;
  release(op: StoreRelease, options: StoreCallOptions): Promise<unknown>;
  watch(op: StoreWatch, options: StoreCallOptions): Promise<unknown>;
}

/** What a `FleetState` says to do next. */
export type FleetNext =
  | { next: 'ready'; token: string }
  /** Carry out `action` (and each one its answers return) until `done`; `current`: a still-valid token to use meanwhile. */
  | { next: 'perform'; id: number; action: FleetAction; current?: string }
  /** Renewal `id` runs in this process and there is no usable token: when it is done, `waited(id)`. */
  | { next: 'wait'; id: number };
/** One step of a renewal. */
export type FleetAction =
  | StoreOp
  | { action: 'send'; request: HttpRequest }
  | { action: 'done'; completion: Completion };
/** The reply to a store operation, for `FleetState.storeDone()`. */
export type StoreReply =
  | { entry: string | null }
  | { acquired: boolean; leaseTtlMs: number | null; entry: string | null }
  | { committed: boolean }
  | { released: true }
  | { watched: true };
/** The counters of a shared session. */
export interface FleetStats {
  /** Store operations asked for (round trips; a watch counts one). */
  storeOps: number;
  storeFailures: number;
  /** Token requests this process sent (with the lease, or alone while the store was down). */
  httpRenewals: number;
  /** Of those, sent alone while the store was down. */
  fallbackRenewals: number;
  /** Renewals completed with another process's token set, without a token request. */
  adopted: number;
  /** Entries this process wrote. */
  committed: number;
  /** Commits refused because another writer came first. */
  conflicts: number;
}
/** `session.fleet`: a shared session's state. */
export interface FleetView { name: string; owner: string; version: number; storeDown: boolean; stats: FleetStats }
/** `state.toJSON()`. */
export interface FleetStateView { name: string; owner: string; version: number; stats: FleetStats; tokens: TokenSetView | null }
"#;
