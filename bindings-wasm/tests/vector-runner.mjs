// The runner of the shared vectors (tests/vectors/*.json) through the npm package's public API,
// as a user imports it (`grantline`), in any runtime: no Node API, no file access. The format is
// documented in tests/vectors/README.md; this runner interprets every kind and field like the
// reference runner (core/tests/vectors.rs), refuses unknown kinds and fields, and lists each
// failing vector with what differed. `vectors.test.mjs` runs it under `node --test` (and Deno's
// and Bun's test runners); the Worker of runtimes/workerd runs it with the files as modules.
import * as g from 'grantline';

const COMMON = ['name', 'kind', 'source', 'note'];
const ERROR_FIELDS = ['kind', 'code', 'description', 'uri', 'status', 'excerpt', 'grant', 'endpoint', 'claim', 'problem'];
const ALL_ALGS = ['HS256', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
export const MIN_SEED = 37;
export const MIN_EXTRA = 40;
const SEED_FILES = ['libro.json', 'bindeo.json', 'bookable.json', 'apicbase.json', 'booking-experts.json'];

/** A broken vector (as opposed to an error of the API under test). */
class VectorError extends Error {}

function fields(value, what, allowed) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new VectorError(`${what}: not a JSON object`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new VectorError(`${what}: unknown field \`${key}\``);
  }
  const f = {
    has: (k) => Object.hasOwn(value, k),
    get: (k) => value[k],
    value(k) {
      if (!f.has(k)) throw new VectorError(`${what}: missing field \`${k}\``);
      return value[k];
    },
    str(k) {
      const v = f.value(k);
      if (typeof v !== 'string') throw new VectorError(`${what}: \`${k}\` is not a string`);
      return v;
    },
    optStr(k) {
      const v = value[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') throw new VectorError(`${what}: \`${k}\` is not a string or null`);
      return v;
    },
    nullableStr(k) {
      f.value(k);
      return f.optStr(k);
    },
    uint(k) {
      const v = f.value(k);
      if (!Number.isInteger(v) && !(typeof v === 'number' && v >= 2 ** 53) || v < 0) {
        throw new VectorError(`${what}: \`${k}\` is not a non-negative integer`);
      }
      return v;
    },
    strings(k) {
      const v = value[k];
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
        throw new VectorError(`${what}: \`${k}\` is not a list of strings`);
      }
      return v;
    },
    pairs(k) {
      const v = value[k];
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((p) => !Array.isArray(p) || p.length !== 2 || p.some((s) => typeof s !== 'string'))) {
        throw new VectorError(`${what}: \`${k}\` is not a list of [name, value] pairs`);
      }
      return v;
    },
    bool(k) {
      const v = value[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'boolean') throw new VectorError(`${what}: \`${k}\` is not a boolean`);
      return v;
    },
  };
  return f;
}

// ---------------------------------------------------------------------------------- inputs

const CUSTOM = {
  name: 'name', issuer: 'issuer', authorization_endpoint: 'authorizationEndpoint',
  token_endpoint: 'tokenEndpoint', token_endpoints_by_grant: 'tokenEndpoints',
  introspection_endpoint: 'introspectionEndpoint', revocation_endpoint: 'revocationEndpoint',
  device_authorization_endpoint: 'deviceAuthorizationEndpoint', body_encoding: 'bodyEncoding',
  auth_method: 'authMethod', scope_separator: 'scopeSeparator', extra_token_params: 'extraTokenParams',
  default_skew: 'defaultSkew', grants: 'grants', unsolicited_callbacks: 'unsolicitedCallbacks',
  iss_parameter_supported: 'issParameterSupported', jwks_uri: 'jwksUri', userinfo_endpoint: 'userinfoEndpoint',
  end_session_endpoint: 'endSessionEndpoint', id_token_algorithms: 'idTokenAlgorithms', assertion_audience: 'assertionAudience',
};
const PRESETS = ['libro', 'libro-staging', 'bindeo', 'bookable', 'apicbase', 'booking-experts', 'google', 'github'];
// The parameterised presets: their fields, and the call.
const PARAM_PRESETS = {
  bookable: [['audience'], (f) => g.Provider.bookable(f.str('audience'))],
  entra: [['tenant'], (f) => g.Provider.entra(f.str('tenant'))],
  okta: [['domain', 'authorization_server'], (f) => g.Provider.okta(f.str('domain'), f.optStr('authorization_server'))],
  auth0: [['domain', 'audience'], (f) => g.Provider.auth0(f.str('domain'), f.optStr('audience'))],
  keycloak: [['base_url', 'realm'], (f) => g.Provider.keycloak(f.str('base_url'), f.str('realm'))],
};

function provider(spec) {
  const f = fields(spec, 'provider', ['preset', 'audience', 'tenant', 'domain', 'authorization_server', 'base_url', 'realm', 'custom', 'metadata']);
  const forms = ['preset', 'custom', 'metadata'].filter((k) => f.has(k));
  if (forms.length !== 1) throw new VectorError('provider: exactly one of `preset`, `custom`, `metadata`');
  if (f.has('preset')) {
    const name = f.str('preset');
    const extra = Object.keys(spec).filter((k) => k !== 'preset');
    if (Object.hasOwn(PARAM_PRESETS, name) && (name !== 'bookable' || extra.length)) {
      const [allowed, make] = PARAM_PRESETS[name];
      return make(fields(spec, `provider (${name})`, ['preset', ...allowed]));
    }
    if (extra.length) throw new VectorError(`provider: preset ${name} takes no ${extra}`);
    if (!PRESETS.includes(name)) throw new VectorError(`provider: unknown preset ${name}`);
    return g.Provider.preset(name);
  }
  if (f.has('custom')) {
    const c = fields(f.get('custom'), 'provider.custom', Object.keys(CUSTOM));
    const options = {};
    for (const [key, option] of Object.entries(CUSTOM)) {
      if (!c.has(key)) continue;
      if (key === 'extra_token_params') options[option] = c.pairs(key);
      else if (key === 'grants' || key === 'id_token_algorithms') options[option] = c.strings(key);
      else if (key === 'default_skew') options[option] = c.uint(key);
      else if (key === 'unsolicited_callbacks' || key === 'iss_parameter_supported') options[option] = c.bool(key);
      else if (key === 'token_endpoints_by_grant') {
        const v = c.get(key);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new VectorError('token_endpoints_by_grant is not an object');
        options[option] = v;
      } else options[option] = c.optStr(key);
    }
    return g.Provider.custom(options);
  }
  const doc = f.get('metadata');
  if (typeof doc !== 'string') throw new VectorError('provider: `metadata` is not a string');
  return g.Provider.fromMetadata(doc);
}

function client(p, spec) {
  const f = fields(spec, 'client', ['client_id', 'client_secret', 'redirect_uri', 'auth_method', 'signing_key']);
  const options = {};
  if (f.has('signing_key')) options.signingKey = g.SigningKey.fromJwk(f.str('signing_key'));
  if (f.optStr('client_secret') !== undefined) options.clientSecret = f.optStr('client_secret');
  if (f.optStr('redirect_uri') !== undefined) options.redirectUri = f.optStr('redirect_uri');
  if (f.optStr('auth_method') !== undefined) options.authMethod = f.optStr('auth_method');
  return new g.Client(p, f.str('client_id'), options);
}

