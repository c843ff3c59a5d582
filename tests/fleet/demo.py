#!/usr/bin/env python3
"""The fleet demo (issue 12): 3 Rust and 2 Python processes (Node when the Python binding is not
built) share one client_credentials session over Redis, for 3 token lifetimes, against the load
token server; every token set a process takes in is printed as it happens, then the count of
token requests the whole fleet made.

    tests/interop/servers.sh run -- python3 tests/fleet/demo.py      (or: make fleet-demo)
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleet  # noqa: E402  (the harness: Redis, workers, the load server)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="demo.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--lifetime", type=int, default=2)
    ap.add_argument("--lifetimes", type=float, default=3)
    ap.add_argument("--callers", type=int, default=4)
    a = ap.parse_args(argv)
    base = os.environ.get("GRANTLINE_LOAD_URL")
    if not base:
        print("SKIP fleet demo: GRANTLINE_LOAD_URL is unset (run under tests/interop/servers.sh run)")
        return 0
    second = "python" if not fleet.available(["python"]) else "node"
    missing = fleet.available(["rust", second])
    if missing:
        for lang, why in missing.items():
            print(f"fleet demo: {lang} worker unavailable: {why}")
        return 1
    langs = ["rust"] * 3 + [second] * 2
    seconds = a.lifetime * a.lifetimes
    print(f"fleet demo: 3 rust + 2 {second} processes, one shared session (client_credentials) over Redis, "
          f"{a.callers} callers each, {seconds:g} s, token lifetime {a.lifetime} s")
    lock = threading.Lock()

    def show(p: fleet.Proc, t: float, e: dict) -> None:
        ev = e.get("event")
        if ev == "start":
            line = "started"
        elif ev == "renewed":
            how = "token request (http)" if e.get("source") == "http" else "taken from the store"
            line = f"renewed v{e.get('version')}: {how}"
        elif ev == "error":
            line = f"error {e.get('kind')}: {e.get('message')}"
        else:
            return
        with lock:
            print(f"  {t:6.2f} s  {p.label:<14} {line}", flush=True)

    got = fleet.interrupt_on_signals()
    h = fleet.Harness(a, fleet.Load(base))
    ok = False
    try:
        run = h.run_fleet("demo", langs, grant="client_credentials", callers=a.callers, seconds=seconds,
                          lifetime=a.lifetime, on_event=show)
        requests = run.stats["token_requests"]
        calls = run.done_sum("calls")
        errors = run.done_sum("errors")
        span = max((t for p in run.procs for t, _ in p.events), default=run.seconds)
        period = run.lifetime - min(fleet.DEFAULT_SKEW, run.lifetime // 2)
        print(f"token requests: {requests} for {len(langs)} processes over {span / run.lifetime:.1f} lifetimes "
              f"({span:.1f} s from the first start to the last exit; the core renews at half-life, so one "
              f"process alone makes about {span / period:.0f}, and without the store each process makes its own); "
              f"{calls} API calls, {errors} errors")
        ok = all(p.popen.returncode == 0 and p.done for p in run.procs)
        return 0 if ok else 1
    except fleet.Failure as e:
        print(f"fleet demo: FAILED: {e}")
        return 1
    except KeyboardInterrupt:
        return 128 + got[0]
    finally:
        h.close(keep_logs=not ok)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
