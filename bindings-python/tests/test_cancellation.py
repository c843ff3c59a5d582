"""Cancellation never leaves a renewal half-done. An asyncio renewal runs in a task of its own
that the tasks needing it share: cancelling one of them stops only its wait; cancelling every
one of them before the answer cancels the token request, and the core forgets the renewal
(``abandon``: no failure, no backoff), so the next caller renews. An answer already in is
carried to its end (stored, handed to ``on_tokens``). A thread interrupted while renewing
(``KeyboardInterrupt``) abandons the renewal the same way."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import pytest

import grantline
from grantline import AsyncTokenSession, HttpRequest, HttpResponse, TokenSession, TokenSet

from test_liveness import NOW, AsyncScripted, Clock, Scripted, answer, client


class Cancellable:
    """An asyncio token endpoint that answers ``at-<n>`` once ``release`` is set; records each
    request, and each request that was cancelled while in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.sent = 0
        self.cancelled = 0

    async def send(self, request: HttpRequest, *, timeout: Any = None) -> HttpResponse:
        self.sent += 1
        n = self.sent
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return answer(f"at-{n}")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_cancelled_lone_renewal_is_abandoned_and_the_next_caller_renews_at_once() -> None:
    async def go() -> None:
        transport = Cancellable()
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        first = asyncio.ensure_future(session.token())
        await transport.started.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await settle()
        assert transport.cancelled == 1, "the token request was cancelled with its only caller"
        assert session.failures == 0 and session.retry_at is None, "not a failure: no backoff"
        transport.release.set()
        token = await session.token()  # renews at once, within the same second
        assert token.secret() == "at-2" and transport.sent == 2

    asyncio.run(go())


def test_a_refresh_whose_every_caller_left_is_never_cancelled_and_its_rotation_is_stored() -> None:
    """The server may already have rotated the refresh token: only this answer carries the new
    one (the old one, sent again, would fail or revoke the grant). So a refresh runs to its end
    on its own, and its token set reaches ``on_tokens``."""

    async def go() -> None:
        transport = Cancellable()
        stored: List[str] = []

        def on_tokens(t: grantline.TokenSet) -> None:
            stored.append(t.access_token.secret())

        expired = TokenSet("at-0", refresh_token="rt-0", expires_at=NOW - 10, issued_at=NOW - 110)
        session = AsyncTokenSession.from_tokens(
            client(), expired, transport=transport, clock=Clock(), on_tokens=on_tokens
        )
        first = asyncio.ensure_future(session.token())
        await transport.started.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await settle()
        assert transport.cancelled == 0, "a refresh is not cancelled with its last caller"
        transport.release.set()
        for _ in range(50):
            if stored:
                break
            await asyncio.sleep(0.01)
        assert stored == ["at-1"], "the refresh ran to its end and its set reached on_tokens"
        assert (await session.token()).secret() == "at-1" and transport.sent == 1

    asyncio.run(go())


def test_cancelling_the_task_that_started_a_renewal_leaves_it_to_the_tasks_still_waiting() -> None:
    async def go() -> None:
        transport = Cancellable()
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        starter = asyncio.ensure_future(session.token())
        await transport.started.wait()
        waiters = [asyncio.ensure_future(session.token()) for _ in range(10)]
        await settle()
        starter.cancel()
        await settle()
        assert transport.cancelled == 0, "others still wait for it: the request goes on"
        transport.release.set()
        tokens = await asyncio.gather(*waiters)
        assert {t.secret() for t in tokens} == {"at-1"} and transport.sent == 1
        assert starter.cancelled()

    asyncio.run(go())


def test_cancelling_every_waiting_task_cancels_the_request_and_nobody_is_stranded() -> None:
    async def go() -> None:
        transport = Cancellable()
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        tasks = [asyncio.ensure_future(session.token()) for _ in range(5)]
        await transport.started.wait()
        await settle()
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await settle()
        assert transport.cancelled == 1 and session.failures == 0
        transport.release.set()
        tokens = await asyncio.gather(*(session.token() for _ in range(5)))
        assert {t.secret() for t in tokens} == {"at-2"} and transport.sent == 2

    asyncio.run(go())


def test_a_waiter_whose_deadline_passes_leaves_the_renewal_to_the_others() -> None:
    async def go() -> None:
        transport = Cancellable()
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        starter = asyncio.ensure_future(session.token())
        await transport.started.wait()
        with pytest.raises(grantline.TransportError, match="waiting for the renewal in flight"):
            await session.token(timeout=0.05)
        assert transport.cancelled == 0
        transport.release.set()
        assert (await starter).secret() == "at-1" and transport.sent == 1

    asyncio.run(go())


def test_an_answer_already_in_reaches_on_tokens_even_when_its_caller_is_cancelled() -> None:
    async def go() -> None:
        persisting = asyncio.Event()
        may_finish = asyncio.Event()
        persisted: List[str] = []

        async def persist(tokens: grantline.TokenSet) -> None:
            persisting.set()
            await may_finish.wait()  # a slow store
            persisted.append(tokens.access_token.secret())

        transport = AsyncScripted(answer("at-1"))
        session = AsyncTokenSession.client_credentials(
            client(), transport=transport, clock=Clock(), on_tokens=persist
        )
        caller = asyncio.ensure_future(session.token())
        await persisting.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        may_finish.set()
        await settle()
        assert persisted == ["at-1"], "the renewal ran to its end"
        assert (await session.token()).secret() == "at-1" and len(transport.sent) == 1

    asyncio.run(go())


def test_a_renewal_task_cancelled_before_it_ever_ran_is_abandoned() -> None:
    # As when the loop shuts down (asyncio.run() cancels every task left): the renewal's own
    # task is cancelled before its first step, so its steps never run; the session still
    # forgets the renewal, and the task that needed it renews again.
    async def go() -> None:
        transport = AsyncScripted(answer("at-1"))
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=Clock())
        caller = asyncio.ensure_future(session.token())
        await asyncio.sleep(0)  # the caller ran: renewal 1 is handed to its task, not yet started
        (flight,) = session._flights.values()
        assert flight.task is not None and not flight.task.done()
        flight.task.cancel()
        token = await asyncio.wait_for(caller, 5)  # never stranded
        assert token.secret() == "at-1" and len(transport.sent) == 1 and session.failures == 0

    asyncio.run(go())


def test_an_interrupted_renewal_thread_leaves_the_waiting_thread_to_renew() -> None:
    waiting = threading.Event()

    def interrupted(request: HttpRequest) -> HttpResponse:
        assert waiting.wait(5)
        raise KeyboardInterrupt

    transport = Scripted(interrupted, answer("at-2"))
    session = TokenSession.client_credentials(client(), transport=transport, clock=Clock())
    outcomes: List[Any] = []

    def renewer() -> None:
        try:
            outcomes.append(session.token())
        except KeyboardInterrupt as e:
            outcomes.append(e)

    first = threading.Thread(target=renewer)
    first.start()
    assert transport.started.wait(5)
    second: List[Any] = []
    waiter = threading.Thread(target=lambda: second.append(session.token()))
    waiter.start()
    waiting.set()  # the waiter is (about to be) waiting; the renewer is interrupted
    first.join(10)
    waiter.join(10)
    assert isinstance(outcomes[0], KeyboardInterrupt)
    assert [t.secret() for t in second] == ["at-2"], "the waiter renewed, no error"
    assert len(transport.sent) == 2 and session.failures == 0 and session.retry_at is None