function response(spec) {
  const f = fields(spec, 'response', ['status', 'headers', 'body', 'body_base64', 'body_repeat']);
  const headers = {};
  if (f.has('headers')) {
    const h = f.get('headers');
    if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new VectorError('response: `headers` is not an object');
    for (const [name, value] of Object.entries(h)) {
      if (name !== name.toLowerCase()) throw new VectorError(`response: header name ${name} is not lowercase`);
      if (typeof value !== 'string' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
        throw new VectorError(`response: header ${name} is not a string or list`);
      }
      headers[name] = value;
    }
  }
  const bodies = ['body', 'body_base64', 'body_repeat'].filter((k) => f.has(k));
  if (bodies.length !== 1) throw new VectorError('response: exactly one of `body`, `body_base64`, `body_repeat`');
  let body;
  if (f.has('body')) body = f.str('body');
  else if (f.has('body_base64')) body = fromBase64(f.str('body_base64'));
  else {
    const r = fields(f.get('body_repeat'), 'body_repeat', ['prefix', 'text', 'count', 'suffix']);
    body = (r.optStr('prefix') ?? '') + r.str('text').repeat(r.uint('count')) + (r.optStr('suffix') ?? '');
  }
  return { status: f.uint('status'), headers, body };
}

// ---------------------------------------------------------------------------------- outputs

const orNull = (v) => (v === undefined ? null : v);
const sorted = (list) => [...list].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function requestJson(r) {
  // An absent body is the empty body.
  return { method: r.method, url: r.url, headers: { ...r.headers }, body: r.body ?? '' };
}

function tokenSetJson(t) {
  return {
    access_token: t.accessToken,
    token_type: t.tokenType,
    refresh_token: orNull(t.refreshToken),
    id_token: orNull(t.idToken),
    expires_at: orNull(t.expiresAt),
    expiry_source: t.expirySource,
    scopes: orNull(t.scopes),
    extra_names: sorted(Object.keys(t.extra)),
  };
}

function providerJson(p) {
  const tokenEndpoints = {};
  for (const grant of p.grants) tokenEndpoints[grant] = orNull(p.tokenEndpoint(grant));
  return {
    name: p.name,
    issuer: orNull(p.issuer),
    authorization_endpoint: orNull(p.authorizationEndpoint),
    token_endpoints: tokenEndpoints,
    introspection_endpoint: orNull(p.introspectionEndpoint),
    revocation_endpoint: orNull(p.revocationEndpoint),
    device_authorization_endpoint: orNull(p.deviceAuthorizationEndpoint),
    body_encoding: p.bodyEncoding,
    auth_method: orNull(p.authMethod),
    scope_separator: p.scopeSeparator,
    extra_token_params: p.extraTokenParams,
    default_skew: p.defaultSkew,
    grants: sorted(p.grants),
    unsolicited_callbacks: p.unsolicitedCallbacks,
    iss_parameter_supported: p.issParameterSupported,
  };
}

function pendingJson(p, oidc) {
  const stored = JSON.parse(p.serialize());
  const out = {
    state: orNull(stored.state),
    code_verifier: orNull(stored.code_verifier),
    redirect_uri: orNull(stored.redirect_uri),
    issuer: orNull(stored.issuer),
    require_iss: stored.require_iss ?? false,
  };
  if (oidc) {
    out.nonce = orNull(stored.nonce);
    out.max_age = orNull(stored.max_age);
    // The getters agree with what is stored.
    if (orNull(p.nonce) !== out.nonce || orNull(p.maxAge) !== out.max_age) out.nonce = 'getters disagree with serialize()';
  }
  return out;
}

const grantJson = (c) => ({ code: c.code, code_verifier: orNull(c.codeVerifier), redirect_uri: orNull(c.redirectUri) });

function introspectionJson(i) {
  return {
    active: i.active, scopes: orNull(i.scopes), client_id: orNull(i.clientId), username: orNull(i.username),
    token_type: orNull(i.tokenType), exp: orNull(i.exp), iat: orNull(i.iat), sub: orNull(i.sub),
    iss: orNull(i.iss), extra_names: sorted(Object.keys(i.extra)),
  };
}

function deviceJson(d) {
  return {
    device_code: d.deviceCode, user_code: d.userCode, verification_uri: d.verificationUri,
    verification_uri_complete: orNull(d.verificationUriComplete), expires_at: orNull(d.expiresAt), interval: d.interval,
  };
}

function pollJson(p) {
  if (p.poll === 'tokens') return { poll: 'tokens', token_set: tokenSetJson(p.tokenSet) };
  if (p.poll === 'pending' || p.poll === 'slow_down') return { poll: p.poll, interval: p.interval };
  return { poll: p.poll };
}

function errorJson(e) {
  return {
    kind: e.kind, code: orNull(e.code), description: orNull(e.description), uri: orNull(e.uri),
    status: orNull(e.status), excerpt: orNull(e.excerpt), grant: orNull(e.grant), endpoint: orNull(e.endpoint),
    claim: orNull(e.claim), problem: orNull(e.problem),
  };
}

function claimsJson(c) {
  return {
    sub: c.sub, iss: c.issuer, aud: c.audiences, azp: orNull(c.azp), nonce: orNull(c.nonce),
    auth_time: orNull(c.authTime), acr: orNull(c.acr), amr: orNull(c.amr), exp: c.expiresAt, iat: c.issuedAt,
    claim_names: sorted(Object.keys(c.claims)),
  };
}

function oidcPending(spec) {
  fields(spec, 'pending', ['state', 'code_verifier', 'redirect_uri', 'issuer', 'require_iss', 'nonce', 'max_age']);
  return g.PendingAuthorization.deserialize(JSON.stringify(spec));
}

/** `client.idTokenCheck(pending)` / `refreshIdTokenCheck()` with the vector's `check` changes. */
function oidcCheck(c, pending, spec) {
  const options = {};
  if (spec !== undefined) {
    const f = fields(spec, 'check', ['leeway', 'algorithms', 'access_token', 'code']);
    if (f.has('leeway')) options.leeway = f.uint('leeway');
    if (f.has('algorithms')) options.algorithms = f.strings('algorithms');
    if (f.has('access_token')) options.accessToken = f.str('access_token');
    if (f.has('code')) options.code = f.str('code');
  }
  return pending === undefined ? c.refreshIdTokenCheck(options) : c.idTokenCheck(pending, options);
}

function tokenInput(f) {
  if (f.has('token') === f.has('token_repeat')) throw new VectorError('exactly one of `token` and `token_repeat`');
  if (f.has('token')) return f.str('token');
  const r = fields(f.get('token_repeat'), 'token_repeat', ['prefix', 'text', 'count', 'suffix']);
  return (r.optStr('prefix') ?? '') + r.str('text').repeat(r.uint('count')) + (r.optStr('suffix') ?? '');
}

/** `expect_assertion`: the client assertion of a body, verified with the client's key, and the body with it replaced. */
function assertionOf(request, c, clientSpec) {
  const body = request.body ?? '';
  const m = /client_assertion(?:=|":")([A-Za-z0-9_.-]+)/.exec(body);
  if (!m) return { request, assertion: null, error: 'no client_assertion in the body' };
  const jws = m[1];
  if (body.split(jws).length !== 2) return { request, assertion: null, error: 'the assertion occurs more than once' };
  let keys;
  if (c.authMethod === 'private_key_jwt') {
    keys = g.JwkSet.fromJwk(g.SigningKey.fromJwk(clientSpec.signing_key).publicJwk());
  } else {
    keys = g.JwkSet.fromJwk({ kty: 'oct', k: toBase64url(new TextEncoder().encode(clientSpec.client_secret)) });
  }
  const verified = keys.verify(jws, ALL_ALGS);
  const claims = verified.claims();
  if (typeof claims.jti !== 'string' || !claims.jti) return { request, assertion: null, error: 'no jti' };
  delete claims.jti;
  return { request: { ...request, body: body.replace(jws, 'ASSERTION') }, assertion: { header: verified.header, claims } };
}

