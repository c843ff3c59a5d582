//! OpenID Connect: `IdTokenCheck` (what an ID token must match), `IdTokenClaims` (a validated
//! ID token) and `UserInfo` (the userinfo answer).

use grantline::jose::Algorithm;
use grantline::{
    AccessToken, AuthorizationCode, IdTokenCheck, IdTokenClaims, Nonce, UserInfo, UserInfoAnswer,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::errors::{call, json_object_to_py, now_or};
use crate::http_types::PyHttpResponse;
use crate::jose::{algorithm_names, algorithms, PyVerifiedJws};
use crate::secret::{secret, PySecret, SecretArg};

/// Changes to an `IdTokenCheck` from keyword arguments: leeway, algorithms, access token,
/// code (in that order, as the vectors say).
pub(crate) fn adjust(
    py: Python<'_>,
    mut check: IdTokenCheck,
    leeway: Option<u64>,
    algs: Option<Vec<String>>,
    access_token: Option<SecretArg>,
    code: Option<SecretArg>,
) -> PyResult<IdTokenCheck> {
    if let Some(l) = leeway {
        check = check.leeway(l);
    }
    if let Some(a) = algs {
        let list: Vec<Algorithm> = algorithms(py, &a)?;
        if list.is_empty() {
            return Err(crate::errors::invalid(py, "algorithms is empty"));
        }
        check = check.algorithms(list);
    }
    if let Some(t) = access_token {
        check = check.access_token(&AccessToken::new(t.as_str()));
    }
    if let Some(c) = code {
        check = check.code(&AuthorizationCode::new(c.as_str()));
    }
    Ok(check)
}

/// What an ID token must match (OpenID Connect Core 1.0 §3.1.3.7): issuer, client id, nonce,
/// `max_age`, clock leeway, accepted algorithms, and the access token (`at_hash`) and code
/// (`c_hash`) when given. Built by `Client.id_token_check()` / `refresh_id_token_check()`.
#[pyclass(name = "IdTokenCheck", module = "grantline._grantline", frozen)]
pub(crate) struct PyIdTokenCheck {
    pub(crate) inner: IdTokenCheck,
}

#[pymethods]
impl PyIdTokenCheck {
    #[new]
    #[pyo3(signature = (issuer, client_id, *, nonce = None, max_age = None, leeway = None,
        algorithms = None, access_token = None, code = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        issuer: String,
        client_id: String,
        nonce: Option<SecretArg>,
        max_age: Option<u64>,
        leeway: Option<u64>,
        algorithms: Option<Vec<String>>,
        access_token: Option<SecretArg>,
        code: Option<SecretArg>,
    ) -> PyResult<Self> {
        let mut check = IdTokenCheck::new(issuer, client_id);
        if let Some(n) = nonce {
            check = check.nonce(&Nonce::new(n.as_str()));
        }
        if let Some(m) = max_age {
            check = check.max_age(m);
        }
        adjust(py, check, leeway, algorithms, access_token, code)
            .map(|inner| PyIdTokenCheck { inner })
    }
    /// A copy with these changes.
    #[pyo3(signature = (*, leeway = None, algorithms = None, access_token = None, code = None))]
    fn replace(
        &self,
        py: Python<'_>,
        leeway: Option<u64>,
        algorithms: Option<Vec<String>>,
        access_token: Option<SecretArg>,
        code: Option<SecretArg>,
    ) -> PyResult<Self> {
        adjust(
            py,
            self.inner.clone(),
            leeway,
            algorithms,
            access_token,
            code,
        )
        .map(|inner| PyIdTokenCheck { inner })
    }
    /// The issuer expected.
    #[getter]
    fn issuer(&self) -> &str {
        self.inner.issuer()
    }
    /// The client id expected in `aud`.
    #[getter]
    fn client_id(&self) -> &str {
        self.inner.client_id()
    }
    /// The accepted algorithms (names): pass them to `JwksCache.verify()`.
    #[getter]
    fn algorithms(&self) -> Vec<&'static str> {
        algorithm_names(self.inner.accepted_algorithms())
    }
    /// The nonce expected, when any.
    #[getter]
    fn nonce(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .expected_nonce()
            .map(|n| secret(py, n.secret()))
            .transpose()
    }
    /// The `max_age` checked, when any.
    #[getter]
    fn max_age(&self) -> Option<u64> {
        self.inner.expected_max_age()
    }
    /// The clock leeway in seconds.
    #[getter]
    fn leeway(&self) -> u64 {
        self.inner.clock_leeway()
    }
    /// Checks the claims of an ID token whose signature verified. Raises `IdTokenError`
    /// (with `claim`).
    #[pyo3(signature = (verified, now = None))]
    fn validate(
        &self,
        py: Python<'_>,
        verified: &PyVerifiedJws,
        now: Option<u64>,
    ) -> PyResult<PyIdTokenClaims> {
        call(py, || self.inner.validate(&verified.inner, now_or(now)))
            .map(|inner| PyIdTokenClaims { inner })
    }
    /// Checks an ID token of a refresh answer against the claims of the previous one
    /// (Core 1.0 §12.2).
    #[pyo3(signature = (verified, previous, now = None))]
    fn validate_refreshed(
        &self,
        py: Python<'_>,
        verified: &PyVerifiedJws,
        previous: &PyIdTokenClaims,
        now: Option<u64>,
    ) -> PyResult<PyIdTokenClaims> {
        call(py, || {
            self.inner
                .validate_refreshed(&verified.inner, &previous.inner, now_or(now))
        })
        .map(|inner| PyIdTokenClaims { inner })
    }
    fn __repr__(&self) -> String {
        format!(
            "IdTokenCheck(issuer={:?}, client_id={:?}, nonce={}, max_age={:?}, leeway={}, algorithms={:?})",
            self.inner.issuer(),
            self.inner.client_id(),
            if self.inner.expected_nonce().is_some() { "[redacted]" } else { "None" },
            self.inner.expected_max_age(),
            self.inner.clock_leeway(),
            algorithm_names(self.inner.accepted_algorithms()),
        )
    }
}

