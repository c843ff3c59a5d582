"""Faults under load for the Python binding (``bindings-python/test.sh load``, run under
``tests/interop/servers.sh run``): many callers share ONE password-grant session against the
load token server (tests/load: 2-second tokens, refresh-token rotation, the whole family revoked
on reuse, 10 % of token requests failed by a reset or a 503 with ``Retry-After``).

Two runs, one after the other: threads sharing a :class:`grantline.TokenSession`, then asyncio
tasks sharing a :class:`grantline.AsyncTokenSession`. Each caller loops: ``session.token()``, then
``GET /api`` with it through the session's transport (a 401 ``invalid_token`` is handed back with
``session.reject``). Figures are printed, never asserted as timings; the exit status is 1 on a
correctness failure: any ``invalid_grant``, a lost refresh token (the one persisted last is not
the family's current one), or an error from ``token()`` while the token the session held when
the call began was valid (asked of the server as soon as the error came). API calls that fail on their own (a timeout under load)
are counted apart: they are the API's, not the session's.

The session's clock is the core's: whole seconds. A token the server still takes for less than
one second more is one a whole-second clock cannot tell from an expired one (the client counts
a token's lifetime from the second the answer arrived in, so it always ends a little before the
server's). Errors in that last second of the server's lifetime are printed apart ("at the
edge") and are not counted as errors while valid; see the binding's report for the core issue.

    python tests/load.py [--seconds 20] [--threads 64] [--tasks 200] [--transport urllib]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

import grantline
from grantline.transports import AsyncHttpxTransport, HttpxTransport, RequestsTransport, UrllibTransport

CONFIG: Dict[str, Any] = {"lifetime": 2, "fail_rate": 0.1, "retry_after": 1}
USERNAME, PASSWORD = "load-user", "load-password"
#: The resolution of the session's clock (the core's ``now``: whole seconds).
RESOLUTION = 1.0


class Server:
    """The load server's admin endpoints (stdlib HTTP, outside grantline)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)

    def reset(self) -> Any:
        return self._call("POST", "/admin/reset", CONFIG)

    def stats(self) -> Dict[str, int]:
        stats: Dict[str, int] = self._call("GET", "/admin/stats")
        return stats

    def check(self, refresh_token: str) -> str:
        state: str = self._call("POST", "/admin/check", {"refresh_token": refresh_token})["state"]
        return state

    def valid(self, access_token: str) -> Tuple[bool, Optional[float]]:
        """Whether the server takes ``access_token`` now, and for how many more seconds."""
        query = urllib.parse.urlencode({"token": access_token})
        answer = self._call("GET", f"/admin/token-valid?{query}")
        left = None if answer["expires_at"] is None else answer["expires_at"] - time.time()
        return bool(answer["valid"]), left


