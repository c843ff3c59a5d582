//! `Client`: the sans-IO request builders, and one async call per grant over `fetch`.

use crate::convert::{
    get, invalid, known_keys, opt_string, or_null, pairs, redacted_if, request_to_js, set, strings,
    Failure,
};
use crate::fetch::Fetch;
use crate::provider::{auth_method, Provider};
use crate::tokens::{
    Authorization, CodeGrant, DeviceAuthorization, PendingAuthorization, TokenSet,
    DEVICE_AUTHORIZATION, INTROSPECTION, REFRESH, REVOKE, TOKEN,
};
use crate::types::{
    js, AuthorizationUrlOptionsArg, CallOptionsArg, ClientOptionsArg, IntrospectOptions,
    IntrospectionOptions, PollOptions, Scopes, TokenCallOptionsArg, TokenRequestOptionsArg,
};
use grantline::{Assertion, GrantRequest, SecurityToken, TokenExchange};
use grantline::{
    AuthorizationRequest, DeviceCode, DeviceFlow, DeviceStep, Error, Password, PkceMethod,
    RefreshToken, TokenTypeHint,
};
use js_sys::Promise;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "/js/support.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn sleep(ms: f64, signal: &JsValue) -> Result<Promise, JsValue>;
}

/// An OAuth client of one provider: its id, secret and redirect URI. Builds every request
/// (sans-IO), and sends them with `fetch` (the global one, or `options.fetch`), each within a
/// whole-request deadline (`options.timeout`, milliseconds, default 30 000; per call
/// `{ timeout, signal }`). Redirects are never followed. Prints and serializes
/// (`console.log`, `JSON.stringify`) without its secret.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: grantline::Client,
    pub(crate) fetch: Fetch,
    /// The provider's keys, shared by every copy of this client (one cache per client object:
    /// a key rotation fetches the set again once, as the core decides).
    pub(crate) jwks: Rc<RefCell<Option<grantline::JwksCache>>>,
    /// The `jwks` option: the cache's `minRefetch` and `maxAge` (seconds), when set.
    pub(crate) jwks_settings: (Option<u64>, Option<u64>),
}

fn hint(v: Option<String>) -> Result<Option<TokenTypeHint>, Error> {
    match v.as_deref() {
        None => Ok(None),
        Some("access_token") => Ok(Some(TokenTypeHint::AccessToken)),
        Some("refresh_token") => Ok(Some(TokenTypeHint::RefreshToken)),
        Some(other) => Err(invalid(format!(
            "unknown token type hint `{other}` (known: access_token, refresh_token)"
        ))),
    }
}

fn scopes(v: &JsValue) -> Result<Vec<String>, Error> {
    strings(v, "scopes")
}

type Req = Result<JsValue, Failure>;

/// Turns a future's result into a Promise that rejects with the mapped error.
fn promise<T: Into<JsValue>>(
    f: impl std::future::Future<Output = Result<T, Error>> + 'static,
) -> Promise {
    future_to_promise(async move { f.await.map(Into::into).map_err(|e| Failure(e).into()) })
}

