//! JOSE: `SigningKey` (private keys that sign, e.g. RFC 7523 assertions), `Jwk` and `JwkSet`
//! (public keys that verify), `VerifiedJws`, and the sans-IO `JwksCache` (key rotation).

use std::sync::{Mutex, MutexGuard};

use grantline::jose::{Algorithm, Jwk, JwkSet, JwksCache, JwksStep, SigningKey, VerifiedJws};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use crate::errors::{call, invalid, json_object_to_py, now_or};
use crate::http_types::{PyHttpRequest, PyHttpResponse};
use crate::provider::PyProvider;
use crate::secret::SecretArg;

/// An algorithm by its exact JOSE name (`RS256`, `ES256`, `EdDSA`...).
pub(crate) fn algorithm(py: Python<'_>, name: &str) -> PyResult<Algorithm> {
    Algorithm::from_name(name).ok_or_else(|| {
        invalid(
            py,
            format!(
                "unknown JWS algorithm {:?} (one of {})",
                name.chars().take(32).collect::<String>(),
                Algorithm::ALL.map(Algorithm::name).join(", ")
            ),
        )
    })
}

/// A list of algorithm names.
pub(crate) fn algorithms(py: Python<'_>, names: &[String]) -> PyResult<Vec<Algorithm>> {
    names.iter().map(|n| algorithm(py, n)).collect()
}

/// Names of algorithms.
pub(crate) fn algorithm_names(algs: &[Algorithm]) -> Vec<&'static str> {
    algs.iter().map(|a| a.name()).collect()
}

/// A Python mapping (`dict`) as a JSON object, through the standard `json` module (so only
/// JSON-able values pass: `TypeError` otherwise).
pub(crate) fn json_object(
    py: Python<'_>,
    what: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    if !value.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!("{what} must be a dict")));
    }
    let text: String = py
        .import("json")?
        .call_method1("dumps", (value,))?
        .extract()?;
    serde_json::from_str(&text)
        .map_err(|_| PyTypeError::new_err(format!("{what} is not a JSON object")))
}

/// A private key that signs compact JWS: `RS256`/`PS256` (RSA), `ES256`/`ES384` (EC),
/// `EdDSA` (Ed25519), `HS256` (a shared secret). A secret: `repr()` shows the algorithm and
/// `kid` only, it does not pickle, and the key material is zeroized when freed.
#[pyclass(name = "SigningKey", module = "grantline._grantline", frozen)]
#[derive(Clone)]
pub(crate) struct PySigningKey {
    pub(crate) inner: SigningKey,
}

