"""Token sessions that wait: :class:`TokenSession` (threads) and :class:`AsyncTokenSession`
(asyncio), over the core's state machine :class:`grantline.SessionState`.

The state machine decides everything (is the token fresh, which request renews it, is a renewal
already in flight, did the refresh token rotate, how long to back off after a failure); these
classes only perform the HTTP call it asks for and make the callers who have no usable token
wait for the one renewal in flight.

One driver, two shells: :class:`_Driver` holds the whole logic once, as generators that yield
what to do (wait for renewal *n*, send this renewal, hand this token set to ``on_tokens``, call
this API) and get the outcome back; :class:`TokenSession` carries out those commands with a
lock and a condition, :class:`AsyncTokenSession` with ``await`` and events. Neither shell
decides anything.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Generator,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Union,
)

from ._errors import GrantlineError, TransportError
from ._flows import Deadline
from ._grantline import (
    Client,
    HttpRequest,
    HttpResponse,
    Ready,
    Renewed,
    Secret,
    Send,
    SessionState,
    TokenSet,
    Wait,
    authorization_header,
    needs_renewal,
)
from .transports import (
    AsyncTransport,
    Transport,
    UrllibTransport,
    _asend_with,
    _failed,
    _keywords,
    _send_with,
    _too_large,
)

__all__ = ["TokenSession", "AsyncTokenSession", "OnTokens", "AsyncOnTokens"]


class _OnTokensWithRotation(Protocol):
    def __call__(self, tokens: TokenSet, *, refresh_token_rotated: bool) -> object: ...


class _AsyncOnTokensWithRotation(Protocol):
    def __call__(self, tokens: TokenSet, *, refresh_token_rotated: bool) -> Union[Awaitable[object], object]: ...


#: Called with every new token set, in renewal order: persist it (the refresh token may have
#: rotated). ``on_tokens(tokens)``, or ``on_tokens(tokens, *, refresh_token_rotated)`` to learn
#: whether the refresh token changed (a callback that takes a ``refresh_token_rotated``
#: parameter, or ``**kwargs``, gets it).
OnTokens = Union[Callable[[TokenSet], object], _OnTokensWithRotation]
#: For :class:`AsyncTokenSession`: the same, plain or ``async``.
AsyncOnTokens = Union[Callable[[TokenSet], Union[Awaitable[object], object]], _AsyncOnTokensWithRotation]
Headers = Optional[Mapping[str, str]]


def _takes_rotation(callback: Callable[..., object]) -> bool:
    """Whether ``callback`` accepts ``refresh_token_rotated=`` (named, or ``**kwargs``)."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # no signature (some builtins): the one-argument form
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (p.name == "refresh_token_rotated" and p.kind is not inspect.Parameter.POSITIONAL_ONLY)
        for p in params
    )


def _deliverer(on_tokens: Optional[Callable[..., Any]]) -> Optional[Callable[[Renewed], Any]]:
    if on_tokens is None:
        return None
    if _takes_rotation(on_tokens):
        return lambda r: on_tokens(r.tokens, refresh_token_rotated=r.refresh_token_rotated)
    return lambda r: on_tokens(r.tokens)


_NO_DEADLINE = Deadline(None)


def _deadline(transport: object, timeout: Optional[float]) -> Deadline:
    """A call's deadline, made before the session is asked anything (a renewal handed out must
    be carried out): a bad ``timeout``, or one the transport cannot take (``TypeError``), is
    refused before any renewal starts."""
    if timeout is None:
        return _NO_DEADLINE
    _keywords(transport, timeout, None)
    return Deadline(timeout)


def _reason(request: HttpRequest, exc: BaseException) -> str:
    """What to tell the core about a renewal that could not be sent or answered."""
    if isinstance(exc, TransportError) and exc.reason:
        return exc.reason
    return _failed(request, exc).reason or type(exc).__name__


def _api_request(method: str, url: str, headers: Headers, body: Optional[bytes], token: Secret) -> HttpRequest:
    merged = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    merged["authorization"] = authorization_header(token)
    return HttpRequest(method, url, merged, body)


# ----------------------------------------------------------------------------- the driver