/// A validated ID token's claims: `sub`, `iss`, `aud`, `azp`, `exp`, `iat`, `auth_time`,
/// `nonce`, `acr`, `amr`, and every claim in `claims`. `repr()` shows the claim names only.
#[pyclass(name = "IdTokenClaims", module = "grantline._grantline", frozen)]
pub(crate) struct PyIdTokenClaims {
    pub(crate) inner: IdTokenClaims,
}

#[pymethods]
impl PyIdTokenClaims {
    /// The claims as JSON, to keep with the user's session for the check of a later refresh's
    /// ID token (OIDC Core §12.2). Personal data and the nonce: store it as the token set.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }
    /// Claims stored with `to_json()`.
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        call(py, || IdTokenClaims::from_json(json)).map(|inner| PyIdTokenClaims { inner })
    }
    /// The end-user's identifier at the issuer.
    #[getter]
    fn sub(&self) -> &str {
        self.inner.sub()
    }
    /// The issuer.
    #[getter]
    fn iss(&self) -> &str {
        self.inner.issuer()
    }
    /// The audiences (one member when the token had a string).
    #[getter]
    fn aud(&self) -> Vec<String> {
        self.inner.audiences().to_vec()
    }
    /// The authorized party, when any.
    #[getter]
    fn azp(&self) -> Option<&str> {
        self.inner.azp()
    }
    /// Expiry (Unix seconds).
    #[getter]
    fn exp(&self) -> u64 {
        self.inner.expires_at()
    }
    /// Issue time (Unix seconds).
    #[getter]
    fn iat(&self) -> u64 {
        self.inner.issued_at()
    }
    /// When the end-user authenticated, when given.
    #[getter]
    fn auth_time(&self) -> Option<u64> {
        self.inner.auth_time()
    }
    /// The nonce, when any.
    #[getter]
    fn nonce(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .nonce()
            .map(|n| secret(py, n.secret()))
            .transpose()
    }
    /// `acr`, when any.
    #[getter]
    fn acr(&self) -> Option<&str> {
        self.inner.acr()
    }
    /// `amr`, when any.
    #[getter]
    fn amr(&self) -> Option<Vec<String>> {
        self.inner.amr().map(<[String]>::to_vec)
    }
    /// The algorithm the token was signed with.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().name()
    }
    /// Every claim, as received (a new dict on each access).
    #[getter]
    fn claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        json_object_to_py(py, self.inner.claims())
    }
    fn __repr__(&self) -> String {
        format!(
            "IdTokenClaims(iss={:?}, aud={:?}, exp={}, claim_names={:?})",
            self.inner.issuer(),
            self.inner.audiences(),
            self.inner.expires_at(),
            self.inner.claims().keys().collect::<Vec<_>>()
        )
    }
}

/// The end-user's claims from the userinfo endpoint (Core 1.0 §5.3). `repr()` shows the claim
/// names only.
#[pyclass(name = "UserInfo", module = "grantline._grantline", frozen)]
pub(crate) struct PyUserInfo {
    inner: UserInfo,
}

#[pymethods]
impl PyUserInfo {
    /// Parses the userinfo answer; `expected_sub` is the ID token's `sub`. A JSON answer gives
    /// the `UserInfo`; a signed one (`application/jwt`) the compact JWS (a `str`) to verify
    /// (`JwksCache.verify()`), then `UserInfo.from_verified()`. Raises `OAuthError` for a
    /// 401 with a Bearer `error`, `IdTokenError` (`sub`) for another end-user.
    #[classmethod]
    fn from_response(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        response: &PyHttpResponse,
        expected_sub: &str,
    ) -> PyResult<Py<PyAny>> {
        match call(py, || {
            UserInfo::from_response(&response.inner, expected_sub)
        })? {
            UserInfoAnswer::Claims(inner) => Ok(Py::new(py, PyUserInfo { inner })?.into_any()),
            UserInfoAnswer::Signed(jws) => Ok(jws.into_pyobject(py)?.into_any().unbind()),
        }
    }
    /// The claims of a signed answer whose signature verified: `sub` must be `expected_sub`,
    /// `iss` (when present) `issuer`, `aud` (when present) include `client_id`.
    #[classmethod]
    fn from_verified(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        verified: &PyVerifiedJws,
        expected_sub: &str,
        issuer: &str,
        client_id: &str,
    ) -> PyResult<Self> {
        call(py, || {
            UserInfo::from_verified(&verified.inner, expected_sub, issuer, client_id)
        })
        .map(|inner| PyUserInfo { inner })
    }
    /// `sub`.
    #[getter]
    fn sub(&self) -> &str {
        self.inner.sub()
    }
    /// Every claim (a new dict on each access).
    #[getter]
    fn claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        json_object_to_py(py, self.inner.claims())
    }
    fn __repr__(&self) -> String {
        format!(
            "UserInfo(claim_names={:?})",
            self.inner.claims().keys().collect::<Vec<_>>()
        )
    }
}