#[pymethods]
impl PySigningKey {
    /// A private JWK (JSON text): `RSA`, `EC` P-256/P-384, `OKP` Ed25519 or `oct`. The
    /// algorithm is the JWK's `alg` or the key type's default; the `kid` the JWK's.
    /// Raises `InvalidKeyError` (naming no key material).
    #[staticmethod]
    fn from_jwk(py: Python<'_>, jwk: SecretArg) -> PyResult<Self> {
        call(py, || SigningKey::from_jwk(jwk.as_str())).map(|inner| PySigningKey { inner })
    }
    /// An unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`): RSA, EC
    /// P-256/P-384 or Ed25519. No `kid` until `with_kid()`.
    #[staticmethod]
    fn from_pkcs8_pem(py: Python<'_>, pem: SecretArg) -> PyResult<Self> {
        call(py, || SigningKey::from_pkcs8_pem(pem.as_str())).map(|inner| PySigningKey { inner })
    }
    /// A shared secret (`str` as UTF-8, or bytes) for `HS256`, at least 32 bytes.
    #[staticmethod]
    fn hmac(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = secret_bytes(secret)?;
        call(py, || SigningKey::hmac(&bytes)).map(|inner| PySigningKey { inner })
    }
    /// The same key signing with `algorithm` (e.g. `PS256` for an RSA key).
    fn with_algorithm(&self, py: Python<'_>, algorithm: &str) -> PyResult<Self> {
        let alg = self::algorithm(py, algorithm)?;
        let key = self.inner.clone();
        call(py, || key.with_algorithm(alg)).map(|inner| PySigningKey { inner })
    }
    /// The same key, putting `kid` in every header it signs.
    fn with_kid(&self, kid: String) -> Self {
        PySigningKey {
            inner: self.inner.clone().with_kid(kid),
        }
    }
    /// The algorithm this key signs with.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().name()
    }
    /// The `kid` put in the header, when any.
    #[getter]
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }
    /// The public JWK as JSON text (with `kid`, `alg`, `use: sig`), to register with a server;
    /// `None` for an `HS256` secret.
    fn public_jwk(&self) -> Option<String> {
        self.inner.public_jwk().and_then(|j| j.to_public_json())
    }
    /// Signs `claims` (a dict) as a compact JWS; `header`: extra protected header members
    /// (`typ`...; not `alg`, `crit` or `b64`).
    #[pyo3(signature = (claims, header = None))]
    fn sign(
        &self,
        py: Python<'_>,
        claims: &Bound<'_, PyAny>,
        header: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let claims = json_object(py, "claims", claims)?;
        let header = match header {
            Some(h) => json_object(py, "header", h)?,
            None => serde_json::Map::new(),
        };
        call(py, || self.inner.sign(&header, &claims))
    }
    /// Signs any payload bytes as a compact JWS (see `sign`).
    #[pyo3(signature = (payload, header = None))]
    fn sign_payload(
        &self,
        py: Python<'_>,
        payload: &[u8],
        header: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let header = match header {
            Some(h) => json_object(py, "header", h)?,
            None => serde_json::Map::new(),
        };
        call(py, || self.inner.sign_payload(&header, payload))
    }
    fn __repr__(&self) -> String {
        format!(
            "SigningKey(algorithm={:?}, kid={:?}, key=[redacted])",
            self.inner.algorithm().name(),
            self.inner.kid()
        )
    }
}

fn secret_bytes(value: &Bound<'_, PyAny>) -> PyResult<zeroize::Zeroizing<Vec<u8>>> {
    if let Ok(b) = value.extract::<&[u8]>() {
        return Ok(zeroize::Zeroizing::new(b.to_vec()));
    }
    let s: SecretArg = value.extract()?;
    Ok(zeroize::Zeroizing::new(s.as_str().as_bytes().to_vec()))
}

fn jwk_summary<'py>(py: Python<'py>, jwk: &Jwk) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kty", jwk.key_type())?;
    d.set_item("crv", jwk.curve())?;
    d.set_item("kid", jwk.kid())?;
    d.set_item("alg", jwk.alg())?;
    d.set_item("use", jwk.key_use())?;
    Ok(d)
}

/// One public JSON Web Key (RFC 7517), or an `HS256` secret (`Jwk.hmac`), to verify with.
#[pyclass(name = "Jwk", module = "grantline._grantline", frozen)]
pub(crate) struct PyJwk {
    inner: Jwk,
}

#[pymethods]
impl PyJwk {
    /// Parses one JWK (JSON text); private members are ignored. Raises `InvalidKeyError`.
    #[staticmethod]
    fn from_json(py: Python<'_>, json: &str) -> PyResult<Self> {
        call(py, || Jwk::from_json(json)).map(|inner| PyJwk { inner })
    }
    /// A shared secret (`str` as UTF-8, or bytes; at least 32 bytes) to verify `HS256` with.
    #[staticmethod]
    fn hmac(py: Python<'_>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = secret_bytes(secret)?;
        call(py, || Jwk::hmac(&bytes)).map(|inner| PyJwk { inner })
    }
    /// `{"kty", "crv", "kid", "alg", "use"}` (None when absent).
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        jwk_summary(py, &self.inner)
    }
    /// The key's `kid`.
    #[getter]
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }
    /// Verifies a compact JWS with this key alone, accepting `algorithms` (names).
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        algorithms: Vec<String>,
    ) -> PyResult<PyVerifiedJws> {
        let algs = self::algorithms(py, &algorithms)?;
        call(py, || self.inner.verify(token, &algs)).map(|inner| PyVerifiedJws { inner })
    }
    /// The public JWK as JSON text; `None` for a secret.
    fn to_public_json(&self) -> Option<String> {
        self.inner.to_public_json()
    }
    fn __repr__(&self) -> String {
        format!(
            "Jwk(kty={:?}, crv={:?}, kid={:?}, alg={:?})",
            self.inner.key_type(),
            self.inner.curve(),
            self.inner.kid(),
            self.inner.alg()
        )
    }
}

