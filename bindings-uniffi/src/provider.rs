//! Providers: the five presets, a builder for any other, and metadata documents (see
//! [`crate::discovery`] to fetch one bound to its issuer).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::GrantlineError;
use crate::jose::JwsAlgorithm;
use crate::types::{AssertionAudience, BodyEncoding, ClientAuthMethod, GrantType, Param};

/// An authorization server, as data: endpoints, body encoding, client authentication, scope
/// separator, extra token parameters, default renewal margin, supported grants.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct Provider {
    pub(crate) inner: grantline::Provider,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Provider({})", self.inner.name())
    }
}

fn wrap(inner: grantline::Provider) -> Arc<Provider> {
    Arc::new(Provider { inner })
}

#[uniffi::export]
impl Provider {
    /// Libro (production): authorization code and refresh at `accounts.libroreserve.com`,
    /// client credentials at `api.libroreserve.com`.
    #[uniffi::constructor]
    pub fn libro() -> Arc<Self> {
        wrap(grantline::Provider::libro())
    }
    /// Libro's staging environment (authorization code and refresh).
    #[uniffi::constructor]
    pub fn libro_staging() -> Arc<Self> {
        wrap(grantline::Provider::libro_staging())
    }
    /// Bindeo: JSON bodies; client credentials, password, refresh.
    #[uniffi::constructor]
    pub fn bindeo() -> Arc<Self> {
        wrap(grantline::Provider::bindeo())
    }
    /// Bookable (Auth0) with its documented `audience`: client credentials.
    #[uniffi::constructor]
    pub fn bookable() -> Arc<Self> {
        wrap(grantline::Provider::bookable())
    }
    /// Bookable (Auth0) with another `audience`.
    #[uniffi::constructor]
    pub fn bookable_with_audience(audience: String) -> Arc<Self> {
        wrap(grantline::Provider::bookable_with_audience(audience))
    }
    /// Apicbase: authorization code, refresh, introspection.
    #[uniffi::constructor]
    pub fn apicbase() -> Arc<Self> {
        wrap(grantline::Provider::apicbase())
    }
    /// Booking Experts: the flow starts from its app store (unsolicited callbacks).
    #[uniffi::constructor]
    pub fn booking_experts() -> Arc<Self> {
        wrap(grantline::Provider::booking_experts())
    }

    /// Google (OAuth 2.0 and OpenID Connect at `https://accounts.google.com`): authorization
    /// code, refresh and device grants; refresh answers keep the old refresh token.
    #[uniffi::constructor]
    pub fn google() -> Arc<Self> {
        wrap(grantline::Provider::google())
    }
    /// GitHub (OAuth only, no OpenID Connect): authorization code, refresh (expiring user
    /// tokens), device flow; `accept: application/json` is sent, form answers still parse,
    /// errors in 200 answers are errors, `scope` is comma-separated.
    #[uniffi::constructor]
    pub fn github() -> Arc<Self> {
        wrap(grantline::Provider::github())
    }
    /// Microsoft Entra ID (v2.0 endpoints) for `tenant` (a tenant id or domain, or `common`,
    /// `organizations`, `consumers`); client assertions use the token endpoint as `aud`.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a tenant that cannot be a path segment.
    #[uniffi::constructor]
    pub fn entra(tenant: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(wrap(grantline::Provider::entra(&tenant)?))
    }
    /// Okta at `domain` (`dev-123.okta.com`), with a custom `authorization_server` (`default`
    /// or its id) or the org authorization server (none).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`, `insecure_endpoint`).
    #[uniffi::constructor(default(authorization_server = None))]
    pub fn okta(
        domain: String,
        authorization_server: Option<String>,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(wrap(grantline::Provider::okta(
            &domain,
            authorization_server.as_deref(),
        )?))
    }
    /// Auth0 at `domain` (`tenant.eu.auth0.com` or a custom domain), with the API `audience`
    /// sent with token requests when given.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`, `insecure_endpoint`).
    #[uniffi::constructor(default(audience = None))]
    pub fn auth0(domain: String, audience: Option<String>) -> Result<Arc<Self>, GrantlineError> {
        Ok(wrap(grantline::Provider::auth0(
            &domain,
            audience.as_deref(),
        )?))
    }
    /// Keycloak at `base_url` (`https://sso.example.com`, with `/auth` for versions before 17),
    /// realm `realm`.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`, `insecure_endpoint`).
    #[uniffi::constructor]
    pub fn keycloak(base_url: String, realm: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(wrap(grantline::Provider::keycloak(&base_url, &realm)?))
    }

