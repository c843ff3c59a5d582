//! One token for a whole fleet (`grantline::fleet`): `FleetConfig`, `Entry`, the fleet machine
//! `FleetState` (a `SessionState` shared over a store), its store operations and replies, and
//! the Redis mapping (the core's Lua scripts and reply conversions). `grantline.TokenSession`
//! and `AsyncTokenSession` drive `FleetState` when given a store (`grantline.redis`).

use std::time::{SystemTime, UNIX_EPOCH};

use grantline::fleet::{self, Action, FleetConfig, FleetNext, FleetSession, StoreOp, StoreReply};
use grantline::store::{Entry, EntryKey, Protection};
use grantline::Error;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::client::PyClient;
use crate::errors::{call, invalid};
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::secret::{secret, PySecret, SecretArg};
use crate::session::{completion, ready, PyReady, PySessionState, PyWait};
use crate::tokens::PyTokenSet;

/// The current time in Unix milliseconds, when the caller passed no `now_ms`.
fn now_ms_or(now_ms: Option<u64>) -> u64 {
    now_ms.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

/// How a shared session uses its store: the session's `name` (every process of the fleet uses
/// the same name and keys), the protection of the entry at rest, this process's lease owner
/// id, the lease TTL, and whether a refresh may run alone while the store is down.
///
/// `keys`: a list of `(kid, key)` pairs, `key` 32 bytes (AES-256-GCM), the **first** one
/// current (new entries are sealed with it), the others still accepted when reading (a key
/// rotation in progress). Or `plaintext=True`, explicitly: the refresh token then lies in the
/// store in clear. `repr()` shows the key ids, never a key.
#[pyclass(name = "FleetConfig", module = "grantline._grantline", frozen)]
pub(crate) struct PyFleetConfig {
    pub(crate) inner: FleetConfig,
    name: String,
    kids: Vec<String>,
    renew_alone: bool,
}

impl PyFleetConfig {
    fn protection(&self) -> &Protection {
        self.inner.protection()
    }
}

#[pymethods]
impl PyFleetConfig {
    /// Raises `ConfigurationError` for a bad name or owner (1 to 200, or 64, characters of
    /// `A-Z a-z 0-9 - _ . : /`), for no keys without `plaintext=True`, or for keys with it;
    /// `InvalidKeyError` for a key that is not 32 bytes or a bad key id.
    #[new]
    #[pyo3(signature = (name, keys = None, *, plaintext = false, owner = None, lease_ttl_ms = None, renew_alone_when_store_down = false))]
    fn py_new(
        py: Python<'_>,
        name: String,
        keys: Option<Vec<(String, Bound<'_, PyBytes>)>>,
        plaintext: bool,
        owner: Option<String>,
        lease_ttl_ms: Option<u64>,
        renew_alone_when_store_down: bool,
    ) -> PyResult<Self> {
        let keys = keys.unwrap_or_default();
        let protection = match (keys.split_first(), plaintext) {
            (Some(_), true) => {
                return Err(invalid(
                    py,
                    "pass entry keys or plaintext=True, not both",
                ))
            }
            (None, false) => {
                return Err(invalid(
                    py,
                    "a shared session needs entry keys (a list of (kid, 32 bytes)), or plaintext=True explicitly",
                ))
            }
            (None, true) => Protection::plaintext(),
            (Some(((kid, key), rest)), false) => {
                let mut protection =
                    Protection::encrypted(call(py, || EntryKey::new(kid.as_str(), key.as_bytes()))?);
                for (kid, key) in rest {
                    protection = protection
                        .with_previous(call(py, || EntryKey::new(kid.as_str(), key.as_bytes()))?);
                }
                protection
            }
        };
        let mut inner = call(py, || FleetConfig::new(&name, protection))?
            .renew_alone_when_store_down(renew_alone_when_store_down);
        if let Some(ms) = lease_ttl_ms {
            inner = inner.with_lease_ttl_ms(ms);
        }
        if let Some(owner) = owner {
            inner = call(py, || inner.with_owner(&owner))?;
        }
        Ok(PyFleetConfig {
            inner,
            name,
            kids: keys.iter().map(|(kid, _)| kid.clone()).collect(),
            renew_alone: renew_alone_when_store_down,
        })
    }

    /// The shared session's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    /// The ids of the entry keys, the current one first (empty in plaintext mode).
    #[getter]
    fn kids(&self) -> Vec<String> {
        self.kids.clone()
    }
    /// Whether entries are stored in clear (the explicit opt-in).
    #[getter]
    fn plaintext(&self) -> bool {
        matches!(self.protection(), Protection::Plaintext)
    }
    /// This process's lease owner id (random unless given).
    #[getter]
    fn owner(&self) -> &str {
        self.inner.owner()
    }
    /// The lease TTL in milliseconds.
    #[getter]
    fn lease_ttl_ms(&self) -> u64 {
        self.inner.lease_ttl_ms()
    }
    /// Whether a refresh may run without the store while it is down.
    #[getter]
    fn renew_alone_when_store_down(&self) -> bool {
        self.renew_alone
    }
    /// The entry's store key: `grantline:{NAME}`.
    #[getter]
    fn entry_key(&self) -> &str {
        &self.inner.keys().entry
    }
    /// The renewal lease's store key: `grantline:{NAME}:lease`.
    #[getter]
    fn lease_key(&self) -> &str {
        &self.inner.keys().lease
    }
    /// The channel that announces new versions: `grantline:{NAME}:renewed`.
    #[getter]
    fn channel(&self) -> &str {
        &self.inner.keys().channel
    }

    fn __repr__(&self) -> String {
        let protection = if self.kids.is_empty() {
            "plaintext=True".to_owned()
        } else {
            format!("kids={:?}", self.kids)
        };
        format!(
            "FleetConfig(name={:?}, {protection}, owner={:?}, lease_ttl_ms={})",
            self.name,
            self.inner.owner(),
            self.inner.lease_ttl_ms()
        )
    }
}

/// A token set as the shared store keeps it: the tokens, the store's `version` (the
/// compare-and-set counter) and when it was written (`written_at`, Unix seconds). `seal()`
/// gives the language-neutral text a store holds (AES-256-GCM under the config's current key,
/// or in clear in plaintext mode); `Entry.open()` reads one back. `repr()` shows no token.
#[pyclass(name = "Entry", module = "grantline._grantline", frozen)]
pub(crate) struct PyEntry {
    inner: Entry,
}

#[pymethods]
impl PyEntry {
    #[new]
    fn py_new(version: u64, tokens: PyRef<'_, PyTokenSet>, written_at: u64) -> Self {
        PyEntry {
            inner: Entry::new(version, tokens.inner.clone(), written_at),
        }
    }

    /// Reads a sealed entry with the keys of `config`. Raises `ConfigurationError`
    /// (`invalid_input`) naming what is wrong, never a value of the entry: not an entry, an
    /// unknown key id, a ciphertext that does not authenticate, a plaintext entry while
    /// `config` has keys (a downgrade)...
    #[staticmethod]
    fn open(py: Python<'_>, text: &str, config: &PyFleetConfig) -> PyResult<Self> {
        let inner = call(py, || Entry::open(text, config.protection()))?;
        Ok(PyEntry { inner })
    }

    /// The sealed text, with a fresh random nonce.
    fn seal(&self, py: Python<'_>, config: &PyFleetConfig) -> PyResult<String> {
        call(py, || self.inner.seal(config.protection()))
    }

    /// `seal()` with the 12-byte nonce given: for tests and known-answer vectors only (a nonce
    /// must never repeat under one key).
    fn seal_with_nonce(
        &self,
        py: Python<'_>,
        config: &PyFleetConfig,
        nonce: &[u8],
    ) -> PyResult<String> {
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| invalid(py, "a nonce is 12 bytes"))?;
        call(py, || {
            self.inner.seal_with_nonce(config.protection(), nonce)
        })
    }

    /// The store's version of this entry.
    #[getter]
    fn version(&self) -> u64 {
        self.inner.version()
    }
    /// When the entry was written (Unix seconds).
    #[getter]
    fn written_at(&self) -> u64 {
        self.inner.written_at()
    }
    /// The token set.
    #[getter]
    fn tokens(&self) -> PyTokenSet {
        PyTokenSet {
            inner: self.inner.tokens().clone(),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Entry(version={}, written_at={}, tokens=TokenSet(...))",
            self.inner.version(),
            self.inner.written_at()
        )
    }
}

/// Store operation `read`: return the entry's text at `key`, or `None`.
#[pyclass(name = "StoreRead", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreRead {
    /// The entry's store key.
    #[pyo3(get)]
    key: String,
}

