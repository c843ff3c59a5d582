"""TokenSession and AsyncTokenSession over a scripted token endpoint and a fake clock: the
liveness rules of the core, as the convenient layer carries them. Many callers cause one
request; a proactive renewal in flight leaves every other caller with the current token; a
failed renewal while the token is valid reaches nobody, and the core's backoff keeps the
session from hammering; token sets reach a slow ``on_tokens`` in renewal order, with the
rotation flag; a token expired on arrival never loops; DPoP tokens are refused; API bodies are
never cut silently."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Union

import pytest

import grantline
from grantline import AsyncTokenSession, Client, HttpRequest, HttpResponse, Provider, Secret, TokenSession, TokenSet

from conftest import in_threads

JSON = {"content-type": "application/json"}
NOW = 1_700_000_000


def provider() -> Provider:
    return Provider.custom(
        "scripted", token_endpoint="https://as.example/token",
        grants=["client_credentials", "password", "refresh_token"],
    )


def client() -> Client:
    return Client(provider(), "id", client_secret="client-secret-x9", auth_method="client_secret_post")


def answer(access: str, refresh: Optional[str] = None, expires_in: int = 100, token_type: str = "Bearer") -> HttpResponse:
    body: dict[str, Any] = {"access_token": access, "token_type": token_type, "expires_in": expires_in}
    if refresh is not None:
        body["refresh_token"] = refresh
    return HttpResponse(200, JSON, json.dumps(body).encode())


Reply = Union[HttpResponse, BaseException, Callable[[HttpRequest], HttpResponse]]


class Scripted:
    """A token endpoint (and API) that answers from a script; each answer may first wait for
    ``release`` (to hold a renewal in flight). Counts token requests."""

    def __init__(self, *replies: Reply, hold: Optional[threading.Event] = None) -> None:
        self.replies = list(replies)
        self.hold = hold
        self.sent: List[HttpRequest] = []
        self.started = threading.Event()
        self.lock = threading.Lock()

    def _next(self, request: HttpRequest) -> Reply:
        with self.lock:
            self.sent.append(request)
            if not self.replies:
                raise AssertionError(f"unexpected request #{len(self.sent)}: {request!r}")
            return self.replies.pop(0)

    def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        reply = self._next(request)
        self.started.set()
        if self.hold is not None:
            assert self.hold.wait(10), "held too long"
        return self._reply(reply, request)

    @staticmethod
    def _reply(reply: Reply, request: HttpRequest) -> HttpResponse:
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(request)
        return reply


class AsyncScripted(Scripted):
    def __init__(self, *replies: Reply, hold: Optional[asyncio.Event] = None) -> None:
        super().__init__(*replies)
        self.ahold = hold

    async def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:  # type: ignore[override]
        reply = self._next(request)
        self.started.set()
        if self.ahold is not None:
            await asyncio.wait_for(self.ahold.wait(), 10)
        return self._reply(reply, request)


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now




def initial(access: str = "at-1", refresh: Optional[str] = "rt-1", expires_in: int = 100) -> TokenSet:
    return TokenSet.from_response(answer(access, refresh, expires_in), now=NOW)


# ------------------------------------------------------------------------------ single flight


def test_many_threads_without_a_token_cause_one_request() -> None:
    release = threading.Event()
    transport = Scripted(answer("at-1"), hold=release)
    session = TokenSession.client_credentials(client(), transport=transport, clock=Clock())
    threading.Thread(target=lambda: (transport.started.wait(5), time.sleep(0.2), release.set()), daemon=True).start()
    tokens = in_threads(50, session.token)
    assert [t for t in tokens if not isinstance(t, Secret)] == []
    assert {t.secret() for t in tokens} == {"at-1"} and len(transport.sent) == 1


def test_many_tasks_without_a_token_cause_one_request() -> None:
    async def go() -> None:
        transport = AsyncScripted(answer("at-1"))
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        tokens = await asyncio.gather(*(session.token() for _ in range(200)))
        assert {t.secret() for t in tokens} == {"at-1"} and len(transport.sent) == 1

    asyncio.run(go())


# ------------------------------------------------------------------------------ proactive renewal


def test_a_proactive_renewal_in_flight_leaves_the_other_threads_the_current_token() -> None:
    clock = Clock()
    release = threading.Event()
    transport = Scripted(answer("at-2", "rt-2"), hold=release)
    session = TokenSession.from_tokens(client(), initial(), transport=transport, clock=clock, skew=30)
    clock.now = NOW + 80  # inside the skew: renew, the token still valid for 20 s
    renewer = threading.Thread(target=session.token)
    renewer.start()
    assert transport.started.wait(5)
    started = time.monotonic()
    others = in_threads(20, session.token)
    assert time.monotonic() - started < 2, "nobody waited for the renewal"
    assert {t.secret() for t in others} == {"at-1"}
    release.set()
    renewer.join(5)
    assert session.token() == "at-2" and len(transport.sent) == 1


def test_a_proactive_renewal_in_flight_leaves_the_other_tasks_the_current_token() -> None:
    async def go() -> None:
        clock = Clock()
        release = asyncio.Event()
        transport = AsyncScripted(answer("at-2", "rt-2"), hold=release)
        session = AsyncTokenSession.from_tokens(client(), initial(), transport=transport, clock=clock, skew=30)
        clock.now = NOW + 80
        renewal = asyncio.ensure_future(session.token())
        await asyncio.sleep(0.01)
        assert transport.started.is_set()
        others = await asyncio.wait_for(asyncio.gather(*(session.token() for _ in range(50))), 1)
        assert {t.secret() for t in others} == {"at-1"}
        release.set()
        assert await renewal == "at-2"
        assert len(transport.sent) == 1

    asyncio.run(go())


# ------------------------------------------------------------------------------ failures and backoff


def failing_renewals(mode: str) -> None:
    """A renewal that fails while the token is valid reaches nobody; the next attempt waits for
    the core's backoff (no request per call); after expiry the failure reaches the callers."""
    clock = Clock()
    reset = ConnectionResetError("reset by peer")
    unavailable = HttpResponse(503, {"retry-after": "60", **JSON}, b'{"error":"temporarily_unavailable"}')
    replies: List[Reply] = [reset, unavailable, reset]
    if mode == "sync":
        transport: Any = Scripted(*replies)
        session: Any = TokenSession.from_tokens(client(), initial(), transport=transport, clock=clock, skew=30)

        def token() -> Any:
            return session.token()
    else:
        transport = AsyncScripted(*replies)
        session = AsyncTokenSession.from_tokens(client(), initial(), transport=transport, clock=clock, skew=30)

        def token() -> Any:
            return asyncio.run(session.token())

    clock.now = NOW + 75
    assert token() == "at-1", "the renewer's failure is not its caller's: the token is valid"
    assert len(transport.sent) == 1 and session.failures == 1
    retry_at = session.retry_at
    assert retry_at is not None and NOW + 75 < retry_at <= NOW + 76
    for _ in range(20):
        assert token() == "at-1"
    assert len(transport.sent) == 1, "no request during the backoff"
    clock.now = retry_at
    assert token() == "at-1"  # the 503, with Retry-After: 60
    assert len(transport.sent) == 2 and session.failures == 2
    assert session.retry_at >= clock.now + 60, "Retry-After honoured"
    clock.now = NOW + 100  # expired, still in the backoff: the last failure, no request
    with pytest.raises(grantline.OAuthError) as during:
        token()
    assert during.value.error == "temporarily_unavailable" and len(transport.sent) == 2
    clock.now = session.retry_at
    with pytest.raises(grantline.TransportError) as after:
        token()
    assert "reset by peer" in str(after.value) and len(transport.sent) == 3


