//! JSON Web Keys and JWK Sets (RFC 7517), public side: parsing, selection, verification.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{b64_decode, b64_encode, header_text, Algorithm, JwsProblem, VerifiedJws};
use super::{MAX_JWK_SET, MAX_KEYS};
use crate::Error;

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3 and §3.5).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (bounds the cost of a verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The shortest HMAC key accepted for `HS256`, in bytes (RFC 7518 §3.2).
pub(crate) const MIN_HMAC_KEY: usize = 32;

pub(crate) fn invalid_key(reason: impl Into<String>) -> Error {
    Error::InvalidKey {
        reason: reason.into(),
    }
}

/// A JWK's members as they came, private ones included; zeroized when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RawJwk {
    pub(crate) kty: Option<String>,
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<String>,
    #[serde(rename = "use")]
    pub(crate) use_: Option<String>,
    pub(crate) key_ops: Option<Vec<String>>,
    pub(crate) crv: Option<String>,
    pub(crate) n: Option<String>,
    pub(crate) e: Option<String>,
    pub(crate) d: Option<String>,
    pub(crate) p: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) x: Option<String>,
    pub(crate) y: Option<String>,
    pub(crate) k: Option<String>,
    #[zeroize(skip)]
    pub(crate) oth: Option<Value>,
}

impl RawJwk {
    pub(crate) fn from_json(json: &str) -> Result<Self, Error> {
        if json.len() > MAX_JWK_SET {
            return Err(invalid_key(format!(
                "the JWK is longer than {MAX_JWK_SET} bytes"
            )));
        }
        serde_json::from_str(json).map_err(|e| jwk_json_error(&e))
    }

    pub(crate) fn kty(&self) -> Result<&str, Error> {
        self.kty
            .as_deref()
            .ok_or_else(|| invalid_key("the JWK has no kty"))
    }

    /// A member decoded from base64url into a buffer zeroized on drop.
    pub(crate) fn bytes(
        &self,
        name: &'static str,
        value: &Option<String>,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let text = value
            .as_deref()
            .ok_or_else(|| invalid_key(format!("the JWK has no {name}")))?;
        b64_decode(text)
            .map(Zeroizing::new)
            .ok_or_else(|| invalid_key(format!("the JWK's {name} is not base64url")))
    }

    /// A fixed-length member (an EC coordinate or scalar, an Ed25519 key).
    pub(crate) fn fixed(
        &self,
        name: &'static str,
        value: &Option<String>,
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let bytes = self.bytes(name, value)?;
        if bytes.len() != len {
            return Err(invalid_key(format!(
                "the JWK's {name} is not {len} bytes long"
            )));
        }
        Ok(bytes)
    }

    fn public_key(&self) -> Result<PublicKey, Error> {
        match self.kty()? {
            "RSA" => {
                if self.oth.is_some() {
                    return Err(invalid_key("multi-prime RSA keys (oth) are not supported"));
                }
                let n = BoxedUint::from_be_slice_vartime(&self.bytes("n", &self.n)?);
                let e = BoxedUint::from_be_slice_vartime(&self.bytes("e", &self.e)?);
                rsa_public(n, e).map(|k| PublicKey::Rsa(Box::new(k)))
            }
            "EC" => match self.crv.as_deref() {
                Some("P-256") => {
                    let point = self.sec1_point(32)?;
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map(PublicKey::P256)
                        .map_err(|_| invalid_key("the JWK's point is not on P-256"))
                }
                Some("P-384") => {
                    let point = self.sec1_point(48)?;
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map(PublicKey::P384)
                        .map_err(|_| invalid_key("the JWK's point is not on P-384"))
                }
                Some(_) => Err(invalid_key("unsupported EC curve (P-256 and P-384 are)")),
                None => Err(invalid_key("the EC JWK has no crv")),
            },
            "OKP" => match self.crv.as_deref() {
                Some("Ed25519") => {
                    let x = self.fixed("x", &self.x, 32)?;
                    let bytes: [u8; 32] = x
                        .as_slice()
                        .try_into()
                        .map_err(|_| invalid_key("the JWK's x is not 32 bytes long"))?;
                    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                        .map(PublicKey::Ed25519)
                        .map_err(|_| invalid_key("the JWK's x is not an Ed25519 public key"))
                }
                Some(_) => Err(invalid_key("unsupported OKP curve (Ed25519 is)")),
                None => Err(invalid_key("the OKP JWK has no crv")),
            },
            "oct" => {
                let k = self.bytes("k", &self.k)?;
                if k.is_empty() {
                    return Err(invalid_key("the JWK's k is empty"));
                }
                Ok(PublicKey::Oct(Arc::new(k)))
            }
            _ => Err(invalid_key(
                "unsupported kty (RSA, EC, OKP and oct are supported)",
            )),
        }
    }

