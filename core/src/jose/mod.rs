//! JOSE: JSON Web Keys (RFC 7517) and compact JSON Web Signatures (RFC 7515), sans-IO.
//!
//! - [`Jwk`] and [`JwkSet`] parse keys and pick one by `kid`, `kty`, `crv`, `alg`, `use` and
//!   `key_ops` ([`JwkSet::select`]). Fetching a JWK Set is one more request the caller sends.
//! - [`JwkSet::verify`] and [`Jwk::verify`] check a compact JWS against the algorithms **the
//!   caller** accepts: the header's `alg` must be one of them *and* fit the key (an HMAC `alg`
//!   never runs with an RSA, EC or OKP key, so the classic algorithm confusion cannot happen).
//! - [`JwksCache`] keeps a provider's JWK Set and fetches it again, once and rate-limited,
//!   when a token names a key it does not hold (key rotation), decided from `now`.
//! - [`SigningKey`] signs compact JWS with a private JWK, a PKCS#8 PEM key or a shared secret.
//!   Keys are secrets: `Debug` prints no key material and they are zeroized on drop.
//!
//! | `alg` | verify | sign | key |
//! |---|---|---|---|
//! | `RS256`, `RS384`, `RS512` | yes | yes | RSA, 2048 to 8192 bits |
//! | `PS256`, `PS384`, `PS512` | yes | yes | RSA, 2048 to 8192 bits (salt = hash length) |
//! | `ES256` / `ES384` | yes | yes | EC P-256 / P-384 (`r ‖ s`, RFC 7518 §3.4) |
//! | `EdDSA` | yes | yes | OKP Ed25519 (RFC 8037; strict verification) |
//! | `HS256` | yes | yes | `oct`, at least 32 bytes (RFC 7518 §3.2) |
//!
//! ## What is refused
//! `alg: none` ([`JwsProblem::AlgNone`]) and any `alg` the caller did not list; every `crit`
//! header (grantline understands no extension) and `b64` other than `true` (RFC 7797's unencoded
//! payload); a key whose type, curve, `alg`, `use` or `key_ops` does not fit; a `kid` no key
//! has; malformed base64url or JSON; a token longer than [`MAX_JWS`] bytes, a JWK Set longer
//! than [`MAX_JWK_SET`] bytes or with more than [`MAX_KEYS`] keys. Keys carried in the header
//! itself (`jwk`, `jku`, `x5u`, `x5c`) are never used. Errors name the problem (and an escaped,
//! capped `alg` or `kid`), never the token, its claims or any key material.
//!
//! ## Crypto and its caveats
//! The primitives come from the RustCrypto project (`rsa`, `p256`, `p384`, `ed25519-dalek`,
//! `hmac`, `sha2`, `pkcs8`): pure Rust, built for `wasm32-unknown-unknown` without a C
//! toolchain. Randomness (RSA blinding, PSS salts, hedged ECDSA nonces) comes from `getrandom`.
//!
//! **RUSTSEC-2023-0071** (CVE-2023-49092, the "Marvin attack") affected `rsa` up to 0.9: its
//! private-key operations were not constant time. grantline uses `rsa` 0.10, whose arithmetic
//! is constant time (`crypto-bigint`) and which its authors name as the fix. RSA signing also
//! blinds each operation; `ES256` and `EdDSA` remain the simpler choice for keys you sign with
//! where the server accepts them.

mod cache;
mod jwk;
mod sign;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::text::{oauth_text, Charset, MAX_CODE};
use crate::Error;

pub use cache::{JwksCache, JwksStep, DEFAULT_MAX_AGE, DEFAULT_MIN_REFETCH};
pub use jwk::{Jwk, JwkSet};
pub use sign::SigningKey;

/// The longest compact JWS accepted, in bytes (ID tokens with many claims stay well below).
pub const MAX_JWS: usize = 128 * 1024;

/// The longest JWK or JWK Set document accepted, in bytes (the token endpoint's body cap).
pub const MAX_JWK_SET: usize = crate::MAX_BODY;

/// The most keys a JWK Set may hold.
pub const MAX_KEYS: usize = 100;

