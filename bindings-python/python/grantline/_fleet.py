"""The store interface of a shared token session (one token for a whole fleet of processes),
and how the sessions carry out the store operations the core asks for.

A :class:`grantline.TokenSession` (or :class:`grantline.AsyncTokenSession`) given ``store=``
and ``fleet=`` (a :class:`grantline.FleetConfig`) shares its token with every process, in any
language, that uses the same store, name and keys: the core's fleet machine
(:class:`grantline.FleetState`) decides every step, the session executes the store operations
it asks for on a :class:`FleetStore` (threads) or :class:`AsyncFleetStore` (asyncio).
:mod:`grantline.redis` has both for Redis; any store that gives the atomicity below fits
(a SQL row with ``UPDATE ... WHERE version = $1``, DynamoDB conditional writes...).

============  ==============================================================  =====================================
operation     does                                                            atomicity needed
============  ==============================================================  =====================================
``read``      returns the entry text at ``key``, or ``None``                  none (a plain read)
``acquire``   sets ``lease`` to ``owner`` with a TTL of ``ttl_ms`` if no one  the set-if-absent is atomic
              holds it (or renews it if ``owner`` does); returns whether the  (``SET NX PX``, a conditional put, an
              lease is now ``owner``'s, its remaining TTL in ms (``None``     advisory lock with expiry)
              when the store cannot tell), and the entry text at ``key``
``commit``    if the stored entry's ``version`` is ``expected_version`` (no   the version check and the write are
              entry: 0), writes ``entry``; in any case deletes ``lease`` if   one atomic step (a Lua script,
              ``owner`` holds it; announces ``version`` on ``channel``;       ``WATCH``/``MULTI``, a transaction)
              returns whether it wrote
``release``   deletes ``lease`` if ``owner`` holds it                         compare-and-delete
``watch``     returns when a version newer than ``version`` is announced on   none: a store without notifications
              ``channel``, or after ``timeout_ms``                            just sleeps ``timeout_ms``
============  ==============================================================  =====================================

**Failures.** Every operation returns or raises within a deadline of its own (the Redis
adapters: 2 s): a hung store must be an exception, never a hang. Any exception is a store
failure: the session skips the store for a backoff (1 s, doubled per failure, at most 30 s)
and renews alone when that is safe (a grant that consumes nothing: client credentials,
password...); a refresh token shared by the fleet is not refreshed alone (unless
``FleetConfig(renew_alone_when_store_down=True)``): that renewal fails with
:class:`grantline.StoreError`, which reaches callers only when no usable token is left. A
store failure never reaches a caller holding a valid token. Entries are the core's sealed,
versioned text (:class:`grantline.Entry`: AES-256-GCM at rest unless ``plaintext=True``); the
store only keeps them. For rotating refresh tokens the store must be durable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional, Protocol, Tuple, Union

from ._errors import StoreError, TransportError
from ._flows import Deadline
from ._grantline import (
    StoreAcquire,
    StoreCommit,
    StoreRead,
    StoreRelease,
    StoreReply,
    StoreWatch,
)

__all__ = ["FleetStore", "AsyncFleetStore", "StoreOp"]

#: A store operation the fleet machine asks for.
StoreOp = Union[StoreRead, StoreAcquire, StoreCommit, StoreRelease, StoreWatch]


class FleetStore(Protocol):
    """The store interface for :class:`grantline.TokenSession` (threads): the five operations
    of the table in :mod:`grantline._fleet`. Called from the thread that renews, never two at
    once for one session, with no lock of the session held; each must return or raise within
    its own deadline."""

    def read(self, key: str) -> Optional[str]:
        """The entry text at ``key``, or ``None``."""
        ...

    def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        """Takes (or renews) ``lease`` for ``owner`` if free, atomically: ``(acquired,
        remaining TTL in ms or None, entry text or None)``."""
        ...

    def commit(
        self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int, entry: str
    ) -> bool:
        """Writes ``entry`` if the stored version is ``expected_version``, releases ``lease``
        if ``owner`` holds it, announces ``version`` on ``channel``, in one atomic step:
        whether it wrote."""
        ...

    def release(self, lease: str, owner: str) -> None:
        """Deletes ``lease`` if ``owner`` holds it."""
        ...

    def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        """Returns when a version newer than ``version`` is announced on ``channel``, or after
        ``timeout_ms``."""
        ...


class AsyncFleetStore(Protocol):
    """The store interface for :class:`grantline.AsyncTokenSession`: :class:`FleetStore`'s
    operations as coroutines."""

    async def read(self, key: str) -> Optional[str]:
        """The entry text at ``key``, or ``None``."""
        ...

    async def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        """Takes (or renews) ``lease`` for ``owner`` if free, atomically."""
        ...

    async def commit(
        self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int, entry: str
    ) -> bool:
        """The atomic compare-and-set of the entry (see :meth:`FleetStore.commit`)."""
        ...

    async def release(self, lease: str, owner: str) -> None:
        """Deletes ``lease`` if ``owner`` holds it."""
        ...

    async def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        """Returns at a newer version on ``channel``, or after ``timeout_ms``."""
        ...


class _Late(Exception):
    """The caller's deadline passed before a store operation that may be given up (``read``,
    ``acquire``, ``watch``): the renewal is abandoned, and the caller gets ``error``."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(error.message)
        self.error = error


