//! Reading response bodies: size limit, JSON or form, OAuth error objects. Shared by every
//! parser so that each endpoint treats sloppy and hostile servers alike.

use serde_json::{Map, Value};

use crate::error::{excerpt, Error};

/// Response bodies larger than this are refused without being parsed.
pub const MAX_BODY: usize = 1 << 20;

/// A parsed response body: a JSON object (form bodies become one, with string values).
pub(crate) type Object = Map<String, Value>;

/// Reads `resp` as a JSON or form-encoded object.
///
/// - over [`MAX_BODY`]: [`Error::Malformed`];
/// - an object with a string `error`: [`Error::OAuth`], whatever the status (a 200 too);
/// - any other object with a non-2xx status: [`Error::UnexpectedStatus`];
/// - a body that is neither JSON nor form-encoded: [`Error::Malformed`] for a 2xx status,
///   [`Error::UnexpectedStatus`] otherwise, with a short excerpt of the body.
pub(crate) fn read_object(resp: &http::Response<impl AsRef<[u8]>>) -> Result<Object, Error> {
    let status = resp.status().as_u16();
    let bytes = resp.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(Error::malformed(
            status,
            format!(
                "response body of {} bytes exceeds the 1 MiB limit",
                bytes.len()
            ),
        ));
    }
    let object = parse_object(resp, status, bytes)?;
    // `"error": null` (some APIs always send the member) is no error.
    if let Some(code) = object.get("error").filter(|v| !v.is_null()) {
        let Some(code) = code.as_str() else {
            return Err(Error::malformed(status, "`error` is not a string"));
        };
        return Err(Error::OAuth {
            code: code.to_owned(),
            description: string(&object, "error_description"),
            uri: string(&object, "error_uri"),
            status,
        });
    }
    if !resp.status().is_success() {
        return Err(Error::UnexpectedStatus {
            status,
            excerpt: None,
        });
    }
    Ok(object)
}

fn parse_object(
    resp: &http::Response<impl AsRef<[u8]>>,
    status: u16,
    bytes: &[u8],
) -> Result<Object, Error> {
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // A UTF-8 byte order mark is not part of the body (RFC 8259 §8.1: parsers may ignore it).
    let trimmed = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .trim_ascii();
    let starts_json = matches!(trimmed.first(), Some(b'{' | b'[' | b'"'));
    let claims_json = content_type.contains("json") || starts_json;
    // The body wins over a mislabelled content-type: `{...}` sent as form is still JSON.
    let is_form = if content_type.contains("x-www-form-urlencoded") {
        !starts_json
    } else {
        !claims_json && looks_like_form(trimmed)
    };
    if is_form {
        return Ok(form_urlencoded::parse(trimmed)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    if trimmed.is_empty() {
        return Err(if resp.status().is_success() {
            Error::malformed(status, "empty response body")
        } else {
            Error::UnexpectedStatus {
                status,
                excerpt: None,
            }
        });
    }
    // serde_json's messages name a position, never the content.
    let parsed = serde_json::from_slice::<Value>(trimmed);
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        // Not an OAuth error body, with an error status: the status is the news (no excerpt:
        // JSON may hold a token).
        Ok(_) if !resp.status().is_success() => Err(Error::UnexpectedStatus {
            status,
            excerpt: None,
        }),
        Err(_) if claims_json && !resp.status().is_success() => Err(Error::UnexpectedStatus {
            status,
            excerpt: None,
        }),
        // Valid JSON, but not an object: it may be a bare token, so no excerpt.
        Ok(_) => Err(Error::malformed(
            status,
            "response body is not a JSON object",
        )),
        Err(e) if claims_json => Err(Error::malformed(
            status,
            format!("response body is not valid JSON ({e})"),
        )),
        Err(_) => {
            // An HTML error page, a proxy's plain-text answer...: keep a short excerpt.
            let excerpt = excerpt(trimmed);
            Err(if resp.status().is_success() {
                Error::Malformed {
                    status,
                    reason: "response body is not JSON".into(),
                    excerpt,
                }
            } else {
                Error::UnexpectedStatus { status, excerpt }
            })
        }
    }
}

/// `a=b&c=d`: no spaces, no markup, at least one `=`.
fn looks_like_form(body: &[u8]) -> bool {
    !body.is_empty()
        && body.contains(&b'=')
        && body
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'{' | b'"'))
}

/// A string member; numbers and booleans are accepted as their text.
pub(crate) fn string(object: &Object, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-negative integer member given as a JSON number or a numeric string. `Ok(None)` when
/// absent or null; an error for anything else (a negative, a word, an object).
pub(crate) fn seconds(object: &Object, key: &str, status: u16) -> Result<Option<u64>, Error> {
    let bad = || Error::malformed(status, format!("`{key}` is not a non-negative number"));
    let number = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !number.is_finite() || number < 0.0 {
        return Err(bad());
    }
    // Saturates: a lifetime beyond u64 means "does not expire in any useful sense".
    Ok(Some(number as u64))
}

/// Scopes as a space-, comma- or plus-separated string, or as an array of strings.
pub(crate) fn scopes(object: &Object, key: &str) -> Option<Vec<String>> {
    match object.get(key)? {
        Value::String(s) => Some(
            s.split([' ', ',', '+'])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .header("content-type", ct)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn form_bodies_become_objects() {
        let o = read_object(&resp(200, "text/plain", "access_token=a&scope=x%2Cy")).unwrap();
        assert_eq!(o["access_token"], "a");
        assert_eq!(scopes(&o, "scope").unwrap(), ["x", "y"]);
    }

    #[test]
    fn html_502_keeps_an_excerpt() {
        let e = read_object(&resp(
            502,
            "text/html",
            "<html><body>Bad Gateway</body></html>",
        ));
        assert_eq!(
            e.unwrap_err(),
            Error::UnexpectedStatus {
                status: 502,
                excerpt: Some("<html><body>Bad Gateway</body></html>".into())
            }
        );
    }

    #[test]
    fn seconds_accepts_numbers_and_numeric_strings_only() {
        let o: Object = serde_json::from_str(
            r#"{"a":3600,"b":"3600","c":-1,"d":"soon","e":1e30,"f":3600.7,"g":null}"#,
        )
        .unwrap();
        assert_eq!(seconds(&o, "a", 200).unwrap(), Some(3600));
        assert_eq!(seconds(&o, "b", 200).unwrap(), Some(3600));
        assert!(seconds(&o, "c", 200).is_err());
        assert!(seconds(&o, "d", 200).is_err());
        assert_eq!(seconds(&o, "e", 200).unwrap(), Some(u64::MAX));
        assert_eq!(seconds(&o, "f", 200).unwrap(), Some(3600));
        assert_eq!(seconds(&o, "g", 200).unwrap(), None);
        assert_eq!(seconds(&o, "missing", 200).unwrap(), None);
    }
}
