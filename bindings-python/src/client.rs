//! `grantline.Client`: token-endpoint requests for every grant, the authorization URL and the
//! redirect callback.

use std::sync::{Arc, OnceLock};

use grantline::jose::JwksCache;
use grantline::{
    AccessToken, Assertion, AuthorizationCode, AuthorizationRequest, Client, CodeGrant, DeviceCode,
    EndSessionRequest, GrantRequest, IdToken, Password, PendingAuthorization, PkceVerifier,
    RefreshToken, SecurityToken, TokenExchange,
};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::errors::{auth_method_from_name, call, hint_from_name, now_or, pkce_from_name};
use crate::http_types::PyHttpRequest;
use crate::jose::{PyJwksCache, PySigningKey};
use crate::oidc::{adjust, PyIdTokenCheck};
use crate::provider::PyProvider;
use crate::secret::{secret, PySecret, SecretArg};

/// Extra parameters: `[(name, value), ...]`, names may repeat, order kept.
type Params = Vec<(String, String)>;

/// An OAuth client registered at a provider: its id, optional secret and redirect URI.
///
/// Every `*_request` method returns an `HttpRequest` to send with a client that does **not**
/// follow redirects; the matching parser takes the `HttpResponse` back.
#[pyclass(name = "Client", module = "grantline._grantline", frozen)]
#[derive(Clone)]
pub(crate) struct PyClient {
    pub(crate) inner: Client,
    /// The client's one JWKS cache (made on first use from the provider's `jwks_uri`), shared
    /// by every ID token and signed userinfo verification through this client object.
    pub(crate) jwks: Arc<OnceLock<Py<PyJwksCache>>>,
    /// The shortest interval between two JWKS fetches for an unknown key, when not the core's
    /// default (60 s).
    pub(crate) jwks_min_refetch: Option<u64>,
}

impl PyClient {
    pub(crate) fn wrap(inner: Client) -> Self {
        PyClient {
            inner,
            jwks: Arc::default(),
            jwks_min_refetch: None,
        }
    }

