"""grantline's Python API against real authorization servers (oidc-provider, Authlib,
oauth2-mock-server on 127.0.0.1), every grant through every transport: urllib, httpx, requests,
and httpx's AsyncClient through grantline.aio."""

from __future__ import annotations

import json
import pickle
from typing import Any, Iterable, List

import pytest

import grantline
from grantline import OAuthError, Secret, TokenSession, TokenSet
from grantline.transports import UrllibTransport

from browser import Browser
from conftest import API_RESOURCE, CALLBACK, CLIENT_SECRET, PASSWORD, Flows, confidential, public


def assert_quiet(objects: Iterable[Any], secrets: Iterable[Any]) -> None:
    """No secret value appears in the str() or repr() of any of ``objects``."""
    values: List[str] = [s.secret() if isinstance(s, Secret) else s for s in secrets if s is not None]
    assert values and all(len(v) >= 4 for v in values)
    for obj in objects:
        for shown in (str(obj), repr(obj)):
            for value in values:
                assert value not in shown, f"a secret shows in {type(obj).__name__}: {shown[:200]}"


def authlib_me(url: str, token: Secret) -> grantline.HttpResponse:
    request = grantline.HttpRequest(
        "GET", f"{url}/api/me", {"authorization": grantline.authorization_header(token)}
    )
    return UrllibTransport().send(request)


def authorize(client: grantline.Client, scopes: List[str], **kwargs: Any) -> grantline.CodeGrant:
    auth = client.authorization_url(scopes, **kwargs)
    callback = Browser().authorize(auth.url, CALLBACK)
    grant = client.callback(auth.pending, callback)
    assert_quiet([auth, auth.pending, grant], [auth.pending.state, auth.pending.code_verifier, grant.code])
    return grant


def oidc_authorization(client: grantline.Client) -> grantline.CodeGrant:
    """What oidc-provider needs to hand out a refresh token and an opaque access token."""
    return authorize(
        client,
        ["openid", "offline_access", "api:read"],
        params=[("resource", API_RESOURCE), ("prompt", "consent")],
    )


# ------------------------------------------------------------------------ discovery


def test_discovery_of_the_issuer_through_every_transport(
    flows: Flows, oidc_url: str, authlib_url: str, mock_url: str
) -> None:
    # oidc-provider serves only OpenID Connect's document: RFC 8414's URL is a 404, then OIDC's.
    for issuer, well_known in [
        (oidc_url, "openid-configuration"),
        (authlib_url, "oauth-authorization-server"),
        (mock_url, "openid-configuration"),
    ]:
        provider = flows("discover", issuer)
        assert provider.issuer == issuer and provider.token_endpoint("client_credentials")
        assert flows("discover", f"{issuer}/.well-known/{well_known}") == provider
    with pytest.raises(grantline.MalformedResponseError) as missing:
        flows("discover", f"{authlib_url}/tenant1")
    assert (missing.value.kind, missing.value.status) == ("unexpected_status", 404)


# ------------------------------------------------------------------------ client credentials


def test_client_credentials_basic_and_body_oidc_provider(flows: Flows, oidc: grantline.Provider) -> None:
    basic = confidential(oidc)
    assert basic.auth_method == "client_secret_basic"
    body = confidential(oidc, auth_method="client_secret_post")
    for client in (basic, body):
        t = flows("client_credentials", client, ["api:read"])
        assert t.token_type == "Bearer" and t.refresh_token is None
        assert t.scopes == ["api:read"]
        assert t.lifetime is not None and 3590 <= t.lifetime <= 3600
        assert_quiet([t, client, client.client_credentials_request(["api:read"])], [t.access_token, CLIENT_SECRET])


def test_client_credentials_authlib_token_opens_the_api(
    flows: Flows, authlib: grantline.Provider, authlib_url: str
) -> None:
    t = flows("client_credentials", confidential(authlib), ["read"])
    assert t.scopes == ["read"]
    me = authlib_me(authlib_url, t.access_token)
    assert me.status == 200
    assert json.loads(me.body)["client_id"] == "test-client"


def test_client_credentials_mock(flows: Flows, mock: grantline.Provider) -> None:
    t = flows("client_credentials", confidential(mock), ["api"])
    assert t.expiry_source == "expires_in"


# ------------------------------------------------------------------------ authorization code


