// Tests fail by panicking: the workspace lints against unwrap/expect/panic/indexing guard
// library code, not test code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Runs the language-neutral test vectors in `tests/vectors/*.json` against the core.
//!
//! The format is documented in `tests/vectors/README.md`. Every binding (JavaScript, Python,
//! Kotlin) runs the same files through its own API; this runner is the reference: it reads
//! every file, runs every vector, and fails at the end with every failure listed by name.
//! A vector that this runner cannot read (unknown `kind`, unknown field, missing expectation)
//! is a failure too: nothing is skipped silently.

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine as _;
use grantline::bearer::{bearer_challenge, needs_renewal, parse_www_authenticate};
use grantline::grant::TokenExchange;
use grantline::jose::{Algorithm, Jwk, JwkSet, SigningKey, VerifiedJws};
use grantline::session::Completion;
use grantline::{
    AccessToken, Assertion, AssertionAudience, AuthorizationCode, AuthorizationRequest,
    BodyEncoding, Client, ClientAuthMethod, CodeGrant, DeviceAuthorization, DeviceCode, DevicePoll,
    Discovery, Error, GrantRequest, GrantType, Introspection, Next, Password, PendingAuthorization,
    PkceMethod, PkceVerifier, Provider, RefreshToken, SecurityToken, SessionGrant, TokenSession,
    TokenSet, TokenTypeHint,
};
use serde_json::{json, Map, Value};

/// The format version this runner reads (`"format"` at the top of every file).
const FORMAT: u64 = 1;
/// One file per seed provider document: every request and response example of the document.
const SEED_FILES: [&str; 5] = [
    "libro.json",
    "bindeo.json",
    "bookable.json",
    "apicbase.json",
    "booking-experts.json",
];
/// Sloppy-but-usable and hostile cases, trust boundaries, and the session's liveness rules.
const EXTRA_FILES: [&str; 7] = [
    "lenient.json",
    "hostile.json",
    "trust.json",
    "session.json",
    "jose.json",
    "oidc.json",
    "fleet.json",
];
/// The seed documents hold this many examples (plus one preset vector per provider).
const MIN_SEED_VECTORS: usize = 37;
/// At least this many lenient and hostile cases.
const MIN_EXTRA_VECTORS: usize = 40;

/// Fields every vector may carry.
const COMMON: [&str; 4] = ["name", "kind", "source", "note"];

// ------------------------------------------------------------------------------------------
// Failures: a broken vector, or an error from the core (compared with `expect_error`).

enum Fail {
    /// The vector itself cannot be run as written.
    Vector(String),
    /// The core returned an error.
    Core(Error),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Vector(s)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}

type Res<T> = Result<T, String>;
type Out<T> = Result<T, Fail>;

// ------------------------------------------------------------------------------------------
// Reading JSON objects strictly: unknown fields are errors.

struct Fields<'a> {
    what: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, what: impl Into<String>, allowed: &[&str]) -> Res<Self> {
        let what = what.into();
        let map = value
            .as_object()
            .ok_or_else(|| format!("{what}: not a JSON object: {}", short(value)))?;
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("{what}: unknown field `{key}`"));
        }
        Ok(Fields { what, map })
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn value(&self, key: &str) -> Res<&'a Value> {
        self.get(key)
            .ok_or_else(|| format!("{}: missing field `{key}`", self.what))
    }

    fn str(&self, key: &str) -> Res<&'a str> {
        self.value(key)?
            .as_str()
            .ok_or_else(|| format!("{}: `{key}` is not a string", self.what))
    }

    /// Absent or null: `None`.
    fn opt_str(&self, key: &str) -> Res<Option<&'a str>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{}: `{key}` is not a string or null", self.what)),
        }
    }

    /// Must be present; null allowed.
    fn nullable_str(&self, key: &str) -> Res<Option<&'a str>> {
        self.value(key)?;
        self.opt_str(key)
    }

    fn u64(&self, key: &str) -> Res<u64> {
        self.value(key)?
            .as_u64()
            .ok_or_else(|| format!("{}: `{key}` is not a non-negative integer", self.what))
    }

    fn bool_or(&self, key: &str, default: bool) -> Res<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("{}: `{key}` is not a boolean", self.what)),
        }
    }

    /// A list of strings; absent: empty.
    fn strings(&self, key: &str) -> Res<Vec<String>> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let bad = || format!("{}: `{key}` is not a list of strings", self.what);
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(bad))
            .collect()
    }

    /// A list of `[name, value]` string pairs; absent: empty.
    fn pairs(&self, key: &str) -> Res<Vec<(String, String)>> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let bad = || {
            format!(
                "{}: `{key}` is not a list of [name, value] pairs",
                self.what
            )
        };
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(bad()),
            })
            .collect()
    }
}

fn with_common<'a>(specific: &[&'a str]) -> Vec<&'a str> {
    COMMON.iter().chain(specific).copied().collect()
}

// ------------------------------------------------------------------------------------------
// Names shared with the bindings.

fn grant_from_name(name: &str) -> Res<GrantType> {
    GrantType::from_name(name)
        .filter(|g| g.name() == name)
        .ok_or_else(|| format!("unknown grant {name:?}"))
}

fn body_encoding_name(e: BodyEncoding) -> &'static str {
    match e {
        BodyEncoding::Form => "form",
        BodyEncoding::Json => "json",
    }
}

fn hint(value: Option<&str>) -> Res<Option<TokenTypeHint>> {
    match value {
        None => Ok(None),
        Some("access_token") => Ok(Some(TokenTypeHint::AccessToken)),
        Some("refresh_token") => Ok(Some(TokenTypeHint::RefreshToken)),
        Some(other) => Err(format!("unknown token_type_hint {other:?}")),
    }
}

// ------------------------------------------------------------------------------------------
// Inputs: provider, client, HTTP response.

fn provider(spec: &Value) -> Out<Provider> {
    let f = Fields::new(
        spec,
        "provider",
        &[
            "preset",
            "audience",
            "custom",
            "metadata",
            "tenant",
            "domain",
            "authorization_server",
            "base_url",
            "realm",
        ],
    )?;
    match (f.get("preset"), f.get("custom"), f.get("metadata")) {
        (Some(_), None, None) if f.str("preset").is_ok_and(is_parameterised_preset) => {
            parameterised_preset(&f)
        }
        (Some(_), None, None)
            if ["tenant", "domain", "authorization_server", "base_url", "realm"]
                .iter()
                .any(|k| f.has(k)) =>
        {
            Err("provider: tenant/domain/authorization_server/base_url/realm only with entra, okta, auth0, keycloak"
                .to_owned()
                .into())
        }
        (Some(_), None, None) => {
            let name = f.str("preset")?;
            match f.opt_str("audience")? {
                Some(audience) if name == "bookable" => {
                    Ok(Provider::bookable_with_audience(audience))
                }
                Some(_) => Err("provider: `audience` is only for the bookable preset"
                    .to_owned()
                    .into()),
                None => Provider::preset(name)
                    .ok_or_else(|| Fail::Vector(format!("provider: unknown preset {name:?}"))),
            }
        }
        (None, Some(custom), None) if !f.has("audience") => custom_provider(custom),
        (None, None, Some(document)) if !f.has("audience") => {
            let document = document
                .as_str()
                .ok_or_else(|| "provider: `metadata` is not a string".to_owned())?;
            Ok(Provider::from_metadata(document.as_bytes())?)
        }
        _ => Err("provider: exactly one of `preset`, `custom`, `metadata`"
            .to_owned()
            .into()),
    }
}

fn is_parameterised_preset(name: &str) -> bool {
    matches!(name, "entra" | "okta" | "auth0" | "keycloak")
}

/// `{"preset": "entra", "tenant"}`, `{"preset": "okta", "domain", "authorization_server"?}`,
/// `{"preset": "auth0", "domain", "audience"?}`, `{"preset": "keycloak", "base_url", "realm"}`:
/// exactly these fields (`authorization_server` and `audience` optional, nullable).
fn parameterised_preset(f: &Fields<'_>) -> Out<Provider> {
    let name = f.str("preset")?;
    let (required, optional): (&[&str], &[&str]) = match name {
        "entra" => (&["tenant"], &[]),
        "okta" => (&["domain"], &["authorization_server"]),
        "auth0" => (&["domain"], &["audience"]),
        _ => (&["base_url", "realm"], &[]),
    };
    for k in f.map.keys() {
        if k != "preset" && !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
            return Err(format!("provider: `{k}` is not an input of the {name} preset").into());
        }
    }
    Ok(match name {
        "entra" => Provider::entra(f.str("tenant")?)?,
        "okta" => Provider::okta(f.str("domain")?, f.opt_str("authorization_server")?)?,
        "auth0" => Provider::auth0(f.str("domain")?, f.opt_str("audience")?)?,
        _ => Provider::keycloak(f.str("base_url")?, f.str("realm")?)?,
    })
}

fn custom_provider(spec: &Value) -> Out<Provider> {
    let f = Fields::new(
        spec,
        "provider.custom",
        &[
            "name",
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "token_endpoints_by_grant",
            "introspection_endpoint",
            "revocation_endpoint",
            "device_authorization_endpoint",
            "body_encoding",
            "auth_method",
            "scope_separator",
            "extra_token_params",
            "default_skew",
            "grants",
            "unsolicited_callbacks",
            "iss_parameter_supported",
            "jwks_uri",
            "userinfo_endpoint",
            "end_session_endpoint",
            "id_token_algorithms",
            "assertion_audience",
        ],
    )?;
    let mut b = Provider::builder(f.opt_str("name")?.unwrap_or("custom"));
    if let Some(v) = f.opt_str("issuer")? {
        b = b.issuer(v);
    }
    if let Some(v) = f.opt_str("authorization_endpoint")? {
        b = b.authorization_endpoint(v);
    }
    if let Some(v) = f.opt_str("token_endpoint")? {
        b = b.token_endpoint(v);
    }
    if let Some(by_grant) = f.get("token_endpoints_by_grant") {
        let by_grant = by_grant.as_object().ok_or_else(|| {
            "provider.custom: `token_endpoints_by_grant` is not an object".to_owned()
        })?;
        for (grant, url) in by_grant {
            let url = url.as_str().ok_or_else(|| {
                format!("provider.custom: token endpoint for {grant} is not a string")
            })?;
            b = b.token_endpoint_for(grant_from_name(grant)?, url);
        }
    }
    if let Some(v) = f.opt_str("introspection_endpoint")? {
        b = b.introspection_endpoint(v);
    }
    if let Some(v) = f.opt_str("revocation_endpoint")? {
        b = b.revocation_endpoint(v);
    }
    if let Some(v) = f.opt_str("device_authorization_endpoint")? {
        b = b.device_authorization_endpoint(v);
    }
    b = b.body_encoding(match f.opt_str("body_encoding")?.unwrap_or("form") {
        "form" => BodyEncoding::Form,
        "json" => BodyEncoding::Json,
        other => return Err(format!("provider.custom: unknown body_encoding {other:?}").into()),
    });
    if let Some(m) = f.opt_str("auth_method")? {
        b = b.auth_method(
            ClientAuthMethod::parse(m)
                .ok_or_else(|| format!("provider.custom: unknown auth_method {m:?}"))?,
        );
    }
    if let Some(a) = f.opt_str("assertion_audience")? {
        b = b.assertion_audience(
            AssertionAudience::parse(a)
                .ok_or_else(|| format!("provider.custom: unknown assertion_audience {a:?}"))?,
        );
    }
    if let Some(sep) = f.opt_str("scope_separator")? {
        b = b.scope_separator(sep);
    }
    for (k, v) in f.pairs("extra_token_params")? {
        b = b.extra_token_param(k, v);
    }
    if f.has("default_skew") {
        b = b.default_skew(f.u64("default_skew")?);
    }
    for g in f.strings("grants")? {
        b = b.grant(grant_from_name(&g)?);
    }
    b = oidc_provider_fields(b, &f)?;
    b = b
        .unsolicited_callbacks(f.bool_or("unsolicited_callbacks", false)?)
        .iss_parameter_supported(f.bool_or("iss_parameter_supported", false)?);
    Ok(b.build()?)
}

