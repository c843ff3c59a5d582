//! `grantline.SessionState`: the core's token lifecycle state machine, for a binding (or a
//! user) to drive. `grantline.TokenSession` and `AsyncTokenSession` wrap it with the waiting.

use grantline::session::Completion;
use grantline::{Next, Password, Renewed, SessionGrant, TokenSession};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::client::PyClient;
use crate::errors::{call, now_or, to_pyerr};
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::secret::{secret, PySecret, SecretArg};
use crate::tokens::PyTokenSet;

/// The token lifecycle, sans-IO: `next()` says use this token (`Ready`), send this renewal
/// (`Send`: then `receive()` its response or `fail()` it) or wait for the renewal in flight
/// (`Wait`: then `waited()`); `abandon()` a renewal whose sender was cancelled.
/// `receive()` and `fail()` return a `Completion`: when it carries
/// a token set (`renewed`), persist it, then call `delivered(id)`; then ask `waited(id)` like
/// every waiter. Exactly one renewal is in flight at a time, and the core decides every
/// liveness rule (backoff, `Retry-After`, tokens expired on arrival) from `now`. Not
/// thread-safe by itself: `TokenSession` and `AsyncTokenSession` serialize access to it.
#[pyclass(name = "SessionState", module = "grantline._grantline")]
pub(crate) struct PySessionState {
    pub(crate) inner: TokenSession,
    /// The last `Ready` handed out: a cached token is handed out again without allocating.
    ready: Option<Py<PyReady>>,
}

fn build(
    mut session: TokenSession,
    tokens: Option<&PyTokenSet>,
    skew: Option<u64>,
) -> PySessionState {
    if let Some(t) = tokens {
        session = session.with_tokens(t.inner.clone());
    }
    if let Some(s) = skew {
        session = session.with_skew(s);
    }
    PySessionState {
        inner: session,
        ready: None,
    }
}

/// `Ready(token)`, the cached object when `token` is the one handed out last (a cached token
/// costs no allocation).
pub(crate) fn ready(
    py: Python<'_>,
    cache: &mut Option<Py<PyReady>>,
    token: &grantline::AccessToken,
) -> PyResult<Py<PyAny>> {
    if let Some(ready) = cache {
        if token.ct_eq(ready.get().token.get().as_str()) {
            return Ok(ready.clone_ref(py).into_any());
        }
    }
    let ready = Py::new(
        py,
        PyReady {
            token: secret(py, token.secret())?,
        },
    )?;
    *cache = Some(ready.clone_ref(py));
    Ok(ready.into_any())
}

impl PySessionState {
    fn step(&mut self, py: Python<'_>, next: Next) -> PyResult<Py<PyAny>> {
        Ok(match next {
            Next::Ready(token) => return ready(py, &mut self.ready, &token),
            Next::Send {
                id,
                request,
                current,
            } => Py::new(
                py,
                PySend {
                    id,
                    request: Py::new(py, PyHttpRequest::wrap(*request))?,
                    current: current.map(|t| secret(py, t.secret())).transpose()?,
                },
            )?
            .into_any(),
            Next::Wait { id } => Py::new(py, PyWait { id })?.into_any(),
        })
    }
}

pub(crate) fn completion(py: Python<'_>, done: Completion) -> PyResult<PyCompletion> {
    let renewed = done
        .renewed
        .map(|r| renewed(py, r))
        .transpose()?
        .map(|r| Py::new(py, r))
        .transpose()?;
    let error = done
        .error
        .map(|e| to_pyerr(py, &e).into_value(py).into_any());
    Ok(PyCompletion { renewed, error })
}

fn renewed(py: Python<'_>, r: Renewed) -> PyResult<PyRenewed> {
    Ok(PyRenewed {
        tokens: Py::new(py, PyTokenSet { inner: r.tokens })?,
        refresh_token_rotated: r.refresh_token_rotated,
    })
}

#[pymethods]
impl PySessionState {
    /// A session that gets its tokens with the client credentials grant (and renews the same way,
    /// or with a refresh token when one comes).
    #[classmethod]
    #[pyo3(signature = (client, scopes = Vec::new(), *, tokens = None, skew = None))]
    fn client_credentials(
        _cls: &Bound<'_, PyType>,
        client: &PyClient,
        scopes: Vec<String>,
        tokens: Option<PyRef<'_, PyTokenSet>>,
        skew: Option<u64>,
    ) -> Self {
        build(
            TokenSession::client_credentials(client.inner.clone(), scopes),
            tokens.as_deref(),
            skew,
        )
    }

    /// A session that gets its tokens with the password grant (renewing with the refresh token
    /// when there is one, else with the password again).
    #[classmethod]
    #[pyo3(signature = (client, username, password, scopes = Vec::new(), *, tokens = None, skew = None))]
    fn password(
        _cls: &Bound<'_, PyType>,
        client: &PyClient,
        username: String,
        password: SecretArg,
        scopes: Vec<String>,
        tokens: Option<PyRef<'_, PyTokenSet>>,
        skew: Option<u64>,
    ) -> Self {
        let grant = SessionGrant::Password {
            username,
            password: Password::new(password.as_str()),
            scopes,
        };
        build(
            TokenSession::new(client.inner.clone(), grant),
            tokens.as_deref(),
            skew,
        )
    }

