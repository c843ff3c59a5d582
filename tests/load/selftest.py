"""Self-test of tests/load/server.py (stdlib only): starts it on a free port and checks client
authentication, rotation, reuse detection with family revocation, expiry, failure injection
(seeded, state-free) and the admin endpoints, as README.md describes them. Takes about 5 s.

    python3 tests/load/selftest.py
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote, urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES: list[str] = []
PASSED = 0
CLIENT = "load-client"
SECRET = "load-secret"


def check(cond: bool, what: str) -> None:
    global PASSED
    if cond:
        PASSED += 1
    else:
        FAILURES.append(what)
        print(f"FAIL: {what}", flush=True)


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        prefix = "load: listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise SystemExit(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line[len(prefix):]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        return err


PORT = 0


def request(method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            conn: http.client.HTTPConnection | None = None):
    """(status, headers, parsed JSON or None); ("RST", {}, None) when the connection was reset."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
    except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
        conn.close()
        return "RST", {}, None
    finally:
        if own:
            conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data) if data else None


def admin(path: str, obj: dict | None = None):
    if obj is None:
        return request("GET", path)[2]
    return request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})[2]


def token(params: dict, auth: str = "body", json_body: bool = False, conn=None):
    params = dict(params)
    headers = {}
    if auth == "body":
        params.update(client_id=CLIENT, client_secret=SECRET)
    elif auth == "basic":
        cred = f"{quote(CLIENT, safe='')}:{quote(SECRET, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    if json_body:
        headers["Content-Type"] = "application/json"
        body = json.dumps(params).encode()
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode(params).encode()
    return request("POST", "/token", body, headers, conn)


def api(access_token: str | None):
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return request("GET", "/api", None, headers)


def state(rt: str) -> str:
    return admin("/admin/check", {"refresh_token": rt})["state"]


def main() -> int:
    global PORT
    t0 = time.monotonic()
    srv = Server()
    PORT = srv.port
    tokens_seen: list[str] = []
    try:
        run(tokens_seen)
        sigterm(srv)
    finally:
        err = srv.stop()
    check("Traceback" not in err, "no traceback in the server log")
    leaked = [t for t in tokens_seen if t in err]
    check(not leaked and SECRET not in err, f"no token or secret in the server log ({len(leaked)} leaked)")
    took = time.monotonic() - t0
    if FAILURES:
        print(f"load selftest: {len(FAILURES)} FAILED, {PASSED} passed ({took:.1f}s)")
        print(err[-3000:])
        return 1
    print(f"load selftest: all {PASSED} checks passed ({took:.1f}s)")
    return 0


