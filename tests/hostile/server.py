"""A hostile loopback HTTP/1.1 server for grantline's transport tests (stdlib only, Python 3.9+).

    python3 tests/hostile/server.py PORT        (PORT 0 picks a free one)

Listens on 127.0.0.1 only and prints ``hostile: listening on http://127.0.0.1:PORT`` to stdout.
It reads each request itself from the raw socket (request line, headers, body by Content-Length
or chunked) so that it can misbehave precisely: slow-drip bodies and headers, hangs, resets,
truncated bodies, 50 MB bodies, gzip bombs, redirects (with a capture endpoint that shows whether
a transport followed them), HTML error pages with secrets in them. Every response carries
``Connection: close`` and the connection is closed after it. Routes: see README.md in this folder.

One line per request goes to stderr (peer, method, path without the query, what was done); never
header values or bodies. SIGTERM / SIGINT exit at once (all connection threads are daemons).
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib
from urllib.parse import parse_qs, quote, urlsplit

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024            # request line + headers
MAX_BODY = 16 * 1024 * 1024     # request body (read and discarded; only its length is kept)
READ_TIMEOUT = 10.0             # seconds to receive the whole request
SEND_TIMEOUT = 30.0             # a client that stops reading (without closing) is dropped after this
MAX_HOLD = 120.0                # /drip, /drip-headers, /hang, /slow-ok never hold a socket longer
MAX_CAPTURED = 1000             # /captured keeps the last N requests (the count is exact)

HUGE_SIZE = 50 * 1024 * 1024    # /huge, /huge-chunked, /gzip-bomb (inflated)
DRIP_LENGTH = 100000            # Content-Length announced by /drip

OK_BODY = b'{"access_token":"hostile-ok","token_type":"Bearer","expires_in":3600}'
GZIP_JSON = b'{"access_token":"gzip-token","token_type":"Bearer","expires_in":3600}'
DEFLATE_JSON = b'{"access_token":"deflate-token","token_type":"Bearer","expires_in":3600}'
CAPTURE_BODY = b'{"access_token":"captured","token_type":"Bearer"}'
ERROR_200_BODY = b'{"error":"invalid_grant","error_description":"bad grant"}'
NOT_FOUND_BODY = b'{"error":"not_found"}'
HUGE_PREFIX = b'{"access_token":"'
HUGE_SUFFIX = b'","token_type":"Bearer"}'

REASONS = {
    100: "Continue", 200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    431: "Request Header Fields Too Large", 502: "Bad Gateway",
}


def _html_error_page() -> bytes:
    """A ~2 KB proxy-style error page with secret-looking strings that must never reach an error
    message: ``password=S3cr3t!x``, ``"client_secret":"Xy7#longsecretvalue"``, a bearer token."""
    rows = "\n".join(
        f"      <tr><td>upstream-{i}</td><td>10.0.{i}.17:8443</td><td>connect() failed (111)</td></tr>"
        for i in range(12)
    )
    page = f"""<!DOCTYPE html>
<html>
  <head><title>502 Bad Gateway</title></head>
  <body>
    <h1>502 Bad Gateway</h1>
    <p>The upstream authorization server did not answer. Debug dump follows.</p>
    <p>password=S3cr3t!x</p>
    <pre>request body: {{"grant_type":"client_credentials","client_id":"app","client_secret":"Xy7#longsecretvalue"}}</pre>
    <pre>Authorization: Bearer hostile-leaked-access-token-0123456789</pre>
    <table>
{rows}
    </table>
    <hr><address>hostile/1.0 (grantline test server)</address>
  </body>
