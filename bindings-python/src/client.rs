//! `grantline.Client`: token-endpoint requests for every grant, the authorization URL and the
//! redirect callback.

use grantline::{
    AuthorizationCode, AuthorizationRequest, Client, CodeGrant, DeviceCode, Password,
    PendingAuthorization, PkceVerifier, RefreshToken,
};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::errors::{auth_method_from_name, call, hint_from_name, invalid, pkce_from_name};
use crate::http_types::PyHttpRequest;
use crate::provider::PyProvider;
use crate::secret::{secret, PySecret, SecretArg};

/// An OAuth client registered at a provider: its id, optional secret and redirect URI.
///
/// Every `*_request` method returns an `HttpRequest` to send with a client that does **not**
/// follow redirects; the matching parser takes the `HttpResponse` back.
#[pyclass(name = "Client", module = "grantline._grantline", frozen)]
#[derive(Clone)]
pub(crate) struct PyClient {
    pub(crate) inner: Client,
}

fn request(
    py: Python<'_>,
    f: impl FnOnce() -> Result<http::Request<Vec<u8>>, grantline::Error>,
) -> PyResult<PyHttpRequest> {
    call(py, f).map(PyHttpRequest::wrap)
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (provider, client_id, *, client_secret = None, redirect_uri = None, auth_method = None))]
    fn py_new(
        py: Python<'_>,
        provider: &PyProvider,
        client_id: String,
        client_secret: Option<SecretArg>,
        redirect_uri: Option<String>,
        auth_method: Option<&str>,
    ) -> PyResult<Self> {
        let mut inner = Client::new(provider.inner.clone(), client_id);
        if let Some(s) = client_secret {
            inner = inner.with_secret(s.as_str());
        }
        if let Some(r) = redirect_uri {
            inner = inner.with_redirect_uri(r);
        }
        if let Some(m) = auth_method {
            inner = inner.with_auth_method(auth_method_from_name(py, m)?);
        }
        Ok(PyClient { inner })
    }

    /// The provider.
    #[getter]
    fn provider(&self) -> PyProvider {
        PyProvider {
            inner: self.inner.provider().clone(),
        }
    }
    /// The client id.
    #[getter]
    fn client_id(&self) -> &str {
        self.inner.client_id()
    }
    /// The client secret, when the client has one.
    #[getter]
    fn client_secret(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .client_secret()
            .map(|s| secret(py, s.secret()))
            .transpose()
    }
    /// The redirect URI, when set.
    #[getter]
    fn redirect_uri(&self) -> Option<&str> {
        self.inner.redirect_uri()
    }
    /// The client authentication method in force (`none` for a client without a secret);
    /// `None` for a client with a secret at a provider whose metadata listed only methods
    /// grantline does not speak (requests then raise `ConfigurationError`
    /// `unsupported_auth_method`).
    #[getter]
    fn auth_method(&self) -> Option<&'static str> {
        self.inner.auth_method().map(|m| m.as_str())
    }

    /// The client credentials grant (RFC 6749 §4.4.2).
    #[pyo3(signature = (scopes = Vec::new()))]
    fn client_credentials_request(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
    ) -> PyResult<PyHttpRequest> {
        request(py, || {
            self.inner
                .client_credentials_request(&scopes, crate::errors::now_or(None))
        })
    }

    /// The resource owner password grant (RFC 6749 §4.3.2).
    #[pyo3(signature = (username, password, scopes = Vec::new()))]
    fn password_request(
        &self,
        py: Python<'_>,
        username: &str,
        password: SecretArg,
        scopes: Vec<String>,
    ) -> PyResult<PyHttpRequest> {
        let password = Password::new(password.as_str());
        request(py, || {
            self.inner
                .password_request(username, &password, &scopes, crate::errors::now_or(None))
        })
    }

    /// The refresh token grant (RFC 6749 §6); `scopes` may narrow the grant.
    #[pyo3(signature = (refresh_token, scopes = Vec::new()))]
    fn refresh_request(
        &self,
        py: Python<'_>,
        refresh_token: SecretArg,
        scopes: Vec<String>,
    ) -> PyResult<PyHttpRequest> {
        let token = RefreshToken::new(refresh_token.as_str());
        request(py, || {
            self.inner
                .refresh_request(&token, &scopes, crate::errors::now_or(None))
        })
    }

    /// The authorization URL (RFC 6749 §4.1.1) with `state` and PKCE (S256 by default), and the
    /// pending authorization to keep until the callback. `seed` (64 bytes) makes `state` and
    /// the verifier deterministic, for tests only; by default they come from the OS.
    #[pyo3(signature = (scopes = Vec::new(), *, pkce = "S256", redirect_uri = None, params = Vec::new(), seed = None))]
    fn authorization_url(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        pkce: &str,
        redirect_uri: Option<String>,
        params: Vec<(String, String)>,
        seed: Option<&[u8]>,
    ) -> PyResult<PyAuthorization> {
        let mut req = AuthorizationRequest::new()
            .scopes(scopes)
            .pkce(pkce_from_name(py, pkce)?);
        if let Some(r) = redirect_uri {
            req = req.redirect_uri(r);
        }
        for (k, v) in params {
            req = req.param(k, v);
        }
        let auth = match seed {
            None => call(py, || self.inner.authorization_url(&req))?,
            Some(bytes) => {
                let seed: &[u8; 64] = bytes
                    .try_into()
                    .map_err(|_| invalid(py, format!("seed has {} bytes, not 64", bytes.len())))?;
                call(py, || self.inner.authorization_url_with_seed(&req, seed))?
            }
        };
        Ok(PyAuthorization {
            url: auth.url,
            pending: Py::new(
                py,
                PyPendingAuthorization {
                    inner: auth.pending,
                },
            )?,
        })
    }

    /// Checks the redirect callback (a whole URL or its query) against `pending`: `state` in
    /// constant time, `iss` (RFC 9207), an `error` parameter; returns the code grant.
    fn callback(
        &self,
        py: Python<'_>,
        pending: &PyPendingAuthorization,
        url_or_query: &str,
    ) -> PyResult<PyCodeGrant> {
        call(py, || self.inner.callback(&pending.inner, url_or_query))
            .map(|inner| PyCodeGrant { inner })
    }

    /// A callback without `state`, for providers that start the flow themselves.
    fn unsolicited_callback(&self, py: Python<'_>, url_or_query: &str) -> PyResult<PyCodeGrant> {
        call(py, || self.inner.unsolicited_callback(url_or_query))
            .map(|inner| PyCodeGrant { inner })
    }

    /// The code exchange (RFC 6749 §4.1.3), with the PKCE verifier of the grant.
    fn authorization_code_request(
        &self,
        py: Python<'_>,
        grant: &PyCodeGrant,
    ) -> PyResult<PyHttpRequest> {
        request(py, || {
            self.inner
                .authorization_code_request(&grant.inner, crate::errors::now_or(None))
        })
    }

    /// The device authorization request (RFC 8628 §3.1).
    #[pyo3(signature = (scopes = Vec::new()))]
    fn device_authorization_request(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
    ) -> PyResult<PyHttpRequest> {
        request(py, || {
            self.inner
                .device_authorization_request(&scopes, crate::errors::now_or(None))
        })
    }

    /// One device access token poll (RFC 8628 §3.4).
    fn device_token_request(
        &self,
        py: Python<'_>,
        device_code: SecretArg,
    ) -> PyResult<PyHttpRequest> {
        let code = DeviceCode::new(device_code.as_str());
        request(py, || {
            self.inner
                .device_token_request(&code, crate::errors::now_or(None))
        })
    }

    /// Token introspection (RFC 7662); `refresh_token` for Apicbase's variant.
    #[pyo3(signature = (token, token_type_hint = None, refresh_token = None))]
    fn introspection_request(
        &self,
        py: Python<'_>,
        token: SecretArg,
        token_type_hint: Option<&str>,
        refresh_token: Option<SecretArg>,
    ) -> PyResult<PyHttpRequest> {
        let hint = hint_from_name(py, token_type_hint)?;
        let refresh = refresh_token.map(|r| RefreshToken::new(r.as_str()));
        request(py, || {
            self.inner.introspection_request(
                token.as_str(),
                hint,
                refresh.as_ref(),
                crate::errors::now_or(None),
            )
        })
    }

    /// Token revocation (RFC 7009).
    #[pyo3(signature = (token, token_type_hint = None))]
    fn revocation_request(
        &self,
        py: Python<'_>,
        token: SecretArg,
        token_type_hint: Option<&str>,
    ) -> PyResult<PyHttpRequest> {
        let hint = hint_from_name(py, token_type_hint)?;
        request(py, || {
            self.inner
                .revocation_request(token.as_str(), hint, crate::errors::now_or(None))
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<Client {:?} at {:?}, {}>",
            self.inner.client_id(),
            self.inner.provider().name(),
            self.inner
                .auth_method()
                .map_or("no usable authentication method", |m| m.as_str())
        )
    }
}

