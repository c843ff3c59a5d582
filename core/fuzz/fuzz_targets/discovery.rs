//! Discovery bound to its issuer: `Discovery::new` on a fuzz issuer or well-known URL, then
//! `receive` on fuzz answers; and `Provider::from_metadata` on the raw body.
//!
//! Input: byte 0 flags (bit 0: a 404 comes first; bits 1-2: how `$ISSUER` in the body is
//! replaced: the expected issuer exactly, with a `/` added, with a trailing `/` removed, or
//! uppercased), byte 1 the status, byte 2 the content type, then the issuer or URL up to the
//! first newline, then the body.
//!
//! Invariants: no panic; errors pass the common checks; a discovery has one or two well-known
//! URLs, each a trusted URL (`https://`, or `http://` on loopback, no user information, no
//! fragment) containing `/.well-known/`, and requests `GET` the current one; `Ok(None)` only
//! for a 404 with a URL left; a provider it returns names an issuer equal to
//! `discovery.issuer()`, or equal up to a trailing `/` when the path is the root, and has only
//! trusted endpoints; `from_metadata` gives a provider with a trusted issuer without query and
//! trusted endpoints, or an error.
#![no_main]

use grantline::{Discovery, GrantType, Provider};
use grantline_fuzz::{
    check_error_text, check_response_error, content_type, response, status, trusted_url,
};
use libfuzzer_sys::fuzz_target;

/// Exactly equal, or both the same origin with an empty or `/` path.
fn same_issuer(expected: &str, received: &str) -> bool {
    if expected == received {
        return true;
    }
    let root = |s: &str| -> Option<String> {
        let (scheme, rest) = s.split_once("://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        (!rest.contains(['/', '?', '#'])).then(|| format!("{scheme}://{rest}"))
    };
    matches!((root(expected), root(received)), (Some(a), Some(b)) if a == b)
}

fn check_provider(p: &Provider) {
    let issuer = p
        .issuer()
        .unwrap_or_else(|| panic!("a discovered provider has no issuer"));
    assert!(trusted_url(issuer), "untrusted issuer {issuer:?}");
    assert!(!issuer.contains('?'), "issuer with a query {issuer:?}");
    let endpoints = [
        p.authorization_endpoint(),
        p.introspection_endpoint(),
        p.revocation_endpoint(),
        p.device_authorization_endpoint(),
    ]
    .into_iter()
    .chain(GrantType::ALL.iter().map(|g| p.token_endpoint(*g)))
    .flatten();
    for url in endpoints {
        assert!(trusted_url(url), "untrusted endpoint {url:?}");
    }
    if p.auth_method().is_none() {
        assert!(
            p.auth_methods_offered().is_some(),
            "no auth method and no offer"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, s, ct, rest @ ..] = data else {
        return;
    };
    let (input, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let input = String::from_utf8_lossy(input);
    let status = status(*s);

    match Provider::from_metadata(body) {
        Ok(p) => check_provider(&p),
        Err(e) => {
            check_error_text(&e);
        }
    }

    let mut discovery = match Discovery::new(&input) {
        Ok(d) => d,
        Err(e) => {
            check_error_text(&e);
            assert!(
                matches!(e.kind(), "invalid_input" | "insecure_endpoint"),
                "Discovery::new failed with {}",
                e.kind()
            );
            return;
        }
    };
    let urls = discovery.urls();
    assert!(
        (1..=2).contains(&urls.len()),
        "{} well-known URLs",
        urls.len()
    );
    for u in &urls {
        assert!(
            trusted_url(u),
            "untrusted well-known URL {u:?} from {input:?}"
        );
        assert!(
            u.contains("/.well-known/"),
            "not a well-known URL {u:?} from {input:?}"
        );
    }
    let issuer = discovery.issuer().to_owned();
    assert!(!issuer.is_empty());

    let wanted = match (flags >> 1) & 3 {
        0 => issuer.clone(),
        1 => format!("{issuer}/"),
        2 => issuer.strip_suffix('/').unwrap_or(&issuer).to_owned(),
        _ => issuer.to_ascii_uppercase(),
    };
    let body = String::from_utf8_lossy(body).replace("$ISSUER", &wanted);
    let answer = response(status, content_type(*ct), body.as_bytes());
    let not_found = response(404, "text/html", b"<h1>Not Found</h1>");

    let mut answers = Vec::new();
    if flags & 1 == 1 {
        answers.push(&not_found);
    }
    answers.push(&answer);
    for a in &answers {
        let request = discovery.request();
        assert_eq!(request.method(), http::Method::GET);
        assert!(request.body().is_empty());
        let uri = request.uri().to_string();
        assert!(urls.contains(&uri), "request to {uri}, not one of {urls:?}");
        let left = urls
            .iter()
            .position(|u| *u == uri)
            .is_some_and(|p| p + 1 < urls.len());
        match discovery.receive(*a) {
            Ok(None) => {
                assert!(
                    a.status() == 404 && left,
                    "Ok(None) for HTTP {} (URL left: {left})",
                    a.status()
                );
            }
            Ok(Some(p)) => {
                check_provider(&p);
                let received = p.issuer().unwrap_or_default();
                assert!(
                    same_issuer(&issuer, received),
                    "discovery of {issuer:?} accepted a document for {received:?}"
                );
                assert!((200..300).contains(&a.status().as_u16()));
                break;
            }
            Err(e) => {
                check_response_error(&e, a.status().as_u16());
                break;
            }
        }
    }
});
