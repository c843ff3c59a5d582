"""The exception hierarchy of grantline, rooted at :class:`GrantlineError`.

Every exception says who is at fault (compare h11's local/remote protocol errors):

* :class:`OAuthError` -- the authorization server said no (an OAuth ``error`` response);
* :class:`MalformedResponseError` -- the server answered something that is neither a valid
  answer nor an OAuth error;
* :class:`TransportError` -- the request could not be sent or its answer not received;
  :class:`StoreError`, one of them, for a shared token store (:mod:`grantline.redis`) that
  could not be used;
* :class:`StateMismatchError` -- a callback's ``state`` (or RFC 9207 ``iss``) does not match:
  possible CSRF, never retry blindly;
* :class:`ReauthorizationRequiredError` -- a token can no longer be renewed: the user must
  authorize again;
* :class:`ConfigurationError` (also a :class:`ValueError`) -- the caller or the configuration
  is at fault (insecure or missing endpoint, unsupported grant, client authentication method
  or token type, invalid input); :class:`InvalidKeyError`, one of them, for a key that cannot
  be used;
* :class:`JwsError` -- a signed token (an ID token, a signed userinfo answer) was refused before
  its claims were read (``problem``: malformed, ``alg: none``, no fitting key, bad signature...);
* :class:`IdTokenError` -- a verified ID token (or userinfo answer) failed a check of OpenID
  Connect Core (``claim`` names the claim: ``iss``, ``aud``, ``nonce``, ``exp``...).

``kind`` is the core's stable error name (``oauth``, ``malformed``, ``unexpected_status``,
``unusable_token``, ``state_mismatch``, ``issuer_mismatch``, ``insecure_endpoint``,
``missing_endpoint``, ``unsupported_grant``, ``unsupported_auth_method``,
``unsupported_token_type``, ``invalid_input``, ``unexpected_response``,
``reauthorization_required``, ``transport``, ``store``, ``random``, ``jws``, ``id_token``,
``invalid_key``), or the binding's own ``internal``
(a bug). An API answer above the body limit you set (see :meth:`grantline.TokenSession.request`)
is a ``malformed`` response, as a token answer over 1 MiB is. No message or attribute ever
carries a secret. Every
exception pickles.
"""

from __future__ import annotations

__all__ = [
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
]


class GrantlineError(Exception):
    """Everything grantline raises. ``kind`` names the error; ``status`` is the HTTP status of
    the response behind it, when there was one."""

    kind: str
    status: int | None

    def __init__(self, message: str, *, kind: str = "error", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status

    @property
    def message(self) -> str:
        """The message (never containing a secret)."""
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, kind={self.kind!r}, status={self.status!r})"


