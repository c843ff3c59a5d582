/** Fields every grantline error carries. */
export interface GrantlineErrorFields {
  /**
   * A short, stable name of what went wrong: `oauth`, `malformed`, `unexpected_status`,
   * `state_mismatch`, `issuer_mismatch`, `insecure_endpoint`, `missing_endpoint`,
   * `unsupported_grant`, `unsupported_auth_method`, `unsupported_token_type`, `unusable_token`,
   * `reauthorization_required`, `unexpected_response`, `invalid_input`, `transport`, `random`,
   * `jws`, `id_token`, `invalid_key`, `store`.
   */
  kind: string;
  /** Who is at fault: the `server` said no, its `response` was nonsense, the `caller`, or the `transport`. */
  fault: 'server' | 'response' | 'caller' | 'transport';
  /** The OAuth `error` code (`OAuthError` only), e.g. `invalid_grant`. */
  code?: string;
  /** The HTTP status behind the error, when there was a response. */
  status?: number;
  /** The OAuth `error_description`, when given. */
  description?: string;
  /** The OAuth `error_uri`, when given. */
  uri?: string;
  /** The start of a non-JSON, non-form body (an HTML error page...), secret-free. */
  excerpt?: string;
  /** The missing endpoint (`kind` `missing_endpoint`). */
  endpoint?: string;
  /** The unsupported grant (`kind` `unsupported_grant`). */
  grant?: string;
  /** The methods the provider's metadata offered (`kind` `unsupported_auth_method`). */
  offered?: string[];
  /** The token type received (`kind` `unsupported_token_type`: `DPoP`, `N_A`...). */
  tokenType?: string;
  /** Why a JWS was refused (`kind` `jws`): `malformed`, `too_large`, `alg_none`, `algorithm_not_accepted`, `unsupported_critical`, `unencoded_payload`, `no_matching_key`, `key_mismatch`, `bad_signature`. */
  problem?: string;
  /** The ID token claim refused (`kind` `id_token`): `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash`, `c_hash`, `auth_time`, `sub`, `alg`, `typ`... */
  claim?: string;
}

/** Base class of every error grantline throws. No message ever contains a secret. */
export class GrantlineError extends Error implements GrantlineErrorFields {
  kind: string;
  fault: 'server' | 'response' | 'caller' | 'transport';
  code?: string;
  status?: number;
  description?: string;
  uri?: string;
  excerpt?: string;
  endpoint?: string;
  grant?: string;
  offered?: string[];
  tokenType?: string;
  problem?: string;
  claim?: string;
}
/** The authorization server said no (an OAuth `error` response, or a callback's `error`). */
export class OAuthError extends GrantlineError { code: string }
/**
 * The server answered something that is neither a valid answer nor an OAuth error (also kind
 * `unusable_token`: a token the session cannot use, such as the one the API just refused).
 */
export class MalformedResponseError extends GrantlineError {}
/**
 * The configuration or an argument is wrong (bad option, missing endpoint, insecure URL, a
 * provider offering only client authentication methods grantline does not speak, a token type
 * grantline cannot send...).
 */
export class ConfigurationError extends GrantlineError {}
/**
 * The callback does not answer the pending authorization (state or issuer mismatch), or a
 * discovery document names another issuer than the one asked for (kind `issuer_mismatch`).
 */
export class StateMismatchError extends GrantlineError {}
/** The token can no longer be renewed: the user must authorize again. */
export class ReauthorizationRequiredError extends GrantlineError {}
/** fetch failed, the whole-request deadline passed, the call was aborted, or the server answered with a redirect (never followed). */
export class TransportError extends GrantlineError {}
/** A JWS or an ID token was refused: kind `jws` (with `problem`) or `id_token` (with `claim`). Never carries the token. */
export class TokenValidationError extends GrantlineError {}
/**
 * A shared session's store (`store` and `fleet` options) could not be used: unreachable, too
 * slow, or holding an entry this process cannot read (kind `store`, fault `transport`). A
 * caller sees it only when no usable token is left and renewing without the store is not safe
 * (a refresh: other processes hold the same refresh token).
 */
export class StoreError extends GrantlineError {}
