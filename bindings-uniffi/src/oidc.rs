//! OpenID Connect, sans-IO: what an ID token must match ([`IdTokenCheck`]), its verified claims
//! ([`IdTokenClaims`]), userinfo answers ([`UserInfo`]) and the RP-Initiated Logout request
//! ([`EndSessionRequest`]). Every rule is the core's ([`grantline::oidc`]); the convenient
//! calls (`Client.validateIdToken`, `Client.userinfo`...) are in `src/client.rs` and
//! `src/flows.rs`.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::error::GrantlineError;
use crate::http::HttpResponse;
use crate::jose::{JwsAlgorithm, VerifiedJws};
use crate::types::Param;

fn sorted_names(map: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = map.keys().cloned().collect();
    names.sort();
    names
}

/// What an ID token must match (OpenID Connect Core 1.0 §3.1.3.7): built by
/// `Client.idTokenCheck(pending)` after an authorization request, `Client.refreshIdTokenCheck()`
/// after a refresh, or from an issuer and client id. Each `with…` returns a changed copy.
/// Printing it redacts the nonce and tokens.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct IdTokenCheck {
    pub(crate) inner: grantline::IdTokenCheck,
}

impl fmt::Display for IdTokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl IdTokenCheck {
    fn map(&self, f: impl FnOnce(grantline::IdTokenCheck) -> grantline::IdTokenCheck) -> Arc<Self> {
        Arc::new(IdTokenCheck {
            inner: f(self.inner.clone()),
        })
    }
}

#[uniffi::export]
impl IdTokenCheck {
    /// A check for tokens of `issuer` for `client_id`: no nonce, no `max_age`, 60 s leeway,
    /// `RS256` only.
    #[uniffi::constructor]
    pub fn new(issuer: String, client_id: String) -> Arc<Self> {
        Arc::new(IdTokenCheck {
            inner: grantline::IdTokenCheck::new(issuer, client_id),
        })
    }
    /// Expects this `nonce`.
    pub fn with_nonce(&self, nonce: String) -> Arc<Self> {
        self.map(|c| c.nonce(&grantline::Nonce::new(nonce)))
    }
    /// Expects `auth_time` at most `seconds` old (plus the leeway).
    pub fn with_max_age(&self, seconds: i64) -> Arc<Self> {
        self.map(|c| c.max_age(crate::num::seconds(seconds)))
    }
    /// The clock leeway for `exp`, `iat`, `nbf` and `auth_time`, in seconds.
    pub fn with_leeway(&self, seconds: i64) -> Arc<Self> {
        self.map(|c| c.leeway(crate::num::seconds(seconds)))
    }
    /// The signing algorithms accepted (an empty list keeps the current ones).
    pub fn with_algorithms(&self, algorithms: Vec<JwsAlgorithm>) -> Arc<Self> {
        self.map(|c| c.algorithms(crate::jose::algorithms(&algorithms)))
    }
    /// Checks `at_hash`, when the token has one, against this access token.
    pub fn with_access_token(&self, access_token: String) -> Arc<Self> {
        self.map(|c| c.access_token(&grantline::AccessToken::new(access_token)))
    }
    /// Checks `c_hash`, when the token has one, against this authorization code.
    pub fn with_code(&self, code: String) -> Arc<Self> {
        self.map(|c| c.code(&grantline::AuthorizationCode::new(code)))
    }
    /// The issuer expected.
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }
    /// The client id expected in `aud`.
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }
    /// The algorithms accepted: pass them to `JwksCache.verify` / `JwkSet.verify`.
    pub fn accepted_algorithms(&self) -> Vec<JwsAlgorithm> {
        self.inner
            .accepted_algorithms()
            .iter()
            .map(|a| (*a).into())
            .collect()
    }
    /// The `max_age` checked, when there is one.
    pub fn max_age(&self) -> Option<i64> {
        crate::num::out_opt(self.inner.expected_max_age())
    }
    /// The clock leeway, in seconds.
    pub fn leeway(&self) -> i64 {
        crate::num::out(self.inner.clock_leeway())
    }
    /// Checks the claims of an ID token whose signature verified, at `now` (Unix seconds).
    ///
    /// # Errors
    /// `IdToken` naming the `claim`; `Jws` (`malformed`) when the payload is not an object.
    pub fn validate(
        &self,
        verified: &VerifiedJws,
        now: i64,
    ) -> Result<Arc<IdTokenClaims>, GrantlineError> {
        Ok(claims(
            self.inner
                .validate(&verified.inner, crate::num::seconds(now))?,
        ))
    }
    /// Checks an ID token from a refresh answer against the first one's claims (OpenID Connect
    /// Core 1.0 §12.2: same `iss`, `sub`, `aud`, `azp`, `auth_time`).
    ///
    /// # Errors
    /// As [`IdTokenCheck::validate`].
    pub fn validate_refreshed(
        &self,
        verified: &VerifiedJws,
        previous: &IdTokenClaims,
        now: i64,
    ) -> Result<Arc<IdTokenClaims>, GrantlineError> {
        Ok(claims(self.inner.validate_refreshed(
            &verified.inner,
            &previous.inner,
            crate::num::seconds(now),
        )?))
    }
}

