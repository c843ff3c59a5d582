//! Device authorization (RFC 8628): `DeviceAuthorization::from_response` and
//! `DevicePoll::from_response` on the same response.
//!
//! Input: byte 0 the status, byte 1 the content type, byte 2 the current polling interval
//! (255: `u64::MAX`), byte 3 `now` (0, a 2023 time, or `u64::MAX`), the rest the body.
//!
//! Invariants: no panic; errors pass the common checks; a device authorization has a non-empty
//! device code and user code, an interval of at least 1 s, an expiry not before `now`, and
//! verification URIs that are `https://` (or `http://` on loopback) without user information
//! or fragment; a poll's interval is at least 1 s, `authorization_pending` keeps the interval
//! and `slow_down` adds at least 5 s.
#![no_main]

use grantline::{DeviceAuthorization, DevicePoll};
use grantline_fuzz::{check_response_error, content_type, response, status, trusted_url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [s, ct, iv, n, body @ ..] = data else {
        return;
    };
    let status = status(*s);
    let resp = response(status, content_type(*ct), body);
    let interval = if *iv == 255 { u64::MAX } else { u64::from(*iv) };
    let now = match n % 3 {
        0 => 1_700_000_000,
        1 => 0,
        _ => u64::MAX,
    };

    match DeviceAuthorization::from_response(&resp, now) {
        Ok(d) => {
            assert!(d.interval >= 1, "interval {}", d.interval);
            assert!(!d.device_code.secret().is_empty(), "empty device_code");
            assert!(!d.user_code.is_empty(), "empty user_code");
            assert!(
                trusted_url(&d.verification_uri),
                "untrusted verification_uri {:?}",
                d.verification_uri
            );
            if let Some(u) = &d.verification_uri_complete {
                assert!(trusted_url(u), "untrusted verification_uri_complete {u:?}");
            }
            if let Some(at) = d.expires_at {
                assert!(at >= now, "expires before now");
            }
            assert!(
                !format!("{d:?}").contains(d.device_code.secret())
                    || d.device_code.secret().len() < 12
                    || format!(
                        "{:?}{:?}{:?}",
                        d.user_code, d.verification_uri, d.verification_uri_complete
                    )
                    .contains(d.device_code.secret()),
                "Debug shows the device code"
            );
        }
        Err(e) => {
            check_response_error(&e, status);
        }
    }

    match DevicePoll::from_response(&resp, now, interval) {
        Ok(DevicePoll::Pending { interval: i }) => {
            assert_eq!(
                i,
                interval.max(1),
                "authorization_pending changed the interval"
            );
        }
        Ok(DevicePoll::SlowDown { interval: i }) => {
            assert!(
                i >= interval.max(1).saturating_add(5),
                "slow_down to {i} from {interval}"
            );
        }
        Ok(DevicePoll::Tokens(t)) => {
            assert!(!t.access_token().secret().is_empty());
        }
        Ok(DevicePoll::Expired | DevicePoll::Denied) => {}
        Err(e) => {
            check_response_error(&e, status);
        }
    }
});