fn client(provider: Provider, spec: &Value) -> Out<Client> {
    let f = Fields::new(
        spec,
        "client",
        &[
            "client_id",
            "client_secret",
            "redirect_uri",
            "auth_method",
            "signing_key",
        ],
    )?;
    let mut c = Client::new(provider, f.str("client_id")?);
    if let Some(jwk) = f.opt_str("signing_key")? {
        c = c.with_signing_key(SigningKey::from_jwk(jwk)?);
    }
    if let Some(s) = f.opt_str("client_secret")? {
        c = c.with_secret(s);
    }
    if let Some(r) = f.opt_str("redirect_uri")? {
        c = c.with_redirect_uri(r);
    }
    if let Some(m) = f.opt_str("auth_method")? {
        c = c.with_auth_method(
            ClientAuthMethod::parse(m)
                .ok_or_else(|| format!("client: unknown auth_method {m:?}"))?,
        );
    }
    Ok(c)
}

fn provider_and_client(f: &Fields<'_>) -> Out<Client> {
    let p = provider(f.value("provider")?)?;
    client(p, f.value("client")?)
}

fn response(spec: &Value) -> Res<http::Response<Vec<u8>>> {
    let f = Fields::new(
        spec,
        "response",
        &["status", "headers", "body", "body_base64", "body_repeat"],
    )?;
    let status = u16::try_from(f.u64("status")?).map_err(|_| "response: bad status".to_owned())?;
    let mut builder = http::Response::builder().status(status);
    if let Some(headers) = f.get("headers") {
        let headers = headers
            .as_object()
            .ok_or_else(|| "response: `headers` is not an object".to_owned())?;
        for (name, value) in headers {
            if *name != name.to_ascii_lowercase() {
                return Err(format!("response: header name {name:?} is not lowercase"));
            }
            let values = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().ok_or_else(|| format!("response: header {name}")))
                    .collect::<Res<_>>()?,
                _ => return Err(format!("response: header {name} is not a string or list")),
            };
            for v in values {
                builder = builder.header(name.as_str(), v);
            }
        }
    }
    let bodies = ["body", "body_base64", "body_repeat"]
        .into_iter()
        .filter(|k| f.has(k))
        .count();
    if bodies != 1 {
        return Err("response: exactly one of `body`, `body_base64`, `body_repeat`".into());
    }
    let body = if f.has("body") {
        f.str("body")?.as_bytes().to_vec()
    } else if f.has("body_base64") {
        base64::engine::general_purpose::STANDARD
            .decode(f.str("body_base64")?)
            .map_err(|e| format!("response: body_base64: {e}"))?
    } else {
        let r = Fields::new(
            f.value("body_repeat")?,
            "response.body_repeat",
            &["prefix", "text", "count", "suffix"],
        )?;
        let count = usize::try_from(r.u64("count")?).map_err(|_| "count".to_owned())?;
        let mut s = r.opt_str("prefix")?.unwrap_or("").to_owned();
        s.push_str(&r.str("text")?.repeat(count));
        s.push_str(r.opt_str("suffix")?.unwrap_or(""));
        s.into_bytes()
    };
    builder
        .body(body)
        .map_err(|e| format!("response: cannot build: {e}"))
}

fn seed(hex: &str) -> Res<Vec<u8>> {
    let bytes = hex.as_bytes();
    if bytes.len() != 128 && bytes.len() != 192 {
        return Err(format!(
            "seed_hex has {} hex digits, not 128 or 192",
            bytes.len()
        ));
    }
    let digit = |c: u8| {
        (c as char)
            .to_digit(16)
            .ok_or_else(|| format!("seed_hex: {:?} is not a hex digit", c as char))
    };
    let mut out = vec![0u8; bytes.len() / 2];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::try_from(digit(bytes[2 * i])? * 16 + digit(bytes[2 * i + 1])?).unwrap();
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Outputs as JSON, in the shapes the vectors expect.

fn request_json(r: &http::Request<Vec<u8>>) -> Res<Value> {
    let mut headers = Map::new();
    for (name, value) in r.headers() {
        let value = value
            .to_str()
            .map_err(|_| format!("request header {name} is not visible ASCII"))?;
        if headers
            .insert(name.as_str().to_owned(), json!(value))
            .is_some()
        {
            return Err(format!("request header {name} appears twice"));
        }
    }
    let body =
        String::from_utf8(r.body().clone()).map_err(|_| "request body is not UTF-8".to_owned())?;
    Ok(json!({
        "method": r.method().as_str(),
        "url": r.uri().to_string(),
        "headers": headers,
        "body": body,
    }))
}

fn token_set_json(t: &TokenSet) -> Value {
    let mut extra: Vec<&str> = t.extra_names().collect();
    extra.sort_unstable();
    json!({
        "access_token": t.access_token().secret(),
        "token_type": t.token_type(),
        "refresh_token": t.refresh_token().map(RefreshToken::secret),
        "id_token": t.id_token().map(|i| i.secret()),
        "expires_at": t.expires_at(),
        "expiry_source": t.expiry_source().as_str(),
        "scopes": t.scopes(),
        "extra_names": extra,
    })
}

fn provider_json(p: &Provider) -> Value {
    let mut grants: Vec<&str> = p.grants().iter().map(|g| g.name()).collect();
    grants.sort_unstable();
    let token_endpoints: Map<String, Value> = p
        .grants()
        .iter()
        .map(|g| (g.name().to_owned(), json!(p.token_endpoint(*g))))
        .collect();
    json!({
        "name": p.name(),
        "issuer": p.issuer(),
        "authorization_endpoint": p.authorization_endpoint(),
        "token_endpoints": token_endpoints,
        "introspection_endpoint": p.introspection_endpoint(),
        "revocation_endpoint": p.revocation_endpoint(),
        "device_authorization_endpoint": p.device_authorization_endpoint(),
        "body_encoding": body_encoding_name(p.body_encoding()),
        "auth_method": p.auth_method().map(ClientAuthMethod::as_str),
        "scope_separator": p.scope_separator(),
        "extra_token_params": p.extra_token_params(),
        "default_skew": p.default_skew(),
        "grants": grants,
        "unsolicited_callbacks": p.unsolicited_callbacks(),
        "iss_parameter_supported": p.iss_parameter_supported(),
    })
}

/// The pending authorization as stored (`to_json`), with absent members as null.
fn pending_json(p: &PendingAuthorization) -> Res<Value> {
    let stored: Value =
        serde_json::from_str(&p.to_json()).map_err(|e| format!("pending to_json: {e}"))?;
    let get = |k: &str| stored.get(k).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "state": get("state"),
        "code_verifier": get("code_verifier"),
        "redirect_uri": get("redirect_uri"),
        "issuer": get("issuer"),
        "require_iss": stored.get("require_iss").cloned().unwrap_or(Value::Bool(false)),
    }))
}

fn grant_json(g: &CodeGrant) -> Value {
    json!({
        "code": g.code.secret(),
        "code_verifier": g.code_verifier.as_ref().map(PkceVerifier::secret),
        "redirect_uri": g.redirect_uri,
    })
}

fn introspection_json(i: &Introspection) -> Value {
    let mut extra: Vec<&str> = i.extra.keys().map(String::as_str).collect();
    extra.sort_unstable();
    json!({
        "active": i.active,
        "scopes": i.scopes,
        "client_id": i.client_id,
        "username": i.username,
        "token_type": i.token_type,
        "exp": i.exp,
        "iat": i.iat,
        "sub": i.sub,
        "iss": i.iss,
        "extra_names": extra,
    })
}

fn device_authorization_json(d: &DeviceAuthorization) -> Value {
    json!({
        "device_code": d.device_code.secret(),
        "user_code": d.user_code,
        "verification_uri": d.verification_uri,
        "verification_uri_complete": d.verification_uri_complete,
        "expires_at": d.expires_at,
        "interval": d.interval,
    })
}

fn poll_json(p: &DevicePoll) -> Value {
    match p {
        DevicePoll::Tokens(t) => json!({"poll": "tokens", "token_set": token_set_json(t)}),
        DevicePoll::Pending { interval } => json!({"poll": "pending", "interval": interval}),
        DevicePoll::SlowDown { interval } => json!({"poll": "slow_down", "interval": interval}),
        DevicePoll::Expired => json!({"poll": "expired"}),
        DevicePoll::Denied => json!({"poll": "denied"}),
    }
}

/// Every comparable field of an error; `expect_error` names the ones it checks.
fn error_json(e: &Error) -> Value {
    let (code, description, uri) = match e {
        Error::OAuth {
            code,
            description,
            uri,
            ..
        } => (Some(code.clone()), description.clone(), uri.clone()),
        _ => (None, None, None),
    };
    let excerpt = match e {
        Error::Malformed { excerpt, .. } | Error::UnexpectedStatus { excerpt, .. } => {
            excerpt.clone()
        }
        _ => None,
    };
    let grant = match e {
        Error::UnsupportedGrant { grant } => Some(grant.name()),
        _ => None,
    };
    let endpoint = match e {
        Error::MissingEndpoint { endpoint } => Some(endpoint.as_str()),
        _ => None,
    };
    let claim = match e {
        Error::IdToken { claim, .. } => Some(claim.clone()),
        _ => None,
    };
    let problem = match e {
        Error::Jws { problem } => Some(problem.kind()),
        _ => None,
    };
    json!({
        "kind": e.kind(),
        "problem": problem,
        "code": code,
        "description": description,
        "uri": uri,
        "status": e.status(),
        "excerpt": excerpt,
        "grant": grant,
        "endpoint": endpoint,
        "claim": claim,
    })
}

// ------------------------------------------------------------------------------------------
// Comparing.

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 300 {
        let head: String = s.chars().take(300).collect();
        format!("{head}... ({} characters)", s.chars().count())
    } else {
        s
    }
}

/// Every difference between `expected` and `actual`, by JSON path.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => diff(&p, ev, av, out),
                    None => out.push(format!("{p}: expected {}, not produced", short(ev))),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!(
                        "{path}.{k}: missing from the vector (got {})",
                        short(av)
                    ));
                }
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!(
            "{path}:\n      expected {}\n      got      {}",
            short(expected),
            short(actual)
        )),
    }
}

const ERROR_FIELDS: [&str; 10] = [
    "kind",
    "problem",
    "code",
    "description",
    "uri",
    "status",
    "excerpt",
    "grant",
    "endpoint",
    "claim",
];

fn compare_error(expected: &Value, e: &Error) -> Res<()> {
    let f = Fields::new(expected, "expect_error", &ERROR_FIELDS)?;
    f.str("kind")?;
    let actual = error_json(e);
    let mut diffs = Vec::new();
    for (k, ev) in f.map {
        diff(
            &format!("expect_error.{k}"),
            ev,
            &actual[k.as_str()],
            &mut diffs,
        );
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n    (the error: {e})", diffs.join("\n    ")))
    }
}

