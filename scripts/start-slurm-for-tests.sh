#!/usr/bin/env bash
# Starts the one-node Slurm cluster that Tests/ShunterSlurmTests run against (slurmctld,
# slurmd and munge on localhost, installed from Debian's packages by the shared script).
#
# 16 CPUs are advertised on any machine (Slurm allows more than nproc here), so that bursts
# of tiny jobs run 16 at a time. Accounting (slurmdbd + MariaDB, for sacct) stays off by
# default: the tests cover the no-accounting path (squeue, then the job's exit marker), which
# is what the shared cluster gives; SLURM_ACCOUNTING=1 turns it on, and the backend then
# detects it and asks sacct about jobs squeue has forgotten.
#
# Needs root (it installs packages and starts daemons). Idempotent and quick when running.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$root/../shared/scripts/start-slurm.sh"
if [ ! -x "$shared" ] && [ ! -f "$shared" ]; then
  echo "start-slurm-for-tests: $shared is missing (the shared scripts live beside the clone)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "start-slurm-for-tests: must run as root (installs slurm and starts its daemons); try: sudo $0" >&2
  exit 1
fi
SLURM_CPUS="${SLURM_CPUS:-16}" SLURM_ACCOUNTING="${SLURM_ACCOUNTING:-0}" bash "$shared" >/dev/null