/// A JWK Set (RFC 7517 §5): the public keys a signer publishes at its `jwks_uri`.
#[pyclass(name = "JwkSet", module = "grantline._grantline", frozen)]
#[derive(Clone)]
pub(crate) struct PyJwkSet {
    pub(crate) inner: JwkSet,
}

#[pymethods]
impl PyJwkSet {
    /// Parses a JWK Set document (JSON text); unusable keys are skipped (see `skipped`).
    /// Raises `InvalidKeyError` for a document that is not a JWK Set.
    #[staticmethod]
    fn from_json(py: Python<'_>, json: &str) -> PyResult<Self> {
        call(py, || JwkSet::from_json(json)).map(|inner| PyJwkSet { inner })
    }
    /// The usable keys, in order: `{"kty", "crv", "kid", "alg", "use"}` each.
    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .keys()
            .iter()
            .map(|k| jwk_summary(py, k))
            .collect()
    }
    /// How many keys of the document were skipped as unusable.
    #[getter]
    fn skipped(&self) -> usize {
        self.inner.skipped()
    }
    /// Verifies a compact JWS, accepting `algorithms` (names): the key is picked by `kid`,
    /// `kty`, `alg` and `use`. Raises `JwsError` (with `problem`).
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        algorithms: Vec<String>,
    ) -> PyResult<PyVerifiedJws> {
        let algs = self::algorithms(py, &algorithms)?;
        call(py, || self.inner.verify(token, &algs)).map(|inner| PyVerifiedJws { inner })
    }
    fn __len__(&self) -> usize {
        self.inner.keys().len()
    }
    fn __repr__(&self) -> String {
        format!(
            "JwkSet(kids={:?}, skipped={})",
            self.inner.keys().iter().map(Jwk::kid).collect::<Vec<_>>(),
            self.inner.skipped()
        )
    }
}

/// A JWS whose signature verified: `algorithm`, `kid`, `header`, `payload` bytes, `claims()`.
/// `repr()` shows the algorithm, the `kid` and the payload's length only.
#[pyclass(name = "VerifiedJws", module = "grantline._grantline", frozen)]
pub(crate) struct PyVerifiedJws {
    pub(crate) inner: VerifiedJws,
}

#[pymethods]
impl PyVerifiedJws {
    /// The algorithm the signature was checked with.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().name()
    }
    /// The header's `kid`, when any.
    #[getter]
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }
    /// The protected header.
    #[getter]
    fn header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        json_object_to_py(py, self.inner.header())
    }
    /// The payload bytes.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.payload())
    }
    /// The payload as a JSON object (a JWT's claims); `JwsError` (`malformed`) otherwise.
    fn claims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let claims = call(py, || self.inner.claims())?;
        json_object_to_py(py, &claims)
    }
    fn __repr__(&self) -> String {
        format!(
            "VerifiedJws(algorithm={:?}, kid={:?}, payload=<{} bytes>)",
            self.inner.algorithm().name(),
            self.inner.kid(),
            self.inner.payload().len()
        )
    }
}

/// A provider's JWK Set kept between verifications, fetched again (once, rate-limited, as the
/// core decides from `now`) when a token names a key it does not hold. Sans-IO: `verify()`
/// gives the `VerifiedJws`, or an `HttpRequest` to send; hand its answer to `receive()` and
/// call `verify()` again with the same token. The loop always ends. Thread-safe.
#[pyclass(name = "JwksCache", module = "grantline._grantline", frozen)]
pub(crate) struct PyJwksCache {
    inner: Mutex<JwksCache>,
}

