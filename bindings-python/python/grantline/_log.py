"""grantline's log records, on ``logging.getLogger("grantline")``.

Levels:

* ``DEBUG``: routine steps: a renewal's request being sent, a caller waiting for the renewal in
  flight, a device flow's next poll, a refused token that was already replaced;
* ``INFO``: what changes the tokens: a renewal that succeeded, a refresh token that rotated (in
  a session, or in a one-call ``refresh()``), a renewal that took the token set another
  process of the fleet renewed (a shared store), a renewal abandoned by its cancelled caller, a
  token the API refused (and, for the ``httpx``/``requests`` adapters, a refused request not
  sent again because its body was streamed);
* ``WARNING``: what went wrong: a renewal that failed (with the backoff the core chose and
  whether a usable token is left), a shared store operation that failed, an ``on_tokens``
  callback that raised.

No record carries a secret: messages and arguments hold renewal ids, counts, times, URLs
without their query, and a summary of each error (:func:`summary`: its kind, OAuth error code,
HTTP status and grantline's own reason, never a description, URI or excerpt a server wrote); no
record has ``exc_info`` (a library's exception may quote a request), and an exception raised by
your ``on_tokens`` is named by its type only. Every record has ``grantline_event`` in its ``extra``
(``renewing``, ``waiting``, ``renewed``, ``adopted``, ``rotated``, ``failed``, ``store_failed``, ``abandoned``,
``undelivered``, ``rejected``, ``not_retried``, ``device_wait``), and ``grantline_renewal`` (the id) where there
is one, for structured logging.

The logger has a ``NullHandler`` (as libraries should): configure ``logging`` to see them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Dict, Optional

if TYPE_CHECKING:
    from ._grantline import Completion, FleetState, HttpRequest, SessionState

logger = logging.getLogger("grantline")
logger.addHandler(logging.NullHandler())

_DEBUG = logging.DEBUG


def _extra(event: str, id: Optional[int] = None, **more: Any) -> Dict[str, Any]:
    extra: Dict[str, Any] = {"grantline_event": event}
    if id is not None:
        extra["grantline_renewal"] = id
    for name, value in more.items():
        extra[f"grantline_{name}"] = value
    return extra


def renewing(id: int, request: HttpRequest) -> None:
    if logger.isEnabledFor(_DEBUG):
        from .transports import _where

        logger.debug("renewal %d: sending %s", id, _where(request), extra=_extra("renewing", id))


def waiting(id: int) -> None:
    if logger.isEnabledFor(_DEBUG):
        logger.debug("waiting for renewal %d: no usable token until it ends", id, extra=_extra("waiting", id))


def completed(
    id: int, done: Completion, state: SessionState | FleetState, now: Optional[int],
    request: Optional[HttpRequest], cause: Optional[BaseException],
) -> None:
    """A renewal's outcome (``done``, from ``receive()`` or ``fail()``, the transport's
    exception ``cause`` for a failure to send), with what the core decided after it: the
    backoff, and whether a usable token is left. ``request`` is ``None`` for a fleet renewal
    that sent none (it took another process's token set, or failed on the store)."""
    at = int(time.time()) if now is None else now
    renewed = done.renewed
    error = done.error
    if error is None and renewed is not None and request is None:
        version = getattr(state, "version", None)
        logger.info(
            "renewal %d: took the token set another process renewed (store version %s)", id, version,
            extra=_extra("adopted", id, version=version),
        )
    elif error is None and renewed is not None:
        expires_at = renewed.tokens.expires_at
        lifetime = "an unknown time" if expires_at is None else f"{max(expires_at - at, 0)} s"
        logger.info(
            "renewal %d succeeded: a new access token, valid for %s", id, lifetime,
            extra=_extra("renewed", id, expires_at=expires_at),
        )
    if renewed is not None and renewed.refresh_token_rotated:
        logger.info(
            "renewal %d: the refresh token changed (rotated, new, or dropped by the server): "
            "only the new token set keeps access", id,
            extra=_extra("rotated", id),
        )
    if error is not None:
        retry_at = state.retry_at
        backoff = "no backoff" if retry_at is None else f"next attempt in {max(retry_at - at, 0)} s"
        left = state.ready_until
        usable = (
            "the current token stays in use" if left is not None and left > at
            else "no usable token is left: callers get this error"
        )
        logger.warning(
            "renewal %d failed: %s; %d in a row, %s; %s", id, summary(error, request, cause),
            state.failures, backoff, usable,
            extra=_extra("failed", id, kind=getattr(error, "kind", None), failures=state.failures,
                         retry_at=retry_at),
        )


def summary(error: BaseException, request: Optional[HttpRequest], cause: Optional[BaseException] = None) -> str:
    """What a log record says of a renewal's error: its kind, the OAuth error code, the HTTP
    status, and for a malformed answer the core's reason (what is wrong with it), for a
    transport failure the method, the URL without its query and the exception's type (with
    the system's text for an ``OSError``, or the deadline that passed). Never text a server
    chose beyond the error code (a description, a URI, an excerpt of a page), nor a library's
    message: a hostile server could echo a secret there."""
    kind = getattr(error, "kind", None) or type(error).__name__
    parts = [str(kind)]
    code = getattr(error, "error", None)
    if kind == "oauth" and code:
        parts.append(str(code))
    status = getattr(error, "status", None)
    if status is not None:
        parts.append(f"HTTP {status}")
    if kind == "malformed":
        reason = getattr(error, "reason", None)
        if reason:
            parts.append(str(reason))
    elif kind == "transport" and cause is not None and request is not None:
        from .transports import _quiet

        parts.append(getattr(cause, "log_reason", None) or _quiet(request, cause))
    elif kind == "store":
        reason = getattr(error, "reason", None)
        if reason:
            parts.append(str(reason))
    return ", ".join(parts)


def store_failed(id: int, reason: str) -> None:
    """A shared store operation failed (``reason``: the operation and the exception's type,
    never a library's message): the core skips the store for a backoff and renews alone when
    that is safe."""
    logger.warning(
        "renewal %d: the shared store failed (%s); renewing without it where that is safe", id, reason,
        extra=_extra("store_failed", id, reason=reason),
    )


def abandoned(id: int) -> None:
    logger.info(
        "renewal %d abandoned: its caller was cancelled before the answer; the next caller renews "
        "(not a failure: no backoff)", id, extra=_extra("abandoned", id),
    )


def undelivered(id: int, exc: BaseException) -> None:
    # Only the type: the message of an exception raised by the application's callback is the
    # application's text, which may quote the tokens it was given.
    logger.warning(
        "renewal %d: on_tokens ended with %s; the session keeps the new tokens", id, type(exc).__name__,
        extra=_extra("undelivered", id, exception=type(exc).__name__),
    )


def rejected(current: bool) -> None:
    if current:
        logger.info("the API refused the current access token: the next call renews it", extra=_extra("rejected"))
    elif logger.isEnabledFor(_DEBUG):
        logger.debug("the API refused an access token that was already replaced", extra=_extra("rejected"))


def not_retried(method: str) -> None:
    logger.info(
        "a %s request with a streamed body was refused with 401: not sent again (its body is "
        "consumed); the next request gets the renewed token", method, extra=_extra("not_retried"),
    )


def refresh_rotated() -> None:
    logger.info(
        "refresh: the refresh token changed: only the new token set keeps access", extra=_extra("rotated"),
    )


def device_wait(seconds: float) -> None:
    if logger.isEnabledFor(_DEBUG):
        logger.debug("device flow: next poll in %s s", seconds, extra=_extra("device_wait"))
