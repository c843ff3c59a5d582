"""grantline: a sans-IO OAuth 2.0 client, with the provider quirks handled.

Two layers:

* **sans-IO**: :class:`Provider` (or :class:`Discovery` of an issuer), :class:`Client` builds an
  :class:`HttpRequest` for every grant; :class:`TokenSet`, :class:`Introspection`,
  :class:`DeviceAuthorization`, :class:`DevicePoll` parse an :class:`HttpResponse`
  (:class:`DeviceFlow` is the device flow's polling loop);
  :class:`SessionState` is the token lifecycle; send them with any HTTP client that does not
  follow redirects.
* **convenient**: one call per grant (:func:`client_credentials`, :func:`exchange_code`, ...)
  over a transport (``urllib`` by default; ``httpx`` and ``requests`` adapters in
  :mod:`grantline.transports`), :class:`TokenSession` (threads) and
  :class:`AsyncTokenSession` / :mod:`grantline.aio` (asyncio).
* **your HTTP client**: :class:`grantline.httpx.TokenAuth` (an ``httpx.Auth``) and
  :class:`grantline.requests.TokenAuth` (a ``requests`` auth) put a session's token on every
  request of your own ``httpx.Client``, ``httpx.AsyncClient`` or ``requests.Session``, and
  renew and retry once on 401 ``invalid_token``.
* **a fleet**: a session given ``store=`` and ``fleet=`` (:class:`FleetConfig`) shares one
  token with every process (in any language) that uses the same store and name: one token
  request per lifetime for the whole fleet. :mod:`grantline.redis` has the Redis stores; the
  store interface is :class:`FleetStore` / :class:`AsyncFleetStore`; :class:`FleetState` is
  the sans-IO fleet machine.

Log records (renewals, rotations, failures, backoff, waits; never a secret) go to
``logging.getLogger("grantline")``.

Secrets (:class:`Secret`) print ``[redacted]``; read them with ``.secret()``. Errors are
:class:`GrantlineError` subclasses.
"""

from __future__ import annotations

from ._errors import (
    ConfigurationError,
    GrantlineError,
    IdTokenError,
    InvalidKeyError,
    JwsError,
    MalformedResponseError,
    OAuthError,
    ReauthorizationRequiredError,
    StateMismatchError,
    StoreError,
    TransportError,
)
from ._grantline import (
    DEFAULT_LEASE_TTL_MS,
    MAX_BODY,
    REDACTED,
    REDIS_ACQUIRE,
    REDIS_COMMIT,
    REDIS_RELEASE,
    Authorization,
    BearerChallenge,
    Challenge,
    Client,
    CodeGrant,
    Completion,
    DeviceAuthorization,
    DeviceFlow,
    DevicePoll,
    Discovery,
    Entry,
    FleetConfig,
    FleetState,
    FleetStats,
    HttpRequest,
    HttpResponse,
    IdTokenCheck,
    IdTokenClaims,
    Introspection,
    Jwk,
    JwkSet,
    JwksCache,
    PendingAuthorization,
    Perform,
    Provider,
    Ready,
    Renewed,
    Secret,
    Send,
    SessionState,
    SigningKey,
    StoreAcquire,
    StoreCommit,
    StoreRead,
    StoreRelease,
    StoreReply,
    StoreWatch,
    TokenSet,
    UserInfo,
    VerifiedJws,
    Wait,
    __version__,
    authorization_header,
    bearer_challenge,
    check_revocation_response,
    needs_renewal,
    parse_www_authenticate,
    redact_url,
    redis_acquire_reply,
    redis_commit_reply,
)
# `typing` costs milliseconds to import; type checkers treat any `TYPE_CHECKING` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load on first use
    from ._flows import (
        client_credentials,
        device_authorization,
        discover,
        exchange_code,
        grant,
        introspect,
        jwt_bearer,
        password,
        poll_device,
        refresh,
        revoke,
        token_exchange,
        userinfo,
        validate_id_token,
        validate_refreshed_id_token,
        wait_for_device,
    )
    from ._fleet import AsyncFleetStore, FleetStore
    from ._session import AsyncTokenSession, TokenSession
    from .transports import (
        AsyncHttpxTransport,
        AsyncTransport,
        HttpxTransport,
        RequestsTransport,
        Transport,
        UrllibTransport,
    )