    /// A preset by name: `libro`, `libro-staging`, `bindeo`, `bookable`, `apicbase`,
    /// `booking-experts`, `google`, `github` (the others take parameters: `entra`, `okta`,
    /// `auth0`, `keycloak`).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for an unknown name.
    #[uniffi::constructor]
    pub fn preset(name: String) -> Result<Arc<Self>, GrantlineError> {
        grantline::Provider::preset(&name)
            .map(wrap)
            .ok_or_else(|| GrantlineError::invalid(format!("no preset named {name:?}")))
    }

    /// A provider from an RFC 8414 / OpenID Connect metadata document (the JSON bytes), taken
    /// as it is: nothing checks that it came from the issuer it names. To fetch one, use
    /// `discover(issuer, transport)` or [`crate::Discovery`], which refuse a document naming
    /// another issuer.
    ///
    /// # Errors
    /// `Configuration`: `invalid_input` for a document that is not a JSON object, lacks
    /// `issuer` or has a member of the wrong type, `insecure_endpoint` for an `http://`
    /// endpoint that is not loopback.
    #[uniffi::constructor]
    pub fn from_metadata(json: Vec<u8>) -> Result<Arc<Self>, GrantlineError> {
        Ok(wrap(grantline::Provider::from_metadata(&json)?))
    }

    /// A builder seeded with this provider, to adjust it.
    pub fn to_builder(&self) -> Arc<ProviderBuilder> {
        Arc::new(ProviderBuilder {
            inner: Mutex::new(self.inner.to_builder()),
        })
    }