_NAMES = {StoreRead: "read", StoreAcquire: "acquire", StoreCommit: "commit", StoreRelease: "release", StoreWatch: "watch"}


def name(op: StoreOp) -> str:
    """The operation's name: ``read``, ``acquire``, ``commit``, ``release`` or ``watch``."""
    return _NAMES.get(type(op), "store")


def reason(op: StoreOp, exc: BaseException) -> str:
    """What to tell the core about a failed store operation: the operation and the exception's
    type, with the reason of a :class:`grantline.StoreError` (the adapters' own text, which
    carries no secret) or the system's text of an ``OSError``; never another library's
    message."""
    if isinstance(exc, StoreError) and exc.reason:
        detail = exc.reason
    elif isinstance(exc, OSError) and exc.strerror:
        detail = f"{type(exc).__name__}: {exc.strerror}"
    elif isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        detail = "timed out"
    else:
        detail = type(exc).__name__
    return f"{name(op)}: {detail}"


def _bad(op: StoreOp, what: str) -> StoreError:
    why = f"{name(op)}: the store returned {what}"
    return StoreError(f"shared store failure: {why}", reason=why)


def _text(op: StoreOp, value: object) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(op, "an entry that is not UTF-8") from None
    raise _bad(op, f"a {type(value).__name__}, not a text")


def _acquired(op: StoreOp, value: object) -> StoreReply:
    if not isinstance(value, tuple) or len(value) != 3:
        raise _bad(op, "something else than (acquired, lease_ttl_ms, entry)")
    acquired, ttl, entry = value
    if not isinstance(acquired, bool) or not (ttl is None or (isinstance(ttl, int) and not isinstance(ttl, bool))):
        raise _bad(op, "something else than (acquired, lease_ttl_ms, entry)")
    return StoreReply.acquired(acquired, None if ttl is None or ttl < 0 else ttl, _text(op, entry))


def _committed(op: StoreOp, value: object) -> StoreReply:
    if not isinstance(value, bool):
        raise _bad(op, f"a {type(value).__name__}, not a bool")
    return StoreReply.committed(value)


def _left_ms(op: StoreOp, deadline: Deadline) -> Optional[int]:
    """The caller's time left in ms, for an operation that may be given up."""
    try:
        left = deadline.left()
    except TransportError as late:
        raise _Late(late) from None
    return None if left is None else max(1, int(left * 1000))


def call(store: Any, op: StoreOp, deadline: Deadline) -> StoreReply:
    """Carries out ``op`` on a :class:`FleetStore`; the reply for ``FleetState.store_done``.
    ``commit`` and ``release`` always run (the core cannot give them up); the others first
    check the caller's ``deadline`` (a ``watch`` waits no longer than it)."""
    if isinstance(op, StoreCommit):
        return _committed(op, store.commit(op.key, op.lease, op.owner, op.channel, op.expected_version,
                                           op.version, op.entry))
    if isinstance(op, StoreRelease):
        store.release(op.lease, op.owner)
        return StoreReply.released()
    left = _left_ms(op, deadline)
    if isinstance(op, StoreRead):
        return StoreReply.entry(_text(op, store.read(op.key)))
    if isinstance(op, StoreAcquire):
        return _acquired(op, store.acquire(op.key, op.lease, op.owner, op.ttl_ms))
    store.watch(op.channel, op.version, op.timeout_ms if left is None else min(op.timeout_ms, left))
    return StoreReply.watched()


async def acall(store: Any, op: StoreOp, deadline: Deadline) -> StoreReply:
    """:func:`call` for an :class:`AsyncFleetStore`. An operation that may be given up is
    also bounded by the caller's deadline (``asyncio.wait_for``)."""
    if isinstance(op, StoreCommit):
        return _committed(op, await store.commit(op.key, op.lease, op.owner, op.channel, op.expected_version,
                                                 op.version, op.entry))
    if isinstance(op, StoreRelease):
        await store.release(op.lease, op.owner)
        return StoreReply.released()
    left = _left_ms(op, deadline)
    if isinstance(op, StoreWatch):
        await store.watch(op.channel, op.version, op.timeout_ms if left is None else min(op.timeout_ms, left))
        return StoreReply.watched()
    pending = store.read(op.key) if isinstance(op, StoreRead) else store.acquire(op.key, op.lease, op.owner, op.ttl_ms)
    if left is None or deadline.at is None:
        value = await pending
    else:
        try:
            value = await asyncio.wait_for(pending, left / 1000)
        except asyncio.TimeoutError:
            if time.monotonic() < deadline.at - 0.005:
                raise  # the store's own deadline, not the caller's: a store failure
            raise _Late(deadline.late()) from None
    if isinstance(op, StoreRead):
        return StoreReply.entry(_text(op, value))
    return _acquired(op, value)
