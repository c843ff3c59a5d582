//! `Provider`: the five presets, custom providers from an options object, and providers from
//! a discovery document.

use crate::convert::{
    absent, get, invalid, known_keys, opt_bool, opt_seconds, opt_string, or_null, pairs, set,
    string_array, strings, Failure,
};
use crate::types::{js, DiscoverOptions};
use grantline::{AssertionAudience, BodyEncoding, ClientAuthMethod, Error, GrantType};
use wasm_bindgen::prelude::*;

/// An authorization server: its endpoints and quirks (body encoding, client authentication,
/// scope separator, extra parameters, which grants exist). Immutable.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Provider {
    pub(crate) inner: grantline::Provider,
}

const OPTIONS: &[&str] = &[
    "name",
    "issuer",
    "authorizationEndpoint",
    "tokenEndpoint",
    "tokenEndpoints",
    "introspectionEndpoint",
    "revocationEndpoint",
    "deviceAuthorizationEndpoint",
    "bodyEncoding",
    "authMethod",
    "scopeSeparator",
    "extraTokenParams",
    "defaultSkew",
    "grants",
    "unsolicitedCallbacks",
    "issParameterSupported",
    "jwksUri",
    "userinfoEndpoint",
    "endSessionEndpoint",
    "idTokenAlgorithms",
    "assertionAudience",
];

pub(crate) fn grant(name: &str) -> Result<GrantType, Error> {
    GrantType::from_name(name).ok_or_else(|| {
        invalid(format!(
            "unknown grant `{name}` (known: authorization_code, client_credentials, password, refresh_token, device_code)"
        ))
    })
}

pub(crate) fn auth_method(name: &str) -> Result<ClientAuthMethod, Error> {
    ClientAuthMethod::parse(name).ok_or_else(|| {
        invalid(format!(
            "unknown authMethod `{name}` (known: client_secret_basic, client_secret_post, none, private_key_jwt, client_secret_jwt)"
        ))
    })
}

/// Applies provider options to a builder (`name` is the builder's already).
fn apply(
    mut b: grantline::ProviderBuilder,
    options: &JsValue,
) -> Result<grantline::Provider, Error> {
    let text = |key: &str| opt_string(&get(options, key), key);
    if let Some(v) = text("issuer")? {
        b = b.issuer(v);
    }
    if let Some(v) = text("authorizationEndpoint")? {
        b = b.authorization_endpoint(v);
    }
    if let Some(v) = text("tokenEndpoint")? {
        b = b.token_endpoint(v);
    }
    for (g, url) in pairs(&get(options, "tokenEndpoints"), "tokenEndpoints")? {
        b = b.token_endpoint_for(grant(&g)?, url);
    }
    if let Some(v) = text("introspectionEndpoint")? {
        b = b.introspection_endpoint(v);
    }
    if let Some(v) = text("revocationEndpoint")? {
        b = b.revocation_endpoint(v);
    }
    if let Some(v) = text("deviceAuthorizationEndpoint")? {
        b = b.device_authorization_endpoint(v);
    }
    match text("bodyEncoding")?.as_deref() {
        None => {}
        Some("form") => b = b.body_encoding(BodyEncoding::Form),
        Some("json") => b = b.body_encoding(BodyEncoding::Json),
        Some(other) => {
            return Err(invalid(format!(
                "unknown bodyEncoding `{other}` (known: form, json)"
            )))
        }
    }
    if let Some(v) = text("authMethod")? {
        b = b.auth_method(auth_method(&v)?);
    }
    if let Some(v) = text("scopeSeparator")? {
        b = b.scope_separator(v);
    }
    for (name, value) in pairs(&get(options, "extraTokenParams"), "extraTokenParams")? {
        b = b.extra_token_param(name, value);
    }
    if let Some(v) = opt_seconds(&get(options, "defaultSkew"), "defaultSkew")? {
        b = b.default_skew(v);
    }
    for g in strings(&get(options, "grants"), "grants")? {
        b = b.grant(grant(&g)?);
    }
    if let Some(v) = opt_bool(
        &get(options, "unsolicitedCallbacks"),
        "unsolicitedCallbacks",
    )? {
        b = b.unsolicited_callbacks(v);
    }
    if let Some(v) = opt_bool(
        &get(options, "issParameterSupported"),
        "issParameterSupported",
    )? {
        b = b.iss_parameter_supported(v);
    }
    if let Some(v) = text("jwksUri")? {
        b = b.jwks_uri(v);
    }
    if let Some(v) = text("userinfoEndpoint")? {
        b = b.userinfo_endpoint(v);
    }
    if let Some(v) = text("endSessionEndpoint")? {
        b = b.end_session_endpoint(v);
    }
    let algs = get(options, "idTokenAlgorithms");
    if !absent(&algs) {
        b = b.id_token_algorithms(crate::jose::algorithms(&algs, "idTokenAlgorithms")?);
    }
    match text("assertionAudience")?.as_deref() {
        None => {}
        Some(name) => {
            b = b.assertion_audience(AssertionAudience::parse(name).ok_or_else(|| {
                invalid(format!(
                    "unknown assertionAudience `{name}` (known: issuer, token_endpoint)"
                ))
            })?)
        }
    }
    b.build()
}

