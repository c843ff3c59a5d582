//! grantline for Python: the extension module `grantline._grantline`.
//!
//! A thin layer over the sans-IO core ([`grantline`]): it converts Python values to the core's
//! types and back, and maps the core's [`grantline::Error`] to the exception classes of
//! `grantline._errors`. Every protocol decision (request building, parsing, expiry, rotation,
//! single-flight renewal) is the core's; the pure-Python modules of the package only perform
//! HTTP and wait.
//!
//! No Rust panic reaches Python as `PanicException`: every call into the core goes through
//! `errors::call`, which turns a panic into a `grantline.GrantlineError` of kind `internal`.

mod bearer;
mod client;
mod discovery;
mod errors;
mod fleet;
mod http_types;
mod jose;
mod oidc;
mod provider;
mod secret;
mod session;
mod tokens;

use pyo3::prelude::*;

/// The extension module: every class and function of the sans-IO layer.
#[pymodule]
fn _grantline(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_BODY", grantline::MAX_BODY)?;
    m.add("REDACTED", grantline::secret::REDACTED)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<secret::PySecret>()?;
    m.add_class::<http_types::PyHttpRequest>()?;
    m.add_class::<http_types::PyHttpResponse>()?;
    m.add_class::<provider::PyProvider>()?;
    m.add_class::<discovery::PyDiscovery>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<client::PyAuthorization>()?;
    m.add_class::<client::PyPendingAuthorization>()?;
    m.add_class::<client::PyCodeGrant>()?;
    m.add_class::<tokens::PyTokenSet>()?;
    m.add_class::<tokens::PyIntrospection>()?;
    m.add_class::<tokens::PyDeviceAuthorization>()?;
    m.add_class::<tokens::PyDevicePoll>()?;
    m.add_class::<tokens::PyDeviceFlow>()?;
    m.add_class::<bearer::PyChallenge>()?;
    m.add_class::<bearer::PyBearerChallenge>()?;
    m.add_class::<jose::PySigningKey>()?;
    m.add_class::<jose::PyJwk>()?;
    m.add_class::<jose::PyJwkSet>()?;
    m.add_class::<jose::PyVerifiedJws>()?;
    m.add_class::<jose::PyJwksCache>()?;
    m.add_class::<oidc::PyIdTokenCheck>()?;
    m.add_class::<oidc::PyIdTokenClaims>()?;
    m.add_class::<oidc::PyUserInfo>()?;
    m.add_class::<session::PySessionState>()?;
    m.add_class::<session::PyReady>()?;
    m.add_class::<session::PySend>()?;
    m.add_class::<session::PyWait>()?;
    m.add_class::<session::PyRenewed>()?;
    m.add_class::<session::PyCompletion>()?;
    fleet::register(m)?;
    m.add_function(wrap_pyfunction!(tokens::check_revocation_response, m)?)?;
    m.add_function(wrap_pyfunction!(bearer::parse_www_authenticate, m)?)?;
    m.add_function(wrap_pyfunction!(bearer::bearer_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(bearer::needs_renewal, m)?)?;
    m.add_function(wrap_pyfunction!(bearer::authorization_header, m)?)?;
    m.add_function(wrap_pyfunction!(http_types::redact_url, m)?)?;
    Ok(())
}
