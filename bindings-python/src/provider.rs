//! `grantline.Provider`: presets, custom providers, discovery documents.

use std::collections::BTreeMap;

use grantline::{Provider, ProviderBuilder};
use pyo3::prelude::*;

use crate::errors::{
    assertion_audience_from_name, auth_method_from_name, body_encoding_from_name,
    body_encoding_name, call, grant_from_name, invalid,
};
use crate::jose::{algorithm_names, algorithms};

/// An authorization server: its endpoints and quirks (body encoding, client authentication,
/// scope separator, extra token parameters, grants). Immutable.
#[pyclass(name = "Provider", module = "grantline._grantline", frozen)]
#[derive(Clone)]
pub(crate) struct PyProvider {
    pub(crate) inner: Provider,
}

/// The optional settings shared by `Provider.custom` and `Provider.replace`.
struct Settings<'a> {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    token_endpoints_by_grant: Option<BTreeMap<String, String>>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    body_encoding: Option<&'a str>,
    auth_method: Option<&'a str>,
    scope_separator: Option<String>,
    extra_token_params: Option<Vec<(String, String)>>,
    default_skew: Option<u64>,
    grants: Option<Vec<String>>,
    unsolicited_callbacks: Option<bool>,
    iss_parameter_supported: Option<bool>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    id_token_algorithms: Option<Vec<String>>,
    assertion_audience: Option<&'a str>,
}

impl Settings<'_> {
    fn apply(self, py: Python<'_>, mut b: ProviderBuilder) -> PyResult<Provider> {
        if let Some(v) = self.issuer {
            b = b.issuer(v);
        }
        if let Some(v) = self.authorization_endpoint {
            b = b.authorization_endpoint(v);
        }
        if let Some(v) = self.token_endpoint {
            b = b.token_endpoint(v);
        }
        for (grant, url) in self.token_endpoints_by_grant.unwrap_or_default() {
            b = b.token_endpoint_for(grant_from_name(py, &grant)?, url);
        }
        if let Some(v) = self.introspection_endpoint {
            b = b.introspection_endpoint(v);
        }
        if let Some(v) = self.revocation_endpoint {
            b = b.revocation_endpoint(v);
        }
        if let Some(v) = self.device_authorization_endpoint {
            b = b.device_authorization_endpoint(v);
        }
        if let Some(v) = self.body_encoding {
            b = b.body_encoding(body_encoding_from_name(py, v)?);
        }
        if let Some(v) = self.auth_method {
            b = b.auth_method(auth_method_from_name(py, v)?);
        }
        if let Some(v) = self.scope_separator {
            b = b.scope_separator(v);
        }
        for (k, v) in self.extra_token_params.unwrap_or_default() {
            b = b.extra_token_param(k, v);
        }
        if let Some(v) = self.default_skew {
            b = b.default_skew(v);
        }
        for g in self.grants.unwrap_or_default() {
            b = b.grant(grant_from_name(py, &g)?);
        }
        if let Some(v) = self.unsolicited_callbacks {
            b = b.unsolicited_callbacks(v);
        }
        if let Some(v) = self.iss_parameter_supported {
            b = b.iss_parameter_supported(v);
        }
        if let Some(v) = self.jwks_uri {
            b = b.jwks_uri(v);
        }
        if let Some(v) = self.userinfo_endpoint {
            b = b.userinfo_endpoint(v);
        }
        if let Some(v) = self.end_session_endpoint {
            b = b.end_session_endpoint(v);
        }
        if let Some(v) = self.id_token_algorithms {
            b = b.id_token_algorithms(algorithms(py, &v)?);
        }
        if let Some(v) = self.assertion_audience {
            b = b.assertion_audience(assertion_audience_from_name(py, v)?);
        }
        call(py, || b.build())
    }
}

fn wrap(inner: Provider) -> PyProvider {
    PyProvider { inner }
}

#[pymethods]
impl PyProvider {
    /// A preset by name: `libro`, `libro-staging`, `bindeo`, `bookable`, `apicbase`,
    /// `booking-experts`, `google`, `github` (the parameterised presets have their own
    /// constructors).
    #[staticmethod]
    fn preset(py: Python<'_>, name: &str) -> PyResult<Self> {
        Provider::preset(name)
            .map(wrap)
            .ok_or_else(|| invalid(py, format!("unknown provider preset {name:?}")))
    }

