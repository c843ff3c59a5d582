//! JOSE: signing keys (for JWT client authentication and RFC 7523 assertions), JWK Sets,
//! verified JWS, and the sans-IO JWKS cache that follows a signer's key rotation. Every
//! decision (which key, which algorithm, when to fetch again) is the core's
//! ([`grantline::jose`]); this module converts types.
//!
//! Claims and headers cross the FFI as JSON text (Kotlin and Swift have no shared JSON type):
//! `sign(claimsJson, headerJson)`, `VerifiedJws.claimsJson()`.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::error::GrantlineError;
use crate::http::{HttpRequest, HttpResponse};

/// A JWS algorithm grantline speaks (RFC 7518 §3, RFC 8037). Names on the wire: `RS256`,
/// `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`, `HS256`
/// ([`jws_algorithm_name`], [`jws_algorithm_from_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDsa,
    /// HMAC with SHA-256 (`client_secret_jwt`; never from a `jwks_uri`).
    Hs256,
}

impl From<JwsAlgorithm> for grantline::jose::Algorithm {
    fn from(a: JwsAlgorithm) -> Self {
        use grantline::jose::Algorithm as C;
        match a {
            JwsAlgorithm::Rs256 => C::Rs256,
            JwsAlgorithm::Rs384 => C::Rs384,
            JwsAlgorithm::Rs512 => C::Rs512,
            JwsAlgorithm::Ps256 => C::Ps256,
            JwsAlgorithm::Ps384 => C::Ps384,
            JwsAlgorithm::Ps512 => C::Ps512,
            JwsAlgorithm::Es256 => C::Es256,
            JwsAlgorithm::Es384 => C::Es384,
            JwsAlgorithm::EdDsa => C::EdDsa,
            JwsAlgorithm::Hs256 => C::Hs256,
        }
    }
}

impl From<grantline::jose::Algorithm> for JwsAlgorithm {
    /// The core's enum is `#[non_exhaustive]`; the test below fails when it lists an algorithm
    /// this binding does not (the fallback arm is then reachable and must get its variant).
    fn from(a: grantline::jose::Algorithm) -> Self {
        use grantline::jose::Algorithm as C;
        match a {
            C::Rs384 => JwsAlgorithm::Rs384,
            C::Rs512 => JwsAlgorithm::Rs512,
            C::Ps256 => JwsAlgorithm::Ps256,
            C::Ps384 => JwsAlgorithm::Ps384,
            C::Ps512 => JwsAlgorithm::Ps512,
            C::Es256 => JwsAlgorithm::Es256,
            C::Es384 => JwsAlgorithm::Es384,
            C::EdDsa => JwsAlgorithm::EdDsa,
            C::Hs256 => JwsAlgorithm::Hs256,
            _ => JwsAlgorithm::Rs256,
        }
    }
}

/// The JOSE name of `algorithm` (`RS256`, `EdDSA`...).
#[uniffi::export]
pub fn jws_algorithm_name(algorithm: JwsAlgorithm) -> String {
    grantline::jose::Algorithm::from(algorithm)
        .name()
        .to_owned()
}

/// The algorithm of a JOSE name (exact, case-sensitive), `null`/`nil` for one grantline does
/// not speak (`none` included).
#[uniffi::export]
pub fn jws_algorithm_from_name(name: String) -> Option<JwsAlgorithm> {
    grantline::jose::Algorithm::from_name(&name).map(Into::into)
}

pub(crate) fn algorithms(list: &[JwsAlgorithm]) -> Vec<grantline::jose::Algorithm> {
    list.iter().map(|a| (*a).into()).collect()
}

/// A JSON object from the caller (claims, a header): anything else is `invalid_input`.
pub(crate) fn json_object(text: &str, what: &str) -> Result<Map<String, Value>, GrantlineError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GrantlineError::invalid(format!(
            "the {what} must be a JSON object"
        ))),
    }
}

