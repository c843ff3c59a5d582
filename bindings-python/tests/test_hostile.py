"""The hostile server (tests/hostile, ``GRANTLINE_HOSTILE_URL``) through every shipped transport,
sync and asyncio, by way of the one-call functions and the sessions: servers that drip, hang,
reset or close mid-body end at a short per-call deadline in a TransportError; huge bodies and
a gzip bomb stay memory bounded and end typed; redirects are never followed; gzip and deflate
decode; error pages give typed errors with no secret from the page in any message or repr."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import tracemalloc
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, Tuple

import pytest

import grantline
from grantline import aio
from grantline.transports import AsyncHttpxTransport, HttpxTransport, RequestsTransport, UrllibTransport

MODES = ["urllib", "httpx", "requests", "httpx-async"]
DEADLINE = 2.0
#: How late a call may end after its deadline (scheduling, a loaded machine) and still pass.
SLACK = 2.0
PAGE_SECRETS = ["S3cr3t!x", "Xy7#longsecretvalue", "hostile-leaked-access-token-0123456789"]


@pytest.fixture(scope="session")
def hostile() -> str:
    url = os.environ.get("GRANTLINE_HOSTILE_URL", "")
    if not url:
        pytest.skip("GRANTLINE_HOSTILE_URL is not set: run under tests/interop/servers.sh run")
    return url.rstrip("/")


def client(hostile: str, path: str) -> grantline.Client:
    provider = grantline.Provider.custom(
        "hostile", token_endpoint=f"{hostile}{path}", grants=["client_credentials"]
    )
    return grantline.Client(provider, "hostile-client", client_secret="hostile-client-secret")


def transport(mode: str) -> Any:
    return {"urllib": UrllibTransport, "httpx": HttpxTransport, "requests": RequestsTransport}[mode]()


def outcome(call: Callable[[], Any]) -> Tuple[Any, float]:
    started = time.monotonic()
    try:
        result: Any = call()
    except Exception as e:  # compared by the caller
        result = e
    return result, time.monotonic() - started


def grant(mode: str, hostile: str, path: str, timeout: float = DEADLINE) -> Tuple[Any, float]:
    """``client_credentials`` against ``path``, through ``mode``: the result or the error, and
    how long it took."""
    c = client(hostile, path)
    if mode != "httpx-async":
        t = transport(mode)
        return outcome(lambda: grantline.client_credentials(c, transport=t, timeout=timeout))

    async def go() -> Any:
        t = AsyncHttpxTransport()
        try:
            return await aio.client_credentials(c, transport=t, timeout=timeout)
        finally:
            await t.aclose()

    return outcome(lambda: asyncio.run(go()))


def assert_quiet(error: BaseException) -> None:
    shown = " ".join([str(error), repr(error), *(str(v) for v in vars(error).values())])
    for secret in [*PAGE_SECRETS, "hostile-client-secret"]:
        assert secret not in shown, f"{secret!r} shows in {shown!r}"


@pytest.mark.parametrize("mode", MODES)
def test_drip_drip_headers_and_hang_end_at_the_deadline(mode: str, hostile: str) -> None:
    paths = ["/drip", "/drip-headers", "/hang"]
    results: Dict[str, Tuple[Any, float]] = {}

    def run(path: str) -> None:
        results[path] = grant(mode, hostile, path)

    threads = [threading.Thread(target=run, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE + 30)
    for path in paths:
        error, took = results[path]
        assert isinstance(error, grantline.TransportError), (path, error)
        assert error.kind == "transport" and "deadline" in str(error), (path, str(error))
        assert DEADLINE - 0.1 <= took <= DEADLINE + SLACK, (path, took)
        assert f"{hostile}{path}" in str(error)
        assert_quiet(error)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/reset", "/close-mid-body"])
def test_reset_and_close_mid_body_are_transport_errors(mode: str, path: str, hostile: str) -> None:
    error, took = grant(mode, hostile, path)
    assert isinstance(error, grantline.TransportError) and error.kind == "transport", error
    assert took < DEADLINE
    assert_quiet(error)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/huge", "/huge-chunked", "/gzip-bomb"])
def test_huge_bodies_and_a_gzip_bomb_stay_memory_bounded(mode: str, path: str, hostile: str) -> None:
    tracemalloc.start()
    try:
        error, took = grant(mode, hostile, path, timeout=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, grantline.MalformedResponseError) and error.kind == "malformed", error
    assert "1 MiB" in str(error)
    assert peak < 12 * grantline.MAX_BODY, f"{peak} bytes at the peak for a 50 MiB body"
    assert took < 10


def captured(hostile: str, tag: str) -> int:
    with urllib.request.urlopen(f"{hostile}/captured?tag={tag}", timeout=5) as r:
        count: int = json.load(r)["count"]
    return count


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(mode: str, status: int, hostile: str) -> None:
    tag = f"py-{mode}-{status}-{uuid.uuid4().hex[:8]}"
    error, _ = grant(mode, hostile, f"/redirect-{status}?tag={tag}")
    assert isinstance(error, grantline.MalformedResponseError), error
    assert (error.kind, error.status) == ("unexpected_status", status)
    assert captured(hostile, tag) == 0, "the redirect was followed"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_gzip_and_deflate_are_decoded(mode: str, coding: str, hostile: str) -> None:
    tokens, _ = grant(mode, hostile, f"/{coding}")
    assert isinstance(tokens, grantline.TokenSet), tokens
    assert tokens.access_token == f"{coding}-token" and tokens.lifetime == 3600


@pytest.mark.parametrize("mode", MODES)
def test_error_pages_give_typed_errors_without_the_page_secrets(mode: str, hostile: str) -> None:
    html, _ = grant(mode, hostile, "/html-error")
    assert isinstance(html, grantline.MalformedResponseError), html
    assert (html.kind, html.status) == ("unexpected_status", 502) and html.excerpt
    empty, _ = grant(mode, hostile, "/empty-403")
    assert isinstance(empty, grantline.MalformedResponseError), empty
    assert (empty.kind, empty.status, empty.excerpt) == ("unexpected_status", 403, None)
    oauth, _ = grant(mode, hostile, "/error-200")
    assert isinstance(oauth, grantline.OAuthError), oauth
    assert (oauth.error, oauth.description, oauth.status) == ("invalid_grant", "bad grant", 200)
    for error in (html, empty, oauth):
        assert_quiet(error)


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_answer_within_the_deadline_is_an_answer(mode: str, hostile: str) -> None:
    tokens, took = grant(mode, hostile, "/slow-ok?delay=1", timeout=4)
    assert isinstance(tokens, grantline.TokenSet) and tokens.access_token == "hostile-ok", tokens
    assert took >= 1


@pytest.mark.parametrize("mode", MODES)
def test_sessions_end_at_the_call_deadline_and_decode_api_bodies(mode: str, hostile: str) -> None:
    """A session whose token endpoint drips: token() ends at its deadline, every waiter too;
    with a token, ``request()`` reads a gzip API answer decoded and ends a hanging API call at
    its deadline."""
    tokens = grantline.TokenSet("session-access-token", None, None)
    if mode != "httpx-async":
        session = grantline.TokenSession.client_credentials(client(hostile, "/drip"), transport=transport(mode))
        results: List[Tuple[Any, float]] = [(None, 0.0)] * 3

        def run(i: int) -> None:
            results[i] = outcome(lambda: session.token(timeout=DEADLINE))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE + 30)
        with_token = grantline.TokenSession.client_credentials(
            client(hostile, "/ok"), tokens=tokens, transport=transport(mode)
        )
        gzip = with_token.request("GET", f"{hostile}/gzip", timeout=DEADLINE)
        hang = outcome(lambda: with_token.request("GET", f"{hostile}/hang?x=secret-query", timeout=DEADLINE))
    else:

        async def go() -> Tuple[List[Tuple[Any, float]], Any, Tuple[Any, float]]:
            t = AsyncHttpxTransport()
            session = grantline.AsyncTokenSession.client_credentials(client(hostile, "/drip"), transport=t)

            async def timed() -> Tuple[Any, float]:
                started = time.monotonic()
                try:
                    result: Any = await session.token(timeout=DEADLINE)
                except Exception as e:
                    result = e
                return result, time.monotonic() - started

            results = list(await asyncio.gather(timed(), timed(), timed()))
            with_token = grantline.AsyncTokenSession.client_credentials(client(hostile, "/ok"), tokens=tokens, transport=t)
            gzip = await with_token.request("GET", f"{hostile}/gzip", timeout=DEADLINE)
            started = time.monotonic()
            try:
                hung: Any = await with_token.request("GET", f"{hostile}/hang?x=secret-query", timeout=DEADLINE)
            except Exception as e:
                hung = e
            await t.aclose()
            return results, gzip, (hung, time.monotonic() - started)

        results, gzip, hang = asyncio.run(go())
    for error, took in results:
        assert isinstance(error, grantline.TransportError), error
        assert took <= DEADLINE + SLACK, took
    assert gzip.status == 200 and json.loads(gzip.body)["access_token"] == "gzip-token"
    error, took = hang
    assert isinstance(error, grantline.TransportError) and "deadline" in str(error), error
    assert took <= DEADLINE + SLACK and "secret-query" not in str(error)
