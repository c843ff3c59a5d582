//! Plain enums and small records shared by the whole API, converted from and to the core's.

/// The grants (RFC 6749 §4, §6; RFC 8628) a provider can support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum GrantType {
    /// Authorization code with PKCE (RFC 6749 §4.1, RFC 7636).
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

/// The endpoints a provider can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
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
    /// The JWK Set document (`jwks_uri`, OpenID Connect Discovery).
    Jwks,
    /// The OpenID Connect userinfo endpoint.
    Userinfo,
    /// The RP-Initiated Logout end-session endpoint.
    EndSession,
}

/// How token request bodies are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum BodyEncoding {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    Form,
    /// `application/json` (Bindeo, Auth0).
    Json,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    Body,
    /// A public client: `client_id` in the body, no secret (RFC 8414's `none`; named
    /// `Public` because `none` clashes with Swift's `Optional.none`).
    Public,
    /// A JWT signed with the client's private key (`private_key_jwt`).
    PrivateKeyJwt,
    /// A JWT signed with the client secret, HS256 (`client_secret_jwt`).
    SecretJwt,
}

/// The `aud` of a client assertion (`private_key_jwt`, `client_secret_jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum AssertionAudience {
    /// The provider's issuer identifier (draft-ietf-oauth-rfc7523bis; the token endpoint when
    /// the provider has no issuer).
    Issuer,
    /// The token endpoint URL (RFC 7523 §3; Microsoft Entra, Okta).
    TokenEndpoint,
}

/// How the PKCE code challenge is derived (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum PkceMethod {
    /// `BASE64URL(SHA256(verifier))`: the default.
    S256,
    /// The verifier itself: only when the server cannot do S256.
    Plain,
}

/// A `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum TokenTypeHint {
    /// `access_token`
    AccessToken,
    /// `refresh_token`
    RefreshToken,
}

/// Where a token set's expiry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ExpirySource {
    /// The standard `expires_in`.
    ExpiresIn,
    /// A non-standard `expires` member.
    Expires,
    /// The access token's JWT `exp` claim, read without verifying the signature.
    UnverifiedJwtExp,
    /// Unknown: the token is used until the API rejects it.
    Unknown,
}

/// A name and a value: an extra parameter of an authorization URL or of token requests.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Param {
    /// The parameter's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

macro_rules! same_enum {
    ($ours:ident, $core:path, [$($ours_v:ident = $core_v:ident),* $(,)?]) => {
        impl From<$core> for $ours {
            fn from(v: $core) -> Self {
                use $core as C;
                match v { $(C::$core_v => $ours::$ours_v),* }
            }
        }
        impl From<$ours> for $core {
            fn from(v: $ours) -> Self {
                use $core as C;
                match v { $($ours::$ours_v => C::$core_v),* }
            }
        }
    };
}

same_enum!(
    GrantType,
    grantline::GrantType,
    [
        AuthorizationCode = AuthorizationCode,
        ClientCredentials = ClientCredentials,
        Password = Password,
        RefreshToken = RefreshToken,
        DeviceCode = DeviceCode,
    ]
);
same_enum!(
    Endpoint,
    grantline::Endpoint,
    [
        Authorization = Authorization,
        Token = Token,
        Introspection = Introspection,
        Revocation = Revocation,
        DeviceAuthorization = DeviceAuthorization,
        Jwks = Jwks,
        Userinfo = Userinfo,
        EndSession = EndSession,
    ]
);
same_enum!(
    BodyEncoding,
    grantline::BodyEncoding,
    [Form = Form, Json = Json]
);
same_enum!(
    ClientAuthMethod,
    grantline::ClientAuthMethod,
    [
        Basic = Basic,
        Body = Body,
        Public = None,
        PrivateKeyJwt = PrivateKeyJwt,
        SecretJwt = SecretJwt,
    ]
);
same_enum!(
    AssertionAudience,
    grantline::AssertionAudience,
    [Issuer = Issuer, TokenEndpoint = TokenEndpoint]
);
same_enum!(
    PkceMethod,
    grantline::PkceMethod,
    [S256 = S256, Plain = Plain]
);
same_enum!(
    TokenTypeHint,
    grantline::TokenTypeHint,
    [AccessToken = AccessToken, RefreshToken = RefreshToken]
);
same_enum!(
    ExpirySource,
    grantline::ExpirySource,
    [
        ExpiresIn = ExpiresIn,
        Expires = Expires,
        UnverifiedJwtExp = UnverifiedJwtExp,
        Unknown = Unknown,
    ]
);
