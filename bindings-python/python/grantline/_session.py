"""Token sessions that wait: :class:`TokenSession` (threads) and :class:`AsyncTokenSession`
(asyncio), over the core's state machine :class:`grantline.SessionState`, or its fleet machine
:class:`grantline.FleetState` when given a store (one token shared by many processes).

The state machine decides everything (is the token fresh, which request renews it, is a renewal
already in flight, did the refresh token rotate, how long to back off after a failure); these
classes only perform the HTTP call it asks for and make the callers who have no usable token
wait for the one renewal in flight.

One driver, two shells: :class:`_Driver` holds the whole logic once, as generators that yield
what to do (wait for renewal *n*, carry out renewal *n*, send its token request, carry out this
store operation, hand this token set to ``on_tokens``, call this API) and get the outcome back; :class:`TokenSession`
carries out those commands with a lock and a condition (a renewal in the thread that was handed
it), :class:`AsyncTokenSession` with ``await`` (a renewal in a task of its own that its callers
share). Neither shell decides anything; the driver also writes every log record.
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
    Tuple,
    Union,
)

from . import _fleet, _log
from ._errors import ConfigurationError, GrantlineError, TransportError
from ._fleet import AsyncFleetStore, FleetStore, StoreOp
from ._flows import Deadline
from ._grantline import (
    Client,
    Completion,
    FleetConfig,
    FleetState,
    FleetStats,
    HttpRequest,
    HttpResponse,
    Perform,
    Ready,
    Renewed,
    Secret,
    Send,
    SessionState,
    StoreReply,
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


_Machine = Union[SessionState, FleetState]
#: What the state machine says to do next.
_Step = Union[Ready, Send, Wait, Perform]
#: The first step of a renewal: a token request (``SessionState``), or the fleet machine's
#: first action (a store operation, a token request, or the ``Completion``).
_First = Union[HttpRequest, StoreOp, Completion]


def _machine(state: _Machine, store: object, fleet: Optional[FleetConfig]) -> _Machine:
    """The state machine a session drives: ``state`` alone, or shared over ``store`` (a
    ``FleetState``, made from ``state`` and ``fleet`` when ``state`` is a ``SessionState``)."""
    if isinstance(state, FleetState):
        if store is None or fleet is not None:
            raise ConfigurationError(
                "a FleetState is driven with store= (and its own config: no fleet=)",
                reason="a FleetState needs store=, and no fleet=",
            )
        return state
    if store is None and fleet is None:
        return state
    if store is None or fleet is None:
        raise ConfigurationError(
            "a shared session needs both store= (a FleetStore, e.g. grantline.redis.RedisStore) and "
            "fleet= (a FleetConfig: its name and entry keys)",
            reason="store= and fleet= go together",
        )
    return FleetState(state, fleet)


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


class _Renewal:
    """Carry out renewal ``id`` (:meth:`_Driver.renewal_steps`, from its ``first`` step) and
    wait for its end; resume with its transport failure (``None`` when it was answered), or
    throw what ended it otherwise (what ``on_tokens`` raised, a cancellation)."""

    __slots__ = ("id", "first")

    def __init__(self, id: int, first: _First) -> None:
        self.id = id
        self.first = first


class _Fetch:
    """Send a renewal's token request; resume with the response or throw the failure."""

    __slots__ = ("request",)

    def __init__(self, request: HttpRequest) -> None:
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


class _Store:
    """Carry out this store operation (:mod:`grantline._fleet`); resume with the
    ``StoreReply``, or throw the store's failure (or ``_fleet._Late``: the caller's deadline
    passed before an operation that may be given up)."""

    __slots__ = ("op",)

    def __init__(self, op: StoreOp) -> None:
        self.op = op


_Command = Union[_WaitFor, _Renewal, _Fetch, _Deliver, _Call, _Store]
_Steps = Generator[_Command, Any, Any]


