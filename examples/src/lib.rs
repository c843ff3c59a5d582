//! A small, real HTTP transport for grantline's examples, demo and interop tests, over
//! [`ureq`] 2.
//!
//! grantline is sans-IO: it builds [`http::Request`]s and parses [`http::Response`]s. This crate
//! carries them over the network the way the core's invariants ask:
//!
//! - redirects are **never** followed (a 301 on a token endpoint would turn the POST into a GET
//!   and could leak the body elsewhere): a 3xx comes back as a response;
//! - non-2xx answers are responses too (ureq 2 reports them as `Err(ureq::Error::Status)`; they
//!   are converted back), so grantline sees the OAuth error bodies and `WWW-Authenticate`
//!   headers;
//! - every response header is kept, repeated ones (several `WWW-Authenticate`) included;
//! - at most [`grantline::MAX_BODY`]` + 1` bytes of a body are read, so the core's 1 MiB check
//!   sees an oversized body without this crate buffering all of it;
//! - connect and whole-request timeouts are set ([`CONNECT_TIMEOUT`], and [`REQUEST_TIMEOUT`]
//!   for connecting, sending and reading the whole body together: a server that drips one
//!   byte every few seconds is cut off at the deadline);
//! - `gzip` and `deflate` answers are decoded (the body cap applies to the decoded bytes, so a
//!   compression bomb stops at the cap).
//!
//! The ureq build used here has no TLS backend: it speaks plain `http://`, which grantline
//! accepts on loopback only — exactly what the local interop servers need. Enable one of ureq's
//! TLS features to reach real providers.
//!
//! [`Browser`] is a second agent with a cookie jar, for scripting what a user does in a browser
//! (log in, consent, approve a device) against the local test servers.
//!
//! ```no_run
//! use grantline::{Client, Provider, TokenSet};
//!
//! // Discovery bound to the issuer: the document must name http://127.0.0.1:3000.
//! let provider = grantline_examples::discover("http://127.0.0.1:3000")?;
//! let client = Client::new(provider, "test-client").with_secret("test-secret");
//! let response = grantline_examples::send(&client.client_credentials_request(&[], grantline_examples::now())?)?;
//! let tokens = TokenSet::from_response(&response, grantline_examples::now())?;
//! println!("{tokens:?}"); // secrets print as [redacted]
//! # Ok::<(), grantline::Error>(())
//! ```

mod shared;

pub use shared::{OnTokens, SharedSession};

use std::io::Read as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use grantline::Error;

/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take, reading the response included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many redirects [`Browser::follow`] follows before giving up.
pub const MAX_HOPS: usize = 20;

const USER_AGENT: &str = concat!("grantline-examples/", env!("CARGO_PKG_VERSION"));

/// The current time in Unix seconds, the `now` every grantline parser takes.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An HTTP transport for grantline requests: one ureq agent (connection pool), redirects off,
/// timeouts on. Cheap to clone (the agent is shared).
///
/// ureq's `cookies` feature (which [`Browser`] needs) gives every agent a cookie jar, this one
/// included; token, introspection and revocation endpoints set no cookies, and the jar is
/// per agent, so nothing crosses over from a [`Browser`].
#[derive(Debug, Clone)]
pub struct Transport {
    agent: ureq::Agent,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport {
    /// A transport that never follows redirects, with [`CONNECT_TIMEOUT`] and
    /// [`REQUEST_TIMEOUT`].
    pub fn new() -> Self {
        Self::with_timeout(REQUEST_TIMEOUT)
    }

    /// A transport whose whole-request deadline (connect, send, headers and the whole body) is
    /// `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        Transport {
            agent: agent_builder()
                .timeout_connect(CONNECT_TIMEOUT.min(timeout))
                .timeout(timeout)
                .build(),
        }
    }

    /// Sends `request` and returns the response, whatever its status (3xx, 4xx and 5xx
    /// included). Only a failure to send or receive is an error.
    ///
    /// # Errors
    /// [`Error::Transport`] when the request cannot be sent (bad URL, connection refused,
    /// timeout) or the response cannot be read. The reason names the URL, never a body.
    pub fn send(&self, request: &http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, Error> {
        send_with(&self.agent, request)
    }
}

