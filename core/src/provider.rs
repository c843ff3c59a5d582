//! Providers as data: endpoints, body encoding, client authentication, scope separator, extra
//! token parameters, default expiry skew and supported grants.
//!
//! Five presets come from the providers' own documents (see `PROVIDERS.md`); any other provider
//! is built with [`ProviderBuilder`], or discovered from its issuer with [`Discovery`](crate::Discovery) (RFC 8414,
//! OpenID Connect Discovery), or built from a metadata document with [`Provider::from_metadata`].
//!
//! # Security
//! - Every endpoint is checked when the provider is built: an absolute `https://` URL, or
//!   `http://` only on a loopback host (an IP literal in `127.0.0.0/8`, `[::1]`, or `localhost`
//!   exactly: `127.0.0.1.evil.com` and `localhost.evil` are public hosts); no user information
//!   (`https://user:pass@host`, RFC 9110 §4.2.4), no fragment (RFC 6749 §3.1), only the
//!   characters RFC 3986 allows (no backslash, space or non-ASCII), a valid port. URLs are kept
//!   exactly as given, trailing slashes included.
//! - An authorization endpoint may carry a query; it may not set a parameter grantline sets
//!   itself (RFC 6749 §3.1).
//! - [`Discovery`](crate::Discovery) is bound to the issuer: a metadata document that names another issuer is
//!   refused (mix-up attacks, RFC 9700 §4.4).

use std::fmt;

use crate::body::{Lenient, Members};
use crate::error::Error;
use crate::jose::Algorithm;

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
    /// The JWK Set document of the provider's signing keys (`jwks_uri`, OpenID Connect
    /// Discovery 1.0 §3).
    Jwks,
    /// The OpenID Connect userinfo endpoint (Core 1.0 §5.3).
    Userinfo,
    /// The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2).
    EndSession,
}

impl Endpoint {
    /// A stable short name: `authorization`, `token`, `introspection`, `revocation`,
    /// `device_authorization`, `jwks`, `userinfo`, `end_session` (used by the shared test
    /// vectors and the bindings).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Authorization => "authorization",
            Endpoint::Token => "token",
            Endpoint::Introspection => "introspection",
            Endpoint::Revocation => "revocation",
            Endpoint::DeviceAuthorization => "device_authorization",
            Endpoint::Jwks => "jwks",
            Endpoint::Userinfo => "userinfo",
            Endpoint::EndSession => "end_session",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::DeviceAuthorization => "device authorization",
            Endpoint::Jwks => "JWK Set (jwks_uri)",
            Endpoint::EndSession => "end session",
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

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2,
/// OpenID Connect Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    Body,
    /// Public client: `client_id` in the body, no secret (`none`).
    None,
    /// A JWT signed with the client's private key ([`Client::with_signing_key`](crate::Client::with_signing_key))
    /// in `client_assertion` (`private_key_jwt`).
    PrivateKeyJwt,
    /// A JWT signed with HS256, the client secret as the key (at least 32 bytes, RFC 7518
    /// §3.2), in `client_assertion` (`client_secret_jwt`).
    SecretJwt,
}

impl ClientAuthMethod {
    /// The RFC 8414 name of the method.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::Basic => "client_secret_basic",
            ClientAuthMethod::Body => "client_secret_post",
            ClientAuthMethod::None => "none",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::SecretJwt => "client_secret_jwt",
        }
    }

    /// Parses an RFC 8414 name (`client_secret_basic`, `client_secret_post`, `none`,
    /// `private_key_jwt`, `client_secret_jwt`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client_secret_basic" => Some(ClientAuthMethod::Basic),
            "client_secret_post" => Some(ClientAuthMethod::Body),
            "none" => Some(ClientAuthMethod::None),
            "private_key_jwt" => Some(ClientAuthMethod::PrivateKeyJwt),
            "client_secret_jwt" => Some(ClientAuthMethod::SecretJwt),
            _ => None,
        }
    }

    /// Whether the method authenticates with a signed JWT (`private_key_jwt`,
    /// `client_secret_jwt`).
    pub fn is_jwt(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::PrivateKeyJwt | ClientAuthMethod::SecretJwt
        )
    }
}

