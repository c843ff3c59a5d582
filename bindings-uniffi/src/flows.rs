//! Every network call of the convenient layer, written once ("one driver, two colours").
//!
//! Each flow is an `async fn` that reaches the network only through [`How`]: the blocking API
//! (`clientCredentials()`, ...) runs it on the calling thread with [`block_on`], sending with
//! [`HttpTransport::send`], which blocks, so the flow never actually waits on a waker; the
//! suspending API (`clientCredentialsAsync()`, ... : Kotlin `suspend`, Swift `async`) awaits it,
//! sending with [`HttpTransport::send_async`]. What to send and how to read the answer are the
//! core's; the flows only carry requests and answers, and loop where the core says "again"
//! (discovery's next URL, the device flow's next poll).

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::authorize::{CodeGrant, PendingAuthorization};
use crate::client::Client;
use crate::discovery::Discovery;
use crate::error::GrantlineError;
use crate::http::{now, HttpRequest, HttpResponse, HttpTransport};
use crate::jose::JwsAlgorithm;
use crate::oidc::{claims, IdTokenClaims, UserInfo};
use crate::provider::Provider;
use crate::tokens::{token_set, DeviceAuthorization, DevicePoll, Introspection, Renewed, TokenSet};
use crate::types::TokenTypeHint;

/// How a flow reaches the network and waits.
#[derive(Clone)]
pub(crate) enum How {
    /// The blocking API: [`HttpTransport::send`], `std::thread::sleep`.
    Blocking,
    /// The suspending API: [`HttpTransport::send_async`], [`crate::timer::sleep`].
    Suspending,
    /// Tests: blocking sends, and waits recorded instead of slept.
    #[cfg(test)]
    Recorded(Arc<std::sync::Mutex<Vec<Duration>>>),
}

impl How {
    /// Sends `request` through `transport`.
    pub(crate) async fn send(
        &self,
        transport: &Arc<dyn HttpTransport>,
        request: Arc<HttpRequest>,
    ) -> Result<HttpResponse, GrantlineError> {
        match self {
            How::Suspending => transport.send_async(request).await,
            _ => transport.send(request),
        }
    }

