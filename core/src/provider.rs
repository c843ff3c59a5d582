//! Providers as data: endpoints, body encoding, client authentication, scope separator, extra
//! token parameters, default expiry skew and supported grants.
//!
//! Five presets come from the providers' own documents (see `PROVIDERS.md`); any other provider
//! is built with [`ProviderBuilder`] or from an RFC 8414 / OpenID Connect discovery document
//! with [`Provider::from_metadata`].
//!
//! # Security
//! Every endpoint is checked when the provider is built: `https://` always, `http://` only on a
//! loopback host (`127.0.0.0/8`, `[::1]`, `localhost`). URLs are kept exactly as given, trailing
//! slashes included.

use std::fmt;

use serde::Deserialize;

use crate::error::Error;

/// The grants (RFC 6749 §4, §6; RFC 8628) a provider can support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// Authorization code (RFC 6749 §4.1), with PKCE (RFC 7636).
    AuthorizationCode,
    /// Client credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password,
    /// Refresh token (RFC 6749 §6).
    RefreshToken,
    /// Device authorization (RFC 8628).
    DeviceCode,
}

impl GrantType {
    /// Every grant, in a stable order.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::DeviceCode,
    ];

    /// The `grant_type` value sent to the token endpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Parses a `grant_type` value; `None` for grants grantline does not implement.
    pub fn parse(value: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == value)
    }

    /// The short name the bindings and the shared test vectors use: the `grant_type` value,
    /// except `device_code` for the device grant (whose wire value is an RFC 8628 URN).
    pub fn name(self) -> &'static str {
        match self {
            GrantType::DeviceCode => "device_code",
            other => other.as_str(),
        }
    }

    /// A grant by its short [`name`](GrantType::name) or its `grant_type` value.
    pub fn from_name(name: &str) -> Option<Self> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.name() == name)
            .or_else(|| GrantType::parse(name))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The endpoints a provider can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The authorization endpoint (RFC 6749 §3.1), opened in the user's browser.
    Authorization,
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// The token introspection endpoint (RFC 7662).
    Introspection,
    /// The token revocation endpoint (RFC 7009).
    Revocation,
    /// The device authorization endpoint (RFC 8628 §3.1).
    DeviceAuthorization,
}

impl Endpoint {
    /// A stable short name: `authorization`, `token`, `introspection`, `revocation`,
    /// `device_authorization` (used by the shared test vectors and the bindings).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Authorization => "authorization",
            Endpoint::Token => "token",
            Endpoint::Introspection => "introspection",
            Endpoint::Revocation => "revocation",
            Endpoint::DeviceAuthorization => "device_authorization",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::DeviceAuthorization => "device authorization",
            other => other.as_str(),
        })
    }
}

/// How request bodies are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    Form,
    /// `application/json`, as Bindeo and Auth0 accept.
    Json,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    Body,
    /// Public client: `client_id` in the body, no secret (`none`).
    None,
}

impl ClientAuthMethod {
    /// The RFC 8414 name of the method.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::Basic => "client_secret_basic",
            ClientAuthMethod::Body => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }

    /// Parses an RFC 8414 name (`client_secret_basic`, `client_secret_post`, `none`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client_secret_basic" => Some(ClientAuthMethod::Basic),
            "client_secret_post" => Some(ClientAuthMethod::Body),
            "none" => Some(ClientAuthMethod::None),
            _ => None,
        }
    }
}

/// An authorization server: everything grantline needs to know about it, as data.
///
/// Build one with a preset ([`Provider::libro`], ...), with [`Provider::builder`], or from a
/// discovery document with [`Provider::from_metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    name: String,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    grant_token_endpoints: Vec<(GrantType, String)>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    body_encoding: BodyEncoding,
    auth_method: ClientAuthMethod,
    scope_separator: String,
    extra_token_params: Vec<(String, String)>,
    default_skew: u64,
    grants: Vec<GrantType>,
    unsolicited_callbacks: bool,
    iss_parameter_supported: bool,
}

/// The default renewal margin before expiry, in seconds.
pub const DEFAULT_SKEW: u64 = 60;

/// Bookable's documented Auth0 `audience`.
pub const BOOKABLE_AUDIENCE: &str = "api.bookabletech.com";

