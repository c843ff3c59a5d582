"""Fixtures shared by the Python binding's tests: the interop servers' URLs (started by
``tests/interop/servers.sh run``), the transports, and a way to call every flow through each
transport, the asyncio one included."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Callable, Iterator, List

import pytest

import grantline
from grantline import aio
from grantline.transports import AsyncHttpxTransport, HttpxTransport, RequestsTransport, UrllibTransport

CALLBACK = "http://127.0.0.1:8765/callback"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
PUBLIC_CLIENT_ID = "public-client"
USERNAME, PASSWORD = "alice", "wonderland"
API_RESOURCE = "urn:example:api"

#: Every transport the interop tests run through; `httpx-async` runs grantline.aio.
MODES = ["urllib", "httpx", "requests", "httpx-async"]
SYNC_MODES = ["urllib", "httpx", "requests"]


def server(var: str) -> str:
    url = os.environ.get(var, "")
    if not url:
        raise RuntimeError(
            f"{var} is not set: run the tests under tests/interop/servers.sh run -- ... "
            "(bindings-python/test.sh does)"
        )
    return url.rstrip("/")


@pytest.fixture(scope="session")
def oidc_url() -> str:
    return server("GRANTLINE_OIDC_URL")


@pytest.fixture(scope="session")
def authlib_url() -> str:
    return server("GRANTLINE_AUTHLIB_URL")


@pytest.fixture(scope="session")
def mock_url() -> str:
    return server("GRANTLINE_MOCK_URL")


@pytest.fixture(scope="session")
def oidc(oidc_url: str) -> grantline.Provider:
    return grantline.discover(oidc_url)  # the issuer: RFC 8414's URL is a 404, OIDC's answers


@pytest.fixture(scope="session")
def authlib(authlib_url: str) -> grantline.Provider:
    return grantline.discover(authlib_url)


@pytest.fixture(scope="session")
def mock(mock_url: str) -> grantline.Provider:
    # Its metadata lists only `none`, although it checks test-client's secret: use Basic.
    provider = grantline.discover(f"{mock_url}/.well-known/openid-configuration")  # a full URL works too
    return provider.replace(auth_method="client_secret_basic")


def make_transport(mode: str) -> Any:
    return {"urllib": UrllibTransport, "httpx": HttpxTransport, "requests": RequestsTransport}[mode]()


class Flows:
    """Calls `grantline.<flow>(...)` through one transport; for `httpx-async`,
    `await grantline.aio.<flow>(...)` with an AsyncHttpxTransport in a fresh event loop."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.transport = None if mode == "httpx-async" else make_transport(mode)

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode != "httpx-async":
            return getattr(grantline, name)(*args, transport=self.transport, **kwargs)

        async def go() -> Any:
            transport = AsyncHttpxTransport()
            try:
                return await getattr(aio, name)(*args, transport=transport, **kwargs)
            finally:
                await transport.aclose()

        return asyncio.run(go())


@pytest.fixture(params=MODES)
def flows(request: pytest.FixtureRequest) -> Iterator[Flows]:
    yield Flows(request.param)


def confidential(provider: grantline.Provider, **kwargs: Any) -> grantline.Client:
    return grantline.Client(provider, CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK, **kwargs)


def public(provider: grantline.Provider) -> grantline.Client:
    return grantline.Client(provider, PUBLIC_CLIENT_ID, redirect_uri=CALLBACK)


def in_threads(n: int, work: Callable[[], Any]) -> List[Any]:
    """Runs ``work`` in ``n`` threads released together; each result, or the exception it
    raised, in order."""
    barrier = threading.Barrier(n)
    results: List[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except BaseException as e:  # collected, asserted by the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results
