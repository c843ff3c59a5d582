"""grantline example: the client credentials grant, a self-renewing token, an API call.

    OAUTH_ISSUER=https://auth.example.com OAUTH_CLIENT_ID=... OAUTH_CLIENT_SECRET=... \
        python examples/python/client_credentials.py

Environment (defaults: the local Authlib test server of tests/interop and its test client):
  OAUTH_ISSUER         the authorization server's issuer (its RFC 8414 / OpenID Connect
                       discovery document is read, and must name this issuer);
                       default $GRANTLINE_AUTHLIB_URL, else http://127.0.0.1:5000
  OAUTH_CLIENT_ID      default test-client
  OAUTH_CLIENT_SECRET  default test-secret
  OAUTH_SCOPE          space-separated scopes, default "read"
  API_URL              an API to call with the token, default <issuer>/api/me
"""

from __future__ import annotations

import os
import sys

import grantline


def main() -> int:
    issuer = os.environ.get("OAUTH_ISSUER") or os.environ.get("GRANTLINE_AUTHLIB_URL") or "http://127.0.0.1:5000"
    issuer = issuer.rstrip("/")
    client = grantline.Client(
        grantline.discover(issuer),
        os.environ.get("OAUTH_CLIENT_ID", "test-client"),
        client_secret=os.environ.get("OAUTH_CLIENT_SECRET", "test-secret"),
    )
    scopes = os.environ.get("OAUTH_SCOPE", "read").split()

    def persist(tokens: grantline.TokenSet, *, refresh_token_rotated: bool) -> None:
        # Store tokens.to_json() as a secret (a file readable only by you, a secrets manager...).
        # When the refresh token rotated, only this new set keeps access: never skip storing it.
        print(f"new tokens: {tokens} (refresh token rotated: {refresh_token_rotated})")

    session = grantline.TokenSession.client_credentials(client, scopes, on_tokens=persist)
    try:
        token = session.token()
        print(f"access token: {token} (read it with .secret())")
        response = session.request("GET", os.environ.get("API_URL", f"{issuer}/api/me"))
    except grantline.OAuthError as e:
        print(f"the server refused: {e.error} ({e.description}), HTTP {e.status}", file=sys.stderr)
        return 1
    except grantline.GrantlineError as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1
    print(f"API answered HTTP {response.status}: {response.body.decode(errors='replace')}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
