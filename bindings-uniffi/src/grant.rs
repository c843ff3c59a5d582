//! Any grant with any parameters ([`GrantRequest`], the core's [`grantline::GrantRequest`]):
//! extension grants, RFC 8693 token exchange ([`TokenExchange`]), RFC 7523 JWT bearer, and the
//! standard grants with per-request extra parameters (`resource`, `audience`... repeats kept).
//! Send it sans-IO with `Client.grantRequest(request)` or through the transport with
//! `Client.grant(request)` / `grantAsync`.

use std::fmt;
use std::sync::Arc;

use crate::authorize::CodeGrant;
use crate::types::Param;

/// The token type identifiers of RFC 8693 §3 (`urn:ietf:params:oauth:token-type:...`), for
/// `TokenExchange.subjectTokenType` and friends.
#[uniffi::export]
pub fn token_type_access_token() -> String {
    grantline::grant::token_type::ACCESS_TOKEN.to_owned()
}

/// `urn:ietf:params:oauth:token-type:refresh_token` (RFC 8693 §3).
#[uniffi::export]
pub fn token_type_refresh_token() -> String {
    grantline::grant::token_type::REFRESH_TOKEN.to_owned()
}

/// `urn:ietf:params:oauth:token-type:id_token` (RFC 8693 §3).
#[uniffi::export]
pub fn token_type_id_token() -> String {
    grantline::grant::token_type::ID_TOKEN.to_owned()
}

/// `urn:ietf:params:oauth:token-type:jwt` (RFC 8693 §3).
#[uniffi::export]
pub fn token_type_jwt() -> String {
    grantline::grant::token_type::JWT.to_owned()
}

/// An RFC 8693 token exchange: the subject (and optionally actor) token with its type, the
/// targets (`resource`, `audience`: each value sent, in order), scopes and the token type
/// wanted. Printing it redacts both tokens.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Display)]
pub struct TokenExchange {
    /// The token of the party on whose behalf the request is made. A secret.
    pub subject_token: String,
    /// Its type identifier (e.g. `tokenTypeAccessToken()`).
    pub subject_token_type: String,
    /// The acting party's token, when there is one. A secret.
    #[uniffi(default)]
    pub actor_token: Option<String>,
    /// Its type (required with `actor_token`, and only with it).
    #[uniffi(default)]
    pub actor_token_type: Option<String>,
    /// Where the token will be used (RFC 8707 `resource`), each sent.
    #[uniffi(default)]
    pub resource: Vec<String>,
    /// Logical names of the target services (`audience`), each sent.
    #[uniffi(default)]
    pub audience: Vec<String>,
    /// The scopes asked for.
    #[uniffi(default)]
    pub scopes: Vec<String>,
    /// The type of token wanted.
    #[uniffi(default)]
    pub requested_token_type: Option<String>,
}

impl From<&TokenExchange> for grantline::TokenExchange {
    fn from(t: &TokenExchange) -> Self {
        grantline::TokenExchange {
            subject_token: grantline::SecurityToken::new(t.subject_token.clone()),
            subject_token_type: t.subject_token_type.clone(),
            actor_token: t.actor_token.clone().map(grantline::SecurityToken::new),
            actor_token_type: t.actor_token_type.clone(),
            resource: t.resource.clone(),
            audience: t.audience.clone(),
            scopes: t.scopes.clone(),
            requested_token_type: t.requested_token_type.clone(),
        }
    }
}

impl fmt::Display for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&grantline::TokenExchange::from(self), f)
    }
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A token request for any grant, with scopes and extra parameters (repeatable, order kept).
/// Immutable: `scopes`, `param` and `params` return a changed copy. Parameters the request or
/// the client authentication sets (`grant_type`, `client_id`, `scope`, the grant's own...) are
/// refused (`invalid_input`) when the request is built. Printing it shows parameter names only.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct GrantRequest {
    pub(crate) inner: grantline::GrantRequest,
}

