//! grantline for JavaScript and edge runtimes: the npm package `grantline`.
//!
//! A thin wasm-bindgen layer over the sans-IO core: type conversion, error mapping, and the
//! runtime's global `fetch` as transport (injectable per client). Two layers:
//!
//! - **sans-IO**: `Provider`, `Client` request builders returning plain `{ method, url,
//!   headers, body }` objects, `authorizationUrl` / `callback`, and `parse*` functions taking
//!   `{ status, headers, body }` objects (or a fetch `Response`);
//! - **over fetch**: one async call per grant on `Client` (each within a whole-request
//!   deadline), `discover()` bound to the issuer, and `TokenSession` with single-flight renewal,
//!   `onTokens` for persistence (in renewal order) and an authorized `fetch`;
//! - the session's state machine itself, `SessionState`, and discovery's, `Discovery`, for
//!   drivers of your own;
//! - one token for a fleet of processes (issue 12): `TokenSession` with a `store` and a
//!   `fleet` config (`FleetConfig`) shares its token over the store; `FleetState` is that
//!   machine sans-IO, `StoreEntry` the shared entry, and `grantline/redis` (a separate entry
//!   point, `npm/redis.js`) the Redis store.
//!
//! The classes behave as data without leaking: `toJSON()` is a redacted view (what
//! `JSON.stringify`, structured loggers and Node's `util.inspect` show), and a structured clone
//! (`structuredClone`, `postMessage`) fails with a `DataCloneError` pointing to `serialize()`
//! (installed by the package's entry points, see `js/support.js`).
//!
//! Errors are instances of the package's error classes (`OAuthError`,
//! `MalformedResponseError`, `ConfigurationError`, `StateMismatchError`,
//! `ReauthorizationRequiredError`, `TransportError`, all extending `GrantlineError`) with
//! `kind`, `code`, `status`, `description`; no message ever holds a secret.
//!
//! The JavaScript package is built by `bindings-wasm/build.sh`; see `bindings-wasm/README.md`.

mod client;
mod convert;
mod discovery;
mod fetch;
mod fleet;
mod jose;
mod oidc;
mod provider;
mod session;
mod tokens;
mod types;

pub use client::Client;
pub use convert::Failure;
pub use discovery::{discover, Discovery};
pub use fleet::{fleet_redis_scripts, FleetConfig, FleetState, StoreEntry};
pub use jose::{JwkSet, JwksCache, SigningKey, VerifiedJws};
pub use oidc::{parse_userinfo_response, IdTokenCheck, IdTokenClaims, UserInfo};
pub use provider::Provider;
pub use session::{SessionState, TokenSession};
pub use tokens::{
    check_revocation_response, parse_device_authorization_response, parse_device_poll_response,
    parse_introspection_response, parse_token_response, Authorization, CodeGrant,
    DeviceAuthorization, PendingAuthorization, TokenSet,
};
pub use types::{
    AuthorizationUrlOptionsArg, CallOptionsArg, ClientOptionsArg, DiscoverOptions, FetchInit,
    IntrospectOptions, IntrospectionOptions, PollOptions, Scopes, SessionGrantArg,
    SessionOptionsArg, SessionStateOptionsArg,
};

use convert::{get, headers_of, set};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// A request object (from the sans-IO layer, or any `{ method, url, headers, body }`)
/// printed with every secret redacted: credentials, tokens, codes, verifiers, passwords.
/// Request objects use it for their own `toString`; use it to log requests.
#[wasm_bindgen(js_name = redactRequest)]
pub fn redact_request(
    #[wasm_bindgen(unchecked_param_type = "HttpRequest")] request: JsValue,
) -> Result<String, Failure> {
    let request = convert::request_from_js(&request)?;
    Ok(grantline::redact::request(&request).to_string())
}

/// A URL as it may be shown (in logs, error reports): user information removed, and the values
/// of secret parameters (`code`, `state`, `access_token`...) redacted in the query and in the
/// fragment.
#[wasm_bindgen(js_name = redactUrl)]
pub fn redact_url(url: &str) -> String {
    grantline::redact::url(url)
}