    /// The display name.
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }
    /// The issuer identifier, when known (checked against a callback's `iss`).
    pub fn issuer(&self) -> Option<String> {
        self.inner.issuer().map(str::to_owned)
    }
    /// The authorization endpoint, when there is one.
    pub fn authorization_endpoint(&self) -> Option<String> {
        self.inner.authorization_endpoint().map(str::to_owned)
    }
    /// The token endpoint used for `grant`.
    pub fn token_endpoint(&self, grant: GrantType) -> Option<String> {
        self.inner.token_endpoint(grant.into()).map(str::to_owned)
    }
    /// The introspection endpoint, when there is one.
    pub fn introspection_endpoint(&self) -> Option<String> {
        self.inner.introspection_endpoint().map(str::to_owned)
    }
    /// The revocation endpoint, when there is one.
    pub fn revocation_endpoint(&self) -> Option<String> {
        self.inner.revocation_endpoint().map(str::to_owned)
    }
    /// The device authorization endpoint, when there is one.
    pub fn device_authorization_endpoint(&self) -> Option<String> {
        self.inner
            .device_authorization_endpoint()
            .map(str::to_owned)
    }
    /// The JWK Set URL (`jwks_uri`), when known.
    pub fn jwks_uri(&self) -> Option<String> {
        self.inner.jwks_uri().map(str::to_owned)
    }
    /// The OpenID Connect userinfo endpoint, when known.
    pub fn userinfo_endpoint(&self) -> Option<String> {
        self.inner.userinfo_endpoint().map(str::to_owned)
    }
    /// The RP-Initiated Logout end-session endpoint, when known.
    pub fn end_session_endpoint(&self) -> Option<String> {
        self.inner.end_session_endpoint().map(str::to_owned)
    }
    /// The ID token signing algorithms (`id_token_signing_alg_values_supported`, those
    /// grantline speaks, in order; `[RS256]` when none).
    pub fn id_token_algorithms(&self) -> Vec<JwsAlgorithm> {
        self.inner
            .id_token_algorithms()
            .iter()
            .map(|a| (*a).into())
            .collect()
    }
    /// The `aud` of this provider's client assertions.
    pub fn assertion_audience(&self) -> AssertionAudience {
        self.inner.assertion_audience().into()
    }
    /// How request bodies are encoded.
    pub fn body_encoding(&self) -> BodyEncoding {
        self.inner.body_encoding().into()
    }
    /// How clients authenticate, unless a client overrides it; `null`/`nil` when the metadata
    /// listed only methods grantline does not speak (`private_key_jwt`...): a client with a
    /// secret must then choose one, or its token requests fail with `unsupported_auth_method`.
    pub fn auth_method(&self) -> Option<ClientAuthMethod> {
        self.inner.auth_method().map(Into::into)
    }
    /// The methods the metadata's `token_endpoint_auth_methods_supported` listed, as written,
    /// when it had that member.
    pub fn auth_methods_offered(&self) -> Option<Vec<String>> {
        self.inner.auth_methods_offered().map(<[String]>::to_vec)
    }
    /// What joins scopes in requests.
    pub fn scope_separator(&self) -> String {
        self.inner.scope_separator().to_owned()
    }
    /// Parameters added to every token request, in order.
    pub fn extra_token_params(&self) -> Vec<Param> {
        self.inner
            .extra_token_params()
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }
    /// The default renewal margin before expiry, in seconds.
    pub fn default_skew(&self) -> i64 {
        crate::num::out(self.inner.default_skew())
    }
    /// The supported grants.
    pub fn grants(&self) -> Vec<GrantType> {
        self.inner.grants().iter().map(|g| (*g).into()).collect()
    }
    /// Whether the provider supports `grant`.
    pub fn supports(&self, grant: GrantType) -> bool {
        self.inner.supports(grant.into())
    }
    /// Whether callbacks may arrive that no request of ours started (Booking Experts).
    pub fn unsolicited_callbacks(&self) -> bool {
        self.inner.unsolicited_callbacks()
    }
    /// Whether the provider always sends `iss` in callbacks (RFC 9207).
    pub fn iss_parameter_supported(&self) -> bool {
        self.inner.iss_parameter_supported()
    }
}

/// Builds a [`Provider`] from parts. Every setter returns the builder, so calls chain:
/// `ProviderBuilder("corp").tokenEndpoint(url).grant(GrantType.CLIENT_CREDENTIALS).build()`.
/// Defaults: form bodies, HTTP Basic, space-separated scopes, 60 s skew, no grants.
#[derive(Debug, uniffi::Object)]
pub struct ProviderBuilder {
    inner: Mutex<grantline::ProviderBuilder>,
}

impl ProviderBuilder {
    fn with(
        self: Arc<Self>,
        f: impl FnOnce(grantline::ProviderBuilder) -> grantline::ProviderBuilder,
    ) -> Arc<Self> {
        {
            let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let current = std::mem::replace(&mut *guard, grantline::Provider::builder(""));
            *guard = f(current);
        }
        self
    }
}

