//! Using a token (RFC 6750): the `Authorization` header and `WWW-Authenticate` challenges.

use grantline::AccessToken;
use pyo3::prelude::*;

use crate::errors::call;
use crate::http_types::PyHttpResponse;
use crate::secret::SecretArg;
use crate::tokens::PyTokenSet;

/// One `WWW-Authenticate` challenge (RFC 9110 §11.6.1).
#[pyclass(name = "Challenge", module = "grantline._grantline", frozen)]
pub(crate) struct PyChallenge {
    inner: grantline::Challenge,
}

#[pymethods]
impl PyChallenge {
    /// The scheme, as sent (`Bearer`, `Basic`...).
    #[getter]
    fn scheme(&self) -> &str {
        &self.inner.scheme
    }
    /// The token68 form of the challenge, when used.
    #[getter]
    fn token68(&self) -> Option<&str> {
        self.inner.token68.as_deref()
    }
    /// The parameters, names lowercased, quoted strings unescaped, in order.
    #[getter]
    fn params(&self) -> Vec<(String, String)> {
        self.inner.params.clone()
    }
    /// A parameter by name (any case).
    fn param(&self, name: &str) -> Option<&str> {
        self.inner.param(name)
    }
    fn __repr__(&self) -> String {
        format!(
            "Challenge(scheme={:?}, params={:?})",
            self.inner.scheme, self.inner.params
        )
    }
}

/// A `Bearer` challenge's parameters (RFC 6750 §3).
#[pyclass(name = "BearerChallenge", module = "grantline._grantline", frozen)]
pub(crate) struct PyBearerChallenge {
    inner: grantline::BearerChallenge,
}

#[pymethods]
impl PyBearerChallenge {
    /// `realm`.
    #[getter]
    fn realm(&self) -> Option<&str> {
        self.inner.realm.as_deref()
    }
    /// `scope`, split.
    #[getter]
    fn scope(&self) -> Option<Vec<String>> {
        self.inner.scope.clone()
    }
    /// `error` (`invalid_token`, `insufficient_scope`...).
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }
    /// `error_description`.
    #[getter]
    fn error_description(&self) -> Option<&str> {
        self.inner.error_description.as_deref()
    }
    /// `error_uri`.
    #[getter]
    fn error_uri(&self) -> Option<&str> {
        self.inner.error_uri.as_deref()
    }
    fn __repr__(&self) -> String {
        format!(
            "BearerChallenge(realm={:?}, error={:?})",
            self.inner.realm, self.inner.error
        )
    }
}

/// Every challenge of one `WWW-Authenticate` header value.
#[pyfunction]
pub(crate) fn parse_www_authenticate(value: &str) -> Vec<PyChallenge> {
    grantline::bearer::parse_www_authenticate(value)
        .into_iter()
        .map(|inner| PyChallenge { inner })
        .collect()
}

/// The first `Bearer` challenge of a response's `WWW-Authenticate` headers, or `None`.
#[pyfunction]
pub(crate) fn bearer_challenge(response: &PyHttpResponse) -> Option<PyBearerChallenge> {
    grantline::bearer::bearer_challenge(response.inner.headers())
        .map(|inner| PyBearerChallenge { inner })
}

/// Whether an API's response means "renew the token and retry": 401 with no `Bearer` error, or
/// with `invalid_token`.
#[pyfunction]
pub(crate) fn needs_renewal(response: &PyHttpResponse) -> bool {
    grantline::bearer::needs_renewal(response.inner.status().as_u16(), response.inner.headers())
}

/// The `Authorization` header value: `Bearer <token>`, for an access token (`str` or
/// `Secret`) or a `TokenSet`. A token set whose `token_type` is not Bearer (`DPoP`, `N_A`...)
/// raises `ConfigurationError` (`unsupported_token_type`): it must not be sent as Bearer.
#[pyfunction]
pub(crate) fn authorization_header(py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<String> {
    let value = if let Ok(tokens) = token.cast::<PyTokenSet>() {
        let tokens = tokens.borrow();
        call(py, || {
            grantline::bearer::authorization_header_for(&tokens.inner)
        })?
    } else {
        let token = AccessToken::new(token.extract::<SecretArg>()?.as_str());
        call(py, || grantline::bearer::authorization_header(&token))?
    };
    Ok(String::from_utf8_lossy(value.as_bytes()).into_owned())
}
