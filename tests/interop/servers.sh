#!/usr/bin/env bash
# Interop-test servers for grantline: oidc-provider, Authlib and oauth2-mock-server, plus our own
# hostile HTTP server (tests/hostile) and rotating token server (tests/load), and a Redis
# (Debian's redis-server, not durable: no RDB, no AOF) for the shared token store, all on
# 127.0.0.1 with free ports. See README.md in this folder.
#
#   tests/interop/servers.sh install            install Node and Python deps and redis-server
#                                               (idempotent, quick when done)
#   tests/interop/servers.sh run [--] CMD ...   install, start the six servers, export
#                                               GRANTLINE_OIDC_URL / GRANTLINE_AUTHLIB_URL / GRANTLINE_MOCK_URL /
#                                               GRANTLINE_HOSTILE_URL / GRANTLINE_LOAD_URL /
#                                               GRANTLINE_REDIS_URL (redis://127.0.0.1:PORT/0),
#                                               run CMD, stop the servers, exit with CMD's status
#   tests/interop/servers.sh start              start them in the background, print the env (for hand testing)
#   tests/interop/servers.sh stop               stop what `start` started
#
# Environment knobs: GRANTLINE_INTEROP_TIMEOUT (seconds to wait for the servers, default 30),
# GRANTLINE_INTEROP_PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/.venv"
VENV_STAMP="$VENV/.interop-stamp"
NODE_STAMP="$HERE/node_modules/.interop-stamp"
LOGDIR="$ROOT/target/interop-logs"
STATE="$LOGDIR/servers.state"       # written by `start`, read by `stop`
TIMEOUT="${GRANTLINE_INTEROP_TIMEOUT:-30}"
PYTHON="${GRANTLINE_INTEROP_PYTHON:-python3}"
HOST=127.0.0.1

NAMES=(oidc authlib mock hostile load redis)
declare -A PORT=() PID=() URL=() PROBE=()
PIDS_STARTED=()
WATCHDOG=""
REDIS_DIR=""                        # redis-server's --dir (a temp dir under target/), removed at the end

say() { printf 'interop: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {  # usage [STATUS]
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# ---------------------------------------------------------------- install
install_node() {
  command -v node >/dev/null || die "node not found (Node >= 20 needed)"
  command -v npm >/dev/null || die "npm not found"
  if [[ -f "$NODE_STAMP" && ! "$HERE/package-lock.json" -nt "$NODE_STAMP" ]]; then
    return 0
  fi
  say "installing Node deps (npm ci in tests/interop)"
  local log="$LOGDIR/install-npm.log"
  if ! (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "npm ci failed (full log: $log)"
  fi
  touch "$NODE_STAMP"
}

install_python() {
  local want
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python >= 3.9 needed)"
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3-venv)"
  fi
  want="$({ cat "$HERE/requirements.txt"; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$VENV_STAMP" && "$(cat "$VENV_STAMP")" == "$want" ]]; then
    return 0
  fi
  say "installing Python deps (pip install -r tests/interop/requirements.txt into $VENV)"
  local log="$LOGDIR/install-pip.log"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$HERE/requirements.txt" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pip install failed (full log: $log)"
  fi
  printf '%s\n' "$want" >"$VENV_STAMP"
}

cmd_install() {
  mkdir -p "$LOGDIR"
  # serialise concurrent installs (two `run`s started at once)
  if command -v flock >/dev/null; then
    exec 9>"$LOGDIR/.install.lock"
    flock 9
  fi
  install_node
  install_python
  "$ROOT/scripts/tools.sh" redis || die "could not install redis-server (scripts/tools.sh redis)"
  if command -v flock >/dev/null; then exec 9>&-; fi
}

