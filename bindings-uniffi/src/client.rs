//! The client: the sans-IO request builders for every grant and endpoint, and the convenient
//! layer (one call per grant through the client's [`HttpTransport`]).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::authorize::{Authorization, AuthorizationRequest, CodeGrant, PendingAuthorization};
use crate::error::GrantlineError;
use crate::flows::{block_on, How};
use crate::http::{HttpRequest, HttpTransport};
use crate::jose::SigningKey;
use crate::num;
use crate::provider::Provider;
use crate::tokens::{DeviceAuthorization, DevicePoll, Introspection, Renewed, TokenSet};
use crate::types::{ClientAuthMethod, Param, TokenTypeHint};

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
    /// The provider's JWK Set, shared by every copy of this client (`with_timeout`): one
    /// cache per client, created at the first ID token it validates.
    pub(crate) jwks: Arc<Mutex<Option<grantline::JwksCache>>>,
    /// The shortest interval between two JWKS fetches decided by an unknown key (none: the
    /// core's default).
    pub(crate) jwks_min_refetch: Option<u64>,
}

/// `now` from the caller (Unix seconds), else the system clock.
pub(crate) fn at(now: Option<i64>) -> u64 {
    now.map_or_else(crate::http::now, num::seconds)
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Client(provider={}, client_id={}, secret={}, signing_key={}, redirect_uri={:?})",
            self.inner.provider().name(),
            self.inner.client_id(),
            if self.inner.client_secret().is_some() {
                grantline::secret::REDACTED
            } else {
                "none"
            },
            if self.inner.signing_key().is_some() {
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
    /// `signing_key`: the private key of `private_key_jwt` client authentication (chosen when
    /// the provider's metadata lists it, or with `auth_method`).
    #[uniffi::constructor(default(
        client_secret = None,
        redirect_uri = None,
        auth_method = None,
        transport = None,
        timeout = None,
        signing_key = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: &Provider,
        client_id: String,
        client_secret: Option<String>,
        redirect_uri: Option<String>,
        auth_method: Option<ClientAuthMethod>,
        transport: Option<Arc<dyn HttpTransport>>,
        timeout: Option<Duration>,
        signing_key: Option<Arc<SigningKey>>,
    ) -> Arc<Self> {
        let mut inner = grantline::Client::new(provider.inner.clone(), client_id);
        if let Some(secret) = client_secret {
            inner = inner.with_secret(secret);
        }
        if let Some(key) = signing_key {
            inner = inner.with_signing_key(key.inner.clone());
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
            jwks: Arc::default(),
            jwks_min_refetch: None,
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
            jwks: self.jwks.clone(),
            jwks_min_refetch: self.jwks_min_refetch,
        })
    }

    /// This client with its own JWKS cache refetching keys at most every `seconds` (default
    /// 60) when a token names an unknown key (a key rotation). The core decides; a shorter
    /// interval means more fetches under a stream of forged `kid`s.
    pub fn with_jwks_min_refetch(&self, seconds: i64) -> Arc<Self> {
        Arc::new(Client {
            inner: self.inner.clone(),
            transport: self.transport.clone(),
            timeout: self.timeout,
            jwks: Arc::default(),
            jwks_min_refetch: Some(num::seconds(seconds)),
        })
    }

    /// The signing key of `private_key_jwt`, when the client has one.
    pub fn signing_key(&self) -> Option<Arc<SigningKey>> {
        self.inner
            .signing_key()
            .map(|k| Arc::new(SigningKey { inner: k.clone() }))
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
    #[uniffi::method(default(scopes = [], now = None))]
    pub fn client_credentials_request(
        &self,
        scopes: Vec<String>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.client_credentials_request(&scopes, at(now))?))
    }

    /// The resource owner password token request (RFC 6749 §4.3.2).
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = [], now = None))]
    pub fn password_request(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.password_request(
            &username,
            &grantline::Password::new(password),
            &scopes,
            at(now),
        )?))
    }

    /// The refresh token request (RFC 6749 §6); empty `scopes` keep the original ones.
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = [], now = None))]
    pub fn refresh_request(
        &self,
        refresh_token: String,
        scopes: Vec<String>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.refresh_request(
            &grantline::RefreshToken::new(refresh_token),
            &scopes,
            at(now),
        )?))
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

    /// [`Client::authorization_url`] with the randomness given, 64 or 96 bytes: 0..32 make the
    /// `state`, 32..64 the PKCE verifier, 64..96 the `nonce` of an `openid` request without
    /// its own (with 64 bytes such a request has none). For tests only.
    ///
    /// # Errors
    /// As `authorization_url`; `Configuration` (`invalid_input`) when `seed` is not 64 or 96
    /// bytes.
    pub fn authorization_url_with_seed(
        &self,
        request: AuthorizationRequest,
        seed: Vec<u8>,
    ) -> Result<Arc<Authorization>, GrantlineError> {
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
    #[uniffi::method(default(now = None))]
    pub fn authorization_code_request(
        &self,
        grant: &CodeGrant,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .authorization_code_request(&grant.inner, at(now))?,
        ))
    }

    /// The device authorization request (RFC 8628 §3.1).
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(scopes = [], now = None))]
    pub fn device_authorization_request(
        &self,
        scopes: Vec<String>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.device_authorization_request(&scopes, at(now))?))
    }

    /// The device access token request (RFC 8628 §3.4), sent once per poll.
    ///
    /// # Errors
    /// `Configuration`: `unsupported_grant`, `missing_endpoint`.
    #[uniffi::method(default(now = None))]
    pub fn device_token_request(
        &self,
        device_code: String,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .device_token_request(&grantline::DeviceCode::new(device_code), at(now))?,
        ))
    }

    /// An introspection request (RFC 7662) for `token`. Apicbase also wants the refresh
    /// token: pass it as `refresh_token`.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`).
    #[uniffi::method(default(hint = None, refresh_token = None, now = None))]
    pub fn introspection_request(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<String>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        let refresh = refresh_token.map(grantline::RefreshToken::new);
        Ok(self.endpoint_request(self.inner.introspection_request(
            &token,
            hint.map(Into::into),
            refresh.as_ref(),
            at(now),
        )?))
    }

    /// A revocation request (RFC 7009) for `token`.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`).
    #[uniffi::method(default(hint = None, now = None))]
    pub fn revocation_request(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.revocation_request(
            &token,
            hint.map(Into::into),
            at(now),
        )?))
    }

    // ------------------------------------------------ convenient: through the transport
    // Blocking: each runs its flow (src/flows.rs) on the calling thread. Suspending twins below.

    /// Obtains a token with the client credentials grant. Blocks; in a coroutine or a task,
    /// [`Client::client_credentials_async`].
    ///
    /// # Errors
    /// `OAuth` (`invalid_client`, `invalid_scope`...), `MalformedResponse`, `Transport`,
    /// `Configuration` (no transport, grant or endpoint missing).
    /// `params`: extra parameters for this request (RFC 8707 `resource`, `audience`...),
    /// repeats kept in order.
    #[uniffi::method(default(scopes = [], params = []))]
    pub fn client_credentials(
        &self,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request =
            self.grant_with_params(grantline::GrantRequest::client_credentials(scopes), params);
        block_on(self.tokens_flow(&How::Blocking, request))
    }

    /// Obtains a token with the resource owner password grant. Blocks.
    ///
    /// # Errors
    /// As [`Client::client_credentials`]; a wrong password is usually `OAuth`
    /// (`invalid_grant`).
    #[uniffi::method(default(scopes = [], params = []))]
    pub fn password(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request = self.grant_with_params(
            grantline::GrantRequest::password(
                &username,
                &grantline::Password::new(password),
                scopes,
            ),
            params,
        );
        block_on(self.tokens_flow(&How::Blocking, request))
    }

    /// Exchanges an authorization code (from [`Client::callback`]) for tokens. Blocks.
    ///
    /// # Errors
    /// As [`Client::client_credentials`]; a used or expired code is `OAuth` (`invalid_grant`).
    #[uniffi::method(default(params = []))]
    pub fn exchange_code(
        &self,
        grant: &CodeGrant,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        block_on(self.exchange_code_flow(&How::Blocking, grant, params))
    }

    /// Refreshes `tokens` with its refresh token. The answer keeps the old refresh token when
    /// the server sends none; when `refresh_token_rotated` is true, persist the new set. Blocks.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `tokens` has no refresh token; otherwise as
    /// [`Client::client_credentials`] (`invalid_grant`: the refresh token is dead).
    #[uniffi::method(default(scopes = [], params = []))]
    pub fn refresh(
        &self,
        tokens: &TokenSet,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Renewed, GrantlineError> {
        block_on(self.refresh_flow(&How::Blocking, tokens, scopes, params))
    }

    /// Introspects `token` (RFC 7662). Apicbase also wants the refresh token: pass it as
    /// `refresh_token`. Blocks.
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
        block_on(self.introspect_flow(&How::Blocking, token, hint, refresh_token))
    }

    /// Revokes `token` (RFC 7009). Revoking an unknown or already revoked token succeeds.
    /// Blocks.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint`), `OAuth`, `MalformedResponse`, `Transport`.
    #[uniffi::method(default(hint = None))]
    pub fn revoke(&self, token: String, hint: Option<TokenTypeHint>) -> Result<(), GrantlineError> {
        block_on(self.revoke_flow(&How::Blocking, token, hint))
    }

    /// Starts the device flow (RFC 8628): show `userCode` and `verificationUri`, then
    /// [`Client::wait_for_device`] (or poll yourself with [`Client::poll_device_token`]). Blocks.
    ///
    /// # Errors
    /// `Configuration`, `OAuth`, `MalformedResponse`, `Transport`.
    #[uniffi::method(default(scopes = []))]
    pub fn device_authorization(
        &self,
        scopes: Vec<String>,
    ) -> Result<Arc<DeviceAuthorization>, GrantlineError> {
        block_on(self.device_authorization_flow(&How::Blocking, scopes))
    }

    /// One device-flow poll, polling every `interval` seconds so far. grantline never sleeps
    /// here: wait the interval the answer names before polling again (or let
    /// [`Client::wait_for_device`] do it). Blocks.
    ///
    /// # Errors
    /// `OAuth` for answers other than pending/slow down/expired/denied, `MalformedResponse`,
    /// `Transport`, `Configuration`.
    pub fn poll_device_token(
        &self,
        device: &DeviceAuthorization,
        interval: i64,
    ) -> Result<DevicePoll, GrantlineError> {
        block_on(self.poll_device_flow(&How::Blocking, device, num::seconds(interval)))
            .map(|(poll, _)| poll)
    }

    /// Polls until the user approves the device (RFC 8628 §3.4-3.5): waits `device.interval`,
    /// polls, and again, with the interval the core hands back (5 s longer after `slow_down`).
    /// Each poll has the client's deadline. Blocks for as long as the user takes (up to the
    /// device code's expiry); stop it from another thread by interrupting nothing: use
    /// [`Client::wait_for_device_async`] in a coroutine or task to be able to cancel.
    ///
    /// # Errors
    /// `OAuth` `access_denied` (the user said no), `OAuth` `expired_token` (the server said the
    /// code expired, status 400; or its `expires_in` passed before an approval, status 0); any
    /// other error of a poll (`OAuth` `invalid_grant`..., `MalformedResponse`, `Transport`,
    /// `Configuration`).
    pub fn wait_for_device(
        &self,
        device: &DeviceAuthorization,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        block_on(self.wait_for_device_flow(&How::Blocking, device))
    }
}