/// A private key that signs JWS: client assertions (`private_key_jwt`), RFC 7523 JWT bearer
/// assertions, anything else. A secret: printing it shows the algorithm and `kid` only, and the
/// key material is zeroized when the object is freed.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct SigningKey {
    pub(crate) inner: grantline::jose::SigningKey,
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl SigningKey {
    /// A key from a private JWK (JSON text): RSA (≥ 2048 bits), EC P-256 / P-384, OKP Ed25519,
    /// or `oct` (HS256). Its `alg` and `kid` are kept; without `alg`, the key type's default
    /// (`RS256`, `ES256`, `ES384`, `EdDSA`, `HS256`).
    ///
    /// # Errors
    /// `InvalidKey` for anything else (a public JWK, a weak RSA key, `use` not `sig`...). The
    /// error never shows key material.
    #[uniffi::constructor]
    pub fn from_jwk(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(SigningKey {
            inner: grantline::jose::SigningKey::from_jwk(&json)?,
        }))
    }

    /// A key from an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`): RSA, P-256, P-384
    /// or Ed25519; no `kid` (add one with [`SigningKey::with_kid`]).
    ///
    /// # Errors
    /// `InvalidKey`.
    #[uniffi::constructor]
    pub fn from_pkcs8_pem(pem: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(SigningKey {
            inner: grantline::jose::SigningKey::from_pkcs8_pem(&pem)?,
        }))
    }

    /// This key signing with `algorithm` (`PS256` for an RSA key...).
    ///
    /// # Errors
    /// `InvalidKey` when the key cannot sign with it.
    pub fn with_algorithm(&self, algorithm: JwsAlgorithm) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(SigningKey {
            inner: self.inner.clone().with_algorithm(algorithm.into())?,
        }))
    }

    /// This key with `kid` in the header of what it signs.
    pub fn with_kid(&self, kid: String) -> Arc<Self> {
        Arc::new(SigningKey {
            inner: self.inner.clone().with_kid(kid),
        })
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.algorithm().into()
    }

    /// The `kid`, when it has one.
    pub fn kid(&self) -> Option<String> {
        self.inner.kid().map(str::to_owned)
    }

    /// The public JWK (JSON text) to register with the server; `null`/`nil` for an HMAC key,
    /// which has no public part.
    pub fn public_jwk(&self) -> Option<String> {
        self.inner.public_jwk().and_then(|k| k.to_public_json())
    }

    /// Signs `claims_json` (a JSON object) as a compact JWS. The header is `alg`, the key's
    /// `kid` and the members of `header_json` (a JSON object, e.g. `{"typ":"JWT"}`), which may
    /// not set `alg`, `crit` or `b64`.
    ///
    /// # Errors
    /// `Configuration` (`invalid_input`) when `claims_json` or `header_json` is not a JSON
    /// object, or the header sets a refused member; `Configuration` (`random`).
    #[uniffi::method(default(header_json = None))]
    pub fn sign(
        &self,
        claims_json: String,
        header_json: Option<String>,
    ) -> Result<String, GrantlineError> {
        let claims = json_object(&claims_json, "claims")?;
        let header = match header_json {
            Some(h) => json_object(&h, "header")?,
            None => Map::new(),
        };
        Ok(self.inner.sign(&header, &claims)?)
    }

    /// Signs any payload bytes as a compact JWS (see [`SigningKey::sign`]).
    ///
    /// # Errors
    /// As [`SigningKey::sign`].
    #[uniffi::method(default(header_json = None))]
    pub fn sign_payload(
        &self,
        payload: Vec<u8>,
        header_json: Option<String>,
    ) -> Result<String, GrantlineError> {
        let header = match header_json {
            Some(h) => json_object(&h, "header")?,
            None => Map::new(),
        };
        Ok(self.inner.sign_payload(&header, &payload)?)
    }
}

/// What a usable key of a [`JwkSet`] (or a [`Jwk`]) is, without its material.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JwkInfo {
    /// `RSA`, `EC`, `OKP` or `oct`.
    pub kty: String,
    /// The curve (`P-256`, `P-384`, `Ed25519`); none for RSA and oct.
    pub crv: Option<String>,
    /// The `kid`, when given.
    pub kid: Option<String>,
    /// The `alg`, when given.
    pub alg: Option<String>,
    /// The `use`, when given.
    pub key_use: Option<String>,
}

fn info(k: &grantline::jose::Jwk) -> JwkInfo {
    JwkInfo {
        kty: k.key_type().to_owned(),
        crv: k.curve().map(str::to_owned),
        kid: k.kid().map(str::to_owned),
        alg: k.alg().map(str::to_owned),
        key_use: k.key_use().map(str::to_owned),
    }
}

/// One public JWK (RFC 7517), to verify JWS with. Printing it shows no key material.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Jwk {
    inner: grantline::jose::Jwk,
}

impl fmt::Display for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export]
impl Jwk {
    /// Parses one JWK (JSON text); the private members of a private JWK are ignored.
    ///
    /// # Errors
    /// `InvalidKey`: an unsupported key type or curve, a malformed member, an RSA key under
    /// 2048 bits, an EC point off its curve.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(Jwk {
            inner: grantline::jose::Jwk::from_json(&json)?,
        }))
    }
    /// What the key is.
    pub fn info(&self) -> JwkInfo {
        info(&self.inner)
    }
    /// The public JWK as JSON text (`null`/`nil` for an `oct` key: it has no public part).
    pub fn public_json(&self) -> Option<String> {
        self.inner.to_public_json()
    }
    /// Verifies the compact JWS `token` with this key, accepting only `algorithms`.
    ///
    /// # Errors
    /// `Jws` with its `problem` (`malformed`, `too_large`, `alg_none`,
    /// `algorithm_not_accepted`, `unsupported_critical`, `unencoded_payload`, `key_mismatch`,
    /// `bad_signature`...).
    pub fn verify(
        &self,
        token: String,
        algorithms: Vec<JwsAlgorithm>,
    ) -> Result<Arc<VerifiedJws>, GrantlineError> {
        Ok(verified(
            self.inner.verify(&token, &self::algorithms(&algorithms))?,
        ))
    }
}