/// The claims of an ID token that passed its check. Printing it shows the registered claims
/// (the nonce redacted) and only the names of the others.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct IdTokenClaims {
    pub(crate) inner: grantline::IdTokenClaims,
}

impl fmt::Display for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

pub(crate) fn claims(inner: grantline::IdTokenClaims) -> Arc<IdTokenClaims> {
    Arc::new(IdTokenClaims { inner })
}

#[uniffi::export]
impl IdTokenClaims {
    /// Claims stored with `toJson()`, for the check of a later refresh's ID token.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `json` is not stored ID token claims.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(claims(grantline::IdTokenClaims::from_json(&json)?))
    }

    /// As JSON, to keep with the user's session (OIDC Core §12.2 checks a refreshed ID token
    /// against it). Personal data and the nonce: store it as the token set.
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// `sub`: the end-user's identifier at the issuer (with `issuer`, the stable key of a user).
    pub fn sub(&self) -> String {
        self.inner.sub().to_owned()
    }
    /// `iss`.
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }
    /// `aud`, as a list (one member when the token had a string).
    pub fn audiences(&self) -> Vec<String> {
        self.inner.audiences().to_vec()
    }
    /// `azp`, when present.
    pub fn azp(&self) -> Option<String> {
        self.inner.azp().map(str::to_owned)
    }
    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        crate::num::out(self.inner.expires_at())
    }
    /// `iat`, Unix seconds.
    pub fn issued_at(&self) -> i64 {
        crate::num::out(self.inner.issued_at())
    }
    /// `auth_time`, when present.
    pub fn auth_time(&self) -> Option<i64> {
        crate::num::out_opt(self.inner.auth_time())
    }
    /// `nonce`, when present. A secret of the login: never log it.
    pub fn nonce(&self) -> Option<String> {
        self.inner.nonce().map(|n| n.secret().to_owned())
    }
    /// `acr`, when present.
    pub fn acr(&self) -> Option<String> {
        self.inner.acr().map(str::to_owned)
    }
    /// `amr`, when present.
    pub fn amr(&self) -> Option<Vec<String>> {
        self.inner.amr().map(<[String]>::to_vec)
    }
    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.algorithm().into()
    }
    /// Every claim name, sorted.
    pub fn claim_names(&self) -> Vec<String> {
        sorted_names(self.inner.claims())
    }
    /// Every claim, as a JSON object (text).
    pub fn claims_json(&self) -> String {
        Value::Object(self.inner.claims().clone()).to_string()
    }
}

/// The end-user's claims from the userinfo endpoint, `sub` checked. Printing it shows `sub` and
/// the claim names only.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct UserInfo {
    pub(crate) inner: grantline::UserInfo,
}

