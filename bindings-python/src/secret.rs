//! `grantline.Secret`: a secret value that never prints.

use pyo3::prelude::*;
use pyo3::types::PyString;
use zeroize::Zeroizing;

/// A secret (client secret, token, code, PKCE verifier, password, device code, state).
///
/// `repr()` and `str()` print `[redacted]`; the value is read only through `.secret()`.
/// Equality with another `Secret` or a `str` runs in constant time (for equal lengths); secrets
/// are not hashable. The value is zeroized when the object is freed (copies made by `.secret()`
/// are ordinary Python strings).
#[pyclass(name = "Secret", module = "grantline._grantline", frozen)]
pub(crate) struct PySecret {
    value: Zeroizing<String>,
}

impl PySecret {
    pub(crate) fn new(value: &str) -> Self {
        PySecret {
            value: Zeroizing::new(value.to_owned()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        self.value.as_str()
    }
}

#[pymethods]
impl PySecret {
    #[new]
    fn py_new(value: String) -> Self {
        PySecret {
            value: Zeroizing::new(value),
        }
    }

    /// The secret value itself. Every read of a secret goes through here: never log it.
    fn secret(&self) -> &str {
        &self.value
    }

    fn __repr__(&self) -> &'static str {
        "Secret('[redacted]')"
    }

    fn __str__(&self) -> &'static str {
        grantline::secret::REDACTED
    }

    fn __len__(&self) -> usize {
        self.value.chars().count()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        let theirs = if let Ok(s) = other.cast::<PySecret>() {
            return ct_eq(self.as_str(), s.get().as_str());
        } else if let Ok(s) = other.cast::<PyString>() {
            s.to_cow().map(|c| c.into_owned()).unwrap_or_default()
        } else {
            return false;
        };
        ct_eq(self.as_str(), &theirs)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().into_any(), (slf.get().value.to_string(),)))
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    grantline::ClientSecret::new(a).ct_eq(b)
}

/// A secret argument: a `Secret` or a plain `str`.
pub(crate) struct SecretArg(pub(crate) Zeroizing<String>);

impl<'py> FromPyObject<'_, 'py> for SecretArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PySecret>() {
            return Ok(SecretArg(Zeroizing::new(s.get().as_str().to_owned())));
        }
        let s: String = obj.extract()?;
        Ok(SecretArg(Zeroizing::new(s)))
    }
}

impl SecretArg {
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A new Python `Secret` holding `value`.
pub(crate) fn secret(py: Python<'_>, value: &str) -> PyResult<Py<PySecret>> {
    Py::new(py, PySecret::new(value))
}