/// Sends `request` with a shared [`Transport`] (see [`Transport::send`]).
///
/// # Errors
/// [`Error::Transport`] when the request cannot be sent or its response read.
pub fn send(request: &http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, Error> {
    static SHARED: OnceLock<Transport> = OnceLock::new();
    SHARED.get_or_init(Transport::new).send(request)
}

/// The provider at `issuer` (or at a full well-known URL), discovered with
/// [`grantline::Discovery`] over the shared transport: the well-known URLs in the documented
/// order, and a document that names another issuer refused.
///
/// # Errors
/// The errors of [`grantline::Discovery`], and [`Error::Transport`].
pub fn discover(issuer: &str) -> Result<grantline::Provider, Error> {
    let mut discovery = grantline::Discovery::new(issuer)?;
    loop {
        let response = send(&discovery.request())?;
        if let Some(provider) = discovery.receive(&response)? {
            return Ok(provider);
        }
    }
}

/// A plain `GET url` with the shared transport (for discovery documents and APIs).
///
/// # Errors
/// [`Error::Transport`] for a bad URL or a failed request.
pub fn get(url: &str) -> Result<http::Response<Vec<u8>>, Error> {
    send(&build_get(url)?)
}

fn build_get(url: &str) -> Result<http::Request<Vec<u8>>, Error> {
    http::Request::get(url).body(Vec::new()).map_err(|_| {
        transport_error(format!(
            "cannot build a GET request for {:?}",
            without_query(url)
        ))
    })
}

fn agent_builder() -> ureq::AgentBuilder {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(USER_AGENT)
}

fn transport_error(reason: impl Into<String>) -> Error {
    Error::Transport {
        reason: reason.into(),
    }
}

/// The request/response conversion shared by [`Transport`] and [`Browser`].
fn send_with(
    agent: &ureq::Agent,
    request: &http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, Error> {
    let url = request.uri().to_string();
    let shown = without_query(&url);
    let mut out = agent.request(request.method().as_str(), &url);
    for name in request.headers().keys() {
        // ureq keeps one value per name: join repeated request headers as RFC 9110 §5.3 allows.
        let mut values = Vec::new();
        for value in request.headers().get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| transport_error(format!("the {name} header is not visible ASCII")))?;
            values.push(value);
        }
        out = out.set(name.as_str(), &values.join(", "));
    }
    let body = request.body();
    let sent =
        if body.is_empty() && matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
            out.call()
        } else {
            out.send_bytes(body)
        };
    let response = match sent {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(t)) => {
            return Err(transport_error(format!(
                "{} {shown}: {}",
                request.method(),
                t.kind()
            )))
        }
    };
    convert_response(response, shown)
}

/// A URL for error messages: its query (state, code...) left out.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn convert_response(response: ureq::Response, url: &str) -> Result<http::Response<Vec<u8>>, Error> {
    let mut builder = http::Response::builder().status(response.status());
    let mut seen: Vec<String> = Vec::new();
    for name in response.headers_names() {
        if seen.contains(&name) {
            continue;
        }
        for value in response.all(&name) {
            builder = builder.header(name.as_str(), value);
        }
        seen.push(name);
    }
    let mut body = Vec::new();
    let limit = u64::try_from(grantline::MAX_BODY).map_or(u64::MAX, |n| n.saturating_add(1));
    // ureq decodes gzip; deflate (a zlib stream, RFC 9110 §8.4.1.2) is decoded here. The cap
    // applies to the decoded bytes.
    let deflate = response
        .header("content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("deflate"));
    let raw = response.into_reader();
    let mut reader: Box<dyn std::io::Read + Send> = if deflate {
        Box::new(flate2::read::ZlibDecoder::new(raw))
    } else {
        raw
    };
    reader
        .by_ref()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| transport_error(format!("reading the response from {url}: {}", e.kind())))?;
    builder
        .body(body)
        .map_err(|_| transport_error(format!("the response from {url} has an invalid header")))
}