#[pymethods]
impl PyStoreRead {
    fn __repr__(&self) -> String {
        format!("StoreRead(key={:?})", self.key)
    }
}

/// Store operation `acquire`: set `lease` to `owner` with a TTL of `ttl_ms` if no one holds
/// it (or renew it if `owner` does), atomically; return whether the lease is now `owner`'s,
/// its remaining TTL, and the entry's text at `key`.
#[pyclass(name = "StoreAcquire", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreAcquire {
    /// The entry's store key.
    #[pyo3(get)]
    key: String,
    /// The lease's store key.
    #[pyo3(get)]
    lease: String,
    /// This process's lease owner id.
    #[pyo3(get)]
    owner: String,
    /// The lease's TTL in milliseconds.
    #[pyo3(get)]
    ttl_ms: u64,
}

#[pymethods]
impl PyStoreAcquire {
    fn __repr__(&self) -> String {
        format!(
            "StoreAcquire(key={:?}, lease={:?}, owner={:?}, ttl_ms={})",
            self.key, self.lease, self.owner, self.ttl_ms
        )
    }
}

/// Store operation `commit`, one atomic step: if the stored entry's version is
/// `expected_version` (0: no entry), write `entry`; in any case delete `lease` if `owner`
/// holds it; announce `version` on `channel`. Return whether `entry` was written.
#[pyclass(name = "StoreCommit", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreCommit {
    /// The entry's store key.
    #[pyo3(get)]
    key: String,
    /// The lease's store key.
    #[pyo3(get)]
    lease: String,
    /// This process's lease owner id.
    #[pyo3(get)]
    owner: String,
    /// The channel that announces new versions.
    #[pyo3(get)]
    channel: String,
    /// The version the stored entry must have (0: no entry).
    #[pyo3(get)]
    expected_version: u64,
    /// The version of `entry`: above the stored version and every version this process has seen.
    #[pyo3(get)]
    version: u64,
    /// The sealed entry to write (never printed).
    #[pyo3(get)]
    entry: String,
}

