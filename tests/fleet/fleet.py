#!/usr/bin/env python3
"""The fleet harness (issue 12): fleets of worker processes (Rust, Python, Node) share one token
session over Redis, against the rotating token server of tests/load. Python 3.11+, stdlib only.

    tests/interop/servers.sh run -- python3 tests/fleet/fleet.py SCENARIO [options]

Scenarios: scale, mixed, kill, restart, outage, cost, all, quick (the subset for `make fleet`).
Options: --langs rust,python,node  --procs N  --callers M  --seconds T  --lifetime L  -v
See README.md in this folder for what each scenario runs and checks, and the worker protocol.

The load server comes from GRANTLINE_LOAD_URL (skips, exit 0, when unset). The harness starts
its own redis-server (durable: AOF, fsync always, under target/fleet/) because it kills and
restarts it. Every process it starts is stopped when it ends, also on Ctrl-C or SIGTERM, and
(through setpriv --pdeathsig) when the harness itself is SIGKILLed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = ROOT / "target" / "fleet"
HOST = "127.0.0.1"
KID = "fleet-1"
CLIENT_SECRET = "load-secret"
LANGS = ("rust", "python", "node")
DEFAULT_SKEW = 60      # the core's default renewal margin (seconds), capped at half the lifetime


# ---------------------------------------------------------------------------------------- workers
@dataclass
class WorkerKind:
    """How to run one language's worker, and what must exist for it to run."""
    lang: str
    argv: list[str]
    needs: list[tuple[Path, str]]           # (path that must exist, how to make it)
    env_override: str                       # an environment variable that replaces argv (shell words)


WORKERS: dict[str, WorkerKind] = {
    "rust": WorkerKind(
        "rust", [str(ROOT / "target/debug/fleet-worker")],
        [(ROOT / "target/debug/fleet-worker",
          "cargo build -p grantline-examples --bin fleet-worker")],
        "GRANTLINE_FLEET_WORKER_RUST"),
    "python": WorkerKind(
        "python", [str(ROOT / ".venv/bin/python"), str(ROOT / "bindings-python/tests/fleet_worker.py")],
        [(ROOT / "bindings-python/tests/fleet_worker.py", "the Python fleet worker (issue 12)"),
         (ROOT / ".venv/bin/python", "tests/interop/servers.sh install")],   # + `import grantline`
        "GRANTLINE_FLEET_WORKER_PYTHON"),
    "node": WorkerKind(
        "node", ["node", str(ROOT / "bindings-wasm/tests/fleet_worker.mjs")],
        [(ROOT / "bindings-wasm/tests/fleet_worker.mjs", "the Node fleet worker (issue 12)"),
         (ROOT / "target/npm/grantline/package.json", "bindings-wasm/test.sh (builds the npm package)")],
        "GRANTLINE_FLEET_WORKER_NODE"),
}


def worker_argv(lang: str) -> tuple[list[str] | None, str]:
    """The command that runs `lang`'s worker, or None and why it cannot run."""
    kind = WORKERS[lang]
    override = os.environ.get(kind.env_override)
    if override:
        return shlex.split(override), ""
    for path, hint in kind.needs:
        if not path.exists():
            return None, f"{path.relative_to(ROOT)} is missing ({hint})"
    if lang == "node" and shutil.which("node") is None:
        return None, "node is not on PATH"
    return list(kind.argv), ""


def python_binding_ok() -> str:
    """'' when the venv imports the Python binding, else why not (checked once, lazily)."""
    py = ROOT / ".venv/bin/python"
    if os.environ.get(WORKERS["python"].env_override):
        return ""
    r = subprocess.run([str(py), "-c", "import grantline"], capture_output=True, text=True, timeout=60)
    return "" if r.returncode == 0 else "the venv cannot import grantline (bindings-python/test.sh builds it): " + \
        (r.stderr.strip().splitlines() or ["?"])[-1]


def available(langs: list[str]) -> dict[str, str]:
    """lang -> reason it is unavailable, for those that are."""
    missing = {}
    for lang in langs:
        argv, why = worker_argv(lang)
        if argv is None:
            missing[lang] = why
        elif lang == "python":
            why = python_binding_ok()
            if why:
                missing[lang] = why
    return missing


# ---------------------------------------------------------------------------------------- helpers
def now() -> float:
    return time.monotonic()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def spawn(argv: list[str], **kw: Any) -> subprocess.Popen:
    """Start a child in its own session that dies with the harness (setpriv --pdeathsig). Only
    ever called from the main thread: the death signal follows the thread that forked."""
    assert threading.current_thread() is threading.main_thread()
    return subprocess.Popen(PDEATHSIG + argv, start_new_session=True, **kw)


class Failure(Exception):
    """The harness could not run a scenario (not a failed check)."""


# ---------------------------------------------------------------------------------------- Redis
class RespError(Exception):
    pass