    /// Waits `duration`.
    async fn sleep(&self, duration: Duration) -> Result<(), GrantlineError> {
        match self {
            How::Blocking => std::thread::sleep(duration),
            How::Suspending => crate::timer::sleep(duration)?.await,
            #[cfg(test)]
            How::Recorded(slept) => slept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(duration),
        }
        Ok(())
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread (the blocking API's shell). With [`How::Blocking`]
/// the flows complete on their first poll; parking covers any future that does wait.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}

impl Client {
    /// Sends an endpoint request the core built, with this client's deadline.
    async fn call(
        &self,
        how: &How,
        request: http::Request<Vec<u8>>,
    ) -> Result<HttpResponse, GrantlineError> {
        how.send(self.transport()?, self.endpoint_request(request))
            .await
    }

    /// A token request, its answer parsed for this client's provider.
    pub(crate) async fn tokens_flow(
        &self,
        how: &How,
        request: Result<http::Request<Vec<u8>>, grantline::Error>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let response = self.call(how, request?).await?;
        Ok(token_set(grantline::TokenSet::from_response_for(
            &response.to_http()?,
            now(),
            self.inner.provider(),
        )?))
    }

    /// A standard grant with the caller's extra parameters (repeats kept, in order).
    pub(crate) fn grant_with_params(
        &self,
        grant: grantline::GrantRequest,
        params: Vec<crate::types::Param>,
    ) -> Result<http::Request<Vec<u8>>, grantline::Error> {
        let grant = params
            .into_iter()
            .fold(grant, |g, p| g.param(p.name, p.value));
        self.inner.grant_request(&grant, crate::http::now())
    }

    /// The code exchange.
    pub(crate) async fn exchange_code_flow(
        &self,
        how: &How,
        grant: &CodeGrant,
        params: Vec<crate::types::Param>,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        let request = self.grant_with_params(
            grantline::GrantRequest::authorization_code(&grant.inner),
            params,
        );
        self.tokens_flow(how, request).await
    }

    /// A refresh of `tokens`: the answer keeps the old refresh token when it has none.
    pub(crate) async fn refresh_flow(
        &self,
        how: &How,
        tokens: &TokenSet,
        scopes: Vec<String>,
        params: Vec<crate::types::Param>,
    ) -> Result<Renewed, GrantlineError> {
        let refresh_token = tokens
            .inner
            .refresh_token()
            .ok_or_else(|| GrantlineError::invalid("the token set has no refresh token"))?;
        let request = self.grant_with_params(
            grantline::GrantRequest::refresh(refresh_token, scopes),
            params,
        )?;
        let response = self.call(how, request).await?;
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

    /// An introspection.
    pub(crate) async fn introspect_flow(
        &self,
        how: &How,
        token: String,
        hint: Option<TokenTypeHint>,
        refresh_token: Option<String>,
    ) -> Result<Introspection, GrantlineError> {
        let refresh = refresh_token.map(grantline::RefreshToken::new);
        let request = self.inner.introspection_request(
            &token,
            hint.map(Into::into),
            refresh.as_ref(),
            crate::http::now(),
        )?;
        let response = self.call(how, request).await?;
        Ok(grantline::Introspection::from_response(&response.to_http()?)?.into())
    }

    /// A revocation.
    pub(crate) async fn revoke_flow(
        &self,
        how: &How,
        token: String,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), GrantlineError> {
        let request =
            self.inner
                .revocation_request(&token, hint.map(Into::into), crate::http::now())?;
        let response = self.call(how, request).await?;
        Ok(grantline::check_revocation_response(&response.to_http()?)?)
    }

    /// The device authorization request.
    pub(crate) async fn device_authorization_flow(
        &self,
        how: &How,
        scopes: Vec<String>,
    ) -> Result<Arc<DeviceAuthorization>, GrantlineError> {
        let request = self
            .inner
            .device_authorization_request(&scopes, crate::http::now())?;
        let response = self.call(how, request).await?;
        Ok(Arc::new(DeviceAuthorization {
            inner: grantline::DeviceAuthorization::from_response(&response.to_http()?, now())?,
        }))
    }

    /// One device poll, polling every `interval` seconds so far.
    pub(crate) async fn poll_device_flow(
        &self,
        how: &How,
        device: &DeviceAuthorization,
        interval: u64,
    ) -> Result<(DevicePoll, i32), GrantlineError> {
        let request = self
            .inner
            .device_token_request(&device.inner.device_code, crate::http::now())?;
        let response = self.call(how, request).await?;
        let poll = grantline::DevicePoll::from_response(&response.to_http()?, now(), interval)?;
        Ok((poll.into(), response.status))
    }

    /// The device flow's wait, as the core's [`grantline::DeviceFlow`] decides it: wait, poll,
    /// and again (longer after `slow_down`), until the user approves (the tokens), denies
    /// (`OAuth` `access_denied`) or the device code expires (`OAuth` `expired_token`: the server
    /// said so, or its `expires_in` has passed, so that a server answering "pending" for ever
    /// cannot keep the loop alive past it).
    pub(crate) async fn wait_for_device_flow(
        &self,
        how: &How,
        device: &DeviceAuthorization,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        // Refused before the first wait: a client that cannot poll is a configuration error.
        self.transport()?;
        self.inner
            .device_token_request(&device.inner.device_code, crate::http::now())?;
        let mut flow = grantline::DeviceFlow::new(&device.inner);
        loop {
            match flow.next(&self.inner, now())? {
                grantline::DeviceStep::Wait { seconds } => {
                    how.sleep(Duration::from_secs(seconds)).await?;
                }
                grantline::DeviceStep::Poll(request) => {
                    let response = self.call(how, *request).await?;
                    if let Some(tokens) = flow.receive(&response.to_http()?, now())? {
                        return Ok(token_set(tokens));
                    }
                }
            }
        }
    }
}

impl Client {
    /// Any grant (extension grants, token exchange, JWT bearer, standard grants with extra
    /// parameters): its answer parsed like every token response.
    pub(crate) async fn grant_flow(
        &self,
        how: &How,
        request: &grantline::GrantRequest,
    ) -> Result<Arc<TokenSet>, GrantlineError> {
        self.tokens_flow(how, self.inner.grant_request(request, now()))
            .await
    }

    /// Verifies `token` with this client's JWKS cache (one per client, created on first use
    /// for the provider's `jwks_uri`), fetching the set when the core's
    /// [`grantline::JwksCache::verify`] asks for it: first use, or a key it does not hold once
    /// the refetch interval has passed. The lock is never held across a send; two callers
    /// meeting an unknown key at once may both fetch.
    pub(crate) async fn verify_with_jwks_flow(
        &self,
        how: &How,
        token: &str,
        accepted: &[grantline::jose::Algorithm],
    ) -> Result<grantline::jose::VerifiedJws, GrantlineError> {
        // One time for the whole verification: the core never asks for a second fetch at the
        // same time, so the loop ends after one fetch at most, however long the fetch took.
        let at = now();
        loop {
            let request = {
                let mut guard = self.jwks.lock().unwrap_or_else(PoisonError::into_inner);
                let cache = match guard.take() {
                    Some(cache) => cache,
                    None => {
                        let cache = grantline::JwksCache::for_provider(self.inner.provider())?;
                        match self.jwks_min_refetch {
                            Some(seconds) => cache.with_min_refetch(seconds),
                            None => cache,
                        }
                    }
                };
                let cache = guard.insert(cache);
                match cache.verify(token, accepted, at)? {
                    grantline::JwksStep::Verified(verified) => return Ok(verified),
                    grantline::JwksStep::Fetch => cache.request(),
                }
            };
            let response = self.call(how, request).await?;
            let mut guard = self.jwks.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cache) = guard.as_mut() {
                cache.receive(&response.to_http()?, at)?;
            }
        }
    }

    /// The ID token of a code exchange: verified with the provider's keys, then checked
    /// against the pending authorization (issuer, client id, nonce, `max_age`) and the token
    /// set's access token (`at_hash`).
    pub(crate) async fn validate_id_token_flow(
        &self,
        how: &How,
        tokens: &TokenSet,
        pending: &PendingAuthorization,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Arc<IdTokenClaims>, GrantlineError> {
        let id_token = tokens
            .inner
            .id_token()
            .ok_or_else(|| GrantlineError::invalid("the token set has no id_token to validate"))?;
        let check = self
            .inner
            .id_token_check(&pending.inner)?
            .access_token(tokens.inner.access_token());
        let check = adjust(check, leeway, algorithms);
        let verified = self
            .verify_with_jwks_flow(how, id_token.secret(), check.accepted_algorithms())
            .await?;
        Ok(claims(check.validate(&verified, now())?))
    }

    /// The ID token of a refresh answer, when it has one (OpenID Connect Core 1.0 §12.2).
    pub(crate) async fn validate_refreshed_id_token_flow(
        &self,
        how: &How,
        tokens: &TokenSet,
        previous: &IdTokenClaims,
        leeway: Option<i64>,
        algorithms: Option<Vec<JwsAlgorithm>>,
    ) -> Result<Option<Arc<IdTokenClaims>>, GrantlineError> {
        let Some(id_token) = tokens.inner.id_token() else {
            return Ok(None);
        };
        let check = self
            .inner
            .refresh_id_token_check()?
            .access_token(tokens.inner.access_token());
        let check = adjust(check, leeway, algorithms);
        let verified = self
            .verify_with_jwks_flow(how, id_token.secret(), check.accepted_algorithms())
            .await?;
        Ok(Some(claims(check.validate_refreshed(
            &verified,
            &previous.inner,
            now(),
        )?)))
    }

    /// Userinfo: the request with the token set's access token, the answer's `sub` checked
    /// against the ID token's; a signed answer verified through the JWKS cache with the
    /// algorithms of the provider's ID tokens, then checked (`iss`, `aud`, `sub`).
    pub(crate) async fn userinfo_flow(
        &self,
        how: &How,
        tokens: &TokenSet,
        id_token: &IdTokenClaims,
    ) -> Result<Arc<UserInfo>, GrantlineError> {
        let request = self.inner.userinfo_request(tokens.inner.access_token())?;
        let response = self.call(how, request).await?;
        let sub = id_token.inner.sub();
        let info = match grantline::UserInfo::from_response(&response.to_http()?, sub)? {
            grantline::UserInfoAnswer::Claims(info) => info,
            grantline::UserInfoAnswer::Signed(jws) => {
                let check = self.inner.refresh_id_token_check()?;
                let verified = self
                    .verify_with_jwks_flow(how, &jws, check.accepted_algorithms())
                    .await?;
                grantline::UserInfo::from_verified(
                    &verified,
                    sub,
                    check.issuer(),
                    self.inner.client_id(),
                )?
            }
        };
        Ok(Arc::new(UserInfo { inner: info }))
    }
}

/// A check with the caller's leeway and algorithms, when given.
fn adjust(
    mut check: grantline::IdTokenCheck,
    leeway: Option<i64>,
    algorithms: Option<Vec<JwsAlgorithm>>,
) -> grantline::IdTokenCheck {
    if let Some(seconds) = leeway {
        check = check.leeway(crate::num::seconds(seconds));
    }
    if let Some(list) = algorithms {
        check = check.algorithms(crate::jose::algorithms(&list));
    }
    check
}

/// Discovery through `transport`: the well-known URLs in order (a 404 moves on), the document
/// bound to the issuer.
pub(crate) async fn discover_flow(
    how: &How,
    issuer: String,
    transport: &Arc<dyn HttpTransport>,
    timeout: Option<Duration>,
) -> Result<Arc<Provider>, GrantlineError> {
    let discovery = Discovery::new(issuer)?;
    // Bounded by the core: `receive` answers `None` only while another URL is left.
    loop {
        let request = discovery.request().with_timeout(timeout);
        let response = how.send(transport, request).await?;
        if let Some(provider) = discovery.receive(&response)? {
            return Ok(provider);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::http::Header;
    use crate::provider::ProviderBuilder;
    use crate::types::GrantType;
    use std::sync::Mutex;

    /// A device authorization endpoint and a token endpoint answering from a script.
    struct Device {
        polls: Mutex<Vec<(u16, &'static str)>>,
        sent: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl HttpTransport for Device {
        fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
            self.sent.lock().unwrap().push(request.url());
            let (status, body) = if request.url().ends_with("/device") {
                (
                    200,
                    r#"{"device_code":"dc-secret","user_code":"ABCD","verification_uri":"https://as.example/verify","expires_in":600,"interval":2}"#,
                )
            } else {
                self.polls.lock().unwrap().remove(0)
            };
            Ok(HttpResponse {
                status: status.into(),
                headers: vec![Header {
                    name: "content-type".into(),
                    value: "application/json".into(),
                }],
                body: body.as_bytes().to_vec(),
            })
        }
        async fn send_async(
            &self,
            request: Arc<HttpRequest>,
        ) -> Result<HttpResponse, GrantlineError> {
            self.send(request)
        }
    }

    fn device_client(polls: Vec<(u16, &'static str)>) -> (Arc<Client>, Arc<Device>) {
        let provider = ProviderBuilder::new("d".into())
            .token_endpoint("https://as.example/token".into())
            .device_authorization_endpoint("https://as.example/device".into())
            .grant(GrantType::DeviceCode)
            .build()
            .unwrap();
        let device = Arc::new(Device {
            polls: Mutex::new(polls),
            sent: Mutex::new(vec![]),
        });
        let transport: Arc<dyn HttpTransport> = device.clone();
        let client = Client::new(
            &provider,
            "id".into(),
            None,
            None,
            None,
            Some(transport),
            None,
            None,
        );
        (client, device)
    }

    #[test]
    fn the_device_wait_follows_the_cores_intervals_until_the_tokens() {
        let (client, server) = device_client(vec![
            (400, r#"{"error":"authorization_pending"}"#),
            (400, r#"{"error":"slow_down"}"#),
            (400, r#"{"error":"authorization_pending"}"#),
            (200, r#"{"access_token":"at-1","expires_in":60}"#),
        ]);
        let slept = Arc::new(Mutex::new(vec![]));
        let how = How::Recorded(slept.clone());
        let device = block_on(client.device_authorization_flow(&how, vec![])).unwrap();
        let tokens = block_on(client.wait_for_device_flow(&how, &device)).unwrap();
        assert_eq!(tokens.access_token(), "at-1");
        let secs: Vec<u64> = slept
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect();
        // The device's 2 s, then the core's slow_down (+5 s), kept afterwards.
        assert_eq!(secs, [2, 2, 7, 7]);
        assert_eq!(server.sent.lock().unwrap().len(), 5);
    }

    #[test]
    fn the_device_wait_ends_on_denial_and_expiry_with_oauth_errors() {
        for (answer, code) in [
            (r#"{"error":"access_denied"}"#, "access_denied"),
            (r#"{"error":"expired_token"}"#, "expired_token"),
        ] {
            let (client, _) = device_client(vec![(400, answer)]);
            let how = How::Recorded(Arc::new(Mutex::new(vec![])));
            let device = block_on(client.device_authorization_flow(&how, vec![])).unwrap();
            let e = block_on(client.wait_for_device_flow(&how, &device)).unwrap_err();
            assert!(
                matches!(&e, GrantlineError::OAuth { code: c, status: 400, .. } if c == code),
                "{e:?}"
            );
            assert!(!format!("{e:?}{e}").contains("dc-secret"));
        }
        // A device code whose expiry has passed: no poll is sent.
        let (client, server) = device_client(vec![]);
        let device = DeviceAuthorization::from_response(
            &HttpResponse {
                status: 200,
                headers: vec![],
                body: br#"{"device_code":"dc","user_code":"U","verification_uri":"https://as.example/v","expires_in":1}"#.to_vec(),
            },
            1,
        )
        .unwrap();
        let how = How::Recorded(Arc::new(Mutex::new(vec![])));
        let e = block_on(client.wait_for_device_flow(&how, &device)).unwrap_err();
        assert!(
            matches!(&e, GrantlineError::OAuth { code, status: 0, .. } if code == "expired_token")
        );
        assert!(server.sent.lock().unwrap().is_empty());
        // Other OAuth errors end it as they are.
        let (client, _) = device_client(vec![(400, r#"{"error":"invalid_grant"}"#)]);
        let device = block_on(client.device_authorization_flow(&How::Blocking, vec![])).unwrap();
        let how = How::Recorded(Arc::new(Mutex::new(vec![])));
        assert!(matches!(
            block_on(client.wait_for_device_flow(&how, &device)),
            Err(GrantlineError::OAuth { ref code, .. }) if code == "invalid_grant"
        ));
    }
}
