"""One call per grant, over a :class:`grantline.transports.Transport` (``urllib`` by default).

Each flow is written once, as *steps*: a generator that builds a request with the core, yields
it, gets the response back and parses it with the core (discovery yields until the core has a
document; the device flow also yields "sleep this long"). :func:`_run` here carries the steps
over a blocking transport; :mod:`grantline.aio` carries the very same steps over an asyncio one.

Every function takes ``timeout``: seconds for the whole call (every request it makes), instead
of the transport's own deadline (30 s by default). :func:`wait_for_device` applies it to each
poll.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Generator, Literal, Optional, Sequence, TypeVar, Union

from . import _log
from ._errors import OAuthError, ReauthorizationRequiredError, TransportError
from ._grantline import (
    Client,
    CodeGrant,
    DeviceAuthorization,
    DeviceFlow,
    DevicePoll,
    Discovery,
    HttpRequest,
    Introspection,
    Provider,
    Secret,
    TokenSet,
    check_revocation_response,
)
from .transports import Transport, UrllibTransport, _send_with, _where

__all__ = [
    "discover",
    "client_credentials",
    "password",
    "refresh",
    "exchange_code",
    "introspect",
    "revoke",
    "device_authorization",
    "poll_device",
    "wait_for_device",
]

Token = Union[str, Secret]
#: ``access_token`` or ``refresh_token``.
TokenTypeHint = Literal["access_token", "refresh_token"]
T = TypeVar("T")


class Sleep:
    """A step: wait this many seconds before the next request (the device flow's interval)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


#: A flow: yields requests (and sleeps), receives responses, returns its result.
Steps = Generator[Union[HttpRequest, Sleep], Any, T]


class Deadline:
    """The time left of a call's ``timeout`` (``None``: each request gets the transport's)."""

    __slots__ = ("timeout", "at")

    def __init__(self, timeout: Optional[float]) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def left(self, request: Optional[HttpRequest] = None) -> Optional[float]:
        """Seconds left for the next request; raises :class:`grantline.TransportError` when
        none are."""
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.late(request)
        return left

    def late(self, request: Optional[HttpRequest] = None) -> TransportError:
        """The error of a call whose deadline passed (before ``request``, or while waiting)."""
        where = f"{_where(request)}: " if request is not None else "waiting for the renewal in flight: "
        reason = f"{where}no complete answer within the deadline of {self.timeout:.3g} s"
        error = TransportError(f"transport failure: {reason}", reason=reason)
        error.log_reason = reason
        return error


# ----------------------------------------------------------------------------- the steps


def discover_steps(issuer: str) -> Steps[Provider]:
    discovery = Discovery(issuer)
    while True:
        provider = discovery.receive((yield discovery.request()))
        if provider is not None:
            return provider


def token_steps(client: Client, request: HttpRequest) -> Steps[TokenSet]:
    return TokenSet.from_response((yield request), provider=client.provider)


def refresh_steps(client: Client, tokens: TokenSet, scopes: Sequence[str]) -> Steps[TokenSet]:
    refresh_token = tokens.refresh_token
    if refresh_token is None:
        raise ReauthorizationRequiredError("the token cannot be renewed: authorize again")
    new = yield from token_steps(client, client.refresh_request(refresh_token, list(scopes)))
    if new.inherit_refresh_token(tokens):
        _log.refresh_rotated()
    return new


def introspect_steps(
    client: Client, token: Token, hint: Optional[TokenTypeHint], refresh_token: Optional[Token] = None
) -> Steps[Introspection]:
    return Introspection.from_response((yield client.introspection_request(token, hint, refresh_token)))


def revoke_steps(client: Client, token: Token, hint: Optional[TokenTypeHint]) -> Steps[None]:
    check_revocation_response((yield client.revocation_request(token, hint)))


def device_authorization_steps(client: Client, scopes: Sequence[str]) -> Steps[DeviceAuthorization]:
    return DeviceAuthorization.from_response((yield client.device_authorization_request(list(scopes))))


def poll_device_steps(client: Client, device: DeviceAuthorization, interval: Optional[int]) -> Steps[DevicePoll]:
    response = yield client.device_token_request(device.device_code)
    return DevicePoll.from_response(response, device.interval if interval is None else interval)


def wait_for_device_steps(
    client: Client, device: DeviceAuthorization, clock: Callable[[], float]
) -> Steps[TokenSet]:
    # Every decision (the interval, slow_down, when the device code has expired, the error that
    # ends the flow) is the core's DeviceFlow; this only sleeps and sends.
    flow = DeviceFlow(device)
    while True:
        step = flow.next(client, int(clock()))
        if isinstance(step, int):
            _log.device_wait(step)
            yield Sleep(step)
            continue
        response = yield step
        tokens = flow.receive(response, int(clock()))
        if tokens is not None:
            return tokens


# ----------------------------------------------------------------------------- the blocking shell


def _run(
    steps: Steps[T],
    transport: Optional[Transport],
    timeout: Optional[float],
    sleep: Callable[[float], object] = time.sleep,
    per_request: bool = False,
) -> T:
    """Carries ``steps`` over ``transport``: every request within the call's ``timeout`` (or,
    ``per_request``, each within its own)."""
    sender = transport if transport is not None else UrllibTransport()
    deadline = Deadline(timeout)
    value: Any = None
    try:
        while True:
            step = steps.send(value)
            if isinstance(step, Sleep):
                sleep(step.seconds)
                value = None
            else:
                if per_request:
                    deadline = Deadline(timeout)
                value = _send_with(sender, step, timeout=deadline.left(step))
    except StopIteration as done:
        result: T = done.value
        return result


# ----------------------------------------------------------------------------- the calls


def discover(issuer: str, *, transport: Optional[Transport] = None, timeout: Optional[float] = None) -> Provider:
    """The provider of ``issuer`` (``https://as.example/tenant1``), from its discovery document:
    RFC 8414's ``/.well-known/oauth-authorization-server`` first, then OpenID Connect's
    ``/.well-known/openid-configuration`` (a 404 moves on). A full well-known URL works too.
    The document must name exactly that issuer, or :class:`grantline.StateMismatchError`
    (``issuer_mismatch``) is raised: a document claiming another issuer is a mix-up attack."""
    return _run(discover_steps(issuer), transport, timeout)


def client_credentials(
    client: Client,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The client credentials grant (RFC 6749 §4.4)."""
    return _run(token_steps(client, client.client_credentials_request(list(scopes))), transport, timeout)


def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The resource owner password grant (RFC 6749 §4.3)."""
    request = client.password_request(username, password, list(scopes))
    return _run(token_steps(client, request), transport, timeout)


def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The refresh token grant (RFC 6749 §6) for ``tokens``: the new set keeps the old
    refresh token when the server sent none. Persist the result (the refresh token may have
    rotated). Raises :class:`grantline.ReauthorizationRequiredError` when ``tokens`` has no
    refresh token."""
    return _run(refresh_steps(client, tokens, scopes), transport, timeout)


def exchange_code(
    client: Client, grant: CodeGrant, *, transport: Optional[Transport] = None, timeout: Optional[float] = None
) -> TokenSet:
    """The code exchange of the authorization code grant (RFC 6749 §4.1.3)."""
    return _run(token_steps(client, client.authorization_code_request(grant)), transport, timeout)


def introspect(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    refresh_token: Optional[Token] = None,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> Introspection:
    """Token introspection (RFC 7662). ``refresh_token``: for Apicbase's variant, which wants
    the refresh token beside the access token (``Provider.apicbase()``); other providers take
    none. ``{"active": false}`` is an answer (``active`` is ``False``), not an error."""
    return _run(introspect_steps(client, token, token_type_hint, refresh_token), transport, timeout)


def revoke(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> None:
    """Token revocation (RFC 7009); revoking an unknown token is a success."""
    _run(revoke_steps(client, token, token_type_hint), transport, timeout)


def device_authorization(
    client: Client,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> DeviceAuthorization:
    """Starts the device flow (RFC 8628 §3.1): show ``user_code`` and ``verification_uri``."""
    return _run(device_authorization_steps(client, scopes), transport, timeout)


def poll_device(
    client: Client,
    device: DeviceAuthorization,
    interval: Optional[int] = None,
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> DevicePoll:
    """One poll of the device flow (RFC 8628 §3.4); ``interval`` is the current interval
    (default: the device authorization's)."""
    return _run(poll_device_steps(client, device, interval), transport, timeout)


def wait_for_device(
    client: Client,
    device: DeviceAuthorization,
    *,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Polls until the user approved (the tokens), waiting the interval the server asks for.
    Raises :class:`grantline.OAuthError` ``access_denied`` or ``expired_token`` when the user
    denied or the code expired. ``timeout`` applies to each poll."""
    return _run(wait_for_device_steps(client, device, clock), transport, timeout, sleep, per_request=True)
