//! OpenID Connect: ID token validation (with the client's own JWKS cache, over `fetch`, or
//! sans-IO with `IdTokenCheck`), userinfo and the end-session (logout) URL. Every rule is the
//! core's (`grantline::oidc`); this module converts types and drives the JWKS fetches.

use crate::client::Client;
use crate::convert::{
    absent, get, invalid, known_keys, now_or, opt_seconds, opt_string, or_null, pairs, redacted_if,
    request_to_js, response_from_js, set, string_array, Failure,
};
use crate::fetch::Call;
use crate::jose::{algorithm_names, algorithms, VerifiedJws};
use crate::tokens::{json_value, PendingAuthorization, TokenSet};
use grantline::jose::Algorithm;
use grantline::{AccessToken, AuthorizationCode, EndSessionRequest, Error, IdToken, JwksStep};
use js_sys::{Object, Promise};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// What an ID token must match (OpenID Connect Core 1.0 §3.1.3.7): the issuer, the client id,
/// the request's `nonce` and `max_age`, the clock leeway, the accepted algorithms, and the
/// access token (`at_hash`) and code (`c_hash`) when given. Built by `client.idTokenCheck()`
/// or `client.refreshIdTokenCheck()`. `toJSON` shows it with the nonce redacted.
#[wasm_bindgen]
#[derive(Clone)]
pub struct IdTokenCheck {
    inner: grantline::IdTokenCheck,
}

/// The check options: `leeway`, `algorithms`, `accessToken`, `code` (and, for the calls over
/// fetch, `timeout`, `signal`).
const CHECK_OPTIONS: [&str; 4] = ["leeway", "algorithms", "accessToken", "code"];

fn apply_check(
    mut check: grantline::IdTokenCheck,
    options: &JsValue,
) -> Result<grantline::IdTokenCheck, Error> {
    if let Some(s) = opt_seconds(&get(options, "leeway"), "leeway")? {
        check = check.leeway(s);
    }
    let algs = get(options, "algorithms");
    if !absent(&algs) {
        let list = algorithms(&algs, "algorithms")?;
        if list.is_empty() {
            return Err(invalid("algorithms must name at least one algorithm"));
        }
        check = check.algorithms(list);
    }
    if let Some(t) = opt_string(&get(options, "accessToken"), "accessToken")? {
        check = check.access_token(&AccessToken::new(t));
    }
    if let Some(c) = opt_string(&get(options, "code"), "code")? {
        check = check.code(&AuthorizationCode::new(c));
    }
    Ok(check)
}

#[wasm_bindgen]
impl IdTokenCheck {
    /// The issuer expected in `iss`.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }

    /// The client id expected in `aud`.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }

    /// The accepted algorithms: verify the token's signature with these.
    #[wasm_bindgen(getter, unchecked_return_type = "JwsAlgorithm[]")]
    pub fn algorithms(&self) -> js_sys::Array {
        algorithm_names(self.inner.accepted_algorithms())
    }

    /// The clock leeway, in seconds.
    #[wasm_bindgen(getter)]
    pub fn leeway(&self) -> f64 {
        self.inner.clock_leeway() as f64
    }

    /// The `max_age` checked against `auth_time`, when the request sent one.
    #[wasm_bindgen(getter, js_name = maxAge)]
    pub fn max_age(&self) -> Option<f64> {
        self.inner.expected_max_age().map(|s| s as f64)
    }

    /// Checks the claims of an ID token whose signature verified (`jwkSet.verify(token,
    /// check.algorithms)`, or a `JwksCache`), at `now` (Unix seconds; default: now). Throws
    /// `TokenValidationError` (kind `id_token`, with `claim`) when a claim fails.
    pub fn validate(
        &self,
        verified: &VerifiedJws,
        now: Option<f64>,
    ) -> Result<IdTokenClaims, Failure> {
        Ok(IdTokenClaims {
            inner: self.inner.validate(&verified.inner, now_or(now)?)?,
        })
    }

