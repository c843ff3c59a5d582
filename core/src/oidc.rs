//! OpenID Connect: ID token validation (Core 1.0 §3.1.3.7, §12.2), userinfo (§5.3) and
//! RP-Initiated Logout 1.0, sans-IO.
//!
//! The flow: an authorization URL with `openid` among the scopes carries a `nonce`, kept in
//! the [`PendingAuthorization`]; the token response's `id_token` is verified with the
//! provider's keys ([`JwksCache`](crate::jose::JwksCache)), then its claims are checked
//! against an [`IdTokenCheck`] built from the client and that pending record.
//!
//! ```
//! use grantline::jose::{JwksCache, JwksStep, SigningKey};
//! use grantline::{AuthorizationRequest, Client, PendingAuthorization, Provider, TokenSet};
//! # use serde_json::json;
//!
//! let provider = Provider::builder("op")
//!     .issuer("https://op.example")
//!     .authorization_endpoint("https://op.example/authorize")
//!     .token_endpoint("https://op.example/token")
//!     .jwks_uri("https://op.example/jwks")
//!     .id_token_algorithm_names(["EdDSA"])
//!     .grant(grantline::GrantType::AuthorizationCode)
//!     .build()?;
//! let client = Client::new(provider, "app").with_redirect_uri("https://app.example/cb");
//!
//! // 1. The authorization URL: `openid` brings a nonce.
//! let auth = client.authorization_url(&AuthorizationRequest::new().scopes(["openid"]))?;
//! assert!(auth.url.contains("&nonce="));
//! let stored = auth.pending.to_json();
//!
//! // 2. The callback, and the code exchange.
//! let pending = PendingAuthorization::from_json(&stored)?;
//! # let callback = format!("https://app.example/cb?code=C0DE&state={}", pending.state().secret());
//! let grant = client.callback(&pending, &callback)?;
//! let _request = client.authorization_code_request(&grant, 1_700_000_000)?;
//! // ... the provider answers with an ID token (here signed by a test key).
//! # let op_key = SigningKey::from_jwk(r#"{"kty":"OKP","crv":"Ed25519","kid":"k1",
//! #   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
//! # let claims = json!({"iss": "https://op.example", "sub": "alice", "aud": "app",
//! #   "exp": 1_700_000_600, "iat": 1_700_000_000, "nonce": pending.nonce().unwrap().secret()});
//! # let id_token = op_key.sign(&Default::default(), claims.as_object().unwrap())?;
//! # let body = json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token});
//! # let response = http::Response::builder().status(200)
//! #   .header("content-type", "application/json").body(body.to_string().into_bytes()).unwrap();
//! let now = 1_700_000_010;
//! let tokens = TokenSet::from_response(&response, now)?;
//! let id_token = tokens.id_token().unwrap().secret();
//!
//! // 3. Verify the signature with the provider's keys (fetched on first use) ...
//! let check = client.id_token_check(&pending)?;
//! let mut keys = JwksCache::for_provider(client.provider())?;
//! assert!(matches!(keys.verify(id_token, check.accepted_algorithms(), now)?, JwksStep::Fetch));
//! let jwks_request = keys.request(); // GET https://op.example/jwks: send it
//! # let jwks = format!(r#"{{"keys":[{}]}}"#, op_key.public_jwk().unwrap().to_public_json().unwrap());
//! # let jwks_response = http::Response::builder().status(200).body(jwks.into_bytes()).unwrap();
//! keys.receive(&jwks_response, now)?;
//! let JwksStep::Verified(verified) = keys.verify(id_token, check.accepted_algorithms(), now)? else {
//!     unreachable!("the set now holds the key")
//! };
//!
//! // 4. ... and check its claims.
//! let claims = check.validate(&verified, now)?;
//! assert_eq!(claims.sub(), "alice");
//! # Ok::<(), grantline::Error>(())
//! ```
//!
//! # What is checked
//! [`IdTokenCheck::validate`], in this order, each failure an [`Error::IdToken`] naming the
//! claim:
//! - `alg`: the signature's algorithm is one the check accepts; `typ`, when present, is not
//!   another explicitly typed JWT (`at+jwt`, `logout+jwt`...: RFC 8725 §3.11);
//! - `iss`: present, exactly the expected issuer;
//! - `sub`: a non-empty string;
//! - `aud`: a string or a non-empty array of strings, containing the client id;
//! - `azp`: when present, the client id; required when `aud` has more than one member;
//! - `exp`: a number, and `now < exp + leeway`; `iat`: a number, at most `now + leeway`;
//!   `nbf`, when present, a number at most `now + leeway`;
//! - `nonce`: equal to the request's (constant time); a token without one when one was sent,
//!   or with one when none was, is refused;
//! - `auth_time`: a number when present; required when `max_age` was sent, and then
//!   `auth_time + max_age + leeway ≥ now`;
//! - `at_hash` / `c_hash`, when present and the check has the access token / code: the
//!   base64url left half of the hash of the token's ASCII, the hash being SHA-256 for `*256`,
//!   SHA-384 for `*384`, SHA-512 for `*512` **and for `EdDSA` with Ed25519**. The last follows
//!   the OpenID Connect Core 1.0 errata set 2 and what oauth4webapi, openid-client and
//!   oidc-provider (`oidc-token-hash`) compute: Ed25519 is defined with SHA-512;
//! - `acr` a string and `amr` an array of strings, when present.
//!
//! Type errors are refusals too: `"exp": "1"` or `"aud": 5` never pass as a number or an
//! audience. Errors never carry the token or a claim value, except an `iss` or `aud` (public,
//! escaped, capped).

