//! Signing keys and compact JWS signing.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::{RandomizedSigner, Signer};
use zeroize::Zeroizing;

use super::jwk::{
    invalid_key, rsa_public, PublicKey, RawJwk, MAX_RSA_BITS, MIN_HMAC_KEY, MIN_RSA_BITS,
};
use super::{b64_encode, Algorithm, Jwk};
use crate::secret::REDACTED;
use crate::Error;

/// A private key.
#[derive(Clone)]
enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Hmac(Arc<Zeroizing<Vec<u8>>>),
}

impl PrivateKey {
    /// The algorithm used when the key does not say.
    fn default_alg(&self) -> Algorithm {
        match self {
            PrivateKey::Rsa(_) => Algorithm::Rs256,
            PrivateKey::P256(_) => Algorithm::Es256,
            PrivateKey::P384(_) => Algorithm::Es384,
            PrivateKey::Ed25519(_) => Algorithm::EdDsa,
            PrivateKey::Hmac(_) => Algorithm::Hs256,
        }
    }

    fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (alg, self),
            (Algorithm::Hs256, PrivateKey::Hmac(_))
                | (
                    Algorithm::Rs256
                        | Algorithm::Rs384
                        | Algorithm::Rs512
                        | Algorithm::Ps256
                        | Algorithm::Ps384
                        | Algorithm::Ps512,
                    PrivateKey::Rsa(_)
                )
                | (Algorithm::Es256, PrivateKey::P256(_))
                | (Algorithm::Es384, PrivateKey::P384(_))
                | (Algorithm::EdDsa, PrivateKey::Ed25519(_))
        )
    }

    fn public(&self) -> Option<PublicKey> {
        Some(match self {
            PrivateKey::Rsa(key) => PublicKey::Rsa(Box::new(key.to_public_key())),
            PrivateKey::P256(key) => PublicKey::P256(*key.verifying_key()),
            PrivateKey::P384(key) => PublicKey::P384(*key.verifying_key()),
            PrivateKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
            PrivateKey::Hmac(_) => return None,
        })
    }

    fn rsa(key: rsa::PrivateKey) -> Result<Self, Error> {
        let bits = key.n().bit_width_vartime() as usize;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(invalid_key(
                "RSA signing keys must have 2048 to 8192 bits (RFC 7518 §3.3)",
            ));
        }
        Ok(PrivateKey::Rsa(Box::new(key)))
    }

    fn hmac(secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < MIN_HMAC_KEY {
            return Err(invalid_key(
                "an HS256 key must be at least 32 bytes (RFC 7518 §3.2)",
            ));
        }
        Ok(PrivateKey::Hmac(Arc::new(Zeroizing::new(secret.to_vec()))))
    }
}

/// A key that signs compact JWS: RSA (`RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`),
/// EC P-256 (`ES256`), EC P-384 (`ES384`), Ed25519 (`EdDSA`) or a shared secret (`HS256`).
///
/// A secret: `Debug` shows the algorithm and `kid` only, and the key material is zeroized when
/// the last clone is dropped. On RSA and RUSTSEC-2023-0071, see the
/// [module documentation](super).
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    key: PrivateKey,
}