    /// Checks an ID token of a refresh answer against the claims of the one before (OIDC Core
    /// §12.2: same `iss`, `sub`, `aud`, `azp`, `auth_time`; a `nonce` only if equal).
    #[wasm_bindgen(js_name = validateRefreshed)]
    pub fn validate_refreshed(
        &self,
        verified: &VerifiedJws,
        previous: &IdTokenClaims,
        now: Option<f64>,
    ) -> Result<IdTokenClaims, Failure> {
        Ok(IdTokenClaims {
            inner: self
                .inner
                .validate_refreshed(&verified.inner, &previous.inner, now_or(now)?)?,
        })
    }

    /// `IdTokenCheck(<issuer>, <client id>)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!(
            "IdTokenCheck({}, {})",
            self.inner.issuer(),
            self.inner.client_id()
        )
    }

    /// `{ issuer, clientId, algorithms, leeway, maxAge, nonce }` (`nonce`: `'[redacted]'` when
    /// one is expected, else `null`).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "IdTokenCheckView")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "issuer", self.inner.issuer());
        set(&o, "clientId", self.inner.client_id());
        set(&o, "algorithms", self.algorithms());
        set(&o, "leeway", self.leeway());
        set(&o, "maxAge", or_null(self.max_age()));
        set(
            &o,
            "nonce",
            redacted_if(self.inner.expected_nonce().is_some()),
        );
        o.into()
    }
}

/// The claims of an ID token that passed its checks. Personal data: `toJSON` (and so
/// `JSON.stringify`, `console.log`) shows the registered claims, the nonce redacted, and only
/// the names of the others (`email`, `name`...); the getters and `claims` give the values.
#[wasm_bindgen]
#[derive(Clone)]
pub struct IdTokenClaims {
    pub(crate) inner: grantline::IdTokenClaims,
}

#[wasm_bindgen]
impl IdTokenClaims {
    /// The claims as a JSON string, to keep with the user's session: a later refresh's ID
    /// token is checked against them (`validateRefreshedIdToken`, OIDC Core §12.2). Personal
    /// data and the nonce: store it as the token set.
    pub fn serialize(&self) -> String {
        self.inner.to_json()
    }

    /// Claims stored with `serialize()`.
    pub fn deserialize(json: &str) -> Result<IdTokenClaims, Failure> {
        Ok(IdTokenClaims {
            inner: grantline::IdTokenClaims::from_json(json)?,
        })
    }

    /// `sub`: with `issuer`, the only stable key for the end-user.
    #[wasm_bindgen(getter)]
    pub fn sub(&self) -> String {
        self.inner.sub().to_owned()
    }
    /// `iss`.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }
    /// `aud`, as a list.
    #[wasm_bindgen(getter)]
    pub fn audiences(&self) -> Vec<String> {
        self.inner.audiences().to_vec()
    }
    /// `azp`, when present.
    #[wasm_bindgen(getter)]
    pub fn azp(&self) -> Option<String> {
        self.inner.azp().map(str::to_owned)
    }
    /// `exp` (Unix seconds).
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> f64 {
        self.inner.expires_at() as f64
    }
    /// `iat` (Unix seconds).
    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.inner.issued_at() as f64
    }
    /// `auth_time` (Unix seconds), when present.
    #[wasm_bindgen(getter, js_name = authTime)]
    pub fn auth_time(&self) -> Option<f64> {
        self.inner.auth_time().map(|s| s as f64)
    }
    /// `nonce`, when present.
    #[wasm_bindgen(getter)]
    pub fn nonce(&self) -> Option<String> {
        self.inner.nonce().map(|n| n.secret().to_owned())
    }
    /// `acr`, when present.
    #[wasm_bindgen(getter)]
    pub fn acr(&self) -> Option<String> {
        self.inner.acr().map(str::to_owned)
    }
    /// `amr`, when present.
    #[wasm_bindgen(getter)]
    pub fn amr(&self) -> Option<Vec<String>> {
        self.inner.amr().map(<[String]>::to_vec)
    }
    /// The algorithm the token was signed with.
    #[wasm_bindgen(getter, unchecked_return_type = "JwsAlgorithm")]
    pub fn algorithm(&self) -> String {
        self.inner.algorithm().name().to_owned()
    }
    /// Every claim, as received.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn claims(&self) -> JsValue {
        json_value(&Value::Object(self.inner.claims().clone()))
    }

    /// `IdTokenClaims { iss, sub, claim names }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// The view `JSON.stringify()` shows: `{ iss, sub, aud, azp, exp, iat, authTime, nonce,
    /// acr, amr, claimNames }` (`nonce` `'[redacted]'` when present; the other claims by name
    /// only).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "IdTokenClaimsView")]
    pub fn to_view(&self) -> JsValue {
        let c = &self.inner;
        let o = Object::new();
        set(&o, "iss", c.issuer());
        set(&o, "sub", c.sub());
        set(
            &o,
            "aud",
            string_array(c.audiences().iter().map(String::as_str)),
        );
        set(&o, "azp", or_null(c.azp()));
        set(&o, "exp", c.expires_at() as f64);
        set(&o, "iat", c.issued_at() as f64);
        set(&o, "authTime", or_null(c.auth_time().map(|s| s as f64)));
        set(&o, "nonce", redacted_if(c.nonce().is_some()));
        set(&o, "acr", or_null(c.acr()));
        set(
            &o,
            "amr",
            or_null(c.amr().map(|a| string_array(a.iter().map(String::as_str)))),
        );
        set(
            &o,
            "claimNames",
            string_array(c.claims().keys().map(String::as_str)),
        );
        o.into()
    }
}