/// Compares what ran with what the vector expects. `required` and `optional` name the
/// `expect_*` fields of a success; `expect_error` is the alternative.
fn judge(
    f: &Fields<'_>,
    required: &[&str],
    optional: &[&str],
    actual: Out<Map<String, Value>>,
) -> Res<()> {
    let expect_error = f.get("expect_error");
    let present: Vec<&str> = required
        .iter()
        .chain(optional)
        .copied()
        .filter(|k| f.has(k))
        .collect();
    match (expect_error, present.is_empty()) {
        (Some(_), false) => {
            return Err(format!(
                "the vector has both `expect_error` and {present:?}"
            ))
        }
        (None, true) => {
            return Err(format!(
                "the vector has no expectation: one of `expect_error` or {required:?}"
            ))
        }
        (None, false) => {
            if let Some(k) = required.iter().find(|k| !f.has(k)) {
                return Err(format!("the vector is missing `{k}`"));
            }
        }
        (Some(_), true) => {}
    }
    match (expect_error, actual) {
        (_, Err(Fail::Vector(msg))) => Err(format!("cannot run the vector: {msg}")),
        (Some(expected), Err(Fail::Core(e))) => compare_error(expected, &e),
        (Some(expected), Ok(out)) => Err(format!(
            "expected the error {}, but it succeeded with {}",
            short(expected),
            short(&Value::Object(out))
        )),
        (None, Err(Fail::Core(e))) => Err(format!(
            "unexpected error {}\n    ({e})",
            short(&error_json(&e))
        )),
        (None, Ok(out)) => {
            let mut diffs = Vec::new();
            for k in present {
                diff(
                    k,
                    f.value(k)?,
                    out.get(k).unwrap_or(&Value::Null),
                    &mut diffs,
                );
            }
            if diffs.is_empty() {
                Ok(())
            } else {
                Err(diffs.join("\n    "))
            }
        }
    }
}

fn out(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

// ------------------------------------------------------------------------------------------
// The kinds.

fn run_provider(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "provider",
            "expect_provider",
            "expect_assertion_audience",
            "expect_error",
        ]),
    )?;
    let actual = (|| -> Out<_> {
        let p = provider(f.value("provider")?)?;
        Ok(out([
            ("expect_provider", provider_json(&p)),
            (
                "expect_assertion_audience",
                json!(p.assertion_audience().as_str()),
            ),
        ]))
    })();
    judge(
        &f,
        &["expect_provider"],
        &["expect_assertion_audience"],
        actual,
    )
}

fn build_call(c: &Client, spec: &Value, now: u64) -> Out<http::Request<Vec<u8>>> {
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "call: missing `type`".to_owned())?;
    if let Some(grant) = grant_call(ty, spec)? {
        return Ok(c.grant_request(&grant, now)?);
    }
    let fields = |allowed: &[&str]| Fields::new(spec, format!("call ({ty})"), allowed);
    Ok(match ty {
        "client_credentials" => {
            let f = fields(&["type", "scopes"])?;
            f.value("scopes")?;
            c.client_credentials_request(&f.strings("scopes")?, now)?
        }
        "password" => {
            let f = fields(&["type", "username", "password", "scopes"])?;
            f.value("scopes")?;
            c.password_request(
                f.str("username")?,
                &Password::new(f.str("password")?),
                &f.strings("scopes")?,
                now,
            )?
        }
        "refresh_token" => {
            let f = fields(&["type", "refresh_token", "scopes"])?;
            f.value("scopes")?;
            c.refresh_request(
                &RefreshToken::new(f.str("refresh_token")?),
                &f.strings("scopes")?,
                now,
            )?
        }
        "authorization_code" => {
            let f = fields(&["type", "code", "code_verifier", "redirect_uri"])?;
            let grant = CodeGrant {
                code: AuthorizationCode::new(f.str("code")?),
                code_verifier: f.nullable_str("code_verifier")?.map(PkceVerifier::new),
                redirect_uri: f.nullable_str("redirect_uri")?.map(str::to_owned),
            };
            c.authorization_code_request(&grant, now)?
        }
        "device_code" => {
            let f = fields(&["type", "device_code"])?;
            c.device_token_request(&DeviceCode::new(f.str("device_code")?), now)?
        }
        "device_authorization" => {
            let f = fields(&["type", "scopes"])?;
            f.value("scopes")?;
            c.device_authorization_request(&f.strings("scopes")?, now)?
        }
        "introspection" => {
            let f = fields(&["type", "token", "token_type_hint", "refresh_token"])?;
            let refresh = f.nullable_str("refresh_token")?.map(RefreshToken::new);
            c.introspection_request(
                f.str("token")?,
                hint(f.nullable_str("token_type_hint")?)?,
                refresh.as_ref(),
                now,
            )?
        }
        "revocation" => {
            let f = fields(&["type", "token", "token_type_hint"])?;
            c.revocation_request(
                f.str("token")?,
                hint(f.nullable_str("token_type_hint")?)?,
                now,
            )?
        }
        other => return Err(format!("call: unknown type {other:?}").into()),
    })
}

fn run_request(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "provider",
            "client",
            "call",
            "now",
            "expect_request",
            "expect_assertion",
            "expect_error",
        ]),
    )?;
    let now = if f.has("now") { f.u64("now")? } else { 0 };
    let actual = (|| -> Out<_> {
        let c = provider_and_client(&f)?;
        let r = build_call(&c, f.value("call")?, now)?;
        if f.has("expect_assertion") {
            let (request, assertion) = assertion_checked(&c, &r)?;
            return Ok(out([
                ("expect_request", request),
                ("expect_assertion", assertion),
            ]));
        }
        Ok(out([("expect_request", request_json(&r)?)]))
    })();
    judge(&f, &["expect_request"], &["expect_assertion"], actual)
}

/// The placeholder a JWT-authenticated request's `client_assertion` value is compared as.
const ASSERTION_PLACEHOLDER: &str = "ASSERTION";

/// A `request` call that goes through `GrantRequest`: the extension grants, and a standard
/// grant with extra `params`. `None`: a call of the classic wrappers.
fn grant_call(ty: &str, spec: &Value) -> Res<Option<GrantRequest>> {
    let what = format!("call ({ty})");
    let with_params = |allowed: &[&str]| -> Res<Fields<'_>> {
        let mut all = allowed.to_vec();
        all.extend(["type", "params"]);
        Fields::new(spec, what.clone(), &all)
    };
    let extend = |g: GrantRequest, f: &Fields<'_>| -> Res<GrantRequest> {
        Ok(f.pairs("params")?
            .into_iter()
            .fold(g, |g, (k, v)| g.param(k, v)))
    };
    let standard = spec.get("params").is_some();
    let grant = match ty {
        "grant" => {
            let f = with_params(&["grant_type", "scopes"])?;
            let g = GrantRequest::new(f.str("grant_type")?).scopes(f.strings("scopes")?);
            extend(g, &f)?
        }
        "token_exchange" => {
            let f = with_params(&[
                "subject_token",
                "subject_token_type",
                "actor_token",
                "actor_token_type",
                "resource",
                "audience",
                "scopes",
                "requested_token_type",
            ])?;
            let exchange = TokenExchange {
                subject_token: SecurityToken::new(f.str("subject_token")?),
                subject_token_type: f.str("subject_token_type")?.to_owned(),
                actor_token: f.opt_str("actor_token")?.map(SecurityToken::new),
                actor_token_type: f.opt_str("actor_token_type")?.map(str::to_owned),
                resource: f.strings("resource")?,
                audience: f.strings("audience")?,
                scopes: f.strings("scopes")?,
                requested_token_type: f.opt_str("requested_token_type")?.map(str::to_owned),
            };
            extend(GrantRequest::token_exchange(exchange), &f)?
        }
        "jwt_bearer" => {
            let f = with_params(&["assertion", "scopes"])?;
            let g = GrantRequest::jwt_bearer(
                &Assertion::new(f.str("assertion")?),
                f.strings("scopes")?,
            );
            extend(g, &f)?
        }
        "client_credentials" if standard => {
            let f = with_params(&["scopes"])?;
            extend(GrantRequest::client_credentials(f.strings("scopes")?), &f)?
        }
        "password" if standard => {
            let f = with_params(&["username", "password", "scopes"])?;
            let g = GrantRequest::password(
                f.str("username")?,
                &Password::new(f.str("password")?),
                f.strings("scopes")?,
            );
            extend(g, &f)?
        }
        "refresh_token" if standard => {
            let f = with_params(&["refresh_token", "scopes"])?;
            let g = GrantRequest::refresh(
                &RefreshToken::new(f.str("refresh_token")?),
                f.strings("scopes")?,
            );
            extend(g, &f)?
        }
        "authorization_code" if standard => {
            let f = with_params(&["code", "code_verifier", "redirect_uri"])?;
            let grant = CodeGrant {
                code: AuthorizationCode::new(f.str("code")?),
                code_verifier: f.nullable_str("code_verifier")?.map(PkceVerifier::new),
                redirect_uri: f.nullable_str("redirect_uri")?.map(str::to_owned),
            };
            extend(GrantRequest::authorization_code(&grant), &f)?
        }
        "device_code" if standard => {
            let f = with_params(&["device_code"])?;
            extend(
                GrantRequest::device_code(&DeviceCode::new(f.str("device_code")?)),
                &f,
            )?
        }
        _ => return Ok(None),
    };
    Ok(Some(grant))
}

/// For `expect_assertion`: the request with its `client_assertion` value replaced by
/// [`ASSERTION_PLACEHOLDER`], and the assertion's header and claims (without `jti`) once its
/// signature verified with the client's key (the public part of `signing_key`, or the client
/// secret as an HS256 key) and its `jti` was found to be a non-empty string.
fn assertion_checked(c: &Client, r: &http::Request<Vec<u8>>) -> Out<(Value, Value)> {
    let mut request = request_json(r)?;
    let body = request["body"].as_str().unwrap_or_default().to_owned();
    let assertion = if body.starts_with('{') {
        let members: Map<String, Value> =
            serde_json::from_str(&body).map_err(|e| format!("JSON body: {e}"))?;
        members
            .get("client_assertion")
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "client_assertion")
            .map(|(_, v)| v.into_owned())
    }
    .ok_or_else(|| "expect_assertion: the request has no client_assertion".to_owned())?;
    if body.matches(assertion.as_str()).count() != 1 {
        return Err(
            "expect_assertion: the assertion is not in the body exactly once"
                .to_owned()
                .into(),
        );
    }
    request["body"] = json!(body.replace(assertion.as_str(), ASSERTION_PLACEHOLDER));
    let key = match c.signing_key() {
        Some(key) if c.auth_method() == Some(ClientAuthMethod::PrivateKeyJwt) => {
            key.public_jwk()
                .ok_or_else(|| "expect_assertion: the signing key has no public part".to_owned())?
        }
        _ => Jwk::hmac(
            c.client_secret()
                .ok_or_else(|| "expect_assertion: no key to verify with".to_owned())?
                .secret()
                .as_bytes(),
        )?,
    };
    let verified = key.verify(&assertion, &Algorithm::ALL)?;
    let mut claims = verified.claims()?;
    match claims.remove("jti") {
        Some(Value::String(jti)) if !jti.is_empty() => {}
        other => {
            return Err(
                format!("expect_assertion: jti is {other:?}, not a non-empty string").into(),
            )
        }
    }
    Ok((
        request,
        json!({"header": Value::Object(verified.header().clone()), "claims": Value::Object(claims)}),
    ))
}

fn authorization_request(spec: &Value) -> Res<AuthorizationRequest> {
    let f = Fields::new(
        spec,
        "request",
        &[
            "scopes",
            "pkce",
            "redirect_uri",
            "params",
            "nonce",
            "max_age",
        ],
    )?;
    let mut r = AuthorizationRequest::new().scopes(f.strings("scopes")?);
    r = r.pkce(match f.opt_str("pkce")?.unwrap_or("S256") {
        "S256" => PkceMethod::S256,
        "plain" => PkceMethod::Plain,
        other => return Err(format!("request: unknown pkce {other:?}")),
    });
    if let Some(uri) = f.opt_str("redirect_uri")? {
        r = r.redirect_uri(uri);
    }
    if let Some(nonce) = f.opt_str("nonce")? {
        r = r.nonce(nonce);
    }
    if f.has("max_age") {
        r = r.max_age(f.u64("max_age")?);
    }
    for (k, v) in f.pairs("params")? {
        r = r.param(k, v);
    }
    Ok(r)
}

