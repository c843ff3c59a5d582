"""asyncio: one ``async`` call per grant over an :class:`AsyncTransport`
(:class:`~grantline.transports.AsyncHttpxTransport` by default, which needs ``httpx``), and
:class:`AsyncTokenSession`.

The functions mirror those of :mod:`grantline` (``client_credentials``, ``password``,
``refresh``, ``exchange_code``, ``introspect``, ``revoke``, ``device_authorization``,
``poll_device``, ``wait_for_device``, ``discover``), ``timeout`` included: they run the very same
steps (:mod:`grantline._flows`), only awaiting the transport.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Optional, Sequence

from ._flows import (
    Deadline,
    Sleep,
    Steps,
    T,
    Token,
    TokenTypeHint,
    device_authorization_steps,
    discover_steps,
    introspect_steps,
    poll_device_steps,
    refresh_steps,
    revoke_steps,
    token_steps,
    wait_for_device_steps,
)
from ._grantline import (
    Client,
    CodeGrant,
    DeviceAuthorization,
    DevicePoll,
    Introspection,
    Provider,
    TokenSet,
)
from ._session import AsyncTokenSession
from .transports import AsyncTransport, _asend_with

__all__ = [
    "AsyncTokenSession",
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


async def _run(
    steps: Steps[T],
    transport: Optional[AsyncTransport],
    timeout: Optional[float],
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    per_request: bool = False,
) -> T:
    """Carries ``steps`` over ``transport`` (a new :class:`AsyncHttpxTransport`, closed
    afterwards, when none is given)."""
    if transport is None:
        from .transports import AsyncHttpxTransport

        once = AsyncHttpxTransport()
        try:
            return await _run(steps, once, timeout, sleep, per_request)
        finally:
            await once.aclose()
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
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The client credentials grant."""
    return await _run(token_steps(client, client.client_credentials_request(list(scopes))), transport, timeout)


async def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The resource owner password grant."""
    request = client.password_request(username, password, list(scopes))
    return await _run(token_steps(client, request), transport, timeout)


async def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The refresh token grant for ``tokens`` (see :func:`grantline.refresh`)."""
    return await _run(refresh_steps(client, tokens, scopes), transport, timeout)


async def exchange_code(
    client: Client,
    grant: CodeGrant,
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The code exchange of the authorization code grant."""
    return await _run(token_steps(client, client.authorization_code_request(grant)), transport, timeout)


async def introspect(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[AsyncTransport] = None,
    timeout: Optional[float] = None,
) -> Introspection:
    """Token introspection (RFC 7662)."""
    return await _run(introspect_steps(client, token, token_type_hint), transport, timeout)


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
