//! Parsed answers: token sets, introspection, revocation, device authorization and polls,
//! `WWW-Authenticate` challenges.

use std::fmt;
use std::sync::Arc;

use crate::error::GrantlineError;
use crate::http::{header_map, Header, HttpResponse};
use crate::num;
use crate::provider::Provider;
use crate::types::{ExpirySource, Param};

/// A successful token response with its expiry made absolute. Printing it shows no token.
///
/// Persist it with [`TokenSet::to_json`] (the JSON holds the tokens: store it as a secret,
/// e.g. in EncryptedSharedPreferences or the Keychain) and restore it with
/// [`TokenSet::from_json`].
#[derive(Debug, Clone, uniffi::Object)]
#[uniffi::export(Display)]
pub struct TokenSet {
    pub(crate) inner: grantline::TokenSet,
}

impl fmt::Display for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

pub(crate) fn token_set(inner: grantline::TokenSet) -> Arc<TokenSet> {
    Arc::new(TokenSet { inner })
}

#[uniffi::export]
impl TokenSet {
    /// A token set from parts (e.g. tokens persisted by other means). `expires_at` and
    /// `issued_at` are Unix seconds (negative ones count as 0).
    #[uniffi::constructor(default(refresh_token = None, expires_at = None, issued_at = 0))]
    pub fn new(
        access_token: String,
        refresh_token: Option<String>,
        expires_at: Option<i64>,
        issued_at: i64,
    ) -> Arc<Self> {
        token_set(grantline::TokenSet::new(
            grantline::AccessToken::new(access_token),
            refresh_token.map(grantline::RefreshToken::new),
            expires_at.map(num::seconds),
            num::seconds(issued_at),
        ))
    }

    /// Parses a token endpoint response received at `now` (Unix seconds).
    ///
    /// # Errors
    /// `OAuth` for an error body (whatever the status); `MalformedResponse` for a body
    /// without a usable `access_token`, a bad lifetime, a body over 1 MiB, or a non-2xx
    /// status without an OAuth error.
    #[uniffi::constructor]
    pub fn from_response(response: &HttpResponse, now: i64) -> Result<Arc<Self>, GrantlineError> {
        Ok(token_set(grantline::TokenSet::from_response(
            &response.to_http()?,
            num::seconds(now),
        )?))
    }

    /// [`TokenSet::from_response`] for an answer from `provider`'s token endpoint: the
    /// `scope` is also split on the provider's own one-character scope separator (`,` for some
    /// presets), not only on spaces.
    ///
    /// # Errors
    /// As [`TokenSet::from_response`].
    #[uniffi::constructor]
    pub fn from_response_for(
        response: &HttpResponse,
        now: i64,
        provider: &Provider,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(token_set(grantline::TokenSet::from_response_for(
            &response.to_http()?,
            num::seconds(now),
            &provider.inner,
        )?))
    }

