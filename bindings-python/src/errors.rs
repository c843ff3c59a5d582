//! The core's errors as Python exceptions, names shared with the vectors, and the panic guard.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{SystemTime, UNIX_EPOCH};

use grantline::{
    BodyEncoding, ClientAuthMethod, Endpoint, Error, GrantType, PkceMethod, TokenTypeHint,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Runs a call into the core: its error becomes the matching `grantline` exception, and a panic
/// (a bug: the core never panics on input) becomes `GrantlineError` of kind `internal` instead of
/// pyo3's `PanicException`, which `except Exception` would not catch.
pub(crate) fn call<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(to_pyerr(py, &e)),
        Err(_) => Err(exception(
            py,
            "GrantlineError",
            "internal error in grantline (a bug: please report it)",
            "internal",
            None,
            &[],
        )),
    }
}

/// One attribute of an exception: text (or `None`), or a list of texts.
pub(crate) enum Detail {
    Text(Option<String>),
    List(Vec<String>),
}

impl From<Option<String>> for Detail {
    fn from(value: Option<String>) -> Self {
        Detail::Text(value)
    }
}

impl From<String> for Detail {
    fn from(value: String) -> Self {
        Detail::Text(Some(value))
    }
}

/// The exception for a core error: the class of `grantline._errors` by fault, with the error's
/// kind, status and details as attributes. The message is the core's `Display`, which never
/// carries a secret.
pub(crate) fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    let message = e.to_string();
    let (class, details): (&str, Vec<(&str, Detail)>) = match e {
        Error::OAuth {
            code,
            description,
            uri,
            ..
        } => (
            "OAuthError",
            vec![
                ("error", code.clone().into()),
                ("description", description.clone().into()),
                ("uri", uri.clone().into()),
            ],
        ),
        Error::Malformed {
            reason, excerpt, ..
        } => (
            "MalformedResponseError",
            vec![
                ("reason", reason.clone().into()),
                ("excerpt", excerpt.clone().into()),
            ],
        ),
        Error::UnexpectedStatus { excerpt, .. } => (
            "MalformedResponseError",
            vec![("excerpt", excerpt.clone().into())],
        ),
        Error::UnusableToken { reason } => (
            "MalformedResponseError",
            vec![("reason", reason.clone().into())],
        ),
        Error::StateMismatch => ("StateMismatchError", vec![]),
        Error::IssuerMismatch { expected, received } => (
            "StateMismatchError",
            vec![
                ("expected", expected.clone().into()),
                ("received", received.clone().into()),
            ],
        ),
        Error::InsecureEndpoint { url } => {
            ("ConfigurationError", vec![("url", url.clone().into())])
        }
        Error::MissingEndpoint { endpoint } => (
            "ConfigurationError",
            vec![("endpoint", endpoint_name(*endpoint).to_owned().into())],
        ),
        Error::UnsupportedGrant { grant } => (
            "ConfigurationError",
            vec![("grant", grant.name().to_owned().into())],
        ),
        Error::InvalidInput { reason } => (
            "ConfigurationError",
            vec![("reason", reason.clone().into())],
        ),
        Error::UnsupportedAuthMethod { offered } => (
            "ConfigurationError",
            vec![("offered", Detail::List(offered.clone()))],
        ),
        Error::UnsupportedTokenType { token_type } => (
            "ConfigurationError",
            vec![("token_type", token_type.clone().into())],
        ),
        Error::UnexpectedResponse { .. } => ("ConfigurationError", vec![]),
        Error::ReauthorizationRequired => ("ReauthorizationRequiredError", vec![]),
        Error::Transport { reason } => ("TransportError", vec![("reason", reason.clone().into())]),
        Error::Store { reason } => ("StoreError", vec![("reason", reason.clone().into())]),
        Error::Jws { problem } => (
            "JwsError",
            vec![("problem", problem.kind().to_owned().into())],
        ),
        Error::IdToken { claim, reason } => (
            "IdTokenError",
            vec![
                ("claim", claim.clone().into()),
                ("reason", reason.clone().into()),
            ],
        ),
        Error::InvalidKey { reason } => {
            ("InvalidKeyError", vec![("reason", reason.clone().into())])
        }
        _ => ("GrantlineError", vec![]),
    };
    exception(py, class, &message, e.kind(), e.status(), &details)
}