/// Every challenge of one `WWW-Authenticate` value: `[{ scheme, token68, params }]`, with
/// `params` as `[name, value]` pairs (names lowercased, quoted strings unescaped).
#[wasm_bindgen(js_name = parseWwwAuthenticate, unchecked_return_type = "Challenge[]")]
pub fn parse_www_authenticate(value: &str) -> Array {
    grantline::bearer::parse_www_authenticate(value)
        .into_iter()
        .map(|c| {
            let o = Object::new();
            set(&o, "scheme", c.scheme);
            set(&o, "token68", c.token68);
            let params: Array = c
                .params
                .into_iter()
                .map(|(k, v)| Array::of2(&k.into(), &v.into()))
                .collect();
            set(&o, "params", params);
            JsValue::from(o)
        })
        .collect()
}

/// The first `Bearer` challenge of a response's `WWW-Authenticate` headers (a `Headers`, a
/// record, or `[name, value]` pairs): `{ realm, scope, error, errorDescription, errorUri }`,
/// or `undefined`.
#[wasm_bindgen(js_name = bearerChallenge, unchecked_return_type = "BearerChallenge | undefined")]
pub fn bearer_challenge(
    #[wasm_bindgen(unchecked_param_type = "HeadersLike")] headers: JsValue,
) -> Result<JsValue, Failure> {
    let map = headers_of(&headers)?;
    Ok(match grantline::bearer::bearer_challenge(&map) {
        None => JsValue::UNDEFINED,
        Some(c) => {
            let o = Object::new();
            set(&o, "realm", c.realm);
            set(
                &o,
                "scope",
                c.scope
                    .map(|s| s.into_iter().map(JsValue::from).collect::<Array>()),
            );
            set(&o, "error", c.error);
            set(&o, "errorDescription", c.error_description);
            set(&o, "errorUri", c.error_uri);
            o.into()
        }
    })
}