#[uniffi::export]
impl ProviderBuilder {
    /// A builder for a provider named `name` (for display only).
    #[uniffi::constructor]
    pub fn new(name: String) -> Arc<Self> {
        Arc::new(ProviderBuilder {
            inner: Mutex::new(grantline::Provider::builder(name)),
        })
    }
    /// Sets the issuer identifier (enables the RFC 9207 `iss` check).
    pub fn issuer(self: Arc<Self>, issuer: String) -> Arc<Self> {
        self.with(|b| b.issuer(issuer))
    }
    /// Sets the authorization endpoint.
    pub fn authorization_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.authorization_endpoint(url))
    }
    /// Sets the token endpoint for every grant without one of its own.
    pub fn token_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.token_endpoint(url))
    }
    /// Sets the token endpoint of one grant.
    pub fn token_endpoint_for(self: Arc<Self>, grant: GrantType, url: String) -> Arc<Self> {
        self.with(|b| b.token_endpoint_for(grant.into(), url))
    }
    /// Sets the introspection endpoint.
    pub fn introspection_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.introspection_endpoint(url))
    }
    /// Sets the revocation endpoint.
    pub fn revocation_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.revocation_endpoint(url))
    }
    /// Sets the device authorization endpoint.
    pub fn device_authorization_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.device_authorization_endpoint(url))
    }
    /// Sets the JWK Set URL (`jwks_uri`).
    pub fn jwks_uri(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.jwks_uri(url))
    }
    /// Sets the userinfo endpoint.
    pub fn userinfo_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.userinfo_endpoint(url))
    }
    /// Sets the end-session (logout) endpoint.
    pub fn end_session_endpoint(self: Arc<Self>, url: String) -> Arc<Self> {
        self.with(|b| b.end_session_endpoint(url))
    }
    /// Sets the ID token signing algorithms, in order of preference.
    pub fn id_token_algorithms(self: Arc<Self>, algorithms: Vec<JwsAlgorithm>) -> Arc<Self> {
        self.with(|b| b.id_token_algorithms(crate::jose::algorithms(&algorithms)))
    }
    /// Sets the `aud` of client assertions.
    pub fn assertion_audience(self: Arc<Self>, audience: AssertionAudience) -> Arc<Self> {
        self.with(|b| b.assertion_audience(audience.into()))
    }
    /// Sets the body encoding.
    pub fn body_encoding(self: Arc<Self>, encoding: BodyEncoding) -> Arc<Self> {
        self.with(|b| b.body_encoding(encoding.into()))
    }
    /// Sets the client authentication method.
    pub fn auth_method(self: Arc<Self>, method: ClientAuthMethod) -> Arc<Self> {
        self.with(|b| b.auth_method(method.into()))
    }
    /// Sets what joins scopes.
    pub fn scope_separator(self: Arc<Self>, separator: String) -> Arc<Self> {
        self.with(|b| b.scope_separator(separator))
    }
    /// Adds a parameter sent with every token request (replacing one of the same name).
    pub fn extra_token_param(self: Arc<Self>, name: String, value: String) -> Arc<Self> {
        self.with(|b| b.extra_token_param(name, value))
    }
    /// Sets the default renewal margin before expiry, in seconds (a negative one counts as 0).
    pub fn default_skew(self: Arc<Self>, seconds: i64) -> Arc<Self> {
        self.with(|b| b.default_skew(crate::num::seconds(seconds)))
    }
    /// Adds a supported grant.
    pub fn grant(self: Arc<Self>, grant: GrantType) -> Arc<Self> {
        self.with(|b| b.grant(grant.into()))
    }
    /// Declares that callbacks may arrive that no request of ours started.
    pub fn unsolicited_callbacks(self: Arc<Self>, yes: bool) -> Arc<Self> {
        self.with(|b| b.unsolicited_callbacks(yes))
    }
    /// Declares that the provider always sends `iss` in callbacks (RFC 9207).
    pub fn iss_parameter_supported(self: Arc<Self>, yes: bool) -> Arc<Self> {
        self.with(|b| b.iss_parameter_supported(yes))
    }
    /// Checks every endpoint and returns the provider. The builder stays usable.
    ///
    /// # Errors
    /// `Configuration`: `insecure_endpoint` for an `http://` endpoint that is not loopback,
    /// `invalid_input` for one that is not an absolute http(s) URL.
    pub fn build(&self) -> Result<Arc<Provider>, GrantlineError> {
        let builder = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok(wrap(builder.build()?))
    }
}
