//! Token responses, introspection, revocation and the device flow.

use grantline::{
    AccessToken, DeviceAuthorization, DeviceFlow, DevicePoll, DeviceStep, Introspection,
    RefreshToken, TokenSet,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::client::PyClient;
use crate::errors::{call, json_object_to_py, now_or};
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::provider::PyProvider;
use crate::secret::{secret, PySecret, SecretArg};

/// A token set: the access token, maybe a refresh token and an ID token, when it expires.
/// Persist it with `to_json()` (or pickle); `repr()` shows no secret.
#[pyclass(name = "TokenSet", module = "grantline._grantline")]
#[derive(Clone)]
pub(crate) struct PyTokenSet {
    pub(crate) inner: TokenSet,
}

#[pymethods]
impl PyTokenSet {
    #[new]
    #[pyo3(signature = (access_token, refresh_token = None, expires_at = None, issued_at = None))]
    fn py_new(
        access_token: SecretArg,
        refresh_token: Option<SecretArg>,
        expires_at: Option<u64>,
        issued_at: Option<u64>,
    ) -> Self {
        PyTokenSet {
            inner: TokenSet::new(
                AccessToken::new(access_token.as_str()),
                refresh_token.map(|r| RefreshToken::new(r.as_str())),
                expires_at,
                now_or(issued_at),
            ),
        }
    }

    /// Parses a token endpoint response (RFC 6749 §5.1/§5.2): the token set, or the error
    /// raised as `OAuthError` / `MalformedResponseError`. `now`: Unix seconds (default: now).
    /// With `provider` (the one whose token endpoint answered), `scope` is also split on the
    /// provider's own one-character scope separator (`,`); without, on spaces only.
    #[classmethod]
    #[pyo3(signature = (response, now = None, *, provider = None))]
    fn from_response(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        response: &PyHttpResponse,
        now: Option<u64>,
        provider: Option<PyRef<'_, PyProvider>>,
    ) -> PyResult<Self> {
        let now = now_or(now);
        call(py, || match &provider {
            Some(p) => TokenSet::from_response_for(&response.inner, now, &p.inner),
            None => TokenSet::from_response(&response.inner, now),
        })
        .map(|inner| PyTokenSet { inner })
    }

    /// Restores a token set stored with `to_json()`.
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        call(py, || TokenSet::from_json(json)).map(|inner| PyTokenSet { inner })
    }

    /// JSON for storage (contains the tokens in clear: store it as a secret).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The access token.
    #[getter]
    fn access_token(&self, py: Python<'_>) -> PyResult<Py<PySecret>> {
        secret(py, self.inner.access_token().secret())
    }
    /// The token type (`Bearer` for any spelling of it, or when absent).
    #[getter]
    fn token_type(&self) -> &str {
        self.inner.token_type()
    }
    /// Whether the token is a bearer token (`token_type` `Bearer` in any case, or absent):
    /// the only kind grantline sends. Another type (`DPoP`, `N_A`...) is never sent as Bearer.
    #[getter]
    fn is_bearer(&self) -> bool {
        self.inner.is_bearer()
    }
    /// Whether the access token had already expired when the response arrived.
    #[getter]
    fn expired_on_arrival(&self) -> bool {
        self.inner.expired_on_arrival()
    }
    /// The refresh token, when any.
    #[getter]
    fn refresh_token(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .refresh_token()
            .map(|t| secret(py, t.secret()))
            .transpose()
    }
    /// The OpenID Connect ID token (unverified), when any.
    #[getter]
    fn id_token(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .id_token()
            .map(|t| secret(py, t.secret()))
            .transpose()
    }
    /// The ID token an OpenID Connect answer must carry (unverified); raises `IdTokenError`
    /// (claim `id_token`) when there is none.
    fn required_id_token(&self, py: Python<'_>) -> PyResult<Py<PySecret>> {
        let token = call(py, || {
            self.inner
                .required_id_token()
                .map(|t| t.secret().to_owned())
        })?;
        secret(py, &token)
    }
    /// The `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1), when any.
    #[getter]
    fn issued_token_type(&self) -> Option<&str> {
        self.inner.issued_token_type()
    }
    /// When the access token expires (Unix seconds), when known.
    #[getter]
    fn expires_at(&self) -> Option<u64> {
        self.inner.expires_at()
    }
    /// When the token set was received (Unix seconds).
    #[getter]
    fn issued_at(&self) -> u64 {
        self.inner.issued_at()
    }
    /// Where `expires_at` came from: `expires_in`, `expires`, `unverified_jwt_exp`, `unknown`.
    #[getter]
    fn expiry_source(&self) -> &'static str {
        self.inner.expiry_source().as_str()
    }
    /// The granted scopes, or `None` when the response had no `scope`.
    #[getter]
    fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes().map(<[String]>::to_vec)
    }
    /// Members of the response grantline does not interpret.
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        json_object_to_py(py, self.inner.extra())
    }
    /// The lifetime in seconds, when the expiry is known.
    #[getter]
    fn lifetime(&self) -> Option<u64> {
        self.inner.lifetime()
    }
    /// Whether the token expires within `skew` seconds of `now` (skew capped at half the
    /// lifetime).
    fn expires_within(&self, now: u64, skew: u64) -> bool {
        self.inner.expires_within(now, skew)
    }
    /// For a refresh answer: keeps `previous`'s refresh token when this set has none; returns
    /// whether the refresh token rotated (persist this set then).
    fn inherit_refresh_token(&mut self, previous: &PyTokenSet) -> bool {
        self.inner.inherit_refresh_token(&previous.inner)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            slf.get_type().getattr("from_json")?,
            (slf.borrow().inner.to_json(),),
        ))
    }

    fn __repr__(&self) -> String {
        let t = &self.inner;
        let extra: Vec<&str> = t.extra_names().collect();
        format!(
            "TokenSet(access_token=[redacted], token_type={:?}, refresh_token={}, id_token={}, expires_at={}, scopes={}, extra={:?})",
            t.token_type(),
            if t.refresh_token().is_some() { "[redacted]" } else { "None" },
            if t.id_token().is_some() { "[redacted]" } else { "None" },
            t.expires_at().map_or("None".to_owned(), |e| e.to_string()),
            t.scopes().map_or("None".to_owned(), |s| format!("{s:?}")),
            extra,
        )
    }
}

