//! HTTP as plain data, and the transport the host app supplies.
//!
//! Requests go out as [`HttpRequest`] objects (their `toString`/`description` redacts every
//! secret: the Basic credential, `client_secret`, codes, verifiers, refresh tokens, passwords);
//! responses come back as [`HttpResponse`] records. An [`HttpTransport`] performs one exchange,
//! and must not follow redirects (a 301 turns a POST into a GET and may leak its body).
//!
//! # What a request tells its transport
//! Besides method, URL, headers and body, every [`HttpRequest`] carries two limits for the
//! exchange, so that a foreign transport needs no other channel to learn them per call:
//! - `timeout`: the **whole-request deadline** (connect, send, the response head and every read
//!   of the body, together). `null`/`nil`: the transport's own default (30 s in the shipped
//!   transports). Set per client (`Client(..., timeout = ...)`, `Client.withTimeout`) or per
//!   request (`HttpRequest.withTimeout`).
//! - `max_response_body`: read at most this many body bytes, **after** decoding
//!   `Content-Encoding`, plus one (so the reader can tell "exactly the limit" from "more").
//!   Token-endpoint requests grantline builds carry [`max_response_body`] (1 MiB, the core's
//!   cap); requests you build carry none (no limit) unless you set one; `TokenSession.send`
//!   applies the session's API body limit to requests that carry none, and refuses a body over
//!   it (never a silent cut).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::GrantlineError;
use crate::num;

/// One HTTP header. Printing it (`toString`, `description`) redacts credentials
/// (`Authorization`, `Proxy-Authorization`, `Cookie`) down to their scheme.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct Header {
    /// The header name (lowercase in what grantline builds).
    pub name: String,
    /// The header value.
    pub value: String,
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (
            http::HeaderName::from_bytes(self.name.as_bytes()),
            http::HeaderValue::from_str(&self.value),
        ) {
            (Ok(name), Ok(value)) => {
                write!(
                    f,
                    "{}: {}",
                    self.name,
                    grantline::redact::header(&name, &value)
                )
            }
            _ => write!(f, "{}: [unprintable]", self.name),
        }
    }
}

/// An HTTP request built by grantline (or by you, for [`crate::NativeTokenSession::send`]).
///
/// An object rather than a record so that printing it cannot leak what it carries: its
/// `toString`/`description` is `grantline::redact::request`, with every secret redacted.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct HttpRequest {
    pub(crate) inner: http::Request<Vec<u8>>,
    /// The whole-request deadline, when this request has its own.
    pub(crate) timeout: Option<Duration>,
    /// The most body bytes (decoded) to read, plus one; `None`: no limit.
    pub(crate) max_response_body: Option<u64>,
}

impl fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&grantline::redact::request(&self.inner), f)
    }
}

impl HttpRequest {
    /// A request to a token, introspection, revocation, device or discovery endpoint, built by
    /// the core: its answer is parsed by the core, which refuses bodies over `MAX_BODY`.
    pub(crate) fn endpoint(inner: http::Request<Vec<u8>>, timeout: Option<Duration>) -> Self {
        HttpRequest {
            inner,
            timeout,
            max_response_body: Some(grantline::MAX_BODY as u64),
        }
    }

    /// The URL without user information, query or fragment, for error messages.
    pub(crate) fn shown_url(&self) -> String {
        shown_url(self.inner.uri())
    }
}

/// An endpoint request (see [`HttpRequest::endpoint`]) without a deadline of its own.
pub(crate) fn request(inner: http::Request<Vec<u8>>) -> Arc<HttpRequest> {
    Arc::new(HttpRequest::endpoint(inner, None))
}

/// `scheme://host[:port]/path`: a URL as errors may show it (no user information, no query, no
/// fragment: they may carry secrets).
pub(crate) fn shown_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("?");
    let host = uri.host().unwrap_or("?");
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{}", uri.path())
}

