#!/usr/bin/env bash
# Builds Shunter and serves on 127.0.0.1:5533 with the embedded checksum store (under var/)
# and the default handlers in handlers/. Extra arguments go to `shunter serve`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-prerequisites.sh
# The default handlers run Python transformations with Seamless (.venv-seamless) and build
# conda environments without conda through py-rattler (.venv-conda-tools).
scripts/setup-seamless-venv.sh
scripts/setup-conda-tools.sh --tools-only >/dev/null
swift build -c release --product shunter
exec .build/release/shunter serve --config config/shunter.yaml "$@"
