// A stand-in for the network, for running the README's examples as written: answers token
// requests with a token set, discovery with a metadata document, anything else with `{}`.
// Loaded with `node --import`; it replaces globalThis.fetch.
let n = 0;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' ? input : input.url);
  const method = (init.method || 'GET').toUpperCase();
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  if (method === 'GET' && url.pathname.includes('/.well-known/')) {
    return json(200, {
      issuer: url.origin, token_endpoint: `${url.origin}/token`, authorization_endpoint: `${url.origin}/authorize`,
      grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    });
  }
  if (method === 'POST') {
    const body = String(init.body ?? '');
    if (!/grant_type/.test(body)) return json(400, { error: 'invalid_request' });
    n += 1;
    return json(200, { access_token: `access-${n}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `refresh-${n}`, scope: 'read' });
  }
  return json(200, {});
};
