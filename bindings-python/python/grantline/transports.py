"""HTTP transports for grantline: they carry an :class:`HttpRequest` and bring back an
:class:`HttpResponse`, and make no decision of their own.

Every transport here

* never follows redirects (a 301 on a token endpoint would turn the POST into a GET and could
  leak the body elsewhere): a 3xx comes back as a response;
* returns 4xx and 5xx answers as responses (grantline parses the OAuth error bodies and
  ``WWW-Authenticate`` headers);
* reads at most ``MAX_BODY + 1`` bytes of a body, so the core refuses an oversized body
  without the transport buffering all of it;
* raises :class:`grantline.TransportError` (with the library's exception as ``__cause__``) when
  the request cannot be sent or its answer not received; the message names the URL without
  its query, never a body.

:class:`UrllibTransport` needs only the standard library and is the default.
:class:`HttpxTransport`, :class:`AsyncHttpxTransport` and :class:`RequestsTransport` need
``httpx`` or ``requests``, imported only when such a transport is created.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Iterator, Optional, Protocol

from ._errors import TransportError
from ._grantline import MAX_BODY, HttpRequest, HttpResponse

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
]

#: Seconds a request may take (connect and each read), unless a transport is told otherwise.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 64 * 1024


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


def _where(request: HttpRequest) -> str:
    """``METHOD url`` without the query (which may carry a code or state)."""
    return f"{request.method} {request.url.split('?', 1)[0].split('#', 1)[0]}"


def _failed(request: HttpRequest, exc: BaseException) -> TransportError:
    reason = f"{_where(request)}: {type(exc).__name__}: {exc}"
    return TransportError(f"transport failure: {reason}", reason=reason)


def _read_capped(chunks: Iterable[bytes], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``chunks``: one byte past the limit is enough for the
    core to refuse the body."""
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            break
    return bytes(out[: limit + 1])


async def _aread_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    out = bytearray()
    async for chunk in chunks:
        out += chunk
        if len(out) > limit:
            break
    return bytes(out[: limit + 1])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands every redirect back as it came (urllib then raises it as an ``HTTPError``, which
    :class:`UrllibTransport` turns back into a response)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class UrllibTransport:
    """The standard library's ``urllib``: no dependency. One opener, redirects off."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_body: int = MAX_BODY) -> None:
        self.timeout = timeout
        self.max_body = max_body
        self._opener = urllib.request.build_opener(_NoRedirect())

    def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request``; see the module documentation."""
        body = request.body
        req = urllib.request.Request(
            request.url,
            data=body if body or request.method not in ("GET", "HEAD") else None,
            headers=request.headers,
            method=request.method,
        )
        try:
            try:
                resp = self._opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as error:  # 3xx, 4xx, 5xx: a response all the same
                resp = error
            with resp:
                status = resp.status if resp.status is not None else resp.code
                headers = list(resp.headers.items())
                data = self._read(resp)
        except (OSError, http.client.HTTPException, ValueError, socket.timeout) as exc:
            raise _failed(request, exc) from exc
        return HttpResponse(status, headers, data)

    def _read(self, resp: Any) -> bytes:
        def chunks() -> Iterator[bytes]:
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    return
                yield chunk

        return _read_capped(chunks(), self.max_body)


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this transport needs httpx: pip install 'grantline[httpx]'") from exc
    return httpx


class HttpxTransport:
    """An ``httpx.Client`` (yours, or a new one), redirects off."""

    def __init__(
        self,
        client: Optional[httpx.Client] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        self._httpx = _import_httpx()
        self.client: httpx.Client = client if client is not None else self._httpx.Client(timeout=timeout)
        self.max_body = max_body

    def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request``; see the module documentation."""
        try:
            req = self.client.build_request(
                request.method, request.url, headers=request.headers, content=request.body
            )
            resp = self.client.send(req, follow_redirects=False, stream=True)
            try:
                data = _read_capped(resp.iter_bytes(_CHUNK), self.max_body)
            finally:
                resp.close()
        except self._httpx.HTTPError as exc:
            raise _failed(request, exc) from exc
        return HttpResponse(resp.status_code, resp.headers.multi_items(), data)

    def close(self) -> None:
        """Closes the ``httpx.Client``."""
        self.client.close()


class AsyncHttpxTransport:
    """An ``httpx.AsyncClient`` (yours, or a new one), redirects off: the asyncio transport."""

    def __init__(
        self,
        client: Optional[httpx.AsyncClient] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        self._httpx = _import_httpx()
        self.client: httpx.AsyncClient = (
            client if client is not None else self._httpx.AsyncClient(timeout=timeout)
        )
        self.max_body = max_body

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request``; see the module documentation."""
        try:
            req = self.client.build_request(
                request.method, request.url, headers=request.headers, content=request.body
            )
            resp = await self.client.send(req, follow_redirects=False, stream=True)
            try:
                data = await _aread_capped(resp.aiter_bytes(_CHUNK), self.max_body)
            finally:
                await resp.aclose()
        except self._httpx.HTTPError as exc:
            raise _failed(request, exc) from exc
        return HttpResponse(resp.status_code, resp.headers.multi_items(), data)

    async def aclose(self) -> None:
        """Closes the ``httpx.AsyncClient``."""
        await self.client.aclose()


class RequestsTransport:
    """A ``requests.Session`` (yours, or a new one), redirects off."""

    def __init__(
        self,
        session: Optional[requests.Session] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        try:
            import requests
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("this transport needs requests: pip install 'grantline[requests]'") from exc
        self._requests = requests
        self.session: requests.Session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.max_body = max_body

    def send(self, request: HttpRequest) -> HttpResponse:
        """Sends ``request``; see the module documentation."""
        body = request.body
        try:
            resp = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body if body else None,
                allow_redirects=False,
                stream=True,
                timeout=self.timeout,
            )
            try:
                data = _read_capped(resp.iter_content(_CHUNK), self.max_body)
                # urllib3's header dict yields a repeated header once per value.
                headers = list(resp.raw.headers.items()) if resp.raw is not None else list(resp.headers.items())
            finally:
                resp.close()
        except self._requests.RequestException as exc:
            raise _failed(request, exc) from exc
        return HttpResponse(resp.status_code, headers, data)

    def close(self) -> None:
        """Closes the ``requests.Session``."""
        self.session.close()
