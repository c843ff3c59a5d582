"""OpenID Connect, JWT client authentication and extension grants against oidc-provider
(issue 11): ID tokens validated against the server's real JWKS (RS256, ES256, EdDSA), userinfo,
refresh (OIDC Core §12.2), logout, a key rotation mid-session, private_key_jwt and
client_secret_jwt, resource indicators and token exchange. Every high-level call runs through
every transport, grantline.aio included."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any, List

import pytest

import grantline
from grantline import HttpRequest, HttpResponse
from grantline.transports import UrllibTransport

from browser import Browser
from conftest import CALLBACK, Flows, confidential
from test_interop import assert_quiet

KEYS = Path(__file__).resolve().parents[2] / "tests" / "interop" / "keys"
LOGGED_OUT = "http://127.0.0.1:8765/logged-out"
JWT_CLIENT = "jwt-client"
SECRET_JWT_CLIENT, SECRET_JWT_SECRET = "secret-jwt-client", "secret-jwt-client-shared-secret-0123456789"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def jwt_key() -> grantline.SigningKey:
    return grantline.SigningKey.from_jwk((KEYS / "jwt-client.private.jwk.json").read_text())


def jwt_client(provider: grantline.Provider) -> grantline.Client:
    return grantline.Client(provider, JWT_CLIENT, redirect_uri=CALLBACK, signing_key=jwt_key())


def secret_jwt_client(provider: grantline.Provider) -> grantline.Client:
    return grantline.Client(provider, SECRET_JWT_CLIENT, client_secret=SECRET_JWT_SECRET, redirect_uri=CALLBACK,
                            auth_method="client_secret_jwt")


def login(client: grantline.Client, flows: Flows, scopes: List[str], *, refresh: bool = False) -> Any:
    """Authorization code flow with `openid`: the token set and the pending authorization."""
    # No `resource`: the access token is then for the userinfo endpoint (oidc-provider).
    params = [("prompt", "consent")] if refresh else []
    auth = client.authorization_url(scopes, params=params)
    assert auth.pending.nonce is not None and "nonce=" in auth.url
    grant = client.callback(auth.pending, Browser().authorize(auth.url, CALLBACK))
    tokens = flows("exchange_code", client, grant)
    assert tokens.id_token is not None
    return tokens, auth.pending


class Counting:
    """A blocking transport that counts the requests per path."""

    def __init__(self) -> None:
        self.inner = UrllibTransport()
        self.paths: List[str] = []

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        self.paths.append(request.url.split("?")[0].rsplit("/", 1)[-1])
        return self.inner.send(request, **kwargs)


# ------------------------------------------------------------------------ the whole OIDC session


def test_login_validate_userinfo_refresh_logout_test_client(flows: Flows, oidc: grantline.Provider) -> None:
    assert oidc.jwks_uri and oidc.userinfo_endpoint and oidc.end_session_endpoint
    assert "RS256" in oidc.id_token_algorithms
    client = confidential(oidc)
    tokens, pending = login(client, flows, ["openid", "offline_access", "profile", "email"], refresh=True)
    claims = flows("validate_id_token", client, tokens, pending)
    assert claims.iss == oidc.issuer and claims.aud == ["test-client"] and claims.algorithm == "RS256"
    assert claims.nonce == pending.nonce and claims.sub == "alice"
    assert_quiet([claims, pending, tokens], [tokens.id_token, pending.nonce, tokens.access_token])

    info = flows("userinfo", client, tokens, claims)
    assert info.sub == claims.sub and "email" in info.claims
    with pytest.raises(grantline.IdTokenError) as other:
        flows("userinfo", client, tokens.access_token, "mallory")
    assert other.value.claim == "sub" and "alice" not in str(other.value)

    refreshed = flows("refresh", client, tokens)
    assert refreshed.id_token is not None  # may equal the first one within the same second (RS256)
    again = flows("validate_refreshed_id_token", client, refreshed, claims)
    assert again is not None and again.sub == claims.sub and again.iat >= claims.iat

    url = client.end_session_url(id_token_hint=refreshed.id_token, post_logout_redirect_uri=LOGGED_OUT,
                                 state="bye")
    assert url.startswith(oidc.end_session_endpoint) and "client_id=test-client" in url
    with urllib.request.urlopen(url, timeout=10) as page:  # the logout confirmation page
        assert page.status == 200 and b"form" in page.read().lower()


@pytest.mark.parametrize("which", ["jwt-client", "secret-jwt-client"])
def test_code_flow_with_jwt_client_authentication(flows: Flows, oidc: grantline.Provider, which: str) -> None:
    client = jwt_client(oidc) if which == "jwt-client" else secret_jwt_client(oidc)
    assert client.auth_method == ("private_key_jwt" if which == "jwt-client" else "client_secret_jwt")
    tokens, pending = login(client, flows, ["openid"])
    claims = flows("validate_id_token", client, tokens, pending)
    assert claims.algorithm == ("ES256" if which == "jwt-client" else "EdDSA")
    assert claims.aud == [which]


def test_a_key_rotation_costs_one_jwks_fetch(oidc: grantline.Provider, oidc_url: str) -> None:
    counting = Counting()
    client = confidential(oidc)  # one client object: one JWKS cache
    flows = Flows("urllib")
    first, pending = login(client, flows, ["openid"])
    claims = grantline.validate_id_token(client, first, pending, transport=counting)
    assert counting.paths.count("jwks") == 1
    grantline.validate_id_token(client, first, pending, transport=counting)
    assert counting.paths.count("jwks") == 1  # the cache holds the key

    rotate = urllib.request.Request(f"{oidc_url}/admin/rotate-keys", method="POST", data=b"")
    with urllib.request.urlopen(rotate, timeout=10) as answer:
        kids = json.loads(answer.read())
    second, pending2 = login(client, flows, ["openid"])
    assert first.id_token is not None and second.id_token is not None
    old = json.loads(_b64(first.id_token.secret().split(".")[0]))
    header = json.loads(_b64(second.id_token.secret().split(".")[0]))
    assert header["kid"] != old["kid"] and header["kid"] in json.dumps(kids)
    # The core refetches an unknown kid at most once per 60 s: the second login comes 61 s later
    # on the clock the core is given.
    later = int(time.time()) + 61
    again = grantline.validate_id_token(client, second, pending2, now=later, transport=counting)
    assert again.sub == claims.sub and counting.paths.count("jwks") == 2
    assert client.jwks_cache.keys is not None and header["kid"] in [k["kid"] for k in client.jwks_cache.keys.keys]
    # A made-up kid within the interval is refused without another fetch.
    with pytest.raises(grantline.JwsError) as unknown:
        client.jwks_cache.verify(_forged_kid(second.id_token.secret()), ["RS256"], later + 1)
    assert unknown.value.problem == "no_matching_key" and counting.paths.count("jwks") == 2


def test_a_client_with_a_short_refetch_interval_follows_a_rotation_on_the_real_clock(
    oidc: grantline.Provider, oidc_url: str
) -> None:
    counting = Counting()
    client = confidential(oidc, jwks_min_refetch=1)
    flows = Flows("urllib")
    first, pending = login(client, flows, ["openid"])
    grantline.validate_id_token(client, first, pending, transport=counting)
    rotate = urllib.request.Request(f"{oidc_url}/admin/rotate-keys", method="POST", data=b"")
    urllib.request.urlopen(rotate, timeout=10).close()
    time.sleep(1.1)
    second, pending2 = login(client, flows, ["openid"])
    assert grantline.validate_id_token(client, second, pending2, transport=counting).sub == "alice"
    assert counting.paths.count("jwks") == 2


def _b64(part: str) -> str:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _forged_kid(token: str) -> str:
    import base64

    header = json.loads(_b64(token.split(".")[0]))
    header["kid"] = "nobody"
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return ".".join([encoded] + token.split(".")[1:])


# ------------------------------------------------------------------------ JWT client authentication


def test_client_credentials_and_introspection_with_private_key_jwt(flows: Flows, oidc: grantline.Provider) -> None:
    client = jwt_client(oidc)
    first = flows("client_credentials", client, ["api:read"])
    second = flows("client_credentials", client, ["api:read"])  # a new jti: not a replay
    assert first.access_token != second.access_token
    info = flows("introspect", client, first.access_token)
    assert info.active and info.client_id == JWT_CLIENT
    assert "BEGIN" not in repr(client.signing_key) and '"d"' not in repr(client.signing_key)


def test_client_credentials_with_client_secret_jwt(flows: Flows, oidc: grantline.Provider) -> None:
    client = secret_jwt_client(oidc)
    tokens = flows("client_credentials", client, ["api:read"])
    tokens2 = flows("client_credentials", client, ["api:read"])
    assert tokens.access_token != tokens2.access_token
    assert SECRET_JWT_SECRET not in repr(client) + str(client.client_credentials_request(["api:read"]))


def test_resource_indicator_gives_a_jwt_access_token(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc)
    tokens = flows("client_credentials", client, ["api:read"], params=[("resource", "urn:example:jwt-api")])
    token = tokens.access_token.secret()
    assert token.count(".") == 2
    verified = grantline.JwkSet.from_json(_jwks(oidc)).verify(token, ["RS256", "PS256", "ES256", "EdDSA"])
    assert verified.claims()["aud"] == "urn:example:jwt-api"


def _jwks(provider: grantline.Provider) -> str:
    assert provider.jwks_uri is not None
    with urllib.request.urlopen(provider.jwks_uri, timeout=10) as answer:
        return str(answer.read().decode())


# ------------------------------------------------------------------------ token exchange


def test_token_exchange_with_repeated_resource_and_audience(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc)
    subject = flows("client_credentials", client, ["api:read"])
    exchanged = flows(
        "token_exchange", client, subject.access_token, ACCESS_TOKEN_TYPE,
        resource=["urn:example:api", "urn:example:other"], audience=["svc-a", "svc-b"],
        requested_token_type=ACCESS_TOKEN_TYPE,
    )
    assert exchanged.issued_token_type == ACCESS_TOKEN_TYPE
    echo = exchanged.extra["exchanged"]
    assert echo["resource"] == ["urn:example:api", "urn:example:other"]
    assert echo["audience"] == ["svc-a", "svc-b"]
    # The same through the generic grant, params in order.
    generic = flows(
        "grant", client, EXCHANGE,
        params=[("subject_token", subject.access_token.secret()), ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", "x"), ("audience", "y")],
    )
    assert generic.issued_token_type == ACCESS_TOKEN_TYPE and generic.extra["exchanged"]["audience"] == ["x", "y"]