#[wasm_bindgen]
impl Client {
    /// A client of `provider`. `options`: `clientSecret`, `redirectUri`, `signingKey` (a
    /// `SigningKey`: the client authenticates with `private_key_jwt` where the provider offers
    /// it, or when it has no secret), `authMethod` (overrides the provider's:
    /// `client_secret_basic`, `client_secret_post`, `client_secret_jwt` (HS256 with the
    /// secret, at least 32 bytes), `private_key_jwt`, `none`),
    /// `fetch` (replaces the global `fetch`: tests, proxies, custom agents), `timeout` (the
    /// whole-request deadline of every call, in milliseconds: default 30 000, `Infinity` for
    /// none), `jwks` (`{ minRefetch, maxAge }` in seconds: the client's JWKS cache, default 60
    /// and the core's).
    #[wasm_bindgen(constructor)]
    pub fn new(
        provider: &Provider,
        client_id: String,
        options: Option<ClientOptionsArg>,
    ) -> Result<Client, Failure> {
        let options = js(options);
        known_keys(
            &options,
            "client",
            &[
                "clientSecret",
                "redirectUri",
                "authMethod",
                "fetch",
                "timeout",
                "signingKey",
                "jwks",
            ],
        )?;
        let mut inner = grantline::Client::new(provider.inner.clone(), client_id);
        if let Some(secret) = opt_string(&get(&options, "clientSecret"), "clientSecret")? {
            inner = inner.with_secret(secret);
        }
        if let Some(uri) = opt_string(&get(&options, "redirectUri"), "redirectUri")? {
            inner = inner.with_redirect_uri(uri);
        }
        if let Some(m) = opt_string(&get(&options, "authMethod"), "authMethod")? {
            inner = inner.with_auth_method(auth_method(&m)?);
        }
        let key = get(&options, "signingKey");
        if !crate::convert::absent(&key) {
            let key = crate::convert::instance::<crate::jose::SigningKey>(&key)
                .ok_or_else(|| invalid("signingKey must be a SigningKey"))?;
            inner = inner.with_signing_key(key.inner);
        }
        let fetch = Fetch::from_options(&options)?;
        let jwks = get(&options, "jwks");
        known_keys(&jwks, "jwks", &["minRefetch", "maxAge"])?;
        let min_refetch =
            crate::convert::opt_seconds(&get(&jwks, "minRefetch"), "jwks.minRefetch")?;
        if min_refetch == Some(0) {
            // With 0, an unknown kid would ask for a fetch after every fetch: never ending.
            return Err(Failure(invalid(
                "jwks.minRefetch must be at least 1 second",
            )));
        }
        Ok(Client {
            inner,
            fetch,
            jwks: Rc::new(RefCell::new(None)),
            jwks_settings: (
                min_refetch,
                crate::convert::opt_seconds(&get(&jwks, "maxAge"), "jwks.maxAge")?,
            ),
        })
    }

    /// The client id.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }

    /// The redirect URI, when set.
    #[wasm_bindgen(getter, js_name = redirectUri)]
    pub fn redirect_uri(&self) -> Option<String> {
        self.inner.redirect_uri().map(str::to_owned)
    }

    /// How this client authenticates: `client_secret_basic`, `client_secret_post`,
    /// `client_secret_jwt`, `private_key_jwt` or `none`;
    /// `undefined` when the provider's metadata listed only methods grantline does not speak
    /// (requests then fail with `ConfigurationError` kind `unsupported_auth_method`: choose one
    /// with the `authMethod` option).
    #[wasm_bindgen(getter, js_name = authMethod, unchecked_return_type = "AuthMethod | undefined")]
    pub fn auth_method(&self) -> Option<String> {
        self.inner.auth_method().map(|m| m.as_str().to_owned())
    }

    /// The provider.
    #[wasm_bindgen(getter)]
    pub fn provider(&self) -> Provider {
        self.inner.provider().clone().into()
    }

