#!/usr/bin/env python3
"""The Python worker of the cross-language fleet harness (tests/fleet/fleet.py, issue 12): one
process of a fleet sharing one token over Redis. M callers (threads, or asyncio tasks with
``--aio``) loop for T seconds: get a token, ``GET`` the API with it, on 401 reject the token,
sleep 20 ms. JSON lines on stdout (flushed): ``start``, ``renewed`` per token set taken in,
``error`` per caller error, ``done`` with the counters.

    fleet_worker.py --redis URL --name NAME --key-hex 64HEX --kid KID --token-url URL/token
        --api-url URL/api --client-id ID --client-secret SECRET
        --grant client_credentials|password --callers M --seconds T
        [--no-store] [--lease-ms MS] [--hold-ms MS] [--aio]

``--no-store``: the same session without the store (the baseline). ``--hold-ms``: every token
request this process sends while the fleet is active waits MS first (a test hook: a lease
holder that is slow, or killed mid-renewal).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))  # a source checkout

import grantline  # noqa: E402
from grantline import FleetConfig, HttpRequest, HttpResponse, TokenSet  # noqa: E402

PAUSE = 0.02


class Out:
    """The worker's stdout: one JSON object per line, flushed, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, **event: Any) -> None:
        line = json.dumps(event)
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = self.errors = self.api_401 = self.token_requests = 0

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--redis", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--key-hex", required=True)
    p.add_argument("--kid", required=True)
    p.add_argument("--token-url", required=True)
    p.add_argument("--api-url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--grant", choices=["client_credentials", "password"], required=True)
    p.add_argument("--callers", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--no-store", action="store_true")
    p.add_argument("--lease-ms", type=int)
    p.add_argument("--hold-ms", type=int)
    p.add_argument("--aio", action="store_true", help="asyncio tasks instead of threads")
    return p.parse_args(argv)


class Worker:
    """What the thread and asyncio variants share: the client, the fleet config, the events."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Out()
        self.counts = Counts()
        provider = grantline.Provider.custom(
            "load", token_endpoint=args.token_url, grants=["client_credentials", "password", "refresh_token"],
        )
        self.client = grantline.Client(provider, args.client_id, client_secret=args.client_secret,
                                       auth_method="client_secret_post")
        self.fleet: Optional[FleetConfig] = None
        if not args.no_store:
            more: Dict[str, Any] = {} if args.lease_ms is None else {"lease_ttl_ms": args.lease_ms}
            self.fleet = FleetConfig(args.name, [(args.kid, bytes.fromhex(args.key_hex))], **more)
        self.hold = (args.hold_ms or 0) / 1000 if not args.no_store else 0.0
        self.session: Any = None
        self.seen = (0, 0)  # (http_renewals, adopted) at the last token set

    def owner(self) -> str:
        return self.fleet.owner if self.fleet is not None else f"no-store-{os.getpid()}"

    def is_token_request(self, request: HttpRequest) -> bool:
        return request.url == self.args.token_url

    def on_tokens(self, tokens: TokenSet, *, refresh_token_rotated: bool) -> None:
        """A token set taken in: from a token request of ours (``http``) or from the store."""
        stats = self.session.stats if self.session is not None else None
        source = "http"
        if stats is not None:
            now = (stats.http_renewals, stats.adopted)
            if now[1] > self.seen[1] and now[0] == self.seen[0]:
                source = "store"
            self.seen = now
        version = self.session.store_version if self.session is not None else None
        self.out(event="renewed", version=version or 0, source=source, refresh_rotated=refresh_token_rotated)

    def error(self, exc: BaseException) -> None:
        self.counts.add("errors")
        kind = getattr(exc, "kind", None) or type(exc).__name__
        message = getattr(exc, "message", None) or type(exc).__name__
        self.out(event="error", kind=kind, message=str(message)[:300])

    def api(self, token: grantline.Secret) -> HttpRequest:
        return HttpRequest("GET", self.args.api_url, {"authorization": grantline.authorization_header(token)})

    def done(self) -> None:
        stats = self.session.stats if self.session is not None else None
        c = self.counts
        self.out(
            event="done", calls=c.calls, errors=c.errors, api_401=c.api_401,
            http_renewals=stats.http_renewals if stats else c.token_requests,
            adopted=stats.adopted if stats else 0,
            store_ops=stats.store_ops if stats else 0,
            store_failures=stats.store_failures if stats else 0,
            fallback_renewals=stats.fallback_renewals if stats else 0,
        )


# ------------------------------------------------------------------------------ threads


class Transport:
    """urllib, holding token requests back ``hold`` seconds while the fleet is active."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.inner = grantline.UrllibTransport()

    def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        if self.worker.is_token_request(request):
            self.worker.counts.add("token_requests")
            if self.worker.hold:
                time.sleep(self.worker.hold)
        return self.inner.send(request, timeout=timeout)


def run_threads(w: Worker) -> None:
    args = w.args
    store = None
    if w.fleet is not None:
        from grantline.redis import RedisStore

        store = RedisStore.from_url(args.redis)
    transport = Transport(w)
    if args.grant == "password":
        w.session = grantline.TokenSession.password(w.client, "fleet", "fleet", transport=transport,
                                                    on_tokens=w.on_tokens, store=store, fleet=w.fleet)
    else:
        w.session = grantline.TokenSession.client_credentials(w.client, transport=transport, on_tokens=w.on_tokens,
                                                              store=store, fleet=w.fleet)
    w.out(event="start", lang="python", pid=os.getpid(), owner=w.owner())
    end = time.monotonic() + args.seconds

    def caller() -> None:
        session = w.session
        while time.monotonic() < end:
            try:
                token = session.token(timeout=30)
                response = transport.inner.send(w.api(token), timeout=10)
                w.counts.add("calls")
                if response.status == 401:
                    w.counts.add("api_401")
                    session.reject(token)
            except Exception as exc:  # reported, and the caller goes on
                w.error(exc)
            time.sleep(PAUSE)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(args.callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.done()
    if store is not None:
        store.close()


# ------------------------------------------------------------------------------ asyncio


class AsyncTransport:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.inner = grantline.AsyncHttpxTransport()

    async def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        if self.worker.is_token_request(request):
            self.worker.counts.add("token_requests")
            if self.worker.hold:
                await asyncio.sleep(self.worker.hold)
        return await self.inner.send(request, timeout=timeout)


async def run_tasks(w: Worker) -> None:
    args = w.args
    store = None
    if w.fleet is not None:
        from grantline.redis import AsyncRedisStore

        store = AsyncRedisStore.from_url(args.redis)
    transport = AsyncTransport(w)
    if args.grant == "password":
        w.session = grantline.AsyncTokenSession.password(w.client, "fleet", "fleet", transport=transport,
                                                         on_tokens=w.on_tokens, store=store, fleet=w.fleet)
    else:
        w.session = grantline.AsyncTokenSession.client_credentials(
            w.client, transport=transport, on_tokens=w.on_tokens, store=store, fleet=w.fleet)
    w.out(event="start", lang="python", pid=os.getpid(), owner=w.owner())
    end = time.monotonic() + args.seconds

    async def caller() -> None:
        session = w.session
        while time.monotonic() < end:
            try:
                token = await session.token(timeout=30)
                response = await transport.inner.send(w.api(token), timeout=10)
                w.counts.add("calls")
                if response.status == 401:
                    w.counts.add("api_401")
                    session.reject(token)
            except Exception as exc:  # reported, and the caller goes on
                w.error(exc)
            await asyncio.sleep(PAUSE)

    await asyncio.gather(*(caller() for _ in range(args.callers)))
    w.done()
    await transport.inner.aclose()
    if store is not None:
        await store.aclose()


def main(argv: Optional[List[str]] = None) -> int:
    args = arguments(argv)
    w = Worker(args)
    if args.aio:
        asyncio.run(run_tasks(w))
    else:
        run_threads(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