</html>
"""
    return page.encode()


HTML_ERROR_BODY = _html_error_page()


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)      # wbits 31: gzip container (RFC 1952)
    return c.compress(data) + c.flush()


GZIP_BODY = _gzip(GZIP_JSON)
DEFLATE_BODY = zlib.compress(DEFLATE_JSON, 9)       # zlib container (RFC 1950), what "deflate" means

_bomb_lock = threading.Lock()
_bomb: bytes | None = None


def gzip_bomb() -> bytes:
    """gzip of exactly HUGE_SIZE bytes: ``{"access_token":"aaaa...a","token_type":"Bearer"}``
    (about 50 KB compressed); built once, on first use, without holding 50 MB in memory."""
    global _bomb
    with _bomb_lock:
        if _bomb is None:
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            parts = [c.compress(HUGE_PREFIX)]
            left = HUGE_SIZE - len(HUGE_PREFIX) - len(HUGE_SUFFIX)
            block = b"a" * (1024 * 1024)
            while left > 0:
                n = min(left, len(block))
                parts.append(c.compress(block[:n]))
                left -= n
            parts.append(c.compress(HUGE_SUFFIX))
            parts.append(c.flush())
            _bomb = b"".join(parts)
        return _bomb


def huge_blocks(block_size: int = 64 * 1024):
    """Yields exactly HUGE_SIZE bytes: ``{"access_token":"aaaa...a","token_type":"Bearer"}``."""
    yield HUGE_PREFIX
    left = HUGE_SIZE - len(HUGE_PREFIX) - len(HUGE_SUFFIX)
    block = b"a" * block_size
    while left > 0:
        n = min(left, block_size)
        yield block if n == block_size else block[:n]
        left -= n
    yield HUGE_SUFFIX


class Captures:
    """What /capture received: method, path, tag, body length and header *names* (never values)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []
        self.count = 0          # exact, even when items was trimmed
        self.counts: dict[str, int] = {}

    def add(self, item: dict) -> None:
        with self.lock:
            self.count += 1
            tag = item.get("tag") or ""
            self.counts[tag] = self.counts.get(tag, 0) + 1
            self.items.append(item)
            del self.items[:-MAX_CAPTURED]

    def snapshot(self, tag: str | None) -> dict:
        with self.lock:
            if tag is None:
                return {"count": self.count, "requests": list(self.items)}
            return {"count": self.counts.get(tag, 0),
                    "requests": [i for i in self.items if i.get("tag") == tag]}

    def reset(self, tag: str | None) -> None:
        with self.lock:
            if tag is None:
                self.items, self.count, self.counts = [], 0, {}
            else:
                self.count -= self.counts.pop(tag, 0)
                self.items = [i for i in self.items if i.get("tag") != tag]


CAPTURES = Captures()
_log_lock = threading.Lock()


