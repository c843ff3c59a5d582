"""HTTP transports for grantline: they carry an :class:`HttpRequest` and bring back an
:class:`HttpResponse`, and make no decision of their own.

Every transport here

* never follows redirects (a 301 on a token endpoint would turn the POST into a GET and could
  leak the body elsewhere): a 3xx comes back as a response;
* returns 4xx and 5xx answers as responses (grantline parses the OAuth error bodies and
  ``WWW-Authenticate`` headers);
* gives every request a **whole-request deadline**: connecting, sending, the response head and
  every read of the body together end within ``timeout`` seconds (30 by default, set per
  transport or per call), or the call raises :class:`grantline.TransportError`. A server that
  drips one byte every second cannot keep a call alive past it;
* decodes ``Content-Encoding: gzip`` and ``deflate`` itself (and asks for nothing else), and
  reads at most ``max_body + 1`` *decoded* bytes of a body (``max_body`` is
  :data:`grantline.MAX_BODY`, 1 MiB, by default): one byte past the limit is enough for the
  core to refuse a token response, and a gzip bomb stops there, memory bounded. API calls made
  through :meth:`grantline.TokenSession.request` pass their own limit (none by default);
* raises :class:`grantline.TransportError` (with the library's exception as ``__cause__``) when
  the request cannot be sent or its whole answer not received in time; the message names the
  URL without its query, never a body.

How each one keeps the deadline:

* :class:`UrllibTransport` and :class:`RequestsTransport` (blocking sockets, read by
  ``http.client`` and ``urllib3``): every socket is also watched by one shared watchdog thread,
  which shuts the connection down (``shutdown(SHUT_RDWR)`` on a duplicate of its descriptor)
  when the deadline passes; the blocked read then returns at once and the call raises. Socket
  timeouts are set to the whole deadline as a second line.
* :class:`HttpxTransport`: every network operation of ``httpcore`` (connect, TLS, each read and
  write) gets the time left before the deadline as its timeout, through a network backend
  installed in the ``httpx.Client``'s connection pools (outside grantline's calls it changes
  nothing).
* :class:`AsyncHttpxTransport`: the whole call runs under ``asyncio.wait_for``; cancellation
  closes the connection.

Name resolution (``getaddrinfo``) cannot be interrupted by any of them: it is bounded by the
system resolver's own timeouts.

Closing: :class:`HttpxTransport` and :class:`RequestsTransport` are context managers with
``close()``, :class:`AsyncHttpxTransport` an async one with ``aclose()``. A transport closes
what it made: an ``httpx`` client or ``requests`` session you passed in stays yours.
:class:`UrllibTransport` holds no connection between requests: it has nothing to close.

:class:`UrllibTransport` needs only the standard library and is the default.
:class:`HttpxTransport`, :class:`AsyncHttpxTransport` and :class:`RequestsTransport` need
``httpx`` or ``requests``, imported only when such a transport is created.

A transport of your own needs only ``send(request) -> HttpResponse`` (``async`` for asyncio).
If its ``send`` also accepts the keywords ``timeout`` (seconds, float) and ``max_body`` (bytes,
``None`` for no limit), grantline passes them per call; a per-call ``timeout`` given to a
transport that does not accept it raises ``TypeError`` rather than being ignored.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import http.client
import itertools
import os
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import zlib
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterator, List, Optional, Protocol, Tuple, Union

from ._errors import MalformedResponseError, TransportError
from ._grantline import MAX_BODY, HttpRequest, HttpResponse, redact_url

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import requests

__all__ = [
    "Transport",
    "AsyncTransport",
    "UrllibTransport",
    "HttpxTransport",
    "AsyncHttpxTransport",
    "RequestsTransport",
    "DEFAULT_TIMEOUT",
    "TRANSPORT_DEFAULT",
]

#: Seconds a whole request may take (connect, send, head and body together), unless a
#: transport or a call says otherwise.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 64 * 1024
#: What every transport here asks for, and decodes.
ACCEPT_ENCODING = "gzip, deflate"


class _Default(enum.Enum):
    TRANSPORT_DEFAULT = "the transport's own max_body"


#: ``max_body=TRANSPORT_DEFAULT`` (the default of every ``send``): the limit the transport was
#: made with (:data:`grantline.MAX_BODY` unless told otherwise). ``None`` means no limit.
TRANSPORT_DEFAULT = _Default.TRANSPORT_DEFAULT
MaxBody = Union[int, None, _Default]


class Transport(Protocol):
    """Sends a request and returns its response, whatever the status; raises
    :class:`grantline.TransportError` only when no response could be had."""

    def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request`` (never following redirects) and returns the response."""
        ...