#[wasm_bindgen]
impl Provider {
    /// Libro (production).
    pub fn libro() -> Provider {
        grantline::Provider::libro().into()
    }

    /// Libro's staging accounts host (authorization code and refresh only).
    #[wasm_bindgen(js_name = libroStaging)]
    pub fn libro_staging() -> Provider {
        grantline::Provider::libro_staging().into()
    }

    /// Bindeo.
    pub fn bindeo() -> Provider {
        grantline::Provider::bindeo().into()
    }

    /// Bookable (Auth0), with its API audience; the default audience when omitted.
    pub fn bookable(audience: Option<String>) -> Provider {
        match audience {
            Some(a) => grantline::Provider::bookable_with_audience(a),
            None => grantline::Provider::bookable(),
        }
        .into()
    }

    /// Apicbase.
    pub fn apicbase() -> Provider {
        grantline::Provider::apicbase().into()
    }

    /// Booking Experts.
    #[wasm_bindgen(js_name = bookingExperts)]
    pub fn booking_experts() -> Provider {
        grantline::Provider::booking_experts().into()
    }

    /// Google (OpenID Connect, `https://accounts.google.com`).
    pub fn google() -> Provider {
        grantline::Provider::google().into()
    }

    /// GitHub (OAuth only; device flow; form answers unless asked for JSON, which grantline
    /// does; tokens may not expire).
    pub fn github() -> Provider {
        grantline::Provider::github().into()
    }

    /// Microsoft Entra ID, `tenant` (a tenant id or domain, or `common`, `organizations`,
    /// `consumers`) in the issuer. Throws `ConfigurationError` for a tenant that cannot be one.
    pub fn entra(tenant: &str) -> Result<Provider, Failure> {
        Ok(grantline::Provider::entra(tenant)?.into())
    }

    /// Okta at `domain` (e.g. `dev-123.okta.com`): the org authorization server, or the custom
    /// one named `authorizationServer` (e.g. `default`).
    pub fn okta(domain: &str, authorization_server: Option<String>) -> Result<Provider, Failure> {
        Ok(grantline::Provider::okta(domain, authorization_server.as_deref())?.into())
    }

    /// Auth0 at `domain` (e.g. `tenant.eu.auth0.com`), with the API `audience` sent with token
    /// requests when given.
    pub fn auth0(domain: &str, audience: Option<String>) -> Result<Provider, Failure> {
        Ok(grantline::Provider::auth0(domain, audience.as_deref())?.into())
    }

    /// Keycloak: the server's `baseUrl` (e.g. `https://sso.example.com`) and the `realm`.
    pub fn keycloak(base_url: &str, realm: &str) -> Result<Provider, Failure> {
        Ok(grantline::Provider::keycloak(base_url, realm)?.into())
    }

