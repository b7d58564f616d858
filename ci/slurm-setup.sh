#!/usr/bin/env bash
# Starts a single-node Slurm (Debian's slurm-wlm 22.05 + munge) on this machine, for the `slurm` ctest
# (tests/slurm: `ddbench slurm --submit` of a small array, merged and compared with a local run).
# Idempotent: installs the packages if missing, exits 0 at once when `sinfo` already answers with a usable
# node. `bash ci/slurm-setup.sh --stop` stops the daemons it started (by the PIDs in their pid files).
#
# Needs root (daemons, /etc/slurm, /var/spool). .ci/run calls it and carries on when it fails: the test
# then reports SKIPPED with the reason.
#
# What works on the project's machines (Debian bookworm containers, 2 cores, root, no systemd, no
# writable cgroup hierarchy), measured with this script:
#   - No systemd: the daemons run in the background with -D (foreground mode, no double fork), started
#     with setsid so they outlive this script; their pids go to $S/*.pid.
#   - No cgroups: ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, JobAcctGatherType=
#     jobacct_gather/none (the cgroup plugins fail to start slurmd here). No cgroup.conf is needed.
#   - SlurmUser=root and SlurmdUser=root; jobs submitted by root run as root.
#   - Our own munged (-F --force, as root) with its own key and socket under $S, named in slurm.conf
#     (AuthInfo=socket=...), so a munge package's own daemon or key is never touched.
#   - Non-default ports (16817/16818), SlurmctldHost=localhost(127.0.0.1), NodeName=localhost with
#     NodeAddr=127.0.0.1: the container's host name needs no DNS.
#   - State, spool, logs and pids under $S=/var/spool/ddbench-slurm (DDBENCH_SLURM_DIR overrides).
#   - slurm.conf goes to /etc/slurm/slurm.conf, where sbatch/sinfo/squeue look without SLURM_CONF;
#     a slurm.conf not written by this script is never overwritten (the script stops with a message).
#   - CPUs = nproc, RealMemory = 90% of MemTotal (a node configured with more than it has is drained).
#   - ReturnToService=2 and State=UNKNOWN: the node comes back idle after a restart.
#   - Timings here: packages 11 s (apt-get install, after apt-get update), daemons idle in about 1-2 s.
set -euo pipefail

S=${DDBENCH_SLURM_DIR:-/var/spool/ddbench-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by ddbench ci/slurm-setup.sh"
log() { echo "slurm-setup: $*"; }

stop() {
  for d in slurmd slurmctld munged; do
    local f="$S/$d.pid"
    if [ -s "$f" ]; then
      local pid; pid=$(cat "$f")
      if kill -0 "$pid" 2>/dev/null; then kill "$pid" && log "stopped $d (pid $pid)"; fi
      rm -f "$f"
    fi
  done
}

if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi

node_ready() {  # a node that takes jobs: idle, mixed or allocated
  timeout 15 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'
}

ours_down() {  # our slurm.conf, and our controller's pid is gone: no need to wait for sinfo to give up (~10 s)
  [ -e "$CONF" ] && grep -qF "$MARK" "$CONF" &&
    ! { [ -s "$S/slurmctld.pid" ] && kill -0 "$(cat "$S/slurmctld.pid")" 2>/dev/null; }
}

if command -v sinfo >/dev/null && [ -e "$CONF" ] && ! ours_down && node_ready; then
  log "Slurm is already running: $(sinfo -h -o '%P %D %T' | head -1)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  log "needs root (starts slurmctld, slurmd and munged; writes $CONF)"; exit 1
fi

t0=$(date +%s)
need=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
t1=$(date +%s)

if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  log "$CONF exists and was not written by this script: not overwriting it (is Slurm configured but down?)"
  exit 1
fi

stop  # leftovers of an earlier start (stale pids, a controller that lost its node)
mkdir -p "$S"/{state,spool,log,munge}
chmod 700 "$S/munge"
if [ ! -s "$S/munge/munge.key" ]; then
  dd if=/dev/urandom bs=1 count=1024 of="$S/munge/munge.key" status=none
  chmod 400 "$S/munge/munge.key"
fi

cpus=$(nproc)
mem=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<EOF
$MARK (single-node Slurm for ddbench's slurm ctest)
ClusterName=ddbench
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

# munged's pid file is written by munged itself; slurmctld/slurmd write theirs (SlurmctldPidFile, ...).
setsid munged -F --force --socket="$S/munge/munge.sock" --key-file="$S/munge/munge.key" \
  --log-file="$S/log/munged.log" --pid-file="$S/munged.pid" --seed-file="$S/munge/munged.seed" \
  </dev/null >>"$S/log/munged.out" 2>&1 &
for _ in $(seq 50); do [ -S "$S/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$S/munge/munge.sock" ] || { log "munged did not start: $(tail -3 "$S/log/munged.log" 2>/dev/null)"; exit 1; }
setsid slurmctld -D -f "$CONF" </dev/null >>"$S/log/slurmctld.out" 2>&1 &
setsid slurmd -D -N localhost -f "$CONF" </dev/null >>"$S/log/slurmd.out" 2>&1 &

until [ $(($(date +%s) - t1)) -gt 60 ]; do
  if node_ready; then
    t2=$(date +%s)
    log "Slurm is up: $(sinfo -h -o '%P %D %T %c CPUs')" \
        "(packages $((t1 - t0)) s, daemons $((t2 - t1)) s; logs in $S/log; stop: bash $0 --stop)"
    exit 0
  fi
  sleep 0.5
done
log "the node did not become idle within 60 s:"
sinfo -N -o '%N %T %E' 2>&1 | sed 's/^/  /' || true
tail -5 "$S/log/slurmctld.log" "$S/log/slurmd.log" 2>/dev/null | sed 's/^/  /' || true
exit 1