// ---------------------------------------------------------------------------------- judging

function diff(path, expected, actual, out) {
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object'
      && Array.isArray(expected) === Array.isArray(actual)) {
    if (Array.isArray(expected)) {
      if (expected.length !== actual.length) {
        out.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
        return;
      }
      expected.forEach((v, i) => diff(`${path}[${i}]`, v, actual[i], out));
      return;
    }
    for (const k of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      diff(`${path}.${k}`, orNull(expected[k]), orNull(actual[k]), out);
    }
    return;
  }
  if (!Object.is(expected, actual)) {
    out.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** The differences between an expected error object and a thrown error (only the fields listed). */
function errorDiffs(path, expectError, e) {
  if (!(e instanceof g.GrantlineError)) throw new Error(`not a GrantlineError: ${e && e.stack}`);
  const ef = fields(expectError, path, ERROR_FIELDS);
  ef.str('kind');
  const actual = errorJson(e);
  const diffs = [];
  for (const k of Object.keys(expectError)) diff(`${path}.${k}`, expectError[k], actual[k], diffs);
  if (diffs.length) diffs.push(`(the error: ${e.message})`);
  return diffs;
}

function judge(f, required, optional, run) {
  const expectError = f.get('expect_error');
  const present = [...required, ...optional].filter((k) => f.has(k));
  if (expectError !== undefined && present.length) throw new VectorError(`both expect_error and ${present}`);
  if (expectError === undefined && !present.length) throw new VectorError(`no expectation: one of expect_error or ${required}`);
  if (expectError === undefined) {
    const missing = required.find((k) => !f.has(k));
    if (missing) throw new VectorError(`the vector is missing \`${missing}\``);
  }
  let out;
  try {
    out = run();
  } catch (e) {
    if (e instanceof VectorError) throw e;
    if (!(e instanceof g.GrantlineError)) throw new Error(`not a GrantlineError: ${e && e.stack}`);
    if (expectError === undefined) return [`unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`];
    return errorDiffs('expect_error', expectError, e);
  }
  if (expectError !== undefined) return [`expected the error ${JSON.stringify(expectError)}, but it succeeded with ${JSON.stringify(out)}`];
  const diffs = [];
  for (const k of present) diff(k, f.value(k), orNull(out[k]), diffs);
  return diffs;
}

const withCommon = (list) => [...COMMON, ...list];

function buildRequest(c, spec, now) {
  if (spec === null || typeof spec !== 'object') throw new VectorError('call: not an object');
  const type = spec.type;
  const call = (allowed) => fields(spec, `call (${type})`, [...allowed, 'params']);
  const opts = (f) => (f.has('params') ? { params: f.pairs('params'), now } : { now });
  switch (type) {
    case 'client_credentials': { const f = call(['type', 'scopes']); f.value('scopes'); return c.clientCredentialsRequest(f.strings('scopes'), opts(f)); }
    case 'password': { const f = call(['type', 'username', 'password', 'scopes']); f.value('scopes'); return c.passwordRequest(f.str('username'), f.str('password'), f.strings('scopes'), opts(f)); }
    case 'refresh_token': { const f = call(['type', 'refresh_token', 'scopes']); f.value('scopes'); return c.refreshRequest(f.str('refresh_token'), f.strings('scopes'), opts(f)); }
    case 'authorization_code': {
      const f = call(['type', 'code', 'code_verifier', 'redirect_uri']);
      return c.authorizationCodeRequest(new g.CodeGrant(f.str('code'), f.nullableStr('code_verifier'), f.nullableStr('redirect_uri')), opts(f));
    }
    case 'device_code': { const f = call(['type', 'device_code']); return c.deviceTokenRequest(f.str('device_code'), opts(f)); }
    case 'device_authorization': {
      const f = fields(spec, 'call (device_authorization)', ['type', 'scopes']); f.value('scopes');
      return c.deviceAuthorizationRequest(f.strings('scopes'), { now });
    }
    case 'introspection': {
      const f = fields(spec, 'call (introspection)', ['type', 'token', 'token_type_hint', 'refresh_token']);
      const options = { now };
      if (f.nullableStr('token_type_hint') !== undefined) options.hint = f.optStr('token_type_hint');
      if (f.nullableStr('refresh_token') !== undefined) options.refreshToken = f.optStr('refresh_token');
      return c.introspectionRequest(f.str('token'), options);
    }
    case 'revocation': {
      const f = fields(spec, 'call (revocation)', ['type', 'token', 'token_type_hint']);
      return c.revocationRequest(f.str('token'), f.nullableStr('token_type_hint'), { now });
    }
    case 'grant': {
      const f = call(['type', 'grant_type', 'scopes']);
      return c.grantRequest(f.str('grant_type'), { scopes: f.strings('scopes'), ...opts(f) });
    }
    case 'jwt_bearer': {
      const f = call(['type', 'assertion', 'scopes']);
      return c.jwtBearerRequest(f.str('assertion'), { scopes: f.strings('scopes'), ...opts(f) });
    }
    case 'token_exchange': {
      const f = call(['type', 'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'resource', 'audience', 'scopes']);
      const exchange = {};
      const names = { subject_token: 'subjectToken', subject_token_type: 'subjectTokenType', actor_token: 'actorToken', actor_token_type: 'actorTokenType', requested_token_type: 'requestedTokenType' };
      for (const [k, o] of Object.entries(names)) if (f.has(k)) exchange[o] = f.str(k);
      for (const [k, o] of [['resource', 'resource'], ['audience', 'audience'], ['scopes', 'scopes']]) if (f.has(k)) exchange[o] = f.strings(k);
      return c.tokenExchangeRequest(exchange, opts(f));
    }
    default: throw new VectorError(`call: unknown type ${type}`);
  }
}

function hexBytes(hex) {
  if (!/^(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{192})$/.test(hex)) throw new VectorError('seed_hex: not 128 or 192 hex digits');
  return fromHex(hex);
}

const KINDS = {
  provider(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'expect_provider', 'expect_assertion_audience', 'expect_error']));
    return judge(f, ['expect_provider'], ['expect_assertion_audience'], () => {
      const p = provider(f.value('provider'));
      return { expect_provider: providerJson(p), expect_assertion_audience: p.assertionAudience };
    });
  },
  provider_oidc(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'expect_oidc', 'expect_error']));
    return judge(f, ['expect_oidc'], [], () => {
      const p = provider(f.value('provider'));
      return {
        expect_oidc: {
          jwks_uri: orNull(p.jwksUri), userinfo_endpoint: orNull(p.userinfoEndpoint),
          end_session_endpoint: orNull(p.endSessionEndpoint), id_token_algorithms: p.idTokenAlgorithms,
        },
      };
    });
  },
  request(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'call', 'now', 'expect_request', 'expect_assertion', 'expect_error']));
    return judge(f, ['expect_request'], ['expect_assertion'], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const now = f.has('now') ? f.uint('now') : 0;
      const r = requestJson(buildRequest(c, f.value('call'), now));
      if (!f.has('expect_assertion')) return { expect_request: r };
      const a = assertionOf(r, c, f.value('client'));
      if (a.error) return { expect_request: r, expect_assertion: a.error };
      return { expect_request: a.request, expect_assertion: a.assertion };
    });
  },
  jws_verify(v) {
    const f = fields(v, 'vector', withCommon(['keys', 'key', 'token', 'token_repeat', 'algorithms', 'expect_jws', 'expect_error']));
    if (f.has('keys') === f.has('key')) throw new VectorError('exactly one of `keys` and `key`');
    return judge(f, ['expect_jws'], [], () => {
      const set = f.has('keys') ? g.JwkSet.fromJson(f.str('keys')) : g.JwkSet.fromJwk(f.str('key'));
      const j = set.verify(tokenInput(f), f.strings('algorithms'));
      return { expect_jws: { alg: j.algorithm, kid: orNull(j.kid), payload: new TextDecoder().decode(j.payload) } };
    });
  },
  jwk_set(v) {
    const f = fields(v, 'vector', withCommon(['keys', 'expect_keys', 'expect_skipped', 'expect_error']));
    return judge(f, ['expect_keys', 'expect_skipped'], [], () => {
      const set = g.JwkSet.fromJson(f.str('keys'));
      return { expect_keys: set.keys, expect_skipped: set.skipped };
    });
  },
  jws_sign(v) {
    const f = fields(v, 'vector', withCommon(['signing_key', 'signing_key_pem', 'algorithm', 'kid', 'header', 'payload', 'expect_token', 'expect_verified_by', 'expect_header', 'expect_error']));
    if (f.has('signing_key') === f.has('signing_key_pem')) throw new VectorError('exactly one of `signing_key` and `signing_key_pem`');
    const deterministic = f.has('expect_token');
    return judge(f, deterministic ? ['expect_token'] : ['expect_verified_by', 'expect_header'], [], () => {
      let key = f.has('signing_key') ? g.SigningKey.fromJwk(f.str('signing_key')) : g.SigningKey.fromPem(f.str('signing_key_pem'));
      if (f.has('algorithm')) key = key.withAlgorithm(f.str('algorithm'));
      if (f.has('kid')) key = key.withKid(f.str('kid'));
      const header = f.value('header');
      const token = key.signPayload(f.str('payload'), header);
      if (deterministic) return { expect_token: token };
      const verified = g.JwkSet.fromJwk(f.str('expect_verified_by')).verify(token, ALL_ALGS);
      const payload = new TextDecoder().decode(verified.payload);
      return {
        expect_verified_by: payload === f.str('payload') ? f.str('expect_verified_by') : `payload differs: ${payload}`,
        expect_header: verified.header,
      };
    });
  },
  id_token(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'pending', 'check', 'jwks', 'token', 'now', 'expect_claims', 'expect_error']));
    return judge(f, ['expect_claims'], [], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const check = oidcCheck(c, oidcPending(f.value('pending')), f.get('check'));
      const verified = g.JwkSet.fromJson(f.str('jwks')).verify(f.str('token'), check.algorithms);
      return { expect_claims: claimsJson(check.validate(verified, f.uint('now'))) };
    });
  },
  id_token_refresh(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'pending', 'check', 'jwks', 'previous_token', 'previous_now', 'token', 'now', 'expect_claims', 'expect_error']));
    return judge(f, ['expect_claims'], [], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const keys = g.JwkSet.fromJson(f.str('jwks'));
      const first = c.idTokenCheck(oidcPending(f.value('pending')));
      const previous = first.validate(keys.verify(f.str('previous_token'), first.algorithms), f.uint('previous_now'));
      const check = oidcCheck(c, undefined, f.get('check'));
      return { expect_claims: claimsJson(check.validateRefreshed(keys.verify(f.str('token'), check.algorithms), previous, f.uint('now'))) };
    });
  },
  userinfo_request(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'access_token', 'expect_request', 'expect_error']));
    return judge(f, ['expect_request'], [], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      return { expect_request: requestJson(c.userinfoRequest(f.str('access_token'))) };
    });
  },
  userinfo_response(v) {
    const f = fields(v, 'vector', withCommon(['response', 'expected_sub', 'signed', 'expect_userinfo', 'expect_error']));
    return judge(f, ['expect_userinfo'], [], () => {
      const answer = g.parseUserinfoResponse(response(f.value('response')), f.str('expected_sub'));
      let info = answer.userinfo;
      if (answer.signed !== undefined) {
        if (!f.has('signed')) throw new VectorError('a signed answer needs `signed`');
        const s = fields(f.get('signed'), 'signed', ['jwks', 'algorithms', 'issuer', 'client_id']);
        const verified = g.JwkSet.fromJson(s.str('jwks')).verify(answer.signed, s.strings('algorithms'));
        info = g.UserInfo.fromVerified(verified, f.str('expected_sub'), s.str('issuer'), s.str('client_id'));
      }
      return { expect_userinfo: { signed: info.signed, sub: info.sub, claim_names: sorted(Object.keys(info.claims)) } };
    });
  },
  end_session_url(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'request', 'expect_url', 'expect_error']));
    return judge(f, ['expect_url'], [], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const r = fields(f.value('request'), 'request', ['id_token_hint', 'logout_hint', 'post_logout_redirect_uri', 'state', 'ui_locales', 'params']);
      const options = {};
      const names = { id_token_hint: 'idTokenHint', logout_hint: 'logoutHint', post_logout_redirect_uri: 'postLogoutRedirectUri', state: 'state', ui_locales: 'uiLocales' };
      for (const [k, o] of Object.entries(names)) if (r.has(k)) options[o] = r.str(k);
      if (r.has('params')) options.params = r.pairs('params');
      return { expect_url: c.endSessionUrl(options) };
    });
  },
  jwks_cache(v) {
    const f = fields(v, 'vector', withCommon(['jwks_uri', 'min_refetch', 'max_age', 'keys', 'steps']));
    const options = {};
    if (f.has('min_refetch')) options.minRefetch = f.uint('min_refetch');
    if (f.has('max_age')) options.maxAge = f.uint('max_age');
    if (f.has('keys')) {
      const k = fields(f.get('keys'), 'keys', ['jwks', 'fetched_at']);
      options.keys = g.JwkSet.fromJson(k.str('jwks'));
      options.fetchedAt = k.uint('fetched_at');
    }
    const cache = new g.JwksCache(f.str('jwks_uri'), options);
    const diffs = [];
    for (const [step, sf, where] of steps(f, JWKS_STEPS)) {
      if (step.op === 'request') {
        diff(`${where}.expect_request`, sf.value('expect_request'), requestJson(cache.request()), diffs);
        continue;
      }
      if (sf.has('expect') === sf.has('expect_error')) throw new VectorError(`${where}: exactly one of expect and expect_error`);
      let actual;
      try {
        if (step.op === 'verify') {
          const r = cache.verify(sf.str('token'), sf.strings('algorithms'), sf.uint('now'));
          actual = r.next === 'fetch' ? 'fetch' : { verified: { alg: r.jws.algorithm, kid: orNull(r.jws.kid) } };
        } else {
          cache.receive(response(sf.value('response')), sf.uint('now'));
          actual = 'ok';
        }
      } catch (e) {
        if (e instanceof VectorError) throw e;
        if (!(e instanceof g.GrantlineError)) throw new Error(`${where}: not a GrantlineError: ${e && e.stack}`);
        if (!sf.has('expect_error')) { diffs.push(`${where}: unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`); continue; }
        diffs.push(...errorDiffs(`${where}.expect_error`, sf.get('expect_error'), e));
        continue;
      }
      if (sf.has('expect_error')) diffs.push(`${where}: expected the error ${JSON.stringify(sf.get('expect_error'))}, got ${JSON.stringify(actual)}`);
      else diff(`${where}.expect`, sf.value('expect'), actual, diffs);
    }
    return diffs;
  },
  authorization_url(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'request', 'seed_hex', 'expect_url', 'expect_pending', 'expect_error']));
    return judge(f, ['expect_url', 'expect_pending'], [], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const r = fields(f.value('request'), 'request', ['scopes', 'pkce', 'redirect_uri', 'params', 'nonce', 'max_age']);
      const options = { seed: hexBytes(f.str('seed_hex')) };
      if (r.has('nonce')) options.nonce = r.str('nonce');
      if (r.has('max_age')) options.maxAge = r.uint('max_age');
      if (r.has('scopes')) options.scopes = r.strings('scopes');
      if (r.has('pkce')) options.pkce = r.str('pkce');
      if (r.has('redirect_uri')) options.redirectUri = r.str('redirect_uri');
      if (r.has('params')) options.params = r.pairs('params');
      const a = c.authorizationUrl(options);
      const expected = f.get('expect_pending');
      const oidc = expected !== null && typeof expected === 'object' && Object.hasOwn(expected, 'nonce');
      return { expect_url: a.url, expect_pending: pendingJson(a.pending, oidc) };
    });
  },
  callback(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'callback', 'pending', 'unsolicited', 'expect_grant', 'expect_exchange_request', 'expect_error']));
    return judge(f, ['expect_grant'], ['expect_exchange_request'], () => {
      const c = client(provider(f.value('provider')), f.value('client'));
      const url = f.str('callback');
      let grant;
      if (f.has('pending') && !f.has('unsolicited')) {
        fields(f.get('pending'), 'pending', ['state', 'code_verifier', 'redirect_uri', 'issuer', 'require_iss']);
        const pending = g.PendingAuthorization.deserialize(JSON.stringify(f.get('pending')));
        grant = c.callback(pending, url);
      } else if (f.get('unsolicited') === true && !f.has('pending')) {
        grant = c.unsolicitedCallback(url);
      } else {
        throw new VectorError('callback: exactly one of `pending` and `"unsolicited": true`');
      }
      const out = { expect_grant: grantJson(grant) };
      if (f.has('expect_exchange_request')) out.expect_exchange_request = requestJson(c.authorizationCodeRequest(grant));
      return out;
    });
  },
  token_response(v) {
    const f = fields(v, 'vector', withCommon(['now', 'response', 'previous', 'provider', 'expect_token_set', 'expect_rotated', 'expect_issued_token_type', 'expect_error']));
    if (f.has('previous') !== f.has('expect_rotated') && !f.has('expect_error')) {
      throw new VectorError('`previous` and `expect_rotated` go together');
    }
    const required = f.has('previous') ? ['expect_token_set', 'expect_rotated'] : ['expect_token_set'];
    return judge(f, required, f.has('previous') ? ['expect_issued_token_type'] : ['expect_rotated', 'expect_issued_token_type'], () => {
      const r = response(f.value('response'));
      const tokens = f.has('provider')
        ? provider(f.value('provider')).parseTokenResponse(r, f.uint('now'))
        : g.parseTokenResponse(r, f.uint('now'));
      const out = {};
      if (f.has('previous')) {
        const p = fields(f.get('previous'), 'previous', ['refresh_token']);
        const old = new g.TokenSet({ accessToken: 'previous-access-token', refreshToken: p.nullableStr('refresh_token'), issuedAt: 0 });
        out.expect_rotated = tokens.inheritRefreshToken(old);
      }
      out.expect_token_set = tokenSetJson(tokens);
      out.expect_issued_token_type = orNull(tokens.issuedTokenType);
      return out;
    });
  },
  introspection_response(v) {
    const f = fields(v, 'vector', withCommon(['response', 'expect_introspection', 'expect_error']));
    return judge(f, ['expect_introspection'], [], () => ({ expect_introspection: introspectionJson(g.parseIntrospectionResponse(response(f.value('response')))) }));
  },
  revocation_response(v) {
    const f = fields(v, 'vector', withCommon(['response', 'expect_revoked', 'expect_error']));
    if (f.has('expect_revoked') && f.get('expect_revoked') !== true) throw new VectorError('`expect_revoked` must be true');
    return judge(f, ['expect_revoked'], [], () => ({ expect_revoked: g.checkRevocationResponse(response(f.value('response'))) }));
  },
  device_authorization_response(v) {
    const f = fields(v, 'vector', withCommon(['now', 'response', 'expect_device_authorization', 'expect_error']));
    return judge(f, ['expect_device_authorization'], [], () => ({
      expect_device_authorization: deviceJson(g.parseDeviceAuthorizationResponse(response(f.value('response')), f.uint('now'))),
    }));
  },
  device_poll_response(v) {
    const f = fields(v, 'vector', withCommon(['now', 'interval', 'response', 'expect_poll', 'expect_error']));
    return judge(f, ['expect_poll'], [], () => ({
      expect_poll: pollJson(g.parseDevicePollResponse(response(f.value('response')), f.uint('interval'), f.uint('now'))),
    }));
  },
  www_authenticate(v) {
    const f = fields(v, 'vector', withCommon(['response', 'expect_challenge', 'expect_needs_renewal', 'expect_challenges']));
    return judge(f, ['expect_challenge', 'expect_needs_renewal'], ['expect_challenges'], () => {
      const r = response(f.value('response'));
      const c = g.bearerChallenge(r.headers);
      const challenge = c === undefined ? null : {
        realm: orNull(c.realm), scope: orNull(c.scope), error: orNull(c.error),
        error_description: orNull(c.errorDescription), error_uri: orNull(c.errorUri),
      };
      const values = [r.headers['www-authenticate'] ?? []].flat();
      const challenges = values.flatMap((value) => g.parseWwwAuthenticate(value)).map((x) => ({
        scheme: x.scheme, token68: orNull(x.token68), params: x.params,
      }));
      return { expect_challenge: challenge, expect_needs_renewal: g.needsRenewal(r), expect_challenges: challenges };
    });
  },
  discovery(v) {
    const f = fields(v, 'vector', withCommon(['input', 'responses', 'expect_issuer', 'expect_urls', 'expect_provider', 'expect_error']));
    const responses = f.value('responses');
    if (!Array.isArray(responses)) throw new VectorError('`responses` is not a list');
    if (f.has('expect_provider') === f.has('expect_error')) throw new VectorError('exactly one of expect_provider and expect_error');
    let d;
    try {
      d = new g.Discovery(f.str('input'));
    } catch (e) {
      if (!(e instanceof g.GrantlineError)) throw new Error(`not a GrantlineError: ${e && e.stack}`);
      if (responses.length) throw new VectorError('the input fails, yet there are responses');
      if (!f.has('expect_error')) return [`new Discovery() failed: ${JSON.stringify(errorJson(e))} (${e.message})`];
      return errorDiffs('expect_error', f.get('expect_error'), e);
    }
    const diffs = [];
    diff('expect_issuer', f.str('expect_issuer'), d.issuer, diffs);
    const urls = f.strings('expect_urls');
    f.value('expect_urls');
    diff('expect_urls', urls, d.urls, diffs);
    if (!responses.length) throw new VectorError('the input succeeds: the expectation needs at least one response');
    for (const [i, spec] of responses.entries()) {
      const last = i === responses.length - 1;
      diff(`request[${i}]`, { method: 'GET', url: urls[i] ?? null, headers: { accept: 'application/json' }, body: '' }, requestJson(d.request()), diffs);
      let provider;
      try {
        provider = d.receive(response(spec));
      } catch (e) {
        if (e instanceof VectorError) throw e;
        if (!last) return [...diffs, `responses[${i}]: an error before the last response: ${e && e.message}`];
        if (!f.has('expect_error')) return [...diffs, `unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`];
        return [...diffs, ...errorDiffs('expect_error', f.get('expect_error'), e)];
      }
      if (provider === undefined) {
        if (last) return [...diffs, `responses[${i}]: receive() wants another response after the last one`];
        continue;
      }
      if (!last) return [...diffs, `responses[${i}]: a provider before the last response`];
      if (f.has('expect_error')) return [...diffs, `expected the error ${JSON.stringify(f.get('expect_error'))}, got a provider`];
      diff('expect_provider', f.get('expect_provider'), providerJson(provider), diffs);
    }
    return diffs;
  },
  store_entry(v) {
    const f = fields(v, 'vector', withCommon(['keys', 'plaintext', 'sealed', 'expect_entry', 'expect_error', 'entry', 'nonce_hex', 'expect_sealed']));
    const protection = protectionOf(f);
    if (f.has('sealed')) {
      for (const k of ['entry', 'nonce_hex', 'expect_sealed']) if (f.has(k)) throw new VectorError(`\`${k}\` with \`sealed\``);
      return judge(f, ['expect_entry'], [], () => ({ expect_entry: entryJson(g.StoreEntry.open(f.str('sealed'), protection)) }));
    }
    for (const k of ['expect_entry', 'expect_error']) if (f.has(k)) throw new VectorError(`\`${k}\` without \`sealed\``);
    const entry = entryInput(f.value('entry'));
    const nonce = keyBytes(f.str('nonce_hex'));
    if (nonce.length !== 12) throw new VectorError('`nonce_hex` is not 12 bytes');
    const want = f.str('expect_sealed');
    let sealed;
    let back;
    try {
      sealed = entry.sealWithNonce(protection, nonce);
      if (sealed !== want) return [`sealed:\n      expected ${want}\n      got      ${sealed}`];
      back = g.StoreEntry.open(sealed, protection);
    } catch (e) {
      if (!(e instanceof g.GrantlineError)) throw e;
      return [`unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`];
    }
    const diffs = [];
    diff('round trip', entryJson(entry), entryJson(back), diffs);
    return diffs;
  },
  fleet_session(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'grant', 'tokens', 'skew', 'fleet', 'steps']));
    const c = client(provider(f.value('provider')), f.value('client'));
    const ff = fields(f.value('fleet'), 'fleet', ['name', 'owner', 'lease_ttl_ms', 'renew_alone', 'keys', 'plaintext']);
    const options = { name: ff.str('name'), owner: ff.str('owner'), renewAloneWhenStoreDown: ff.bool('renew_alone') ?? false, ...protectionOf(ff) };
    if (ff.has('lease_ttl_ms')) options.leaseTtlMs = ff.uint('lease_ttl_ms');
    const config = new g.FleetConfig(options);
    const run = new FleetRun(new g.FleetState(c, sessionGrant(f.value('grant')), config, sessionOptions(f)), config);
    for (const [step, sf, where] of steps(f, FLEET_STEPS, ['expect', 'expect_error'])) {
      const diffs = fleetStep(run, step, sf, where);
      // As the reference runner: the first failing step ends the vector (later steps build on it).
      if (diffs.length) return diffs;
    }
    return [];
  },
  redact_url(v) {
    const f = fields(v, 'vector', withCommon(['url', 'expect_url']));
    return judge(f, ['expect_url'], [], () => ({ expect_url: g.redactUrl(f.str('url')) }));
  },
  session(v) {
    const f = fields(v, 'vector', withCommon(['provider', 'client', 'grant', 'tokens', 'skew', 'steps']));
    const c = client(provider(f.value('provider')), f.value('client'));
    const state = new g.SessionState(c, sessionGrant(f.value('grant')), sessionOptions(f));
    const diffs = [];
    for (const [step, sf, where] of steps(f, SESSION_STEPS)) {
      const expectKey = ['receive', 'fail'].includes(step.op) ? 'expect_completion' : 'expect';
      const hasError = sf.has('expect_error');
      if (hasError === sf.has(expectKey)) throw new VectorError(`${where}: exactly one of ${expectKey} and expect_error`);
      if (hasError && !['next', 'waited', 'receive', 'fail'].includes(step.op)) throw new VectorError(`${where}: no expect_error for this op`);
      let actual;
      try {
        switch (step.op) {
          case 'next': actual = nextJson(state.next(sf.uint('now')), sf.value('expect')); break;
          case 'waited': actual = nextJson(state.waited(sf.uint('id'), sf.uint('now')), sf.value('expect')); break;
          case 'receive': actual = completionJson(state.receive(sf.uint('id'), response(sf.value('response')), sf.uint('now'))); break;
          case 'fail': actual = completionJson(state.fail(sf.uint('id'), sf.str('reason'), sf.uint('now'))); break;
          case 'delivered': actual = state.delivered(sf.uint('id')); break;
          case 'abandon': actual = state.abandon(sf.uint('id')); break;
          case 'reject': actual = state.reject(sf.str('token')); break;
          default: actual = orNull(state.readyUntil());
        }
      } catch (e) {
        if (e instanceof VectorError) throw e;
        if (!(e instanceof g.GrantlineError)) throw new Error(`${where}: not a GrantlineError: ${e && e.stack}`);
        if (!hasError) return [...diffs, `${where}: unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`];
        diffs.push(...errorDiffs(`${where}.expect_error`, sf.get('expect_error'), e));
        continue;
      }
      if (hasError) return [...diffs, `${where}: expected the error ${JSON.stringify(sf.get('expect_error'))}, got ${JSON.stringify(actual)}`];
      const expected = sf.value(expectKey);
      if (expectKey === 'expect_completion') diffs.push(...completionDiffs(where, expected, actual));
      else diff(`${where}.expect`, expected, actual, diffs);
    }
    return diffs;
  },
};

