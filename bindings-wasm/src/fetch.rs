//! The transport: the runtime's global `fetch` (bound by an `extern` block, so Node, Deno,
//! Workers and browsers all work; there is no `window`), or a `fetch` the caller injects.
//!
//! Every request has a whole-request deadline (the fetch and the body read together: default
//! 30 s, per client `timeout` and per call `{ timeout, signal }`, in milliseconds), never
//! follows a redirect (`redirect: 'manual'`, and a redirect answer is refused), and reads at
//! most `MAX_BODY + 1` decoded bytes of a token endpoint's answer (the stream is cancelled past
//! it). The IO itself is in `js/support.js`; a request crosses into it as one string
//! (`convert::request_text`), its answer comes back as plain values in one call
//! (`convert::response_from_parts`).

use crate::convert::{
    absent, fetch_and_read, fetch_then_parse, get, invalid, known_keys, request_text,
    response_from_read,
};
use grantline::Error;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The default whole-request deadline, in milliseconds.
pub(crate) const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;

/// How many bytes of a token endpoint's answer are read: one more than the core accepts, so
/// that it can tell "too big" from "exactly the limit".
pub(crate) const BODY_CAP: f64 = (grantline::MAX_BODY + 1) as f64;

/// Which `fetch` to call (the global one, or one the caller passed), and the client's
/// whole-request deadline.
#[derive(Clone)]
pub(crate) struct Fetch {
    custom: Option<Function>,
    timeout: f64,
}

/// One call's deadline and abort signals.
pub(crate) struct Call {
    /// Milliseconds left (`f64::INFINITY`: none).
    pub(crate) timeout: f64,
    /// The call's whole deadline in milliseconds, as messages name it: `timeout` is what is
    /// left of it once part of the call has run (`until`).
    pub(crate) whole: f64,
    /// An `AbortSignal` (the call options'), or `undefined`.
    pub(crate) signal: JsValue,
    /// A second `AbortSignal` that also ends the call (`session.fetch()`'s own request signal,
    /// while it waits for its token), or `undefined`.
    pub(crate) also: JsValue,
}

impl Call {
    /// The instant (ms since the epoch) at which this call's deadline passes.
    pub(crate) fn ends_at(&self) -> f64 {
        js_sys::Date::now() + self.timeout
    }

    /// The same signals with what is left of the deadline ending at `end`.
    pub(crate) fn until(&self, end: f64) -> Call {
        Call {
            timeout: (end - js_sys::Date::now()).max(1.0),
            whole: self.whole,
            signal: self.signal.clone(),
            also: self.also.clone(),
        }
    }

    /// The same call, also ended by `signal` (when it is one).
    pub(crate) fn also_ended_by(mut self, signal: JsValue) -> Call {
        if signal_option(&signal).is_ok_and(|s| !s.is_undefined()) {
            self.also = signal;
        }
        self
    }

    /// A transport error when one of the call's signals has aborted already: such a call
    /// starts nothing (as `fetch` with an aborted signal).
    pub(crate) fn aborted(&self, what: &str) -> Option<Error> {
        [&self.signal, &self.also]
            .into_iter()
            .find(|s| get(s, "aborted").as_bool() == Some(true))
            .map(|s| {
                let why = crate::convert::message_of(&get(s, "reason"));
                Error::Transport {
                    reason: if why.is_empty() {
                        format!("{what}: aborted")
                    } else {
                        format!("{what}: aborted ({why})")
                    },
                }
            })
    }
}

/// A `timeout` option: a positive number of milliseconds (`Infinity`: no deadline).
pub(crate) fn timeout_option(v: &JsValue, what: &str) -> Result<Option<f64>, Error> {
    if absent(v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(ms) if ms > 0.0 && !ms.is_nan() => Ok(Some(ms)),
        _ => Err(invalid(format!(
            "{what} must be a positive number of milliseconds (Infinity: no deadline)"
        ))),
    }
}

/// An `AbortSignal` option (anything with `aborted` and `addEventListener`).
fn signal_option(v: &JsValue) -> Result<JsValue, Error> {
    if absent(v) {
        return Ok(JsValue::UNDEFINED);
    }
    if get(v, "aborted").as_bool().is_some() && get(v, "addEventListener").is_function() {
        Ok(v.clone())
    } else {
        Err(invalid("signal must be an AbortSignal"))
    }
}