    /// A token set persisted with [`TokenSet::to_json`].
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `json` is not such a token set.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(token_set(grantline::TokenSet::from_json(&json)?))
    }

    /// As JSON, to persist. It contains the tokens: store it as a secret.
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }
    /// The access token, to send as `Authorization: Bearer`. Never log it.
    pub fn access_token(&self) -> String {
        self.inner.access_token().secret().to_owned()
    }
    /// The token type (`Bearer` when absent or any case of "bearer").
    pub fn token_type(&self) -> String {
        self.inner.token_type().to_owned()
    }
    /// Whether the access token is a bearer token (RFC 6750), the only kind grantline sends.
    /// A `DPoP`, `N_A`... token is never sent as `Authorization: Bearer`.
    pub fn is_bearer(&self) -> bool {
        self.inner.is_bearer()
    }
    /// Whether the access token had already expired when the response arrived (`expires_in:
    /// 0`, a past `expires` or JWT `exp`, a client clock ahead of the server's).
    pub fn expired_on_arrival(&self) -> bool {
        self.inner.expired_on_arrival()
    }
    /// The refresh token, when there is one. Never log it.
    pub fn refresh_token(&self) -> Option<String> {
        self.inner.refresh_token().map(|t| t.secret().to_owned())
    }
    /// The OpenID Connect ID token, unverified (validate it with `Client.validateIdToken`).
    /// Never log it.
    pub fn id_token(&self) -> Option<String> {
        self.inner.id_token().map(|t| t.secret().to_owned())
    }
    /// `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1), when present.
    pub fn issued_token_type(&self) -> Option<String> {
        self.inner.issued_token_type().map(str::to_owned)
    }
    /// When the access token expires (Unix seconds), when known. An expiry too far away to
    /// count in a `Long`/`Int64` (a lifetime like `1e20` seconds) is `Long.MAX_VALUE`/`Int64.max`:
    /// never, in practice (`null`/`nil` means unknown, which is not the same).
    pub fn expires_at(&self) -> Option<i64> {
        num::out_opt(self.inner.expires_at())
    }
    /// When the response was received (Unix seconds).
    pub fn issued_at(&self) -> i64 {
        num::out(self.inner.issued_at())
    }
    /// Where the expiry came from.
    pub fn expiry_source(&self) -> ExpirySource {
        self.inner.expiry_source().into()
    }
    /// The granted scopes, when the response listed them.
    pub fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes().map(<[String]>::to_vec)
    }
    /// The lifetime the server granted, in seconds, when known.
    pub fn lifetime(&self) -> Option<i64> {
        num::out_opt(self.inner.lifetime())
    }
    /// Whether the access token is expired at `now` or will be within `skew` seconds (capped
    /// at half its lifetime).
    pub fn expires_within(&self, now: i64, skew: i64) -> bool {
        self.inner
            .expires_within(num::seconds(now), num::seconds(skew))
    }
    /// The names of response members grantline does not know.
    pub fn extra_names(&self) -> Vec<String> {
        self.inner.extra_names().map(str::to_owned).collect()
    }
    /// Those members as a JSON object text. They may hold provider secrets: never log it.
    pub fn extra_json(&self) -> String {
        serde_json_object(self.inner.extra())
    }
    /// This set as the answer to a refresh of `previous`: without a `refresh_token` of its
    /// own, it keeps `previous`'s. `refresh_token_rotated` says whether the refresh token
    /// changed, i.e. whether the new set must be persisted to keep access.
    pub fn inherit_refresh_token(&self, previous: &TokenSet) -> Renewed {
        let mut tokens = self.inner.clone();
        let rotated = tokens.inherit_refresh_token(&previous.inner);
        Renewed {
            tokens: token_set(tokens),
            refresh_token_rotated: rotated,
        }
    }
}

/// A JSON object as text (serializing a `Map` of `Value`s cannot fail).
fn serde_json_object(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

/// A completed renewal: the new token set, and whether its refresh token changed. When
/// `refresh_token_rotated` is true, persist `tokens`: only the new set keeps access.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Renewed {
    /// The new token set.
    pub tokens: Arc<TokenSet>,
    /// Whether the refresh token changed (rotated, or newly issued).
    pub refresh_token_rotated: bool,
}

impl From<grantline::Renewed> for Renewed {
    fn from(r: grantline::Renewed) -> Self {
        Renewed {
            tokens: token_set(r.tokens),
            refresh_token_rotated: r.refresh_token_rotated,
        }
    }
}

/// An introspection answer (RFC 7662). `active == false` is an answer (expired, revoked or
/// unknown token), not an error.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// Its scopes, when given.
    pub scopes: Option<Vec<String>>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The resource owner's username.
    pub username: Option<String>,
    /// The token type.
    pub token_type: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: Option<i64>,
    /// Issue time (Unix seconds).
    pub iat: Option<i64>,
    /// Subject.
    pub sub: Option<String>,
    /// Issuer.
    pub iss: Option<String>,
    /// Other members, as a JSON object text.
    pub extra_json: String,
}

impl From<grantline::Introspection> for Introspection {
    fn from(i: grantline::Introspection) -> Self {
        Introspection {
            extra_json: serde_json_object(&i.extra),
            active: i.active,
            scopes: i.scopes,
            client_id: i.client_id,
            username: i.username,
            token_type: i.token_type,
            exp: num::out_opt(i.exp),
            iat: num::out_opt(i.iat),
            sub: i.sub,
            iss: i.iss,
        }
    }
}

