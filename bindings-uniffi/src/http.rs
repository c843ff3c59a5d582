//! HTTP as plain data, and the transport the host app supplies.
//!
//! Requests go out as [`HttpRequest`] objects (their `toString`/`description` redacts every
//! secret: the Basic credential, `client_secret`, codes, verifiers, refresh tokens, passwords);
//! responses come back as [`HttpResponse`] records. An [`HttpTransport`] performs one exchange,
//! and must not follow redirects (a 301 turns a POST into a GET and may leak its body).

use std::fmt;
use std::sync::Arc;

use crate::error::GrantlineError;

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
}

impl fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&grantline::redact::request(&self.inner), f)
    }
}

impl From<http::Request<Vec<u8>>> for HttpRequest {
    fn from(inner: http::Request<Vec<u8>>) -> Self {
        HttpRequest { inner }
    }
}

pub(crate) fn request(inner: http::Request<Vec<u8>>) -> Arc<HttpRequest> {
    Arc::new(HttpRequest { inner })
}

#[uniffi::export]
impl HttpRequest {
    /// A request from parts, e.g. an API call for [`crate::NativeTokenSession::send`].
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) for an invalid method, URL, header name or value.
    #[uniffi::constructor]
    pub fn new(
        method: String,
        url: String,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Result<Arc<Self>, GrantlineError> {
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
        Ok(Arc::new(HttpRequest { inner: r }))
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

    /// Method, URL, headers and body at once (what a transport needs, in one call).
    pub fn parts(&self) -> RequestParts {
        RequestParts {
            method: self.method(),
            url: self.url(),
            headers: self.headers(),
            body: self.body(),
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
}

impl fmt::Display for RequestParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match HttpRequest::new(
            self.method.clone(),
            self.url.clone(),
            self.headers.clone(),
            self.body.clone(),
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
    /// The HTTP status code.
    pub status: u16,
    /// The headers, names in any case; a repeated header is several entries.
    pub headers: Vec<Header>,
    /// The body (read at most [`crate::max_response_body`] + 1 bytes: grantline refuses
    /// anything larger).
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
    /// The core's view of this response.
    pub(crate) fn to_http(&self) -> Result<http::Response<&[u8]>, GrantlineError> {
        let status = http::StatusCode::from_u16(self.status).map_err(|_| {
            GrantlineError::MalformedResponse {
                kind: "malformed".into(),
                status: self.status,
                reason: format!("{} is not an HTTP status", self.status),
                excerpt: None,
            }
        })?;
        let mut r = http::Response::new(self.body.as_slice());
        *r.status_mut() = status;
        *r.headers_mut() = header_map(&self.headers);
        Ok(r)
    }
}

/// The host app's HTTP client: performs one request and returns the response, whatever its
/// status. Implement it over OkHttp, Ktor, `java.net.http`, URLSession... (grantline ships
/// `JdkHttpTransport` for Kotlin and `URLSessionTransport` for Swift).
///
/// Contract: never follow redirects (return the 3xx as it came); read at most
/// [`crate::max_response_body`] + 1 bytes of body; throw `GrantlineException.Transport`
/// (Kotlin) / `GrantlineError.transport` (Swift) when there is no response at all. Any other
/// exception is reported as a transport failure too. Called from the thread that asked for a
/// token, never while grantline holds a lock; it may block.
#[uniffi::export(with_foreign)]
pub trait HttpTransport: Send + Sync {
    /// Sends `request` and returns the response.
    ///
    /// # Errors
    /// `Transport` when no response could be obtained.
    fn send(&self, request: Arc<HttpRequest>) -> Result<HttpResponse, GrantlineError>;
}

/// The largest response body grantline parses, in bytes (1 MiB); larger ones are refused.
/// Transports should stop reading one byte past it.
#[uniffi::export]
pub fn max_response_body() -> u64 {
    grantline::MAX_BODY as u64
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
        assert!(HttpRequest::new("P O".into(), "https://a/".into(), vec![], vec![]).is_err());
        assert!(HttpRequest::new("GET".into(), "/relative".into(), vec![], vec![]).is_err());
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
