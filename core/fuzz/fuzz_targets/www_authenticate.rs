//! `WWW-Authenticate` (RFC 9110 §11.6.1, RFC 6750 §3): `bearer::parse_www_authenticate`,
//! `bearer_challenge` and `needs_renewal`.
//!
//! Input: byte 0 the status (even: 401, odd: `grantline_fuzz::status`), then one or more header
//! values separated by NUL bytes.
//!
//! Invariants: no panic; every challenge has a non-empty token scheme, a non-empty token68 when
//! it has one, lowercase non-empty parameter names; no more challenges than bytes;
//! `needs_renewal` is false for any status but 401, and for 401 true exactly when there is no
//! `Bearer` challenge or its `error` is absent or `invalid_token`; `bearer_challenge` is the
//! first `Bearer` challenge of all values.
#![no_main]

use grantline::bearer::{bearer_challenge, needs_renewal, parse_www_authenticate};
use grantline_fuzz::status;
use libfuzzer_sys::fuzz_target;

fn tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fuzz_target!(|data: &[u8]| {
    let [s, rest @ ..] = data else { return };
    let status = if s % 2 == 0 { 401 } else { status(s / 2) };
    let mut headers = http::HeaderMap::new();
    let mut first_bearer = None;
    for value in rest.split(|b| *b == 0).take(8) {
        let text = String::from_utf8_lossy(value);
        let challenges = parse_www_authenticate(&text);
        assert!(challenges.len() <= text.len(), "more challenges than bytes");
        for c in &challenges {
            assert!(
                !c.scheme.is_empty() && c.scheme.chars().all(tchar),
                "scheme {:?}",
                c.scheme
            );
            if let Some(t) = &c.token68 {
                assert!(!t.is_empty(), "empty token68");
            }
            for (name, _) in &c.params {
                assert!(!name.is_empty(), "empty parameter name");
                assert_eq!(
                    *name,
                    name.to_ascii_lowercase(),
                    "parameter name not lowercased"
                );
            }
        }
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            // `bearer_challenge` reads values that are visible ASCII (`to_str`).
            if first_bearer.is_none() && v.to_str().is_ok() {
                first_bearer = challenges
                    .iter()
                    .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
                    .map(|c| c.param("error").map(str::to_owned));
            }
            headers.append(http::header::WWW_AUTHENTICATE, v);
        }
    }
    let challenge = bearer_challenge(&headers);
    assert_eq!(
        challenge.as_ref().map(|c| c.error.clone()),
        first_bearer,
        "bearer_challenge is not the first Bearer challenge"
    );
    if let Some(c) = &challenge {
        if let Some(scope) = &c.scope {
            assert!(scope.iter().all(|s| !s.is_empty() && !s.contains(' ')));
        }
    }
    let renew = needs_renewal(status, &headers);
    let expected = status == 401
        && challenge
            .as_ref()
            .is_none_or(|c| c.error.as_deref().is_none_or(|e| e == "invalid_token"));
    assert_eq!(
        renew, expected,
        "needs_renewal({status}) with {challenge:?}"
    );
});