/// A JWK Set (RFC 7517 §5), e.g. a provider's `jwks_uri` document. Keys grantline cannot use
/// (another `kty`, an encryption key...) are skipped and counted.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct JwkSet {
    pub(crate) inner: grantline::jose::JwkSet,
}

impl fmt::Display for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JwkSet({} keys, {} skipped)",
            self.inner.keys().len(),
            self.inner.skipped()
        )
    }
}

#[uniffi::export]
impl JwkSet {
    /// Parses a JWK Set document (JSON text).
    ///
    /// # Errors
    /// `InvalidKey` for a document that is not a JWK Set (no `keys` array, too many keys, too
    /// long).
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, GrantlineError> {
        Ok(Arc::new(JwkSet {
            inner: grantline::jose::JwkSet::from_json(&json)?,
        }))
    }
    /// The usable keys, in document order.
    pub fn keys(&self) -> Vec<JwkInfo> {
        self.inner.keys().iter().map(info).collect()
    }
    /// How many keys were skipped as unusable.
    pub fn skipped(&self) -> i64 {
        crate::num::out(u64::try_from(self.inner.skipped()).unwrap_or(u64::MAX))
    }
    /// Verifies the compact JWS `token` with the key its header names (`kid`, else every key
    /// that fits), accepting only `algorithms`.
    ///
    /// # Errors
    /// `Jws` with its `problem` (`no_matching_key` among others).
    pub fn verify(
        &self,
        token: String,
        algorithms: Vec<JwsAlgorithm>,
    ) -> Result<Arc<VerifiedJws>, GrantlineError> {
        Ok(verified(
            self.inner.verify(&token, &self::algorithms(&algorithms))?,
        ))
    }
}

/// A JWS whose signature verified. Printing it shows the algorithm, `kid` and payload length
/// only (the payload may hold personal data).
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct VerifiedJws {
    pub(crate) inner: grantline::jose::VerifiedJws,
}

impl fmt::Display for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

pub(crate) fn verified(inner: grantline::jose::VerifiedJws) -> Arc<VerifiedJws> {
    Arc::new(VerifiedJws { inner })
}

#[uniffi::export]
impl VerifiedJws {
    /// The algorithm the signature verified with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.algorithm().into()
    }
    /// The header's `kid`, when it had one.
    pub fn kid(&self) -> Option<String> {
        self.inner.kid().map(str::to_owned)
    }
    /// The protected header, as JSON text.
    pub fn header_json(&self) -> String {
        Value::Object(self.inner.header().clone()).to_string()
    }
    /// The payload bytes.
    pub fn payload(&self) -> Vec<u8> {
        self.inner.payload().to_vec()
    }
    /// The payload as a JSON object (JSON text): a JWT's claims.
    ///
    /// # Errors
    /// `Jws` (`malformed`) when the payload is not a JSON object.
    pub fn claims_json(&self) -> Result<String, GrantlineError> {
        Ok(Value::Object(self.inner.claims()?).to_string())
    }
}

/// What [`JwksCache::verify`] asks of its caller.
#[derive(uniffi::Enum)]
pub enum JwksStep {
    /// The signature verified: check the claims next (`IdTokenCheck.validate`).
    Verified {
        /// The verified JWS.
        jws: Arc<VerifiedJws>,
    },
    /// Send `request()`, hand the answer to `receive(response, now)`, then call `verify`
    /// again with the same token.
    Fetch,
}

/// A provider's JWK Set (its `jwks_uri`), kept between verifications and fetched again when a
/// token names a key it does not hold, at most once per `minRefetch` seconds (the core
/// decides from `now`). Sans-IO: the convenient layer (`Client.validateIdToken`) drives one per
/// client; drive your own with `verify` / `request` / `receive`. Safe to share between threads.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct JwksCache {
    inner: Mutex<grantline::jose::JwksCache>,
}

impl fmt::Display for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        write!(
            f,
            "JwksCache({}, {} keys, fetched at {:?})",
            inner.jwks_uri(),
            inner.keys().map_or(0, |k| k.keys().len()),
            inner.fetched_at()
        )
    }
}