def test_a_failed_renewal_while_the_token_is_valid_reaches_no_thread() -> None:
    failing_renewals("sync")


def test_a_failed_renewal_while_the_token_is_valid_reaches_no_task() -> None:
    failing_renewals("async")


def test_every_waiter_gets_the_same_failure_when_no_token_is_left() -> None:
    release = threading.Event()
    transport = Scripted(ConnectionResetError("the wire was cut"), hold=release)
    session = TokenSession.client_credentials(client(), transport=transport, clock=Clock())
    threading.Thread(target=lambda: (transport.started.wait(5), time.sleep(0.2), release.set()), daemon=True).start()
    results = in_threads(30, session.token)
    assert all(isinstance(r, grantline.TransportError) and "the wire was cut" in str(r) for r in results)
    assert len(transport.sent) == 1
    with pytest.raises(grantline.TransportError):
        session.token()  # in the backoff: the failure at once, no request
    assert len(transport.sent) == 1


# ------------------------------------------------------------------------------ on_tokens


def test_a_slow_on_tokens_still_sees_token_sets_in_renewal_order() -> None:
    """Two renewals back to back, the first save slow: the second renewal waits for it, so the
    store ends with the newest refresh token (a dead one stored last would lose the session)."""
    clock = Clock()
    transport = Scripted(answer("at-2", "rt-2"), answer("at-3", "rt-3"))
    stored: List[str] = []
    saving = threading.Event()

    def persist(tokens: TokenSet) -> None:
        if tokens.access_token == "at-2":
            saving.set()
            time.sleep(0.5)  # a slow disk
        assert tokens.refresh_token is not None
        stored.append(tokens.refresh_token.secret())

    session = TokenSession.from_tokens(client(), initial(), transport=transport, on_tokens=persist, clock=clock)
    assert session.reject("at-1")
    first = threading.Thread(target=session.token)
    first.start()
    assert saving.wait(5)
    # The first set is being saved; its access token is refused at once: a second renewal.
    assert session.reject("at-2")
    assert session.token() == "at-3"
    first.join(5)
    assert stored == ["rt-2", "rt-3"]
    assert len(transport.sent) == 2 and b"refresh_token=rt-2" in transport.sent[1].body


