//! What responses turn into: token sets, authorization records, code grants, introspection
//! answers, device authorizations and polls; and the sans-IO parse functions.

use crate::convert::{
    get, now_or, opt_string, or_null, redacted_if, response_from_js, seconds, set, string_array,
    Failure,
};
use grantline::{AccessToken, Error, RefreshToken};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A successful token response, with its expiry made absolute. Persist it with `serialize()`
/// (the string holds the tokens: store it as a secret). It shows as data without its secrets:
/// `JSON.stringify()` (and so structured loggers), `console.log`/`util.inspect` and `toString`
/// give the redacted view of `toJSON()`. `structuredClone()` and `postMessage()` throw a
/// `DataCloneError` that points to `serialize()`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct TokenSet {
    pub(crate) inner: grantline::TokenSet,
}

impl From<grantline::TokenSet> for TokenSet {
    fn from(inner: grantline::TokenSet) -> Self {
        TokenSet { inner }
    }
}

#[wasm_bindgen]
impl TokenSet {
    /// A token set from parts (e.g. restored by other means than `serialize()`):
    /// `{ accessToken, refreshToken?, expiresAt?, issuedAt? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(
            unchecked_param_type = "{ accessToken: string, refreshToken?: string, expiresAt?: number, issuedAt?: number }"
        )]
        parts: JsValue,
    ) -> Result<TokenSet, Failure> {
        crate::convert::known_keys(
            &parts,
            "TokenSet",
            &["accessToken", "refreshToken", "expiresAt", "issuedAt"],
        )?;
        let access = opt_string(&get(&parts, "accessToken"), "accessToken")?
            .ok_or_else(|| crate::convert::invalid("a TokenSet needs an accessToken"))?;
        let refresh = opt_string(&get(&parts, "refreshToken"), "refreshToken")?;
        let expires_at = crate::convert::opt_seconds(&get(&parts, "expiresAt"), "expiresAt")?;
        let issued_at = crate::convert::opt_seconds(&get(&parts, "issuedAt"), "issuedAt")?;
        Ok(grantline::TokenSet::new(
            AccessToken::new(access),
            refresh.map(RefreshToken::new),
            expires_at,
            issued_at.map_or_else(|| now_or(None), Ok)?,
        )
        .into())
    }

    /// The access token: send it as `Authorization: Bearer <token>`.
    #[wasm_bindgen(getter, js_name = accessToken)]
    pub fn access_token(&self) -> String {
        self.inner.access_token().secret().to_owned()
    }

    /// The token type (`Bearer` for any case of "bearer", or when absent).
    #[wasm_bindgen(getter, js_name = tokenType)]
    pub fn token_type(&self) -> String {
        self.inner.token_type().to_owned()
    }

    /// Whether the access token is a bearer token (`token_type` `Bearer` in any case, or
    /// absent). Any other type (`DPoP`, `N_A`...) is never sent as `Bearer`: sessions refuse
    /// it, and so does `authorizationHeader()`.
    #[wasm_bindgen(getter, js_name = isBearer)]
    pub fn is_bearer(&self) -> bool {
        self.inner.is_bearer()
    }

    /// `Bearer <access token>`: the `Authorization` header value to send to an API. Throws
    /// `ConfigurationError` (kind `unsupported_token_type`) for a token that is not a bearer
    /// token.
    #[wasm_bindgen(js_name = authorizationHeader)]
    pub fn authorization_header(&self) -> Result<String, Failure> {
        let value = grantline::bearer::authorization_header_for(&self.inner)?;
        // A header value the core built from a visible-ASCII token.
        Ok(value.to_str().unwrap_or_default().to_owned())
    }

    /// Whether the access token had already expired when the response arrived (`expires_in`
    /// 0, a past `expires`, or a client clock ahead of the server's).
    #[wasm_bindgen(getter, js_name = expiredOnArrival)]
    pub fn expired_on_arrival(&self) -> bool {
        self.inner.expired_on_arrival()
    }

    /// The refresh token, when there is one.
    #[wasm_bindgen(getter, js_name = refreshToken)]
    pub fn refresh_token(&self) -> Option<String> {
        self.inner.refresh_token().map(|t| t.secret().to_owned())
    }

    /// The OpenID Connect ID token (unverified), when there is one.
    #[wasm_bindgen(getter, js_name = idToken)]
    pub fn id_token(&self) -> Option<String> {
        self.inner.id_token().map(|t| t.secret().to_owned())
    }

    /// The `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1), when present.
    #[wasm_bindgen(getter, js_name = issuedTokenType)]
    pub fn issued_token_type(&self) -> Option<String> {
        self.inner.issued_token_type().map(str::to_owned)
    }

    /// When the access token expires (Unix seconds), when known. Values past 2^53 are
    /// rounded (a JavaScript number).
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<f64> {
        self.inner.expires_at().map(|s| s as f64)
    }

    /// When the response was received (Unix seconds).
    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.inner.issued_at() as f64
    }

    /// Where `expiresAt` comes from: `expires_in`, `expires`, `unverified_jwt_exp` or
    /// `unknown`.
    #[wasm_bindgen(getter, js_name = expirySource, unchecked_return_type = "'expires_in' | 'expires' | 'unverified_jwt_exp' | 'unknown'")]
    pub fn expiry_source(&self) -> String {
        self.inner.expiry_source().as_str().to_owned()
    }

    /// The granted scopes, when the response named them.
    #[wasm_bindgen(getter)]
    pub fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes().map(<[String]>::to_vec)
    }

    /// Members of the response grantline does not know, as received (they may hold secrets
    /// of the provider's own).
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn extra(&self) -> JsValue {
        json_value(&serde_json::Value::Object(self.inner.extra().clone()))
    }

    /// Whether the access token is expired at `now`, or will be within `skew` seconds
    /// (capped at half its lifetime). `now` defaults to the current time.
    #[wasm_bindgen(js_name = expiresWithin)]
    pub fn expires_within(&self, skew: f64, now: Option<f64>) -> Result<bool, Failure> {
        Ok(self
            .inner
            .expires_within(now_or(now)?, seconds(skew, "skew")?))
    }

    /// After a refresh: keep `previous`'s refresh token when this answer had none. Returns
    /// whether the refresh token rotated (then persist this set: the old token is dead).
    #[wasm_bindgen(js_name = inheritRefreshToken)]
    pub fn inherit_refresh_token(&mut self, previous: &TokenSet) -> bool {
        self.inner.inherit_refresh_token(&previous.inner)
    }

    /// The token set as a JSON string, to persist. It holds the tokens: store it as a secret.
    pub fn serialize(&self) -> String {
        self.inner.to_json()
    }

    /// A token set persisted with `serialize()`.
    pub fn deserialize(json: &str) -> Result<TokenSet, Failure> {
        Ok(grantline::TokenSet::from_json(json)?.into())
    }

    /// A redacted summary: never the tokens.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// The redacted view `JSON.stringify(tokens)` shows (what a structured logger such as
    /// pino or winston writes): `{ accessToken: '[redacted]', tokenType, expiresAt, scopes,
    /// refreshToken, idToken, issuedAt, expirySource, extra }`. `refreshToken` and `idToken` are
    /// `'[redacted]'` when present, `null` when absent; `extra` keeps the member names, every
    /// value `'[redacted]'`. Not a way to persist: that is `serialize()`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "TokenSetView")]
    pub fn to_view(&self) -> JsValue {
        let t = &self.inner;
        let o = Object::new();
        set(&o, "accessToken", redacted_if(true));
        set(&o, "tokenType", t.token_type());
        set(&o, "expiresAt", or_null(t.expires_at().map(|s| s as f64)));
        set(
            &o,
            "scopes",
            or_null(
                t.scopes()
                    .map(|s| string_array(s.iter().map(String::as_str))),
            ),
        );
        set(&o, "refreshToken", redacted_if(t.refresh_token().is_some()));
        set(&o, "idToken", redacted_if(t.id_token().is_some()));
        set(&o, "issuedAt", t.issued_at() as f64);
        set(&o, "expirySource", t.expiry_source().as_str());
        set(&o, "issuedTokenType", or_null(t.issued_token_type()));
        let extra = Object::new();
        for name in t.extra_names() {
            set(&extra, name, redacted_if(true));
        }
        set(&o, "extra", extra);
        o.into()
    }
}