class Tally:
    """What the callers saw, and what on_tokens persisted (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.statuses: Dict[int, int] = {}
        self.api_failures = 0
        self.valid_left = 0.0
        self.errors_at_edge = 0
        self.edge_left = 0.0
        self.errors_while_valid = 0
        self.errors_without_token = 0
        self.error_kinds: Dict[str, int] = {}
        self.examples: List[str] = []
        self.persisted = 0
        self.rotated = 0
        self.last_refresh_token: Optional[str] = None
        self.saved = ""

    def on_tokens(self, tokens: grantline.TokenSet, *, refresh_token_rotated: bool) -> None:
        with self.lock:
            self.saved = tokens.to_json()  # what an app would store
            self.persisted += 1
            self.rotated += refresh_token_rotated
            if tokens.refresh_token is not None:
                self.last_refresh_token = tokens.refresh_token.secret()

    def answered(self, status: int) -> None:
        with self.lock:
            self.calls += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def api_failed(self) -> None:
        with self.lock:
            self.api_failures += 1

    def failed(self, error: BaseException, valid: bool, left: Optional[float], by_session: bool) -> None:
        """An error from ``token()``: while a valid token existed (valid by the server, and by
        the session's own clock or for a whole second more at the server), at the edge (valid
        by the server's clock only, less than a second more), or with no valid token."""
        name = getattr(error, "kind", type(error).__name__)
        with self.lock:
            self.calls += 1
            self.error_kinds[name] = self.error_kinds.get(name, 0) + 1
            if valid and (by_session or left is None or left >= RESOLUTION):
                self.errors_while_valid += 1
                self.valid_left = max(self.valid_left, left or 0.0)
                if len(self.examples) < 5:
                    self.examples.append(f"while valid ({left} s left at the server): {error}")
            elif valid:
                self.errors_at_edge += 1
                self.edge_left = max(self.edge_left, left or 0.0)
            else:
                self.errors_without_token += 1


def client(url: str) -> grantline.Client:
    provider = grantline.Provider.custom(
        "load", token_endpoint=f"{url}/token", grants=["password", "refresh_token"]
    )
    return grantline.Client(provider, "grantline-python", client_secret="load-secret")


def token_valid(server: Server, tokens: Optional[grantline.TokenSet]) -> Tuple[bool, Optional[float], bool]:
    """Whether the token the session held when the call began is valid by the server's clock
    (and for how many more seconds), and by the session's own whole-second clock."""
    if tokens is None:
        return False, None, False
    expires_at = tokens.expires_at
    by_session = expires_at is None or int(time.time()) < expires_at
    valid, left = server.valid(tokens.access_token.secret())
    return valid, left, by_session


def report(name: str, server: Server, tally: Tally, seconds: float, callers: int) -> List[str]:
    stats = server.stats()
    lifetimes = seconds / CONFIG["lifetime"]
    last = tally.last_refresh_token
    state = server.check(last) if last is not None else "none persisted"
    lost = 0 if state == "current" else 1
    print(f"\n== {name}: {callers} callers sharing one session for {seconds:.1f} s ==")
    print(f"  API calls by callers        {tally.calls} ({tally.calls / seconds:.0f}/s), statuses {tally.statuses}, "
          f"failed on their own {tally.api_failures}")
    print(f"  token requests              {stats['token_requests']} over {lifetimes:.1f} token lifetimes "
          f"({stats['token_requests'] / lifetimes:.2f} per lifetime); processed {stats['processed']}, "
          f"injected resets {stats['injected_resets']}, injected 503 {stats['injected_503']}")
    print(f"  rotations                   {stats['rotations']}; token sets persisted {tally.persisted} "
          f"(refresh token rotated in {tally.rotated})")
    print(f"  invalid_grant               {stats['invalid_grant']} (reuse detected {stats['reuse_detected']}, "
          f"families revoked {stats['families_revoked']}, live families {stats['families']})")
    print(f"  lost refresh tokens         {lost} (the last persisted one is {state!r})")
    print(f"  token() errors while valid  {tally.errors_while_valid}"
          + (f" (the server's token had up to {tally.valid_left:.3f} s left)" if tally.errors_while_valid else ""))
    print(f"  token() errors at the edge  {tally.errors_at_edge}"
          + (f" (the server's token had at most {tally.edge_left:.3f} s left: under the whole-second clock)"
             if tally.errors_at_edge else ""))
    print(f"  token() errors, none valid  {tally.errors_without_token} {tally.error_kinds or ''}")
    for example in tally.examples:
        print(f"    e.g. {example}")
    print(f"  API 401s (server)           {stats['api_401']} of {stats['api_ok'] + stats['api_401']} API requests")
    failures = []
    if stats["invalid_grant"]:
        failures.append(f"{name}: {stats['invalid_grant']} invalid_grant")
    if lost:
        failures.append(f"{name}: the last persisted refresh token is {state!r}, not 'current'")
    if tally.errors_while_valid:
        failures.append(f"{name}: {tally.errors_while_valid} errors reached callers while the token was valid")
    return failures


def run_threads(url: str, seconds: float, threads: int, transport_name: str) -> List[str]:
    server = Server(url)
    server.reset()
    tally = Tally()
    transport = {"urllib": UrllibTransport, "httpx": HttpxTransport, "requests": RequestsTransport}[transport_name]()
    session = grantline.TokenSession.password(
        client(url), USERNAME, PASSWORD, transport=transport, on_tokens=tally.on_tokens
    )
    stop = time.monotonic() + seconds
    api = f"{url}/api"

    def caller() -> None:
        while time.monotonic() < stop:
            held = session.tokens
            try:
                token = session.token(timeout=10)
            except grantline.GrantlineError as error:
                tally.failed(error, *token_valid(server, held))
                continue
            request = grantline.HttpRequest("GET", api, {"authorization": grantline.authorization_header(token)})
            try:
                response = transport.send(request, timeout=10, max_body=None)
            except grantline.TransportError:
                tally.api_failed()
                continue
            tally.answered(response.status)
            if grantline.needs_renewal(response):
                session.reject(token)

    started = time.monotonic()
    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return report(f"threads ({transport_name})", server, tally, time.monotonic() - started, threads)


def run_tasks(url: str, seconds: float, tasks: int) -> List[str]:
    server = Server(url)
    server.reset()
    tally = Tally()

    async def go() -> float:
        import httpx

        # httpx's pool slows down past a few dozen connections; 20 serve 200 tasks best here.
        transport = AsyncHttpxTransport(httpx.AsyncClient(limits=httpx.Limits(max_connections=20)))
        session = grantline.AsyncTokenSession.password(
            client(url), USERNAME, PASSWORD, transport=transport, on_tokens=tally.on_tokens
        )
        stop = time.monotonic() + seconds
        api = f"{url}/api"

        async def caller() -> None:
            while time.monotonic() < stop:
                held = session.tokens
                try:
                    token = await session.token(timeout=10)
                except grantline.GrantlineError as error:
                    # Asked at once (blocking the loop: no renewal completes meanwhile).
                    tally.failed(error, *token_valid(server, held))
                    continue
                request = grantline.HttpRequest("GET", api, {"authorization": grantline.authorization_header(token)})
                try:
                    response = await transport.send(request, timeout=10, max_body=None)
                except grantline.TransportError:
                    tally.api_failed()
                    continue
                tally.answered(response.status)
                if grantline.needs_renewal(response):
                    session.reject(token)

        started = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(tasks)))
        took = time.monotonic() - started
        await transport.aclose()
        return took

    took = asyncio.run(go())
    return report("asyncio tasks (httpx)", server, tally, took, tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--fail-rate", type=float, default=CONFIG["fail_rate"],
                        help="the share of token requests the server fails (default 0.1)")
    parser.add_argument("--transport", choices=["urllib", "httpx", "requests"], default="urllib",
                        help="the transport of the threads' session")
    args = parser.parse_args()
    url = os.environ.get("GRANTLINE_LOAD_URL", "").rstrip("/")
    if not url:
        print("load: GRANTLINE_LOAD_URL is not set: run under tests/interop/servers.sh run", file=sys.stderr)
        return 2
    CONFIG["fail_rate"] = args.fail_rate
    print(f"load: {url}, server config {CONFIG}")
    failures = run_threads(url, args.seconds, args.threads, args.transport)
    failures += run_tasks(url, args.seconds, args.tasks)
    if failures:
        print("\nload: CORRECTNESS FAILURES:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("\nload: 0 invalid_grant, 0 lost refresh tokens, 0 errors while a valid token existed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