impl JwksCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, grantline::jose::JwksCache> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[uniffi::export]
impl JwksCache {
    /// An empty cache for the JWK Set at `jwks_uri`; `min_refetch`: the shortest time between
    /// two fetches decided by an unknown key, in seconds (none: 60); `max_age`: how long a
    /// fetched set is trusted before it is fetched again, in seconds (none: the core's 600);
    /// `keys` with `fetched_at`: a set already held (restored, or configured).
    ///
    /// # Errors
    /// `Configuration` (`insecure_endpoint`, `invalid_input`) for a URL that is not an
    /// `https://` (or loopback `http://`) URL.
    #[uniffi::constructor(default(min_refetch = None, max_age = None, keys = None, fetched_at = 0))]
    pub fn new(
        jwks_uri: String,
        min_refetch: Option<i64>,
        max_age: Option<i64>,
        keys: Option<Arc<JwkSet>>,
        fetched_at: i64,
    ) -> Result<Arc<Self>, GrantlineError> {
        let mut cache = grantline::jose::JwksCache::new(&jwks_uri)?;
        if let Some(s) = min_refetch {
            cache = cache.with_min_refetch(crate::num::seconds(s));
        }
        if let Some(s) = max_age {
            cache = cache.with_max_age(crate::num::seconds(s));
        }
        if let Some(keys) = keys {
            cache = cache.with_keys(keys.inner.clone(), crate::num::seconds(fetched_at));
        }
        Ok(Arc::new(JwksCache {
            inner: Mutex::new(cache),
        }))
    }

    /// The JWK Set's URL.
    pub fn jwks_uri(&self) -> String {
        self.lock().jwks_uri().to_owned()
    }
    /// When the set was last fetched (successfully or not), Unix seconds.
    pub fn fetched_at(&self) -> Option<i64> {
        crate::num::out_opt(self.lock().fetched_at())
    }
    /// The keys held, when a set was fetched.
    pub fn keys(&self) -> Option<Vec<JwkInfo>> {
        self.lock()
            .keys()
            .map(|k| k.keys().iter().map(info).collect())
    }
    /// The request that fetches the set (`GET jwks_uri`).
    pub fn request(&self) -> Arc<HttpRequest> {
        crate::http::request(self.lock().request())
    }
    /// Takes the answer to [`JwksCache::request`], received at `now`: a 200 with a JWK Set
    /// replaces the keys. Either way `now` counts as a fetch.
    ///
    /// # Errors
    /// `MalformedResponse` (`unexpected_status`, `malformed`); the keys held before are kept.
    pub fn receive(&self, response: &HttpResponse, now: i64) -> Result<(), GrantlineError> {
        let response = response.to_http()?;
        Ok(self.lock().receive(&response, crate::num::seconds(now))?)
    }
    /// Verifies `token` with the keys held, or asks for a fetch ([`JwksStep::Fetch`]).
    ///
    /// # Errors
    /// `Jws` (its `problem`; `no_matching_key` for a key still unknown within the refetch
    /// interval); `Configuration` (`invalid_input`) when `algorithms` holds no asymmetric one.
    pub fn verify(
        &self,
        token: String,
        algorithms: Vec<JwsAlgorithm>,
        now: i64,
    ) -> Result<JwksStep, GrantlineError> {
        let step = self.lock().verify(
            &token,
            &self::algorithms(&algorithms),
            crate::num::seconds(now),
        )?;
        Ok(match step {
            grantline::JwksStep::Verified(v) => JwksStep::Verified { jws: verified(v) },
            grantline::JwksStep::Fetch => JwksStep::Fetch,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_core_algorithm_has_its_own_variant() {
        for core in grantline::jose::Algorithm::ALL {
            let ours = JwsAlgorithm::from(core);
            assert_eq!(jws_algorithm_name(ours), core.name());
            assert_eq!(grantline::jose::Algorithm::from(ours), core);
            assert_eq!(jws_algorithm_from_name(core.name().into()), Some(ours));
        }
        assert_eq!(jws_algorithm_from_name("none".into()), None);
    }

    #[test]
    fn a_signing_key_prints_no_key_material() {
        let d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
        let key = SigningKey::from_jwk(format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"{d}","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}"#
        ))
        .unwrap();
        let shown = format!("{key} {key:?}");
        assert!(!shown.contains(d), "{shown}");
        assert!(key.public_jwk().unwrap().contains("11qYAYKx"));
        assert!(!key.public_jwk().unwrap().contains(d));
        let token = key.sign(r#"{"sub":"a"}"#.into(), None).unwrap();
        let set =
            JwkSet::from_json(format!(r#"{{"keys":[{}]}}"#, key.public_jwk().unwrap())).unwrap();
        let verified = set.verify(token, vec![JwsAlgorithm::EdDsa]).unwrap();
        assert_eq!(verified.claims_json().unwrap(), r#"{"sub":"a"}"#);
        assert!(matches!(
            key.sign("[1]".into(), None),
            Err(GrantlineError::Configuration { ref kind, .. }) if kind == "invalid_input"
        ));
    }
}