#[pymethods]
impl PyStoreCommit {
    fn __repr__(&self) -> String {
        format!(
            "StoreCommit(key={:?}, expected_version={}, version={}, entry=<{} bytes>)",
            self.key,
            self.expected_version,
            self.version,
            self.entry.len()
        )
    }
}

/// Store operation `release`: delete `lease` if `owner` holds it (compare-and-delete).
#[pyclass(name = "StoreRelease", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreRelease {
    /// The lease's store key.
    #[pyo3(get)]
    lease: String,
    /// This process's lease owner id.
    #[pyo3(get)]
    owner: String,
}

#[pymethods]
impl PyStoreRelease {
    fn __repr__(&self) -> String {
        format!(
            "StoreRelease(lease={:?}, owner={:?})",
            self.lease, self.owner
        )
    }
}

/// Store operation `watch`: return when a version newer than `version` is announced on
/// `channel`, or after `timeout_ms` (a store without notifications just sleeps).
#[pyclass(name = "StoreWatch", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreWatch {
    /// The channel that announces new versions.
    #[pyo3(get)]
    channel: String,
    /// The version this process has seen.
    #[pyo3(get)]
    version: u64,
    /// The longest wait, in milliseconds.
    #[pyo3(get)]
    timeout_ms: u64,
}

#[pymethods]
impl PyStoreWatch {
    fn __repr__(&self) -> String {
        format!(
            "StoreWatch(channel={:?}, version={}, timeout_ms={})",
            self.channel, self.version, self.timeout_ms
        )
    }
}

/// The answer to a store operation, for `FleetState.store_done()`: one constructor per
/// operation. `repr()` shows sizes, never an entry.
#[pyclass(name = "StoreReply", module = "grantline._grantline", frozen)]
pub(crate) struct PyStoreReply {
    inner: StoreReply,
}