impl fmt::Display for GrantRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

fn wrap(inner: grantline::GrantRequest) -> Arc<GrantRequest> {
    Arc::new(GrantRequest { inner })
}

#[uniffi::export]
impl GrantRequest {
    /// A request for any `grant_type` (an absolute URI or an RFC 6749 name); sent to the
    /// provider's token endpoint, the server decides.
    #[uniffi::constructor]
    pub fn new(grant_type: String) -> Arc<Self> {
        wrap(grantline::GrantRequest::new(grant_type))
    }
    /// Client credentials (RFC 6749 §4.4).
    #[uniffi::constructor(default(scopes = []))]
    pub fn client_credentials(scopes: Vec<String>) -> Arc<Self> {
        wrap(grantline::GrantRequest::client_credentials(scopes))
    }
    /// Resource owner password (RFC 6749 §4.3).
    #[uniffi::constructor(default(scopes = []))]
    pub fn password(username: String, password: String, scopes: Vec<String>) -> Arc<Self> {
        wrap(grantline::GrantRequest::password(
            &username,
            &grantline::Password::new(password),
            scopes,
        ))
    }
    /// Refresh (RFC 6749 §6).
    #[uniffi::constructor(default(scopes = []))]
    pub fn refresh(refresh_token: String, scopes: Vec<String>) -> Arc<Self> {
        wrap(grantline::GrantRequest::refresh(
            &grantline::RefreshToken::new(refresh_token),
            scopes,
        ))
    }
    /// The authorization code exchange (RFC 6749 §4.1.3).
    #[uniffi::constructor]
    pub fn authorization_code(grant: &CodeGrant) -> Arc<Self> {
        wrap(grantline::GrantRequest::authorization_code(&grant.inner))
    }
    /// A device access token request (RFC 8628 §3.4).
    #[uniffi::constructor]
    pub fn device_code(device_code: String) -> Arc<Self> {
        wrap(grantline::GrantRequest::device_code(
            &grantline::DeviceCode::new(device_code),
        ))
    }
    /// A token exchange (RFC 8693).
    #[uniffi::constructor]
    pub fn token_exchange(exchange: TokenExchange) -> Arc<Self> {
        wrap(grantline::GrantRequest::token_exchange((&exchange).into()))
    }
    /// The JWT bearer grant (RFC 7523 §2.1): `assertion` is a JWT you signed (e.g. with
    /// `SigningKey.sign`) or got from an identity provider.
    #[uniffi::constructor(default(scopes = []))]
    pub fn jwt_bearer(assertion: String, scopes: Vec<String>) -> Arc<Self> {
        wrap(grantline::GrantRequest::jwt_bearer(
            &grantline::Assertion::new(assertion),
            scopes,
        ))
    }
    /// This request with `scopes` (joined with the provider's separator).
    pub fn scopes(&self, scopes: Vec<String>) -> Arc<Self> {
        wrap(self.inner.clone().scopes(scopes))
    }
    /// This request with one more parameter (names may repeat; order kept).
    pub fn param(&self, name: String, value: String) -> Arc<Self> {
        wrap(self.inner.clone().param(name, value))
    }
    /// This request with more parameters, in order.
    pub fn params(&self, params: Vec<Param>) -> Arc<Self> {
        let mut inner = self.inner.clone();
        for p in params {
            inner = inner.param(p.name, p.value);
        }
        wrap(inner)
    }
    /// The `grant_type` sent.
    pub fn grant_type(&self) -> String {
        self.inner.grant_type().to_owned()
    }
    /// The scopes asked for.
    pub fn requested_scopes(&self) -> Vec<String> {
        self.inner.requested_scopes().to_vec()
    }
    /// The names of the parameters sent besides `grant_type` and `scope`, in order.
    pub fn param_names(&self) -> Vec<String> {
        self.inner.param_names().map(str::to_owned).collect()
    }
}