/// A token introspection answer (RFC 7662).
#[pyclass(name = "Introspection", module = "grantline._grantline", frozen)]
pub(crate) struct PyIntrospection {
    inner: Introspection,
}

#[pymethods]
impl PyIntrospection {
    /// Parses an introspection response.
    #[classmethod]
    fn from_response(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        response: &PyHttpResponse,
    ) -> PyResult<Self> {
        call(py, || Introspection::from_response(&response.inner))
            .map(|inner| PyIntrospection { inner })
    }
    /// Whether the token is active.
    #[getter]
    fn active(&self) -> bool {
        self.inner.active
    }
    /// `scope`, split.
    #[getter]
    fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes.clone()
    }
    /// `client_id`.
    #[getter]
    fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }
    /// `username`.
    #[getter]
    fn username(&self) -> Option<&str> {
        self.inner.username.as_deref()
    }
    /// `token_type`.
    #[getter]
    fn token_type(&self) -> Option<&str> {
        self.inner.token_type.as_deref()
    }
    /// `exp` (Unix seconds).
    #[getter]
    fn exp(&self) -> Option<u64> {
        self.inner.exp
    }
    /// `iat` (Unix seconds).
    #[getter]
    fn iat(&self) -> Option<u64> {
        self.inner.iat
    }
    /// `sub`.
    #[getter]
    fn sub(&self) -> Option<&str> {
        self.inner.sub.as_deref()
    }
    /// `iss`.
    #[getter]
    fn iss(&self) -> Option<&str> {
        self.inner.iss.as_deref()
    }
    /// Every other member.
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        json_object_to_py(py, &self.inner.extra)
    }
    fn __repr__(&self) -> String {
        format!(
            "Introspection(active={}, client_id={:?}, sub={:?}, scopes={:?})",
            if self.inner.active { "True" } else { "False" },
            self.inner.client_id,
            self.inner.sub,
            self.inner.scopes
        )
    }
}

/// Checks a revocation response (RFC 7009): returns on success, raises the server's error.
#[pyfunction]
pub(crate) fn check_revocation_response(py: Python<'_>, response: &PyHttpResponse) -> PyResult<()> {
    call(py, || grantline::check_revocation_response(&response.inner))
}

/// A device authorization answer (RFC 8628 §3.2): show `user_code` and `verification_uri` to
/// the user, then poll with `device_code` every `interval` seconds.
#[pyclass(name = "DeviceAuthorization", module = "grantline._grantline", frozen)]
pub(crate) struct PyDeviceAuthorization {
    inner: DeviceAuthorization,
}

#[pymethods]
impl PyDeviceAuthorization {
    /// Parses a device authorization response.
    #[classmethod]
    #[pyo3(signature = (response, now = None))]
    fn from_response(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        response: &PyHttpResponse,
        now: Option<u64>,
    ) -> PyResult<Self> {
        call(py, || {
            DeviceAuthorization::from_response(&response.inner, now_or(now))
        })
        .map(|inner| PyDeviceAuthorization { inner })
    }
    /// The device code (secret).
    #[getter]
    fn device_code(&self, py: Python<'_>) -> PyResult<Py<PySecret>> {
        secret(py, self.inner.device_code.secret())
    }
    /// The code the user types.
    #[getter]
    fn user_code(&self) -> &str {
        &self.inner.user_code
    }
    /// Where the user goes.
    #[getter]
    fn verification_uri(&self) -> &str {
        &self.inner.verification_uri
    }
    /// The same with the code filled in, when given.
    #[getter]
    fn verification_uri_complete(&self) -> Option<&str> {
        self.inner.verification_uri_complete.as_deref()
    }
    /// When the device code expires (Unix seconds), when known.
    #[getter]
    fn expires_at(&self) -> Option<u64> {
        self.inner.expires_at
    }
    /// Seconds between polls.
    #[getter]
    fn interval(&self) -> u64 {
        self.inner.interval
    }
    fn __repr__(&self) -> String {
        format!(
            "DeviceAuthorization(device_code=[redacted], user_code={:?}, verification_uri={:?}, interval={})",
            self.inner.user_code, self.inner.verification_uri, self.inner.interval
        )
    }
}