#[pymethods]
impl PyStoreReply {
    /// The answer to `read`: the entry's text, or `None` when there is none.
    #[staticmethod]
    #[pyo3(signature = (text))]
    fn entry(text: Option<String>) -> Self {
        PyStoreReply {
            inner: StoreReply::Entry(text),
        }
    }
    /// The answer to `acquire`: whether the lease is ours, its remaining TTL in milliseconds
    /// (`None` when the store cannot tell), and the entry's text.
    #[staticmethod]
    #[pyo3(signature = (acquired, lease_ttl_ms, entry))]
    fn acquired(acquired: bool, lease_ttl_ms: Option<u64>, entry: Option<String>) -> Self {
        PyStoreReply {
            inner: StoreReply::Acquired {
                acquired,
                lease_ttl_ms,
                entry,
            },
        }
    }
    /// The answer to `commit`: whether the entry was written.
    #[staticmethod]
    fn committed(written: bool) -> Self {
        PyStoreReply {
            inner: StoreReply::Committed(written),
        }
    }
    /// The answer to `release`.
    #[staticmethod]
    fn released() -> Self {
        PyStoreReply {
            inner: StoreReply::Released,
        }
    }
    /// The answer to `watch`.
    #[staticmethod]
    fn watched() -> Self {
        PyStoreReply {
            inner: StoreReply::Watched,
        }
    }

    fn __repr__(&self) -> String {
        format!("StoreReply.{:?}", self.inner)
    }
}

/// `FleetState.next()`: perform renewal `id`: carry out `action` (a store operation, an
/// `HttpRequest` to send, or the `Completion` that ends it), and each action the answers
/// return. `current` is the still-valid access token, when there is one (use it now).
#[pyclass(name = "Perform", module = "grantline._grantline", frozen)]
pub(crate) struct PyPerform {
    id: u64,
    action: Py<PyAny>,
    current: Option<Py<PySecret>>,
}

#[pymethods]
impl PyPerform {
    /// The renewal's id.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }
    /// The first step.
    #[getter]
    fn action(&self, py: Python<'_>) -> Py<PyAny> {
        self.action.clone_ref(py)
    }
    /// The still-valid current access token, or `None`.
    #[getter]
    fn current(&self, py: Python<'_>) -> Option<Py<PySecret>> {
        self.current.as_ref().map(|c| c.clone_ref(py))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let action = self
            .action
            .bind(py)
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_default();
        format!(
            "Perform(id={}, action={action}, current={})",
            self.id,
            if self.current.is_some() {
                "Secret('[redacted]')"
            } else {
                "None"
            }
        )
    }
}

/// A shared session's counters, for figures and tests.
#[pyclass(name = "FleetStats", module = "grantline._grantline", frozen)]
pub(crate) struct PyFleetStats {
    /// Store operations asked for (round trips; a `watch` counts one).
    #[pyo3(get)]
    store_ops: u64,
    /// Store operations that failed.
    #[pyo3(get)]
    store_failures: u64,
    /// Token requests this process sent (with the lease, or alone while the store was down).
    #[pyo3(get)]
    http_renewals: u64,
    /// Of those, sent alone while the store was down.
    #[pyo3(get)]
    fallback_renewals: u64,
    /// Renewals completed with another process's token set, without a token request.
    #[pyo3(get)]
    adopted: u64,
    /// Entries this process wrote.
    #[pyo3(get)]
    committed: u64,
    /// Commits refused because the store had moved on.
    #[pyo3(get)]
    conflicts: u64,
}

#[pymethods]
impl PyFleetStats {
    fn __repr__(&self) -> String {
        format!(
            "FleetStats(store_ops={}, store_failures={}, http_renewals={}, fallback_renewals={}, adopted={}, committed={}, conflicts={})",
            self.store_ops,
            self.store_failures,
            self.http_renewals,
            self.fallback_renewals,
            self.adopted,
            self.committed,
            self.conflicts
        )
    }
}

fn action(py: Python<'_>, action: Action) -> PyResult<Py<PyAny>> {
    Ok(match action {
        Action::Store(op) => store_op(py, op)?,
        Action::Send(request) => Py::new(py, PyHttpRequest::wrap(*request))?.into_any(),
        Action::Done(done) => Py::new(py, completion(py, done)?)?.into_any(),
    })
}

