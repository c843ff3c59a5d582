"""Smoke test of an installed wheel, run outside the source tree by test.sh (not by pytest):
import, build a request, parse a response, check the error classes. No network."""

import pickle
import sys

import grantline

assert "site-packages" in grantline.__file__, f"not the installed wheel: {grantline.__file__}"
client = grantline.Client(grantline.Provider.libro(), "YOUR_CLIENT_ID", client_secret="YOUR_CLIENT_SECRET")
request = client.client_credentials_request()
assert request.url == "https://api.libroreserve.com/oauth/token"
assert request.body == b"grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET"
assert "YOUR_CLIENT_SECRET" not in str(request) + repr(request)
response = grantline.HttpResponse(
    200, {"content-type": "application/json"}, b'{"access_token":"eyJ...","token_type":"Bearer","expires_in":7200}'
)
tokens = grantline.TokenSet.from_response(response, now=1_700_000_000)
assert tokens.expires_at == 1_700_007_200 and tokens.access_token.secret() == "eyJ..."
assert "eyJ" not in repr(tokens)
try:
    grantline.TokenSet.from_response(grantline.HttpResponse(400, None, b'{"error":"invalid_grant"}'))
except grantline.OAuthError as e:
    assert e.error == "invalid_grant" and e.status == 400
    assert pickle.loads(pickle.dumps(e)).error == "invalid_grant"
else:
    raise AssertionError("no OAuthError")
discovery = grantline.Discovery("https://as.example/tenant1")
assert discovery.urls[0] == "https://as.example/.well-known/oauth-authorization-server/tenant1"
fleet = grantline.FleetConfig("smoke", [("k1", bytes(32))])
sealed = grantline.Entry(1, tokens, 1_700_000_000).seal(fleet)
assert grantline.Entry.open(sealed, fleet).version == 1 and "eyJ" not in sealed
assert "redis" not in sys.modules, "redis loads only with grantline.redis"
from grantline.transports import UrllibTransport  # noqa: E402 - the stdlib transport loads lazily

assert UrllibTransport().timeout == 30.0
print(f"smoke: grantline {grantline.__version__} from the wheel works on Python {sys.version.split()[0]}")
