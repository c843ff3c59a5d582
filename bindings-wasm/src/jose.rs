//! JOSE: `SigningKey` (private keys, which sign compact JWS and `private_key_jwt` client
//! assertions), `JwkSet` (public keys, which verify), `VerifiedJws` (what verified), and
//! `JwksCache` (a provider's keys, following its key rotation; sans-IO). Every decision is the
//! core's (`grantline::jose`).

use crate::convert::{
    absent, bytes, get, invalid, known_keys, opt_seconds, or_null, redacted_if, request_to_js,
    response_from_js, set, strings, Failure,
};
use grantline::jose::{Algorithm, Jwk};
use grantline::Error;
use js_sys::{Array, Object, Uint8Array};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

/// An algorithm by its JOSE name (`RS256`, `ES256`, `EdDSA`...).
pub(crate) fn algorithm(name: &str) -> Result<Algorithm, Error> {
    Algorithm::from_name(name).ok_or_else(|| {
        invalid(format!(
            "unknown JWS algorithm {:?} (known: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256)",
            name.chars().take(32).collect::<String>()
        ))
    })
}

/// A list of algorithm names (a single string is a list of one).
pub(crate) fn algorithms(v: &JsValue, what: &str) -> Result<Vec<Algorithm>, Error> {
    strings(v, what)?.iter().map(|n| algorithm(n)).collect()
}

/// Algorithms as their names.
pub(crate) fn algorithm_names(list: &[Algorithm]) -> Array {
    list.iter().map(|a| JsValue::from_str(a.name())).collect()
}

/// A JavaScript object (or its JSON text) as a JSON object: claims, header members.
pub(crate) fn json_object(v: &JsValue, what: &str) -> Result<Map<String, Value>, Error> {
    if absent(v) {
        return Ok(Map::new());
    }
    let text = match v.as_string() {
        Some(s) => s,
        None if v.is_object() && !Array::is_array(v) => js_sys::JSON::stringify(v)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| invalid(format!("{what} cannot be serialized as JSON")))?,
        None => return Err(invalid(format!("{what} must be an object"))),
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!("{what} must be a JSON object"))),
    }
}

/// A JWK given as its JSON text or as an object.
fn jwk_text(v: &JsValue, what: &str) -> Result<String, Error> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    if v.is_object() && !Array::is_array(v) {
        return js_sys::JSON::stringify(v)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| invalid(format!("{what} cannot be serialized as JSON")));
    }
    Err(invalid(format!(
        "{what} must be a JSON string or an object"
    )))
}

// ------------------------------------------------------------------------------ SigningKey

/// A private key that signs compact JWS: a JWT-bearer assertion (RFC 7523 §2.1) of your own,
/// or, given to a `Client` (`signingKey` option), its `private_key_jwt` client assertions.
/// RS256/384/512, PS256/384/512 (RSA), ES256 (P-256), ES384 (P-384), EdDSA (Ed25519) and HS256
/// (a shared secret of at least 32 bytes). A secret: `toString`, `toJSON` (and so
/// `JSON.stringify`, `console.log`) show its algorithm and `kid` only, never key material;
/// `structuredClone()` throws a `DataCloneError`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) inner: grantline::jose::SigningKey,
}

#[wasm_bindgen]
impl SigningKey {
    /// A private JWK (its JSON text, or the parsed object): `RSA` (with `d`, and `p` and `q`),
    /// `EC` P-256 / P-384 (with `d`), `OKP` Ed25519 (with `d`) or `oct` (`k`, at least 32
    /// bytes). The algorithm is the JWK's `alg`, else the key type's default (`RS256`,
    /// `ES256`, `ES384`, `EdDSA`, `HS256`); the `kid` is the JWK's. Throws
    /// `ConfigurationError` (kind `invalid_key`) for a key that cannot sign; the message never
    /// holds key material.
    #[wasm_bindgen(js_name = fromJwk)]
    pub fn from_jwk(
        #[wasm_bindgen(unchecked_param_type = "string | object")] jwk: JsValue,
    ) -> Result<SigningKey, Failure> {
        let text = zeroize::Zeroizing::new(jwk_text(&jwk, "the JWK")?);
        Ok(SigningKey {
            inner: grantline::jose::SigningKey::from_jwk(&text)?,
        })
    }

