//! `TokenSession`: the core's token lifecycle state machine, driven over `fetch`, with one
//! shared Promise per renewal so that any number of concurrent callers cause one request.

use crate::client::Client;
use crate::convert::{
    absent, get, headers_of, known_keys, now_or, opt_seconds, set, strings, transport, Failure,
};
use crate::fetch::Fetch;
use crate::tokens::TokenSet;
use crate::types::{js, FetchInit, Scopes, SessionOptionsArg};
use grantline::{Error, Next, Password, SessionGrant};
use js_sys::{Function, Object, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen]
extern "C" {
    /// The runtime's `Headers`.
    type Headers;
    #[wasm_bindgen(constructor, catch)]
    fn new(init: &JsValue) -> Result<Headers, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &Headers, name: &str, value: &str) -> Result<(), JsValue>;
}

struct State {
    core: grantline::TokenSession,
    fetch: Fetch,
    /// The renewal in flight: every waiter awaits this one Promise.
    inflight: Option<Promise>,
    on_tokens: Option<Function>,
}

/// Keeps one token fresh for any number of callers: `getAccessToken()` renews before expiry
/// (the provider's skew, at most half the lifetime), and concurrent calls share one renewal.
/// Every new token set goes to `onTokens` (persist it: the refresh token may have rotated).
/// `session.fetch()` attaches the token and, on a 401 `invalid_token`, renews once and retries
/// once.
#[wasm_bindgen]
pub struct TokenSession {
    state: Rc<RefCell<State>>,
}

const OPTIONS: &[&str] = &["onTokens", "skew", "tokens"];

fn session(
    client: &Client,
    grant: SessionGrant,
    options: &JsValue,
    initial: Option<grantline::TokenSet>,
) -> Result<TokenSession, Error> {
    known_keys(options, "session", OPTIONS)?;
    let mut core = grantline::TokenSession::new(client.inner.clone(), grant);
    if let Some(skew) = opt_seconds(&get(options, "skew"), "skew")? {
        core = core.with_skew(skew);
    }
    let tokens = get(options, "tokens");
    match (initial, absent(&tokens)) {
        (Some(_), false) => {
            return Err(crate::convert::invalid(
                "fromTokens takes its tokens as an argument, not as options.tokens",
            ))
        }
        (Some(t), true) => core = core.with_tokens(t),
        (None, false) => {
            let json = tokens_json(&tokens)?;
            core = core.with_tokens(grantline::TokenSet::from_json(&json)?);
        }
        (None, true) => {}
    }
    let on_tokens = match get(options, "onTokens") {
        f if absent(&f) => None,
        f => Some(
            f.dyn_into::<Function>()
                .map_err(|_| crate::convert::invalid("onTokens must be a function"))?,
        ),
    };
    Ok(TokenSession {
        state: Rc::new(RefCell::new(State {
            core,
            fetch: client.fetch.clone(),
            inflight: None,
            on_tokens,
        })),
    })
}

/// Restored tokens: a `TokenSet` (through its `serialize()`) or its serialized string.
fn tokens_json(v: &JsValue) -> Result<String, Error> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    let serialize: Function = get(v, "serialize").dyn_into().map_err(|_| {
        crate::convert::invalid("tokens must be a TokenSet or its serialize() string")
    })?;
    serialize
        .call0(v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            crate::convert::invalid("tokens must be a TokenSet or its serialize() string")
        })
}

#[wasm_bindgen]
impl TokenSession {
    /// A session that obtains and renews its token with the client credentials grant.
    /// `options`: `onTokens(tokens, { refreshTokenRotated })`, `skew` (seconds),
    /// `tokens` (a `TokenSet` or its `serialize()` string to start from).
    #[wasm_bindgen(js_name = clientCredentials)]
    pub fn client_credentials(
        client: &Client,
        scopes: Option<Scopes>,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        let scopes = js(scopes);
        let scopes = strings(&scopes, "scopes")?;
        Ok(session(
            client,
            SessionGrant::ClientCredentials { scopes },
            &options,
            None,
        )?)
    }