/// Parses an introspection response.
///
/// # Errors
/// `OAuth` for an error body; `MalformedResponse` when `active` is missing or not a boolean,
/// or for an unexpected status.
#[uniffi::export]
pub fn parse_introspection_response(
    response: &HttpResponse,
) -> Result<Introspection, GrantlineError> {
    Ok(grantline::Introspection::from_response(&response.to_http()?)?.into())
}

/// Checks a revocation response: any 2xx is success (RFC 7009 §2.2).
///
/// # Errors
/// `OAuth` for an error body (e.g. `unsupported_token_type`); `MalformedResponse` for any
/// other non-2xx answer.
#[uniffi::export]
pub fn check_revocation_response(response: &HttpResponse) -> Result<(), GrantlineError> {
    Ok(grantline::check_revocation_response(&response.to_http()?)?)
}

/// The device authorization answer (RFC 8628 §3.2): show `userCode` and `verificationUri`,
/// then poll. Printing it shows no device code.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct DeviceAuthorization {
    pub(crate) inner: grantline::DeviceAuthorization,
}

impl fmt::Display for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl DeviceAuthorization {
    /// Parses the device authorization response received at `now`.
    ///
    /// # Errors
    /// `OAuth`; `MalformedResponse` when `device_code`, `user_code` or `verification_uri` is
    /// missing, or for an unexpected status.
    #[uniffi::constructor]
    pub fn from_response(response: &HttpResponse, now: i64) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(DeviceAuthorization {
            inner: grantline::DeviceAuthorization::from_response(
                &response.to_http()?,
                num::seconds(now),
            )?,
        }))
    }
    /// The device code, sent with every poll. Never log it.
    pub fn device_code(&self) -> String {
        self.inner.device_code.secret().to_owned()
    }
    /// The code the user types.
    pub fn user_code(&self) -> String {
        self.inner.user_code.clone()
    }
    /// Where the user goes.
    pub fn verification_uri(&self) -> String {
        self.inner.verification_uri.clone()
    }
    /// The verification URI with the user code in it, when given (for QR codes).
    pub fn verification_uri_complete(&self) -> Option<String> {
        self.inner.verification_uri_complete.clone()
    }
    /// When the device code expires (Unix seconds), when given.
    pub fn expires_at(&self) -> Option<i64> {
        num::out_opt(self.inner.expires_at)
    }
    /// Seconds to wait between polls.
    pub fn interval(&self) -> i64 {
        num::out(self.inner.interval)
    }
}

/// What one device-flow poll's answer means (RFC 8628 §3.5).
#[derive(Debug, Clone, uniffi::Enum)]
pub enum DevicePoll {
    /// The user approved: here are the tokens.
    Tokens {
        /// The token set.
        tokens: Arc<TokenSet>,
    },
    /// Not yet: poll again after `interval` seconds.
    Pending {
        /// Seconds to wait.
        interval: i64,
    },
    /// Polling too fast: use this longer `interval` from now on.
    SlowDown {
        /// Seconds to wait.
        interval: i64,
    },
    /// The device code expired: start over.
    Expired,
    /// The user denied the request.
    Denied,
}

impl From<grantline::DevicePoll> for DevicePoll {
    fn from(p: grantline::DevicePoll) -> Self {
        match p {
            grantline::DevicePoll::Tokens(t) => DevicePoll::Tokens {
                tokens: token_set(t),
            },
            grantline::DevicePoll::Pending { interval } => DevicePoll::Pending {
                interval: num::out(interval),
            },
            grantline::DevicePoll::SlowDown { interval } => DevicePoll::SlowDown {
                interval: num::out(interval),
            },
            grantline::DevicePoll::Expired => DevicePoll::Expired,
            grantline::DevicePoll::Denied => DevicePoll::Denied,
        }
    }
}

