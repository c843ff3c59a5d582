//! Excerpts of bodies that are neither JSON nor form never show a secret.
//!
//! The body is fuzz bytes with one planted secret: a secret-named parameter (every name of
//! `grantline::redact::SECRET_PARAMS`, in any case, a character possibly `%XX`- or
//! `\u00XX`-escaped) and a value starting with `PLANTED`, written in one of the syntaxes servers
//! echo (`password=…`, `"client_secret":"…"`, `refresh_token: …`, `=>`, `%3D`, `&quot;`, HTML
//! attributes, `Bearer …`), at a fuzz-chosen position. It goes through every parser that keeps
//! an excerpt (token response, introspection, device authorization, discovery) with a fuzz
//! status (mostly 502) and content type.
//!
//! Invariants: no panic; no error other than an OAuth error (whose text the server chose) shows
//! `PLANTED` or the value; every error message passes the common checks.
//!
//! Input: 8 header bytes — 0: syntax, 1: name (low 4 bits) and its form (bits 4-5), 2: which
//! character of the name is escaped, 3: what stands before the name, 4: status and content
//! type, 5: the value's tail length, 6-7: where the secret goes — then the value's tail, then
//! the body (split at the chosen position).
//!
//! Known findings this target can skip (`GRANTLINE_FUZZ_ALLOW`, see README.md):
//! `excerpt-name-as-value`.
//!
//! Syntaxes the core does not claim to handle (XML elements, PHP `print_r`, `&#61;`,
//! percent-encoded JSON, a line break after the separator) are planted too when the
//! environment variable `GRANTLINE_FUZZ_EXOTIC=1` is set.
#![no_main]

use std::sync::OnceLock;

use grantline::redact::SECRET_PARAMS;
use grantline::{DeviceAuthorization, Discovery, Error, Introspection, TokenSet};
use grantline_fuzz::{check_response_error, content_type, response};
use libfuzzer_sys::fuzz_target;

const MARK: &str = "PLANTED";

