#!/usr/bin/env bash
# Builds and runs one libFuzzer target over the codec sources.
#   fuzz/run.sh websocket|http [SECONDS]    (default 30 seconds)
# Exits non-zero when the fuzzer finds a crash; the crashing input is saved under fuzz/out/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
seconds=${2:-30}
src=Sources/ConcordCodec
case "$target" in
  websocket)
    # Not WebSocketHandshake.swift: it imports Crypto, which a bare swiftc build does not have.
    sources=("$src/WebSocketOpcode.swift" "$src/WebSocketEvent.swift" "$src/WebSocketMasking.swift"
             "$src/UTF8Validator.swift" "$src/WebSocketDecoder.swift" "$src/WebSocketFrameEncoder.swift"
             fuzz/FuzzWebSocketDecoder.swift)
    extra=()
    ;;
  http)
    sources=("$src/HTTPTarget.swift" "$src/HTTPRequest.swift" "$src/HTTPRequestParser.swift"
             fuzz/FuzzHTTPParser.swift)
    # The module map in Sources/CHTTPParser makes `import CHTTPParser` work outside SwiftPM too.
    extra=(-I Sources/CHTTPParser -lhttp_parser)
    ;;
  *)
    echo "usage: fuzz/run.sh websocket|http [SECONDS]" >&2
    exit 2
    ;;
esac

mkdir -p fuzz/out/crashes "fuzz/out/corpus-$target" "fuzz/corpus/$target"
binary="fuzz/out/fuzz-$target"
echo "building $binary"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz$target" \
  "${extra[@]}" "${sources[@]}" -o "$binary"

# New inputs go to the ignored fuzz/out/corpus-TARGET; the committed fuzz/corpus/TARGET only seeds.
echo "fuzzing $target for $seconds s"
exec "$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
  -artifact_prefix=fuzz/out/crashes/ "fuzz/out/corpus-$target" "fuzz/corpus/$target"