/// The `aud` of a client assertion (`private_key_jwt`, `client_secret_jwt`).
///
/// The current guidance (draft-ietf-oauth-rfc7523bis) is the issuer identifier alone; some
/// servers want the token endpoint URL (RFC 7523 §3, Microsoft Entra, Okta).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// The provider's issuer identifier (the token endpoint when the provider has no issuer).
    Issuer,
    /// The token endpoint URL: the grant's token endpoint for token requests, the provider's
    /// token endpoint for introspection, revocation and device authorization.
    TokenEndpoint,
}

impl AssertionAudience {
    /// `issuer` or `token_endpoint` (the shared vectors' names).
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionAudience::Issuer => "issuer",
            AssertionAudience::TokenEndpoint => "token_endpoint",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "issuer" => Some(AssertionAudience::Issuer),
            "token_endpoint" => Some(AssertionAudience::TokenEndpoint),
            _ => None,
        }
    }
}

/// An authorization server: everything grantline needs to know about it, as data.
///
/// Build one with a preset ([`Provider::libro`], ...), with [`Provider::builder`], from its
/// issuer with [`Discovery`](crate::Discovery), or from a metadata document with [`Provider::from_metadata`].
///
/// `Debug` redacts the value of any extra token parameter named like a secret
/// ([`crate::redact::SECRET_PARAMS`]: a `client_assertion`, say).
#[derive(Clone, PartialEq, Eq)]
pub struct Provider {
    name: String,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    grant_token_endpoints: Vec<(GrantType, String)>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    /// `id_token_signing_alg_values_supported`, the names grantline speaks (never `none`).
    id_token_algorithms: Vec<Algorithm>,
    body_encoding: BodyEncoding,
    /// `None`: the metadata listed only methods grantline does not speak (`auth_methods_offered`).
    auth_method: Option<ClientAuthMethod>,
    auth_methods_offered: Option<Vec<String>>,
    assertion_audience: Option<AssertionAudience>,
    scope_separator: String,
    extra_token_params: Vec<(String, String)>,
    default_skew: u64,
    grants: Vec<GrantType>,
    unsolicited_callbacks: bool,
    iss_parameter_supported: bool,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Params<'a>(&'a [(String, String)]);
        impl fmt::Debug for Params<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|(k, v)| {
                        let shown = if crate::redact::is_secret_param(k) {
                            crate::secret::REDACTED
                        } else {
                            v.as_str()
                        };
                        (k, shown)
                    }))
                    .finish()
            }
        }
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("token_endpoint", &self.token_endpoint)
            .field("grant_token_endpoints", &self.grant_token_endpoints)
            .field("introspection_endpoint", &self.introspection_endpoint)
            .field("revocation_endpoint", &self.revocation_endpoint)
            .field(
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            )
            .field("jwks_uri", &self.jwks_uri)
            .field("userinfo_endpoint", &self.userinfo_endpoint)
            .field("end_session_endpoint", &self.end_session_endpoint)
            .field("id_token_algorithms", &self.id_token_algorithms)
            .field("body_encoding", &self.body_encoding)
            .field("auth_method", &self.auth_method)
            .field("auth_methods_offered", &self.auth_methods_offered)
            .field("assertion_audience", &self.assertion_audience)
            .field("scope_separator", &self.scope_separator)
            .field("extra_token_params", &Params(&self.extra_token_params))
            .field("default_skew", &self.default_skew)
            .field("grants", &self.grants)
            .field("unsolicited_callbacks", &self.unsolicited_callbacks)
            .field("iss_parameter_supported", &self.iss_parameter_supported)
            .finish()
    }
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
                jwks_uri: None,
                userinfo_endpoint: None,
                end_session_endpoint: None,
                id_token_algorithms: Vec::new(),
                body_encoding: BodyEncoding::Form,
                auth_method: Some(ClientAuthMethod::Basic),
                auth_methods_offered: None,
                assertion_audience: None,
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

    /// Google (OAuth 2.0 and OpenID Connect), from Google's documentation
    /// (<https://developers.google.com/identity/protocols/oauth2/web-server>, the discovery
    /// document at <https://accounts.google.com/.well-known/openid-configuration>, and
    /// <https://developers.google.com/identity/protocols/oauth2/limited-input-device>):
    /// authorization code, refresh and device grants; form bodies with the credentials in
    /// them, as Google's examples send them; revocation at `oauth2.googleapis.com/revoke`.
    /// Refresh answers carry no new refresh token: the session keeps the old one.
    pub fn google() -> Provider {
        Provider::builder("google")
            .issuer("https://accounts.google.com")
            .authorization_endpoint("https://accounts.google.com/o/oauth2/v2/auth")
            .token_endpoint("https://oauth2.googleapis.com/token")
            .device_authorization_endpoint("https://oauth2.googleapis.com/device/code")
            .revocation_endpoint("https://oauth2.googleapis.com/revoke")
            .jwks_uri("https://www.googleapis.com/oauth2/v3/certs")
            .userinfo_endpoint("https://openidconnect.googleapis.com/v1/userinfo")
            .auth_method(ClientAuthMethod::Body)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode)
            .build_preset()
    }

    /// Microsoft Entra ID (the v2.0 endpoints) for `tenant`: a tenant id (GUID), a domain
    /// (`contoso.onmicrosoft.com`), or `common`, `organizations`, `consumers`; from
    /// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc> and the
    /// client credentials, code, device code and ROPC pages. Form bodies with the credentials
    /// in them (Microsoft's examples); client assertions addressed to the token endpoint, as
    /// Microsoft documents (`aud`). The issuer is `https://login.microsoftonline.com/{tenant}/v2.0`
    /// only for a tenant id: Entra's issuer names the tenant by id, so for a domain or a
    /// multi-tenant name the preset has no issuer (and no RFC 9207 check).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a tenant that is empty or not made of letters, digits and
    /// `-._~` (no `/`, `?`, `#`, `@`, space...).
    pub fn entra(tenant: &str) -> Result<Provider, Error> {
        check_segment(tenant, "Entra tenant")?;
        let base = format!("https://login.microsoftonline.com/{tenant}");
        let mut b = Provider::builder("entra")
            .authorization_endpoint(format!("{base}/oauth2/v2.0/authorize"))
            .token_endpoint(format!("{base}/oauth2/v2.0/token"))
            .device_authorization_endpoint(format!("{base}/oauth2/v2.0/devicecode"))
            .jwks_uri(format!("{base}/discovery/v2.0/keys"))
            .userinfo_endpoint("https://graph.microsoft.com/oidc/userinfo")
            .end_session_endpoint(format!("{base}/oauth2/v2.0/logout"))
            .auth_method(ClientAuthMethod::Body)
            .assertion_audience(AssertionAudience::TokenEndpoint)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::Password)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode);
        if is_guid(tenant) {
            b = b.issuer(format!("{base}/v2.0"));
        }
        b.build()
    }

    /// Okta at `domain` (`dev-123456.okta.com`, a host name alone): the org authorization
    /// server when `authorization_server` is `None`, else the custom one with that id
    /// (`default`, `aus...`); from <https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/>
    /// and <https://developer.okta.com/docs/concepts/auth-servers/>. Every endpoint (authorize,
    /// token, introspect, revoke, device/authorize) under `/oauth2/v1/` or
    /// `/oauth2/{id}/v1/`; HTTP Basic (Okta's default for secrets); client assertions
    /// addressed to the token endpoint, as Okta documents (`aud`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a domain that is not a host name, or an authorization
    /// server id that is empty or not made of letters, digits and `-._~`.
    pub fn okta(domain: &str, authorization_server: Option<&str>) -> Result<Provider, Error> {
        check_host(domain, "Okta domain")?;
        let (issuer, base) = match authorization_server {
            None => (
                format!("https://{domain}"),
                format!("https://{domain}/oauth2/v1"),
            ),
            Some(id) => {
                check_segment(id, "Okta authorization server")?;
                let issuer = format!("https://{domain}/oauth2/{id}");
                let base = format!("{issuer}/v1");
                (issuer, base)
            }
        };
        Provider::builder("okta")
            .issuer(issuer)
            .authorization_endpoint(format!("{base}/authorize"))
            .token_endpoint(format!("{base}/token"))
            .introspection_endpoint(format!("{base}/introspect"))
            .revocation_endpoint(format!("{base}/revoke"))
            .device_authorization_endpoint(format!("{base}/device/authorize"))
            .jwks_uri(format!("{base}/keys"))
            .userinfo_endpoint(format!("{base}/userinfo"))
            .end_session_endpoint(format!("{base}/logout"))
            .auth_method(ClientAuthMethod::Basic)
            .assertion_audience(AssertionAudience::TokenEndpoint)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::Password)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode)
            .build()
    }

    /// Auth0 at `domain` (`your-tenant.us.auth0.com` or a custom domain, a host name alone),
    /// with the API `audience` sent with every token request when given; from
    /// <https://auth0.com/docs/api/authentication>. Issuer `https://{domain}/` (trailing slash
    /// included), form bodies with the credentials in them (Auth0's examples), client
    /// assertions addressed to the issuer `https://{domain}/` (as Auth0 documents), revocation
    /// at `/oauth/revoke`, the device flow at `/oauth/device/code`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a domain that is not a host name, or an empty audience or
    /// one with a line break.
    pub fn auth0(domain: &str, audience: Option<&str>) -> Result<Provider, Error> {
        check_host(domain, "Auth0 domain")?;
        let base = format!("https://{domain}");
        let mut b = Provider::builder("auth0")
            .issuer(format!("{base}/"))
            .authorization_endpoint(format!("{base}/authorize"))
            .token_endpoint(format!("{base}/oauth/token"))
            .revocation_endpoint(format!("{base}/oauth/revoke"))
            .device_authorization_endpoint(format!("{base}/oauth/device/code"))
            .jwks_uri(format!("{base}/.well-known/jwks.json"))
            .userinfo_endpoint(format!("{base}/userinfo"))
            .end_session_endpoint(format!("{base}/oidc/logout"))
            .auth_method(ClientAuthMethod::Body)
            .assertion_audience(AssertionAudience::Issuer)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::Password)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode);
        if let Some(audience) = audience {
            if audience.is_empty() {
                return Err(Error::invalid("the Auth0 audience is empty"));
            }
            b = b.extra_token_param("audience", audience);
        }
        b.build()
    }

    /// Keycloak at `base_url` (`https://sso.example.com`, or with the `/auth` prefix of
    /// Keycloak before 17; one trailing slash is dropped) for `realm`; from
    /// <https://www.keycloak.org/securing-apps/oidc-layers>. Issuer `{base_url}/realms/{realm}`,
    /// every endpoint under `{issuer}/protocol/openid-connect/` (auth, token, token/introspect,
    /// revoke, auth/device); HTTP Basic; client assertions addressed to the issuer (Keycloak
    /// also accepts the token endpoint).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a base URL with a query, fragment or user information, or a
    /// realm that is empty or not made of letters, digits and `-._~`;
    /// [`Error::InsecureEndpoint`] for an `http://` base URL that is not loopback.
    pub fn keycloak(base_url: &str, realm: &str) -> Result<Provider, Error> {
        check_segment(realm, "Keycloak realm")?;
        if base_url.contains(['?', '#', '@']) {
            return Err(Error::invalid(
                "the Keycloak base URL may not have a query, a fragment or user information",
            ));
        }
        let base = base_url.strip_suffix('/').unwrap_or(base_url);
        let issuer = format!("{base}/realms/{realm}");
        let oidc = format!("{issuer}/protocol/openid-connect");
        Provider::builder("keycloak")
            .issuer(issuer.as_str())
            .authorization_endpoint(format!("{oidc}/auth"))
            .token_endpoint(format!("{oidc}/token"))
            .introspection_endpoint(format!("{oidc}/token/introspect"))
            .revocation_endpoint(format!("{oidc}/revoke"))
            .device_authorization_endpoint(format!("{oidc}/auth/device"))
            .jwks_uri(format!("{oidc}/certs"))
            .userinfo_endpoint(format!("{oidc}/userinfo"))
            .end_session_endpoint(format!("{oidc}/logout"))
            .auth_method(ClientAuthMethod::Basic)
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::Password)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode)
            .build()
    }

    /// GitHub (OAuth apps and GitHub Apps' user tokens; OAuth only, no OpenID Connect), from
    /// <https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps>:
    /// authorization code, refresh (GitHub Apps with expiring tokens) and the device flow at
    /// `github.com/login/device/code`; form bodies with the credentials in them. GitHub answers
    /// form-encoded unless asked for JSON (grantline asks, and parses either), lists scopes
    /// with commas (so `,` is the scope separator, and answers' `scope` is split on it), may
    /// issue tokens that never expire, and sends errors with HTTP 200.
    pub fn github() -> Provider {
        Provider::builder("github")
            .authorization_endpoint("https://github.com/login/oauth/authorize")
            .token_endpoint("https://github.com/login/oauth/access_token")
            .device_authorization_endpoint("https://github.com/login/device/code")
            .auth_method(ClientAuthMethod::Body)
            .scope_separator(",")
            .grant(GrantType::AuthorizationCode)
            .grant(GrantType::RefreshToken)
            .grant(GrantType::DeviceCode)
            .build_preset()
    }

    /// A preset by its name: `libro`, `libro-staging`, `bindeo`, `bookable`, `apicbase`,
    /// `booking-experts`, `google`, `github` (the others take parameters: [`Provider::entra`],
    /// [`Provider::okta`], [`Provider::auth0`], [`Provider::keycloak`]).
    pub fn preset(name: &str) -> Option<Provider> {
        Some(match name {
            "google" => Provider::google(),
            "github" => Provider::github(),
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
    /// discovery document (the JSON bytes). To fetch one from an issuer, and refuse a document
    /// that names another issuer, use [`Discovery`](crate::Discovery).
    ///
    /// - Grants: those `grant_types_supported` lists, with the refresh grant wherever a grant
    ///   that issues refresh tokens is (a refresh token in hand proves it). When the member is
    ///   absent, grantline refuses no grant locally: the server's answer decides (Microsoft
    ///   Entra's document has no such member, and client credentials works there).
    /// - Client authentication (for a client with a secret): HTTP Basic when
    ///   `token_endpoint_auth_methods_supported` lists it or is absent (the RFC default), else
    ///   `client_secret_post`, else `client_secret_jwt`, else `none`. A client with a signing
    ///   key uses `private_key_jwt` when the list has it ([`Client::auth_method`](crate::Client::auth_method)
    ///   decides). When the list names no method a client with a secret can use (only
    ///   `private_key_jwt`, `tls_client_auth`...), [`Provider::auth_method`] is `None` and
    ///   such a client gets [`Error::UnsupportedAuthMethod`] when it builds a request, unless
    ///   it has a key ([`Client::with_signing_key`](crate::Client::with_signing_key)) or
    ///   chooses a method with [`Client::with_auth_method`](crate::Client::with_auth_method).
    /// - `issuer` must be an `https://` URL (`http://` on loopback) without query or fragment;
    ///   every endpoint must pass the checks of [`ProviderBuilder::build`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a document that is not a JSON object, lacks `issuer`, or has
    /// a member of the wrong type; [`Error::InsecureEndpoint`] for a non-loopback `http://`
    /// issuer or endpoint, and the other errors of [`ProviderBuilder::build`].
    pub fn from_metadata(json: &[u8]) -> Result<Provider, Error> {
        let m: Members<'_> = serde_json::from_slice(json.trim_ascii())
            .map_err(|_| Error::invalid("the discovery document is not a JSON object"))?;
        let text = |key: &str| -> Result<Option<String>, Error> {
            match m.get(key) {
                None | Some(Lenient::Null) => Ok(None),
                Some(Lenient::Str(s)) => Ok(Some(s.clone().into_owned())),
                Some(_) => Err(Error::invalid(format!(
                    "`{key}` in the discovery document is not a string"
                ))),
            }
        };
        let list = |key: &str| -> Result<Option<Vec<String>>, Error> {
            let bad = || {
                Error::invalid(format!(
                    "`{key}` in the discovery document is not a list of strings"
                ))
            };
            match m.get(key) {
                None | Some(Lenient::Null) => Ok(None),
                Some(Lenient::List(items)) => items
                    .iter()
                    .map(|i| match i {
                        Lenient::Str(s) => Ok(s.clone().into_owned()),
                        _ => Err(bad()),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(bad()),
            }
        };
        let issuer = text("issuer")?
            .ok_or_else(|| Error::invalid("the discovery document has no `issuer`"))?;
        check_issuer(&issuer)?;
        let mut b = Provider::builder(issuer.clone()).issuer(issuer);
        let grants: Vec<GrantType> = match list("grant_types_supported")? {
            Some(names) => names.iter().filter_map(|g| GrantType::parse(g)).collect(),
            None => GrantType::ALL.to_vec(),
        };
        for g in &grants {
            b = b.grant(*g);
        }
        if grants.iter().any(|g| {
            matches!(
                g,
                GrantType::AuthorizationCode | GrantType::Password | GrantType::DeviceCode
            )
        }) {
            b = b.grant(GrantType::RefreshToken);
        }
        let methods = list("token_endpoint_auth_methods_supported")?;
        let supports = |name: &str| methods.as_ref().is_none_or(|l| l.iter().any(|x| x == name));
        b.provider.auth_method = if supports("client_secret_basic") {
            Some(ClientAuthMethod::Basic)
        } else if supports("client_secret_post") {
            Some(ClientAuthMethod::Body)
        } else if supports("client_secret_jwt") {
            Some(ClientAuthMethod::SecretJwt)
        } else if supports("none") {
            Some(ClientAuthMethod::None)
        } else {
            None
        };
        b.provider.auth_methods_offered = methods;
        b.provider.authorization_endpoint = text("authorization_endpoint")?;
        b.provider.token_endpoint = text("token_endpoint")?;
        b.provider.introspection_endpoint = text("introspection_endpoint")?;
        b.provider.revocation_endpoint = text("revocation_endpoint")?;
        b.provider.device_authorization_endpoint = text("device_authorization_endpoint")?;
        b.provider.jwks_uri = text("jwks_uri")?;
        b.provider.userinfo_endpoint = text("userinfo_endpoint")?;
        b.provider.end_session_endpoint = text("end_session_endpoint")?;
        if let Some(names) = list("id_token_signing_alg_values_supported")? {
            b = b.id_token_algorithm_names(names.iter().map(String::as_str));
        }
        b.provider.iss_parameter_supported = matches!(
            m.get("authorization_response_iss_parameter_supported"),
            Some(Lenient::Bool(true))
        );
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
    /// The token endpoint for grants without a per-grant one (extension grants, and the `aud`
    /// of client assertions sent elsewhere).
    pub fn default_token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
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
    /// The URL of the provider's JWK Set (`jwks_uri`), when known: fetch it with
    /// [`JwksCache`](crate::jose::JwksCache).
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }
    /// The OpenID Connect userinfo endpoint, when the provider has one.
    pub fn userinfo_endpoint(&self) -> Option<&str> {
        self.userinfo_endpoint.as_deref()
    }
    /// The RP-Initiated Logout end-session endpoint, when the provider has one.
    pub fn end_session_endpoint(&self) -> Option<&str> {
        self.end_session_endpoint.as_deref()
    }
    /// The algorithms the provider signs ID tokens with
    /// (`id_token_signing_alg_values_supported`), limited to those grantline speaks; `[RS256]`
    /// when the provider listed none it speaks (or nothing at all), the OpenID Connect
    /// default (Core 1.0 §15.1, Discovery 1.0 §3). `none` is never among them.
    pub fn id_token_algorithms(&self) -> &[Algorithm] {
        if self.id_token_algorithms.is_empty() {
            &[Algorithm::Rs256]
        } else {
            &self.id_token_algorithms
        }
    }
    /// How request bodies are encoded.
    pub fn body_encoding(&self) -> BodyEncoding {
        self.body_encoding
    }
    /// How a client with a secret authenticates, unless the client overrides it; `None` when
    /// the provider's metadata listed only methods grantline does not speak
    /// ([`Provider::auth_methods_offered`]).
    pub fn auth_method(&self) -> Option<ClientAuthMethod> {
        self.auth_method
    }
    /// The `aud` of the client assertions sent to this provider: the one set with
    /// [`ProviderBuilder::assertion_audience`], else [`AssertionAudience::Issuer`] when the
    /// provider has an issuer (draft-ietf-oauth-rfc7523bis), else
    /// [`AssertionAudience::TokenEndpoint`].
    pub fn assertion_audience(&self) -> AssertionAudience {
        match (self.assertion_audience, &self.issuer) {
            (Some(AssertionAudience::Issuer), Some(_)) | (None, Some(_)) => {
                AssertionAudience::Issuer
            }
            _ => AssertionAudience::TokenEndpoint,
        }
    }
    /// Whether `private_key_jwt` is this provider's method, or is listed in the metadata it
    /// was built from.
    pub(crate) fn offers_private_key_jwt(&self) -> bool {
        self.auth_method == Some(ClientAuthMethod::PrivateKeyJwt)
            || self
                .auth_methods_offered
                .as_ref()
                .is_some_and(|l| l.iter().any(|m| m == "private_key_jwt"))
    }
    /// The `token_endpoint_auth_methods_supported` of the metadata the provider was built
    /// from, when it had one.
    pub fn auth_methods_offered(&self) -> Option<&[String]> {
        self.auth_methods_offered.as_deref()
    }
    /// What joins scopes in requests.
    pub fn scope_separator(&self) -> &str {
        &self.scope_separator
    }
    /// The provider's own scope separator, when it is one character other than a space (`,`):
    /// token responses' `scope` is split on it as well as on spaces.
    pub fn response_scope_separator(&self) -> Option<char> {
        let mut chars = self.scope_separator.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c != ' ' => Some(c),
            _ => None,
        }
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
    /// Sets the URL of the provider's JWK Set (`jwks_uri`).
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.provider.jwks_uri = Some(url.into());
        self
    }
    /// Sets the OpenID Connect userinfo endpoint.
    pub fn userinfo_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.userinfo_endpoint = Some(url.into());
        self
    }
    /// Sets the RP-Initiated Logout end-session endpoint.
    pub fn end_session_endpoint(mut self, url: impl Into<String>) -> Self {
        self.provider.end_session_endpoint = Some(url.into());
        self
    }
    /// Sets the algorithms the provider signs ID tokens with (replacing any set before);
    /// an empty list restores the default, `[RS256]`.
    pub fn id_token_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.provider.id_token_algorithms.clear();
        for alg in algorithms {
            if !self.provider.id_token_algorithms.contains(&alg) {
                self.provider.id_token_algorithms.push(alg);
            }
        }
        self
    }
    /// [`id_token_algorithms`](Self::id_token_algorithms) by `alg` name, as metadata lists
    /// them: names grantline does not speak, and `none`, are dropped.
    pub fn id_token_algorithm_names<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.id_token_algorithms(names.into_iter().filter_map(Algorithm::from_name))
    }
    /// Sets the body encoding.
    pub fn body_encoding(mut self, encoding: BodyEncoding) -> Self {
        self.provider.body_encoding = encoding;
        self
    }
    /// Sets the client authentication method.
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.provider.auth_method = Some(method);
        self
    }
    /// Sets the `aud` of client assertions (see [`Provider::assertion_audience`]).
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.provider.assertion_audience = Some(audience);
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
    /// [`Error::InvalidInput`] for an endpoint that is not an absolute http(s) URL, carries
    /// user information or a fragment, has characters a URL cannot have or an invalid port, for
    /// an authorization endpoint whose query sets a parameter grantline sets itself, and for an
    /// issuer with a query or fragment.
    pub fn build(self) -> Result<Provider, Error> {
        let p = &self.provider;
        if let Some(issuer) = &p.issuer {
            check_issuer(issuer)?;
        }
        if let Some(url) = &p.authorization_endpoint {
            check_authorization_endpoint(url)?;
        }
        let urls = p
            .authorization_endpoint
            .iter()
            .chain(p.token_endpoint.iter())
            .chain(p.grant_token_endpoints.iter().map(|(_, u)| u))
            .chain(p.introspection_endpoint.iter())
            .chain(p.revocation_endpoint.iter())
            .chain(p.device_authorization_endpoint.iter())
            .chain(p.jwks_uri.iter())
            .chain(p.userinfo_endpoint.iter())
            .chain(p.end_session_endpoint.iter());
        for url in urls {
            check_endpoint(url)?;
        }
        for (name, value) in &p.extra_token_params {
            if name.is_empty() || name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
                return Err(Error::invalid(
                    "an extra token parameter has an empty name or a line break",
                ));
            }
        }
        Ok(self.provider)
    }

    /// Presets are constants written in this file; `build()` checking them is covered by tests.
    fn build_preset(self) -> Provider {
        self.provider
    }
}

