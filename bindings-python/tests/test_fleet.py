"""One token for a fleet, machine-level: FleetConfig and Entry (keys, sealing, redaction),
FleetState driven by hand, and TokenSession / AsyncTokenSession driving it over an in-memory
store written here (no Redis): several "processes" (sessions) sharing one name make one token
request; a rotating refresh token survives renewals by either; the cached path makes no store
call; a store that fails or holds garbage never reaches a caller with a valid token; a lease
whose holder died is taken over; a caller's deadline bounds a wait for another process."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

import pytest

import grantline
from grantline import (
    AsyncTokenSession,
    Client,
    Completion,
    Entry,
    FleetConfig,
    FleetState,
    HttpRequest,
    HttpResponse,
    Provider,
    SessionState,
    StoreAcquire,
    StoreCommit,
    StoreError,
    StoreRead,
    StoreRelease,
    StoreReply,
    StoreWatch,
    TokenSession,
    TokenSet,
)

from conftest import in_threads

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW_MS = 1_700_000_000_000
JSON = {"content-type": "application/json"}


def provider() -> Provider:
    return Provider.custom(
        "fleet", token_endpoint="https://as.example/token",
        grants=["client_credentials", "password", "refresh_token"],
    )


def client() -> Client:
    return Client(provider(), "fleet-client", client_secret="client-secret-q7", auth_method="client_secret_post")


def config(name: str = "billing", **kwargs: Any) -> FleetConfig:
    if not kwargs.get("plaintext"):
        kwargs.setdefault("keys", [("k1", KEY)])
    return FleetConfig(name, **kwargs)


# ------------------------------------------------------------------------------ a token server


class Server:
    """An in-process token endpoint with refresh-token rotation and reuse detection (like
    tests/load/server.py): counts token requests, holds each one ``hold`` seconds."""

    def __init__(self, lifetime: int = 3600, hold: float = 0.0) -> None:
        self.lifetime = lifetime
        self.hold = hold
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.serial = 0
        self.current: Optional[str] = None  # the one live refresh token
        self.used: set[str] = set()
        self.reuse = 0

    def _issue(self, refresh: bool) -> Dict[str, Any]:
        self.serial += 1
        body: Dict[str, Any] = {"access_token": f"AT-{self.serial}-secret", "token_type": "Bearer",
                                "expires_in": self.lifetime}
        if refresh:
            self.current = body["refresh_token"] = f"RT-{self.serial}-secret"
        return body

    def answer(self, request: HttpRequest) -> HttpResponse:
        form = dict(parse_qsl(request.body.decode()))
        grant = form.get("grant_type", "")
        if self.hold:
            time.sleep(self.hold)
        with self.lock:
            self.requests[grant] += 1
            if grant == "client_credentials":
                return HttpResponse(200, JSON, json.dumps(self._issue(False)).encode())
            if grant == "password":
                return HttpResponse(200, JSON, json.dumps(self._issue(True)).encode())
            if grant == "refresh_token":
                presented = form.get("refresh_token")
                if presented is not None and presented == self.current:
                    self.used.add(presented)
                    return HttpResponse(200, JSON, json.dumps(self._issue(True)).encode())
                if presented in self.used:
                    self.reuse += 1
                    self.current = None  # the family is revoked
                return HttpResponse(400, JSON, b'{"error":"invalid_grant"}')
        return HttpResponse(400, JSON, b'{"error":"unsupported_grant_type"}')

    @property
    def total(self) -> int:
        return sum(self.requests.values())


class Transport:
    """The synchronous transport of one process, to the shared server."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        return self.server.answer(request)


class AsyncTransport:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        return await asyncio.get_running_loop().run_in_executor(None, self.server.answer, request)


# ------------------------------------------------------------------------------ an in-memory store