use std::fmt;

use http::header::{ACCEPT, AUTHORIZATION};
use http::HeaderValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use crate::authorize::PendingAuthorization;
use crate::client::Client;
use crate::error::Error;
use crate::jose::{Algorithm, VerifiedJws};
use crate::provider::Endpoint;
use crate::secret::{AccessToken, AuthorizationCode, IdToken, Nonce, REDACTED};
use crate::text::{oauth_text, Charset, MAX_URI};

/// The default clock leeway of an [`IdTokenCheck`], in seconds.
pub const DEFAULT_LEEWAY: u64 = 60;

fn refused(claim: &str, reason: impl Into<String>) -> Error {
    Error::IdToken {
        claim: claim.to_owned(),
        reason: reason.into(),
    }
}

/// A public claim value (an `iss`, an `aud`) as an error may show it.
fn shown(value: &str) -> String {
    oauth_text(value, Charset::Uri, MAX_URI)
}

/// What an ID token must match: built by [`Client::id_token_check`] (after an authorization
/// request) or [`Client::refresh_id_token_check`] (after a refresh), or by hand.
#[derive(Clone)]
#[must_use]
pub struct IdTokenCheck {
    issuer: String,
    client_id: String,
    nonce: Option<Nonce>,
    max_age: Option<u64>,
    leeway: u64,
    algorithms: Vec<Algorithm>,
    access_token: Option<AccessToken>,
    code: Option<AuthorizationCode>,
}

impl fmt::Debug for IdTokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenCheck")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("nonce", &self.nonce)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("access_token", &self.access_token)
            .field("code", &self.code)
            .finish()
    }
}

impl IdTokenCheck {
    /// A check for tokens of `issuer` for `client_id`: no nonce expected, no `max_age`,
    /// [`DEFAULT_LEEWAY`], `RS256` only.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        IdTokenCheck {
            issuer: issuer.into(),
            client_id: client_id.into(),
            nonce: None,
            max_age: None,
            leeway: DEFAULT_LEEWAY,
            algorithms: vec![Algorithm::Rs256],
            access_token: None,
            code: None,
        }
    }
    /// Expects this `nonce` (the token must carry it).
    pub fn nonce(mut self, nonce: &Nonce) -> Self {
        self.nonce = Some(nonce.clone());
        self
    }
    /// Expects `auth_time` at most `seconds` old (plus the leeway).
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }
    /// The clock leeway for `exp`, `iat`, `nbf` and `auth_time`, in seconds.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }
    /// The signing algorithms accepted (an empty list keeps the current ones). `HS256` is
    /// accepted only when listed here; verify such tokens with
    /// [`Jwk::hmac`](crate::jose::Jwk::hmac) and the client secret.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let list: Vec<Algorithm> = algorithms.into_iter().collect();
        if !list.is_empty() {
            self.algorithms = list;
        }
        self
    }
    /// Checks `at_hash`, when the token has one, against this access token (from the same
    /// token response).
    pub fn access_token(mut self, token: &AccessToken) -> Self {
        self.access_token = Some(token.clone());
        self
    }
    /// Checks `c_hash`, when the token has one, against this authorization code.
    pub fn code(mut self, code: &AuthorizationCode) -> Self {
        self.code = Some(code.clone());
        self
    }

    /// The issuer expected.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The client id expected in `aud`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The algorithms accepted: pass them to [`JwksCache::verify`](crate::jose::JwksCache::verify).
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }
    /// The nonce expected, when there is one.
    pub fn expected_nonce(&self) -> Option<&Nonce> {
        self.nonce.as_ref()
    }
    /// The `max_age` checked, when there is one.
    pub fn expected_max_age(&self) -> Option<u64> {
        self.max_age
    }
    /// The clock leeway, in seconds.
    pub fn clock_leeway(&self) -> u64 {
        self.leeway
    }

    /// Checks the claims of an ID token whose signature verified (see the
    /// [module documentation](self) for every rule).
    ///
    /// # Errors
    /// [`Error::IdToken`] naming the claim; [`Error::Jws`] (`malformed`) when the payload is
    /// not a JSON object.
    pub fn validate(&self, verified: &VerifiedJws, now: u64) -> Result<IdTokenClaims, Error> {
        self.run(verified, now, None)
    }

    /// Checks an ID token from a refresh answer (Core 1.0 §12.2): every rule of
    /// [`validate`](Self::validate) except the nonce and `max_age` rules, and then `iss`, `sub`,
    /// `aud` (as a set) and `azp` the same as in `previous`; `auth_time`, when present, the
    /// same as `previous`'s; a `nonce`, when present, equal to `previous`'s.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn validate_refreshed(
        &self,
        verified: &VerifiedJws,
        previous: &IdTokenClaims,
        now: u64,
    ) -> Result<IdTokenClaims, Error> {
        self.run(verified, now, Some(previous))
    }

    fn run(
        &self,
        verified: &VerifiedJws,
        now: u64,
        previous: Option<&IdTokenClaims>,
    ) -> Result<IdTokenClaims, Error> {
        let alg = verified.algorithm();
        if !self.algorithms.contains(&alg) {
            return Err(refused(
                "alg",
                format!("the token is signed with {alg}, which this check does not accept"),
            ));
        }
        match verified.header().get("typ") {
            None => {}
            Some(Value::String(typ)) if !typ.to_ascii_lowercase().ends_with("+jwt") => {}
            Some(Value::String(_)) => {
                return Err(refused(
                    "typ",
                    "the header types the token as another kind of JWT",
                ))
            }
            Some(_) => return Err(refused("typ", "not a string")),
        }
        let claims = verified.claims()?;
        let mut out = read_claims(claims, &self.issuer, &self.client_id)?;

        let leeway = self.leeway;
        if out.exp.saturating_add(leeway) <= now {
            return Err(refused("exp", "the token has expired"));
        }
        if out.iat > now.saturating_add(leeway) {
            return Err(refused("iat", "the token is issued in the future"));
        }
        if let Some(nbf) = numeric_date(&out.claims, "nbf")? {
            if nbf > now.saturating_add(leeway) {
                return Err(refused("nbf", "the token is not valid yet"));
            }
        }
        match previous {
            None => {
                match (&self.nonce, &out.nonce) {
                    (Some(expected), Some(got)) => {
                        if !bool::from(expected.secret().as_bytes().ct_eq(got.secret().as_bytes()))
                        {
                            return Err(refused("nonce", "not the nonce of the request"));
                        }
                    }
                    (Some(_), None) => {
                        return Err(refused("nonce", "missing, and the request sent one"))
                    }
                    (None, Some(_)) => {
                        return Err(refused("nonce", "present, and the request sent none"))
                    }
                    (None, None) => {}
                }
                if let Some(max_age) = self.max_age {
                    let auth_time = out.auth_time.ok_or_else(|| {
                        refused("auth_time", "missing, and the request sent max_age")
                    })?;
                    if auth_time.saturating_add(max_age).saturating_add(leeway) < now {
                        return Err(refused(
                            "auth_time",
                            "the authentication is older than max_age",
                        ));
                    }
                }
            }
            Some(previous) => refreshed(&out, previous)?,
        }
        if let Some(token) = &self.access_token {
            check_hash(&out.claims, "at_hash", alg, token.secret())?;
        }
        if let Some(code) = &self.code {
            check_hash(&out.claims, "c_hash", alg, code.secret())?;
        }
        out.alg = alg;
        Ok(out)
    }
}

