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
import Provider, { errors } from 'oidc-provider';

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
const AUTO_APPROVE = !['', '0', 'false', 'no', 'off'].includes(String(process.env.AUTO_APPROVE ?? '1').toLowerCase());

const provider = new Provider(ISSUER, {
  // no adapter => built-in in-memory adapter (state is lost when the process stops)
  clients: [{
    client_id: 'test-client',
    client_secret: 'test-secret',            // client_secret_basic AND client_secret_post both accepted
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
    scope: 'openid offline_access profile email api:read api:write', // not 'admin'
  }, {
    client_id: 'public-client',              // PKCE-only public client
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: [CALLBACK],
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
