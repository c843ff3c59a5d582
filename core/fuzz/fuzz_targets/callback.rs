//! The redirect callback: `Client::callback` and `Client::unsolicited_callback` with a fuzz URL
//! or query against a fixed pending authorization.
//!
//! Input: byte 0 the setup — 0: Libro, no issuer; 1: a provider with an issuer that always
//! sends `iss` (RFC 9207); 2: a provider with an issuer that may omit it; 3: the pending
//! authorization restored from JSON; 4: Booking Experts' unsolicited callback; 5: an
//! unsolicited callback at a provider that does not send them — byte 1 the seed of `state` and
//! the PKCE verifier; the rest the callback text, where `$S` becomes the right `state`, `$T` a
//! state differing in its last character, `$P` the state without its last character, `$E` the
//! right state percent-encoded, and `$I` the provider's issuer.
//!
//! Invariants: no panic; errors pass the common checks; `callback` is never `Ok` unless the
//! callback carries the right state (the form-decoded text contains it), a non-empty code, and,
//! for a provider that always sends `iss`, the issuer; the grant carries the pending
//! verifier and redirect URI; `unsolicited_callback` is `Ok` only for a provider that declares
//! unsolicited callbacks, and never for a callback that has the right state.
#![no_main]

use grantline::{AuthorizationRequest, Client, GrantType, PendingAuthorization, Provider};
use grantline_fuzz::{check_error_text, form_decoded};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://as.example/tenant1";

fn client(setup: u8) -> Client {
    let provider = match setup {
        1 | 2 => Provider::builder("fuzz")
            .issuer(ISSUER)
            .authorization_endpoint("https://as.example/tenant1/authorize")
            .token_endpoint("https://as.example/tenant1/token")
            .iss_parameter_supported(setup == 1)
            .grant(GrantType::AuthorizationCode)
            .build()
            .unwrap_or_else(|e| panic!("fuzz harness: provider: {e}")),
        4 => Provider::booking_experts(),
        _ => Provider::libro(),
    };
    Client::new(provider, "cid")
        .with_secret("csecret")
        .with_redirect_uri("https://app.example/cb")
}

fuzz_target!(|data: &[u8]| {
    let [setup, seed, rest @ ..] = data else {
        return;
    };
    let setup = setup % 6;
    let client = client(setup);
    let template = String::from_utf8_lossy(rest);

    if setup >= 4 {
        let input = template.replace("$I", ISSUER);
        match client.unsolicited_callback(&input) {
            Ok(grant) => {
                assert!(
                    client.provider().unsolicited_callbacks(),
                    "unsolicited callback accepted"
                );
                assert!(!grant.code.secret().is_empty(), "empty code");
                assert!(grant.code_verifier.is_none());
            }
            Err(e) => {
                check_error_text(&e);
            }
        }
        return;
    }

    let auth = client
        .authorization_url_with_seed(&AuthorizationRequest::new(), &[*seed; 64])
        .unwrap_or_else(|e| panic!("fuzz harness: authorization_url: {e}"));
    let pending = if setup == 3 {
        PendingAuthorization::from_json(&auth.pending.to_json())
            .unwrap_or_else(|e| panic!("a pending authorization does not restore: {e}"))
    } else {
        auth.pending
    };
    let state = pending.state().secret().to_owned();
    let mut near = state.clone();
    let last = near.pop().unwrap_or('A');
    let prefix = near.clone();
    near.push(if last == 'A' { 'B' } else { 'A' });
    let encoded: String = state.bytes().map(|b| format!("%{b:02X}")).collect();
    let input = template
        .replace("$S", &state)
        .replace("$T", &near)
        .replace("$P", &prefix)
        .replace("$E", &encoded)
        .replace("$I", ISSUER);

    match client.callback(&pending, &input) {
        Ok(grant) => {
            let decoded = form_decoded(&input);
            assert!(
                decoded.contains(&state),
                "callback accepted without the right state: {input:?}"
            );
            assert!(!grant.code.secret().is_empty(), "empty code");
            assert!(
                decoded.contains(grant.code.secret()),
                "a code that is not in the callback"
            );
            if setup == 1 {
                assert!(
                    decoded.contains(ISSUER),
                    "callback accepted without iss: {input:?}"
                );
            }
            assert_eq!(
                grant.code_verifier.as_ref().map(|v| v.secret()),
                pending.code_verifier().map(|v| v.secret())
            );
            assert_eq!(grant.redirect_uri.as_deref(), pending.redirect_uri());
        }
        Err(e) => {
            check_error_text(&e);
        }
    }
    if let Ok(_grant) = client.unsolicited_callback(&input) {
        assert!(
            client.provider().unsolicited_callbacks(),
            "unsolicited callback accepted"
        );
    }
});