    /// A PKCS#8 private key in PEM (`-----BEGIN PRIVATE KEY-----`): RSA, EC P-256, EC P-384 or
    /// Ed25519; algorithm `RS256`, `ES256`, `ES384` or `EdDSA` by key type, no `kid` (add them
    /// with `withAlgorithm` and `withKid`). Encrypted keys and the older `RSA PRIVATE KEY` /
    /// `EC PRIVATE KEY` formats are refused (`invalid_key`): convert them with
    /// `openssl pkcs8 -topk8 -nocrypt`.
    #[wasm_bindgen(js_name = fromPem)]
    pub fn from_pem(pem: String) -> Result<SigningKey, Failure> {
        let pem = zeroize::Zeroizing::new(pem);
        Ok(SigningKey {
            inner: grantline::jose::SigningKey::from_pkcs8_pem(&pem)?,
        })
    }

    /// A shared secret for `HS256` (a string as its UTF-8 bytes, or bytes), at least 32 bytes.
    pub fn hmac(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] secret: JsValue,
    ) -> Result<SigningKey, Failure> {
        let secret = zeroize::Zeroizing::new(bytes(&secret, "the secret")?);
        Ok(SigningKey {
            inner: grantline::jose::SigningKey::hmac(&secret)?,
        })
    }

    /// A copy signing with `algorithm` (e.g. `PS256` for an RSA key); throws
    /// `ConfigurationError` (`invalid_key`) when the key cannot.
    #[wasm_bindgen(js_name = withAlgorithm)]
    pub fn with_algorithm(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JwsAlgorithm")] algorithm: &str,
    ) -> Result<SigningKey, Failure> {
        Ok(SigningKey {
            inner: self
                .inner
                .clone()
                .with_algorithm(self::algorithm(algorithm)?)?,
        })
    }

    /// A copy putting `kid` in every header it signs (the id the server knows the key by).
    #[wasm_bindgen(js_name = withKid)]
    pub fn with_kid(&self, kid: String) -> SigningKey {
        SigningKey {
            inner: self.inner.clone().with_kid(kid),
        }
    }

    /// The algorithm this key signs with.
    #[wasm_bindgen(getter, unchecked_return_type = "JwsAlgorithm")]
    pub fn algorithm(&self) -> String {
        self.inner.algorithm().name().to_owned()
    }

    /// The `kid` put in the header, when there is one.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> Option<String> {
        self.inner.kid().map(str::to_owned)
    }

    /// The public key as a JWK (JSON text, with this key's `kid`, `alg` and `use: sig`): to
    /// register with the authorization server, or publish at your `jwks_uri`. `undefined` for
    /// an HS256 secret, which has no public part.
    #[wasm_bindgen(js_name = publicJwk)]
    pub fn public_jwk(&self) -> Option<String> {
        self.inner.public_jwk().and_then(|k| k.to_public_json())
    }

    /// Signs `claims` (an object, or its JSON text) as a compact JWS (`header.payload.signature`):
    /// the header is `alg`, this key's `kid` and the members of `header` (e.g.
    /// `{ typ: 'JWT' }`; it may not set `alg`, `crit` or `b64`). Throws `ConfigurationError`
    /// (`invalid_input`) for claims or a header that are not JSON objects.
    pub fn sign(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown> | string")] claims: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] header: Option<Object>,
    ) -> Result<String, Failure> {
        let claims = json_object(&claims, "the claims")?;
        let header = json_object(&crate::types::js(header), "the header")?;
        Ok(self.inner.sign(&header, &claims)?)
    }

    /// Signs any payload (a string as its UTF-8 bytes, or bytes) as a compact JWS; `header` as
    /// in `sign`.
    #[wasm_bindgen(js_name = signPayload)]
    pub fn sign_payload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] payload: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] header: Option<Object>,
    ) -> Result<String, Failure> {
        let payload = bytes(&payload, "the payload")?;
        let header = json_object(&crate::types::js(header), "the header")?;
        Ok(self.inner.sign_payload(&header, &payload)?)
    }

    /// A copy, for the options objects that take a key (the original stays usable).
    #[wasm_bindgen(js_name = __copy, skip_typescript)]
    pub fn copy(&self) -> SigningKey {
        self.clone()
    }

    /// `SigningKey(<alg>, kid <kid>)`: never key material.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        match self.inner.kid() {
            Some(kid) => format!(
                "SigningKey({}, kid {kid:?}, [redacted])",
                self.inner.algorithm()
            ),
            None => format!("SigningKey({}, [redacted])", self.inner.algorithm()),
        }
    }

    /// The view `JSON.stringify()` and `console.log` show: `{ algorithm, kid, key:
    /// '[redacted]' }`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "SigningKeyView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "algorithm", self.inner.algorithm().name());
        set(&o, "kid", or_null(self.inner.kid()));
        set(&o, "key", redacted_if(true));
        o.into()
    }
}