class Resp:
    """A tiny RESP2 client for the harness's own commands (each one is counted, so that the
    commands the workers sent can be told apart in INFO's total_commands_processed)."""

    def __init__(self, server: "RedisServer", timeout: float = 5.0) -> None:
        self.server = server
        self.sock = socket.create_connection((HOST, server.port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")

    def close(self) -> None:
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass

    def call(self, *args: str | int | bytes) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.server.harness_commands += 1
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self) -> Any:
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rfile.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RespError(f"unexpected reply {line[:40]!r}")


class RedisServer:
    """The harness's own redis-server: durable (AOF, fsync always) so that a restart keeps the
    entry; same port and dir across restarts."""

    def __init__(self, rundir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise Failure("redis-server not found (scripts/tools.sh redis installs it)")
        self.dir = rundir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.client: Resp | None = None
        self.harness_commands = 0       # commands the harness sent to the current incarnation
        self.incarnation = 0
        self.log = open(rundir / "redis.log", "ab")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.proc = spawn(["redis-server", "--port", str(self.port), "--bind", HOST, "--protected-mode", "yes",
                           "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                           "--dir", str(self.dir), "--logfile", ""],
                          stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.incarnation += 1
        self.harness_commands = 0
        deadline = now() + timeout
        while True:
            try:
                self.client = Resp(self)
                if self.client.call("PING") == "PONG":
                    return
            except (OSError, RespError):
                if self.client:
                    self.client.close()
                self.client = None
            if self.proc.poll() is not None:
                raise Failure(f"redis-server exited with {self.proc.returncode} (log: {self.log.name})")
            if now() > deadline:
                raise Failure(f"redis-server did not answer PING within {timeout} s (log: {self.log.name})")
            time.sleep(0.05)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, how: str = "term", timeout: float = 10.0) -> None:
        """how: 'shutdown' (the SHUTDOWN command), 'term' (SIGTERM) or 'kill' (SIGKILL)."""
        if self.client:
            if how == "shutdown":
                try:
                    self.client.call("SHUTDOWN")
                except (OSError, ConnectionError, RespError):
                    pass            # SHUTDOWN answers by closing the connection
            self.client.close()
            self.client = None
        if self.proc is None:
            return
        if self.proc.poll() is None and how != "shutdown":
            self.proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, down: float = 0.0, how: str = "shutdown") -> None:
        self.stop(how)
        time.sleep(down)
        self.start()

    def call(self, *args: str | int) -> Any:
        if self.client is None:
            raise Failure("redis is not running")
        return self.client.call(*args)

    def commands_so_far(self) -> int:
        """Commands the others (the workers) sent to this incarnation: INFO's
        total_commands_processed (which counts commands run inside Lua scripts too, and not
        the INFO itself) minus the harness's own commands before this INFO."""
        mine = self.harness_commands
        info = self.call("INFO", "stats")
        total = int(next(l.split(":", 1)[1] for l in info.splitlines() if l.startswith("total_commands_processed:")))
        return total - mine

    def close(self) -> None:
        try:
            self.stop("kill" if self.running() else "term")
        finally:
            self.log.close()


# ---------------------------------------------------------------------------------------- load server
class Load:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def _req(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise Failure(f"load server {method} {path}: {e.code} {e.read()[:200]!r}") from None
        except OSError as e:
            raise Failure(f"load server {method} {path}: {e}") from None

    def reset(self, lifetime: float, fail_rate: float = 0.0, delay: float = 0.05) -> dict:
        return self._req("POST", "/admin/reset", {"lifetime": lifetime, "fail_rate": fail_rate, "delay": delay})

    def stats(self) -> dict:
        return self._req("GET", "/admin/stats")


# ---------------------------------------------------------------------------------------- worker processes
@dataclass
class Proc:
    lang: str
    index: int
    popen: subprocess.Popen
    errlog: Path
    t0: float
    on_event: Callable[["Proc", float, dict], None] | None = None
    events: list[tuple[float, dict]] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)
    start: dict | None = None
    done: dict | None = None
    killed_at: float | None = None
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def label(self) -> str:
        return f"{self.lang}/{self.pid}"

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with open(self.errlog.with_suffix(".out"), "w", encoding="utf-8") as out:
            for raw in self.popen.stdout:
                t = now() - self.t0
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    out.write(f"{t:8.3f} {line}\n")
                    out.flush()
                    self._line(t, line)

    def _line(self, t: float, line: str) -> None:
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError
        except ValueError:
            self.noise.append(line[:200])
            return
        self.events.append((t, obj))
        ev = obj.get("event")
        if ev == "start":
            self.start = obj
        elif ev == "done":
            self.done = obj
        if self.on_event:
            try:
                self.on_event(self, t, obj)
            except Exception as e:  # a printing callback must not kill the reader
                print(f"fleet: event callback failed: {e!r}", file=sys.stderr)

    def of(self, kind: str) -> list[tuple[float, dict]]:
        return [(t, e) for t, e in self.events if e.get("event") == kind]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        self.killed_at = now() - self.t0
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(3)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait()
        if self.reader:
            self.reader.join(2)

    def stderr_tail(self, n: int = 8) -> str:
        try:
            lines = self.errlog.read_text("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join("      " + l for l in lines[-n:])


@dataclass
class Run:
    """One fleet run's inputs and results."""
    label: str
    name: str
    grant: str
    store: bool
    seconds: float
    lifetime: int
    procs: list[Proc]
    stats: dict = field(default_factory=dict)
    commands: int | None = None        # Redis commands the workers sent (None: Redis restarted)
    cmd_mark_end: int | None = None    # the workers' command count of this Redis at the end of the run
    rt_state: str | None = None        # the entry's refresh token at the server, after the run
    rt_state_why: str = ""
    entry_version: int | None = None
    faults: list[tuple[float, float]] = field(default_factory=list)   # (start, end) of each fault
    takeovers: int = 0
    notes: list[str] = field(default_factory=list)
    wall: float = 0.0

    def done_sum(self, key: str) -> int:
        return sum(int(p.done.get(key, 0)) for p in self.procs if p.done)

    @property
    def lifetimes(self) -> float:
        return self.seconds / self.lifetime

    @property
    def periods(self) -> float:
        """Renewal periods in the run: the core renews `min(skew, lifetime/2)` before expiry."""
        return self.seconds / (self.lifetime - min(DEFAULT_SKEW, self.lifetime // 2))

    def errors(self) -> list[tuple[float, Proc, dict]]:
        return sorted(((t, p, e) for p in self.procs for t, e in p.of("error")), key=lambda x: x[0])

    def split_errors(self) -> tuple[list, list]:
        """The caller errors, split into (while the process held a valid token, with no valid
        token). A process's token is the last token set it took in before the error; it was
        issued when it took it in from a token request, or, taken from the store, when the
        first process took that version in; it is valid for a lifetime after, less 1 s (the
        core keeps times in whole seconds, so it may count a token expired up to 1 s early)."""
        born: dict[Any, float] = {}
        for p in self.procs:
            for t, e in p.of("renewed"):
                v = e.get("version")
                born[v] = min(born.get(v, t), t)
        valid: list[tuple[float, Proc, dict]] = []
        invalid: list[tuple[float, Proc, dict]] = []
        for p in self.procs:
            renewed = p.of("renewed")
            for t, e in p.of("error"):
                last = [(rt, re) for rt, re in renewed if rt <= t]
                if not last:
                    invalid.append((t, p, e))
                    continue
                rt, re = last[-1]
                issued = born.get(re.get("version"), rt) if re.get("source") == "store" else rt
                (invalid if t >= issued + self.lifetime - 1.0 else valid).append((t, p, e))
        return sorted(valid, key=lambda x: x[0]), sorted(invalid, key=lambda x: x[0])


class Harness:
    def __init__(self, args: argparse.Namespace, load: Load) -> None:
        self.args = args
        self.load = load
        WORKDIR.mkdir(parents=True, exist_ok=True)
        self.rundir = Path(tempfile.mkdtemp(prefix="run-", dir=WORKDIR))
        self.redis = RedisServer(self.rundir)
        self.procs: list[Proc] = []
        self.checks: list[tuple[str, str, bool, str]] = []     # (scenario, what, ok, detail)
        self.key_hex = secrets.token_hex(32)
        self.failed_runs = 0

    # ------------------------------------------------------------------ lifecycle
    def close(self, keep_logs: bool) -> None:
        for p in self.procs:
            p.stop()
        self.redis.close()
        shutil.rmtree(self.redis.dir, ignore_errors=True)
        if keep_logs:
            print(f"fleet: logs kept in {self.rundir.relative_to(ROOT)}")
        else:
            shutil.rmtree(self.rundir, ignore_errors=True)

    def check(self, scenario: str, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((scenario, what, ok, detail))
        print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""))
        return ok

    # ------------------------------------------------------------------ one fleet
    def worker_cmd(self, lang: str, name: str, grant: str, callers: int, seconds: float, store: bool,
                   lease_ms: int | None, hold_ms: int | None, client_id: str) -> list[str]:
        argv, why = worker_argv(lang)
        if argv is None:
            raise Failure(f"{lang} worker unavailable: {why}")
        base = self.load.base
        cmd = argv + ["--redis", self.redis.url, "--name", name, "--key-hex", self.key_hex, "--kid", KID,
                      "--token-url", base + "/token", "--api-url", base + "/api",
                      "--client-id", client_id, "--client-secret", CLIENT_SECRET, "--grant", grant,
                      "--callers", str(callers), "--seconds", f"{seconds:g}"]
        if not store:
            cmd.append("--no-store")
        if lease_ms is not None:
            cmd += ["--lease-ms", str(lease_ms)]
        if hold_ms is not None:
            cmd += ["--hold-ms", str(hold_ms)]
        return cmd

    def run_fleet(self, label: str, langs: list[str], *, grant: str, callers: int, seconds: float,
                  lifetime: int, store: bool = True, lease_ms: int | None = None, hold_ms: int | None = None,
                  during: Callable[["Run"], None] | None = None,
                  on_event: Callable[[Proc, float, dict], None] | None = None) -> Run:
        """Reset the load server and Redis, run one process per entry of `langs` for `seconds`,
        collect everything. `during(run)` runs in the main thread once every worker started.
        Runs last whole seconds (the protocol's --seconds is a whole number)."""
        seconds = math.ceil(seconds)
        if not self.redis.running():
            self.redis.start()
        self.load.reset(lifetime)
        self.redis.call("FLUSHALL")
        name = f"{label}-{secrets.token_hex(3)}"
        client_id = f"fleet-{name}"
        run = Run(label, name, grant, store, seconds, lifetime, [])
        incarnation = self.redis.incarnation
        before = self.redis.commands_so_far()
        t0 = now()
        errdir = self.rundir / "workers"
        errdir.mkdir(exist_ok=True)
        for i, lang in enumerate(langs):
            cmd = self.worker_cmd(lang, name, grant, callers, seconds, store, lease_ms, hold_ms, client_id)
            errlog = errdir / f"{name}-{i}-{lang}.err"
            with open(errlog, "wb") as err:
                popen = spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
            p = Proc(lang, i, popen, errlog, t0, on_event)
            run.procs.append(p)
            self.procs.append(p)
        # every worker says `start` first
        deadline = now() + 30
        while any(p.start is None and p.alive() for p in run.procs) and now() < deadline:
            time.sleep(0.01)
        for p in run.procs:
            if p.start is None:
                p.stop()
        not_started = [p for p in run.procs if p.start is None]
        if not_started:
            for p in run.procs:
                p.stop()
            detail = "; ".join(f"{p.label} exit {p.popen.returncode}\n{p.stderr_tail()}" for p in not_started)
            raise Failure(f"{label}: worker(s) did not print a start line: {detail}")
        if during:
            during(run)
        # then each one ends by itself after `seconds`
        deadline = t0 + seconds + 30
        for p in run.procs:
            try:
                p.popen.wait(max(0.1, deadline - now()))
            except subprocess.TimeoutExpired:
                run.notes.append(f"{p.label} still running {seconds + 30:g} s after its start: killed")
                p.stop()
            if p.reader:
                p.reader.join(5)
        run.wall = now() - t0
        run.stats = self.load.stats()
        if store and self.redis.running() and self.redis.incarnation == incarnation:
            run.cmd_mark_end = self.redis.commands_so_far()
            run.commands = run.cmd_mark_end - before
        if store:
            self.entry_check(run)
        return run

    def entry_check(self, run: Run) -> None:
        """The entry's version, and its refresh token's state at the server (the Rust worker's
        check mode opens the sealed entry)."""
        if not self.redis.running():
            run.rt_state_why = "redis is not running"
            return
        raw = self.redis.call("GET", f"grantline:{{{run.name}}}")
        if raw is None:
            run.rt_state_why = "no entry in Redis"
            return
        try:
            run.entry_version = int(json.loads(raw)["version"])
        except (ValueError, KeyError, TypeError):
            run.rt_state_why = "the entry is not JSON with a version"
        if run.grant != "password":
            return
        argv, why = worker_argv("rust")
        if argv is None:
            run.rt_state_why = f"cannot check: the Rust worker is unavailable ({why})"
            return
        cmd = argv + ["check", "--redis", self.redis.url, "--name", run.name, "--key-hex", self.key_hex,
                      "--kid", KID, "--check-url", self.load.base + "/admin/check"]
        r = subprocess.run(PDEATHSIG + cmd, capture_output=True, text=True, timeout=30)
        try:
            run.rt_state = json.loads(r.stdout.strip().splitlines()[-1])["state"]
        except (ValueError, KeyError, IndexError, TypeError):
            run.rt_state_why = f"check mode exit {r.returncode}, stdout {r.stdout[-200:]!r}, stderr {r.stderr[-300:]!r}"

    # ------------------------------------------------------------------ checks shared by the scenarios
    def check_workers(self, sc: str, run: Run) -> None:
        bad = []
        for p in run.procs:
            if p.killed_at is not None:
                continue
            if p.popen.returncode != 0 or p.done is None:
                bad.append(f"{p.label}: exit {p.popen.returncode}, done line {'yes' if p.done else 'no'}\n"
                           f"{p.stderr_tail()}")
        wrong = [f"{p.label} says lang {p.start.get('lang')!r}" for p in run.procs
                 if p.start and p.start.get("lang") != p.lang]
        if wrong:
            print("    (start lines naming another language: " + "; ".join(wrong) + ")")
        noise = [f"{p.label}: {l}" for p in run.procs for l in p.noise[:3]]
        self.check(sc, f"{run.label}: every worker exits 0 with a done line", not bad, "\n".join(bad))
        if noise:
            print("    (non-JSON stdout lines: " + "; ".join(noise[:5]) + ")")

    def check_store_run(self, sc: str, run: Run, *, bound: bool = True, one_family: bool = True) -> None:
        s = run.stats
        self.check_workers(sc, run)
        self.check(sc, f"{run.label}: invalid_grant == 0", s["invalid_grant"] == 0, str(s["invalid_grant"]))
        self.check(sc, f"{run.label}: reuse_detected == 0", s["reuse_detected"] == 0, str(s["reuse_detected"]))
        if run.grant == "password":
            if one_family:
                self.check(sc, f"{run.label}: families == 1", s["families"] == 1, str(s["families"]))
            self.check(sc, f"{run.label}: the entry's refresh token is current (0 lost)",
                       run.rt_state == "current", run.rt_state or run.rt_state_why)
        if bound:
            fallbacks = run.done_sum("fallback_renewals")
            limit = math.ceil(run.periods) + 1 + run.takeovers + fallbacks
            slack = 1
            self.check(sc, f"{run.label}: token requests <= renewal periods + 1 + takeovers + fallbacks (+{slack})",
                       s["token_requests"] <= limit + slack,
                       f"{s['token_requests']} <= {run.periods:.1f} periods → {limit} (+{slack}); "
                       f"takeovers {run.takeovers}, fallback renewals {fallbacks}")
        if not run.faults:
            self.check(sc, f"{run.label}: no caller error", not run.errors(), describe_errors(run.errors()))
            return
        valid, invalid = run.split_errors()
        self.check(sc, f"{run.label}: no caller error while a valid token existed", not valid, describe_errors(valid))
        if invalid:
            last = invalid[-1][0]
            print(f"    caller errors with no valid token (allowed): {describe_errors(invalid)}; "
                  f"the last at {last:.2f} s, {last - run.faults[-1][1]:+.2f} s from the fault's end")
        end = run.faults[-1][1]
        delays = []
        for p in run.procs:
            if p.killed_at is None:
                after = [t for t, _ in p.of("renewed") if t > end]
                delays.append(f"{p.label} {'never' if not after else f'+{after[0] - end:.2f} s'}")
        print(f"    first token set after the fault's end ({end:.2f} s): {', '.join(delays)}")
        late = [p.label for p in run.procs if p.killed_at is None and not any(t > end for t, _ in p.of("renewed"))]
        self.check(sc, f"{run.label}: every process took in a token set after the fault (within the "
                       f"{run.seconds - end:.1f} s left)", not late, ", ".join(late) or f"fault ended at {end:.2f} s")

    # ------------------------------------------------------------------ printing
    @staticmethod
    def table(rows: list[list[str]], header: list[str]) -> None:
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        fmt = "  ".join("{:>%d}" % w if i else "{:<%d}" % w for i, w in enumerate(widths))
        print("  " + fmt.format(*header))
        for r in rows:
            print("  " + fmt.format(*[str(c) for c in r]))


def describe_errors(errs: list[tuple[float, Proc, dict]]) -> str:
    if not errs:
        return "0"
    kinds: dict[str, int] = {}
    for _, _, e in errs:
        kinds[str(e.get("kind"))] = kinds.get(str(e.get("kind")), 0) + 1
    first = errs[0]
    return (f"{len(errs)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); first at "
            f"{first[0]:.2f} s from {first[1].label}: {str(first[2].get('message'))[:160]}")


def fmt_f(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


# ---------------------------------------------------------------------------------------- scenarios
def fleet_langs(langs: list[str], n: int) -> list[str]:
    """n processes, the languages round robin."""
    return [langs[i % len(langs)] for i in range(n)]


def sc_scale(h: Harness, a: argparse.Namespace) -> None:
    print(f"\n== scale: per language, {a.procs} processes x {a.callers} callers, password grant, "
          f"{a.seconds:g} s, token lifetime {a.lifetime} s; with the store, then without")
    rows = []
    for lang in a.langs:
        with_store = h.run_fleet(f"scale-{lang}", [lang] * a.procs, grant="password", callers=a.callers,
                                 seconds=a.seconds, lifetime=a.lifetime)
        h.check_store_run("scale", with_store)
        without = h.run_fleet(f"scale-{lang}-nostore", [lang] * a.procs, grant="password", callers=a.callers,
                              seconds=a.seconds, lifetime=a.lifetime, store=False)
        h.check_workers("scale", without)
        rows.append(scale_row(lang, with_store, without))
    print()
    h.table(rows, SCALE_HEADER)
    print(SCALE_NOTE)


SCALE_HEADER = ["fleet", "procs", "lifetimes", "periods", "req store", "req/lifetime", "req no-store",
                "req/lifetime", "families", "cmds/renewal", "cmds/renewal/proc", "ops/renewal/proc",
                "calls", "errors"]
SCALE_NOTE = ("  req = token requests (server); periods = renewal periods (the core renews min(60 s, lifetime/2)\n"
              "  before expiry); cmds = Redis commands (INFO total_commands_processed, minus the harness's own;\n"
              "  commands inside the Lua scripts count too); ops = store round trips the workers counted (store_ops).")


def scale_row(label: str, run: Run, base: Run | None) -> list[str]:
    renewals = max(1, run.stats["token_requests"])
    n = len(run.procs)
    return [label, str(n), fmt_f(run.lifetimes), fmt_f(run.periods), str(run.stats["token_requests"]),
            fmt_f(run.stats["token_requests"] / run.lifetimes, 2),
            "-" if base is None else str(base.stats["token_requests"]),
            "-" if base is None else fmt_f(base.stats["token_requests"] / base.lifetimes, 2),
            f"{run.stats['families']}" + ("" if base is None else f" / {base.stats['families']}"),
            "-" if run.commands is None else fmt_f(run.commands / renewals, 1),
            "-" if run.commands is None else fmt_f(run.commands / renewals / n, 1),
            fmt_f(run.done_sum("store_ops") / renewals / n, 1),
            str(run.done_sum("calls")), str(run.done_sum("errors"))]


def sc_mixed(h: Harness, a: argparse.Namespace, baseline: bool = False) -> None:
    """One fleet of every language; `baseline`: also the same fleet without the store (what
    `quick` prints instead of the per-language `scale`)."""
    langs = [l for l in LANGS if l in a.langs]
    per = max(1, a.procs // len(langs)) if a.procs >= len(langs) else 1
    fleet = [l for l in langs for _ in range(per)]
    print(f"\n== mixed: one fleet of {', '.join(f'{per} {l}' for l in langs)} sharing one NAME, "
          f"{a.callers} callers each, password grant, {a.seconds:g} s, lifetime {a.lifetime} s")
    run = h.run_fleet("mixed", fleet, grant="password", callers=a.callers, seconds=a.seconds, lifetime=a.lifetime)
    h.check_store_run("mixed", run)
    by_lang: dict[str, list[int]] = {}
    for p in run.procs:
        d = by_lang.setdefault(p.lang, [0, 0, 0, 0])
        d[0] += len([e for _, e in p.of("renewed") if e.get("source") == "http"])
        d[1] += len([e for _, e in p.of("renewed") if e.get("source") == "store"])
        d[2] += int((p.done or {}).get("calls", 0))
        d[3] += int((p.done or {}).get("errors", 0))
    h.table([[l, str(d[0]), str(d[1]), str(d[2]), str(d[3])] for l, d in by_lang.items()],
            ["lang", "renewed by http", "adopted from store", "calls", "errors"])
    without = None
    if baseline:
        without = h.run_fleet("mixed-nostore", fleet, grant="password", callers=a.callers, seconds=a.seconds,
                              lifetime=a.lifetime, store=False)
        h.check_workers("mixed", without)
    print()
    h.table([scale_row("mixed", run, without)], SCALE_HEADER)
    if baseline:
        print(SCALE_NOTE)


def wait_for_lease_taken(h: Harness, run: Run, warmup: float) -> tuple[Proc, float]:
    """Watch the lease key every 5 ms; after `warmup` seconds (and, for the password grant, once
    the session has rotated at least once), return the first process seen *taking* the lease
    (the key going from absent or another owner to it: it took it less than 5 ms ago, so with
    --hold-ms it has not sent its token request yet) and when (seconds since the run started)."""
    lease_key = f"grantline:{{{run.name}}}:lease"
    owners = {str(p.start.get("owner")): p for p in run.procs if p.start}
    t0 = run.procs[0].t0
    while now() - t0 < warmup or (run.grant == "password" and not any(
            e.get("refresh_rotated") for p in run.procs for _, e in p.of("renewed"))):
        if now() - t0 > run.seconds:
            raise Failure(f"{run.label}: no refresh-token rotation seen before the end of the run")
        time.sleep(0.02)
    deadline = t0 + run.seconds - 1
    previous = h.redis.call("GET", lease_key)
    while True:
        if now() > deadline:
            raise Failure(f"{run.label}: no process took the lease after the warm-up")
        owner = h.redis.call("GET", lease_key)
        taken_now = owner != previous
        previous = owner
        if taken_now and owner is not None and owner in owners and owners[owner].alive():
            return owners[owner], now() - t0
        if owner is not None and owner not in owners:
            raise Failure(f"{run.label}: lease owner {owner!r} is no worker's start owner")
        time.sleep(0.005)


def watch_and_kill(h: Harness, run: Run, lease_ms: int, warmup: float) -> dict:
    """kill -9 the first process seen taking the lease after the warm-up, then wait for another
    owner. Returns the timings (seconds since the run started)."""
    lease_key = f"grantline:{{{run.name}}}:lease"
    owners = {str(p.start.get("owner")): p for p in run.procs if p.start}
    t0 = run.procs[0].t0
    victim, seen_at = wait_for_lease_taken(h, run, warmup)
    victim.kill9()
    taken = None
    taken_by = None
    limit = now() + lease_ms / 1000 * 3 + 5
    while now() < limit:
        owner = h.redis.call("GET", lease_key)
        if owner is not None and owner != (victim.start or {}).get("owner"):
            taken = now() - t0
            taken_by = owners.get(owner)
            break
        time.sleep(0.005)
    return {"victim": victim, "seen_at": seen_at, "killed_at": victim.killed_at, "taken_at": taken,
            "taken_by": taken_by}


def sc_kill(h: Harness, a: argparse.Namespace, grants: tuple[str, ...] = ("password", "client_credentials")) -> None:
    lease_ms = a.lease_ms
    for grant in grants:
        fleet = fleet_langs(a.langs, a.procs)
        seconds = math.ceil(max(a.seconds, 1.5 * a.lifetime + lease_ms / 1000 + 2.5 * a.lifetime))
        print(f"\n== kill ({grant}): {len(fleet)} processes ({', '.join(fleet)}), lease {lease_ms} ms, "
              f"hold {a.hold_ms} ms (every process waits that long before its token request, so a lease "
              f"holder is caught before the server sees its refresh token), {seconds:g} s, lifetime {a.lifetime} s")
        result: dict = {}

        def during(run: Run) -> None:
            result.update(watch_and_kill(h, run, lease_ms, warmup=a.lifetime))
            run.takeovers = 1
            run.faults.append((result["killed_at"], result["taken_at"] or run.seconds))

        run = h.run_fleet(f"kill-{grant}", fleet, grant=grant, callers=a.callers, seconds=seconds,
                          lifetime=a.lifetime, lease_ms=lease_ms, hold_ms=a.hold_ms, during=during)
        v = result["victim"]
        delay = None if result["taken_at"] is None else result["taken_at"] - result["killed_at"]
        since_seen = None if result["taken_at"] is None else result["taken_at"] - result["seen_at"]
        took = "never" if delay is None or since_seen is None else \
            f"{delay * 1000:.0f} ms after the kill ({since_seen * 1000:.0f} ms after the lease was first seen)"
        print(f"  killed {v.label} (lease holder, seen at {result['seen_at']:.3f} s, killed at "
              f"{result['killed_at']:.3f} s); taken over by "
              f"{result['taken_by'].label if result['taken_by'] else '-'} {took}")
        h.check("kill", f"{run.label}: another process took over within the lease TTL ({lease_ms} ms, +{a.takeover_slack_ms} ms slack)",
                since_seen is not None and since_seen * 1000 <= lease_ms + a.takeover_slack_ms,
                "never" if since_seen is None else f"{since_seen * 1000:.0f} ms")
        h.check_store_run("kill", run)
        h.table([scale_row(run.label, run, None)], SCALE_HEADER)


def sc_restart(h: Harness, a: argparse.Namespace, variants: tuple[str, ...] = ("timed", "mid-renewal")) -> None:
    """`timed`: Redis restarts at a fixed point of the run, wherever the fleet is. `mid-renewal`:
    Redis goes down the moment a process takes the lease (every process has --hold-ms, so the
    holder's refresh happens while Redis is down and its commit finds Redis down): the rotated
    refresh token exists only in that process until Redis is back."""
    fleet = fleet_langs(a.langs, a.procs)
    for variant in variants:
        mid = variant == "mid-renewal"
        # mid-renewal: down long enough that the holder's refresh (after --hold-ms) happens while
        # Redis is down, and its new token reaches its renewal point before Redis is back
        down_ms = a.down_ms if not mid else max(a.down_ms, a.hold_ms + a.lifetime * 1000)
        # room after the fault: the core backs off from a failed store (1 s, doubled per
        # consecutive failure), so recovery is checked over the rest of the run (>= 3 lifetimes)
        at = 1.5 * a.lifetime
        seconds = math.ceil(max(a.seconds, at + down_ms / 1000 + 3 * a.lifetime) if not mid else
                            max(a.seconds, 1.5 * a.lifetime + down_ms / 1000 + a.lease_ms / 1000 + 3 * a.lifetime))
        when = f"at {at:.1f} s" if not mid else \
            f"when a process takes the lease (lease {a.lease_ms} ms, hold {a.hold_ms} ms)"
        print(f"\n== restart ({variant}): {len(fleet)} processes ({', '.join(fleet)}), password grant, {seconds:g} s, "
              f"lifetime {a.lifetime} s; Redis SHUTDOWN {when}, down {down_ms} ms, started again "
              f"(same port, dir, AOF)")
        info: dict = {}

        def during(run: Run) -> None:
            t0 = run.procs[0].t0
            if mid:
                holder, seen = wait_for_lease_taken(h, run, warmup=a.lifetime)
                info["holder"] = f"{holder.label} took the lease at {seen:.3f} s"
                run.takeovers = 1      # its lease may expire before it commits
            else:
                time.sleep(max(0.0, at - (now() - t0)))
            key = f"grantline:{{{run.name}}}"
            before = h.redis.call("GET", key)
            t_down = now() - t0
            h.redis.restart(down=down_ms / 1000, how="shutdown")
            t_up = now() - t0
            after = h.redis.call("GET", key)
            info.update(before=version_of(before), after=version_of(after), down=t_down, up=t_up)
            run.faults.append((t_down, t_up))

        run = h.run_fleet(f"restart-{variant}", fleet, grant="password", callers=a.callers, seconds=seconds,
                          lifetime=a.lifetime, during=during,
                          lease_ms=a.lease_ms if mid else None, hold_ms=a.hold_ms if mid else None)
        if mid:
            print(f"  {info['holder']}")
        print(f"  Redis down from {info['down']:.2f} s to {info['up']:.2f} s; entry version before {info['before']}, "
              f"after the restart {info['after']}, at the end {run.entry_version}; store failures the workers "
              f"counted {run.done_sum('store_failures')}, fallback renewals {run.done_sum('fallback_renewals')}")
        h.check("restart", f"{run.label}: the entry survived the restart", info["before"] is not None and
                info["after"] is not None and info["after"] >= info["before"], f"{info['before']} -> {info['after']}")
        h.check("restart", f"{run.label}: the fleet wrote on after the restart",
                run.entry_version is not None and info["after"] is not None and run.entry_version > info["after"],
                f"{info['after']} -> {run.entry_version}")
        h.check_store_run("restart", run)
        h.table([scale_row(run.label, run, None)], SCALE_HEADER)


def sc_outage(h: Harness, a: argparse.Namespace) -> None:
    fleet = fleet_langs(a.langs, a.procs)
    down = a.outage_lifetimes * a.lifetime
    at = 1.5 * a.lifetime
    seconds = math.ceil(max(a.seconds, at + down + 3 * a.lifetime))
    print(f"\n== outage: {len(fleet)} processes ({', '.join(fleet)}), password grant, {seconds:g} s, lifetime "
          f"{a.lifetime} s; Redis stopped (SIGTERM) at {at:.1f} s for {down:g} s ({a.outage_lifetimes:g} lifetimes)")
    info: dict = {}

    def during(run: Run) -> None:
        t0 = run.procs[0].t0
        time.sleep(max(0.0, at - (now() - t0)))
        t_down = now() - t0
        h.redis.stop("term")
        time.sleep(down)
        h.redis.start()
        t_up = now() - t0
        info.update(down=t_down, up=t_up)
        run.faults.append((t_down, t_up))

    run = h.run_fleet("outage", fleet, grant="password", callers=a.callers, seconds=seconds,
                      lifetime=a.lifetime, during=during)
    print(f"  Redis down from {info['down']:.2f} s to {info['up']:.2f} s; store failures the workers counted "
          f"{run.done_sum('store_failures')}, fallback renewals {run.done_sum('fallback_renewals')}, "
          f"families at the end {run.stats['families']} (live), entry version at the end {run.entry_version}")
    # During the outage each process renews on its own (its own single flight): one family is
    # not required, nor the 1-per-period bound; 0 invalid_grant and 0 lost refresh tokens are.
    h.check_store_run("outage", run, bound=False, one_family=False)
    h.table([scale_row(run.label, run, None)], SCALE_HEADER)


def sc_cost(h: Harness, a: argparse.Namespace, lang: str) -> None:
    lifetime = a.cost_lifetime
    margin = min(DEFAULT_SKEW, lifetime // 2)
    seconds = math.floor(min(a.cost_seconds, lifetime - margin - 2))
    print(f"\n== cost: one {lang} process, {a.cost_callers} callers, {seconds:g} s (< the first token's "
          f"{lifetime - margin} s before renewal), lifetime {lifetime} s")
    snap: dict = {}

    def during(run: Run) -> None:
        p = run.procs[0]
        while not p.of("renewed") and p.alive():
            time.sleep(0.005)
        time.sleep(0.3)          # let the first renewal's commit and release land
        snap["cmds"] = h.redis.commands_so_far()

    run = h.run_fleet(f"cost-{lang}", [lang], grant="password", callers=a.cost_callers, seconds=seconds,
                      lifetime=lifetime, during=during)
    calls = run.done_sum("calls")
    after = first = per = None
    if run.commands is not None and run.cmd_mark_end is not None and "cmds" in snap:
        after = run.cmd_mark_end - snap["cmds"]
        first = run.commands - after
        per = after / calls if calls else None
    print(f"  token requests {run.stats['token_requests']}; Redis commands: start-up and first renewal {first}, "
          f"then {after} during {calls} calls (store ops the worker counted: {run.done_sum('store_ops')})")
    print(f"  store round trips per cached access: {fmt_f(per, 4)}")
    h.check_workers("cost", run)
    h.check("cost", "cost: one token request", run.stats["token_requests"] == 1, str(run.stats["token_requests"]))
    h.check("cost", "cost: 0 Redis commands after the first renewal", after == 0, str(after))


def sc_costs(h: Harness, a: argparse.Namespace) -> None:
    for lang in a.langs:
        sc_cost(h, a, lang)


def version_of(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(json.loads(raw)["version"])
    except (ValueError, KeyError, TypeError):
        return None


SCENARIOS: dict[str, Callable[[Harness, argparse.Namespace], None]] = {
    "scale": sc_scale, "mixed": sc_mixed, "kill": sc_kill,
    "restart": lambda h, a: sc_restart(h, a, tuple(a.restart_variants.split(","))), "outage": sc_outage,
    "cost": lambda h, a: sc_costs(h, a),
}


def interrupt_on_signals() -> list[int]:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt (so every `finally` stops what the
    harness started); the list holds the last signal's number."""
    got = [int(signal.SIGINT)]

    def on_signal(signum: int, _frame: Any) -> None:
        got[0] = signum
        raise KeyboardInterrupt

    # SIGINT explicitly too: a background job of a non-interactive shell starts with it ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return got


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="fleet.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=list(SCENARIOS) + ["all", "quick"])
    ap.add_argument("--langs", default=",".join(LANGS), help="comma-separated: rust,python,node")
    ap.add_argument("--procs", type=int, default=None, help="processes per fleet (per language in scale)")
    ap.add_argument("--callers", type=int, default=None, help="caller threads/tasks per process")
    ap.add_argument("--seconds", type=float, default=None, help="length of each fleet run")
    ap.add_argument("--lifetime", type=int, default=2, help="token lifetime at the load server (whole seconds)")
    ap.add_argument("--lease-ms", type=int, default=3000, help="lease TTL in kill and restart mid-renewal")
    ap.add_argument("--hold-ms", type=int, default=600, help="token-request delay in kill and restart mid-renewal")
    ap.add_argument("--takeover-slack-ms", type=int, default=500,
                    help="allowed beyond the lease TTL for a takeover (the waiters' watch/poll interval)")
    ap.add_argument("--down-ms", type=int, default=300, help="how long Redis stays down in the restart scenario")
    ap.add_argument("--restart-variants", default="timed,mid-renewal",
                    help="restart: timed (at a fixed point), mid-renewal (while a process holds the lease)")
    ap.add_argument("--outage-lifetimes", type=float, default=2.5, help="how long Redis stays down in outage")
    ap.add_argument("--cost-seconds", type=float, default=12)
    ap.add_argument("--cost-callers", type=int, default=20)
    ap.add_argument("--cost-lifetime", type=int, default=60)
    ap.add_argument("--keep-logs", action="store_true", help="keep target/fleet/run-*/ even when every check passed")
    a = ap.parse_args(argv)
    a.langs = [l.strip() for l in a.langs.split(",") if l.strip()]
    for l in a.langs:
        if l not in LANGS:
            ap.error(f"unknown language {l!r} (rust, python, node)")
    quick = a.scenario == "quick"
    a.procs = a.procs or (3 if quick else 4)
    a.callers = a.callers or (3 if quick else 4)
    a.seconds = a.seconds or (4 if quick else 8)

    base = os.environ.get("GRANTLINE_LOAD_URL")
    if not base:
        print("SKIP fleet: GRANTLINE_LOAD_URL is unset (run under tests/interop/servers.sh run)")
        return 0

    missing = available(a.langs)
    for lang, why in missing.items():
        print(f"fleet: {lang} worker unavailable: {why}")
    if missing:
        print("fleet: FAILED (worker(s) unavailable; --langs picks the languages to run)")
        return 1

    got = interrupt_on_signals()
    h = Harness(a, Load(base))
    t_start = now()
    ok = False
    try:
        if a.scenario == "all":
            for name, fn in SCENARIOS.items():
                fn(h, a)
        elif quick:
            # The mixed fleet and its baseline stand for the per-language scale (in `all`).
            if len(a.langs) > 1:
                sc_mixed(h, a, baseline=True)
            else:
                sc_scale(h, a)
            sc_kill(h, a, grants=("password",))
            sc_restart(h, a, ("mid-renewal",))
            sc_outage(h, a)
        else:
            SCENARIOS[a.scenario](h, a)
        failed = [c for c in h.checks if not c[2]]
        print(f"\nfleet {a.scenario}: {len(h.checks) - len(failed)} passed, {len(failed)} failed "
              f"({now() - t_start:.0f} s)")
        for sc, what, _, detail in failed:
            print(f"  FAILED [{sc}] {what}: {detail.splitlines()[0] if detail else ''}")
        ok = not failed
        return 0 if ok else 1
    except Failure as e:
        print(f"fleet: FAILED: {e}")
        return 1
    except KeyboardInterrupt:
        print(f"fleet: interrupted ({signal.Signals(got[0]).name})")
        return 128 + got[0]
    finally:
        h.close(keep_logs=a.keep_logs or not ok)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