/// Core 1.0 §12.2: a refreshed ID token describes the same authentication.
fn refreshed(new: &IdTokenClaims, previous: &IdTokenClaims) -> Result<(), Error> {
    if new.iss != previous.iss {
        return Err(refused("iss", "not the issuer of the previous ID token"));
    }
    if new.sub != previous.sub {
        return Err(refused("sub", "not the subject of the previous ID token"));
    }
    let mut a = new.aud.clone();
    let mut b = previous.aud.clone();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    if a != b {
        return Err(refused("aud", "not the audience of the previous ID token"));
    }
    if new.azp != previous.azp {
        return Err(refused("azp", "not the azp of the previous ID token"));
    }
    if new.auth_time.is_some() && new.auth_time != previous.auth_time {
        return Err(refused(
            "auth_time",
            "not the authentication time of the previous ID token",
        ));
    }
    match (&new.nonce, &previous.nonce) {
        (None, _) => Ok(()),
        (Some(n), Some(p)) if bool::from(n.secret().as_bytes().ct_eq(p.secret().as_bytes())) => {
            Ok(())
        }
        (Some(_), _) => Err(refused("nonce", "not the nonce of the previous ID token")),
    }
}

/// `iss`, `sub`, `aud`, `azp`, `exp`, `iat`, `auth_time`, `nonce`, `acr`, `amr`, type-checked;
/// `iss`, `aud` and `azp` compared.
fn read_claims(
    claims: Map<String, Value>,
    issuer: &str,
    client_id: &str,
) -> Result<IdTokenClaims, Error> {
    let iss = match claims.get("iss") {
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => return Err(refused("iss", "not a string")),
        None => return Err(refused("iss", "missing")),
    };
    if iss != issuer {
        return Err(refused(
            "iss",
            format!(
                "{:?} is not the expected issuer {:?}",
                shown(&iss),
                shown(issuer)
            ),
        ));
    }
    let sub = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(Value::String(_)) => return Err(refused("sub", "empty")),
        Some(_) => return Err(refused("sub", "not a string")),
        None => return Err(refused("sub", "missing")),
    };
    let aud = audiences(&claims)?.ok_or_else(|| refused("aud", "missing"))?;
    if !aud.iter().any(|a| a == client_id) {
        let listed: Vec<String> = aud.iter().take(4).map(|a| shown(a)).collect();
        return Err(refused(
            "aud",
            format!(
                "{listed:?} does not include the client id {:?}",
                shown(client_id)
            ),
        ));
    }
    let azp = optional_string(&claims, "azp")?;
    match &azp {
        Some(azp) if azp != client_id => {
            return Err(refused("azp", "not the client id"));
        }
        None if aud.len() > 1 => {
            return Err(refused(
                "azp",
                "missing, and aud names more than one audience (Core 1.0 §3.1.3.7)",
            ));
        }
        _ => {}
    }
    let exp = numeric_date(&claims, "exp")?.ok_or_else(|| refused("exp", "missing"))?;
    let iat = numeric_date(&claims, "iat")?.ok_or_else(|| refused("iat", "missing"))?;
    let auth_time = numeric_date(&claims, "auth_time")?;
    let nonce = optional_string(&claims, "nonce")?.map(Nonce::new);
    let acr = optional_string(&claims, "acr")?;
    let amr = match claims.get("amr") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| refused("amr", "not an array of strings"))?,
        ),
        Some(_) => return Err(refused("amr", "not an array of strings")),
    };
    Ok(IdTokenClaims {
        iss,
        sub,
        aud,
        azp,
        exp,
        iat,
        auth_time,
        nonce,
        acr,
        amr,
        alg: Algorithm::Rs256,
        claims,
    })
}