/// A JWS algorithm grantline verifies and signs with (RFC 7518 §3.1, RFC 8037 §3.1).
///
/// `none` is not one: unsecured JWS are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `HS256`: HMAC with SHA-256, a shared secret of at least 32 bytes.
    Hs256,
    /// `RS256`: RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// `RS384`: RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// `RS512`: RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// `PS256`: RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt).
    Ps256,
    /// `PS384`: RSASSA-PSS with SHA-384 (MGF1 SHA-384, 48-byte salt).
    Ps384,
    /// `PS512`: RSASSA-PSS with SHA-512 (MGF1 SHA-512, 64-byte salt).
    Ps512,
    /// `ES256`: ECDSA on P-256 with SHA-256.
    Es256,
    /// `ES384`: ECDSA on P-384 with SHA-384.
    Es384,
    /// `EdDSA` with an Ed25519 key (RFC 8037).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm grantline speaks.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::Hs256,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The asymmetric algorithms: what an ID token or a signed userinfo answer may use when the
    /// client has no shared secret.
    pub const ASYMMETRIC: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The `alg` name, e.g. `RS256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm an `alg` name stands for (exact, case-sensitive match, as RFC 7515 §4.1.1
    /// says); `None` for `none` and for every algorithm grantline does not speak.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a JWS was refused (carried by [`Error::Jws`]). Never contains the token, its claims or
/// key material; an `alg` or `kid` taken from the header is escaped and capped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsProblem {
    /// Not a compact JWS: not three base64url parts, a header that is not a JSON object, no
    /// `alg`, a `kid` that is not a string...
    #[error("not a compact JWS: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// Longer than [`MAX_JWS`] bytes.
    #[error("longer than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The header says `alg: none`: an unsecured JWS, never accepted.
    #[error("unsecured (alg none)")]
    AlgNone,
    /// The header's `alg` is not among the algorithms the caller accepts (or not one grantline
    /// speaks).
    #[error("the algorithm {alg:?} is not accepted")]
    AlgorithmNotAccepted {
        /// The header's `alg` (escaped, capped).
        alg: String,
    },
    /// The header has a `crit` parameter: grantline understands no extension, so every critical
    /// one is refused (RFC 7515 §4.1.11).
    #[error("the header marks parameters grantline does not understand as critical ({})", names.join(", "))]
    UnsupportedCritical {
        /// The names listed in `crit` (escaped, capped).
        names: Vec<String>,
    },
    /// The header has `b64` other than `true`: an unencoded payload (RFC 7797), not supported.
    #[error("the payload is not base64url-encoded (b64 is not true, RFC 7797)")]
    UnencodedPayload,
    /// No key in the set has the header's `kid`, or (without a `kid`) none can check this
    /// algorithm. An unknown `kid` may mean the signer rotated its keys: fetch the set again.
    #[error("no key fits (kid {kid:?}, alg {alg})")]
    NoMatchingKey {
        /// The header's `kid`, when it had one (escaped, capped).
        kid: Option<String>,
        /// The header's algorithm.
        alg: Algorithm,
    },
    /// The one key that could apply (the only key, or the only one with the header's `kid`)
    /// cannot check this algorithm: another key type or curve, or its `alg`, `use` or
    /// `key_ops` say otherwise.
    #[error("the key cannot check {alg} signatures: {reason}")]
    KeyMismatch {
        /// The header's algorithm.
        alg: Algorithm,
        /// Why the key does not fit.
        reason: &'static str,
    },
    /// The signature does not verify with any fitting key.
    #[error("the signature does not verify")]
    BadSignature,
}

impl JwsProblem {
    /// A short, stable name for the problem (`malformed`, `too_large`, `alg_none`,
    /// `algorithm_not_accepted`, `unsupported_critical`, `unencoded_payload`,
    /// `no_matching_key`, `key_mismatch`, `bad_signature`), for vectors and bindings.
    pub fn kind(&self) -> &'static str {
        match self {
            JwsProblem::Malformed { .. } => "malformed",
            JwsProblem::TooLarge { .. } => "too_large",
            JwsProblem::AlgNone => "alg_none",
            JwsProblem::AlgorithmNotAccepted { .. } => "algorithm_not_accepted",
            JwsProblem::UnsupportedCritical { .. } => "unsupported_critical",
            JwsProblem::UnencodedPayload => "unencoded_payload",
            JwsProblem::NoMatchingKey { .. } => "no_matching_key",
            JwsProblem::KeyMismatch { .. } => "key_mismatch",
            JwsProblem::BadSignature => "bad_signature",
        }
    }
}

impl From<JwsProblem> for Error {
    fn from(problem: JwsProblem) -> Self {
        Error::Jws { problem }
    }
}

/// A JWS whose signature verified: its header, its payload and the key's algorithm.
///
/// `Debug` shows the algorithm, the `kid` and the payload's length, not the payload.
#[derive(Clone)]
pub struct VerifiedJws {
    alg: Algorithm,
    kid: Option<String>,
    header: Map<String, Value>,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The algorithm the signature was checked with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`, when it had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The whole protected header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The payload, decoded from base64url.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload as a JSON object (a JWT's claims); [`JwsProblem::Malformed`] otherwise.
    pub fn claims(&self) -> Result<Map<String, Value>, Error> {
        serde_json::from_slice(&self.payload).map_err(|_| {
            JwsProblem::Malformed {
                reason: "the payload is not a JSON object",
            }
            .into()
        })
    }
}