/// An authorization URL to send the user to, and the pending authorization to keep.
#[pyclass(name = "Authorization", module = "grantline._grantline", frozen)]
pub(crate) struct PyAuthorization {
    url: String,
    pending: Py<PyPendingAuthorization>,
}

#[pymethods]
impl PyAuthorization {
    /// The URL to send the user's browser to.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }
    /// What to keep until the callback (picklable, or `to_json()`); it holds secrets.
    #[getter]
    fn pending(&self, py: Python<'_>) -> Py<PyPendingAuthorization> {
        self.pending.clone_ref(py)
    }
    fn __repr__(&self) -> String {
        format!("<Authorization {}>", grantline::redact::url(&self.url))
    }
}

/// A pending authorization: `state`, the PKCE verifier, the redirect URI and the expected
/// issuer, kept between the authorization URL and the callback. Store it as secret.
#[pyclass(name = "PendingAuthorization", module = "grantline._grantline", frozen)]
pub(crate) struct PyPendingAuthorization {
    pub(crate) inner: PendingAuthorization,
}

#[pymethods]
impl PyPendingAuthorization {
    /// The anti-CSRF `state`.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PySecret>> {
        secret(py, self.inner.state().secret())
    }
    /// The PKCE code verifier.
    #[getter]
    fn code_verifier(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .code_verifier()
            .map(|v| secret(py, v.secret()))
            .transpose()
    }
    /// The redirect URI the authorization request named.
    #[getter]
    fn redirect_uri(&self) -> Option<&str> {
        self.inner.redirect_uri()
    }
    /// JSON for storage (contains the secrets in clear).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }
    /// Restores a pending authorization stored with `to_json()`.
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        call(py, || PendingAuthorization::from_json(json))
            .map(|inner| PyPendingAuthorization { inner })
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            slf.get_type().getattr("from_json")?,
            (slf.get().inner.to_json(),),
        ))
    }
    fn __repr__(&self) -> String {
        format!(
            "PendingAuthorization(state=[redacted], code_verifier={}, redirect_uri={:?})",
            if self.inner.code_verifier().is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.redirect_uri()
        )
    }
}

