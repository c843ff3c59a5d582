//! The authorization code flow: the authorization URL (RFC 6749 §4.1.1, PKCE RFC 7636), the
//! redirect callback (§4.1.2, RFC 9207 `iss`), and the code exchange (§4.1.3).
//!
//! # Security
//! - `state` carries 256 random bits and is compared in constant time.
//! - PKCE S256 is on by default; `plain` only by explicit choice.
//! - When the callback carries `iss`, it must name the provider's issuer; a provider that
//!   declares it always sends `iss` has callbacks without it refused.
//! - Callbacks without `state` are accepted only through [`Client::unsolicited_callback`], for
//!   providers that start the flow themselves (Booking Experts' app-store install).
//! - With `openid` among the scopes, the URL carries a `nonce` of 256 random bits, kept in the
//!   [`PendingAuthorization`] for the ID token check ([`crate::oidc`]).

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::pkce::{self, PkceMethod};
use crate::provider::{Endpoint, GrantType};
use crate::secret::{AuthorizationCode, CsrfState, Nonce, PkceVerifier};

/// What to ask for in an authorization request. Defaults: no scopes, PKCE S256, the client's
/// redirect URI.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct AuthorizationRequest {
    scopes: Vec<String>,
    pkce: PkceMethod,
    redirect_uri: Option<String>,
    params: Vec<(String, String)>,
    nonce: Option<Nonce>,
    max_age: Option<u64>,
}

impl AuthorizationRequest {
    /// An authorization request with the defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds scopes (joined with the provider's separator).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }
    /// Chooses the PKCE method (S256 unless you must use `plain`).
    pub fn pkce(mut self, method: PkceMethod) -> Self {
        self.pkce = method;
        self
    }
    /// Uses this redirect URI instead of the client's.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }
    /// Sends this `nonce` (OpenID Connect Core 1.0 §3.1.2.1) instead of a random one, with or
    /// without `openid` among the scopes. Without it, a request whose scopes contain `openid`
    /// gets 256 random bits, base64url-encoded.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(Nonce::new(nonce));
        self
    }
    /// Sends `max_age` (Core 1.0 §3.1.2.1): the ID token's `auth_time` must then be at most
    /// this many seconds old ([`crate::oidc::IdTokenCheck`]).
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }
    /// Adds a parameter to the URL (`prompt`, `resource`, `audience`...). Parameters grantline
    /// sets itself (`state`, `scope`, `redirect_uri`, PKCE, `nonce`, `max_age`...) are refused
    /// when the URL is built: use the dedicated setters.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

/// The URL to send the user to, and what to keep until the callback.
///
/// `Debug` hides the URL's query: it carries the `state` (and, with `plain` PKCE, the
/// verifier).
pub struct Authorization {
    /// The authorization URL.
    pub url: String,
    /// Keep this (session, cookie, KV store...) until the callback arrives: it holds the
    /// `state` and the PKCE verifier, so store it as a secret.
    pub pending: PendingAuthorization,
}

impl core::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let base = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("Authorization")
            .field("url", &format_args!("{base}?[redacted]"))
            .field("pending", &self.pending)
            .finish()
    }
}

/// What an app keeps between the authorization URL and the callback. Serializable
/// ([`PendingAuthorization::to_json`]); the serialized form holds secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: CsrfState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code_verifier: Option<PkceVerifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default)]
    require_iss: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<Nonce>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
}

impl PendingAuthorization {
    /// The `state` sent with the request.
    pub fn state(&self) -> &CsrfState {
        &self.state
    }
    /// The PKCE verifier, to send with the code.
    pub fn code_verifier(&self) -> Option<&PkceVerifier> {
        self.code_verifier.as_ref()
    }
    /// The redirect URI sent with the request (the code exchange repeats it).
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }
    /// The `nonce` sent with the request (OpenID Connect), when there was one.
    pub fn nonce(&self) -> Option<&Nonce> {
        self.nonce.as_ref()
    }
    /// The `max_age` sent with the request, when there was one.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }
    /// The issuer of the provider the request went to, when known.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
    /// As JSON, to store. It holds secrets.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    /// Back from [`PendingAuthorization::to_json`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `json` is not a pending authorization.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json)
            .map_err(|e| crate::error::json_input("pending authorization", &e))
    }
}

/// An authorization code ready to be exchanged with [`Client::authorization_code_request`].
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The code from the callback.
    pub code: AuthorizationCode,
    /// The PKCE verifier of the request, when there was one.
    pub code_verifier: Option<PkceVerifier>,
    /// The redirect URI to repeat in the exchange.
    pub redirect_uri: Option<String>,
}

