"""Log records on logging.getLogger("grantline"): renewals, rotations, failures with their
backoff, waits, abandoned renewals, refused tokens, at their levels; and never a secret in any
record (message, arguments, extra fields, exception info), through real flows: threads and
tasks, rotation, failures, hostile answers that echo secrets back, an ``on_tokens`` that
raises with a token in its message, the adapters, and the real servers of tests/interop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Iterator, List

import httpx
import pytest

import grantline
import grantline.httpx
from grantline import AsyncTokenSession, HttpResponse, TokenSession

from api_server import Api, Issuer, chunks
from conftest import CLIENT_SECRET, PASSWORD, confidential, in_threads
from test_liveness import NOW, AsyncScripted, Clock, Scripted, answer, client, initial

PAGE = (
    "<html><p>password=wonderland-Pa55</p><p>client_secret=client-secret-x9</p>"
    "<p>Authorization: Bearer at-1</p><p>rt-1 rt-2</p></html>"
)


class Capture(logging.Handler):
    """Every record of the "grantline" logger, DEBUG and up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock_:
            self.records.append(record)

    def events(self) -> List[str]:
        return [getattr(r, "grantline_event", "?") for r in self.records]

    def of(self, event: str) -> List[logging.LogRecord]:
        return [r for r in self.records if getattr(r, "grantline_event", None) == event]

    def everything(self) -> str:
        """All a handler or formatter could show of every record."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        shown = []
        for r in self.records:
            shown.append(formatter.format(r))
            shown.append(repr(vars(r)))
            shown.append(repr(r.args))
            if r.exc_info:
                shown.append(formatter.formatException(r.exc_info))
        return "\n".join(shown)

    def assert_no_secret(self, secrets: List[str]) -> None:
        text = self.everything()
        for secret in secrets:
            assert secret not in text, f"{secret!r} is in a log record:\n{text}"
        assert all(r.exc_info is None and r.stack_info is None for r in self.records)


@pytest.fixture
def logs() -> Iterator[Capture]:
    logger = logging.getLogger("grantline")
    capture = Capture()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)


SECRETS = ["client-secret-x9", "at-1", "at-2", "at-3", "rt-1", "rt-2", "rt-3", "wonderland-Pa55", "code-77"]


def test_a_session_life_logged_at_its_levels_without_a_secret(logs: Capture) -> None:
    clock = Clock()
    release = threading.Event()
    hostile_400 = HttpResponse(400, {"content-type": "application/json"}, json.dumps({
        "error": "invalid_request",
        "error_description": "refresh token rt-2 and secret client-secret-x9 are wrong",
        "error_uri": "https://as.example/errors?token=at-2",
    }).encode())
    hostile_502 = HttpResponse(502, {"content-type": "text/html"}, PAGE.encode())
    transport = Scripted(
        answer("at-1", "rt-1"),                       # renewal 1: the first token
        answer("at-2", "rt-2"),                       # renewal 2: rotation
        ConnectionResetError("reset while sending at-2"),  # renewal 3: transport failure
        hostile_400,                                  # renewal 4: an OAuth error echoing secrets
        hostile_502,                                  # renewal 5: an HTML page echoing secrets
        answer("at-3", "rt-3"),                       # renewal 6: success again
        hold=release,
    )

    def persist(tokens: grantline.TokenSet) -> None:
        raise RuntimeError(f"cannot store {tokens.access_token.secret()}")  # an app that leaks in its message

    session = TokenSession.from_tokens(client(), initial("at-0", "rt-0", expires_in=100), transport=transport,
                                       clock=clock, on_tokens=persist, skew=30)
    clock.now = NOW + 200  # expired: every caller waits for renewal 1
    threading.Thread(target=lambda: (transport.started.wait(5), time.sleep(0.2), release.set()), daemon=True).start()
    results = in_threads(5, session.token)
    assert sum(isinstance(r, RuntimeError) for r in results) == 1, "on_tokens' error reached the renewer"
    assert all(r.secret() == "at-1" for r in results if not isinstance(r, RuntimeError))
    assert session.reject("at-1") and not session.reject("at-1-old")
    with pytest.raises(RuntimeError):
        session.token()  # renewal 2, rotated; on_tokens raises again
    clock.now = NOW + 280  # at-2 (NOW+200, 100 s) within the skew: renewal 3 fails, at-2 still valid
    assert session.token() == "at-2"
    for _ in range(2):  # renewals 4 and 5 fail too, each after its backoff
        clock.now = max(session.retry_at or 0, clock.now)
        assert session.token() == "at-2"
    assert session.failures == 3
    clock.now = max(session.retry_at or 0, clock.now)
    with pytest.raises(RuntimeError):
        session.token()  # renewal 6
    assert session.tokens is not None and session.tokens.access_token == "at-3"

    logs.assert_no_secret([*SECRETS, "at-0", "rt-0"])
    levels = {(getattr(r, "grantline_event"), r.levelname) for r in logs.records}
    assert {("renewing", "DEBUG"), ("waiting", "DEBUG"), ("renewed", "INFO"), ("rotated", "INFO"),
            ("failed", "WARNING"), ("rejected", "INFO"), ("rejected", "DEBUG"),
            ("undelivered", "WARNING")} <= levels, levels
    assert len(logs.of("renewing")) == 6 and len(logs.of("renewed")) == 3
    failed = logs.of("failed")
    assert [getattr(r, "grantline_failures") for r in failed] == [1, 2, 3]
    assert all(getattr(r, "grantline_retry_at") is not None and "next attempt in" in r.getMessage() for r in failed)
    assert "the current token stays in use" in failed[0].getMessage()
    assert "transport, POST https://as.example/token: ConnectionResetError;" in failed[0].getMessage()
    assert "oauth, invalid_request, HTTP 400" in failed[1].getMessage()
    assert "unexpected_status, HTTP 502" in failed[2].getMessage()
    assert all("RuntimeError" in r.getMessage() for r in logs.of("undelivered"))
    # The fast path writes nothing.
    before = len(logs.records)
    for _ in range(100):
        session.token()
    assert len(logs.records) == before


def test_no_usable_token_left_backoff_and_abandon_asyncio(logs: Capture) -> None:
    async def go() -> None:
        clock = Clock()
        transport = AsyncScripted(
            HttpResponse(401, {"content-type": "application/json"},
                         b'{"error":"invalid_client","error_description":"client-secret-x9 unknown"}'),
            answer("at-1"),
        )
        session = AsyncTokenSession.client_credentials(client(), transport=transport, clock=clock)
        results = await asyncio.gather(*(session.token() for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, grantline.OAuthError) for r in results)
        clock.now = session.retry_at or clock.now
        hold = asyncio.Event()
        transport.ahold = hold
        caller = asyncio.ensure_future(session.token())
        for _ in range(5):
            await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        for _ in range(5):
            await asyncio.sleep(0)

    asyncio.run(go())
    (failed,) = logs.of("failed")
    assert failed.levelno == logging.WARNING
    assert "oauth, invalid_client, HTTP 401" in failed.getMessage()
    assert "no usable token is left" in failed.getMessage()
    (abandoned,) = logs.of("abandoned")
    assert abandoned.levelno == logging.INFO and getattr(abandoned, "grantline_renewal") == 2
    assert len(logs.of("waiting")) == 2, "two tasks waited for renewal 1"
    logs.assert_no_secret(SECRETS)


def test_the_adapters_and_one_call_flows_log_without_a_secret(logs: Capture, authlib: grantline.Provider,
                                                             authlib_url: str) -> None:
    api = Api().start()
    try:
        issuer = Issuer(api)
        session = TokenSession.client_credentials(client(), transport=issuer)
        with httpx.Client(auth=grantline.httpx.TokenAuth(session)) as http:
            http.get(f"{api.url}/api")
            api.revoke_all()
            assert http.get(f"{api.url}/api").status_code == 200
            api.revoke_all()
            assert http.post(f"{api.url}/api", content=chunks(10)).status_code == 401
    finally:
        api.stop()
    assert [r.levelname for r in logs.of("not_retried")] == ["INFO"]
    assert len(logs.of("rejected")) == 2
    # Real servers: the password grant with rotation, one-call refresh with rotation.
    c = confidential(authlib)
    tokens = grantline.password(c, "alice", PASSWORD, ["read"])
    renewed = grantline.refresh(c, tokens)
    rotated = logs.of("rotated")
    assert rotated and rotated[-1].levelno == logging.INFO
    user = TokenSession.from_tokens(c, renewed)
    assert user.reject(user.token())
    user.token()
    secrets = [*issuer.issued, CLIENT_SECRET, PASSWORD]
    for t in (tokens, renewed, user.tokens):
        assert t is not None and t.refresh_token is not None
        secrets += [t.access_token.secret(), t.refresh_token.secret()]
    logs.assert_no_secret(secrets)


def test_the_logger_is_silent_unless_configured() -> None:
    logger = logging.getLogger("grantline")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
