"""grantline's Python binding vs oauthlib, in the same run, on the same work.

1. A client-credentials round: build the token request body, then parse the token response.
   grantline: ``Client.client_credentials_request`` + ``TokenSet.from_response``;
   oauthlib (sans-IO too): ``BackendApplicationClient.prepare_request_body`` +
   ``parse_request_body_response``. Same client, same body bytes, same response.
2. ``python -X importtime -c "import grantline"``: the package's cumulative import time.
3. ``TokenSession.token()`` on a cached, fresh token (no network), and the bare
   ``SessionState.next()`` under it.

Run it with ``bindings-python/test.sh bench`` (release build). Targets: >= 10x oauthlib,
<= 30 ms import, <= 1 us cached token.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import timeit

import grantline

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret-0123456789"
SCOPES = ["read", "write"]
TOKEN_BODY = json.dumps(
    {
        "access_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "read write",
    }
).encode()
HEADERS = {"content-type": "application/json"}


def best(stmt: object, number: int, repeat: int = 7) -> float:
    """Seconds per call, the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number  # type: ignore[arg-type]


def interleaved(stmts: list[object], number: int, repeat: int = 15) -> list[float]:
    """Seconds per call of each statement, the best of ``repeat`` rounds in which each runs
    ``number`` times in turn: on a shared machine, every contender sees the same load."""
    timers = [timeit.Timer(s) for s in stmts]  # type: ignore[arg-type]
    bests = [float("inf")] * len(stmts)
    for _ in range(repeat):
        for i, timer in enumerate(timers):
            bests[i] = min(bests[i], timer.timeit(number) / number)
    return bests


def bench_round() -> tuple[float, float, float]:
    from oauthlib.oauth2 import BackendApplicationClient

    provider = grantline.Provider.custom(
        "bench", token_endpoint="https://as.example/token", auth_method="client_secret_post",
        grants=["client_credentials"],
    )
    client = grantline.Client(provider, CLIENT_ID, client_secret=CLIENT_SECRET)
    ours = client.client_credentials_request(SCOPES).body
    theirs = BackendApplicationClient(CLIENT_ID).prepare_request_body(
        scope=SCOPES, include_client_id=True, client_secret=CLIENT_SECRET
    )
    expected = b"grant_type=client_credentials&client_id=bench-client&client_secret=bench-secret-0123456789&scope=read+write"
    assert ours == expected, ours
    assert sorted(theirs.split("&")) == sorted(expected.decode().split("&")), theirs
    parsed = grantline.TokenSet.from_response(grantline.HttpResponse(200, HEADERS, TOKEN_BODY))
    assert parsed.scopes == SCOPES and parsed.lifetime == 3600

    def grantline_round() -> None:
        # The same inputs oauthlib gets: the scopes, then the response body (and its status).
        body = client.client_credentials_request(SCOPES).body
        tokens = grantline.TokenSet.from_response(grantline.HttpResponse(200, None, TOKEN_BODY))
        assert body and tokens

    def grantline_round_with_headers() -> None:
        # As a transport hands it over: with the response's content-type header.
        body = client.client_credentials_request(SCOPES).body
        tokens = grantline.TokenSet.from_response(grantline.HttpResponse(200, HEADERS, TOKEN_BODY))
        assert body and tokens

    token_text = TOKEN_BODY.decode()

    def oauthlib_round() -> None:
        c = BackendApplicationClient(CLIENT_ID)
        body = c.prepare_request_body(scope=SCOPES, include_client_id=True, client_secret=CLIENT_SECRET)
        token = c.parse_request_body_response(token_text, scope=SCOPES)
        assert body and token

    g, o, h = interleaved([grantline_round, oauthlib_round, grantline_round_with_headers], 3_000)
    return g, o, h


def bench_import() -> float:
    """The cumulative import time of ``grantline`` in microseconds (best of 7 fresh processes)."""
    times = []
    for _ in range(7):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import grantline"],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"},
        )
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s+grantline$", line)
            if m:
                times.append(int(m.group(1)))
    assert times, "no import time line for grantline"
    return min(times)


def bench_session() -> tuple[float, float]:
    provider = grantline.Provider.custom("bench", token_endpoint="https://as.example/token", grants=["client_credentials"])
    client = grantline.Client(provider, CLIENT_ID, client_secret=CLIENT_SECRET)
    fresh = grantline.TokenSet("cached-token", None, int(time.time()) + 3600)
    session = grantline.TokenSession.client_credentials(client, tokens=fresh)
    assert session.token() == "cached-token"
    state = grantline.SessionState.client_credentials(client, tokens=fresh)
    assert isinstance(state.next(), grantline.Ready)
    return best(session.token, 200_000), best(state.next, 200_000)


def main() -> None:
    g, o, h = bench_round()
    print("client-credentials round (build body + parse token response), same run, best of 15 interleaved runs:")
    print(f"  grantline {g * 1e6:8.2f} us   (status + body, as oauthlib gets them)")
    print(f"  grantline {h * 1e6:8.2f} us   (status + content-type header + body)")
    print(f"  oauthlib  {o * 1e6:8.2f} us")
    print(f"  grantline is {o / g:.1f}x faster ({o / h:.1f}x with the header) (target >= 10x)")
    imp = bench_import()
    print(f"import grantline (python -X importtime, cumulative, best of 7): {imp / 1000:.1f} ms (target <= 30 ms)")
    s, n = bench_session()
    print(f"TokenSession.token() on a cached token: {s * 1e9:.0f} ns (target <= 1 us); SessionState.next(): {n * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
