#!/usr/bin/env bash
# Run the Autobahn|Testsuite fuzzing client against `concord echo`.
#
#   autobahn/run.sh
#
# Idempotent: creates (or reuses) a Python 2.7 virtualenv with pinned
# autobahntestsuite, builds the `concord` product, starts `concord echo` on a
# free loopback port, runs `wstest -m fuzzingclient`, stops the server and
# prints a summary (autobahn/summarize.py). Exit status is non-zero when any
# case in sections 1-11 FAILED (see summarize.py) or when a step broke.
#
# Environment knobs (all optional):
#   AUTOBAHN_VENV      venv dir            (default $HOME/.cache/concord-autobahn-venv)
#   AUTOBAHN_PYTHON2   python2.7 binary    (default: pyenv's 2.7.x, then python2.7 on PATH)
#   SCRATCH            passed to `swift build --scratch-path`
#   AUTOBAHN_SERVER_BIN  use this concord binary instead of building one
#   AUTOBAHN_PORT      port for the echo server (default: a free one)
#   AUTOBAHN_CASES     comma-separated case patterns (default "*"), e.g. "1.*,5.*"
#   AUTOBAHN_TIMEOUT   seconds allowed for the whole wstest run (default 3600)
#   AUTOBAHN_PRUNE_CASE_JSON=1  delete per-case <agent>_case_*.json, keep index.json
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="${AUTOBAHN_VENV:-$HOME/.cache/concord-autobahn-venv}"
REQS="$HERE/requirements-py27.txt"
TEMPLATE="$HERE/fuzzingclient.json"
OUTDIR="$HERE/reports/clients"
VIRTUALENV_PIN="virtualenv==20.15.1"   # last line of virtualenv that runs on 2.7 and seeds pip 20.3.4

log() { printf '[autobahn] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

command -v python3 >/dev/null 2>&1 || die "python3 not found (needed for the spec generator and summarize.py)"

# --- 1. Python 2.7 + virtualenv ---------------------------------------------
find_python2() {
  if [ -n "${AUTOBAHN_PYTHON2:-}" ]; then echo "$AUTOBAHN_PYTHON2"; return; fi
  local c
  if command -v pyenv >/dev/null 2>&1; then
    for c in $(pyenv versions --bare 2>/dev/null | grep -E '^2\.7\.[0-9]+$' | sort -t. -k3 -n -r); do
      if [ -x "$(pyenv root)/versions/$c/bin/python" ]; then echo "$(pyenv root)/versions/$c/bin/python"; return; fi
    done
  fi
  for c in "$HOME"/.pyenv/versions/2.7.*/bin/python /root/.pyenv/versions/2.7.*/bin/python; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
  for c in python2.7 python2; do
    command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return; }
  done
  return 1
}

reqs_hash() { { cat "$REQS"; echo "$VIRTUALENV_PIN"; } | sha256sum | cut -d' ' -f1; }

venv_ok() {
  [ -x "$VENV/bin/wstest" ] || return 1
  [ "$(cat "$VENV/.concord-reqs.sha256" 2>/dev/null)" = "$(reqs_hash)" ] || return 1
  "$VENV/bin/wstest" -a >/dev/null 2>&1 || return 1
}

if venv_ok; then
  log "reusing venv $VENV"
else
  PY2="$(find_python2)" || die "no Python 2.7 interpreter found; set AUTOBAHN_PYTHON2"
  "$PY2" -c 'import sys; assert sys.version_info[:2] == (2, 7)' || die "$PY2 is not Python 2.7"
  log "creating venv $VENV with $PY2"
  if ! "$PY2" -m virtualenv --version >/dev/null 2>&1; then
    log "installing $VIRTUALENV_PIN into $PY2"
    "$PY2" -m pip install --disable-pip-version-check -q "$VIRTUALENV_PIN"
  fi
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY2" -m virtualenv -q --no-periodic-update "$VENV"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS" >"$VENV/.pip-install.log" 2>&1; then
    tail -n 40 "$VENV/.pip-install.log" >&2
    die "pip install -r $REQS failed"
  fi
  "$VENV/bin/wstest" -a >/dev/null 2>&1 || die "wstest does not run in $VENV"
  reqs_hash > "$VENV/.concord-reqs.sha256"
fi
log "$("$VENV/bin/wstest" -a 2>/dev/null | grep -E '^Autobahn' | tr '\n' ' ')"

# --- 2. Build the echo server -----------------------------------------------
if [ -n "${AUTOBAHN_SERVER_BIN:-}" ]; then
  SERVER_BIN="$AUTOBAHN_SERVER_BIN"
else
  build_args=(--product concord)
  [ -n "${SCRATCH:-}" ] && build_args+=(--scratch-path "$SCRATCH")
  log "swift build ${build_args[*]}"
  (cd "$ROOT" && swift build "${build_args[@]}") >&2
  SERVER_BIN="$(cd "$ROOT" && swift build "${build_args[@]}" --show-bin-path)/concord"
fi
[ -x "$SERVER_BIN" ] || die "server binary not found: $SERVER_BIN"

# --- 3. Start `concord echo` on a free port ----------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/concord-autobahn.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="${AUTOBAHN_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}"
log "starting $SERVER_BIN echo --host 127.0.0.1 --port $PORT (log: $WORK/server.log)"
"$SERVER_BIN" echo --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 1 300); do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 50 "$WORK/server.log" >&2; die "echo server exited early"; }
  if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$PORT" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || { tail -n 50 "$WORK/server.log" >&2; die "echo server did not accept on port $PORT within 30s"; }

# --- 4. Generate the spec and run the fuzzing client -------------------------
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
SPEC="$WORK/fuzzingclient.json"
python3 - "$TEMPLATE" "$SPEC" "$PORT" "$OUTDIR" "${AUTOBAHN_CASES:-}" <<'PY'
import json, sys
template, out, port, outdir, cases = sys.argv[1:6]
with open(template) as f:
    spec = json.load(f)
for s in spec["servers"]:
    s["url"] = "ws://127.0.0.1:%s" % port
spec["outdir"] = outdir
if cases.strip():
    spec["cases"] = [c.strip() for c in cases.split(",") if c.strip()]
with open(out, "w") as f:
    json.dump(spec, f, indent=3)
PY

log "wstest -m fuzzingclient -s $SPEC (wstest log: $WORK/wstest.log)"
wstest_rc=0
(cd "$WORK" && timeout "${AUTOBAHN_TIMEOUT:-3600}" "$VENV/bin/wstest" -m fuzzingclient -s "$SPEC") \
  >"$WORK/wstest.log" 2>&1 || wstest_rc=$?
cleanup
SERVER_PID=""
if [ "$wstest_rc" != 0 ] || [ ! -f "$OUTDIR/index.json" ]; then
  tail -n 40 "$WORK/wstest.log" >&2
  die "wstest failed (exit $wstest_rc); no $OUTDIR/index.json"
fi

# --- 5. Summarize --------------------------------------------------------------
summary_rc=0
python3 "$HERE/summarize.py" "$OUTDIR/index.json" || summary_rc=$?

# The HTML reports (index.html, per-case .html) stay for local browsing; git
# ignores them. Per-case JSON (about 1.5 MB over ~300 files) is kept for
# committing next to index.json; AUTOBAHN_PRUNE_CASE_JSON=1 keeps only index.json.
if [ "${AUTOBAHN_PRUNE_CASE_JSON:-0}" = 1 ]; then
  find "$OUTDIR" -maxdepth 1 -name '*_case_*.json' -delete
fi
rm -rf "$WORK"
exit "$summary_rc"
