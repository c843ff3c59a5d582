//! A JWK Set that follows its signer's key rotation, sans-IO.

use http::header::ACCEPT;
use http::HeaderValue;

use super::{verify_with, Algorithm, Compact, JwkSet, JwsProblem, VerifiedJws, MAX_JWK_SET};
use crate::provider::{Endpoint, Provider};
use crate::Error;

/// The shortest time between two fetches of a JWK Set decided by an unknown key, by default.
pub const DEFAULT_MIN_REFETCH: u64 = 60;

/// How long a fetched JWK Set is trusted before it is fetched again, by default (10 minutes,
/// as `jose`'s remote key sets do): a key the signer withdrew stops verifying within it.
pub const DEFAULT_MAX_AGE: u64 = 600;

/// What [`JwksCache::verify`] asks of its caller.
#[derive(Debug)]
#[must_use]
pub enum JwksStep {
    /// The signature verified: check the claims next (e.g. with
    /// [`IdTokenCheck`](crate::oidc::IdTokenCheck)).
    Verified(VerifiedJws),
    /// Send [`JwksCache::request`], hand the answer to [`JwksCache::receive`], then call
    /// [`JwksCache::verify`] again with the same token.
    Fetch,
}

/// A provider's JWK Set (its `jwks_uri`), kept between verifications and fetched again when a
/// token names a key it does not hold: the signer rotated its keys.
///
/// The cache never touches the network or the clock. [`verify`](Self::verify) answers
/// [`JwksStep::Fetch`] when there is no set yet, or when no key fits the token
/// ([`JwsProblem::NoMatchingKey`]) and the last fetch is at least
/// [`min_refetch`](Self::with_min_refetch) seconds old (default [`DEFAULT_MIN_REFETCH`]);
/// otherwise it verifies or refuses. Within that interval an unknown key is refused, so a
/// stream of tokens with made-up `kid`s causes at most one fetch per interval, and the loop
/// below always ends:
///
/// ```
/// # use grantline::jose::{Algorithm, JwksCache, JwksStep, SigningKey};
/// # let key = SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
/// #   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
/// # let token = key.sign(&Default::default(), &Default::default())?;
/// # let jwks = format!(r#"{{"keys":[{}]}}"#, key.public_jwk().unwrap().to_public_json().unwrap());
/// # let send = |_r: http::Request<Vec<u8>>| http::Response::builder().status(200).body(jwks.clone().into_bytes()).unwrap();
/// let mut cache = JwksCache::new("https://as.example/jwks")?;
/// let now = 1_700_000_000;
/// let verified = loop {
///     match cache.verify(&token, &[Algorithm::EdDsa], now)? {
///         JwksStep::Verified(verified) => break verified,
///         JwksStep::Fetch => cache.receive(&send(cache.request()), now)?,
///     }
/// };
/// assert_eq!(verified.kid(), Some("k1"));
/// # Ok::<(), grantline::Error>(())
/// ```
///
/// A set older than [`max_age`](Self::with_max_age) (default [`DEFAULT_MAX_AGE`]) is fetched
/// again before it verifies anything, so a key the signer withdrew (a compromised one) stops
/// being trusted. A failed fetch (a non-200 answer, a document that is not a JWK Set) is an
/// error and keeps the keys held before; it counts as a fetch for the interval, so for
/// `min_refetch` seconds after it the old keys go on verifying (an outage of the JWKS endpoint
/// costs one failed verification per interval, not every one). Symmetric keys never come from
/// a `jwks_uri`: `HS256` is not accepted here (verify such tokens with
/// [`Jwk::hmac`](super::Jwk::hmac) and the client secret).
#[derive(Debug, Clone)]
pub struct JwksCache {
    url: String,
    uri: http::Uri,
    keys: Option<JwkSet>,
    /// The last fetch, successful or not.
    fetched_at: Option<u64>,
    /// The last successful fetch.
    keys_at: Option<u64>,
    min_refetch: u64,
    max_age: u64,
}

impl JwksCache {
    /// An empty cache for the JWK Set at `jwks_uri`.
    ///
    /// # Errors
    /// [`Error::InsecureEndpoint`] or [`Error::InvalidInput`] for a URL that fails the endpoint
    /// checks of [`ProviderBuilder::build`](crate::ProviderBuilder::build).
    pub fn new(jwks_uri: &str) -> Result<Self, Error> {
        Ok(JwksCache {
            uri: crate::urls::check_endpoint(jwks_uri)?,
            url: jwks_uri.to_owned(),
            keys: None,
            fetched_at: None,
            keys_at: None,
            min_refetch: DEFAULT_MIN_REFETCH,
            max_age: DEFAULT_MAX_AGE,
        })
    }

