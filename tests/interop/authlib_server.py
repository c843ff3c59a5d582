"""Minimal in-memory Authlib (Flask) OAuth 2.0 server for grantline's interop tests.

    python authlib_server.py PORT

Listens on 127.0.0.1:PORT only. ACCEPT_JSON=1 (servers.sh sets it) makes the token, introspection
and revocation endpoints accept application/json bodies as well as form bodies. CODE_TTL sets the
authorization code lifetime in seconds (default 60).
Clients: test-client/test-secret (confidential, basic or post), public-client (none, PKCE).
Users: alice/wonderland. Protected resource: GET /api/me (scope `read`).
See README.md in this folder for endpoints and quirks.
"""
import os, sys, time, secrets
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # allow http://127.0.0.1
from flask import Flask, request, jsonify
from werkzeug.datastructures import MultiDict, CombinedMultiDict
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request, FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import grants, ClientMixin, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

AUTH = ["client_secret_basic", "client_secret_post", "none"]
SCOPES = {"openid", "profile", "read", "write"}
USERS = {"alice": "wonderland"}
CB = "http://127.0.0.1:8765/callback"

class Client(ClientMixin):
    def __init__(self, client_id, secret, method, grant_types, scope="read write profile"):
        self.client_id, self.secret, self.method = client_id, secret, method
        self.grant_types, self.scope, self.redirect_uris = grant_types, scope, [CB]
    def get_client_id(self): return self.client_id
    def get_default_redirect_uri(self): return self.redirect_uris[0]
    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in self.scope.split())
    def check_redirect_uri(self, uri): return uri in self.redirect_uris
    def check_client_secret(self, s): return secrets.compare_digest(s or "", self.secret or "")
    def check_endpoint_auth_method(self, method, endpoint):
        # confidential client: basic OR post; public client: none
        return method in (("client_secret_basic", "client_secret_post") if self.secret else ("none",))
    def check_response_type(self, rt): return rt == "code"
    def check_grant_type(self, gt): return gt in self.grant_types

CLIENTS = {c.client_id: c for c in [
    Client("test-client", "test-secret", "client_secret_basic",
           ["authorization_code", "refresh_token", "client_credentials", "password"]),
    Client("public-client", None, "none", ["authorization_code", "refresh_token"]),
]}

class Token(TokenMixin):
    def __init__(self, d, client, user):
        self.__dict__.update(d); self.client, self.user = client, user
        self.issued_at, self.revoked = time.time(), False
    def check_client(self, c): return c.client_id == self.client.client_id
    def get_scope(self): return self.scope
    def get_expires_in(self): return self.expires_in
    def is_expired(self): return time.time() > self.issued_at + self.expires_in
    def is_revoked(self): return self.revoked
    def get_user(self): return self.user
    def get_client(self): return self.client
    def is_refresh_token_active(self): return not self.revoked  # refresh token never expires here

TOKENS = {}; RTOKENS = {}; CODES = {}

def save_token(token, req):
    t = Token({"scope": "", "refresh_token": None, **token}, req.client, req.user)
    TOKENS[t.access_token] = t
    if t.refresh_token: RTOKENS[t.refresh_token] = t

class Code:
    def __init__(self, **kw): self.__dict__.update(kw); self.created = time.time()
    def get_redirect_uri(self): return self.redirect_uri
    def get_scope(self): return self.scope
    def is_expired(self): return time.time() > self.created + float(os.environ.get("CODE_TTL", 60))

class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH
    def save_authorization_code(self, code, req):
        CODES[code] = Code(code=code, client_id=req.client.client_id, redirect_uri=req.payload.redirect_uri,
                           scope=req.payload.scope, user=req.user,
                           code_challenge=req.payload.data.get("code_challenge"),
                           code_challenge_method=req.payload.data.get("code_challenge_method"))
    def query_authorization_code(self, code, client):
        c = CODES.get(code)
        if c and c.client_id == client.client_id and not c.is_expired(): return c
    def delete_authorization_code(self, c): CODES.pop(c.code, None)   # single use
    def authenticate_user(self, c): return c.user

class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH
    def authenticate_user(self, username, password):
        return username if USERS.get(username) == password else None

class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH

