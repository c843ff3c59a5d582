//! The transport: the runtime's global `fetch` (bound by an `extern` block, so Node, Deno,
//! Workers and browsers all work; there is no `window`), or a `fetch` the caller injects.

use crate::convert::{
    absent, fetch_and_read, fetch_then_parse, request_to_js, response_from_read, set, transport,
};
use grantline::Error;
use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(input: &JsValue, init: &JsValue) -> Result<Promise, JsValue>;
}

/// Which `fetch` to call: the global one, or one the caller passed.
#[derive(Clone, Default)]
pub(crate) struct Fetch(Option<Function>);

impl Fetch {
    /// From a `fetch` option: `undefined`/`null` for the global `fetch`, else a function.
    pub(crate) fn from_option(v: &JsValue) -> Result<Fetch, Error> {
        if absent(v) {
            return Ok(Fetch(None));
        }
        v.dyn_ref::<Function>()
            .map(|f| Fetch(Some(f.clone())))
            .ok_or_else(|| crate::convert::invalid("the fetch option must be a function"))
    }

    /// Calls `fetch(input, init)` and waits for the `Response`.
    pub(crate) async fn call(&self, input: &JsValue, init: &JsValue) -> Result<JsValue, Error> {
        let promise = match &self.0 {
            Some(f) => f
                .call2(&JsValue::UNDEFINED, input, init)
                .and_then(|p| p.dyn_into::<Promise>()),
            None => global_fetch(input, init),
        }
        .map_err(|e| fetch_failed(&e))?;
        JsFuture::from(promise).await.map_err(|e| fetch_failed(&e))
    }

    /// Sends a core request and parses the answer as `kind` (see `tokens::exchanged`), all
    /// chained in JavaScript: the Promise the convenient calls return.
    pub(crate) fn exchange(
        &self,
        request: &http::Request<Vec<u8>>,
        kind: i32,
        extra: &JsValue,
    ) -> Promise {
        let (url, init) = fetch_args(request);
        let custom = self.0.as_ref().map_or(JsValue::UNDEFINED, JsValue::from);
        crate::convert::RESPONSE_HEADERS.with(|names| {
            crate::tokens::EXCHANGED.with(|parse| {
                fetch_then_parse(
                    &custom,
                    &url,
                    &init,
                    names,
                    parse.as_ref().unchecked_ref(),
                    kind,
                    extra,
                )
            })
        })
    }

    /// Sends a core request (redirects not followed) and reads the whole response (one
    /// Promise: fetch and body read happen in `js/support.js`).
    pub(crate) async fn send(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let (url, init) = fetch_args(request);
        let custom = self.0.as_ref().map_or(JsValue::UNDEFINED, JsValue::from);
        let promise = crate::convert::RESPONSE_HEADERS
            .with(|names| fetch_and_read(&custom, &url, &init, names))
            .map_err(|e| fetch_failed(&e))?;
        let read = JsFuture::from(promise)
            .await
            .map_err(|e| fetch_failed(&e))?;
        response_from_read(&read)
    }
}

/// `fetch`'s arguments for a core request: never follow a redirect.
fn fetch_args(request: &http::Request<Vec<u8>>) -> (JsValue, JsValue) {
    let init: Object = request_to_js(request).unchecked_into();
    if request.body().is_empty() {
        set(&init, "body", JsValue::UNDEFINED);
    }
    set(&init, "redirect", "manual");
    (JsValue::from_str(&request.uri().to_string()), init.into())
}

/// What `fetch` threw, with its `cause` (Node puts the socket error there, e.g.
/// `connect ECONNREFUSED 127.0.0.1:9`).
pub(crate) fn fetch_failed(thrown: &JsValue) -> Error {
    let cause = crate::convert::message_of(&crate::convert::get(thrown, "cause"));
    match transport("fetch failed", thrown) {
        Error::Transport { reason } if !cause.is_empty() => Error::Transport {
            reason: format!("{reason} ({cause})"),
        },
        other => other,
    }
}
