"""asyncio: one ``async`` call per grant over an :class:`AsyncTransport`, and
:class:`AsyncTokenSession`.

The functions mirror those of :mod:`grantline` (``client_credentials``, ``password``,
``refresh``, ``exchange_code``, ``introspect``, ``revoke``, ``device_authorization``,
``poll_device``, ``wait_for_device``, ``discover``, ``grant``, ``token_exchange``,
``jwt_bearer``, ``validate_id_token``, ``validate_refreshed_id_token``, ``userinfo``),
``timeout`` included: they run the very same
steps (:mod:`grantline._flows`), only awaiting the transport.

Without ``transport=``, every call on an event loop shares that loop's **default transport**:
one :class:`~grantline.transports.AsyncHttpxTransport` (which needs ``httpx``), made on the
first such call, its connections reused by the next ones. It belongs to the loop: it is closed
when the loop shuts down its asynchronous generators (``asyncio.run()`` does, as do
``asyncio.Runner``, pytest-asyncio and the servers built on them), or at once by
``await grantline.aio.aclose()`` (the next call then makes a new one). Another loop (another
thread, the next ``asyncio.run()``) gets its own: an ``httpx.AsyncClient`` never crosses loops.
A transport you pass is used as it is and stays yours to close.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any, AsyncGenerator, Awaitable, Callable, Optional, Sequence, Union

from ._flows import (
    Deadline,
    Params,
    Sleep,
    Steps,
    T,
    Token,
    TokenTypeHint,
    device_authorization_steps,
    discover_steps,
    id_token_steps,
    introspect_steps,
    poll_device_steps,
    refresh_steps,
    refreshed_id_token_steps,
    revoke_steps,
    token_steps,
    userinfo_steps,
    wait_for_device_steps,
)
from ._grantline import (
    Client,
    CodeGrant,
    DeviceAuthorization,
    DevicePoll,
    IdTokenClaims,
    Introspection,
    PendingAuthorization,
    Provider,
    TokenSet,
    UserInfo,
)
from ._session import AsyncTokenSession
from .transports import AsyncHttpxTransport, AsyncTransport, _asend_with

__all__ = [
    "AsyncTokenSession",
    "aclose",
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
    "grant",
    "token_exchange",
    "jwt_bearer",
    "validate_id_token",
    "validate_refreshed_id_token",
    "userinfo",
]


class _LoopDefault:
    """A loop's default transport, and the asynchronous generator that closes it when the loop
    shuts down (``loop.shutdown_asyncgens()`` closes every generator the loop has seen
    started: the one hook asyncio gives for "this loop is ending")."""

    __slots__ = ("transport", "closer")

    def __init__(self, transport: AsyncHttpxTransport, closer: AsyncGenerator[None, None]) -> None:
        self.transport = transport
        self.closer = closer


_DEFAULTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopDefault] = weakref.WeakKeyDictionary()


async def _closes_at_shutdown(loop: asyncio.AbstractEventLoop, transport: AsyncHttpxTransport) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        entry = _DEFAULTS.get(loop)
        if entry is not None and entry.transport is transport:
            del _DEFAULTS[loop]
        await transport.aclose()


async def _default() -> AsyncHttpxTransport:
    """The running loop's default transport (made on first use)."""
    loop = asyncio.get_running_loop()
    entry = _DEFAULTS.get(loop)
    if entry is None:
        transport = AsyncHttpxTransport()
        closer = _closes_at_shutdown(loop, transport)
        entry = _DEFAULTS[loop] = _LoopDefault(transport, closer)
        await closer.__anext__()  # started: the loop now closes it at shutdown
    return entry.transport


async def aclose() -> None:
    """Closes the running event loop's default transport now (the one the calls made without
    ``transport=`` share); the next such call makes a new one. Without it, the transport is
    closed when the loop shuts down."""
    entry = _DEFAULTS.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry.closer.aclose()


async def _run(
    steps: Steps[T],
    transport: Optional[AsyncTransport],
    timeout: Optional[float],
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    per_request: bool = False,
) -> T:
    """Carries ``steps`` over ``transport`` (the loop's default transport when none is
    given)."""
    if transport is None:
        transport = await _default()
    deadline = Deadline(timeout)
    value: Any = None
    try:
        while True:
            step = steps.send(value)
            if isinstance(step, Sleep):
                await sleep(step.seconds)
                value = None
            else:
                if per_request:
                    deadline = Deadline(timeout)
                value = await _asend_with(transport, step, timeout=deadline.left(step))
    except StopIteration as done:
        result: T = done.value
        return result


async def discover(
    issuer: str, *, transport: Optional[AsyncTransport] = None, timeout: Optional[float] = None
) -> Provider:
    """The provider of ``issuer``, from its discovery document (see :func:`grantline.discover`)."""
    return await _run(discover_steps(issuer), transport, timeout)


