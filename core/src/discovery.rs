//! Discovery bound to an issuer: RFC 8414 §3 and OpenID Connect Discovery 1.0 §4, sans-IO.
//!
//! [`Discovery::new`] takes the issuer identifier (or a full well-known URL, from which the
//! expected issuer is derived), builds the well-known URLs itself, and hands out one `GET` at a
//! time; [`Discovery::receive`] reads each answer. A `404` moves on to the next URL; any other
//! answer decides. The document's `issuer` must be exactly the expected one, or the provider is
//! refused ([`Error::IssuerMismatch`]): a document served at `https://as.example/.well-known/…`
//! that claims to be `https://evil.example` is a mix-up attack (RFC 9700 §4.4).
//!
//! # The URLs, in order
//! For the issuer `https://as.example/tenant1` (a terminating `/` of its path removed first):
//! 1. `https://as.example/.well-known/oauth-authorization-server/tenant1` (RFC 8414: the
//!    well-known segment inserted between host and path);
//! 2. `https://as.example/tenant1/.well-known/openid-configuration` (OpenID Connect: appended).
//!
//! For an issuer without a path, `https://as.example/.well-known/oauth-authorization-server` then
//! `https://as.example/.well-known/openid-configuration`.
//!
//! A full well-known URL is tried alone, and its issuer is derived back:
//! `…/.well-known/oauth-authorization-server/tenant1` and
//! `…/.well-known/openid-configuration/tenant1` (the inserted forms) and
//! `…/tenant1/.well-known/openid-configuration` (the appended form) all expect
//! `https://as.example/tenant1`.
//!
//! # Comparing issuers
//! Exactly, byte for byte, with one allowance: an issuer with an empty path and the same issuer
//! with the path `/` are the same URL (RFC 3986 §6.2.3), and identity providers disagree about
//! which one they print (Auth0's issuers end in `/`). So `https://as.example` expects either
//! `https://as.example` or `https://as.example/`; `https://as.example/tenant1` expects exactly
//! that.
//!
//! ```
//! use grantline::{discovery::Discovery, GrantType};
//!
//! let mut discovery = Discovery::new("https://as.example/tenant1")?;
//! let first = discovery.request();
//! assert_eq!(first.uri(), "https://as.example/.well-known/oauth-authorization-server/tenant1");
//! // ... send it (no redirects); this server only speaks OpenID Connect:
//! let not_found = http::Response::builder().status(404).body(Vec::new()).unwrap();
//! assert!(discovery.receive(&not_found)?.is_none());
//! assert_eq!(discovery.request().uri(), "https://as.example/tenant1/.well-known/openid-configuration");
//! let document = br#"{"issuer":"https://as.example/tenant1","token_endpoint":"https://as.example/tenant1/token"}"#;
//! let provider = discovery.receive(&http::Response::new(document.to_vec()))?.unwrap();
//! assert_eq!(provider.token_endpoint(GrantType::ClientCredentials), Some("https://as.example/tenant1/token"));
//!
//! // A document that claims another issuer is refused.
//! let mut discovery = Discovery::new("https://as.example")?;
//! let forged = br#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}"#;
//! assert_eq!(discovery.receive(&http::Response::new(forged.to_vec())).unwrap_err().kind(), "issuer_mismatch");
//! # Ok::<(), grantline::Error>(())
//! ```

use crate::error::Error;
use crate::provider::Provider;
use crate::text::{oauth_text, Charset, MAX_URI};
use crate::urls::{check_endpoint, check_issuer, shown};

const OAUTH: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

/// One discovery: the expected issuer, the well-known URLs to try, and which one is next. See
/// the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Discovery {
    issuer: String,
    urls: Vec<http::Uri>,
    next: usize,
}