    /// A session over tokens from a user grant (authorization code, device): it renews with
    /// the refresh token, and raises `ReauthorizationRequiredError` when it cannot (at once
    /// when `tokens` is `None`).
    #[classmethod]
    #[pyo3(signature = (client, tokens, *, skew = None))]
    fn from_tokens(
        _cls: &Bound<'_, PyType>,
        client: &PyClient,
        tokens: Option<PyRef<'_, PyTokenSet>>,
        skew: Option<u64>,
    ) -> Self {
        build(
            TokenSession::new(client.inner.clone(), SessionGrant::RefreshOnly),
            tokens.as_deref(),
            skew,
        )
    }

    /// What to do now: `Ready`, `Send` or `Wait`. `now`: Unix seconds (default: now).
    #[pyo3(signature = (now = None))]
    fn next(&mut self, py: Python<'_>, now: Option<u64>) -> PyResult<Py<PyAny>> {
        let next = call(py, || self.inner.next(now_or(now)))?;
        self.step(py, next)
    }

    /// Hands the response of renewal `id` to the session, received at `now` (Unix seconds,
    /// default: now). Returns the `Completion`: a token set to persist (`renewed`), the
    /// renewal's own error (`error`, for logs: callers learn it from `waited()` only when no
    /// usable token is left). Raises only `ConfigurationError` (`unexpected_response`) when
    /// `id` is not the renewal in flight.
    #[pyo3(signature = (id, response, now = None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        id: u64,
        response: &PyHttpResponse,
        now: Option<u64>,
    ) -> PyResult<PyCompletion> {
        let done = call(py, || self.inner.receive(id, &response.inner, now_or(now)))?;
        completion(py, done)
    }

    /// Reports that renewal `id` could not be sent or its answer not received (`reason`: what
    /// the transport said, escaped and capped by the core) at `now`. Returns the `Completion`
    /// (its `error` is the `TransportError`); raises only for an `id` not in flight.
    #[pyo3(signature = (id, reason, now = None))]
    fn fail(
        &mut self,
        py: Python<'_>,
        id: u64,
        reason: &str,
        now: Option<u64>,
    ) -> PyResult<PyCompletion> {
        let done = call(py, || self.inner.fail(id, reason, now_or(now)))?;
        completion(py, done)
    }

    /// Forgets renewal `id`, which ended without an answer because whoever performed it gave
    /// up (a cancelled asyncio task, an interrupted thread): not a failure, so no backoff and no
    /// error for anyone. Waiters calling `waited(id)` get the usable token, or a new `Send`: the
    /// next caller renews. A late answer to `id` is then refused by `receive()`. Returns whether
    /// `id` was in flight. A request whose answer was lost on the way (a timeout, a reset) is a
    /// `fail()` instead: the server may be struggling, and the backoff protects it.
    fn abandon(&mut self, id: u64) -> bool {
        self.inner.abandon(id)
    }

    /// Whether renewal `id` may be cancelled mid-flight (then `abandon`ed) without losing
    /// anything: `False` for a refresh, whose answer may carry a rotated refresh token that only
    /// it delivers; such a renewal is carried to its answer even when every caller has gone.
    fn cancellable(&self, id: u64) -> bool {
        self.inner.cancellable(id)
    }

    /// The token set of renewal `id` (its `Completion.renewed`) reached storage: another
    /// renewal may start. Call it even when storing failed (in a `finally`). Returns whether
    /// `id` was waiting for it.
    fn delivered(&mut self, id: u64) -> bool {
        self.inner.delivered(id)
    }

    /// After waiting on renewal `id`: what to do now, or that renewal's error raised.
    #[pyo3(signature = (id, now = None))]
    fn waited(&mut self, py: Python<'_>, id: u64, now: Option<u64>) -> PyResult<Py<PyAny>> {
        let next = call(py, || self.inner.waited(id, now_or(now)))?;
        self.step(py, next)
    }

    /// The API refused `access_token` (401 `invalid_token`): the next `next()` renews, once,
    /// however many callers reject the same token. False when it is not the current token.
    fn reject(&mut self, access_token: SecretArg) -> bool {
        self.inner.reject(access_token.as_str())
    }

    /// The current token set, when any.
    #[getter]
    fn tokens(&self) -> Option<PyTokenSet> {
        self.inner.tokens().map(|t| PyTokenSet { inner: t.clone() })
    }

    /// The client.
    #[getter]
    fn client(&self) -> PyClient {
        PyClient::wrap(self.inner.client().clone())
    }

    /// Seconds before expiry at which the token is renewed.
    #[getter]
    fn skew(&self) -> u64 {
        self.inner.skew()
    }

    /// Whether a renewal is in flight.
    #[getter]
    fn renewing(&self) -> bool {
        self.inner.renewing()
    }

    /// How many renewals in a row have failed (0 after a success), for logs and metrics.
    #[getter]
    fn failures(&self) -> u32 {
        self.inner.failures()
    }

    /// When the backoff after failed renewals ends (Unix seconds): no renewal is sent before
    /// then. `None` when the last renewal succeeded.
    #[getter]
    fn retry_at(&self) -> Option<u64> {
        self.inner.retry_at()
    }

    /// Until when `next()` keeps answering `Ready` with the current token if nothing else
    /// happens to the session: `next(now)` is `Ready` for every `now < ready_until`
    /// (`2**64 - 1` when the expiry is unknown); `None` when it would not answer `Ready`.
    #[getter]
    fn ready_until(&self) -> Option<u64> {
        self.inner.ready_until()
    }

    fn __repr__(&self) -> String {
        format!(
            "<SessionState of {:?}, tokens: {}, renewing: {}>",
            self.inner.client().client_id(),
            if self.inner.tokens().is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.renewing()
        )
    }
}

