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
from typing import Any, Callable, Generator, Literal, Optional, Sequence, Tuple, TypeVar, Union

from . import _log
from ._errors import MalformedResponseError, OAuthError, ReauthorizationRequiredError, TransportError
from ._grantline import (
    Client,
    CodeGrant,
    DeviceAuthorization,
    DeviceFlow,
    DevicePoll,
    Discovery,
    HttpRequest,
    IdTokenClaims,
    Introspection,
    JwksCache,
    PendingAuthorization,
    Provider,
    Secret,
    TokenSet,
    UserInfo,
    VerifiedJws,
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
    "grant",
    "token_exchange",
    "jwt_bearer",
    "validate_id_token",
    "validate_refreshed_id_token",
    "userinfo",
]

Token = Union[str, Secret]
#: ``access_token`` or ``refresh_token``.
TokenTypeHint = Literal["access_token", "refresh_token"]
#: Extra request parameters: ``[(name, value), ...]``, names may repeat, order kept.
Params = Sequence[Tuple[str, str]]
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


def refresh_steps(
    client: Client, tokens: TokenSet, scopes: Sequence[str], params: Params = ()
) -> Steps[TokenSet]:
    refresh_token = tokens.refresh_token
    if refresh_token is None:
        raise ReauthorizationRequiredError("the token cannot be renewed: authorize again")
    new = yield from token_steps(client, client.refresh_request(refresh_token, list(scopes), params=list(params)))
    if new.inherit_refresh_token(tokens):
        _log.refresh_rotated()
    return new


def _now(now: Optional[int]) -> int:
    return int(time.time()) if now is None else now


def verify_steps(cache: JwksCache, token: str, algorithms: Sequence[str], now: Optional[int]) -> Steps[VerifiedJws]:
    # The cache decides (a fetch when it holds no set, or once per interval for an unknown key:
    # a key rotation); this only sends what it asks for. One time for the whole verification:
    # the core never asks twice at the same time, so the loop ends after one fetch at most.
    at = _now(now)
    while True:
        step = cache.verify(token, list(algorithms), at)
        if isinstance(step, VerifiedJws):
            return step
        cache.receive((yield step), at)


def id_token_steps(
    client: Client,
    tokens: TokenSet,
    pending: PendingAuthorization,
    leeway: Optional[int],
    algorithms: Optional[Sequence[str]],
    now: Optional[int],
) -> Steps[IdTokenClaims]:
    id_token = tokens.required_id_token()  # IdTokenError (claim "id_token") when missing
    check = client.id_token_check(
        pending, leeway=leeway, algorithms=None if algorithms is None else list(algorithms),
        access_token=tokens.access_token,
    )
    verified = yield from verify_steps(client.jwks_cache, id_token.secret(), check.algorithms, now)
    return check.validate(verified, _now(now))


def refreshed_id_token_steps(
    client: Client,
    tokens: TokenSet,
    previous: IdTokenClaims,
    leeway: Optional[int],
    algorithms: Optional[Sequence[str]],
    now: Optional[int],
) -> Steps[Optional[IdTokenClaims]]:
    id_token = tokens.id_token
    if id_token is None:  # a refresh answer need not carry one (OIDC Core §12.2)
        return None
    check = client.refresh_id_token_check(
        leeway=leeway, algorithms=None if algorithms is None else list(algorithms),
        access_token=tokens.access_token,
    )
    verified = yield from verify_steps(client.jwks_cache, id_token.secret(), check.algorithms, now)
    return check.validate_refreshed(verified, previous, _now(now))


def userinfo_steps(client: Client, access_token: Token, sub: str, now: Optional[int]) -> Steps[UserInfo]:
    answer = UserInfo.from_response((yield client.userinfo_request(access_token)), sub)
    if isinstance(answer, UserInfo):
        return answer
    # A signed answer: the provider's keys and ID token algorithms, its issuer and our id.
    check = client.refresh_id_token_check()
    verified = yield from verify_steps(client.jwks_cache, answer, check.algorithms, now)
    return UserInfo.from_verified(verified, sub, check.issuer, check.client_id)


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
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The client credentials grant (RFC 6749 §4.4). ``params``: extra parameters
    (``[(name, value), ...]``, repeats allowed, e.g. RFC 8707 ``resource``)."""
    request = client.client_credentials_request(list(scopes), params=list(params))
    return _run(token_steps(client, request), transport, timeout)


def password(
    client: Client,
    username: str,
    password: Token,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The resource owner password grant (RFC 6749 §4.3)."""
    request = client.password_request(username, password, list(scopes), params=list(params))
    return _run(token_steps(client, request), transport, timeout)