/// Whether an API's answer (`{ status, headers }`, or a fetch `Response`) means "renew the
/// token and retry once": a 401 whose Bearer challenge says `invalid_token` or gives no
/// error.
#[wasm_bindgen(js_name = needsRenewal)]
pub fn needs_renewal(
    #[wasm_bindgen(unchecked_param_type = "{ status: number, headers?: HeadersLike } | Response")]
    response: JsValue,
) -> Result<bool, Failure> {
    let status = get(&response, "status")
        .as_f64()
        .ok_or_else(|| convert::invalid("response.status must be a number"))?;
    let headers = headers_of(&get(&response, "headers"))?;
    Ok(grantline::bearer::needs_renewal(
        convert::seconds(status, "response.status")?.min(999) as u16,
        &headers,
    ))
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
import type { GrantlineError } from './errors.js';

/** A grant name. */
export type Grant = 'authorization_code' | 'client_credentials' | 'password' | 'refresh_token' | 'device_code';
/** A client authentication method (RFC 8414 names). */
export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none' | 'private_key_jwt' | 'client_secret_jwt';
/** A JWS algorithm grantline verifies and signs with. */
export type JwsAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA' | 'HS256';
/** One usable key of a `JwkSet` (`null` when absent). */
export interface JwkSummary { kty: 'RSA' | 'EC' | 'OKP' | 'oct'; crv: string | null; kid: string | null; alg: string | null; use: string | null }
/** `key.toJSON()`: a signing key without its key material. */
export interface SigningKeyView { algorithm: JwsAlgorithm; kid: string | null; key: Redacted }
/** What `JwksCache.verify()` says: the token verified, or fetch the keys (`request()`, `receive()`) and verify again. */
export type JwksStep = { next: 'verified'; jws: VerifiedJws } | { next: 'fetch' };
/** Changes to the check an ID token must pass. */
export interface IdTokenCheckOptions {
  /** Clock leeway in seconds for `exp`, `iat`, `nbf`, `auth_time` (default 60). */
  leeway?: number;
  /** The accepted signing algorithms (default: the provider's ID token algorithms). */
  algorithms?: JwsAlgorithm[];
  /** Checks `at_hash` against this access token. */
  accessToken?: string;
  /** Checks `c_hash` against this authorization code. */
  code?: string;
}
/** Options of `validateIdToken()` / `validateRefreshedIdToken()` (the access token comes from the token set). */
export interface ValidateOptions extends CallOptions {
  leeway?: number;
  algorithms?: JwsAlgorithm[];
  code?: string;
}
/** `check.toJSON()`. */
export interface IdTokenCheckView { issuer: string; clientId: string; algorithms: JwsAlgorithm[]; leeway: number; maxAge: number | null; nonce: Redacted | null }
/** `claims.toJSON()`: the registered claims, the others by name only (personal data). */
export interface IdTokenClaimsView {
  iss: string; sub: string; aud: string[]; azp: string | null; exp: number; iat: number;
  authTime: number | null; nonce: Redacted | null; acr: string | null; amr: string[] | null; claimNames: string[];
}
/** Options of `client.endSessionUrl()` (RP-Initiated Logout 1.0). */
export interface EndSessionOptions {
  /** The ID token last issued for this user (recommended). */
  idTokenHint?: string;
  logoutHint?: string;
  /** Where the provider sends the browser after logout (registered with it). */
  postLogoutRedirectUri?: string;
  state?: string;
  uiLocales?: string;
  /** Extra parameters, in order. */
  params?: [string, string][] | Record<string, string>;
}
/** Options of every sans-IO token request. */
export interface TokenRequestOptions {
  /** Extra parameters, in order; a name may repeat (`resource`, `audience`). Names grantline sets are refused. */
  params?: [string, string][] | Record<string, string>;
  /** Unix seconds (default now): the `iat` of a JWT client assertion. */
  now?: number;
}
/** Options of every token call over fetch. */
export interface TokenCallOptions extends CallOptions {
  /** Extra parameters, in order; a name may repeat. */
  params?: [string, string][] | Record<string, string>;
}
/** Options of a generic or JWT bearer grant. */
export interface GrantOptions {
  scopes?: string[];
  params?: [string, string][] | Record<string, string>;
}
/** A token exchange (RFC 8693 §2.1). */
export interface TokenExchangeOptions {
  subjectToken: string;
  /** e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  subjectTokenType: string;
  actorToken?: string;
  actorTokenType?: string;
  /** RFC 8707 resources, each sent, in order. */
  resource?: string[];
  /** Audiences, each sent, in order. */
  audience?: string[];
  scopes?: string[];
  requestedTokenType?: string;
}
/** A token type hint for introspection and revocation. */
export type TokenTypeHint = 'access_token' | 'refresh_token';
/** Response headers: a fetch `Headers`, a record (a repeated header as a string array), or pairs. */
export type HeadersLike = Headers | Record<string, string | string[]> | [string, string][];

/** A request built by the sans-IO layer. Send it as is: `fetch(r.url, r)`. Prints redacted (`String()`, `console.log`); `JSON.stringify` gives the data, credentials included. */
export interface HttpRequest {
  method: string;
  url: string;
  /** Lowercase header name → value. */
  headers: Record<string, string>;
  /** The form or JSON body; absent when there is none (a `GET`, such as discovery's). */
  body?: string;
}

/** A response to parse. `body` absent means empty. */
export interface HttpResponse {
  status: number;
  headers?: HeadersLike;
  body?: string | Uint8Array | ArrayBuffer;
}

/** The parts of a custom provider. Unknown names are refused. */
export interface ProviderOptions {
  name?: string;
  issuer?: string;
  authorizationEndpoint?: string;
  /** The token endpoint for every grant... */
  tokenEndpoint?: string;
  /** ...or per grant. */
  tokenEndpoints?: Partial<Record<Grant, string>> | [Grant, string][];
  introspectionEndpoint?: string;
  revocationEndpoint?: string;
  deviceAuthorizationEndpoint?: string;
  /** Token request bodies: `form` (default) or `json`. */
  bodyEncoding?: 'form' | 'json';
  /** Default `client_secret_basic`. */
  authMethod?: AuthMethod;
  /** Default `" "`. */
  scopeSeparator?: string;
  /** Added to every token request, e.g. `[["audience", "https://api.example"]]`. */
  extraTokenParams?: [string, string][] | Record<string, string>;
  /** Seconds before expiry at which sessions renew (default 60). */
  defaultSkew?: number;
  grants?: Grant[];
  /** Accept callbacks without `state` (authorization started at the provider). */
  unsolicitedCallbacks?: boolean;
  /** The provider sends `iss` in callbacks (RFC 9207): require and check it. */
  issParameterSupported?: boolean;
  /** OpenID Connect: the JWK Set URL of the provider's signing keys. */
  jwksUri?: string;
  userinfoEndpoint?: string;
  /** RP-Initiated Logout's end-session endpoint. */
  endSessionEndpoint?: string;
  /** The algorithms ID tokens are signed with (default `['RS256']`). */
  idTokenAlgorithms?: JwsAlgorithm[];
  /** The `aud` of client assertions: the issuer (default when there is one) or the token endpoint. */
  assertionAudience?: 'issuer' | 'token_endpoint';
}

/** Options of `new Client()`. */
export interface ClientOptions {
  clientSecret?: string;
  redirectUri?: string;
  /** The private key of `private_key_jwt` (used where the provider offers it, or when there is no secret). */
  signingKey?: SigningKey;
  /** The client's JWKS cache: seconds between two fetches for an unknown key (default 60, at least 1), and how long a fetched set is trusted. */
  jwks?: { minRefetch?: number; maxAge?: number };
  /** Overrides the provider's. */
  authMethod?: AuthMethod;
  /** Replaces the global `fetch` (tests, proxies, custom agents). */
  fetch?: typeof fetch;
  /**
   * The whole-request deadline of every call (the fetch and the body read together), in
   * milliseconds: default 30000; `Infinity` for none. A call past it rejects with a
   * `TransportError`.
   */
  timeout?: number;
}

/** Per-call options of every network call. */
export interface CallOptions {
  /** This call's whole-request deadline in milliseconds (default: the client's). */
  timeout?: number;
  /** Aborts the call (a `TransportError`). */
  signal?: AbortSignal;
}

/** Options of `discover()`. */
export interface DiscoverOptions extends CallOptions {
  /** Replaces the global `fetch`. `timeout` covers the whole discovery (default 30000 ms). */
  fetch?: typeof fetch;
}

/** Options of `introspectionRequest()` and `introspect()`. */
export interface IntrospectionOptions {
  hint?: TokenTypeHint;
  /** Apicbase's variant also sends the refresh token. */
  refreshToken?: string;
}

/** Options of `client.authorizationUrl()`. */
export interface AuthorizationUrlOptions {
  scopes?: string[];
  /** Default `S256`. */
  pkce?: 'S256' | 'plain';
  /** Overrides the client's. */
  redirectUri?: string;
  /** Extra query parameters, in order. */
  params?: [string, string][] | Record<string, string>;
  /** Your own OpenID Connect `nonce` (with `openid` in the scopes, one is drawn otherwise). */
  nonce?: string;
  /** OpenID Connect `max_age`, in seconds. */
  maxAge?: number;
  /** Tests only: 64 bytes (state, PKCE verifier) or 96 (and the nonce) that replace the random ones. */
  seed?: Uint8Array;
}

/** Options of a `TokenSession`. */
export interface SessionOptions {
  /**
   * Receives every new token set, in renewal order: persist it (`tokens.serialize()`). May
   * return a Promise: no other renewal starts, and no waiting caller gets the new token, before
   * it completes (a slow save never lets an older set be stored last). `refreshTokenRotated`:
   * only this set keeps access. If it throws or rejects, the call that was waiting on the
   * renewal rejects with that error (a renewal in the background reports it to `onError`); the
   * session keeps the new tokens.
   */
  onTokens?: (tokens: TokenSet, info: TokensInfo) => void | Promise<void>;
  /**
   * For logs and metrics: every failed renewal (a `GrantlineError`; also those that reached no
   * caller because the token was still valid), and what `onTokens` threw in a background
   * renewal. What `onError` itself throws is ignored.
   */
  onError?: (error: unknown) => void;
  /** Seconds before expiry at which to renew (default: the provider's, at most half the lifetime). */
  skew?: number;
  /** Tokens to start from: a `TokenSet` or its `serialize()` string. */
  tokens?: TokenSet | string;
  /**
   * A shared store (with `fleet`): the session's token is shared by every process using the
   * same `fleet` name and keys, one token request per renewal for the whole fleet.
   * `grantline/redis` has the Redis store. A cached token costs no store round trip.
   */
  store?: FleetStore;
  /** How the session is shared (with `store`): a `FleetConfig` or its options. */
  fleet?: FleetConfig | FleetConfigOptions;
  /** The deadline of one store call in milliseconds (default 2000; a watch gets its own wait more). */
  storeTimeout?: number;
}

/** What `onTokens` learns with a token set. */
export interface TokensInfo {
  /** Only this set keeps access: persist it. */
  refreshTokenRotated: boolean;
  /** A shared session: `http` (this process's token request) or `store` (another process's renewal, taken from the store). */
  source?: 'http' | 'store';
  /** A shared session: the store version the session holds after this renewal (as `session.fleet.version`). */
  version?: number;
}

/** The grant a `SessionState` renews with. */
export type SessionGrant =
  | { type: 'client_credentials'; scopes?: string[] }
  | { type: 'password'; username: string; password: string; scopes?: string[] }
  | { type: 'refresh_only' };

/** Options of `new SessionState()`. */
export interface SessionStateOptions {
  /** Seconds before expiry at which to renew (default: the provider's, at most half the lifetime). */
  skew?: number;
  /** Tokens to start from: a `TokenSet` or its `serialize()` string. */
  tokens?: TokenSet | string;
}

/** What a `SessionState` says to do next. */
export type Next =
  | { next: 'ready'; token: string }
  /** Send `request`, then `receive(id, answer)` or `fail(id, reason)`; `current`: a still-valid token to use meanwhile. */
  | { next: 'send'; id: number; request: HttpRequest; current?: string }
  /** Renewal `id` is in flight and there is no usable token: when it completes, `waited(id)`. */
  | { next: 'wait'; id: number };

/** What a completed renewal leaves to do. */
export interface Completion {
  /** A token set to persist; then call `delivered(id)`. */
  renewed?: { tokens: TokenSet; refreshTokenRotated: boolean };
  /** Why the renewal failed (for logs: callers learn through `waited`/`next`). */
  error?: GrantlineError;
}

/** What a redacted view shows for a secret: whether it exists, never its value. */
export type Redacted = '[redacted]';

/**
 * `tokens.toJSON()`: what `JSON.stringify(tokens)`, structured loggers and `console.log` show.
 * Every secret is `'[redacted]'` (`null` when absent). Persist with `serialize()` instead.
 */
export interface TokenSetView {
  accessToken: Redacted;
  tokenType: string;
  /** Unix seconds, `null` when unknown. */
  expiresAt: number | null;
  scopes: string[] | null;
  /** Whether there is a refresh token: `'[redacted]'`, or `null`. */
  refreshToken: Redacted | null;
  idToken: Redacted | null;
  issuedAt: number;
  expirySource: 'expires_in' | 'expires' | 'unverified_jwt_exp' | 'unknown';
  /** RFC 8693's `issued_token_type`, `null` when absent. */
  issuedTokenType: string | null;
  /** The names of the members grantline does not know; their values may be secrets. */
  extra: Record<string, Redacted>;
}

/** `pending.toJSON()`: the redacted view. Store it with `serialize()` instead. */
export interface PendingAuthorizationView {
  state: Redacted;
  codeVerifier: Redacted | null;
  redirectUri: string | null;
  nonce: Redacted | null;
  maxAge: number | null;
}

/** `authorization.toJSON()`: the URL with its `state` redacted, and the pending record's view. */
export interface AuthorizationView {
  url: string;
  pending: PendingAuthorizationView;
}

/** `grant.toJSON()`: the redacted view of a code grant. */
export interface CodeGrantView {
  code: Redacted;
  codeVerifier: Redacted | null;
  redirectUri: string | null;
}

/** `device.toJSON()`: the device authorization without its device code. */
export interface DeviceAuthorizationView {
  deviceCode: Redacted;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | null;
  expiresAt: number | null;
  interval: number;
}

/** `client.toJSON()`: the client without its secret. */
export interface ClientView {
  /** The provider's name. */
  provider: string;
  clientId: string;
  clientSecret: Redacted | null;
  redirectUri: string | null;
  authMethod: AuthMethod | null;
  /** The whole-request deadline in milliseconds, `null` for none. */
  timeout: number | null;
  signingKey: SigningKeyView | null;
}

/** `provider.toJSON()`. */
export interface ProviderView {
  name: string;
  issuer: string | null;
  authorizationEndpoint: string | null;
  /** Grant → token endpoint, for the grants the provider supports. */
  tokenEndpoints: Partial<Record<Grant, string>>;
  introspectionEndpoint: string | null;
  revocationEndpoint: string | null;
  deviceAuthorizationEndpoint: string | null;
  grants: Grant[];
  authMethod: AuthMethod | null;
  bodyEncoding: 'form' | 'json';
  /** A parameter with a secret's name shows `'[redacted]'`. */
  extraTokenParams: [string, string][];
}

/** `session.toJSON()` (a `TokenSession` or a `SessionState`). */
export interface SessionView {
  client: ClientView;
  renewing: boolean;
  failures: number;
  retryAt: number | null;
  tokens: TokenSetView | null;
}

/** An introspection answer (RFC 7662). */
export interface Introspection {
  active: boolean;
  scopes?: string[];
  clientId?: string;
  username?: string;
  tokenType?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  iss?: string;
  extra: Record<string, unknown>;
}

/** What one device poll's answer means. */
export type DevicePoll =
  | { poll: 'tokens'; tokenSet: TokenSet }
  | { poll: 'pending' | 'slow_down'; interval: number }
  | { poll: 'expired' | 'denied' };

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge { scheme: string; token68?: string; params: [string, string][] }

/** What a `Bearer` challenge says (RFC 6750 §3). */
export interface BearerChallenge {
  realm?: string;
  scope?: string[];
  error?: string;
  errorDescription?: string;
  errorUri?: string;
}

export interface Provider {
  /** Parses an answer of this provider's token endpoint (`scope` also split on its own separator). */
  parseTokenResponse(response: HttpResponse, now?: number): TokenSet;
  /** Reads a fetch `Response` (at most 1 MiB + 1 byte), then parses it. */
  parseTokenResponse(response: Response, now?: number): Promise<TokenSet>;
}

/** Parses a token endpoint response received at `now` (Unix seconds; default: now). */
export function parseTokenResponse(response: HttpResponse, now?: number): TokenSet;
/** Reads a fetch `Response` (at most 1 MiB + 1 byte), then parses it. */
export function parseTokenResponse(response: Response, now?: number): Promise<TokenSet>;
/** Parses an introspection response (RFC 7662); `{ active: false }` is an answer, not an error. */
export function parseIntrospectionResponse(response: HttpResponse): Introspection;
export function parseIntrospectionResponse(response: Response): Promise<Introspection>;
/** Checks a revocation response (RFC 7009): `true`, or throws the error it carries. */
export function checkRevocationResponse(response: HttpResponse): true;
export function checkRevocationResponse(response: Response): Promise<true>;
/** Parses a device authorization response (RFC 8628 §3.2) received at `now`. */
export function parseDeviceAuthorizationResponse(response: HttpResponse, now?: number): DeviceAuthorization;
export function parseDeviceAuthorizationResponse(response: Response, now?: number): Promise<DeviceAuthorization>;
/** What one device poll's answer means, polling every `interval` seconds so far. */
export function parseDevicePollResponse(response: HttpResponse, interval: number, now?: number): DevicePoll;
export function parseDevicePollResponse(response: Response, interval: number, now?: number): Promise<DevicePoll>;
"#;