/// The end-user's claims from the userinfo endpoint (OIDC Core §5.3), `sub` checked against the
/// ID token's. Personal data: `toJSON` shows `sub` and the claim names only.
#[wasm_bindgen]
#[derive(Clone)]
pub struct UserInfo {
    inner: grantline::UserInfo,
    signed: bool,
}

#[wasm_bindgen]
impl UserInfo {
    /// `sub`.
    #[wasm_bindgen(getter)]
    pub fn sub(&self) -> String {
        self.inner.sub().to_owned()
    }
    /// Every claim, as received.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, unknown>")]
    pub fn claims(&self) -> JsValue {
        json_value(&Value::Object(self.inner.claims().clone()))
    }
    /// Whether the answer was signed (`application/jwt`) and its signature verified.
    #[wasm_bindgen(getter)]
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// The claims of a signed answer whose signature verified: `sub` must be `expectedSub`,
    /// `iss` (when present) `issuer`, `aud` (when present) must include `clientId`.
    #[wasm_bindgen(js_name = fromVerified)]
    pub fn from_verified(
        verified: &VerifiedJws,
        expected_sub: &str,
        issuer: &str,
        client_id: &str,
    ) -> Result<UserInfo, Failure> {
        Ok(UserInfo {
            inner: grantline::UserInfo::from_verified(
                &verified.inner,
                expected_sub,
                issuer,
                client_id,
            )?,
            signed: true,
        })
    }

    /// `UserInfo { sub, claim names }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("{:?}", self.inner)
    }

    /// `{ sub, signed, claimNames }`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ sub: string, signed: boolean, claimNames: string[] }")]
    pub fn to_view(&self) -> JsValue {
        let o = Object::new();
        set(&o, "sub", self.inner.sub());
        set(&o, "signed", self.signed);
        set(
            &o,
            "claimNames",
            string_array(self.inner.claims().keys().map(String::as_str)),
        );
        o.into()
    }
}

/// Parses a userinfo answer (`{ status, headers, body }`); `expectedSub` is the ID token's
/// `sub`. A JSON answer: `{ userinfo }` (its `sub` checked). A signed answer
/// (`application/jwt`): `{ signed: <compact JWS> }`: verify it (a `JwksCache` or `JwkSet`),
/// then `UserInfo.fromVerified()`. A 401 with a Bearer `error` is an `OAuthError`.
#[wasm_bindgen(js_name = parseUserinfoResponse, unchecked_return_type = "{ userinfo: UserInfo } | { signed: string }")]
pub fn parse_userinfo_response(
    #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
    expected_sub: &str,
) -> Result<JsValue, Failure> {
    let response = response_from_js(&response)?;
    let o = Object::new();
    match grantline::UserInfo::from_response(&response, expected_sub)? {
        grantline::UserInfoAnswer::Claims(inner) => set(
            &o,
            "userinfo",
            UserInfo {
                inner,
                signed: false,
            },
        ),
        grantline::UserInfoAnswer::Signed(jws) => set(&o, "signed", jws),
    }
    Ok(o.into())
}