impl Fetch {
    /// From a client's options: `fetch` (`undefined`/`null` for the global `fetch`, else a
    /// function) and `timeout` (milliseconds).
    pub(crate) fn from_options(options: &JsValue) -> Result<Fetch, Error> {
        let f = get(options, "fetch");
        let custom = if absent(&f) {
            None
        } else {
            Some(
                f.dyn_into::<Function>()
                    .map_err(|_| invalid("the fetch option must be a function"))?,
            )
        };
        let timeout = timeout_option(&get(options, "timeout"), "timeout")?;
        Ok(Fetch {
            custom,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT_MS),
        })
    }

    /// The client's whole-request deadline in milliseconds, `None` when it has none.
    pub(crate) fn timeout_ms(&self) -> Option<f64> {
        Some(self.timeout).filter(|t| t.is_finite())
    }

    /// The deadline of a call without options of its own.
    pub(crate) fn default_call(&self) -> Call {
        Call {
            timeout: self.timeout,
            whole: self.timeout,
            signal: JsValue::UNDEFINED,
            also: JsValue::UNDEFINED,
        }
    }

    /// The deadline and signal of a call: its `options` (`{ timeout?, signal? }`, plus the
    /// `also` names the call itself reads), else the client's.
    pub(crate) fn call(&self, options: &JsValue, what: &str, also: &[&str]) -> Result<Call, Error> {
        if absent(options) {
            return Ok(self.default_call());
        }
        let mut known = vec!["timeout", "signal"];
        known.extend_from_slice(also);
        known_keys(options, what, &known)?;
        let timeout = timeout_option(&get(options, "timeout"), "timeout")?.unwrap_or(self.timeout);
        Ok(Call {
            timeout,
            whole: timeout,
            signal: signal_option(&get(options, "signal"))?,
            also: JsValue::UNDEFINED,
        })
    }

    fn custom(&self) -> JsValue {
        self.custom
            .as_ref()
            .map_or(JsValue::UNDEFINED, JsValue::from)
    }

    /// Sends a core request and parses the answer as `kind` (see `tokens::exchanged`), all
    /// chained in JavaScript: the Promise the convenient calls return. `separator`: the
    /// provider's response scope separator (0 for none).
    pub(crate) fn exchange(
        &self,
        request: &http::Request<Vec<u8>>,
        call: &Call,
        kind: i32,
        extra: &JsValue,
        separator: u32,
    ) -> Promise {
        let (request, ends) = request_text(request);
        let custom = self.custom();
        crate::convert::RESPONSE_HEADERS.with(|names| {
            crate::tokens::EXCHANGED.with(|parse| {
                fetch_then_parse(
                    &custom,
                    &request,
                    ends[0],
                    ends[1],
                    ends[2],
                    names,
                    BODY_CAP,
                    call.timeout,
                    &call.signal,
                    parse.as_ref().unchecked_ref(),
                    kind,
                    extra,
                    separator,
                )
            })
        })
    }

    /// Sends a core request (redirects not followed) and reads the answer, at most
    /// `BODY_CAP` bytes, all within the call's deadline.
    pub(crate) async fn send(
        &self,
        request: &http::Request<Vec<u8>>,
        call: &Call,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let (request, ends) = request_text(request);
        let custom = self.custom();
        let promise = crate::convert::RESPONSE_HEADERS.with(|names| {
            fetch_and_read(
                &custom,
                &request,
                ends[0],
                ends[1],
                ends[2],
                names,
                BODY_CAP,
                call.timeout,
                &call.signal,
                call.whole,
            )
        });
        let read = JsFuture::from(promise)
            .await
            .map_err(|e| fetch_failed(&e))?;
        response_from_read(&read)
    }

    /// `fetch(input, init)` for an API call (the session's `fetch`): the deadline covers the
    /// answer's head; the body is the caller's to read.
    pub(crate) async fn api(
        &self,
        input: &JsValue,
        init: &JsValue,
        call: &Call,
    ) -> Result<JsValue, Error> {
        let custom = self.custom();
        let promise =
            crate::convert::fetch_api(&custom, input, init, call.timeout, &call.signal, call.whole);
        JsFuture::from(promise).await.map_err(|e| fetch_failed(&e))
    }
}

/// What the transport rejected with, as a transport error: `js/support.js` has put the method,
/// the URL without its query and what went wrong in the message (a deadline, an abort, fetch's
/// own error and its cause).
pub(crate) fn fetch_failed(thrown: &JsValue) -> Error {
    let message = crate::convert::message_of(thrown);
    Error::Transport {
        reason: if message.is_empty() {
            "fetch failed".to_owned()
        } else {
            message
        },
    }
}