    /// Libro (production).
    #[staticmethod]
    fn libro() -> Self {
        wrap(Provider::libro())
    }

    /// Libro (staging).
    #[staticmethod]
    fn libro_staging() -> Self {
        wrap(Provider::libro_staging())
    }

    /// Bindeo.
    #[staticmethod]
    fn bindeo() -> Self {
        wrap(Provider::bindeo())
    }

    /// Bookable (Auth0), with its `audience` (default: Bookable's API).
    #[staticmethod]
    #[pyo3(signature = (audience = None))]
    fn bookable(audience: Option<String>) -> Self {
        wrap(match audience {
            Some(a) => Provider::bookable_with_audience(a),
            None => Provider::bookable(),
        })
    }

    /// Apicbase.
    #[staticmethod]
    fn apicbase() -> Self {
        wrap(Provider::apicbase())
    }

    /// Booking Experts.
    #[staticmethod]
    fn booking_experts() -> Self {
        wrap(Provider::booking_experts())
    }

    /// Google (OpenID Connect).
    #[staticmethod]
    fn google() -> Self {
        wrap(Provider::google())
    }

    /// Microsoft Entra ID, for `tenant` (a tenant id or domain, or `common`,
    /// `organizations`, `consumers`).
    #[staticmethod]
    fn entra(py: Python<'_>, tenant: &str) -> PyResult<Self> {
        call(py, || Provider::entra(tenant)).map(wrap)
    }

    /// Okta at `domain` (`dev-123.okta.com`), with a custom `authorization_server` (e.g.
    /// `default`) or the org authorization server.
    #[staticmethod]
    #[pyo3(signature = (domain, authorization_server = None))]
    fn okta(py: Python<'_>, domain: &str, authorization_server: Option<&str>) -> PyResult<Self> {
        call(py, || Provider::okta(domain, authorization_server)).map(wrap)
    }

    /// Auth0 at `domain` (`tenant.eu.auth0.com`), with the API `audience` to ask tokens for.
    #[staticmethod]
    #[pyo3(signature = (domain, audience = None))]
    fn auth0(py: Python<'_>, domain: &str, audience: Option<&str>) -> PyResult<Self> {
        call(py, || Provider::auth0(domain, audience)).map(wrap)
    }

    /// Keycloak at `base_url` (`https://sso.example.com`), realm `realm`.
    #[staticmethod]
    fn keycloak(py: Python<'_>, base_url: &str, realm: &str) -> PyResult<Self> {
        call(py, || Provider::keycloak(base_url, realm)).map(wrap)
    }

    /// GitHub (OAuth apps and GitHub apps: OAuth 2.0 only, no OpenID Connect).
    #[staticmethod]
    fn github() -> Self {
        wrap(Provider::github())
    }

