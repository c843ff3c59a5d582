//! Conversions between JavaScript values and the core's types: options objects, plain HTTP
//! request and response objects, `fetch` responses, and errors. No protocol logic lives here.

use grantline::Error;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/js/support.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(class: &str, message: &str, fields: &Object) -> JsValue;
    #[wasm_bindgen(js_name = flattenHeaders)]
    fn flatten_headers(headers: &JsValue) -> Option<String>;
    #[wasm_bindgen(js_name = readThenParse)]
    pub(crate) fn read_then_parse(
        res: &JsValue,
        names: &JsValue,
        cap: f64,
        parse: &js_sys::Function,
        kind: u32,
        now: f64,
        interval: f64,
        separator: u32,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = fetchThenParse)]
    pub(crate) fn fetch_then_parse(
        custom: &JsValue,
        request: &str,
        method_end: u32,
        url_end: u32,
        headers_end: u32,
        names: &JsValue,
        cap: f64,
        timeout: f64,
        signal: &JsValue,
        parse: &js_sys::Function,
        kind: i32,
        extra: &JsValue,
        separator: u32,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = fetchAndRead)]
    pub(crate) fn fetch_and_read(
        custom: &JsValue,
        request: &str,
        method_end: u32,
        url_end: u32,
        headers_end: u32,
        names: &JsValue,
        cap: f64,
        timeout: f64,
        signal: &JsValue,
        whole: f64,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = fetchApi)]
    pub(crate) fn fetch_api(
        custom: &JsValue,
        input: &JsValue,
        init: &JsValue,
        timeout: f64,
        signal: &JsValue,
        whole: f64,
    ) -> js_sys::Promise;
    /// `promise`, or a rejection when the caller's `timeout` passes or `signal` (or `also`)
    /// aborts first.
    pub(crate) fn bounded(
        promise: &js_sys::Promise,
        timeout: f64,
        signal: &JsValue,
        also: &JsValue,
        whole: f64,
    ) -> js_sys::Promise;
    /// Calls `f(value)`, dropping whatever it throws or rejects with.
    #[wasm_bindgen(js_name = callQuietly)]
    pub(crate) fn call_quietly(f: &js_sys::Function, value: &JsValue);
    #[wasm_bindgen(js_name = stringList)]
    fn string_list(v: &JsValue) -> Option<String>;
    #[wasm_bindgen(js_name = makeRequest)]
    fn make_request(request: &str, method_end: u32, url_end: u32, headers_end: u32) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// A response object as JavaScript hands it over (a plain `{ status, headers, body }`, a
    /// fetch `Response`, or what `js/support.js` read of one): its fields read directly, one
    /// boundary crossing each (no key string made per read, as `Reflect.get` needs). A getter
    /// that throws reads as `undefined` (as `get`).
    pub(crate) type ResponseLike;
    #[wasm_bindgen(structural, method, getter, catch, js_name = status)]
    fn status_(this: &ResponseLike) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(structural, method, getter, catch, js_name = headers)]
    fn headers_(this: &ResponseLike) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(structural, method, getter, catch, js_name = body)]
    fn body_(this: &ResponseLike) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(structural, method, getter, catch, js_name = what)]
    fn what_(this: &ResponseLike) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(structural, method, getter, catch, js_name = text)]
    fn text_(this: &ResponseLike) -> Result<JsValue, JsValue>;
}

impl ResponseLike {
    fn status(&self) -> JsValue {
        self.status_().unwrap_or(JsValue::UNDEFINED)
    }
    fn headers(&self) -> JsValue {
        self.headers_().unwrap_or(JsValue::UNDEFINED)
    }
    fn body(&self) -> JsValue {
        self.body_().unwrap_or(JsValue::UNDEFINED)
    }
    fn what(&self) -> JsValue {
        self.what_().unwrap_or(JsValue::UNDEFINED)
    }
    fn text(&self) -> JsValue {
        self.text_().unwrap_or(JsValue::UNDEFINED)
    }
}

/// A core error on its way to JavaScript, where it becomes an instance of one of the
/// package's error classes (see `js/support.js`).
#[derive(Debug)]
pub struct Failure(pub(crate) Error);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e)
    }
}

impl From<Failure> for JsValue {
    fn from(Failure(e): Failure) -> JsValue {
        error_to_js(&e)
    }
}