#[uniffi::export]
impl HttpRequest {
    /// A request from parts, e.g. an API call for [`crate::NativeTokenSession::send`].
    /// `timeout`: its whole-request deadline (none: the client's, else the transport's
    /// default). `max_response_body`: the most body bytes to accept (none: no limit of its own;
    /// `TokenSession.send` then applies the session's API body limit).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for an invalid method, URL, header name or value, or a
    /// negative `max_response_body`.
    #[uniffi::constructor(default(timeout = None, max_response_body = None))]
    pub fn new(
        method: String,
        url: String,
        headers: Vec<Header>,
        body: Vec<u8>,
        timeout: Option<Duration>,
        max_response_body: Option<i64>,
    ) -> Result<Arc<Self>, GrantlineError> {
        let max_response_body = num::limit(max_response_body)?;
        let mut r = http::Request::new(body);
        *r.method_mut() = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| GrantlineError::invalid(format!("{method:?} is not an HTTP method")))?;
        let uri: http::Uri = url
            .parse()
            .ok()
            .filter(|u: &http::Uri| u.scheme().is_some() && u.host().is_some())
            .ok_or_else(|| GrantlineError::invalid("the URL is not a valid absolute URL"))?;
        *r.uri_mut() = uri;
        for h in headers {
            let name = http::HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
                GrantlineError::invalid(format!("{:?} is not a header name", h.name))
            })?;
            let value = http::HeaderValue::from_str(&h.value).map_err(|_| {
                GrantlineError::invalid(format!("the value of header {name} is not valid"))
            })?;
            r.headers_mut().append(name, value);
        }
        Ok(Arc::new(HttpRequest {
            inner: r,
            timeout,
            max_response_body,
        }))
    }

    /// This request with another whole-request deadline (`null`/`nil`: the client's or the
    /// transport's default). The request itself is unchanged.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(HttpRequest {
            inner: self.inner.clone(),
            timeout,
            max_response_body: self.max_response_body,
        })
    }

    /// This request with another response body limit (`null`/`nil`: none of its own).
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for a negative limit.
    pub fn with_max_response_body(
        &self,
        max_response_body: Option<i64>,
    ) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(HttpRequest {
            inner: self.inner.clone(),
            timeout: self.timeout,
            max_response_body: num::limit(max_response_body)?,
        }))
    }

    /// The whole-request deadline for this exchange (connect, send, head and body reads
    /// together), when the request has one; else the transport's default applies.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Read at most this many response body bytes (after decoding `Content-Encoding`) plus
    /// one; `null`/`nil`: no limit. 1 MiB for the endpoint requests grantline builds.
    pub fn max_response_body(&self) -> Option<i64> {
        num::out_opt(self.max_response_body)
    }

    /// The method (`POST` for every request grantline builds).
    pub fn method(&self) -> String {
        self.inner.method().as_str().to_owned()
    }

    /// The absolute URL.
    pub fn url(&self) -> String {
        self.inner.uri().to_string()
    }

    /// Every header, in order, names lowercase. They may carry credentials: send them, never
    /// log their values.
    pub fn headers(&self) -> Vec<Header> {
        self.inner
            .headers()
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect()
    }

    /// The first value of header `name` (case-insensitive), when present.
    pub fn header(&self, name: String) -> Option<String> {
        self.inner
            .headers()
            .get(name.as_str())
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// The body bytes (empty for none). It may carry credentials: send it, never log it.
    pub fn body(&self) -> Vec<u8> {
        self.inner.body().clone()
    }

    /// Method, URL, headers, body, deadline and body limit at once (what a transport needs,
    /// in one call).
    pub fn parts(&self) -> RequestParts {
        RequestParts {
            method: self.method(),
            url: self.url(),
            headers: self.headers(),
            body: self.body(),
            timeout: self.timeout,
            max_response_body: num::out_opt(self.max_response_body),
        }
    }
}

/// Everything an [`HttpRequest`] carries, in one record ([`HttpRequest::parts`]): one call
/// across the FFI instead of four, for transports. Printing it redacts every secret, as the
/// request does.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct RequestParts {
    /// The method.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Every header, in order, names lowercase (credentials included: never log them).
    pub headers: Vec<Header>,
    /// The body (credentials included: never log it).
    pub body: Vec<u8>,
    /// The whole-request deadline (connect, send, head and body reads together); `null`/`nil`:
    /// the transport's default.
    pub timeout: Option<Duration>,
    /// Read at most this many body bytes (decoded) plus one; `null`/`nil`: no limit. Never
    /// negative.
    pub max_response_body: Option<i64>,
}

impl fmt::Display for RequestParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match HttpRequest::new(
            self.method.clone(),
            self.url.clone(),
            self.headers.clone(),
            self.body.clone(),
            None,
            None,
        ) {
            Ok(r) => fmt::Display::fmt(&r, f),
            Err(_) => write!(f, "{} [an invalid request, not shown]", self.method),
        }
    }
}

