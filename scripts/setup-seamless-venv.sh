#!/usr/bin/env bash
# Creates .venv-seamless/ at the repository root with the real Seamless 1.x client and its
# reference Python servers (hashserver, seamless-database, seamless-jobserver) from PyPI.
# The interoperability tests run against these. Idempotent: a complete venv is reused.
# Also pytest (runs Tests/conformance) and IPython (without it the client itself cannot read an
# `ipython` pin, so the conformance suite could not compare that celltype), PyYAML and atheris
# (Tests/hardening: the bad-input corpus and the fuzz harness).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-seamless"
version="1.4.3"
marker="$venv/.seamless-suite-$version-conformance-hardening"
if [ -f "$marker" ]; then exit 0; fi
python3 -m venv "$venv" 2>/dev/null || { "$root/scripts/install-prerequisites.sh"; python3 -m venv "$venv"; }
"$venv/bin/pip" install -q --disable-pip-version-check "seamless-suite==$version" pytest ipython pyyaml atheris
touch "$marker"
echo "setup-seamless-venv: seamless-suite $version in $venv" >&2
