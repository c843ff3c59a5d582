"""Every ```python block of bindings-python/README.md (and of the project's README.md) runs as
written, in order, in one namespace, against the local Authlib server. The only substitutions are the documented ones:
the provider URL and the client credentials."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Dict, List

from browser import Browser
from conftest import CALLBACK

README = Path(__file__).resolve().parents[1] / "README.md"
PROJECT_README = Path(__file__).resolve().parents[2] / "README.md"


def blocks(readme: Path = README) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", readme.read_text(encoding="utf-8"), flags=re.S | re.M)


def run_blocks(found: list[str], authlib_url: str, out: io.StringIO) -> Dict[str, Any]:
    ns: Dict[str, Any] = {"__name__": "readme"}
    for i, block in enumerate(found):
        code = (
            block.replace("https://auth.example.com", authlib_url)
            .replace("YOUR_CLIENT_ID", "test-client")
            .replace("YOUR_CLIENT_SECRET", "test-secret")
        )
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md python block {i + 1}", "exec"), ns)
    return ns


def test_the_project_readme_python_quick_start_works_as_written(authlib_url: str) -> None:
    found = blocks(PROJECT_README)
    assert len(found) >= 2
    out = io.StringIO()
    ns = run_blocks(found, authlib_url, out)
    printed = out.getvalue()
    assert "TokenSet(access_token=[redacted]" in printed
    assert "200" in printed and "invalid_client 401" in printed
    assert "test-secret" not in printed
    assert "tokens" in ns["saved"], "on_tokens persisted the session's token set"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


OIDC_MARK = "https://login.example.com"
#: The Redis of the fleet block (tests/interop/servers.sh run starts one).
REDIS_URL = os.environ.get("GRANTLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
KEYS = Path(__file__).resolve().parents[2] / "tests" / "interop" / "keys"


def test_the_openid_connect_and_private_key_jwt_blocks_work_as_written(oidc_url: str) -> None:
    """The README's OpenID Connect blocks (those naming login.example.com) against oidc-provider:
    log in, validate, userinfo, logout URL; then private_key_jwt with the jwt-client test key."""
    found = [b for b in blocks() if OIDC_MARK in b or "YOUR_PRIVATE_JWK_FILE" in b]
    assert len(found) == 2
    ns: Dict[str, Any] = {"__name__": "readme"}
    exec("import grantline", ns)
    out = io.StringIO()
    for i, block in enumerate(found):
        code = (
            block.replace(OIDC_MARK, oidc_url)
            .replace("YOUR_OIDC_CLIENT_ID", "test-client")
            .replace("YOUR_OIDC_CLIENT_SECRET", "test-secret")
            .replace("YOUR_JWT_CLIENT_ID", "jwt-client")
            .replace("YOUR_PRIVATE_JWK_FILE", str(KEYS / "jwt-client.private.jwk.json"))
        )
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md OIDC block {i + 1}", "exec"), ns)
        if "def oidc_login" in block:
            url, pending = ns["oidc_login"]()
            with contextlib.redirect_stdout(out):
                sub, _email, logout = ns["oidc_callback"](pending, Browser().authorize(url, CALLBACK))
            assert sub == "alice" and logout.startswith(f"{oidc_url}/session/end?")
    printed = out.getvalue()
    assert "IdTokenClaims(iss=" in printed and "private_key_jwt" in printed
    assert 'SigningKey(algorithm="ES256"' in printed
    public = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    assert len(public) == 1 and public[0]["kty"] == "EC" and "d" not in public[0]
    assert "test-secret" not in printed


def test_every_python_block_of_the_readme_works_as_written(authlib_url: str) -> None:
    found = [b for b in blocks() if OIDC_MARK not in b and "YOUR_PRIVATE_JWK_FILE" not in b]
    assert len(found) >= 12, (
        "httpx, requests, httpx async, client credentials, sans-IO, authorization code, session, "
        "introspection, async, errors, transports, logging"
    )
    assert "grantline.httpx.TokenAuth" in found[0], "the native form comes first"
    ns: Dict[str, Any] = {"__name__": "readme"}
    out = io.StringIO()
    logger = logging.getLogger("grantline")
    handlers, level = logger.handlers[:], logger.level
    records = Records()
    logger.addHandler(records)
    try:
        for i, block in enumerate(found):
            code = (
                block.replace("https://auth.example.com", authlib_url)
                .replace("YOUR_CLIENT_ID", "test-client")
                .replace("YOUR_CLIENT_SECRET", "test-secret")
                .replace("redis://127.0.0.1:6379/0", REDIS_URL)
            )
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"README.md python block {i + 1}", "exec"), ns)
            if "def start_login" in block:
                # The web app's two routes, with a scripted browser in between.
                url = ns["start_login"]("session-1")
                callback = Browser().authorize(url, CALLBACK)
                tokens = ns["finish_login"]("session-1", callback)
                assert tokens.refresh_token is not None and ns["pending_store"] == {}
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    printed = out.getvalue()
    assert "200 test-client\n200\n" in printed, "the httpx and requests adapters"
    assert printed.count("[200, 200, 200, 200, 200, 200, 200, 200, 200, 200]") == 2, "the async adapter, the async session"
    assert "TokenSet(access_token=[redacted]" in printed
    assert "200 b'{" in printed, "the session's API call"
    assert "active: True\nactive: False" in printed, "introspection, revocation"
    assert "True 1 0" in printed, "the fleet block: the second process took the token from Redis"
    assert "invalid_client 401" in printed
    assert "test-secret" not in printed and "not-the-secret" not in printed
    assert "grant_type=client_credentials" in printed and "[redacted]" in printed
    renewed = [r for r in records.records if getattr(r, "grantline_event", None) == "renewed"]
    assert renewed and renewed[-1].levelno == logging.INFO, "the logging block's renewal was logged"
    shown = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in records.records)
    assert "test-secret" not in shown and "Bearer " not in shown