fn store_op(py: Python<'_>, op: StoreOp) -> PyResult<Py<PyAny>> {
    Ok(match op {
        StoreOp::Read { key } => Py::new(py, PyStoreRead { key })?.into_any(),
        StoreOp::Acquire {
            key,
            lease,
            owner,
            ttl_ms,
        } => Py::new(
            py,
            PyStoreAcquire {
                key,
                lease,
                owner,
                ttl_ms,
            },
        )?
        .into_any(),
        StoreOp::Commit {
            key,
            lease,
            owner,
            channel,
            expected_version,
            version,
            entry,
        } => Py::new(
            py,
            PyStoreCommit {
                key,
                lease,
                owner,
                channel,
                expected_version,
                version,
                entry,
            },
        )?
        .into_any(),
        StoreOp::Release { lease, owner } => {
            Py::new(py, PyStoreRelease { lease, owner })?.into_any()
        }
        StoreOp::Watch {
            channel,
            version,
            timeout_ms,
        } => Py::new(
            py,
            PyStoreWatch {
                channel,
                version,
                timeout_ms,
            },
        )?
        .into_any(),
        other => {
            return Err(invalid(
                py,
                format!(
                    "a store operation this binding does not know: {}",
                    other.name()
                ),
            ))
        }
    })
}

/// The fleet machine, sans-IO: a `SessionState` shared by many processes (in any language)
/// over a store. `next()` says use this token (`Ready`), perform renewal `id` (`Perform`: carry
/// out its action, hand the answer back, and so on until a `Completion`) or wait for this
/// process's renewal in flight (`Wait`: then `waited()`). Actions: a store operation
/// (`StoreRead`, `StoreAcquire`, `StoreCommit`, `StoreRelease`, `StoreWatch`: execute it, then
/// `store_done(id, StoreReply...)`, or `store_failed(id, reason)`), an `HttpRequest` (send it,
/// then `receive()` or `fail()`), or the `Completion` (persist its `renewed` if any, call
/// `delivered(id)`, wake the waiters, then `waited(id)` like every waiter). Every time is in
/// Unix **milliseconds** (`now_ms`, default: now). A cached token costs no store operation.
/// Not thread-safe by itself: `TokenSession` and `AsyncTokenSession` serialize access.
#[pyclass(name = "FleetState", module = "grantline._grantline")]
pub(crate) struct PyFleetState {
    inner: FleetSession,
    config: Py<PyFleetConfig>,
    ready: Option<Py<PyReady>>,
}

impl PyFleetState {
    fn step(&mut self, py: Python<'_>, next: FleetNext) -> PyResult<Py<PyAny>> {
        Ok(match next {
            FleetNext::Ready(token) => return ready(py, &mut self.ready, &token),
            FleetNext::Wait { id } => Py::new(py, PyWait { id })?.into_any(),
            FleetNext::Perform {
                id,
                action: first,
                current,
            } => Py::new(
                py,
                PyPerform {
                    id,
                    action: action(py, first)?,
                    current: current.map(|t| secret(py, t.secret())).transpose()?,
                },
            )?
            .into_any(),
        })
    }

    fn act(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut FleetSession) -> Result<Action, Error>,
    ) -> PyResult<Py<PyAny>> {
        let next = call(py, || f(&mut self.inner))?;
        action(py, next)
    }
}

#[pymethods]
impl PyFleetState {
    /// Shares (a copy of) `session` over the store described by `config`. The session's own
    /// token set, if any, is the local copy; a newer entry in the store wins at the first
    /// renewal.
    #[new]
    fn py_new(session: PyRef<'_, PySessionState>, config: Bound<'_, PyFleetConfig>) -> Self {
        PyFleetState {
            inner: FleetSession::new(session.inner.clone(), config.get().inner.clone()),
            config: config.unbind(),
            ready: None,
        }
    }

    /// What to do at `now_ms`: `Ready`, `Perform` or `Wait`.
    #[pyo3(signature = (now_ms = None))]
    fn next(&mut self, py: Python<'_>, now_ms: Option<u64>) -> PyResult<Py<PyAny>> {
        let next = call(py, || self.inner.next(now_ms_or(now_ms)))?;
        self.step(py, next)
    }

    /// After waiting on (or performing) renewal `id`: what to do now, or that renewal's error
    /// raised (only when no usable token is left).
    #[pyo3(signature = (id, now_ms = None))]
    fn waited(&mut self, py: Python<'_>, id: u64, now_ms: Option<u64>) -> PyResult<Py<PyAny>> {
        let next = call(py, || self.inner.waited(id, now_ms_or(now_ms)))?;
        self.step(py, next)
    }