    /// A session that obtains its token with the password grant, and renews it by refreshing
    /// (or by the password grant again when there is no refresh token).
    pub fn password(
        client: &Client,
        username: String,
        password: String,
        scopes: Option<Scopes>,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        let scopes = js(scopes);
        let grant = SessionGrant::Password {
            username,
            password: Password::new(password),
            scopes: strings(&scopes, "scopes")?,
        };
        Ok(session(client, grant, &options, None)?)
    }

    /// A session over tokens obtained before (authorization code, device flow), renewed by
    /// refreshing. When the refresh token is gone, `getAccessToken()` throws
    /// `ReauthorizationRequiredError`.
    #[wasm_bindgen(js_name = fromTokens)]
    pub fn from_tokens(
        client: &Client,
        tokens: &TokenSet,
        options: Option<SessionOptionsArg>,
    ) -> Result<TokenSession, Failure> {
        let options = js(options);
        Ok(session(
            client,
            SessionGrant::RefreshOnly,
            &options,
            Some(tokens.inner.clone()),
        )?)
    }

    /// A valid access token: the current one, or a renewed one. Concurrent calls share one
    /// renewal (one token request).
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self) -> Promise {
        let first = now_or(None).and_then(|now| self.state.borrow_mut().core.next(now));
        match first {
            // The common case, a cached token: no async machinery.
            Ok(Next::Ready(token)) => Promise::resolve(&JsValue::from_str(token.secret())),
            Err(e) => Promise::reject(&Failure(e).into()),
            Ok(next) => {
                let state = self.state.clone();
                future_to_promise(async move { drive(&state, next).await.map(JsValue::from) })
            }
        }
    }

    /// `fetch(input, init)` with `Authorization: Bearer <token>`. On a 401 whose
    /// `WWW-Authenticate` says `invalid_token` (or gives no error), the token is rejected,
    /// renewed once and the request retried once. A `Request` input is cloned for the retry;
    /// a streamed `init.body` cannot be sent twice.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestInfo | URL")] input: JsValue,
        init: Option<FetchInit>,
    ) -> Promise {
        let init = js(init);
        let state = self.state.clone();
        future_to_promise(async move {
            let fetch = state.borrow().fetch.clone();
            let token = access_token(&state).await?;
            let first = match get(&input, "clone").dyn_into::<Function>() {
                Ok(clone) if !input.is_string() => clone.call0(&input)?,
                _ => input.clone(),
            };
            let response = authorized(&fetch, &first, &init, &token).await?;
            let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
            let headers = headers_of(&get(&response, "headers")).map_err(Failure)?;
            if !grantline::bearer::needs_renewal(status, &headers) {
                return Ok(response);
            }
            state.borrow_mut().core.reject(&token);
            let token = access_token(&state).await?;
            authorized(&fetch, &input, &init, &token).await
        })
    }

    /// Marks `token` as refused by the API (a 401 `invalid_token`): the next
    /// `getAccessToken()` renews, once, however many callers reject the same token. Returns
    /// whether it was the current token.
    pub fn reject(&self, token: &str) -> bool {
        self.state.borrow_mut().core.reject(token)
    }

    /// The current token set, when there is one.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Option<TokenSet> {
        self.state
            .borrow()
            .core
            .tokens()
            .cloned()
            .map(TokenSet::from)
    }

    /// Whether a renewal is in flight.
    #[wasm_bindgen(getter)]
    pub fn renewing(&self) -> bool {
        self.state.borrow().core.renewing()
    }

    /// `TokenSession { renewing, tokens: [redacted] }`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        let s = self.state.borrow();
        format!(
            "TokenSession {{ client: {}, renewing: {}, tokens: {} }}",
            s.core.client().client_id(),
            s.core.renewing(),
            if s.core.tokens().is_some() {
                "[redacted]"
            } else {
                "none"
            }
        )
    }
}