    /// `Client(<provider>, <client id>)`: never the secret.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!(
            "Client({}, {})",
            self.inner.provider().name(),
            self.inner.client_id()
        )
    }

    /// The view `JSON.stringify()` shows: `{ provider, clientId, clientSecret, redirectUri,
    /// authMethod, timeout }` (`provider`: its name; `clientSecret`: `'[redacted]'` when set,
    /// else `null`; `timeout`: the deadline in milliseconds, `null` for none).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "ClientView")]
    pub fn to_view(&self) -> JsValue {
        client_view(&self.inner, self.fetch.timeout_ms())
    }

    // ------------------------------------------------------------------ sans-IO requests

    /// The client credentials token request (RFC 6749 §4.4), as `{ method, url, headers, body }`.
    /// `options` (every token request takes them): `params` (extra parameters, in order, names
    /// may repeat: `[['resource', 'https://a'], ['resource', 'https://b']]`), `now` (Unix
    /// seconds, default now: the `iat` of a JWT client assertion).
    #[wasm_bindgen(js_name = clientCredentialsRequest, unchecked_return_type = "HttpRequest")]
    pub fn client_credentials_request(
        &self,
        scopes: Option<Scopes>,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        let scopes = self::scopes(&js(scopes))?;
        self.sans_io(GrantRequest::client_credentials(scopes), &js(options))
    }

    /// The password token request (RFC 6749 §4.3); `options` as `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = passwordRequest, unchecked_return_type = "HttpRequest")]
    pub fn password_request(
        &self,
        username: &str,
        password: String,
        scopes: Option<Scopes>,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        let scopes = self::scopes(&js(scopes))?;
        let grant = GrantRequest::password(username, &Password::new(password), scopes);
        self.sans_io(grant, &js(options))
    }

    /// The refresh token request (RFC 6749 §6); `options` as `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = refreshRequest, unchecked_return_type = "HttpRequest")]
    pub fn refresh_request(
        &self,
        refresh_token: String,
        scopes: Option<Scopes>,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        let scopes = self::scopes(&js(scopes))?;
        let grant = GrantRequest::refresh(&RefreshToken::new(refresh_token), scopes);
        self.sans_io(grant, &js(options))
    }

    /// The authorization code exchange (RFC 6749 §4.1.3, with the PKCE verifier); `options` as
    /// `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = authorizationCodeRequest, unchecked_return_type = "HttpRequest")]
    pub fn authorization_code_request(
        &self,
        grant: &CodeGrant,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        self.sans_io(GrantRequest::authorization_code(&grant.inner), &js(options))
    }

    /// The device authorization request (RFC 8628 §3.1). `options`: `now`.
    #[wasm_bindgen(js_name = deviceAuthorizationRequest, unchecked_return_type = "HttpRequest")]
    pub fn device_authorization_request(
        &self,
        scopes: Option<Scopes>,
        #[wasm_bindgen(unchecked_optional_param_type = "{ now?: number }")] options: JsValue,
    ) -> Req {
        known_keys(&options, "deviceAuthorizationRequest", &["now"])?;
        let r = self
            .inner
            .device_authorization_request(&self::scopes(&js(scopes))?, now_option(&options)?)?;
        Ok(request_to_js(&r))
    }

    /// One device token poll (RFC 8628 §3.4); `options` as `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = deviceTokenRequest, unchecked_return_type = "HttpRequest")]
    pub fn device_token_request(
        &self,
        device_code: String,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        let grant = GrantRequest::device_code(&DeviceCode::new(device_code));
        self.sans_io(grant, &js(options))
    }

    /// The introspection request (RFC 7662). `options.hint`: `access_token` or
    /// `refresh_token`; `options.refreshToken`: Apicbase's variant also sends it;
    /// `options.now`: as `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = introspectionRequest, unchecked_return_type = "HttpRequest")]
    pub fn introspection_request(&self, token: &str, options: Option<IntrospectionOptions>) -> Req {
        let options = js(options);
        Ok(request_to_js(&self.introspection(token, &options, false)?))
    }

    /// The revocation request (RFC 7009). `hint`: `access_token` or `refresh_token`;
    /// `options.now` as `clientCredentialsRequest`'s.
    #[wasm_bindgen(js_name = revocationRequest, unchecked_return_type = "HttpRequest")]
    pub fn revocation_request(
        &self,
        token: &str,
        #[wasm_bindgen(unchecked_param_type = "TokenTypeHint")] hint: Option<String>,
        #[wasm_bindgen(unchecked_optional_param_type = "{ now?: number }")] options: JsValue,
    ) -> Req {
        known_keys(&options, "revocationRequest", &["now"])?;
        Ok(request_to_js(&self.inner.revocation_request(
            token,
            self::hint(hint)?,
            now_option(&options)?,
        )?))
    }

    /// A token request for any `grant_type` (a grant name or an absolute URI, e.g.
    /// `urn:example:grant`): not refused locally, the server decides; the answer parses like
    /// any token response. `options`: `scopes`, `params` (the grant's parameters, in order,
    /// names may repeat), `now`. Names grantline sets itself (`grant_type`, `client_id`,
    /// `client_assertion`, `scope`...) are refused (`ConfigurationError`, `invalid_input`).
    #[wasm_bindgen(js_name = grantRequest, unchecked_return_type = "HttpRequest")]
    pub fn grant_request(
        &self,
        grant_type: String,
        #[wasm_bindgen(unchecked_optional_param_type = "GrantOptions & { now?: number }")] options: JsValue,
    ) -> Req {
        let grant = GrantRequest::new(grant_type).scopes(scopes(&get(&options, "scopes"))?);
        self.sans_io_also(grant, &options, &["scopes"])
    }

    /// A token exchange request (RFC 8693 §2.1): `exchange` holds `subjectToken`,
    /// `subjectTokenType` (required), `actorToken` and `actorTokenType` (together),
    /// `resource` and `audience` (lists, each value sent, in order), `scopes`,
    /// `requestedTokenType`. `options`: `params`, `now`. The answer's `issuedTokenType` says
    /// what came back.
    #[wasm_bindgen(js_name = tokenExchangeRequest, unchecked_return_type = "HttpRequest")]
    pub fn token_exchange_request(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TokenExchangeOptions")] exchange: JsValue,
        options: Option<TokenRequestOptionsArg>,
    ) -> Req {
        let grant = token_exchange(&exchange)?;
        self.sans_io(grant, &js(options))
    }

    /// A JWT bearer grant request (RFC 7523 §2.1) with `assertion` (a JWT you obtained, or
    /// signed with a `SigningKey`). `options`: `scopes`, `params`, `now`.
    #[wasm_bindgen(js_name = jwtBearerRequest, unchecked_return_type = "HttpRequest")]
    pub fn jwt_bearer_request(
        &self,
        assertion: String,
        #[wasm_bindgen(unchecked_optional_param_type = "GrantOptions & { now?: number }")] options: JsValue,
    ) -> Req {
        let grant = GrantRequest::jwt_bearer(
            &Assertion::new(assertion),
            scopes(&get(&options, "scopes"))?,
        );
        self.sans_io_also(grant, &options, &["scopes"])
    }

    /// The authorization URL (RFC 6749 §4.1.1) with a fresh `state` and PKCE (S256), and the
    /// pending record to keep until the callback. `options`: `scopes` (with `openid`, the URL
    /// carries a random `nonce`, kept in the pending record), `pkce` (`S256` or `plain`),
    /// `redirectUri` (overrides the client's), `params` (extra parameters, in order, names may
    /// repeat), `nonce` (your own), `maxAge` (seconds: OpenID Connect's `max_age`), `seed`
    /// (tests only: 64 or 96 bytes that replace the random ones: state, verifier, nonce).
    #[wasm_bindgen(js_name = authorizationUrl)]
    pub fn authorization_url(
        &self,
        options: Option<AuthorizationUrlOptionsArg>,
    ) -> Result<Authorization, Failure> {
        let options = js(options);
        known_keys(
            &options,
            "authorizationUrl",
            &[
                "scopes",
                "pkce",
                "redirectUri",
                "params",
                "seed",
                "nonce",
                "maxAge",
            ],
        )?;
        let mut request = AuthorizationRequest::new().scopes(scopes(&get(&options, "scopes"))?);
        match opt_string(&get(&options, "pkce"), "pkce")?.as_deref() {
            None | Some("S256") => {}
            Some("plain") => request = request.pkce(PkceMethod::Plain),
            Some(other) => {
                return Err(Failure(invalid(format!(
                    "unknown pkce method `{other}` (known: S256, plain)"
                ))))
            }
        }
        if let Some(uri) = opt_string(&get(&options, "redirectUri"), "redirectUri")? {
            request = request.redirect_uri(uri);
        }
        for (name, value) in pairs(&get(&options, "params"), "params")? {
            request = request.param(name, value);
        }
        if let Some(nonce) = opt_string(&get(&options, "nonce"), "nonce")? {
            request = request.nonce(nonce);
        }
        if let Some(max_age) = crate::convert::opt_seconds(&get(&options, "maxAge"), "maxAge")? {
            request = request.max_age(max_age);
        }
        let seed = get(&options, "seed");
        let auth = if crate::convert::absent(&seed) {
            self.inner.authorization_url(&request)?
        } else {
            let bytes = zeroize::Zeroizing::new(crate::convert::bytes(&seed, "seed")?);
            self.inner.authorization_url_with_seed(&request, &bytes)?
        };
        Ok(auth.into())
    }

    /// Checks the callback (a whole redirect URL, or its query) against the pending record
    /// (`PendingAuthorization.deserialize()` it from where you stored it): `state` in
    /// constant time, `iss` when expected, an OAuth `error` thrown as `OAuthError`. Returns
    /// the code grant to exchange.
    pub fn callback(
        &self,
        pending: &PendingAuthorization,
        url_or_query: &str,
    ) -> Result<CodeGrant, Failure> {
        Ok(CodeGrant {
            inner: self.inner.callback(&pending.inner, url_or_query)?,
        })
    }

    /// Accepts a callback that no request of ours started (Booking Experts' app store): only
    /// for providers that allow it. Returns the code grant to exchange.
    #[wasm_bindgen(js_name = unsolicitedCallback)]
    pub fn unsolicited_callback(&self, url_or_query: &str) -> Result<CodeGrant, Failure> {
        Ok(CodeGrant {
            inner: self.inner.unsolicited_callback(url_or_query)?,
        })
    }

    // ------------------------------------------------------------------ over fetch
    //
    // Every call takes `options` last: `{ timeout, signal }` (the whole-request deadline in
    // milliseconds, default the client's; an `AbortSignal`). A deadline passed or an abort is a
    // `TransportError`.

    /// Obtains a token with the client credentials grant. `options`: `params` (extra
    /// parameters, as in `clientCredentialsRequest`), `timeout`, `signal` (every token call
    /// takes them).
    #[wasm_bindgen(js_name = clientCredentials, unchecked_return_type = "Promise<TokenSet>")]
    pub fn client_credentials(
        &self,
        scopes: Option<Scopes>,
        options: Option<TokenCallOptionsArg>,
    ) -> Promise {
        let options = js(options);
        let request = self::scopes(&js(scopes))
            .and_then(|s| self.over_fetch(GrantRequest::client_credentials(s), &options));
        self.exchange(request, &options, TOKEN as i32, &JsValue::UNDEFINED)
    }

    /// Obtains a token with the resource owner's password.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet>")]
    pub fn password(
        &self,
        username: String,
        password: String,
        scopes: Option<Scopes>,
        options: Option<TokenCallOptionsArg>,
    ) -> Promise {
        let options = js(options);
        let request = self::scopes(&js(scopes)).and_then(|s| {
            let grant = GrantRequest::password(&username, &Password::new(password), s);
            self.over_fetch(grant, &options)
        });
        self.exchange(request, &options, TOKEN as i32, &JsValue::UNDEFINED)
    }

    /// Refreshes with a refresh token. When the answer carries no new refresh token, the
    /// result keeps this one; when it carries one, the refresh token rotated: persist the
    /// result, the old one may be dead.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet>")]
    pub fn refresh(
        &self,
        refresh_token: String,
        scopes: Option<Scopes>,
        options: Option<TokenCallOptionsArg>,
    ) -> Promise {
        let options = js(options);
        let rt = RefreshToken::new(refresh_token);
        let request = self::scopes(&js(scopes))
            .and_then(|s| self.over_fetch(GrantRequest::refresh(&rt, s), &options));
        self.exchange(request, &options, REFRESH, &JsValue::from_str(rt.secret()))
    }

    /// Exchanges the code grant of a callback for tokens. With `openid` in the scopes, validate
    /// the ID token next: `validateIdToken(tokens, pending)`.
    #[wasm_bindgen(js_name = exchangeCode, unchecked_return_type = "Promise<TokenSet>")]
    pub fn exchange_code(
        &self,
        grant: &CodeGrant,
        options: Option<TokenCallOptionsArg>,
    ) -> Promise {
        let options = js(options);
        let request = self.over_fetch(GrantRequest::authorization_code(&grant.inner), &options);
        self.exchange(request, &options, TOKEN as i32, &JsValue::UNDEFINED)
    }

    /// Obtains tokens with any `grant_type` (see `grantRequest`). `options`: `scopes`,
    /// `params`, `timeout`, `signal`.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSet>")]
    pub fn grant(
        &self,
        grant_type: String,
        #[wasm_bindgen(unchecked_optional_param_type = "GrantOptions & CallOptions")]
        options: JsValue,
    ) -> Promise {
        let request = scopes(&get(&options, "scopes")).and_then(|s| {
            self.over_fetch_also(
                GrantRequest::new(grant_type).scopes(s),
                &options,
                &["scopes"],
            )
        });
        self.exchange_also(request, &options, &["params", "scopes"])
    }

    /// Token exchange (RFC 8693; see `tokenExchangeRequest`). `options`: `params`, `timeout`,
    /// `signal`. The token set's `issuedTokenType` says what came back.
    #[wasm_bindgen(js_name = tokenExchange, unchecked_return_type = "Promise<TokenSet>")]
    pub fn token_exchange(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TokenExchangeOptions")] exchange: JsValue,
        options: Option<TokenCallOptionsArg>,
    ) -> Promise {
        let options = js(options);
        let request = token_exchange(&exchange).and_then(|g| self.over_fetch(g, &options));
        self.exchange(request, &options, TOKEN as i32, &JsValue::UNDEFINED)
    }

    /// The JWT bearer grant (RFC 7523 §2.1) with `assertion`. `options`: `scopes`, `params`,
    /// `timeout`, `signal`.
    #[wasm_bindgen(js_name = jwtBearer, unchecked_return_type = "Promise<TokenSet>")]
    pub fn jwt_bearer(
        &self,
        assertion: String,
        #[wasm_bindgen(unchecked_optional_param_type = "GrantOptions & CallOptions")]
        options: JsValue,
    ) -> Promise {
        let request = scopes(&get(&options, "scopes")).and_then(|s| {
            let grant = GrantRequest::jwt_bearer(&Assertion::new(assertion), s);
            self.over_fetch_also(grant, &options, &["scopes"])
        });
        self.exchange_also(request, &options, &["params", "scopes"])
    }

    /// Starts the device flow: show the answer's `userCode` and `verificationUri`, then
    /// `pollDeviceToken()`.
    #[wasm_bindgen(js_name = deviceAuthorization, unchecked_return_type = "Promise<DeviceAuthorization>")]
    pub fn device_authorization(
        &self,
        scopes: Option<Scopes>,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let scopes = js(scopes);
        let request = self::scopes(&scopes).and_then(|s| {
            self.inner
                .device_authorization_request(&s, crate::convert::unix_now())
        });
        self.exchange(
            request,
            &js(options),
            DEVICE_AUTHORIZATION as i32,
            &JsValue::UNDEFINED,
        )
    }

    /// Polls the token endpoint until the user approves (resolves with the tokens), denies
    /// (`OAuthError` `access_denied`), or the code expires (`OAuthError` `expired_token`),
    /// waiting the interval between polls and slowing down when told. `options.signal` (an
    /// `AbortSignal`) stops it; `options.timeout` is each poll request's deadline
    /// (milliseconds, default the client's).
    #[wasm_bindgen(js_name = pollDeviceToken, unchecked_return_type = "Promise<TokenSet>")]
    pub fn poll_device_token(
        &self,
        device: &DeviceAuthorization,
        options: Option<PollOptions>,
    ) -> Promise {
        let options = js(options);
        let (c, device) = (self.clone(), device.inner.clone());
        promise(async move {
            let call = c.fetch.call(&options, "pollDeviceToken", &[])?;
            // Every decision (the interval, slow_down, the device code's expiry) is the core's.
            let mut flow = DeviceFlow::new(&device);
            loop {
                let now = crate::convert::now_or(None)?;
                match flow.next(&c.inner, now)? {
                    DeviceStep::Wait { seconds } => {
                        let wait = sleep(seconds as f64 * 1000.0, &call.signal)
                            .map_err(|e| crate::convert::transport("could not wait", &e))?;
                        wasm_bindgen_futures::JsFuture::from(wait)
                            .await
                            .map_err(|e| crate::convert::transport("polling stopped", &e))?;
                    }
                    DeviceStep::Poll(request) => {
                        let response = c.fetch.send(&request, &call).await?;
                        let now = crate::convert::now_or(None)?;
                        if let Some(tokens) = flow.receive(&response, now)? {
                            return Ok(TokenSet::from(tokens));
                        }
                    }
                }
            }
        })
    }

    /// Introspects a token (RFC 7662): resolves with `{ active, scopes, clientId, username,
    /// tokenType, exp, iat, sub, iss, extra }`. `options`: `hint`, `refreshToken` (as
    /// `introspectionRequest`), `timeout`, `signal`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Introspection>")]
    pub fn introspect(&self, token: String, options: Option<IntrospectOptions>) -> Promise {
        let options = js(options);
        let request = self.introspection(&token, &options, true);
        self.exchange(request, &options, INTROSPECTION as i32, &JsValue::UNDEFINED)
    }

    /// Revokes a token (RFC 7009). Resolves when the server confirmed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn revoke(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "TokenTypeHint")] hint: Option<String>,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let request = self::hint(hint).and_then(|h| {
            self.inner
                .revocation_request(&token, h, crate::convert::unix_now())
        });
        self.exchange(request, &js(options), REVOKE, &JsValue::UNDEFINED)
    }
}