/// `aud` as a list: a string, or a non-empty array of strings; `None` when absent.
fn audiences(claims: &Map<String, Value>) -> Result<Option<Vec<String>>, Error> {
    match claims.get("aud") {
        None => Ok(None),
        Some(Value::String(a)) => Ok(Some(vec![a.clone()])),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .map(Some)
            .ok_or_else(|| refused("aud", "not a string or an array of strings")),
        Some(Value::Array(_)) => Err(refused("aud", "an empty array")),
        Some(_) => Err(refused("aud", "not a string or an array of strings")),
    }
}

fn optional_string(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(refused(name, "not a string")),
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number, its fraction dropped.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_u64() {
                return Ok(Some(v));
            }
            match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(if f >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    f as u64
                })),
                _ => Err(refused(name, "not a non-negative number")),
            }
        }
        Some(_) => Err(refused(name, "not a number")),
    }
}

/// The `at_hash` / `c_hash` of `value` for a token signed with `alg`.
pub fn token_hash(alg: Algorithm, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::Hs256 | Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => {
            Sha256::digest(value.as_bytes()).to_vec()
        }
        Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => {
            Sha384::digest(value.as_bytes()).to_vec()
        }
        Algorithm::Rs512 | Algorithm::Ps512 | Algorithm::EdDsa => {
            Sha512::digest(value.as_bytes()).to_vec()
        }
    };
    crate::jose::b64_encode(digest.get(..digest.len() / 2).unwrap_or_default())
}

fn check_hash(
    claims: &Map<String, Value>,
    name: &str,
    alg: Algorithm,
    value: &str,
) -> Result<(), Error> {
    match claims.get(name) {
        None => Ok(()),
        Some(Value::String(got)) => {
            let expected = token_hash(alg, value);
            if bool::from(expected.as_bytes().ct_eq(got.as_bytes())) {
                Ok(())
            } else {
                Err(refused(name, "does not match"))
            }
        }
        Some(_) => Err(refused(name, "not a string")),
    }
}

/// The claims of an ID token that passed an [`IdTokenCheck`].
///
/// `Debug` prints the registered claims (the nonce redacted) and only the names of the others.
#[derive(Clone)]
pub struct IdTokenClaims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    azp: Option<String>,
    exp: u64,
    iat: u64,
    auth_time: Option<u64>,
    nonce: Option<Nonce>,
    acr: Option<String>,
    amr: Option<Vec<String>>,
    alg: Algorithm,
    claims: Map<String, Value>,
}