    /// An empty cache for `provider`'s [`jwks_uri`](Provider::jwks_uri).
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] (`jwks`) when the provider has none; as [`JwksCache::new`].
    pub fn for_provider(provider: &Provider) -> Result<Self, Error> {
        let uri = provider.jwks_uri().ok_or(Error::MissingEndpoint {
            endpoint: Endpoint::Jwks,
        })?;
        Self::new(uri)
    }

    /// The same cache holding `keys`, as fetched at `fetched_at` (restored from storage, or
    /// configured).
    #[must_use]
    pub fn with_keys(mut self, keys: JwkSet, fetched_at: u64) -> Self {
        self.keys = Some(keys);
        self.fetched_at = Some(fetched_at);
        self.keys_at = Some(fetched_at);
        self
    }

    /// The same cache trusting a fetched set for `seconds` (see the type's documentation).
    #[must_use]
    pub fn with_max_age(mut self, seconds: u64) -> Self {
        self.max_age = seconds;
        self
    }

    /// The same cache with another shortest interval between two fetches, in seconds (at
    /// least 1: a driver calls [`verify`](Self::verify) again with the same `now` after a
    /// fetch, and must not be told to fetch again).
    #[must_use]
    pub fn with_min_refetch(mut self, seconds: u64) -> Self {
        self.min_refetch = seconds;
        self
    }

    /// The JWK Set's URL.
    pub fn jwks_uri(&self) -> &str {
        &self.url
    }

    /// The keys held, when a set was fetched.
    pub fn keys(&self) -> Option<&JwkSet> {
        self.keys.as_ref()
    }

    /// When the set was last fetched (successfully or not).
    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }

    /// The request that fetches the set: `GET jwks_uri`, `accept: application/jwk-set+json,
    /// application/json`, no body.
    pub fn request(&self) -> http::Request<Vec<u8>> {
        let mut request = http::Request::new(Vec::new());
        *request.uri_mut() = self.uri.clone();
        request.headers_mut().insert(
            ACCEPT,
            HeaderValue::from_static("application/jwk-set+json, application/json"),
        );
        request
    }

    /// Takes the answer to [`request`](Self::request), received at `now`: a 200 with a JWK
    /// Set replaces the keys held. Either way, `now` counts as a fetch for the interval.
    ///
    /// # Errors
    /// [`Error::UnexpectedStatus`] for any status but 200; [`Error::Malformed`] for a body over
    /// [`MAX_JWK_SET`](super::MAX_JWK_SET) bytes, not UTF-8, or not a JWK Set (too many keys,
    /// no `keys` array). The keys held before are kept.
    pub fn receive(
        &mut self,
        response: &http::Response<impl AsRef<[u8]>>,
        now: u64,
    ) -> Result<(), Error> {
        self.fetched_at = Some(now);
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Error::UnexpectedStatus {
                status,
                excerpt: None,
            });
        }
        let body = response.body().as_ref();
        if body.len() > MAX_JWK_SET {
            return Err(Error::malformed(
                status,
                format!("the JWK Set is longer than {MAX_JWK_SET} bytes"),
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| Error::malformed(status, "the JWK Set is not UTF-8"))?;
        let keys = JwkSet::from_json(text).map_err(|e| match e {
            Error::InvalidKey { reason } => Error::malformed(status, reason),
            other => other,
        })?;
        self.keys = Some(keys);
        self.keys_at = Some(now);
        Ok(())
    }

    /// Verifies the compact JWS `token` with the keys held, accepting the algorithms of
    /// `accepted` (never `HS256`: see the type's documentation), or asks for a fetch.
    ///
    /// The header is checked first: a malformed token, `alg: none`, an algorithm not
    /// accepted or a critical extension is refused without a fetch.
    ///
    /// # Errors
    /// [`Error::Jws`] as [`JwkSet::verify`] says, including `no_matching_key` for a key still
    /// unknown within the refetch interval; [`Error::InvalidInput`] when `accepted` holds no
    /// asymmetric algorithm.
    pub fn verify(&self, token: &str, accepted: &[Algorithm], now: u64) -> Result<JwksStep, Error> {
        let accepted: Vec<Algorithm> = accepted
            .iter()
            .copied()
            .filter(|a| *a != Algorithm::Hs256)
            .collect();
        if accepted.is_empty() {
            return Err(Error::invalid(
                "no asymmetric JWS algorithm is accepted: keys from a jwks_uri never check HS256",
            ));
        }
        let header = Compact::parse(token, &accepted)?;
        let may_fetch = self
            .fetched_at
            // At least one second: with `now` fixed for a driver's loop, it always ends.
            .is_none_or(|at| now.saturating_sub(at) >= self.min_refetch.max(1));
        let stale = self
            .keys_at
            .is_some_and(|at| now.saturating_sub(at) >= self.max_age);
        if stale && may_fetch {
            return Ok(JwksStep::Fetch);
        }
        let Some(keys) = &self.keys else {
            return if may_fetch {
                Ok(JwksStep::Fetch)
            } else {
                Err(JwsProblem::NoMatchingKey {
                    kid: header.kid.as_deref().map(super::header_text),
                    alg: header.alg,
                }
                .into())
            };
        };
        match verify_with(keys.keys(), token, &accepted) {
            Ok(verified) => Ok(JwksStep::Verified(verified)),
            Err(Error::Jws {
                problem: JwsProblem::NoMatchingKey { .. },
            }) if may_fetch => Ok(JwksStep::Fetch),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::jose::SigningKey;
    use serde_json::Map;

    const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn key(kid: &str) -> SigningKey {
        SigningKey::from_jwk(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","d":"{ED_D}","x":"{ED_X}"}}"#
        ))
        .unwrap()
    }

    fn set(kids: &[&str]) -> String {
        let keys: Vec<String> = kids
            .iter()
            .map(|k| key(k).public_jwk().unwrap().to_public_json().unwrap())
            .collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn ok(body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn token(kid: &str) -> String {
        key(kid).sign(&Map::new(), &Map::new()).unwrap()
    }

    const ED: &[Algorithm] = &[Algorithm::EdDsa];

    #[test]
    fn first_use_fetches_then_verifies() {
        let mut cache = JwksCache::new("https://as.example/jwks").unwrap();
        let t = token("k1");
        assert!(matches!(cache.verify(&t, ED, 100), Ok(JwksStep::Fetch)));
        let r = cache.request();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(r.uri(), "https://as.example/jwks");
        assert!(r.body().is_empty());
        cache.receive(&ok(&set(&["k1"])), 100).unwrap();
        assert!(matches!(
            cache.verify(&t, ED, 100),
            Ok(JwksStep::Verified(_))
        ));
    }

    #[test]
    fn unknown_kid_refetches_once_rate_limited() {
        let mut cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_keys(JwkSet::from_json(&set(&["old"])).unwrap(), 1000);
        let t = token("new");
        // Within the interval: refused, no fetch.
        let e = cache.verify(&t, ED, 1059).unwrap_err();
        assert!(matches!(
            e,
            Error::Jws {
                problem: JwsProblem::NoMatchingKey { .. }
            }
        ));
        // After it: one fetch.
        assert!(matches!(cache.verify(&t, ED, 1060), Ok(JwksStep::Fetch)));
        cache.receive(&ok(&set(&["old"])), 1060).unwrap();
        // The set still lacks the key: refused, the driver loop ends.
        assert!(cache.verify(&t, ED, 1060).is_err());
        assert!(cache.verify(&t, ED, 1119).is_err());
        // Rotation: the next fetch brings it.
        assert!(matches!(cache.verify(&t, ED, 1120), Ok(JwksStep::Fetch)));
        cache.receive(&ok(&set(&["old", "new"])), 1120).unwrap();
        assert!(matches!(
            cache.verify(&t, ED, 1120),
            Ok(JwksStep::Verified(_))
        ));
        // Clock going backwards never allows a fetch.
        let t3 = token("third");
        assert!(cache.verify(&t3, ED, 5).is_err());
    }

    #[test]
    fn a_set_older_than_max_age_is_fetched_again_and_a_failure_keeps_it_for_the_interval() {
        let mut cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_max_age(600)
            .with_keys(JwkSet::from_json(&set(&["k1"])).unwrap(), 1000);
        let t = token("k1");
        assert!(matches!(
            cache.verify(&t, ED, 1599),
            Ok(JwksStep::Verified(_))
        ));
        // Stale: fetched again even though the key is known.
        assert!(matches!(cache.verify(&t, ED, 1600), Ok(JwksStep::Fetch)));
        // The signer withdrew k1: it no longer verifies.
        cache.receive(&ok(&set(&["k2"])), 1600).unwrap();
        assert!(cache.verify(&t, ED, 1600).is_err());
        // A failed refresh of a stale set is an error once; within min_refetch the old keys go on.
        let mut cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_keys(JwkSet::from_json(&set(&["k1"])).unwrap(), 0);
        assert!(matches!(cache.verify(&t, ED, 600), Ok(JwksStep::Fetch)));
        let down = http::Response::builder()
            .status(503)
            .body(Vec::new())
            .unwrap();
        assert!(cache.receive(&down, 600).is_err());
        assert!(matches!(
            cache.verify(&t, ED, 630),
            Ok(JwksStep::Verified(_))
        ));
        assert!(matches!(cache.verify(&t, ED, 660), Ok(JwksStep::Fetch)));
    }

    #[test]
    fn a_zero_interval_still_ends_the_loop() {
        let mut cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_min_refetch(0);
        let t = token("unknown");
        assert!(matches!(cache.verify(&t, ED, 100), Ok(JwksStep::Fetch)));
        cache.receive(&ok(&set(&["k1"])), 100).unwrap();
        assert!(
            cache.verify(&t, ED, 100).is_err(),
            "no second fetch in the same second"
        );
        assert!(matches!(cache.verify(&t, ED, 101), Ok(JwksStep::Fetch)));
    }

    #[test]
    fn bad_signature_never_refetches() {
        let cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_keys(JwkSet::from_json(&set(&["k1"])).unwrap(), 0);
        let mut t = token("k1");
        let last = if t.ends_with('A') { 'B' } else { 'A' };
        t.pop();
        t.push(last);
        let e = cache.verify(&t, ED, 100).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Jws {
                    problem: JwsProblem::BadSignature
                } | Error::Jws {
                    problem: JwsProblem::Malformed { .. }
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn header_problems_never_fetch() {
        let cache = JwksCache::new("https://as.example/jwks").unwrap();
        let none = "eyJhbGciOiJub25lIn0.e30.";
        assert_eq!(cache.verify(none, ED, 0).unwrap_err().kind(), "jws");
        assert_eq!(
            cache
                .verify(&token("k"), &[Algorithm::Rs256], 0)
                .unwrap_err()
                .kind(),
            "jws"
        );
        assert_eq!(
            cache
                .verify(&token("k"), &[Algorithm::Hs256], 0)
                .unwrap_err()
                .kind(),
            "invalid_input"
        );
    }

    #[test]
    fn failed_fetches_keep_the_old_set_and_are_errors() {
        let mut cache = JwksCache::new("https://as.example/jwks")
            .unwrap()
            .with_keys(JwkSet::from_json(&set(&["k1"])).unwrap(), 0);
        let e = cache.receive(&ok("<html>"), 100).unwrap_err();
        assert_eq!(e.kind(), "malformed");
        assert_eq!(cache.keys().unwrap().keys().len(), 1);
        assert_eq!(cache.fetched_at(), Some(100));
        let e = cache
            .receive(
                &http::Response::builder()
                    .status(503)
                    .body(set(&["k2"]).into_bytes())
                    .unwrap(),
                200,
            )
            .unwrap_err();
        assert_eq!(
            e,
            Error::UnexpectedStatus {
                status: 503,
                excerpt: None
            }
        );
        assert_eq!(cache.keys().unwrap().keys()[0].kid(), Some("k1"));
        // A failed fetch counts for the interval.
        assert!(cache.verify(&token("k9"), ED, 259).is_err());
        // Body cap.
        let huge = format!(r#"{{"keys":[],"x":"{}"}}"#, "a".repeat(MAX_JWK_SET));
        assert_eq!(
            cache.receive(&ok(&huge), 300).unwrap_err().kind(),
            "malformed"
        );
        // An empty cache whose fetch failed does not ask again within the interval.
        let mut empty = JwksCache::new("https://as.example/jwks").unwrap();
        assert!(empty.receive(&ok("{}"), 10).is_err());
        assert!(empty.keys().is_none());
        assert!(empty.verify(&token("k1"), ED, 20).is_err());
        assert!(matches!(
            empty.verify(&token("k1"), ED, 70),
            Ok(JwksStep::Fetch)
        ));
    }

    #[test]
    fn insecure_or_missing_uri() {
        assert_eq!(
            JwksCache::new("http://as.example/jwks").unwrap_err().kind(),
            "insecure_endpoint"
        );
        let p = Provider::builder("x").build().unwrap();
        assert_eq!(
            JwksCache::for_provider(&p).unwrap_err(),
            Error::MissingEndpoint {
                endpoint: Endpoint::Jwks
            }
        );
    }
}
