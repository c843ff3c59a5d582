//! Text from the other side: what a server (or whoever crafted a callback URL) wrote, made safe
//! to put in an error message.
//!
//! Two rules, applied by every parser:
//! - server strings: `error`, `error_description`, `error_uri` and other short server strings,
//!   checked against RFC 6749 §5.2's character set; anything else is escaped (so no control
//!   character, ANSI escape, CR or LF ever reaches a log line), and the length is capped.
//! - excerpts: the start of a body that is neither JSON nor form (an HTML 502 page), with the
//!   value of every secret-named parameter redacted in whatever syntax the server echoed it
//!   (`password=…`, `"client_secret":"…"`, `refresh_token: …`, percent- or `\u`-escaped names),
//!   every token-like run redacted, and a run cut at the excerpt's edge redacted too.
//!
//! The exact rules, which every binding shares, are in `tests/vectors/README.md` (sections
//! *Excerpts* and *Server text*).

use std::fmt::Write as _;

use crate::redact::SECRET_PARAMS;
use crate::secret::REDACTED;

/// How many characters of a non-JSON response body an error keeps.
pub const EXCERPT_LEN: usize = 120;

/// How many consecutive token characters an excerpt shows before it redacts them.
pub const TOKEN_RUN: usize = 16;

/// What is appended to a server string cut at its maximum length.
pub const TRUNCATED: &str = "[...]";

/// The longest `error` code kept (escaped output, in bytes, before [`TRUNCATED`]).
pub const MAX_CODE: usize = 128;
/// The longest `error_description` kept.
pub const MAX_DESCRIPTION: usize = 1024;
/// The longest `error_uri` (and other URL-like server strings) kept.
pub const MAX_URI: usize = 1024;

/// Which RFC 6749 §5.2 character set a text must keep to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// `error`, `error_description`: `%x20-21 / %x23-5B / %x5D-7E` (printable ASCII without
    /// `"` and `\`).
    Text,
    /// `error_uri`: `%x21 / %x23-5B / %x5D-7E` (the same without the space).
    Uri,
}

/// `text` as it may appear in an error: characters outside `charset` escaped (`"` as `\"`, `\`
/// as `\\`, anything else as `\u{hex}`), the result cut at `max` bytes with [`TRUNCATED`]
/// appended. The output is printable ASCII.
pub(crate) fn oauth_text(text: &str, charset: Charset, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + TRUNCATED.len());
    for c in text.chars() {
        let allowed = match c {
            ' ' => charset == Charset::Text,
            '!' | '#'..='[' | ']'..='~' => true,
            _ => false,
        };
        let before = out.len();
        if allowed {
            out.push(c);
        } else if c == '"' {
            out.push_str("\\\"");
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        if out.len() > max {
            out.truncate(before);
            out.push_str(TRUNCATED);
            break;
        }
    }
    out
}

/// How far into a body [`excerpt`] looks for secret values and token runs (further than it shows,
/// so that a value or a token cut at the edge is recognised).
const WINDOW: usize = 4096;

/// The start of a body that is safe to show: see the [module documentation](self). Control
/// characters become spaces; the result is trimmed; `None` when nothing printable is left.
pub(crate) fn excerpt(body: &[u8]) -> Option<String> {
    let window = body.get(..WINDOW).unwrap_or(body);
    let text: Vec<char> = String::from_utf8_lossy(window).chars().collect();
    let mut hidden = vec![false; text.len()];
    hide_secret_values(&text, &mut hidden);
    let shown = text.len().min(EXCERPT_LEN);
    hide_token_runs(&text, shown, &mut hidden);

    let mut out = String::new();
    let mut in_hidden = false;
    for (c, h) in text.iter().zip(&hidden).take(shown) {
        if *h {
            if !in_hidden {
                out.push_str(REDACTED);
            }
            in_hidden = true;
            continue;
        }
        in_hidden = false;
        out.push(if c.is_control() { ' ' } else { *c });
    }
    let cleaned = out.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '=')
}

/// Runs of [`TOKEN_RUN`] or more token characters, and a run of any length that the shown edge
/// cuts (it may be the start of a token).
fn hide_token_runs(text: &[char], shown: usize, hidden: &mut [bool]) {
    let mut i = 0;
    while i < text.len() {
        if !text.get(i).copied().is_some_and(is_token_char) {
            i += 1;
            continue;
        }
        let start = i;
        while text.get(i).copied().is_some_and(is_token_char) {
            i += 1;
        }
        let cut_at_edge = start < shown && i > shown;
        if i - start >= TOKEN_RUN || cut_at_edge {
            for h in hidden.get_mut(start..i).into_iter().flatten() {
                *h = true;
            }
        }
    }
}

/// Names whose next word is a credential: `Bearer abc`, `Basic dXNlcjpw`.
const SCHEMES: [&str; 2] = ["bearer", "basic"];

