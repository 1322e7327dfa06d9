#!/usr/bin/env bash
# Benchmarks Shunter against the Python Seamless services (seamless-jobserver, hashserver,
# seamless-database) and the machine's floor, all in one run, and writes bench-out/report.md
# and bench-out/report.json (median, p95 and ratios). Nothing fails on a number.
#
# Usage: scripts/bench.sh [--quick] [--only jobs,python,cache,buffers,hashing,memory,slurm] [--keep] ...
#   default: 5-10 minutes; --quick: about 3 minutes. Other options: bench/run.py --help.
#   SHUNTER_BENCH_SCRATCH=<dir>: build and run Shunter from that scratch path (default .build).
# Builds Shunter in release, sets up .venv-seamless, installs wrk (Debian) when missing; every
# server it starts listens on a free 127.0.0.1 port with its own temporary directory and is
# stopped at the end, also on Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/install-prerequisites.sh
if ! command -v wrk >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  { apt-cache policy wrk 2>/dev/null | grep -q 'Candidate: [0-9]' || $sudo_cmd apt-get update -qq; } &&
    $sudo_cmd apt-get install -y -qq --no-install-recommends wrk >/dev/null ||
    echo "bench: could not install wrk; cache-hit scenarios use the Python client instead" >&2
fi
scripts/setup-seamless-venv.sh
mkdir -p bench-out
# SHUNTER_BENCH_SCRATCH: build in another scratch path than .build (e.g. to avoid waiting on
# another build's lock); the default is unchanged.
scratch="${SHUNTER_BENCH_SCRATCH:-.build}"
echo "bench: swift build -c release --product shunter --scratch-path $scratch (log: bench-out/build.log)" >&2
swift build -c release --product shunter --scratch-path "$scratch" > bench-out/build.log 2>&1 ||
  { grep -E "error" bench-out/build.log | head -20 >&2; echo "bench: the release build failed" >&2; exit 1; }

# The driver stops every server it started when it ends, also on SIGINT/SIGTERM.
exec .venv-seamless/bin/python bench/run.py --shunter "$scratch/release/shunter" --venv .venv-seamless \
  --out bench-out "$@"