/// A client's redacted view (see `Client.toJSON`); `timeout`: its deadline, when it has one.
pub(crate) fn client_view(c: &grantline::Client, timeout: Option<f64>) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "provider", c.provider().name());
    set(&o, "clientId", c.client_id());
    set(&o, "clientSecret", redacted_if(c.client_secret().is_some()));
    set(&o, "redirectUri", or_null(c.redirect_uri()));
    set(
        &o,
        "authMethod",
        or_null(c.auth_method().map(|m| m.as_str())),
    );
    set(&o, "timeout", or_null(timeout));
    let key = c.signing_key().map(|k| {
        let v = js_sys::Object::new();
        set(&v, "algorithm", k.algorithm().name());
        set(&v, "kid", or_null(k.kid()));
        set(&v, "key", redacted_if(true));
        JsValue::from(v)
    });
    set(&o, "signingKey", or_null(key));
    o.into()
}

impl Client {
    /// Sends a built request and parses its answer as `kind`, within the deadline of
    /// `options`; a request that could not be built, or bad options, reject the Promise.
    fn exchange(
        &self,
        request: Result<http::Request<Vec<u8>>, Error>,
        options: &JsValue,
        kind: i32,
        extra: &JsValue,
    ) -> Promise {
        let also: &[&str] = if kind == INTROSPECTION as i32 {
            &["hint", "refreshToken"]
        } else if kind == DEVICE_AUTHORIZATION as i32 || kind == REVOKE {
            &[]
        } else {
            &["params"]
        };
        self.exchange_with(request, options, kind, extra, also)
    }