/// A JSON value as a JavaScript value (numbers beyond 2^53 are rounded).
pub(crate) fn json_value(v: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::UNDEFINED)
}

/// What `authorizationUrl()` returns: where to send the user, and what to keep.
#[wasm_bindgen]
pub struct Authorization {
    url: String,
    pending: PendingAuthorization,
}

impl From<grantline::Authorization> for Authorization {
    fn from(a: grantline::Authorization) -> Self {
        Authorization {
            url: a.url,
            pending: PendingAuthorization { inner: a.pending },
        }
    }
}

#[wasm_bindgen]
impl Authorization {
    /// The authorization URL: redirect the user's browser here.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Keep this until the callback (session, encrypted cookie, KV store): it holds the
    /// `state` and the PKCE verifier.
    #[wasm_bindgen(getter)]
    pub fn pending(&self) -> PendingAuthorization {
        self.pending.clone()
    }

    /// The URL without its query (which holds the state), and the pending record redacted.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        let base = self.url.split('?').next().unwrap_or_default();
        format!("Authorization {{ url: {base}?[redacted], pending: [redacted] }}")
    }

    /// The redacted view `JSON.stringify()` shows: `{ url, pending }`, the URL with its
    /// `state` (and any other secret parameter) redacted, `pending` as its own redacted view.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "AuthorizationView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "url", grantline::redact::url(&self.url));
        set(&o, "pending", self.pending.to_view());
        o.into()
    }
}