/// A scripted "browser": an agent with a cookie jar, redirects off, to play the user's part
/// (log in, consent, approve a device code) against test servers. Not for token requests: use
/// [`Transport`] for those.
#[derive(Debug, Clone)]
pub struct Browser {
    agent: ureq::Agent,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        Browser {
            agent: agent_builder().build(),
        }
    }

    /// `GET url`, cookies sent and stored, redirects not followed.
    ///
    /// # Errors
    /// [`Error::Transport`].
    pub fn get(&self, url: &str) -> Result<http::Response<Vec<u8>>, Error> {
        send_with(&self.agent, &build_get(url)?)
    }

    /// `POST url` with a form body, cookies sent and stored, redirects not followed.
    ///
    /// # Errors
    /// [`Error::Transport`].
    pub fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let request = http::Request::post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.finish().into_bytes())
            .map_err(|_| {
                transport_error(format!(
                    "cannot build a POST request for {:?}",
                    without_query(url)
                ))
            })?;
        send_with(&self.agent, &request)
    }

    /// Follows redirects by hand from `response` (received for `url`), with GETs, until a
    /// redirect points at a URL starting with `stop_at` (returned, not fetched: nothing listens
    /// at a callback) or a response is not a redirect (returned as [`Hop::Page`]).
    ///
    /// # Errors
    /// [`Error::Transport`], also after [`MAX_HOPS`] redirects.
    pub fn follow(
        &self,
        url: &str,
        response: http::Response<Vec<u8>>,
        stop_at: Option<&str>,
    ) -> Result<Hop, Error> {
        let mut url = url.to_owned();
        let mut response = response;
        for _ in 0..MAX_HOPS {
            let Some(next) = location(&url, &response)? else {
                return Ok(Hop::Page { url, response });
            };
            if stop_at.is_some_and(|prefix| next.starts_with(prefix)) {
                return Ok(Hop::Stopped(next));
            }
            response = self.get(&next)?;
            url = next;
        }
        Err(transport_error(format!(
            "more than {MAX_HOPS} redirects, last to {}",
            without_query(&url)
        )))
    }

    /// `GET url`, then [`Browser::follow`] its redirects until one points at `redirect_uri`
    /// and returns that URL: an authorization request whose login and consent complete without
    /// a form (auto-approving test servers).
    ///
    /// # Errors
    /// [`Error::Transport`], also when the chain ends on a page instead of the redirect URI
    /// (the reason carries the page's status and URL).
    pub fn authorize(&self, url: &str, redirect_uri: &str) -> Result<String, Error> {
        let first = self.get(url)?;
        match self.follow(url, first, Some(redirect_uri))? {
            Hop::Stopped(callback) => Ok(callback),
            Hop::Page { url, response } => Err(transport_error(format!(
                "the authorization ended on HTTP {} at {} instead of redirecting to {redirect_uri}",
                response.status(),
                without_query(&url)
            ))),
        }
    }
}

/// Where [`Browser::follow`] stopped.
#[derive(Debug)]
pub enum Hop {
    /// A redirect to the URL given as `stop_at` (not fetched).
    Stopped(String),
    /// A response that is not a redirect, and the URL it came from.
    Page {
        /// The URL that answered.
        url: String,
        /// Its response.
        response: http::Response<Vec<u8>>,
    },
}

/// The absolute redirect target of a 3xx response, `None` for other responses.
fn location(base: &str, response: &http::Response<Vec<u8>>) -> Result<Option<String>, Error> {
    if !response.status().is_redirection() {
        return Ok(None);
    }
    let Some(value) = response.headers().get(http::header::LOCATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| transport_error(format!("a redirect from {base} has a non-ASCII Location")))?;
    resolve(base, value).map(Some)
}

