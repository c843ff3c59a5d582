"""Self-test of tests/hostile/server.py (stdlib only): starts it on a free port and checks that
every route misbehaves exactly as README.md says. Takes about 10 s.

    python3 tests/hostile/selftest.py
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
HUGE = 50 * 1024 * 1024
FAILURES: list[str] = []
PASSED = 0


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
        prefix = "hostile: listening on "
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


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def send(port: int, path: str, method: str = "GET", body: bytes = b"", headers: dict | None = None,
         timeout: float = 5.0) -> socket.socket:
    s = connect(port, timeout)
    h = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    if body and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    s.sendall(head.encode() + body)
    return s


def read_head(s: socket.socket) -> tuple[int, dict, bytes]:
    """Reads a response head; returns status, lower-cased headers, and body bytes read past it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            raise EOFError(f"EOF in head after {buf!r}")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def read_to_eof(s: socket.socket, rest: bytes = b"") -> bytes:
    chunks = [rest]
    while True:
        data = s.recv(1 << 20)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def get(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without following redirects and without raising on 4xx/5xx."""
    parts = urllib.request.urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def main() -> int:
    t0 = time.monotonic()
    srv = Server()
    base, port = srv.url, srv.port
    try:
        run(base, port)
        sigterm(srv)
    finally:
        err = srv.stop()
    check("Traceback" not in err, "no traceback in the server log")
    check("S3cr3t" not in err and "hunter2" not in err, "no body or header value in the server log")
    took = time.monotonic() - t0
    if FAILURES:
        print(f"hostile selftest: {len(FAILURES)} FAILED, {PASSED} passed ({took:.1f}s)")
        print(err[-3000:])
        return 1
    print(f"hostile selftest: all {PASSED} checks passed ({took:.1f}s)")
    return 0


def run(base: str, port: int) -> None:
    # --- simple routes
    st, h, body = get(f"{base}/ok", "POST", b"grant_type=client_credentials",
                      {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and h.get("content-type") == "application/json", "/ok 200 json")
    check(json.loads(body) == {"access_token": "hostile-ok", "token_type": "Bearer", "expires_in": 3600},
          "/ok body")
    check(h.get("connection") == "close", "/ok Connection: close")

    st, h, body = get(f"{base}/error-200")
    check(st == 200 and json.loads(body) == {"error": "invalid_grant", "error_description": "bad grant"},
          "/error-200")
    st, h, body = get(f"{base}/empty-403")
    check(st == 403 and h.get("content-length") == "0" and body == b"", "/empty-403")
    st, h, body = get(f"{base}/nothing-here?x=1")
    check(st == 404 and json.loads(body) == {"error": "not_found"}, "404 for unknown paths")
    st, h, body = get(f"{base}/html-error")
    check(st == 502 and h.get("content-type", "").startswith("text/html"), "/html-error 502 text/html")
    check(1500 <= len(body) <= 3000, f"/html-error ~2 KB (got {len(body)})")
    check(b"<p>password=S3cr3t!x</p>" in body and b'"client_secret":"Xy7#longsecretvalue"' in body,
          "/html-error carries the secrets")

    # --- compression
    st, h, body = get(f"{base}/gzip", headers={"Accept-Encoding": "gzip"})
    check(st == 200 and h.get("content-encoding") == "gzip", "/gzip header")
    check(json.loads(gzip.decompress(body)) ==
          {"access_token": "gzip-token", "token_type": "Bearer", "expires_in": 3600}, "/gzip decodes")
    st, h, body = get(f"{base}/deflate", headers={"Accept-Encoding": "deflate"})
    check(st == 200 and h.get("content-encoding") == "deflate", "/deflate header")
    check(body[:1] == b"\x78", "/deflate is a zlib stream (RFC 1950)")
    check(json.loads(zlib.decompress(body)) ==
          {"access_token": "deflate-token", "token_type": "Bearer", "expires_in": 3600}, "/deflate decodes")
    st, h, body = get(f"{base}/gzip-bomb")
    check(st == 200 and h.get("content-encoding") == "gzip", "/gzip-bomb header")
    check(len(body) < 200 * 1024, f"/gzip-bomb is small compressed ({len(body)} bytes)")
    d, total, first = zlib.decompressobj(31), 0, b""
    data = body
    while data:          # inflate in bounded steps, as a capped transport would
        out = d.decompress(data, 1 << 20)
        if not first:
            first = out[:17]
        total += len(out)
        data = d.unconsumed_tail
    total += len(d.flush())
    check(total == HUGE and first == b'{"access_token":"', f"/gzip-bomb inflates to 50 MiB (got {total})")

    # --- huge bodies
    s = send(port, "/huge")
    st, h, rest = read_head(s)
    check(st == 200 and h.get("content-length") == str(HUGE), "/huge announces 50 MiB")
    body = read_to_eof(s, rest)
    s.close()
    check(len(body) == HUGE and body.startswith(b'{"access_token":"aaa') and body.endswith(b'","token_type":"Bearer"}'),
          f"/huge streams exactly 50 MiB (got {len(body)})")
    del body
    s = send(port, "/huge")
    read_head(s)
    s.recv(1 << 20)
    s.close()    # the client gives up early: the server must stop quietly and keep serving

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/huge-chunked")
    r = conn.getresponse()
    check(r.getheader("Transfer-Encoding") == "chunked" and r.getheader("Content-Length") is None,
          "/huge-chunked is chunked without length")
    total = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    conn.close()
    check(total == HUGE, f"/huge-chunked delivers 50 MiB (got {total})")

    # --- truncation, reset, hang
    s = send(port, "/close-mid-body")
    st, h, rest = read_head(s)
    body = read_to_eof(s, rest)
    check(st == 200 and h.get("content-length") == "1000" and len(body) == 10,
          f"/close-mid-body sends 10 of 1000 bytes (got {len(body)})")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/close-mid-body")
    try:
        conn.getresponse().read()
        check(False, "/close-mid-body: http.client sees IncompleteRead")
    except http.client.IncompleteRead:
        check(True, "")
    conn.close()

    s = send(port, "/reset", "POST", b"a=b")
    try:
        data = s.recv(100)
        check(False, f"/reset resets the connection (got {data!r})")
    except ConnectionResetError:
        check(True, "")
    s.close()

    s = send(port, "/hang", timeout=1.0)
    t = time.monotonic()
    try:
        data = s.recv(100)
        check(False, f"/hang never answers (got {data!r})")
    except socket.timeout:
        check(time.monotonic() - t >= 0.9, "/hang keeps the socket open")
    s.close()

    # --- drips
    s = send(port, "/drip?interval=0.25")
    st, h, rest = read_head(s)
    check(st == 200 and h.get("content-length") == "100000" and h.get("content-type") == "application/json",
          "/drip head")
    got, gaps, last = rest, [], time.monotonic()
    while len(got) < 5:
        data = s.recv(100)
        now = time.monotonic()
        check(len(data) == 1, f"/drip sends one byte at a time (got {len(data)})")
        gaps.append(now - last)
        last, got = now, got + data
    s.close()
    check(all(0.15 <= g <= 0.6 for g in gaps[1:]), f"/drip?interval=0.25 spaces bytes (gaps {gaps})")
    check(got == b'{"acc', f"/drip body starts as JSON ({got!r})")

    s = send(port, "/drip", timeout=1.6)
    _, _, first = read_head(s)
    first = first or s.recv(100)
    t = time.monotonic()
    try:
        s.recv(100)
        check(False, "/drip default interval is 2 s")
    except socket.timeout:
        check(len(first) == 1 and time.monotonic() - t >= 1.5, "/drip default interval is 2 s")
    s.close()

    s = send(port, "/drip-headers?interval=0.1", timeout=3)
    got, t = b"", time.monotonic()
    while time.monotonic() - t < 1.0:
        data = s.recv(100)
        check(len(data) == 1, f"/drip-headers sends one byte at a time (got {len(data)})")
        got += data
    s.close()
    check(b"HTTP/1.1 200 OK\r\nServer: grantline-hostile\r\n".startswith(got) and 5 <= len(got) <= 15,
          f"/drip-headers drips the head ({got!r})")

    # --- slow-ok
    t = time.monotonic()
    st, h, body = get(f"{base}/slow-ok?delay=0.6")
    took = time.monotonic() - t
    check(st == 200 and json.loads(body)["access_token"] == "hostile-ok" and 0.55 <= took < 3,
          f"/slow-ok?delay=0.6 ({took:.2f}s)")

    # --- redirects and /captured
    get(f"{base}/captured/reset", "POST")
    st, h, body = get(f"{base}/captured/reset")
    check(st == 405, "/captured/reset is POST only")
    for code in (301, 302, 303, 307, 308):
        st, h, body = get(f"{base}/redirect-{code}", "POST", b"grant_type=x",
                          {"Content-Type": "application/x-www-form-urlencoded"})
        check(st == code and h.get("location") == f"{base}/capture" and body,
              f"/redirect-{code} -> {st} {h.get('location')}")
    st, h, body = get(f"{base}/captured")
    check(st == 200 and json.loads(body) == {"count": 0, "requests": []}, "not following leaves /captured at 0")

    # a following client (urllib follows 302 for GET) lands on /capture
    with urllib.request.urlopen(f"{base}/redirect-302", timeout=5) as r:
        check(r.status == 200 and json.loads(r.read()) == {"access_token": "captured", "token_type": "Bearer"},
              "following /redirect-302 reaches /capture")
    # a direct POST with a secret header and a chunked body
    s = send(port, "/capture", "POST", b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
             {"Transfer-Encoding": "chunked", "X-Secret": "hunter2", "Authorization": "Basic aHVudGVyMg=="})
    st, _, _ = read_head(s)
    s.close()
    check(st == 200, "chunked POST to /capture")
    st, h, body = get(f"{base}/captured")
    cap = json.loads(body)
    check(cap["count"] == 2 and len(cap["requests"]) == 2, f"/captured counts 2 ({cap['count']})")
    last = cap["requests"][-1]
    check(last["method"] == "POST" and last["path"] == "/capture" and last["body_length"] == 8,
          f"/captured records method, path, body length ({last})")
    check("x-secret" in last["header_names"] and "authorization" in last["header_names"],
          "/captured records header names")
    check(b"hunter2" not in body and b"aHVudGVyMg" not in body, "/captured never shows header values")

    # tags: a redirect with ?tag=T points at /capture?tag=T; /captured?tag=T counts only those
    st, h, _ = get(f"{base}/redirect-307?tag=t%201")
    check(h.get("location") == f"{base}/capture?tag=t%201", f"tagged redirect Location ({h.get('location')})")
    get(h["location"], "POST", b"{}", {"Content-Type": "application/json"})
    st, h, body = get(f"{base}/captured?tag=t%201")
    cap = json.loads(body)
    check(cap["count"] == 1 and cap["requests"][0]["tag"] == "t 1" and cap["requests"][0]["body_length"] == 2,
          f"/captured?tag= filters ({cap})")
    check(json.loads(get(f"{base}/captured")[2])["count"] == 3, "untagged /captured counts all")
    get(f"{base}/captured/reset?tag=t%201", "POST")
    check(json.loads(get(f"{base}/captured")[2])["count"] == 2, "/captured/reset?tag= clears only the tag")
    st, _, body = get(f"{base}/captured/reset", "POST")
    check(st == 200 and json.loads(get(f"{base}/captured")[2])["count"] == 0, "/captured/reset clears")

    # --- protocol details
    s = send(port, "/ok", "POST", b"x" * 10, {"Expect": "100-continue", "Content-Length": "10"})
    data = read_to_eof(s)
    s.close()
    check(data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), "Expect: 100-continue")
    s = connect(port)
    s.sendall(b"GARBAGE-LINE-WITHOUT-VERSION\r\n\r\n")
    st, _, _ = read_head(s)
    s.close()
    check(st == 400, "a broken request line gets 400")
    st, _, _ = get(f"{base}/ok")
    check(st == 200, "still serving after all that")


def sigterm(srv: Server) -> None:
    # open connections in every kind of wait, then SIGTERM: the server must exit at once
    held = [send(srv.port, p) for p in ("/hang", "/drip", "/drip-headers", "/slow-ok?delay=60")]
    time.sleep(0.3)
    t = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        srv.proc.wait(timeout=3)
        check(True, "")
    except subprocess.TimeoutExpired:
        check(False, "SIGTERM stops the server within 3 s")
    check(time.monotonic() - t < 1.5, f"SIGTERM exit took {time.monotonic() - t:.2f}s")
    for s in held:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
