#!/usr/bin/env bash
# Sets up everything the test suite needs (system packages, the real Seamless client and
# Python servers from PyPI) and runs the whole suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-prerequisites.sh
scripts/setup-seamless-venv.sh
scripts/setup-conda-tools.sh >/dev/null
scripts/setup-containers.sh || echo "test.sh: container setup failed; ShunterContainerTests will fail (see above)" >&2
scripts/start-slurm-for-tests.sh || echo "test.sh: Slurm setup failed; ShunterSlurmTests will fail (see above)" >&2
# Every module a target imports is declared by that target in Package.swift, and the Swift
# sources are as swift-format (.swift-format) writes them.
python3 scripts/check-imports.py
scripts/format.sh --check
swift build --build-tests
swift test --skip-build "$@"
# The real Seamless client against the built shunter (.build/debug/shunter): Tests/conformance.
SHUNTER_BIN="$root/.build/debug/shunter" .venv-seamless/bin/python -m pytest Tests/conformance
# The bad-input corpus, the crash harness (3 kill -9s during 60 jobs) and a short fuzz run
# against the same binary: Tests/hardening (docs/reliability.md).
SHUNTER_BIN="$root/.build/debug/shunter" .venv-seamless/bin/python -m pytest Tests/hardening