def refresh(
    client: Client,
    tokens: TokenSet,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The refresh token grant (RFC 6749 §6) for ``tokens``: the new set keeps the old
    refresh token when the server sent none. Persist the result (the refresh token may have
    rotated). Raises :class:`grantline.ReauthorizationRequiredError` when ``tokens`` has no
    refresh token. A refreshed ID token is checked with :func:`validate_refreshed_id_token`."""
    return _run(refresh_steps(client, tokens, scopes, params), transport, timeout)


def exchange_code(
    client: Client,
    grant: CodeGrant,
    *,
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The code exchange of the authorization code grant (RFC 6749 §4.1.3). With OpenID
    Connect, check the ID token next with :func:`validate_id_token`."""
    request = client.authorization_code_request(grant, params=list(params))
    return _run(token_steps(client, request), transport, timeout)


def grant(
    client: Client,
    grant_type: str,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """Any grant (an extension grant, RFC 6749 §4.5): ``grant_type`` with ``params``
    (``[(name, value), ...]``, repeats allowed); the answer is parsed like every token
    response."""
    request = client.grant_request(grant_type, list(scopes), params=list(params))
    return _run(token_steps(client, request), transport, timeout)


def token_exchange(
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
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """Token exchange (RFC 8693): the answer's ``issued_token_type`` says what was issued."""
    request = client.token_exchange_request(
        subject_token, subject_token_type, actor_token=actor_token, actor_token_type=actor_token_type,
        resource=list(resource), audience=list(audience), scopes=list(scopes),
        requested_token_type=requested_token_type, params=list(params),
    )
    return _run(token_steps(client, request), transport, timeout)


def jwt_bearer(
    client: Client,
    assertion: Token,
    scopes: Sequence[str] = (),
    *,
    params: Params = (),
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> TokenSet:
    """The JWT bearer grant (RFC 7523 §2.1): ``assertion`` is a JWT (e.g. from
    :meth:`grantline.SigningKey.sign`)."""
    request = client.jwt_bearer_request(assertion, list(scopes), params=list(params))
    return _run(token_steps(client, request), transport, timeout)


def validate_id_token(
    client: Client,
    tokens: TokenSet,
    pending: PendingAuthorization,
    *,
    leeway: Optional[int] = None,
    algorithms: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> IdTokenClaims:
    """Validates the ID token of a code exchange (OpenID Connect Core 1.0 §3.1.3.7) against
    ``pending`` (issuer, nonce, ``max_age``) and this client; ``at_hash`` against the access
    token of ``tokens``. The signature is checked with the provider's JWKS through the
    client's cache (:attr:`grantline.Client.jwks_cache`), fetched over ``transport`` when
    needed: a rotated key costs one fetch. Raises :class:`grantline.JwsError` (``problem``) or
    :class:`grantline.IdTokenError` (``claim``)."""
    return _run(id_token_steps(client, tokens, pending, leeway, algorithms, now), transport, timeout)


def validate_refreshed_id_token(
    client: Client,
    tokens: TokenSet,
    previous: IdTokenClaims,
    *,
    leeway: Optional[int] = None,
    algorithms: Optional[Sequence[str]] = None,
    now: Optional[int] = None,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> Optional[IdTokenClaims]:
    """Validates the ID token of a refresh answer against the claims of the previous one
    (OpenID Connect Core 1.0 §12.2: same ``iss``, ``sub``, ``aud``, ``azp``, ``auth_time``);
    ``None`` when the answer carries no ID token."""
    return _run(refreshed_id_token_steps(client, tokens, previous, leeway, algorithms, now), transport, timeout)


def userinfo(
    client: Client,
    access_token: Union[Token, TokenSet],
    sub: Union[str, IdTokenClaims],
    *,
    now: Optional[int] = None,
    transport: Optional[Transport] = None,
    timeout: Optional[float] = None,
) -> UserInfo:
    """The end-user's claims from the userinfo endpoint (OpenID Connect Core 1.0 §5.3):
    ``sub`` (the ID token's, or its claims) must match; a signed answer is verified through the
    client's JWKS cache. Raises :class:`grantline.IdTokenError` (``sub``) for another user."""
    token = access_token.access_token if isinstance(access_token, TokenSet) else access_token
    expected = sub.sub if isinstance(sub, IdTokenClaims) else sub
    return _run(userinfo_steps(client, token, expected, now), transport, timeout)


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