class _WaitFor:
    """Wait until renewal ``id`` is completed (delivered, waiters woken), then resume."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = id


class _Renew:
    """Send renewal ``id``'s token request; resume with the response or throw the failure."""

    __slots__ = ("id", "request")

    def __init__(self, id: int, request: HttpRequest) -> None:
        self.id = id
        self.request = request


class _Deliver:
    """Hand ``renewed`` to ``on_tokens`` (never under the lock); resume, or throw what it
    raised."""

    __slots__ = ("renewed",)

    def __init__(self, renewed: Renewed) -> None:
        self.renewed = renewed


class _Call:
    """Send this API request (with the API body limit); resume with the response."""

    __slots__ = ("request",)

    def __init__(self, request: HttpRequest) -> None:
        self.request = request


_Command = Union[_WaitFor, _Renew, _Deliver, _Call]
_Steps = Generator[_Command, Any, Any]


class _Driver:
    """The session's logic, once, for both shells. Its generators run only while the shell
    holds the session (the lock of :class:`TokenSession`; the event loop's single thread for
    :class:`AsyncTokenSession`); the shell lets go of it for every command."""

    def __init__(
        self,
        state: SessionState,
        clock: Optional[Callable[[], float]],
        max_api_body: Optional[int],
    ) -> None:
        self._state = state
        self._clock = clock
        self.max_api_body = max_api_body

    def _now(self) -> Optional[int]:
        return None if self._clock is None else int(self._clock())

    def _completed(self, id: int) -> None:
        """Renewal ``id`` is over and its token set delivered: wake whoever waits on it."""
        raise NotImplementedError

    def token_steps(self, step: Union[Ready, Send, Wait, None] = None) -> Generator[_Command, Any, Secret]:
        """A usable access token: follow ``next()``/``waited()``; perform a renewal the core
        hands out; wait for one in flight. A renewal's failure reaches this caller only when
        the core says no usable token is left (``waited``)."""
        state = self._state
        if step is None:
            step = state.next(self._now())
        while True:
            if type(step) is Ready:
                return step.token
            if type(step) is Wait:
                yield _WaitFor(step.id)
                step = state.waited(step.id, self._now())
                continue
            assert type(step) is Send
            id = step.id
            cause: Optional[BaseException] = None
            try:
                response = yield _Renew(id, step.request)
            except BaseException as exc:  # a transport failure, the deadline, an interrupt
                cause = exc
                done = state.fail(id, _reason(step.request, exc), self._now())
            else:
                try:
                    done = state.receive(id, response, self._now())
                except BaseException:  # misuse only (an id not in flight): never strand waiters
                    self._completed(id)
                    raise
            try:
                if done.renewed is not None:
                    # Persisted first, then delivered: no second renewal starts before, so
                    # token sets reach on_tokens in renewal order however slow it is.
                    yield _Deliver(done.renewed)
            finally:
                if done.renewed is not None:
                    state.delivered(id)
                self._completed(id)
            if cause is not None and not isinstance(cause, Exception):
                raise cause  # KeyboardInterrupt, CancelledError: the waiters are awake
            try:
                step = state.waited(id, self._now())
            except GrantlineError as error:
                if cause is not None and error.__cause__ is None:
                    raise error from cause
                raise

    def request_steps(
        self, method: str, url: str, headers: Headers, body: Optional[bytes], first: Union[Ready, Send, Wait]
    ) -> Generator[_Command, Any, HttpResponse]:
        """An API call with the token; on 401 ``invalid_token``, one rejection, one renewal and
        one retry (the core renews once however many callers reject the same token)."""
        token = yield from self.token_steps(first)
        response = yield from self._call(_api_request(method, url, headers, body, token))
        if needs_renewal(response):
            self._state.reject(token)
            token = yield from self.token_steps()
            response = yield from self._call(_api_request(method, url, headers, body, token))
        return response

    def _call(self, request: HttpRequest) -> Generator[_Command, Any, HttpResponse]:
        try:
            response: HttpResponse = yield _Call(request)
        except Exception as exc:
            if isinstance(exc, GrantlineError):
                raise
            raise _failed(request, exc) from exc
        limit = self.max_api_body
        if limit is not None and len(response.body) > limit:
            raise _too_large(request, limit, response.status)
        return response


# ----------------------------------------------------------------------------- threads