impl fmt::Display for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl UserInfo {
    /// The claims of a signed userinfo answer whose signature verified (`JwksCache.verify`):
    /// `sub` must be `expected_sub`, `iss` (when present) `issuer`, `aud` (when present) must
    /// include `client_id`.
    ///
    /// # Errors
    /// `IdToken` naming `sub`, `iss` or `aud`; `Jws` (`malformed`).
    #[uniffi::constructor]
    pub fn from_verified(
        verified: &VerifiedJws,
        expected_sub: String,
        issuer: String,
        client_id: String,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(UserInfo {
            inner: grantline::UserInfo::from_verified(
                &verified.inner,
                &expected_sub,
                &issuer,
                &client_id,
            )?,
        }))
    }
    /// `sub`.
    pub fn sub(&self) -> String {
        self.inner.sub().to_owned()
    }
    /// Every claim name, sorted.
    pub fn claim_names(&self) -> Vec<String> {
        sorted_names(self.inner.claims())
    }
    /// Every claim, as a JSON object (text).
    pub fn claims_json(&self) -> String {
        Value::Object(self.inner.claims().clone()).to_string()
    }
}

/// What the userinfo endpoint answered.
#[derive(uniffi::Enum)]
pub enum UserInfoAnswer {
    /// A JSON answer whose `sub` matched.
    Claims {
        /// The claims.
        info: Arc<UserInfo>,
    },
    /// A signed answer (`application/jwt`): verify `jws` (`JwksCache.verify`), then
    /// `UserInfo.fromVerified`.
    Signed {
        /// The compact JWS.
        jws: String,
    },
}

/// Parses the userinfo endpoint's answer; `expected_sub` is the ID token's `sub`.
///
/// # Errors
/// `OAuth` for a 401/403 whose Bearer challenge has an `error`; `MalformedResponse`
/// (`unexpected_status`, `malformed`); `IdToken` (`sub`) when `sub` is missing or another.
#[uniffi::export]
pub fn parse_userinfo_response(
    response: &HttpResponse,
    expected_sub: String,
) -> Result<UserInfoAnswer, GrantlineError> {
    let answer = grantline::UserInfo::from_response(&response.to_http()?, &expected_sub)?;
    Ok(match answer {
        grantline::UserInfoAnswer::Claims(info) => UserInfoAnswer::Claims {
            info: Arc::new(UserInfo { inner: info }),
        },
        grantline::UserInfoAnswer::Signed(jws) => UserInfoAnswer::Signed { jws },
    })
}

/// An RP-Initiated Logout 1.0 request (§2): what `Client.endSessionUrl` puts in the URL
/// (`client_id` always). Printing it redacts `idTokenHint` and `state`.
#[derive(Clone, Default, uniffi::Record)]
#[uniffi::export(Display)]
pub struct EndSessionRequest {
    /// The ID token last issued for this end-user (recommended).
    #[uniffi(default)]
    pub id_token_hint: Option<String>,
    /// A hint about the end-user logging out.
    #[uniffi(default)]
    pub logout_hint: Option<String>,
    /// Where the provider sends the browser after logout (registered with the provider).
    #[uniffi(default)]
    pub post_logout_redirect_uri: Option<String>,
    /// A value passed back to the post-logout redirect URI.
    #[uniffi(default)]
    pub state: Option<String>,
    /// The end-user's preferred languages (space-separated BCP 47 tags).
    #[uniffi(default)]
    pub ui_locales: Option<String>,
    /// Extra parameters, in order (names may repeat; names the request sets are refused).
    #[uniffi(default)]
    pub params: Vec<Param>,
}

impl fmt::Display for EndSessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&grantline::EndSessionRequest::from(self), f)
    }
}

impl fmt::Debug for EndSessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&EndSessionRequest> for grantline::EndSessionRequest {
    fn from(r: &EndSessionRequest) -> Self {
        let mut out = grantline::EndSessionRequest::new();
        if let Some(t) = &r.id_token_hint {
            out = out.id_token_hint(&grantline::IdToken::new(t.clone()));
        }
        if let Some(h) = &r.logout_hint {
            out = out.logout_hint(h.clone());
        }
        if let Some(u) = &r.post_logout_redirect_uri {
            out = out.post_logout_redirect_uri(u.clone());
        }
        if let Some(s) = &r.state {
            out = out.state(s.clone());
        }
        if let Some(l) = &r.ui_locales {
            out = out.ui_locales(l.clone());
        }
        for p in &r.params {
            out = out.param(p.name.clone(), p.value.clone());
        }
        out
    }
}