/// The class a core error maps to: one per thing a caller can act on.
pub(crate) fn error_class(e: &Error) -> &'static str {
    match e {
        Error::OAuth { .. } => "OAuthError",
        Error::Malformed { .. } | Error::UnexpectedStatus { .. } | Error::UnusableToken { .. } => {
            "MalformedResponseError"
        }
        Error::StateMismatch | Error::IssuerMismatch { .. } => "StateMismatchError",
        Error::ReauthorizationRequired => "ReauthorizationRequiredError",
        Error::Transport { .. } => "TransportError",
        Error::Store { .. } => "StoreError",
        Error::Jws { .. } | Error::IdToken { .. } => "TokenValidationError",
        Error::Random => "GrantlineError",
        _ => "ConfigurationError",
    }
}

fn error_to_js(e: &Error) -> JsValue {
    let fields = Object::new();
    set(&fields, "kind", e.kind());
    let fault = match e.fault() {
        grantline::Fault::Server => "server",
        grantline::Fault::Response => "response",
        grantline::Fault::Transport => "transport",
        _ => "caller",
    };
    set(&fields, "fault", fault);
    set(&fields, "status", e.status().map(f64::from));
    set(&fields, "code", e.oauth_code());
    match e {
        Error::OAuth {
            description, uri, ..
        } => {
            set(&fields, "description", description.as_deref());
            set(&fields, "uri", uri.as_deref());
        }
        Error::Malformed { excerpt, .. } | Error::UnexpectedStatus { excerpt, .. } => {
            set(&fields, "excerpt", excerpt.as_deref());
        }
        Error::MissingEndpoint { endpoint } => set(&fields, "endpoint", endpoint.as_str()),
        Error::UnsupportedGrant { grant } => set(&fields, "grant", grant.name()),
        Error::UnsupportedAuthMethod { offered } => set(
            &fields,
            "offered",
            offered.iter().map(JsValue::from).collect::<Array>(),
        ),
        Error::UnsupportedTokenType { token_type } => {
            set(&fields, "tokenType", token_type.as_str())
        }
        Error::Jws { problem } => set(&fields, "problem", problem.kind()),
        Error::IdToken { claim, .. } => set(&fields, "claim", claim.as_str()),
        _ => {}
    }
    // The core's messages never contain a secret (its no-secret test checks every variant).
    make_error(error_class(e), &e.to_string(), &fields)
}

/// An instance of one of the package's classes found in an options object, as a Rust value: a
/// copy made by its hidden `__copy()` (wasm-bindgen's conversion takes the instance over, and
/// the caller's object must stay usable). `None` when `v` is not an instance of `T`.
pub(crate) fn instance<T: wasm_bindgen::convert::TryFromJsValue>(v: &JsValue) -> Option<T> {
    let copy: js_sys::Function = get(v, "__copy").dyn_into().ok()?;
    T::try_from_js_value(copy.call0(v).ok()?).ok()
}

/// `Error::InvalidInput` for a bad argument from JavaScript.
pub(crate) fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        reason: reason.into(),
    }
}

/// Sets `obj[key] = value` (a plain data property).
pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a data property on a plain object we created cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// An optional value of a redacted view (`toJSON()`): `null` when there is none, so that
/// `JSON.stringify` shows the field (`undefined` would drop it).
pub(crate) fn or_null<T: Into<JsValue>>(v: Option<T>) -> JsValue {
    v.map_or(JsValue::NULL, Into::into)
}

/// A secret in a redacted view: `"[redacted]"` when there is one, `null` when there is none
/// (whether it exists is worth logging; its value never is).
pub(crate) fn redacted_if(present: bool) -> JsValue {
    if present {
        JsValue::from_str(grantline::secret::REDACTED)
    } else {
        JsValue::NULL
    }
}

/// Strings as a JavaScript array.
pub(crate) fn string_array<'a>(items: impl IntoIterator<Item = &'a str>) -> Array {
    items.into_iter().map(JsValue::from_str).collect()
}

/// `obj[key]`, or `undefined` when `obj` is not an object.
pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() || obj.is_function() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A nullish value: `undefined` or `null`.
pub(crate) fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// An optional string argument or option.
pub(crate) fn opt_string(v: &JsValue, what: &str) -> Result<Option<String>, Error> {
    if absent(v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| invalid(format!("{what} must be a string")))
}

/// An optional boolean option.
pub(crate) fn opt_bool(v: &JsValue, what: &str) -> Result<Option<bool>, Error> {
    if absent(v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| invalid(format!("{what} must be a boolean")))
}

/// A non-negative whole number of seconds.
pub(crate) fn seconds(v: f64, what: &str) -> Result<u64, Error> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        // Exact: a whole number within the safe integer range.
        Ok(v as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a whole, non-negative number of seconds"
        )))
    }
}