impl core::fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// A compact JWS taken apart, its header checked, its signature not yet.
pub(crate) struct Compact<'a> {
    pub(crate) signing_input: &'a str,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) header: Map<String, Value>,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

/// Header text (an `alg`, a `kid`, a `crit` name) made safe for an error message.
pub(crate) fn header_text(text: &str) -> String {
    oauth_text(text, Charset::Text, MAX_CODE)
}

fn malformed(reason: &'static str) -> Error {
    JwsProblem::Malformed { reason }.into()
}

/// Base64url without padding, strictly (no padding, no stray bits).
pub(crate) fn b64_decode(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl<'a> Compact<'a> {
    /// Splits and decodes `token`, and checks its header against `accepted`.
    pub(crate) fn parse(token: &'a str, accepted: &[Algorithm]) -> Result<Self, Error> {
        if accepted.is_empty() {
            return Err(Error::invalid(
                "no JWS algorithm is accepted: pass at least one",
            ));
        }
        if token.len() > MAX_JWS {
            return Err(JwsProblem::TooLarge { limit: MAX_JWS }.into());
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not three base64url parts separated by dots"));
        };
        let signing_input = token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or_else(|| malformed("not three base64url parts separated by dots"))?;
        let header_bytes =
            b64_decode(header_b64).ok_or_else(|| malformed("the header is not base64url"))?;
        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|_| malformed("the header is not a JSON object"))?;
        let alg_name = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            Some(_) => return Err(malformed("the header's alg is not a string")),
            None => return Err(malformed("the header has no alg")),
        };
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(JwsProblem::AlgNone.into());
        }
        let alg = Algorithm::from_name(alg_name)
            .filter(|a| accepted.contains(a))
            .ok_or_else(|| JwsProblem::AlgorithmNotAccepted {
                alg: header_text(alg_name),
            })?;
        match header.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => return Err(JwsProblem::UnencodedPayload.into()),
        }
        if let Some(crit) = header.get("crit") {
            let names = match crit {
                Value::Array(names) => names
                    .iter()
                    .take(8)
                    .map(|n| header_text(n.as_str().unwrap_or("(not a string)")))
                    .collect(),
                _ => vec!["(not an array)".to_owned()],
            };
            return Err(JwsProblem::UnsupportedCritical { names }.into());
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(malformed("the header's kid is not a string")),
        };
        let payload =
            b64_decode(payload_b64).ok_or_else(|| malformed("the payload is not base64url"))?;
        let signature =
            b64_decode(signature_b64).ok_or_else(|| malformed("the signature is not base64url"))?;
        Ok(Compact {
            signing_input,
            alg,
            kid,
            header,
            payload,
            signature,
        })
    }

    pub(crate) fn verified(self) -> VerifiedJws {
        VerifiedJws {
            alg: self.alg,
            kid: self.kid,
            header: self.header,
            payload: self.payload,
        }
    }
}

/// Verifies a compact JWS with the keys of `keys` (see [`JwkSet::verify`]).
pub(crate) fn verify_with(
    keys: &[Jwk],
    token: &str,
    accepted: &[Algorithm],
) -> Result<VerifiedJws, Error> {
    let jws = Compact::parse(token, accepted)?;
    let candidates = jwk::select(keys, jws.alg, jws.kid.as_deref())?;
    let input = jws.signing_input.as_bytes();
    if candidates
        .iter()
        .any(|key| key.check(jws.alg, input, &jws.signature))
    {
        Ok(jws.verified())
    } else {
        Err(JwsProblem::BadSignature.into())
    }
}