def run(seen: list[str]) -> None:
    stats = admin("/admin/stats")
    check(stats == {"token_requests": 0, "processed": 0, "injected_resets": 0, "injected_503": 0,
                    "issued_access_tokens": 0, "rotations": 0, "invalid_grant": 0, "reuse_detected": 0,
                    "families_revoked": 0, "api_ok": 0, "api_401": 0, "families": 0},
          f"fresh stats ({stats})")
    check(admin("/admin/config") == {"lifetime": 3, "fail_rate": 0.1, "retry_after": 1, "delay": 0.05, "seed": 1},
          "defaults")
    st, _, body = request("POST", "/admin/reset", b'{"lifetime": "3"}', {"Content-Type": "application/json"})
    check(st == 400 and body["error"] == "invalid_request", "reset refuses a non-number")
    st, _, body = request("POST", "/admin/reset", b'{"nope": 1}', {"Content-Type": "application/json"})
    check(st == 400, "reset refuses an unknown knob")
    st, h, _ = request("GET", "/admin/reset")
    check(st == 405 and h.get("allow") == "POST", "reset is POST only")
    cfg = admin("/admin/reset", {"lifetime": 2, "fail_rate": 0, "delay": 0})
    check(cfg == {"lifetime": 2, "fail_rate": 0, "retry_after": 1, "delay": 0, "seed": 1}, f"reset answer {cfg}")

    # --- client authentication
    st, h, body = token({"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": "wrong"}, auth="none")
    check(st == 401 and body["error"] == "invalid_client" and "www-authenticate" not in h, "wrong secret (post) -> 401")
    st, h, body = request("POST", "/token", b"grant_type=client_credentials",
                          {"Authorization": "Basic " + base64.b64encode(b"x:wrong").decode(),
                           "Content-Type": "application/x-www-form-urlencoded"})
    check(st == 401 and body["error"] == "invalid_client" and h.get("www-authenticate") == 'Basic realm="load"',
          "wrong secret (basic) -> 401 + WWW-Authenticate")
    st, _, body = token({"grant_type": "client_credentials"}, auth="none")
    check(st == 401 and body["error"] == "invalid_client", "no client authentication -> 401")
    st, _, body = token({"grant_type": "client_credentials", "client_secret": SECRET}, auth="basic")
    check(st == 400 and body["error"] == "invalid_request", "two client authentication methods -> 400")
    st, _, body = token({"grant_type": "authorization_code", "code": "x"})
    check(st == 400 and body["error"] == "unsupported_grant_type", "unsupported grant type")
    st, _, body = token({"grant_type": "password", "username": "u", "password": ""})
    check(st == 400 and body["error"] == "invalid_request", "password grant needs a password")

    # --- client credentials
    st, h, cc = token({"grant_type": "client_credentials"}, auth="basic")
    check(st == 200 and set(cc) == {"access_token", "token_type", "expires_in"} and cc["expires_in"] == 2
          and cc["token_type"] == "Bearer", f"client_credentials ({st} {cc and sorted(cc)})")
    check(h.get("cache-control") == "no-store", "token responses are no-store")
    seen.append(cc["access_token"])

    # --- password: a family; refresh rotates; reuse revokes the family
    st, _, t1 = token({"grant_type": "password", "username": "alice", "password": "pw"}, json_body=True)
    check(st == 200 and {"access_token", "refresh_token"} <= set(t1) and t1["expires_in"] == 2, "password grant (JSON body)")
    seen += [t1["access_token"], t1["refresh_token"]]
    check(api(t1["access_token"])[0] == 200, "the access token works on /api")
    check(state(t1["refresh_token"]) == "current", "rt1 current")

    st, _, t2 = token({"grant_type": "refresh_token", "refresh_token": t1["refresh_token"]}, auth="basic")
    check(st == 200 and t2["refresh_token"] != t1["refresh_token"] and t2["access_token"] != t1["access_token"],
          "refresh rotates both tokens")
    seen += [t2["access_token"], t2["refresh_token"]]
    check(state(t1["refresh_token"]) == "used" and state(t2["refresh_token"]) == "current", "rt1 used, rt2 current")
    check(api(t1["access_token"])[0] == 200, "old access tokens stay valid after a rotation")

    st, _, body = token({"grant_type": "refresh_token", "refresh_token": t1["refresh_token"]})
    check(st == 400 and body == {"error": "invalid_grant",
                                 "error_description": "refresh token reuse detected; family revoked"},
          f"reuse -> invalid_grant ({body})")
    check(state(t2["refresh_token"]) == "revoked" and state(t1["refresh_token"]) == "revoked", "family revoked")
    for at in (t1["access_token"], t2["access_token"]):
        st, h, body = api(at)
        check(st == 401 and h.get("www-authenticate") == 'Bearer error="invalid_token"'
              and body == {"error": "invalid_token"}, "revoked access tokens get 401 invalid_token")
    check(api(cc["access_token"])[0] == 200, "other tokens stay valid")
    st, _, body = token({"grant_type": "refresh_token", "refresh_token": t2["refresh_token"]})
    check(st == 400 and body["error"] == "invalid_grant" and "reuse" not in body.get("error_description", ""),
          "the revoked current token -> plain invalid_grant")
    st, _, body = token({"grant_type": "refresh_token", "refresh_token": "nope"})
    check(st == 400 and body["error"] == "invalid_grant", "unknown refresh token -> invalid_grant")
    check(state("nope") == "unknown", "check: unknown")
    st, _, body = token({"grant_type": "refresh_token", "refresh_token": ""})
    check(st == 400 and body["error"] == "invalid_request", "missing refresh_token -> invalid_request")

    # a family belongs to its client
    st, _, t3 = token({"grant_type": "password", "username": "bob", "password": "pw"})
    seen += [t3["access_token"], t3["refresh_token"]]
    st, _, body = request("POST", "/token", urlencode({"grant_type": "refresh_token", "refresh_token": t3["refresh_token"],
                                                       "client_id": "other", "client_secret": SECRET}).encode(),
                          {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 400 and body["error"] == "invalid_grant" and state(t3["refresh_token"]) == "current",
          "another client's refresh token -> invalid_grant, no state change")

    st, _, body = api(None)
    check(st == 401, "no token -> 401")
    check(api("garbage")[0] == 401, "unknown token -> 401")
    st, _, _ = request("POST", "/api/things", b"{}", {"Authorization": f"Bearer {t3['access_token']}"})
    check(st == 200, "any method and any path under /api")

    # expiry on the server clock
    tv = admin(f"/admin/token-valid?token={t3['access_token']}")
    check(tv["valid"] is True and abs(tv["expires_at"] - (time.time() + 2)) < 1.5, f"token-valid ({tv})")
    check(admin("/admin/token-valid?token=nope") == {"valid": False, "expires_at": None}, "token-valid unknown")
    time.sleep(2.1)
    check(api(t3["access_token"])[0] == 401, "expired access token -> 401")
    tv = admin(f"/admin/token-valid?token={t3['access_token']}")
    check(tv["valid"] is False and tv["expires_at"] is not None, "token-valid expired")
    st, _, t4 = token({"grant_type": "refresh_token", "refresh_token": t3["refresh_token"]})
    check(st == 200, "refresh tokens do not expire")
    seen += [t4["access_token"], t4["refresh_token"]]

    stats = admin("/admin/stats")
    expect = {"token_requests": 16, "processed": 16, "injected_resets": 0, "injected_503": 0,
              "issued_access_tokens": 5, "rotations": 2, "invalid_grant": 4, "reuse_detected": 1,
              "families_revoked": 1, "api_ok": 4, "api_401": 5, "families": 1}
    check(stats == expect, f"counters after the scripted run: {stats} != {expect}")

    # --- keep-alive: several requests on one connection
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    results = [token({"grant_type": "client_credentials"}, conn=conn)[0] for _ in range(3)]
    sock = conn.sock
    check(results == [200, 200, 200] and sock is not None, "keep-alive: three token requests on one connection")
    conn.close()

    # --- concurrent refreshes of one token: exactly one rotation, the rest is reuse -> revoked
    admin("/admin/reset", {"fail_rate": 0, "delay": 0.05})
    _, _, fam = token({"grant_type": "password", "username": "c", "password": "pw"})
    seen += [fam["access_token"], fam["refresh_token"]]
    results: list = []
    barrier = threading.Barrier(12)

    def racer() -> None:
        barrier.wait()
        results.append(token({"grant_type": "refresh_token", "refresh_token": fam["refresh_token"]}))

    threads = [threading.Thread(target=racer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if r[0] == 200]
    seen += [t for r in ok for t in (r[2]["access_token"], r[2]["refresh_token"])]
    reuse = [r for r in results if r[0] == 400 and r[2].get("error_description", "").startswith("refresh token reuse")]
    stats = admin("/admin/stats")
    check(len(ok) == 1 and len(reuse) == 1 and stats["rotations"] == 1 and stats["reuse_detected"] == 1
          and stats["families_revoked"] == 1 and stats["invalid_grant"] == 11 and stats["families"] == 0,
          f"12 concurrent refreshes: 1 rotation, 1 reuse, 11 invalid_grant ({stats})")
    check(state(ok[0][2]["refresh_token"]) == "revoked", "the racing winner's token is revoked with its family")

    # --- failure injection: seeded, and decided before anything changes
    admin("/admin/reset", {"fail_rate": 1, "delay": 0, "retry_after": 2})
    outcomes = [token({"grant_type": "password", "username": "f", "password": "pw"})[:2] for _ in range(20)]
    kinds = ["RST" if st == "RST" else st for st, _ in outcomes]
    check(set(kinds) == {"RST", 503}, f"fail_rate 1: only resets and 503s ({kinds})")
    check(all(h.get("retry-after") == "2" for st, h in outcomes if st == 503), "503 carries Retry-After: 2")
    stats = admin("/admin/stats")
    check(stats["processed"] == 0 and stats["families"] == 0 and stats["issued_access_tokens"] == 0
          and stats["injected_resets"] == kinds.count("RST") and stats["injected_503"] == kinds.count(503),
          f"injected failures are counted and change nothing ({stats})")

    def pattern(seed: int, n: int = 40) -> list:
        admin("/admin/reset", {"fail_rate": 0.3, "delay": 0, "seed": seed})
        return [token({"grant_type": "client_credentials"})[0] for _ in range(n)]

    p1, p2, p3 = pattern(7), pattern(7), pattern(8)
    check(p1 == p2, "the same seed gives the same failure sequence")
    check(p1 != p3, "another seed gives another sequence")
    check(all(x in (200, 503, "RST") for x in p1) and 200 in p1 and len(set(p1)) == 3,
          f"fail_rate 0.3 mixes successes, resets and 503s ({p1})")
    # /admin/reset forgets every token
    admin("/admin/reset", {"fail_rate": 0, "delay": 0})
    _, _, t5 = token({"grant_type": "password", "username": "g", "password": "pw"})
    seen += [t5["access_token"], t5["refresh_token"]]
    admin("/admin/reset", {"fail_rate": 0, "delay": 0})
    check(state(t5["refresh_token"]) == "unknown" and api(t5["access_token"])[0] == 401, "reset forgets every token")
    # a refresh failed by injection leaves its refresh token current: walk a chain through failures
    admin("/admin/reset", {"fail_rate": 0.5, "delay": 0, "seed": 3})
    fam_rt = None
    while fam_rt is None:
        st, _, body = token({"grant_type": "password", "username": "h", "password": "pw"})
        if st == 200:
            fam_rt = body["refresh_token"]
            seen += [body["access_token"], fam_rt]
    failed = 0
    for _ in range(30):
        st, _, body = token({"grant_type": "refresh_token", "refresh_token": fam_rt})
        if st == 200:
            seen += [body["access_token"], body["refresh_token"]]
            check(state(fam_rt) == "used", "a rotated token becomes used")
            fam_rt = body["refresh_token"]
        else:
            failed += 1
            check(st in (503, "RST") and state(fam_rt) == "current",
                  f"an injected failure leaves the refresh token current ({st})")
    stats = admin("/admin/stats")
    check(failed > 0 and stats["reuse_detected"] == 0 and stats["families"] == 1 and state(fam_rt) == "current",
          f"30 refreshes through injected failures: no reuse, chain intact ({failed} failed, {stats})")
    check(stats["token_requests"] == stats["processed"] + stats["injected_resets"] + stats["injected_503"],
          "token_requests = processed + injected")


def sigterm(srv: Server) -> None:
    admin("/admin/reset", {"delay": 5, "fail_rate": 0})
    t = threading.Thread(target=lambda: token({"grant_type": "client_credentials"}), daemon=True)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        srv.proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        pass
    check(srv.proc.poll() is not None and time.monotonic() - t0 < 1.5,
          f"SIGTERM stops the server at once, even mid-request ({time.monotonic() - t0:.2f}s)")


if __name__ == "__main__":
    sys.exit(main())
