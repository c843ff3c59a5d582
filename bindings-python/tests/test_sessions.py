"""TokenSession (threads) and AsyncTokenSession (asyncio) against the real servers: many
callers, one token request; 401 invalid_token, one renewal and one retry; rotation reaches
on_tokens; a failing transport is a clear error for every waiter."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, List

import pytest

import grantline
from grantline import AsyncTokenSession, HttpRequest, HttpResponse, Secret, TokenSession
from grantline.transports import AsyncHttpxTransport

from conftest import CLIENT_SECRET, PASSWORD, SYNC_MODES, confidential, in_threads, make_transport
from test_interop import assert_quiet

THREADS = 200
TASKS = 1000


class Counting:
    """Wraps a transport: counts token-endpoint requests and API calls, and holds each token
    request back a little so that every concurrent caller arrives while it is in flight."""

    def __init__(self, inner: Any, hold: float = 0.2) -> None:
        self.inner = inner
        self.hold = hold
        self.token_requests = 0
        self.api_statuses: List[int] = []
        self.lock = threading.Lock()

    def _count(self, request: HttpRequest) -> bool:
        is_token = request.url.endswith("/token")
        with self.lock:
            if is_token:
                self.token_requests += 1
        return is_token

    def send(self, request: HttpRequest) -> HttpResponse:
        if self._count(request):
            time.sleep(self.hold)
        response: HttpResponse = self.inner.send(request)
        if not request.url.endswith("/token"):
            with self.lock:
                self.api_statuses.append(response.status)
        return response


class AsyncCounting(Counting):
    async def send(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        if self._count(request):
            await asyncio.sleep(self.hold)
        response: HttpResponse = await self.inner.send(request)
        if not request.url.endswith("/token"):
            self.api_statuses.append(response.status)
        return response




@pytest.mark.parametrize("mode", SYNC_MODES)
def test_200_threads_cause_exactly_one_token_request(mode: str, authlib: grantline.Provider, authlib_url: str) -> None:
    transport = Counting(make_transport(mode))
    persisted: List[grantline.TokenSet] = []
    session = TokenSession.client_credentials(
        confidential(authlib), ["read"], transport=transport, on_tokens=persisted.append
    )
    tokens = in_threads(THREADS, session.token)
    assert all(isinstance(t, Secret) for t in tokens), [t for t in tokens if not isinstance(t, Secret)][:3]
    assert transport.token_requests == 1
    assert len({t.secret() for t in tokens}) == 1
    assert len(persisted) == 1 and persisted[0].access_token == tokens[0]
    # Cached: no more requests.
    assert session.token() == tokens[0] and transport.token_requests == 1
    # And it opens the API: 200 threads calling it at once, still no renewal.
    responses = in_threads(THREADS, lambda: session.request("GET", f"{authlib_url}/api/me"))
    assert all(isinstance(r, HttpResponse) and r.status == 200 for r in responses)
    assert transport.token_requests == 1
    assert_quiet([session, session.tokens, *tokens[:3]], [tokens[0], CLIENT_SECRET])


def test_1000_asyncio_tasks_cause_exactly_one_token_request(authlib: grantline.Provider, authlib_url: str) -> None:
    async def go() -> None:
        inner = AsyncHttpxTransport()
        transport = AsyncCounting(inner)
        persisted: List[grantline.TokenSet] = []

        async def persist(tokens: grantline.TokenSet) -> None:
            await asyncio.sleep(0)
            persisted.append(tokens)

        session = AsyncTokenSession.client_credentials(
            confidential(authlib), ["read"], transport=transport, on_tokens=persist
        )
        tokens = await asyncio.gather(*(session.token() for _ in range(TASKS)))
        assert transport.token_requests == 1
        assert len({t.secret() for t in tokens}) == 1
        assert len(persisted) == 1
        responses = await asyncio.gather(*(session.request("GET", f"{authlib_url}/api/me") for _ in range(20)))
        assert {r.status for r in responses} == {200}
        assert transport.token_requests == 1
        await inner.aclose()

    asyncio.run(go())


@pytest.mark.parametrize("mode", SYNC_MODES)
def test_401_invalid_token_renews_once_and_retries_once(
    mode: str, authlib: grantline.Provider, authlib_url: str
) -> None:
    client = confidential(authlib)
    transport = Counting(make_transport(mode), hold=0)
    session = TokenSession.client_credentials(client, ["read"], transport=transport)
    first = session.token()
    grantline.revoke(client, first, "access_token")  # behind the session's back
    response = session.request("GET", f"{authlib_url}/api/me", headers={"accept": "application/json"})
    assert response.status == 200
    assert transport.api_statuses == [401, 200], "one call refused, one retry"
    assert transport.token_requests == 2, "one renewal"
    assert session.token() != first
    # Many threads seeing the same token refused: still one renewal.
    second = session.token()
    grantline.revoke(client, second, "access_token")
    statuses = in_threads(20, lambda: session.request("GET", f"{authlib_url}/api/me").status)
    assert statuses == [200] * 20
    assert transport.token_requests == 3


def test_401_renews_once_and_retries_once_asyncio(authlib: grantline.Provider, authlib_url: str) -> None:
    async def go() -> None:
        client = confidential(authlib)
        inner = AsyncHttpxTransport()
        transport = AsyncCounting(inner, hold=0)
        session = AsyncTokenSession.client_credentials(client, ["read"], transport=transport)
        first = await session.token()
        await grantline.aio.revoke(client, first, "access_token", transport=inner)
        response = await session.request("GET", f"{authlib_url}/api/me")
        assert response.status == 200
        assert transport.api_statuses == [401, 200]
        assert transport.token_requests == 2
        await inner.aclose()

    asyncio.run(go())


def test_a_401_that_persists_is_returned_after_one_renewal_and_one_retry(
    authlib: grantline.Provider, oidc_url: str
) -> None:
    # Authlib's tokens mean nothing to oidc-provider's userinfo: 401 invalid_token every time.
    transport = Counting(make_transport("urllib"), hold=0)
    session = TokenSession.client_credentials(confidential(authlib), ["read"], transport=transport)
    response = session.request("GET", f"{oidc_url}/me")
    assert response.status == 401 and grantline.needs_renewal(response)
    assert transport.api_statuses == [401, 401], "one retry, no loop"
    assert transport.token_requests == 2, "one renewal"


def test_a_403_insufficient_scope_is_returned_without_renewal(authlib: grantline.Provider, authlib_url: str) -> None:
    # /api/me needs scope `read`: with `profile` only, Authlib answers 403, which no renewal fixes.
    transport = Counting(make_transport("urllib"), hold=0)
    session = TokenSession.client_credentials(confidential(authlib), ["profile"], transport=transport)
    response = session.request("GET", f"{authlib_url}/api/me")
    assert response.status == 403 and transport.token_requests == 1 and transport.api_statuses == [403]


@pytest.mark.parametrize("mode", SYNC_MODES)
def test_password_session_rotation_reaches_on_tokens(mode: str, authlib: grantline.Provider, authlib_url: str) -> None:
    persisted: List[grantline.TokenSet] = []
    session = TokenSession.password(
        confidential(authlib), "alice", Secret(PASSWORD), ["read"], transport=make_transport(mode), on_tokens=persisted.append
    )
    first = session.token()
    assert session.reject(first)
    assert not session.reject("some-other-token")
    second = session.token()
    assert second != first
    assert len(persisted) == 2
    old, new = persisted
    assert old.refresh_token is not None and new.refresh_token is not None
    assert old.refresh_token != new.refresh_token, "rotated, and the new one reached on_tokens"
    assert json.loads(session.request("GET", f"{authlib_url}/api/me").body)["sub"] == "alice"
    assert_quiet([session, *persisted], [PASSWORD, first, second, old.refresh_token, new.refresh_token])


class Broken:
    """A transport whose every send raises, after holding the renewal in flight a little."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: HttpRequest) -> HttpResponse:
        self.calls += 1
        time.sleep(0.2)
        raise ConnectionResetError("the wire was cut")