/// `(before name, between name and value, after value, quoted)`: the value's tail may hold
/// spaces and delimiters only inside quotes.
const SYNTAXES: &[(&str, &str, &str, bool)] = &[
    ("", "=", "", false),
    ("", " = ", "", false),
    ("", ": ", "", false),
    ("", ":", "", false),
    ("\"", "\":\"", "\"", true),
    ("\"", "\": \"", "\"", true),
    ("'", "': '", "'", true),
    ("", " => '", "'", true),
    ("\"", "\"=>\"", "\"", true),
    (":", " => \"", "\"", true),
    ("", "%3D", "", false),
    ("", "%3d", "", false),
    ("", "%3A", "", false),
    ("\\\"", "\\\":\\\"", "\\\"", true),
    ("&quot;", "&quot;:&quot;", "&quot;", false),
    ("&#34;", "&#34;:&#34;", "&#34;", false),
    ("", "=\"", "\"", true),
    ("", "='", "'", true),
    ("", ":\t", "", false),
    ("", "\t=\t", "", false),
    ("\"", "\" : \"", "\"", true),
    ("", "=", "&", false),
];
/// `Bearer <credential>` and `Basic <credential>` (the name is not used).
const SCHEMES: &[&str] = &["Bearer ", "Basic ", "bearer ", "BASIC "];
/// Syntaxes outside the core's documented contract (see the module documentation).
const EXOTIC: &[(&str, &str, &str, bool)] = &[
    ("<", ">", "</x>", false),
    ("[", "] => ", "", false),
    ("", "&#61;", "", false),
    ("%22", "%22%3A%22", "%22", false),
    ("", ":\n", "", false),
    ("", " :\r\n  ", "", false),
    ("", "=\n", "", false),
];
const BEFORE: &[&str] = &[
    "", " ", "\n", "&", "?", "<p>", "{", ",", ";", "(", "\t", "<br/>", "\r\n", "> ", "#",
];
const BARE: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%*+-./:=?@^_`|~";
const QUOTED_EXTRA: &[u8] = b" ,;&<>(){}[]";
const STATUSES: [u16; 8] = [502, 502, 500, 503, 200, 404, 400, 401];

fn exotic() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GRANTLINE_FUZZ_EXOTIC").is_some_and(|v| v == "1"))
}

/// The name as written: lowercase, uppercase, or with one character `%XX`/`\u00XX`-escaped.
fn write_name(name: &str, form: u8, which: u8) -> String {
    let at = usize::from(which) % name.len();
    match form % 4 {
        0 => name.to_owned(),
        1 => name.to_ascii_uppercase(),
        f => name
            .char_indices()
            .map(|(i, c)| match (i == at, f) {
                (true, 2) => format!("%{:02X}", c as u32),
                (true, _) => format!("\\u{:04x}", c as u32),
                (false, _) => c.to_string(),
            })
            .collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((hdr, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let tail_len = usize::from(hdr[5] % 24);
    let Some((tail, rest)) = rest.split_at_checked(tail_len) else {
        return;
    };
    let pos = usize::from(u16::from_le_bytes([hdr[6], hdr[7]])) % (rest.len() + 1);
    let (prefix, suffix) = rest.split_at(pos);
    // The marker must come from the planted secret only.
    for part in [prefix, suffix] {
        if String::from_utf8_lossy(part)
            .to_ascii_uppercase()
            .contains(MARK)
        {
            return;
        }
    }

    // Known finding `excerpt-name-as-value`: a secret name right before ours takes our name as
    // its value and the scan resumes after it (`refresh_token: id_token = PLANTED…`).
    if grantline_fuzz::allowed("excerpt-name-as-value") {
        let before_text = String::from_utf8_lossy(prefix).to_ascii_lowercase();
        if SECRET_PARAMS
            .iter()
            .chain(&["bearer", "basic"])
            .any(|n| before_text.contains(n))
        {
            return;
        }
    }

    let n_plain = SYNTAXES.len() + SCHEMES.len();
    let n = n_plain + if exotic() { EXOTIC.len() } else { 0 };
    let which = usize::from(hdr[0]) % n;
    let name = SECRET_PARAMS[usize::from(hdr[1] & 0x0f) % SECRET_PARAMS.len()];
    let name = write_name(name, hdr[1] >> 4, hdr[2]);
    let before = BEFORE[usize::from(hdr[3]) % BEFORE.len()];

    let (planted, quoted) = if let Some(scheme) = which
        .checked_sub(SYNTAXES.len())
        .and_then(|i| SCHEMES.get(i))
    {
        (format!("{scheme}{{V}}"), false)
    } else {
        let (open, sep, close, quoted) = if which < SYNTAXES.len() {
            SYNTAXES[which]
        } else {
            EXOTIC[which - n_plain]
        };
        (format!("{open}{name}{sep}{{V}}{close}"), quoted)
    };
    let alphabet: Vec<u8> = if quoted {
        BARE.iter().chain(QUOTED_EXTRA).copied().collect()
    } else {
        BARE.to_vec()
    };
    let value: String = MARK
        .chars()
        .chain(
            tail.iter()
                .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()])),
        )
        .collect();
    let planted = planted.replace("{V}", &value);

    // A name glued to the prefix's last word is another name (`xpassword`): keep a boundary.
    let glued = before.is_empty()
        && prefix
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80);
    let mut body = prefix.to_vec();
    body.extend_from_slice(if glued { b" " } else { before.as_bytes() });
    body.extend_from_slice(planted.as_bytes());
    body.extend_from_slice(suffix);

    let status = STATUSES[usize::from(hdr[4] & 7)];
    let resp = response(status, content_type(hdr[4] >> 3), &body);

    let check = |what: &str, e: &Error| {
        let shown = check_response_error(e, status);
        if matches!(e, Error::OAuth { .. }) {
            return; // the server's own error text, escaped: not an excerpt
        }
        assert!(
            !shown.contains(MARK) && !shown.contains(&value),
            "{what}: the excerpt shows the planted secret ({planted:?}): {shown}"
        );
    };
    if let Err(e) = TokenSet::from_response(&resp, 0) {
        check("token response", &e);
    }
    if let Err(e) = Introspection::from_response(&resp) {
        check("introspection", &e);
    }
    if let Err(e) = DeviceAuthorization::from_response(&resp, 0) {
        check("device authorization", &e);
    }
    if let Ok(mut discovery) = Discovery::new("https://as.example") {
        if let Err(e) = discovery.receive(&resp) {
            check("discovery", &e);
        }
    }
});
