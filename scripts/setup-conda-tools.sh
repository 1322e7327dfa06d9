#!/usr/bin/env bash
# Makes the tools Shunter uses to create conda environments without conda, and the local conda
# channel its tests solve against:
#   .venv-conda-tools/   a Python venv with py-rattler (conda solver + installer, from PyPI)
#   var/test-channel/    built by Tests/conda-channel/build_test_channel.py (see its README.md)
# Prints the venv's python path on stdout (the only stdout line); progress goes to stderr.
# Idempotent and quick when done: the venv is kept while its marker names the pinned py-rattler,
# the channel while its stamp matches the builder script's hash, the python and py-rattler.
# --tools-only: the venv only, no test channel (what `scripts/run.sh` needs).
set -euo pipefail
tools_only=false
[ "${1:-}" = "--tools-only" ] && tools_only=true
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-conda-tools"
rattler_version="0.28.0"
marker="$venv/.py-rattler-$rattler_version"
channel="$root/var/test-channel"
builder="$root/Tests/conda-channel/build_test_channel.py"
stamp_file="$channel/.shunter-channel-stamp"

say() { echo "setup-conda-tools: $*" >&2; }
die() { echo "setup-conda-tools: error: $*" >&2; exit 1; }

mkdir -p "$root/var"
# Two test runs may start this at once: one builds, the other waits.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$root/var/.setup-conda-tools.lock"
    flock 9
fi

if [ ! -f "$marker" ] || [ ! -x "$venv/bin/python" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found (scripts/install-prerequisites.sh installs it)"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv"
        python3 -m venv "$venv" \
            || die "'python3 -m venv $venv' failed (on Debian: apt-get install python3-venv)"
    fi
    say "installing py-rattler==$rattler_version into $venv"
    log="$(mktemp)"
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
            "py-rattler==$rattler_version" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "pip could not install py-rattler==$rattler_version into $venv (output above; PyPI or a find-links wheel dir must provide it)"
    fi
    rm -f "$log"
    "$venv/bin/python" -c "import rattler" 2>/dev/null \
        || die "py-rattler installed but 'import rattler' fails in $venv"
    rm -f "$venv"/.py-rattler-*
    touch "$marker"
fi
echo "$venv/bin/python"
$tools_only && exit 0

python_version="$(sed -n 's/^version *= *//p' "$venv/pyvenv.cfg" | head -n1)"
stamp="$(sha256sum "$builder" | cut -d' ' -f1) python-$python_version py-rattler-$rattler_version"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
    && [ -f "$channel/linux-64/repodata.json" ] && [ -f "$channel/noarch/repodata.json" ]; then
    exit 0
fi
say "building the test conda channel in $channel"
"$venv/bin/python" "$builder" "$channel" --self-test >&2 \
    || die "building the test channel failed: $venv/bin/python $builder $channel --self-test"
echo "$stamp" >"$stamp_file"
