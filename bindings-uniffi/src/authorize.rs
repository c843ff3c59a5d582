//! The authorization code flow's values: what to ask for, the URL and what to keep until the
//! callback, and the code to exchange.

use std::fmt;
use std::sync::Arc;

use crate::error::GrantlineError;
use crate::types::{Param, PkceMethod};

/// What to ask for in an authorization request.
///
/// With `openid` among the scopes the URL carries a `nonce` (drawn at random unless given
/// here), kept in the pending authorization. Printing it redacts the nonce.
#[derive(Clone, Default, uniffi::Record)]
#[uniffi::export(Display)]
pub struct AuthorizationRequest {
    /// Scopes, joined with the provider's separator.
    #[uniffi(default)]
    pub scopes: Vec<String>,
    /// The PKCE method; `null`/`nil` means S256 (use `Plain` only if the server cannot do S256).
    #[uniffi(default)]
    pub pkce: Option<PkceMethod>,
    /// A redirect URI instead of the client's.
    #[uniffi(default)]
    pub redirect_uri: Option<String>,
    /// Extra URL parameters (`prompt`, `resource`, `audience`...), in order. Parameters
    /// grantline sets itself (`state`, `scope`, PKCE...) are refused.
    #[uniffi(default)]
    pub params: Vec<Param>,
    /// The OpenID Connect `nonce` (none: a random one when the scopes contain `openid`).
    #[uniffi(default)]
    pub nonce: Option<String>,
    /// The OpenID Connect `max_age`, in seconds: the ID token's `auth_time` is then checked
    /// (a negative value counts as 0).
    #[uniffi(default)]
    pub max_age: Option<i64>,
}

impl fmt::Display for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuthorizationRequest(scopes={:?}, pkce={:?}, redirect_uri={:?}, params={:?}, nonce={}, max_age={:?})",
            self.scopes,
            self.pkce,
            self.redirect_uri,
            self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            if self.nonce.is_some() { grantline::secret::REDACTED } else { "none" },
            self.max_age,
        )
    }
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<AuthorizationRequest> for grantline::AuthorizationRequest {
    fn from(r: AuthorizationRequest) -> Self {
        let mut out = grantline::AuthorizationRequest::new()
            .scopes(r.scopes)
            .pkce(r.pkce.map_or(grantline::PkceMethod::S256, Into::into));
        if let Some(uri) = r.redirect_uri {
            out = out.redirect_uri(uri);
        }
        for p in r.params {
            out = out.param(p.name, p.value);
        }
        if let Some(nonce) = r.nonce {
            out = out.nonce(nonce);
        }
        if let Some(max_age) = r.max_age {
            out = out.max_age(crate::num::seconds(max_age));
        }
        out
    }
}

/// The URL to open in the browser, and the [`PendingAuthorization`] to keep until the callback.
/// Printing it hides the URL's query (it carries the `state`).
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct Authorization {
    pub(crate) url: String,
    pub(crate) pending: Arc<PendingAuthorization>,
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.url.split('?').next().unwrap_or_default();
        write!(
            f,
            "Authorization(url={base}?[redacted], pending=[redacted])"
        )
    }
}

#[uniffi::export]
impl Authorization {
    /// The authorization URL: open it in a browser (Custom Tabs, ASWebAuthenticationSession).
    pub fn url(&self) -> String {
        self.url.clone()
    }
    /// What to keep until the callback (it holds the `state` and the PKCE verifier).
    pub fn pending(&self) -> Arc<PendingAuthorization> {
        self.pending.clone()
    }
}

/// What an app keeps between the authorization URL and the callback. Serializable with
/// [`PendingAuthorization::to_json`] so that it survives process death (Android): store the
/// JSON as a secret (it holds the `state` and the PKCE verifier). Printing it shows neither.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct PendingAuthorization {
    pub(crate) inner: grantline::PendingAuthorization,
}

impl fmt::Display for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl PendingAuthorization {
    /// Back from [`PendingAuthorization::to_json`].
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `json` is not a pending authorization.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(PendingAuthorization {
            inner: grantline::PendingAuthorization::from_json(&json)?,
        }))
    }
    /// As JSON, to store (a secret: it holds the `state` and the PKCE verifier).
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }
    /// The redirect URI the request used.
    pub fn redirect_uri(&self) -> Option<String> {
        self.inner.redirect_uri().map(str::to_owned)
    }
    /// The OpenID Connect `nonce` the request carried (the ID token must carry it). Never log
    /// it.
    pub fn nonce(&self) -> Option<String> {
        self.inner.nonce().map(|n| n.secret().to_owned())
    }
    /// The `max_age` the request carried, in seconds.
    pub fn max_age(&self) -> Option<i64> {
        crate::num::out_opt(self.inner.max_age())
    }
    /// The issuer the request was made to, when known.
    pub fn issuer(&self) -> Option<String> {
        self.inner.issuer().map(str::to_owned)
    }
}

/// An authorization code ready to exchange with `Client.exchangeCode` or
/// `Client.authorizationCodeRequest`. Printing it shows neither the code nor the verifier.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display)]
pub struct CodeGrant {
    pub(crate) inner: grantline::CodeGrant,
}

impl fmt::Display for CodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl CodeGrant {
    /// A code grant from parts (normally it comes from `Client.callback`).
    #[uniffi::constructor(default(code_verifier = None, redirect_uri = None))]
    pub fn new(
        code: String,
        code_verifier: Option<String>,
        redirect_uri: Option<String>,
    ) -> Arc<Self> {
        Arc::new(CodeGrant {
            inner: grantline::CodeGrant {
                code: grantline::AuthorizationCode::new(code),
                code_verifier: code_verifier.map(grantline::PkceVerifier::new),
                redirect_uri,
            },
        })
    }
    /// The authorization code. Never log it.
    pub fn code(&self) -> String {
        self.inner.code.secret().to_owned()
    }
    /// The PKCE verifier, when there was one. Never log it.
    pub fn code_verifier(&self) -> Option<String> {
        self.inner
            .code_verifier
            .as_ref()
            .map(|v| v.secret().to_owned())
    }
    /// The redirect URI the exchange repeats.
    pub fn redirect_uri(&self) -> Option<String> {
        self.inner.redirect_uri.clone()
    }
}