def test_a_slow_async_on_tokens_still_sees_token_sets_in_renewal_order() -> None:
    async def go() -> None:
        transport = AsyncScripted(answer("at-2", "rt-2"), answer("at-3", "rt-3"))
        stored: List[str] = []
        saving = asyncio.Event()

        async def persist(tokens: TokenSet) -> None:
            if tokens.access_token == "at-2":
                saving.set()
                await asyncio.sleep(0.3)
            assert tokens.refresh_token is not None
            stored.append(tokens.refresh_token.secret())

        session = AsyncTokenSession.from_tokens(client(), initial(), transport=transport, on_tokens=persist, clock=Clock())
        session.reject("at-1")
        first = asyncio.ensure_future(session.token())
        await saving.wait()
        assert session.reject("at-2")
        assert await session.token() == "at-3"
        await first
        assert stored == ["rt-2", "rt-3"]

    asyncio.run(go())


def test_on_tokens_gets_the_rotation_flag_when_it_asks_for_it() -> None:
    clock = Clock()
    seen: List[Tuple[str, bool]] = []
    plain: List[str] = []

    def with_flag(tokens: TokenSet, *, refresh_token_rotated: bool) -> None:
        seen.append((tokens.access_token.secret(), refresh_token_rotated))

    def any_keywords(tokens: TokenSet, **extra: Any) -> None:
        seen.append((tokens.access_token.secret(), extra["refresh_token_rotated"]))

    for callback in (with_flag, any_keywords):
        transport = Scripted(answer("at-2", "rt-2"), answer("at-3"))
        session = TokenSession.from_tokens(client(), initial(), transport=transport, on_tokens=callback, clock=clock)
        session.reject("at-1")
        session.token()
        session.reject("at-2")
        session.token()
    assert seen == [("at-2", True), ("at-3", False)] * 2, "rotated, then kept"
    transport = Scripted(answer("at-2", "rt-2"))
    session = TokenSession.from_tokens(
        client(), initial(), transport=transport, on_tokens=lambda t: plain.append(t.access_token.secret()), clock=clock
    )
    session.reject("at-1")
    session.token()
    assert plain == ["at-2"], "the one-argument form still works"


def test_invalid_grant_hands_out_the_set_without_its_refresh_token_and_keeps_the_access_token() -> None:
    clock = Clock()
    saved: List[Tuple[Optional[str], bool]] = []
    transport = Scripted(HttpResponse(400, JSON, b'{"error":"invalid_grant"}'))
    session = TokenSession.from_tokens(
        client(), initial(), transport=transport, clock=clock, skew=30,
        on_tokens=lambda t, refresh_token_rotated: saved.append(
            (None if t.refresh_token is None else t.refresh_token.secret(), refresh_token_rotated)),
    )
    clock.now = NOW + 80
    assert session.token() == "at-1", "the access token is still good"
    assert saved == [(None, True)], "the dead refresh token is dropped, and that is persisted"
    clock.now = NOW + 100  # expired, and no refresh token left: authorize again
    with pytest.raises(grantline.ReauthorizationRequiredError):
        session.token()
    assert len(transport.sent) == 1


def test_an_on_tokens_that_raises_reaches_the_renewer_and_frees_the_waiters() -> None:
    release = threading.Event()
    transport = Scripted(answer("at-1", "rt-1"), hold=release)

    def refuse(tokens: TokenSet) -> None:
        raise RuntimeError("disk full")

    session = TokenSession.client_credentials(client(), transport=transport, on_tokens=refuse, clock=Clock())
    threading.Thread(target=lambda: (transport.started.wait(5), time.sleep(0.2), release.set()), daemon=True).start()
    results = in_threads(10, session.token)
    assert sum(isinstance(r, RuntimeError) for r in results) == 1
    assert [r for r in results if not isinstance(r, RuntimeError)] == ["at-1"] * 9
    assert session.token() == "at-1" and len(transport.sent) == 1


