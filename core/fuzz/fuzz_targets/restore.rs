//! Restoring persisted state: `TokenSet::from_json` and `PendingAuthorization::from_json`.
//!
//! Input: byte 0 the mode (even: token set, odd: pending authorization), the rest the JSON text.
//!
//! Invariants: no panic; an error message passes the common checks and repeats no run of more
//! than 8 characters of the input, except words of its own fixed template (the input is
//! someone's secrets: serde's own messages quote the values they choke on); what restores
//! survives `to_json`/`from_json` with the same secrets, and its `Debug` shows none of them.
#![no_main]

use grantline::{PendingAuthorization, TokenSet};
use grantline_fuzz::{assert_hidden, assert_no_echo, check_error_text};
use libfuzzer_sys::fuzz_target;

/// The messages `from_json` may give (digit runs stand for any number).
const TEMPLATES: &[&str] = &[
    "invalid input: the input is not a valid token set (line 1, column 1)",
    "invalid input: the input is not JSON for a token set (line 1, column 1)",
    "invalid input: the input is not a valid pending authorization (line 1, column 1)",
    "invalid input: the input is not JSON for a pending authorization (line 1, column 1)",
];

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let json = String::from_utf8_lossy(rest);
    if mode % 2 == 0 {
        match TokenSet::from_json(&json) {
            Ok(t) => {
                let again = TokenSet::from_json(&t.to_json())
                    .unwrap_or_else(|e| panic!("a restored token set does not restore again: {e}"));
                assert_eq!(again.access_token().secret(), t.access_token().secret());
                assert_eq!(
                    again.refresh_token().map(|r| r.secret().to_owned()),
                    t.refresh_token().map(|r| r.secret().to_owned())
                );
                assert_eq!(again.expires_at(), t.expires_at());
                assert_eq!(again.token_type(), t.token_type());
                grantline_fuzz::assert_token_set_hidden(&t);
            }
            Err(e) => {
                let shown = check_error_text(&e);
                assert_no_echo(&shown, &json, TEMPLATES);
            }
        }
    } else {
        match PendingAuthorization::from_json(&json) {
            Ok(p) => {
                let again = PendingAuthorization::from_json(&p.to_json()).unwrap_or_else(|e| {
                    panic!("a restored pending authorization does not restore again: {e}")
                });
                assert!(again.state().ct_eq(p.state().secret()));
                assert_eq!(
                    again.code_verifier().map(|v| v.secret().to_owned()),
                    p.code_verifier().map(|v| v.secret().to_owned())
                );
                assert_eq!(again.redirect_uri(), p.redirect_uri());
                let debug = format!("{p:?}");
                let visible = format!("{:?}", p.redirect_uri());
                // The issuer is not a secret and Debug shows it: count it as visible (read back
                // from what was restored: serde also takes the struct as a JSON array).
                let visible = format!(
                    "{visible} {} {}",
                    json_issuer(&p.to_json()),
                    grantline_fuzz::PENDING_SKELETON.as_str()
                );
                assert_hidden(&debug, p.state().secret(), &visible, "state");
                if let Some(v) = p.code_verifier() {
                    assert_hidden(&debug, v.secret(), &visible, "PKCE verifier");
                }
            }
            Err(e) => {
                let shown = check_error_text(&e);
                assert_no_echo(&shown, &json, TEMPLATES);
            }
        }
    }
});

/// The `issuer` member of the pending authorization's JSON, as text (for the Debug check).
fn json_issuer(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("issuer").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_default()
}
