#!/usr/bin/env bash
# Installs (Debian's packages) and starts a one-node Slurm cluster on localhost for Shunter's
# slurm handler, its tests and benchmarks: munged, slurmctld and slurmd, all on 127.0.0.1
# (ports 6817 and 6818), the node named `localhost` in partition `debug`.
# Without systemd: the daemons are started directly and left running.
#
# Settings (environment):
#   SLURM_CPUS=N          CPUs the node advertises (default: nproc; more than nproc is allowed,
#                         so that bursts of tiny jobs run side by side)
#   SLURM_ACCOUNTING=1    also MariaDB (127.0.0.1:3306) and slurmdbd (127.0.0.1:6819), so that
#                         `sacct` answers; without it accounting is off and finished jobs stay
#                         visible to `scontrol show job` for MinJobAge (10 minutes)
#   SLURM_RESTART=1       stop the Slurm daemons and start them again
#   SLURM_WAIT=S          how long to wait for the node to be usable (default 60)
# Idempotent: a second run changes nothing and returns within a second when the cluster is up
# with the same settings; a change of settings restarts the daemons. Needs root.
set -euo pipefail
me="start-slurm.sh"
cpus="${SLURM_CPUS:-$(nproc)}"
accounting="${SLURM_ACCOUNTING:-0}"
restart="${SLURM_RESTART:-0}"
wait_s="${SLURM_WAIT:-60}"
conf_dir=/etc/slurm
log_dir=/var/log/slurm
run_dir=/run/slurm
state_dir=/var/spool/slurmctld
spool_dir=/var/spool/slurmd

[ "$(id -u)" = 0 ] || { echo "$me: must run as root (installs slurm and starts its daemons); try: sudo $0" >&2; exit 1; }
case "$cpus" in ''|*[!0-9]*) echo "$me: SLURM_CPUS must be a positive integer, got '$cpus'" >&2; exit 2 ;; esac

# ---- packages
packages=(munge slurmctld slurmd slurm-client)
[ "$accounting" = 1 ] && packages+=(slurmdbd mariadb-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-cache policy slurmctld 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "$me: could not install ${missing[*]} from Debian's packages; see https://slurm.schedmd.com/quickstart_admin.html" >&2
    exit 1
  }
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {   # the daemons remove their pid file early while stopping: wait on the pid itself
  if running "$1"; then
    local pid; pid="$(cat "$1")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$1"
}

# ---- configuration
mkdir -p "$conf_dir" "$log_dir" "$run_dir" "$state_dir" "$spool_dir"
memory_mb="$(awk '/MemTotal/ { m = int($2 / 1024) - 512; print (m > 256 ? m : 256) }' /proc/meminfo)"
if [ "$accounting" = 1 ]; then
  accounting_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819"
else
  accounting_lines="AccountingStorageType=accounting_storage/none"
fi
config="# Written by Shunter's scripts/start-slurm.sh: a one-node cluster on localhost.
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SwitchType=switch/none
# The node's CPUs come from this file, not from the hardware.
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
# Start jobs as they come rather than in waves every few seconds.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
$accounting_lines
JobCompType=jobcomp/filetxt
JobCompLoc=$log_dir/jobcomp.log
MinJobAge=600
MaxJobCount=100000
SlurmctldPidFile=$run_dir/slurmctld.pid
SlurmdPidFile=$run_dir/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$state_dir
SlurmdSpoolDir=$spool_dir
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
if [ "$(cat "$conf_dir/slurm.conf" 2>/dev/null)" != "$config" ]; then
  printf '%s\n' "$config" >"$conf_dir/slurm.conf.partial"
  mv "$conf_dir/slurm.conf.partial" "$conf_dir/slurm.conf"
  restart=1
fi
if [ "$restart" = 1 ]; then
  stop "$run_dir/slurmd.pid"
  stop "$run_dir/slurmctld.pid"
fi

# ---- munge (Slurm's authentication)
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 100); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "$me: munged does not answer (see /var/log/munge/munged.log)" >&2; exit 1; }

# ---- accounting (optional)
if [ "$accounting" = 1 ]; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if ! mysqladmin ping >/dev/null 2>&1; then
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      --innodb-buffer-pool-size=256M >>"$log_dir/mariadb.log" 2>&1 </dev/null &
    for _ in $(seq 300); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  mysqladmin ping >/dev/null 2>&1 || { echo "$me: MariaDB did not start (see $log_dir/mariadb.log)" >&2; exit 1; }
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  dbd_config="AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$log_dir/slurmdbd.log
PidFile=$run_dir/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db"
  if [ "$(cat "$conf_dir/slurmdbd.conf" 2>/dev/null)" != "$dbd_config" ]; then
    (umask 077 && printf '%s\n' "$dbd_config" >"$conf_dir/slurmdbd.conf")
    stop "$run_dir/slurmdbd.pid"
  fi
  running "$run_dir/slurmdbd.pid" || /usr/sbin/slurmdbd
  for _ in $(seq 300); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.1; done
  sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx local || sacctmgr -i add cluster local >/dev/null
fi

# Accounting turned off: a slurmdbd left from an earlier run would only hold its port.
[ "$accounting" = 1 ] || stop "$run_dir/slurmdbd.pid"

# ---- controller and node daemon
running "$run_dir/slurmctld.pid" || /usr/sbin/slurmctld -i
for _ in $(seq 150); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
running "$run_dir/slurmd.pid" || /usr/sbin/slurmd -N localhost

deadline=$(( $(date +%s) + wait_s ))
while :; do
  state="$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)"
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|*'*') scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$me: the node is not usable after ${wait_s}s (state '$state'); the logs end with:" >&2
    tail -n 20 "$log_dir/slurmctld.log" "$log_dir/slurmd.log" >&2 || true
    exit 1
  fi
  sleep 0.2
done
echo "$me: node localhost ($cpus CPUs) is $state; accounting $([ "$accounting" = 1 ] && echo on || echo off)"