impl Provider {
    /// Starts building a provider named `name` (the name is for display only).
    ///
    /// Defaults: form bodies, HTTP Basic client authentication, space as scope separator,
    /// 60 s skew, no grants (add them with [`ProviderBuilder::grant`]).
    pub fn builder(name: impl Into<String>) -> ProviderBuilder {
        ProviderBuilder {
            provider: Provider {
                name: name.into(),
                issuer: None,
                authorization_endpoint: None,
                token_endpoint: None,
                grant_token_endpoints: Vec::new(),
                introspection_endpoint: None,
                revocation_endpoint: None,
                device_authorization_endpoint: None,
                body_encoding: BodyEncoding::Form,
                auth_method: ClientAuthMethod::Basic,
                scope_separator: " ".into(),
                extra_token_params: Vec::new(),
                default_skew: DEFAULT_SKEW,
                grants: Vec::new(),
                unsolicited_callbacks: false,
                iss_parameter_supported: false,
            },
        }
    }

    /// Libro (production), from `seeds/libro.md`: authorization code and refresh at
    /// `accounts.libroreserve.com`, client credentials at `api.libroreserve.com`; form bodies,
    /// credentials in the body, space-separated scopes.
    pub fn libro() -> Provider {
        Self::libro_on("https://accounts.libroreserve.com", "libro")
            .token_endpoint_for(
                GrantType::ClientCredentials,
                "https://api.libroreserve.com/oauth/token",
            )
            .grant(GrantType::ClientCredentials)
            .build_preset()
    }

    /// Libro's staging environment: the document names only its accounts host
    /// (`accounts.staging.libro.app`), so this preset has the authorization code and refresh
    /// grants there and no client-credentials endpoint (add one with
    /// [`ProviderBuilder::token_endpoint_for`] if Libro gives you its staging API host).
    pub fn libro_staging() -> Provider {
        Self::libro_on("https://accounts.staging.libro.app", "libro-staging").build_preset()
    }