/// Resolves a `Location` against the URL that answered (RFC 3986 §5.2, the common cases).
pub fn resolve(base: &str, location: &str) -> Result<String, Error> {
    if location.contains("://") {
        return Ok(location.to_owned());
    }
    let uri: http::Uri = base
        .parse()
        .map_err(|_| transport_error(format!("{base:?} is not a URL")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(transport_error(format!("{base:?} is not an absolute URL")));
    };
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    let path = uri.path();
    let dir = path.rfind('/').and_then(|i| path.get(..=i)).unwrap_or("/");
    if location.starts_with('?') {
        return Ok(format!("{scheme}://{authority}{path}{location}"));
    }
    Ok(format!("{scheme}://{authority}{dir}{location}"))
}

/// The `value` of the first `<input>` named `name` in an HTML page (hidden form fields such as
/// an anti-CSRF token), HTML entities for `&`, `<`, `>`, `"` and `'` decoded.
pub fn form_input(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = rest.find("<input") {
        let tag_and_more = rest.get(start..)?;
        let end = tag_and_more.find('>')?;
        let tag = tag_and_more.get(..end)?;
        rest = tag_and_more.get(end..)?;
        if attribute(tag, "name").as_deref() == Some(name) {
            return attribute(tag, "value");
        }
    }
    None
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let needle = format!(" {name}={quote}");
        if let Some(i) = tag.find(&needle) {
            let value = tag.get(i + needle.len()..)?;
            let value = value.get(..value.find(quote)?)?;
            return Some(
                value
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&#x27;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::io::Write as _;
    use std::net::TcpListener;

    /// A one-shot HTTP server on 127.0.0.1 that reads one request and answers `response`.
    fn serve_once(response: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                request.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            // The client may hang up early (oversized body): ignore write errors.
            let _ = stream.write_all(&response);
        });
        format!("http://{addr}")
    }

    fn post(url: &str) -> http::Request<Vec<u8>> {
        http::Request::post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"grant_type=client_credentials".to_vec())
            .unwrap()
    }

    #[test]
    fn reads_one_byte_past_the_limit_so_the_core_refuses_the_body() {
        let size = 2 * grantline::MAX_BODY;
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
        )
        .into_bytes();
        response.extend(std::iter::repeat_n(b' ', size));
        let url = serve_once(response);
        let r = Transport::new().send(&post(&url)).unwrap();
        assert_eq!(r.body().len(), grantline::MAX_BODY + 1);
        assert!(matches!(
            grantline::TokenSet::from_response(&r, 0),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn error_statuses_are_responses_with_every_header() {
        let url = serve_once(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\
              WWW-Authenticate: Bearer error=\"invalid_token\"\r\ncontent-length: 0\r\n\
              connection: close\r\n\r\n"
                .to_vec(),
        );
        let r = get(&url).unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers().get_all("www-authenticate").iter().count(), 2);
        assert!(grantline::bearer::needs_renewal(401, r.headers()));
    }

    #[test]
    fn redirects_come_back_unfollowed() {
        let url = serve_once(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
              content-length: 0\r\nconnection: close\r\n\r\n"
                .to_vec(),
        );
        let r = send(&post(&url)).unwrap();
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()["location"], "http://127.0.0.1:1/elsewhere");
    }

    #[test]
    fn failures_to_connect_are_transport_errors() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = get(&format!("http://127.0.0.1:{port}/")).unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    }

    #[test]
    fn resolves_locations() {
        let base = "http://127.0.0.1:3000/auth/abc?x=1";
        assert_eq!(
            resolve(base, "/interaction/xyz").unwrap(),
            "http://127.0.0.1:3000/interaction/xyz"
        );
        assert_eq!(
            resolve(base, "http://127.0.0.1:8765/callback?code=1").unwrap(),
            "http://127.0.0.1:8765/callback?code=1"
        );
        assert_eq!(
            resolve(base, "next").unwrap(),
            "http://127.0.0.1:3000/auth/next"
        );
        assert_eq!(resolve(base, "//other:1/p").unwrap(), "http://other:1/p");
    }

    #[test]
    fn reads_hidden_inputs() {
        let html = r#"<form><input type="hidden" name="xsrf" value="a&amp;b"/>
            <input type="text" name="user_code" value='ABCD-EFGH'></form>"#;
        assert_eq!(form_input(html, "xsrf").as_deref(), Some("a&b"));
        assert_eq!(form_input(html, "user_code").as_deref(), Some("ABCD-EFGH"));
        assert_eq!(form_input(html, "missing"), None);
    }
}

/// The README's Rust snippets, compiled as doctests so they work as written.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
