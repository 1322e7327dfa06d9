#!/usr/bin/env bash
# Builds Shunter and serves on 127.0.0.1:5533 with the embedded checksum store (under var/)
# and the default handlers in handlers/. Extra arguments go to `shunter serve`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-prerequisites.sh
swift build -c release --product shunter
exec .build/release/shunter serve --config config/shunter.yaml "$@"
