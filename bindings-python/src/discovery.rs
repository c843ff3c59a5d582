//! `grantline.Discovery`: discovery bound to the issuer (RFC 8414 §3, OpenID Connect Discovery
//! 1.0 §4), sans-IO. `grantline.discover` and `grantline.aio.discover` drive it.

use grantline::Discovery;
use pyo3::prelude::*;

use crate::errors::call;
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::provider::PyProvider;

/// One discovery: the expected issuer, the well-known URLs to try in order, and which one is
/// next. Send `request()` (never following redirects) and hand its answer to `receive()`:
/// a `Provider` when it is the document, `None` when it was a 404 and another URL is left
/// (send `request()` again). A document that names another issuer raises
/// `StateMismatchError` (kind `issuer_mismatch`).
#[pyclass(name = "Discovery", module = "grantline._grantline")]
pub(crate) struct PyDiscovery {
    inner: Discovery,
}

#[pymethods]
impl PyDiscovery {
    /// Discovery of an issuer (`https://as.example/tenant1`), or of a full well-known URL (its
    /// issuer is derived). Raises `ConfigurationError` for an insecure or invalid input.
    #[new]
    fn py_new(py: Python<'_>, issuer_or_url: &str) -> PyResult<Self> {
        call(py, || Discovery::new(issuer_or_url)).map(|inner| PyDiscovery { inner })
    }

    /// The issuer the document must name.
    #[getter]
    fn issuer(&self) -> &str {
        self.inner.issuer()
    }

    /// Every well-known URL this discovery tries, in order.
    #[getter]
    fn urls(&self) -> Vec<String> {
        self.inner.urls()
    }

    /// The request to send now: `GET` the current well-known URL, `accept: application/json`.
    fn request(&self) -> PyHttpRequest {
        PyHttpRequest::wrap(self.inner.request())
    }

    /// Reads the answer to `request()`: the `Provider`, or `None` after a 404 when another URL
    /// is left. Raises `MalformedResponseError` (another status, an oversized or invalid
    /// document), `StateMismatchError` (`issuer_mismatch`) or `ConfigurationError`.
    fn receive(
        &mut self,
        py: Python<'_>,
        response: &PyHttpResponse,
    ) -> PyResult<Option<PyProvider>> {
        let found = call(py, || self.inner.receive(&response.inner))?;
        Ok(found.map(|inner| PyProvider { inner }))
    }

    fn __repr__(&self) -> String {
        format!("<Discovery of {:?}>", self.inner.issuer())
    }
}
