//! Discovery bound to its issuer (RFC 8414 §3, OpenID Connect Discovery 1.0 §4): the core's
//! [`grantline::Discovery`] as a sans-IO object, and [`discover`], which drives it through a
//! transport.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::error::GrantlineError;
use crate::flows::{block_on, discover_flow, How};
use crate::http::{HttpRequest, HttpResponse, HttpTransport};
use crate::provider::Provider;

/// One discovery, sans-IO: the expected issuer, the well-known URLs to try in order, and the
/// request to send now. Send [`Discovery::request`] (no redirects), hand the answer to
/// [`Discovery::receive`]: a provider, or `null`/`nil` when it was a 404 and another URL is
/// left (send `request()` again). A document that names another issuer than the expected one is
/// refused (`StateMismatch`, kind `issuer_mismatch`). [`discover`] does all of it through a
/// transport.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Discovery {
    inner: Mutex<grantline::Discovery>,
}

impl fmt::Display for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.lock();
        write!(f, "Discovery(issuer={}, urls={:?})", d.issuer(), d.urls())
    }
}

impl Discovery {
    fn lock(&self) -> MutexGuard<'_, grantline::Discovery> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl Discovery {
    /// Discovery of `issuer_or_url`: an issuer identifier (`https://as.example/tenant1`: RFC
    /// 8414's `/.well-known/oauth-authorization-server` inserted, then OpenID Connect's
    /// `/.well-known/openid-configuration` appended), or a full well-known URL (tried alone; its
    /// issuer is derived from it).
    ///
    /// # Errors
    /// `Configuration`: `insecure_endpoint` for `http://` on a host that is not loopback,
    /// `invalid_input` for a query, a fragment, user information, or not an absolute http(s) URL.
    #[uniffi::constructor]
    pub fn new(issuer_or_url: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(Discovery {
            inner: Mutex::new(grantline::Discovery::new(&issuer_or_url)?),
        }))
    }

    /// The issuer the document must name.
    pub fn issuer(&self) -> String {
        self.lock().issuer().to_owned()
    }

    /// Every well-known URL this discovery tries, in order.
    pub fn urls(&self) -> Vec<String> {
        self.lock().urls()
    }

    /// The request to send now: `GET` the current well-known URL, `accept: application/json`,
    /// body limit 1 MiB. Send it without following redirects.
    pub fn request(&self) -> Arc<HttpRequest> {
        crate::http::request(self.lock().request())
    }

    /// Reads the answer to [`Discovery::request`]: the provider, or `null`/`nil` when it was a
    /// 404 and another URL is left (send `request()` again).
    ///
    /// # Errors
    /// `StateMismatch` (`issuer_mismatch`) when the document names another issuer;
    /// `MalformedResponse` (`unexpected_status` for any other status or a 404 at the last URL,
    /// `malformed` for a body over 1 MiB); `Configuration` for a document that is not valid
    /// metadata.
    pub fn receive(
        &self,
        response: &HttpResponse,
    ) -> Result<Option<Arc<Provider>>, GrantlineError> {
        let found = self.lock().receive(&response.to_http()?)?;
        Ok(found.map(|inner| Arc::new(Provider { inner })))
    }
}

/// The provider at `issuer` (or at a full well-known URL), fetched through `transport` and
/// bound to that issuer: the well-known URLs are tried in order (a 404 moves on), and a document
/// that names another issuer is refused. `timeout`: the whole-request deadline of each request
/// (none: the transport's default). Blocks; in a coroutine or a task, [`discover_async`].
///
/// # Errors
/// As [`Discovery::new`] and [`Discovery::receive`]; `Transport` when a request gets no answer.
#[uniffi::export(default(timeout = None))]
pub fn discover(
    issuer: String,
    transport: Arc<dyn HttpTransport>,
    timeout: Option<Duration>,
) -> Result<Arc<Provider>, GrantlineError> {
    block_on(discover_flow(&How::Blocking, issuer, &transport, timeout))
}

/// [`discover`], suspending (Kotlin `suspend`, Swift `async`): through the transport's
/// `sendAsync`, cancelled with its caller.
///
/// # Errors
/// As [`discover`].
#[uniffi::export(default(timeout = None))]
pub async fn discover_async(
    issuer: String,
    transport: Arc<dyn HttpTransport>,
    timeout: Option<Duration>,
) -> Result<Arc<Provider>, GrantlineError> {
    discover_flow(&How::Suspending, issuer, &transport, timeout).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers 404 at the RFC 8414 URL and `document` at the OpenID Connect one.
    struct OidcOnly {
        document: &'static str,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl HttpTransport for OidcOnly {
        async fn send_async(
            &self,
            request: Arc<HttpRequest>,
        ) -> Result<HttpResponse, GrantlineError> {
            self.send(request)
        }
        fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(request.timeout(), Some(Duration::from_secs(3)));
            let found = request.url().ends_with("/openid-configuration");
            Ok(HttpResponse {
                status: if found { 200 } else { 404 },
                headers: vec![],
                body: if found {
                    self.document.as_bytes().to_vec()
                } else {
                    vec![]
                },
            })
        }
    }

    #[test]
    fn discover_follows_the_urls_and_checks_the_issuer() {
        let good = Arc::new(OidcOnly {
            document: r#"{"issuer":"https://as.example/t1","token_endpoint":"https://as.example/t1/token"}"#,
            calls: AtomicUsize::new(0),
        });
        let p = discover(
            "https://as.example/t1".into(),
            good.clone(),
            Some(Duration::from_secs(3)),
        )
        .unwrap();
        assert_eq!(p.issuer().as_deref(), Some("https://as.example/t1"));
        assert_eq!(good.calls.load(Ordering::SeqCst), 2);
        let forged = Arc::new(OidcOnly {
            document: r#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}"#,
            calls: AtomicUsize::new(0),
        });
        let e = discover(
            "https://as.example/t1".into(),
            forged,
            Some(Duration::from_secs(3)),
        )
        .err()
        .unwrap();
        assert!(
            matches!(e, GrantlineError::StateMismatch { ref kind, .. } if kind == "issuer_mismatch")
        );
        let d = Discovery::new("https://as.example/t1".into()).unwrap();
        assert_eq!(d.urls().len(), 2);
        assert_eq!(
            d.request().max_response_body(),
            Some(grantline::MAX_BODY as i64)
        );
        assert!(d.to_string().contains("https://as.example/t1"));
    }
}
