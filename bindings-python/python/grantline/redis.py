"""One token for a whole fleet, on Redis: :class:`RedisStore` (for
:class:`grantline.TokenSession`, over ``redis.Redis``) and :class:`AsyncRedisStore` (for
:class:`grantline.AsyncTokenSession`, over ``redis.asyncio.Redis``), the store interface of
:mod:`grantline._fleet` (:class:`grantline.FleetStore`) on Redis. Needs the ``redis`` package
(``pip install 'grantline[redis]'``, redis-py 5 or newer), imported only with this module.

.. code-block:: python

    import grantline
    from grantline.redis import RedisStore

    store = RedisStore.from_url("redis://127.0.0.1:6379/0")
    fleet = grantline.FleetConfig("billing-api", [("k-2026", key_32_bytes)])
    session = grantline.TokenSession.client_credentials(client, store=store, fleet=fleet)
    session.token()  # one token request for every process sharing "billing-api"

The mapping is the core's (``grantline::fleet::redis``): ``read`` is ``GET``; ``acquire``,
``commit`` and ``release`` are the core's Lua scripts (:data:`grantline.REDIS_ACQUIRE`,
:data:`~grantline.REDIS_COMMIT`, :data:`~grantline.REDIS_RELEASE`), run with ``EVALSHA`` (the
script is loaded again when the server lost it: ``register_script``); ``watch`` listens on a
pub/sub connection of the store's own (``SUBSCRIBE``, kept for the next watches) until the
announcement of a newer version or the timeout. The keys (``grantline:{NAME}``,
``grantline:{NAME}:lease``, ``grantline:{NAME}:renewed``) share one Redis Cluster slot.

**Deadlines.** Every call returns or fails within ``timeout`` (default 2 s): a hung or
unreachable Redis is a store failure (the session renews alone where that is safe), never a
hang. The synchronous store talks to Redis through a client of its own, made from the client
you pass (same server, database, credentials, TLS settings) with ``timeout`` as its socket
timeouts and no retries; a client whose pool is not a plain ``ConnectionPool`` (Sentinel,
Cluster) is used as given, with its own timeouts. The asyncio store bounds every call with
``asyncio.wait_for``. Failures are raised as :class:`grantline.StoreError` (``reason``: the
operation and what failed, with no secret).

Redis keeps entries that hold refresh tokens, encrypted (AES-256-GCM under your key) unless
``FleetConfig(plaintext=True)``. For rotating refresh tokens, make Redis durable (AOF or RDB):
an entry lost with a restart takes the newest refresh token with it, unless a process still
holds it (which writes it back).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._errors import StoreError
from ._grantline import (
    REDIS_ACQUIRE,
    REDIS_COMMIT,
    REDIS_RELEASE,
    redis_acquire_reply,
    redis_commit_reply,
)

__all__ = ["RedisStore", "AsyncRedisStore", "DEFAULT_TIMEOUT"]

#: The deadline of one store call, in seconds, unless set.
DEFAULT_TIMEOUT = 2.0


def _check_timeout(timeout: float) -> float:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def _failure(op: str, exc: BaseException) -> StoreError:
    """The :class:`StoreError` of a failed call: the operation and the exception's type, with
    the text of a connection failure or a timeout (host and port, what the system said; no
    secret); never the text of an error the server wrote."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        detail = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
    elif isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        detail = "no answer within the deadline"
    else:
        detail = type(exc).__name__
    why = f"redis {op}: {detail}"
    return StoreError(f"shared store failure: {why}", reason=why)


def _bad_reply(op: str) -> StoreError:
    why = f"redis {op}: an unexpected reply"
    return StoreError(f"shared store failure: {why}", reason=why)


def _text(op: str, value: object) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad_reply(op) from None
    raise _bad_reply(op)


def _int(op: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (bytes, bytearray, str)):
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad_reply(op)


def _acquired(reply: object) -> Tuple[bool, Optional[int], Optional[str]]:
    if not isinstance(reply, (list, tuple)) or len(reply) not in (2, 3):
        raise _bad_reply("acquire")
    entry = _text("acquire", reply[2]) if len(reply) == 3 else None
    return redis_acquire_reply(_int("acquire", reply[0]), _int("acquire", reply[1]), entry)


def _committed(reply: object) -> bool:
    if not isinstance(reply, (list, tuple)) or not reply:
        raise _bad_reply("commit")
    return redis_commit_reply(_int("commit", reply[0]))