/// The `sub` to expect: a string, or the `IdTokenClaims` it comes from.
fn expected_sub(v: &JsValue) -> Result<String, Error> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    match get(v, "sub").as_string() {
        Some(s) if !get(v, "claimNames").is_undefined() || get(v, "toJSON").is_function() => Ok(s),
        _ => Err(invalid(
            "the expected sub must be a string or the IdTokenClaims of the ID token",
        )),
    }
}

/// An access token argument: a string, or a `TokenSet` (its access token).
fn access_token(v: &JsValue) -> Result<AccessToken, Error> {
    if let Some(s) = v.as_string() {
        return Ok(AccessToken::new(s));
    }
    match get(v, "accessToken").as_string() {
        Some(s) if get(v, "serialize").is_function() => Ok(AccessToken::new(s)),
        _ => Err(invalid("the access token must be a string or a TokenSet")),
    }
}

/// Verifies `token` with the client's JWKS cache, fetching the provider's keys when the core
/// says so (first use, or an unknown key after the refetch interval). One time for the whole
/// verification: the core never asks for a second fetch at the same time, so the loop ends
/// after one fetch at most, however long the fetch took.
async fn verify_with_cache(
    c: &Client,
    token: &str,
    accepted: &[Algorithm],
    call: &Call,
) -> Result<grantline::jose::VerifiedJws, Error> {
    let at = now_or(None)?;
    loop {
        let step = {
            let mut slot = c.jwks.borrow_mut();
            let cache = match slot.as_mut() {
                Some(cache) => cache,
                None => {
                    let mut cache = grantline::JwksCache::for_provider(c.inner.provider())?;
                    if let Some(s) = c.jwks_settings.0 {
                        cache = cache.with_min_refetch(s);
                    }
                    if let Some(s) = c.jwks_settings.1 {
                        cache = cache.with_max_age(s);
                    }
                    slot.insert(cache)
                }
            };
            match cache.verify(token, accepted, at)? {
                JwksStep::Verified(v) => return Ok(v),
                JwksStep::Fetch => cache.request(),
            }
        };
        let response = c.fetch.send(&step, call).await?;
        if let Some(cache) = c.jwks.borrow_mut().as_mut() {
            cache.receive(&response, at)?;
        }
    }
}

fn id_token_of(tokens: &grantline::TokenSet) -> Result<String, Error> {
    tokens.required_id_token().map(|t| t.secret().to_owned())
}

/// The options of the calls over fetch: the check's, plus `timeout` and `signal`.
fn call_of(c: &Client, options: &JsValue, what: &str) -> Result<Call, Error> {
    c.fetch.call(options, what, &CHECK_OPTIONS)
}

#[wasm_bindgen]
impl Client {
    /// The check an ID token from the code exchange of `pending` must pass: the issuer (the
    /// pending record's, else the provider's), this client's id, the request's `nonce` and
    /// `max_age`, the provider's ID token algorithms. `options`: `leeway` (seconds, default
    /// 60), `algorithms`, `accessToken` (checks `at_hash`), `code` (checks `c_hash`).
    #[wasm_bindgen(js_name = idTokenCheck)]
    pub fn id_token_check(
        &self,
        pending: &PendingAuthorization,
        #[wasm_bindgen(unchecked_optional_param_type = "IdTokenCheckOptions")] options: JsValue,
    ) -> Result<IdTokenCheck, Failure> {
        known_keys(&options, "idTokenCheck", &CHECK_OPTIONS)?;
        let check = self.inner.id_token_check(&pending.inner)?;
        Ok(IdTokenCheck {
            inner: apply_check(check, &options)?,
        })
    }

