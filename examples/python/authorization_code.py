"""grantline example: the authorization code grant with PKCE, and a local redirect listener.

    python examples/python/authorization_code.py

It starts a listener on the redirect URI (127.0.0.1 only), prints the authorization URL for you
to open in a browser (or opens it with OAUTH_OPEN_BROWSER=1), checks the callback (state, PKCE,
RFC 9207 iss), exchanges the code, prints the token set (secrets redacted) and calls an API.

Environment (defaults: the local Authlib test server of tests/interop and its test client):
  OAUTH_ISSUER         default $GRANTLINE_AUTHLIB_URL, else http://127.0.0.1:5000
  OAUTH_CLIENT_ID      default test-client
  OAUTH_CLIENT_SECRET  default test-secret ("" for a public client)
  OAUTH_REDIRECT_URI   default http://127.0.0.1:8765/callback (registered at the provider)
  OAUTH_SCOPE          default "read profile"
  OAUTH_PARAMS         extra authorization parameters, as a query string (e.g. "prompt=consent")
  API_URL              default <issuer>/api/me ("" to skip the call)
  OAUTH_TIMEOUT        seconds to wait for the callback, default 300
"""

from __future__ import annotations

import http.server
import os
import queue
import sys
import threading
import urllib.parse
import webbrowser

import grantline


def listen(redirect_uri: str) -> tuple[http.server.HTTPServer, queue.Queue[str]]:
    """A one-shot HTTP listener on the redirect URI's loopback host and port: it hands the full
    callback URL over through the queue."""
    target = urllib.parse.urlsplit(redirect_uri)
    host = target.hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"the redirect URI must be on loopback to listen on it: {redirect_uri}")
    callbacks: queue.Queue[str] = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path != target.path:
                self.send_error(404)
                return
            callbacks.put(f"{target.scheme}://{target.netloc}{self.path}")
            body = b"<!doctype html><p>Signed in. You can close this window.</p>"
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the query carries the code and state: never log it

    server = http.server.HTTPServer((host, target.port or 80), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, callbacks


def main() -> int:
    issuer = (os.environ.get("OAUTH_ISSUER") or os.environ.get("GRANTLINE_AUTHLIB_URL") or "http://127.0.0.1:5000").rstrip("/")
    redirect_uri = os.environ.get("OAUTH_REDIRECT_URI", "http://127.0.0.1:8765/callback")
    secret = os.environ.get("OAUTH_CLIENT_SECRET", "test-secret")
    client = grantline.Client(
        grantline.discover(issuer),
        os.environ.get("OAUTH_CLIENT_ID", "test-client"),
        client_secret=secret or None,
        redirect_uri=redirect_uri,
    )
    params = urllib.parse.parse_qsl(os.environ.get("OAUTH_PARAMS", ""))
    server, callbacks = listen(redirect_uri)
    try:
        auth = client.authorization_url(os.environ.get("OAUTH_SCOPE", "read profile").split(), params=params)
        print("Open this URL in your browser to sign in:", flush=True)
        print(auth.url, flush=True)
        if os.environ.get("OAUTH_OPEN_BROWSER") == "1":
            webbrowser.open(auth.url)
        try:
            callback = callbacks.get(timeout=float(os.environ.get("OAUTH_TIMEOUT", "300")))
        except queue.Empty:
            print("no callback came", file=sys.stderr)
            return 1
    finally:
        server.shutdown()
    try:
        grant = client.callback(auth.pending, callback)  # state, iss, error=... checked here
        tokens = grantline.exchange_code(client, grant)
    except grantline.StateMismatchError:
        print("the callback does not answer our request (possible CSRF): refused", file=sys.stderr)
        return 1
    except grantline.OAuthError as e:
        print(f"the server refused: {e.error} ({e.description})", file=sys.stderr)
        return 1
    print(f"tokens: {tokens}", flush=True)
    api = os.environ.get("API_URL", f"{issuer}/api/me")
    if api:
        session = grantline.TokenSession.from_tokens(client, tokens, on_tokens=lambda t: print(f"renewed: {t}"))
        response = session.request("GET", api)
        print(f"API answered HTTP {response.status}: {response.body.decode(errors='replace')}")
        return 0 if response.status == 200 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
