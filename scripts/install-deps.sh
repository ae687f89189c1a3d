#!/usr/bin/env bash
# Installs the Debian packages Concord builds against, only those missing. Needs root or sudo.
set -euo pipefail

packages=(libuv1-dev libhttp-parser-dev libsqlite3-dev libhiredis-dev pkg-config)
# Extra groups: `install-deps.sh test` adds what the test suite needs.
for group in "$@"; do
  case "$group" in
    test) packages+=(nodejs python3 python3-pip chromium chromium-driver redis-server) ;;
    bench) packages+=(jq bc nginx libnginx-mod-nchan valgrind gcc) ;;
    dist) packages+=(dpkg-dev binutils systemd adduser curl util-linux nodejs npm) ;;
    *) echo "install-deps: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # Node may come from outside Debian (a toolchain image); a working `node` is enough.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = python3 ] && command -v python3 >/dev/null 2>&1; then continue; fi
  if [ "$p" = python3-pip ] && python3 -m pip --version >/dev/null 2>&1; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