class MemoryStore:
    """The store interface (grantline.FleetStore) in memory, with Redis's semantics: an atomic
    lease with a TTL, the compare-and-set commit, notifications. ``down``: every operation
    raises ``ConnectionError``. Counts operations."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.entries: Dict[str, str] = {}
        self.leases: Dict[str, Tuple[str, float]] = {}
        self.announced: Dict[str, int] = {}
        self.ops: Counter[str] = Counter()
        self.down = False

    def _op(self, name: str) -> None:
        self.ops[name] += 1
        if self.down:
            raise ConnectionError("the store is down")

    def read(self, key: str) -> Optional[str]:
        with self.cond:
            self._op("read")
            return self.entries.get(key)

    def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        with self.cond:
            self._op("acquire")
            now = time.monotonic()
            holder = self.leases.get(lease)
            acquired = holder is None or holder[1] <= now or holder[0] == owner
            if acquired:
                self.leases[lease] = (owner, now + ttl_ms / 1000)
            return acquired, int((self.leases[lease][1] - now) * 1000), self.entries.get(key)

    def commit(self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int,
               entry: str) -> bool:
        with self.cond:
            self._op("commit")
            current = self.entries.get(key)
            stored = 0 if current is None else json.loads(current)["version"]
            if self.leases.get(lease, ("", 0.0))[0] == owner:
                del self.leases[lease]
            if stored != expected_version:
                return False
            self.entries[key] = entry
            self.announced[channel] = version
            self.cond.notify_all()
            return True

    def release(self, lease: str, owner: str) -> None:
        with self.cond:
            self._op("release")
            if self.leases.get(lease, ("", 0.0))[0] == owner:
                del self.leases[lease]

    def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        with self.cond:
            self._op("watch")
            self.cond.wait_for(lambda: self.announced.get(channel, 0) > version, timeout_ms / 1000)


class AsyncMemoryStore:
    """grantline.AsyncFleetStore over a MemoryStore (the watch polls)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    async def read(self, key: str) -> Optional[str]:
        return self.inner.read(key)

    async def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        return self.inner.acquire(key, lease, owner, ttl_ms)

    async def commit(self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int,
                     entry: str) -> bool:
        return self.inner.commit(key, lease, owner, channel, expected_version, version, entry)

    async def release(self, lease: str, owner: str) -> None:
        self.inner.release(lease, owner)

    async def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        self.inner._op("watch")
        end = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < end and self.inner.announced.get(channel, 0) <= version:
            await asyncio.sleep(0.005)


def process(store: Any, server: Server, grant: str = "client_credentials", **kwargs: Any) -> TokenSession:
    """One process of the fleet: its own session over the shared store."""
    fleet = kwargs.pop("fleet", None) or config()
    if grant == "password":
        return TokenSession.password(client(), "fleet", "fleet", transport=Transport(server), store=store,
                                     fleet=fleet, **kwargs)
    return TokenSession.client_credentials(client(), transport=Transport(server), store=store, fleet=fleet, **kwargs)


# ------------------------------------------------------------------------------ config and entries


def test_a_config_needs_keys_or_an_explicit_plaintext_and_never_shows_a_key() -> None:
    with pytest.raises(grantline.ConfigurationError, match="plaintext=True explicitly"):
        FleetConfig("billing")
    with pytest.raises(grantline.ConfigurationError, match="not both"):
        FleetConfig("billing", [("k1", KEY)], plaintext=True)
    with pytest.raises(grantline.InvalidKeyError) as short:
        FleetConfig("billing", [("k1", KEY[:31])])
    assert short.value.kind == "invalid_key"
    with pytest.raises(grantline.InvalidKeyError):
        FleetConfig("billing", [("bad:kid", KEY)])
    for name in ("", "has space", "x" * 201, "é"):
        with pytest.raises(grantline.ConfigurationError):
            FleetConfig(name, [("k1", KEY)])
    with pytest.raises(grantline.ConfigurationError):
        FleetConfig("billing", [("k1", KEY)], owner="")
    with pytest.raises(TypeError):
        FleetConfig("billing", [("k1", "not bytes")])  # type: ignore[list-item]

    c = FleetConfig("billing", [("k2", b"\xab" * 32), ("k1", KEY)], owner="proc-1", lease_ttl_ms=5000,
                    renew_alone_when_store_down=True)
    assert (c.name, c.kids, c.plaintext, c.owner, c.lease_ttl_ms, c.renew_alone_when_store_down) == (
        "billing", ["k2", "k1"], False, "proc-1", 5000, True)
    assert (c.entry_key, c.lease_key, c.channel) == (
        "grantline:{billing}", "grantline:{billing}:lease", "grantline:{billing}:renewed")
    shown = repr(c)
    assert "k2" in shown and "k1" in shown and "abab" not in shown.lower() and "171" not in shown
    assert FleetConfig("b", lease_ttl_ms=10, plaintext=True).lease_ttl_ms == 1000  # the core's minimum
    assert FleetConfig("b", plaintext=True).lease_ttl_ms == grantline.DEFAULT_LEASE_TTL_MS
    assert len(FleetConfig("b", plaintext=True).owner) == 32  # random, per process
    assert FleetConfig("b", plaintext=True).owner != FleetConfig("b", plaintext=True).owner