class AsyncTransport(Protocol):
    """The asyncio twin of :class:`Transport`."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request`` (never following redirects) and returns the response."""
        ...


# ----------------------------------------------------------------------------- errors


def _where(request: HttpRequest) -> str:
    """``METHOD url`` without the query and fragment (they may carry a code or state) and
    without user information."""
    return f"{request.method} {redact_url(request.url.split('#', 1)[0].split('?', 1)[0])}"


# A query string in a library's message ("... with url: /token?code=...").
_QUERY = re.compile(r"\?[^\s'\"()<>,]*")


def _quiet(request: HttpRequest, exc: BaseException) -> str:
    """What a log record may say of a transport failure: where, the exception's type and, for
    an operating-system error, the system's own text ("Connection refused"); never the
    library's message, which may quote a request or an answer."""
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return f"{_where(request)}: {type(exc).__name__}" + (f": {strerror}" if strerror else "")


def _failed(request: HttpRequest, exc: BaseException) -> TransportError:
    said = _QUERY.sub("", str(exc))[:300]
    reason = f"{_where(request)}: {type(exc).__name__}" + (f": {said}" if said else "")
    error = TransportError(f"transport failure: {reason}", reason=reason)
    error.log_reason = _quiet(request, exc)
    return error


def _late(request: HttpRequest, timeout: float) -> TransportError:
    reason = f"{_where(request)}: no complete answer within the deadline of {timeout:.3g} s"
    error = TransportError(f"transport failure: {reason}", reason=reason)
    error.log_reason = reason
    return error


def _too_large(request: HttpRequest, limit: int, status: int) -> MalformedResponseError:
    # As the core refuses a token answer over 1 MiB: the answer, not the transport, is at fault.
    reason = f"{_where(request)}: the response body exceeds the limit of {limit} bytes"
    return MalformedResponseError(
        f"malformed response (HTTP {status}): {reason}", status=status, reason=reason
    )


class _Late(Exception):
    """The deadline passed (raised inside a transport, turned into a TransportError)."""


# ----------------------------------------------------------------------------- deadlines


