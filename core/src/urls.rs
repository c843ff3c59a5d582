//! The checks every URL grantline sends to, or trusts, goes through: endpoints, issuers,
//! device verification URIs.
//!
//! A URL passes when it is an absolute `https://` URL, or `http://` on a loopback host; has no
//! user information (RFC 9110 §4.2.4 deprecates it, and it would print in logs); has no fragment
//! (RFC 6749 §3.1); has only the characters RFC 3986 allows (so no backslash, space, quote or
//! non-ASCII character, which parsers disagree about); and has a port in range when it has one.
//! Loopback means an IPv4 literal in `127.0.0.0/8`, the IPv6 literal `[::1]`, or the name
//! `localhost` exactly (any case): `127.0.0.1.evil.com`, `localhost.evil` and `localhost.` are
//! names anyone can register or resolve elsewhere.

use crate::error::Error;
use crate::text::{oauth_text, Charset, MAX_URI};

/// `url` as it may appear in an error: user information removed, secret parameters redacted,
/// escaped and capped.
pub(crate) fn shown(url: &str) -> String {
    oauth_text(&crate::redact::url(url), Charset::Uri, MAX_URI)
}

/// A character RFC 3986 allows somewhere in a URI (unreserved, reserved, or `%`).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Checks an endpoint: see the [module documentation](self). Returns it parsed.
///
/// # Errors
/// [`Error::InsecureEndpoint`] for `http://` on a host that is not loopback;
/// [`Error::InvalidInput`] for anything else that fails.
pub(crate) fn check_endpoint(url: &str) -> Result<http::Uri, Error> {
    check_url(url, "endpoint")
}

fn check_url(url: &str, what: &str) -> Result<http::Uri, Error> {
    let bad = |why: &str| Error::invalid(format!("{what} {} {why}", shown(url)));
    if url.is_empty() {
        return Err(Error::invalid(format!("the {what} is empty")));
    }
    if !url.chars().all(uri_char) {
        return Err(bad("has characters a URL cannot have (RFC 3986)"));
    }
    if url.contains('#') {
        return Err(bad("has a fragment (RFC 6749 §3.1)"));
    }
    let uri: http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| bad("is not an absolute URL"))?;
    if authority.as_str().contains('@') {
        return Err(bad("carries user information (RFC 9110 §4.2.4)"));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    // What follows the host (an IPv6 literal ends at `]`): `:port` or nothing.
    let after_host = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':') {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad("has an invalid port"));
        }
    }
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => Ok(uri),
        Some(s) if s.eq_ignore_ascii_case("http") && is_loopback(host) => Ok(uri),
        Some(s) if s.eq_ignore_ascii_case("http") => {
            Err(Error::InsecureEndpoint { url: shown(url) })
        }
        _ => Err(bad("is not an http(s) URL")),
    }
}

/// An issuer identifier (RFC 8414 §2): a URL that passes [`check_endpoint`] and has no query.
pub(crate) fn check_issuer(issuer: &str) -> Result<http::Uri, Error> {
    let uri = check_url(issuer, "issuer")?;
    if issuer.contains('?') {
        return Err(Error::invalid(format!(
            "issuer {} has a query (RFC 8414 §2)",
            shown(issuer)
        )));
    }
    Ok(uri)
}

/// An authorization endpoint: a URL that passes [`check_endpoint`], whose query (which is kept,
/// RFC 6749 §3.1) sets none of the parameters grantline sets itself.
pub(crate) fn check_authorization_endpoint(url: &str) -> Result<http::Uri, Error> {
    let uri = check_endpoint(url)?;
    if let Some(query) = uri.query() {
        for (name, _) in form_urlencoded::parse(query.as_bytes()) {
            if crate::authorize::RESERVED_PARAMS.contains(&name.as_ref()) {
                return Err(Error::invalid(format!(
                    "the authorization endpoint's query sets {}, which grantline sets itself (RFC 6749 §3.1)",
                    oauth_text(&name, Charset::Uri, 64)
                )));
            }
        }
    }
    Ok(uri)
}

/// A URL a server gave for a person to open (a device flow's `verification_uri`): the checks of
/// [`check_endpoint`], and a query is fine.
pub(crate) fn check_user_url(url: &str) -> Result<http::Uri, Error> {
    check_url(url, "URL")
}

/// Whether `host` (as `http::Uri` gives it, IPv6 in brackets) is loopback.
pub(crate) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_only_and_lookalikes_refused() {
        for ok in [
            "https://example.com/token",
            "HTTPS://example.com/token",
            "http://127.0.0.1:8080/token",
            "http://127.8.0.1/token",
            "http://localhost/t",
            "http://LocalHost:9/t",
            "http://[::1]:9/t",
            "https://as.example/authorize?tenant=x",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for insecure in [
            "http://example.com/token",
            "http://10.0.0.1/token",
            "http://127.0.0.1.evil.com/x",
            "http://localhost.evil/x",
            "http://localhost./x",
            "http://[::ffff:127.0.0.1]/x",
            "http://0x7f.1/x",
            "http://127.1/x",
            "http://2130706433/x",
        ] {
            assert!(
                matches!(
                    check_endpoint(insecure),
                    Err(Error::InsecureEndpoint { .. })
                ),
                "{insecure}"
            );
        }
        for invalid in [
            "ftp://example.com/x",
            "/relative",
            "",
            "https://user:pass@as.example/token",
            "http://127.0.0.1@evil.com/",
            "http://evil@127.0.0.1/",
            "http://127.0.0.1\\@evil.com/",
            "http://evil.com\\@127.0.0.1/",
            "https://as.example/token#frag",
            "https://as.example/a b",
            "https://as.example/é",
            "https://as.example:99999/t",
            "https://as.example:0/t",
            "https:///x",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(check_endpoint(invalid), Err(Error::InvalidInput { .. })),
                "{invalid}"
            );
        }
    }

    #[test]
    fn errors_never_print_user_information() {
        let e = check_endpoint("https://user:hunter2@as.example/token").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = check_endpoint("http://user:hunter2@evil.example/token").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn issuers_and_authorization_endpoints() {
        assert!(check_issuer("https://as.example/tenant").is_ok());
        assert!(check_issuer("https://as.example/?x=1").is_err());
        assert!(check_authorization_endpoint("https://as.example/a?tenant=t").is_ok());
        assert!(check_authorization_endpoint("https://as.example/a?state=t").is_err());
        assert!(check_authorization_endpoint("https://as.example/a?Client_id=t").is_ok());
    }
}