/// `next()`: use this access token.
#[pyclass(name = "Ready", module = "grantline._grantline", frozen)]
pub(crate) struct PyReady {
    token: Py<PySecret>,
}

#[pymethods]
impl PyReady {
    /// The access token.
    #[getter]
    fn token(&self, py: Python<'_>) -> Py<PySecret> {
        self.token.clone_ref(py)
    }
    fn __repr__(&self) -> &'static str {
        "Ready(token=[redacted])"
    }
}

/// `next()`: send this renewal request, then `receive(id, response)` or `fail(id, reason)`.
/// `current` is the still-valid access token during a renewal ahead of expiry (`None` when
/// there is no usable token): it may be used right away.
#[pyclass(name = "Send", module = "grantline._grantline", frozen)]
pub(crate) struct PySend {
    id: u64,
    request: Py<PyHttpRequest>,
    current: Option<Py<PySecret>>,
}

#[pymethods]
impl PySend {
    /// The renewal's id.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }
    /// The request to send.
    #[getter]
    fn request(&self, py: Python<'_>) -> Py<PyHttpRequest> {
        self.request.clone_ref(py)
    }
    /// The still-valid current access token, or `None`.
    #[getter]
    fn current(&self, py: Python<'_>) -> Option<Py<PySecret>> {
        self.current.as_ref().map(|c| c.clone_ref(py))
    }
    fn __repr__(&self) -> String {
        format!(
            "Send(id={}, request={}, current={})",
            self.id,
            self.request.get().short_repr(),
            if self.current.is_some() {
                "Secret('[redacted]')"
            } else {
                "None"
            }
        )
    }
}

/// `next()`: renewal `id` is in flight; wait for it, then call `waited(id)`.
#[pyclass(name = "Wait", module = "grantline._grantline", frozen)]
pub(crate) struct PyWait {
    pub(crate) id: u64,
}

#[pymethods]
impl PyWait {
    /// The renewal to wait for.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }
    fn __repr__(&self) -> String {
        format!("Wait(id={})", self.id)
    }
}

/// A token set to persist (in `Completion.renewed`, and what `TokenSession`'s `on_tokens`
/// receives), and whether the refresh token changed (rotated, newly issued, or dropped after
/// `invalid_grant`): when it did, only the new set keeps access.
#[pyclass(name = "Renewed", module = "grantline._grantline", frozen)]
pub(crate) struct PyRenewed {
    tokens: Py<PyTokenSet>,
    refresh_token_rotated: bool,
}

#[pymethods]
impl PyRenewed {
    /// The new token set.
    #[getter]
    fn tokens(&self, py: Python<'_>) -> Py<PyTokenSet> {
        self.tokens.clone_ref(py)
    }
    /// Whether the refresh token changed.
    #[getter]
    fn refresh_token_rotated(&self) -> bool {
        self.refresh_token_rotated
    }
    fn __repr__(&self) -> String {
        format!(
            "Renewed(tokens=TokenSet(...), refresh_token_rotated={})",
            if self.refresh_token_rotated {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// What a completed renewal (`receive()`, `fail()`) leaves to do: `renewed`, a token set to
/// persist (then call `delivered(id)`), and `error`, the renewal's own failure (an exception
/// instance, not raised: for logs; callers learn through `waited()`).
#[pyclass(name = "Completion", module = "grantline._grantline", frozen)]
pub(crate) struct PyCompletion {
    renewed: Option<Py<PyRenewed>>,
    error: Option<Py<PyAny>>,
}

#[pymethods]
impl PyCompletion {
    /// The token set to persist, when the renewal produced one.
    #[getter]
    fn renewed(&self, py: Python<'_>) -> Option<Py<PyRenewed>> {
        self.renewed.as_ref().map(|r| r.clone_ref(py))
    }
    /// Why the renewal failed (a `GrantlineError` instance), when it did.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error.as_ref().map(|e| e.clone_ref(py))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let renewed = match &self.renewed {
            Some(r) => r.bind(py).repr().map(|r| r.to_string()).unwrap_or_default(),
            None => "None".to_owned(),
        };
        let error = match &self.error {
            Some(e) => e.bind(py).repr().map(|r| r.to_string()).unwrap_or_default(),
            None => "None".to_owned(),
        };
        format!("Completion(renewed={renewed}, error={error})")
    }
}