# ------------------------------------------------------------------------------ no loops, no DPoP


def test_a_token_expired_on_arrival_is_served_and_never_loops() -> None:
    clock = Clock()
    transport = Scripted(answer("at-0", expires_in=0), answer("at-1", expires_in=0))
    session = TokenSession.client_credentials(client(), transport=transport, clock=clock)
    for _ in range(20):
        assert session.token() == "at-0"
    assert len(transport.sent) == 1, "served, not renewed over and over"
    retry_at = session.retry_at
    assert retry_at is not None
    clock.now = retry_at
    for _ in range(20):
        assert session.token() == "at-1"
    assert len(transport.sent) == 2


def test_a_token_expired_on_arrival_never_loops_asyncio() -> None:
    async def go() -> None:
        transport = AsyncScripted(answer("at-0", expires_in=0))
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        assert {t.secret() for t in await asyncio.gather(*(session.token() for _ in range(50)))} == {"at-0"}
        for _ in range(20):
            assert await session.token() == "at-0"
        assert len(transport.sent) == 1

    asyncio.run(go())


def test_a_renewal_that_returns_the_refused_token_is_not_repeated_per_call() -> None:
    clock = Clock()
    transport = Scripted(answer("at-1", expires_in=100))
    session = TokenSession.client_credentials(client(), tokens=initial(refresh=None), transport=transport, clock=clock)
    session.reject("at-1")
    with pytest.raises(grantline.MalformedResponseError) as unusable:
        session.token()
    assert unusable.value.kind == "unusable_token"
    for _ in range(10):
        with pytest.raises(grantline.MalformedResponseError):
            session.token()
    assert len(transport.sent) == 1


def test_dpop_tokens_are_refused() -> None:
    transport = Scripted(answer("at-dpop", token_type="DPoP"))
    session = TokenSession.client_credentials(client(), transport=transport, clock=Clock())
    with pytest.raises(grantline.ConfigurationError) as refused:
        session.token()
    assert (refused.value.kind, refused.value.token_type) == ("unsupported_token_type", "DPoP")
    stored = TokenSet.from_response(answer("at-dpop", token_type="DPoP"), now=NOW)
    with pytest.raises(grantline.ConfigurationError) as restored:
        TokenSession.from_tokens(client(), stored, transport=Scripted(), clock=Clock()).token()
    assert restored.value.kind == "unsupported_token_type"
    assert "at-dpop" not in str(refused.value) + repr(refused.value)


# ------------------------------------------------------------------------------ deadlines, bodies


class Hanging:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: HttpRequest, *, timeout: Optional[float] = None) -> HttpResponse:
        self.calls += 1
        assert timeout is not None
        time.sleep(timeout)
        raise grantline.TransportError("transport failure: deadline", reason="deadline")


def test_a_call_timeout_bounds_the_renewal_and_the_waiters() -> None:
    transport = Hanging()
    session = TokenSession.client_credentials(client(), transport=transport, clock=Clock())
    started = time.monotonic()
    results = in_threads(5, lambda: session.token(timeout=0.5))
    assert time.monotonic() - started < 3
    assert all(isinstance(r, grantline.TransportError) for r in results) and transport.calls == 1


def test_a_per_call_timeout_needs_a_transport_that_takes_one() -> None:
    class Plain:
        def send(self, request: HttpRequest) -> HttpResponse:
            return answer("at-1")

    session = TokenSession.client_credentials(client(), transport=Plain(), clock=Clock())
    with pytest.raises(TypeError, match="timeout"):
        session.token(timeout=1)
    assert session.token() == "at-1"
    with pytest.raises(TypeError, match="timeout"):
        grantline.client_credentials(client(), transport=Plain(), timeout=1)  # type: ignore[arg-type]


def test_api_bodies_have_their_own_limit_and_are_never_cut_silently() -> None:
    big = b"x" * (grantline.MAX_BODY + 10)

    def api(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"content-type": "text/plain"}, big)

    session = TokenSession.client_credentials(client(), transport=Scripted(answer("at-1"), api), clock=Clock())
    assert session.request("GET", "https://api.example/big").body == big
    limited = TokenSession.client_credentials(
        client(), transport=Scripted(answer("at-1"), api), clock=Clock(), max_api_body=1000
    )
    with pytest.raises(grantline.MalformedResponseError) as too_large:
        limited.request("GET", "https://api.example/big?secret-query=1")
    assert too_large.value.kind == "malformed" and "1000" in str(too_large.value)
    assert "secret-query" not in str(too_large.value)
