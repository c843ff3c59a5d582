//! The client's issue-11 calls: any grant with any parameters (sans-IO and through the
//! transport), and OpenID Connect (ID token validation through the client's JWKS cache,
//! userinfo, the logout URL). The flows are in `src/flows.rs`, written once for both colours.

use std::sync::Arc;

use crate::authorize::PendingAuthorization;
use crate::client::{at, Client};
use crate::error::GrantlineError;
use crate::flows::{block_on, How};
use crate::grant::{GrantRequest, TokenExchange};
use crate::http::HttpRequest;
use crate::jose::JwsAlgorithm;
use crate::oidc::{EndSessionRequest, IdTokenCheck, IdTokenClaims, UserInfo};
use crate::tokens::TokenSet;
use crate::types::Param;

fn exchange_request(exchange: &TokenExchange, params: Vec<Param>) -> grantline::GrantRequest {
    let mut request = grantline::GrantRequest::token_exchange(exchange.into());
    for p in params {
        request = request.param(p.name, p.value);
    }
    request
}

fn jwt_bearer_request(
    assertion: String,
    scopes: Vec<String>,
    params: Vec<Param>,
) -> grantline::GrantRequest {
    let mut request =
        grantline::GrantRequest::jwt_bearer(&grantline::Assertion::new(assertion), scopes);
    for p in params {
        request = request.param(p.name, p.value);
    }
    request
}

