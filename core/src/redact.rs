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
//! let request = client.password_request("alice", &Password::new("wonderland"), &[])?;
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
pub const SECRET_PARAMS: [&str; 12] = [
    "client_secret",
    "password",
    "code",
    "code_verifier",
    "state",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "device_code",
    "client_assertion",
    "assertion",
];

/// Whether the value of parameter `name` is a secret.
pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.contains(&name)
}

/// A URL with the values of secret query parameters redacted.
pub fn url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut out = format!("{base}?{}", form(query.as_bytes()));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
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
