//! Numbers as Kotlin, Java and Swift callers expect them: signed.
//!
//! The core counts in unsigned integers (`u64` seconds, `u16` statuses, `u32` failures). Exported
//! as such, Kotlin would see `ULong`/`UShort`/`UInt`, which Java cannot call without
//! name-mangled methods and which every Kotlin caller has to convert. The exported API uses
//! `i64` (Kotlin `Long`, Swift `Int64`) for seconds, ids and byte counts and `i32` (Kotlin `Int`,
//! Swift `Int32`) for HTTP statuses and failure counts, converted here, in one place:
//!
//! - **out** (values grantline returns): exact up to `Long.MAX_VALUE`; a `u64` beyond it
//!   **saturates** at `i64::MAX` (about 292 billion years: "never" for an expiry). The one such
//!   value the core produces is an expiry that does not fit (`expires_in: 1e20`), which it
//!   saturates at `u64::MAX` itself; it stays a value (not `null`, which means "unknown").
//! - **in**, times and seconds (`now`, `issued_at`, `expires_at`, `skew`, `interval`): a negative
//!   value counts as 0 (no time before the epoch exists here; a negative margin is none).
//! - **in**, byte limits (`maxResponseBody`, `setMaxApiBody`): a negative value is refused with
//!   `Configuration` (`invalid_input`): `-1` is a common "no limit" spelling in Java, and taking
//!   it as 0 would refuse every body. `null`/`nil` is "no limit".
//! - **in**, renewal ids: a negative id is no renewal of the session's (the core answers as for
//!   any unknown id).
//! - **in**, HTTP statuses: outside 0..=65535 is not a status (`to_http` refuses what the
//!   `http` crate refuses: anything outside 100..=999).

use crate::error::GrantlineError;

/// A `u64` as an `i64`, saturating at `i64::MAX`.
pub(crate) fn out(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An optional `u64` as an optional `i64`, saturating.
pub(crate) fn out_opt(v: Option<u64>) -> Option<i64> {
    v.map(out)
}

/// A `u32` count as an `i32`, saturating at `i32::MAX`.
pub(crate) fn count(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Seconds (a time or a duration) from the caller: negative counts as 0.
pub(crate) fn seconds(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Milliseconds (a time or a duration) from the caller: negative counts as 0.
pub(crate) fn millis(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A renewal id from the caller: a negative one matches no renewal.
pub(crate) fn id(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A byte limit from the caller: `None` is no limit; a negative one is refused.
pub(crate) fn limit(v: Option<i64>) -> Result<Option<u64>, GrantlineError> {
    v.map(|n| {
        u64::try_from(n).map_err(|_| {
            GrantlineError::invalid(format!(
                "a body limit cannot be negative ({n}): pass null/nil for no limit"
            ))
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn conversions_saturate_clamp_or_refuse() {
        assert_eq!(out(u64::MAX), i64::MAX);
        assert_eq!(out(1_700_000_000), 1_700_000_000);
        assert_eq!(out_opt(None), None);
        assert_eq!(count(u32::MAX), i32::MAX);
        assert_eq!(seconds(-5), 0);
        assert_eq!(seconds(60), 60);
        assert_eq!(id(-1), u64::MAX);
        assert_eq!(limit(None).unwrap(), None);
        assert_eq!(limit(Some(0)).unwrap(), Some(0));
        assert!(matches!(
            limit(Some(-1)),
            Err(GrantlineError::Configuration { ref kind, .. }) if kind == "invalid_input"
        ));
    }
}
