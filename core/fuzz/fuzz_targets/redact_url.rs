//! `grantline::redact::url`: URLs as they may be printed.
//!
//! Input: byte 0 flags — bit 7: the rest is a whole URL (only "no panic" and "the printed
//! authority has no user information" are checked); bits 0-1: the user information planted
//! (none, `PLANTEDuser:PLANTEDpass@`, `PLANTEDuser@`, `:PLANTEDpass@`); bit 2: plant
//! `code=PLANTEDcode` in the query; bit 3: plant `access_token=PLANTEDat` in the fragment;
//! bit 4: plant both the other way round; bits 5-6: how the parameter names are written
//! (plain, one character `%XX`-encoded) — byte 1 the scheme; the rest, split at NUL bytes:
//! extra user information, host, path, query before, query after, fragment before, fragment
//! after.
//!
//! Invariants: no panic; the output never shows the planted user information, code or access
//! token (inputs where the fuzz parts themselves spell `planted`, even
//! percent-encoded, are skipped).
#![no_main]

use grantline_fuzz::form_decoded;
use libfuzzer_sys::fuzz_target;

const SCHEMES: [&str; 8] = [
    "https",
    "http",
    "HTTPS",
    "myapp",
    "com.example.app",
    "h",
    "x-y+z.w",
    "ftp",
];

/// The authority of a URL as RFC 3986 reads it: after `scheme://`, up to `/`, `?` or `#`.
fn authority(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid_scheme.then(|| rest.split(['/', '?', '#']).next().unwrap_or_default())
}

fn name(n: &str, encode: bool) -> String {
    if encode {
        let mut chars = n.chars();
        let first = chars
            .next()
            .map(|c| format!("%{:02x}", c as u32))
            .unwrap_or_default();
        first + chars.as_str()
    } else {
        n.to_owned()
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, scheme, rest @ ..] = data else {
        return;
    };
    if flags & 0x80 != 0 {
        let input = String::from_utf8_lossy(rest);
        let out = grantline::redact::url(&input);
        if authority(&input).is_some_and(|a| a.contains('@')) {
            assert!(
                !authority(&out).is_some_and(|a| a.contains('@')),
                "user information printed: {input:?} -> {out:?}"
            );
        }
        return;
    }
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let mut part = || parts.next().unwrap_or_default().to_owned();
    let (extra_user, host, path, q_before, q_after, f_before, f_after) =
        (part(), part(), part(), part(), part(), part(), part());
    // Characters that end the authority would turn the planted user information into a host.
    let extra_user: String = extra_user
        .chars()
        .filter(|c| !matches!(c, '/' | '?' | '#'))
        .collect();
    let userinfo = match flags & 3 {
        0 => String::new(),
        1 => format!("PLANTEDuser{extra_user}:PLANTEDpass@"),
        2 => format!("PLANTEDuser{extra_user}@"),
        _ => format!("{extra_user}:PLANTEDpass@"),
    };
    let encode = (flags >> 5) & 3 == 1;
    let code = format!("{}=PLANTEDcode", name("code", encode));
    let token = format!("{}=PLANTEDat", name("access_token", encode));
    let (in_query, in_fragment) = if flags & 0x10 != 0 {
        (&token, &code)
    } else {
        (&code, &token)
    };
    let mut url = format!(
        "{}://{userinfo}{host}{path}",
        SCHEMES[usize::from(*scheme) % SCHEMES.len()]
    );
    if flags & 4 != 0 || !q_before.is_empty() || !q_after.is_empty() {
        url.push('?');
        url.push_str(&q_before);
        if flags & 4 != 0 {
            url.push('&');
            url.push_str(in_query);
            url.push('&');
        }
        url.push_str(&q_after);
    }
    if flags & 8 != 0 || !f_before.is_empty() || !f_after.is_empty() {
        url.push('#');
        url.push_str(&f_before);
        if flags & 8 != 0 {
            url.push('&');
            url.push_str(in_fragment);
            url.push('&');
        }
        url.push_str(&f_after);
    }
    // The marker must come from the planted values only, also once decoded.
    let planted = [
        flags & 3 == 1,
        flags & 3 != 0,
        flags & 4 != 0,
        flags & 8 != 0,
    ]
    .iter()
    .filter(|p| **p)
    .count();
    if url.matches("PLANTED").count() != planted
        || form_decoded(&url)
            .to_ascii_lowercase()
            .matches("planted")
            .count()
            != planted
    {
        return;
    }
    let out = grantline::redact::url(&url);
    for secret in ["PLANTEDuser", "PLANTEDpass", "PLANTEDcode", "PLANTEDat"] {
        assert!(
            !out.contains(secret) && !form_decoded(&out).contains(secret),
            "{secret} printed: {url:?} -> {out:?}"
        );
    }
});