// ------------------------------------------------------------------------------ JwkSet

/// A set of public keys (RFC 7517 §5), e.g. a provider's `jwks_uri` document, that verifies
/// compact JWS. Keys grantline cannot use are skipped (`skipped` counts them). An `oct` key (a
/// shared secret) is never shown.
#[wasm_bindgen]
#[derive(Clone)]
pub struct JwkSet {
    pub(crate) inner: grantline::jose::JwkSet,
}

fn key_summary(k: &Jwk) -> JsValue {
    let o = Object::new();
    set(&o, "kty", k.key_type());
    set(&o, "crv", or_null(k.curve()));
    set(&o, "kid", or_null(k.kid()));
    set(&o, "alg", or_null(k.alg()));
    set(&o, "use", or_null(k.key_use()));
    o.into()
}

#[wasm_bindgen]
impl JwkSet {
    /// Parses a JWK Set document (`{"keys": [...]}`, its JSON text). Throws
    /// `ConfigurationError` (kind `invalid_key`) for a document that is not one, is longer
    /// than 1 MiB or holds more than 100 keys.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(text: &str) -> Result<JwkSet, Failure> {
        Ok(JwkSet {
            inner: grantline::jose::JwkSet::from_json(text)?,
        })
    }

    /// A set of one JWK (its JSON text or object); throws `invalid_key` when it cannot be used.
    #[wasm_bindgen(js_name = fromJwk)]
    pub fn from_jwk(
        #[wasm_bindgen(unchecked_param_type = "string | object")] jwk: JsValue,
    ) -> Result<JwkSet, Failure> {
        let key = Jwk::from_json(&jwk_text(&jwk, "the JWK")?)?;
        Ok(JwkSet {
            inner: grantline::jose::JwkSet::new(vec![key]),
        })
    }

    /// The usable keys, in document order: `{ kty, crv, kid, alg, use }` each (`null` when
    /// absent).
    #[wasm_bindgen(getter, unchecked_return_type = "JwkSummary[]")]
    pub fn keys(&self) -> Array {
        self.inner.keys().iter().map(key_summary).collect()
    }

    /// How many entries of the document were skipped as unusable.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> u32 {
        u32::try_from(self.inner.skipped()).unwrap_or(u32::MAX)
    }

    /// Verifies a compact JWS with these keys, accepting only `algorithms` (from your
    /// configuration or the server's metadata, never from the token). Throws
    /// `TokenValidationError` (kind `jws`, with `problem`: `alg_none`, `bad_signature`,
    /// `no_matching_key`...) when it does not verify.
    pub fn verify(
        &self,
        token: &str,
        #[wasm_bindgen(unchecked_param_type = "JwsAlgorithm[]")] algorithms: JsValue,
    ) -> Result<VerifiedJws, Failure> {
        let accepted = self::algorithms(&algorithms, "algorithms")?;
        Ok(VerifiedJws {
            inner: self.inner.verify(token, &accepted)?,
        })
    }

    /// A copy, for the options objects that take a set (the original stays usable).
    #[wasm_bindgen(js_name = __copy, skip_typescript)]
    pub fn copy(&self) -> JwkSet {
        self.clone()
    }

    /// `JwkSet(<n> keys)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("JwkSet({} keys)", self.inner.keys().len())
    }

    /// The view `JSON.stringify()` shows: `{ keys, skipped }` (the summaries, no key material).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ keys: JwkSummary[], skipped: number }")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "keys", self.keys());
        set(&o, "skipped", self.skipped());
        o.into()
    }
}

