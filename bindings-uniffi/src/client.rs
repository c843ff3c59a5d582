//! The client: the sans-IO request builders for every grant and endpoint, and the convenient
//! layer (one call per grant through the client's [`HttpTransport`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::authorize::{Authorization, AuthorizationRequest, CodeGrant, PendingAuthorization};
use crate::error::GrantlineError;
use crate::http::{now, HttpRequest, HttpResponse, HttpTransport};
use crate::provider::Provider;
use crate::tokens::{token_set, DeviceAuthorization, DevicePoll, Introspection, Renewed, TokenSet};
use crate::types::{ClientAuthMethod, TokenTypeHint};

/// An OAuth client registered at a [`Provider`]: its id, optional secret and redirect URI, and
/// optionally the transport its convenient calls use and their whole-request deadline.
///
/// The `*Request` methods only build requests (send them yourself, redirects off, and parse
/// the answer with `TokenSet.fromResponse` & co.); the other calls (`clientCredentials`,
/// `exchangeCode`, ...) send through the transport given here. Printing a client shows no
/// secret.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Client {
    pub(crate) inner: grantline::Client,
    pub(crate) transport: Option<Arc<dyn HttpTransport>>,
    /// The whole-request deadline of every request this client sends (none: the transport's).
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Client(provider={}, client_id={}, secret={}, redirect_uri={:?})",
            self.inner.provider().name(),
            self.inner.client_id(),
            if self.inner.client_secret().is_some() {
                grantline::secret::REDACTED
            } else {
                "none"
            },
            self.inner.redirect_uri(),
        )
    }
}

impl Client {
    pub(crate) fn transport(&self) -> Result<&Arc<dyn HttpTransport>, GrantlineError> {
        self.transport.as_ref().ok_or_else(|| {
            GrantlineError::invalid(
                "this client has no transport: pass one to the Client constructor",
            )
        })
    }

    /// An endpoint request the core built, with this client's deadline.
    pub(crate) fn endpoint_request(&self, request: http::Request<Vec<u8>>) -> Arc<HttpRequest> {
        Arc::new(HttpRequest::endpoint(request, self.timeout))
    }

    /// Sends an endpoint request through the client's transport.
    pub(crate) fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<HttpResponse, GrantlineError> {
        self.transport()?.send(self.endpoint_request(request))
    }

    fn fetch_tokens(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let response = self.exchange(request)?;
        Ok(token_set(grantline::TokenSet::from_response_for(
            &response.to_http()?,
            now(),
            self.inner.provider(),
        )?))
    }
}