/// Sans-IO and blocking.
#[uniffi::export]
impl Client {
    /// The token request of `request` (any grant, its scopes and extra parameters). `now`
    /// (Unix seconds; default the system clock) is the `iat` of a JWT client assertion.
    ///
    /// # Errors
    /// `Configuration`: `invalid_input` (a refused parameter name, an invalid `grant_type`, a
    /// token exchange without subject token), `unsupported_grant` (a standard grant the
    /// provider lacks), `missing_endpoint`, `unsupported_auth_method`; `InvalidKey` (JWT
    /// client authentication without a usable key).
    #[uniffi::method(default(now = None))]
    pub fn grant_request(
        &self,
        request: &GrantRequest,
        now: Option<i64>,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(self.inner.grant_request(&request.inner, at(now))?))
    }

    /// Sends `request` (any grant) and parses the answer like any token response. Blocks.
    ///
    /// # Errors
    /// As [`Client::grant_request`]; `OAuth`, `MalformedResponse`, `Transport`.
    pub fn grant(&self, request: &GrantRequest) -> Result<Arc<TokenSet>, GrantlineError> {
        block_on(self.grant_flow(&How::Blocking, &request.inner))
    }

    /// An RFC 8693 token exchange, with extra parameters in order. The answer's
    /// `issuedTokenType()` says what was issued. Blocks.
    ///
    /// # Errors
    /// As [`Client::grant`].
    #[uniffi::method(default(params = []))]
    pub fn token_exchange(
        &self,
        exchange: TokenExchange,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        block_on(self.grant_flow(&How::Blocking, &exchange_request(&exchange, params)))
    }

    /// The RFC 7523 §2.1 JWT bearer grant with `assertion`. Blocks.
    ///
    /// # Errors
    /// As [`Client::grant`].
    #[uniffi::method(default(scopes = [], params = []))]
    pub fn jwt_bearer(
        &self,
        assertion: String,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        block_on(self.grant_flow(
            &How::Blocking,
            &jwt_bearer_request(assertion, scopes, params),
        ))
    }

    /// What the ID token of `pending`'s code exchange must match: the issuer, this client's
    /// id, the request's `nonce` and `max_age`, the provider's asymmetric ID token algorithms.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when neither the pending record nor the provider knows
    /// the issuer.
    pub fn id_token_check(
        &self,
        pending: &PendingAuthorization,
    ) -> Result<Arc<IdTokenCheck>, GrantlineError> {
        Ok(Arc::new(IdTokenCheck {
            inner: self.inner.id_token_check(&pending.inner)?,
        }))
    }

    /// What the ID token of a refresh answer must match (with `validateRefreshed`).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when the provider has no issuer.
    pub fn refresh_id_token_check(&self) -> Result<Arc<IdTokenCheck>, GrantlineError> {
        Ok(Arc::new(IdTokenCheck {
            inner: self.inner.refresh_id_token_check()?,
        }))
    }

    /// The userinfo request (`GET`, `Authorization: Bearer`); parse the answer with
    /// `parseUserinfoResponse`.
    ///
    /// # Errors
    /// `Configuration` (`missing_endpoint` `userinfo`, `invalid_input`).
    pub fn userinfo_request(
        &self,
        access_token: String,
    ) -> Result<Arc<HttpRequest>, GrantlineError> {
        Ok(self.endpoint_request(
            self.inner
                .userinfo_request(&grantline::AccessToken::new(access_token))?,
        ))
    }

    /// The RP-Initiated Logout URL to open in the browser: the end-session endpoint with
    /// `id_token_hint`, `logout_hint`, `client_id`, `post_logout_redirect_uri`, `state`,
    /// `ui_locales` and the extra parameters.
    ///
    /// # Errors
    /// `Configuration`: `missing_endpoint` (`end_session`), `invalid_input` (a parameter the
    /// request sets itself, a bad `post_logout_redirect_uri`), `insecure_endpoint`.
    pub fn end_session_url(&self, request: EndSessionRequest) -> Result<String, GrantlineError> {
        Ok(self.inner.end_session_url(&(&request).into())?)
    }

    /// Validates the ID token of a code exchange: its signature with the provider's keys
    /// (this client's JWKS cache: fetched on first use, and once more when a token names a
    /// new key, at most every 60 s), then its claims against `pending` (issuer, client id,
    /// nonce, `max_age`) and `tokens`' access token (`at_hash`). `leeway` (seconds, default
    /// 60) and `algorithms` (default: the provider's) adjust the check. Blocks.
    ///
    /// # Errors
    /// `IdToken` naming the `claim`; `Jws` with its `problem`; `Configuration`
    /// (`invalid_input`: no `id_token` in `tokens`, no issuer; `missing_endpoint` `jwks`);
    /// `MalformedResponse` (the JWK Set), `Transport`.
    #[uniffi::method(default(leeway = None, algorithms = None))]
    pub fn validate_id_token(
        &self,
        tokens: &TokenSet,
        pending: &PendingAuthorization,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Arc<IdTokenClaims>, GrantlineError> {
        block_on(self.validate_id_token_flow(&How::Blocking, tokens, pending, leeway, algorithms))
    }

    /// Validates the ID token of a refresh answer against the first one's claims (OpenID
    /// Connect Core 1.0 §12.2: same `iss`, `sub`, `aud`, `azp`, `auth_time`); `null`/`nil`
    /// when the answer carries no ID token (keep `previous`). Blocks.
    ///
    /// # Errors
    /// As [`Client::validate_id_token`].
    #[uniffi::method(default(leeway = None, algorithms = None))]
    pub fn validate_refreshed_id_token(
        &self,
        tokens: &TokenSet,
        previous: &IdTokenClaims,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Option<Arc<IdTokenClaims>>, GrantlineError> {
        block_on(self.validate_refreshed_id_token_flow(
            &How::Blocking,
            tokens,
            previous,
            leeway,
            algorithms,
        ))
    }

    /// Fetches the userinfo with `tokens`' access token and checks that its `sub` is
    /// `id_token`'s; a signed answer is verified through the JWKS cache. Blocks.
    ///
    /// # Errors
    /// `IdToken` (`sub`, `iss`, `aud`), `Jws`, `OAuth` (a 401/403 Bearer challenge),
    /// `MalformedResponse`, `Transport`, `Configuration` (`missing_endpoint` `userinfo`).
    pub fn userinfo(
        &self,
        tokens: &TokenSet,
        id_token: &IdTokenClaims,
    ) -> Result<Arc<UserInfo>, GrantlineError> {
        block_on(self.userinfo_flow(&How::Blocking, tokens, id_token))
    }
}

/// The suspending twins.
#[uniffi::export]
impl Client {
    /// [`Client::grant`], suspending.
    ///
    /// # Errors
    /// As [`Client::grant`].
    pub async fn grant_async(
        &self,
        request: Arc<GrantRequest>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        self.grant_flow(&How::Suspending, &request.inner).await
    }

    /// [`Client::token_exchange`], suspending.
    ///
    /// # Errors
    /// As [`Client::grant`].
    #[uniffi::method(default(params = []))]
    pub async fn token_exchange_async(
        &self,
        exchange: TokenExchange,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request = exchange_request(&exchange, params);
        self.grant_flow(&How::Suspending, &request).await
    }

    /// [`Client::jwt_bearer`], suspending.
    ///
    /// # Errors
    /// As [`Client::grant`].
    #[uniffi::method(default(scopes = [], params = []))]
    pub async fn jwt_bearer_async(
        &self,
        assertion: String,
        scopes: Vec<String>,
        params: Vec<Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request = jwt_bearer_request(assertion, scopes, params);
        self.grant_flow(&How::Suspending, &request).await
    }

    /// [`Client::validate_id_token`], suspending.
    ///
    /// # Errors
    /// As [`Client::validate_id_token`].
    #[uniffi::method(default(leeway = None, algorithms = None))]
    pub async fn validate_id_token_async(
        &self,
        tokens: Arc<TokenSet>,
        pending: Arc<PendingAuthorization>,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Arc<IdTokenClaims>, GrantlineError> {
        self.validate_id_token_flow(&How::Suspending, &tokens, &pending, leeway, algorithms)
            .await
    }

    /// [`Client::validate_refreshed_id_token`], suspending.
    ///
    /// # Errors
    /// As [`Client::validate_id_token`].
    #[uniffi::method(default(leeway = None, algorithms = None))]
    pub async fn validate_refreshed_id_token_async(
        &self,
        tokens: Arc<TokenSet>,
        previous: Arc<IdTokenClaims>,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Option<Arc<IdTokenClaims>>, GrantlineError> {
        self.validate_refreshed_id_token_flow(
            &How::Suspending,
            &tokens,
            &previous,
            leeway,
            algorithms,
        )
        .await
    }

    /// [`Client::userinfo`], suspending.
    ///
    /// # Errors
    /// As [`Client::userinfo`].
    pub async fn userinfo_async(
        &self,
        tokens: Arc<TokenSet>,
        id_token: Arc<IdTokenClaims>,
    ) -> Result<Arc<UserInfo>, GrantlineError> {
        self.userinfo_flow(&How::Suspending, &tokens, &id_token)
            .await
    }
}
