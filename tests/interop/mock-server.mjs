// oauth2-mock-server 8.2.3 for grantline's interop tests, with a few "strict" checks for error paths.
//
//   node mock-server.mjs PORT
//
// Listens on 127.0.0.1:PORT only; issuer is http://127.0.0.1:PORT. Stops on SIGTERM/SIGINT.
//
// As shipped, oauth2-mock-server accepts any client, any code, any scope, JSON or form bodies on
// /token, and answers /userinfo for anyone. On top of that this wrapper adds:
//   - client test-client must present secret test-secret (basic or post); wrong one => 401
//     invalid_client (+ `WWW-Authenticate: Basic realm="mock"` when basic auth was used).
//     Any other client_id is still accepted without a secret.
//   - grant_type=password with password=wrong               => 400 invalid_grant
//   - a scope containing the word `forbidden`                => 400 invalid_scope
//   - an authorization code used a second time               => 400 invalid_grant
//   - a PKCE code_verifier that is missing or does not match  => 400 invalid_grant
//     (the unwrapped mock says invalid_request)
//   - a refresh token used a second time (rotation)          => 400 invalid_grant
//   - /userinfo without a bearer token, or with one this server did not issue (or revoked)
//                                                           => 401 invalid_token + WWW-Authenticate
//   - /revoke forgets the token; /introspect says {"active":false} for unknown/revoked tokens.
// /token, /revoke and /introspect bodies may be form-encoded or JSON.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const PORT = Number(process.argv[2] || process.env.PORT || 8080);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error(`mock-server: bad port ${process.argv[2]}`);
  process.exit(2);
}
const HOST = '127.0.0.1';

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
issuer.url = `http://${HOST}:${PORT}`;   // default would be http://localhost:PORT
const service = new OAuth2Service(issuer);
const app = service.requestHandler;

const SECRETS = { 'test-client': 'test-secret' };  // enforced only for these client_ids
const usedCodes = new Set();
const challenges = new Map();                        // code -> { challenge, method } seen at /authorize
const usedRefreshTokens = new Set();
const liveTokens = new Set();                        // access + refresh tokens issued and not revoked

function clientOf(req, body) {
  const h = req.headers.authorization;
  if (h?.startsWith('Basic ')) {
    const raw = Buffer.from(h.slice(6), 'base64').toString();
    const i = raw.indexOf(':');
    const id = i < 0 ? raw : raw.slice(0, i);
    const secret = i < 0 ? '' : raw.slice(i + 1);
    const dec = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };
    return { id: dec(id), secret: dec(secret), basic: true };
  }
  return { id: body.client_id, secret: body.client_secret, basic: false };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache', ...headers,
  });
  res.end(JSON.stringify(body));
}

// Read and parse the body ourselves so the checks run before the mock's own handler (which e.g.
// consumes a code's PKCE challenge before any hook could reject a reused code). Express'
// body parsers then see an already-finished request and keep req.body as set here.
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(req, raw) {
  const ct = String(req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ct === 'application/json' || ct.endsWith('+json')) {
    if (raw.trim() === '') return {};
    return JSON.parse(raw);                            // throws => Malformed JSON payload
  }
  if (ct === 'application/x-www-form-urlencoded') {
    const out = {};
    for (const [k, v] of new URLSearchParams(raw)) {
      if (k in out) out[k] = [].concat(out[k], v); else out[k] = v;
    }
    return out;
  }
  return undefined;                                    // left to the mock (=> invalid_request)
}

