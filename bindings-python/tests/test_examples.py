"""The examples in examples/python run as written against the local servers; the
authorization code example's consent is scripted like the interop suite's (a cookie-jar
browser that follows the redirects, the last one to the example's own listener)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from browser import Browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def test_client_credentials_example(authlib_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "client_credentials.py")],
        env=run_env(OAUTH_ISSUER=authlib_url), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "access token: [redacted]" in done.stdout
    assert 'API answered HTTP 200: {"client_id":"test-client"' in done.stdout
    assert "new tokens: TokenSet(access_token=[redacted]" in done.stdout
    assert "test-secret" not in done.stdout + done.stderr


def test_httpx_auth_example(authlib_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "httpx_auth.py")],
        env=run_env(OAUTH_ISSUER=authlib_url), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "httpx: [200, 200, 200]\nrequests: 200\nhttpx.AsyncClient: [200] x20\n"
    renewals = [line for line in done.stderr.splitlines() if "succeeded: a new access token" in line]
    assert len(renewals) == 2, "one token request per session: " + done.stderr
    assert "test-secret" not in done.stdout + done.stderr and "Bearer" not in done.stderr


def run_authorization_code(**env: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "authorization_code.py")],
        env=run_env(OAUTH_TIMEOUT="60", **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert "Open this URL" in header, header + (proc.stderr.read() if proc.stderr else "")
        url = proc.stdout.readline().strip()
        Browser().authorize(url, "http://127.0.0.1:8765/callback", fetch_callback=True)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return out


def test_authorization_code_example_authlib(authlib_url: str) -> None:
    out = run_authorization_code(OAUTH_ISSUER=authlib_url)
    assert "tokens: TokenSet(access_token=[redacted]" in out and "refresh_token=[redacted]" in out
    assert "API answered HTTP 200" in out and "alice" in out


def test_authorization_code_example_oidc_provider_public_client(oidc_url: str) -> None:
    out = run_authorization_code(
        OAUTH_ISSUER=oidc_url, OAUTH_CLIENT_ID="public-client", OAUTH_CLIENT_SECRET="",
        OAUTH_SCOPE="openid profile", API_URL=f"{oidc_url}/me",
    )
    assert "id_token=[redacted]" in out and "API answered HTTP 200" in out and "alice" in out
