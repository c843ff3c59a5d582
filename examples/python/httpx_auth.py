"""grantline example: your own httpx client (and requests session), authenticated by a grantline
token session, with grantline's log records shown.

    OAUTH_ISSUER=https://auth.example.com OAUTH_CLIENT_ID=... OAUTH_CLIENT_SECRET=... \
        python examples/python/httpx_auth.py

It needs httpx and requests (`pip install 'grantline[httpx,requests]'`). Every API request gets
`Authorization: Bearer` from one shared TokenSession: one token request for all the calls, a
renewal ahead of expiry, and on 401 invalid_token one renewal and one retry. grantline's log
records (renewals, rotations, failures, backoff; never a secret) go to stderr.

Environment (defaults: the local Authlib test server of tests/interop and its test client):
  OAUTH_ISSUER         default $GRANTLINE_AUTHLIB_URL, else http://127.0.0.1:5000
  OAUTH_CLIENT_ID      default test-client
  OAUTH_CLIENT_SECRET  default test-secret
  OAUTH_SCOPE          space-separated scopes, default "read"
  API_URL              an API to call with the token, default <issuer>/api/me
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import httpx
import requests

import grantline
import grantline.httpx
import grantline.requests


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("grantline").setLevel(logging.INFO)

    issuer = (os.environ.get("OAUTH_ISSUER") or os.environ.get("GRANTLINE_AUTHLIB_URL") or "http://127.0.0.1:5000").rstrip("/")
    api_url = os.environ.get("API_URL", f"{issuer}/api/me")
    scopes = os.environ.get("OAUTH_SCOPE", "read").split()
    try:
        client = grantline.Client(
            grantline.discover(issuer),
            os.environ.get("OAUTH_CLIENT_ID", "test-client"),
            client_secret=os.environ.get("OAUTH_CLIENT_SECRET", "test-secret"),
        )
        session = grantline.TokenSession.client_credentials(client, scopes)

        # httpx: the session is the client's auth.
        with httpx.Client(auth=grantline.httpx.TokenAuth(session), timeout=10) as api:
            statuses = [api.get(api_url).status_code for _ in range(3)]
        print(f"httpx: {statuses}")

        # requests: the same session, so the same token.
        with requests.Session() as plain:
            plain.auth = grantline.requests.TokenAuth(session)
            print(f"requests: {plain.get(api_url, timeout=10).status_code}")

        # asyncio: an AsyncTokenSession for httpx.AsyncClient; 20 tasks, one token request.
        async def concurrently() -> list[int]:
            async with grantline.AsyncTokenSession.client_credentials(client, scopes) as tasks:
                async with httpx.AsyncClient(auth=grantline.httpx.TokenAuth(tasks), timeout=10) as api:
                    responses = await asyncio.gather(*(api.get(api_url) for _ in range(20)))
            return [r.status_code for r in responses]

        print(f"httpx.AsyncClient: {sorted(set(asyncio.run(concurrently())))} x20")
    except grantline.OAuthError as e:
        print(f"the server refused: {e.error} ({e.description}), HTTP {e.status}", file=sys.stderr)
        return 1
    except (grantline.GrantlineError, httpx.HTTPError, requests.RequestException) as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
