//! Discovery bound to its issuer (RFC 8414, OpenID Connect Discovery): the core's sans-IO
//! `Discovery` as a class, and `discover()`, which drives it over `fetch`.

use crate::convert::{known_keys, request_to_js, response_from_js, Failure};
use crate::fetch::Fetch;
use crate::provider::Provider;
use crate::types::{js, DiscoverOptions};
use grantline::Error;
use wasm_bindgen::prelude::*;

/// One discovery, sans-IO: the expected issuer, the well-known URLs to try in order, and which
/// one is next. Send `request()` (without following redirects), hand the answer to
/// `receive()`: a `Provider`, or `undefined` after a 404 when another URL is left (send
/// `request()` again). `discover()` does all of this over `fetch`.
#[wasm_bindgen]
pub struct Discovery {
    inner: grantline::Discovery,
}

#[wasm_bindgen]
impl Discovery {
    /// Discovery of `issuer` (e.g. `https://as.example/tenant1`), or of a full well-known URL
    /// (its issuer is derived). Throws `ConfigurationError` for an input that is not an
    /// `https://` URL (`http://` on loopback only), or has a query, a fragment or user
    /// information.
    #[wasm_bindgen(constructor)]
    pub fn new(issuer: &str) -> Result<Discovery, Failure> {
        Ok(Discovery {
            inner: grantline::Discovery::new(issuer)?,
        })
    }

    /// The issuer the metadata document must name.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }

    /// Every well-known URL this discovery tries, in order.
    #[wasm_bindgen(getter)]
    pub fn urls(&self) -> Vec<String> {
        self.inner.urls()
    }

    /// The request to send now: `GET` the current well-known URL, `accept: application/json`.
    #[wasm_bindgen(unchecked_return_type = "HttpRequest")]
    pub fn request(&self) -> JsValue {
        request_to_js(&self.inner.request())
    }

    /// Reads the answer to `request()` (`{ status, headers, body }`): the provider, or
    /// `undefined` when it was a 404 and another URL is left. Throws for any other answer:
    /// `StateMismatchError` (kind `issuer_mismatch`) for a document naming another issuer,
    /// `MalformedResponseError` for another status or a body over 1 MiB, `ConfigurationError`
    /// for a document that does not make a provider.
    pub fn receive(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
    ) -> Result<Option<Provider>, Failure> {
        let response = response_from_js(&response)?;
        Ok(self.inner.receive(&response)?.map(Provider::from))
    }

    /// `Discovery(<issuer>)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("Discovery({})", self.inner.issuer())
    }

    /// The view `JSON.stringify()` shows: `{ issuer, urls }`.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ issuer: string, urls: string[] }")]
    pub fn to_view(&self) -> JsValue {
        let o = js_sys::Object::new();
        crate::convert::set(&o, "issuer", self.inner.issuer());
        crate::convert::set(
            &o,
            "urls",
            self.inner
                .urls()
                .into_iter()
                .map(JsValue::from)
                .collect::<js_sys::Array>(),
        );
        o.into()
    }
}

/// Discovers the provider of `issuer` (RFC 8414 / OpenID Connect Discovery) over `fetch`: the
/// well-known URLs built from the issuer, in order (a 404 moves on), redirects never followed,
/// a document naming another issuer refused (`StateMismatchError`, kind `issuer_mismatch`). A
/// full well-known URL is accepted too. `options`: `fetch`, `timeout` (milliseconds for the
/// whole discovery, default 30 000), `signal`.
#[wasm_bindgen(unchecked_return_type = "Promise<Provider>")]
pub fn discover(issuer: String, options: Option<DiscoverOptions>) -> js_sys::Promise {
    crate::discovery::discover_promise(issuer, js(options))
}

pub(crate) fn discover_promise(issuer: String, options: JsValue) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let provider = run(&issuer, &options).await.map_err(Failure)?;
        Ok(Provider::from(provider).into())
    })
}

async fn run(issuer: &str, options: &JsValue) -> Result<grantline::Provider, Error> {
    known_keys(options, "discover", &["fetch", "timeout", "signal"])?;
    let fetch = Fetch::from_options(options)?;
    let call = fetch.call(options, "discover", &["fetch"])?;
    let end = call.ends_at();
    let mut discovery = grantline::Discovery::new(issuer)?;
    // The core decides when to stop: a provider, an error, or `None` (a 404 with another URL
    // left) at most once per URL. The deadline covers the whole discovery.
    let mut response = fetch.send(&discovery.request(), &call).await?;
    loop {
        if let Some(provider) = discovery.receive(&response)? {
            return Ok(provider);
        }
        response = fetch.send(&discovery.request(), &call.until(end)).await?;
    }
}