    fn libro_on(accounts: &str, name: &str) -> ProviderBuilder {
        Provider::builder(name)
            .authorization_endpoint(format!("{accounts}/oauth/authorize"))
            .token_endpoint(format!("{accounts}/oauth/token"))
            .auth_method(ClientAuthMethod::Body)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::RefreshToken)
    }

    /// Bindeo, from `seeds/bindeo.md`: one token endpoint, JSON bodies with the credentials in
    /// them; client credentials, password, and refresh (for password-grant tokens).
    pub fn bindeo() -> Provider {
        Provider::builder("bindeo")
            .token_endpoint("https://api.bindeo.com/access_token")
            .body_encoding(BodyEncoding::Json)
            .auth_method(ClientAuthMethod::Body)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::Password)
            .grant(GrantType::RefreshToken)
            .build_preset()
    }

    /// Bookable (Auth0), from `seeds/bookable-auth0.md`, with the documented audience
    /// [`BOOKABLE_AUDIENCE`].
    pub fn bookable() -> Provider {
        Self::bookable_with_audience(BOOKABLE_AUDIENCE)
    }

    /// Bookable (Auth0) with another `audience`: client credentials only, JSON body with the
    /// credentials and the audience in it; renewal repeats the grant with a 60 s margin.
    pub fn bookable_with_audience(audience: impl Into<String>) -> Provider {
        Provider::builder("bookable")
            .issuer("https://bookabletech.uk.auth0.com/")
            .token_endpoint("https://bookabletech.uk.auth0.com/oauth/token")
            .body_encoding(BodyEncoding::Json)
            .auth_method(ClientAuthMethod::Body)
            .extra_token_param("audience", audience)
            .grant(GrantType::ClientCredentials)
            .build_preset()
    }

    /// Apicbase, from `seeds/apicbase.txt`: authorization code and refresh, form bodies with
    /// the credentials in them, trailing slashes kept, and its introspection endpoint (which
    /// takes the refresh token too: see [`crate::Client::introspection_request`]).
    pub fn apicbase() -> Provider {
        Provider::builder("apicbase")
            .authorization_endpoint("https://app.apicbase.com/oauth/authorize/")
            .token_endpoint("https://api.apicbase.com/oauth/token/")
            .introspection_endpoint("https://api.apicbase.com/oauth/introspect/")
            .auth_method(ClientAuthMethod::Body)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::RefreshToken)
            .build_preset()
    }

    /// Booking Experts, from `seeds/booking-experts.txt`: the flow starts from the app store's
    /// "Install" button, so there is no authorization endpoint and the callback carries a code
    /// without `state` (see [`crate::Client::unsolicited_callback`]); form bodies, credentials
    /// in the body.
    pub fn booking_experts() -> Provider {
        Provider::builder("booking-experts")
            .token_endpoint("https://api.bookingexperts.nl/oauth/token")
            .auth_method(ClientAuthMethod::Body)
            .unsolicited_callbacks(true)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::RefreshToken)
            .build_preset()
    }

    /// A preset by its name: `libro`, `libro-staging`, `bindeo`, `bookable`, `apicbase`,
    /// `booking-experts`.
    pub fn preset(name: &str) -> Option<Provider> {
        Some(match name {
            "libro" => Provider::libro(),
            "libro-staging" => Provider::libro_staging(),
            "bindeo" => Provider::bindeo(),
            "bookable" => Provider::bookable(),
            "apicbase" => Provider::apicbase(),
            "booking-experts" => Provider::booking_experts(),
            _ => return None,
        })
    }

    /// Builds a provider from an RFC 8414 authorization-server metadata or OpenID Connect
    /// discovery document (the JSON bytes).
    ///
    /// Grants come from `grant_types_supported` (absent: authorization code, as RFC 8414
    /// says); the refresh grant is assumed wherever the authorization code grant is, because a
    /// refresh token in hand proves it. The client authentication method is HTTP Basic when
    /// `token_endpoint_auth_methods_supported` lists it or is absent (the RFC default),
    /// otherwise body, otherwise none when listed, otherwise HTTP Basic again (the list names
    /// only methods grantline does not speak; override with
    /// [`Client::with_auth_method`](crate::Client::with_auth_method)). Every endpoint must be
    /// `https://` (or loopback `http://`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a document that is not JSON or lacks `issuer`;
    /// [`Error::InsecureEndpoint`] for a non-loopback `http://` endpoint.
    pub fn from_metadata(json: &[u8]) -> Result<Provider, Error> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            authorization_endpoint: Option<String>,
            token_endpoint: Option<String>,
            introspection_endpoint: Option<String>,
            revocation_endpoint: Option<String>,
            device_authorization_endpoint: Option<String>,
            grant_types_supported: Option<Vec<String>>,
            token_endpoint_auth_methods_supported: Option<Vec<String>>,
            #[serde(default)]
            authorization_response_iss_parameter_supported: bool,
        }
        let m: Metadata = serde_json::from_slice(json)
            .map_err(|e| Error::invalid(format!("discovery document: {e}")))?;
        let mut b = Provider::builder(m.issuer.clone()).issuer(m.issuer);
        let grants: Vec<GrantType> = match &m.grant_types_supported {
            Some(list) => list.iter().filter_map(|g| GrantType::parse(g)).collect(),
            None => vec![GrantType::AuthorizationCode],
        };
        for g in &grants {
            b = b.grant(*g);
        }
        if grants.contains(&GrantType::AuthorizationCode) {
            b = b.grant(GrantType::RefreshToken);
        }
        let methods = m.token_endpoint_auth_methods_supported;
        let supports = |name: &str| methods.as_ref().is_none_or(|l| l.iter().any(|x| x == name));
        // Only methods grantline speaks count; a list of others (`private_key_jwt`...) falls
        // back to the RFC default rather than silently dropping the secret.
        b = b.auth_method(if supports("client_secret_basic") {
            ClientAuthMethod::Basic
        } else if supports("client_secret_post") {
            ClientAuthMethod::Body
        } else if supports("none") {
            ClientAuthMethod::None
        } else {
            ClientAuthMethod::Basic
        });
        b.provider.authorization_endpoint = m.authorization_endpoint;
        b.provider.token_endpoint = m.token_endpoint;
        b.provider.introspection_endpoint = m.introspection_endpoint;
        b.provider.revocation_endpoint = m.revocation_endpoint;
        b.provider.device_authorization_endpoint = m.device_authorization_endpoint;
        b.provider.iss_parameter_supported = m.authorization_response_iss_parameter_supported;
        b.build()
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The issuer identifier, when known (used for the RFC 9207 `iss` check).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
    /// The authorization endpoint, when the provider has one.
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.authorization_endpoint.as_deref()
    }
    /// The token endpoint used for `grant` (a per-grant endpoint wins over the default).
    pub fn token_endpoint(&self, grant: GrantType) -> Option<&str> {
        self.grant_token_endpoints
            .iter()
            .find(|(g, _)| *g == grant)
            .map(|(_, url)| url.as_str())
            .or(self.token_endpoint.as_deref())
    }
    /// The introspection endpoint, when the provider has one.
    pub fn introspection_endpoint(&self) -> Option<&str> {
        self.introspection_endpoint.as_deref()
    }
    /// The revocation endpoint, when the provider has one.
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.revocation_endpoint.as_deref()
    }
    /// The device authorization endpoint, when the provider has one.
    pub fn device_authorization_endpoint(&self) -> Option<&str> {
        self.device_authorization_endpoint.as_deref()
    }
    /// How request bodies are encoded.
    pub fn body_encoding(&self) -> BodyEncoding {
        self.body_encoding
    }
    /// How the client authenticates, unless the client overrides it.
    pub fn auth_method(&self) -> ClientAuthMethod {
        self.auth_method
    }
    /// What joins scopes in requests.
    pub fn scope_separator(&self) -> &str {
        &self.scope_separator
    }
    /// Parameters added to every token request (e.g. Auth0's `audience`).
    pub fn extra_token_params(&self) -> &[(String, String)] {
        &self.extra_token_params
    }
    /// The default renewal margin before expiry, in seconds.
    pub fn default_skew(&self) -> u64 {
        self.default_skew
    }
    /// The grants this provider supports.
    pub fn grants(&self) -> &[GrantType] {
        &self.grants
    }
    /// Whether the provider supports `grant`.
    pub fn supports(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }
    /// Whether the provider sends callbacks that no authorization request of ours started
    /// (Booking Experts' app-store install).
    pub fn unsolicited_callbacks(&self) -> bool {
        self.unsolicited_callbacks
    }
    /// Whether the provider always sends `iss` in callbacks (RFC 9207), so a callback without
    /// it is refused.
    pub fn iss_parameter_supported(&self) -> bool {
        self.iss_parameter_supported
    }

    /// A builder seeded with this provider, to adjust a preset.
    pub fn to_builder(&self) -> ProviderBuilder {
        ProviderBuilder {
            provider: self.clone(),
        }
    }
}

