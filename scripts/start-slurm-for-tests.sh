#!/usr/bin/env bash
# Starts the one-node Slurm cluster that Tests/ShunterSlurmTests run against, through
# scripts/start-slurm.sh (slurmctld, slurmd and munged on localhost, from Debian's packages).
#
# 16 CPUs are advertised on any machine (Slurm allows more than nproc), so that bursts of tiny
# jobs run 16 at a time. Accounting (slurmdbd + MariaDB, for sacct) stays off by default: the
# tests cover the no-accounting path (squeue, then the job's exit marker); SLURM_ACCOUNTING=1
# turns it on, and the backend then detects it and asks sacct about jobs squeue has forgotten.
#
# Needs root (it installs packages and starts daemons). Idempotent and quick when running.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
SLURM_CPUS="${SLURM_CPUS:-16}" SLURM_ACCOUNTING="${SLURM_ACCOUNTING:-0}" "$root/scripts/start-slurm.sh" >/dev/null