    /// A provider from an RFC 8414 / OpenID Connect discovery document (bytes or str). Nothing
    /// checks who served it: to fetch one, use `Discovery` (or `grantline.discover`), which
    /// also checks that it names the expected issuer.
    #[staticmethod]
    fn from_metadata(py: Python<'_>, document: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes: Vec<u8> = match document.extract::<String>() {
            Ok(s) => s.into_bytes(),
            Err(_) => document.extract::<&[u8]>()?.to_vec(),
        };
        call(py, || Provider::from_metadata(&bytes)).map(wrap)
    }

    /// A provider from parts. Endpoints must be `https://` (or `http://` on loopback).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name = "custom".to_owned(), *, issuer = None, authorization_endpoint = None,
        token_endpoint = None, token_endpoints_by_grant = None, introspection_endpoint = None,
        revocation_endpoint = None, device_authorization_endpoint = None, body_encoding = None,
        auth_method = None, scope_separator = None, extra_token_params = None, default_skew = None,
        grants = None, unsolicited_callbacks = None, iss_parameter_supported = None,
        jwks_uri = None, userinfo_endpoint = None, end_session_endpoint = None,
        id_token_algorithms = None, assertion_audience = None))]
    fn custom(
        py: Python<'_>,
        name: String,
        issuer: Option<String>,
        authorization_endpoint: Option<String>,
        token_endpoint: Option<String>,
        token_endpoints_by_grant: Option<BTreeMap<String, String>>,
        introspection_endpoint: Option<String>,
        revocation_endpoint: Option<String>,
        device_authorization_endpoint: Option<String>,
        body_encoding: Option<&str>,
        auth_method: Option<&str>,
        scope_separator: Option<String>,
        extra_token_params: Option<Vec<(String, String)>>,
        default_skew: Option<u64>,
        grants: Option<Vec<String>>,
        unsolicited_callbacks: Option<bool>,
        iss_parameter_supported: Option<bool>,
        jwks_uri: Option<String>,
        userinfo_endpoint: Option<String>,
        end_session_endpoint: Option<String>,
        id_token_algorithms: Option<Vec<String>>,
        assertion_audience: Option<&str>,
    ) -> PyResult<Self> {
        Settings {
            issuer,
            authorization_endpoint,
            token_endpoint,
            token_endpoints_by_grant,
            introspection_endpoint,
            revocation_endpoint,
            device_authorization_endpoint,
            body_encoding,
            auth_method,
            scope_separator,
            extra_token_params,
            default_skew,
            grants,
            unsolicited_callbacks,
            iss_parameter_supported,
            jwks_uri,
            userinfo_endpoint,
            end_session_endpoint,
            id_token_algorithms,
            assertion_audience,
        }
        .apply(py, Provider::builder(name))
        .map(wrap)
    }

    /// A copy with the given settings changed (grants and extra parameters are added to the
    /// existing ones); the endpoints are checked again.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, issuer = None, authorization_endpoint = None,
        token_endpoint = None, token_endpoints_by_grant = None, introspection_endpoint = None,
        revocation_endpoint = None, device_authorization_endpoint = None, body_encoding = None,
        auth_method = None, scope_separator = None, extra_token_params = None, default_skew = None,
        grants = None, unsolicited_callbacks = None, iss_parameter_supported = None,
        jwks_uri = None, userinfo_endpoint = None, end_session_endpoint = None,
        id_token_algorithms = None, assertion_audience = None))]
    fn replace(
        &self,
        py: Python<'_>,
        issuer: Option<String>,
        authorization_endpoint: Option<String>,
        token_endpoint: Option<String>,
        token_endpoints_by_grant: Option<BTreeMap<String, String>>,
        introspection_endpoint: Option<String>,
        revocation_endpoint: Option<String>,
        device_authorization_endpoint: Option<String>,
        body_encoding: Option<&str>,
        auth_method: Option<&str>,
        scope_separator: Option<String>,
        extra_token_params: Option<Vec<(String, String)>>,
        default_skew: Option<u64>,
        grants: Option<Vec<String>>,
        unsolicited_callbacks: Option<bool>,
        iss_parameter_supported: Option<bool>,
        jwks_uri: Option<String>,
        userinfo_endpoint: Option<String>,
        end_session_endpoint: Option<String>,
        id_token_algorithms: Option<Vec<String>>,
        assertion_audience: Option<&str>,
    ) -> PyResult<Self> {
        Settings {
            issuer,
            authorization_endpoint,
            token_endpoint,
            token_endpoints_by_grant,
            introspection_endpoint,
            revocation_endpoint,
            device_authorization_endpoint,
            body_encoding,
            auth_method,
            scope_separator,
            extra_token_params,
            default_skew,
            grants,
            unsolicited_callbacks,
            iss_parameter_supported,
            jwks_uri,
            userinfo_endpoint,
            end_session_endpoint,
            id_token_algorithms,
            assertion_audience,
        }
        .apply(py, self.inner.to_builder())
        .map(wrap)
    }

    /// The provider's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
    /// The issuer identifier, when known.
    #[getter]
    fn issuer(&self) -> Option<&str> {
        self.inner.issuer()
    }
    /// The authorization endpoint, when the provider has one.
    #[getter]
    fn authorization_endpoint(&self) -> Option<&str> {
        self.inner.authorization_endpoint()
    }
    /// The token endpoint for `grant` (providers may use one per grant).
    fn token_endpoint(&self, py: Python<'_>, grant: &str) -> PyResult<Option<String>> {
        let g = grant_from_name(py, grant)?;
        Ok(self.inner.token_endpoint(g).map(str::to_owned))
    }
    /// The introspection endpoint (RFC 7662), when any.
    #[getter]
    fn introspection_endpoint(&self) -> Option<&str> {
        self.inner.introspection_endpoint()
    }
    /// The revocation endpoint (RFC 7009), when any.
    #[getter]
    fn revocation_endpoint(&self) -> Option<&str> {
        self.inner.revocation_endpoint()
    }
    /// The device authorization endpoint (RFC 8628), when any.
    #[getter]
    fn device_authorization_endpoint(&self) -> Option<&str> {
        self.inner.device_authorization_endpoint()
    }
    /// The JWK Set URL (OpenID Connect), when any.
    #[getter]
    fn jwks_uri(&self) -> Option<&str> {
        self.inner.jwks_uri()
    }
    /// The userinfo endpoint (OpenID Connect), when any.
    #[getter]
    fn userinfo_endpoint(&self) -> Option<&str> {
        self.inner.userinfo_endpoint()
    }
    /// The end-session endpoint (RP-Initiated Logout), when any.
    #[getter]
    fn end_session_endpoint(&self) -> Option<&str> {
        self.inner.end_session_endpoint()
    }
    /// The ID token signing algorithms (names, in the provider's order; `["RS256"]` when it
    /// listed none grantline speaks).
    #[getter]
    fn id_token_algorithms(&self) -> Vec<&'static str> {
        algorithm_names(self.inner.id_token_algorithms())
    }
    /// The `aud` of JWT client assertions: `"issuer"` or `"token_endpoint"`.
    #[getter]
    fn assertion_audience(&self) -> &'static str {
        self.inner.assertion_audience().as_str()
    }
    /// `"form"` or `"json"`.
    #[getter]
    fn body_encoding(&self) -> &'static str {
        body_encoding_name(self.inner.body_encoding())
    }
    /// How a client with a secret authenticates: `"client_secret_basic"`,
    /// `"client_secret_post"`, `"client_secret_jwt"`, `"private_key_jwt"` or `"none"`; `None` when the provider's metadata listed only
    /// methods grantline does not speak (a request then raises `ConfigurationError`
    /// `unsupported_auth_method`, unless the client sets `auth_method`).
    #[getter]
    fn auth_method(&self) -> Option<&'static str> {
        self.inner.auth_method().map(|m| m.as_str())
    }
    /// The `token_endpoint_auth_methods_supported` of the metadata the provider was built
    /// from, when it had one.
    #[getter]
    fn auth_methods_offered(&self) -> Option<Vec<String>> {
        self.inner.auth_methods_offered().map(<[String]>::to_vec)
    }
    /// How scopes are joined.
    #[getter]
    fn scope_separator(&self) -> &str {
        self.inner.scope_separator()
    }
    /// Parameters added to every token request, in order.
    #[getter]
    fn extra_token_params(&self) -> Vec<(String, String)> {
        self.inner.extra_token_params().to_vec()
    }
    /// Seconds before expiry at which a token is renewed.
    #[getter]
    fn default_skew(&self) -> u64 {
        self.inner.default_skew()
    }
    /// The supported grants, in the order they were declared.
    #[getter]
    fn grants(&self) -> Vec<&'static str> {
        self.inner.grants().iter().map(|g| g.name()).collect()
    }
    /// Whether `grant` is supported.
    fn supports(&self, py: Python<'_>, grant: &str) -> PyResult<bool> {
        Ok(self.inner.supports(grant_from_name(py, grant)?))
    }
    /// Whether the provider starts flows itself (callbacks without `state`).
    #[getter]
    fn unsolicited_callbacks(&self) -> bool {
        self.inner.unsolicited_callbacks()
    }
    /// Whether callbacks always carry `iss` (RFC 9207).
    #[getter]
    fn iss_parameter_supported(&self) -> bool {
        self.inner.iss_parameter_supported()
    }

    fn __repr__(&self) -> String {
        format!("<Provider {:?}>", self.inner.name())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyProvider>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }
}