/// An HTTP response handed to grantline: the status, every header (repeated ones as repeated
/// entries, in order) and the body bytes. Printing it shows the status, the headers
/// (credentials redacted) and the body's length, never the body (it holds tokens).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display)]
pub struct HttpResponse {
    /// The HTTP status code (100..=999; anything else is refused as malformed when parsed).
    pub status: i32,
    /// The headers, names in any case; a repeated header is several entries.
    pub headers: Vec<Header>,
    /// The body, decoded (`Content-Encoding` undone), at most the request's
    /// `max_response_body` + 1 bytes.
    pub body: Vec<u8>,
}

impl fmt::Display for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for h in &self.headers {
            if h.name.eq_ignore_ascii_case("set-cookie") {
                write!(f, "\n{}: [redacted]", h.name)?;
            } else {
                write!(f, "\n{h}")?;
            }
        }
        write!(f, "\n\n<{} bytes>", self.body.len())
    }
}

/// A header map from header records. Headers that cannot exist on the wire (control
/// characters, invalid names) are left out rather than failing the whole response.
pub(crate) fn header_map(headers: &[Header]) -> http::HeaderMap {
    let mut map = http::HeaderMap::with_capacity(headers.len());
    for h in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(h.name.as_bytes()),
            http::HeaderValue::from_str(&h.value),
        ) {
            map.append(name, value);
        }
    }
    map
}

impl HttpResponse {
    /// Whether this answer from an API means "renew the token" (the core's rule: a 401 whose
    /// `Bearer` challenge says `invalid_token`, or a bare 401).
    pub(crate) fn needs_renewal(&self) -> bool {
        u16::try_from(self.status).is_ok_and(|status| {
            grantline::bearer::needs_renewal(status, &header_map(&self.headers))
        })
    }

    /// The status as the `http` crate has it.
    fn status_code(&self) -> Result<http::StatusCode, GrantlineError> {
        u16::try_from(self.status)
            .ok()
            .and_then(|s| http::StatusCode::from_u16(s).ok())
            .ok_or_else(|| GrantlineError::MalformedResponse {
                kind: "malformed".into(),
                status: self.status,
                reason: format!("{} is not an HTTP status", self.status),
                excerpt: None,
            })
    }

    /// The core's view of this response.
    pub(crate) fn to_http(&self) -> Result<http::Response<&[u8]>, GrantlineError> {
        let mut r = http::Response::new(self.body.as_slice());
        *r.status_mut() = self.status_code()?;
        *r.headers_mut() = header_map(&self.headers);
        Ok(r)
    }

    /// This response as an owned `http` response (for `grantline-async`).
    pub(crate) fn into_http(self) -> Result<http::Response<Vec<u8>>, GrantlineError> {
        let status = self.status_code()?;
        let headers = header_map(&self.headers);
        let mut r = http::Response::new(self.body);
        *r.status_mut() = status;
        *r.headers_mut() = headers;
        Ok(r)
    }
}