fn run_authorization_url(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "provider",
            "client",
            "request",
            "seed_hex",
            "expect_url",
            "expect_pending",
            "expect_error",
        ]),
    )?;
    let actual = (|| -> Out<_> {
        let request = authorization_request(f.value("request")?)?;
        let seed = seed(f.str("seed_hex")?)?;
        let c = provider_and_client(&f)?;
        let a = c.authorization_url_with_seed(&request, &seed)?;
        let mut pending = pending_json(&a.pending)?;
        // The OpenID Connect members are compared when the vector lists them.
        if f.get("expect_pending")
            .is_some_and(|p| p.get("nonce").is_some())
        {
            pending["nonce"] = json!(a.pending.nonce().map(grantline::Nonce::secret));
            pending["max_age"] = json!(a.pending.max_age());
        }
        Ok(out([
            ("expect_url", json!(a.url)),
            ("expect_pending", pending),
        ]))
    })();
    judge(&f, &["expect_url", "expect_pending"], &[], actual)
}

fn run_callback(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "provider",
            "client",
            "pending",
            "unsolicited",
            "callback",
            "expect_grant",
            "expect_exchange_request",
            "expect_error",
        ]),
    )?;
    let actual = (|| -> Out<_> {
        let c = provider_and_client(&f)?;
        let callback = f.str("callback")?;
        let grant = match (f.bool_or("unsolicited", false)?, f.get("pending")) {
            (true, None) => c.unsolicited_callback(callback)?,
            (false, Some(pending)) => {
                Fields::new(
                    pending,
                    "pending",
                    &[
                        "state",
                        "code_verifier",
                        "redirect_uri",
                        "issuer",
                        "require_iss",
                    ],
                )?;
                let pending = PendingAuthorization::from_json(&pending.to_string())?;
                c.callback(&pending, callback)?
            }
            _ => {
                return Err("callback: `pending`, or `unsolicited: true`, not both"
                    .to_owned()
                    .into())
            }
        };
        let mut o = out([("expect_grant", grant_json(&grant))]);
        if f.has("expect_exchange_request") {
            let r = c.authorization_code_request(&grant, 0)?;
            o.insert("expect_exchange_request".into(), request_json(&r)?);
        }
        Ok(o)
    })();
    judge(&f, &["expect_grant"], &["expect_exchange_request"], actual)
}

fn run_token_response(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "now",
            "response",
            "previous",
            "provider",
            "expect_token_set",
            "expect_rotated",
            "expect_issued_token_type",
            "expect_error",
        ]),
    )?;
    if f.has("previous") != f.has("expect_rotated") && !f.has("expect_error") {
        return Err("`previous` and `expect_rotated` go together".into());
    }
    let actual = (|| -> Out<_> {
        let resp = response(f.value("response")?)?;
        let now = f.u64("now")?;
        let mut tokens = match f.get("provider") {
            Some(spec) => TokenSet::from_response_for(&resp, now, &provider(spec)?)?,
            None => TokenSet::from_response(&resp, now)?,
        };
        let mut o = Map::new();
        if let Some(previous) = f.get("previous") {
            let p = Fields::new(previous, "previous", &["refresh_token"])?;
            let old = TokenSet::new(
                AccessToken::new("previous-access-token"),
                p.nullable_str("refresh_token")?.map(RefreshToken::new),
                None,
                0,
            );
            o.insert(
                "expect_rotated".into(),
                json!(tokens.inherit_refresh_token(&old)),
            );
        }
        o.insert("expect_token_set".into(), token_set_json(&tokens));
        o.insert(
            "expect_issued_token_type".into(),
            json!(tokens.issued_token_type()),
        );
        Ok(o)
    })();
    let optional: &[&str] = if f.has("previous") {
        &["expect_issued_token_type"]
    } else {
        &["expect_rotated", "expect_issued_token_type"]
    };
    let required: &[&str] = if f.has("previous") {
        &["expect_token_set", "expect_rotated"]
    } else {
        &["expect_token_set"]
    };
    judge(&f, required, optional, actual)
}

fn run_introspection_response(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&["response", "expect_introspection", "expect_error"]),
    )?;
    let actual = (|| -> Out<_> {
        let i = Introspection::from_response(&response(f.value("response")?)?)?;
        Ok(out([("expect_introspection", introspection_json(&i))]))
    })();
    judge(&f, &["expect_introspection"], &[], actual)
}

fn run_revocation_response(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&["response", "expect_revoked", "expect_error"]),
    )?;
    if f.has("expect_revoked") && f.get("expect_revoked") != Some(&Value::Bool(true)) {
        return Err("`expect_revoked` can only be true (use `expect_error`)".into());
    }
    let actual = (|| -> Out<_> {
        grantline::check_revocation_response(&response(f.value("response")?)?)?;
        Ok(out([("expect_revoked", json!(true))]))
    })();
    judge(&f, &["expect_revoked"], &[], actual)
}

fn run_device_authorization_response(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "now",
            "response",
            "expect_device_authorization",
            "expect_error",
        ]),
    )?;
    let actual = (|| -> Out<_> {
        let d =
            DeviceAuthorization::from_response(&response(f.value("response")?)?, f.u64("now")?)?;
        Ok(out([(
            "expect_device_authorization",
            device_authorization_json(&d),
        )]))
    })();
    judge(&f, &["expect_device_authorization"], &[], actual)
}

fn run_device_poll_response(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&["now", "interval", "response", "expect_poll", "expect_error"]),
    )?;
    let actual = (|| -> Out<_> {
        let p = DevicePoll::from_response(
            &response(f.value("response")?)?,
            f.u64("now")?,
            f.u64("interval")?,
        )?;
        Ok(out([("expect_poll", poll_json(&p))]))
    })();
    judge(&f, &["expect_poll"], &[], actual)
}

fn run_www_authenticate(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "response",
            "expect_challenge",
            "expect_needs_renewal",
            "expect_challenges",
        ]),
    )?;
    let actual = (|| -> Out<_> {
        let resp = response(f.value("response")?)?;
        let challenge = bearer_challenge(resp.headers()).map(|c| {
            json!({
                "realm": c.realm,
                "scope": c.scope,
                "error": c.error,
                "error_description": c.error_description,
                "error_uri": c.error_uri,
            })
        });
        let mut challenges = Vec::new();
        for value in resp.headers().get_all(http::header::WWW_AUTHENTICATE) {
            let value = value
                .to_str()
                .map_err(|_| "www-authenticate is not visible ASCII".to_owned())?;
            for c in parse_www_authenticate(value) {
                challenges.push(json!({
                    "scheme": c.scheme,
                    "token68": c.token68,
                    "params": c.params,
                }));
            }
        }
        Ok(out([
            ("expect_challenge", json!(challenge)),
            (
                "expect_needs_renewal",
                json!(needs_renewal(resp.status().as_u16(), resp.headers())),
            ),
            ("expect_challenges", Value::Array(challenges)),
        ]))
    })();
    judge(
        &f,
        &["expect_challenge", "expect_needs_renewal"],
        &["expect_challenges"],
        actual,
    )
}

fn run_discovery(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "input",
            "responses",
            "expect_issuer",
            "expect_urls",
            "expect_provider",
            "expect_error",
        ]),
    )?;
    let responses = f
        .value("responses")?
        .as_array()
        .ok_or("`responses` is not a list")?;
    if f.has("expect_provider") == f.has("expect_error") {
        return Err("exactly one of `expect_provider` and `expect_error`".into());
    }
    let mut discovery = match Discovery::new(f.str("input")?) {
        Err(e) => {
            if f.has("expect_issuer") || f.has("expect_urls") || !responses.is_empty() {
                return Err(format!(
                    "Discovery::new failed ({e}): the vector expects it to succeed"
                ));
            }
            return compare_error(f.value("expect_error")?, &e);
        }
        Ok(d) => d,
    };
    let mut diffs = Vec::new();
    diff(
        "expect_issuer",
        f.value("expect_issuer")?,
        &json!(discovery.issuer()),
        &mut diffs,
    );
    diff(
        "expect_urls",
        f.value("expect_urls")?,
        &json!(discovery.urls()),
        &mut diffs,
    );
    if !diffs.is_empty() {
        return Err(diffs.join("\n"));
    }
    if responses.is_empty() {
        return Err("Discovery::new succeeded: the vector needs responses".into());
    }
    let urls = discovery.urls();
    for (i, spec) in responses.iter().enumerate() {
        let request = discovery.request();
        let want = urls.get(i).ok_or("more responses than well-known URLs")?;
        if request.uri().to_string() != *want
            || request.method() != http::Method::GET
            || request.headers().get("accept").map(|v| v.as_bytes())
                != Some(&b"application/json"[..])
            || !request.body().is_empty()
        {
            return Err(format!(
                "request {i} is not GET {want} with accept JSON: {request:?}"
            ));
        }
        let last = i + 1 == responses.len();
        match (discovery.receive(&response(spec)?), last) {
            (Ok(None), false) => {}
            (Ok(None), true) => return Err("discovery wants another response".into()),
            (Ok(Some(_)) | Err(_), false) => {
                return Err(format!("discovery ended at response {i}, before the last"))
            }
            (Ok(Some(p)), true) => {
                let expected = f.get("expect_provider").ok_or_else(|| {
                    format!("expected an error, got a provider for {:?}", p.issuer())
                })?;
                let mut diffs = Vec::new();
                diff("expect_provider", expected, &provider_json(&p), &mut diffs);
                return if diffs.is_empty() {
                    Ok(())
                } else {
                    Err(diffs.join("\n"))
                };
            }
            (Err(e), true) => {
                let expected = f
                    .get("expect_error")
                    .ok_or_else(|| format!("expected a provider, got the error {e}"))?;
                return compare_error(expected, &e);
            }
        }
    }
    Err("unreachable: no responses".into())
}