/// An optional `seconds` option.
pub(crate) fn opt_seconds(v: &JsValue, what: &str) -> Result<Option<u64>, Error> {
    if absent(v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) => seconds(n, what).map(Some),
        None => Err(invalid(format!("{what} must be a number"))),
    }
}

/// The current Unix time, or the `now` a caller passed (seconds).
pub(crate) fn now_or(now: Option<f64>) -> Result<u64, Error> {
    match now {
        Some(n) => seconds(n, "now"),
        // Date.now() is milliseconds since the epoch, always positive here.
        None => Ok((js_sys::Date::now() / 1000.0) as u64),
    }
}

/// A list of strings (`undefined`/`null` is an empty list; a single string is a list of one).
pub(crate) fn strings(v: &JsValue, what: &str) -> Result<Vec<String>, Error> {
    // The usual case in one crossing: `stringList` gives "\nitem\nitem..." (see
    // js/support.js); anything else (a bad value, an item with a newline) goes the long way.
    if let Some(flat) = string_list(v) {
        return Ok(match flat.strip_prefix('\n') {
            None => Vec::new(),
            Some(items) => items.split('\n').map(str::to_owned).collect(),
        });
    }
    if absent(v) {
        return Ok(Vec::new());
    }
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    if !Array::is_array(v) {
        return Err(invalid(format!("{what} must be an array of strings")));
    }
    Array::from(v)
        .iter()
        .map(|item| {
            item.as_string()
                .ok_or_else(|| invalid(format!("{what} must be an array of strings")))
        })
        .collect()
}

/// `[[name, value], ...]` or `{name: value}` as name/value pairs, in order.
pub(crate) fn pairs(v: &JsValue, what: &str) -> Result<Vec<(String, String)>, Error> {
    if absent(v) {
        return Ok(Vec::new());
    }
    let entries = if Array::is_array(v) {
        Array::from(v)
    } else if v.is_object() {
        Object::entries(v.unchecked_ref::<Object>())
    } else {
        return Err(invalid(format!(
            "{what} must be [[name, value], ...] or an object"
        )));
    };
    entries
        .iter()
        .map(|pair| {
            let bad = || invalid(format!("{what}: each entry must be [name, value] strings"));
            if !Array::is_array(&pair) {
                return Err(bad());
            }
            let pair = Array::from(&pair);
            match (
                pair.length(),
                pair.get(0).as_string(),
                pair.get(1).as_string(),
            ) {
                (2, Some(name), Some(value)) => Ok((name, value)),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// Refuses option names this binding does not know (a typo must not silently drop a setting).
pub(crate) fn known_keys(options: &JsValue, what: &str, known: &[&str]) -> Result<(), Error> {
    if absent(options) {
        return Ok(());
    }
    if !options.is_object() || Array::is_array(options) {
        return Err(invalid(format!("{what} must be an object")));
    }
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown {what} option `{key}` (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Bytes from a string (UTF-8), a `Uint8Array`, an `ArrayBuffer` or any typed-array view.
pub(crate) fn bytes(v: &JsValue, what: &str) -> Result<Vec<u8>, Error> {
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(b).to_vec());
    }
    if ArrayBufferView::is(v) {
        let view: &ArrayBufferView = v.unchecked_ref();
        return Ok(Uint8Array::new_with_byte_offset_and_length(
            &view.buffer(),
            view.byte_offset(),
            view.byte_length(),
        )
        .to_vec());
    }
    Err(invalid(format!(
        "{what} must be a string, a Uint8Array or an ArrayBuffer"
    )))
}

#[wasm_bindgen]
extern "C" {
    /// Any typed array or DataView.
    #[wasm_bindgen(js_name = ArrayBufferView)]
    type ArrayBufferView;
    #[wasm_bindgen(js_namespace = ArrayBuffer, js_name = isView)]
    fn is_view(v: &JsValue) -> bool;
    #[wasm_bindgen(method, getter)]
    fn buffer(this: &ArrayBufferView) -> js_sys::ArrayBuffer;
    #[wasm_bindgen(method, getter, js_name = byteOffset)]
    fn byte_offset(this: &ArrayBufferView) -> u32;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    fn byte_length(this: &ArrayBufferView) -> u32;
}

impl ArrayBufferView {
    fn is(v: &JsValue) -> bool {
        is_view(v)
    }
}

/// A core request as the plain `{ method, url, headers, body }` object the sans-IO layer hands
/// out (`headers`: lowercase name → value; `body`: the UTF-8 body). It can go to `fetch` as is:
/// `fetch(r.url, r)`. It prints redacted (`toString`, Node's inspect).
pub(crate) fn request_to_js(request: &http::Request<Vec<u8>>) -> JsValue {
    let (text, ends) = request_text(request);
    make_request(&text, ends[0], ends[1], ends[2])
}

/// A core request as it crosses into JavaScript (`makeRequest`, and the transport of
/// `js/support.js`): one string, its method, URL, headers and body one after the other, and where
/// the first three end (in UTF-16 code units, JavaScript's string indices). One string to
/// decode instead of one per part and per header: the headers are "name\nvalue\nname\nvalue" (a
/// newline cannot occur in a header name or value: `http` refuses it), the body its text (the
/// core's bodies are form or JSON: always UTF-8). Built in one allocation.
pub(crate) fn request_text(request: &http::Request<Vec<u8>>) -> (String, [u32; 3]) {
    fn utf16_len(s: &str) -> usize {
        if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        }
    }
    // A request is far below 4 GiB.
    let index = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
    let method = request.method().as_str();
    let uri = request.uri();
    let body = String::from_utf8_lossy(request.body());
    let headers_len: usize = request
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 2)
        .sum();
    let url_len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    let mut all = String::with_capacity(method.len() + url_len + headers_len + body.len());
    all.push_str(method);
    let mut ends = [index(utf16_len(method)), 0, 0];
    // The URL: what `Uri`'s `Display` writes, without the formatting machinery.
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            all.push_str(scheme);
            all.push_str("://");
            all.push_str(authority.as_str());
            all.push_str(uri.path_and_query().map_or("/", |p| p.as_str()));
        }
        _ => all.push_str(&uri.to_string()),
    }
    // A URI is ASCII.
    ends[1] = index(all.len());
    let mut first = true;
    for (name, value) in request.headers() {
        if !first {
            all.push('\n');
        }
        first = false;
        all.push_str(name.as_str());
        all.push('\n');
        all.push_str(&String::from_utf8_lossy(value.as_bytes()));
    }
    ends[2] = if all.is_ascii() {
        index(all.len())
    } else {
        index(utf16_len(&all))
    };
    all.push_str(&body);
    (all, ends)
}

