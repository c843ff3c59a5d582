"""Resources: what a transport or a session made, it closes (``with``, ``async with``,
``close()``, ``aclose()``); what you passed in stays yours. ``grantline.aio`` calls share the
running loop's default transport, closed when the loop shuts down or by ``aio.aclose()``. And
the one-call ``introspect`` takes Apicbase's refresh token."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any, List

import httpx
import pytest
import requests

import grantline
from grantline import AsyncTokenSession, HttpRequest, HttpResponse, aio
from grantline.transports import AsyncHttpxTransport, HttpxTransport, RequestsTransport

from conftest import confidential


class CountingSession(requests.Session):
    closed = 0

    def close(self) -> None:
        CountingSession.closed += 1
        super().close()


def test_transports_close_what_they_made_and_leave_yours_open(monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpxTransport() as made:
        pass
    assert made.client.is_closed
    mine = httpx.Client()
    with HttpxTransport(mine):
        pass
    assert not mine.is_closed
    mine.close()

    CountingSession.closed = 0
    with RequestsTransport(CountingSession()):
        pass
    assert CountingSession.closed == 0, "a session you passed stays open"
    monkeypatch.setattr(requests, "Session", CountingSession)  # what it makes, seen through a counter
    with RequestsTransport() as made_requests:
        assert isinstance(made_requests.session, CountingSession)
    assert CountingSession.closed == 1

    async def go() -> None:
        async with AsyncHttpxTransport() as made_async:
            pass
        assert made_async.client.is_closed
        yours = httpx.AsyncClient()
        async with AsyncHttpxTransport(yours):
            pass
        assert not yours.is_closed
        await yours.aclose()

    asyncio.run(go())


def test_an_async_session_closes_the_transport_it_made(authlib: grantline.Provider, authlib_url: str) -> None:
    async def go() -> None:
        async with AsyncTokenSession.client_credentials(confidential(authlib), ["read"]) as session:
            made = session.transport
            assert isinstance(made, AsyncHttpxTransport)
            assert (await session.request("GET", f"{authlib_url}/api/me")).status == 200
        assert made.client.is_closed
        yours = AsyncHttpxTransport()
        session = AsyncTokenSession.client_credentials(confidential(authlib), ["read"], transport=yours)
        await session.token()
        await session.aclose()
        assert not yours.client.is_closed, "a transport you passed stays yours"
        await yours.aclose()

    asyncio.run(go())


def test_aio_calls_share_the_loops_default_transport_closed_with_the_loop(authlib: grantline.Provider) -> None:
    seen: List[AsyncHttpxTransport] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        c = confidential(authlib)
        for _ in range(3):
            await aio.client_credentials(c, ["read"])
            seen.append(aio._DEFAULTS[loop].transport)
        await asyncio.gather(*(aio.client_credentials(c, ["read"]) for _ in range(5)))
        seen.append(aio._DEFAULTS[loop].transport)

    asyncio.run(go())
    assert len({id(t) for t in seen}) == 1, "one client for every call on the loop"
    assert seen[0].client.is_closed, "closed when asyncio.run() shut the loop down"

    async def again() -> None:  # another loop: another client
        await aio.client_credentials(confidential(authlib), ["read"])
        seen.append(aio._DEFAULTS[asyncio.get_running_loop()].transport)
        await aio.aclose()
        assert seen[-1].client.is_closed and asyncio.get_running_loop() not in aio._DEFAULTS
        await aio.client_credentials(confidential(authlib), ["read"])  # a new one, after aclose()
        seen.append(aio._DEFAULTS[asyncio.get_running_loop()].transport)

    asyncio.run(again())
    assert seen[-2] is not seen[0] and seen[-1] is not seen[-2] and seen[-1].client.is_closed


class Introspector:
    """An introspection endpoint: records the form it received."""

    def __init__(self) -> None:
        self.forms: List[Any] = []

    def _answer(self, request: HttpRequest) -> HttpResponse:
        self.forms.append(urllib.parse.parse_qs(request.body.decode()))
        return HttpResponse(200, {"content-type": "application/json"},
                            b'{"active": true, "scope": "read", "client_id": "cid", "username": "chef"}')

    def send(self, request: HttpRequest) -> HttpResponse:
        return self._answer(request)


class AsyncIntrospector(Introspector):
    async def send(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        return self._answer(request)


def test_introspect_takes_apicbases_refresh_token() -> None:
    client = grantline.Client(grantline.Provider.apicbase(), "cid", client_secret="csecret")
    sync = Introspector()
    answer = grantline.introspect(client, "the-access", refresh_token=grantline.Secret("the-refresh"), transport=sync)
    assert answer.active and answer.username == "chef"
    expected = {"token": ["the-access"], "client_id": ["cid"], "client_secret": ["csecret"],
                "refresh_token": ["the-refresh"]}
    assert sync.forms == [expected]
    asynchronous = AsyncIntrospector()
    answer = asyncio.run(aio.introspect(client, "the-access", refresh_token="the-refresh", transport=asynchronous))
    assert answer.active and asynchronous.forms == [expected]
    grantline.introspect(client, "the-access", transport=sync)
    assert "refresh_token" not in sync.forms[-1], "none given, none sent"