class _Announcements:
    """Versions announced on channels other than the one a watch waited for (one pub/sub
    connection serves every channel of a store): the next watch of that channel sees them."""

    def __init__(self) -> None:
        self.pending: Dict[str, int] = {}

    def take(self, channel: str, version: int) -> bool:
        """Whether a version newer than ``version`` was announced on ``channel`` meanwhile."""
        return self.pending.pop(channel, 0) > version

    def seen(self, message: Any, channel: str, version: int) -> bool:
        """Whether ``message`` announces a version newer than ``version`` on ``channel``
        (one for another channel is kept for later)."""
        if not isinstance(message, dict) or message.get("type") != "message":
            return False
        try:
            on = _text("watch", message.get("channel"))
            announced = _int("watch", message.get("data"))
        except StoreError:
            return False  # not one of ours: ignored
        if on == channel:
            return announced > version
        if on is not None:
            self.pending[on] = max(self.pending.get(on, 0), announced)
        return False


def _own_client(client: redis.Redis, timeout: float) -> Tuple[redis.Redis, bool]:
    """A client for the store's calls: ``client``'s settings with ``timeout`` as its socket
    timeouts and no retries (``True``: made here, to close), or ``client`` itself when its
    pool is not a plain one."""
    pool = getattr(client, "connection_pool", None)
    if type(pool) not in (redis.ConnectionPool, redis.BlockingConnectionPool):
        return client, False
    assert pool is not None
    kwargs: Dict[str, Any] = dict(pool.connection_kwargs)
    for name in ("socket_timeout", "socket_connect_timeout"):
        mine = kwargs.get(name)
        kwargs[name] = timeout if mine is None else min(float(mine), timeout)
    kwargs["retry"] = Retry(NoBackoff(), 0)
    own = redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    return redis.Redis(connection_pool=own), True


