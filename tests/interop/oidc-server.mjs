// oidc-provider 9.13.3 for grantline's interop tests.
//
//   node oidc-server.mjs PORT
//
// Listens on 127.0.0.1:PORT only; issuer is http://127.0.0.1:PORT.
// Environment:
//   AUTO_APPROVE  default on; every login/consent interaction is completed at once
//                 (logs in as AUTO_USER, grants everything asked). Set AUTO_APPROVE=0 to get
//                 oidc-provider's built-in devInteractions HTML pages instead.
//   AUTO_USER     account id used by auto-approve (default "alice").
//   CODE_TTL      authorization code lifetime in seconds (default 60).
// See README.md in this folder for the clients, scopes and quirks.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';
// Internal: replaces the provider's keystore at run time (POST /admin/rotate-keys). Imported by
// file path: the same module instance oidc-provider uses (ES modules are keyed by their URL).
import initializeKeystore from './node_modules/oidc-provider/lib/helpers/initialize_keystore.js';

const PORT = Number(process.argv[2] || process.env.PORT || 3000);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error(`oidc-server: bad port ${process.argv[2]}`);
  process.exit(2);
}
const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${PORT}`;
const API = 'urn:example:api';         // resource -> opaque access tokens (introspectable/revocable)
const JWT_API = 'urn:example:jwt-api'; // resource -> JWT (RFC 9068) access tokens
const CALLBACK = 'http://127.0.0.1:8765/callback';
const LOGGED_OUT = 'http://127.0.0.1:8765/logged-out';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
// client_secret_jwt: HS256 keys must be at least 256 bits (RFC 7518 §3.2).
const SECRET_JWT_SECRET = 'secret-jwt-client-shared-secret-0123456789';
const here = new URL('.', import.meta.url);
const JWT_CLIENT_KEY = JSON.parse(readFileSync(new URL('keys/jwt-client.public.jwk.json', here), 'utf8'));

// Signing keys, fresh per run: RSA (RS256, PS256), P-256 (ES256), Ed25519 (EdDSA).
// POST /admin/rotate-keys puts a new RSA key first (it signs from then on) and keeps the others
// published: a key rotation as clients see it.
let generation = 1;
// The pair is generated as PEM and re-read before its JWK export: exporting the KeyObject that
// generateKeyPairSync returned can deadlock Node 20.20 when garbage collection runs during the
// export (seen with gdb; /admin/rotate-keys then hangs every interop suite).
const key = (type, options, kid) => ({
  ...createPrivateKey(generateKeyPairSync(type, {
    ...options,
    privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
    publicKeyEncoding: { format: 'pem', type: 'spki' },
  }).privateKey).export({ format: 'jwk' }), kid, use: 'sig',
});
let signingKeys = [
  key('rsa', { modulusLength: 2048 }, 'rsa-1'),
  key('ec', { namedCurve: 'P-256' }, 'ec-1'),
  key('ed25519', {}, 'ed-1'),
];

const AUTO_APPROVE = !['', '0', 'false', 'no', 'off'].includes(String(process.env.AUTO_APPROVE ?? '1').toLowerCase());

const provider = new Provider(ISSUER, {
  // no adapter => built-in in-memory adapter (state is lost when the process stops)
  jwks: { keys: signingKeys },
  clients: [{
    client_id: 'test-client',
    client_secret: 'test-secret',            // client_secret_basic AND client_secret_post both accepted
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code', TOKEN_EXCHANGE],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    post_logout_redirect_uris: [LOGGED_OUT],
    scope: 'openid offline_access profile email api:read api:write', // not 'admin'
  }, {
    client_id: 'jwt-client',                 // private_key_jwt with keys/jwt-client.*.jwk.json
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [JWT_CLIENT_KEY] },
    id_token_signed_response_alg: 'ES256',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    post_logout_redirect_uris: [LOGGED_OUT],
    scope: 'openid offline_access profile email api:read api:write',
  }, {
    client_id: 'secret-jwt-client',          // client_secret_jwt (HS256 with the client secret)
    client_secret: SECRET_JWT_SECRET,
    token_endpoint_auth_method: 'client_secret_jwt',
    token_endpoint_auth_signing_alg: 'HS256',
    id_token_signed_response_alg: 'EdDSA',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    post_logout_redirect_uris: [LOGGED_OUT],
    scope: 'openid offline_access profile email api:read api:write',
  }, {
    client_id: 'public-client',              // PKCE-only public client
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    post_logout_redirect_uris: [LOGGED_OUT],
  }],
  // 'admin' is a known scope that test-client may not have => invalid_scope
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write', 'admin'],
  rotateRefreshToken: true,                   // every refresh rotates; the old RT => invalid_grant
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub, name: `User ${sub}`, email: `${sub}@example.com` }; } };
  },
  cookies: { keys: ['grantline-interop-cookie-key-1'] },
  pkce: { required: () => true },             // PKCE (S256) required for every client
  ttl: {
    AccessToken: 3600, ClientCredentials: 3600, AuthorizationCode: Number(process.env.CODE_TTL || 60),
    DeviceCode: 600, RefreshToken: 86400, Grant: 86400, Interaction: 600, Session: 86400, IdToken: 3600,
  },
  features: {
    devInteractions: { enabled: true },       // built-in login (any user/pass) + consent pages
    clientCredentials: { enabled: true },
    introspection: { enabled: true },         // /token/introspection
    revocation: { enabled: true },            // /token/revocation
    deviceFlow: { enabled: true },            // /device/auth, verification at /device
    resourceIndicators: {
      enabled: true,
      // client_credentials without `resource` => default to API (opaque token)
      defaultResource: (ctx, client, oneOf) => oneOf ?? (ctx.oidc.params.grant_type === 'client_credentials' ? API : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== API && resource !== JWT_API) throw new errors.InvalidTarget();
        return {
          scope: 'api:read api:write', audience: resource, accessTokenTTL: 3600,
          accessTokenFormat: resource === JWT_API ? 'jwt' : 'opaque',
        };
      },
    },
  },
});
provider.proxy = false;

// RFC 8693 token exchange, registered as the server's own grant type: the subject token must be
// an access token this server issued (opaque, found in its store); the answer is a new access
// token for the same client, plus `exchanged`, an echo of what the request carried (so tests can
// see repeated `resource` / `audience` values arrive as sent).
const list = (v) => (v === undefined ? [] : [].concat(v));
provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const p = ctx.oidc.params;
  if (p.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('subject_token_type must be an access token type');
  }
  const subject = await provider.AccessToken.find(p.subject_token)
    ?? await provider.ClientCredentials.find(p.subject_token);
  if (!subject || subject.isExpired) throw new errors.InvalidGrant('subject_token is not valid');
  const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope: p.scope || undefined });
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    exchanged: {
      subject_client: subject.clientId ?? null,
      resource: list(p.resource),
      audience: list(p.audience),
      actor_token_type: p.actor_token_type ?? null,
      requested_token_type: p.requested_token_type ?? null,
    },
  };
}, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
  'requested_token_type', 'audience', 'resource', 'scope'], ['audience', 'resource']);

// Test-only admin routes (loopback only, like the server).
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/admin/rotate-keys') {
    generation += 1;
    signingKeys = [key('rsa', { modulusLength: 2048 }, `rsa-${generation}`), ...signingKeys];
    initializeKeystore.call(provider, { keys: signingKeys });
    ctx.body = { kids: signingKeys.map((k) => k.kid) };
    return undefined;
  }
  return next();
});

if (AUTO_APPROVE) {
  // Replace the interactive pages: every interaction is finished immediately
  // (login as AUTO_USER, grant everything requested). A client just follows redirects with a cookie jar.
  provider.use(async (ctx, next) => {
    const m = ctx.method === 'GET' && ctx.path.match(/^\/interaction\/([^/]+)$/);
    if (!m) return next();
    const { prompt, params, session, grantId } = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (prompt.name === 'login') {
      result = { login: { accountId: process.env.AUTO_USER || 'alice' } };
    } else {
      const grant = grantId ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [ind, s] of Object.entries(d.missingResourceScopes || {})) grant.addResourceScope(ind, s.join(' '));
      result = { consent: { grantId: await grant.save() } };
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(to);
  });
}

const server = provider.listen(PORT, HOST, () => {
  console.log(`oidc-provider listening on ${ISSUER} (auto-approve ${AUTO_APPROVE ? 'on' : 'off'})`);
});
server.on('error', (e) => { console.error(`oidc-server: ${e.message}`); process.exit(1); });

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