    /// The check an ID token from a refresh answer must pass (with `validateRefreshed`): the
    /// provider's issuer, this client's id and ID token algorithms; `options` as
    /// `idTokenCheck`'s.
    #[wasm_bindgen(js_name = refreshIdTokenCheck)]
    pub fn refresh_id_token_check(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "IdTokenCheckOptions")] options: JsValue,
    ) -> Result<IdTokenCheck, Failure> {
        known_keys(&options, "refreshIdTokenCheck", &CHECK_OPTIONS)?;
        let check = self.inner.refresh_id_token_check()?;
        Ok(IdTokenCheck {
            inner: apply_check(check, &options)?,
        })
    }

    /// Validates the ID token of a code exchange's `tokens` against `pending` (the record of
    /// the authorization request): its signature with the provider's keys (fetched from its
    /// `jwks_uri` through this client's `fetch` and kept by the client: a key rotation
    /// fetches them again once, rate-limited), then its claims (OIDC Core §3.1.3.7; `at_hash`
    /// against the token set's access token). Resolves with the claims; rejects with a
    /// `TokenValidationError` (kind `jws` or `id_token`, with `problem` or `claim`).
    /// `options`: `leeway`, `algorithms`, `code` (checks `c_hash`), `timeout`, `signal`.
    #[wasm_bindgen(js_name = validateIdToken, unchecked_return_type = "Promise<IdTokenClaims>")]
    pub fn validate_id_token(
        &self,
        tokens: &TokenSet,
        pending: &PendingAuthorization,
        #[wasm_bindgen(unchecked_optional_param_type = "ValidateOptions")] options: JsValue,
    ) -> Promise {
        let prepared = (|| -> Result<_, Error> {
            let call = call_of(self, &options, "validateIdToken")?;
            if !get(&options, "accessToken").is_undefined() {
                return Err(invalid(
                    "validateIdToken takes the access token from the token set",
                ));
            }
            let check = apply_check(self.inner.id_token_check(&pending.inner)?, &options)?
                .access_token(tokens.inner.access_token());
            Ok((call, check, id_token_of(&tokens.inner)?))
        })();
        let c = self.clone();
        future_to_promise(async move {
            let run = async {
                let (call, check, token) = prepared?;
                let verified =
                    verify_with_cache(&c, &token, check.accepted_algorithms(), &call).await?;
                check.validate(&verified, now_or(None)?)
            };
            run.await
                .map(|inner| IdTokenClaims { inner }.into())
                .map_err(|e| Failure(e).into())
        })
    }

    /// Validates the ID token of a refresh answer (`tokens`, from `client.refresh()`) against
    /// the claims of the previous one (OIDC Core §12.2), as `validateIdToken` does. Resolves
    /// with the new claims, or `undefined` when the answer carried no ID token (allowed).
    #[wasm_bindgen(js_name = validateRefreshedIdToken, unchecked_return_type = "Promise<IdTokenClaims | undefined>")]
    pub fn validate_refreshed_id_token(
        &self,
        tokens: &TokenSet,
        previous: &IdTokenClaims,
        #[wasm_bindgen(unchecked_optional_param_type = "ValidateOptions")] options: JsValue,
    ) -> Promise {
        let prepared = (|| -> Result<_, Error> {
            let call = call_of(self, &options, "validateRefreshedIdToken")?;
            if !get(&options, "accessToken").is_undefined() {
                return Err(invalid(
                    "validateRefreshedIdToken takes the access token from the token set",
                ));
            }
            let check = apply_check(self.inner.refresh_id_token_check()?, &options)?
                .access_token(tokens.inner.access_token());
            let token = tokens.inner.id_token().map(|t| t.secret().to_owned());
            Ok((call, check, token))
        })();
        let (c, previous) = (self.clone(), previous.inner.clone());
        future_to_promise(async move {
            let run = async {
                let (call, check, token) = prepared?;
                let Some(token) = token else {
                    return Ok(None);
                };
                let verified =
                    verify_with_cache(&c, &token, check.accepted_algorithms(), &call).await?;
                check
                    .validate_refreshed(&verified, &previous, now_or(None)?)
                    .map(Some)
            };
            match run.await {
                Ok(Some(inner)) => Ok(IdTokenClaims { inner }.into()),
                Ok(None) => Ok(JsValue::UNDEFINED),
                Err(e) => Err(Failure(e).into()),
            }
        })
    }

    /// The userinfo request (OIDC Core §5.3.1): `GET` the userinfo endpoint with the access
    /// token (a string or a `TokenSet`) as `Authorization: Bearer`.
    #[wasm_bindgen(js_name = userinfoRequest, unchecked_return_type = "HttpRequest")]
    pub fn userinfo_request(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | TokenSet")] access_token: JsValue,
    ) -> Result<JsValue, Failure> {
        let token = self::access_token(&access_token)?;
        Ok(request_to_js(&self.inner.userinfo_request(&token)?))
    }

    /// Fetches the end-user's claims from the userinfo endpoint with `accessToken` (a string
    /// or a `TokenSet`), and checks that their `sub` is the ID token's (`expected`: the
    /// `IdTokenClaims`, or the `sub` itself). A signed answer is verified with the provider's
    /// keys (the client's JWKS cache) and its `iss`/`aud` checked. `options`: `algorithms`
    /// (of a signed answer; default the provider's ID token algorithms), `timeout`, `signal`.
    #[wasm_bindgen(unchecked_return_type = "Promise<UserInfo>")]
    pub fn userinfo(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | TokenSet")] access_token: JsValue,
        #[wasm_bindgen(unchecked_param_type = "IdTokenClaims | string")] expected: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "{ algorithms?: JwsAlgorithm[], timeout?: number, signal?: AbortSignal }"
        )]
        options: JsValue,
    ) -> Promise {
        let prepared = (|| -> Result<_, Error> {
            let call = self.fetch.call(&options, "userinfo", &["algorithms"])?;
            let sub = expected_sub(&expected)?;
            let request = self
                .inner
                .userinfo_request(&self::access_token(&access_token)?)?;
            let algs = get(&options, "algorithms");
            let algs = if absent(&algs) {
                None
            } else {
                Some(algorithms(&algs, "algorithms")?)
            };
            Ok((call, sub, request, algs))
        })();
        let c = self.clone();
        future_to_promise(async move {
            let run = async {
                let (call, sub, request, algs) = prepared?;
                let response = c.fetch.send(&request, &call).await?;
                match grantline::UserInfo::from_response(&response, &sub)? {
                    grantline::UserInfoAnswer::Claims(inner) => Ok(UserInfo {
                        inner,
                        signed: false,
                    }),
                    grantline::UserInfoAnswer::Signed(jws) => {
                        let check = c.inner.refresh_id_token_check()?;
                        let algs = algs.unwrap_or_else(|| check.accepted_algorithms().to_vec());
                        let verified = verify_with_cache(&c, &jws, &algs, &call).await?;
                        Ok(UserInfo {
                            inner: grantline::UserInfo::from_verified(
                                &verified,
                                &sub,
                                check.issuer(),
                                check.client_id(),
                            )?,
                            signed: true,
                        })
                    }
                }
            };
            run.await
                .map(Into::into)
                .map_err(|e: Error| Failure(e).into())
        })
    }

    /// The RP-Initiated Logout URL (OpenID Connect RP-Initiated Logout 1.0 §2) to send the
    /// browser to: the provider's end-session endpoint with `client_id` and the options:
    /// `idTokenHint` (the ID token, recommended), `logoutHint`, `postLogoutRedirectUri`
    /// (registered with the provider), `state`, `uiLocales`, `params` (extra parameters, in
    /// order).
    #[wasm_bindgen(js_name = endSessionUrl)]
    pub fn end_session_url(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "EndSessionOptions")] options: JsValue,
    ) -> Result<String, Failure> {
        known_keys(
            &options,
            "endSessionUrl",
            &[
                "idTokenHint",
                "logoutHint",
                "postLogoutRedirectUri",
                "state",
                "uiLocales",
                "params",
            ],
        )?;
        let text = |key: &str| opt_string(&get(&options, key), key);
        let mut request = EndSessionRequest::new();
        if let Some(v) = text("idTokenHint")? {
            request = request.id_token_hint(&IdToken::new(v));
        }
        if let Some(v) = text("logoutHint")? {
            request = request.logout_hint(v);
        }
        if let Some(v) = text("postLogoutRedirectUri")? {
            request = request.post_logout_redirect_uri(v);
        }
        if let Some(v) = text("state")? {
            request = request.state(v);
        }
        if let Some(v) = text("uiLocales")? {
            request = request.ui_locales(v);
        }
        for (name, value) in pairs(&get(&options, "params"), "params")? {
            request = request.param(name, value);
        }
        Ok(self.inner.end_session_url(&request)?)
    }
}
