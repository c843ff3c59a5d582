"""The exception hierarchy of grantline, rooted at :class:`GrantlineError`.

Every exception says who is at fault (compare h11's local/remote protocol errors):

* :class:`OAuthError` -- the authorization server said no (an OAuth ``error`` response);
* :class:`MalformedResponseError` -- the server answered something that is neither a valid
  answer nor an OAuth error;
* :class:`TransportError` -- the request could not be sent or its answer not received;
* :class:`StateMismatchError` -- a callback's ``state`` (or RFC 9207 ``iss``) does not match:
  possible CSRF, never retry blindly;
* :class:`ReauthorizationRequiredError` -- a token can no longer be renewed: the user must
  authorize again;
* :class:`ConfigurationError` (also a :class:`ValueError`) -- the caller or the configuration
  is at fault (insecure or missing endpoint, unsupported grant, invalid input).

``kind`` is the core's stable error name (``oauth``, ``malformed``, ``unexpected_status``,
``state_mismatch``, ``issuer_mismatch``, ``insecure_endpoint``, ``missing_endpoint``,
``unsupported_grant``, ``invalid_input``, ``unexpected_response``,
``reauthorization_required``, ``transport``, ``random``, ``internal``). No message or attribute
ever carries a secret. Every exception pickles.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "GrantlineError",
    "OAuthError",
    "MalformedResponseError",
    "ConfigurationError",
    "StateMismatchError",
    "ReauthorizationRequiredError",
    "TransportError",
]


class GrantlineError(Exception):
    """Everything grantline raises. ``kind`` names the error; ``status`` is the HTTP status of
    the response behind it, when there was one."""

    kind: str
    status: Optional[int]

    def __init__(self, message: str, *, kind: str = "error", status: Optional[int] = None) -> None:
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
    description: Optional[str]
    uri: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "oauth",
        status: Optional[int] = None,
        error: str = "",
        description: Optional[str] = None,
        uri: Optional[str] = None,
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
    """The server's answer could not be understood (``kind`` ``malformed``), or came with a
    status that fits nothing (``unexpected_status``). ``excerpt`` is the start of a non-JSON,
    non-form body (an HTML error page, say), with token-like runs redacted."""

    reason: Optional[str]
    excerpt: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "malformed",
        status: Optional[int] = None,
        reason: Optional[str] = None,
        excerpt: Optional[str] = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.reason = reason
        self.excerpt = excerpt


class ConfigurationError(GrantlineError, ValueError):
    """The caller or the configuration is at fault: ``insecure_endpoint`` (``url``),
    ``missing_endpoint`` (``endpoint``), ``unsupported_grant`` (``grant``), ``invalid_input``
    (``reason``), ``unexpected_response``."""

    url: Optional[str]
    endpoint: Optional[str]
    grant: Optional[str]
    reason: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "invalid_input",
        status: Optional[int] = None,
        url: Optional[str] = None,
        endpoint: Optional[str] = None,
        grant: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.url = url
        self.endpoint = endpoint
        self.grant = grant
        self.reason = reason


class StateMismatchError(GrantlineError):
    """A callback does not answer the pending authorization: its ``state`` differs or is
    missing (``kind`` ``state_mismatch``), or its ``iss`` names another issuer
    (``issuer_mismatch``, with ``expected`` and ``received``)."""

    expected: Optional[str]
    received: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "state_mismatch",
        status: Optional[int] = None,
        expected: Optional[str] = None,
        received: Optional[str] = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.expected = expected
        self.received = received


class ReauthorizationRequiredError(GrantlineError):
    """The token cannot be renewed (no refresh token, or it was refused, and no grant to
    repeat): send the user through the authorization again."""

    def __init__(
        self, message: str, *, kind: str = "reauthorization_required", status: Optional[int] = None
    ) -> None:
        super().__init__(message, kind=kind, status=status)


class TransportError(GrantlineError):
    """The request could not be sent or its answer not received. The transport's own exception,
    when there was one, is the ``__cause__``."""

    reason: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "transport",
        status: Optional[int] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, kind=kind, status=status)
        self.reason = reason
