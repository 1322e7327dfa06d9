#!/usr/bin/env bash
# Installs (Debian's docker.io) and starts a Docker engine for Shunter's docker handler and its
# container tests, in the one configuration Shunter supports on a shared machine:
#   - no bridge network and no iptables/NAT rules (--bridge=none --iptables=false
#     --ip-forward=false --ip-masq=false): the engine never creates docker0 or touches the
#     host's firewall; Shunter runs every container with --network=none (or host when a
#     handler asks for it);
#   - no registry needed: images come from `docker load`/`docker import` of local files.
# Logs go to /var/log/shunter-dockerd.log. The engine is left running (a system service).
# Idempotent: when an engine already answers, nothing is installed or started.
# Needs root. Works without systemd (starts dockerd itself in its own session).
set -euo pipefail
me="start-docker.sh"
log=/var/log/shunter-dockerd.log
if docker info >/dev/null 2>&1; then
  docker version --format "$me: docker engine {{.Server.Version}} is running"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "$me: must run as root (installs docker.io and starts dockerd); try: sudo $0" >&2; exit 1; }
if ! command -v dockerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends docker.io >/dev/null; then
    echo "$me: could not install Debian's docker.io package; install a Docker engine by hand (https://docs.docker.com/engine/install/debian/) and start it with --bridge=none --iptables=false" >&2
    exit 1
  fi
fi
dockerd_bin="$(command -v dockerd)"
# A socket left by an engine that died would make the new one refuse to start.
[ -S /var/run/docker.sock ] && ! docker info >/dev/null 2>&1 && rm -f /var/run/docker.sock /var/run/docker.pid
setsid "$dockerd_bin" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
  >>"$log" 2>&1 </dev/null &
# Wait for the engine (a loop on its readiness, bounded: a few seconds on an idle machine).
for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
if ! docker info >/dev/null 2>&1; then
  echo "$me: dockerd did not answer within 60 s; its log ($log) ends with:" >&2
  tail -20 "$log" >&2
  exit 1
fi
docker version --format "$me: started docker engine {{.Server.Version}} (no bridge, no iptables)"
