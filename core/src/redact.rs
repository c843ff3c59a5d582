//! Printable views of requests, for logs and `repr`s: every secret replaced by `[redacted]`.
//!
//! The requests grantline builds carry secrets by nature (client secrets, codes, verifiers,
//! refresh tokens, passwords), and `http::Request`'s own `Debug` prints its body. Print
//! [`request`] instead:
//!
//! ```
//! use grantline::{Client, Password, Provider};
//!
//! let client = Client::new(Provider::bindeo(), "id").with_secret("s3cret");
//! let request = client.password_request("alice", &Password::new("wonderland"), &[], 0)?;
//! let shown = grantline::redact::request(&request).to_string();
//! assert!(shown.starts_with("POST https://api.bindeo.com/access_token\n"));
//! assert!(shown.ends_with(
//!     r#"{"grant_type":"password","client_id":"id","client_secret":"[redacted]","username":"alice","password":"[redacted]"}"#
//! ));
//! assert!(!shown.contains("s3cret") && !shown.contains("wonderland"));
//! # Ok::<(), grantline::Error>(())
//! ```

use std::fmt;

use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, PROXY_AUTHORIZATION};

use crate::body::Members;
use crate::secret::REDACTED;

/// The parameters (form fields, JSON members, query parameters) whose values are secrets.
pub const SECRET_PARAMS: [&str; 15] = [
    "client_secret",
    "password",
    "code",
    "code_verifier",
    "state",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "id_token_hint",
    "device_code",
    "client_assertion",
    "assertion",
    "subject_token",
    "actor_token",
];

/// Whether the value of parameter `name` is a secret.
pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.contains(&name)
}

/// A URL as it may be shown: user information (`https://user:pass@host`) removed, and the
/// values of secret parameters redacted in the query and in the fragment (implicit and hybrid
/// responses carry `code`, `access_token` and `id_token` there).
pub fn url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = without_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&form(query.as_bytes()));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        if fragment.contains('=') {
            out.push_str(&form(fragment.as_bytes()));
        } else {
            out.push_str(fragment);
        }
    }
    out
}

/// `scheme://user:pass@host/path` without `user:pass@` (the authority ends at the first `/`
/// after the scheme's `//`; its last `@` ends the user information).
fn without_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!(
            "{scheme}://{}{path}",
            authority.get(at + 1..).unwrap_or_default()
        ),
        None => base.to_owned(),
    }
}

/// A header value as it may be shown: credentials (`Authorization`, `Proxy-Authorization`,
/// `Cookie`, any value marked sensitive) keep only their scheme.
pub fn header(name: &http::HeaderName, value: &http::HeaderValue) -> String {
    let text = value.to_str().unwrap_or("<binary>");
    if name == AUTHORIZATION
        || name == PROXY_AUTHORIZATION
        || name == COOKIE
        || value.is_sensitive()
    {
        match text.split_once(' ') {
            Some((scheme, _)) if name != COOKIE => format!("{scheme} {REDACTED}"),
            _ => REDACTED.to_owned(),
        }
    } else {
        text.to_owned()
    }
}

/// A request body (form-encoded or JSON, by its `content-type`) with secret values redacted.
/// Other bodies are summarized by their length.
pub fn body(content_type: Option<&str>, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let content_type = content_type.unwrap_or("").to_ascii_lowercase();
    if content_type.contains("json") {
        return match serde_json::from_slice::<Members<'_>>(body) {
            Ok(members) => {
                let mut shown = String::from("{");
                for (i, (k, v)) in members.into_pairs().enumerate() {
                    if i > 0 {
                        shown.push(',');
                    }
                    shown.push_str(&serde_json::Value::from(k.as_ref()).to_string());
                    shown.push(':');
                    let value = if is_secret_param(&k) {
                        serde_json::Value::from(REDACTED)
                    } else {
                        v.into_value()
                    };
                    shown.push_str(&value.to_string());
                }
                shown.push('}');
                shown
            }
            Err(_) => format!("<{} bytes of JSON>", body.len()),
        };
    }
    if content_type.contains("x-www-form-urlencoded") {
        return form(body);
    }
    format!("<{} bytes>", body.len())
}

/// `k=v&...` re-encoded, secret values shown as a bare `[redacted]`.
fn form(encoded: &[u8]) -> String {
    let mut out = String::with_capacity(encoded.len());
    for (i, (k, v)) in form_urlencoded::parse(encoded).enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(form_urlencoded::byte_serialize(k.as_bytes()));
        out.push('=');
        if is_secret_param(&k) {
            out.push_str(REDACTED);
        } else {
            out.extend(form_urlencoded::byte_serialize(v.as_bytes()));
        }
    }
    out
}

/// A `Display` view of a request with every secret redacted: see [`request`].
pub struct RedactedRequest<'a>(&'a http::Request<Vec<u8>>);

/// A printable view of `request`: the method and URL, one line per header, a blank line and
/// the body, with every secret redacted.
pub fn request(request: &http::Request<Vec<u8>>) -> RedactedRequest<'_> {
    RedactedRequest(request)
}

impl fmt::Display for RedactedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        write!(f, "{} {}", r.method(), url(&r.uri().to_string()))?;
        for (name, value) in r.headers() {
            write!(f, "\n{name}: {}", header(name, value))?;
        }
        if !r.body().is_empty() {
            let content_type = r.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            write!(f, "\n\n{}", body(content_type, r.body()))?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_headers_and_form_bodies() {
        assert_eq!(
            url("https://app/cb?code=abc&state=xyz&iss=https%3A%2F%2Fas#frag"),
            "https://app/cb?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fas#frag"
        );
        assert_eq!(url("https://as/token"), "https://as/token");
        assert_eq!(
            url("https://user:p%40ss@as.example:8443/t?token=x"),
            "https://as.example:8443/t?token=[redacted]"
        );
        assert_eq!(
            url("https://app/cb#access_token=at&id_token=it&state=s&expires_in=3600"),
            "https://app/cb#access_token=[redacted]&id_token=[redacted]&state=[redacted]&expires_in=3600"
        );
        assert_eq!(url("https://a@b@as/x"), "https://as/x");
        let v = http::HeaderValue::from_static("Basic dXNlcjpwYXNz");
        assert_eq!(header(&AUTHORIZATION, &v), "Basic [redacted]");
        assert_eq!(
            body(
                Some("application/x-www-form-urlencoded"),
                b"grant_type=refresh_token&refresh_token=r1&client_secret=s"
            ),
            "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]"
        );
        assert_eq!(body(Some("text/plain"), b"secret"), "<6 bytes>");
    }
}