#[uniffi::export]
impl Client {
    /// A client with this id at `provider`.
    ///
    /// `client_secret`: none for a public client (mobile apps usually are: PKCE protects them).
    /// `auth_method` overrides the provider's. `transport` is what the convenient calls and
    /// `TokenSession` send through (none: only the `*Request` builders work). `timeout`: the
    /// whole-request deadline of every request this client sends (none: the transport's
    /// default, 30 s in the shipped transports); [`Client::with_timeout`] changes it per call.
    #[uniffi::constructor(default(
        client_secret = None,
        redirect_uri = None,
        auth_method = None,
        transport = None,
        timeout = None
    ))]
    pub fn new(
        provider: &Provider,
        client_id: String,
        client_secret: Option<String>,
        redirect_uri: Option<String>,
        auth_method: Option<ClientAuthMethod>,
        transport: Option<Arc<dyn HttpTransport>>,
        timeout: Option<Duration>,
    ) -> Arc<Self> {
        let mut inner = grantline::Client::new(provider.inner.clone(), client_id);
        if let Some(secret) = client_secret {
            inner = inner.with_secret(secret);
        }
        if let Some(uri) = redirect_uri {
            inner = inner.with_redirect_uri(uri);
        }
        if let Some(method) = auth_method {
            inner = inner.with_auth_method(method.into());
        }
        Arc::new(Client {
            inner,
            transport,
            timeout,
        })
    }

    /// This client with another whole-request deadline (none: the transport's default), e.g.
    /// for one call: `client.withTimeout(Duration.ofSeconds(5)).clientCredentials()`. Cheap:
    /// the provider, credentials and transport are shared.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(Client {
            inner: self.inner.clone(),
            transport: self.transport.clone(),
            timeout,
        })
    }

    /// The whole-request deadline of the requests this client sends, when it has one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The provider.
    pub fn provider(&self) -> Arc<Provider> {
        Arc::new(Provider {
            inner: self.inner.provider().clone(),
        })
    }
    /// The client id.
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }
    /// The redirect URI, when set.
    pub fn redirect_uri(&self) -> Option<String> {
        self.inner.redirect_uri().map(str::to_owned)
    }
    /// The authentication method in force (a client without a secret is always `Public`);
    /// `null`/`nil` when the provider's metadata listed only methods grantline does not speak and
    /// none was chosen: building a token request then fails with `unsupported_auth_method`.
    pub fn auth_method(&self) -> Option<ClientAuthMethod> {
        self.inner.auth_method().map(Into::into)
    }

    // ------------------------------------------------------------------ sans-IO builders

    /// The client credentials token request (RFC 6749 §4.4.2).
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`, `unsupported_auth_method`,
    /// `invalid_input` (a scope that is not an RFC 6749 §3.3 scope token).
    #[uniffi::method(default(scopes = []))]
    pub fn client_credentials_request(
        &self,
        scopes: Vec<String>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.client_credentials_request(&scopes)?))
    }

    /// The resource owner password token request (RFC 6749 §4.3.2).
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = []))]
    pub fn password_request(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.password_request(
            &username,
            &grantline::Password::new(password),
            &scopes,
        )?))
    }

    /// The refresh token request (RFC 6749 §6); empty `scopes` keep the original ones.
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = []))]
    pub fn refresh_request(
        &self,
        refresh_token: String,
        scopes: Vec<String>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .refresh_request(&grantline::RefreshToken::new(refresh_token), &scopes)?,
        ))
    }

    /// The authorization URL (PKCE S256 and `state` from the system's random generator) and
    /// the pending authorization to keep until the callback.
    ///
    /// # Errors
    /// `Configuration`: `missing_endpoint`, `unsupported_grant`, `invalid_input` (a reserved
    /// extra parameter), `random`.
    pub fn authorization_url(
        &self,
        request: AuthorizationRequest,
    ) -> Result<Arc<Authorization>, GrantlineError> {
        let a = self.inner.authorization_url(&request.into())?;
        Ok(authorization(a))
    }

    /// [`Client::authorization_url`] with the randomness given (64 bytes: 0..32 make the
    /// `state`, 32..64 the PKCE verifier). For tests only.
    ///
    /// # Errors
    /// As `authorization_url`; `Configuration` (`invalid_input`) when `seed` is not 64 bytes.
    pub fn authorization_url_with_seed(
        &self,
        request: AuthorizationRequest,
        seed: Vec<u8>,
    ) -> Result<Arc<Authorization>, GrantlineError> {
        let seed: [u8; 64] = seed
            .try_into()
            .map_err(|_| GrantlineError::invalid("the seed must be 64 bytes"))?;
        let a = self
            .inner
            .authorization_url_with_seed(&request.into(), &seed)?;
        Ok(authorization(a))
    }

    /// Checks the redirect callback (a whole URL or its query) against the pending
    /// authorization: `state` (constant time), `iss` (RFC 9207), `error`.
    ///
    /// # Errors
    /// `StateMismatch` (`state_mismatch`, `issuer_mismatch`); `OAuth` (status 0) when the
    /// callback carries `error`; `Configuration` (`invalid_input` for a callback without
    /// `code`).
    pub fn callback(
        &self,
        pending: &PendingAuthorization,
        url_or_query: String,
    ) -> Result<Arc<CodeGrant>, GrantlineError> {
        let inner = self.inner.callback(&pending.inner, &url_or_query)?;
        Ok(Arc::new(CodeGrant { inner }))
    }

    /// **Opt-in** for callbacks no request of ours started (Booking Experts' app-store install):
    /// no `state` to check, no PKCE. Only for providers that declare them.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`); `OAuth` when the callback carries `error`.
    pub fn unsolicited_callback(
        &self,
        url_or_query: String,
    ) -> Result<Arc<CodeGrant>, GrantlineError> {
        let inner = self.inner.unsolicited_callback(&url_or_query)?;
        Ok(Arc::new(CodeGrant { inner }))
    }

    /// The authorization code exchange request (RFC 6749 §4.1.3), with the PKCE verifier.
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    pub fn authorization_code_request(
        &self,
        grant: &CodeGrant,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.authorization_code_request(&grant.inner)?))
    }

    /// The device authorization request (RFC 8628 §3.1).
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = []))]
    pub fn device_authorization_request(
        &self,
        scopes: Vec<String>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.device_authorization_request(&scopes)?))
    }

    /// The device access token request (RFC 8628 §3.4), sent once per poll.
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    pub fn device_token_request(
        &self,
        device_code: String,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .device_token_request(&grantline::DeviceCode::new(device_code))?,
        ))
    }

    /// An introspection request (RFC 7662) for `token`. Apicbase also wants the refresh
    /// token: pass it as `refresh_token`.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`).
    #[uniffi::method(default(hint = None, refresh_token = None))]
    pub fn introspection_request(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<String>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        let refresh = refresh_token.map(grantline::RefreshToken::new);
        Ok(self.endpoint_request(self.inner.introspection_request(
            &token,
            hint.map(Into::into),
            refresh.as_ref(),
        )?))
    }

    /// A revocation request (RFC 7009) for `token`.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`).
    #[uniffi::method(default(hint = None))]
    pub fn revocation_request(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .revocation_request(&token, hint.map(Into::into))?,
        ))
    }

    // ------------------------------------------------ convenient: through the transport

    /// Obtains a token with the client credentials grant.
    ///
    /// # Errors
    /// `OAuth` (`invalid_client`, `invalid_scope`...), `MalformedResponse`, `Transport`,
    /// `Configuration` (no transport, grant or endpoint missing).
    #[uniffi::method(default(scopes = []))]
    pub fn client_credentials(&self, scopes: Vec<String>) -> Result<Arc<TokenSet>, GrantlineError> {
        self.fetch_tokens(self.inner.client_credentials_request(&scopes)?)
    }

    /// Obtains a token with the resource owner password grant.
    ///
    /// # Errors
    /// As [`Client::client_credentials`]; a wrong password is usually `OAuth`
    /// (`invalid_grant`).
    #[uniffi::method(default(scopes = []))]
    pub fn password(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        self.fetch_tokens(self.inner.password_request(
            &username,
            &grantline::Password::new(password),
            &scopes,
        )?)
    }

    /// Exchanges an authorization code (from [`Client::callback`]) for tokens.
    ///
    /// # Errors
    /// As [`Client::client_credentials`]; a used or expired code is `OAuth` (`invalid_grant`).
    pub fn exchange_code(&self, grant: &CodeGrant) -> Result<Arc<TokenSet>, GrantlineError> {
        self.fetch_tokens(self.inner.authorization_code_request(&grant.inner)?)
    }

    /// Refreshes `tokens` with its refresh token. The answer keeps the old refresh token when
    /// the server sends none; when `refresh_token_rotated` is true, persist the new set.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `tokens` has no refresh token; otherwise as
    /// [`Client::client_credentials`] (`invalid_grant`: the refresh token is dead).
    #[uniffi::method(default(scopes = []))]
    pub fn refresh(
        &self,
        tokens: &TokenSet,
        scopes: Vec<String>,
    ) -> Result<Renewed, GrantlineError> {
        let refresh_token = tokens
            .inner
            .refresh_token()
            .ok_or_else(|| GrantlineError::invalid("the token set has no refresh token"))?;
        let response = self.exchange(self.inner.refresh_request(refresh_token, &scopes)?)?;
        let mut fresh = grantline::TokenSet::from_response_for(
            &response.to_http()?,
            now(),
            self.inner.provider(),
        )?;
        let rotated = fresh.inherit_refresh_token(&tokens.inner);
        Ok(Renewed {
            tokens: token_set(fresh),
            refresh_token_rotated: rotated,
        })
    }

    /// Introspects `token` (RFC 7662).
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`), `OAuth`, `MalformedResponse`, `Transport`.
    #[uniffi::method(default(hint = None, refresh_token = None))]
    pub fn introspect(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<String>,
    ) -> Result<Introspection, GrantlineError> {
        let refresh = refresh_token.map(grantline::RefreshToken::new);
        let response = self.exchange(self.inner.introspection_request(
            &token,
            hint.map(Into::into),
            refresh.as_ref(),
        )?)?;
        Ok(grantline::Introspection::from_response(&response.to_http()?)?.into())
    }

    /// Revokes `token` (RFC 7009). Revoking an unknown or already revoked token succeeds.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`), `OAuth`, `MalformedResponse`, `Transport`.
    #[uniffi::method(default(hint = None))]
    pub fn revoke(&self, token: String, hint: Option<TokenTypeHint>) -> Result<(), GrantlineError> {
        let response = self.exchange(
            self.inner
                .revocation_request(&token, hint.map(Into::into))?,
        )?;
        Ok(grantline::check_revocation_response(&response.to_http()?)?)
    }

    /// Starts the device flow (RFC 8628): show `userCode` and `verificationUri`, then call
    /// [`Client::poll_device_token`] every `interval` seconds.
    ///
    /// # Errors
    /// `Configuration`, `OAuth`, `MalformedResponse`, `Transport`.
    #[uniffi::method(default(scopes = []))]
    pub fn device_authorization(
        &self,
        scopes: Vec<String>,
    ) -> Result<Arc<DeviceAuthorization>, GrantlineError> {
        let response = self.exchange(self.inner.device_authorization_request(&scopes)?)?;
        Ok(Arc::new(DeviceAuthorization {
            inner: grantline::DeviceAuthorization::from_response(&response.to_http()?, now())?,
        }))
    }

    /// One device-flow poll, polling every `interval` seconds so far. grantline never sleeps:
    /// wait the interval the answer names before polling again.
    ///
    /// # Errors
    /// `OAuth` for answers other than pending/slow down/expired/denied, `MalformedResponse`,
    /// `Transport`, `Configuration`.
    pub fn poll_device_token(
        &self,
        device: &DeviceAuthorization,
        interval: u64,
    ) -> Result<DevicePoll, GrantlineError> {
        let response =
            self.exchange(self.inner.device_token_request(&device.inner.device_code)?)?;
        Ok(grantline::DevicePoll::from_response(&response.to_http()?, now(), interval)?.into())
    }
}

fn authorization(a: grantline::Authorization) -> Arc<Authorization> {
    Arc::new(Authorization {
        url: a.url,
        pending: Arc::new(PendingAuthorization { inner: a.pending }),
    })
}