# ---------------------------------------------------------------- servers
free_ports() {  # free_ports N -- prints N free TCP ports on 127.0.0.1
  "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

probe_server() {  # probe_server NAME -> 0 when the server answers its probe
  if [[ $1 == redis ]]; then
    [[ "$(redis-cli -h "$HOST" -p "${PORT[redis]}" ping 2>/dev/null)" == PONG ]]
  else
    probe "${PROBE[$1]}"
  fi
}

probe() {  # probe URL -> 0 when it answers 2xx
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" >/dev/null 2>&1
  fi
}

start_one() {  # start_one NAME -- each server in its own session/process group, logs to target/interop-logs
  local name=$1 port=${PORT[$1]} log="$LOGDIR/$1.log"
  URL[$name]="http://$HOST:$port"
  case $name in
    oidc)
      PROBE[$name]="${URL[$name]}/.well-known/openid-configuration"
      AUTO_APPROVE=1 setsid node "$HERE/oidc-server.mjs" "$port" </dev/null >"$log" 2>&1 &
      ;;
    authlib)
      PROBE[$name]="${URL[$name]}/.well-known/oauth-authorization-server"
      ACCEPT_JSON=1 AUTHLIB_INSECURE_TRANSPORT=1 PYTHONUNBUFFERED=1 \
        setsid "$VENV/bin/python" "$HERE/authlib_server.py" "$port" </dev/null >"$log" 2>&1 &
      ;;
    mock)
      PROBE[$name]="${URL[$name]}/.well-known/openid-configuration"
      setsid node "$HERE/mock-server.mjs" "$port" </dev/null >"$log" 2>&1 &
      ;;
    hostile)   # stdlib only; the venv's python just pins the interpreter
      PROBE[$name]="${URL[$name]}/ok"
      PYTHONUNBUFFERED=1 setsid "$VENV/bin/python" "$ROOT/tests/hostile/server.py" "$port" </dev/null >"$log" 2>&1 &
      ;;
    load)
      PROBE[$name]="${URL[$name]}/admin/stats"
      PYTHONUNBUFFERED=1 setsid "$VENV/bin/python" "$ROOT/tests/load/server.py" "$port" </dev/null >"$log" 2>&1 &
      ;;
    redis)     # the shared test instance need not be durable: no RDB snapshots, no AOF
      URL[$name]="redis://$HOST:$port/0"
      PROBE[$name]="redis-cli -p $port ping"
      REDIS_DIR="$(mktemp -d "$ROOT/target/interop-redis.XXXXXX")"
      setsid redis-server --port "$port" --bind "$HOST" --protected-mode yes --save '' --appendonly no \
        --dir "$REDIS_DIR" --logfile '' </dev/null >"$log" 2>&1 &
      ;;
  esac
  PID[$name]=$!
  PIDS_STARTED+=("$!")
}

