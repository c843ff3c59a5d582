//! Reading response bodies: size limit, JSON or form, OAuth error objects. Shared by every
//! parser so that each endpoint treats sloppy and hostile servers alike.
//!
//! A body is read in one pass into [`Members`]: a flat list of its top-level members, keys and
//! string values borrowed from the body where possible, with no map built. Each parser picks
//! the members it knows; only unknown ones it keeps become `serde_json::Value`s.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::Error;
use crate::text::excerpt;

/// Response bodies larger than this are refused without being parsed.
pub const MAX_BODY: usize = 1 << 20;

/// The response headers grantline's parsers read: `content-type` (token, introspection,
/// revocation and device answers), `www-authenticate` (an API's 401, see [`crate::bearer`])
/// and `retry-after` (a failed renewal's backoff, see [`crate::session`]). A transport that
/// copies headers one by one may copy only these; any other header is ignored.
pub const RESPONSE_HEADERS: [&str; 3] = ["content-type", "www-authenticate", "retry-after"];

/// One member's value, as loosely typed as servers send it.
#[derive(Debug, Clone)]
pub(crate) enum Lenient<'a> {
    Str(Cow<'a, str>),
    Num(Number),
    Bool(bool),
    Null,
    List(Vec<Lenient<'a>>),
    /// A nested object, kept whole.
    Other(Value),
}

impl Lenient<'_> {
    pub(crate) fn into_value(self) -> Value {
        match self {
            Lenient::Str(s) => Value::String(s.into_owned()),
            Lenient::Num(n) => Value::Number(n),
            Lenient::Bool(b) => Value::Bool(b),
            Lenient::Null => Value::Null,
            Lenient::List(items) => Value::Array(items.into_iter().map(Self::into_value).collect()),
            Lenient::Other(v) => v,
        }
    }
}

/// The top-level members of a JSON object or form body, in order. Lookups take the last
/// occurrence of a name, as JSON parsers commonly do.
#[derive(Debug, Default)]
pub(crate) struct Members<'a>(Vec<(Cow<'a, str>, Lenient<'a>)>);

impl<'a> Members<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&Lenient<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes and returns a member (its last occurrence; earlier ones are dropped too).
    pub(crate) fn take(&mut self, key: &str) -> Option<Lenient<'a>> {
        let mut found = None;
        self.0.retain_mut(|(k, v)| {
            if k == key {
                found = Some(std::mem::replace(v, Lenient::Null));
                false
            } else {
                true
            }
        });
        found
    }

    /// Every member, in order.
    pub(crate) fn into_pairs(self) -> impl Iterator<Item = (Cow<'a, str>, Lenient<'a>)> {
        self.0.into_iter()
    }

    /// The members for which `known` is false, as a JSON map.
    pub(crate) fn extra(self, known: impl Fn(&str) -> bool) -> Map<String, Value> {
        let mut extra = Map::new();
        for (k, v) in self.0 {
            if !known(&k) {
                extra.insert(k.into_owned(), v.into_value());
            }
        }
        extra
    }
}