/** A session grant of a `session` or `fleet_session` vector. */
function sessionGrant(spec) {
  const gf = fields(spec, 'grant', ['type', 'username', 'password', 'scopes']);
  const type = gf.str('type');
  if (type === 'client_credentials') {
    fields(spec, 'grant', ['type', 'scopes']);
    return { type, scopes: gf.strings('scopes') };
  }
  if (type === 'password') return { type, username: gf.str('username'), password: gf.str('password'), scopes: gf.strings('scopes') };
  if (type === 'refresh_only') {
    fields(spec, 'grant', ['type']);
    return { type };
  }
  throw new VectorError(`grant: unknown type ${type}`);
}

/** A session's `tokens` and `skew`. */
function sessionOptions(f) {
  const options = {};
  if (f.has('tokens')) {
    const t = f.get('tokens');
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new VectorError('`tokens` is not an object');
    options.tokens = JSON.stringify(t);
  }
  if (f.has('skew')) options.skew = f.uint('skew');
  return options;
}

// ---------------------------------------------------------------------------------- fleet

function keyBytes(hex) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new VectorError(`key_hex: not hex: ${JSON.stringify(hex)}`);
  return fromHex(hex);
}

/** `keys` (`[{ kid, key_hex }]`, the first current) or `"plaintext": true`, as the API's protection. */
function protectionOf(f) {
  const plaintext = f.bool('plaintext') ?? false;
  if (f.has('keys') === plaintext) throw new VectorError('exactly one of `keys` and `"plaintext": true`');
  if (plaintext) return { plaintext: true };
  const keys = f.get('keys');
  if (!Array.isArray(keys) || !keys.length) throw new VectorError('`keys` is not a non-empty list');
  const protection = {
    keys: keys.map((k, i) => {
      const kf = fields(k, `keys[${i}]`, ['kid', 'key_hex']);
      return { kid: kf.str('kid'), key: keyBytes(kf.str('key_hex')) };
    }),
  };
  try {
    new g.FleetConfig({ name: 'check', ...protection }); // eslint-disable-line no-new
  } catch (e) {
    throw new VectorError(`keys: ${e.message}`);
  }
  return protection;
}