# Kill the process groups we started (TERM, then KILL after 5 s) and reap them. The pid itself is
# signalled too, in case it has not yet made itself a group leader (setsid) when we get here.
alive_any() {
  local pid
  for pid in "$@"; do
    if kill -0 -- "-$pid" 2>/dev/null; then return 0; fi
    # a zombie (exited, not yet reaped) still answers kill -0: look at its state
    if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then return 0; fi
  done
  return 1
}
signal_all() {  # signal_all SIG PID...
  local sig=$1 pid; shift
  for pid in "$@"; do
    kill "-$sig" -- "-$pid" 2>/dev/null || true
    kill "-$sig" "$pid" 2>/dev/null || true
  done
}
stop_groups() {
  local pid deadline=$((SECONDS + 5))
  signal_all TERM "$@"
  while alive_any "$@"; do
    if ((SECONDS >= deadline)); then
      signal_all KILL "$@"
      break
    fi
    sleep 0.1
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

remove_redis_dir() {  # remove_redis_dir DIR -- only a dir this script made
  [[ -n "$1" && "$1" == "$ROOT/target/interop-redis."* && -d "$1" ]] && rm -rf -- "$1"
  return 0
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$WATCHDOG" ]]; then stop_groups "$WATCHDOG"; WATCHDOG=""; fi
  if ((${#PIDS_STARTED[@]})); then stop_groups "${PIDS_STARTED[@]}"; PIDS_STARTED=(); fi
  remove_redis_dir "$REDIS_DIR"; REDIS_DIR=""
  return $rc
}

on_signal() {  # $1 = exit status to use
  cleanup || true
  exit "$1"
}

# If this script is killed without running its traps (SIGKILL), a detached watchdog stops the servers.
start_watchdog() {
  # shellcheck disable=SC2016  # the script is for the inner bash
  setsid bash -c '
    parent=$1; shift
    while kill -0 "$parent" 2>/dev/null; do sleep 1; done
    for g in "$@"; do kill -TERM -- "-$g" 2>/dev/null; done
    sleep 3
    for g in "$@"; do kill -KILL -- "-$g" 2>/dev/null; done
  ' interop-watchdog "$$" "${PIDS_STARTED[@]}" </dev/null >/dev/null 2>&1 &
  WATCHDOG=$!
}

start_all() {  # starts the six servers and waits until they answer; sets URL[]
  local name deadline pending
  mkdir -p "$LOGDIR"
  command -v setsid >/dev/null || die "setsid not found (util-linux)"
  command -v redis-server >/dev/null || die "redis-server not found (scripts/tools.sh redis)"
  read -r 'PORT[oidc]' 'PORT[authlib]' 'PORT[mock]' 'PORT[hostile]' 'PORT[load]' 'PORT[redis]' \
    <<<"$(free_ports "${#NAMES[@]}")"
  for name in "${NAMES[@]}"; do start_one "$name"; done

  deadline=$((SECONDS + TIMEOUT))
  pending=("${NAMES[@]}")
  while ((${#pending[@]})); do
    local still=()
    for name in "${pending[@]}"; do
      if probe_server "$name"; then
        continue
      fi
      if ! kill -0 "${PID[$name]}" 2>/dev/null; then
        say "$name server exited before answering ${PROBE[$name]}; last lines of $LOGDIR/$name.log:"
        tail -n 30 "$LOGDIR/$name.log" >&2 || true
        return 1
      fi
      still+=("$name")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      for name in "${pending[@]}"; do
        say "$name server did not answer ${PROBE[$name]} within ${TIMEOUT}s; last lines of $LOGDIR/$name.log:"
        tail -n 30 "$LOGDIR/$name.log" >&2 || true
      done
      return 1
    fi
    sleep 0.2
  done
}

export_env() {
  export GRANTLINE_OIDC_URL="${URL[oidc]}"
  export GRANTLINE_AUTHLIB_URL="${URL[authlib]}"
  export GRANTLINE_MOCK_URL="${URL[mock]}"
  export GRANTLINE_HOSTILE_URL="${URL[hostile]}"
  export GRANTLINE_LOAD_URL="${URL[load]}"
  export GRANTLINE_REDIS_URL="${URL[redis]}"
}

cmd_run() {
  [[ ${1-} == -- ]] && shift
  (($#)) || usage
  cmd_install
  trap cleanup EXIT
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  trap 'on_signal 129' HUP
  local t0=$SECONDS
  start_all || exit 1
  start_watchdog
  export_env
  say "servers up in $((SECONDS - t0))s: oidc ${URL[oidc]}, authlib ${URL[authlib]}, mock ${URL[mock]}," \
      "hostile ${URL[hostile]}, load ${URL[load]}, redis ${URL[redis]} (logs: $LOGDIR)"
  local rc=0
  "$@" || rc=$?
  exit "$rc"   # EXIT trap stops the servers
}

cmd_start() {
  [[ -f "$STATE" ]] && die "servers already started (state in $STATE); run '$0 stop' first"
  cmd_install
  trap cleanup EXIT
  start_all || exit 1
  export_env
  {
    printf 'PGIDS="%s"\n' "${PIDS_STARTED[*]}"
    printf 'REDIS_DIR="%s"\n' "$REDIS_DIR"
    printf 'export GRANTLINE_OIDC_URL=%s\n' "$GRANTLINE_OIDC_URL"
    printf 'export GRANTLINE_AUTHLIB_URL=%s\n' "$GRANTLINE_AUTHLIB_URL"
    printf 'export GRANTLINE_MOCK_URL=%s\n' "$GRANTLINE_MOCK_URL"
    printf 'export GRANTLINE_HOSTILE_URL=%s\n' "$GRANTLINE_HOSTILE_URL"
    printf 'export GRANTLINE_LOAD_URL=%s\n' "$GRANTLINE_LOAD_URL"
    printf 'export GRANTLINE_REDIS_URL=%s\n' "$GRANTLINE_REDIS_URL"
  } >"$STATE"
  PIDS_STARTED=(); REDIS_DIR=""     # leave them running
  trap - EXIT
  grep '^export' "$STATE"
  say "started; 'source <(grep ^export $STATE)' to load the env, '$0 stop' to stop"
}

cmd_stop() {
  [[ -f "$STATE" ]] || { say "nothing to stop"; return 0; }
  local PGIDS=""
  PGIDS="$(sed -n 's/^PGIDS="\(.*\)"$/\1/p' "$STATE")"
  local pid mine=() dir
  dir="$(sed -n 's/^REDIS_DIR="\(.*\)"$/\1/p' "$STATE")"
  for pid in $PGIDS; do   # only our servers, in case the state file is stale and a pid was reused
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$ROOT/tests/"; then mine+=("$pid")
    # redis-server rewrites its command line; it runs in its --dir
    elif [[ -n "$dir" && "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$dir" ]]; then mine+=("$pid"); fi
  done
  ((${#mine[@]})) && stop_groups "${mine[@]}"
  remove_redis_dir "$dir"
  rm -f "$STATE"
  say "stopped"
}

case "${1-}" in
  install) shift; cmd_install ;;
  run) shift; cmd_run "$@" ;;
  start) shift; cmd_start ;;
  stop) shift; cmd_stop ;;
  -h|--help|help) usage 0 ;;
  *) usage ;;
esac
