#!/usr/bin/env bash
# Starts, stops or shows the Python Seamless reference services that Shunter replaces, on
# 127.0.0.1: hashserver (buffers), seamless-database (results) and seamless-jobserver, from the
# real seamless-suite in .venv-seamless (made by scripts/setup-seamless-venv.sh if missing).
# For comparisons by hand; bench/ starts its own copies on free ports the same way.
#
#   scripts/seamless-services.sh start|stop|status
#
# Settings (environment): HASHSERVER_PORT (5577), DATABASE_PORT (5522), JOBSERVER_PORT (5544:
# not 5533, where Shunter listens), WORKERS (2), STATE_DIR (.seamless-services: buffers,
# database, logs and pid files). Nothing is installed system-wide.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
me="seamless-services.sh"
venv="$root/.venv-seamless"
state="${STATE_DIR:-$root/.seamless-services}"
hs_port="${HASHSERVER_PORT:-5577}"
db_port="${DATABASE_PORT:-5522}"
js_port="${JOBSERVER_PORT:-5544}"
workers="${WORKERS:-2}"
names=(hashserver database jobserver)

port_of() { case "$1" in hashserver) echo "$hs_port" ;; database) echo "$db_port" ;; jobserver) echo "$js_port" ;; esac; }
alive() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
healthy() { curl -sf -m 2 "http://127.0.0.1:$(port_of "$1")/healthcheck" >/dev/null 2>&1; }

status() {
  local down=0
  for n in "${names[@]}"; do
    if healthy "$n"; then echo "$n: up on 127.0.0.1:$(port_of "$n")"; else echo "$n: down"; down=1; fi
  done
  return "$down"
}

stop() {
  for n in "${names[@]}"; do
    alive "$n" || { rm -f "$state/$n.pid"; continue; }
    # The pid is a session leader (setsid): its group holds the jobserver's workers too.
    kill -TERM -- "-$(cat "$state/$n.pid")" 2>/dev/null || true
  done
  for n in "${names[@]}"; do
    [ -f "$state/$n.pid" ] || continue
    pid="$(cat "$state/$n.pid")"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$state/$n.pid"
  done
  echo "$me: stopped"
}

start() {
  "$root/scripts/setup-seamless-venv.sh"
  mkdir -p "$state/buffers" "$state/db"
  # scripts/install-seamless-jobserver.sh may have put Shunter's wrapper in its place.
  jobserver="$venv/bin/seamless-jobserver"
  [ -x "$venv/bin/seamless-jobserver-python" ] && jobserver="$venv/bin/seamless-jobserver-python"
  cat >"$state/jobserver-status.json" <<JSON
{"parameters": {"buffer": [{"readonly": false, "url": "http://127.0.0.1:$hs_port", "remote_url": "http://127.0.0.1:$hs_port"}],
                "database": [{"readonly": false, "url": "http://127.0.0.1:$db_port", "remote_url": "http://127.0.0.1:$db_port"}],
                "record": false}}
JSON
  launch() {
    local n="$1"; shift
    alive "$n" && return 0
    setsid "$@" >>"$state/$n.log" 2>&1 </dev/null &
    echo $! >"$state/$n.pid"
  }
  launch hashserver "$venv/bin/hashserver" "$state/buffers" --writable --host 127.0.0.1 --port "$hs_port"
  launch database "$venv/bin/seamless-database" "$state/db/seamless.db" --writable --host 127.0.0.1 --port "$db_port"
  launch jobserver "$jobserver" --host 127.0.0.1 --port "$js_port" --workers "$workers" \
    --status-file "$state/jobserver-status.json"
  for n in "${names[@]}"; do
    for _ in $(seq 600); do healthy "$n" && break; alive "$n" || break; sleep 0.1; done
    if ! healthy "$n"; then
      echo "$me: $n did not come up; its log ($state/$n.log) ends with:" >&2
      tail -n 20 "$state/$n.log" >&2
      exit 1
    fi
  done
  status
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,11p' "$0" >&2; exit 64 ;;
esac
