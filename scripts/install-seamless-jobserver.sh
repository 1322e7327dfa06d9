#!/usr/bin/env bash
# Puts Shunter's `seamless-jobserver` on the PATH of a Seamless client's environment, ahead of
# the Python one, so that the client's config-driven launch (remote-http-launcher) starts
# Shunter. The Python entry point is kept as `seamless-jobserver-python`.
#
#   scripts/install-seamless-jobserver.sh [VENV]          # default: $VIRTUAL_ENV, else .venv-seamless
#   scripts/install-seamless-jobserver.sh --bin-dir DIR   # only write the wrapper into DIR
#   scripts/install-seamless-jobserver.sh --uninstall [VENV]
#
# Options: --shunter PATH (default: `shunter` on PATH, else .build/release/shunter, else
# .build/debug/shunter), --config FILE (default: config/shunter.yaml of this checkout).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="" bin_dir="" shunter="" config="$root/config/shunter.yaml" uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --shunter) shunter="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "install-seamless-jobserver: unknown option $1" >&2; exit 64 ;;
    *) venv="$1"; shift ;;
  esac
done
if [ -z "$bin_dir" ]; then
  venv="${venv:-${VIRTUAL_ENV:-$root/.venv-seamless}}"
  bin_dir="$venv/bin"
  [ -d "$bin_dir" ] || { echo "install-seamless-jobserver: $bin_dir does not exist (is $venv a virtual environment?)" >&2; exit 2; }
fi
target="$bin_dir/seamless-jobserver"
python_entry="$bin_dir/seamless-jobserver-python"

if [ "$uninstall" = 1 ]; then
  if [ -f "$python_entry" ]; then mv -f "$python_entry" "$target"; echo "restored the Python seamless-jobserver in $bin_dir"; else rm -f "$target"; fi
  exit 0
fi

if [ -z "$shunter" ]; then
  for candidate in "$(command -v shunter || true)" "$root/.build/release/shunter" "$root/.build/debug/shunter"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then shunter="$candidate"; break; fi
  done
fi
[ -n "$shunter" ] && [ -x "$shunter" ] || { echo "install-seamless-jobserver: no shunter binary found; build it with 'swift build -c release' or pass --shunter PATH" >&2; exit 2; }
shunter="$(cd "$(dirname "$shunter")" && pwd)/$(basename "$shunter")"
[ -f "$config" ] || { echo "install-seamless-jobserver: config $config does not exist" >&2; exit 2; }

mkdir -p "$bin_dir"
# Keep the Python entry point once (a second install must not overwrite it with the wrapper).
if [ -f "$target" ] && ! grep -q "shunter seamless-jobserver" "$target" 2>/dev/null; then mv "$target" "$python_entry"; fi
escape() { printf '%s' "$1" | sed -e 's/[\/&|]/\\&/g'; }
sed -e "s|@SHUNTER_BIN@|$(escape "$shunter")|" -e "s|@SHUNTER_CONFIG@|$(escape "$config")|" \
  "$root/scripts/seamless-jobserver" > "$target.tmp"
chmod +x "$target.tmp"
mv -f "$target.tmp" "$target"
echo "installed $target -> $shunter seamless-jobserver --config $config" >&2