def test_entries_seal_open_rotate_keys_and_refuse_tampering() -> None:
    tokens = TokenSet("AT-entry-secret", "RT-entry-secret", expires_at=1_700_003_600, issued_at=1_700_000_000)
    entry = Entry(7, tokens, 1_700_000_000)
    assert "secret" not in repr(entry)
    old = config(keys=[("k1", KEY)])
    sealed = entry.seal(old)
    assert "RT-entry-secret" not in sealed and "AT-entry-secret" not in sealed
    back = Entry.open(sealed, old)
    assert (back.version, back.written_at) == (7, 1_700_000_000)
    assert back.tokens.refresh_token is not None and back.tokens.refresh_token.secret() == "RT-entry-secret"
    assert entry.seal(old) != sealed  # a fresh nonce each time
    fixed = entry.seal_with_nonce(old, b"\x01" * 12)
    assert fixed == entry.seal_with_nonce(old, b"\x01" * 12) and '"nonce":"AQEBAQEBAQEBAQEB"' in fixed
    with pytest.raises(grantline.ConfigurationError, match="12 bytes"):
        entry.seal_with_nonce(old, b"\x01" * 11)
    # Rotation: the new key alone cannot read the old entry; with the old one as previous it can.
    with pytest.raises(grantline.ConfigurationError, match="kid"):
        Entry.open(sealed, config(keys=[("k2", OTHER_KEY)]))
    assert Entry.open(sealed, config(keys=[("k2", OTHER_KEY), ("k1", KEY)])).version == 7
    # The same kid with another key, a flipped version, a plaintext downgrade, garbage.
    with pytest.raises(grantline.ConfigurationError, match="authenticate"):
        Entry.open(sealed, config(keys=[("k1", OTHER_KEY)]))
    doc = json.loads(sealed)
    doc["version"] = 8
    with pytest.raises(grantline.ConfigurationError, match="authenticate"):
        Entry.open(json.dumps(doc), old)
    clear = entry.seal(config(plaintext=True))
    assert "RT-entry-secret" in clear and '"alg":"none"' in clear
    with pytest.raises(grantline.ConfigurationError, match="plaintext"):
        Entry.open(clear, old)
    assert Entry.open(clear, config(plaintext=True)).version == 7
    for garbage in ("", "RT-entry-secret {", "[1]", '{"format":2}'):
        with pytest.raises(grantline.ConfigurationError) as refused:
            Entry.open(garbage, old)
        assert "RT-entry-secret" not in str(refused.value)


# ------------------------------------------------------------------------------ the machine by hand


def ok(access: str, refresh: Optional[str] = None, expires_in: int = 3600) -> HttpResponse:
    body: Dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return HttpResponse(200, JSON, json.dumps(body).encode())