/// Maps one poll's response, received at `now`, polling every `interval` seconds so far.
///
/// # Errors
/// Any other OAuth error (e.g. `invalid_grant`) and malformed answers.
#[uniffi::export]
pub fn parse_device_poll_response(
    response: &HttpResponse,
    now: i64,
    interval: i64,
) -> Result<DevicePoll, GrantlineError> {
    Ok(grantline::DevicePoll::from_response(
        &response.to_http()?,
        num::seconds(now),
        num::seconds(interval),
    )?
    .into())
}

/// One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Challenge {
    /// The scheme, as written.
    pub scheme: String,
    /// A token68 instead of parameters, when given.
    pub token68: Option<String>,
    /// The parameters, names lowercased, quoted strings unescaped.
    pub params: Vec<Param>,
}

/// What a `Bearer` challenge says (RFC 6750 §3).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BearerChallenge {
    /// `realm`
    pub realm: Option<String>,
    /// `scope`, split on spaces.
    pub scope: Option<Vec<String>>,
    /// `error`: `invalid_token`, `insufficient_scope`, ...
    pub error: Option<String>,
    /// `error_description`
    pub error_description: Option<String>,
    /// `error_uri`
    pub error_uri: Option<String>,
}

/// Parses one `WWW-Authenticate` value into its challenges (lenient: an unreadable challenge
/// ends the list).
#[uniffi::export]
pub fn parse_www_authenticate(value: String) -> Vec<Challenge> {
    grantline::bearer::parse_www_authenticate(&value)
        .into_iter()
        .map(|c| Challenge {
            scheme: c.scheme,
            token68: c.token68,
            params: c
                .params
                .into_iter()
                .map(|(name, value)| Param { name, value })
                .collect(),
        })
        .collect()
}

/// The first `Bearer` challenge among every `WWW-Authenticate` header in `headers`.
#[uniffi::export]
pub fn bearer_challenge(headers: Vec<Header>) -> Option<BearerChallenge> {
    grantline::bearer::bearer_challenge(&header_map(&headers)).map(|c| BearerChallenge {
        realm: c.realm,
        scope: c.scope,
        error: c.error,
        error_description: c.error_description,
        error_uri: c.error_uri,
    })
}

/// Whether an API's answer means "renew the token": a 401 whose `Bearer` challenge says
/// `invalid_token`, or a 401 without an error code. A 403 `insufficient_scope` does not.
#[uniffi::export]
pub fn needs_renewal(status: i32, headers: Vec<Header>) -> bool {
    HttpResponse {
        status,
        headers,
        body: Vec::new(),
    }
    .needs_renewal()
}

/// The `Authorization: Bearer <token>` header for a bare access token string (printing the
/// header redacts the token). With a token set, prefer [`authorization_header_for`], which
/// refuses tokens that are not bearer tokens.
///
/// # Errors
/// `Configuration` (`invalid_input`) when the token cannot be sent in a header.
#[uniffi::export]
pub fn authorization_header(access_token: String) -> Result<Header, GrantlineError> {
    let value =
        grantline::bearer::authorization_header(&grantline::AccessToken::new(access_token))?;
    Ok(authorization(&value))
}

/// The `Authorization: Bearer <token>` header for a token set's access token.
///
/// # Errors
/// `Configuration`: `unsupported_token_type` when the set's `token_type` is not Bearer (a
/// `DPoP`, `N_A`... token must not be sent as a bearer token, RFC 6749 §7.1); `invalid_input`
/// when the token cannot be sent in a header.
#[uniffi::export]
pub fn authorization_header_for(tokens: &TokenSet) -> Result<Header, GrantlineError> {
    let value = grantline::bearer::authorization_header_for(&tokens.inner)?;
    Ok(authorization(&value))
}

fn authorization(value: &http::HeaderValue) -> Header {
    Header {
        name: "authorization".into(),
        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    }
}

/// `url` as it may be logged: user information removed, the values of secret parameters
/// (`code`, `state`, `access_token`, `client_secret`...) in the query **and** the fragment
/// replaced by `[redacted]`.
#[uniffi::export]
pub fn redact_url(url: String) -> String {
    grantline::redact::url(&url)
}