class _Driver:
    """The session's logic, once, for both shells and both state machines (``SessionState``
    alone, or ``FleetState`` over a store). Its generators run only while the shell holds the
    session (the lock of :class:`TokenSession`; the event loop's single thread for
    :class:`AsyncTokenSession`); the shell lets go of it for every command.

    Every event worth a log record is logged here, on ``logging.getLogger("grantline")``
    (see :mod:`grantline._log`), never with a secret."""

    def __init__(
        self,
        state: _Machine,
        clock: Optional[Callable[[], float]],
        max_api_body: Optional[int],
    ) -> None:
        self._state = state  # the same calls, the fleet's times in ms
        self._fleet = isinstance(state, FleetState)
        #: The machine's time unit per second (the fleet machine counts milliseconds).
        self._scale = 1000 if self._fleet else 1
        self._clock = clock
        self.max_api_body = max_api_body

    def _now(self) -> Optional[int]:
        """Now in the machine's unit (``None``: the core reads the clock)."""
        return None if self._clock is None else int(self._clock() * self._scale)

    def _now_s(self) -> Optional[int]:
        """Now in Unix seconds, for the log records (``None``: the real time)."""
        return None if self._clock is None else int(self._clock())

    @property
    def stats(self) -> Optional[FleetStats]:
        """The shared session's counters (store operations, token requests, renewals taken
        from the store...); ``None`` without a store."""
        return self._state.stats if isinstance(self._state, FleetState) else None

    @property
    def store_version(self) -> Optional[int]:
        """The store version of the local token set (0 before the store was read or
        written); ``None`` without a store."""
        return self._state.version if isinstance(self._state, FleetState) else None

    def _completed(self, id: int) -> None:
        """Renewal ``id`` is over and its token set delivered: wake whoever waits on it."""
        raise NotImplementedError

    def token_steps(self, step: Optional[_Step] = None) -> Generator[_Command, Any, Secret]:
        """A usable access token: follow ``next()``/``waited()``; carry out a renewal the core
        hands out; wait for one in flight. A renewal's failure reaches this caller only when
        the core says no usable token is left (``waited``)."""
        state = self._state
        if step is None:
            step = state.next(self._now())
        while True:
            if type(step) is Ready:
                return step.token
            if type(step) is Wait:
                _log.waiting(step.id)
                yield _WaitFor(step.id)
                step = state.waited(step.id, self._now())
                continue
            if type(step) is Send:
                id = step.id
                cause = yield _Renewal(id, step.request)
            else:
                assert type(step) is Perform
                id = step.id
                cause = yield _Renewal(id, step.action)
            try:
                step = state.waited(id, self._now())
            except GrantlineError as error:
                if cause is not None and error.__cause__ is None:
                    raise error from cause
                raise

    def renewal_steps(self, id: int, first: _First) -> Generator[_Command, Any, Optional[BaseException]]:
        """Renewal ``id``, from its first step to its delivery: send the token request (and,
        with a store, carry out the store operations the fleet machine asks for), hand the
        answers (or the failures) to the core, give a new token set to ``on_tokens``, wake the
        waiters. Returns the transport's failure, if any. When whoever performs it is cancelled
        or interrupted (``CancelledError``, ``KeyboardInterrupt``: not an ``Exception``), the
        core forgets the renewal (``abandon``): no failure, no backoff, and the next caller
        renews."""
        state = self._state
        if isinstance(state, FleetState):
            done, request, cause = yield from self._fleet_steps(state, id, first)
        else:
            assert isinstance(first, HttpRequest)
            request = first
            _log.renewing(id, request)
            cause = None
            try:
                response = yield _Fetch(request)
            except Exception as exc:  # a transport failure, the deadline
                cause = exc
                done = state.fail(id, _reason(request, exc), self._now())
            except BaseException:  # cancelled or interrupted: no answer, and not the server's fault
                self._abandon(id)
                raise
            else:
                try:
                    done = state.receive(id, response, self._now())
                except BaseException:  # misuse only (an id not in flight): never strand waiters
                    self._completed(id)
                    raise
        _log.completed(id, done, state, self._now_s(), request, cause)
        try:
            if done.renewed is not None:
                # Persisted first, then delivered: no second renewal starts before, so token
                # sets reach on_tokens in renewal order however slow it is.
                yield _Deliver(done.renewed)
        except BaseException as exc:
            _log.undelivered(id, exc)
            raise
        finally:
            if done.renewed is not None:
                state.delivered(id)
            self._completed(id)
        return cause

    def _fleet_steps(
        self, state: FleetState, id: int, action: _First
    ) -> Generator[_Command, Any, Tuple[Completion, Optional[HttpRequest], Optional[BaseException]]]:
        """The fleet machine's actions of renewal ``id`` until its ``Completion``: store
        operations (a failure is the core's ``store_failed``: it backs off from the store and
        renews alone when that is safe), the token request. Returns the completion, the token
        request sent (``None`` when the renewal took another process's token set) and the
        transport's failure."""
        request: Optional[HttpRequest] = None
        cause: Optional[BaseException] = None
        late: Optional[TransportError] = None
        try:
            while not isinstance(action, Completion):
                if isinstance(action, HttpRequest):
                    request = action
                    _log.renewing(id, request)
                    try:
                        response = yield _Fetch(request)
                    except Exception as exc:  # a transport failure, the deadline
                        cause = exc
                        action = state.fail(id, _reason(request, exc), self._now())
                    else:
                        action = state.receive(id, response, self._now())
                    continue
                action_op = action
                try:
                    reply = yield _Store(action)
                except _fleet._Late as passed:  # the caller's deadline, before a step it may give up
                    late = passed.error
                    break
                except Exception as exc:  # the store failed: the core backs off and goes on
                    why = _fleet.reason(action, exc)
                    _log.store_failed(id, why)
                    action = state.store_failed(id, why, self._now())
                else:
                    failures = state.stats.store_failures
                    action = state.store_done(id, reply, self._now())
                    if state.stats.store_failures != failures:  # the core refused the answer
                        _log.store_failed(id, f"{_fleet.name(action_op)}: an answer this process cannot use "
                                              "(an entry sealed with another key, tampered, or not an entry)")
        except BaseException:  # cancelled or interrupted (or misuse): never strand waiters
            self._drop(id)
            raise
        if late is not None:
            self._drop(id)
            raise late
        assert isinstance(action, Completion)
        return action, request, cause

    def _drop(self, id: int) -> None:
        """Fleet renewal ``id`` ends without its answers (cancelled, interrupted, late): the
        core forgets it when it may (``abandon``: a lease it held expires on its own); a step
        it cannot give up (a commit under way, a refresh sent) is ended as failed at once,
        without I/O, so that no renewal stays in flight with nobody to carry it out."""
        state = self._state
        assert isinstance(state, FleetState)
        if state.abandon(id):
            _log.abandoned(id)
        else:
            for _ in range(8):  # a few steps at most: fail, then release
                try:
                    action = state.store_failed(id, "interrupted", self._now())
                except GrantlineError:
                    try:
                        action = state.fail(id, "interrupted", self._now())
                    except GrantlineError:
                        break  # not in flight any more
                if isinstance(action, Completion):
                    if action.renewed is not None:
                        state.delivered(id)
                    break
        self._completed(id)

    def _abandon(self, id: int) -> None:
        """Renewal ``id`` ends without an answer, its sender cancelled: the core forgets it (no
        failure, no backoff) and the waiters wake to renew."""
        if self._fleet:
            self._drop(id)
            return
        if self._state.abandon(id):
            _log.abandoned(id)
        self._completed(id)

    def reject_token(self, token: Union[str, Secret]) -> bool:
        """The API refused ``token``: the core renews on the next ``next()`` if it is the
        current one."""
        rejected = self._state.reject(token)
        _log.rejected(rejected)
        return rejected

    def request_steps(
        self, method: str, url: str, headers: Headers, body: Optional[bytes], first: _Step
    ) -> Generator[_Command, Any, HttpResponse]:
        """An API call with the token; on 401 ``invalid_token``, one rejection, one renewal and
        one retry (the core renews once however many callers reject the same token)."""
        token = yield from self.token_steps(first)
        response = yield from self._call(_api_request(method, url, headers, body, token))
        if needs_renewal(response):
            self.reject_token(token)
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

    A thread interrupted while it sends a renewal (``KeyboardInterrupt``) leaves no renewal
    half-done: the core forgets it (``abandon``, no backoff) and the next caller renews.

    Your own ``httpx.Client`` or ``requests.Session`` can use the session for its API calls:
    :class:`grantline.httpx.TokenAuth`, :class:`grantline.requests.TokenAuth`.

    The default transport (``urllib``) holds no connection between requests: a session
    leaves nothing to close; a transport you pass stays yours. Log records go to
    ``logging.getLogger("grantline")`` (see :mod:`grantline._log`).

    ``request()`` calls an API with the token and, on 401 ``invalid_token``, renews once and
    retries once; API bodies are read whole (``max_api_body`` bytes at most when set, else
    :class:`grantline.MalformedResponseError`). ``timeout`` (seconds) on ``token()``
    and ``request()`` bounds the whole call: every request it sends and any wait for another
    thread's renewal.

    **A fleet.** With ``store=`` (a :class:`grantline.FleetStore`, e.g.
    :class:`grantline.redis.RedisStore`) and ``fleet=`` (a :class:`grantline.FleetConfig`), the
    session shares its token with every process that uses the same store and name: it drives
    the core's fleet machine (:class:`grantline.FleetState`; pass one as ``state`` with
    ``store=`` alone if you build it yourself). A renewal then reads the store first, takes the
    renewal lease, or waits for the process that holds it (bounded, and by ``timeout``); a
    cached token still costs no store call. A store failure never reaches a caller holding a
    valid token; see :mod:`grantline._fleet` for the store interface and what happens when it
    fails. ``stats`` has the counters.
    """

    def __init__(
        self,
        state: Union[SessionState, FleetState],
        *,
        transport: Optional[Transport] = None,
        on_tokens: Optional[OnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
        max_api_body: Optional[int] = None,
        store: Optional[FleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> None:
        super().__init__(_machine(state, store, fleet), clock, max_api_body)
        #: The shared store (``None``: this process renews alone).
        self.store: Optional[FleetStore] = store
        #: The transport of the token requests and ``request()``.
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
        store: Optional[FleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> TokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
        store: Optional[FleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> TokenSession:
        """A session over the password grant (renewing with the refresh token when one came)."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
        store: Optional[FleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> TokenSession:
        """A session over tokens from a user grant; raises
        :class:`grantline.ReauthorizationRequiredError` when they cannot be renewed."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
            step = self._state.next(None if clock is None else int(clock() * self._scale))
            if type(step) is Ready:
                return step.token
            token: Secret = self._drive(self.token_steps(step), deadline)
            return token

    def reject(self, access_token: Union[str, Secret]) -> bool:
        """The API refused ``access_token`` (401 ``invalid_token``): the next ``token()``
        renews, once, however many threads reject the same token."""
        with self._lock:
            return self.reject_token(access_token)

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
        """Runs the driver's steps, the lock held except while sending, using the store,
        delivering or waiting."""
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
            if type(command) is _Renewal:  # carried out here, by this thread
                try:
                    value = self._drive(self.renewal_steps(command.id, command.first), deadline)
                except BaseException as exc:
                    error = exc
                continue
            self._lock.release()
            try:
                if type(command) is _Fetch:
                    value = _send_with(self.transport, command.request, timeout=deadline.left(command.request))
                elif type(command) is _Store:
                    value = _fleet.call(self.store, command.op, deadline)
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


class _Flight:
    """Renewal ``id`` in flight in :class:`AsyncTokenSession`: its task, and how many callers
    await it. ``answered``: its token request is over (answered or failed); from then on it
    always runs to its end. It is cancelled, when every caller left before the answer, only
    while the core says it may be (``cancellable``): never a refresh, whose answer may carry a
    rotated refresh token, nor a fleet renewal writing its entry to the store."""

    __slots__ = ("id", "task", "callers", "answered")

    def __init__(self, id: int) -> None:
        self.id = id
        self.task: Optional[asyncio.Future[Optional[BaseException]]] = None
        self.callers = 0
        self.answered = False


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A renewal task's outcome is looked at even when every caller left (an ``on_tokens``
    error is logged by the driver): asyncio then has nothing to complain about."""
    if not task.cancelled():
        task.exception()


class AsyncTokenSession(_Driver):
    """The asyncio twin of :class:`TokenSession`, for one event loop: the same rules (tasks
    with a usable token never wait, failures while the token is valid reach no task,
    ``on_tokens`` before the next renewal). ``on_tokens`` may be ``async``.

    A renewal runs in a task of its own, which every task that needs it awaits (the one that
    was handed it and those told to wait). Cancelling one of them stops only its own wait.
    When every task awaiting a renewal is cancelled before its answer, the token request is
    cancelled and the core forgets the renewal (``abandon``: no failure, no backoff): the next
    caller renews. A refresh is the exception (the core's ``cancellable``): the server may
    already have rotated the refresh token, so it always runs to its answer. Once the answer is in, the renewal always runs to its end (the token set is
    stored and handed to ``on_tokens``) even when nobody waits any more: a rotated refresh
    token is never lost half-way.

    Without ``transport``, the session makes an :class:`~grantline.transports.AsyncHttpxTransport`
    and owns it: close it with ``await session.aclose()`` or ``async with``. A transport you
    pass stays yours. With ``store=`` (an :class:`grantline.AsyncFleetStore`, e.g.
    :class:`grantline.redis.AsyncRedisStore`) and ``fleet=``, the session shares its token with
    the fleet, as :class:`TokenSession` does; the store stays yours to close. Your own ``httpx.AsyncClient`` can use the session for its API calls:
    :class:`grantline.httpx.TokenAuth`.
    """

    def __init__(
        self,
        state: Union[SessionState, FleetState],
        *,
        transport: Optional[AsyncTransport] = None,
        on_tokens: Optional[AsyncOnTokens] = None,
        clock: Optional[Callable[[], float]] = None,
        max_api_body: Optional[int] = None,
        store: Optional[AsyncFleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> None:
        super().__init__(_machine(state, store, fleet), clock, max_api_body)
        #: The shared store (``None``: this process renews alone).
        self.store: Optional[AsyncFleetStore] = store
        #: The transport of the token requests and ``request()``.
        self.transport: AsyncTransport
        self._owned: Optional[AsyncTransport] = None
        if transport is None:
            from .transports import AsyncHttpxTransport

            self.transport = self._owned = AsyncHttpxTransport()
        else:
            self.transport = transport
        self._deliver = _deliverer(on_tokens)
        self._flights: Dict[int, _Flight] = {}

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
        store: Optional[AsyncFleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> AsyncTokenSession:
        """A session that gets and renews its token with the client credentials grant."""
        state = SessionState.client_credentials(client, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
        store: Optional[AsyncFleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> AsyncTokenSession:
        """A session over the password grant."""
        state = SessionState.password(client, username, password, list(scopes), tokens=tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
        store: Optional[AsyncFleetStore] = None,
        fleet: Optional[FleetConfig] = None,
    ) -> AsyncTokenSession:
        """A session over tokens from a user grant."""
        state = SessionState.from_tokens(client, tokens, skew=skew)
        return cls(state, transport=transport, on_tokens=on_tokens, clock=clock, max_api_body=max_api_body,
                   store=store, fleet=fleet)

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
        return self.reject_token(access_token)

    async def aclose(self) -> None:
        """Closes the transport the session made (when none was passed); a transport you
        passed stays yours to close."""
        owned, self._owned = self._owned, None
        aclose = getattr(owned, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncTokenSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

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
        self._flights.pop(id, None)

    async def _drive(self, steps: _Steps, deadline: Deadline, flight: Optional[_Flight] = None) -> Any:
        """Runs the driver's steps; only the commands await. ``flight``: the renewal these
        steps carry out, when they do."""
        value: Any = None
        error: Optional[BaseException] = None
        while True:
            try:
                command = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                return done.value
            value = error = None
            try:
                if type(command) is _WaitFor:
                    waited = self._flights.get(command.id)
                    if waited is not None:
                        await self._join(waited, deadline)
                        self._settle(command.id, waited)
                elif type(command) is _Renewal:
                    value = await self._renew(command, deadline)
                elif type(command) is _Fetch:
                    try:
                        value = await self._fetch(command.request, deadline)
                    finally:
                        if flight is not None:
                            flight.answered = True
                elif type(command) is _Store:
                    value = await _fleet.acall(self.store, command.op, deadline)
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

    async def _fetch(self, request: HttpRequest, deadline: Deadline) -> HttpResponse:
        """A renewal's token request, within the deadline of the caller that was handed it,
        whatever the transport does: a late answer is a :class:`grantline.TransportError`
        (a failure, which the core backs off from), not a cancellation."""
        left = deadline.left(request)
        send = _asend_with(self.transport, request, timeout=left)
        if left is None:
            return await send
        try:
            return await asyncio.wait_for(send, left)
        except asyncio.TimeoutError:
            raise deadline.late(request) from None

    async def _renew(self, command: _Renewal, deadline: Deadline) -> Optional[BaseException]:
        """Starts renewal ``command.id`` in a task of its own and awaits it."""
        flight = _Flight(command.id)
        steps = self.renewal_steps(command.id, command.first)
        # Registered before the first await: every task told to wait finds it.
        self._flights[command.id] = flight
        task = flight.task = asyncio.ensure_future(self._drive(steps, deadline, flight))
        task.add_done_callback(lambda _: self._settle(command.id, flight))
        task.add_done_callback(_retrieved)
        await self._join(flight, _NO_DEADLINE)  # the token request keeps the caller's deadline
        self._settle(command.id, flight)
        if task.cancelled():  # by someone else (the loop shutting down): forgotten, renew again
            return None
        return task.result()  # the transport's failure; raises what on_tokens raised

    def _settle(self, id: int, flight: _Flight) -> None:
        """The task of renewal ``id`` ended: when it ended before its steps could (cancelled
        before it ever ran), the renewal is abandoned here, so that no renewal stays in flight
        with nobody to carry it out."""
        if self._flights.get(id) is flight:
            self._abandon(id)

    async def _join(self, flight: _Flight, deadline: Deadline) -> None:
        """Awaits ``flight`` until its end (or ``deadline``) without cancelling it when this
        caller is cancelled or late; the last caller to leave before the answer cancels it,
        unless it is a refresh (kept: it finishes on its own, and its token set reaches
        ``on_tokens``)."""
        task = flight.task
        assert task is not None
        flight.callers += 1
        try:
            if deadline.at is None:
                await asyncio.wait((task,))
            else:
                done, _ = await asyncio.wait((task,), timeout=deadline.left())
                if not done:
                    raise deadline.late()
        finally:
            flight.callers -= 1
            if (flight.callers == 0 and not flight.answered and not task.done()
                    and self._state.cancellable(flight.id)):
                task.cancel()  # nobody waits for the answer: the renewal is abandoned

    def __repr__(self) -> str:
        return f"<AsyncTokenSession {self._state!r}>"