class _Deadline:
    """One request's deadline: ``at`` (monotonic seconds) and the sockets to shut down when it
    passes. ``finish()`` ends the watch (and says whether it fired)."""

    __slots__ = ("timeout", "at", "expired", "_lock", "_killers", "_done")

    def __init__(self, timeout: float) -> None:
        if not timeout > 0:  # also refuses NaN
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout
        self.at = time.monotonic() + timeout
        self.expired = False
        self._lock = threading.Lock()
        self._killers: List[socket.socket] = []
        self._done = False

    def left(self) -> float:
        """Seconds left; raises :class:`_Late` when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise _Late()
        return left

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def attach(self, sock: Any) -> None:
        """Watch ``sock``: at the deadline its connection is shut down. A duplicate of its
        descriptor is kept (so the watchdog never touches a descriptor that was closed and
        reused meanwhile), which also keeps working after ``sock`` is wrapped in TLS."""
        try:
            killer = socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        except (OSError, ValueError, AttributeError, TypeError):
            return  # no duplicate (another platform): the socket timeouts still hold
        with self._lock:
            if not self._done:
                self._killers.append(killer)
                if self.expired:
                    _shutdown(killer)
                return
        killer.close()

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for killer in self._killers:
                _shutdown(killer)

    @property
    def done(self) -> bool:
        return self._done

    def finish(self) -> bool:
        with self._lock:
            self._done = True
            killers, self._killers = self._killers, []
        for killer in killers:
            killer.close()
        return self.expired


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watchdog:
    """One daemon thread firing deadlines in time order (a heap; finished ones are skipped)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: List[Tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def watch(self, deadline: _Deadline) -> None:
        with self._cond:
            heap = self._heap
            if len(heap) > 4096:  # many finished entries waiting for their time: drop them
                heap[:] = [e for e in heap if not e[2].done]
                heapq.heapify(heap)
            heapq.heappush(heap, (deadline.at, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="grantline-deadlines", daemon=True)
                self._thread.start()
            elif heap[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                heap = self._heap
                if not heap:
                    if not self._cond.wait(60) and not self._heap:
                        self._thread = None
                        return
                    continue
                at, _, deadline = heap[0]
                if deadline.done:
                    heapq.heappop(heap)
                    continue
                left = at - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(heap)
                self._cond.release()
                try:
                    deadline.fire()
                finally:
                    self._cond.acquire()

    def _after_fork(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap = []
        self._thread = None


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG._after_fork)

# The deadline of the request this thread is sending (read by the connection hooks below).
_current = threading.local()


def _attach_current(sock: Any) -> None:
    deadline: Optional[_Deadline] = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.attach(sock)


class _Watched:
    """Runs a blocking request under a watched deadline: ``with _Watched(timeout) as d``."""

    def __init__(self, timeout: float) -> None:
        self.deadline = _Deadline(timeout)

    def __enter__(self) -> _Deadline:
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self.deadline
        _WATCHDOG.watch(self.deadline)
        return self.deadline

    def __exit__(self, *exc: object) -> None:
        _current.deadline = self._outer
        self.deadline.finish()


# ----------------------------------------------------------------------------- bodies


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class _Body:
    """A body collected chunk by chunk: ``gzip`` and ``deflate`` decoded as it comes, at most
    ``limit + 1`` decoded bytes kept (``limit`` ``None``: all of it). ``feed`` says when the
    limit is passed (then stop reading)."""

    def __init__(self, content_encoding: Optional[str], limit: Optional[int]) -> None:
        coding = (content_encoding or "").strip().lower()
        self.coding = coding if coding in ("gzip", "x-gzip", "deflate") else None
        self.limit = limit
        self.size = 0
        self._parts: List[bytes] = []
        self._z: Any = None
        self._pending = b""
        if self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.size > self.limit

    def _keep(self, data: bytes) -> None:
        if self.limit is not None:
            data = data[: self.limit + 1 - self.size]
        if data:
            self._parts.append(data)
            self.size += len(data)

    def feed(self, data: bytes) -> bool:
        """Adds a chunk of the body as received; True when the limit is passed."""
        if self.coding is None:
            self._keep(data)
            return self.full
        if self._z is None:  # deflate: zlib-wrapped as RFC 9110 says, or raw as some send
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return False
            self._pending = b""
            self._z = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        while data and not self.full:
            room = 0 if self.limit is None else self.limit + 1 - self.size
            self._keep(self._z.decompress(data, room))
            data = self._z.unconsumed_tail
            if self._z.eof:
                rest = self._z.unused_data
                if not rest or self.coding == "deflate":
                    break
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)  # another gzip member
                data = rest
        return self.full

    def bytes(self) -> bytes:
        return b"".join(self._parts)


def _with_accept_encoding(request: HttpRequest) -> Dict[str, str]:
    headers = request.headers
    if "accept-encoding" not in headers:
        headers["accept-encoding"] = ACCEPT_ENCODING
    return headers


def _limit(own: Optional[int], max_body: MaxBody) -> Optional[int]:
    return own if max_body is TRANSPORT_DEFAULT else max_body


# ----------------------------------------------------------------------------- urllib


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands every redirect back as it came (urllib then raises it as an ``HTTPError``, which
    :class:`UrllibTransport` turns back into a response)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _WatchedConnection:
    """Mixed into ``http.client`` connections: the TCP socket is handed to the deadline of the
    request being sent as soon as it exists (before any proxy tunnel or TLS handshake)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        create = self._create_connection  # type: ignore[has-type]

        def connect(*a: Any, **k: Any) -> socket.socket:
            sock: socket.socket = create(*a, **k)
            _attach_current(sock)
            return sock

        self._create_connection = connect


class _HTTPConnection(_WatchedConnection, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    """One TLS context per transport, made on the first ``https://`` request (loading the CA
    store takes milliseconds: a transport that only ever talks to loopback never pays it)."""

    def __init__(self, context: Optional[ssl.SSLContext]) -> None:
        super().__init__()
        self.grantline_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        context = self.grantline_context
        if context is None:
            context = self.grantline_context = ssl.create_default_context()
        return self.do_open(_HTTPSConnection, req, context=context)


class UrllibTransport:
    """The standard library's ``urllib`` (``http.client`` underneath): no dependency. Redirects
    off, proxies from the environment as ``urllib`` reads them, ``https://`` and ``http://``
    only. ``ssl_context`` replaces the default TLS context (your CA bundle, say)."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: Optional[int] = MAX_BODY,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.timeout = timeout
        self.max_body = max_body
        self._opener = urllib.request.build_opener(_NoRedirect(), _HTTPHandler(), _HTTPSHandler(ssl_context))

    def send(
        self,
        request: HttpRequest,
        *,
        timeout: Optional[float] = None,
        max_body: MaxBody = TRANSPORT_DEFAULT,
    ) -> HttpResponse:
        """Sends ``request`` within ``timeout`` seconds (default: the transport's), reading at
        most ``max_body + 1`` decoded bytes of the body; see the module documentation."""
        limit = self.timeout if timeout is None else timeout
        url = request.url
        if not url.lower().startswith(("https://", "http://")):
            raise _failed(request, ValueError("only http:// and https:// URLs are sent"))
        body = request.body
        req = urllib.request.Request(
            url,
            data=body if body or request.method not in ("GET", "HEAD") else None,
            headers=_with_accept_encoding(request),
            method=request.method,
        )
        with _Watched(limit) as deadline:
            try:
                try:
                    resp = self._opener.open(req, timeout=deadline.left())
                except urllib.error.HTTPError as error:  # 3xx, 4xx, 5xx: a response all the same
                    resp = error
                with resp:
                    raw = resp if isinstance(resp, http.client.HTTPResponse) else getattr(resp, "fp", None)
                    status = resp.status if resp.status is not None else resp.code
                    headers = list(resp.headers.items())
                    coding = resp.headers.get("content-encoding")
                    data = b"" if raw is None else self._read(raw, coding, _limit(self.max_body, max_body), deadline)
            except (OSError, http.client.HTTPException, ValueError, zlib.error, _Late) as exc:
                if deadline.passed():
                    raise _late(request, limit) from exc
                raise _failed(request, exc) from exc
        return HttpResponse(status, headers, data)

    @staticmethod
    def _read(raw: Any, coding: Optional[str], limit: Optional[int], deadline: _Deadline) -> bytes:
        collected = _Body(coding, limit)
        read = getattr(raw, "read1", raw.read)
        while True:
            deadline.left()
            chunk = read(_CHUNK)
            if not chunk:
                break
            if collected.feed(chunk):
                return collected.bytes()
        if deadline.expired:  # the watchdog cut the connection: that was no end of the body
            raise _Late()
        missing = getattr(raw, "length", None)
        if missing:  # http.client ends a body cut short like a complete one
            raise http.client.IncompleteRead(collected.bytes(), missing)
        return collected.bytes()


# ----------------------------------------------------------------------------- httpx


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this transport needs httpx: pip install 'grantline[httpx]'") from exc
    return httpx


_BACKENDS: Dict[str, Any] = {}


def _deadline_backend_class() -> Any:
    """An ``httpcore`` network backend whose every operation gets, as its timeout, the time left
    before the deadline of the request this thread is sending (when there is one)."""
    cls = _BACKENDS.get("sync")
    if cls is not None:
        return cls
    import httpcore

    def op_timeout(timeout: Optional[float], late: Any) -> Optional[float]:
        deadline: Optional[_Deadline] = getattr(_current, "deadline", None)
        if deadline is None:
            return timeout
        left = deadline.at - time.monotonic()
        if left <= 0:
            deadline.expired = True
            raise late("the whole-request deadline passed")
        return left if timeout is None else min(timeout, left)

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
            return self._inner.read(max_bytes, op_timeout(timeout, httpcore.ReadTimeout))  # type: ignore[no-any-return]

        def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
            self._inner.write(buffer, op_timeout(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: Optional[str] = None, timeout: Optional[float] = None) -> Any:
            return DeadlineStream(
                self._inner.start_tls(ssl_context, server_hostname, op_timeout(timeout, httpcore.ConnectTimeout))
            )

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(self, host: str, port: int, timeout: Optional[float] = None,
                        local_address: Optional[str] = None, socket_options: Any = None) -> Any:
            return DeadlineStream(self._inner.connect_tcp(
                host, port, op_timeout(timeout, httpcore.ConnectTimeout), local_address, socket_options))

        def connect_unix_socket(self, path: str, timeout: Optional[float] = None, socket_options: Any = None) -> Any:
            return DeadlineStream(self._inner.connect_unix_socket(
                path, op_timeout(timeout, httpcore.ConnectTimeout), socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    _BACKENDS["sync"] = DeadlineBackend
    return DeadlineBackend


def _install_deadlines(client: Any) -> bool:
    """Puts the deadline backend into every connection pool of an ``httpx.Client`` (its
    transport and its mounts, proxies included). False when the client has none we know (a
    custom transport): then only the per-operation timeouts and the body loop hold the
    deadline."""
    backend_class = _deadline_backend_class()
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    installed = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            continue
        if not isinstance(backend, backend_class):
            pool._network_backend = backend_class(backend)  # type: ignore[union-attr]
        installed = True
    return installed


class HttpxTransport:
    """An ``httpx.Client`` (yours, or a new one), redirects off. The whole-request deadline
    needs the client's connection pools (those of ``httpx.HTTPTransport``, proxies included):
    a client with another transport (``httpx.MockTransport``...) gets per-operation timeouts
    only."""

    def __init__(
        self,
        client: Optional[httpx.Client] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: Optional[int] = MAX_BODY,
    ) -> None:
        self._httpx = _import_httpx()
        self.client: httpx.Client = client if client is not None else self._httpx.Client(timeout=timeout)
        self._owns_client = client is None
        self.timeout = timeout
        self.max_body = max_body
        self.whole_request_deadline = _install_deadlines(self.client)

    def send(
        self,
        request: HttpRequest,
        *,
        timeout: Optional[float] = None,
        max_body: MaxBody = TRANSPORT_DEFAULT,
    ) -> HttpResponse:
        """Sends ``request`` within ``timeout`` seconds (default: the transport's); see the
        module documentation."""
        httpx = self._httpx
        limit = self.timeout if timeout is None else timeout
        deadline = _Deadline(limit)
        outer = getattr(_current, "deadline", None)
        _current.deadline = deadline
        try:
            req = self.client.build_request(
                request.method, request.url, headers=_with_accept_encoding(request),
                content=request.body, timeout=httpx.Timeout(deadline.left()),
            )
            resp = self.client.send(req, follow_redirects=False, stream=True)
            try:
                collected = _Body(resp.headers.get("content-encoding"), _limit(self.max_body, max_body))
                for chunk in resp.iter_raw(_CHUNK):
                    deadline.left()
                    if collected.feed(chunk):
                        break
            finally:
                resp.close()
        except (httpx.HTTPError, OSError, zlib.error, _Late) as exc:
            if deadline.passed():
                raise _late(request, limit) from exc
            raise _failed(request, exc) from exc
        finally:
            _current.deadline = outer
        return HttpResponse(resp.status_code, resp.headers.multi_items(), collected.bytes())

    def close(self) -> None:
        """Closes the ``httpx.Client`` the transport made; a client you passed stays yours."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncHttpxTransport:
    """An ``httpx.AsyncClient`` (yours, or a new one), redirects off: the asyncio transport.
    The deadline is ``asyncio.wait_for`` around the whole call, whatever the client."""

    def __init__(
        self,
        client: Optional[httpx.AsyncClient] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: Optional[int] = MAX_BODY,
    ) -> None:
        self._httpx = _import_httpx()
        self.client: httpx.AsyncClient = (
            client if client is not None else self._httpx.AsyncClient(timeout=timeout)
        )
        self._owns_client = client is None
        self.timeout = timeout
        self.max_body = max_body

    async def send(
        self,
        request: HttpRequest,
        *,
        timeout: Optional[float] = None,
        max_body: MaxBody = TRANSPORT_DEFAULT,
    ) -> HttpResponse:
        """Sends ``request`` within ``timeout`` seconds (default: the transport's); see the
        module documentation."""
        httpx = self._httpx
        limit = self.timeout if timeout is None else timeout
        at = _Deadline(limit).at
        try:
            return await asyncio.wait_for(self._send(request, limit, _limit(self.max_body, max_body)), limit)
        except asyncio.TimeoutError as exc:
            raise _late(request, limit) from exc
        except (httpx.HTTPError, OSError, zlib.error) as exc:
            if time.monotonic() >= at:
                raise _late(request, limit) from exc
            raise _failed(request, exc) from exc

    async def _send(self, request: HttpRequest, limit: float, body_limit: Optional[int]) -> HttpResponse:
        req = self.client.build_request(
            request.method, request.url, headers=_with_accept_encoding(request),
            content=request.body, timeout=self._httpx.Timeout(limit),
        )
        resp = await self.client.send(req, follow_redirects=False, stream=True)
        try:
            collected = _Body(resp.headers.get("content-encoding"), body_limit)
            async for chunk in resp.aiter_raw(_CHUNK):
                if collected.feed(chunk):
                    break
        finally:
            await resp.aclose()
        return HttpResponse(resp.status_code, resp.headers.multi_items(), collected.bytes())

    async def aclose(self) -> None:
        """Closes the ``httpx.AsyncClient`` the transport made; a client you passed stays
        yours."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> AsyncHttpxTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ----------------------------------------------------------------------------- requests


_ADAPTERS: Dict[str, Any] = {}


def _deadline_adapter_class() -> Any:
    """A ``requests`` adapter whose ``urllib3`` connections hand their socket to the deadline
    of the request this thread is sending: when the connection is made (before TLS) and each
    time a kept-alive one is reused."""
    cls = _ADAPTERS.get("adapter")
    if cls is not None:
        return cls
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Watched:
        sock: Any

        def _new_conn(self) -> Any:
            sock = super()._new_conn()  # type: ignore[misc]
            _attach_current(sock)
            return sock

        def request(self, *args: Any, **kwargs: Any) -> Any:
            if self.sock is not None:
                _attach_current(self.sock)
            return super().request(*args, **kwargs)  # type: ignore[misc]

    class Connection(Watched, HTTPConnection):
        pass

    class TLSConnection(Watched, HTTPSConnection):
        pass

    class DeadlineHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = Connection

    class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    pools = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}

    class DeadlineAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = dict(pools)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if not proxy.lower().startswith("socks"):
                manager.pool_classes_by_scheme = dict(pools)
            return manager

    _ADAPTERS["adapter"] = DeadlineAdapter
    return DeadlineAdapter


class RequestsTransport:
    """A ``requests.Session`` (yours, or a new one), redirects off. It mounts grantline's
    adapter (a ``requests.adapters.HTTPAdapter`` that keeps the whole-request deadline) on the
    session's ``http://`` and ``https://`` prefixes where a plain ``HTTPAdapter`` is mounted,
    keeping its retry and pool settings; an adapter of your own stays, with per-read timeouts
    only. The session's headers, auth, cookies, proxies and TLS settings apply; its response
    hooks do not run (the request is sent by the mounted adapter, not ``Session.send``, which
    reads the whole body of a redirect even when told not to follow it)."""

    def __init__(
        self,
        session: Optional[requests.Session] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: Optional[int] = MAX_BODY,
    ) -> None:
        try:
            import requests
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("this transport needs requests: pip install 'grantline[requests]'") from exc
        import urllib3

        self._requests = requests
        self._urllib3 = urllib3
        self.session: requests.Session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self.timeout = timeout
        self.max_body = max_body
        adapter_class = _deadline_adapter_class()
        for prefix in ("https://", "http://"):
            mounted = self.session.adapters.get(prefix)
            if type(mounted) is requests.adapters.HTTPAdapter:
                self.session.mount(prefix, adapter_class(
                    pool_connections=getattr(mounted, "_pool_connections", 10),
                    pool_maxsize=getattr(mounted, "_pool_maxsize", 10),
                    max_retries=mounted.max_retries,
                    pool_block=getattr(mounted, "_pool_block", False),
                ))
                mounted.close()

    def send(
        self,
        request: HttpRequest,
        *,
        timeout: Optional[float] = None,
        max_body: MaxBody = TRANSPORT_DEFAULT,
    ) -> HttpResponse:
        """Sends ``request`` within ``timeout`` seconds (default: the transport's); see the
        module documentation."""
        limit = self.timeout if timeout is None else timeout
        body = request.body
        errors = (self._requests.RequestException, self._urllib3.exceptions.HTTPError,
                  http.client.HTTPException, OSError, zlib.error, _Late)
        with _Watched(limit) as deadline:
            try:
                resp = self._send(request, body, deadline.left())
                try:
                    raw = resp.raw
                    # urllib3's header dict yields a repeated header once per value.
                    headers = list(raw.headers.items()) if raw is not None else list(resp.headers.items())
                    collected = _Body(resp.headers.get("content-encoding"), _limit(self.max_body, max_body))
                    chunks: Iterator[bytes]
                    if raw is not None and hasattr(raw, "stream"):
                        chunks = raw.stream(_CHUNK, decode_content=False)
                    else:  # an adapter of your own: its bytes as they come
                        collected.coding = None
                        chunks = resp.iter_content(_CHUNK)
                    for chunk in chunks:
                        deadline.left()
                        if collected.feed(chunk):
                            break
                finally:
                    resp.close()
            except errors as exc:
                if deadline.passed():
                    raise _late(request, limit) from exc
                raise _failed(request, exc) from exc
        return HttpResponse(resp.status_code, headers, collected.bytes())

    def _send(self, request: HttpRequest, body: bytes, left: float) -> Any:
        """``Session.send`` without its redirect handling: with ``allow_redirects=False`` it
        still reads the whole body of a 3xx (decoded, unbounded) before returning. Everything
        else it does for a request is here: the session's headers, auth and cookies
        (``prepare_request``), its environment (proxies, CA bundle), the adapter mounted for the
        URL, and the cookies of the answer."""
        requests = self._requests
        session = self.session
        prepared = session.prepare_request(requests.Request(
            request.method, request.url, headers=_with_accept_encoding(request), data=body if body else None,
        ))
        url = prepared.url or request.url
        settings = session.merge_environment_settings(url, {}, True, None, None)
        adapter = session.get_adapter(url)
        resp = adapter.send(
            prepared, stream=True, timeout=(left, left), verify=settings["verify"], cert=settings["cert"],
            proxies=settings["proxies"],
        )
        if resp.raw is not None:
            requests.cookies.extract_cookies_to_jar(session.cookies, prepared, resp.raw)
        return resp

    def close(self) -> None:
        """Closes the ``requests.Session`` the transport made; a session you passed stays
        yours."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> RequestsTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- calling one


_ACCEPTS: Dict[type, FrozenSet[str]] = {}


def _accepts(transport: object) -> FrozenSet[str]:
    """The per-call keywords (``timeout``, ``max_body``) a transport's ``send`` takes."""
    kind = type(transport)
    known = _ACCEPTS.get(kind)
    if known is None:
        import inspect

        try:
            params = inspect.signature(transport.send).parameters  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            known = frozenset()
        else:
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                known = frozenset(("timeout", "max_body"))
            else:
                known = frozenset(n for n in ("timeout", "max_body") if n in params)
        _ACCEPTS[kind] = known
    return known


def _keywords(transport: object, timeout: Optional[float], max_body: MaxBody) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {}
    if timeout is not None:
        if "timeout" not in _accepts(transport):
            raise TypeError(
                f"{type(transport).__name__}.send() takes no per-call `timeout`: give the transport its "
                "own deadline, or accept a `timeout` keyword (seconds)"
            )
        kwargs["timeout"] = timeout
    if max_body is not TRANSPORT_DEFAULT and "max_body" in _accepts(transport):
        kwargs["max_body"] = max_body
    return kwargs


def _send_with(
    transport: Transport, request: HttpRequest, *, timeout: Optional[float] = None,
    max_body: MaxBody = TRANSPORT_DEFAULT,
) -> HttpResponse:
    """``transport.send(request)``, with the per-call ``timeout`` and ``max_body`` when given
    (see the module documentation)."""
    kwargs = _keywords(transport, timeout, max_body)
    if kwargs:
        return transport.send(request, **kwargs)
    return transport.send(request)


async def _asend_with(
    transport: AsyncTransport, request: HttpRequest, *, timeout: Optional[float] = None,
    max_body: MaxBody = TRANSPORT_DEFAULT,
) -> HttpResponse:
    """The asyncio twin of :func:`_send_with`."""
    kwargs = _keywords(transport, timeout, max_body)
    if kwargs:
        return await transport.send(request, **kwargs)
    return await transport.send(request)