def test_a_failing_transport_is_a_transport_error_for_the_caller_and_every_waiter(authlib: grantline.Provider) -> None:
    broken = Broken()
    now = [time.time()]
    session = TokenSession.client_credentials(
        confidential(authlib), ["read"], transport=broken, clock=lambda: now[0]
    )
    results = in_threads(50, session.token)
    assert broken.calls == 1, "the waiters did not each retry"
    assert all(isinstance(r, grantline.TransportError) for r in results)
    assert all("ConnectionResetError: the wire was cut" in str(r) for r in results)
    assert any(isinstance(r.__cause__, ConnectionResetError) for r in results)
    # The core backs off: during the backoff the failure comes at once, without a request.
    with pytest.raises(grantline.TransportError):
        session.token()
    assert broken.calls == 1 and session.failures == 1
    # Then the next call renews again (and fails again, clearly).
    retry_at = session.retry_at
    assert retry_at is not None
    now[0] = retry_at
    with pytest.raises(grantline.TransportError):
        session.token()
    assert broken.calls == 2 and session.failures == 2
    # A working transport then gets a token, once the backoff is over.
    session.transport = make_transport("urllib")
    retry_at = session.retry_at
    assert retry_at is not None
    now[0] = retry_at
    assert isinstance(session.token(), Secret) and session.failures == 0


def test_a_failing_async_transport_is_a_transport_error_for_every_task(authlib: grantline.Provider) -> None:
    class AsyncBroken:
        calls = 0

        async def send(self, request: HttpRequest) -> HttpResponse:
            AsyncBroken.calls += 1
            await asyncio.sleep(0.05)
            raise OSError("no route")

    async def go() -> None:
        session = AsyncTokenSession.client_credentials(confidential(authlib), transport=AsyncBroken())
        results = await asyncio.gather(*(session.token() for _ in range(100)), return_exceptions=True)
        assert AsyncBroken.calls == 1
        assert all(isinstance(r, grantline.TransportError) and "no route" in str(r) for r in results)

    asyncio.run(go())


def test_an_on_tokens_that_raises_reaches_the_caller_and_the_session_keeps_the_tokens(
    authlib: grantline.Provider,
) -> None:
    def refuse(tokens: grantline.TokenSet) -> None:
        raise RuntimeError("disk full")

    transport = Counting(make_transport("urllib"), hold=0)
    session = TokenSession.client_credentials(confidential(authlib), ["read"], transport=transport, on_tokens=refuse)
    with pytest.raises(RuntimeError, match="disk full"):
        session.token()
    assert session.tokens is not None
    assert isinstance(session.token(), Secret) and transport.token_requests == 1
