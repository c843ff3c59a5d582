//! The transport: the runtime's global `fetch` (bound by an `extern` block, so Node, Deno,
//! Workers and browsers all work; there is no `window`), or a `fetch` the caller injects.

use crate::convert::{absent, request_to_js, response_from_fetch, set, transport};
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
                .and_then(|p| p.dyn_into::<Promise>().map_err(JsValue::from)),
            None => global_fetch(input, init),
        }
        .map_err(|e| fetch_failed(&e))?;
        JsFuture::from(promise).await.map_err(|e| fetch_failed(&e))
    }

    /// Sends a core request (redirects not followed) and reads the whole response.
    pub(crate) async fn send(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let init: Object = request_to_js(request).unchecked_into();
        if request.body().is_empty() {
            set(&init, "body", JsValue::UNDEFINED);
        }
        set(&init, "redirect", "manual");
        let url = JsValue::from_str(&request.uri().to_string());
        let response = self.call(&url, &init).await?;
        response_from_fetch(&response).await
    }
}

/// What `fetch` threw, with its `cause` (Node puts the socket error there).
fn fetch_failed(thrown: &JsValue) -> Error {
    let cause = crate::convert::get(thrown, "cause");
    match transport("fetch failed", thrown) {
        Error::Transport { reason } if !absent(&cause) => {
            let Error::Transport { reason: why } = transport("", &cause) else {
                return Error::Transport { reason };
            };
            Error::Transport {
                reason: format!("{reason} ({})", why.trim_start_matches(": ")),
            }
        }
        other => other,
    }
}