/// What a callback yields: the authorization code, with the verifier and redirect URI the
/// code exchange needs.
#[pyclass(name = "CodeGrant", module = "grantline._grantline", frozen)]
pub(crate) struct PyCodeGrant {
    pub(crate) inner: CodeGrant,
}

#[pymethods]
impl PyCodeGrant {
    #[new]
    #[pyo3(signature = (code, code_verifier = None, redirect_uri = None))]
    fn py_new(
        code: SecretArg,
        code_verifier: Option<SecretArg>,
        redirect_uri: Option<String>,
    ) -> Self {
        PyCodeGrant {
            inner: CodeGrant {
                code: AuthorizationCode::new(code.as_str()),
                code_verifier: code_verifier.map(|v| PkceVerifier::new(v.as_str())),
                redirect_uri,
            },
        }
    }
    /// The authorization code.
    #[getter]
    fn code(&self, py: Python<'_>) -> PyResult<Py<PySecret>> {
        secret(py, self.inner.code.secret())
    }
    /// The PKCE verifier, when the authorization used PKCE.
    #[getter]
    fn code_verifier(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .code_verifier
            .as_ref()
            .map(|v| secret(py, v.secret()))
            .transpose()
    }
    /// The redirect URI to repeat in the code exchange.
    #[getter]
    fn redirect_uri(&self) -> Option<&str> {
        self.inner.redirect_uri.as_deref()
    }
    fn __repr__(&self) -> String {
        format!(
            "CodeGrant(code=[redacted], code_verifier={}, redirect_uri={:?})",
            if self.inner.code_verifier.is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.redirect_uri
        )
    }
}
