#!/usr/bin/env bash
# Packs the JavaScript client as an npm package: DEST/concord-client-VERSION.tgz (DEST defaults to
# dist/). The package is assembled in a temporary directory from the files the server serves at
# /v1/client.js (Sources/ConcordServer/Resources/concord.js and client/*.js), protocol/concord.d.ts,
# and clients/js/ (package.json and README.md); its version is the VERSION file's. Nothing is
# copied into the repository, so the server and the package cannot drift apart.
# Prints the tarball's path.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/dist}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
version="$(tr -d '[:space:]' < "$root/VERSION")"
resources="$root/Sources/ConcordServer/Resources"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

mkdir "$stage/client"
cp "$resources/concord.js" "$stage/"
cp "$resources"/client/*.js "$stage/client/"
cp "$root/protocol/concord.d.ts" "$root/clients/js/README.md" "$stage/"
# The manifest with the version inserted after the name, so package.json reads as usual.
VERSION="$version" node -e '
  const fs = require("node:fs");
  const { name, ...rest } = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  fs.writeFileSync(process.argv[2], JSON.stringify({ name, version: process.env.VERSION, ...rest }, null, 2) + "\n");
' "$root/clients/js/package.json" "$stage/package.json"

# --ignore-scripts: the package has none, and packing must not run any; npm needs no registry here.
tarball="$(cd "$stage" && npm pack --ignore-scripts --silent --pack-destination "$dest")"
echo "$dest/$tarball"