/// The state and PKCE verifier of an authorization in progress. `serialize()` it to store
/// it (the string is a secret), `PendingAuthorization.deserialize()` it at the callback. It
/// shows as data without its secrets (`JSON.stringify()`, `console.log`: the view of
/// `toJSON()`); `structuredClone()` and `postMessage()` throw a `DataCloneError` that points to
/// `serialize()`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct PendingAuthorization {
    pub(crate) inner: grantline::PendingAuthorization,
}

#[wasm_bindgen]
impl PendingAuthorization {
    /// The record as a JSON string. It holds the state and the PKCE verifier: keep it where
    /// only this user's session can read it.
    pub fn serialize(&self) -> String {
        self.inner.to_json()
    }

    /// A record stored with `serialize()`.
    pub fn deserialize(json: &str) -> Result<PendingAuthorization, Failure> {
        Ok(PendingAuthorization {
            inner: grantline::PendingAuthorization::from_json(json)?,
        })
    }

    /// The OpenID Connect `nonce` the request sent (the ID token must carry it), when there is
    /// one.
    #[wasm_bindgen(getter)]
    pub fn nonce(&self) -> Option<String> {
        self.inner.nonce().map(|n| n.secret().to_owned())
    }

    /// The `max_age` the request sent (seconds), when there is one.
    #[wasm_bindgen(getter, js_name = maxAge)]
    pub fn max_age(&self) -> Option<f64> {
        self.inner.max_age().map(|s| s as f64)
    }

    /// `PendingAuthorization { [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        "PendingAuthorization { [redacted] }".to_owned()
    }

    /// The redacted view `JSON.stringify()` shows: `{ state: '[redacted]', codeVerifier,
    /// redirectUri }` (`codeVerifier` `'[redacted]'` with PKCE, else `null`). Not a way to
    /// store it: that is `serialize()`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "PendingAuthorizationView")]
    pub fn to_view(&self) -> JsValue {
        let p = &self.inner;
        let o = Object::new();
        set(&o, "state", redacted_if(true));
        set(&o, "codeVerifier", redacted_if(p.code_verifier().is_some()));
        set(&o, "redirectUri", or_null(p.redirect_uri()));
        set(&o, "nonce", redacted_if(p.nonce().is_some()));
        set(&o, "maxAge", or_null(p.max_age().map(|s| s as f64)));
        o.into()
    }
}