async def client_credentials(
    client: Client,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The client credentials grant (``params``: see :func:`grantline.client_credentials`)."""
    request = client.client_credentials_request(list(scopes), params=list(params))
    return await _run(token_steps(client, request), transport, timeout)


async def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The resource owner password grant."""
    request = client.password_request(username, password, list(scopes), params=list(params))
    return await _run(token_steps(client, request), transport, timeout)


async def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The refresh token grant for ``tokens`` (see :func:`grantline.refresh`)."""
    return await _run(refresh_steps(client, tokens, scopes, params), transport, timeout)


async def exchange_code(
    client: Client,
    grant: CodeGrant,
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The code exchange of the authorization code grant."""
    request = client.authorization_code_request(grant, params=list(params))
    return await _run(token_steps(client, request), transport, timeout)


async def grant(
    client: Client,
    grant_type: str,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """Any grant (see :func:`grantline.grant`)."""
    request = client.grant_request(grant_type, list(scopes), params=list(params))
    return await _run(token_steps(client, request), transport, timeout)


async def token_exchange(
    client: Client,
    subject_token: Token,
    subject_token_type: str,
    *,
    actor_token: Optional[Token] = None,
    actor_token_type: Optional[str] = None,
    resource: Sequence[str] = (),
    audience: Sequence[str] = (),
    scopes: Sequence[str] = (),
    requested_token_type: Optional[str] = None,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """Token exchange (RFC 8693, see :func:`grantline.token_exchange`)."""
    request = client.token_exchange_request(
        subject_token, subject_token_type, actor_token=actor_token, actor_token_type=actor_token_type,
        resource=list(resource), audience=list(audience), scopes=list(scopes),
        requested_token_type=requested_token_type, params=list(params),
    )
    return await _run(token_steps(client, request), transport, timeout)


async def jwt_bearer(
    client: Client,
    assertion: Token,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The JWT bearer grant (RFC 7523 §2.1)."""
    request = client.jwt_bearer_request(assertion, list(scopes), params=list(params))
    return await _run(token_steps(client, request), transport, timeout)


async def validate_id_token(
    client: Client,
    tokens: TokenSet,
    pending: PendingAuthorization,
    *,
    leeway: Optional[int] = None,
    algorithms: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> IdTokenClaims:
    """Validates the ID token of a code exchange (see :func:`grantline.validate_id_token`)."""
    return await _run(id_token_steps(client, tokens, pending, leeway, algorithms, now), transport, timeout)


async def validate_refreshed_id_token(
    client: Client,
    tokens: TokenSet,
    previous: IdTokenClaims,
    *,
    leeway: Optional[int] = None,
    algorithms: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> Optional[IdTokenClaims]:
    """Validates the ID token of a refresh answer (see
    :func:`grantline.validate_refreshed_id_token`)."""
    return await _run(refreshed_id_token_steps(client, tokens, previous, leeway, algorithms, now), transport, timeout)


async def userinfo(
    client: Client,
    access_token: Union[Token, TokenSet],
    sub: Union[str, IdTokenClaims],
    *,
    now: Optional[int] = None,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> UserInfo:
    """The end-user's claims from the userinfo endpoint (see :func:`grantline.userinfo`)."""
    token = access_token.access_token if isinstance(access_token, TokenSet) else access_token
    expected = sub.sub if isinstance(sub, IdTokenClaims) else sub
    return await _run(userinfo_steps(client, token, expected, now), transport, timeout)


async def introspect(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    refresh_token: Optional[Token] = None,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> Introspection:
    """Token introspection (RFC 7662; ``refresh_token`` for Apicbase's variant, see
    :func:`grantline.introspect`)."""
    return await _run(introspect_steps(client, token, token_type_hint, refresh_token), transport, timeout)


async def revoke(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> None:
    """Token revocation (RFC 7009)."""
    await _run(revoke_steps(client, token, token_type_hint), transport, timeout)


async def device_authorization(
    client: Client,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> DeviceAuthorization:
    """Starts the device flow (RFC 8628 §3.1)."""
    return await _run(device_authorization_steps(client, scopes), transport, timeout)


async def poll_device(
    client: Client,
    device: DeviceAuthorization,
    interval: Optional[int] = None,
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> DevicePoll:
    """One poll of the device flow."""
    return await _run(poll_device_steps(client, device, interval), transport, timeout)


async def wait_for_device(
    client: Client,
    device: DeviceAuthorization,
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Polls until the user approved (see :func:`grantline.wait_for_device`)."""
    return await _run(wait_for_device_steps(client, device, clock), transport, timeout, sleep, per_request=True)
