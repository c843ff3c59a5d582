//! Helpers shared by the grantline fuzz targets: turning bytes into HTTP responses the same way
//! in every target (so `scripts/fuzz.sh` can seed the corpora from `tests/vectors/`), and the
//! checks every target applies to errors.
//!
//! The byte layouts here are mirrored in `seed.py`: change both together.

use grantline::Error;

/// HTTP statuses a target picks from with one byte (`status(b)`); bytes past the table give
/// `100 + 2 * b`, so every status from 100 to 610 is reachable.
pub const STATUSES: [u16; 37] = [
    200, 201, 202, 203, 204, 206, 299, 300, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
    406, 409, 410, 415, 418, 422, 429, 500, 501, 502, 503, 504, 520, 100, 101, 199, 599, 999,
];

/// The status for byte `b`.
pub fn status(b: u8) -> u16 {
    STATUSES
        .get(usize::from(b))
        .copied()
        .unwrap_or(100 + 2 * u16::from(b))
}

/// `content-type` values a target picks from with one byte (modulo the length); `""` sends no
/// `content-type` header.
pub const CONTENT_TYPES: [&str; 16] = [
    "",
    "application/json",
    "application/json;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "text/html; charset=utf-8",
    "text/plain",
    "application/problem+json",
    "APPLICATION/JSON",
    "text/json",
    "application/jwt",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/jsonp",
    "text/javascript",
    "multipart/form-data",
    "application/xml",
    "image/png",
];

/// The content type for byte `b`.
pub fn content_type(b: u8) -> &'static str {
    CONTENT_TYPES[usize::from(b) % CONTENT_TYPES.len()]
}

/// A response with this status, content type (none when empty) and body.
pub fn response(status: u16, content_type: &str, body: &[u8]) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    if !content_type.is_empty() {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    match builder.body(body.to_vec()) {
        Ok(r) => r,
        // Every status in 100..=999 is valid; keep a valid response whatever happens.
        Err(_) => http::Response::new(body.to_vec()),
    }
}

/// The presets (and a few custom providers with other scope separators) a target picks from
/// with one byte.
pub fn provider(b: u8) -> grantline::Provider {
    use grantline::{GrantType, Provider};
    let custom = |sep: &str| {
        Provider::builder("fuzz")
            .token_endpoint("https://as.example/token")
            .scope_separator(sep)
            .grant(GrantType::ClientCredentials)
            .grant(GrantType::RefreshToken)
            .build()
    };
    let p = match b % 9 {
        0 => Ok(Provider::libro()),
        1 => Ok(Provider::libro_staging()),
        2 => Ok(Provider::bindeo()),
        3 => Ok(Provider::bookable()),
        4 => Ok(Provider::apicbase()),
        5 => Ok(Provider::booking_experts()),
        6 => custom(","),
        7 => custom("+"),
        _ => custom(", "),
    };
    p.unwrap_or_else(|e| panic!("fuzz harness: a fixed provider does not build: {e}"))
}

/// A format character (Unicode `Cf`, line and paragraph separators) that can reorder or hide
/// text in a terminal or log viewer: never in an error message.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// The longest error message accepted (`Display`), in bytes.
pub const MAX_ERROR_LEN: usize = 4096;

/// Every error's `Display`: shorter than [`MAX_ERROR_LEN`], no control character (no CR, LF,
/// ESC...) and no format character. Printable non-ASCII is allowed (an excerpt of an HTML page
/// may hold `é`); server text in OAuth errors is further kept to ASCII by the core.
pub fn check_error_text(e: &Error) -> String {
    let shown = e.to_string();
    assert!(
        shown.len() < MAX_ERROR_LEN,
        "error message of {} bytes (kind {}): {:?}...",
        shown.len(),
        e.kind(),
        shown.get(..200).unwrap_or_default()
    );
    if let Some(c) = shown.chars().find(|c| c.is_control() || is_format_char(*c)) {
        panic!(
            "error message (kind {}) contains {:?}: {shown:?}",
            e.kind(),
            c
        );
    }
    if let Error::OAuth {
        code,
        description,
        uri,
        ..
    } = e
    {
        for text in [Some(code), description.as_ref(), uri.as_ref()]
            .into_iter()
            .flatten()
        {
            assert!(
                text.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "OAuth error text is not printable ASCII: {text:?}"
            );
        }
    }
    shown
}

