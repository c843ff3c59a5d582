"""A strict token server for grantline's faults-under-load runs (stdlib only, Python 3.9+).

    python3 tests/load/server.py PORT        (PORT 0 picks a free one)

Listens on 127.0.0.1 only and prints ``load: listening on http://127.0.0.1:PORT`` to stdout.
Behaves like a strict authorization server with refresh-token rotation and reuse detection
(as oidc-provider's rotateRefreshToken + reuse detection): presenting an already-used refresh
token revokes its whole family. Injects transient failures (connection resets and 503 +
Retry-After) at a configurable, seeded rate. Endpoints: see README.md in this folder.

All state is in memory. One line per request goes to stderr; tokens and secrets are never logged
(the query string is never logged).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
import random
import secrets
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

HOST = "127.0.0.1"
CLIENT_SECRET = "load-secret"
MAX_BODY = 1024 * 1024
DEFAULTS = {"lifetime": 3, "fail_rate": 0.1, "retry_after": 1, "delay": 0.05, "seed": 1}
COUNTERS = ("token_requests", "processed", "injected_resets", "injected_503", "issued_access_tokens",
            "rotations", "invalid_grant", "reuse_detected", "families_revoked", "api_ok", "api_401")
REUSE_DESCRIPTION = "refresh token reuse detected; family revoked"
ADMIN_ROUTES = {"/admin/reset": "POST", "/admin/stats": "GET, HEAD", "/admin/config": "GET, HEAD",
                "/admin/check": "POST", "/admin/token-valid": "GET, HEAD"}


class Family:
    __slots__ = ("id", "client_id", "current", "used", "access", "revoked")

    def __init__(self, fid: int, client_id: str) -> None:
        self.id, self.client_id = fid, client_id
        self.current: str | None = None     # the one refresh token that may be used next
        self.used: set[str] = set()         # rotated-away refresh tokens (reuse = revocation)
        self.access: set[str] = set()       # every access token issued in this family
        self.revoked = False


class State:
    """Everything the server knows; every method runs under the one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset(dict(DEFAULTS))

    def reset(self, config: dict) -> None:
        self.config = config
        self.rng = random.Random(config["seed"])
        self.counters = {k: 0 for k in COUNTERS}
        self.families: dict[int, Family] = {}
        self.refresh: dict[str, Family] = {}            # refresh token -> its family
        self.access: dict[str, tuple[float, Family | None]] = {}  # access token -> (expires_at, family)
        self.revoked_access: set[str] = set()           # client_credentials tokens are never revoked
        self.next_family = 1

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def live_families(self) -> int:
        return sum(1 for f in self.families.values() if not f.revoked)

    # --- tokens
    def new_access(self, family: Family | None) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + self.config["lifetime"]
        self.access[token] = (expires_at, family)
        if family is not None:
            family.access.add(token)
        self.count("issued_access_tokens")
        return token, expires_at

    def new_refresh(self, family: Family) -> str:
        token = secrets.token_urlsafe(32)
        family.current = token
        self.refresh[token] = family
        return token

    def new_family(self, client_id: str) -> Family:
        fam = Family(self.next_family, client_id)
        self.next_family += 1
        self.families[fam.id] = fam
        return fam

    def revoke(self, fam: Family) -> None:
        if not fam.revoked:
            fam.revoked = True
            self.count("families_revoked")

    def refresh_state(self, token: str) -> str:
        fam = self.refresh.get(token)
        if fam is None:
            return "unknown"
        if fam.revoked:
            return "revoked"
        return "current" if fam.current == token else "used"

    def access_valid(self, token: str) -> tuple[bool, float | None]:
        entry = self.access.get(token)
        if entry is None:
            return False, None
        expires_at, fam = entry
        alive = not (fam.revoked if fam is not None else False)
        return alive and time.time() < expires_at, expires_at


STATE = State()
_log_lock = threading.Lock()


def log(line: str) -> None:
    with _log_lock:
        try:
            sys.stderr.write(f"load: {line}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str | None = None,
                 headers: list[tuple[str, str]] = ()) -> None:
        super().__init__(error)
        self.status, self.error, self.description, self.headers = status, error, description, list(headers)

    def body(self) -> dict:
        d = {"error": self.error}
        if self.description:
            d["error_description"] = self.description
        return d