    /// `exchange` of a token answer whose `options` may also hold `also`.
    fn exchange_also(
        &self,
        request: Result<http::Request<Vec<u8>>, Error>,
        options: &JsValue,
        also: &[&str],
    ) -> Promise {
        self.exchange_with(request, options, TOKEN as i32, &JsValue::UNDEFINED, also)
    }

    fn exchange_with(
        &self,
        request: Result<http::Request<Vec<u8>>, Error>,
        options: &JsValue,
        kind: i32,
        extra: &JsValue,
        also: &[&str],
    ) -> Promise {
        let sent = request.and_then(|r| {
            let call = self.fetch.call(options, "call", also)?;
            let separator = crate::tokens::separator_code(self.inner.provider());
            Ok(self.fetch.exchange(&r, &call, kind, extra, separator))
        });
        match sent {
            Ok(p) => p,
            Err(e) => Promise::reject(&Failure(e).into()),
        }
    }

    /// The introspection request; `call_options`: whether `options` may also hold
    /// `timeout` and `signal` (the convenient call's).
    fn introspection(
        &self,
        token: &str,
        options: &JsValue,
        call_options: bool,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let known: &[&str] = if call_options {
            &["hint", "refreshToken", "timeout", "signal"]
        } else {
            &["hint", "refreshToken", "now"]
        };
        known_keys(options, "introspection", known)?;
        let h = hint(opt_string(&get(options, "hint"), "hint")?)?;
        let rt = opt_string(&get(options, "refreshToken"), "refreshToken")?.map(RefreshToken::new);
        self.inner
            .introspection_request(token, h, rt.as_ref(), now_option(options)?)
    }