def test_authorization_code_pkce_oidc_provider(flows: Flows, oidc: grantline.Provider, oidc_url: str) -> None:
    assert oidc.iss_parameter_supported
    client = confidential(oidc)
    grant = oidc_authorization(client)
    assert grant.code_verifier is not None
    t = flows("exchange_code", client, grant)
    assert t.refresh_token is not None and t.id_token is not None
    assert t.scopes == ["api:read"] and t.lifetime == 3600
    info = flows("introspect", client, t.access_token, "access_token")
    assert info.active and info.client_id == "test-client" and info.sub == "alice"
    with pytest.raises(OAuthError) as reused:
        flows("exchange_code", client, grant)
    assert (reused.value.error, reused.value.status) == ("invalid_grant", 400)
    assert_quiet(
        [t, info, reused.value, grant, client.authorization_code_request(grant)],
        [t.access_token, t.refresh_token, t.id_token, grant.code, grant.code_verifier, CLIENT_SECRET],
    )


def test_authorization_code_public_client_oidc_provider(flows: Flows, oidc: grantline.Provider) -> None:
    client = public(oidc)
    assert client.auth_method == "none"
    grant = authorize(client, ["openid", "profile"])
    exchange = client.authorization_code_request(grant)
    assert "authorization" not in exchange.headers
    t = flows("exchange_code", client, grant)
    assert t.id_token is not None


def test_authorization_code_authlib_confidential_and_public(
    flows: Flows, authlib: grantline.Provider, authlib_url: str
) -> None:
    for client in (confidential(authlib), public(authlib)):
        grant = authorize(client, ["read", "profile"])
        t = flows("exchange_code", client, grant)
        assert t.refresh_token is not None
        assert t.scopes == ["read", "profile"]
        me = authlib_me(authlib_url, t.access_token)
        assert me.status == 200 and json.loads(me.body)["sub"] == "alice"
        with pytest.raises(OAuthError) as reused:
            flows("exchange_code", client, grant)
        assert (reused.value.error, reused.value.status) == ("invalid_grant", 400)


def test_authorization_code_mock(flows: Flows, mock: grantline.Provider) -> None:
    client = confidential(mock)
    grant = authorize(client, ["openid"])
    flows("exchange_code", client, grant)
    with pytest.raises(OAuthError, match="invalid_grant"):
        flows("exchange_code", client, grant)


def test_a_foreign_state_is_refused_and_the_pending_authorization_survives_pickle_and_json(
    authlib: grantline.Provider,
) -> None:
    client = confidential(authlib)
    auth = client.authorization_url(["read"])
    callback = Browser().authorize(auth.url, CALLBACK)
    other = client.authorization_url(["read"])
    with pytest.raises(grantline.StateMismatchError) as refused:
        client.callback(other.pending, callback)
    assert refused.value.kind == "state_mismatch"
    restored = pickle.loads(pickle.dumps(auth.pending))
    assert client.callback(restored, callback).code.secret()
    from_json = grantline.PendingAuthorization.from_json(auth.pending.to_json())
    assert client.callback(from_json, callback).redirect_uri == CALLBACK


# ------------------------------------------------------------------------ refresh, rotation


def test_refresh_rotation_authlib(flows: Flows, authlib: grantline.Provider, authlib_url: str) -> None:
    client = confidential(authlib)
    first = flows("exchange_code", client, authorize(client, ["read"]))
    second = flows("refresh", client, first)
    assert second.refresh_token is not None and first.refresh_token is not None
    assert second.refresh_token != first.refresh_token, "Authlib rotates refresh tokens"
    assert authlib_me(authlib_url, second.access_token).status == 200
    with pytest.raises(OAuthError) as replay:
        flows("refresh", client, first)
    assert (replay.value.error, replay.value.status) == ("invalid_grant", 400)
    assert_quiet([first, second, replay.value], [first.refresh_token, second.refresh_token, second.access_token])


def test_refresh_rotation_oidc_provider_and_reuse_kills_the_grant(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc)
    first = flows("exchange_code", client, oidc_authorization(client))
    second = flows("refresh", client, first)
    assert second.refresh_token is not None and second.refresh_token != first.refresh_token
    with pytest.raises(OAuthError, match="invalid_grant"):
        flows("refresh", client, first)
    with pytest.raises(OAuthError, match="invalid_grant"):
        flows("refresh", client, second)


def test_a_session_whose_refresh_token_died_asks_for_reauthorization(
    flows: Flows, authlib: grantline.Provider
) -> None:
    client = confidential(authlib)
    tokens = flows("exchange_code", client, authorize(client, ["read"]))
    flows("revoke", client, tokens.refresh_token, "refresh_token")
    state = grantline.SessionState.from_tokens(client, tokens)
    session = TokenSession(state)
    assert session.reject(tokens.access_token)
    with pytest.raises(OAuthError, match="invalid_grant"):
        session.token()
    with pytest.raises(grantline.ReauthorizationRequiredError):
        session.token()