def test_the_fleet_machine_by_hand_renews_once_and_a_second_process_adopts() -> None:
    first = FleetState(SessionState.client_credentials(client(), []), config(owner="p1"))
    step = first.next(NOW_MS)
    assert isinstance(step, grantline.Perform) and step.current is None
    action: Any = step.action
    assert isinstance(action, StoreRead) and action.key == "grantline:{billing}"
    assert first.cancellable(step.id)
    action = first.store_done(step.id, StoreReply.entry(None), NOW_MS)
    assert isinstance(action, StoreAcquire) and (action.owner, action.ttl_ms) == ("p1", 15000)
    assert isinstance(first.next(NOW_MS), grantline.Wait)  # in-process single flight
    action = first.store_done(step.id, StoreReply.acquired(True, 15000, None), NOW_MS)
    assert isinstance(action, HttpRequest) and b"grant_type=client_credentials" in action.body
    action = first.receive(step.id, ok("AT-1-secret"), NOW_MS)
    assert isinstance(action, StoreCommit) and (action.expected_version, action.version) == (0, 1)
    assert not first.cancellable(step.id)
    assert "AT-1-secret" not in repr(action) and "bytes" in repr(action)
    sealed = action.entry
    done = first.store_done(step.id, StoreReply.committed(True), NOW_MS)
    assert isinstance(done, Completion) and done.renewed is not None and done.error is None
    assert first.delivered(step.id)
    ready = first.waited(step.id, NOW_MS)
    assert isinstance(ready, grantline.Ready) and ready.token.secret() == "AT-1-secret"
    assert first.version == 1 and first.ready_until_ms is not None
    stats = first.stats
    assert (stats.store_ops, stats.http_renewals, stats.committed, stats.adopted) == (3, 1, 1, 0)
    assert first.next(NOW_MS + 1000) is first.next(NOW_MS + 2000)  # cached: no store operation
    assert first.stats.store_ops == 3

    # A second process reads the fresh entry: no token request.
    second = FleetState(SessionState.client_credentials(client(), []), config(owner="p2"))
    step2 = second.next(NOW_MS + 10)
    assert isinstance(step2, grantline.Perform)
    done2 = second.store_done(step2.id, StoreReply.entry(sealed), NOW_MS + 10)
    assert isinstance(done2, Completion) and done2.renewed is not None
    assert done2.renewed.tokens.access_token.secret() == "AT-1-secret"
    second.delivered(step2.id)
    assert (second.version, second.stats.adopted, second.stats.http_renewals) == (1, 1, 0)


def test_the_machine_waits_on_a_lease_held_elsewhere_and_a_store_failure_goes_alone() -> None:
    state = FleetState(SessionState.client_credentials(client(), []), config(owner="p1"))
    step = state.next(NOW_MS)
    assert isinstance(step, grantline.Perform)
    state.store_done(step.id, StoreReply.entry(None), NOW_MS)
    watch = state.store_done(step.id, StoreReply.acquired(False, 800, None), NOW_MS)
    assert isinstance(watch, StoreWatch) and watch.channel == "grantline:{billing}:renewed"
    assert watch.timeout_ms == 25 and watch.version == 0
    again = state.store_done(step.id, StoreReply.watched(), NOW_MS + 30)
    assert isinstance(again, StoreRead)
    # A wrong reply is a store failure; client credentials then renew alone.
    alone = state.store_done(step.id, StoreReply.committed(True), NOW_MS + 40)
    assert isinstance(alone, HttpRequest)
    assert state.store_down(NOW_MS + 50) and state.stats.store_failures == 1
    done = state.receive(step.id, ok("AT-alone-secret"), NOW_MS + 60)
    assert isinstance(done, Completion) and done.renewed is not None
    assert state.stats.fallback_renewals == 1
    with pytest.raises(grantline.ConfigurationError) as misuse:
        state.store_done(99, StoreReply.released(), NOW_MS)
    assert misuse.value.kind == "unexpected_response"


# ------------------------------------------------------------------------------ sessions over a store


def test_a_session_needs_store_and_fleet_together() -> None:
    with pytest.raises(grantline.ConfigurationError, match="both store="):
        TokenSession.client_credentials(client(), store=MemoryStore())
    with pytest.raises(grantline.ConfigurationError, match="both store="):
        TokenSession.client_credentials(client(), fleet=config())
    machine = FleetState(SessionState.client_credentials(client(), []), config())
    with pytest.raises(grantline.ConfigurationError, match="FleetState"):
        TokenSession(machine)
    session = TokenSession(machine, store=MemoryStore(), transport=Transport(Server()))
    assert session.token().secret().startswith("AT-")
    plain = TokenSession.client_credentials(client(), transport=Transport(Server()))
    assert plain.stats is None and plain.store_version is None


def test_two_processes_with_many_threads_make_one_token_request_and_cached_calls_cost_no_store_op() -> None:
    store, server = MemoryStore(), Server(hold=0.2)
    fleet = [process(store, server), process(store, server)]
    turn = iter(range(1000))
    tokens = in_threads(100, lambda: fleet[next(turn) % 2].token().secret())
    assert server.total == 1, server.requests
    assert len(set(tokens)) == 1
    ops_before = sum(store.ops.values())
    for session in fleet:
        for _ in range(1000):
            session.token()
    assert sum(store.ops.values()) == ops_before  # a cached token: 0 store round trips
    stats = [s.stats for s in fleet]
    assert all(st is not None for st in stats)
    assert sorted((st.http_renewals, st.adopted) for st in stats if st) == [(0, 1), (1, 0)]
    assert [s.store_version for s in fleet] == [1, 1]