/** A vector's `{ version, written_at, tokens }` as a `StoreEntry`. */
function entryInput(spec) {
  const f = fields(spec, 'entry', ['version', 'written_at', 'tokens']);
  const t = f.value('tokens');
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new VectorError('entry.tokens is not an object');
  return new g.StoreEntry(f.uint('version'), JSON.stringify(t), f.uint('written_at'));
}

function entryJson(e) {
  const t = e.tokens;
  return {
    version: e.version, written_at: e.writtenAt, expires_at: orNull(t.expiresAt),
    access_token: t.accessToken, refresh_token: orNull(t.refreshToken),
  };
}

const STATS = {
  store_ops: 'storeOps', store_failures: 'storeFailures', http_renewals: 'httpRenewals',
  fallback_renewals: 'fallbackRenewals', adopted: 'adopted', committed: 'committed', conflicts: 'conflicts',
};

/** One run of a `fleet_session` vector: the state, its config, the last commit's text. */
class FleetRun {
  constructor(state, config) {
    this.state = state;
    this.config = config;
    this.lastCommit = undefined;
  }

  /** An entry in a reply: null, a raw text, `{ seal: entry }` or `{ last_commit: true }`. */
  replyEntry(spec) {
    if (spec === null || typeof spec === 'string') return spec;
    if (typeof spec !== 'object' || Array.isArray(spec)) throw new VectorError(`entry: unexpected ${JSON.stringify(spec)}`);
    if (Object.hasOwn(spec, 'seal')) return entryInput(fields(spec, 'entry', ['seal']).value('seal')).seal(this.config);
    const f = fields(spec, 'entry', ['last_commit']);
    if (f.bool('last_commit') !== true) throw new VectorError('`last_commit` must be true');
    if (this.lastCommit === undefined) throw new VectorError('no commit was asked yet');
    return this.lastCommit;
  }

