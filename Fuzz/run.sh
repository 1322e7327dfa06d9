#!/usr/bin/env bash
# Builds the libFuzzer target for Shunter's parsers (Fuzz/Package.swift) in its own build
# folder, .build-fuzz at the repository root, and runs it. Arguments go to libFuzzer:
#   Fuzz/run.sh -runs=100000                     # a short run
#   Fuzz/run.sh -max_total_time=3600 -jobs=2     # the long run (docs/reliability.md)
#   Fuzz/run.sh crash-<sha1>                     # replay a finding
# Findings are written as crash-*, oom-*, timeout-* in the current directory. The corpus grows
# in Fuzz/corpus-local/ (not tracked), seeded from Fuzz/seeds/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# lld: gold cannot link libFuzzer's archive beside SwiftPM's renamed entry point.
swift build --package-path "$root/Fuzz" --scratch-path "$root/.build-fuzz" -c debug \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >&2
# Swift's backtracer takes minutes per trap under the sanitizers; the Fatal error line with its
# source location is printed without it.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
binary="$root/.build-fuzz/debug/ShunterParserFuzzer"
case "${1:-}" in
    crash-*|oom-*|timeout-*|leak-*) exec "$binary" "$@" ;;
esac
mkdir -p "$root/Fuzz/corpus-local"
exec "$binary" -max_len=65536 "$@" "$root/Fuzz/corpus-local" "$root/Fuzz/seeds"