/// A plain request object (as `request_to_js` makes them) back as the core's request.
pub(crate) fn request_from_js(v: &JsValue) -> Result<http::Request<Vec<u8>>, Error> {
    let text = |key: &str| {
        opt_string(&get(v, key), key)?
            .ok_or_else(|| invalid(format!("request.{key} must be a string")))
    };
    let mut builder = http::Request::builder()
        .method(text("method")?.as_str())
        .uri(text("url")?);
    for (name, value) in header_pairs(&get(v, "headers"))? {
        builder = builder.header(name, value);
    }
    let body = match get(v, "body") {
        b if absent(&b) => Vec::new(),
        b => bytes(&b, "request.body")?,
    };
    builder
        .body(body)
        .map_err(|_| invalid("not a valid HTTP request"))
}

/// A plain `{ status, headers, body }` object as the response the core parses. `headers` may
/// be a `Headers`, an object of name → string or string[] (repeated header), or a list of
/// `[name, value]` pairs; `body` a string, `Uint8Array` or `ArrayBuffer` (absent: empty).
pub(crate) fn response_from_js(v: &JsValue) -> Result<http::Response<Vec<u8>>, Error> {
    if !v.is_object() {
        return Err(invalid(
            "a response must be an object { status, headers, body } or a fetch Response",
        ));
    }
    let v: &ResponseLike = v.unchecked_ref();
    let status = v
        .status()
        .as_f64()
        .ok_or_else(|| invalid("response.status must be a number"))?;
    let body = match v.body() {
        b if absent(&b) => Vec::new(),
        b => bytes(&b, "response.body")?,
    };
    build_response(status, &flat_headers(&v.headers())?, body)
}

/// The headers of a response object as one string, "name\nvalue\nname\nvalue...", repeated
/// headers kept in order: a `Headers` (or any iterable of pairs), a list of pairs, or a record of
/// strings or string lists (read in one call by `flattenHeaders`).
fn flat_headers(h: &JsValue) -> Result<String, Error> {
    flatten_headers(h).ok_or_else(bad_headers)
}

fn bad_headers() -> Error {
    invalid("headers must be a Headers, [name, value] string pairs, or an object of strings or string lists")
}