  reply(spec) {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new VectorError('`reply` is not an object');
    if (Object.hasOwn(spec, 'acquired')) {
      const f = fields(spec, 'reply', ['acquired', 'lease_ttl_ms', 'entry']);
      const ttl = f.value('lease_ttl_ms');
      return {
        acquired: f.bool('acquired') ?? false,
        leaseTtlMs: Number.isInteger(ttl) && ttl >= 0 ? ttl : null,
        entry: this.replyEntry(f.value('entry')),
      };
    }
    if (Object.hasOwn(spec, 'entry')) return { entry: this.replyEntry(fields(spec, 'reply', ['entry']).value('entry')) };
    if (Object.hasOwn(spec, 'committed')) return { committed: fields(spec, 'reply', ['committed']).bool('committed') ?? false };
    if (Object.hasOwn(spec, 'released')) return fields(spec, 'reply', ['released']) && { released: true };
    if (Object.hasOwn(spec, 'watched')) return fields(spec, 'reply', ['watched']) && { watched: true };
    throw new VectorError(`unknown reply ${JSON.stringify(spec)}`);
  }

  /** An action as the vectors write it (a commit's entry opened; the text remembered). */
  actionJson(a) {
    switch (a.action) {
      case 'send': return { action: 'send', request: requestJson(a.request) };
      case 'done': return { action: 'done', completion: completionJson(a.completion) };
      case 'store': break;
      default: throw new Error(`unknown action ${a.action}`);
    }
    switch (a.op) {
      case 'read': return { action: 'store', op: 'read', key: a.key };
      case 'acquire': return { action: 'store', op: 'acquire', key: a.key, lease: a.lease, owner: a.owner, ttl_ms: a.ttlMs };
      case 'commit': {
        this.lastCommit = a.entry;
        let opened;
        try {
          opened = entryJson(g.StoreEntry.open(a.entry, this.config));
        } catch (e) {
          opened = `the committed entry does not open: ${e.message}`;
        }
        return {
          action: 'store', op: 'commit', key: a.key, lease: a.lease, owner: a.owner, channel: a.channel,
          expected_version: a.expectedVersion, version: a.version, entry: opened,
        };
      }
      case 'release': return { action: 'store', op: 'release', lease: a.lease, owner: a.owner };
      case 'watch': return { action: 'store', op: 'watch', channel: a.channel, version: a.version, timeout_ms: a.timeoutMs };
      default: throw new Error(`unknown store op ${a.op}`);
    }
  }

