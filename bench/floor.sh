#!/usr/bin/env bash
# The machine's floor for a trivial bash job: a bare `bash -c 'echo $a > RESULT'` in a directory
# of its own, its RESULT file then read back, with nothing else around it.
# Usage: floor.sh DIR N CONCURRENCY
# DIR/<i>/ must exist for i in 0..N-1. `CONCURRENCY` closed-loop workers share the N runs (as the
# HTTP client's workers do); each run prints "start end" ($EPOCHREALTIME) on standard output.
set -u
dir=$1 n=$2 c=$3

worker() {
  local i x t0
  for ((i = $1; i < n; i += c)); do
    t0=$EPOCHREALTIME
    a=$i bash -c 'cd "$0" && echo $a > RESULT' "$dir/$i"
    read -r x < "$dir/$i/RESULT"
    [ "$x" = "$i" ] || echo "ERROR $i: RESULT is '$x'" >&2
    echo "$t0 $EPOCHREALTIME"
  done
}

for ((w = 0; w < c; w++)); do worker "$w" & done
wait