/// The suspending twins of the convenient calls: Kotlin `suspend fun`, Swift `async`. Each sends
/// through [`HttpTransport::send_async`] and never blocks a thread; cancelling the caller (its
/// coroutine or task) cancels the exchange in flight (the transport's `sendAsync` is cancelled).
#[uniffi::export]
impl Client {
    /// [`Client::client_credentials`], suspending.
    ///
    /// # Errors
    /// As [`Client::client_credentials`].
    #[uniffi::method(default(scopes = [], params = []))]
    pub async fn client_credentials_async(
        &self,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request =
            self.grant_with_params(grantline::GrantRequest::client_credentials(scopes), params);
        self.tokens_flow(&How::Suspending, request).await
    }

    /// [`Client::password`], suspending.
    ///
    /// # Errors
    /// As [`Client::password`].
    #[uniffi::method(default(scopes = [], params = []))]
    pub async fn password_async(
        &self,
        username: String,
        password: String,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request = self.grant_with_params(
            grantline::GrantRequest::password(
                &username,
                &grantline::Password::new(password),
                scopes,
            ),
            params,
        );
        self.tokens_flow(&How::Suspending, request).await
    }

    /// [`Client::exchange_code`], suspending.
    ///
    /// # Errors
    /// As [`Client::exchange_code`].
    #[uniffi::method(default(params = []))]
    pub async fn exchange_code_async(
        &self,
        grant: Arc<CodeGrant>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        self.exchange_code_flow(&How::Suspending, &grant, params)
            .await
    }