    /// The uncompressed SEC1 point `04 ‖ x ‖ y`.
    pub(crate) fn sec1_point(&self, len: usize) -> Result<Vec<u8>, Error> {
        let x = self.fixed("x", &self.x, len)?;
        let y = self.fixed("y", &self.y, len)?;
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }
}

/// Where a JWK document broke, never what it said (serde quotes the values it chokes on).
fn jwk_json_error(e: &serde_json::Error) -> Error {
    let problem = match e.classify() {
        serde_json::error::Category::Data => "has a member of the wrong type",
        _ => "is not JSON",
    };
    invalid_key(format!(
        "the JWK {problem} (line {}, column {})",
        e.line(),
        e.column()
    ))
}

pub(crate) fn rsa_public(n: BoxedUint, e: BoxedUint) -> Result<rsa::PublicKey, Error> {
    let key = rsa::PublicKey::new_with_size_limits(n, e, 0..=MAX_RSA_BITS)
        .map_err(|_| invalid_key("not a usable RSA public key (or over 8192 bits)"))?;
    if (key.n().bit_width_vartime() as usize) < MIN_RSA_BITS {
        return Err(invalid_key(
            "RSA keys under 2048 bits are refused (RFC 7518 §3.3)",
        ));
    }
    Ok(key)
}

/// A verification key.
#[derive(Clone)]
pub(crate) enum PublicKey {
    Rsa(Box<rsa::PublicKey>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A shared secret: zeroized when the last clone goes.
    Oct(Arc<Zeroizing<Vec<u8>>>),
}

impl PublicKey {
    fn kty(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::P256(_) | PublicKey::P384(_) => "EC",
            PublicKey::Ed25519(_) => "OKP",
            PublicKey::Oct(_) => "oct",
        }
    }

