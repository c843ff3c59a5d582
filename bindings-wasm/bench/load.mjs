// Faults under load (`bindings-wasm/test.sh load`, under tests/interop/servers.sh run): many
// concurrent callers (promises) share ONE TokenSession (password grant: the server rotates the
// refresh token on every refresh and revokes the whole family on reuse) against the load server
// (tests/load, GRANTLINE_LOAD_URL), which fails a share of token requests (connection resets,
// 503 + Retry-After). Each caller loops: getAccessToken() -> GET /api. Prints figures, asserts
// no timing; exits 1 on a correctness failure: an invalid_grant, a lost refresh token (the one
// persisted last is not the server's current one), or an error given to a caller while the
// token the session held was valid by its own whole-second clock and by the server's
// (GET /admin/token-valid); valid by the server's clock only (the token's last second) is
// counted apart.
//
// Knobs: LOAD_CALLERS (200), LOAD_SECONDS (20), LOAD_LIFETIME (2), LOAD_FAIL_RATE (0.1),
// LOAD_RETRY_AFTER (1), LOAD_SEED (1).
import * as g from 'grantline';

const BASE = process.env.GRANTLINE_LOAD_URL;
if (!BASE) {
  console.error('load: GRANTLINE_LOAD_URL is not set (run under tests/interop/servers.sh run)');
  process.exit(2);
}
const CALLERS = Number(process.env.LOAD_CALLERS || 200);
const SECONDS = Number(process.env.LOAD_SECONDS || 20);
const CONFIG = {
  lifetime: Number(process.env.LOAD_LIFETIME || 2),
  fail_rate: Number(process.env.LOAD_FAIL_RATE ?? 0.1),
  retry_after: Number(process.env.LOAD_RETRY_AFTER ?? 1),
  seed: Number(process.env.LOAD_SEED || 1),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function admin(path, body) {
  const res = await fetch(`${BASE}${path}`, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`load: ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const config = await admin('/admin/reset', CONFIG);

// What the app persists: every token set onTokens receives, the last one wins.
const persisted = { sets: 0, rotated: 0, last: undefined };
const background = new Map();
const provider = g.Provider.custom({ name: 'load', tokenEndpoint: `${BASE}/token`, grants: ['password', 'refresh_token'] });
const client = new g.Client(provider, 'load-client', { clientSecret: 'load-secret' });
const session = g.TokenSession.password(client, 'load-user', 'load-password', [], {
  onTokens: (tokens, { refreshTokenRotated }) => {
    persisted.sets += 1;
    if (refreshTokenRotated) persisted.rotated += 1;
    persisted.last = tokens.serialize();
  },
  // Every failed renewal, for the figures (most reached no caller: the token was still valid).
  onError: (e) => {
    const key = e instanceof g.GrantlineError ? `${e.kind}${e.code ? ` ${e.code}` : ''}` : 'onTokens';
    background.set(key, (background.get(key) ?? 0) + 1);
  },
});

const seen = {
  tokens: 0, errorsWhileValid: 0, errorsLastSecond: 0, errorsNoValid: 0, errorKinds: new Map(), whileValid: [],
  apiOk: 0, api401: 0, apiOther: 0, latency: [],
};

async function tokenValid(token) {
  if (!token) return { valid: false };
  return admin(`/admin/token-valid?token=${encodeURIComponent(token)}`);
}

const end = Date.now() + SECONDS * 1000;
const refused = new Set(); // access tokens the API refused (401): no longer valid tokens

async function caller() {
  while (Date.now() < end) {
    let token;
    const started = performance.now();
    // The token the session holds before the call: if the call fails, was it still valid?
    const before = session.tokens;
    try {
      token = await session.getAccessToken();
    } catch (e) {
      // An error "while a valid token existed" is one the session gave although the token it
      // held before the call was valid by its own whole-second clock (floor(now) < expiresAt,
      // not refused by the API) AND by the server's. Valid by the server's clock only is the
      // token's last second, which the session's whole-second clock cannot see: counted apart.
      const at = Date.now() / 1000;
      const key = `${e.kind}${e.code ? ` ${e.code}` : ''}`;
      seen.errorKinds.set(key, (seen.errorKinds.get(key) ?? 0) + 1);
      const clientValid = !!before && !refused.has(before.accessToken)
        && (before.expiresAt === undefined || before.expiresAt === null || Math.floor(at) < Number(before.expiresAt));
      const server = before ? await tokenValid(before.accessToken) : { valid: false };
      if (clientValid && server.valid) {
        seen.errorsWhileValid += 1;
        if (seen.whileValid.length < 5) {
          seen.whileValid.push(`${e.name} (${key}) at ${at.toFixed(3)}: the session's token expires at ${before.expiresAt} `
            + `(issued at ${before.issuedAt}), the server's at ${server.expires_at}`);
        }
      } else if (server.valid) {
        seen.errorsLastSecond += 1;
      } else {
        seen.errorsNoValid += 1;
      }
      // A caller that got an error tries again a little later (its own pacing, not a retry of
      // the session's: the session decides when it renews).
      await sleep(50);
      continue;
    }
    seen.latency.push(performance.now() - started);
    seen.tokens += 1;
    const res = await fetch(`${BASE}/api`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    if (res.status === 200) seen.apiOk += 1;
    else if (res.status === 401) {
      seen.api401 += 1;
      refused.add(token);
      session.reject(token); // as session.fetch() does: renew once, however many callers reject it
    } else seen.apiOther += 1;
  }
}

