/** Fields every grantline error carries. */
export interface GrantlineErrorFields {
  /**
   * A short, stable name of what went wrong: `oauth`, `malformed`, `unexpected_status`,
   * `state_mismatch`, `issuer_mismatch`, `insecure_endpoint`, `missing_endpoint`,
   * `unsupported_grant`, `reauthorization_required`, `unexpected_response`, `invalid_input`,
   * `transport`, `random`.
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
}
/** The authorization server said no (an OAuth `error` response, or a callback's `error`). */
export class OAuthError extends GrantlineError { code: string }
/** The server answered something that is neither a valid answer nor an OAuth error. */
export class MalformedResponseError extends GrantlineError {}
/** The configuration or an argument is wrong (bad option, missing endpoint, insecure URL...). */
export class ConfigurationError extends GrantlineError {}
/** The callback does not answer the pending authorization (state or issuer mismatch). */
export class StateMismatchError extends GrantlineError {}
/** The token can no longer be renewed: the user must authorize again. */
export class ReauthorizationRequiredError extends GrantlineError {}
/** fetch failed, or the server answered with a redirect (never followed). */
export class TransportError extends GrantlineError {}