    /// Hands in the reply to the store operation of renewal `id`; returns the next action. A
    /// reply that does not answer the operation asked counts as a store failure. Raises
    /// `ConfigurationError` (`unexpected_response`) when `id` is not the renewal in flight.
    #[pyo3(signature = (id, reply, now_ms = None))]
    fn store_done(
        &mut self,
        py: Python<'_>,
        id: u64,
        reply: &PyStoreReply,
        now_ms: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let reply = reply.inner.clone();
        self.act(py, |s| s.store_done(id, reply, now_ms_or(now_ms)))
    }

    /// Reports that the store operation of renewal `id` failed (an error, a timeout, a lost
    /// connection): the store is skipped for a backoff, and the renewal goes on alone when
    /// that is safe. `reason` (escaped and capped by the core) must not hold a secret.
    #[pyo3(signature = (id, reason, now_ms = None))]
    fn store_failed(
        &mut self,
        py: Python<'_>,
        id: u64,
        reason: &str,
        now_ms: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        self.act(py, |s| s.store_failed(id, reason, now_ms_or(now_ms)))
    }

    /// Hands in the token response of renewal `id`; returns the next action.
    #[pyo3(signature = (id, response, now_ms = None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        id: u64,
        response: &PyHttpResponse,
        now_ms: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        self.act(py, |s| s.receive(id, &response.inner, now_ms_or(now_ms)))
    }

    /// Reports that the token request of renewal `id` could not be sent or answered; returns
    /// the next action.
    #[pyo3(signature = (id, reason, now_ms = None))]
    fn fail(
        &mut self,
        py: Python<'_>,
        id: u64,
        reason: &str,
        now_ms: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        self.act(py, |s| s.fail(id, reason, now_ms_or(now_ms)))
    }

    /// Whether renewal `id` may be cancelled now: while it only talks to the store (`read`,
    /// `acquire`, `watch`), or sends a request that consumes nothing.
    fn cancellable(&self, id: u64) -> bool {
        self.inner.cancellable(id)
    }

    /// Forgets renewal `id`, given up by whoever performed it (see `SessionState.abandon`); a
    /// lease it held expires on its own. Returns whether it did (only when `cancellable`).
    fn abandon(&mut self, id: u64) -> bool {
        self.inner.abandon(id)
    }

    /// The token set of renewal `id` reached the caller's own storage (see
    /// `SessionState.delivered`).
    fn delivered(&mut self, id: u64) -> bool {
        self.inner.delivered(id)
    }

    /// The API refused `access_token`: renew once; an entry in the store holding the same
    /// token is not taken as fresh.
    fn reject(&mut self, access_token: SecretArg) -> bool {
        self.inner.reject(access_token.as_str())
    }

    /// Whether the store is being skipped after a failure, at `now_ms`.
    #[pyo3(signature = (now_ms = None))]
    fn store_down(&self, now_ms: Option<u64>) -> bool {
        self.inner.store_down(now_ms_or(now_ms))
    }

    /// The store version of the local token set (0 before the store was read or written).
    #[getter]
    fn version(&self) -> u64 {
        self.inner.version()
    }

    /// Whether the local token set is newer than the store's (renewed while the store was
    /// down, or its commit's answer was lost): it is written at the next renewal that reaches
    /// the store, when the store has nothing newer.
    #[getter]
    fn unsaved(&self) -> bool {
        self.inner.unsaved()
    }

    /// The counters.
    #[getter]
    fn stats(&self) -> PyFleetStats {
        let s = self.inner.stats();
        PyFleetStats {
            store_ops: s.store_ops,
            store_failures: s.store_failures,
            http_renewals: s.http_renewals,
            fallback_renewals: s.fallback_renewals,
            adopted: s.adopted,
            committed: s.committed,
            conflicts: s.conflicts,
        }
    }

    /// The configuration.
    #[getter]
    fn config(&self, py: Python<'_>) -> Py<PyFleetConfig> {
        self.config.clone_ref(py)
    }

    /// Until when `next()` answers `Ready` without a store operation (Unix milliseconds;
    /// `2**64 - 1` when the expiry is unknown); `None` when it would not answer `Ready`.
    #[getter]
    fn ready_until_ms(&self) -> Option<u64> {
        self.inner.ready_until_ms()
    }

    /// The local token set, when any.
    #[getter]
    fn tokens(&self) -> Option<PyTokenSet> {
        self.inner
            .session()
            .tokens()
            .map(|t| PyTokenSet { inner: t.clone() })
    }

    /// The client.
    #[getter]
    fn client(&self) -> PyClient {
        PyClient::wrap(self.inner.session().client().clone())
    }

    /// Seconds before expiry at which the token is renewed.
    #[getter]
    fn skew(&self) -> u64 {
        self.inner.session().skew()
    }

    /// Whether a renewal is in flight in this process.
    #[getter]
    fn renewing(&self) -> bool {
        self.inner.session().renewing()
    }

    /// How many renewals in a row have failed (0 after a success).
    #[getter]
    fn failures(&self) -> u32 {
        self.inner.session().failures()
    }

    /// When the backoff after failed renewals ends (Unix **seconds**), or `None`.
    #[getter]
    fn retry_at(&self) -> Option<u64> {
        self.inner.session().retry_at()
    }

    /// `ready_until_ms` in Unix **seconds** (as `SessionState.ready_until`).
    #[getter]
    fn ready_until(&self) -> Option<u64> {
        self.inner.session().ready_until()
    }

    fn __repr__(&self) -> String {
        format!(
            "<FleetState {:?} of {:?}, version: {}, tokens: {}, renewing: {}>",
            self.config.get().name,
            self.inner.session().client().client_id(),
            self.inner.version(),
            if self.inner.session().tokens().is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.session().renewing()
        )
    }
}

