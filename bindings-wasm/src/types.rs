//! TypeScript names for optional arguments. An `Option<T>` of one of these types becomes an
//! optional parameter (`name?: T`) in the package's `.d.ts`; the value arrives as a plain
//! `JsValue` (read with `crate::convert`), `undefined` when omitted.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// OAuth scopes: `string[]`.
    #[wasm_bindgen(typescript_type = "string[]")]
    pub type Scopes;
    /// The options of `new Client()`: `ClientOptions`.
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsArg;
    /// The options of `introspectionRequest()`: `IntrospectionOptions`.
    #[wasm_bindgen(typescript_type = "IntrospectionOptions")]
    pub type IntrospectionOptions;
    /// The options of `introspect()`: `IntrospectionOptions & CallOptions`.
    #[wasm_bindgen(typescript_type = "IntrospectionOptions & CallOptions")]
    pub type IntrospectOptions;
    /// The options of `authorizationUrl()`: `AuthorizationUrlOptions`.
    #[wasm_bindgen(typescript_type = "AuthorizationUrlOptions")]
    pub type AuthorizationUrlOptionsArg;
    /// The options of `pollDeviceToken()`: `CallOptions`.
    #[wasm_bindgen(typescript_type = "CallOptions")]
    pub type PollOptions;
    /// The options of `discover()`: `DiscoverOptions`.
    #[wasm_bindgen(typescript_type = "DiscoverOptions")]
    pub type DiscoverOptions;
    /// The per-call options of every network call: `CallOptions`.
    #[wasm_bindgen(typescript_type = "CallOptions")]
    pub type CallOptionsArg;
    /// The grant of a `SessionState`: `SessionGrant`.
    #[wasm_bindgen(typescript_type = "SessionGrant")]
    pub type SessionGrantArg;
    /// The options of a `SessionState`: `SessionStateOptions`.
    #[wasm_bindgen(typescript_type = "SessionStateOptions")]
    pub type SessionStateOptionsArg;
    /// The options of a `TokenSession`: `SessionOptions`.
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type SessionOptionsArg;
    /// The options of a sans-IO token request: `TokenRequestOptions`.
    #[wasm_bindgen(typescript_type = "TokenRequestOptions")]
    pub type TokenRequestOptionsArg;
    /// The options of a token call over fetch: `TokenCallOptions`.
    #[wasm_bindgen(typescript_type = "TokenCallOptions")]
    pub type TokenCallOptionsArg;
    /// `fetch`'s second argument: `RequestInit`.
    #[wasm_bindgen(typescript_type = "RequestInit")]
    pub type FetchInit;
}

/// An optional argument as a `JsValue` (`undefined` when omitted).
pub(crate) fn js<T: Into<JsValue>>(arg: Option<T>) -> JsValue {
    arg.map_or(JsValue::UNDEFINED, Into::into)
}