/// The host app's HTTP client: performs one request and returns the response, whatever its
/// status, in two colours: [`HttpTransport::send`] blocks the calling thread (the blocking calls:
/// `clientCredentials()`, `TokenSession`), [`HttpTransport::send_async`] suspends (Kotlin
/// `suspend fun`, Swift `async`: the `*Async` calls and `AsyncTokenSession`). grantline ships
/// `UrlConnectionTransport` (`java.net.HttpURLConnection`: Android and every JVM) and
/// `JdkHttpTransport` (`java.net.http`, JVM) for Kotlin, and `URLSessionTransport` for Swift, each
/// with both methods. For your own, Kotlin has two adapters: extend `BlockingHttpTransport`
/// (write `send`; `sendAsync` runs it on `Dispatchers.IO`) or `SuspendingHttpTransport` (write
/// `sendAsync`; `send` runs it in `runBlocking`); Swift has the `BlockingHttpTransport` protocol
/// (write `send`; `sendAsync` runs it on a dispatch queue).
///
/// Contract, for both methods (read everything with `request.parts()`, one call across the FFI):
/// - never follow redirects (return the 3xx as it came);
/// - end the whole exchange (connect, send, head, every body read) by `parts.timeout`, or by
///   your own default (30 s in the shipped transports) when it is null/nil, and throw
///   `Transport` when it passes;
/// - decode `Content-Encoding: gzip` and `deflate` (zlib), and read at most
///   `parts.max_response_body` + 1 **decoded** bytes (none: no limit), so a gzip bomb stays
///   bounded; return the decoded body (drop `content-encoding` and `content-length`);
/// - throw `GrantlineException.Transport` (Kotlin) / `GrantlineError.Transport` (Swift) when
///   there is no whole response; name the URL without its query and never a body. Any other
///   exception is reported as a transport failure too.
///
/// Called from the thread (or coroutine, task) that asked, never while grantline holds a lock.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends `request` and returns the response, blocking the calling thread.
    ///
    /// # Errors
    /// `Transport` when no response could be obtained.
    fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError>;

    /// Sends `request` and returns the response without blocking a thread: a Kotlin `suspend`
    /// function, a Swift `async` one. When the caller is cancelled (its coroutine or task), the
    /// call is cancelled too (the coroutine or task running it is cancelled): stop the exchange
    /// then.
    ///
    /// # Errors
    /// `Transport` when no response could be obtained.
    async fn send_async(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError>;
}

/// The largest response body grantline parses, in bytes (1 MiB); larger ones are refused.
/// The endpoint requests grantline builds carry it as their `max_response_body`.
#[uniffi::export]
pub fn max_response_body() -> i64 {
    num::out(grantline::MAX_BODY as u64)
}

/// Seconds since the Unix epoch, from the system clock (the binding's clock: the core never
/// reads one).
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn requests_and_headers_print_redacted() {
        let r = HttpRequest::new(
            "POST".into(),
            "https://as.example/token".into(),
            vec![
                Header {
                    name: "authorization".into(),
                    value: "Basic dGVzdDpzM2NyZXQ=".into(),
                },
                Header {
                    name: "content-type".into(),
                    value: "application/x-www-form-urlencoded".into(),
                },
            ],
            b"grant_type=password&password=hunter2".to_vec(),
            None,
            None,
        )
        .unwrap();
        let shown = r.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("dGVzdDpzM2NyZXQ"),
            "{shown}"
        );
        assert!(shown.contains("Basic [redacted]"), "{shown}");
        assert!(!r.parts().to_string().contains("hunter2"));
        assert_eq!(r.parts().body, r.body());
        let h = &r.headers()[0];
        assert_eq!(h.to_string(), "authorization: Basic [redacted]");
        assert!(HttpRequest::new(
            "P O".into(),
            "https://a/".into(),
            vec![],
            vec![],
            None,
            None
        )
        .is_err());
        assert!(
            HttpRequest::new("GET".into(), "/relative".into(), vec![], vec![], None, None).is_err()
        );
        let limited = r
            .with_timeout(Some(Duration::from_secs(2)))
            .with_max_response_body(Some(10))
            .unwrap();
        assert!(r.with_max_response_body(Some(-1)).is_err());
        assert_eq!(limited.parts().timeout, Some(Duration::from_secs(2)));
        assert_eq!(limited.parts().max_response_body, Some(10));
        assert_eq!(r.timeout(), None);
        assert_eq!(
            shown_url(&"https://u:p@as.example:8443/t?code=x#f".parse().unwrap()),
            "https://as.example:8443/t"
        );
    }

    #[test]
    fn responses_keep_repeated_headers_and_refuse_bad_statuses() {
        let resp = HttpResponse {
            status: 401,
            headers: vec![
                Header {
                    name: "WWW-Authenticate".into(),
                    value: "Basic realm=\"a\"".into(),
                },
                Header {
                    name: "www-authenticate".into(),
                    value: "Bearer error=\"invalid_token\"".into(),
                },
            ],
            body: b"secret-token-body".to_vec(),
        };
        assert_eq!(
            resp.to_http()
                .unwrap()
                .headers()
                .get_all("www-authenticate")
                .iter()
                .count(),
            2
        );
        assert!(!resp.to_string().contains("secret-token-body"));
        let bad = HttpResponse {
            status: 42,
            headers: vec![],
            body: vec![],
        };
        assert!(matches!(
            bad.to_http(),
            Err(GrantlineError::MalformedResponse { status: 42, .. })
        ));
    }
}