/// Reads `resp` as a JSON or form-encoded object.
///
/// - over [`MAX_BODY`]: [`Error::Malformed`];
/// - an object with a non-empty string `error`: [`Error::OAuth`], whatever the status (a 200
///   too), its texts escaped and capped; `"error": null`, `""` or `false` is no error (some
///   servers always send the member);
/// - any other object with a non-2xx status: [`Error::UnexpectedStatus`];
/// - a body that is neither JSON nor form-encoded: [`Error::Malformed`] for a 2xx status,
///   [`Error::UnexpectedStatus`] otherwise, with a short excerpt of the body.
pub(crate) fn read_members<B: AsRef<[u8]>>(resp: &http::Response<B>) -> Result<Members<'_>, Error> {
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
    let members = parse_members(resp, status, bytes)?;
    // `"error": null`, `""` or `false` (some APIs always send the member) is no error.
    match members.get("error") {
        None | Some(Lenient::Null | Lenient::Bool(false)) => {}
        Some(Lenient::Str(code)) if code.is_empty() => {}
        Some(Lenient::Str(code)) => {
            return Err(Error::oauth(
                code,
                string(&members, "error_description").as_deref(),
                string(&members, "error_uri").as_deref(),
                status,
            ))
        }
        Some(_) => return Err(Error::malformed(status, "`error` is not a string")),
    }
    if !resp.status().is_success() {
        return Err(Error::UnexpectedStatus {
            status,
            excerpt: None,
        });
    }
    Ok(members)
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_members<'a, B: AsRef<[u8]>>(
    resp: &http::Response<B>,
    status: u16,
    bytes: &'a [u8],
) -> Result<Members<'a>, Error> {
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes());
    // A UTF-8 byte order mark is not part of the body (RFC 8259 §8.1: parsers may ignore it).
    let trimmed = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .trim_ascii();
    let starts_json = matches!(trimmed.first(), Some(b'{' | b'[' | b'"'));
    // The body wins over a mislabelled content-type: `{...}` sent as form is still JSON.
    let claims_json = starts_json || contains_ignore_case(content_type, b"json");
    let is_form = !starts_json
        && (contains_ignore_case(content_type, b"x-www-form-urlencoded")
            || (!claims_json && looks_like_form(trimmed)));
    if is_form {
        return Ok(Members(
            form_urlencoded::parse(trimmed)
                .map(|(k, v)| (k, Lenient::Str(v)))
                .collect(),
        ));
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
    let success = resp.status().is_success();
    // serde_json's messages name a position, never the content.
    match serde_json::from_slice::<Members<'a>>(trimmed) {
        Ok(members) => Ok(members),
        // Not an OAuth error body, with an error status: the status is the news (no excerpt:
        // JSON may hold a token).
        Err(e)
            if !success && (claims_json || e.classify() == serde_json::error::Category::Data) =>
        {
            Err(Error::UnexpectedStatus {
                status,
                excerpt: None,
            })
        }
        // Valid JSON, but not an object: it may be a bare token, so no excerpt.
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(Error::malformed(
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
            Err(if success {
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

/// The refresh token of a 2xx answer that [`read_members`] refused for a member other than
/// `error` being a string (an `"error": true`): a rotation is never lost to one bad member.
pub(crate) fn salvage_refresh_token<B: AsRef<[u8]>>(resp: &http::Response<B>) -> Option<String> {
    let bytes = resp.body().as_ref();
    if !resp.status().is_success() || bytes.len() > MAX_BODY {
        return None;
    }
    let members = parse_members(resp, resp.status().as_u16(), bytes).ok()?;
    string(&members, "refresh_token").filter(|s| !s.is_empty())
}

/// A string member; numbers and booleans are accepted as their text.
pub(crate) fn string(members: &Members<'_>, key: &str) -> Option<String> {
    match members.get(key)? {
        Lenient::Str(s) => Some(s.clone().into_owned()),
        Lenient::Num(n) => Some(n.to_string()),
        Lenient::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-negative integer member given as a JSON number or a numeric string. `Ok(None)` when
/// absent or null; an error for anything else (a negative, a word, an object).
pub(crate) fn seconds(members: &Members<'_>, key: &str, status: u16) -> Result<Option<u64>, Error> {
    let bad = || Error::malformed(status, format!("`{key}` is not a non-negative number"));
    let number = match members.get(key) {
        None | Some(Lenient::Null) => return Ok(None),
        Some(Lenient::Num(n)) => {
            if let Some(u) = n.as_u64() {
                return Ok(Some(u));
            }
            n.as_f64().ok_or_else(bad)?
        }
        Some(Lenient::Str(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !number.is_finite() || number < 0.0 {
        return Err(bad());
    }
    // Saturates: a lifetime beyond u64 means "does not expire in any useful sense".
    Ok(Some(number as u64))
}

/// Scopes as a space-separated string (RFC 6749 §3.3), or as an array of strings. `extra` is a
/// provider's own separator (a preset's `,`), split on as well as spaces.
pub(crate) fn scopes(members: &Members<'_>, key: &str, extra: Option<char>) -> Option<Vec<String>> {
    match members.get(key)? {
        Lenient::Str(s) => Some(
            s.split(|c| c == ' ' || Some(c) == extra)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        // Each item a scope; an item with spaces is several (and empty ones are none).
        Lenient::List(items) => Some(
            items
                .iter()
                .filter_map(|i| match i {
                    Lenient::Str(s) => Some(s),
                    _ => None,
                })
                .flat_map(|s| s.split(' '))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Str(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Num(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient<'de>, E> {
                Ok(Number::from_f64(v).map_or(Lenient::Null, Lenient::Num))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Lenient<'de>, E> {
                Ok(Lenient::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lenient<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Lenient::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lenient<'de>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lenient::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some(Key(k)) = map.next_key()? {
                    members.push((k, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn response_headers_name_what_the_parsers_read() {
        assert_eq!(
            RESPONSE_HEADERS,
            [
                http::header::CONTENT_TYPE.as_str(),
                http::header::WWW_AUTHENTICATE.as_str(),
                http::header::RETRY_AFTER.as_str()
            ]
        );
    }

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
        let r = resp(200, "text/plain", "access_token=a&scope=x%2Cy+z");
        let o = read_members(&r).unwrap();
        assert_eq!(string(&o, "access_token").unwrap(), "a");
        assert_eq!(scopes(&o, "scope", None).unwrap(), ["x,y", "z"]);
        assert_eq!(scopes(&o, "scope", Some(',')).unwrap(), ["x", "y", "z"]);
    }

    #[test]
    fn html_502_keeps_an_excerpt() {
        let r = resp(502, "text/html", "<html><body>Bad Gateway</body></html>");
        assert_eq!(
            read_members(&r).unwrap_err(),
            Error::UnexpectedStatus {
                status: 502,
                excerpt: Some("<html><body>Bad Gateway</body></html>".into())
            }
        );
    }

    #[test]
    fn seconds_accepts_numbers_and_numeric_strings_only() {
        let o: Members<'_> = serde_json::from_str(
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