impl Client {
    /// The authorization URL and its pending record, with `state`, the PKCE verifier and (for
    /// an `openid` request without its own) the `nonce` drawn from the operating system's
    /// random number generator.
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] when the provider has no authorization endpoint,
    /// [`Error::UnsupportedGrant`] when it lacks the authorization code grant,
    /// [`Error::InvalidInput`] for a parameter grantline sets itself or one the endpoint's query
    /// already has, or a scope that is not a valid scope token (RFC 6749 §3.3),
    /// [`Error::Random`] when the RNG fails.
    pub fn authorization_url(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<Authorization, Error> {
        let mut seed = [0u8; 96];
        getrandom::fill(&mut seed).map_err(|_| Error::Random)?;
        let out = self.authorization_url_with_seed(request, &seed);
        zeroize::Zeroize::zeroize(&mut seed);
        out
    }

    /// [`Client::authorization_url`] with the randomness given, 64 or 96 bytes: bytes 0..32
    /// make the `state`, bytes 32..64 the PKCE verifier, bytes 64..96 the `nonce` of an
    /// `openid` request without its own. With 64 bytes (the seed's length before nonces), such
    /// a request has no `nonce`, as it always had. For tests and test vectors; use fresh
    /// random bytes otherwise ([`Client::authorization_url`] always draws 96).
    ///
    /// # Errors
    /// As [`Client::authorization_url`], except [`Error::Random`]; also
    /// [`Error::InvalidInput`] for a seed that is not 64 or 96 bytes long.
    pub fn authorization_url_with_seed(
        &self,
        request: &AuthorizationRequest,
        seed: &[u8],
    ) -> Result<Authorization, Error> {
        if seed.len() != 64 && seed.len() != 96 {
            return Err(Error::invalid("the seed must be 64 or 96 bytes long"));
        }
        let provider = self.provider();
        if !provider.supports(GrantType::AuthorizationCode) {
            return Err(Error::UnsupportedGrant {
                grant: GrantType::AuthorizationCode,
            });
        }
        let endpoint = provider
            .authorization_endpoint()
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::Authorization,
            })?;
        if let Some((name, _)) = request
            .params
            .iter()
            .find(|(k, _)| RESERVED_PARAMS.contains(&k.as_str()))
        {
            return Err(Error::invalid(format!(
                "parameter {name:?} is set by grantline; it cannot be added again (RFC 6749 §3.1)"
            )));
        }
        let octets = |range: core::ops::Range<usize>| -> Option<zeroize::Zeroizing<[u8; 32]>> {
            let mut out = zeroize::Zeroizing::new([0u8; 32]);
            out.copy_from_slice(seed.get(range)?);
            Some(out)
        };
        let (Some(state_octets), Some(verifier_octets)) = (octets(0..32), octets(32..64)) else {
            return Err(Error::invalid("the seed must be 64 or 96 bytes long"));
        };
        let state = CsrfState::new(pkce::verifier_from_bytes(&state_octets).secret());
        let verifier = pkce::verifier_from_bytes(&verifier_octets);
        let nonce = match &request.nonce {
            Some(nonce) => Some(nonce.clone()),
            // A 64-byte seed predates the nonce: it keeps the URLs it always made.
            None if request.scopes.iter().any(|s| s == "openid") => {
                octets(64..96).map(|bytes| Nonce::new(pkce::verifier_from_bytes(&bytes).secret()))
            }
            None => None,
        };
        let redirect_uri = request
            .redirect_uri
            .clone()
            .or_else(|| self.redirect_uri().map(str::to_owned));

        // The endpoint's own query is kept (RFC 6749 §3.1); none of ours may repeat one of its
        // parameters (the reserved ones are refused when the provider is built).
        let endpoint_query = endpoint.split_once('?').map(|(_, q)| q);
        if let Some(q) = endpoint_query {
            for (name, _) in form_urlencoded::parse(q.as_bytes()) {
                if request.params.iter().any(|(k, _)| *k == name) {
                    return Err(Error::invalid(format!(
                        "parameter {} is already in the authorization endpoint's query (RFC 6749 §3.1)",
                        crate::text::oauth_text(&name, crate::text::Charset::Uri, 64)
                    )));
                }
            }
        }
        let scope = self.scope_param(&request.scopes)?;
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("response_type", "code");
        query.append_pair("client_id", self.client_id());
        if let Some(uri) = &redirect_uri {
            query.append_pair("redirect_uri", uri);
        }
        if let Some(scope) = &scope {
            query.append_pair("scope", scope);
        }
        query.append_pair("state", state.secret());
        query.append_pair("code_challenge", &pkce::challenge(&verifier, request.pkce));
        query.append_pair("code_challenge_method", request.pkce.as_str());
        if let Some(nonce) = &nonce {
            query.append_pair("nonce", nonce.secret());
        }
        if let Some(max_age) = request.max_age {
            query.append_pair("max_age", &max_age.to_string());
        }
        for (k, v) in &request.params {
            query.append_pair(k, v);
        }
        let separator = match endpoint_query {
            None => "?",
            Some(q) if q.is_empty() || q.ends_with('&') => "",
            Some(_) => "&",
        };
        Ok(Authorization {
            url: format!("{endpoint}{separator}{}", query.finish()),
            pending: PendingAuthorization {
                state,
                code_verifier: Some(verifier),
                redirect_uri,
                issuer: provider.issuer().map(str::to_owned),
                require_iss: provider.iss_parameter_supported(),
                nonce,
                max_age: request.max_age,
            },
        })
    }

    /// Parses the redirect callback against the pending authorization: a whole URL (input that
    /// starts with a scheme, `https:` or an app's own), or its query string (with or without
    /// the leading `?`; a value may hold an unencoded `://`). At most
    /// [`MAX_CALLBACK_PARAMS`] parameters and [`MAX_CALLBACK_LEN`] bytes.
    ///
    /// # Errors
    /// [`Error::StateMismatch`] when `state` is missing or differs (compared in constant
    /// time); [`Error::IssuerMismatch`] when `iss` names another issuer, or is missing from a
    /// provider that always sends it; [`Error::OAuth`] (status 0) when the callback carries
    /// `error`; [`Error::InvalidInput`] when it has no `code` or repeats a parameter.
    pub fn callback(
        &self,
        pending: &PendingAuthorization,
        url_or_query: &str,
    ) -> Result<CodeGrant, Error> {
        let params = CallbackParams::parse(url_or_query)?;
        match params.get("state") {
            Some(state) if pending.state.ct_eq(state) => {}
            _ => return Err(Error::StateMismatch),
        }
        match (params.get("iss"), &pending.issuer) {
            (Some(iss), Some(expected)) if iss != expected => {
                return Err(Error::IssuerMismatch {
                    expected: crate::urls::shown(expected),
                    received: crate::text::oauth_text(
                        iss,
                        crate::text::Charset::Uri,
                        crate::text::MAX_URI,
                    ),
                })
            }
            (None, Some(expected)) if pending.require_iss => {
                return Err(Error::IssuerMismatch {
                    expected: crate::urls::shown(expected),
                    received: String::new(),
                })
            }
            _ => {}
        }
        params.error()?;
        Ok(CodeGrant {
            code: params.code()?,
            code_verifier: pending.code_verifier.clone(),
            redirect_uri: pending.redirect_uri.clone(),
        })
    }

    /// **Opt-in** for callbacks that no authorization request of ours started: Booking
    /// Experts' app-store "Install" redirects to the app with `code` and nothing else, so there
    /// is no `state` to check and no PKCE verifier. Only providers that declare it
    /// ([`crate::ProviderBuilder::unsolicited_callbacks`]) are accepted, and a callback that
    /// does carry `state` is refused (it answers a request of ours: use [`Client::callback`]).
    /// The exchange repeats the client's redirect URI.
    ///
    /// Without `state`, nothing proves the user started this flow: treat the resulting tokens
    /// as belonging to whoever installed the app, as the provider's install flow intends.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the provider does not send unsolicited callbacks, when the
    /// callback has `state` or no `code`; [`Error::OAuth`] when it carries `error`.
    pub fn unsolicited_callback(&self, url_or_query: &str) -> Result<CodeGrant, Error> {
        if !self.provider().unsolicited_callbacks() {
            return Err(Error::invalid(format!(
                "provider {:?} does not send unsolicited callbacks: use Client::callback",
                self.provider().name()
            )));
        }
        let params = CallbackParams::parse(url_or_query)?;
        if params.get("state").is_some() {
            return Err(Error::invalid(
                "the callback carries state: it answers an authorization request, use Client::callback",
            ));
        }
        params.error()?;
        Ok(CodeGrant {
            code: params.code()?,
            code_verifier: None,
            redirect_uri: self.redirect_uri().map(str::to_owned),
        })
    }

    /// The authorization code exchange (RFC 6749 §4.1.3), with the PKCE verifier:
    /// [`GrantRequest::authorization_code`](crate::GrantRequest::authorization_code). `now`
    /// is the `iat` of a JWT client assertion.
    ///
    /// # Errors
    /// As [`Client::grant_request`].
    pub fn authorization_code_request(
        &self,
        grant: &CodeGrant,
        now: u64,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.grant_request(&crate::GrantRequest::authorization_code(grant), now)
    }
}