def expires_in(lifetime: float):
    return int(lifetime) if float(lifetime).is_integer() else lifetime


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive; every response has a Content-Length
    server_version = "grantline-load"
    timeout = 30                      # idle keep-alive connections are closed after this

    # ------------------------------------------------------------------ plumbing
    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code="-", size="-") -> None:   # our own line in finish_request()
        pass

    def log_message(self, fmt: str, *args) -> None:
        # http.server's own errors (bad request line, timeout); they may quote the request line,
        # so cut every string argument at its first '?' (a token may be in the query)
        args = tuple(a.split("?")[0] if isinstance(a, str) else a for a in args)
        log(f"{self.client_address[0]}:{self.client_address[1]} " + (fmt % args))

    def path_only(self) -> str:
        return urlsplit(self.path).path

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise OAuthError(413, "invalid_request", "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise OAuthError(400, "invalid_request", "bad Content-Length") from None
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise OAuthError(413, "invalid_request", "request body too large")
        return self.rfile.read(n)

    def send_json(self, status: int, obj, headers: list[tuple[str, str]] = ()) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status = status

    def reset_connection(self) -> None:
        """Answer nothing: RST the connection (SO_LINGER on, timeout 0, close)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The socket's fd is only released when its makefile() reader lets go, so close both.
        self.connection.close()
        self.rfile.close()
        self.status = "RST"

    def handle_one_request(self) -> None:
        # http.server's own loop, with our dispatch and our log line (path without the query)
        self.status, self.note = "-", ""
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            self.note += " client gone"
        except ValueError:        # I/O on the file we closed in reset_connection()
            self.close_connection = True
        if self.status != "-" or self.note:
            log(f"{self.client_address[0]}:{self.client_address[1]} {self.command} {self.path_only()} "
                f"-> {self.status} {self.note}".rstrip())

    def do_any(self) -> None:
        path = self.path_only()
        try:
            body = self.read_body()
            if path == "/token":
                self.token(body)
            elif path == "/api" or path.startswith("/api/"):
                self.api()
            elif path == "/admin/reset" and self.command == "POST":
                self.admin_reset(body)
            elif path == "/admin/stats" and self.command in ("GET", "HEAD"):
                with STATE.lock:
                    stats = dict(STATE.counters, families=STATE.live_families())
                self.send_json(200, stats)
            elif path == "/admin/config" and self.command in ("GET", "HEAD"):
                with STATE.lock:
                    config = dict(STATE.config)
                self.send_json(200, config)
            elif path == "/admin/check" and self.command == "POST":
                token = self.json_object(body).get("refresh_token")
                if not isinstance(token, str):
                    raise OAuthError(400, "invalid_request", "refresh_token (a string) is required")
                with STATE.lock:
                    state = STATE.refresh_state(token)
                self.note = state
                self.send_json(200, {"state": state})
            elif path == "/admin/token-valid" and self.command in ("GET", "HEAD"):
                token = (parse_qs(urlsplit(self.path).query).get("token") or [""])[-1]
                with STATE.lock:
                    valid, expires_at = STATE.access_valid(token)
                self.note = "valid" if valid else "not valid"
                self.send_json(200, {"valid": valid,
                                     "expires_at": None if expires_at is None else round(expires_at, 3)})
            elif path in ADMIN_ROUTES:
                self.send_json(405, {"error": "method_not_allowed"}, [("Allow", ADMIN_ROUTES[path])])
            else:
                self.send_json(404, {"error": "not_found"})
        except OAuthError as e:
            if self.note == "":
                self.note = e.error
            self.send_json(e.status, e.body(), e.headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_any

    @staticmethod
    def json_object(body: bytes) -> dict:
        try:
            obj = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise OAuthError(400, "invalid_request", "body is not JSON") from None
        if not isinstance(obj, dict):
            raise OAuthError(400, "invalid_request", "body is not a JSON object")
        return obj

    # ------------------------------------------------------------------ admin
    def admin_reset(self, body: bytes) -> None:
        obj = self.json_object(body)
        config = dict(DEFAULTS)
        for key, value in obj.items():
            if key not in DEFAULTS:
                raise OAuthError(400, "invalid_request", f"unknown knob {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise OAuthError(400, "invalid_request", f"{key} must be a number")
            config[key] = value
        if config["lifetime"] <= 0:
            raise OAuthError(400, "invalid_request", "lifetime must be > 0")
        if not 0 <= config["fail_rate"] <= 1:
            raise OAuthError(400, "invalid_request", "fail_rate must be within [0, 1]")
        if config["retry_after"] < 0 or config["delay"] < 0:
            raise OAuthError(400, "invalid_request", "retry_after and delay must be >= 0")
        if not float(config["seed"]).is_integer():
            raise OAuthError(400, "invalid_request", "seed must be an integer")
        config["seed"] = int(config["seed"])
        with STATE.lock:
            STATE.reset(config)
        self.note = " ".join(f"{k}={v}" for k, v in config.items())
        self.send_json(200, config)

    # ------------------------------------------------------------------ resource
    def api(self) -> None:
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        with STATE.lock:
            ok = scheme.lower() == "bearer" and bool(token) and STATE.access_valid(token)[0]
            STATE.count("api_ok" if ok else "api_401")
        if ok:
            self.send_json(200, {"ok": True})
        else:
            self.note = "invalid_token"
            self.send_json(401, {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    # ------------------------------------------------------------------ token endpoint
    def token(self, body: bytes) -> None:
        if self.command != "POST":
            raise OAuthError(405, "invalid_request", "POST only", [("Allow", "POST")])
        with STATE.lock:     # the failure decision comes first and changes nothing but counters
            STATE.count("token_requests")
            cfg = STATE.config
            fail = STATE.rng.random() < cfg["fail_rate"]
            reset = fail and STATE.rng.random() < 0.5
            if fail:
                STATE.count("injected_resets" if reset else "injected_503")
            else:
                STATE.count("processed")
            delay = cfg["delay"]
            retry_after = cfg["retry_after"]
        if reset:
            self.note = "injected reset"
            self.reset_connection()
            return
        if fail:
            self.note = "injected 503"
            self.send_json(503, {"error": "temporarily_unavailable"},
                           [("Retry-After", str(int(math.ceil(retry_after))))])
            return
        if delay > 0:
            time.sleep(delay)
        params = self.token_params(body)
        client_id = self.authenticate(params)
        grant = params.get("grant_type") or ""
        if grant == "password":
            if not params.get("username") or not params.get("password"):
                raise OAuthError(400, "invalid_request", "username and password are required")
            with STATE.lock:
                fam = STATE.new_family(client_id)
                resp = self.issue(fam)
            self.note = f"password: family {fam.id}"
        elif grant == "client_credentials":
            with STATE.lock:
                at, _ = STATE.new_access(None)
                resp = {"access_token": at, "token_type": "Bearer",
                        "expires_in": expires_in(STATE.config["lifetime"])}
            self.note = "client_credentials"
        elif grant == "refresh_token":
            rt = params.get("refresh_token") or ""
            if not rt:
                raise OAuthError(400, "invalid_request", "refresh_token is required")
            with STATE.lock:
                fam = STATE.refresh.get(rt)
                if fam is None or fam.client_id != client_id:
                    STATE.count("invalid_grant")
                    raise OAuthError(400, "invalid_grant", "unknown refresh token")
                if fam.revoked:
                    STATE.count("invalid_grant")
                    raise OAuthError(400, "invalid_grant", "refresh token revoked")
                if fam.current != rt:
                    STATE.count("invalid_grant")
                    STATE.count("reuse_detected")
                    STATE.revoke(fam)
                    self.note = f"REUSE: family {fam.id} revoked"
                    raise OAuthError(400, "invalid_grant", REUSE_DESCRIPTION)
                fam.used.add(rt)
                STATE.count("rotations")
                resp = self.issue(fam)
            self.note = f"rotated family {fam.id}"
        elif not grant:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        else:
            raise OAuthError(400, "unsupported_grant_type", "grant type not supported")
        self.send_json(200, resp, [("Pragma", "no-cache")])

    @staticmethod
    def issue(fam: Family) -> dict:   # under STATE.lock
        at, _ = STATE.new_access(fam)
        rt = STATE.new_refresh(fam)
        return {"access_token": at, "token_type": "Bearer",
                "expires_in": expires_in(STATE.config["lifetime"]), "refresh_token": rt}

    def token_params(self, body: bytes) -> dict:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json" or (not ctype and body.lstrip().startswith(b"{")):
            obj = self.json_object(body)
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()
                    if v is not None}
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise OAuthError(400, "invalid_request", "body is not UTF-8") from None
        params = {}
        for k, v in parse_qs(text, keep_blank_values=True).items():
            if len(v) > 1:
                raise OAuthError(400, "invalid_request", f"parameter {k} repeated")
            params[k] = v[0]
        return params

    def authenticate(self, params: dict) -> str:
        auth = self.headers.get("Authorization")
        body_id, body_secret = params.get("client_id"), params.get("client_secret")
        if auth:
            scheme, _, cred = auth.strip().partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError(401, "invalid_client", "unsupported client authentication scheme",
                                 [("WWW-Authenticate", 'Basic realm="load"')])
            try:
                raw = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise OAuthError(401, "invalid_client", "malformed Basic credentials",
                                 [("WWW-Authenticate", 'Basic realm="load"')]) from None
            cid, sep, secret = raw.partition(":")
            cid, secret = unquote_plus(cid), unquote_plus(secret)   # RFC 6749 2.3.1
            if body_secret is not None:
                raise OAuthError(400, "invalid_request", "more than one client authentication method")
            if body_id is not None and body_id != cid:
                raise OAuthError(400, "invalid_request", "client_id in the body does not match Basic")
            if not sep or not cid or not secrets.compare_digest(secret.encode(), CLIENT_SECRET.encode()):
                raise OAuthError(401, "invalid_client", "client authentication failed",
                                 [("WWW-Authenticate", 'Basic realm="load"')])
            return cid
        if not body_id or body_secret is None or \
                not secrets.compare_digest(body_secret.encode(), CLIENT_SECRET.encode()):
            raise OAuthError(401, "invalid_client", "client authentication failed")
        return body_id


class LoadServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024       # many callers connecting at once must not hit SYN retries

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, ValueError)):
            return
        log(f"unexpected error for {client_address}: {exc!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: server.py PORT   (0 picks a free port)\n")
        return 2

    def stop(signum, _frame) -> None:
        log(f"signal {signum}, exiting")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = LoadServer((HOST, int(argv[1])), Handler)
    print(f"load: listening on http://{HOST}:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