class OAuthError(GrantlineError):
    """The authorization server refused: ``error`` is the OAuth error code (``invalid_grant``,
    ``invalid_client``...), with ``description`` and ``uri`` when given. ``status`` is the HTTP
    status (``None`` for an ``error`` in a redirect callback)."""

    error: str
    description: str | None
    uri: str | None

    def __init__(
        self,
        message: str,
        *,
        kind: str = "oauth",
        status: int | None = None,
        error: str = "",
        description: str | None = None,
        uri: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.error = error
        self.description = description
        self.uri = uri

    def __repr__(self) -> str:
        return (
            f"OAuthError({self.message!r}, error={self.error!r}, "
            f"description={self.description!r}, status={self.status!r})"
        )


class MalformedResponseError(GrantlineError):
    """The server's answer could not be understood (``kind`` ``malformed``), came with a
    status that fits nothing (``unexpected_status``), or carried an access token that cannot be
    used (``unusable_token``: the very token the API had just refused, or one already expired on
    arrival; ``reason`` says which). ``excerpt`` is the start of a non-JSON, non-form body (an
    HTML error page, say), with secret values and token-like runs redacted."""

    reason: str | None
    excerpt: str | None

    def __init__(
        self,
        message: str,
        *,
        kind: str = "malformed",
        status: int | None = None,
        reason: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.reason = reason
        self.excerpt = excerpt


class ConfigurationError(GrantlineError, ValueError):
    """The caller or the configuration is at fault: ``insecure_endpoint`` (``url``),
    ``missing_endpoint`` (``endpoint``), ``unsupported_grant`` (``grant``),
    ``unsupported_auth_method`` (``offered``: the methods the provider's metadata listed, none
    of which grantline speaks: set ``Client(auth_method=...)`` if the provider accepts one
    anyway), ``unsupported_token_type`` (``token_type``: a ``DPoP`` or ``N_A`` token is never
    sent as Bearer), ``invalid_input`` (``reason``), ``unexpected_response``."""

    url: str | None
    endpoint: str | None
    grant: str | None
    reason: str | None
    offered: list[str] | None
    token_type: str | None

    def __init__(
        self,
        message: str,
        *,
        kind: str = "invalid_input",
        status: int | None = None,
        url: str | None = None,
        endpoint: str | None = None,
        grant: str | None = None,
        reason: str | None = None,
        offered: list[str] | None = None,
        token_type: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.url = url
        self.endpoint = endpoint
        self.grant = grant
        self.reason = reason
        self.offered = offered
        self.token_type = token_type


class StateMismatchError(GrantlineError):
    """A callback does not answer the pending authorization: its ``state`` differs or is
    missing (``kind`` ``state_mismatch``), or its ``iss`` names another issuer
    (``issuer_mismatch``, with ``expected`` and ``received``)."""

    expected: str | None
    received: str | None

    def __init__(
        self,
        message: str,
        *,
        kind: str = "state_mismatch",
        status: int | None = None,
        expected: str | None = None,
        received: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.expected = expected
        self.received = received


class ReauthorizationRequiredError(GrantlineError):
    """The token cannot be renewed (no refresh token, or it was refused, and no grant to
    repeat): send the user through the authorization again."""

    def __init__(
        self, message: str, *, kind: str = "reauthorization_required", status: int | None = None
    ) -> None:
        super().__init__(message, kind=kind, status=status)


class TransportError(GrantlineError):
    """The request could not be sent or its whole answer not received in time (connection
    refused or reset, the whole-request deadline passed, a body cut short). The message names the
    URL without its query, never a body. The transport's own exception, when there was one, is
    the ``__cause__``."""

    reason: str | None
    #: What grantline's log records say of this failure (see :mod:`grantline._log`): the
    #: reason without the library's own message, when grantline's transports raised it.
    log_reason: str | None = None

    def __init__(
        self,
        message: str,
        *,
        kind: str = "transport",
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.reason = reason


class StoreError(TransportError):
    """A shared token store (see :mod:`grantline.redis`) could not be used (``kind``
    ``store``): unreachable, timed out, or holding an entry this process cannot read (another
    key, tampered). A session raises it only when no usable token is left and renewing without
    the store is not safe (a rotating refresh token shared by the fleet); ``reason`` says what
    failed, never with a secret."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "store",
        status: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status, reason=reason)


class InvalidKeyError(ConfigurationError):
    """A key the caller passed (a JWK, a JWK Set, a PEM private key, a shared secret) cannot be
    used (``kind`` ``invalid_key``); ``reason`` says why, never with key material."""

    def __init__(self, message: str, *, kind: str = "invalid_key", status: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message, kind=kind, status=status, reason=reason)


class JwsError(GrantlineError):
    """A JWS was refused (``kind`` ``jws``): ``problem`` is ``malformed``, ``too_large``,
    ``alg_none``, ``algorithm_not_accepted``, ``unsupported_critical``, ``unencoded_payload``,
    ``no_matching_key``, ``key_mismatch`` or ``bad_signature``. Never carries the token."""

    problem: str

    def __init__(self, message: str, *, kind: str = "jws", status: int | None = None, problem: str = "") -> None:
        super().__init__(message, kind=kind, status=status)
        self.problem = problem

    def __repr__(self) -> str:
        return f"JwsError({self.message!r}, problem={self.problem!r})"


class IdTokenError(GrantlineError):
    """An ID token (or a userinfo answer) whose signature verified failed a check of OpenID
    Connect Core 1.0 §3.1.3.7, §5.3.2 or §12.2 (``kind`` ``id_token``): ``claim`` names the
    claim (``iss``, ``sub``, ``aud``, ``azp``, ``exp``, ``iat``, ``nbf``, ``nonce``,
    ``auth_time``, ``at_hash``, ``c_hash``, ``alg``, ``typ``...), ``reason`` says why. Never
    carries the token or a claim value (except ``iss``/``aud``, which are public)."""

    claim: str
    reason: str | None

    def __init__(self, message: str, *, kind: str = "id_token", status: int | None = None,
                 claim: str = "", reason: str | None = None) -> None:
        super().__init__(message, kind=kind, status=status)
        self.claim = claim
        self.reason = reason

    def __repr__(self) -> str:
        return f"IdTokenError({self.message!r}, claim={self.claim!r})"