# The convenient layer loads on first use: `import grantline` stays cheap (no asyncio, no
# urllib/http.client/ssl until a transport is needed).
_LAZY = {
    **dict.fromkeys(
        ["client_credentials", "device_authorization", "discover", "exchange_code", "introspect",
         "password", "poll_device", "refresh", "revoke", "wait_for_device", "grant", "token_exchange",
         "jwt_bearer", "validate_id_token", "validate_refreshed_id_token", "userinfo"],
        "._flows",
    ),
    **dict.fromkeys(["AsyncTokenSession", "TokenSession"], "._session"),
    **dict.fromkeys(["FleetStore", "AsyncFleetStore"], "._fleet"),
    **dict.fromkeys(
        ["AsyncHttpxTransport", "AsyncTransport", "HttpxTransport", "RequestsTransport", "Transport",
         "UrllibTransport"],
        ".transports",
    ),
}


if not TYPE_CHECKING:  # hidden from type checkers, which then flag misspelt names

    def __getattr__(name: str) -> object:
        """Loads the convenient layer (flows, sessions, transports, ``aio``) on first use."""
        import importlib

        if name in ("aio", "transports", "httpx", "requests", "redis"):
            return importlib.import_module(f".{name}", __name__)
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'grantline' has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*globals(), *_LAZY, "aio", "transports", "httpx", "requests", "redis"])


__all__ = [
    "MAX_BODY",
    "REDACTED",
    "__version__",
    # errors
    "GrantlineError",
    "OAuthError",
    "MalformedResponseError",
    "ConfigurationError",
    "StateMismatchError",
    "ReauthorizationRequiredError",
    "TransportError",
    "StoreError",
    "JwsError",
    "IdTokenError",
    "InvalidKeyError",
    # sans-IO
    "Secret",
    "HttpRequest",
    "HttpResponse",
    "Provider",
    "Discovery",
    "Client",
    "Authorization",
    "PendingAuthorization",
    "CodeGrant",
    "TokenSet",
    "Introspection",
    "DeviceAuthorization",
    "DeviceFlow",
    "DevicePoll",
    "Challenge",
    "BearerChallenge",
    "SessionState",
    "Ready",
    "Send",
    "Wait",
    "Renewed",
    "Completion",
    # a fleet (one token for many processes, over a store)
    "FleetConfig",
    "FleetState",
    "FleetStats",
    "Perform",
    "Entry",
    "StoreRead",
    "StoreAcquire",
    "StoreCommit",
    "StoreRelease",
    "StoreWatch",
    "StoreReply",
    "FleetStore",
    "AsyncFleetStore",
    "DEFAULT_LEASE_TTL_MS",
    "REDIS_ACQUIRE",
    "REDIS_COMMIT",
    "REDIS_RELEASE",
    "redis_acquire_reply",
    "redis_commit_reply",
    "SigningKey",
    "Jwk",
    "JwkSet",
    "VerifiedJws",
    "JwksCache",
    "IdTokenCheck",
    "IdTokenClaims",
    "UserInfo",
    "check_revocation_response",
    "parse_www_authenticate",
    "bearer_challenge",
    "needs_renewal",
    "authorization_header",
    "redact_url",
    # convenient
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
    "TokenSession",
    "AsyncTokenSession",
    # transports
    "Transport",
    "AsyncTransport",
    "UrllibTransport",
    "HttpxTransport",
    "AsyncHttpxTransport",
    "RequestsTransport",
]