fn run_redact_url(v: &Value) -> Res<()> {
    let f = Fields::new(v, "vector", &with_common(&["url", "expect_url"]))?;
    let got = grantline::redact::url(f.str("url")?);
    let mut diffs = Vec::new();
    diff(
        "expect_url",
        f.value("expect_url")?,
        &json!(got),
        &mut diffs,
    );
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

fn session_grant(spec: &Value) -> Res<SessionGrant> {
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .ok_or("grant: `type` missing")?;
    match kind {
        "client_credentials" => {
            let f = Fields::new(spec, "grant", &["type", "scopes"])?;
            Ok(SessionGrant::ClientCredentials {
                scopes: f.strings("scopes")?,
            })
        }
        "password" => {
            let f = Fields::new(spec, "grant", &["type", "username", "password", "scopes"])?;
            Ok(SessionGrant::Password {
                username: f.str("username")?.to_owned(),
                password: Password::new(f.str("password")?),
                scopes: f.strings("scopes")?,
            })
        }
        "refresh_only" => {
            Fields::new(spec, "grant", &["type"])?;
            Ok(SessionGrant::RefreshOnly)
        }
        other => Err(format!("grant: unknown type {other:?}")),
    }
}

fn next_json(n: &Next) -> Res<Value> {
    Ok(match n {
        Next::Ready(token) => json!({"next": "ready", "token": token.secret()}),
        Next::Wait { id } => json!({"next": "wait", "id": id}),
        Next::Send {
            id,
            request,
            current,
        } => json!({
            "next": "send",
            "id": id,
            "current": current.as_ref().map(AccessToken::secret),
            "request": request_json(request)?,
        }),
    })
}

fn completion_json(c: &Completion) -> Value {
    json!({
        "renewed": c.renewed.as_ref().map(|r| json!({
            "access_token": r.tokens.access_token().secret(),
            "refresh_token": r.tokens.refresh_token().map(RefreshToken::secret),
            "rotated": r.refresh_token_rotated,
        })),
        "error": c.error.as_ref().map(error_json),
    })
}

/// Compares a completion: `renewed` exactly, `error` like `expect_error` (only the fields given).
fn compare_completion(expected: &Value, c: &Completion) -> Res<()> {
    let f = Fields::new(expected, "expect_completion", &["renewed", "error"])?;
    let actual = completion_json(c);
    let mut diffs = Vec::new();
    diff(
        "expect_completion.renewed",
        f.value("renewed")?,
        &actual["renewed"],
        &mut diffs,
    );
    match (f.value("error")?, &c.error) {
        (Value::Null, None) => {}
        (Value::Null, Some(e)) => {
            diffs.push(format!("expect_completion.error: expected none, got {e}"))
        }
        (_, None) => diffs.push("expect_completion.error: expected an error, got none".to_owned()),
        (expected, Some(e)) => {
            if let Err(d) = compare_error(expected, e) {
                diffs.push(d);
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

/// Compares a *next*: `request` only when the vector gives it.
fn compare_next(expected: &Value, n: &Next) -> Res<()> {
    let mut actual = next_json(n)?;
    if expected.get("request").is_none() {
        if let Some(o) = actual.as_object_mut() {
            o.remove("request");
        }
    }
    let mut diffs = Vec::new();
    diff("expect", expected, &actual, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

fn run_session(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&["provider", "client", "grant", "tokens", "skew", "steps"]),
    )?;
    let client = match provider_and_client(&f) {
        Ok(c) => c,
        Err(Fail::Core(e)) => return Err(format!("building the client failed: {e}")),
        Err(Fail::Vector(e)) => return Err(e),
    };
    let mut session = TokenSession::new(client, session_grant(f.value("grant")?)?);
    if let Some(tokens) = f.get("tokens") {
        let set = TokenSet::from_json(&tokens.to_string()).map_err(|e| format!("tokens: {e}"))?;
        session = session.with_tokens(set);
    }
    if f.has("skew") {
        session = session.with_skew(f.u64("skew")?);
    }
    let steps = f
        .value("steps")?
        .as_array()
        .ok_or("`steps` is not a list")?;
    if steps.is_empty() {
        return Err("no steps".into());
    }
    for (i, step) in steps.iter().enumerate() {
        run_step(&mut session, step).map_err(|e| format!("step {i} ({}): {e}", short(step)))?;
    }
    Ok(())
}

fn run_step(session: &mut TokenSession, step: &Value) -> Res<()> {
    let op = step
        .get("op")
        .and_then(Value::as_str)
        .ok_or("`op` missing")?;
    let next_or_error = |f: &Fields<'_>, result: Result<Next, Error>| -> Res<()> {
        match (f.get("expect"), f.get("expect_error"), result) {
            (Some(e), None, Ok(n)) => compare_next(e, &n),
            (None, Some(e), Err(err)) => compare_error(e, &err),
            (Some(_), None, Err(err)) => Err(format!("expected a next, got the error {err}")),
            (None, Some(_), Ok(n)) => {
                Err(format!("expected an error, got {}", short(&next_json(&n)?)))
            }
            _ => Err("exactly one of `expect` and `expect_error`".into()),
        }
    };
    let completion_or_error = |f: &Fields<'_>, result: Result<Completion, Error>| -> Res<()> {
        match (f.get("expect_completion"), f.get("expect_error"), result) {
            (Some(e), None, Ok(c)) => compare_completion(e, &c),
            (None, Some(e), Err(err)) => compare_error(e, &err),
            (Some(_), None, Err(err)) => Err(format!("expected a completion, got the error {err}")),
            (None, Some(_), Ok(c)) => Err(format!(
                "expected an error, got {}",
                short(&completion_json(&c))
            )),
            _ => Err("exactly one of `expect_completion` and `expect_error`".into()),
        }
    };
    let boolean = |f: &Fields<'_>, got: bool| -> Res<()> {
        let want = f
            .value("expect")?
            .as_bool()
            .ok_or("`expect` is not a boolean")?;
        if want == got {
            Ok(())
        } else {
            Err(format!("expected {want}, got {got}"))
        }
    };
    match op {
        "next" => {
            let f = Fields::new(step, "step", &["op", "now", "expect", "expect_error"])?;
            next_or_error(&f, session.next(f.u64("now")?))
        }
        "waited" => {
            let f = Fields::new(step, "step", &["op", "id", "now", "expect", "expect_error"])?;
            next_or_error(&f, session.waited(f.u64("id")?, f.u64("now")?))
        }
        "receive" => {
            let f = Fields::new(
                step,
                "step",
                &[
                    "op",
                    "id",
                    "now",
                    "response",
                    "expect_completion",
                    "expect_error",
                ],
            )?;
            let resp = response(f.value("response")?)?;
            completion_or_error(&f, session.receive(f.u64("id")?, &resp, f.u64("now")?))
        }
        "fail" => {
            let f = Fields::new(
                step,
                "step",
                &[
                    "op",
                    "id",
                    "now",
                    "reason",
                    "expect_completion",
                    "expect_error",
                ],
            )?;
            completion_or_error(
                &f,
                session.fail(f.u64("id")?, f.str("reason")?, f.u64("now")?),
            )
        }
        "delivered" => {
            let f = Fields::new(step, "step", &["op", "id", "expect"])?;
            boolean(&f, session.delivered(f.u64("id")?))
        }
        "abandon" => {
            let f = Fields::new(step, "step", &["op", "id", "expect"])?;
            boolean(&f, session.abandon(f.u64("id")?))
        }
        "reject" => {
            let f = Fields::new(step, "step", &["op", "token", "expect"])?;
            boolean(&f, session.reject(f.str("token")?))
        }
        "ready_until" => {
            let f = Fields::new(step, "step", &["op", "expect"])?;
            let got = json!(session.ready_until());
            let want = f.value("expect")?;
            if *want == got {
                Ok(())
            } else {
                Err(format!("ready_until: expected {want}, got {got}"))
            }
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

/// Runs one vector; `Err` describes the failure.
fn run_vector(v: &Value) -> Res<()> {
    for key in ["name", "kind", "source"] {
        match v.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => return Err(format!("`{key}` is missing or not a non-empty string")),
        }
    }
    if v.get("note").is_some_and(|n| !n.is_string()) {
        return Err("`note` is not a string".into());
    }
    match v["kind"].as_str().unwrap_or_default() {
        "provider" => run_provider(v),
        "request" => run_request(v),
        "authorization_url" => run_authorization_url(v),
        "callback" => run_callback(v),
        "token_response" => run_token_response(v),
        "introspection_response" => run_introspection_response(v),
        "revocation_response" => run_revocation_response(v),
        "device_authorization_response" => run_device_authorization_response(v),
        "device_poll_response" => run_device_poll_response(v),
        "www_authenticate" => run_www_authenticate(v),
        "discovery" => run_discovery(v),
        "redact_url" => run_redact_url(v),
        "session" => run_session(v),
        "jws_verify" => run_jws_verify(v),
        "jwk_set" => run_jwk_set(v),
        "jws_sign" => run_jws_sign(v),
        kind @ ("id_token" | "id_token_refresh" | "userinfo_request" | "userinfo_response"
        | "end_session_url" | "jwks_cache" | "provider_oidc") => oidc::run(kind, v),
        "store_entry" => fleet::run_store_entry(v),
        "fleet_session" => fleet::run_fleet_session(v),
        other => Err(format!("unknown kind {other:?}")),
    }
}

// ------------------------------------------------------------------------------------------
// JOSE.

fn algorithms(f: &Fields<'_>) -> Res<Vec<Algorithm>> {
    f.strings("algorithms")?
        .iter()
        .map(|name| Algorithm::from_name(name).ok_or_else(|| format!("unknown algorithm {name:?}")))
        .collect()
}

/// `token` or `token_repeat` (like `body_repeat`).
fn token(f: &Fields<'_>) -> Res<String> {
    match (f.get("token"), f.get("token_repeat")) {
        (Some(_), None) => Ok(f.str("token")?.to_owned()),
        (None, Some(spec)) => {
            let r = Fields::new(spec, "token_repeat", &["prefix", "text", "count", "suffix"])?;
            let count = usize::try_from(r.u64("count")?).map_err(|_| "count".to_owned())?;
            let mut s = r.opt_str("prefix")?.unwrap_or("").to_owned();
            s.push_str(&r.str("text")?.repeat(count));
            s.push_str(r.opt_str("suffix")?.unwrap_or(""));
            Ok(s)
        }
        _ => Err("exactly one of `token`, `token_repeat`".into()),
    }
}

fn verified_json(jws: &VerifiedJws) -> Value {
    json!({
        "alg": jws.algorithm().name(),
        "kid": jws.kid(),
        "payload": String::from_utf8_lossy(jws.payload()),
    })
}

fn run_jws_verify(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "keys",
            "key",
            "token",
            "token_repeat",
            "algorithms",
            "expect_jws",
            "expect_error",
        ]),
    )?;
    let token = token(&f)?;
    let accepted = algorithms(&f)?;
    let actual = (|| -> Out<Map<String, Value>> {
        let jws = match (f.opt_str("keys")?, f.opt_str("key")?) {
            (Some(keys), None) => JwkSet::from_json(keys)?.verify(&token, &accepted)?,
            (None, Some(key)) => Jwk::from_json(key)?.verify(&token, &accepted)?,
            _ => return Err(Fail::Vector("exactly one of `keys`, `key`".into())),
        };
        Ok(out([("expect_jws", verified_json(&jws))]))
    })();
    judge(&f, &["expect_jws"], &[], actual)
}

fn run_jwk_set(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&["keys", "expect_keys", "expect_skipped", "expect_error"]),
    )?;
    let actual = (|| -> Out<Map<String, Value>> {
        let set = JwkSet::from_json(f.str("keys")?)?;
        let keys: Vec<Value> = set
            .keys()
            .iter()
            .map(|k| {
                json!({"kty": k.key_type(), "crv": k.curve(), "kid": k.kid(), "alg": k.alg(), "use": k.key_use()})
            })
            .collect();
        Ok(out([
            ("expect_keys", Value::Array(keys)),
            ("expect_skipped", json!(set.skipped())),
        ]))
    })();
    judge(&f, &["expect_keys", "expect_skipped"], &[], actual)
}

fn run_jws_sign(v: &Value) -> Res<()> {
    let f = Fields::new(
        v,
        "vector",
        &with_common(&[
            "signing_key",
            "signing_key_pem",
            "algorithm",
            "kid",
            "header",
            "payload",
            "expect_token",
            "expect_verified_by",
            "expect_header",
            "expect_error",
        ]),
    )?;
    let header = f
        .value("header")?
        .as_object()
        .ok_or_else(|| "`header` is not an object".to_owned())?
        .clone();
    let payload = f.str("payload")?;
    let verifier = f.opt_str("expect_verified_by")?;
    let actual = (|| -> Out<Map<String, Value>> {
        let mut key = match (f.opt_str("signing_key")?, f.opt_str("signing_key_pem")?) {
            (Some(jwk), None) => SigningKey::from_jwk(jwk)?,
            (None, Some(pem)) => SigningKey::from_pkcs8_pem(pem)?,
            _ => {
                return Err(Fail::Vector(
                    "exactly one of `signing_key`, `signing_key_pem`".into(),
                ))
            }
        };
        if let Some(name) = f.opt_str("algorithm")? {
            let alg = Algorithm::from_name(name)
                .ok_or_else(|| Fail::Vector(format!("unknown algorithm {name:?}")))?;
            key = key.with_algorithm(alg)?;
        }
        if let Some(kid) = f.opt_str("kid")? {
            key = key.with_kid(kid);
        }
        let token = key.sign_payload(&header, payload.as_bytes())?;
        let mut result = out([("expect_token", json!(token))]);
        if let Some(public) = verifier {
            let jws = Jwk::from_json(public)?.verify(&token, &Algorithm::ALL)?;
            if jws.payload() != payload.as_bytes() {
                return Err(Fail::Vector("the verified payload differs".into()));
            }
            result.insert("expect_verified_by".into(), json!(public));
            result.insert("expect_header".into(), Value::Object(jws.header().clone()));
        }
        Ok(result)
    })();
    judge(
        &f,
        &[],
        &["expect_token", "expect_verified_by", "expect_header"],
        actual,
    )
}