impl PyJwksCache {
    pub(crate) fn wrap(inner: JwksCache) -> Self {
        PyJwksCache {
            inner: Mutex::new(inner),
        }
    }
    fn lock(&self) -> MutexGuard<'_, JwksCache> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyJwksCache {
    /// A cache for `jwks_uri` (checked like every endpoint), empty unless `keys` (fetched at
    /// `fetched_at`); `min_refetch`: seconds between two fetches for unknown keys (default 60);
    /// `max_age`: seconds after which the set is fetched again (default 600).
    #[new]
    #[pyo3(signature = (jwks_uri, *, min_refetch = None, max_age = None, keys = None, fetched_at = 0))]
    fn py_new(
        py: Python<'_>,
        jwks_uri: &str,
        min_refetch: Option<u64>,
        max_age: Option<u64>,
        keys: Option<PyRef<'_, PyJwkSet>>,
        fetched_at: u64,
    ) -> PyResult<Self> {
        let mut cache = call(py, || JwksCache::new(jwks_uri))?;
        if let Some(s) = min_refetch {
            cache = cache.with_min_refetch(s);
        }
        if let Some(s) = max_age {
            cache = cache.with_max_age(s);
        }
        if let Some(k) = keys {
            cache = cache.with_keys(k.inner.clone(), fetched_at);
        }
        Ok(Self::wrap(cache))
    }
    /// The cache of `provider`'s `jwks_uri` (`ConfigurationError` `missing_endpoint` without).
    #[classmethod]
    fn for_provider(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        provider: &PyProvider,
    ) -> PyResult<Self> {
        call(py, || JwksCache::for_provider(&provider.inner)).map(Self::wrap)
    }
    /// The JWK Set URL.
    #[getter]
    fn jwks_uri(&self) -> String {
        self.lock().jwks_uri().to_owned()
    }
    /// The keys held, when fetched.
    #[getter]
    fn keys(&self) -> Option<PyJwkSet> {
        self.lock().keys().map(|k| PyJwkSet { inner: k.clone() })
    }
    /// When the last fetch was received (Unix seconds), when any.
    #[getter]
    fn fetched_at(&self) -> Option<u64> {
        self.lock().fetched_at()
    }
    /// The JWKS request (a GET) to send.
    fn request(&self) -> PyHttpRequest {
        PyHttpRequest::wrap(self.lock().request())
    }
    /// Hands in the JWKS answer. A failed fetch raises and keeps the keys held before; it
    /// counts as a fetch.
    #[pyo3(signature = (response, now = None))]
    fn receive(&self, py: Python<'_>, response: &PyHttpResponse, now: Option<u64>) -> PyResult<()> {
        let mut cache = self.lock();
        call(py, || cache.receive(&response.inner, now_or(now)))
    }
    /// Verifies `token` with the keys held, accepting `algorithms` (names; never `HS256`):
    /// the `VerifiedJws`, or the `HttpRequest` to send first (then `receive()`, then `verify()`
    /// again). Raises `JwsError` (`no_matching_key` for a key still unknown within the
    /// refetch interval).
    #[pyo3(signature = (token, algorithms, now = None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        algorithms: Vec<String>,
        now: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let algs = self::algorithms(py, &algorithms)?;
        let cache = self.lock();
        match call(py, || cache.verify(token, &algs, now_or(now)))? {
            JwksStep::Verified(inner) => Ok(Py::new(py, PyVerifiedJws { inner })?.into_any()),
            JwksStep::Fetch => Ok(Py::new(py, PyHttpRequest::wrap(cache.request()))?.into_any()),
        }
    }
    fn __repr__(&self) -> String {
        let cache = self.lock();
        format!(
            "<JwksCache {} keys={} fetched_at={:?}>",
            cache.jwks_uri(),
            cache.keys().map_or(0, |k| k.keys().len()),
            cache.fetched_at()
        )
    }
}