    /// A token request built for the sans-IO layer: `options` are `params` and `now`.
    fn sans_io(&self, grant: GrantRequest, options: &JsValue) -> Req {
        self.sans_io_also(grant, options, &[])
    }

    /// `sans_io` whose `options` may also hold `also`.
    fn sans_io_also(&self, grant: GrantRequest, options: &JsValue, also: &[&str]) -> Req {
        let mut known = vec!["params", "now"];
        known.extend_from_slice(also);
        known_keys(options, "token request", &known)?;
        let grant = with_params(grant, options)?;
        Ok(request_to_js(
            &self.inner.grant_request(&grant, now_option(options)?)?,
        ))
    }

    /// A token request for the calls over fetch (`options`: `params`, besides `timeout` and
    /// `signal`, which `exchange` reads).
    fn over_fetch(
        &self,
        grant: GrantRequest,
        options: &JsValue,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        self.over_fetch_also(grant, options, &[])
    }

    fn over_fetch_also(
        &self,
        grant: GrantRequest,
        options: &JsValue,
        also: &[&str],
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let mut known = vec!["params", "timeout", "signal"];
        known.extend_from_slice(also);
        known_keys(options, "call", &known)?;
        let grant = with_params(grant, options)?;
        self.inner.grant_request(&grant, crate::convert::unix_now())
    }
}