/// One device poll's answer (RFC 8628 §3.5): `kind` is `tokens` (see `tokens`), `pending` or
/// `slow_down` (wait `interval` seconds and poll again), `expired` or `denied`.
#[pyclass(name = "DevicePoll", module = "grantline._grantline", frozen)]
pub(crate) struct PyDevicePoll {
    kind: &'static str,
    interval: Option<u64>,
    tokens: Option<Py<PyTokenSet>>,
}

#[pymethods]
impl PyDevicePoll {
    /// Parses a poll answer; `interval` is the current polling interval.
    #[classmethod]
    #[pyo3(signature = (response, interval, now = None))]
    fn from_response(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        response: &PyHttpResponse,
        interval: u64,
        now: Option<u64>,
    ) -> PyResult<Self> {
        let poll = call(py, || {
            DevicePoll::from_response(&response.inner, now_or(now), interval)
        })?;
        Ok(match poll {
            DevicePoll::Tokens(t) => PyDevicePoll {
                kind: "tokens",
                interval: None,
                tokens: Some(Py::new(py, PyTokenSet { inner: t })?),
            },
            DevicePoll::Pending { interval } => PyDevicePoll {
                kind: "pending",
                interval: Some(interval),
                tokens: None,
            },
            DevicePoll::SlowDown { interval } => PyDevicePoll {
                kind: "slow_down",
                interval: Some(interval),
                tokens: None,
            },
            DevicePoll::Expired => PyDevicePoll {
                kind: "expired",
                interval: None,
                tokens: None,
            },
            DevicePoll::Denied => PyDevicePoll {
                kind: "denied",
                interval: None,
                tokens: None,
            },
        })
    }
    /// `tokens`, `pending`, `slow_down`, `expired` or `denied`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
    /// For `pending` and `slow_down`: seconds to wait before the next poll.
    #[getter]
    fn interval(&self) -> Option<u64> {
        self.interval
    }
    /// For `tokens`: the token set.
    #[getter]
    fn tokens(&self, py: Python<'_>) -> Option<Py<PyTokenSet>> {
        self.tokens.as_ref().map(|t| t.clone_ref(py))
    }
    fn __repr__(&self) -> String {
        match self.interval {
            Some(i) => format!("DevicePoll({:?}, interval={i})", self.kind),
            None => format!("DevicePoll({:?})", self.kind),
        }
    }
}

/// The device flow's polling loop, as the core decides it (RFC 8628 §3.4–3.5): `next()` says
/// wait (an `int`: seconds) or poll (an `HttpRequest` to send, whose answer goes to
/// `receive()`); waits and polls alternate, starting with a wait; `receive()` gives the token
/// set when the user approved, `None` to go on, and raises when the flow ends (`access_denied`,
/// `expired_token`, or `expired_token` with no HTTP status once the device code's `expires_in`
/// has passed).
#[pyclass(name = "DeviceFlow", module = "grantline._grantline")]
pub(crate) struct PyDeviceFlow {
    inner: DeviceFlow,
}

#[pymethods]
impl PyDeviceFlow {
    #[new]
    fn py_new(device: &PyDeviceAuthorization) -> Self {
        PyDeviceFlow {
            inner: DeviceFlow::new(&device.inner),
        }
    }
    /// The polling interval in force (seconds).
    #[getter]
    fn interval(&self) -> u64 {
        self.inner.interval()
    }
    /// What to do at `now` (default: the system clock): seconds to wait, or a request to send.
    #[pyo3(signature = (client, now = None))]
    fn next(&mut self, py: Python<'_>, client: &PyClient, now: Option<u64>) -> PyResult<Py<PyAny>> {
        let flow = &mut self.inner;
        match call(py, || flow.next(&client.inner, now_or(now)))? {
            DeviceStep::Wait { seconds } => Ok(seconds.into_pyobject(py)?.into_any().unbind()),
            DeviceStep::Poll(request) => Ok(Py::new(py, PyHttpRequest::wrap(*request))?.into_any()),
        }
    }
    /// Hands in a poll's answer: the token set, or `None` to go on.
    #[pyo3(signature = (response, now = None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        response: &PyHttpResponse,
        now: Option<u64>,
    ) -> PyResult<Option<Py<PyTokenSet>>> {
        let flow = &mut self.inner;
        match call(py, || flow.receive(&response.inner, now_or(now)))? {
            Some(t) => Ok(Some(Py::new(py, PyTokenSet { inner: t })?)),
            None => Ok(None),
        }
    }
    fn __repr__(&self) -> String {
        format!(
            "DeviceFlow(device_code=[redacted], interval={})",
            self.inner.interval()
        )
    }
}