def log(line: str) -> None:
    with _log_lock:
        try:
            sys.stderr.write(f"hostile: {line}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class ClientGone(Exception):
    """The client closed or reset the connection, or stopped reading for SEND_TIMEOUT."""


class Request:
    def __init__(self, method: str, target: str, version: str, headers: list[tuple[str, str]]) -> None:
        self.method, self.target, self.version, self.headers = method, target, version, headers
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.body_length = 0

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class Handler(socketserver.BaseRequestHandler):
    server: "HostileServer"

    # ------------------------------------------------------------------ socket reading
    def setup(self) -> None:
        self.sock: socket.socket = self.request
        self.buf = bytearray()
        self.note = ""           # what was done, for the log line
        self.status = 0
        try:
            self.peer = "%s:%d" % self.client_address[:2]
        except (TypeError, ValueError):
            self.peer = "?"

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BadRequest(408, "request not received in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise BadRequest(408, "request not received in time") from None
        if not data:
            raise ClientGone("closed while sending the request")
        self.buf += data

    def _readline(self, deadline: float, limit: int) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > limit:
                raise BadRequest(431, "line too long")
            self._fill(deadline)

    def _discard(self, n: int, deadline: float) -> None:
        while n > 0:
            if not self.buf:
                self._fill(deadline)
            k = min(n, len(self.buf))
            del self.buf[:k]
            n -= k

    def read_request(self) -> Request:
        deadline = time.monotonic() + READ_TIMEOUT
        while True:          # tolerate empty lines before the request line (RFC 9112 2.2)
            i = self.buf.find(b"\r\n\r\n")
            j = self.buf.find(b"\n\n")
            ends = [e + 4 for e in (i,) if e >= 0] + [e + 2 for e in (j,) if e >= 0]
            if ends:
                end = min(ends)
                head = bytes(self.buf[:end])
                del self.buf[:end]
                if head.strip():
                    break
                continue
            if len(self.buf) > MAX_HEAD:
                raise BadRequest(431, "request head too large")
            self._fill(deadline)
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise BadRequest(400, "bad request line")
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest(400, "bad header line")
            headers.append((name, value.strip()))
        req = Request(parts[0], parts[1], parts[2], headers)

        te = (req.header("transfer-encoding") or "").lower()
        cl = req.header("content-length")
        expects_body = "chunked" in te or (cl is not None and cl.strip() != "0")
        if expects_body and (req.header("expect") or "").lower() == "100-continue":
            self.send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in te:
            while True:
                size_line = self._readline(deadline, 1024).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise BadRequest(400, "bad chunk size") from None
                if size == 0:
                    while self._readline(deadline, MAX_HEAD).strip():   # trailers
                        pass
                    break
                req.body_length += size
                if req.body_length > MAX_BODY:
                    raise BadRequest(413, "request body too large")
                self._discard(size + 2, deadline)                         # data + CRLF
        elif cl is not None:
            try:
                n = int(cl.strip())
            except ValueError:
                raise BadRequest(400, "bad Content-Length") from None
            if n < 0:
                raise BadRequest(400, "bad Content-Length")
            if n > MAX_BODY:
                raise BadRequest(413, "request body too large")
            self._discard(n, deadline)
            req.body_length = n
        return req

    # ------------------------------------------------------------------ socket writing
    def send_raw(self, data: bytes) -> None:
        self.sock.settimeout(SEND_TIMEOUT)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout) as e:
            raise ClientGone(type(e).__name__) from None

    def head(self, status: int, content_type: str | None, length: int | None,
             extra: list[tuple[str, str]] = ()) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", "Server: grantline-hostile"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k}: {v}" for k, v in extra]
        lines += ["Cache-Control: no-store", "Connection: close", "", ""]
        self.status = status
        return "\r\n".join(lines).encode("latin-1")

    def respond(self, status: int, body: bytes = b"", content_type: str | None = "application/json",
                extra: list[tuple[str, str]] = ()) -> None:
        self.send_raw(self.head(status, content_type, len(body), extra) + body)

    def respond_json(self, status: int, obj) -> None:
        self.respond(status, json.dumps(obj, separators=(",", ":")).encode())

    def wait(self, seconds: float) -> bool:
        """Sleeps up to `seconds`; returns False early when the client closes or resets the socket
        (anything it sends meanwhile is read and dropped)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            try:
                readable, _, _ = select.select([self.sock], [], [], left)
            except (OSError, ValueError):
                return False
            if readable:
                try:
                    self.sock.settimeout(0.0)
                    data = self.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return False
                if not data:
                    return False

    # ------------------------------------------------------------------ the request
    def handle(self) -> None:
        method, path = "-", "-"
        try:
            try:
                req = self.read_request()
            except BadRequest as e:
                self.note = e.reason
                self.respond_json(e.status, {"error": "invalid_request", "error_description": e.reason})
                return
            method, path = req.method, req.path
            self.route(req)
        except ClientGone as e:
            self.note = (self.note + "; " if self.note else "") + f"client gone ({e})"
        except OSError as e:
            self.note = (self.note + "; " if self.note else "") + f"socket error ({type(e).__name__})"
        except Exception as e:   # never let one connection take the server down; no traceback spam
            self.note = (self.note + "; " if self.note else "") + f"internal error {type(e).__name__}: {e}"
        finally:
            log(f"{self.peer} {method} {path} -> {self.status or '-'} {self.note}".rstrip())

    def route(self, req: Request) -> None:
        p = req.path
        if p == "/ok":
            self.note = "ok"
            self.respond(200, OK_BODY)
        elif p == "/drip":
            self.drip(req)
        elif p == "/drip-headers":
            self.drip_headers(req)
        elif p == "/hang":
            self.note = "hanging"
            held = self.wait(MAX_HOLD)
            self.note = "hung %ds" % MAX_HOLD if held else "hung until the client left"
        elif p == "/reset":
            self.note = "reset (RST)"
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        elif p == "/close-mid-body":
            self.note = "closed after 10 of 1000 body bytes"
            self.send_raw(self.head(200, "application/json", 1000) + OK_BODY[:10])
        elif p == "/huge":
            self.huge(chunked=False)
        elif p == "/huge-chunked":
            self.huge(chunked=True)
        elif p in ("/redirect-301", "/redirect-302", "/redirect-303", "/redirect-307", "/redirect-308"):
            status = int(p[-3:])
            target = f"http://{HOST}:{self.server.port}/capture"
            tag = req.query.get("tag")
            if tag:
                target += "?tag=" + quote(tag, safe="")
            self.note = "redirect to /capture" + (f" (tag {tag})" if tag else "")
            self.respond(status, f"Redirecting to {target}\n".encode(), "text/plain; charset=utf-8",
                         [("Location", target)])
        elif p == "/capture":
            tag = req.query.get("tag") or ""
            CAPTURES.add({"method": req.method, "path": p, "tag": tag, "body_length": req.body_length,
                          "header_names": [k.lower() for k, _ in req.headers]})
            self.note = "captured" + (f" (tag {tag})" if tag else "")
            self.respond(200, CAPTURE_BODY)
        elif p == "/captured":
            snap = CAPTURES.snapshot(req.query.get("tag"))
            self.note = f"count {snap['count']}"
            self.respond_json(200, snap)
        elif p == "/captured/reset":
            if req.method != "POST":
                self.note = "POST only"
                self.respond_json(405, {"error": "method_not_allowed"})
                return
            CAPTURES.reset(req.query.get("tag"))
            self.note = "captures cleared"
            self.respond_json(200, {"count": 0})
        elif p == "/gzip":
            self.note = "gzip"
            self.respond(200, GZIP_BODY, extra=[("Content-Encoding", "gzip")])
        elif p == "/deflate":
            self.note = "deflate (zlib)"
            self.respond(200, DEFLATE_BODY, extra=[("Content-Encoding", "deflate")])
        elif p == "/gzip-bomb":
            bomb = gzip_bomb()
            self.note = f"gzip bomb, {len(bomb)} bytes -> {HUGE_SIZE}"
            self.respond(200, bomb, extra=[("Content-Encoding", "gzip")])
        elif p == "/html-error":
            self.note = "502 html"
            self.respond(502, HTML_ERROR_BODY, "text/html; charset=utf-8")
        elif p == "/empty-403":
            self.note = "403 empty"
            self.respond(403, b"", None)
        elif p == "/error-200":
            self.note = "200 with error"
            self.respond(200, ERROR_200_BODY)
        elif p == "/slow-ok":
            delay = self.number(req, "delay", 1.0, 0.0, MAX_HOLD)
            self.note = f"slow ok after {delay:g}s"
            if self.wait(delay):
                self.respond(200, OK_BODY)
            else:
                self.note += ": client left first"
        else:
            self.note = "not found"
            self.respond(404, NOT_FOUND_BODY)

    @staticmethod
    def number(req: Request, name: str, default: float, lo: float, hi: float) -> float:
        try:
            v = float(req.query.get(name, default))
        except ValueError:
            v = default
        if v != v:  # NaN
            v = default
        return min(max(v, lo), hi)

    def drip(self, req: Request) -> None:
        interval = self.number(req, "interval", 2.0, 0.01, 60.0)
        body = (HUGE_PREFIX + b"d" * DRIP_LENGTH)[:DRIP_LENGTH]
        self.send_raw(self.head(200, "application/json", DRIP_LENGTH))
        end, sent = time.monotonic() + MAX_HOLD, 0
        try:
            while sent < DRIP_LENGTH and time.monotonic() < end:
                self.send_raw(body[sent:sent + 1])
                sent += 1
                if not self.wait(min(interval, max(0.0, end - time.monotonic()))):
                    raise ClientGone("closed")
        finally:
            self.note = f"drip 1 byte/{interval:g}s, sent {sent} of {DRIP_LENGTH}"

    def drip_headers(self, req: Request) -> None:
        interval = self.number(req, "interval", 2.0, 0.01, 60.0)
        data = self.head(200, "application/json", len(OK_BODY)) + OK_BODY
        n_head = data.index(b"\r\n\r\n") + 4
        end, sent = time.monotonic() + MAX_HOLD, 0
        try:
            while sent < n_head and time.monotonic() < end:
                self.send_raw(data[sent:sent + 1])
                sent += 1
                if sent < n_head and not self.wait(min(interval, max(0.0, end - time.monotonic()))):
                    raise ClientGone("closed")
            if sent == n_head:
                self.send_raw(data[n_head:])
        finally:
            self.note = f"header drip 1 byte/{interval:g}s, sent {sent} of {n_head} head bytes"

    def huge(self, chunked: bool) -> None:
        sent = 0
        try:
            if chunked:
                self.send_raw(self.head(200, "application/json", None, [("Transfer-Encoding", "chunked")]))
                for block in huge_blocks():
                    self.send_raw(b"%x\r\n%s\r\n" % (len(block), block))
                    sent += len(block)
                self.send_raw(b"0\r\n\r\n")
            else:
                self.send_raw(self.head(200, "application/json", HUGE_SIZE))
                for block in huge_blocks():
                    self.send_raw(block)
                    sent += len(block)
        finally:
            self.note = f"huge{' chunked' if chunked else ''}: sent {sent} of {HUGE_SIZE} body bytes"


class HostileServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address) -> None:  # Handler.handle catches everything
        log(f"unexpected error for {client_address}: {sys.exc_info()[1]!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: server.py PORT   (0 picks a free port)\n")
        return 2

    def stop(signum, _frame) -> None:
        log(f"signal {signum}, exiting")
        os._exit(0)       # daemon threads may be sleeping or blocked in send: do not wait for them

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = HostileServer((HOST, int(argv[1])), Handler)
    print(f"hostile: listening on http://{HOST}:{server.port}", flush=True)
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
