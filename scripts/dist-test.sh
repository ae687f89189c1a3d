#!/usr/bin/env bash
# Checks what `make dist` built, the way an operator uses it (root: it installs the .deb):
# 1. The tarball's binary, with the Swift toolchain hidden (a private mount namespace with an empty
#    directory over it): /healthz, /v1/client.js and /demo answer, and a WebSocket client connects.
# 2. The .deb installs with dpkg -i, its unit passes systemd-analyze verify, the installed binary
#    starts as the unit's user with the unit's ExecStart and environment file, stops on SIGTERM,
#    and the package removes and purges cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(tr -d '[:space:]' < VERSION)
arch=$(dpkg --print-architecture)
tarball="dist/concord-$version-linux-$arch.tar.gz"
deb="dist/concord_${version}_${arch}.deb"
[ -f "$tarball" ] && [ -f "$deb" ] || scripts/dist.sh
work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "dist-test: FAIL: $*" >&2; exit 1; }

# Starts a command in the background, waits for its "listening on" line, sets $server and $port.
start() {
    local log=$1; shift
    "$@" > "$log" 2>&1 &
    server=$!
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*concord listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$port" ] && return 0
        kill -0 "$server" 2>/dev/null || { cat "$log" >&2; fail "the server exited before listening"; }
        sleep 0.05
    done
    cat "$log" >&2; fail "the server did not listen within 10 s"
}
stop() {
    kill -TERM "$server"
    local status=0
    wait "$server" || status=$?
    server=""
    [ "$status" = 0 ] || fail "the server exited with $status after SIGTERM"
}
# `check_serves demo` also checks the demo page (on with --dev; off as the unit runs).
check_serves() {
    local base="http://127.0.0.1:$port"
    # Read whole, then matched: grep -q stopping early would fail curl's write under pipefail.
    local health script demo
    health=$(curl -fsS "$base/healthz") && [[ $health == *"\"version\":\"$version\""* ]] || fail "/healthz does not name version $version: $health"
    script=$(curl -fsS "$base/v1/client.js") && [[ $script == *export* ]] || fail "/v1/client.js is not the client module"
    if [ "${1:-}" = demo ]; then
        demo=$(curl -fsSL "$base/demo/") && [[ ${demo,,} == *"<html"* ]] || fail "/demo/ is not the demo page"
    fi
    node --experimental-websocket --no-warnings -e "
        const ws = new WebSocket('ws://127.0.0.1:$port/v1/ws?user=ops');
        const timer = setTimeout(() => { console.error('no welcome'); process.exit(1); }, 5000);
        ws.onmessage = (m) => { if (JSON.parse(m.data).op === 'welcome') { clearTimeout(timer); ws.close(); process.exit(0); } };
        ws.onerror = () => { console.error('WebSocket error'); process.exit(1); };" || fail "a WebSocket client did not get its welcome"
}

echo "== the tarball's binary, with the Swift toolchain hidden"
tar -C "$work" -xzf "$tarball"
binary="$work/concord-$version-linux-$arch/concord"
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
toolchain=${toolchain%/usr}
echo "toolchain at $toolchain; the binary links:"
ldd "$binary" | sed 's/^/    /'
if ldd "$binary" | grep -q "$toolchain"; then fail "the binary links libraries of the toolchain"; fi
if ldd "$binary" | grep -q "not found"; then fail "the binary needs a library that is missing"; fi
"$binary" --version | grep -q "concord $version (commit " || fail "--version does not say version and commit"
start "$work/hidden.log" unshare --mount --propagation private sh -c '
    mount -t tmpfs tmpfs "$1" && [ -z "$(ls -A "$1")" ] || { echo "could not hide $1"; exit 1; }
    cd "$2" && exec "$3" serve --port 0 --memory --dev' sh "$toolchain" "$work" "$binary"
check_serves demo
stop
echo "ok: serves /healthz, /v1/client.js, /demo and WebSocket without the toolchain"

echo "== the .deb"
dpkg -P concord >/dev/null 2>&1 || true
dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
dpkg -s concord | grep -q "^Status: install ok installed" || fail "concord is not installed"
dpkg-deb -f "$deb" Depends | sed 's/^/    Depends: /'
getent passwd concord >/dev/null || fail "no concord system user"
[ "$(stat -c %U /var/lib/concord)" = concord ] || fail "/var/lib/concord is not the service's"
unit=/lib/systemd/system/concord.service
systemd-analyze verify "$unit" || fail "systemd-analyze verify found problems in $unit"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
environment_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
[ -n "$exec_start" ] && [ -n "$user" ] && [ -f "$environment_file" ] || fail "the unit lacks ExecStart, User or its environment file"
# As systemd would run it: the unit's user, directory, environment file; port 0 so that the test
# never meets a port in use (the only variable added).
start "$work/unit.log" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'set -a; . "$1"; set +a; CONCORD_PORT=0; cd "$2" && exec setpriv --reuid="$3" --regid="$3" --init-groups -- $4' \
    sh "$environment_file" "$workdir" "$user" "$exec_start"
check_serves
[ -n "$(find /var/lib/concord -name '*.sqlite3' -user concord)" ] || fail "no store written in /var/lib/concord by the service user"
stop
echo "ok: the unit's command runs as $user with $environment_file"

dpkg -r concord >/dev/null || fail "dpkg -r failed"
[ ! -e /usr/bin/concord ] && [ ! -e "$unit" ] || fail "dpkg -r left the binary or the unit"
[ -f /etc/concord/concord.env ] || fail "dpkg -r removed the configuration (a conffile stays until purge)"
dpkg -P concord >/dev/null || fail "dpkg -P failed"
[ ! -e /etc/concord ] && [ ! -e /var/lib/concord ] || fail "purge left /etc/concord or /var/lib/concord"
! getent passwd concord >/dev/null || fail "purge left the concord user"
dpkg -s concord >/dev/null 2>&1 && fail "concord is still known to dpkg"
echo "ok: installs, verifies, runs, removes and purges cleanly"
