"""Token sessions that wait: :class:`TokenSession` (threads) and :class:`AsyncTokenSession`
(asyncio), over the core's state machine :class:`grantline.SessionState`.

The state machine decides everything (is the token fresh, which request renews it, is a renewal
already in flight, did the refresh token rotate); these classes only perform the HTTP call it
asks for, and make concurrent callers wait for the one renewal in flight.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Awaitable, Callable, Dict, Mapping, Optional, Sequence, Union

from ._errors import GrantlineError, TransportError
from ._grantline import (
    Client,
    HttpRequest,
    HttpResponse,
    Ready,
    Secret,
    Send,
    SessionState,
    TokenSet,
    Wait,
    authorization_header,
    needs_renewal,
)
from .transports import AsyncTransport, Transport, UrllibTransport

__all__ = ["TokenSession", "AsyncTokenSession", "OnTokens", "AsyncOnTokens"]

#: Called with every new token set (persist it: the refresh token may have rotated).
OnTokens = Callable[[TokenSet], object]
#: For :class:`AsyncTokenSession`: a plain or an ``async`` callback.
AsyncOnTokens = Callable[[TokenSet], Union[Awaitable[object], object]]
Headers = Optional[Mapping[str, str]]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TransportError) and exc.reason:
        return exc.reason
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _api_request(method: str, url: str, headers: Headers, body: Optional[bytes], token: Secret) -> HttpRequest:
    merged = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    merged["authorization"] = authorization_header(token)
    return HttpRequest(method, url, merged, body)


def _as_transport_error(request: HttpRequest, exc: Exception) -> GrantlineError:
    if isinstance(exc, GrantlineError):
        return exc
    reason = f"{request.method} {request.url.split('?', 1)[0]}: {type(exc).__name__}: {exc}"
    return TransportError(f"transport failure: {reason}", reason=reason)


class TokenSession:
    """A token that stays fresh, shared by any number of threads.

    ``token()`` returns a valid access token, renewing it when the core says so; when many
    threads ask at once, exactly one performs the renewal and the others wait for it (and get
    its error, if it fails). ``on_tokens`` is called with each new token set, in the thread that
    renewed, after the waiting threads were woken: persist it there (an exception it raises
    reaches that thread's caller; the session keeps the new tokens). ``request()`` calls an API
    with the token and, on 401 ``invalid_token``, renews once and retries once.
    """

    def __init__(
        self,
        state: SessionState,
        *,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self._state = state
        self.transport: Transport = transport if transport is not None else UrllibTransport()
        self._on_tokens = on_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._completed = 0

    @classmethod
    def client_credentials(
        cls,
        client: Client,
        scopes: Sequence[str] = (),
        *,
        tokens: Optional[TokenSet] = None,
        skew: Optional[int] = None,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> TokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    @classmethod
    def password(
        cls,
        client: Client,
        username: str,
        password: Union[str, Secret],
        scopes: Sequence[str] = (),
        *,
        tokens: Optional[TokenSet] = None,
        skew: Optional[int] = None,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> TokenSession:
        """A session over the password grant (renewing with the refresh token when one came)."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    @classmethod
    def from_tokens(
        cls,
        client: Client,
        tokens: TokenSet,
        *,
        skew: Optional[int] = None,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> TokenSession:
        """A session over tokens from a user grant; raises
        :class:`grantline.ReauthorizationRequiredError` when they cannot be renewed."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    def _now(self) -> Optional[int]:
        return None if self._clock is None else int(self._clock())

    @property
    def tokens(self) -> Optional[TokenSet]:
        """The current token set, when any."""
        with self._cond:
            return self._state.tokens

    @property
    def client(self) -> Client:
        """The client."""
        return self._state.client

    def token(self) -> Secret:
        """A fresh access token (see the class documentation)."""
        clock = self._clock
        with self._lock:  # the condition's lock (a C-level context manager: the fast path)
            step = self._state.next(None if clock is None else int(clock()))
            if type(step) is Ready:
                return step.token
            while not isinstance(step, Send):
                if isinstance(step, Ready):
                    return step.token
                assert isinstance(step, Wait)
                wid = step.id
                self._cond.wait_for(lambda: self._completed >= wid)
                step = self._state.waited(wid, self._now())
        return self._renew(step)

    def _renew(self, send: Send) -> Secret:
        try:
            response = self.transport.send(send.request)
        except BaseException as exc:
            with self._cond:
                error = self._state.fail(send.id, _reason(exc))
                self._completed = send.id
                self._cond.notify_all()
            if isinstance(exc, Exception):
                raise error from exc
            raise
        with self._cond:
            try:
                renewed = self._state.receive(send.id, response, self._now())
            finally:
                self._completed = send.id
                self._cond.notify_all()
        if self._on_tokens is not None:
            self._on_tokens(renewed.tokens)
        return renewed.tokens.access_token

    def reject(self, access_token: Union[str, Secret]) -> bool:
        """The API refused ``access_token`` (401 ``invalid_token``): the next ``token()``
        renews, once, however many threads reject the same token."""
        with self._cond:
            return self._state.reject(access_token)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers = None,
        body: Optional[bytes] = None,
    ) -> HttpResponse:
        """Calls an API with ``Authorization: Bearer``; on 401 ``invalid_token`` renews the
        token once and retries once. Returns the API's response, whatever its status."""
        token = self.token()
        response = self._send(_api_request(method, url, headers, body, token))
        if needs_renewal(response):
            self.reject(token)
            response = self._send(_api_request(method, url, headers, body, self.token()))
        return response

    def _send(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.transport.send(request)
        except Exception as exc:
            error = _as_transport_error(request, exc)
            if error is exc:
                raise
            raise error from exc

    def __repr__(self) -> str:
        return f"<TokenSession {self._state!r}>"


class AsyncTokenSession:
    """The asyncio twin of :class:`TokenSession`, for one event loop: many tasks asking at
    once cause one renewal; the others await it. ``on_tokens`` may be ``async``."""

    def __init__(
        self,
        state: SessionState,
        *,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        if transport is None:
            from .transports import AsyncHttpxTransport

            transport = AsyncHttpxTransport()
        self._state = state
        self.transport: AsyncTransport = transport
        self._on_tokens = on_tokens
        self._clock = clock
        self._renewals: Dict[int, asyncio.Event] = {}

    @classmethod
    def client_credentials(
        cls,
        client: Client,
        scopes: Sequence[str] = (),
        *,
        tokens: Optional[TokenSet] = None,
        skew: Optional[int] = None,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> AsyncTokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    @classmethod
    def password(
        cls,
        client: Client,
        username: str,
        password: Union[str, Secret],
        scopes: Sequence[str] = (),
        *,
        tokens: Optional[TokenSet] = None,
        skew: Optional[int] = None,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> AsyncTokenSession:
        """A session over the password grant."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    @classmethod
    def from_tokens(
        cls,
        client: Client,
        tokens: TokenSet,
        *,
        skew: Optional[int] = None,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> AsyncTokenSession:
        """A session over tokens from a user grant."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock)

    def _now(self) -> Optional[int]:
        return None if self._clock is None else int(self._clock())

    @property
    def tokens(self) -> Optional[TokenSet]:
        """The current token set, when any."""
        return self._state.tokens

    @property
    def client(self) -> Client:
        """The client."""
        return self._state.client

    async def token(self) -> Secret:
        """A fresh access token."""
        step = self._state.next(self._now())
        while not isinstance(step, Send):
            if isinstance(step, Ready):
                return step.token
            assert isinstance(step, Wait)
            done = self._renewals.get(step.id)
            if done is not None:
                await done.wait()
            step = self._state.waited(step.id, self._now())
        # No await between next() and here: every task told to wait finds this event.
        done = asyncio.Event()
        self._renewals[step.id] = done
        try:
            try:
                response = await self.transport.send(step.request)
            except BaseException as exc:
                error = self._state.fail(step.id, _reason(exc))
                if isinstance(exc, Exception):
                    raise error from exc
                raise
            renewed = self._state.receive(step.id, response, self._now())
        finally:
            del self._renewals[step.id]
            done.set()
        if self._on_tokens is not None:
            result = self._on_tokens(renewed.tokens)
            if inspect.isawaitable(result):
                await result
        return renewed.tokens.access_token

    def reject(self, access_token: Union[str, Secret]) -> bool:
        """The API refused ``access_token``: the next ``token()`` renews, once."""
        return self._state.reject(access_token)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers = None,
        body: Optional[bytes] = None,
    ) -> HttpResponse:
        """Calls an API with ``Authorization: Bearer``; on 401 ``invalid_token`` renews the
        token once and retries once."""
        token = await self.token()
        response = await self._send(_api_request(method, url, headers, body, token))
        if needs_renewal(response):
            self.reject(token)
            response = await self._send(_api_request(method, url, headers, body, await self.token()))
        return response

    async def _send(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self.transport.send(request)
        except Exception as exc:
            error = _as_transport_error(request, exc)
            if error is exc:
                raise
            raise error from exc

    def __repr__(self) -> str:
        return f"<AsyncTokenSession {self._state!r}>"