/// The value after every secret-named parameter, in any of the syntaxes servers echo, and the
/// credential after an authentication scheme.
fn hide_secret_values(text: &[char], hidden: &mut [bool]) {
    type Value = fn(&[char], usize) -> Option<(usize, usize)>;
    let names = SECRET_PARAMS
        .iter()
        .map(|n| (*n, value_after as Value))
        .chain(SCHEMES.iter().map(|n| (*n, scheme_credential as Value)));
    let matchers: Vec<(&str, Value)> = names.collect();
    let mut i = 0;
    while i < text.len() {
        let boundary = i == 0
            || !text
                .get(i - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_');
        let found = boundary
            .then(|| {
                matchers.iter().find_map(|(name, value)| {
                    match_name(text, i, name).and_then(|end| value(text, end))
                })
            })
            .flatten();
        match found {
            Some((from, to)) => {
                for h in hidden.get_mut(from..to).into_iter().flatten() {
                    *h = true;
                }
                // Go on inside the value: it may itself be a name with a value
                // (`refresh_token: id_token = …`, `Bearer Basic …`).
                i = from.max(i + 1);
            }
            None => i += 1,
        }
    }
}

/// Where `name` ends when it is written at `at`, each character literally (any case), as
/// `%XX` or as `\u00XX`; `None` when it is not there or is the start of a longer word.
fn match_name(text: &[char], at: usize, name: &str) -> Option<usize> {
    let mut i = at;
    for want in name.chars() {
        let c = *text.get(i)?;
        if c.eq_ignore_ascii_case(&want) {
            i += 1;
        } else if c == '%' && hex_byte(text, i + 1) == Some(want as u32) {
            i += 3;
        } else if c == '\\'
            && text.get(i + 1) == Some(&'u')
            && hex_byte(text, i + 2) == Some(0)
            && hex_byte(text, i + 4) == Some(want as u32)
        {
            i += 6;
        } else {
            return None;
        }
    }
    // `token` must not match the start of `tokens_remaining`.
    match text.get(i) {
        Some(c) if c.is_ascii_alphanumeric() || *c == '_' => None,
        _ => Some(i),
    }
}

/// Two hex digits at `at`, as a byte value (compared case-insensitively for letters by the
/// caller's lowercase names: `%5F` and `%5f` both give `_`).
fn hex_byte(text: &[char], at: usize) -> Option<u32> {
    let hi = text.get(at)?.to_digit(16)?;
    let lo = text.get(at + 1)?.to_digit(16)?;
    let value = hi * 16 + lo;
    // Letters of a name may be escaped in either case.
    Some(match char::from_u32(value) {
        Some(c) if c.is_ascii_uppercase() => c.to_ascii_lowercase() as u32,
        _ => value,
    })
}

/// Skips what may stand between a name and its value: a closing quote (`"`, `'`, `\"`,
/// `&quot;`), spaces, and one separator (`=`, `:`, `=>`, `%3D`, `%3A`), then spaces.
fn skip_separator(text: &[char], mut i: usize) -> Option<usize> {
    i = skip_quote(text, i).unwrap_or(i);
    i = skip_spaces(text, i);
    i = match text.get(i)? {
        '=' if text.get(i + 1) == Some(&'>') => i + 2,
        '=' | ':' => i + 1,
        '%' if matches!(hex_byte(text, i + 1), Some(0x3d | 0x3a)) => i + 3,
        _ => return None,
    };
    Some(skip_spaces(text, i))
}

fn skip_spaces(text: &[char], mut i: usize) -> usize {
    while text.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
        i += 1;
    }
    i
}

/// A quote at `i` (`"`, `'`, `\"`, `&quot;`, `&#34;`): where it ends, and the character that
/// closes the quoted value (`&` for the entity forms, which end at the next entity).
fn quote_at(text: &[char], i: usize) -> Option<(usize, char)> {
    let starts = |s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| text.get(i + k) == Some(&c))
    };
    match text.get(i)? {
        '"' => Some((i + 1, '"')),
        '\'' => Some((i + 1, '\'')),
        '\\' if text.get(i + 1) == Some(&'"') => Some((i + 2, '\\')),
        '&' if starts("&quot;") => Some((i + 6, '&')),
        '&' if starts("&#34;") => Some((i + 5, '&')),
        _ => None,
    }
}

fn skip_quote(text: &[char], i: usize) -> Option<usize> {
    quote_at(text, i).map(|(end, _)| end)
}