    fn crv(&self) -> Option<&'static str> {
        match self {
            PublicKey::P256(_) => Some("P-256"),
            PublicKey::P384(_) => Some("P-384"),
            PublicKey::Ed25519(_) => Some("Ed25519"),
            PublicKey::Rsa(_) | PublicKey::Oct(_) => None,
        }
    }

    /// Whether this key type and curve can check `alg`; why not otherwise.
    fn fits(&self, alg: Algorithm) -> Result<(), &'static str> {
        match (alg, self) {
            (Algorithm::Hs256, PublicKey::Oct(k)) if k.len() >= MIN_HMAC_KEY => Ok(()),
            (Algorithm::Hs256, PublicKey::Oct(_)) => {
                Err("an HS256 key must be at least 32 bytes (RFC 7518 §3.2)")
            }
            (Algorithm::Hs256, _) => {
                Err("HMAC needs a symmetric (oct) key, never a public key (algorithm confusion)")
            }
            (
                Algorithm::Rs256
                | Algorithm::Rs384
                | Algorithm::Rs512
                | Algorithm::Ps256
                | Algorithm::Ps384
                | Algorithm::Ps512,
                PublicKey::Rsa(_),
            ) => Ok(()),
            (
                Algorithm::Rs256
                | Algorithm::Rs384
                | Algorithm::Rs512
                | Algorithm::Ps256
                | Algorithm::Ps384
                | Algorithm::Ps512,
                _,
            ) => Err("the algorithm needs an RSA key"),
            (Algorithm::Es256, PublicKey::P256(_)) | (Algorithm::Es384, PublicKey::P384(_)) => {
                Ok(())
            }
            (Algorithm::Es256, PublicKey::P384(_)) => {
                Err("the key is on curve P-384, ES256 needs P-256")
            }
            (Algorithm::Es384, PublicKey::P256(_)) => {
                Err("the key is on curve P-256, ES384 needs P-384")
            }
            (Algorithm::Es256, _) => Err("ES256 needs an EC P-256 key"),
            (Algorithm::Es384, _) => Err("ES384 needs an EC P-384 key"),
            (Algorithm::EdDsa, PublicKey::Ed25519(_)) => Ok(()),
            (Algorithm::EdDsa, _) => Err("EdDSA needs an OKP Ed25519 key"),
        }
    }

    /// Whether `signature` is `alg`'s signature of `input` under this key (`alg` must fit).
    fn check(&self, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(key) => {
                let result = match alg {
                    Algorithm::Rs256 => key.verify(
                        Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(input),
                        signature,
                    ),
                    Algorithm::Rs384 => key.verify(
                        Pkcs1v15Sign::new::<Sha384>(),
                        &Sha384::digest(input),
                        signature,
                    ),
                    Algorithm::Rs512 => key.verify(
                        Pkcs1v15Sign::new::<Sha512>(),
                        &Sha512::digest(input),
                        signature,
                    ),
                    Algorithm::Ps256 => {
                        key.verify(Pss::<Sha256>::new(), &Sha256::digest(input), signature)
                    }
                    Algorithm::Ps384 => {
                        key.verify(Pss::<Sha384>::new(), &Sha384::digest(input), signature)
                    }
                    Algorithm::Ps512 => {
                        key.verify(Pss::<Sha512>::new(), &Sha512::digest(input), signature)
                    }
                    _ => return false,
                };
                result.is_ok()
            }
            PublicKey::P256(key) => {
                alg == Algorithm::Es256
                    && p256::ecdsa::Signature::from_slice(signature)
                        .is_ok_and(|s| key.verify(input, &s).is_ok())
            }
            PublicKey::P384(key) => {
                alg == Algorithm::Es384
                    && p384::ecdsa::Signature::from_slice(signature)
                        .is_ok_and(|s| key.verify(input, &s).is_ok())
            }
            PublicKey::Ed25519(key) => {
                alg == Algorithm::EdDsa
                    && <[u8; 64]>::try_from(signature).is_ok_and(|bytes| {
                        key.verify_strict(input, &ed25519_dalek::Signature::from_bytes(&bytes))
                            .is_ok()
                    })
            }
            PublicKey::Oct(secret) => {
                alg == Algorithm::Hs256
                    && Hmac::<Sha256>::new_from_slice(secret).is_ok_and(|mut mac| {
                        mac.update(input);
                        mac.verify_slice(signature).is_ok()
                    })
            }
        }
    }

    /// The public members of the JWK (`n`/`e`, `crv`/`x`/`y`), `None` for a shared secret.
    fn public_members(&self) -> Option<Vec<(&'static str, String)>> {
        Some(match self {
            PublicKey::Rsa(key) => vec![
                ("e", b64_encode(&key.e_bytes())),
                ("n", b64_encode(&key.n_bytes())),
            ],
            PublicKey::P256(key) => {
                let point = key.to_sec1_point(false);
                vec![("x", b64_encode(point.x()?)), ("y", b64_encode(point.y()?))]
            }
            PublicKey::P384(key) => {
                let point = key.to_sec1_point(false);
                vec![("x", b64_encode(point.x()?)), ("y", b64_encode(point.y()?))]
            }
            PublicKey::Ed25519(key) => vec![("x", b64_encode(key.as_bytes()))],
            PublicKey::Oct(_) => return None,
        })
    }
}

