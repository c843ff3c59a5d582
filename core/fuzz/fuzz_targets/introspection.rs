//! Introspection answers (RFC 7662, and Apicbase's variant): `Introspection::from_response`.
//!
//! Input: byte 0 the status, byte 1 the content type, the rest the body.
//!
//! Invariants: no panic; errors pass the common checks; an inactive answer exposes nothing but
//! `active: false` (RFC 7662 §2.2); an active one keeps no known member in `extra` and no empty
//! scope.
#![no_main]

use grantline::Introspection;
use grantline_fuzz::{check_response_error, content_type, response, status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [s, ct, body @ ..] = data else { return };
    let status = status(*s);
    let resp = response(status, content_type(*ct), body);
    match Introspection::from_response(&resp) {
        Ok(i) if !i.active => {
            assert!(
                (200..300).contains(&status),
                "introspection accepted from HTTP {status}"
            );
            assert!(
                i.scopes.is_none()
                    && i.client_id.is_none()
                    && i.username.is_none()
                    && i.token_type.is_none()
                    && i.exp.is_none()
                    && i.iat.is_none()
                    && i.sub.is_none()
                    && i.iss.is_none()
                    && i.extra.is_empty(),
                "an inactive token's answer exposes claims: {i:?}"
            );
        }
        Ok(i) => {
            for known in [
                "active",
                "scope",
                "client_id",
                "username",
                "token_type",
                "exp",
                "iat",
                "sub",
                "iss",
            ] {
                assert!(!i.extra.contains_key(known), "`{known}` in extra");
            }
            if let Some(scopes) = &i.scopes {
                assert!(
                    scopes.iter().all(|s| !s.is_empty()),
                    "empty scope: {scopes:?}"
                );
            }
            assert!(
                (200..300).contains(&status),
                "introspection accepted from HTTP {status}"
            );
        }
        Err(e) => {
            check_response_error(&e, status);
        }
    }
});