function checkToken(req, res, b) {
  const c = clientOf(req, b);
  if (typeof c.id === 'string' && Object.hasOwn(SECRETS, c.id) && SECRETS[c.id] !== c.secret) {
    send(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' },
      c.basic ? { 'www-authenticate': 'Basic realm="mock"' } : {});
    return false;
  }
  if (b.grant_type === 'password' && b.password === 'wrong') {
    send(res, 400, { error: 'invalid_grant', error_description: 'bad user credentials' });
    return false;
  }
  if (typeof b.scope === 'string' && b.scope.split(' ').includes('forbidden')) {
    send(res, 400, { error: 'invalid_scope', error_description: 'scope not allowed' });
    return false;
  }
  if (b.grant_type === 'authorization_code' && typeof b.code === 'string') {
    if (usedCodes.has(b.code)) {
      send(res, 400, { error: 'invalid_grant', error_description: 'code already used' });
      return false;
    }
    usedCodes.add(b.code);
    const pk = challenges.get(b.code);
    challenges.delete(b.code);
    if (pk) {
      const v = typeof b.code_verifier === 'string' ? b.code_verifier : '';
      const got = pk.method === 'S256' ? createHash('sha256').update(v).digest('base64url') : v;
      if (!v || got !== pk.challenge) {
        send(res, 400, { error: 'invalid_grant', error_description: v ? 'PKCE verification failed' : 'code_verifier required' });
        return false;
      }
    }
  }
  if (b.grant_type === 'refresh_token' && typeof b.refresh_token === 'string') {
    if (usedRefreshTokens.has(b.refresh_token)) {
      send(res, 400, { error: 'invalid_grant', error_description: 'refresh token already used' });
      return false;
    }
    usedRefreshTokens.add(b.refresh_token);
    liveTokens.delete(b.refresh_token);
  }
  return true;
}

service.on('beforeResponse', (resp) => {
  if (resp.statusCode === 200 && resp.body) {
    if (resp.body.access_token) liveTokens.add(resp.body.access_token);
    if (resp.body.refresh_token) liveTokens.add(resp.body.refresh_token);
  }
});
service.on('beforeAuthorizeRedirect', ({ url }, req) => {
  const code = url.searchParams.get('code');
  const challenge = req.query?.code_challenge;
  if (code && typeof challenge === 'string' && challenge) {
    challenges.set(code, { challenge, method: req.query.code_challenge_method || 'plain' });
  }
});
service.on('beforeUserinfo', (resp, req) => {
  const h = req.headers.authorization || '';
  const m = h.match(/^Bearer\s+(\S+)\s*$/i);
  if (!m || !liveTokens.has(m[1])) {
    resp.statusCode = 401;
    resp.body = m ? { error: 'invalid_token', error_description: 'unknown or revoked token' } : { error: 'invalid_token' };
    req.res.set('WWW-Authenticate', m
      ? 'Bearer realm="mock", error="invalid_token", error_description="unknown or revoked token"'
      : 'Bearer realm="mock", error="invalid_token"'); // express exposes req.res
  }
});
service.on('beforeRevoke', (resp, req) => {
  if (typeof req.body?.token === 'string') liveTokens.delete(req.body.token);
});
service.on('beforeIntrospect', (resp, req) => {
  const t = req.body?.token;
  if (typeof t !== 'string' || !liveTokens.has(t)) resp.body = { active: false };
});

const BODY_PATHS = new Set(['/token', '/revoke', '/introspect']);
const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, issuer.url).pathname;
    if (req.method === 'POST' && BODY_PATHS.has(path)) {
      const raw = await readBody(req);
      let body;
      try { body = parseBody(req, raw); } catch {
        return send(res, 400, { error: 'invalid_request', error_description: 'Malformed JSON payload' });
      }
      if (body !== undefined) req.body = body;
      if (path === '/token' && body && typeof body === 'object' && !Array.isArray(body) && !checkToken(req, res, body)) return;
    }
    app(req, res);
  } catch (e) {
    console.error('mock-server:', e);
    if (!res.headersSent) send(res, 500, { error: 'server_error' });
  }
});
server.on('error', (e) => { console.error(`mock-server: ${e.message}`); process.exit(1); });
server.listen(PORT, HOST, () => console.log(`oauth2-mock-server listening on ${issuer.url}`));

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
