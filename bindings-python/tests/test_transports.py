"""Each shipped transport against a small local HTTP server: bodies are capped at MAX_BODY + 1
bytes (so the core refuses them) but API bodies through a session are read whole (or refused
above the session's limit, never cut), redirects come back unfollowed (even on POST), error
statuses are responses, repeated headers survive, a forged discovery document is refused, a
per-call timeout is a TransportError."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from typing import Any, Iterator

import pytest

import grantline
from grantline import HttpRequest, HttpResponse
from grantline.transports import AsyncHttpxTransport

from conftest import SYNC_MODES, make_transport

BIG = grantline.MAX_BODY + 100_000


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self.answer()

    def answer(self) -> None:
        if self.path == "/.well-known/oauth-authorization-server":
            body = b'{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
        elif self.path == "/slow":
            time.sleep(1.5)
            body = b"{}"
            self.send_response(200)
        elif self.path == "/big":
            body = b'{"access_token":"' + b"a" * BIG + b'"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
        elif self.path == "/moved":
            body = b""
            self.send_response(301)
            self.send_header("location", "/elsewhere")
        elif self.path == "/refused":
            body = b'{"error":"invalid_token"}'
            self.send_response(401)
            self.send_header("www-authenticate", 'Basic realm="a"')
            self.send_header("www-authenticate", 'Bearer realm="b", error="invalid_token"')
        else:
            body = b"<html>500</html>"
            self.send_response(500)
            self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # many requests at once must not wait out SYN-ACK retries

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a transport that stops reading a capped body resets the connection: expected


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def send_with(mode: str, request: HttpRequest) -> HttpResponse:
    if mode != "httpx-async":
        response: HttpResponse = make_transport(mode).send(request)
        return response

    async def go() -> HttpResponse:
        t = AsyncHttpxTransport()
        try:
            return await t.send(request)
        finally:
            await t.aclose()

    return asyncio.run(go())


MODES = [*SYNC_MODES, "httpx-async"]


@pytest.mark.parametrize("mode", MODES)
def test_bodies_are_capped_and_refused(mode: str, local: str) -> None:
    response = send_with(mode, HttpRequest("GET", f"{local}/big"))
    assert response.status == 200 and len(response.body) == grantline.MAX_BODY + 1
    with pytest.raises(grantline.MalformedResponseError) as refused:
        grantline.TokenSet.from_response(response)
    assert refused.value.kind == "malformed"


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_on_post_comes_back_unfollowed(mode: str, local: str) -> None:
    response = send_with(mode, HttpRequest("POST", f"{local}/moved", {"content-type": "text/plain"}, b"secret body"))
    assert response.status == 301 and response.header("location") == "/elsewhere"


@pytest.mark.parametrize("mode", MODES)
def test_error_statuses_are_responses_with_every_header(mode: str, local: str) -> None:
    refused = send_with(mode, HttpRequest("GET", f"{local}/refused"))
    assert refused.status == 401
    assert [v for k, v in refused.headers if k == "www-authenticate"] == [
        'Basic realm="a"', 'Bearer realm="b", error="invalid_token"'
    ]
    challenge = grantline.bearer_challenge(refused)
    assert challenge is not None and challenge.realm == "b" and grantline.needs_renewal(refused)
    broken = send_with(mode, HttpRequest("GET", f"{local}/broken"))
    assert broken.status == 500
    with pytest.raises(grantline.MalformedResponseError) as nonsense:
        grantline.TokenSet.from_response(broken)
    assert (nonsense.value.kind, nonsense.value.status, nonsense.value.excerpt) == (
        "unexpected_status", 500, "<html>500</html>")


def session_with(mode: str, local: str, **kwargs: Any) -> Any:
    tokens = grantline.TokenSet("api-access-token", None, None)
    c = grantline.Client(grantline.Provider.custom(token_endpoint=f"{local}/token"), "id")
    if mode == "httpx-async":
        return grantline.AsyncTokenSession.client_credentials(c, tokens=tokens, transport=AsyncHttpxTransport(), **kwargs)
    return grantline.TokenSession.client_credentials(c, tokens=tokens, transport=make_transport(mode), **kwargs)


def call(session: Any, url: str, **kwargs: Any) -> HttpResponse:
    if isinstance(session, grantline.AsyncTokenSession):
        async def go() -> HttpResponse:
            try:
                return await session.request("GET", url, **kwargs)
            finally:
                await session.transport.aclose()  # type: ignore[attr-defined]

        return asyncio.run(go())
    response: HttpResponse = session.request("GET", url, **kwargs)
    return response


@pytest.mark.parametrize("mode", MODES)
def test_api_bodies_through_a_session_are_never_cut(mode: str, local: str) -> None:
    whole = call(session_with(mode, local), f"{local}/big")
    assert whole.status == 200 and len(whole.body) == BIG + len(b'{"access_token":""}')
    with pytest.raises(grantline.MalformedResponseError) as too_large:
        call(session_with(mode, local, max_api_body=1000), f"{local}/big")
    assert too_large.value.kind == "malformed" and too_large.value.status == 200


@pytest.mark.parametrize("mode", MODES)
def test_a_forged_discovery_document_is_refused(mode: str, local: str) -> None:
    if mode == "httpx-async":
        async def go() -> grantline.Provider:
            return await grantline.aio.discover(local)

        run: Any = lambda: asyncio.run(go())
    else:
        run = lambda: grantline.discover(local, transport=make_transport(mode))
    with pytest.raises(grantline.StateMismatchError) as mixup:
        run()
    assert (mixup.value.kind, mixup.value.expected, mixup.value.received) == (
        "issuer_mismatch", local, "https://evil.example")


@pytest.mark.parametrize("mode", MODES)
def test_a_per_call_timeout_is_a_transport_error(mode: str, local: str) -> None:
    started = time.monotonic()
    with pytest.raises(grantline.TransportError) as late:
        if mode == "httpx-async":
            async def go() -> HttpResponse:
                t = AsyncHttpxTransport()
                try:
                    return await t.send(HttpRequest("GET", f"{local}/slow"), timeout=0.5)
                finally:
                    await t.aclose()

            asyncio.run(go())
        else:
            make_transport(mode).send(HttpRequest("GET", f"{local}/slow"), timeout=0.5)
    assert time.monotonic() - started < 1.4 and "deadline of 0.5 s" in str(late.value)
    slow = make_transport(mode if mode != "httpx-async" else "httpx")
    assert slow.send(HttpRequest("GET", f"{local}/slow"), timeout=5).status == 200