/// Builds a [`Provider`] from parts. Every setter takes and returns the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProviderBuilder {
    provider: Provider,
}

impl ProviderBuilder {
    /// Sets the issuer identifier (enables the RFC 9207 `iss` check).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.provider.issuer = Some(issuer.into());
        self
    }
    /// Sets the authorization endpoint.
    pub fn authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.authorization_endpoint = Some(url.into());
        self
    }
    /// Sets the token endpoint for every grant without a per-grant one.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.token_endpoint = Some(url.into());
        self
    }
    /// Sets the token endpoint for one grant (Libro has two token endpoints).
    pub fn token_endpoint_for(mut self, grant: GrantType, url: impl Into<String>) -> Self {
        self.provider
            .grant_token_endpoints
            .retain(|(g, _)| *g != grant);
        self.provider
            .grant_token_endpoints
            .push((grant, url.into()));
        self
    }
    /// Sets the introspection endpoint.
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.introspection_endpoint = Some(url.into());
        self
    }
    /// Sets the revocation endpoint.
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.revocation_endpoint = Some(url.into());
        self
    }
    /// Sets the device authorization endpoint.
    pub fn device_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.device_authorization_endpoint = Some(url.into());
        self
    }
    /// Sets the body encoding.
    pub fn body_encoding(mut self, encoding: BodyEncoding) -> Self {
        self.provider.body_encoding = encoding;
        self
    }
    /// Sets the client authentication method.
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.provider.auth_method = method;
        self
    }
    /// Sets what joins scopes in requests.
    pub fn scope_separator(mut self, separator: impl Into<String>) -> Self {
        self.provider.scope_separator = separator.into();
        self
    }
    /// Adds a parameter sent with every token request (replacing one of the same name).
    pub fn extra_token_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.provider.extra_token_params.retain(|(n, _)| *n != name);
        self.provider.extra_token_params.push((name, value.into()));
        self
    }
    /// Sets the default renewal margin before expiry, in seconds.
    pub fn default_skew(mut self, seconds: u64) -> Self {
        self.provider.default_skew = seconds;
        self
    }
    /// Adds a supported grant.
    pub fn grant(mut self, grant: GrantType) -> Self {
        if !self.provider.grants.contains(&grant) {
            self.provider.grants.push(grant);
        }
        self
    }
    /// Declares that the provider sends callbacks no request of ours started (see
    /// [`crate::Client::unsolicited_callback`]).
    pub fn unsolicited_callbacks(mut self, yes: bool) -> Self {
        self.provider.unsolicited_callbacks = yes;
        self
    }
    /// Declares that the provider always sends `iss` in callbacks (RFC 9207).
    pub fn iss_parameter_supported(mut self, yes: bool) -> Self {
        self.provider.iss_parameter_supported = yes;
        self
    }

    /// Checks every endpoint and returns the provider.
    ///
    /// # Errors
    /// [`Error::InsecureEndpoint`] for an `http://` endpoint on a non-loopback host;
    /// [`Error::InvalidInput`] for an endpoint that is not an absolute http(s) URL.
    pub fn build(self) -> Result<Provider, Error> {
        let p = &self.provider;
        let urls = p
            .authorization_endpoint
            .iter()
            .chain(p.token_endpoint.iter())
            .chain(p.grant_token_endpoints.iter().map(|(_, u)| u))
            .chain(p.introspection_endpoint.iter())
            .chain(p.revocation_endpoint.iter())
            .chain(p.device_authorization_endpoint.iter());
        for url in urls {
            check_endpoint(url)?;
        }
        Ok(self.provider)
    }

    /// Presets are constants written in this file; `build()` checking them is covered by tests.
    fn build_preset(self) -> Provider {
        self.provider
    }
}