/// An authorization code ready to exchange: the code, the PKCE verifier and the redirect URI
/// of its request. Prints and serializes redacted (`toJSON()`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct CodeGrant {
    pub(crate) inner: grantline::CodeGrant,
}

#[wasm_bindgen]
impl CodeGrant {
    /// A code grant from parts (e.g. a code obtained by other means).
    #[wasm_bindgen(constructor)]
    pub fn new(
        code: String,
        code_verifier: Option<String>,
        redirect_uri: Option<String>,
    ) -> CodeGrant {
        CodeGrant {
            inner: grantline::CodeGrant {
                code: grantline::AuthorizationCode::new(code),
                code_verifier: code_verifier.map(grantline::PkceVerifier::new),
                redirect_uri,
            },
        }
    }

    /// The authorization code.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.inner.code.secret().to_owned()
    }

    /// The PKCE verifier, when the request used PKCE.
    #[wasm_bindgen(getter, js_name = codeVerifier)]
    pub fn code_verifier(&self) -> Option<String> {
        self.inner
            .code_verifier
            .as_ref()
            .map(|v| v.secret().to_owned())
    }

    /// The redirect URI to repeat in the exchange.
    #[wasm_bindgen(getter, js_name = redirectUri)]
    pub fn redirect_uri(&self) -> Option<String> {
        self.inner.redirect_uri.clone()
    }

    /// `CodeGrant { code: [redacted], ... }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// The redacted view `JSON.stringify()` shows: `{ code: '[redacted]', codeVerifier,
    /// redirectUri }` (`codeVerifier` `'[redacted]'` with PKCE, else `null`).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "CodeGrantView")]
    pub fn to_view(&self) -> JsValue {
        let g = &self.inner;
        let o = Object::new();
        set(&o, "code", redacted_if(true));
        set(&o, "codeVerifier", redacted_if(g.code_verifier.is_some()));
        set(&o, "redirectUri", or_null(g.redirect_uri.as_deref()));
        o.into()
    }
}

/// The device authorization answer (RFC 8628 §3.2): show `userCode` and `verificationUri`
/// to the user, then poll. Prints and serializes without the device code, a secret
/// (`toJSON()`).
#[wasm_bindgen]
#[derive(Clone)]
pub struct DeviceAuthorization {
    pub(crate) inner: grantline::DeviceAuthorization,
}

#[wasm_bindgen]
impl DeviceAuthorization {
    /// The device code, sent with every poll.
    #[wasm_bindgen(getter, js_name = deviceCode)]
    pub fn device_code(&self) -> String {
        self.inner.device_code.secret().to_owned()
    }

    /// The code the user types at the verification URI.
    #[wasm_bindgen(getter, js_name = userCode)]
    pub fn user_code(&self) -> String {
        self.inner.user_code.clone()
    }

    /// Where the user goes.
    #[wasm_bindgen(getter, js_name = verificationUri)]
    pub fn verification_uri(&self) -> String {
        self.inner.verification_uri.clone()
    }

    /// The verification URI with the user code in it, when given (for QR codes).
    #[wasm_bindgen(getter, js_name = verificationUriComplete)]
    pub fn verification_uri_complete(&self) -> Option<String> {
        self.inner.verification_uri_complete.clone()
    }

