"""grantline for your own ``httpx`` clients: :class:`TokenAuth`, an ``httpx.Auth``.

::

    session = grantline.TokenSession.client_credentials(client, ["read"])
    with httpx.Client(auth=grantline.httpx.TokenAuth(session)) as api:
        api.get("https://api.example.com/me")

    session = grantline.AsyncTokenSession.client_credentials(client, ["read"])
    async with httpx.AsyncClient(auth=grantline.httpx.TokenAuth(session)) as api:
        await api.get("https://api.example.com/me")

Importing this module needs ``httpx`` (``pip install 'grantline[httpx]'``); ``import grantline``
does not.
"""

from __future__ import annotations

from typing import AsyncGenerator, Generator, Union

import httpx

from . import _log
from ._grantline import HttpResponse, Secret, authorization_header, needs_renewal
from ._session import AsyncTokenSession, TokenSession

__all__ = ["TokenAuth"]


def _refused(response: httpx.Response, header: str) -> bool:
    """Whether ``response`` refuses the token sent in ``header`` in a way a renewal fixes (the
    core's ``needs_renewal``). An answer to a request that no longer carried the header (httpx
    drops it on a redirect to another origin) says nothing about the token."""
    if response.request.headers.get("authorization") != header:
        return False
    challenges = [("www-authenticate", v) for v in response.headers.get_list("www-authenticate")]
    return needs_renewal(HttpResponse(response.status_code, challenges))


def _replayable(request: httpx.Request) -> bool:
    """A body held in memory (bytes, text, JSON, a form) can be sent again; a streamed one (a
    generator, a file, a multipart upload) was consumed by the first attempt."""
    return isinstance(request.stream, httpx.ByteStream)


class TokenAuth(httpx.Auth):
    """``httpx`` authentication by a grantline session: every request gets
    ``Authorization: Bearer`` with the session's token (renewed ahead of expiry, one renewal
    however many requests ask). When the API answers 401 with ``invalid_token`` (or a 401 with
    no error code: the core's ``needs_renewal``), the token is rejected, renewed once and the
    request retried once; any other answer, or a second 401, is returned as it came.

    The session is a :class:`grantline.TokenSession` for ``httpx.Client`` or an
    :class:`grantline.AsyncTokenSession` for ``httpx.AsyncClient`` (the other pairings raise
    ``TypeError`` at the first request: a blocking session would stall the event loop).
    The session's own transport sends its token requests; the API requests go through your
    client, with its settings (timeouts, redirects, proxies, event hooks).

    Bodies stream untouched: the response body is never read here (``client.stream()`` stays a
    stream), and a request body is never buffered. A request whose body is streamed (a
    generator, a file, a multipart upload) cannot be sent twice: on a 401 its token is still
    rejected (the next request gets a renewed one) but the 401 is returned, not retried. Pass
    the body as ``content=bytes`` (or ``json=``, ``data=``) for the retry.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, session: Union[TokenSession, AsyncTokenSession]) -> None:
        if not isinstance(session, (TokenSession, AsyncTokenSession)):
            raise TypeError(f"TokenAuth needs a TokenSession or an AsyncTokenSession, not {type(session).__name__}")
        #: The session the tokens come from.
        self.session = session

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow of ``httpx.Client`` (a :class:`grantline.TokenSession`)."""
        session = self.session
        if not isinstance(session, TokenSession):
            raise TypeError("TokenAuth over an AsyncTokenSession works with httpx.AsyncClient; "
                            "give httpx.Client a TokenSession")
        token = session.token()
        header = _authorize(request, token)
        response = yield request
        if _refused(response, header):
            session.reject(token)
            if _replayable(request):
                _authorize(request, session.token())
                yield request
            else:
                _log.not_retried(request.method)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow of ``httpx.AsyncClient`` (a :class:`grantline.AsyncTokenSession`)."""
        session = self.session
        if not isinstance(session, AsyncTokenSession):
            raise TypeError("TokenAuth over a TokenSession works with httpx.Client; "
                            "give httpx.AsyncClient an AsyncTokenSession")
        token = await session.token()
        header = _authorize(request, token)
        response = yield request
        if _refused(response, header):
            session.reject(token)
            if _replayable(request):
                _authorize(request, await session.token())
                yield request
            else:
                _log.not_retried(request.method)

    def __repr__(self) -> str:
        return f"<grantline.httpx.TokenAuth {self.session!r}>"


def _authorize(request: httpx.Request, token: Secret) -> str:
    header = authorization_header(token)
    request.headers["authorization"] = header
    return header