/// The value after a secret name ending at `end`: `(from, to)` when there is a separator and
/// a non-empty value.
fn value_after(text: &[char], end: usize) -> Option<(usize, usize)> {
    let start = skip_separator(text, end)?;
    let (from, close) = match quote_at(text, start) {
        Some((after, close)) => (after, Some(close)),
        None => (start, None),
    };
    let mut to = from;
    match close {
        Some(q) => {
            while let Some(c) = text.get(to) {
                if *c == '\\' && q != '\\' {
                    to += 2; // an escaped character inside a JSON string
                    continue;
                }
                if *c == q {
                    break;
                }
                to += 1;
            }
        }
        None => {
            while text.get(to).is_some_and(|c| !ends_bare_value(*c)) {
                to += 1;
            }
        }
    }
    let to = to.min(text.len());
    (to > from).then_some((from, to))
}

fn ends_bare_value(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '&' | ',' | ';' | '"' | '\'' | '<' | '>' | '}' | ']' | ')'
        )
}

/// `Bearer <credential>`: one or more spaces, then the credential up to the next space.
fn scheme_credential(text: &[char], end: usize) -> Option<(usize, usize)> {
    if text.get(end) != Some(&' ') {
        return None;
    }
    let from = skip_spaces(text, end);
    let mut to = from;
    while text.get(to).is_some_and(|c| !ends_bare_value(*c)) {
        to += 1;
    }
    (to > from).then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(s: &str) -> String {
        excerpt(s.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn oauth_text_escapes_and_caps() {
        assert_eq!(
            oauth_text("invalid_grant", Charset::Text, MAX_CODE),
            "invalid_grant"
        );
        assert_eq!(
            oauth_text("a\r\nb\u{1b}[31m\"q\"\\", Charset::Text, 100),
            "a\\u{d}\\u{a}b\\u{1b}[31m\\\"q\\\"\\\\"
        );
        assert_eq!(oauth_text("a b", Charset::Uri, 100), "a\\u{20}b");
        assert_eq!(oauth_text("expiré", Charset::Text, 100), "expir\\u{e9}");
        let long = "x".repeat(10_000);
        let cut = oauth_text(&long, Charset::Text, MAX_DESCRIPTION);
        assert_eq!(cut.len(), MAX_DESCRIPTION + TRUNCATED.len());
        assert!(cut.ends_with(TRUNCATED));
        // An escape is never cut in half.
        let cut = oauth_text(&format!("{}\u{1b}", "y".repeat(9)), Charset::Text, 12);
        assert_eq!(cut, format!("{}{TRUNCATED}", "y".repeat(9)));
    }

    #[test]
    fn excerpt_redacts_secret_values_in_every_syntax() {
        for (body, shown) in [
            ("<p>password=S3cr3t!x</p>", "<p>password=[redacted]</p>"),
            (
                r#"{"client_secret":"Xy7#longsecretvalue","x":1}"#,
                r#"{"client_secret":"[redacted]","x":1}"#,
            ),
            ("refresh_token: r1!x more", "refresh_token: [redacted] more"),
            (
                "client%5Fsecret=a%21b&x=1",
                "client%5Fsecret=[redacted]&x=1",
            ),
            (
                "CLIENT_SECRET = 'ab cd' ok",
                "CLIENT_SECRET = '[redacted]' ok",
            ),
            (
                r#"{"password":"a\"b","y":2}"#,
                r#"{"password":"[redacted]","y":2}"#,
            ),
            (r#"pass\u0077ord":"zz""#, r#"pass\u0077ord":"[redacted]""#),
            (
                "code=abc&state=xyz&foo=1",
                "code=[redacted]&state=[redacted]&foo=1",
            ),
            (
                "Authorization: Bearer abc.def",
                "Authorization: Bearer [redacted]",
            ),
            (
                "client_secret&quot;:&quot;s3&quot;",
                "client_secret&quot;:&quot;[redacted]&quot;",
            ),
            ("the token is invalid", "the token is invalid"),
            (
                "refresh_token: id_token = S3cr3t!x",
                "refresh_token: [redacted] = [redacted]",
            ),
            (
                "Authorization: Bearer Basic S3cr3t!x",
                "Authorization: Bearer [redacted] [redacted]",
            ),
            ("tokens=5", "tokens=5"),
            ("mytoken=5", "mytoken=5"),
        ] {
            assert_eq!(ex(body), shown, "{body}");
        }
    }

    #[test]
    fn excerpt_redacts_token_runs_and_runs_cut_at_the_edge() {
        assert_eq!(
            ex("token eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln here"),
            "token [redacted] here"
        );
        // A short run cut by the 120-character edge: hidden.
        let shown = ex(&format!("{}abcdefgh rest", "x ".repeat(57)));
        assert!(shown.ends_with("x [redacted]"), "{shown}");
        // A short word that ends exactly at the edge is whole: shown.
        let shown = ex(&format!("{}abcdef rest", "x ".repeat(57)));
        assert!(shown.ends_with("x abcdef"), "{shown}");
        assert_eq!(ex("error: bad"), "error: bad");
        assert_eq!(ex("<html>\n<h1>502</h1>"), "<html> <h1>502</h1>");
        assert_eq!(excerpt(b"  "), None);
    }
}