    /// Sends `grant` with `params` added, at `now`.
    fn send_grant(
        &self,
        py: Python<'_>,
        mut grant: GrantRequest,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        for (k, v) in params {
            grant = grant.param(k, v);
        }
        request(py, || self.inner.grant_request(&grant, now_or(now)))
    }
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
    #[pyo3(signature = (provider, client_id, *, client_secret = None, redirect_uri = None, auth_method = None, signing_key = None, jwks_min_refetch = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        provider: &PyProvider,
        client_id: String,
        client_secret: Option<SecretArg>,
        redirect_uri: Option<String>,
        auth_method: Option<&str>,
        signing_key: Option<PyRef<'_, PySigningKey>>,
        jwks_min_refetch: Option<u64>,
    ) -> PyResult<Self> {
        let mut inner = Client::new(provider.inner.clone(), client_id);
        if let Some(s) = client_secret {
            inner = inner.with_secret(s.as_str());
        }
        if let Some(k) = signing_key {
            inner = inner.with_signing_key(k.inner.clone());
        }
        if let Some(r) = redirect_uri {
            inner = inner.with_redirect_uri(r);
        }
        if let Some(m) = auth_method {
            inner = inner.with_auth_method(auth_method_from_name(py, m)?);
        }
        Ok(PyClient {
            jwks_min_refetch,
            ..PyClient::wrap(inner)
        })
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
    /// The signing key of `private_key_jwt`, when set.
    #[getter]
    fn signing_key(&self) -> Option<PySigningKey> {
        self.inner
            .signing_key()
            .map(|k| PySigningKey { inner: k.clone() })
    }
    /// The client's JWKS cache (one per client object, made on first use from the provider's
    /// `jwks_uri`): every ID token and signed userinfo verification of this client goes
    /// through it, so a key rotation costs one fetch (at most one per `jwks_min_refetch`
    /// seconds, 60 by default). `ConfigurationError`
    /// (`missing_endpoint`) when the provider has no `jwks_uri`.
    #[getter]
    fn jwks_cache(&self, py: Python<'_>) -> PyResult<Py<PyJwksCache>> {
        if let Some(cache) = self.jwks.get() {
            return Ok(cache.clone_ref(py));
        }
        let made = call(py, || {
            let cache = JwksCache::for_provider(self.inner.provider())?;
            Ok(match self.jwks_min_refetch {
                Some(seconds) => cache.with_min_refetch(seconds),
                None => cache,
            })
        })?;
        let made = Py::new(py, PyJwksCache::wrap(made))?;
        Ok(self.jwks.get_or_init(|| made).clone_ref(py))
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

    /// The client credentials grant (RFC 6749 §4.4.2). `params`: extra parameters, in order
    /// (names may repeat, e.g. RFC 8707 `resource`); `now` (Unix seconds, default: the clock)
    /// is the `iat` of a JWT client assertion.
    #[pyo3(signature = (scopes = Vec::new(), *, params = Vec::new(), now = None))]
    fn client_credentials_request(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        self.send_grant(py, GrantRequest::client_credentials(scopes), params, now)
    }

    /// Any token request (an extension grant): `grant_type`, `scopes`, and `params`
    /// (`[(name, value), ...]`, repeats allowed). Names grantline sets (`grant_type`,
    /// `client_id`, `scope`, client credentials...) are refused (`ConfigurationError`).
    #[pyo3(signature = (grant_type, scopes = Vec::new(), *, params = Vec::new(), now = None))]
    fn grant_request(
        &self,
        py: Python<'_>,
        grant_type: String,
        scopes: Vec<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        self.send_grant(
            py,
            GrantRequest::new(grant_type).scopes(scopes),
            params,
            now,
        )
    }

    /// Token exchange (RFC 8693 §2.1): `resource` and `audience` may hold several values,
    /// each sent in order.
    #[pyo3(signature = (subject_token, subject_token_type, *, actor_token = None,
        actor_token_type = None, resource = Vec::new(), audience = Vec::new(), scopes = Vec::new(),
        requested_token_type = None, params = Vec::new(), now = None))]
    #[allow(clippy::too_many_arguments)]
    fn token_exchange_request(
        &self,
        py: Python<'_>,
        subject_token: SecretArg,
        subject_token_type: String,
        actor_token: Option<SecretArg>,
        actor_token_type: Option<String>,
        resource: Vec<String>,
        audience: Vec<String>,
        scopes: Vec<String>,
        requested_token_type: Option<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let exchange = TokenExchange {
            subject_token: SecurityToken::new(subject_token.as_str()),
            subject_token_type,
            actor_token: actor_token.map(|t| SecurityToken::new(t.as_str())),
            actor_token_type,
            resource,
            audience,
            scopes,
            requested_token_type,
        };
        self.send_grant(py, GrantRequest::token_exchange(exchange), params, now)
    }

    /// The JWT bearer grant (RFC 7523 §2.1) with `assertion` (a JWT, e.g. from
    /// `SigningKey.sign()`).
    #[pyo3(signature = (assertion, scopes = Vec::new(), *, params = Vec::new(), now = None))]
    fn jwt_bearer_request(
        &self,
        py: Python<'_>,
        assertion: SecretArg,
        scopes: Vec<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let assertion = Assertion::new(assertion.as_str());
        self.send_grant(
            py,
            GrantRequest::jwt_bearer(&assertion, scopes),
            params,
            now,
        )
    }

    /// The resource owner password grant (RFC 6749 §4.3.2).
    #[pyo3(signature = (username, password, scopes = Vec::new(), *, params = Vec::new(), now = None))]
    fn password_request(
        &self,
        py: Python<'_>,
        username: &str,
        password: SecretArg,
        scopes: Vec<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let password = Password::new(password.as_str());
        self.send_grant(
            py,
            GrantRequest::password(username, &password, scopes),
            params,
            now,
        )
    }

    /// The refresh token grant (RFC 6749 §6); `scopes` may narrow the grant.
    #[pyo3(signature = (refresh_token, scopes = Vec::new(), *, params = Vec::new(), now = None))]
    fn refresh_request(
        &self,
        py: Python<'_>,
        refresh_token: SecretArg,
        scopes: Vec<String>,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let token = RefreshToken::new(refresh_token.as_str());
        self.send_grant(py, GrantRequest::refresh(&token, scopes), params, now)
    }

    /// The authorization URL (RFC 6749 §4.1.1) with `state` and PKCE (S256 by default), and the
    /// pending authorization to keep until the callback. With `openid` in the scopes, the URL
    /// carries a `nonce` (random unless given), kept in the pending authorization; `max_age`
    /// (seconds) asks for a recent login and is checked in the ID token. `params`:
    /// `[(name, value), ...]`, repeats allowed. `seed` (64 or 96 bytes) makes `state`, the
    /// verifier (and the nonce: bytes 64..96) deterministic, for tests only; by default they
    /// come from the OS.
    #[pyo3(signature = (scopes = Vec::new(), *, pkce = "S256", redirect_uri = None, params = Vec::new(), nonce = None, max_age = None, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn authorization_url(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        pkce: &str,
        redirect_uri: Option<String>,
        params: Params,
        nonce: Option<SecretArg>,
        max_age: Option<u64>,
        seed: Option<&[u8]>,
    ) -> PyResult<PyAuthorization> {
        let mut req = AuthorizationRequest::new()
            .scopes(scopes)
            .pkce(pkce_from_name(py, pkce)?);
        if let Some(r) = redirect_uri {
            req = req.redirect_uri(r);
        }
        if let Some(n) = nonce {
            req = req.nonce(n.as_str());
        }
        if let Some(m) = max_age {
            req = req.max_age(m);
        }
        for (k, v) in params {
            req = req.param(k, v);
        }
        let auth = match seed {
            None => call(py, || self.inner.authorization_url(&req))?,
            Some(bytes) => call(py, || self.inner.authorization_url_with_seed(&req, bytes))?,
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
    #[pyo3(signature = (grant, *, params = Vec::new(), now = None))]
    fn authorization_code_request(
        &self,
        py: Python<'_>,
        grant: &PyCodeGrant,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        self.send_grant(
            py,
            GrantRequest::authorization_code(&grant.inner),
            params,
            now,
        )
    }

    /// The device authorization request (RFC 8628 §3.1).
    #[pyo3(signature = (scopes = Vec::new(), *, now = None))]
    fn device_authorization_request(
        &self,
        py: Python<'_>,
        scopes: Vec<String>,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        request(py, || {
            self.inner
                .device_authorization_request(&scopes, now_or(now))
        })
    }

    /// One device access token poll (RFC 8628 §3.4).
    #[pyo3(signature = (device_code, *, params = Vec::new(), now = None))]
    fn device_token_request(
        &self,
        py: Python<'_>,
        device_code: SecretArg,
        params: Params,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let code = DeviceCode::new(device_code.as_str());
        self.send_grant(py, GrantRequest::device_code(&code), params, now)
    }

    /// Token introspection (RFC 7662); `refresh_token` for Apicbase's variant.
    #[pyo3(signature = (token, token_type_hint = None, refresh_token = None, *, now = None))]
    fn introspection_request(
        &self,
        py: Python<'_>,
        token: SecretArg,
        token_type_hint: Option<&str>,
        refresh_token: Option<SecretArg>,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let hint = hint_from_name(py, token_type_hint)?;
        let refresh = refresh_token.map(|r| RefreshToken::new(r.as_str()));
        request(py, || {
            self.inner
                .introspection_request(token.as_str(), hint, refresh.as_ref(), now_or(now))
        })
    }

    /// Token revocation (RFC 7009).
    #[pyo3(signature = (token, token_type_hint = None, *, now = None))]
    fn revocation_request(
        &self,
        py: Python<'_>,
        token: SecretArg,
        token_type_hint: Option<&str>,
        now: Option<u64>,
    ) -> PyResult<PyHttpRequest> {
        let hint = hint_from_name(py, token_type_hint)?;
        request(py, || {
            self.inner
                .revocation_request(token.as_str(), hint, now_or(now))
        })
    }

    /// The check the ID token of the code exchange of `pending` must pass: the issuer, this
    /// client's id, the request's nonce and `max_age`, the provider's ID token algorithms;
    /// then the changes given (`access_token` for `at_hash`, `code` for `c_hash`).
    #[pyo3(signature = (pending, *, leeway = None, algorithms = None, access_token = None, code = None))]
    fn id_token_check(
        &self,
        py: Python<'_>,
        pending: &PyPendingAuthorization,
        leeway: Option<u64>,
        algorithms: Option<Vec<String>>,
        access_token: Option<SecretArg>,
        code: Option<SecretArg>,
    ) -> PyResult<PyIdTokenCheck> {
        let check = call(py, || self.inner.id_token_check(&pending.inner))?;
        adjust(py, check, leeway, algorithms, access_token, code)
            .map(|inner| PyIdTokenCheck { inner })
    }

    /// The check the ID token of a refresh answer must pass (with
    /// `IdTokenCheck.validate_refreshed()`, OIDC Core §12.2).
    #[pyo3(signature = (*, leeway = None, algorithms = None, access_token = None))]
    fn refresh_id_token_check(
        &self,
        py: Python<'_>,
        leeway: Option<u64>,
        algorithms: Option<Vec<String>>,
        access_token: Option<SecretArg>,
    ) -> PyResult<PyIdTokenCheck> {
        let check = call(py, || self.inner.refresh_id_token_check())?;
        adjust(py, check, leeway, algorithms, access_token, None)
            .map(|inner| PyIdTokenCheck { inner })
    }

    /// The userinfo request (OIDC Core §5.3.1): a GET with the access token as Bearer.
    fn userinfo_request(&self, py: Python<'_>, access_token: SecretArg) -> PyResult<PyHttpRequest> {
        let token = AccessToken::new(access_token.as_str());
        request(py, || self.inner.userinfo_request(&token))
    }

    /// The RP-Initiated Logout URL (OpenID Connect RP-Initiated Logout 1.0 §2), with
    /// `client_id` always; `params`: `[(name, value), ...]`.
    #[pyo3(signature = (*, id_token_hint = None, logout_hint = None, post_logout_redirect_uri = None,
        state = None, ui_locales = None, params = Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn end_session_url(
        &self,
        py: Python<'_>,
        id_token_hint: Option<SecretArg>,
        logout_hint: Option<String>,
        post_logout_redirect_uri: Option<String>,
        state: Option<SecretArg>,
        ui_locales: Option<String>,
        params: Params,
    ) -> PyResult<String> {
        let mut req = EndSessionRequest::new();
        if let Some(t) = id_token_hint {
            req = req.id_token_hint(&IdToken::new(t.as_str()));
        }
        if let Some(h) = logout_hint {
            req = req.logout_hint(h);
        }
        if let Some(u) = post_logout_redirect_uri {
            req = req.post_logout_redirect_uri(u);
        }
        if let Some(s) = state {
            req = req.state(s.as_str());
        }
        if let Some(l) = ui_locales {
            req = req.ui_locales(l);
        }
        for (k, v) in params {
            req = req.param(k, v);
        }
        call(py, || self.inner.end_session_url(&req))
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
    /// The OpenID Connect `nonce` the request carried, when any.
    #[getter]
    fn nonce(&self, py: Python<'_>) -> PyResult<Option<Py<PySecret>>> {
        self.inner
            .nonce()
            .map(|n| secret(py, n.secret()))
            .transpose()
    }
    /// The `max_age` the request carried, when any.
    #[getter]
    fn max_age(&self) -> Option<u64> {
        self.inner.max_age()
    }
    /// The issuer expected (of the callback's `iss` and the ID token), when known.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.inner.issuer()
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
            "PendingAuthorization(state=[redacted], code_verifier={}, redirect_uri={:?}, nonce={}, max_age={:?})",
            if self.inner.code_verifier().is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.redirect_uri(),
            if self.inner.nonce().is_some() {
                "[redacted]"
            } else {
                "None"
            },
            self.inner.max_age()
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
