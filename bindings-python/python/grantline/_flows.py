"""One call per grant, over a :class:`grantline.transports.Transport` (``urllib`` by default).

Each function builds the request with the core, sends it, and parses the answer with the core:
it returns what the core parsed or raises what the core found wrong.
"""

from __future__ import annotations

import time
from typing import Literal, Callable, Optional, Sequence, Union

from ._errors import OAuthError
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
from .transports import Transport, UrllibTransport

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


def _send(transport: Optional[Transport], request: HttpRequest) -> HttpResponse:
    return (transport if transport is not None else UrllibTransport()).send(request)


def discover(url: str, *, transport: Optional[Transport] = None) -> Provider:
    """A provider from its discovery document (``.../.well-known/openid-configuration`` or
    ``.../.well-known/oauth-authorization-server``)."""
    response = _send(transport, Provider.discovery_request(url))
    return Provider.from_discovery_response(response)


def client_credentials(
    client: Client, scopes: Sequence[str] = (), *, transport: Optional[Transport] = None
) -> TokenSet:
    """The client credentials grant (RFC 6749 §4.4)."""
    return TokenSet.from_response(_send(transport, client.client_credentials_request(list(scopes))))


def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
) -> TokenSet:
    """The resource owner password grant (RFC 6749 §4.3)."""
    request = client.password_request(username, password, list(scopes))
    return TokenSet.from_response(_send(transport, request))


def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    transport: Optional[Transport] = None,
) -> TokenSet:
    """The refresh token grant (RFC 6749 §6) for ``tokens``: the new set keeps the old
    refresh token when the server sent none. Persist the result (the refresh token may have
    rotated). Raises :class:`grantline.ReauthorizationRequiredError` when ``tokens`` has no
    refresh token."""
    refresh_token = tokens.refresh_token
    if refresh_token is None:
        from ._errors import ReauthorizationRequiredError

        raise ReauthorizationRequiredError("the token cannot be renewed: authorize again")
    request = client.refresh_request(refresh_token, list(scopes))
    new = TokenSet.from_response(_send(transport, request))
    new.inherit_refresh_token(tokens)
    return new


def exchange_code(client: Client, grant: CodeGrant, *, transport: Optional[Transport] = None) -> TokenSet:
    """The code exchange of the authorization code grant (RFC 6749 §4.1.3)."""
    return TokenSet.from_response(_send(transport, client.authorization_code_request(grant)))


def introspect(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[Transport] = None,
) -> Introspection:
    """Token introspection (RFC 7662)."""
    request = client.introspection_request(token, token_type_hint)
    return Introspection.from_response(_send(transport, request))


def revoke(
    client: Client,
    token: Token,
    token_type_hint: Optional[TokenTypeHint] = None,
    *,
    transport: Optional[Transport] = None,
) -> None:
    """Token revocation (RFC 7009); revoking an unknown token is a success."""
    check_revocation_response(_send(transport, client.revocation_request(token, token_type_hint)))


def device_authorization(
    client: Client, scopes: Sequence[str] = (), *, transport: Optional[Transport] = None
) -> DeviceAuthorization:
    """Starts the device flow (RFC 8628 §3.1): show ``user_code`` and ``verification_uri``."""
    request = client.device_authorization_request(list(scopes))
    return DeviceAuthorization.from_response(_send(transport, request))


def poll_device(
    client: Client,
    device: DeviceAuthorization,
    interval: Optional[int] = None,
    *,
    transport: Optional[Transport] = None,
) -> DevicePoll:
    """One poll of the device flow (RFC 8628 §3.4); ``interval`` is the current interval
    (default: the device authorization's)."""
    request = client.device_token_request(device.device_code)
    return DevicePoll.from_response(
        _send(transport, request), device.interval if interval is None else interval
    )


def wait_for_device(
    client: Client,
    device: DeviceAuthorization,
    *,
    transport: Optional[Transport] = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Polls until the user approved (the tokens), waiting the interval the server asks for.
    Raises :class:`grantline.OAuthError` ``access_denied`` or ``expired_token`` when the user
    denied or the code expired."""
    interval = device.interval
    while True:
        if device.expires_at is not None and clock() >= device.expires_at:
            raise OAuthError("the device code expired", error="expired_token")
        sleep(interval)
        poll = poll_device(client, device, interval, transport=transport)
        if poll.kind == "tokens" and poll.tokens is not None:
            return poll.tokens
        if poll.kind in ("pending", "slow_down") and poll.interval is not None:
            interval = poll.interval
            continue
        error = "access_denied" if poll.kind == "denied" else "expired_token"
        raise OAuthError(f"the device authorization ended: {error}", error=error)