const started = Date.now();
await Promise.all(Array.from({ length: CALLERS }, caller));
const elapsed = (Date.now() - started) / 1000;
// A renewal still in flight: let it land (and reach onTokens) before checking what was persisted.
for (let i = 0; i < 300 && session.renewing; i += 1) await sleep(50);
await sleep(100);

const stats = await admin('/admin/stats');
const last = persisted.last && g.TokenSet.deserialize(persisted.last);
const check = last && last.refreshToken ? await admin('/admin/check', { refresh_token: last.refreshToken }) : { state: 'none persisted' };
const lost = check.state === 'current' ? 0 : 1;

const sorted = seen.latency.sort((a, b) => a - b);
const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2) : '-');
const fmt = (m) => ([...m].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none');
const lines = [
  `load: node ${process.version}, ${CALLERS} concurrent callers sharing one TokenSession (password grant), ${elapsed.toFixed(1)} s`,
  `  server config: ${JSON.stringify(config)}`,
  `  token requests: ${stats.token_requests} (processed ${stats.processed}, injected resets ${stats.injected_resets}, injected 503 ${stats.injected_503}) for ${(elapsed / config.lifetime).toFixed(1)} token lifetimes elapsed`,
  `  access tokens issued: ${stats.issued_access_tokens}, refresh-token rotations: ${stats.rotations}, token sets persisted by onTokens: ${persisted.sets} (${persisted.rotated} with a rotated refresh token)`,
  `  invalid_grant: ${stats.invalid_grant} (reuse detected ${stats.reuse_detected}, families revoked ${stats.families_revoked}, live families ${stats.families})`,
  `  lost refresh tokens: ${lost} (the refresh token persisted last is ${check.state})`,
  `  getAccessToken(): ${seen.tokens} tokens served (latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms)`,
  `  errors seen by callers while a valid token existed: ${seen.errorsWhileValid}`,
  `  errors seen by callers with no valid token: ${seen.errorsNoValid} (${fmt(seen.errorKinds)}); in a token's last second by the server's clock only: ${seen.errorsLastSecond}`,
  `  failed renewals (onError, most reached no caller): ${fmt(background)}`,
  `  API calls: ${seen.apiOk} ok, ${seen.api401} 401 (server: ${stats.api_ok} ok, ${stats.api_401} 401), ${seen.apiOther} other`,
];
console.log(lines.join('\n'));
for (const w of seen.whileValid) console.log(`  error while valid: ${w}`);
const failures = [];
if (stats.invalid_grant > 0) failures.push(`${stats.invalid_grant} invalid_grant`);
if (lost > 0) failures.push('a lost refresh token');
if (seen.errorsWhileValid > 0) failures.push(`${seen.errorsWhileValid} errors while a valid token existed`);
if (failures.length) {
  console.log(`load: FAILED: ${failures.join(', ')}`);
  process.exit(1);
}
console.log('load: ok (0 invalid_grant, 0 lost, 0 errors while valid)');