// ------------------------------------------------------------------------------------------
// The files.

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// Every `*.json` in the vectors directory, sorted by file name.
fn load_files() -> Vec<(String, Value)> {
    let dir = vectors_dir();
    let mut files: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn file_vectors<'a>(name: &str, doc: &'a Value) -> Res<&'a [Value]> {
    let f = Fields::new(doc, name, &["format", "description", "vectors"])?;
    if f.u64("format")? != FORMAT {
        return Err(format!(
            "{name}: format {} is not {FORMAT}",
            f.value("format")?
        ));
    }
    if f.str("description")?.trim().is_empty() {
        return Err(format!("{name}: empty description"));
    }
    let vectors = f
        .value("vectors")?
        .as_array()
        .ok_or_else(|| format!("{name}: `vectors` is not a list"))?;
    if vectors.is_empty() {
        return Err(format!("{name}: no vectors"));
    }
    Ok(vectors)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn vectors() {
    let files = load_files();
    let mut names = BTreeSet::new();
    let mut failures: Vec<String> = Vec::new();
    let (mut passed, mut seed_count, mut extra_count) = (0usize, 0usize, 0usize);
    for required in SEED_FILES.iter().chain(&EXTRA_FILES) {
        if !files.iter().any(|(n, _)| n == required) {
            failures.push(format!("{required}: missing"));
        }
    }
    for (file, doc) in &files {
        let vectors = match file_vectors(file, doc) {
            Ok(v) => v,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if SEED_FILES.contains(&file.as_str()) {
            seed_count += vectors.len();
        } else {
            extra_count += vectors.len();
        }
        for (i, v) in vectors.iter().enumerate() {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{i}"), str::to_owned);
            if !names.insert(name.clone()) {
                failures.push(format!("{file}: {name:?}: duplicate name"));
                continue;
            }
            match run_vector(v) {
                Ok(()) => passed += 1,
                Err(msg) => failures.push(format!("{file}: {name:?}\n{}", indent(&msg))),
            }
        }
    }
    let total = seed_count + extra_count;
    println!(
        "vectors: {passed} passed, {} failed ({total} vectors: {seed_count} from the seed documents, {extra_count} others)",
        failures.len()
    );
    if seed_count < MIN_SEED_VECTORS {
        failures.push(format!(
            "only {seed_count} seed vectors, at least {MIN_SEED_VECTORS} expected"
        ));
    }
    if extra_count < MIN_EXTRA_VECTORS || total < seed_count + MIN_EXTRA_VECTORS {
        failures.push(format!(
            "only {extra_count} lenient/hostile vectors, at least {MIN_EXTRA_VECTORS} expected"
        ));
    }
    assert!(
        failures.is_empty(),
        "vectors: {passed} passed, {} failed\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
}

// ------------------------------------------------------------------------------------------
// The runner itself: it must not pass what it cannot check.

fn libro_cc_vector() -> Value {
    json!({
        "name": "self-test",
        "kind": "request",
        "source": "runner self-test",
        "provider": {"preset": "libro"},
        "client": {"client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET"},
        "call": {"type": "client_credentials", "scopes": []},
        "expect_request": {
            "method": "POST",
            "url": "https://api.libroreserve.com/oauth/token",
            "headers": {
                "accept": "application/json",
                "content-type": "application/x-www-form-urlencoded"
            },
            "body": "grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET"
        }
    })
}

#[test]
fn runner_passes_a_right_vector() {
    assert_eq!(run_vector(&libro_cc_vector()), Ok(()));
}

#[test]
fn runner_fails_an_unknown_kind() {
    let v = json!({"name": "x", "kind": "no_such_kind", "source": "test"});
    let err = run_vector(&v).unwrap_err();
    assert!(err.contains("unknown kind"), "{err}");
}

#[test]
fn runner_fails_a_wrong_expectation() {
    let mut v = libro_cc_vector();
    v["expect_request"]["body"] = json!("grant_type=client_credentials");
    let err = run_vector(&v).unwrap_err();
    assert!(err.contains("expect_request.body"), "{err}");

    let mut v = libro_cc_vector();
    v["expect_request"]["headers"]
        .as_object_mut()
        .unwrap()
        .remove("accept");
    let err = run_vector(&v).unwrap_err();
    assert!(err.contains("expect_request.headers.accept"), "{err}");
}

#[test]
fn runner_fails_unknown_fields_and_missing_expectations() {
    let mut v = libro_cc_vector();
    v["expect_requst"] = json!({});
    assert!(run_vector(&v).unwrap_err().contains("unknown field"));

    let mut v = libro_cc_vector();
    v.as_object_mut().unwrap().remove("expect_request");
    assert!(run_vector(&v).unwrap_err().contains("no expectation"));

    let mut v = libro_cc_vector();
    v["expect_error"] = json!({"kind": "oauth"});
    assert!(run_vector(&v).unwrap_err().contains("both"));

    let mut v = libro_cc_vector();
    v["call"]["type"] = json!("implicit");
    assert!(run_vector(&v).unwrap_err().contains("unknown type"));
}

#[test]
fn runner_fails_an_error_where_success_was_expected_and_back() {
    let mut v = libro_cc_vector();
    v["call"] = json!({"type": "password", "username": "u", "password": "p", "scopes": []});
    let err = run_vector(&v).unwrap_err();
    assert!(err.contains("unsupported_grant"), "{err}");

    let mut v = libro_cc_vector();
    v.as_object_mut().unwrap().remove("expect_request");
    v["expect_error"] = json!({"kind": "unsupported_grant"});
    let err = run_vector(&v).unwrap_err();
    assert!(err.contains("succeeded"), "{err}");
}

// ------------------------------------------------------------------------------------------
// OpenID Connect kinds (issue 11): `id_token`, `id_token_refresh`, `userinfo_request`,
// `userinfo_response`, `end_session_url`, `jwks_cache`, `provider_oidc`.

fn oidc_provider_fields(
    mut b: grantline::ProviderBuilder,
    f: &Fields<'_>,
) -> Out<grantline::ProviderBuilder> {
    if let Some(v) = f.opt_str("jwks_uri")? {
        b = b.jwks_uri(v);
    }
    if let Some(v) = f.opt_str("userinfo_endpoint")? {
        b = b.userinfo_endpoint(v);
    }
    if let Some(v) = f.opt_str("end_session_endpoint")? {
        b = b.end_session_endpoint(v);
    }
    if f.has("id_token_algorithms") {
        b = b.id_token_algorithms(oidc::algorithms(&f.strings("id_token_algorithms")?)?);
    }
    Ok(b)
}

mod oidc {
    use super::*;
    use grantline::jose::{Algorithm, JwkSet, JwksCache, JwksStep, VerifiedJws};
    use grantline::{EndSessionRequest, IdToken, IdTokenCheck, IdTokenClaims, UserInfo};
    use grantline::{Nonce, UserInfoAnswer};

    pub(super) fn run(kind: &str, v: &Value) -> Res<()> {
        match kind {
            "id_token" => run_id_token(v),
            "id_token_refresh" => run_id_token_refresh(v),
            "userinfo_request" => run_userinfo_request(v),
            "userinfo_response" => run_userinfo_response(v),
            "end_session_url" => run_end_session_url(v),
            "jwks_cache" => run_jwks_cache(v),
            "provider_oidc" => run_provider_oidc(v),
            other => Err(format!("unknown kind {other:?}")),
        }
    }

    /// Algorithm names, exactly as JOSE spells them.
    pub(super) fn algorithms(names: &[String]) -> Res<Vec<Algorithm>> {
        names
            .iter()
            .map(|n| Algorithm::from_name(n).ok_or_else(|| format!("unknown algorithm {n:?}")))
            .collect()
    }

    fn pending(spec: &Value) -> Out<PendingAuthorization> {
        Fields::new(
            spec,
            "pending",
            &[
                "state",
                "code_verifier",
                "redirect_uri",
                "issuer",
                "require_iss",
                "nonce",
                "max_age",
            ],
        )?;
        Ok(PendingAuthorization::from_json(&spec.to_string())?)
    }

    /// `check` modifiers applied to the check the client built.
    fn modify(mut check: IdTokenCheck, spec: Option<&Value>) -> Res<IdTokenCheck> {
        let Some(spec) = spec else {
            return Ok(check);
        };
        let f = Fields::new(
            spec,
            "check",
            &["leeway", "algorithms", "access_token", "code"],
        )?;
        if f.has("leeway") {
            check = check.leeway(f.u64("leeway")?);
        }
        if f.has("algorithms") {
            check = check.algorithms(algorithms(&f.strings("algorithms")?)?);
        }
        if let Some(t) = f.opt_str("access_token")? {
            check = check.access_token(&AccessToken::new(t));
        }
        if let Some(c) = f.opt_str("code")? {
            check = check.code(&AuthorizationCode::new(c));
        }
        Ok(check)
    }

    fn verify(jwks: &str, token: &str, check: &IdTokenCheck) -> Out<VerifiedJws> {
        let set = JwkSet::from_json(jwks)?;
        Ok(set.verify(token, check.accepted_algorithms())?)
    }

    fn claims_json(c: &IdTokenClaims) -> Value {
        let mut names: Vec<&str> = c.claims().keys().map(String::as_str).collect();
        names.sort_unstable();
        json!({
            "sub": c.sub(),
            "iss": c.issuer(),
            "aud": c.audiences(),
            "azp": c.azp(),
            "nonce": c.nonce().map(Nonce::secret),
            "auth_time": c.auth_time(),
            "exp": c.expires_at(),
            "iat": c.issued_at(),
            "acr": c.acr(),
            "amr": c.amr(),
            "claim_names": names,
        })
    }

    fn run_id_token(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "provider",
                "client",
                "pending",
                "check",
                "jwks",
                "token",
                "now",
                "expect_claims",
                "expect_error",
            ]),
        )?;
        let actual = (|| -> Out<_> {
            let c = provider_and_client(&f)?;
            let pending = pending(f.value("pending")?)?;
            let check = modify(c.id_token_check(&pending)?, f.get("check"))?;
            let verified = verify(f.str("jwks")?, f.str("token")?, &check)?;
            let claims = check.validate(&verified, f.u64("now")?)?;
            Ok(out([("expect_claims", claims_json(&claims))]))
        })();
        judge(&f, &["expect_claims"], &[], actual)
    }

    fn run_id_token_refresh(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "provider",
                "client",
                "pending",
                "check",
                "jwks",
                "previous_token",
                "previous_now",
                "token",
                "now",
                "expect_claims",
                "expect_error",
            ]),
        )?;
        let actual = (|| -> Out<_> {
            let c = provider_and_client(&f)?;
            let jwks = f.str("jwks")?;
            let first = c.id_token_check(&pending(f.value("pending")?)?)?;
            let previous = first.validate(
                &verify(jwks, f.str("previous_token")?, &first)?,
                f.u64("previous_now")?,
            )?;
            let check = modify(c.refresh_id_token_check()?, f.get("check"))?;
            let verified = verify(jwks, f.str("token")?, &check)?;
            let claims = check.validate_refreshed(&verified, &previous, f.u64("now")?)?;
            Ok(out([("expect_claims", claims_json(&claims))]))
        })();
        judge(&f, &["expect_claims"], &[], actual)
    }

    fn run_userinfo_request(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "provider",
                "client",
                "access_token",
                "expect_request",
                "expect_error",
            ]),
        )?;
        let actual = (|| -> Out<_> {
            let c = provider_and_client(&f)?;
            let r = c.userinfo_request(&AccessToken::new(f.str("access_token")?))?;
            Ok(out([("expect_request", request_json(&r)?)]))
        })();
        judge(&f, &["expect_request"], &[], actual)
    }

    fn run_userinfo_response(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "response",
                "expected_sub",
                "signed",
                "expect_userinfo",
                "expect_error",
            ]),
        )?;
        let actual = (|| -> Out<_> {
            let response = response(f.value("response")?)?;
            let expected_sub = f.str("expected_sub")?;
            let (signed, info) = match UserInfo::from_response(&response, expected_sub)? {
                UserInfoAnswer::Claims(info) => (false, info),
                UserInfoAnswer::Signed(jwt) => {
                    let s = Fields::new(
                        f.value("signed")?,
                        "signed",
                        &["jwks", "algorithms", "issuer", "client_id"],
                    )?;
                    let set = JwkSet::from_json(s.str("jwks")?)?;
                    let verified = set.verify(&jwt, &algorithms(&s.strings("algorithms")?)?)?;
                    let info = UserInfo::from_verified(
                        &verified,
                        expected_sub,
                        s.str("issuer")?,
                        s.str("client_id")?,
                    )?;
                    (true, info)
                }
            };
            let mut names: Vec<&str> = info.claims().keys().map(String::as_str).collect();
            names.sort_unstable();
            Ok(out([(
                "expect_userinfo",
                json!({"signed": signed, "sub": info.sub(), "claim_names": names}),
            )]))
        })();
        judge(&f, &["expect_userinfo"], &[], actual)
    }

    fn run_end_session_url(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "provider",
                "client",
                "request",
                "expect_url",
                "expect_error",
            ]),
        )?;
        let actual = (|| -> Out<_> {
            let c = provider_and_client(&f)?;
            let r = Fields::new(
                f.value("request")?,
                "request",
                &[
                    "id_token_hint",
                    "logout_hint",
                    "post_logout_redirect_uri",
                    "state",
                    "ui_locales",
                    "params",
                ],
            )?;
            let mut request = EndSessionRequest::new();
            if let Some(v) = r.opt_str("id_token_hint")? {
                request = request.id_token_hint(&IdToken::new(v));
            }
            if let Some(v) = r.opt_str("logout_hint")? {
                request = request.logout_hint(v);
            }
            if let Some(v) = r.opt_str("post_logout_redirect_uri")? {
                request = request.post_logout_redirect_uri(v);
            }
            if let Some(v) = r.opt_str("state")? {
                request = request.state(v);
            }
            if let Some(v) = r.opt_str("ui_locales")? {
                request = request.ui_locales(v);
            }
            for (k, v) in r.pairs("params")? {
                request = request.param(k, v);
            }
            Ok(out([("expect_url", json!(c.end_session_url(&request)?))]))
        })();
        judge(&f, &["expect_url"], &[], actual)
    }

    fn run_provider_oidc(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&["provider", "expect_oidc", "expect_error"]),
        )?;
        let actual = (|| -> Out<_> {
            let p = provider(f.value("provider")?)?;
            let algs: Vec<&str> = p.id_token_algorithms().iter().map(|a| a.name()).collect();
            Ok(out([(
                "expect_oidc",
                json!({
                    "jwks_uri": p.jwks_uri(),
                    "userinfo_endpoint": p.userinfo_endpoint(),
                    "end_session_endpoint": p.end_session_endpoint(),
                    "id_token_algorithms": algs,
                }),
            )]))
        })();
        judge(&f, &["expect_oidc"], &[], actual)
    }

    fn run_jwks_cache(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&["jwks_uri", "min_refetch", "max_age", "keys", "steps"]),
        )?;
        let mut cache = JwksCache::new(f.str("jwks_uri")?).map_err(|e| e.to_string())?;
        if f.has("max_age") {
            cache = cache.with_max_age(f.u64("max_age")?);
        }
        if f.has("min_refetch") {
            cache = cache.with_min_refetch(f.u64("min_refetch")?);
        }
        if let Some(keys) = f.get("keys") {
            let k = Fields::new(keys, "keys", &["jwks", "fetched_at"])?;
            let set = JwkSet::from_json(k.str("jwks")?).map_err(|e| e.to_string())?;
            cache = cache.with_keys(set, k.u64("fetched_at")?);
        }
        let steps = f
            .value("steps")?
            .as_array()
            .ok_or("`steps` is not a list")?;
        if steps.is_empty() {
            return Err("no steps".into());
        }
        for (i, step) in steps.iter().enumerate() {
            jwks_step(&mut cache, step).map_err(|e| format!("step {i}: {e}"))?;
        }
        Ok(())
    }

    fn jwks_step(cache: &mut JwksCache, step: &Value) -> Res<()> {
        let op = step
            .get("op")
            .and_then(Value::as_str)
            .ok_or("`op` missing")?;
        match op {
            "request" => {
                let f = Fields::new(step, "step", &["op", "expect_request"])?;
                let mut diffs = Vec::new();
                diff(
                    "expect_request",
                    f.value("expect_request")?,
                    &request_json(&cache.request())?,
                    &mut diffs,
                );
                if diffs.is_empty() {
                    Ok(())
                } else {
                    Err(diffs.join("\n"))
                }
            }
            "receive" => {
                let f = Fields::new(
                    step,
                    "step",
                    &["op", "response", "now", "expect", "expect_error"],
                )?;
                let result = cache.receive(&response(f.value("response")?)?, f.u64("now")?);
                match (f.get("expect"), f.get("expect_error"), result) {
                    (Some(e), None, Ok(())) if e == "ok" => Ok(()),
                    (None, Some(e), Err(err)) => compare_error(e, &err),
                    (Some(_), None, Err(err)) => Err(format!("expected ok, got the error {err}")),
                    (None, Some(_), Ok(())) => Err("expected an error, got ok".into()),
                    _ => Err("exactly one of `expect` (\"ok\") and `expect_error`".into()),
                }
            }
            "verify" => {
                let f = Fields::new(
                    step,
                    "step",
                    &["op", "token", "algorithms", "now", "expect", "expect_error"],
                )?;
                let accepted = algorithms(&f.strings("algorithms")?)?;
                let result = cache.verify(f.str("token")?, &accepted, f.u64("now")?);
                let got = |s: &JwksStep| match s {
                    JwksStep::Fetch => json!("fetch"),
                    JwksStep::Verified(v) => {
                        json!({"verified": {"alg": v.algorithm().name(), "kid": v.kid()}})
                    }
                };
                match (f.get("expect"), f.get("expect_error"), result) {
                    (Some(e), None, Ok(s)) if *e == got(&s) => Ok(()),
                    (Some(e), None, Ok(s)) => Err(format!("expected {e}, got {}", got(&s))),
                    (None, Some(e), Err(err)) => compare_error(e, &err),
                    (Some(_), None, Err(err)) => {
                        Err(format!("expected a step, got the error {err}"))
                    }
                    (None, Some(_), Ok(s)) => Err(format!("expected an error, got {}", got(&s))),
                    _ => Err("exactly one of `expect` and `expect_error`".into()),
                }
            }
            other => Err(format!("unknown op {other:?}")),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Fleet sharing: the store entry and the shared-session protocol (`fleet.json`).

mod fleet {
    use grantline::fleet::{Action, FleetConfig, FleetNext, FleetSession, StoreOp, StoreReply};
    use grantline::store::{Entry, EntryKey, Protection};

    use super::*;

    fn hex(text: &str) -> Res<Vec<u8>> {
        if !text.len().is_multiple_of(2) {
            return Err(format!("odd hex {text:?}"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(text.get(i..i + 2).unwrap_or(""), 16)
                    .map_err(|_| format!("bad hex {text:?}"))
            })
            .collect()
    }

    /// `keys` (`[{"kid", "key_hex"}]`, the first current) or `"plaintext": true`.
    fn protection(f: &Fields<'_>) -> Res<Protection> {
        match (f.get("keys"), f.bool_or("plaintext", false)?) {
            (Some(keys), false) => {
                let keys = keys.as_array().ok_or("`keys` is not a list")?;
                let mut built = Vec::new();
                for k in keys {
                    let kf = Fields::new(k, "key", &["kid", "key_hex"])?;
                    built.push(
                        EntryKey::new(kf.str("kid")?, &hex(kf.str("key_hex")?)?)
                            .map_err(|e| format!("key: {e}"))?,
                    );
                }
                let mut it = built.into_iter();
                let mut p = Protection::encrypted(it.next().ok_or("`keys` is empty")?);
                for k in it {
                    p = p.with_previous(k);
                }
                Ok(p)
            }
            (None, true) => Ok(Protection::plaintext()),
            _ => Err("exactly one of `keys` and `\"plaintext\": true`".into()),
        }
    }

    fn entry_input(spec: &Value) -> Res<Entry> {
        let f = Fields::new(spec, "entry", &["version", "written_at", "tokens"])?;
        let tokens = TokenSet::from_json(&f.value("tokens")?.to_string())
            .map_err(|e| format!("tokens: {e}"))?;
        Ok(Entry::new(f.u64("version")?, tokens, f.u64("written_at")?))
    }

    fn entry_json(e: &Entry) -> Value {
        json!({
            "version": e.version(),
            "written_at": e.written_at(),
            "expires_at": e.tokens().expires_at(),
            "access_token": e.tokens().access_token().secret(),
            "refresh_token": e.tokens().refresh_token().map(RefreshToken::secret),
        })
    }

    fn compare(what: &str, expected: &Value, actual: &Value) -> Res<()> {
        let mut diffs = Vec::new();
        diff(what, expected, actual, &mut diffs);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("\n"))
        }
    }

    pub(super) fn run_store_entry(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "keys",
                "plaintext",
                "sealed",
                "expect_entry",
                "expect_error",
                "entry",
                "nonce_hex",
                "expect_sealed",
            ]),
        )?;
        let p = protection(&f)?;
        if let Some(sealed) = f.get("sealed") {
            let text = sealed.as_str().ok_or("`sealed` is not a string")?;
            return match (
                f.get("expect_entry"),
                f.get("expect_error"),
                Entry::open(text, &p),
            ) {
                (Some(want), None, Ok(entry)) => compare("expect_entry", want, &entry_json(&entry)),
                (None, Some(want), Err(e)) => compare_error(want, &e),
                (Some(_), None, Err(e)) => Err(format!("expected an entry, got the error {e}")),
                (None, Some(_), Ok(entry)) => Err(format!(
                    "expected an error, got {}",
                    short(&entry_json(&entry))
                )),
                _ => Err("exactly one of `expect_entry` and `expect_error`".into()),
            };
        }
        let entry = entry_input(f.value("entry")?)?;
        let nonce: [u8; 12] = hex(f.str("nonce_hex")?)?
            .try_into()
            .map_err(|_| "`nonce_hex` is not 12 bytes")?;
        let sealed = entry
            .seal_with_nonce(&p, nonce)
            .map_err(|e| format!("seal: {e}"))?;
        let want = f.str("expect_sealed")?;
        if sealed != want {
            return Err(format!("sealed:\n  expected {want}\n  got      {sealed}"));
        }
        let back = Entry::open(&sealed, &p).map_err(|e| format!("reopening: {e}"))?;
        compare("round trip", &entry_json(&entry), &entry_json(&back))
    }

    struct Run {
        session: FleetSession,
        protection: Protection,
        last_commit: Option<String>,
    }

    pub(super) fn run_fleet_session(v: &Value) -> Res<()> {
        let f = Fields::new(
            v,
            "vector",
            &with_common(&[
                "provider", "client", "grant", "tokens", "skew", "fleet", "steps",
            ]),
        )?;
        let client = match provider_and_client(&f) {
            Ok(c) => c,
            Err(Fail::Core(e)) => return Err(format!("building the client failed: {e}")),
            Err(Fail::Vector(e)) => return Err(e),
        };
        let mut session = TokenSession::new(client, session_grant(f.value("grant")?)?);
        if let Some(tokens) = f.get("tokens") {
            let set =
                TokenSet::from_json(&tokens.to_string()).map_err(|e| format!("tokens: {e}"))?;
            session = session.with_tokens(set);
        }
        if f.has("skew") {
            session = session.with_skew(f.u64("skew")?);
        }
        let ff = Fields::new(
            f.value("fleet")?,
            "fleet",
            &[
                "name",
                "owner",
                "lease_ttl_ms",
                "renew_alone",
                "keys",
                "plaintext",
            ],
        )?;
        let protection = protection(&ff)?;
        let mut config = FleetConfig::new(ff.str("name")?, protection.clone())
            .map_err(|e| format!("fleet: {e}"))?
            .with_owner(ff.str("owner")?)
            .map_err(|e| format!("fleet owner: {e}"))?
            .renew_alone_when_store_down(ff.bool_or("renew_alone", false)?);
        if ff.has("lease_ttl_ms") {
            config = config.with_lease_ttl_ms(ff.u64("lease_ttl_ms")?);
        }
        let mut run = Run {
            session: FleetSession::new(session, config),
            protection,
            last_commit: None,
        };
        let steps = f
            .value("steps")?
            .as_array()
            .ok_or("`steps` is not a list")?;
        if steps.is_empty() {
            return Err("no steps".into());
        }
        for (i, step) in steps.iter().enumerate() {
            fleet_step(&mut run, step).map_err(|e| format!("step {i} ({}): {e}", short(step)))?;
        }
        Ok(())
    }

    /// An entry given in a reply: `null`, a raw text, `{"seal": entry}` (sealed with the
    /// fleet's protection) or `{"last_commit": true}` (the entry of the last `commit` asked).
    fn reply_entry(run: &Run, spec: &Value) -> Res<Option<String>> {
        match spec {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            Value::Object(o) if o.contains_key("seal") => {
                let f = Fields::new(spec, "entry", &["seal"])?;
                let entry = entry_input(f.value("seal")?)?;
                Ok(Some(
                    entry
                        .seal(&run.protection)
                        .map_err(|e| format!("seal: {e}"))?,
                ))
            }
            Value::Object(_) => {
                let f = Fields::new(spec, "entry", &["last_commit"])?;
                if !f.bool_or("last_commit", false)? {
                    return Err("`last_commit` must be true".into());
                }
                run.last_commit
                    .clone()
                    .map(Some)
                    .ok_or_else(|| "no commit was asked yet".into())
            }
            other => Err(format!("entry: unexpected {}", short(other))),
        }
    }

    fn reply(run: &Run, spec: &Value) -> Res<StoreReply> {
        let o = spec.as_object().ok_or("`reply` is not an object")?;
        if o.contains_key("acquired") {
            let f = Fields::new(spec, "reply", &["acquired", "lease_ttl_ms", "entry"])?;
            return Ok(StoreReply::Acquired {
                acquired: f.bool_or("acquired", false)?,
                lease_ttl_ms: f.value("lease_ttl_ms")?.as_u64(),
                entry: reply_entry(run, f.value("entry")?)?,
            });
        }
        if o.contains_key("entry") {
            let f = Fields::new(spec, "reply", &["entry"])?;
            return Ok(StoreReply::Entry(reply_entry(run, f.value("entry")?)?));
        }
        if o.contains_key("committed") {
            let f = Fields::new(spec, "reply", &["committed"])?;
            return Ok(StoreReply::Committed(f.bool_or("committed", false)?));
        }
        if o.contains_key("released") {
            Fields::new(spec, "reply", &["released"])?;
            return Ok(StoreReply::Released);
        }
        if o.contains_key("watched") {
            Fields::new(spec, "reply", &["watched"])?;
            return Ok(StoreReply::Watched);
        }
        Err(format!("unknown reply {}", short(spec)))
    }

    fn action_json(run: &mut Run, a: &Action) -> Res<Value> {
        Ok(match a {
            Action::Store(StoreOp::Read { key }) => {
                json!({"action": "store", "op": "read", "key": key})
            }
            Action::Store(StoreOp::Acquire {
                key,
                lease,
                owner,
                ttl_ms,
            }) => json!({"action": "store", "op": "acquire", "key": key, "lease": lease,
                "owner": owner, "ttl_ms": ttl_ms}),
            Action::Store(StoreOp::Commit {
                key,
                lease,
                owner,
                channel,
                expected_version,
                version,
                entry,
            }) => {
                run.last_commit = Some(entry.clone());
                let opened = Entry::open(entry, &run.protection)
                    .map_err(|e| format!("the committed entry does not open: {e}"))?;
                json!({"action": "store", "op": "commit", "key": key, "lease": lease,
                    "owner": owner, "channel": channel, "expected_version": expected_version,
                    "version": version, "entry": entry_json(&opened)})
            }
            Action::Store(StoreOp::Release { lease, owner }) => {
                json!({"action": "store", "op": "release", "lease": lease, "owner": owner})
            }
            Action::Store(StoreOp::Watch {
                channel,
                version,
                timeout_ms,
            }) => json!({"action": "store", "op": "watch", "channel": channel,
                "version": version, "timeout_ms": timeout_ms}),
            Action::Store(other) => return Err(format!("unknown store op {other:?}")),
            Action::Send(request) => json!({"action": "send", "request": request_json(request)?}),
            Action::Done(c) => json!({"action": "done", "completion": completion_json(c)}),
        })
    }

    /// Compares an action: a `send`'s `request` only when given; a `done`'s completion like
    /// `expect_completion`.
    fn compare_action(run: &mut Run, expected: &Value, a: &Action) -> Res<()> {
        if let (Action::Done(c), Some("done")) = (a, expected.get("action").and_then(Value::as_str))
        {
            let f = Fields::new(expected, "action", &["action", "completion"])?;
            return compare_completion(f.value("completion")?, c);
        }
        let mut actual = action_json(run, a)?;
        if expected.get("request").is_none() {
            if let Some(o) = actual.as_object_mut() {
                o.remove("request");
            }
        }
        compare("action", expected, &actual)
    }

    fn compare_next(run: &mut Run, expected: &Value, n: &FleetNext) -> Res<()> {
        match n {
            FleetNext::Ready(t) => compare(
                "next",
                expected,
                &json!({"next": "ready", "token": t.secret()}),
            ),
            FleetNext::Wait { id } => compare("next", expected, &json!({"next": "wait", "id": id})),
            FleetNext::Perform {
                id,
                action,
                current,
            } => {
                let f = Fields::new(expected, "next", &["next", "id", "current", "action"])?;
                let head = json!({"next": "perform", "id": id,
                    "current": current.as_ref().map(AccessToken::secret)});
                let want = json!({"next": f.value("next")?, "id": f.value("id")?,
                    "current": f.value("current")?});
                compare("next", &want, &head)?;
                compare_action(run, f.value("action")?, action)
            }
        }
    }

    fn fleet_step(run: &mut Run, step: &Value) -> Res<()> {
        let op = step
            .get("op")
            .and_then(Value::as_str)
            .ok_or("`op` missing")?;
        let fields = |extra: &[&'static str]| -> Res<Fields<'_>> {
            let mut allowed = vec!["op", "expect", "expect_error"];
            allowed.extend_from_slice(extra);
            Fields::new(step, "step", &allowed)
        };
        let next_or_error = |run: &mut Run, f: &Fields<'_>, r: Result<FleetNext, Error>| match (
            f.get("expect"),
            f.get("expect_error"),
            r,
        ) {
            (Some(e), None, Ok(n)) => compare_next(run, e, &n),
            (None, Some(e), Err(err)) => compare_error(e, &err),
            (Some(_), None, Err(err)) => Err(format!("expected a next, got the error {err}")),
            (None, Some(_), Ok(n)) => Err(format!("expected an error, got {n:?}")),
            _ => Err("exactly one of `expect` and `expect_error`".into()),
        };
        let action_or_error = |run: &mut Run, f: &Fields<'_>, r: Result<Action, Error>| match (
            f.get("expect"),
            f.get("expect_error"),
            r,
        ) {
            (Some(e), None, Ok(a)) => compare_action(run, e, &a),
            (None, Some(e), Err(err)) => compare_error(e, &err),
            (Some(_), None, Err(err)) => Err(format!("expected an action, got the error {err}")),
            (None, Some(_), Ok(a)) => Err(format!("expected an error, got {a:?}")),
            _ => Err("exactly one of `expect` and `expect_error`".into()),
        };
        let scalar = |f: &Fields<'_>, got: Value| -> Res<()> {
            let want = f.value("expect")?;
            if *want == got {
                Ok(())
            } else {
                Err(format!("expected {want}, got {got}"))
            }
        };
        match op {
            "next" => {
                let f = fields(&["now_ms"])?;
                let r = run.session.next(f.u64("now_ms")?);
                next_or_error(run, &f, r)
            }
            "waited" => {
                let f = fields(&["id", "now_ms"])?;
                let r = run.session.waited(f.u64("id")?, f.u64("now_ms")?);
                next_or_error(run, &f, r)
            }
            "store_done" => {
                let f = fields(&["id", "now_ms", "reply"])?;
                let reply = reply(run, f.value("reply")?)?;
                let r = run
                    .session
                    .store_done(f.u64("id")?, reply, f.u64("now_ms")?);
                action_or_error(run, &f, r)
            }
            "store_failed" => {
                let f = fields(&["id", "now_ms", "reason"])?;
                let r = run
                    .session
                    .store_failed(f.u64("id")?, f.str("reason")?, f.u64("now_ms")?);
                action_or_error(run, &f, r)
            }
            "receive" => {
                let f = fields(&["id", "now_ms", "response"])?;
                let resp = response(f.value("response")?)?;
                let r = run.session.receive(f.u64("id")?, &resp, f.u64("now_ms")?);
                action_or_error(run, &f, r)
            }
            "fail" => {
                let f = fields(&["id", "now_ms", "reason"])?;
                let r = run
                    .session
                    .fail(f.u64("id")?, f.str("reason")?, f.u64("now_ms")?);
                action_or_error(run, &f, r)
            }
            "delivered" => {
                let f = fields(&["id"])?;
                scalar(&f, json!(run.session.delivered(f.u64("id")?)))
            }
            "abandon" => {
                let f = fields(&["id"])?;
                scalar(&f, json!(run.session.abandon(f.u64("id")?)))
            }
            "cancellable" => {
                let f = fields(&["id"])?;
                scalar(&f, json!(run.session.cancellable(f.u64("id")?)))
            }
            "reject" => {
                let f = fields(&["token"])?;
                scalar(&f, json!(run.session.reject(f.str("token")?)))
            }
            "version" => {
                let f = fields(&[])?;
                scalar(&f, json!(run.session.version()))
            }
            "stats" => {
                let f = fields(&[])?;
                let s = run.session.stats();
                let all = json!({"store_ops": s.store_ops, "store_failures": s.store_failures,
                    "http_renewals": s.http_renewals, "fallback_renewals": s.fallback_renewals,
                    "adopted": s.adopted, "committed": s.committed, "conflicts": s.conflicts});
                // Only the counters the vector names.
                let want = f
                    .value("expect")?
                    .as_object()
                    .ok_or("`expect` is not an object")?;
                let got: Map<String, Value> = want
                    .keys()
                    .map(|k| (k.clone(), all.get(k).cloned().unwrap_or(Value::Null)))
                    .collect();
                compare("stats", &Value::Object(want.clone()), &Value::Object(got))
            }
            other => Err(format!("unknown op {other:?}")),
        }
    }
}