    /// When the device code expires (Unix seconds), when given.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<f64> {
        self.inner.expires_at.map(|s| s as f64)
    }

    /// Seconds to wait between polls.
    #[wasm_bindgen(getter)]
    pub fn interval(&self) -> f64 {
        self.inner.interval as f64
    }

    /// A redacted summary.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// The redacted view `JSON.stringify()` shows: `{ deviceCode: '[redacted]', userCode,
    /// verificationUri, verificationUriComplete, expiresAt, interval }` (the user code is shown
    /// to the user anyway; the device code is the secret).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "DeviceAuthorizationView")]
    pub fn to_view(&self) -> JsValue {
        let d = &self.inner;
        let o = Object::new();
        set(&o, "deviceCode", redacted_if(true));
        set(&o, "userCode", d.user_code.as_str());
        set(&o, "verificationUri", d.verification_uri.as_str());
        set(
            &o,
            "verificationUriComplete",
            or_null(d.verification_uri_complete.as_deref()),
        );
        set(&o, "expiresAt", or_null(d.expires_at.map(|s| s as f64)));
        set(&o, "interval", d.interval as f64);
        o.into()
    }
}

/// Introspection answer as a plain object (no secrets in it).
fn introspection_to_js(i: &grantline::Introspection) -> JsValue {
    let o = Object::new();
    set(&o, "active", i.active);
    set(
        &o,
        "scopes",
        i.scopes
            .as_ref()
            .map(|s| s.iter().map(JsValue::from).collect::<Array>()),
    );
    set(&o, "clientId", i.client_id.as_deref());
    set(&o, "username", i.username.as_deref());
    set(&o, "tokenType", i.token_type.as_deref());
    set(&o, "exp", i.exp.map(|s| s as f64));
    set(&o, "iat", i.iat.map(|s| s as f64));
    set(&o, "sub", i.sub.as_deref());
    set(&o, "iss", i.iss.as_deref());
    set(
        &o,
        "extra",
        json_value(&serde_json::Value::Object(i.extra.clone())),
    );
    o.into()
}

pub(crate) fn poll_to_js(p: grantline::DevicePoll) -> JsValue {
    let o = Object::new();
    match p {
        grantline::DevicePoll::Tokens(t) => {
            set(&o, "poll", "tokens");
            set(&o, "tokenSet", TokenSet::from(t));
        }
        grantline::DevicePoll::Pending { interval } => {
            set(&o, "poll", "pending");
            set(&o, "interval", interval as f64);
        }
        grantline::DevicePoll::SlowDown { interval } => {
            set(&o, "poll", "slow_down");
            set(&o, "interval", interval as f64);
        }
        grantline::DevicePoll::Expired => set(&o, "poll", "expired"),
        grantline::DevicePoll::Denied => set(&o, "poll", "denied"),
    }
    o.into()
}

/// The parsers the `parse*` functions dispatch to, by number (the same code serves plain
/// objects at once and fetch `Response`s after `js/support.js` has read them).
pub(crate) const TOKEN: u32 = 0;
pub(crate) const INTROSPECTION: u32 = 1;
const REVOCATION: u32 = 2;
pub(crate) const DEVICE_AUTHORIZATION: u32 = 3;
const DEVICE_POLL: u32 = 4;

/// A provider's response scope separator as the number that crosses into JavaScript and back
/// (0: none, split on spaces only).
pub(crate) fn separator_code(provider: &grantline::Provider) -> u32 {
    provider.response_scope_separator().map_or(0, u32::from)
}

/// A token response parsed as `TokenSet::from_response_for` would for a provider whose response
/// scope separator is `separator` (0: `TokenSet::from_response`).
fn token_set(
    r: &http::Response<Vec<u8>>,
    now: u64,
    separator: u32,
) -> Result<grantline::TokenSet, Error> {
    match char::from_u32(separator).filter(|c| *c != '\0') {
        None => grantline::TokenSet::from_response(r, now),
        Some(c) => {
            // The convenient layer's answers arrive in a closure made once (no per-call
            // allocation), which carries the separator, not the provider: a provider with that
            // separator and nothing else parses the same.
            let provider = grantline::Provider::builder("response")
                .scope_separator(c.to_string())
                .build()?;
            grantline::TokenSet::from_response_for(r, now, &provider)
        }
    }
}

