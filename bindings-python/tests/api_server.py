"""A small loopback API for the adapter and logging tests: it accepts the bearer tokens the test
declares valid, answers 401 ``invalid_token`` to any other, and records what it received; and
token endpoints (plain and asyncio transports) that hand out new tokens and declare them valid.

Routes (any method):

* ``/api``: 200 ``{"ok": true, "received": <body length>}`` with a valid token, else 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"``;
* ``/forbidden``: 403 ``Bearer error="insufficient_scope"`` with a valid token (else 401);
* ``/big``: 200 and an 8 MiB body with a valid token (else 401);
* ``/elsewhere?to=URL``: 302 to ``URL``.
"""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import threading
import time
import urllib.parse
from typing import Any, Iterator, List, Optional, Set, Tuple

from grantline import HttpRequest, HttpResponse

BIG = 8 * 1024 * 1024


class _Server(http.server.ThreadingHTTPServer):
    # The tests send up to 50 requests at once. With the default listen backlog (5), a connection
    # that does not fit waits out SYN-ACK retries (1 s, 2 s, 4 s...) while the machine is busy,
    # and an httpx client gives up after 5 s (seen with the suites in parallel).
    request_queue_size = 128


class Api:
    """The API's state: valid tokens, and every request received as (method, path,
    authorization header or None, body)."""

    def __init__(self) -> None:
        self.valid: Set[str] = set()
        self.received: List[Tuple[str, str, Optional[str], bytes]] = []
        self.lock = threading.Lock()
        self.url = ""
        self._server: Optional[http.server.ThreadingHTTPServer] = None

    def start(self) -> "Api":
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    parts: List[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _answer(self, status: int, body: bytes, headers: Optional[dict[str, str]] = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # a client that stopped reading a streamed body

            def _any(self) -> None:
                body = self._body()
                target = urllib.parse.urlsplit(self.path)
                auth = self.headers.get("authorization")
                with api.lock:
                    api.received.append((self.command, target.path, auth, body))
                    ok = auth is not None and auth.startswith("Bearer ") and auth[7:] in api.valid
                if target.path == "/elsewhere":
                    to = urllib.parse.parse_qs(target.query)["to"][0]
                    self._answer(302, b"{}", {"location": to})
                elif not ok:
                    self._answer(401, b'{"error":"invalid_token"}', {"www-authenticate": 'Bearer error="invalid_token"'})
                elif target.path == "/forbidden":
                    self._answer(403, b"{}", {"www-authenticate": 'Bearer error="insufficient_scope"'})
                elif target.path == "/big":
                    self._answer(200, b"x" * BIG)
                else:
                    self._answer(200, json.dumps({"ok": True, "received": len(body)}).encode())

            do_GET = do_POST = do_PUT = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = self._server = _Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()

    def calls(self, path: str = "/api") -> List[Tuple[str, str, Optional[str], bytes]]:
        with self.lock:
            return [r for r in self.received if r[1] == path]


_SERIAL = itertools.count(1)


def _token_answer(access: str, refresh: Optional[str], expires_in: int) -> HttpResponse:
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh is not None:
        body["refresh_token"] = refresh
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


class Issuer:
    """A token endpoint as a transport: each request gets a new access token (declared valid
    at ``api`` unless ``valid`` is false), after ``hold`` seconds."""

    def __init__(self, api: Api, *, hold: float = 0.0, valid: bool = True, refresh: bool = False) -> None:
        self.api = api
        self.hold = hold
        self.valid = valid
        self.refresh = refresh
        self.issued: List[str] = []
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.issued)

    def _issue(self) -> HttpResponse:
        n = next(_SERIAL)
        access = f"issued-access-{n}-7f3a9c"
        with self.lock:
            self.issued.append(access)
        if self.valid:
            with self.api.lock:
                self.api.valid.add(access)
        return _token_answer(access, f"issued-refresh-{n}-5b8e1d" if self.refresh else None, 3600)

    def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        if self.hold:
            time.sleep(self.hold)
        return self._issue()


class AsyncIssuer(Issuer):
    async def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:  # type: ignore[override]
        if self.hold:
            await asyncio.sleep(self.hold)
        return self._issue()


def chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    """A streamed request body (a generator: it can be sent once)."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"y" * n