/// An instance of `grantline._errors.<class>(message, kind=..., status=..., **details)`.
pub(crate) fn exception(
    py: Python<'_>,
    class: &str,
    message: &str,
    kind: &str,
    status: Option<u16>,
    details: &[(&str, Detail)],
) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let module = ERRORS
            .get_or_try_init(py, || py.import("grantline._errors").map(Bound::unbind))?
            .bind(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item("kind", kind)?;
        kwargs.set_item("status", status)?;
        for (name, value) in details {
            match value {
                Detail::Text(text) => kwargs.set_item(*name, text)?,
                Detail::List(items) => kwargs.set_item(*name, items)?,
            }
        }
        let instance = module.getattr(class)?.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(instance))
    })();
    made.unwrap_or_else(|failure| {
        let err = PyRuntimeError::new_err(format!("grantline ({kind}): {message}"));
        err.set_cause(py, Some(failure));
        err
    })
}

/// An `invalid_input` error for a bad argument from Python.
pub(crate) fn invalid(py: Python<'_>, reason: impl Into<String>) -> PyErr {
    to_pyerr(
        py,
        &Error::InvalidInput {
            reason: reason.into(),
        },
    )
}

/// The current time in Unix seconds, when the caller passed no `now`.
pub(crate) fn now_or(now: Option<u64>) -> u64 {
    now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// A grant by its short name (`device_code`) or its `grant_type` value.
pub(crate) fn grant_from_name(py: Python<'_>, name: &str) -> PyResult<GrantType> {
    GrantType::from_name(name).ok_or_else(|| invalid(py, format!("unknown grant {name:?}")))
}

pub(crate) fn endpoint_name(e: Endpoint) -> &'static str {
    e.as_str()
}

pub(crate) fn body_encoding_name(e: BodyEncoding) -> &'static str {
    match e {
        BodyEncoding::Form => "form",
        BodyEncoding::Json => "json",
    }
}

pub(crate) fn body_encoding_from_name(py: Python<'_>, name: &str) -> PyResult<BodyEncoding> {
    match name {
        "form" => Ok(BodyEncoding::Form),
        "json" => Ok(BodyEncoding::Json),
        other => Err(invalid(
            py,
            format!("unknown body encoding {other:?} (\"form\" or \"json\")"),
        )),
    }
}

pub(crate) fn auth_method_from_name(py: Python<'_>, name: &str) -> PyResult<ClientAuthMethod> {
    ClientAuthMethod::parse(name).ok_or_else(|| {
        invalid(
            py,
            format!(
                "unknown client authentication method {name:?} \
                 (\"client_secret_basic\", \"client_secret_post\", \"private_key_jwt\", \"client_secret_jwt\" or \"none\")"
            ),
        )
    })
}

pub(crate) fn assertion_audience_from_name(
    py: Python<'_>,
    name: &str,
) -> PyResult<grantline::AssertionAudience> {
    grantline::AssertionAudience::parse(name).ok_or_else(|| {
        invalid(
            py,
            format!("unknown assertion audience {name:?} (\"issuer\" or \"token_endpoint\")"),
        )
    })
}

pub(crate) fn pkce_from_name(py: Python<'_>, name: &str) -> PyResult<PkceMethod> {
    match name {
        "S256" => Ok(PkceMethod::S256),
        "plain" => Ok(PkceMethod::Plain),
        other => Err(invalid(
            py,
            format!("unknown PKCE method {other:?} (\"S256\" or \"plain\")"),
        )),
    }
}

pub(crate) fn hint_from_name(
    py: Python<'_>,
    name: Option<&str>,
) -> PyResult<Option<TokenTypeHint>> {
    match name {
        None => Ok(None),
        Some("access_token") => Ok(Some(TokenTypeHint::AccessToken)),
        Some("refresh_token") => Ok(Some(TokenTypeHint::RefreshToken)),
        Some(other) => Err(invalid(
            py,
            format!("unknown token type hint {other:?} (\"access_token\" or \"refresh_token\")"),
        )),
    }
}

/// A JSON value as the equivalent Python object (dict, list, str, int, float, bool, None).
pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    value: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::PyList;
    use pyo3::IntoPyObjectExt as _;
    use serde_json::Value;
    match value {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        Value::String(s) => s.into_bound_py_any(py),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(map) => json_object_to_py(py, map).map(Bound::into_any),
    }
}

/// A JSON object as a Python dict.
pub(crate) fn json_object_to_py<'py>(
    py: Python<'py>,
    map: &serde_json::Map<String, serde_json::Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, json_to_py(py, v)?)?;
    }
    Ok(dict)
}