/// Discovery over HTTP, sans-IO: the request that fetches a metadata document, and the
/// provider built from the answer. Bindings use these for their `discover` calls.
impl Provider {
    /// `GET url` with `accept: application/json`: the request for an RFC 8414 / OpenID Connect
    /// discovery document at its full URL (e.g.
    /// `https://as.example/.well-known/oauth-authorization-server`).
    ///
    /// # Errors
    /// [`Error::InsecureEndpoint`] or [`Error::InvalidInput`] for a URL that is not `https://`
    /// (or loopback `http://`).
    pub fn discovery_request(url: &str) -> Result<http::Request<Vec<u8>>, Error> {
        check_endpoint(url)?;
        http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| Error::invalid(format!("discovery URL {url:?} is not a valid URL")))
    }

    /// The provider described by a discovery response: a 2xx answer whose body is the
    /// document ([`Provider::from_metadata`]).
    ///
    /// # Errors
    /// [`Error::UnexpectedStatus`] for another status (with an excerpt of a non-JSON body),
    /// [`Error::Malformed`] for a body over [`MAX_BODY`](crate::MAX_BODY), and the errors of
    /// [`Provider::from_metadata`].
    pub fn from_discovery_response(
        resp: &http::Response<impl AsRef<[u8]>>,
    ) -> Result<Provider, Error> {
        let status = resp.status().as_u16();
        let body = resp.body().as_ref();
        if !resp.status().is_success() {
            let excerpt = if body.first().is_some_and(|b| matches!(b, b'{' | b'[')) {
                None
            } else {
                crate::error::excerpt(body)
            };
            return Err(Error::UnexpectedStatus { status, excerpt });
        }
        if body.len() > crate::MAX_BODY {
            return Err(Error::malformed(
                status,
                "discovery document exceeds the 1 MiB limit",
            ));
        }
        Provider::from_metadata(body)
    }
}