impl IdTokenClaims {
    /// `sub`: the end-user's identifier at the issuer (with [`issuer`](Self::issuer), the
    /// only stable key for a user).
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.iss
    }
    /// `aud`, as a list (one member when the token had a string).
    pub fn audiences(&self) -> &[String] {
        &self.aud
    }
    /// `azp`, when present.
    pub fn azp(&self) -> Option<&str> {
        self.azp.as_deref()
    }
    /// `exp` (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.exp
    }
    /// `iat` (Unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.iat
    }
    /// `auth_time` (Unix seconds), when present.
    pub fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }
    /// `nonce`, when present.
    pub fn nonce(&self) -> Option<&Nonce> {
        self.nonce.as_ref()
    }
    /// `acr`, when present.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }
    /// `amr`, when present.
    pub fn amr(&self) -> Option<&[String]> {
        self.amr.as_deref()
    }
    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
    /// Every claim, as received (`email`, `name`...).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The claims as JSON, to keep with the user's session: a later refresh's ID token is
    /// checked against them ([`IdTokenCheck::validate_refreshed`], Core 1.0 §12.2). They hold
    /// personal data and the nonce: store them as you store the token set.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "alg": self.alg.name(), "claims": self.claims }).to_string()
    }

    /// Claims stored with [`to_json`](Self::to_json). They were checked when the token was
    /// validated and are not checked again against an issuer or a client (restore only what
    /// you stored); their types and the `aud`/`azp` rule are.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `json` is not stored ID token claims (the message names
    /// the part, never a value).
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let stored: Value = serde_json::from_str(json)
            .map_err(|e| crate::error::json_input("ID token claims", &e))?;
        let alg = stored
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::from_name)
            .ok_or_else(|| Error::invalid("the input is not stored ID token claims (alg)"))?;
        let Some(Value::Object(claims)) = stored.get("claims").cloned() else {
            return Err(Error::invalid(
                "the input is not stored ID token claims (claims)",
            ));
        };
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // The client the claims were checked for: `azp`, else the one audience.
        let client = match (claims.get("azp"), claims.get("aud")) {
            (Some(Value::String(azp)), _) => azp.clone(),
            (_, Some(Value::String(aud))) => aud.clone(),
            (_, Some(Value::Array(auds))) => auds
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        let mut out = read_claims(claims, &iss, &client).map_err(|e| match e {
            Error::IdToken { claim, .. } => {
                Error::invalid(format!("the input is not stored ID token claims ({claim})"))
            }
            other => other,
        })?;
        out.alg = alg;
        Ok(out)
    }
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("azp", &self.azp)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("auth_time", &self.auth_time)
            .field("nonce", &self.nonce)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .field("claim_names", &self.claims.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// [`IdTokenCheck::validate`] as a function.
///
/// # Errors
/// As [`IdTokenCheck::validate`].
pub fn validate(
    verified: &VerifiedJws,
    check: &IdTokenCheck,
    now: u64,
) -> Result<IdTokenClaims, Error> {
    check.validate(verified, now)
}

/// [`IdTokenCheck::validate_refreshed`] as a function.
///
/// # Errors
/// As [`IdTokenCheck::validate`].
pub fn validate_refreshed(
    verified: &VerifiedJws,
    previous: &IdTokenClaims,
    check: &IdTokenCheck,
    now: u64,
) -> Result<IdTokenClaims, Error> {
    check.validate_refreshed(verified, previous, now)
}

// ------------------------------------------------------------------------------------------
// Userinfo

/// What the userinfo endpoint answered (Core 1.0 §5.3.2).
#[derive(Debug, Clone)]
pub enum UserInfoAnswer {
    /// A JSON answer whose `sub` matched.
    Claims(UserInfo),
    /// A signed answer (`application/jwt`): verify it (e.g. with
    /// [`JwksCache::verify`](crate::jose::JwksCache::verify)), then
    /// [`UserInfo::from_verified`]. A secret-free compact JWS, kept as a string.
    Signed(String),
}

/// The end-user's claims from the userinfo endpoint. `Debug` prints `sub` and the claim names.
#[derive(Clone)]
pub struct UserInfo {
    sub: String,
    claims: Map<String, Value>,
}

impl fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserInfo")
            .field("sub", &self.sub)
            .field("claim_names", &self.claims.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn userinfo_sub(claims: &Map<String, Value>, expected_sub: &str) -> Result<String, Error> {
    match claims.get("sub") {
        Some(Value::String(sub)) if sub == expected_sub && !sub.is_empty() => Ok(sub.clone()),
        Some(Value::String(_)) => Err(refused(
            "sub",
            "the userinfo answer is about another end-user than the ID token (Core 1.0 §5.3.2)",
        )),
        Some(_) => Err(refused("sub", "not a string")),
        None => Err(refused("sub", "missing from the userinfo answer")),
    }
}

impl UserInfo {
    /// Parses the userinfo endpoint's answer; `expected_sub` is the ID token's `sub`
    /// ([`IdTokenClaims::sub`]).
    ///
    /// # Errors
    /// [`Error::OAuth`] for a 401/403 whose `WWW-Authenticate` Bearer challenge carries an
    /// `error` (RFC 6750 §3.1); [`Error::UnexpectedStatus`] for any other status but 200;
    /// [`Error::Malformed`] for a body over [`MAX_BODY`](crate::MAX_BODY) bytes, or one that is
    /// neither a JSON object nor (`application/jwt`) UTF-8 text; [`Error::IdToken`] (`sub`)
    /// when `sub` is missing, not a string or not `expected_sub`.
    pub fn from_response(
        response: &http::Response<impl AsRef<[u8]>>,
        expected_sub: &str,
    ) -> Result<UserInfoAnswer, Error> {
        let status = response.status().as_u16();
        if status != 200 {
            if let Some(challenge) = crate::bearer::bearer_challenge(response.headers()) {
                if let Some(code) = challenge.error.as_deref() {
                    return Err(Error::oauth(
                        code,
                        challenge.error_description.as_deref(),
                        challenge.error_uri.as_deref(),
                        status,
                    ));
                }
            }
            return Err(Error::UnexpectedStatus {
                status,
                excerpt: None,
            });
        }
        let body = response.body().as_ref();
        if body.len() > crate::MAX_BODY {
            return Err(Error::malformed(
                status,
                "the userinfo answer exceeds the 1 MiB limit",
            ));
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if content_type.as_deref() == Some("application/jwt") {
            let text = std::str::from_utf8(body)
                .map_err(|_| Error::malformed(status, "the signed userinfo answer is not text"))?;
            return Ok(UserInfoAnswer::Signed(text.trim().to_owned()));
        }
        let claims: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|_| Error::malformed(status, "the userinfo answer is not a JSON object"))?;
        let sub = userinfo_sub(&claims, expected_sub)?;
        Ok(UserInfoAnswer::Claims(UserInfo { sub, claims }))
    }

    /// The claims of a signed userinfo answer whose signature verified: `sub` must be
    /// `expected_sub`; `iss`, when present, `issuer`; `aud`, when present, must include
    /// `client_id` (Core 1.0 §5.3.2).
    ///
    /// # Errors
    /// [`Error::IdToken`] naming `sub`, `iss` or `aud`; [`Error::Jws`] (`malformed`) when the
    /// payload is not a JSON object.
    pub fn from_verified(
        verified: &VerifiedJws,
        expected_sub: &str,
        issuer: &str,
        client_id: &str,
    ) -> Result<UserInfo, Error> {
        let claims = verified.claims()?;
        match claims.get("iss") {
            None => {}
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(iss)) => {
                return Err(refused(
                    "iss",
                    format!(
                        "{:?} is not the expected issuer {:?}",
                        shown(iss),
                        shown(issuer)
                    ),
                ))
            }
            Some(_) => return Err(refused("iss", "not a string")),
        }
        if let Some(aud) = audiences(&claims)? {
            if !aud.iter().any(|a| a == client_id) {
                return Err(refused("aud", "does not include the client id"));
            }
        }
        let sub = userinfo_sub(&claims, expected_sub)?;
        Ok(UserInfo { sub, claims })
    }

    /// `sub`.
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// Every claim, as received.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

// ------------------------------------------------------------------------------------------
// RP-Initiated Logout

/// An RP-Initiated Logout 1.0 request (§2): what [`Client::end_session_url`] puts in the URL.
/// `Debug` redacts the `id_token_hint` and `state`.
#[derive(Clone, Default)]
#[must_use]
pub struct EndSessionRequest {
    id_token_hint: Option<IdToken>,
    logout_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    ui_locales: Option<String>,
    params: Vec<(String, String)>,
}

impl fmt::Debug for EndSessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndSessionRequest")
            .field("id_token_hint", &self.id_token_hint)
            .field("logout_hint", &self.logout_hint)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("state", &self.state.as_ref().map(|_| REDACTED))
            .field("ui_locales", &self.ui_locales)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Parameters [`Client::end_session_url`] sets itself.
const END_SESSION_PARAMS: [&str; 6] = [
    "id_token_hint",
    "logout_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

impl EndSessionRequest {
    /// An empty request (the URL then carries `client_id` only).
    pub fn new() -> Self {
        Self::default()
    }
    /// The ID token last issued to the client for this end-user (recommended).
    pub fn id_token_hint(mut self, id_token: &IdToken) -> Self {
        self.id_token_hint = Some(id_token.clone());
        self
    }
    /// A hint about the end-user logging out.
    pub fn logout_hint(mut self, hint: impl Into<String>) -> Self {
        self.logout_hint = Some(hint.into());
        self
    }
    /// Where the provider sends the browser after logout (registered with the provider):
    /// `https://`, `http://` on loopback, or an app's own scheme; no fragment.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }
    /// A value the provider passes back to the post-logout redirect URI.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }
    /// The end-user's preferred languages (space-separated BCP 47 tags).
    pub fn ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.ui_locales = Some(locales.into());
        self
    }
    /// Adds a parameter (repeatable, order kept). Names the request sets itself are refused
    /// when the URL is built: use the dedicated setters.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

/// A post-logout redirect URI: `https`, loopback `http`, or a private-use scheme (RFC 8252
/// §7.1); no fragment.
fn check_post_logout_redirect_uri(uri: &str) -> Result<(), Error> {
    let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => crate::urls::check_endpoint(uri).map(|_| ()),
        Some(s)
            if s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !uri.contains('#')
                && !uri.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(Error::invalid(format!(
            "post_logout_redirect_uri {} is not an absolute URI without fragment",
            shown(&crate::redact::url(uri))
        ))),
    }
}

impl Client {
    /// The check an ID token from the code exchange of `pending` must pass: the pending
    /// record's issuer (else the provider's), this client's id, the request's `nonce` and
    /// `max_age`, and the provider's [`id_token_algorithms`](crate::Provider::id_token_algorithms)
    /// that are asymmetric (`RS256` when none is). Add the access token and code for
    /// `at_hash`/`c_hash` with [`IdTokenCheck::access_token`] and [`IdTokenCheck::code`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when neither the pending record nor the provider knows the
    /// issuer: an ID token cannot be checked without one.
    pub fn id_token_check(&self, pending: &PendingAuthorization) -> Result<IdTokenCheck, Error> {
        let issuer = pending
            .issuer()
            .or(self.provider().issuer())
            .ok_or_else(|| {
                Error::invalid("the provider has no issuer: an ID token cannot be checked")
            })?;
        let mut check =
            IdTokenCheck::new(issuer, self.client_id()).algorithms(self.id_token_algorithms());
        if let Some(nonce) = pending.nonce() {
            check = check.nonce(nonce);
        }
        if let Some(max_age) = pending.max_age() {
            check = check.max_age(max_age);
        }
        Ok(check)
    }

    /// The check an ID token from a refresh answer must pass (with
    /// [`IdTokenCheck::validate_refreshed`]): the provider's issuer, this client's id and the
    /// provider's asymmetric ID token algorithms; no nonce, no `max_age`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the provider has no issuer.
    pub fn refresh_id_token_check(&self) -> Result<IdTokenCheck, Error> {
        let issuer = self.provider().issuer().ok_or_else(|| {
            Error::invalid("the provider has no issuer: an ID token cannot be checked")
        })?;
        Ok(IdTokenCheck::new(issuer, self.client_id()).algorithms(self.id_token_algorithms()))
    }

    fn id_token_algorithms(&self) -> Vec<Algorithm> {
        self.provider()
            .id_token_algorithms()
            .iter()
            .copied()
            .filter(|a| Algorithm::ASYMMETRIC.contains(a))
            .collect()
    }

    /// The userinfo request (Core 1.0 §5.3.1): `GET userinfo_endpoint` with
    /// `authorization: Bearer <access token>` and `accept: application/json, application/jwt`.
    /// Parse the answer with [`UserInfo::from_response`].
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] (`userinfo`); [`Error::InvalidInput`] for an access token
    /// that cannot form a header or an endpoint that is not a URL.
    pub fn userinfo_request(
        &self,
        access_token: &AccessToken,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let url = self
            .provider()
            .userinfo_endpoint()
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::Userinfo,
            })?;
        let uri: http::Uri = url
            .parse()
            .map_err(|_| Error::invalid("the userinfo endpoint is not a valid URL"))?;
        let mut request = http::Request::new(Vec::new());
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/jwt"),
        );
        headers.insert(
            AUTHORIZATION,
            crate::bearer::authorization_header(access_token)?,
        );
        Ok(request)
    }

    /// The RP-Initiated Logout URL (§2) to send the browser to: the end-session endpoint (its
    /// own query kept) with `id_token_hint`, `logout_hint`, `client_id` (always),
    /// `post_logout_redirect_uri`, `state`, `ui_locales` and the extra parameters, in that
    /// order, form-encoded.
    ///
    /// # Errors
    /// [`Error::MissingEndpoint`] (`end_session`); [`Error::InvalidInput`] for an extra
    /// parameter the request sets itself or the endpoint's query already has, or a
    /// `post_logout_redirect_uri` that is not an absolute URI or has a fragment;
    /// [`Error::InsecureEndpoint`] for an `http://` one off loopback.
    pub fn end_session_url(&self, request: &EndSessionRequest) -> Result<String, Error> {
        let endpoint = self
            .provider()
            .end_session_endpoint()
            .ok_or(Error::MissingEndpoint {
                endpoint: Endpoint::EndSession,
            })?;
        let endpoint_query = endpoint.split_once('?').map(|(_, q)| q);
        for (name, _) in &request.params {
            let in_query = endpoint_query.is_some_and(|q| {
                form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == name.as_str())
            });
            if END_SESSION_PARAMS.contains(&name.as_str()) || in_query {
                return Err(Error::invalid(format!(
                    "parameter {} is set by the request or the endpoint's query; it cannot be added again",
                    oauth_text(name, Charset::Uri, 64)
                )));
            }
        }
        if let Some(uri) = &request.post_logout_redirect_uri {
            check_post_logout_redirect_uri(uri)?;
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(hint) = &request.id_token_hint {
            query.append_pair("id_token_hint", hint.secret());
        }
        if let Some(hint) = &request.logout_hint {
            query.append_pair("logout_hint", hint);
        }
        query.append_pair("client_id", self.client_id());
        if let Some(uri) = &request.post_logout_redirect_uri {
            query.append_pair("post_logout_redirect_uri", uri);
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        if let Some(locales) = &request.ui_locales {
            query.append_pair("ui_locales", locales);
        }
        for (k, v) in &request.params {
            query.append_pair(k, v);
        }
        let separator = match endpoint_query {
            None => "?",
            Some(q) if q.is_empty() || q.ends_with('&') => "",
            Some(_) => "&",
        };
        Ok(format!("{endpoint}{separator}{}", query.finish()))
    }
}