/// The longest tenant, realm or authorization server id a preset takes, in bytes.
const MAX_SEGMENT: usize = 255;

/// A path segment a preset puts in its URLs: non-empty, at most [`MAX_SEGMENT`] bytes, only
/// RFC 3986 unreserved characters (so no `/`, `?`, `#`, `@`, `%` or space), not `.` or `..`.
fn check_segment(value: &str, what: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= MAX_SEGMENT
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "the {what} {} must be letters, digits and -._~ only (no /, ?, #, @ or space)",
            crate::text::oauth_text(value, crate::text::Charset::Uri, 64)
        )))
    }
}

/// A host name a preset puts in its URLs: dot-separated labels of letters, digits and `-`
/// (not at a label's ends), at most 253 bytes; no scheme, port, path or user information.
fn check_host(value: &str, what: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "the {what} {} must be a host name alone (like tenant.example.com: no scheme, port, path, /, ?, #, @ or space)",
            crate::text::oauth_text(value, crate::text::Charset::Uri, 64)
        )))
    }
}

/// `8-4-4-4-12` hex digits: an Entra tenant id.
fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(crate) use crate::urls::{check_authorization_endpoint, check_endpoint, check_issuer};

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
    fn debug_redacts_secret_extra_parameters() {
        let p = Provider::builder("x")
            .token_endpoint("https://as.example/token")
            .extra_token_param("client_assertion", "eyJ.secret.jwt")
            .extra_token_param("audience", "api")
            .build()
            .unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("eyJ.secret.jwt"), "{shown}");
        assert!(shown.contains("\"audience\", \"api\""), "{shown}");
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
            "google",
            "github",
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
    fn metadata_grants_and_auth_methods() {
        let p = Provider::from_metadata(
            br#"{"issuer":"https://as.example","token_endpoint":"https://as.example/t",
                 "token_endpoint_auth_methods_supported":["client_secret_post"],
                 "grant_types_supported":["client_credentials","authorization_code","implicit"]}"#,
        )
        .unwrap();
        assert_eq!(p.auth_method(), Some(ClientAuthMethod::Body));
        assert!(p.supports(GrantType::RefreshToken));
        assert!(!p.supports(GrantType::Password));
        // No grant_types_supported (Microsoft Entra): nothing is refused locally.
        let p = Provider::from_metadata(
            br#"{"issuer":"https://as.example","token_endpoint":"https://as.example/t"}"#,
        )
        .unwrap();
        assert!(GrantType::ALL.iter().all(|g| p.supports(*g)));
        // Only methods grantline does not speak: no method, and the list is kept.
        let p = Provider::from_metadata(
            br#"{"issuer":"https://as.example","token_endpoint_auth_methods_supported":["private_key_jwt"]}"#,
        )
        .unwrap();
        assert_eq!(p.auth_method(), None);
        assert_eq!(p.auth_methods_offered().unwrap(), ["private_key_jwt"]);
        for (doc, kind) in [
            (
                &br#"{"issuer":"x","token_endpoint":"http://evil.example/t"}"#[..],
                "invalid_input",
            ),
            (
                br#"{"issuer":"https://as.example","token_endpoint":"http://evil.example/t"}"#,
                "insecure_endpoint",
            ),
            (br#"{"issuer":"http://as.example"}"#, "insecure_endpoint"),
            (br#"{"issuer":"https://as.example?x=1"}"#, "invalid_input"),
            (
                br#"{"issuer":"https://as.example","token_endpoint":7}"#,
                "invalid_input",
            ),
            (b"<html>", "invalid_input"),
        ] {
            assert_eq!(Provider::from_metadata(doc).unwrap_err().kind(), kind);
        }
    }

    #[test]
    fn authorization_endpoint_query_is_checked_when_built() {
        let b = |url: &str| {
            Provider::builder("x")
                .authorization_endpoint(url)
                .grant(GrantType::AuthorizationCode)
                .build()
        };
        assert!(b("https://as.example/authorize?tenant=t").is_ok());
        assert_eq!(
            b("https://as.example/authorize?response_type=token")
                .unwrap_err()
                .kind(),
            "invalid_input"
        );
    }
}