class RedisStore:
    """The store interface (:class:`grantline.FleetStore`) on Redis, for
    :class:`grantline.TokenSession` (``store=``). Thread-safe: one store may serve several
    sessions (of different names) and threads. ``timeout``: the deadline of every call, in
    seconds (see the module documentation). Close it with :meth:`close` (or ``with``) when
    done; the client you passed stays yours."""

    def __init__(self, client: redis.Redis, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        #: The deadline of every call, in seconds.
        self.timeout = _check_timeout(timeout)
        self._redis, self._owned = _own_client(client, self.timeout)
        self._acquire = self._redis.register_script(REDIS_ACQUIRE)
        self._commit = self._redis.register_script(REDIS_COMMIT)
        self._release = self._redis.register_script(REDIS_RELEASE)
        self._watch_lock = threading.Lock()
        self._pubsub: Any = None
        self._channels: set[str] = set()
        self._announced = _Announcements()
        self._made: Optional[redis.Redis] = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> RedisStore:
        """A store on the Redis at ``url`` (``redis://host:port/db``, ``rediss://`` for TLS);
        ``kwargs`` go to ``redis.Redis.from_url``. The store owns that client: :meth:`close`
        closes it."""
        client = redis.Redis.from_url(url, **kwargs)
        store = cls(client, timeout=timeout)
        store._made = client
        return store

    def read(self, key: str) -> Optional[str]:
        """``GET key``."""
        try:
            value = self._redis.get(key)
        except redis.RedisError as exc:
            raise _failure("read", exc) from exc
        return _text("read", value)

    def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        """The core's ``ACQUIRE`` script: take (or renew) the lease if free; the entry."""
        try:
            reply = self._acquire(keys=[key, lease], args=[owner, ttl_ms])
        except redis.RedisError as exc:
            raise _failure("acquire", exc) from exc
        return _acquired(reply)

    def commit(
        self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int, entry: str
    ) -> bool:
        """The core's ``COMMIT`` script: compare-and-set on the version, release, announce."""
        try:
            reply = self._commit(keys=[key, lease], args=[owner, expected_version, entry, channel, version])
        except redis.RedisError as exc:
            raise _failure("commit", exc) from exc
        return _committed(reply)

    def release(self, lease: str, owner: str) -> None:
        """The core's ``RELEASE`` script: delete the lease if ``owner`` holds it."""
        try:
            self._release(keys=[lease], args=[owner])
        except redis.RedisError as exc:
            raise _failure("release", exc) from exc

    def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        """Returns at the announcement of a version newer than ``version`` on ``channel``
        (``SUBSCRIBE``), or after ``timeout_ms``. The pub/sub connection is kept for the next
        watches; one that broke meanwhile (Redis restarted, an idle timeout) is replaced once."""
        end = time.monotonic() + max(timeout_ms, 0) / 1000
        with self._watch_lock:
            while True:
                fresh = self._pubsub is None
                try:
                    self._watch(channel, version, end)
                    return
                except redis.RedisError as exc:
                    self._drop_pubsub()
                    if fresh:
                        raise _failure("watch", exc) from exc

    def _watch(self, channel: str, version: int, end: float) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
            self._channels = set()
        if channel not in self._channels:
            self._pubsub.subscribe(channel)
            self._channels.add(channel)
        if self._announced.take(channel, version):
            return
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if self._announced.seen(message, channel, version):
                return

    def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._channels = set()
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # already broken: nothing more to close
                pass

    def close(self) -> None:
        """Closes the pub/sub connection and the client the store made (a client you passed
        stays yours)."""
        with self._watch_lock:
            self._drop_pubsub()
        if self._owned:
            self._redis.close()
        if self._made is not None:
            self._made.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisStore timeout={self.timeout:g}s>"


class AsyncRedisStore:
    """The store interface (:class:`grantline.AsyncFleetStore`) on ``redis.asyncio``, for
    :class:`grantline.AsyncTokenSession` (``store=``), on one event loop. Every call is
    bounded by ``timeout`` seconds (``asyncio.wait_for``). Close it with :meth:`aclose` (or
    ``async with``); the client you passed stays yours."""

    def __init__(self, client: redis.asyncio.Redis, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        #: The deadline of every call, in seconds.
        self.timeout = _check_timeout(timeout)
        self._redis = client
        self._acquire = client.register_script(REDIS_ACQUIRE)
        self._commit = client.register_script(REDIS_COMMIT)
        self._release = client.register_script(REDIS_RELEASE)
        self._watch_lock: Optional[asyncio.Lock] = None  # made on the loop, at the first watch
        self._pubsub: Any = None
        self._channels: set[str] = set()
        self._announced = _Announcements()
        self._made = False

    @classmethod
    def from_url(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> AsyncRedisStore:
        """A store on the Redis at ``url``; ``kwargs`` go to ``redis.asyncio.Redis.from_url``
        (socket timeouts default to ``timeout``). The store owns that client: :meth:`aclose`
        closes it."""
        kwargs.setdefault("socket_timeout", timeout)
        kwargs.setdefault("socket_connect_timeout", timeout)
        store = cls(redis.asyncio.Redis.from_url(url, **kwargs), timeout=timeout)
        store._made = True
        return store

    async def _bounded(self, op: str, pending: Any) -> Any:
        try:
            return await asyncio.wait_for(pending, self.timeout)
        except (redis.RedisError, asyncio.TimeoutError) as exc:
            raise _failure(op, exc) from exc

    async def read(self, key: str) -> Optional[str]:
        """``GET key``."""
        return _text("read", await self._bounded("read", self._redis.get(key)))

    async def acquire(self, key: str, lease: str, owner: str, ttl_ms: int) -> Tuple[bool, Optional[int], Optional[str]]:
        """The core's ``ACQUIRE`` script."""
        return _acquired(await self._bounded("acquire", self._acquire(keys=[key, lease], args=[owner, ttl_ms])))

    async def commit(
        self, key: str, lease: str, owner: str, channel: str, expected_version: int, version: int, entry: str
    ) -> bool:
        """The core's ``COMMIT`` script."""
        args: List[Union[str, int]] = [owner, expected_version, entry, channel, version]
        return _committed(await self._bounded("commit", self._commit(keys=[key, lease], args=args)))

    async def release(self, lease: str, owner: str) -> None:
        """The core's ``RELEASE`` script."""
        await self._bounded("release", self._release(keys=[lease], args=[owner]))

    async def watch(self, channel: str, version: int, timeout_ms: int) -> None:
        """Returns at the announcement of a version newer than ``version`` on ``channel``, or
        after ``timeout_ms``."""
        if self._watch_lock is None:
            self._watch_lock = asyncio.Lock()
        end = time.monotonic() + max(timeout_ms, 0) / 1000
        async with self._watch_lock:
            while True:
                fresh = self._pubsub is None
                try:
                    limit = max(end - time.monotonic(), 0) + self.timeout
                    await asyncio.wait_for(self._watch(channel, version, end), limit)
                    return
                except (redis.RedisError, asyncio.TimeoutError) as exc:
                    await self._drop_pubsub()
                    if fresh or isinstance(exc, asyncio.TimeoutError):
                        raise _failure("watch", exc) from exc

    async def _watch(self, channel: str, version: int, end: float) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
            self._channels = set()
        if channel not in self._channels:
            await self._pubsub.subscribe(channel)
            self._channels.add(channel)
        if self._announced.take(channel, version):
            return
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if self._announced.seen(message, channel, version):
                return

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._channels = set()
        if pubsub is not None:
            close = getattr(pubsub, "aclose", None) or pubsub.close
            try:
                await asyncio.wait_for(close(), self.timeout)
            except Exception:  # already broken: nothing more to close
                pass

    async def aclose(self) -> None:
        """Closes the pub/sub connection, and the client when the store made it
        (:meth:`from_url`)."""
        await self._drop_pubsub()
        if self._made:
            close = getattr(self._redis, "aclose", None) or self._redis.close
            await close()

    async def __aenter__(self) -> AsyncRedisStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncRedisStore timeout={self.timeout:g}s>"