fn parse_kind(
    kind: u32,
    r: &http::Response<Vec<u8>>,
    now: u64,
    interval: u64,
    separator: u32,
) -> Result<JsValue, Error> {
    Ok(match kind {
        TOKEN => TokenSet::from(token_set(r, now, separator)?).into(),
        INTROSPECTION => introspection_to_js(&grantline::Introspection::from_response(r)?),
        REVOCATION => {
            grantline::check_revocation_response(r)?;
            JsValue::TRUE
        }
        DEVICE_AUTHORIZATION => DeviceAuthorization {
            inner: grantline::DeviceAuthorization::from_response(r, now)?,
        }
        .into(),
        _ => poll_to_js(grantline::DevicePoll::from_response(r, now, interval)?),
    })
}

thread_local! {
    /// Parses a read fetch `Response`, handed over in parts (see
    /// `convert::response_from_parts`; made once, kept for the module's life: no closure is
    /// allocated per call).
    static PARSE_READ: Closure<ParseRead> = Closure::new(
        |kind: u32, status: f64, headers: Option<String>, body: Vec<u8>, now: f64, interval: f64, separator: u32| {
            let r = crate::convert::response_from_parts(status, None, headers, body)
                .map_err(Failure)?;
            parse_kind(kind, &r, now as u64, interval as u64, separator)
                .map_err(|e| JsValue::from(Failure(e)))
        },
    );
}

/// `(kind, status, headers, body, now, interval, separator) -> parsed`, called from
/// `js/support.js`.
type ParseRead =
    dyn Fn(u32, f64, Option<String>, Vec<u8>, f64, f64, u32) -> Result<JsValue, JsValue>;
/// `(kind, status, what, headers, body, extra, separator) -> parsed` (the parts as
/// `convert::response_from_parts` takes them; `kind` -1: `extra` is what fetch or the body
/// read threw), called from `js/support.js`.
type Exchanged = dyn Fn(
    i32,
    f64,
    Option<String>,
    Option<String>,
    Vec<u8>,
    JsValue,
    u32,
) -> Result<JsValue, JsValue>;

/// The convenient layer's kinds beyond the parsers': a refresh (the answer inherits the
/// refresh token in `extra` when it has none), and a revocation that resolves to nothing.
pub(crate) const REFRESH: i32 = 5;
pub(crate) const REVOKE: i32 = 6;
/// `fetch` or the body read failed: the value is what was thrown.
const FAILED: i32 = -1;

/// What a convenient call's answer becomes, at the time it arrives: `r`, the response read
/// (or, for `FAILED`, what was thrown).
fn exchanged(
    kind: i32,
    r: Result<http::Response<Vec<u8>>, Error>,
    extra: &JsValue,
    separator: u32,
) -> Result<JsValue, Error> {
    let r = r?;
    let now = now_or(None)?;
    match kind {
        REFRESH => {
            let mut tokens = token_set(&r, now, separator)?;
            let previous = grantline::TokenSet::new(
                AccessToken::new(""),
                extra.as_string().map(RefreshToken::new),
                None,
                0,
            );
            tokens.inherit_refresh_token(&previous);
            Ok(TokenSet::from(tokens).into())
        }
        REVOKE => grantline::check_revocation_response(&r).map(|()| JsValue::UNDEFINED),
        // The parsers' kinds are small non-negative numbers.
        other => parse_kind(other.unsigned_abs(), &r, now, 0, separator),
    }
}

thread_local! {
    /// `exchanged` as a JavaScript function, made once.
    pub(crate) static EXCHANGED: Closure<Exchanged> = Closure::new(
        |kind: i32,
         status: f64,
         what: Option<String>,
         headers: Option<String>,
         body: Vec<u8>,
         extra: JsValue,
         separator: u32| {
            let read = if kind == FAILED {
                Err(crate::fetch::fetch_failed(&extra))
            } else {
                crate::convert::response_from_parts(status, what, headers, body)
            };
            exchanged(kind, read, &extra, separator).map_err(|e| JsValue::from(Failure(e)))
        },
    );
}

