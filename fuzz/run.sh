#!/usr/bin/env bash
# Builds and runs one libFuzzer target over the codec sources.
#   fuzz/run.sh websocket|http|command|record-state|token|stream-position|redis-address|redis-stream [SECONDS]    (default 30 seconds)
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
             "$src/UTF8Validator.swift" "$src/WebSocketDecoder.swift" "$src/WebSocketCloseFrame.swift"
             "$src/WebSocketFrameEncoder.swift"
             fuzz/FuzzWebSocketDecoder.swift)
    extra=()
    dict=()
    ;;
  http)
    sources=("$src/HTTPTarget.swift" "$src/HTTPRequest.swift" "$src/HTTPRequestParser.swift"
             fuzz/FuzzHTTPParser.swift)
    # The module map in Sources/CHTTPParser makes `import CHTTPParser` work outside SwiftPM too.
    extra=(-I Sources/CHTTPParser -lhttp_parser)
    # libhttp_parser is not instrumented, so libFuzzer cannot see its branches; tokens help.
    dict=(-dict=fuzz/http.dict)
    ;;
  command)
    # The core has no package dependencies, so all of it builds with the fuzz entry point.
    sources=(Sources/ConcordCore/*.swift fuzz/FuzzCommandDecoder.swift)
    extra=()
    dict=(-dict=fuzz/command.dict)
    ;;
  record-state)
    sources=(Sources/ConcordCore/*.swift fuzz/FuzzRecordState.swift)
    extra=()
    dict=()
    ;;
  stream-position)
    sources=(Sources/ConcordCore/*.swift fuzz/FuzzStreamPosition.swift)
    extra=()
    dict=()
    ;;
  redis-address)
    sources=(Sources/ConcordRedis/RedisAddress.swift fuzz/FuzzRedisAddress.swift)
    extra=()
    dict=()
    ;;
  redis-stream)
    # Built as module ConcordCore, so the reader's `import ConcordCore` names its own module.
    sources=(Sources/ConcordCore/*.swift Sources/ConcordRedis/RedisStreamEntry.swift fuzz/FuzzRedisStream.swift)
    extra=()
    dict=(-dict=fuzz/command.dict)
    module=ConcordCore
    ;;
  token)
    sources=(Sources/ConcordCore/*.swift fuzz/FuzzToken.swift)
    extra=()
    dict=(-dict=fuzz/token.dict)
    ;;
  *)
    echo "usage: fuzz/run.sh websocket|http|command|record-state|token|stream-position|redis-address|redis-stream [SECONDS]" >&2
    exit 2
    ;;
esac

# The Swift backtracer can stall after a crash; libFuzzer reports the crash itself.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

mkdir -p fuzz/out/crashes "fuzz/out/corpus-$target" "fuzz/corpus/$target"
binary="fuzz/out/fuzz-$target"
echo "building $binary"
# lld: the default gold linker warns about every ASan helper symbol.
swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld -module-name "${module:-Fuzz${target//-/_}}" \
  "${extra[@]}" "${sources[@]}" -o "$binary"

# New inputs go to the ignored fuzz/out/corpus-TARGET; the committed fuzz/corpus/TARGET only seeds.
echo "fuzzing $target for $seconds s"
exec "$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 "${dict[@]}" \
  -artifact_prefix=fuzz/out/crashes/ "fuzz/out/corpus-$target" "fuzz/corpus/$target"