/// The Lua script of the `acquire` operation on Redis (`EVAL ACQUIRE 2 entry lease owner
/// ttl_ms` → `[acquired, pttl, entry]`), from the core.
pub(crate) const REDIS_ACQUIRE: &str = fleet::redis::ACQUIRE;
/// The Lua script of `commit` (`EVAL COMMIT 2 entry lease owner expected_version entry_text
/// channel version` → `[1, version]`, `[0, current]` or `[-1]`), from the core.
pub(crate) const REDIS_COMMIT: &str = fleet::redis::COMMIT;
/// The Lua script of `release` (`EVAL RELEASE 1 lease owner`), from the core.
pub(crate) const REDIS_RELEASE: &str = fleet::redis::RELEASE;

/// The reply to the Redis `ACQUIRE` script, converted by the core: `(acquired, lease_ttl_ms,
/// entry)`.
#[pyfunction]
#[pyo3(signature = (acquired, pttl, entry = None))]
pub(crate) fn redis_acquire_reply(
    py: Python<'_>,
    acquired: i64,
    pttl: i64,
    entry: Option<String>,
) -> PyResult<(bool, Option<u64>, Option<String>)> {
    match fleet::redis::acquire_reply(acquired, pttl, entry) {
        StoreReply::Acquired {
            acquired,
            lease_ttl_ms,
            entry,
        } => Ok((acquired, lease_ttl_ms, entry)),
        other => Err(invalid(py, format!("unexpected conversion {other:?}"))),
    }
}

/// The reply to the Redis `COMMIT` script (its first integer), converted by the core: whether
/// the entry was written.
#[pyfunction]
pub(crate) fn redis_commit_reply(py: Python<'_>, code: i64) -> PyResult<bool> {
    match fleet::redis::commit_reply(code) {
        StoreReply::Committed(written) => Ok(written),
        other => Err(invalid(py, format!("unexpected conversion {other:?}"))),
    }
}

/// Registers the module's fleet classes, constants and functions.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("REDIS_ACQUIRE", REDIS_ACQUIRE)?;
    m.add("REDIS_COMMIT", REDIS_COMMIT)?;
    m.add("REDIS_RELEASE", REDIS_RELEASE)?;
    m.add("DEFAULT_LEASE_TTL_MS", fleet::DEFAULT_LEASE_TTL_MS)?;
    m.add_class::<PyFleetConfig>()?;
    m.add_class::<PyEntry>()?;
    m.add_class::<PyFleetState>()?;
    m.add_class::<PyPerform>()?;
    m.add_class::<PyFleetStats>()?;
    m.add_class::<PyStoreRead>()?;
    m.add_class::<PyStoreAcquire>()?;
    m.add_class::<PyStoreCommit>()?;
    m.add_class::<PyStoreRelease>()?;
    m.add_class::<PyStoreWatch>()?;
    m.add_class::<PyStoreReply>()?;
    m.add_function(wrap_pyfunction!(redis_acquire_reply, m)?)?;
    m.add_function(wrap_pyfunction!(redis_commit_reply, m)?)?;
    Ok(())
}