  /** Differences between an expected action and `a` (a send's request only when given). */
  actionDiffs(where, expected, a) {
    if (a.action === 'done' && expected && expected.action === 'done') {
      const f = fields(expected, `${where}.expect`, ['action', 'completion']);
      return completionDiffs(where, f.value('completion'), completionJson(a.completion));
    }
    const actual = this.actionJson(a);
    if (expected && typeof expected === 'object' && !Object.hasOwn(expected, 'request')) delete actual.request;
    if (actual.completion && actual.completion.error) actual.completion.error = errorJson(actual.completion.error);
    const diffs = [];
    diff(`${where}.expect`, expected, actual, diffs);
    return diffs;
  }

  nextDiffs(where, expected, n) {
    if (n.next !== 'perform') {
      const diffs = [];
      diff(`${where}.expect`, expected, n.next === 'ready' ? { next: 'ready', token: n.token } : { next: 'wait', id: n.id }, diffs);
      return diffs;
    }
    const f = fields(expected, `${where}.expect`, ['next', 'id', 'current', 'action']);
    const diffs = [];
    diff(`${where}.expect`, { next: f.value('next'), id: f.value('id'), current: f.value('current') },
      { next: 'perform', id: n.id, current: orNull(n.current) }, diffs);
    return [...diffs, ...this.actionDiffs(`${where}.action`, f.value('action'), n.action)];
  }
}

/** A session's next answer as the vectors write it (`request` only when the vector has one). */
function nextJson(n, expected) {
  const out = { next: n.next };
  if (n.next === 'ready') out.token = n.token;
  else out.id = n.id;
  if (n.next === 'send') {
    out.current = orNull(n.current);
    if (expected && typeof expected === 'object' && Object.hasOwn(expected, 'request')) out.request = requestJson(n.request);
  }
  return out;
}

/**
 * The `steps` of a vector (a non-empty list), one after the other, as `[step, sf, where]`: `sf`
 * the step's fields (`fields`), which are `op`, the fields `stepFields[op]` lists and `common`;
 * `where` names the step in messages. An op missing from `stepFields` is an error of the vector.
 */
function* steps(f, stepFields, common = []) {
  const list = f.value('steps');
  if (!Array.isArray(list) || !list.length) throw new VectorError('`steps` is not a non-empty list');
  for (const [i, step] of list.entries()) {
    const where = `steps[${i}] (${step && step.op})`;
    if (!step || !Object.hasOwn(stepFields, step.op)) throw new VectorError(`${where}: unknown op`);
    yield [step, fields(step, where, ['op', ...common, ...stepFields[step.op]]), where];
  }
}

/** The ops of a `jwks_cache` vector's steps, and their fields. */
const JWKS_STEPS = {
  verify: ['token', 'algorithms', 'now', 'expect', 'expect_error'],
  receive: ['response', 'now', 'expect', 'expect_error'],
  request: ['expect_request'],
};

