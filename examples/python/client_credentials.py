"""grantline example: the client credentials grant, a self-renewing token, an API call.

    OAUTH_ISSUER=https://auth.example.com OAUTH_CLIENT_ID=... OAUTH_CLIENT_SECRET=... \
        python examples/python/client_credentials.py

Environment (defaults: the local Authlib test server of tests/interop and its test client):
  OAUTH_ISSUER         the authorization server (its RFC 8414 / OIDC discovery is read);
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


def discover(issuer: str) -> grantline.Provider:
    """The provider from its discovery document (RFC 8414 first, then OpenID Connect)."""
    last: Exception | None = None
    for well_known in ("oauth-authorization-server", "openid-configuration"):
        try:
            return grantline.discover(f"{issuer}/.well-known/{well_known}")
        except grantline.MalformedResponseError as e:
            last = e
    assert last is not None
    raise last


def main() -> int:
    issuer = os.environ.get("OAUTH_ISSUER") or os.environ.get("GRANTLINE_AUTHLIB_URL") or "http://127.0.0.1:5000"
    issuer = issuer.rstrip("/")
    client = grantline.Client(
        discover(issuer),
        os.environ.get("OAUTH_CLIENT_ID", "test-client"),
        client_secret=os.environ.get("OAUTH_CLIENT_SECRET", "test-secret"),
    )
    scopes = os.environ.get("OAUTH_SCOPE", "read").split()

    def persist(tokens: grantline.TokenSet) -> None:
        # Store tokens.to_json() as a secret (a file readable only by you, a secrets manager...).
        print(f"new tokens: {tokens}")

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