// ------------------------------------------------------------------------------ VerifiedJws

/// A JWS whose signature verified: its algorithm, `kid`, protected header and payload. The
/// payload may hold personal data: `toJSON` shows the algorithm, the `kid` and the payload's
/// length only.
#[wasm_bindgen]
#[derive(Clone)]
pub struct VerifiedJws {
    pub(crate) inner: grantline::jose::VerifiedJws,
}

#[wasm_bindgen]
impl VerifiedJws {
    /// The algorithm the signature was checked with.
    #[wasm_bindgen(getter, unchecked_return_type = "JwsAlgorithm")]
    pub fn algorithm(&self) -> String {
        self.inner.algorithm().name().to_owned()
    }

    /// The header's `kid`, when it had one.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> Option<String> {
        self.inner.kid().map(str::to_owned)
    }

    /// The protected header.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn header(&self) -> JsValue {
        crate::tokens::json_value(&Value::Object(self.inner.header().clone()))
    }

    /// The payload bytes.
    #[wasm_bindgen(getter)]
    pub fn payload(&self) -> Uint8Array {
        Uint8Array::from(self.inner.payload())
    }

    /// The payload as a JSON object (a JWT's claims); throws `TokenValidationError` (`jws`,
    /// problem `malformed`) when it is not one.
    #[wasm_bindgen(unchecked_return_type = "Record<string, unknown>")]
    pub fn claims(&self) -> Result<JsValue, Failure> {
        Ok(crate::tokens::json_value(&Value::Object(
            self.inner.claims()?,
        )))
    }

    /// `VerifiedJws(<alg>, kid <kid>)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// `{ algorithm, kid, payloadLength }`: never the payload.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ algorithm: JwsAlgorithm, kid: string | null, payloadLength: number }")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "algorithm", self.inner.algorithm().name());
        set(&o, "kid", or_null(self.inner.kid()));
        set(&o, "payloadLength", self.inner.payload().len() as f64);
        o.into()
    }
}

// ------------------------------------------------------------------------------ JwksCache

/// A provider's JWK Set, kept between verifications and fetched again when a token names a key
/// it does not hold (key rotation), at most once per `minRefetch` seconds (default 60), or when
/// it is older than `maxAge`, as the core decides from `now`. Sans-IO: `verify()` answers `{ next: 'verified', jws }` or
/// `{ next: 'fetch' }` (send `request()`, hand the answer to `receive()`, then `verify()` the
/// same token again: the loop always ends). A `Client` keeps one of these itself for
/// `validateIdToken` and `userinfo`.
#[wasm_bindgen]
pub struct JwksCache {
    pub(crate) inner: grantline::JwksCache,
}

