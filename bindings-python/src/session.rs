//! `grantline.SessionState`: the core's token lifecycle state machine, for a binding (or a
//! user) to drive. `grantline.TokenSession` and `AsyncTokenSession` wrap it with the waiting.

use grantline::{Next, Password, SessionGrant, TokenSession};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::client::PyClient;
use crate::errors::{call, now_or, to_pyerr};
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::secret::{secret, PySecret, SecretArg};
use crate::tokens::PyTokenSet;

/// The token lifecycle, sans-IO: `next()` says use this token (`Ready`), send this renewal
/// (`Send`: then `receive()` its response or `fail()` it) or wait for the renewal in flight
/// (`Wait`: then `waited()`). Exactly one renewal is in flight at a time. Not thread-safe by
/// itself: `TokenSession` and `AsyncTokenSession` serialize access to it.
#[pyclass(name = "SessionState", module = "grantline._grantline")]
pub(crate) struct PySessionState {
    inner: TokenSession,
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

impl PySessionState {
    fn step(&mut self, py: Python<'_>, next: Next) -> PyResult<Py<PyAny>> {
        Ok(match next {
            Next::Ready(token) => {
                if let Some(ready) = &self.ready {
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
                self.ready = Some(ready.clone_ref(py));
                ready.into_any()
            }
            Next::Send { id, request } => Py::new(
                py,
                PySend {
                    id,
                    request: Py::new(py, PyHttpRequest::wrap(*request))?,
                },
            )?
            .into_any(),
            Next::Wait { id } => Py::new(py, PyWait { id })?.into_any(),
        })
    }
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
    /// the refresh token, and raises `ReauthorizationRequiredError` when it cannot.
    #[classmethod]
    #[pyo3(signature = (client, tokens, *, skew = None))]
    fn from_tokens(
        _cls: &Bound<'_, PyType>,
        client: &PyClient,
        tokens: PyRef<'_, PyTokenSet>,
        skew: Option<u64>,
    ) -> Self {
        build(
            TokenSession::from_tokens(client.inner.clone(), tokens.inner.clone()),
            None,
            skew,
        )
    }

    /// What to do now: `Ready`, `Send` or `Wait`. `now`: Unix seconds (default: now).
    #[pyo3(signature = (now = None))]
    fn next(&mut self, py: Python<'_>, now: Option<u64>) -> PyResult<Py<PyAny>> {
        let next = call(py, || self.inner.next(now_or(now)))?;
        self.step(py, next)
    }

    /// Hands the response of renewal `id` to the session: the new token set (persist it), or
    /// the renewal's error raised.
    #[pyo3(signature = (id, response, now = None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        id: u64,
        response: &PyHttpResponse,
        now: Option<u64>,
    ) -> PyResult<PyRenewed> {
        let renewed = call(py, || self.inner.receive(id, &response.inner, now_or(now)))?;
        Ok(PyRenewed {
            tokens: Py::new(
                py,
                PyTokenSet {
                    inner: renewed.tokens,
                },
            )?,
            refresh_token_rotated: renewed.refresh_token_rotated,
        })
    }

    /// Reports that renewal `id` could not be sent or its answer not received; returns the
    /// `TransportError` to raise (waiters get the same from `waited()`).
    fn fail(&mut self, py: Python<'_>, id: u64, reason: String) -> PyResult<Py<PyAny>> {
        let error = call(py, || self.inner.fail(id, reason))?;
        Ok(to_pyerr(py, &error).into_value(py).into_any())
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
        PyClient {
            inner: self.inner.client().clone(),
        }
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
#[pyclass(name = "Send", module = "grantline._grantline", frozen)]
pub(crate) struct PySend {
    id: u64,
    request: Py<PyHttpRequest>,
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
    fn __repr__(&self) -> String {
        format!(
            "Send(id={}, request={})",
            self.id,
            self.request.get().short_repr()
        )
    }
}

/// `next()`: renewal `id` is in flight; wait for it, then call `waited(id)`.
#[pyclass(name = "Wait", module = "grantline._grantline", frozen)]
pub(crate) struct PyWait {
    id: u64,
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

/// A renewal's result: the new token set (persist it) and whether the refresh token rotated.
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