# ------------------------------------------------------------------------ introspection, revocation


def test_introspection_and_revocation_oidc_provider(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc)
    t = flows("client_credentials", client, ["api:read"])
    info = flows("introspect", client, t.access_token, "access_token")
    assert info.active and info.client_id == "test-client" and info.scopes == ["api:read"]
    assert info.exp is not None and t.expires_at is not None and abs(info.exp - t.expires_at) <= 5
    flows("revoke", client, t.access_token, "access_token")
    assert not flows("introspect", client, t.access_token).active
    flows("revoke", client, t.access_token)
    flows("revoke", client, "not-a-token-this-server-issued")


def test_introspection_and_revocation_authlib_then_the_api_says_renew(
    flows: Flows, authlib: grantline.Provider, authlib_url: str
) -> None:
    client = confidential(authlib)
    t = flows("client_credentials", client, ["read"])
    info = flows("introspect", client, t.access_token, "access_token")
    assert info.active and info.scopes == ["read"]
    flows("revoke", client, t.access_token, "access_token")
    assert not flows("introspect", client, t.access_token).active
    me = authlib_me(authlib_url, t.access_token)
    assert me.status == 401
    challenge = grantline.bearer_challenge(me)
    assert challenge is not None and challenge.realm == "authlib" and challenge.error == "invalid_token"
    assert grantline.needs_renewal(me)


def test_introspection_and_revocation_mock(flows: Flows, mock: grantline.Provider) -> None:
    client = confidential(mock)
    t = flows("client_credentials", client)
    assert flows("introspect", client, t.access_token).active
    flows("revoke", client, t.access_token)
    assert not flows("introspect", client, t.access_token).active


# ------------------------------------------------------------------------ device flow


def test_device_flow_oidc_provider(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc)
    assert oidc.supports("device_code")
    device = flows("device_authorization", client, ["openid", "offline_access"])
    assert device.verification_uri.endswith("/device") and device.verification_uri_complete
    first = flows("poll_device", client, device)
    assert first.kind == "pending"
    Browser().approve_device(device.verification_uri, device.verification_uri_complete, device.user_code)
    tokens = flows("wait_for_device", client, device)
    assert tokens.refresh_token is not None and tokens.id_token is not None
    with pytest.raises(OAuthError, match="invalid_grant"):
        flows("poll_device", client, device)
    assert_quiet([device, first, tokens], [device.device_code, tokens.access_token, tokens.refresh_token])


# ------------------------------------------------------------------------ password, JSON bodies


def test_password_grant_authlib_and_a_wrong_password(
    flows: Flows, authlib: grantline.Provider, authlib_url: str
) -> None:
    client = confidential(authlib)
    t = flows("password", client, "alice", Secret(PASSWORD), ["read"])
    assert t.refresh_token is not None
    assert json.loads(authlib_me(authlib_url, t.access_token).body)["sub"] == "alice"
    with pytest.raises(OAuthError) as wrong:
        flows("password", client, "alice", "looking-glass", ["read"])
    # Authlib answers a wrong password with invalid_request (RFC 6749 says invalid_grant).
    assert (wrong.value.error, wrong.value.status) == ("invalid_request", 400)
    assert_quiet([wrong.value, client.password_request("alice", PASSWORD)], [PASSWORD, "looking-glass", CLIENT_SECRET])


def test_password_grant_mock_wrong_password_is_invalid_grant(flows: Flows, mock: grantline.Provider) -> None:
    client = confidential(mock)
    flows("password", client, "alice", PASSWORD)
    with pytest.raises(OAuthError) as wrong:
        flows("password", client, "alice", "wrong")
    assert (wrong.value.error, wrong.value.status) == ("invalid_grant", 400)