class TokenSession(_Driver):
    """A token that stays fresh, shared by any number of threads.

    ``token()`` returns a usable access token. When the core asks for a renewal, the thread
    that asked performs it; meanwhile the other threads get the current token while it is still
    valid, and only threads with no usable token wait for the renewal (and then get its token,
    or its error when no usable token is left). A failed renewal while the token is still valid
    reaches no caller; the core then backs off (exponentially, honouring ``Retry-After``) and
    no thread loops.

    ``on_tokens`` receives each new token set (see :data:`OnTokens`), in the thread that
    renewed, with no lock held, and **before** any other renewal can start: token sets reach
    it in renewal order even when saving is slow. An exception it raises reaches that thread's
    caller (the session keeps the new tokens). It must not wait for this session: a
    ``token()`` call from inside it can block when no usable token is left.

    ``request()`` calls an API with the token and, on 401 ``invalid_token``, renews once and
    retries once; API bodies are read whole (``max_api_body`` bytes at most when set, else
    :class:`grantline.MalformedResponseError`). ``timeout`` (seconds) on ``token()``
    and ``request()`` bounds the whole call: every request it sends and any wait for another
    thread's renewal.
    """

    def __init__(
        self,
        state: SessionState,
        *,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
        max_api_body: Optional[int] = None,
    ) -> None:
        super().__init__(state, clock, max_api_body)
        self.transport: Transport = transport if transport is not None else UrllibTransport()
        self._deliver = _deliverer(on_tokens)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._done = 0

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
        max_api_body: Optional[int] = None,
    ) -> TokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

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
        max_api_body: Optional[int] = None,
    ) -> TokenSession:
        """A session over the password grant (renewing with the refresh token when one came)."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

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
        max_api_body: Optional[int] = None,
    ) -> TokenSession:
        """A session over tokens from a user grant; raises
        :class:`grantline.ReauthorizationRequiredError` when they cannot be renewed."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

    @property
    def tokens(self) -> Optional[TokenSet]:
        """The current token set, when any."""
        with self._lock:
            return self._state.tokens

    @property
    def client(self) -> Client:
        """The client."""
        return self._state.client

    @property
    def failures(self) -> int:
        """How many renewals in a row have failed (0 after a success), for logs and metrics."""
        with self._lock:
            return self._state.failures

    @property
    def retry_at(self) -> Optional[int]:
        """When the backoff after failed renewals ends (Unix seconds), or ``None``."""
        with self._lock:
            return self._state.retry_at

    def token(self, *, timeout: Optional[float] = None) -> Secret:
        """A usable access token (see the class documentation)."""
        clock = self._clock
        deadline = _NO_DEADLINE if timeout is None else _deadline(self.transport, timeout)
        with self._lock:  # the condition's lock (a C-level context manager: the fast path)
            step = self._state.next(None if clock is None else int(clock()))
            if type(step) is Ready:
                return step.token
            token: Secret = self._drive(self.token_steps(step), deadline)
            return token

    def reject(self, access_token: Union[str, Secret]) -> bool:
        """The API refused ``access_token`` (401 ``invalid_token``): the next ``token()``
        renews, once, however many threads reject the same token."""
        with self._lock:
            return self._state.reject(access_token)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
    ) -> HttpResponse:
        """Calls an API with ``Authorization: Bearer``; on 401 ``invalid_token`` renews the
        token once and retries once. Returns the API's response, whatever its status; raises
        :class:`grantline.TransportError` when it could not be had, and
        :class:`grantline.MalformedResponseError` for a body above ``max_api_body``."""
        deadline = _deadline(self.transport, timeout)
        with self._lock:
            first = self._state.next(self._now())
            response: HttpResponse = self._drive(self.request_steps(method, url, headers, body, first), deadline)
            return response

    def _completed(self, id: int) -> None:
        if id > self._done:
            self._done = id
        self._cond.notify_all()

    def _drive(self, steps: _Steps, deadline: Deadline) -> Any:
        """Runs the driver's steps, the lock held except while sending, delivering or waiting."""
        value: Any = None
        error: Optional[BaseException] = None
        while True:
            try:
                command = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            value = error = None
            if type(command) is _WaitFor:
                id = command.id
                if not self._cond.wait_for(lambda: self._done >= id, deadline.left()):
                    raise deadline.late()
                continue
            self._lock.release()
            try:
                if type(command) is _Renew:
                    value = _send_with(self.transport, command.request, timeout=deadline.left(command.request))
                elif type(command) is _Deliver:
                    if self._deliver is not None:
                        self._deliver(command.renewed)
                else:
                    assert type(command) is _Call
                    value = _send_with(
                        self.transport, command.request, timeout=deadline.left(command.request),
                        max_body=self.max_api_body,
                    )
            except BaseException as exc:
                error = exc
            finally:
                self._lock.acquire()

    def __repr__(self) -> str:
        return f"<TokenSession {self._state!r}>"