impl SigningKey {
    /// A private JWK: `RSA` (with `d`, and `p` and `q` or none of the other private members),
    /// `EC` P-256 or P-384 (with `d`), `OKP` Ed25519 (with `d`), or `oct` (`k`, at least 32
    /// bytes). The public members must match the private ones. The algorithm is the JWK's
    /// `alg`, or else `RS256`, `ES256`, `ES384`, `EdDSA` or `HS256` by key type (change it with
    /// [`with_algorithm`](Self::with_algorithm)); the `kid` is the JWK's. A `use` other than
    /// `sig`, or `key_ops` without `sign`, is refused. Errors are [`Error::InvalidKey`] and
    /// name no key material.
    pub fn from_jwk(json: &str) -> Result<Self, Error> {
        let raw = RawJwk::from_json(json)?;
        if raw.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(invalid_key("the JWK's use is not sig"));
        }
        if raw
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "sign"))
        {
            return Err(invalid_key("the JWK's key_ops do not include sign"));
        }
        let key = private_key(&raw)?;
        let alg = match raw.alg.as_deref() {
            None => key.default_alg(),
            Some(name) => Algorithm::from_name(name)
                .filter(|alg| key.fits(*alg))
                .ok_or_else(|| {
                    invalid_key("the JWK's alg is not a signing algorithm its key can use")
                })?,
        };
        Ok(SigningKey {
            alg,
            kid: raw.kid.clone(),
            key,
        })
    }

    /// A PKCS#8 private key in PEM (`-----BEGIN PRIVATE KEY-----`): RSA, EC P-256, EC P-384 or
    /// Ed25519. The algorithm is `RS256`, `ES256`, `ES384` or `EdDSA` by key type (change it
    /// with [`with_algorithm`](Self::with_algorithm)); there is no `kid` until
    /// [`with_kid`](Self::with_kid). Encrypted PKCS#8 and the older `RSA PRIVATE KEY` /
    /// `EC PRIVATE KEY` formats are refused with [`Error::InvalidKey`] (convert them with
    /// `openssl pkcs8 -topk8 -nocrypt`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        if pem.len() > super::MAX_JWK_SET {
            return Err(invalid_key("the PEM document is too long"));
        }
        let (label, document) = pkcs8::SecretDocument::from_pem(pem).map_err(|_| {
            invalid_key("not a PEM document (expected -----BEGIN PRIVATE KEY-----)")
        })?;
        if label != "PRIVATE KEY" {
            return Err(invalid_key(
                "not an unencrypted PKCS#8 key (expected -----BEGIN PRIVATE KEY-----)",
            ));
        }
        let der = document.as_bytes();
        let key = if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(der) {
            PrivateKey::rsa(key)?
        } else if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            PrivateKey::P256(key)
        } else if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            PrivateKey::P384(key)
        } else if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            PrivateKey::Ed25519(Box::new(key))
        } else {
            return Err(invalid_key(
                "not a PKCS#8 RSA, P-256, P-384 or Ed25519 private key",
            ));
        };
        Ok(SigningKey {
            alg: key.default_alg(),
            kid: None,
            key,
        })
    }

    /// A shared secret for `HS256`, at least 32 bytes (RFC 7518 §3.2).
    pub fn hmac(secret: &[u8]) -> Result<Self, Error> {
        Ok(SigningKey {
            alg: Algorithm::Hs256,
            kid: None,
            key: PrivateKey::hmac(secret)?,
        })
    }

    /// The same key signing with `alg` (e.g. `PS256` for an RSA key);
    /// [`Error::InvalidKey`] when the key cannot.
    pub fn with_algorithm(mut self, alg: Algorithm) -> Result<Self, Error> {
        if !self.key.fits(alg) {
            return Err(invalid_key(format!("this key cannot sign with {alg}")));
        }
        self.alg = alg;
        Ok(self)
    }

    /// The same key, putting `kid` in every header it signs.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` put in the header, when there is one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public key, as a [`Jwk`] with this key's `kid`, `alg` and `use: sig` (to verify
    /// with, or to publish with [`Jwk::to_public_json`]); `None` for a shared secret.
    pub fn public_jwk(&self) -> Option<Jwk> {
        Some(Jwk::from_key(
            self.key.public()?,
            self.kid.clone(),
            self.alg,
        ))
    }

    /// Signs `claims` as a compact JWS (`header.payload.signature`, RFC 7515 §7.1).
    ///
    /// The protected header is `alg`, this key's `kid` (when set) and `header_extra` (e.g.
    /// `typ`; a `kid` there replaces the key's). `header_extra` may not set `alg`, `crit` or
    /// `b64`: [`Error::InvalidInput`]. Randomness (RSA blinding, PSS salt, ECDSA hedging)
    /// comes from `getrandom`: [`Error::Random`] if it fails.
    pub fn sign(
        &self,
        header_extra: &Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> Result<String, Error> {
        let payload = serde_json::to_vec(claims)
            .map_err(|_| Error::invalid("the claims cannot be serialized"))?;
        self.sign_payload(header_extra, &payload)
    }

    /// Signs any payload bytes as a compact JWS; see [`sign`](Self::sign).
    pub fn sign_payload(
        &self,
        header_extra: &Map<String, Value>,
        payload: &[u8],
    ) -> Result<String, Error> {
        if let Some(name) = ["alg", "crit", "b64"]
            .into_iter()
            .find(|name| header_extra.contains_key(*name))
        {
            return Err(Error::invalid(format!(
                "the extra JWS header may not set {name}"
            )));
        }
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.name().into());
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.clone().into());
        }
        for (name, value) in header_extra {
            header.insert(name.clone(), value.clone());
        }
        let header = serde_json::to_vec(&Value::Object(header))
            .map_err(|_| Error::invalid("the JWS header cannot be serialized"))?;
        let mut jws = b64_encode(&header);
        jws.push('.');
        jws.push_str(&b64_encode(payload));
        let signature = self.signature(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&b64_encode(&signature));
        Ok(jws)
    }

    fn signature(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut random = SystemRandom { failed: false };
        let signed = self.signature_with(input, &mut random);
        // A signer that failed because the generator did is an `Error::Random`.
        signed.map_err(|e| if random.failed { Error::Random } else { e })
    }

    fn signature_with(&self, input: &[u8], random: &mut SystemRandom) -> Result<Vec<u8>, Error> {
        let failed = |_| invalid_key(format!("signing with {} failed", self.alg));
        match &self.key {
            PrivateKey::Hmac(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret)
                    .map_err(|_| invalid_key("unusable HMAC key"))?;
                mac.update(input);
                Ok(mac.finalize().into_bytes().to_vec())
            }
            PrivateKey::Ed25519(key) => Ok(key.sign(input).to_bytes().to_vec()),
            PrivateKey::P256(key) => {
                let signature: p256::ecdsa::Signature =
                    key.try_sign_with_rng(random, input).map_err(failed)?;
                Ok(signature.to_bytes().to_vec())
            }
            PrivateKey::P384(key) => {
                let signature: p384::ecdsa::Signature =
                    key.try_sign_with_rng(random, input).map_err(failed)?;
                Ok(signature.to_bytes().to_vec())
            }
            PrivateKey::Rsa(key) => {
                let rng = random;
                let signed = match self.alg {
                    Algorithm::Rs256 => key.sign_with_rng(
                        rng,
                        Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(input),
                    ),
                    Algorithm::Rs384 => key.sign_with_rng(
                        rng,
                        Pkcs1v15Sign::new::<Sha384>(),
                        &Sha384::digest(input),
                    ),
                    Algorithm::Rs512 => key.sign_with_rng(
                        rng,
                        Pkcs1v15Sign::new::<Sha512>(),
                        &Sha512::digest(input),
                    ),
                    Algorithm::Ps256 => {
                        key.sign_with_rng(rng, Pss::<Sha256>::new(), &Sha256::digest(input))
                    }
                    Algorithm::Ps384 => {
                        key.sign_with_rng(rng, Pss::<Sha384>::new(), &Sha384::digest(input))
                    }
                    Algorithm::Ps512 => {
                        key.sign_with_rng(rng, Pss::<Sha512>::new(), &Sha512::digest(input))
                    }
                    _ => return Err(invalid_key("this key cannot sign with this algorithm")),
                };
                signed.map_err(|_| invalid_key(format!("signing with {} failed", self.alg)))
            }
        }
    }
}