def test_a_rotating_refresh_token_survives_renewals_by_either_process() -> None:
    store, server = MemoryStore(), Server(lifetime=60)
    clock = [1_700_000_000.0]
    persisted: List[Tuple[str, bool]] = []

    def on_tokens(tokens: TokenSet, *, refresh_token_rotated: bool) -> None:
        persisted.append((tokens.access_token.secret(), refresh_token_rotated))

    a = process(store, server, "password", clock=lambda: clock[0], on_tokens=on_tokens)
    b = process(store, server, "password", clock=lambda: clock[0])
    assert a.token().secret() == "AT-1-secret"
    assert b.token().secret() == "AT-1-secret"  # adopted: no second password grant
    for i in range(6):  # every minute one of them renews, the other adopts
        clock[0] += 61
        first, second = (a, b) if i % 2 else (b, a)
        token = first.token().secret()
        assert second.token().secret() == token
    assert server.requests == Counter({"password": 1, "refresh_token": 6}), server.requests
    assert server.reuse == 0 and server.current is not None
    assert store.entries and json.loads(next(iter(store.entries.values())))["version"] == 7
    assert persisted[0] == ("AT-1-secret", True)
    assert len(persisted) == 7  # every token set reached on_tokens, adopted ones included


def test_store_down_client_credentials_still_get_a_token_and_a_refresh_waits_for_the_store() -> None:
    store, server = MemoryStore(), Server(lifetime=60)
    store.down = True
    session = process(store, server)
    assert session.token().secret() == "AT-1-secret"
    assert session.stats is not None and session.stats.fallback_renewals == 1
    assert store.ops["read"] == 1  # then the store is skipped during its backoff

    # A refresh shared by the fleet is not run alone: a caller with a valid token never sees
    # the store failure, one without gets StoreError.
    store2, server2 = MemoryStore(), Server(lifetime=60)
    clock = [1_700_000_000.0]
    shared = process(store2, server2, "password", clock=lambda: clock[0])
    assert shared.token().secret() == "AT-1-secret"
    store2.down = True
    clock[0] += 40  # inside the skew: renewal due, the token still valid
    assert shared.token().secret() == "AT-1-secret"
    assert shared.token().secret() == "AT-1-secret"
    clock[0] += 30  # expired
    with pytest.raises(StoreError) as failed:
        shared.token()
    assert failed.value.kind == "store" and isinstance(failed.value, grantline.TransportError)
    assert "secret" not in str(failed.value)
    assert server2.requests["refresh_token"] == 0
    # The store returns: the next renewal (after the backoff) refreshes through it.
    store2.down = False
    clock[0] += 120
    assert shared.token().secret() == "AT-2-secret"
    assert server2.reuse == 0


def test_renew_alone_when_store_down_lets_a_refresh_through() -> None:
    store, server = MemoryStore(), Server(lifetime=60)
    clock = [1_700_000_000.0]
    session = process(store, server, "password", clock=lambda: clock[0],
                      fleet=config(renew_alone_when_store_down=True))
    session.token()
    store.down = True
    clock[0] += 70
    assert session.token().secret() == "AT-2-secret"
    assert session.stats is not None and session.stats.fallback_renewals == 1


@pytest.mark.parametrize("garbage", [
    "not an entry at all",
    '{"format":1,"version":5,"written_at":1,"expires_at":null,"alg":"A256GCM","kid":"k1","nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AAAA"}',
    "other-key",
])
def test_a_hostile_entry_is_a_store_failure_never_a_crash(garbage: str, caplog: pytest.LogCaptureFixture) -> None:
    store, server = MemoryStore(), Server()
    if garbage == "other-key":
        other = Entry(9, TokenSet("AT-stolen-secret", None, expires_at=2_000_000_000, issued_at=1), 1)
        garbage = other.seal(config(keys=[("k1", OTHER_KEY)]))
    store.entries["grantline:{billing}"] = garbage
    session = process(store, server)
    with caplog.at_level(logging.DEBUG, logger="grantline"):
        token = session.token()
    assert token.secret() == "AT-1-secret" and server.total == 1  # renewed alone, safely
    assert session.stats is not None and session.stats.store_failures == 1
    assert store.entries["grantline:{billing}"] == garbage  # never overwritten blindly
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot use" in text and "secret" not in text and "AAAA" not in text


