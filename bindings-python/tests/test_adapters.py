"""grantline.httpx.TokenAuth and grantline.requests.TokenAuth: a session's token on the
requests of your own httpx.Client, httpx.AsyncClient and requests.Session; one renewal and one
retry on 401 invalid_token; bodies streamed untouched; a streamed upload never sent twice; the
token never follows a redirect to another origin. Against a loopback API (tests/api_server.py)
and against the Authlib server of tests/interop."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest
import requests

import grantline
import grantline.httpx
import grantline.requests
from grantline import AsyncTokenSession, Client, Provider, TokenSession

from api_server import BIG, Api, AsyncIssuer, Issuer, chunks
from conftest import confidential, in_threads


def client() -> Client:
    provider = Provider.custom(token_endpoint="https://as.example/token", grants=["client_credentials"])
    return Client(provider, "id", client_secret="s")


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api().start()
    yield server
    server.stop()


@pytest.fixture
def other() -> Iterator[Api]:
    server = Api().start()
    yield server
    server.stop()


def sync_session(issuer: Issuer) -> TokenSession:
    return TokenSession.client_credentials(client(), transport=issuer)


def async_session(issuer: AsyncIssuer) -> AsyncTokenSession:
    return AsyncTokenSession.client_credentials(client(), transport=issuer)


def authorizations(api: Api, path: str = "/api") -> list[Any]:
    return [auth for _, _, auth, _ in api.calls(path)]


# ----------------------------------------------------------------------------- httpx, sync


def test_httpx_client_many_threads_one_token_request(api: Api) -> None:
    issuer = Issuer(api, hold=0.2)
    with httpx.Client(auth=grantline.httpx.TokenAuth(sync_session(issuer))) as http:
        statuses = in_threads(20, lambda: http.get(f"{api.url}/api").status_code)
    assert statuses == [200] * 20
    assert issuer.count == 1
    assert set(authorizations(api)) == {f"Bearer {issuer.issued[0]}"}


def test_httpx_401_invalid_token_renews_once_and_retries_once(api: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with httpx.Client(auth=grantline.httpx.TokenAuth(session)) as http:
        assert http.post(f"{api.url}/api", json={"a": 1}).status_code == 200
        api.revoke_all()  # behind the session's back
        response = http.post(f"{api.url}/api", json={"a": 1})
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert issuer.count == 2, "one renewal"
    first, second = issuer.issued
    assert authorizations(api) == [f"Bearer {first}", f"Bearer {first}", f"Bearer {second}"]
    assert [body for *_, body in api.calls()] == [b'{"a":1}'] * 3, "the JSON body sent again, whole"
    assert session.token().secret() == second


def test_httpx_a_401_that_persists_comes_back_after_one_retry_and_a_403_at_once(api: Api) -> None:
    issuer = Issuer(api, valid=False)  # the API refuses every token the server hands out
    with httpx.Client(auth=grantline.httpx.TokenAuth(sync_session(issuer))) as http:
        response = http.get(f"{api.url}/api")
        assert response.status_code == 401 and len(response.history) == 1
        assert issuer.count == 2 and len(api.calls()) == 2, "one renewal, one retry, no loop"
        api.valid.add(issuer.issued[-1])
        forbidden = http.get(f"{api.url}/forbidden")
    assert forbidden.status_code == 403 and forbidden.history == [] and issuer.count == 2


def test_httpx_streamed_responses_are_left_unread(api: Api) -> None:
    issuer = Issuer(api)
    with httpx.Client(auth=grantline.httpx.TokenAuth(sync_session(issuer))) as http:
        with http.stream("GET", f"{api.url}/big") as response:
            assert response.status_code == 200 and response.num_bytes_downloaded == 0
            assert len(response.read()) == BIG
        api.revoke_all()
        with http.stream("GET", f"{api.url}/big") as response:  # 401, renewal, retry: still a stream
            assert response.status_code == 200 and response.num_bytes_downloaded == 0
            assert [r.status_code for r in response.history] == [401]
            assert sum(len(c) for c in response.iter_bytes()) == BIG


def test_httpx_a_streamed_request_body_is_never_sent_twice(api: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with httpx.Client(auth=grantline.httpx.TokenAuth(session)) as http:
        first = session.token()
        api.revoke_all()
        refused = http.post(f"{api.url}/api", content=chunks(5000))
        assert refused.status_code == 401 and refused.history == []
        assert len(api.calls()) == 1, "not sent again"
        # The token was rejected all the same: the next request renews, and is accepted.
        accepted = http.post(f"{api.url}/api", content=b"z" * 5000)
    assert accepted.status_code == 200 and json.loads(accepted.content) == {"ok": True, "received": 5000}
    assert issuer.count == 2 and session.token() != first


def test_httpx_the_token_never_follows_a_redirect_to_another_origin(api: Api, other: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with httpx.Client(auth=grantline.httpx.TokenAuth(session), follow_redirects=True) as http:
        response = http.get(f"{api.url}/elsewhere", params={"to": f"{other.url}/api"})
    assert response.status_code == 401, "the other origin got no token"
    assert authorizations(other) == [None]
    assert issuer.count == 1 and session.token().secret() == issuer.issued[0], "its 401 rejected nothing"


# ----------------------------------------------------------------------------- httpx, asyncio


def test_httpx_async_client_tasks_share_one_renewal_and_retry_once(api: Api) -> None:
    async def go() -> None:
        issuer = AsyncIssuer(api, hold=0.2)
        session = async_session(issuer)
        async with httpx.AsyncClient(auth=grantline.httpx.TokenAuth(session)) as http:
            responses = await asyncio.gather(*(http.get(f"{api.url}/api") for _ in range(50)))
            assert {r.status_code for r in responses} == {200} and issuer.count == 1
            api.revoke_all()
            responses = await asyncio.gather(*(http.get(f"{api.url}/api") for _ in range(20)))
            assert {r.status_code for r in responses} == {200}
            assert issuer.count == 2, "twenty refusals of the same token, one renewal"
            assert all([h.status_code for h in r.history] == [401] for r in responses)

            async def upload() -> AsyncIterator[bytes]:
                yield b"q" * 100

            api.revoke_all()
            refused = await http.post(f"{api.url}/api", content=upload())
            assert refused.status_code == 401 and refused.history == [] and issuer.count == 2
            async with http.stream("GET", f"{api.url}/big") as big:
                assert big.status_code == 200 and big.num_bytes_downloaded == 0 and issuer.count == 3

    asyncio.run(go())


def test_sessions_meet_only_the_client_of_their_kind(api: Api) -> None:
    with httpx.Client(auth=grantline.httpx.TokenAuth(async_session(AsyncIssuer(api)))) as http:
        with pytest.raises(TypeError, match="AsyncClient"):
            http.get(f"{api.url}/api")

    async def go() -> None:
        async with httpx.AsyncClient(auth=grantline.httpx.TokenAuth(sync_session(Issuer(api)))) as http:
            await http.get(f"{api.url}/api")

    with pytest.raises(TypeError, match="httpx.Client"):
        asyncio.run(go())
    with pytest.raises(TypeError, match="blocking"):
        grantline.requests.TokenAuth(async_session(AsyncIssuer(api)))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        grantline.httpx.TokenAuth("a token")  # type: ignore[arg-type]
    assert api.calls() == [], "nothing was sent"


# ----------------------------------------------------------------------------- requests


def test_requests_session_many_threads_one_token_request(api: Api) -> None:
    issuer = Issuer(api, hold=0.2)
    with requests.Session() as http:
        http.auth = grantline.requests.TokenAuth(sync_session(issuer))
        statuses = in_threads(20, lambda: http.get(f"{api.url}/api").status_code)
    assert statuses == [200] * 20 and issuer.count == 1


def test_requests_401_invalid_token_renews_once_and_retries_once(api: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with requests.Session() as http:
        http.auth = grantline.requests.TokenAuth(session)
        assert http.put(f"{api.url}/api", data=b"p" * 300).status_code == 200
        api.revoke_all()
        response = http.put(f"{api.url}/api", data=b"p" * 300)
        assert response.status_code == 200 and [r.status_code for r in response.history] == [401]
        api.revoke_all()
        seekable = http.post(f"{api.url}/api", data=io.BytesIO(b"f" * 700))  # a file: sent again, whole
    assert seekable.status_code == 200 and json.loads(seekable.content) == {"ok": True, "received": 700}
    assert issuer.count == 3
    first, second, third = issuer.issued
    assert authorizations(api) == [f"Bearer {t}" for t in (first, first, second, second, third)]
    assert [len(body) for *_, body in api.calls()] == [300, 300, 300, 700, 700]


def test_requests_a_401_that_persists_and_a_403(api: Api) -> None:
    issuer = Issuer(api, valid=False)
    with requests.Session() as http:
        http.auth = grantline.requests.TokenAuth(sync_session(issuer))
        response = http.get(f"{api.url}/api")
        assert response.status_code == 401 and len(response.history) == 1
        assert issuer.count == 2 and len(api.calls()) == 2
        api.valid.add(issuer.issued[-1])
        forbidden = http.get(f"{api.url}/forbidden")
    assert forbidden.status_code == 403 and forbidden.history == [] and issuer.count == 2


def test_requests_streams_and_generators(api: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with requests.Session() as http:
        http.auth = grantline.requests.TokenAuth(session)
        session.token()
        api.revoke_all()  # the session's token is no longer accepted
        streamed = http.get(f"{api.url}/big", stream=True)
        assert streamed.status_code == 200 and [r.status_code for r in streamed.history] == [401]
        assert streamed.raw.tell() == 0, "the retried answer is still a stream"
        assert len(streamed.content) == BIG
        api.revoke_all()
        refused = http.post(f"{api.url}/api", data=chunks(3000))
        assert refused.status_code == 401 and refused.history == []
        accepted = http.post(f"{api.url}/api", data=chunks(3000))
    assert accepted.status_code == 200 and json.loads(accepted.content) == {"ok": True, "received": 3000}
    assert issuer.count == 3
    assert len(api.calls()) == 2, "the refused upload was sent once"


def test_requests_the_token_never_follows_a_redirect_to_another_host(api: Api, other: Api) -> None:
    issuer = Issuer(api)
    session = sync_session(issuer)
    with requests.Session() as http:
        http.auth = grantline.requests.TokenAuth(session)
        response = http.get(f"{api.url}/elsewhere", params={"to": f"{other.url}/api"})
    assert response.status_code == 401 and authorizations(other) == [None]
    assert issuer.count == 1 and session.token().secret() == issuer.issued[0]


# ----------------------------------------------------------------------------- real servers


def test_both_adapters_against_authlib(authlib: Provider, authlib_url: str) -> None:
    c = confidential(authlib)
    session = TokenSession.client_credentials(c, ["read"])
    auth = grantline.httpx.TokenAuth(session)
    with httpx.Client(auth=auth) as http:
        assert http.get(f"{authlib_url}/api/me").json()["client_id"] == "test-client"
        grantline.revoke(c, session.token(), "access_token")
        again = http.get(f"{authlib_url}/api/me")
    assert again.status_code == 200 and [r.status_code for r in again.history] == [401]
    with requests.Session() as plain:
        plain.auth = grantline.requests.TokenAuth(session)
        grantline.revoke(c, session.token(), "access_token")
        answer = plain.get(f"{authlib_url}/api/me")
    assert answer.status_code == 200 and [r.status_code for r in answer.history] == [401]
    token = session.token().secret()
    assert token not in repr(auth) and token not in repr(plain.auth)

    async def go() -> int:
        async with AsyncTokenSession.client_credentials(c, ["read"]) as tasks:
            async with httpx.AsyncClient(auth=grantline.httpx.TokenAuth(tasks)) as http:
                return (await http.get(f"{authlib_url}/api/me")).status_code

    assert asyncio.run(go()) == 200
