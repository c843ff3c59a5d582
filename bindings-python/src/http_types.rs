//! `HttpRequest` (what the core built, to send) and `HttpResponse` (what came back, to parse).

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::errors::invalid;

/// An HTTP request to send: `method`, `url`, `headers` and `body` bytes.
///
/// Built by `Client`'s `*_request` methods (or by hand for API calls). Send it with a client that
/// does **not** follow redirects. `repr()` shows it with every secret redacted.
#[pyclass(name = "HttpRequest", module = "grantline._grantline", frozen)]
pub(crate) struct PyHttpRequest {
    pub(crate) inner: http::Request<Vec<u8>>,
}

impl PyHttpRequest {
    pub(crate) fn wrap(inner: http::Request<Vec<u8>>) -> Self {
        PyHttpRequest { inner }
    }

    /// `<HttpRequest METHOD url>`, secret query parameters redacted.
    pub(crate) fn short_repr(&self) -> String {
        format!(
            "<HttpRequest {} {}>",
            self.inner.method(),
            grantline::redact::url(&self.inner.uri().to_string())
        )
    }
}

#[pymethods]
impl PyHttpRequest {
    #[new]
    #[pyo3(signature = (method, url, headers = None, body = None))]
    fn py_new(
        py: Python<'_>,
        method: &str,
        url: &str,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&[u8]>,
    ) -> PyResult<Self> {
        let headers = header_map(py, headers)?;
        let mut inner = http::Request::builder()
            .method(method)
            .uri(url)
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| {
                invalid(
                    py,
                    format!(
                        "invalid request {method} {}: {e}",
                        grantline::redact::url(url)
                    ),
                )
            })?;
        *inner.headers_mut() = headers;
        Ok(PyHttpRequest { inner })
    }

    /// The method, e.g. `"POST"`.
    #[getter]
    fn method(&self) -> &str {
        self.inner.method().as_str()
    }

    /// The absolute URL.
    #[getter]
    fn url(&self) -> String {
        self.inner.uri().to_string()
    }

    /// The headers, lowercase names; a repeated header's values joined with `", "`.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for name in self.inner.headers().keys() {
            let values: Vec<String> = self
                .inner
                .headers()
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            dict.set_item(name.as_str(), values.join(", "))?;
        }
        Ok(dict)
    }

    /// The body bytes (empty for none).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.body())
    }

    /// The request as text, every secret (credentials, tokens, codes, passwords) redacted.
    fn __str__(&self) -> String {
        grantline::redact::request(&self.inner).to_string()
    }

    fn __repr__(&self) -> String {
        self.short_repr()
    }
}

/// An HTTP response to parse: `status`, `headers` (a mapping, or pairs for repeated headers)
/// and `body` bytes. Transports build it; a parser takes it.
#[pyclass(name = "HttpResponse", module = "grantline._grantline", frozen)]
pub(crate) struct PyHttpResponse {
    pub(crate) inner: http::Response<Vec<u8>>,
}

#[pymethods]
impl PyHttpResponse {
    #[new]
    #[pyo3(signature = (status, headers = None, body = None))]
    fn py_new(
        py: Python<'_>,
        status: u16,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&[u8]>,
    ) -> PyResult<Self> {
        let status = http::StatusCode::from_u16(status)
            .map_err(|_| invalid(py, format!("invalid HTTP status {status}")))?;
        let mut inner = http::Response::new(body.map(<[u8]>::to_vec).unwrap_or_default());
        *inner.status_mut() = status;
        *inner.headers_mut() = header_map(py, headers)?;
        Ok(PyHttpResponse { inner })
    }

    /// The HTTP status code.
    #[getter]
    fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// Every header as `(name, value)` pairs, lowercase names, repeated headers in order.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (name, value) in self.inner.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            list.append(PyTuple::new(py, [name.as_str(), value.as_ref()])?)?;
        }
        Ok(list)
    }

    /// The body bytes.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.body())
    }

    /// The first value of header `name` (any case), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.inner
            .headers()
            .get(name.to_ascii_lowercase().as_str())
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn __repr__(&self) -> String {
        format!(
            "<HttpResponse {} ({} bytes)>",
            self.inner.status().as_u16(),
            self.inner.body().len()
        )
    }
}

/// A header map from a mapping (its `items()`), a dict (fast path) or an iterable of pairs.
fn header_map(py: Python<'_>, headers: Option<&Bound<'_, PyAny>>) -> PyResult<http::HeaderMap> {
    let Some(headers) = headers else {
        return Ok(http::HeaderMap::new());
    };
    let mut map = http::HeaderMap::with_capacity(headers.len().unwrap_or(0));
    let mut add = |name: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>| -> PyResult<()> {
        let name = name.cast::<PyString>()?.to_cow()?;
        let value = value.cast::<PyString>()?.to_cow()?;
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(py, format!("invalid header name {name:?}")))?;
        let value = http::HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| invalid(py, format!("invalid value for header {name:?}")))?;
        map.append(header, value);
        Ok(())
    };
    if let Ok(dict) = headers.cast::<PyDict>() {
        for (name, value) in dict.iter() {
            add(&name, &value)?;
        }
        return Ok(map);
    }
    let items = if headers.hasattr(intern!(py, "items"))? {
        headers.call_method0(intern!(py, "items"))?
    } else {
        headers.clone()
    };
    for item in items.try_iter()? {
        let item = item?;
        let pair = item.cast::<PyTuple>().map_err(|_| {
            PyTypeError::new_err("headers: a mapping, or an iterable of (name, value) tuples")
        })?;
        if pair.len() != 2 {
            return Err(PyTypeError::new_err(
                "headers: each item is a (name, value) pair",
            ));
        }
        add(&pair.get_item(0)?, &pair.get_item(1)?)?;
    }
    Ok(map)
}

/// `url` with the values of secret query parameters (`state`, `code`, tokens...) redacted.
#[pyfunction]
pub(crate) fn redact_url(url: &str) -> String {
    grantline::redact::url(url)
}