    /// [`Client::refresh`], suspending.
    ///
    /// # Errors
    /// As [`Client::refresh`].
    #[uniffi::method(default(scopes = [], params = []))]
    pub async fn refresh_async(
        &self,
        tokens: Arc<TokenSet>,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Renewed, GrantlineError> {
        self.refresh_flow(&How::Suspending, &tokens, scopes, params)
            .await
    }

    /// [`Client::introspect`], suspending.
    ///
    /// # Errors
    /// As [`Client::introspect`].
    #[uniffi::method(default(hint = None, refresh_token = None))]
    pub async fn introspect_async(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<String>,
    ) -> Result<Introspection, GrantlineError> {
        self.introspect_flow(&How::Suspending, token, hint, refresh_token)
            .await
    }

    /// [`Client::revoke`], suspending.
    ///
    /// # Errors
    /// As [`Client::revoke`].
    #[uniffi::method(default(hint = None))]
    pub async fn revoke_async(
        &self,
        token: String,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), GrantlineError> {
        self.revoke_flow(&How::Suspending, token, hint).await
    }

    /// [`Client::device_authorization`], suspending.
    ///
    /// # Errors
    /// As [`Client::device_authorization`].
    #[uniffi::method(default(scopes = []))]
    pub async fn device_authorization_async(
        &self,
        scopes: Vec<String>,
    ) -> Result<Arc<DeviceAuthorization>, GrantlineError> {
        self.device_authorization_flow(&How::Suspending, scopes)
            .await
    }

    /// [`Client::poll_device_token`], suspending.
    ///
    /// # Errors
    /// As [`Client::poll_device_token`].
    pub async fn poll_device_token_async(
        &self,
        device: Arc<DeviceAuthorization>,
        interval: i64,
    ) -> Result<DevicePoll, GrantlineError> {
        self.poll_device_flow(&How::Suspending, &device, num::seconds(interval))
            .await
            .map(|(poll, _)| poll)
    }

    /// [`Client::wait_for_device`], suspending: the waits between polls suspend too (no thread
    /// is held), and cancelling the caller stops the loop, a poll in flight included.
    ///
    /// # Errors
    /// As [`Client::wait_for_device`].
    pub async fn wait_for_device_async(
        &self,
        device: Arc<DeviceAuthorization>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        self.wait_for_device_flow(&How::Suspending, &device).await
    }
}

fn authorization(a: grantline::Authorization) -> Arc<Authorization> {
    Arc::new(Authorization {
        url: a.url,
        pending: Arc::new(PendingAuthorization { inner: a.pending }),
    })
}
