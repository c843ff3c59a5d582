//! Peeking at JWT claims **without verifying** them.
//!
//! Used for one thing only: when a token response has no `expires_in` (nor `expires`) and the
//! access token is a JWT, its `exp` claim schedules the renewal. Nothing here says the token is
//! genuine; the resource server checks that.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The `exp` claim of a JWT, unverified; `None` when `token` is not a JWT with a numeric `exp`.
pub fn unverified_exp(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    (exp.is_finite() && exp >= 0.0).then_some(exp as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_and_ignores_non_jwts() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1750241616,"scope":"x"}"#);
        assert_eq!(
            unverified_exp(&format!("h.{payload}.s")),
            Some(1_750_241_616)
        );
        assert_eq!(unverified_exp("opaque-token"), None);
        assert_eq!(unverified_exp("a.b.c"), None);
        assert_eq!(unverified_exp("a.b.c.d"), None);
    }
}