/// One JSON Web Key (RFC 7517 §4): an RSA, EC (P-256, P-384), OKP (Ed25519) or `oct` key and
/// its `kid`, `alg`, `use` and `key_ops`.
///
/// Parsing keeps only what verification needs: the private members of a private JWK are
/// ignored (sign with [`SigningKey`](super::SigningKey)). An `oct` key is a secret: it is
/// zeroized on drop and `Debug` never prints key material.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    key: PublicKey,
}

impl Jwk {
    /// Parses one JWK. Refuses unsupported key types and curves, malformed members, RSA keys
    /// under 2048 or over 8192 bits, EC points not on their curve: [`Error::InvalidKey`].
    pub fn from_json(json: &str) -> Result<Self, Error> {
        Self::from_raw(&RawJwk::from_json(json)?)
    }

    fn from_raw(raw: &RawJwk) -> Result<Self, Error> {
        Ok(Jwk {
            key: raw.public_key()?,
            kid: raw.kid.clone(),
            alg: raw.alg.clone(),
            key_use: raw.use_.clone(),
            key_ops: raw.key_ops.clone(),
        })
    }

    pub(crate) fn from_key(key: PublicKey, kid: Option<String>, alg: Algorithm) -> Self {
        Jwk {
            kid,
            alg: Some(alg.name().to_owned()),
            key_use: Some("sig".to_owned()),
            key_ops: None,
            key,
        }
    }

    /// A shared secret for `HS256` (`kty: oct`), at least 32 bytes long (RFC 7518 §3.2).
    pub fn hmac(secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < MIN_HMAC_KEY {
            return Err(invalid_key(
                "an HS256 key must be at least 32 bytes (RFC 7518 §3.2)",
            ));
        }
        Ok(Self::from_key(
            PublicKey::Oct(Arc::new(Zeroizing::new(secret.to_vec()))),
            None,
            Algorithm::Hs256,
        ))
    }

    /// The same key with another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key type: `RSA`, `EC`, `OKP` or `oct`.
    pub fn key_type(&self) -> &'static str {
        self.key.kty()
    }

    /// The curve: `P-256`, `P-384` or `Ed25519`; `None` for RSA and `oct` keys.
    pub fn curve(&self) -> Option<&'static str> {
        self.key.crv()
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's `alg`, when it names one (as written, which may be an algorithm grantline does
    /// not speak).
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The key's `use` (`sig`, `enc`...).
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The key's `key_ops`.
    pub fn key_ops(&self) -> Option<&[String]> {
        self.key_ops.as_deref()
    }

    /// Whether this key may check `alg` signatures: its type and curve fit, its `alg` (if any)
    /// is `alg`, its `use` (if any) is `sig`, and its `key_ops` (if any) include `verify`.
    pub fn can_verify(&self, alg: Algorithm) -> bool {
        self.fits(alg).is_ok()
    }

    fn fits(&self, alg: Algorithm) -> Result<(), &'static str> {
        self.key.fits(alg)?;
        if self.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return Err("the key's alg names another algorithm");
        }
        if self.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err("the key's use is not sig");
        }
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Err("the key's key_ops do not include verify");
        }
        Ok(())
    }

    pub(crate) fn check(&self, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
        self.key.check(alg, input, signature)
    }

    /// Verifies a compact JWS with this key alone (see [`JwkSet::verify`]).
    pub fn verify(&self, token: &str, accepted: &[Algorithm]) -> Result<VerifiedJws, Error> {
        super::verify_with(std::slice::from_ref(self), token, accepted)
    }

    /// The public JWK as JSON (`kty`, `crv`, the public members, `kid`, `alg`, `use`,
    /// `key_ops`), e.g. to register with an authorization server; `None` for an `oct` key,
    /// which has no public part.
    pub fn to_public_json(&self) -> Option<String> {
        let mut members = serde_json::Map::new();
        members.insert("kty".into(), self.key.kty().into());
        if let Some(crv) = self.key.crv() {
            members.insert("crv".into(), crv.into());
        }
        for (name, value) in self.key.public_members()? {
            members.insert(name.into(), value.into());
        }
        if let Some(kid) = &self.kid {
            members.insert("kid".into(), kid.clone().into());
        }
        if let Some(alg) = &self.alg {
            members.insert("alg".into(), alg.clone().into());
        }
        if let Some(key_use) = &self.key_use {
            members.insert("use".into(), key_use.clone().into());
        }
        if let Some(ops) = &self.key_ops {
            members.insert("key_ops".into(), ops.clone().into());
        }
        Some(Value::Object(members).to_string())
    }
}