/// `options.now` (Unix seconds), or the current time.
fn now_option(options: &JsValue) -> Result<u64, Error> {
    let now = get(options, "now");
    if crate::convert::absent(&now) {
        return Ok(crate::convert::unix_now());
    }
    match now.as_f64() {
        Some(n) => crate::convert::seconds(n, "now"),
        None => Err(invalid("now must be a number of seconds")),
    }
}

/// `options.params` added to a grant request, in order.
fn with_params(mut grant: GrantRequest, options: &JsValue) -> Result<GrantRequest, Error> {
    for (name, value) in pairs(&get(options, "params"), "params")? {
        grant = grant.param(name, value);
    }
    Ok(grant)
}

/// A token exchange from its options object (see `tokenExchangeRequest`).
fn token_exchange(v: &JsValue) -> Result<GrantRequest, Error> {
    if crate::convert::absent(v) {
        return Err(invalid(
            "tokenExchange needs { subjectToken, subjectTokenType, ... }",
        ));
    }
    known_keys(
        v,
        "token exchange",
        &[
            "subjectToken",
            "subjectTokenType",
            "actorToken",
            "actorTokenType",
            "resource",
            "audience",
            "scopes",
            "requestedTokenType",
        ],
    )?;
    let text = |key: &str| opt_string(&get(v, key), key);
    let subject = text("subjectToken")?.ok_or_else(|| invalid("subjectToken is required"))?;
    let subject_type =
        text("subjectTokenType")?.ok_or_else(|| invalid("subjectTokenType is required"))?;
    let mut exchange = TokenExchange::new(SecurityToken::new(subject), subject_type);
    exchange.actor_token = text("actorToken")?.map(SecurityToken::new);
    exchange.actor_token_type = text("actorTokenType")?;
    exchange.resource = strings(&get(v, "resource"), "resource")?;
    exchange.audience = strings(&get(v, "audience"), "audience")?;
    exchange.scopes = strings(&get(v, "scopes"), "scopes")?;
    exchange.requested_token_type = text("requestedTokenType")?;
    Ok(GrantRequest::token_exchange(exchange))
}