/// The checks every error from parsing a response with `status` passes: [`check_error_text`],
/// the status it reports, and no `UnexpectedStatus` for a 2xx answer.
pub fn check_response_error(e: &Error, status: u16) -> String {
    let shown = check_error_text(e);
    match e {
        Error::OAuth { status: s, .. }
        | Error::Malformed { status: s, .. }
        | Error::UnexpectedStatus { status: s, .. } => {
            assert_eq!(*s, status, "error reports another status: {shown}");
        }
        _ => {}
    }
    if let Error::UnexpectedStatus { .. } = e {
        assert!(
            !(200..300).contains(&status),
            "UnexpectedStatus for a 2xx answer: {shown}"
        );
    }
    shown
}

/// `s` with `%XX` decoded and `+` as a space (lossy), as a form decoder sees it.
pub fn form_decoded(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a URL passes the rules the core promises for every URL it trusts: `https://`, or
/// `http://` on a loopback host; no user information, no fragment.
pub fn trusted_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        let authority = r.split(['/', '?']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}", v6.split(']').next().unwrap_or_default()) + "]",
            None => authority
                .rsplit_once(':')
                .map_or(authority, |(h, _)| h)
                .to_owned(),
        };
        let loopback = host == "localhost"
            || host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
                .is_some_and(|ip| ip.is_loopback())
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return false;
        }
        r
    } else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    !authority.is_empty() && !authority.contains('@') && !url.contains('#')
}

/// Fails when `shown` (an error message) repeats more than 8 characters of `input` in a row,
/// unless those characters are part of one of the message templates in `allowed` (digit runs
/// in both compared as one `#`, so line and column numbers match).
pub fn assert_no_echo(shown: &str, input: &str, allowed: &[&str]) {
    const RUN: usize = 9;
    let norm = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut in_digits = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('#');
                }
                in_digits = true;
            } else {
                out.push(c);
                in_digits = false;
            }
        }
        out
    };
    let allowed: Vec<String> = allowed.iter().map(|a| norm(a)).collect();
    let chars: Vec<(usize, char)> = shown.char_indices().collect();
    for (i, &(start, _)) in chars.iter().enumerate() {
        let Some(&(end, last)) = chars.get(i + RUN - 1) else {
            break;
        };
        let window = &shown[start..end + last.len_utf8()];
        if input.contains(window) && !allowed.iter().any(|a| a.contains(&norm(window))) {
            panic!("the error echoes the input ({window:?}): {shown:?}");
        }
    }
}

/// The `Debug` text of a token set with every field present: its field and type names are
/// not secrets (a token that happens to be `access_token` is not "shown" by the field name).
pub static TOKEN_SET_SKELETON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let t = grantline::TokenSet::new(
        grantline::AccessToken::new("x"),
        Some(grantline::RefreshToken::new("y")),
        Some(1),
        2,
    );
    format!("{t:?} {t:#?} IdToken([redacted]) Some(None)")
});

/// Fails when a token set's `Debug` shows its access, refresh or ID token (beyond what its
/// non-secret fields and the field names show anyway).
pub fn assert_token_set_hidden(t: &grantline::TokenSet) {
    let debug = format!("{t:?}");
    let visible = format!(
        "{} {:?} {:?} {}",
        t.token_type(),
        t.scopes(),
        t.extra_names().collect::<Vec<_>>(),
        TOKEN_SET_SKELETON.as_str()
    );
    assert_hidden(&debug, t.access_token().secret(), &visible, "access token");
    if let Some(rt) = t.refresh_token() {
        assert_hidden(&debug, rt.secret(), &visible, "refresh token");
    }
    if let Some(it) = t.id_token() {
        assert_hidden(&debug, it.secret(), &visible, "id token");
    }
}

/// The same for a pending authorization.
pub static PENDING_SKELETON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let json =
        r#"{"state":"s","code_verifier":"v","redirect_uri":"r","issuer":"i","require_iss":true}"#;
    match grantline::PendingAuthorization::from_json(json) {
        Ok(p) => format!("{p:?} {p:#?}"),
        Err(e) => panic!("the skeleton does not restore: {e}"),
    }
});

/// Fails when the `Debug` text of a value shows `secret` (at least 12 characters, so short
/// values that happen to be words are not flagged) and no non-secret field (`visible`) holds
/// it.
pub fn assert_hidden(debug: &str, secret: &str, visible: &str, what: &str) {
    if secret.chars().count() >= 12 && debug.contains(secret) && !visible.contains(secret) {
        panic!("Debug shows the {what}: {debug}");
    }
}

/// Whether a known finding is to be skipped in this run: `GRANTLINE_FUZZ_ALLOW` holds
/// comma-separated finding ids (see README.md), so a target can keep fuzzing past a finding
/// that is reported and being fixed. Unset: nothing is skipped.
pub fn allowed(id: &str) -> bool {
    static ALLOW: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ALLOW
        .get_or_init(|| {
            std::env::var("GRANTLINE_FUZZ_ALLOW")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|a| a == id)
}