    /// A preset by name: `libro`, `libro-staging`, `bindeo`, `bookable`, `apicbase`,
    /// `booking-experts`, `google`, `github` (the others take parameters: `Provider.entra()`,
    /// `okta()`, `auth0()`, `keycloak()`). Throws `ConfigurationError` for another name.
    pub fn preset(name: &str) -> Result<Provider, Failure> {
        grantline::Provider::preset(name)
            .map(Provider::from)
            .ok_or_else(|| Failure(invalid(format!("unknown provider preset `{name}`"))))
    }

    /// Any other authorization server, from its parts. Unknown option names are refused.
    /// Endpoints must be `https://` (or `http://` on a loopback host).
    pub fn custom(
        #[wasm_bindgen(unchecked_param_type = "ProviderOptions")] options: JsValue,
    ) -> Result<Provider, Failure> {
        if absent(&options) {
            return Err(Failure(invalid("Provider.custom needs an options object")));
        }
        known_keys(&options, "provider", OPTIONS)?;
        let name = opt_string(&get(&options, "name"), "name")?;
        let builder = grantline::Provider::builder(name.unwrap_or_else(|| "custom".into()));
        Ok(apply(builder, &options)?.into())
    }

    /// A copy of this provider with some parts replaced (every `ProviderOptions` field but
    /// `name`): e.g. a discovered provider whose metadata lists the wrong auth method.
    /// `grants` and `extraTokenParams` add to the existing ones.
    pub fn with(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Omit<ProviderOptions, 'name'>")] options: JsValue,
    ) -> Result<Provider, Failure> {
        known_keys(&options, "provider", OPTIONS.get(1..).unwrap_or_default())?;
        Ok(apply(self.inner.to_builder(), &options)?.into())
    }

