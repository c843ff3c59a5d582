//! Unverified JWT claim peeking: `grantline::jwt::unverified_exp`.
//!
//! Input: byte 0 the mode, then — mode 0: the token as text; mode 1: the JWT payload (JSON
//! bytes), base64url-encoded without padding into `header.payload.signature`; mode 2: the same
//! with padding.
//!
//! Invariants: no panic; `Some(exp)` only for a token of exactly three dot-separated parts;
//! in modes 1 and 2, `Some(exp)` exactly when the payload (at most 16 KiB encoded) is a JSON
//! object whose `exp` is a finite non-negative number, and then `exp` is that number
//! (saturated and truncated to whole seconds).
#![no_main]

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => format!("eyJhbGciOiJub25lIn0.{}.c2ln", URL_SAFE_NO_PAD.encode(rest)),
        _ => format!("eyJhbGciOiJub25lIn0.{}.c2ln", URL_SAFE.encode(rest)),
    };
    let exp = grantline::jwt::unverified_exp(&token);
    if exp.is_some() {
        assert_eq!(
            token.split('.').count(),
            3,
            "exp from a token that is not header.payload.signature"
        );
    }
    if mode % 3 != 0 {
        let payload_len = token.split('.').nth(1).map_or(0, str::len);
        let expected = serde_json::from_slice::<serde_json::Value>(rest)
            .ok()
            .and_then(|v| v.get("exp").and_then(serde_json::Value::as_f64))
            .filter(|e| e.is_finite() && *e >= 0.0)
            .filter(|_| payload_len <= 16 * 1024)
            .map(|e| e as u64);
        assert_eq!(
            exp,
            expected,
            "exp of payload {:?}",
            String::from_utf8_lossy(rest)
        );
    }
});