/** The ops of a `session` vector's steps, and their fields. */
const SESSION_STEPS = {
  next: ['now', 'expect', 'expect_error'],
  waited: ['id', 'now', 'expect', 'expect_error'],
  receive: ['id', 'now', 'response', 'expect_completion', 'expect_error'],
  fail: ['id', 'now', 'reason', 'expect_completion', 'expect_error'],
  delivered: ['id', 'expect'],
  abandon: ['id', 'expect'],
  reject: ['token', 'expect'],
  ready_until: ['expect'],
};

/** The ops of a `fleet_session` vector's steps, and their fields (besides `expect` and `expect_error`). */
const FLEET_STEPS = {
  next: ['now_ms'],
  waited: ['id', 'now_ms'],
  store_done: ['id', 'now_ms', 'reply'],
  store_failed: ['id', 'now_ms', 'reason'],
  receive: ['id', 'now_ms', 'response'],
  fail: ['id', 'now_ms', 'reason'],
  delivered: ['id'],
  abandon: ['id'],
  cancellable: ['id'],
  reject: ['token'],
  version: [],
  stats: [],
};

/** One step of a `fleet_session` vector (`sf`: its fields, see `steps`): its differences (empty when it passed). */
function fleetStep(run, step, sf, where) {
  const hasError = sf.has('expect_error');
  if (hasError === sf.has('expect')) throw new VectorError(`${where}: exactly one of expect and expect_error`);
  const s = run.state;
  const kind = ['next', 'waited'].includes(step.op) ? 'next' : ['store_done', 'store_failed', 'receive', 'fail'].includes(step.op) ? 'action' : 'value';
  if (hasError && kind === 'value') throw new VectorError(`${where}: no expect_error for this op`);
  let actual;
  try {
    switch (step.op) {
      case 'next': actual = s.next(sf.uint('now_ms')); break;
      case 'waited': actual = s.waited(sf.uint('id'), sf.uint('now_ms')); break;
      case 'store_done': actual = s.storeDone(sf.uint('id'), run.reply(sf.value('reply')), sf.uint('now_ms')); break;
      case 'store_failed': actual = s.storeFailed(sf.uint('id'), sf.str('reason'), sf.uint('now_ms')); break;
      case 'receive': actual = s.receive(sf.uint('id'), response(sf.value('response')), sf.uint('now_ms')); break;
      case 'fail': actual = s.fail(sf.uint('id'), sf.str('reason'), sf.uint('now_ms')); break;
      case 'delivered': actual = s.delivered(sf.uint('id')); break;
      case 'abandon': actual = s.abandon(sf.uint('id')); break;
      case 'cancellable': actual = s.cancellable(sf.uint('id')); break;
      case 'reject': actual = s.reject(sf.str('token')); break;
      case 'version': actual = s.version; break;
      default: {
        const want = sf.value('expect');
        if (want === null || typeof want !== 'object' || Array.isArray(want)) throw new VectorError(`${where}: expect is not an object`);
        const stats = s.stats;
        actual = {};
        for (const k of Object.keys(want)) actual[k] = Object.hasOwn(STATS, k) ? stats[STATS[k]] : null;
      }
    }
  } catch (e) {
    if (e instanceof VectorError) throw e;
    if (!(e instanceof g.GrantlineError)) throw new Error(`${where}: not a GrantlineError: ${e && e.stack}`);
    if (!hasError) return [`${where}: unexpected error ${JSON.stringify(errorJson(e))} (${e.message})`];
    return errorDiffs(`${where}.expect_error`, sf.get('expect_error'), e);
  }
  if (hasError) return [`${where}: expected the error ${JSON.stringify(sf.get('expect_error'))}, got ${JSON.stringify(actual)}`];
  const expected = sf.value('expect');
  if (kind === 'next') return run.nextDiffs(where, expected, actual);
  if (kind === 'action') return run.actionDiffs(where, expected, actual);
  const diffs = [];
  diff(`${where}.expect`, expected, actual, diffs);
  return diffs;
}

/** A completion, its error kept as the error itself (compared field by field). */
function completionJson(c) {
  const r = c.renewed;
  return {
    renewed: r === undefined ? null : { access_token: r.tokens.accessToken, refresh_token: orNull(r.tokens.refreshToken), rotated: r.refreshTokenRotated },
    error: c.error ?? null,
  };
}

function completionDiffs(where, expected, actual) {
  const e = fields(expected, `${where}.expect_completion`, ['renewed', 'error']);
  const diffs = [];
  const renewed = e.value('renewed');
  if (renewed !== null) fields(renewed, `${where}.expect_completion.renewed`, ['access_token', 'refresh_token', 'rotated']);
  diff(`${where}.expect_completion.renewed`, renewed, actual.renewed, diffs);
  const error = e.value('error');
  if (error === null) {
    if (actual.error !== null) diffs.push(`${where}.expect_completion.error: expected null, got ${JSON.stringify(errorJson(actual.error))} (${actual.error.message})`);
  } else if (actual.error === null) {
    diffs.push(`${where}.expect_completion.error: expected ${JSON.stringify(error)}, got null`);
  } else {
    diffs.push(...errorDiffs(`${where}.expect_completion.error`, error, actual.error));
  }
  return diffs;
}

function runVector(v) {
  for (const key of ['name', 'kind', 'source']) {
    if (typeof v[key] !== 'string' || !v[key].trim()) throw new VectorError(`\`${key}\` is missing or not a non-empty string`);
  }
  if (v.note !== undefined && typeof v.note !== 'string') throw new VectorError('`note` is not a string');
  const run = KINDS[v.kind];
  if (!Object.hasOwn(KINDS, v.kind)) throw new VectorError(`unknown kind ${JSON.stringify(v.kind)}`);
  return run(v);
}

// ---------------------------------------------------------------------------------- bytes

function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fromBase64(text) {
  let binary;
  try {
    binary = atob(text);
  } catch (e) {
    throw new VectorError(`body_base64: not base64 (${e.message})`);
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function toBase64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Runs every vector of `files` (`[name, text]` pairs, the JSON files of tests/vectors; run in
 * name order). Returns `{ passed, failures, seed, extra }`: `failures` lists each failing vector
 * with what differed, `seed` and `extra` count the vectors of the provider files and of the
 * others. A file that is not a vector file throws.
 */
export function runVectorFiles(files) {
  const names = new Set();
  const failures = [];
  let passed = 0;
  let seed = 0;
  let extra = 0;
  for (const [file, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const doc = JSON.parse(text);
    const f = fields(doc, file, ['format', 'description', 'vectors']);
    if (f.value('format') !== 1) throw new Error(`${file}: format ${JSON.stringify(f.value('format'))}, expected 1`);
    if (!f.str('description').trim()) throw new Error(`${file}: empty description`);
    const vectors = f.value('vectors');
    if (!Array.isArray(vectors) || !vectors.length) throw new Error(`${file}: no vectors`);
    if (SEED_FILES.includes(file)) seed += vectors.length; else extra += vectors.length;
    for (const v of vectors) {
      const name = `${file}: ${v && v.name}`;
      if (names.has(v && v.name)) failures.push(`${name}\n    duplicate name`);
      names.add(v && v.name);
      let diffs;
      try {
        diffs = runVector(v);
      } catch (e) {
        diffs = [e instanceof VectorError ? `cannot run the vector: ${e.message}` : `threw ${e && e.stack}`];
      }
      if (diffs.length) failures.push(`${name}\n    ${diffs.join('\n    ')}`);
      else passed += 1;
    }
  }
  return { passed, failures, seed, extra };
}