/// Refuses anything but `https://`, or `http://` on a loopback host.
pub(crate) fn check_endpoint(url: &str) -> Result<(), Error> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| Error::invalid(format!("endpoint {url:?} is not a valid URL")))?;
    let host = uri
        .host()
        .ok_or_else(|| Error::invalid(format!("endpoint {url:?} has no host")))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err(Error::InsecureEndpoint { url: url.into() }),
        _ => Err(Error::invalid(format!(
            "endpoint {url:?} is not an http(s) URL"
        ))),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_names() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::from_name(g.name()), Some(g));
            assert_eq!(GrantType::from_name(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::DeviceCode.name(), "device_code");
        assert_eq!(GrantType::from_name("implicit"), None);
    }

    #[test]
    fn discovery_request_and_response() {
        let r = Provider::discovery_request(
            "https://as.example/.well-known/oauth-authorization-server",
        )
        .unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(r.headers()["accept"], "application/json");
        assert!(r.body().is_empty());
        assert!(matches!(
            Provider::discovery_request("http://as.example/x"),
            Err(Error::InsecureEndpoint { .. })
        ));
        let ok = http::Response::new(
            br#"{"issuer":"https://as.example","token_endpoint":"https://as.example/token","grant_types_supported":["client_credentials"]}"#.to_vec(),
        );
        let p = Provider::from_discovery_response(&ok).unwrap();
        assert_eq!(
            p.token_endpoint(GrantType::ClientCredentials),
            Some("https://as.example/token")
        );
        let mut missing = http::Response::new(b"<html>Not Found</html>".to_vec());
        *missing.status_mut() = http::StatusCode::NOT_FOUND;
        assert_eq!(
            Provider::from_discovery_response(&missing),
            Err(Error::UnexpectedStatus {
                status: 404,
                excerpt: Some("<html>Not Found</html>".into())
            })
        );
    }

    #[test]
    fn presets_pass_their_own_checks() {
        for name in [
            "libro",
            "libro-staging",
            "bindeo",
            "bookable",
            "apicbase",
            "booking-experts",
        ] {
            let p = Provider::preset(name).unwrap();
            assert_eq!(p.clone().to_builder().build().unwrap(), p, "{name}");
        }
    }

    #[test]
    fn libro_has_two_token_endpoints() {
        let p = Provider::libro();
        assert_eq!(
            p.token_endpoint(GrantType::ClientCredentials),
            Some("https://api.libroreserve.com/oauth/token")
        );
        assert_eq!(
            p.token_endpoint(GrantType::RefreshToken),
            Some("https://accounts.libroreserve.com/oauth/token")
        );
    }

    #[test]
    fn http_only_on_loopback() {
        for ok in [
            "https://example.com/token",
            "http://127.0.0.1:8080/token",
            "http://127.8.0.1/token",
            "http://localhost/t",
            "http://[::1]:9/t",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        assert!(matches!(
            check_endpoint("http://example.com/token"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            check_endpoint("http://10.0.0.1/token"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            check_endpoint("ftp://example.com/x"),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            check_endpoint("/relative"),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn metadata_defaults_follow_rfc_8414() {
        let p = Provider::from_metadata(
            br#"{"issuer":"https://as.example","token_endpoint":"https://as.example/t",
                 "token_endpoint_auth_methods_supported":["client_secret_post"],
                 "grant_types_supported":["client_credentials","authorization_code","implicit"]}"#,
        )
        .unwrap();
        assert_eq!(p.auth_method(), ClientAuthMethod::Body);
        assert!(p.supports(GrantType::RefreshToken));
        assert!(!p.supports(GrantType::Password));
        let p = Provider::from_metadata(
            br#"{"issuer":"https://as.example","token_endpoint_auth_methods_supported":["private_key_jwt"]}"#,
        )
        .unwrap();
        assert_eq!(p.auth_method(), ClientAuthMethod::Basic);
        assert!(matches!(
            Provider::from_metadata(br#"{"issuer":"x","token_endpoint":"http://evil.example/t"}"#),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            Provider::from_metadata(b"<html>"),
            Err(Error::InvalidInput { .. })
        ));
    }
}