/// The system's generator (`getrandom`) as the signers' randomness: hedged ECDSA nonces, RSA
/// blinding and PSS salts. A failing generator fails the signature (never a panic), and
/// `failed` says so: the signature's error is then [`Error::Random`].
struct SystemRandom {
    failed: bool,
}

/// The system's generator failed.
#[derive(Debug)]
struct NoRandom;

impl core::fmt::Display for NoRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the system's random generator failed")
    }
}

impl core::error::Error for NoRandom {}

impl rand_core::TryRng for SystemRandom {
    type Error = NoRandom;

    fn try_next_u32(&mut self) -> Result<u32, NoRandom> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, NoRandom> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), NoRandom> {
        getrandom::fill(dst).map_err(|_| {
            self.failed = true;
            NoRandom
        })
    }
}

impl rand_core::TryCryptoRng for SystemRandom {}

fn private_key(raw: &RawJwk) -> Result<PrivateKey, Error> {
    let no_private = || invalid_key("the JWK has no private key (d or k)");
    match raw.kty()? {
        "RSA" => {
            if raw.oth.is_some() {
                return Err(invalid_key("multi-prime RSA keys (oth) are not supported"));
            }
            if raw.d.is_none() {
                return Err(no_private());
            }
            let n = raw.bytes("n", &raw.n)?;
            let e = raw.bytes("e", &raw.e)?;
            let d = raw.bytes("d", &raw.d)?;
            // d = 0 is no key; refused here because recovering p and q from it underflows
            // inside `rsa` (a panic, a trap in WebAssembly) instead of failing.
            if d.iter().all(|b| *b == 0) {
                return Err(invalid_key(
                    "the RSA JWK's private members do not make a valid key",
                ));
            }
            rsa_public(
                BoxedUint::from_be_slice_vartime(&n),
                BoxedUint::from_be_slice_vartime(&e),
            )?;
            let primes = match (&raw.p, &raw.q) {
                (Some(_), Some(_)) => vec![
                    BoxedUint::from_be_slice_vartime(&raw.bytes("p", &raw.p)?),
                    BoxedUint::from_be_slice_vartime(&raw.bytes("q", &raw.q)?),
                ],
                (None, None) => Vec::new(),
                _ => return Err(invalid_key("the RSA JWK has only one of p and q")),
            };
            let key = rsa::PrivateKey::from_components(
                BoxedUint::from_be_slice_vartime(&n),
                BoxedUint::from_be_slice_vartime(&e),
                BoxedUint::from_be_slice_vartime(&d),
                primes,
            )
            .map_err(|_| invalid_key("the RSA JWK's private members do not make a valid key"))?;
            PrivateKey::rsa(key)
        }
        "EC" => {
            let (len, name) = match raw.crv.as_deref() {
                Some("P-256") => (32, "P-256"),
                Some("P-384") => (48, "P-384"),
                Some(_) => return Err(invalid_key("unsupported EC curve (P-256 and P-384 are)")),
                None => return Err(invalid_key("the EC JWK has no crv")),
            };
            if raw.d.is_none() {
                return Err(no_private());
            }
            let d = raw.fixed("d", &raw.d, len)?;
            let point = raw.sec1_point(len)?;
            let mismatch = || invalid_key(format!("the JWK's d, x and y are not one {name} key"));
            if len == 32 {
                let key = p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| mismatch())?;
                if key.verifying_key().to_sec1_point(false).as_bytes() != point.as_slice() {
                    return Err(mismatch());
                }
                Ok(PrivateKey::P256(key))
            } else {
                let key = p384::ecdsa::SigningKey::from_slice(&d).map_err(|_| mismatch())?;
                if key.verifying_key().to_sec1_point(false).as_bytes() != point.as_slice() {
                    return Err(mismatch());
                }
                Ok(PrivateKey::P384(key))
            }
        }
        "OKP" => {
            match raw.crv.as_deref() {
                Some("Ed25519") => {}
                Some(_) => return Err(invalid_key("unsupported OKP curve (Ed25519 is)")),
                None => return Err(invalid_key("the OKP JWK has no crv")),
            }
            if raw.d.is_none() {
                return Err(no_private());
            }
            let d = raw.fixed("d", &raw.d, 32)?;
            let x = raw.fixed("x", &raw.x, 32)?;
            let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
                d.as_slice()
                    .try_into()
                    .map_err(|_| invalid_key("the JWK's d is not 32 bytes long"))?,
            );
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            if key.verifying_key().as_bytes().as_slice() != x.as_slice() {
                return Err(invalid_key("the JWK's d and x are not one Ed25519 key"));
            }
            Ok(PrivateKey::Ed25519(Box::new(key)))
        }
        "oct" => {
            if raw.k.is_none() {
                return Err(no_private());
            }
            PrivateKey::hmac(&raw.bytes("k", &raw.k)?)
        }
        _ => Err(invalid_key(
            "unsupported kty (RSA, EC, OKP and oct are supported)",
        )),
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &REDACTED)
            .finish()
    }
}