/// Parses a plain response object at once, or a fetch `Response` after reading its body
/// (at most `MAX_BODY + 1` bytes; then the result is a Promise).
fn parse(
    response: &JsValue,
    kind: u32,
    now: u64,
    interval: u64,
    separator: u32,
) -> Result<JsValue, Failure> {
    if crate::convert::is_fetch_response(response) {
        let promise = crate::convert::RESPONSE_HEADERS.with(|names| {
            PARSE_READ.with(|parse| {
                crate::convert::read_then_parse(
                    response,
                    names,
                    crate::fetch::BODY_CAP,
                    parse.as_ref().unchecked_ref(),
                    kind,
                    now as f64,
                    interval as f64,
                    separator,
                )
            })
        });
        return Ok(promise.into());
    }
    Ok(parse_kind(
        kind,
        &response_from_js(response)?,
        now,
        interval,
        separator,
    )?)
}

/// Parses a token endpoint response (`{ status, headers, body }`, or a fetch `Response`,
/// then asynchronously) received at `now` (Unix seconds; default: the current time) into a
/// `TokenSet`, or throws the error it carries. `scope` is split on spaces; a provider's
/// `parseTokenResponse()` also splits it on the provider's own separator.
#[wasm_bindgen(js_name = parseTokenResponse, skip_typescript)]
pub fn parse_token_response(response: JsValue, now: Option<f64>) -> Result<JsValue, Failure> {
    parse(&response, TOKEN, now_or(now)?, 0, 0)
}

/// `parseTokenResponse()` for an answer of `provider`'s token endpoint (what the convenient
/// calls do): `scope` also split on the provider's one-character scope separator (e.g. `,`).
pub(crate) fn parse_token_response_for(
    provider: &grantline::Provider,
    response: &JsValue,
    now: Option<f64>,
) -> Result<JsValue, Failure> {
    parse(response, TOKEN, now_or(now)?, 0, separator_code(provider))
}

/// Parses an introspection response (RFC 7662) into a plain object; `{ active: false }` is an
/// answer, not an error.
#[wasm_bindgen(js_name = parseIntrospectionResponse, skip_typescript)]
pub fn parse_introspection_response(response: JsValue) -> Result<JsValue, Failure> {
    parse(&response, INTROSPECTION, 0, 0, 0)
}

/// Checks a revocation response (RFC 7009): returns `true`, or throws the error it carries.
#[wasm_bindgen(js_name = checkRevocationResponse, skip_typescript)]
pub fn check_revocation_response(response: JsValue) -> Result<JsValue, Failure> {
    parse(&response, REVOCATION, 0, 0, 0)
}

/// Parses a device authorization response (RFC 8628 §3.2) received at `now`.
#[wasm_bindgen(js_name = parseDeviceAuthorizationResponse, skip_typescript)]
pub fn parse_device_authorization_response(
    response: JsValue,
    now: Option<f64>,
) -> Result<JsValue, Failure> {
    parse(&response, DEVICE_AUTHORIZATION, now_or(now)?, 0, 0)
}

/// What one device poll's answer means: `{ poll: 'tokens', tokenSet }`, `{ poll: 'pending',
/// interval }`, `{ poll: 'slow_down', interval }` (the new, longer interval),
/// `{ poll: 'expired' }` or `{ poll: 'denied' }`; any other error is thrown.
#[wasm_bindgen(js_name = parseDevicePollResponse, skip_typescript)]
pub fn parse_device_poll_response(
    response: JsValue,
    interval: f64,
    now: Option<f64>,
) -> Result<JsValue, Failure> {
    parse(
        &response,
        DEVICE_POLL,
        now_or(now)?,
        seconds(interval, "interval")?,
        0,
    )
}
