"""One token for a fleet, on a real Redis (``GRANTLINE_REDIS_URL``) and the loopback rotating
token server (``GRANTLINE_LOAD_URL``), both started by ``tests/interop/servers.sh run``: two
sessions with two store clients share one name and make one token request; a rotating refresh
token passes between them without a reuse; a store that is down, hung or holding garbage never
reaches a caller with a valid token; a cached token costs no Redis command; the scripts survive
a ``SCRIPT FLUSH``. Threads (``RedisStore``) and asyncio (``AsyncRedisStore``)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import urllib.request
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest

import grantline
from grantline import AsyncTokenSession, FleetConfig, StoreError, TokenSession, TokenSet

from conftest import in_threads

REDIS_URL = os.environ.get("GRANTLINE_REDIS_URL", "")
LOAD_URL = os.environ.get("GRANTLINE_LOAD_URL", "").rstrip("/")
if not REDIS_URL or not LOAD_URL:
    pytest.skip(
        "GRANTLINE_REDIS_URL and GRANTLINE_LOAD_URL are not set: run under tests/interop/servers.sh run -- ... "
        "(bindings-python/test.sh does)",
        allow_module_level=True,
    )

import redis  # noqa: E402  (the optional extra, installed with the dev dependencies)
import redis.asyncio  # noqa: E402

from grantline.redis import AsyncRedisStore, RedisStore  # noqa: E402

KEY = bytes.fromhex("07" * 32)


def admin(path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(LOAD_URL + path, data=data, method="GET" if body is None else "POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: Dict[str, Any] = json.loads(answer.read())
        return result


def reset(lifetime: float = 3600, delay: float = 0.05) -> None:
    admin("/admin/reset", {"lifetime": lifetime, "fail_rate": 0, "delay": delay})


def stats() -> Dict[str, Any]:
    return admin("/admin/stats")


def client(client_id: str = "fleet-py") -> grantline.Client:
    provider = grantline.Provider.custom(
        "load", token_endpoint=LOAD_URL + "/token", grants=["client_credentials", "password", "refresh_token"])
    return grantline.Client(provider, client_id, client_secret="load-secret", auth_method="client_secret_post")


def fleet(name: str, **kwargs: Any) -> FleetConfig:
    return FleetConfig(name, [("k1", KEY)], **kwargs)


def unique() -> str:
    return f"py-{uuid.uuid4().hex[:12]}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def raw() -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield r
    r.close()


@pytest.fixture
def stores() -> Iterator[List[RedisStore]]:
    made = [RedisStore.from_url(REDIS_URL), RedisStore(redis.Redis.from_url(REDIS_URL))]
    yield made
    for s in made:
        s.close()


class Hung:
    """A TCP server that accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.conns: List[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


# ------------------------------------------------------------------------------ threads


def test_two_processes_sharing_one_name_make_one_token_request(stores: List[RedisStore], raw: redis.Redis) -> None:
    reset(delay=0.3)
    name = unique()
    sessions = [TokenSession.client_credentials(client(), store=s, fleet=fleet(name)) for s in stores]
    turn = iter(range(1000))
    tokens = in_threads(40, lambda: sessions[next(turn) % 2].token().secret())
    assert all(isinstance(t, str) for t in tokens), tokens[:3]
    assert len(set(tokens)) == 1
    assert stats()["token_requests"] == 1
    got = [s.stats for s in sessions]
    assert sorted((st.http_renewals, st.adopted) for st in got if st) == [(0, 1), (1, 0)]
    # The entry is sealed: the token is not in Redis in clear.
    stored = raw.get(f"grantline:{{{name}}}")
    assert stored is not None and tokens[0] not in stored and json.loads(stored)["version"] == 1
    assert raw.get(f"grantline:{{{name}}}:lease") is None  # released by the commit
    # A cached token costs no Redis command.
    before = int(raw.info("stats")["total_commands_processed"])
    for _ in range(500):
        for s in sessions:
            s.token()
    after = int(raw.info("stats")["total_commands_processed"])
    assert after - before <= 1  # the INFO call itself


def test_a_rotating_refresh_token_passes_between_processes(stores: List[RedisStore]) -> None:
    reset(lifetime=2)
    name = unique()
    last: List[str] = []

    def keep(tokens: TokenSet) -> None:
        if tokens.refresh_token is not None:
            last.append(tokens.refresh_token.secret())

    a, b = (TokenSession.password(client(), "fleet", "fleet", store=s, fleet=fleet(name), on_tokens=keep)
            for s in stores)
    end = time.monotonic() + 5
    calls = 0
    while time.monotonic() < end:
        for s in (a, b):
            token = s.token(timeout=10)
            answer = s.transport.send(grantline.HttpRequest(
                "GET", LOAD_URL + "/api", {"authorization": grantline.authorization_header(token)}))
            if answer.status == 401:
                s.reject(token)
            calls += 1
        time.sleep(0.05)
    st = stats()
    assert st["rotations"] >= 2, st
    assert st["reuse_detected"] == 0 and st["families_revoked"] == 0 and st["invalid_grant"] == 0, st
    assert st["token_requests"] == 1 + st["rotations"], st  # one password grant, then refreshes only
    assert admin("/admin/check", {"refresh_token": last[-1]})["state"] == "current"


def test_store_down_client_credentials_still_get_a_token_and_a_valid_token_hides_the_failure() -> None:
    reset()
    down = RedisStore.from_url(f"redis://127.0.0.1:{closed_port()}/0", timeout=0.5)
    started = time.monotonic()
    session = TokenSession.client_credentials(client(), store=down, fleet=fleet(unique()))
    assert session.token().secret()
    assert time.monotonic() - started < 2
    assert session.stats is not None and session.stats.fallback_renewals == 1
    assert session.stats.store_failures == 1

    # A refresh shared by the fleet: the caller with a valid token never sees the store's failure.
    clock = [time.time()]
    shared = TokenSession.password(client(), "fleet", "fleet", store=down, fleet=fleet(unique()),
                                   clock=lambda: clock[0])
    token = shared.token()  # the password grant consumes nothing: sent alone
    clock[0] += 3300  # past the renewal point (skew), before the expiry
    assert shared.token() == token and shared.token() == token
    clock[0] += 600  # expired: now the caller learns it
    with pytest.raises(StoreError) as failed:
        shared.token()
    assert failed.value.kind == "store" and "redis" in str(failed.value)
    down.close()


def test_a_hung_redis_is_a_store_failure_within_the_deadline() -> None:
    reset()
    hung = Hung()
    try:
        store = RedisStore.from_url(f"redis://127.0.0.1:{hung.port}/0", timeout=0.3)
        session = TokenSession.client_credentials(client(), store=store, fleet=fleet(unique()))
        started = time.monotonic()
        assert session.token().secret()
        assert time.monotonic() - started < 1.5
        assert session.stats is not None and session.stats.store_failures == 1
        store.close()
    finally:
        hung.close()


@pytest.mark.parametrize("garbage", ["garbage", '{"format":1,"version":3}', "sealed-with-another-key"])
def test_hostile_entries_are_a_typed_failure_never_a_crash(garbage: str, stores: List[RedisStore],
                                                           raw: redis.Redis) -> None:
    reset()
    name = unique()
    if garbage == "sealed-with-another-key":
        other = FleetConfig("x", [("k1", bytes(32))])
        garbage = grantline.Entry(5, TokenSet("AT-planted", None, expires_at=int(time.time()) + 3600), 1).seal(other)
    raw.set(f"grantline:{{{name}}}", garbage)
    # Client credentials: renewed alone (no token from the entry), the entry left as it is.
    session = TokenSession.client_credentials(client(), store=stores[0], fleet=fleet(name))
    token = session.token()
    assert token.secret() != "AT-planted" and stats()["token_requests"] == 1
    assert raw.get(f"grantline:{{{name}}}") == garbage
    # A session that can only refresh (a shared refresh token): StoreError, typed.
    refresh_only = TokenSession.from_tokens(
        client(), TokenSet("AT-old", "RT-old", expires_at=int(time.time()) - 10), store=stores[1], fleet=fleet(name))
    with pytest.raises(StoreError) as failed:
        refresh_only.token()
    assert "unreadable" in str(failed.value) and "AT-planted" not in str(failed.value)


def test_the_scripts_survive_a_script_flush(stores: List[RedisStore], raw: redis.Redis) -> None:
    reset(lifetime=2, delay=0.3)
    name = unique()
    a, b = (TokenSession.password(client(), "fleet", "fleet", store=s, fleet=fleet(name)) for s in stores)
    a.token()
    raw.script_flush()
    assert b.token() == a.token()  # read: no script
    time.sleep(1.2)  # due for renewal
    raw.script_flush()  # EVALSHA answers NOSCRIPT: register_script loads it again
    turn = iter([a, b])
    results = in_threads(2, lambda: next(turn).token(timeout=10))  # both due: one refreshes, one waits
    assert all(isinstance(r, grantline.Secret) for r in results), results
    assert a.token() == b.token()
    st = stats()
    assert st["reuse_detected"] == 0 and st["rotations"] == 1, st
    assert [s.stats.store_failures for s in (a, b) if s.stats] == [0, 0]


def test_a_watch_wakes_on_the_announcement_and_keeps_others_for_later(stores: List[RedisStore],
                                                                      raw: redis.Redis) -> None:
    store = stores[0]
    mine, other = f"grantline:{{{unique()}}}:renewed", f"grantline:{{{unique()}}}:renewed"
    store.watch(other, 0, 50)  # the store's pub/sub connection now listens on both channels
    started = time.monotonic()
    store.watch(mine, 0, 200)  # nothing announced: the timeout
    assert 0.18 < time.monotonic() - started < 1.0
    # (Each announcer is joined before `raw` is used again or closed: the watch wakes as soon as
    # the message is delivered, which can be before the announcer has read PUBLISH's reply.)
    announcer = threading.Timer(0.3, lambda: (raw.publish(other, "4"), raw.publish(mine, "1")))
    announcer.start()
    started = time.monotonic()
    store.watch(mine, 0, 5000)
    assert 0.25 < time.monotonic() - started < 1.5  # the announcement, not the 5 s timeout
    announcer.join()
    started = time.monotonic()
    store.watch(other, 3, 5000)  # version 4 came while another channel was watched
    assert time.monotonic() - started < 0.2
    raw.publish(mine, "1")  # not newer than what this watcher has seen
    started = time.monotonic()
    store.watch(mine, 1, 300)
    assert time.monotonic() - started > 0.25
    # A pub/sub connection that broke meanwhile (a restart, an idle timeout) is replaced, once.
    assert raw.client_kill_filter(_type="pubsub") >= 1
    store.watch(mine, 1, 100)
    announcer = threading.Timer(0.2, lambda: raw.publish(mine, "2"))
    announcer.start()
    started = time.monotonic()
    store.watch(mine, 1, 5000)
    assert time.monotonic() - started < 1.5
    announcer.join()


def test_store_errors_name_the_operation_without_a_secret() -> None:
    store = RedisStore.from_url(f"redis://:hunter2-password@127.0.0.1:{closed_port()}/0", timeout=0.3)
    with pytest.raises(StoreError) as failed:
        store.read("grantline:{x}")
    assert failed.value.kind == "store" and "read" in str(failed.value)
    assert "hunter2" not in str(failed.value) and "hunter2" not in repr(store)
    with pytest.raises(ValueError):
        RedisStore.from_url(REDIS_URL, timeout=0)
    store.close()


# ------------------------------------------------------------------------------ asyncio


def test_async_processes_sharing_one_name_make_one_token_request() -> None:
    async def main() -> None:
        reset(delay=0.3)
        name = unique()
        stores = [AsyncRedisStore.from_url(REDIS_URL), AsyncRedisStore(redis.asyncio.Redis.from_url(REDIS_URL))]
        sessions = [AsyncTokenSession.client_credentials(client(), store=s, fleet=fleet(name)) for s in stores]
        tokens = await asyncio.gather(*(sessions[i % 2].token() for i in range(200)))
        assert len({t.secret() for t in tokens}) == 1
        assert stats()["token_requests"] == 1
        raw = redis.asyncio.Redis.from_url(REDIS_URL)
        before = int((await raw.info("stats"))["total_commands_processed"])
        for _ in range(500):
            await sessions[0].token()
            await sessions[1].token()
        assert int((await raw.info("stats"))["total_commands_processed"]) - before <= 1
        await raw.aclose()
        for session in sessions:
            await session.aclose()
        for s in stores:
            await s.aclose()

    asyncio.run(main())


def test_an_async_watch_wakes_on_the_announcement() -> None:
    async def main() -> None:
        store = AsyncRedisStore.from_url(REDIS_URL)
        raw = redis.asyncio.Redis.from_url(REDIS_URL)
        channel = f"grantline:{{{unique()}}}:renewed"
        started = time.monotonic()
        await store.watch(channel, 0, 200)
        assert 0.18 < time.monotonic() - started < 1.0

        async def announce() -> None:
            await asyncio.sleep(0.3)
            await raw.publish(channel, "2")

        started = time.monotonic()
        await asyncio.gather(store.watch(channel, 1, 5000), announce())
        assert 0.25 < time.monotonic() - started < 1.5
        assert await raw.client_kill_filter(_type="pubsub") >= 1
        await store.watch(channel, 2, 100)  # the broken pub/sub connection is replaced
        await raw.aclose()
        await store.aclose()

    asyncio.run(main())


def test_async_rotation_store_down_and_a_hung_redis() -> None:
    async def main() -> None:
        reset(lifetime=2)
        name = unique()
        stores = [AsyncRedisStore.from_url(REDIS_URL) for _ in range(2)]
        sessions = [AsyncTokenSession.password(client(), "fleet", "fleet", store=s, fleet=fleet(name))
                    for s in stores]
        end = time.monotonic() + 4.5
        while time.monotonic() < end:
            await asyncio.gather(*(s.token(timeout=10) for s in sessions))
            await asyncio.sleep(0.05)
        st = stats()
        assert st["rotations"] >= 2 and st["reuse_detected"] == 0 and st["invalid_grant"] == 0, st
        assert st["token_requests"] == 1 + st["rotations"], st

        down = AsyncRedisStore.from_url(f"redis://127.0.0.1:{closed_port()}/0", timeout=0.5)
        alone = AsyncTokenSession.client_credentials(client(), store=down, fleet=fleet(unique()))
        assert (await alone.token()).secret()
        assert alone.stats is not None and alone.stats.fallback_renewals == 1

        hung = Hung()
        try:
            slow = AsyncRedisStore.from_url(f"redis://127.0.0.1:{hung.port}/0", timeout=0.3)
            session = AsyncTokenSession.client_credentials(client(), store=slow, fleet=fleet(unique()))
            started = time.monotonic()
            assert (await session.token()).secret()
            assert time.monotonic() - started < 1.5
            await session.aclose()
            await slow.aclose()
        finally:
            hung.close()
        for s in sessions + [alone]:
            await s.aclose()
        for store in stores + [down]:
            await store.aclose()

    asyncio.run(main())