/// One caller's way to a valid token: use it, send the renewal, or await the renewal another
/// caller sent. Every decision is the core's.
async fn access_token(state: &Rc<RefCell<State>>) -> Result<String, JsValue> {
    let now = now_or(None).map_err(Failure)?;
    let next = state.borrow_mut().core.next(now).map_err(Failure)?;
    drive(state, next).await
}

/// Carries on from what the session said (`next`) until a token is ready.
async fn drive(state: &Rc<RefCell<State>>, mut next: Next) -> Result<String, JsValue> {
    let now = || now_or(None).map_err(Failure);
    loop {
        next = match next {
            Next::Ready(token) => return Ok(token.secret().to_owned()),
            Next::Send { id, request } => {
                let renewal = future_to_promise(renew(state.clone(), id, *request));
                state.borrow_mut().inflight = Some(renewal.clone());
                JsFuture::from(renewal).await?;
                state.borrow_mut().core.next(now()?).map_err(Failure)?
            }
            Next::Wait { id } => {
                let renewal = state.borrow().inflight.clone();
                if let Some(renewal) = renewal {
                    // Its outcome reaches this caller through `waited`.
                    let _ = JsFuture::from(renewal).await;
                }
                state
                    .borrow_mut()
                    .core
                    .waited(id, now()?)
                    .map_err(Failure)?
            }
        };
    }
}

/// Sends renewal `id`, hands the answer to the core, and the new tokens to `onTokens`.
async fn renew(
    state: Rc<RefCell<State>>,
    id: u64,
    request: http::Request<Vec<u8>>,
) -> Result<JsValue, JsValue> {
    let fetch = state.borrow().fetch.clone();
    let sent = fetch.send(&request).await;
    let now = now_or(None).map_err(Failure)?;
    let outcome = {
        let mut s = state.borrow_mut();
        let outcome = match sent {
            Ok(response) => s.core.receive(id, &response, now),
            Err(e) => Err(s.core.fail(id, reason(e)).unwrap_or_else(|e| e)),
        };
        s.inflight = None;
        outcome
    };
    let renewed = outcome.map_err(Failure)?;
    let on_tokens = state.borrow().on_tokens.clone();
    if let Some(f) = on_tokens {
        let info = Object::new();
        set(&info, "refreshTokenRotated", renewed.refresh_token_rotated);
        let result = f.call2(
            &JsValue::UNDEFINED,
            &TokenSet::from(renewed.tokens).into(),
            &info,
        )?;
        // An async onTokens (persisting to a store) completes before the token is used.
        if let Ok(p) = result.dyn_into::<Promise>() {
            JsFuture::from(p).await?;
        }
    }
    Ok(JsValue::UNDEFINED)
}

fn reason(e: Error) -> String {
    match e {
        Error::Transport { reason } => reason,
        other => other.to_string(),
    }
}

/// `fetch(input, init)` with the bearer header added to `init.headers` (or the `Request`'s).
async fn authorized(
    fetch: &Fetch,
    input: &JsValue,
    init: &JsValue,
    token: &str,
) -> Result<JsValue, JsValue> {
    let base = match get(init, "headers") {
        h if absent(&h) => get(input, "headers"),
        h => h,
    };
    let headers = Headers::new(&base).map_err(|e| Failure(transport("bad headers", &e)))?;
    let value = grantline::bearer::authorization_header(&grantline::AccessToken::new(token))
        .map_err(Failure)?;
    headers.set("authorization", value.to_str().unwrap_or_default())?;
    let init2 = Object::new();
    if !absent(init) {
        Object::assign(&init2, init.unchecked_ref());
    }
    set(&init2, "headers", headers);
    Ok(fetch.call(input, &init2).await.map_err(Failure)?)
}