/// The headers of a response object as name/value pairs (see `flat_headers`).
fn header_pairs(h: &JsValue) -> Result<Vec<(String, String)>, Error> {
    Ok(split_headers(&flat_headers(h)?)
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// "name\nvalue\nname\nvalue..." (see `flattenHeaders` in `js/support.js`) as pairs.
fn split_headers(flat: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut items = flat.split('\n');
    std::iter::from_fn(move || Some((items.next()?, items.next()?)))
}

/// The core's response from its status, its headers as one string ("name\nvalue...") and body.
fn build_response(
    status: f64,
    headers: &str,
    body: Vec<u8>,
) -> Result<http::Response<Vec<u8>>, Error> {
    let status = http::StatusCode::from_u16(seconds(status, "response.status")?.min(1000) as u16)
        .map_err(|_| invalid("response.status must be an HTTP status (100-999)"))?;
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in split_headers(headers) {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("invalid response header name {name:?}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("invalid value for response header {name}")))?;
        map.append(name, value);
    }
    Ok(response)
}

/// A fetch `Response` read by `js/support.js` (`{ status, headers, body, what? }`: `status` 0
/// for an opaque redirect, `headers` flattened already) as the core's response (see
/// `response_from_parts`).
pub(crate) fn response_from_read(v: &JsValue) -> Result<http::Response<Vec<u8>>, Error> {
    let v: &ResponseLike = v.unchecked_ref();
    let status = v.status().as_f64().unwrap_or(0.0);
    let body = v
        .body()
        .dyn_into::<Uint8Array>()
        .map_or_else(|_| Vec::new(), |b| b.to_vec());
    response_from_parts(status, v.what().as_string(), v.headers().as_string(), body)
}

/// A fetch `Response` read by `js/support.js`, handed over in parts (one boundary crossing):
/// its status (0: an opaque redirect), `what` (the method and URL without its query, for a
/// redirect's message), its headers flattened ("name\nvalue...", only the ones the core
/// reads; `None` when the response's headers were unusable) and its body (capped). A redirect
/// is refused: grantline never follows redirects on its endpoints.
pub(crate) fn response_from_parts(
    status: f64,
    what: Option<String>,
    headers: Option<String>,
    body: Vec<u8>,
) -> Result<http::Response<Vec<u8>>, Error> {
    if (300.0..400.0).contains(&status) || status == 0.0 {
        let what = what.map(|w| format!("{w}: ")).unwrap_or_default();
        return Err(Error::Transport {
            reason: format!(
                "{what}the server answered with a redirect (HTTP {}), which grantline never follows",
                status as u16
            ),
        });
    }
    build_response(status, &headers.ok_or_else(bad_headers)?, body)
}

/// The message of what JavaScript threw: an `Error`'s `message`, or a thrown string.
pub(crate) fn message_of(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| thrown.as_string())
        .unwrap_or_default()
}

/// `Error::Transport` from what a JavaScript call threw; the thrown value's message only (a
/// fetch error names the host, never a credential).
pub(crate) fn transport(what: &str, thrown: &JsValue) -> Error {
    let detail = message_of(thrown);
    Error::Transport {
        reason: if detail.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {detail}")
        },
    }
}

/// A fetch `Response` (or a look-alike with `text()`), as opposed to a plain
/// `{ status, headers, body }` object.
pub(crate) fn is_fetch_response(v: &JsValue) -> bool {
    v.is_object() && v.unchecked_ref::<ResponseLike>().text().is_function()
}

/// Response headers (a `Headers`, a record or pairs) as a header map.
pub(crate) fn headers_of(h: &JsValue) -> Result<http::HeaderMap, Error> {
    let mut map = http::HeaderMap::new();
    for (name, value) in header_pairs(h)? {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
        let value = http::HeaderValue::from_str(&value)
            .map_err(|_| invalid(format!("invalid value for header {name}")))?;
        map.append(name, value);
    }
    Ok(map)
}

thread_local! {
    /// `grantline::RESPONSE_HEADERS` as a JavaScript array, made once: the headers worth
    /// copying out of a fetch `Headers`.
    pub(crate) static RESPONSE_HEADERS: JsValue = grantline::RESPONSE_HEADERS
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect::<Array>()
        .into();
}

/// The current Unix time in seconds (`Date.now()`), for requests that carry a `now` (the
/// `iat` of a JWT client assertion).
pub(crate) fn unix_now() -> u64 {
    // Date.now() is milliseconds since the epoch, always positive here.
    (js_sys::Date::now() / 1000.0) as u64
}