def test_json_bodies_with_an_audience_authlib(flows: Flows, authlib_url: str) -> None:
    provider = grantline.Provider.custom(
        "json-authlib",
        token_endpoint=f"{authlib_url}/token",
        introspection_endpoint=f"{authlib_url}/introspect",
        body_encoding="json",
        auth_method="client_secret_post",
        extra_token_params=[("audience", "https://api.example.com")],
        grants=["client_credentials", "password", "refresh_token"],
    )
    client = confidential(provider)
    request = client.client_credentials_request(["read"])
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["audience"] == "https://api.example.com" and body["client_secret"] == CLIENT_SECRET
    assert CLIENT_SECRET not in str(request) and CLIENT_SECRET not in repr(request)
    t = flows("client_credentials", client, ["read"])
    assert authlib_me(authlib_url, t.access_token).status == 200
    assert flows("introspect", client, t.access_token).active
    p = flows("password", client, "alice", PASSWORD, ["read"])
    assert client.refresh_request(p.refresh_token).headers["content-type"] == "application/json"
    assert flows("refresh", client, p).refresh_token is not None
    wrong = grantline.Client(provider, "test-client", client_secret="nope")
    with pytest.raises(OAuthError, match="invalid_client"):
        flows("client_credentials", wrong)


def test_json_bodies_are_refused_by_oidc_provider(flows: Flows, oidc: grantline.Provider) -> None:
    client = confidential(oidc.replace(body_encoding="json"))
    with pytest.raises(OAuthError) as refused:
        flows("client_credentials", client)
    assert (refused.value.error, refused.value.status) == ("invalid_request", 400)


# ------------------------------------------------------------------------ errors


def test_invalid_client_everywhere_is_an_oauth_error_with_its_attributes(
    flows: Flows, oidc: grantline.Provider, authlib: grantline.Provider, mock: grantline.Provider
) -> None:
    for provider in (oidc, authlib, mock):
        for method in ("client_secret_basic", "client_secret_post"):
            client = grantline.Client(provider, "test-client", client_secret="not-the-secret", auth_method=method)  # type: ignore[arg-type]
            with pytest.raises(OAuthError) as refused:
                flows("client_credentials", client)
            e = refused.value
            assert isinstance(e, grantline.GrantlineError)
            assert e.kind == "oauth" and e.error == "invalid_client" and e.status in (400, 401)
            if method == "client_secret_basic":
                assert e.status == 401, f"{provider.name}: RFC 6749 §5.2 for Basic"
            copy = pickle.loads(pickle.dumps(e))
            assert (type(copy), copy.error, copy.status, str(copy)) == (OAuthError, e.error, e.status, str(e))
            assert_quiet([e, client], ["not-the-secret"])


def test_invalid_scope(flows: Flows, oidc: grantline.Provider, mock: grantline.Provider) -> None:
    with pytest.raises(OAuthError) as refused:
        flows("client_credentials", confidential(oidc), ["admin"])
    assert (refused.value.error, refused.value.status) == ("invalid_scope", 400)
    assert refused.value.description
    with pytest.raises(OAuthError, match="invalid_scope"):
        flows("client_credentials", confidential(mock), ["api", "forbidden"])


def test_redirects_are_never_followed(flows: Flows, authlib: grantline.Provider) -> None:
    # GET /authorize answers a redirect: the transport hands it back as it came.
    client = confidential(authlib)
    auth = client.authorization_url(["read"])
    if flows.mode == "httpx-async":
        import asyncio

        from grantline.transports import AsyncHttpxTransport

        async def go() -> grantline.HttpResponse:
            t = AsyncHttpxTransport()
            try:
                return await t.send(grantline.HttpRequest("GET", auth.url))
            finally:
                await t.aclose()

        response = asyncio.run(go())
    else:
        assert flows.transport is not None
        response = flows.transport.send(grantline.HttpRequest("GET", auth.url))
    assert 300 <= response.status < 400
    location = response.header("location")
    assert location is not None and location.startswith(CALLBACK)


def test_a_server_that_is_not_there_is_a_transport_error(flows: Flows) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = grantline.Provider.custom(token_endpoint=f"http://127.0.0.1:{port}/token", grants=["client_credentials"])
    with pytest.raises(grantline.TransportError) as failed:
        flows("client_credentials", confidential(provider))
    assert failed.value.kind == "transport" and f"127.0.0.1:{port}/token" in str(failed.value)
    assert failed.value.__cause__ is not None
    assert CLIENT_SECRET not in str(failed.value)
    assert isinstance(pickle.loads(pickle.dumps(failed.value)), grantline.TransportError)


def test_the_token_set_round_trips_through_json_and_pickle(flows: Flows, authlib: grantline.Provider) -> None:
    t = flows("password", confidential(authlib), "alice", PASSWORD, ["read"])
    for copy in (TokenSet.from_json(t.to_json()), pickle.loads(pickle.dumps(t))):
        assert copy.access_token == t.access_token and copy.refresh_token == t.refresh_token
        assert copy.expires_at == t.expires_at and copy.scopes == t.scopes