class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True                     # rotate
    def authenticate_refresh_token(self, rt):
        t = RTOKENS.get(rt)
        if t and t.is_refresh_token_active(): return t
    def authenticate_user(self, t): return t.user
    def revoke_old_credential(self, t): t.revoked = True

def _find(token, hint):
    if hint == "refresh_token": return RTOKENS.get(token)
    return TOKENS.get(token) or RTOKENS.get(token)

class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH
    def query_token(self, token, hint): return _find(token, hint)
    def revoke_token(self, t, req): t.revoked = True

class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH
    def query_token(self, token, hint): return _find(token, hint)
    def check_permission(self, t, client, req): return True
    def introspect_token(self, t):
        return {"active": True, "client_id": t.client.client_id, "token_type": t.token_type,
                "username": t.user, "scope": t.get_scope(), "sub": t.user,
                "exp": int(t.issued_at + t.expires_in), "iat": int(t.issued_at)}

if os.environ.get("ACCEPT_JSON"):   # shim: treat JSON bodies like form bodies
    class _JsonPayload(FlaskOAuth2Payload):
        @property
        def data(self):
            r = self._request
            return CombinedMultiDict([r.args, MultiDict(r.get_json(silent=True) or {})]) if r.is_json else r.values
    class _Req(FlaskOAuth2Request):
        def __init__(self, r):
            super().__init__(r); self.payload = _JsonPayload(r)
        @property
        def form(self):
            r = self._request
            return MultiDict(r.get_json(silent=True) or {}) if r.is_json else r.form
    class Server(AuthorizationServer):
        def create_oauth2_request(self, req): return _Req(request)
else:
    Server = AuthorizationServer

app = Flask(__name__)
app.config.update(OAUTH2_REFRESH_TOKEN_GENERATOR=True, OAUTH2_SCOPES_SUPPORTED=sorted(SCOPES),
                  OAUTH2_TOKEN_EXPIRES_IN={"client_credentials": 3600, "password": 3600, "authorization_code": 3600})
server = Server(app, query_client=CLIENTS.get, save_token=save_token)
server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
server.register_grant(PasswordGrant)
server.register_grant(ClientCredentialsGrant)
server.register_grant(RefreshTokenGrant)
server.register_endpoint(Revocation)
server.register_endpoint(Introspection)

class Validator(BearerTokenValidator):
    def authenticate_token(self, s): return TOKENS.get(s)
require_oauth = ResourceProtector(); require_oauth.register_token_validator(Validator(realm="authlib"))

@app.get("/authorize")   # auto-approves as ?user=alice (default) - no login page
def authorize():
    return server.create_authorization_response(grant_user=request.args.get("user", "alice"))

@app.post("/token")
def token(): return server.create_token_response()

@app.post("/revoke")
def revoke(): return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

@app.post("/introspect")
def introspect(): return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

@app.get("/api/me")      # protected resource
@require_oauth("read")
def me():
    from authlib.integrations.flask_oauth2 import current_token
    return jsonify(sub=current_token.user, client_id=current_token.client.client_id, scope=current_token.scope)

@app.after_request
def _challenge_first(resp):
    # Cosmetic: list WWW-Authenticate first so `curl -i ... | head -5` shows it (order has no meaning in HTTP).
    v = resp.headers.get("WWW-Authenticate")
    if v is not None:
        del resp.headers["WWW-Authenticate"]
        resp.headers._list.insert(0, ("WWW-Authenticate", v))
    return resp

@app.get("/.well-known/oauth-authorization-server")
def metadata():
    b = request.host_url.rstrip("/")
    return jsonify(issuer=b, authorization_endpoint=b + "/authorize", token_endpoint=b + "/token",
                   revocation_endpoint=b + "/revoke", introspection_endpoint=b + "/introspect",
                   grant_types_supported=["authorization_code", "refresh_token", "client_credentials", "password"],
                   token_endpoint_auth_methods_supported=AUTH, code_challenge_methods_supported=["S256", "plain"],
                   scopes_supported=sorted(SCOPES))

if __name__ == "__main__":
    try:
        port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    except ValueError:
        sys.exit(f"authlib_server: bad port {sys.argv[1]!r}")
    print(f"authlib server listening on http://127.0.0.1:{port} (accept JSON: {bool(os.environ.get('ACCEPT_JSON'))})",
          flush=True)
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False, threaded=True)