impl core::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.key.kty())
            .field("crv", &self.key.crv())
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .finish_non_exhaustive()
    }
}

/// A JWK Set (RFC 7517 §5): the keys a signer publishes at its `jwks_uri`.
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    skipped: usize,
}

impl JwkSet {
    /// A set of the given keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        JwkSet { keys, skipped: 0 }
    }

    /// Parses a JWK Set document (`{"keys": [...]}`). Keys grantline cannot use (another
    /// `kty` or curve, missing or malformed members, RSA keys under 2048 bits) are skipped, as
    /// RFC 7517 §5 says; [`skipped`](Self::skipped) counts them. The document itself must be
    /// JSON with a `keys` array of at most [`MAX_KEYS`] members, no longer than
    /// [`MAX_JWK_SET`] bytes: [`Error::InvalidKey`] otherwise.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        if json.len() > MAX_JWK_SET {
            return Err(invalid_key(format!(
                "the JWK Set is longer than {MAX_JWK_SET} bytes"
            )));
        }
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_str(json).map_err(|_| invalid_key("not a JWK Set (no keys array)"))?;
        if document.keys.len() > MAX_KEYS {
            return Err(invalid_key(format!(
                "the JWK Set has more than {MAX_KEYS} keys"
            )));
        }
        let mut set = JwkSet::default();
        for entry in &document.keys {
            match RawJwk::deserialize(entry)
                .ok()
                .and_then(|raw| Jwk::from_raw(&raw).ok())
            {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// How many entries of the document were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The keys that may check an `alg` signature whose header carries `kid`.
    ///
    /// With a `kid`, only keys with that `kid` are considered; without one, every key is.
    /// Of those, the keys whose type, curve, `alg`, `use` and `key_ops` fit are returned.
    /// [`JwsProblem::NoMatchingKey`] when none fits (an unknown `kid` may mean the signer
    /// rotated its keys); [`JwsProblem::KeyMismatch`], saying why, when exactly one key was
    /// considered and it does not fit.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<Vec<&Jwk>, Error> {
        select(&self.keys, alg, kid)
    }

    /// Verifies a compact JWS (RFC 7515 §5.2) against this set.
    ///
    /// `accepted` lists the algorithms the caller expects (from its configuration or from the
    /// server's metadata; never from the token): the header's `alg` must be one of them, and
    /// it must fit the key chosen by [`select`](Self::select). Every fitting key is tried.
    /// Refusals are [`Error::Jws`] with a [`JwsProblem`]; an empty `accepted` is
    /// [`Error::InvalidInput`].
    pub fn verify(&self, token: &str, accepted: &[Algorithm]) -> Result<VerifiedJws, Error> {
        super::verify_with(&self.keys, token, accepted)
    }
}

pub(crate) fn select<'k>(
    keys: &'k [Jwk],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<Vec<&'k Jwk>, Error> {
    let considered: Vec<&Jwk> = keys
        .iter()
        .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
        .collect();
    let mut why = None;
    let fitting: Vec<&Jwk> = considered
        .iter()
        .copied()
        .filter(|key| match key.fits(alg) {
            Ok(()) => true,
            Err(reason) => {
                why.get_or_insert(reason);
                false
            }
        })
        .collect();
    match (fitting.is_empty(), considered.len(), why) {
        (false, _, _) => Ok(fitting),
        (true, 1, Some(reason)) => Err(JwsProblem::KeyMismatch { alg, reason }.into()),
        (true, _, _) => Err(JwsProblem::NoMatchingKey {
            kid: kid.map(header_text),
            alg,
        }
        .into()),
    }
}