impl Discovery {
    /// Discovery of `issuer_or_url`: an issuer identifier, or a full well-known URL (its issuer
    /// is derived).
    ///
    /// # Errors
    /// [`Error::InsecureEndpoint`] for `http://` on a host that is not loopback;
    /// [`Error::InvalidInput`] for an input with a query, a fragment, user information, or that
    /// is not an absolute http(s) URL.
    pub fn new(issuer_or_url: &str) -> Result<Discovery, Error> {
        let uri = check_issuer(issuer_or_url)?;
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let origin = format!("{scheme}://{authority}");
        // The path as written (http::Uri turns an empty path into "/").
        let path = issuer_or_url
            .find("://")
            .and_then(|i| issuer_or_url.get(i + 3..))
            .and_then(|rest| rest.find('/').and_then(|p| rest.get(p..)))
            .unwrap_or("");
        let well_known = |expected_path: &str, url: &str| -> Result<Discovery, Error> {
            Ok(Discovery {
                issuer: format!("{origin}{expected_path}"),
                urls: vec![check_endpoint(url)?],
                next: 0,
            })
        };
        if let Some(rest) = path.strip_prefix(OAUTH) {
            if rest.is_empty() || rest.starts_with('/') {
                return well_known(rest, issuer_or_url);
            }
        }
        if let Some(rest) = path.strip_prefix(OIDC) {
            if rest.is_empty() || rest.starts_with('/') {
                return well_known(rest, issuer_or_url);
            }
        }
        if let Some(prefix) = path.strip_suffix(OIDC) {
            return well_known(prefix, issuer_or_url);
        }
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let urls = [
            format!("{origin}{OAUTH}{trimmed}"),
            format!("{origin}{trimmed}{OIDC}"),
        ]
        .iter()
        .map(|u| check_endpoint(u))
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Discovery {
            issuer: issuer_or_url.to_owned(),
            urls,
            next: 0,
        })
    }

    /// The issuer the document must name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Every well-known URL this discovery tries, in order.
    pub fn urls(&self) -> Vec<String> {
        self.urls.iter().map(ToString::to_string).collect()
    }

    /// The request to send now: `GET` the current well-known URL with
    /// `accept: application/json`. Send it without following redirects, and hand the answer to
    /// [`Discovery::receive`].
    pub fn request(&self) -> http::Request<Vec<u8>> {
        let mut request = http::Request::new(Vec::new());
        if let Some(uri) = self.urls.get(self.next).or(self.urls.last()) {
            *request.uri_mut() = uri.clone();
        }
        request.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        request
    }

    /// Reads the answer to [`Discovery::request`]: `Ok(Some(provider))` when it is the
    /// document; `Ok(None)` when it was a `404` and another URL is left (send
    /// [`Discovery::request`] again).
    ///
    /// # Errors
    /// [`Error::UnexpectedStatus`] for any other status, or a `404` at the last URL (with an
    /// excerpt of a non-JSON body); [`Error::Malformed`] for a body over
    /// [`MAX_BODY`](crate::MAX_BODY); [`Error::IssuerMismatch`] when the document names another
    /// issuer; and the errors of [`Provider::from_metadata`].
    pub fn receive(
        &mut self,
        response: &http::Response<impl AsRef<[u8]>>,
    ) -> Result<Option<Provider>, Error> {
        let status = response.status().as_u16();
        let body = response.body().as_ref();
        if status == 404 && self.next + 1 < self.urls.len() {
            self.next += 1;
            return Ok(None);
        }
        if !response.status().is_success() {
            let excerpt = if body
                .trim_ascii_start()
                .first()
                .is_some_and(|b| matches!(b, b'{' | b'['))
            {
                None
            } else {
                crate::text::excerpt(body)
            };
            return Err(Error::UnexpectedStatus { status, excerpt });
        }
        if body.len() > crate::MAX_BODY {
            return Err(Error::malformed(
                status,
                "discovery document exceeds the 1 MiB limit",
            ));
        }
        let provider = Provider::from_metadata(body)?;
        let received = provider.issuer().unwrap_or_default();
        if !same_issuer(&self.issuer, received) {
            return Err(Error::IssuerMismatch {
                expected: shown(&self.issuer),
                received: oauth_text(received, Charset::Uri, MAX_URI),
            });
        }
        Ok(Some(provider))
    }
}

/// Exactly equal, or the same origin with the paths `""` and `"/"`.
fn same_issuer(expected: &str, received: &str) -> bool {
    if expected == received {
        return true;
    }
    let root = |s: &str| -> Option<String> {
        let (scheme, rest) = s.split_once("://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        (!rest.contains('/')).then(|| format!("{scheme}://{rest}"))
    };
    matches!((root(expected), root(received)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(input: &str) -> (String, Vec<String>) {
        let d = Discovery::new(input).unwrap();
        (d.issuer().to_owned(), d.urls())
    }

    #[test]
    fn urls_for_issuers_and_well_known_inputs() {
        assert_eq!(
            urls("https://as.example/tenant1"),
            (
                "https://as.example/tenant1".into(),
                vec![
                    "https://as.example/.well-known/oauth-authorization-server/tenant1".into(),
                    "https://as.example/tenant1/.well-known/openid-configuration".into()
                ]
            )
        );
        assert_eq!(
            urls("https://as.example/tenant1/").1,
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://x.auth0.com/"),
            (
                "https://x.auth0.com/".into(),
                vec![
                    "https://x.auth0.com/.well-known/oauth-authorization-server".into(),
                    "https://x.auth0.com/.well-known/openid-configuration".into()
                ]
            )
        );
        for (input, issuer) in [
            (
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/tenant1",
            ),
            (
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1",
            ),
            (
                "https://as.example/tenant1/.well-known/openid-configuration",
                "https://as.example/tenant1",
            ),
            (
                "http://127.0.0.1:9/.well-known/oauth-authorization-server",
                "http://127.0.0.1:9",
            ),
        ] {
            assert_eq!(urls(input), (issuer.into(), vec![input.into()]), "{input}");
        }
        for bad in [
            "http://as.example",
            "https://as.example/?x=1",
            "https://as.example/#f",
            "https://u:p@as.example/",
            "as.example",
        ] {
            assert!(Discovery::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn root_issuers_match_with_or_without_slash_and_nothing_else_does() {
        assert!(same_issuer("https://a.example", "https://a.example/"));
        assert!(same_issuer("https://a.example/", "https://a.example"));
        assert!(!same_issuer("https://a.example/t", "https://a.example/t/"));
        assert!(!same_issuer("https://a.example", "https://A.example"));
        assert!(!same_issuer("https://a.example", "https://a.example.evil"));
    }
}