    /// A provider from an RFC 8414 / OpenID Connect discovery document: its JSON text, bytes,
    /// or an already parsed object.
    #[wasm_bindgen(js_name = fromMetadata)]
    pub fn from_metadata(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] metadata: JsValue,
    ) -> Result<Provider, Failure> {
        let bytes = if metadata.is_object()
            && !metadata.is_instance_of::<js_sys::Uint8Array>()
            && !metadata.is_instance_of::<js_sys::ArrayBuffer>()
        {
            js_sys::JSON::stringify(&metadata)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| invalid("the discovery document could not be serialized"))?
                .into_bytes()
        } else {
            crate::convert::bytes(&metadata, "the discovery document")?
        };
        Ok(grantline::Provider::from_metadata(&bytes)?.into())
    }

    /// Discovers the provider of `issuer` (RFC 8414 / OpenID Connect Discovery): fetches its
    /// metadata from the well-known URLs built from the issuer, in order (a 404 moves on), and
    /// refuses a document that names another issuer (`StateMismatchError`, kind
    /// `issuer_mismatch`). A full well-known URL is accepted too (its issuer is derived).
    /// `options`: `fetch` (replaces the global `fetch`), `timeout` (milliseconds for the whole
    /// discovery, default 30 000), `signal`. The same as the package's `discover()`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Provider>")]
    pub fn discover(issuer: String, options: Option<DiscoverOptions>) -> js_sys::Promise {
        crate::discovery::discover_promise(issuer, js(options))
    }

    /// Parses an answer of this provider's token endpoint, as `parseTokenResponse()` does, with
    /// `scope` also split on the provider's own one-character separator (e.g. `,`).
    #[wasm_bindgen(js_name = parseTokenResponse, skip_typescript)]
    pub fn parse_token_response(
        &self,
        response: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, Failure> {
        crate::tokens::parse_token_response_for(&self.inner, &response, now)
    }

    /// The display name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The issuer identifier, when known.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> Option<String> {
        self.inner.issuer().map(str::to_owned)
    }

    /// The authorization endpoint, when the provider has one.
    #[wasm_bindgen(getter, js_name = authorizationEndpoint)]
    pub fn authorization_endpoint(&self) -> Option<String> {
        self.inner.authorization_endpoint().map(str::to_owned)
    }

    /// The token endpoint used for `grant` (some providers use one per grant).
    #[wasm_bindgen(js_name = tokenEndpoint)]
    pub fn token_endpoint(&self, grant: &str) -> Result<Option<String>, Failure> {
        Ok(self
            .inner
            .token_endpoint(self::grant(grant)?)
            .map(str::to_owned))
    }

    /// The introspection endpoint, when the provider has one.
    #[wasm_bindgen(getter, js_name = introspectionEndpoint)]
    pub fn introspection_endpoint(&self) -> Option<String> {
        self.inner.introspection_endpoint().map(str::to_owned)
    }

    /// The revocation endpoint, when the provider has one.
    #[wasm_bindgen(getter, js_name = revocationEndpoint)]
    pub fn revocation_endpoint(&self) -> Option<String> {
        self.inner.revocation_endpoint().map(str::to_owned)
    }

    /// The device authorization endpoint, when the provider has one.
    #[wasm_bindgen(getter, js_name = deviceAuthorizationEndpoint)]
    pub fn device_authorization_endpoint(&self) -> Option<String> {
        self.inner
            .device_authorization_endpoint()
            .map(str::to_owned)
    }

    /// `"form"` or `"json"`: how token request bodies are encoded.
    #[wasm_bindgen(getter, js_name = bodyEncoding, unchecked_return_type = "'form' | 'json'")]
    pub fn body_encoding(&self) -> String {
        match self.inner.body_encoding() {
            BodyEncoding::Json => "json",
            _ => "form",
        }
        .to_owned()
    }

    /// How clients with a secret authenticate by default: `client_secret_basic`,
    /// `client_secret_post`, `client_secret_jwt`, `private_key_jwt` or `none`; `undefined` when the provider's metadata listed only
    /// methods grantline does not speak (see `authMethodsOffered`).
    #[wasm_bindgen(getter, js_name = authMethod, unchecked_return_type = "AuthMethod | undefined")]
    pub fn auth_method(&self) -> Option<String> {
        self.inner.auth_method().map(|m| m.as_str().to_owned())
    }

    /// The `token_endpoint_auth_methods_supported` of the metadata this provider was built
    /// from, when it had one.
    #[wasm_bindgen(getter, js_name = authMethodsOffered)]
    pub fn auth_methods_offered(&self) -> Option<Vec<String>> {
        self.inner.auth_methods_offered().map(<[String]>::to_vec)
    }

    /// The JWK Set URL (`jwks_uri`) of the provider's signing keys, when known.
    #[wasm_bindgen(getter, js_name = jwksUri)]
    pub fn jwks_uri(&self) -> Option<String> {
        self.inner.jwks_uri().map(str::to_owned)
    }

    /// The OpenID Connect userinfo endpoint, when known.
    #[wasm_bindgen(getter, js_name = userinfoEndpoint)]
    pub fn userinfo_endpoint(&self) -> Option<String> {
        self.inner.userinfo_endpoint().map(str::to_owned)
    }

    /// The end-session (RP-Initiated Logout) endpoint, when known.
    #[wasm_bindgen(getter, js_name = endSessionEndpoint)]
    pub fn end_session_endpoint(&self) -> Option<String> {
        self.inner.end_session_endpoint().map(str::to_owned)
    }

    /// The algorithms ID tokens are signed with (`id_token_signing_alg_values_supported`;
    /// `['RS256']` when none grantline speaks is listed).
    #[wasm_bindgen(getter, js_name = idTokenAlgorithms, unchecked_return_type = "JwsAlgorithm[]")]
    pub fn id_token_algorithms(&self) -> js_sys::Array {
        crate::jose::algorithm_names(self.inner.id_token_algorithms())
    }

    /// The `aud` of this provider's client assertions: `issuer` or `token_endpoint`.
    #[wasm_bindgen(getter, js_name = assertionAudience, unchecked_return_type = "'issuer' | 'token_endpoint'")]
    pub fn assertion_audience(&self) -> String {
        self.inner.assertion_audience().as_str().to_owned()
    }

    /// The separator between scopes in requests.
    #[wasm_bindgen(getter, js_name = scopeSeparator)]
    pub fn scope_separator(&self) -> String {
        self.inner.scope_separator().to_owned()
    }

    /// Parameters added to every token request, as `[name, value]` pairs in order.
    #[wasm_bindgen(getter, js_name = extraTokenParams, unchecked_return_type = "[string, string][]")]
    pub fn extra_token_params(&self) -> js_sys::Array {
        self.inner
            .extra_token_params()
            .iter()
            .map(|(k, v)| js_sys::Array::of2(&k.into(), &v.into()))
            .collect()
    }

    /// Seconds before expiry at which sessions renew by default.
    #[wasm_bindgen(getter, js_name = defaultSkew)]
    pub fn default_skew(&self) -> f64 {
        self.inner.default_skew() as f64
    }

    /// The grants this provider supports.
    #[wasm_bindgen(getter, unchecked_return_type = "Grant[]")]
    pub fn grants(&self) -> Vec<String> {
        self.inner
            .grants()
            .iter()
            .map(|g| g.name().to_owned())
            .collect()
    }

    /// Whether the provider supports `grant`.
    pub fn supports(&self, grant: &str) -> bool {
        GrantType::from_name(grant).is_some_and(|g| self.inner.supports(g))
    }

    /// Whether authorization may start at the provider (callbacks without `state`), as
    /// Booking Experts' app store does.
    #[wasm_bindgen(getter, js_name = unsolicitedCallbacks)]
    pub fn unsolicited_callbacks(&self) -> bool {
        self.inner.unsolicited_callbacks()
    }

    /// Whether callbacks carry `iss` (RFC 9207), which is then required and checked.
    #[wasm_bindgen(getter, js_name = issParameterSupported)]
    pub fn iss_parameter_supported(&self) -> bool {
        self.inner.iss_parameter_supported()
    }

    /// `Provider(<name>)`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("Provider({})", self.inner.name())
    }

    /// The view `JSON.stringify()` shows: `{ name, issuer, authorizationEndpoint,
    /// tokenEndpoints, introspectionEndpoint, revocationEndpoint, deviceAuthorizationEndpoint,
    /// grants, authMethod, bodyEncoding, extraTokenParams }` (`tokenEndpoints`: grant → URL, for
    /// the grants it supports; the value of an extra parameter with a secret's name is
    /// `'[redacted]'`; absent values are `null`).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "ProviderView")]
    pub fn to_view(&self) -> JsValue {
        let p = &self.inner;
        let o = js_sys::Object::new();
        set(&o, "name", p.name());
        set(&o, "issuer", or_null(p.issuer()));
        set(
            &o,
            "authorizationEndpoint",
            or_null(p.authorization_endpoint()),
        );
        let endpoints = js_sys::Object::new();
        for g in p.grants() {
            if let Some(url) = p.token_endpoint(*g) {
                set(&endpoints, g.name(), url);
            }
        }
        set(&o, "tokenEndpoints", endpoints);
        set(
            &o,
            "introspectionEndpoint",
            or_null(p.introspection_endpoint()),
        );
        set(&o, "revocationEndpoint", or_null(p.revocation_endpoint()));
        set(
            &o,
            "deviceAuthorizationEndpoint",
            or_null(p.device_authorization_endpoint()),
        );
        set(
            &o,
            "grants",
            string_array(p.grants().iter().map(|g| g.name())),
        );
        set(
            &o,
            "authMethod",
            or_null(p.auth_method().map(|m| m.as_str())),
        );
        set(&o, "bodyEncoding", self.body_encoding());
        let params: js_sys::Array = p
            .extra_token_params()
            .iter()
            .map(|(k, v)| {
                let shown = if grantline::redact::is_secret_param(k) {
                    grantline::secret::REDACTED
                } else {
                    v.as_str()
                };
                js_sys::Array::of2(&k.into(), &shown.into())
            })
            .collect();
        set(&o, "extraTokenParams", params);
        o.into()
    }
}

impl From<grantline::Provider> for Provider {
    fn from(inner: grantline::Provider) -> Self {
        Provider { inner }
    }
}