#[cfg(test)]
mod stored_claims_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_survive_storage_and_refuse_garbage_without_echoing_it() {
        let mut claims = Map::new();
        for (k, v) in [
            ("iss", serde_json::json!("https://op.example")),
            ("sub", serde_json::json!("alice")),
            ("aud", serde_json::json!(["app", "api"])),
            ("azp", serde_json::json!("app")),
            ("exp", serde_json::json!(2_000_000_000u64)),
            ("iat", serde_json::json!(1_700_000_000u64)),
            ("auth_time", serde_json::json!(1_699_999_000u64)),
            ("nonce", serde_json::json!("n-123")),
            ("email", serde_json::json!("alice@example.com")),
        ] {
            claims.insert(k.into(), v);
        }
        let mut original = read_claims(claims, "https://op.example", "app").unwrap();
        original.alg = Algorithm::Es256;
        let back = IdTokenClaims::from_json(&original.to_json()).unwrap();
        assert_eq!(back.sub(), "alice");
        assert_eq!(back.audiences(), ["app", "api"]);
        assert_eq!(back.azp(), Some("app"));
        assert_eq!(back.auth_time(), Some(1_699_999_000));
        assert_eq!(back.nonce().unwrap().secret(), "n-123");
        assert_eq!(back.algorithm(), Algorithm::Es256);
        assert_eq!(back.claims()["email"], "alice@example.com");
        refreshed(&back, &original).unwrap();
        for bad in [
            "not json SECRETVALUE",
            r#"{"alg":"none","claims":{}}"#,
            r#"{"alg":"RS256","claims":"SECRETVALUE"}"#,
            r#"{"alg":"RS256","claims":{"iss":"x","sub":"SECRETVALUE","aud":["a","b"]}}"#,
        ] {
            let e = IdTokenClaims::from_json(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_input", "{bad}");
            assert!(!e.to_string().contains("SECRETVALUE"), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::jose::{JwkSet, SigningKey};
    use crate::{AuthorizationRequest, GrantType, Provider};
    use serde_json::json;

    const ISS: &str = "https://op.example";
    const NOW: u64 = 1_700_000_000;

    fn key() -> SigningKey {
        SigningKey::from_jwk(
            r#"{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        )
        .unwrap()
    }

    fn verified(claims: Value) -> VerifiedJws {
        let k = key();
        let token = k.sign(&Map::new(), claims.as_object().unwrap()).unwrap();
        JwkSet::new(vec![k.public_jwk().unwrap()])
            .verify(&token, &[Algorithm::EdDsa])
            .unwrap()
    }

    fn client() -> Client {
        let p = Provider::builder("op")
            .issuer(ISS)
            .authorization_endpoint("https://op.example/a")
            .token_endpoint("https://op.example/t")
            .userinfo_endpoint("https://op.example/me")
            .end_session_endpoint("https://op.example/logout")
            .id_token_algorithm_names(["EdDSA", "HS256"])
            .grant(GrantType::AuthorizationCode)
            .build()
            .unwrap();
        Client::new(p, "app")
    }

    #[test]
    fn a_round_trip_and_nothing_secret_printed() {
        let c = client();
        let auth = c
            .authorization_url_with_seed(
                &AuthorizationRequest::new().scopes(["openid"]).max_age(60),
                &[9u8; 96],
            )
            .unwrap();
        let pending = auth.pending;
        let nonce = pending.nonce().unwrap().secret().to_owned();
        let check = c
            .id_token_check(&pending)
            .unwrap()
            .access_token(&AccessToken::new("at-secret"));
        // HS256 listed by the provider is not accepted by default.
        assert_eq!(check.accepted_algorithms(), [Algorithm::EdDsa]);
        let v = verified(
            json!({"iss": ISS, "sub": "alice", "aud": "app", "exp": NOW + 60,
            "iat": NOW, "auth_time": NOW - 30, "nonce": nonce, "email": "secret@example.com",
            "at_hash": token_hash(Algorithm::EdDsa, "at-secret")}),
        );
        let claims = check.validate(&v, NOW).unwrap();
        assert_eq!(claims.sub(), "alice");
        for shown in [
            format!("{check:?}"),
            format!("{claims:?}"),
            format!("{pending:?}"),
        ] {
            assert!(!shown.contains(&nonce), "{shown}");
            assert!(!shown.contains("at-secret"), "{shown}");
            assert!(!shown.contains("secret@example.com"), "{shown}");
        }
        // The same token with another request's nonce: refused, the message names the claim
        // only.
        let other = c
            .authorization_url_with_seed(
                &AuthorizationRequest::new().scopes(["openid"]),
                &[8u8; 96],
            )
            .unwrap()
            .pending;
        let e = c
            .id_token_check(&other)
            .unwrap()
            .validate(&v, NOW)
            .unwrap_err();
        assert_eq!(e.kind(), "id_token");
        assert_eq!(e.fault(), crate::Fault::Response);
        assert!(!e.to_string().contains(&nonce), "{e}");
        assert!(e.to_string().contains("nonce"), "{e}");
        // Restored from JSON, the pending record keeps nonce and max_age.
        let restored = PendingAuthorization::from_json(&pending.to_json()).unwrap();
        assert_eq!(restored.max_age(), Some(60));
        assert!(restored.nonce().unwrap().ct_eq(&nonce));
    }

    #[test]
    fn older_pending_json_still_loads() {
        let p = PendingAuthorization::from_json(
            r#"{"state":"s","code_verifier":"v","redirect_uri":null,"issuer":"https://op.example","require_iss":false}"#,
        )
        .unwrap();
        assert!(p.nonce().is_none() && p.max_age().is_none());
        let check = client().id_token_check(&p).unwrap();
        assert!(check.expected_nonce().is_none());
    }

    #[test]
    fn seeds_of_other_lengths_are_refused() {
        let e = client()
            .authorization_url_with_seed(&AuthorizationRequest::new(), &[0u8; 65])
            .unwrap_err();
        assert_eq!(e.kind(), "invalid_input");
    }

    #[test]
    fn iss_in_errors_is_escaped_and_capped() {
        let evil = format!("https://evil\r\n{}", "x".repeat(50_000));
        let e = IdTokenCheck::new(ISS, "app")
            .algorithms([Algorithm::EdDsa])
            .validate(
                &verified(
                    json!({"iss": evil, "sub": "a", "aud": "app", "exp": NOW + 9, "iat": NOW}),
                ),
                NOW,
            )
            .unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.len() < 3000 && !shown.contains('\n'),
            "{}",
            shown.len()
        );
    }

    #[test]
    fn token_hash_follows_the_algorithm() {
        // OIDC Core 1.0 §A.3 example: RS256 at_hash of this access token.
        assert_eq!(
            token_hash(
                Algorithm::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(token_hash(Algorithm::EdDsa, "x").len(), 43);
        assert_eq!(token_hash(Algorithm::Es384, "x").len(), 32);
    }

    #[test]
    fn userinfo_request_and_logout_redact_in_debug() {
        let c = client();
        let r = c.userinfo_request(&AccessToken::new("tok")).unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert!(r.headers()[AUTHORIZATION].is_sensitive());
        let req = EndSessionRequest::new()
            .id_token_hint(&IdToken::new("eyJ.hint.secret"))
            .state("st8");
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("hint.secret") && !shown.contains("st8"),
            "{shown}"
        );
        assert!(c
            .end_session_url(&req)
            .unwrap()
            .contains("id_token_hint=eyJ.hint.secret"));
    }
}