# ----------------------------------------------------------------------------- asyncio


class AsyncTokenSession(_Driver):
    """The asyncio twin of :class:`TokenSession`, for one event loop: the same rules (the task
    that asked performs the renewal, tasks with a usable token never wait, failures while the
    token is valid reach no task, ``on_tokens`` before the next renewal). ``on_tokens`` may be
    ``async``."""

    def __init__(
        self,
        state: SessionState,
        *,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
        max_api_body: Optional[int] = None,
    ) -> None:
        super().__init__(state, clock, max_api_body)
        if transport is None:
            from .transports import AsyncHttpxTransport

            transport = AsyncHttpxTransport()
        self.transport: AsyncTransport = transport
        self._deliver = _deliverer(on_tokens)
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
        max_api_body: Optional[int] = None,
    ) -> AsyncTokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

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
        max_api_body: Optional[int] = None,
    ) -> AsyncTokenSession:
        """A session over the password grant."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

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
        max_api_body: Optional[int] = None,
    ) -> AsyncTokenSession:
        """A session over tokens from a user grant."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body)

    @property
    def tokens(self) -> Optional[TokenSet]:
        """The current token set, when any."""
        return self._state.tokens

    @property
    def client(self) -> Client:
        """The client."""
        return self._state.client

    @property
    def failures(self) -> int:
        """How many renewals in a row have failed (0 after a success)."""
        return self._state.failures

    @property
    def retry_at(self) -> Optional[int]:
        """When the backoff after failed renewals ends (Unix seconds), or ``None``."""
        return self._state.retry_at

    async def token(self, *, timeout: Optional[float] = None) -> Secret:
        """A usable access token."""
        deadline = _NO_DEADLINE if timeout is None else _deadline(self.transport, timeout)
        step = self._state.next(self._now())
        if type(step) is Ready:
            return step.token
        token: Secret = await self._drive(self.token_steps(step), deadline)
        return token

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
        timeout: Optional[float] = None,
    ) -> HttpResponse:
        """Calls an API with ``Authorization: Bearer``; on 401 ``invalid_token`` renews the
        token once and retries once (see :meth:`TokenSession.request`)."""
        deadline = _deadline(self.transport, timeout)
        first = self._state.next(self._now())
        response: HttpResponse = await self._drive(self.request_steps(method, url, headers, body, first), deadline)
        return response

    def _completed(self, id: int) -> None:
        done = self._renewals.pop(id, None)
        if done is not None:
            done.set()

    async def _drive(self, steps: _Steps, deadline: Deadline) -> Any:
        """Runs the driver's steps; only the commands await."""
        value: Any = None
        error: Optional[BaseException] = None
        while True:
            try:
                command = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            value = error = None
            if type(command) is _WaitFor:
                event = self._renewals.get(command.id)
                if event is not None:
                    try:
                        await asyncio.wait_for(event.wait(), deadline.left())
                    except asyncio.TimeoutError:
                        raise deadline.late() from None
                continue
            try:
                if type(command) is _Renew:
                    # Registered before the first await: every task told to wait finds it.
                    self._renewals[command.id] = asyncio.Event()
                    value = await _asend_with(self.transport, command.request, timeout=deadline.left(command.request))
                elif type(command) is _Deliver:
                    if self._deliver is not None:
                        result = self._deliver(command.renewed)
                        if inspect.isawaitable(result):
                            await result
                else:
                    assert type(command) is _Call
                    value = await _asend_with(
                        self.transport, command.request, timeout=deadline.left(command.request),
                        max_body=self.max_api_body,
                    )
            except BaseException as exc:
                error = exc

    def __repr__(self) -> str:
        return f"<AsyncTokenSession {self._state!r}>"
