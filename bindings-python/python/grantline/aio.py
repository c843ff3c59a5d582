"""asyncio: one ``async`` call per grant over an :class:`AsyncTransport`
(:class:`~grantline.transports.AsyncHttpxTransport` by default, which needs ``httpx``), and
:class:`AsyncTokenSession`.

The functions mirror those of :mod:`grantline` (``client_credentials``, ``password``,
``refresh``, ``exchange_code``, ``introspect``, ``revoke``, ``device_authorization``,
``poll_device``, ``wait_for_device``, ``discover``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal, Awaitable, Callable, Optional, Sequence, Union

from ._errors import OAuthError, ReauthorizationRequiredError
from ._grantline import (
    Client,
    CodeGrant,
    DeviceAuthorization,
    DevicePoll,
    HttpRequest,
    HttpResponse,
    Introspection,
    Provider,
    Secret,
    TokenSet,
    check_revocation_response,
)
from ._session import AsyncTokenSession
from .transports import AsyncTransport

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

Token = Union[str, Secret]
#: ``access_token`` or ``refresh_token``.
TokenTypeHint = Literal["access_token", "refresh_token"]


async def _send(transport: Optional[AsyncTransport], request: HttpRequest) -> HttpResponse:
    if transport is None:
        from .transports import AsyncHttpxTransport

        once = AsyncHttpxTransport()
        try:
            return await once.send(request)
        finally:
            await once.aclose()
    return await transport.send(request)


async def discover(url: str, *, transport: Optional[AsyncTransport] = None) -> Provider:
    """A provider from its discovery document."""
    response = await _send(transport, Provider.discovery_request(url))
    return Provider.from_discovery_response(response)


async def client_credentials(
    client: Client, scopes: Sequence[str] = (), *, transport: Optional[AsyncTransport] = None
) -> TokenSet:
    """The client credentials grant."""
    request = client.client_credentials_request(list(scopes))
    return TokenSet.from_response(await _send(transport, request))


async def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[AsyncTransport] = None,
) -> TokenSet:
    """The resource owner password grant."""
    request = client.password_request(username, password, list(scopes))
    return TokenSet.from_response(await _send(transport, request))


async def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[AsyncTransport] = None,
) -> TokenSet:
    """The refresh token grant for ``tokens`` (see :func:`grantline.refresh`)."""
    refresh_token = tokens.refresh_token
    if refresh_token is None:
        raise ReauthorizationRequiredError("the token cannot be renewed: authorize again")
    request = client.refresh_request(refresh_token, list(scopes))
    new = TokenSet.from_response(await _send(transport, request))
    new.inherit_refresh_token(tokens)
    return new


async def exchange_code(
    client: Client, grant: CodeGrant, *, transport: Optional[AsyncTransport] = None
) -> TokenSet:
    """The code exchange of the authorization code grant."""
    return TokenSet.from_response(await _send(transport, client.authorization_code_request(grant)))


async def introspect(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[AsyncTransport] = None,
) -> Introspection:
    """Token introspection (RFC 7662)."""
    request = client.introspection_request(token, token_type_hint)
    return Introspection.from_response(await _send(transport, request))


async def revoke(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[AsyncTransport] = None,
) -> None:
    """Token revocation (RFC 7009)."""
    request = client.revocation_request(token, token_type_hint)
    check_revocation_response(await _send(transport, request))


async def device_authorization(
    client: Client, scopes: Sequence[str] = (), *, transport: Optional[AsyncTransport] = None
) -> DeviceAuthorization:
    """Starts the device flow (RFC 8628 §3.1)."""
    request = client.device_authorization_request(list(scopes))
    return DeviceAuthorization.from_response(await _send(transport, request))


async def poll_device(
    client: Client,
    device: DeviceAuthorization,
    interval: Optional[int] = None,
    *,
    transport: Optional[AsyncTransport] = None,
) -> DevicePoll:
    """One poll of the device flow."""
    request = client.device_token_request(device.device_code)
    return DevicePoll.from_response(
        await _send(transport, request), device.interval if interval is None else interval
    )


async def wait_for_device(
    client: Client,
    device: DeviceAuthorization,
    *,
    transport: Optional[AsyncTransport] = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Polls until the user approved (see :func:`grantline.wait_for_device`)."""
    interval = device.interval
    while True:
        if device.expires_at is not None and clock() >= device.expires_at:
            raise OAuthError("the device code expired", error="expired_token")
        await sleep(interval)
        poll = await poll_device(client, device, interval, transport=transport)
        if poll.kind == "tokens" and poll.tokens is not None:
            return poll.tokens
        if poll.kind in ("pending", "slow_down") and poll.interval is not None:
            interval = poll.interval
            continue
        error = "access_denied" if poll.kind == "denied" else "expired_token"
        raise OAuthError(f"the device authorization ended: {error}", error=error)