#[wasm_bindgen]
impl JwksCache {
    /// An empty cache for the JWK Set at `jwksUri`. `options`: `minRefetch` (seconds between
    /// two fetches decided by an unknown key), `maxAge` (seconds a fetched set is trusted
    /// before it is fetched again), `keys` (a `JwkSet` already held) with
    /// `fetchedAt` (when it was fetched, Unix seconds; required with `keys`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        jwks_uri: &str,
        #[wasm_bindgen(
            unchecked_optional_param_type = "{ minRefetch?: number, maxAge?: number, keys?: JwkSet, fetchedAt?: number }"
        )]
        options: JsValue,
    ) -> Result<JwksCache, Failure> {
        known_keys(
            &options,
            "JwksCache",
            &["minRefetch", "maxAge", "keys", "fetchedAt"],
        )?;
        let mut inner = grantline::JwksCache::new(jwks_uri)?;
        if let Some(s) = opt_seconds(&get(&options, "minRefetch"), "minRefetch")? {
            inner = inner.with_min_refetch(s);
        }
        if let Some(s) = opt_seconds(&get(&options, "maxAge"), "maxAge")? {
            inner = inner.with_max_age(s);
        }
        let keys = get(&options, "keys");
        let fetched_at = opt_seconds(&get(&options, "fetchedAt"), "fetchedAt")?;
        if !absent(&keys) {
            let set = jwk_set_arg(&keys)?;
            let at = fetched_at.ok_or_else(|| invalid("keys need fetchedAt"))?;
            inner = inner.with_keys(set, at);
        } else if fetched_at.is_some() {
            return Err(Failure(invalid("fetchedAt goes with keys")));
        }
        Ok(JwksCache { inner })
    }

    /// The JWK Set's URL.
    #[wasm_bindgen(getter, js_name = jwksUri)]
    pub fn jwks_uri(&self) -> String {
        self.inner.jwks_uri().to_owned()
    }

    /// When the set was last fetched (Unix seconds; successfully or not), if ever.
    #[wasm_bindgen(getter, js_name = fetchedAt)]
    pub fn fetched_at(&self) -> Option<f64> {
        self.inner.fetched_at().map(|s| s as f64)
    }

    /// The keys held, when a set was fetched.
    #[wasm_bindgen(getter)]
    pub fn keys(&self) -> Option<JwkSet> {
        self.inner.keys().map(|k| JwkSet { inner: k.clone() })
    }

    /// The request that fetches the set: `GET jwksUri`, `accept: application/jwk-set+json,
    /// application/json`.
    #[wasm_bindgen(unchecked_return_type = "HttpRequest")]
    pub fn request(&self) -> JsValue {
        request_to_js(&self.inner.request())
    }

    /// Takes the answer to `request()` (`{ status, headers, body }`) received at `now` (Unix
    /// seconds; default: now). Throws for a non-200 answer or a body that is no JWK Set (the
    /// keys held before are kept); either way it counts as a fetch.
    pub fn receive(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
        now: Option<f64>,
    ) -> Result<(), Failure> {
        let response = response_from_js(&response)?;
        Ok(self
            .inner
            .receive(&response, crate::convert::now_or(now)?)?)
    }

    /// Verifies `token` with the keys held, accepting `algorithms` (never `HS256`), at `now`
    /// (default: now): `{ next: 'verified', jws }`, or `{ next: 'fetch' }`. Throws
    /// `TokenValidationError` (kind `jws`) when the token is refused.
    #[wasm_bindgen(unchecked_return_type = "JwksStep")]
    pub fn verify(
        &self,
        token: &str,
        #[wasm_bindgen(unchecked_param_type = "JwsAlgorithm[]")] algorithms: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, Failure> {
        let accepted = self::algorithms(&algorithms, "algorithms")?;
        let o = Object::new();
        match self
            .inner
            .verify(token, &accepted, crate::convert::now_or(now)?)?
        {
            grantline::JwksStep::Verified(v) => {
                set(&o, "next", "verified");
                set(&o, "jws", VerifiedJws { inner: v });
            }
            grantline::JwksStep::Fetch => set(&o, "next", "fetch"),
        }
        Ok(o.into())
    }

    /// `JwksCache(<jwksUri>)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("JwksCache({})", self.inner.jwks_uri())
    }

    /// `{ jwksUri, fetchedAt, keys }` (`keys`: the key summaries, `null` before a fetch).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ jwksUri: string, fetchedAt: number | null, keys: JwkSummary[] | null }")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "jwksUri", self.inner.jwks_uri());
        set(&o, "fetchedAt", or_null(self.fetched_at()));
        set(&o, "keys", or_null(self.keys().map(|k| k.keys())));
        o.into()
    }
}

/// A `JwkSet` argument (a `JwkSet` instance, or a JWK Set document's JSON text).
pub(crate) fn jwk_set_arg(v: &JsValue) -> Result<grantline::jose::JwkSet, Error> {
    if let Some(text) = v.as_string() {
        return grantline::jose::JwkSet::from_json(&text);
    }
    crate::convert::instance::<JwkSet>(v)
        .map(|k| k.inner)
        .ok_or_else(|| invalid("keys must be a JwkSet or a JWK Set document (JSON text)"))
}