/// Parameters [`Client::authorization_url`] sets itself.
pub(crate) const RESERVED_PARAMS: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "max_age",
];

/// The most parameters a callback may carry.
pub const MAX_CALLBACK_PARAMS: usize = 64;
/// The longest callback (URL or query) read, in bytes.
pub const MAX_CALLBACK_LEN: usize = 16 * 1024;

/// The parameters of a callback, each at most once (RFC 6749 §3.1).
struct CallbackParams(Vec<(String, String)>);

/// Whether `s` starts with a URI scheme and `:` (RFC 3986 §3.1): `https://…`, `myapp:/cb?…`.
/// A bare query (`code=…&iss=https://as`) does not: its first `=` comes before any `:`.
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

impl CallbackParams {
    fn parse(url_or_query: &str) -> Result<Self, Error> {
        if url_or_query.len() > MAX_CALLBACK_LEN {
            return Err(Error::invalid(format!(
                "the callback is longer than {MAX_CALLBACK_LEN} bytes"
            )));
        }
        let without_fragment = url_or_query.split('#').next().unwrap_or_default();
        // Only input with a scheme is a URL; anything else is the query itself, even when a
        // value holds an unencoded `://` (an `iss`) or `?`.
        let query = if has_scheme(without_fragment) {
            without_fragment.split_once('?').map_or("", |(_, q)| q)
        } else {
            without_fragment
                .strip_prefix('?')
                .unwrap_or(without_fragment)
        };
        let mut seen = std::collections::HashSet::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if pairs.len() == MAX_CALLBACK_PARAMS {
                return Err(Error::invalid(format!(
                    "the callback has more than {MAX_CALLBACK_PARAMS} parameters"
                )));
            }
            if !seen.insert(k.clone()) {
                return Err(Error::invalid(format!(
                    "the callback repeats the parameter {}",
                    crate::text::oauth_text(&k, crate::text::Charset::Uri, 64)
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(CallbackParams(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn error(&self) -> Result<(), Error> {
        match self.get("error") {
            Some(code) => Err(Error::oauth(
                code,
                self.get("error_description"),
                self.get("error_uri"),
                0,
            )),
            None => Ok(()),
        }
    }

    fn code(&self) -> Result<AuthorizationCode, Error> {
        match self.get("code") {
            Some(code) if !code.is_empty() => Ok(AuthorizationCode::new(code)),
            _ => Err(Error::invalid("the callback has no code")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    fn client() -> Client {
        Client::new(Provider::libro(), "cid")
            .with_secret("sec")
            .with_redirect_uri("https://app.example/cb")
    }

    #[test]
    fn url_and_callback_round_trip() {
        let c = client();
        let a = c
            .authorization_url_with_seed(
                &AuthorizationRequest::new().scopes(["bookings", "people"]),
                &[7u8; 64],
            )
            .unwrap();
        assert!(a.url.starts_with("https://accounts.libroreserve.com/oauth/authorize?response_type=code&client_id=cid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=bookings+people&state="));
        assert!(a.url.contains("&code_challenge_method=S256"));
        let state = a.pending.state().secret().to_owned();
        let grant = c
            .callback(
                &a.pending,
                &format!("https://app.example/cb?code=xyz&state={state}"),
            )
            .unwrap();
        assert_eq!(grant.code.secret(), "xyz");
        assert_eq!(
            c.callback(&a.pending, "code=xyz&state=other").unwrap_err(),
            Error::StateMismatch
        );
        assert_eq!(
            c.callback(&a.pending, "code=xyz").unwrap_err(),
            Error::StateMismatch
        );
        assert!(matches!(
            c.callback(&a.pending, &format!("?error=access_denied&state={state}")),
            Err(Error::OAuth { ref code, .. }) if code == "access_denied"
        ));
        assert!(matches!(
            c.callback(&a.pending, &format!("?code=a&code=b&state={state}")),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            c.authorization_url_with_seed(
                &AuthorizationRequest::new().param("state", "x"),
                &[0; 64]
            ),
            Err(Error::InvalidInput { .. })
        ));
        let restored = PendingAuthorization::from_json(&a.pending.to_json()).unwrap();
        assert!(c
            .callback(&restored, &format!("?code=q&state={state}"))
            .is_ok());
    }

    #[test]
    fn unsolicited_callbacks_are_opt_in() {
        assert!(matches!(
            client().unsolicited_callback("?code=x"),
            Err(Error::InvalidInput { .. })
        ));
        let be = Client::new(Provider::booking_experts(), "id")
            .with_redirect_uri("https://your-domain.com/booking_experts/oauth_callback");
        let g = be
            .unsolicited_callback("https://your-domain.com/booking_experts/oauth_callback?code=P66")
            .unwrap();
        assert_eq!(g.code.secret(), "P66");
        assert!(be.unsolicited_callback("?code=P66&state=s").is_err());
    }
}
