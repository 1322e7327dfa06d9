#!/usr/bin/env bash
# Installs what building and running Shunter needs beyond the Swift toolchain, on Debian.
# Idempotent and quiet when everything is present. Needs root (or sudo) only to install.
set -euo pipefail

need=()
dpkg-query -W -f='${Status}' libsqlite3-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libsqlite3-dev)
command -v curl >/dev/null || need+=(curl)
# The TLS tests make a self-signed certificate with it.
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3 python3-venv)

if [ "${#need[@]}" -gt 0 ]; then
  echo "install-prerequisites: installing ${need[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache policy "${need[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]' || $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "install-prerequisites: no 'swift' on PATH; install the Swift 6 toolchain first" >&2; exit 1; }