def test_a_lease_whose_holder_died_is_taken_over() -> None:
    store, server = MemoryStore(), Server()
    fleet = config(lease_ttl_ms=1000)
    # A dead process holds the lease (it never commits nor releases).
    assert store.acquire(fleet.entry_key, fleet.lease_key, "dead-process", 1000)[0]
    started = time.monotonic()
    session = process(store, server, fleet=fleet)
    assert session.token().secret() == "AT-1-secret"
    waited = time.monotonic() - started
    assert 0.8 < waited < 3.0, waited
    assert store.ops["watch"] >= 2 and server.total == 1


def test_a_callers_deadline_bounds_the_wait_for_another_process() -> None:
    store, server = MemoryStore(), Server()
    fleet = config(lease_ttl_ms=5000)
    store.acquire(fleet.entry_key, fleet.lease_key, "slow-process", 5000)
    session = process(store, server, fleet=fleet)
    started = time.monotonic()
    with pytest.raises(grantline.TransportError) as late:
        session.token(timeout=0.3)
    assert time.monotonic() - started < 1.5 and "deadline" in str(late.value)
    assert server.total == 0
    # Nothing stranded: the slow process commits, the next call takes its entry.
    other = process(store, server, fleet=config(owner="slow-process"))
    assert other.token().secret() == "AT-1-secret"
    assert session.token(timeout=2).secret() == "AT-1-secret" and server.total == 1


def test_the_log_says_what_happened_without_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    store, server = MemoryStore(), Server()
    a, b = process(store, server), process(store, server)
    with caplog.at_level(logging.DEBUG, logger="grantline"):
        a.token()
        b.token()
        store.down = True
        c = process(store, server)
        c.token()
    events = [getattr(r, "grantline_event", None) for r in caplog.records]
    assert "renewed" in events and "adopted" in events and "store_failed" in events
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "secret" not in text and "q7" not in text


# ------------------------------------------------------------------------------ asyncio


def test_async_processes_with_many_tasks_make_one_token_request() -> None:
    async def main() -> None:
        inner, server = MemoryStore(), Server(hold=0.2)
        store = AsyncMemoryStore(inner)
        fleet = [
            AsyncTokenSession.client_credentials(client(), transport=AsyncTransport(server), store=store,
                                                 fleet=config())
            for _ in range(2)
        ]
        tokens = await asyncio.gather(*(fleet[i % 2].token() for i in range(200)))
        assert server.total == 1 and len({t.secret() for t in tokens}) == 1
        before = sum(inner.ops.values())
        for _ in range(1000):
            await fleet[0].token()
        assert sum(inner.ops.values()) == before
        stats = [s.stats for s in fleet]
        assert sorted((st.http_renewals, st.adopted) for st in stats if st) == [(0, 1), (1, 0)]

    asyncio.run(main())


def test_async_store_down_and_a_deadline_while_another_process_renews() -> None:
    async def main() -> None:
        inner, server = MemoryStore(), Server()
        inner.down = True
        session = AsyncTokenSession.client_credentials(client(), transport=AsyncTransport(server),
                                                       store=AsyncMemoryStore(inner), fleet=config())
        assert (await session.token()).secret() == "AT-1-secret"
        assert session.stats is not None and session.stats.fallback_renewals == 1

        inner2 = MemoryStore()
        fleet = config(lease_ttl_ms=5000)
        inner2.acquire(fleet.entry_key, fleet.lease_key, "slow-process", 5000)
        waiting = AsyncTokenSession.client_credentials(client(), transport=AsyncTransport(server),
                                                       store=AsyncMemoryStore(inner2), fleet=fleet)
        with pytest.raises(grantline.TransportError):
            await waiting.token(timeout=0.3)
        # Cancelled callers leave no renewal stranded either.
        task = asyncio.ensure_future(waiting.token())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        inner2.release(fleet.lease_key, "slow-process")
        assert (await waiting.token(timeout=2)).secret() == "AT-2-secret"

    asyncio.run(main())
