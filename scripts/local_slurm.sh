#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, to try the job scripts in jobs/
# before spending an allocation (and for the `slurm` tests in CI). Documented in
# docs/cluster.md.
#
#   scripts/local_slurm.sh start     install Slurm and MUNGE if missing, start them
#   scripts/local_slurm.sh env       print the export line the Slurm commands need
#   scripts/local_slurm.sh status    daemons, partitions, queue
#   scripts/local_slurm.sh stop      cancel jobs, stop every daemon, check none is left
#
# The cluster lives in LOCAL_SLURM_DIR (default /tmp/mlmc-slurm): its own slurm.conf,
# gres.conf, MUNGE key and socket, state, logs, and a job completion log (exit codes).
# Nothing under /etc is changed, so a site's Slurm configuration is never touched;
# the client commands find this cluster through SLURM_CONF (see `env`).
# One node, LOCAL_SLURM_CPUS CPUs [16] (more than the machine has is allowed:
# SlurmdParameters=config_overrides) and 8 GPUs of type v100-32 whose device files are
# stand-ins (copies of /dev/null: nothing runs on a GPU), in three partitions named like
# PSC Bridges-2's: RM (default), GPU and GPU-shared. srun uses PMI-2, which MPICH speaks.
# Needs root (slurmd starts jobs as the submitting user) and, to install, apt-get.
# Ports LOCAL_SLURM_PORT [16817] and the next one, on 127.0.0.1 only.
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/tmp/mlmc-slurm}
CPUS=${LOCAL_SLURM_CPUS:-16}
PORT=${LOCAL_SLURM_PORT:-16817}
NODE=mlmc-node
CONF=$DIR/etc/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)
START_TIMEOUT=${LOCAL_SLURM_START_TIMEOUT:-30}
STOP_TIMEOUT=${LOCAL_SLURM_STOP_TIMEOUT:-20}

die() {
  echo "local_slurm: $*" >&2
  exit 1
}

# Install Slurm and MUNGE from the distribution when a command is missing.
install_packages() {
  local missing=0 cmd
  for cmd in slurmctld slurmd sbatch munged; do
    command -v "$cmd" >/dev/null || [[ -x /usr/sbin/$cmd ]] || missing=1
  done
  ((missing)) || return 0
  command -v apt-get >/dev/null ||
    die "Slurm or MUNGE is missing and apt-get is not available: install ${PACKAGES[*]} by hand"
  echo "local_slurm: installing ${PACKAGES[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >"$DIR/log/apt.log" 2>&1 ||
    { apt-get update -qq >>"$DIR/log/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >>"$DIR/log/apt.log" 2>&1; } ||
    die "apt-get install ${PACKAGES[*]} failed; see $DIR/log/apt.log"
}

write_config() {
  cat >"$CONF" <<EOF
# Written by scripts/local_slurm.sh: a single-node test cluster, not for production.
# cred_expire=5: a requeued job may start again after 5 s (default 120 s).
ClusterName=mlmc-local
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=5
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# debug2 logs each time-limit check (every 30 s); tests/slurm/test_slurm.py times jobs by them.
SlurmctldDebug=debug2
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=pmi2
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
JobRequeue=1
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$CPUS RealMemory=1000 Gres=gpu:v100-32:8 State=UNKNOWN
PartitionName=RM Nodes=$NODE Default=YES MaxTime=48:00:00 State=UP
PartitionName=GPU Nodes=$NODE MaxTime=48:00:00 State=UP
PartitionName=GPU-shared Nodes=$NODE MaxTime=48:00:00 State=UP
EOF
  cat >"$DIR/etc/gres.conf" <<EOF
NodeName=$NODE Name=gpu Type=v100-32 File=$DIR/dev/nvidia[0-7]
EOF
  # Stand-ins for the device files (Slurm drops a GPU without a character device):
  # copies of /dev/null. Jobs see CUDA_VISIBLE_DEVICES as on a real node.
  local i
  for i in 0 1 2 3 4 5 6 7; do
    [[ -c $DIR/dev/nvidia$i ]] || mknod -m 666 "$DIR/dev/nvidia$i" c 1 3
  done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A start that failed half-way stops what it started, then says why.
start_failed() {
  stop >/dev/null 2>&1 || true
  die "$@"
}

start() {
  [[ $(id -u) == 0 ]] || die "needs root: slurmd starts jobs as their owner (try sudo -E $0 start)"
  pid_alive "$DIR/run/slurmctld.pid" && die "already running in $DIR (stop it first: $0 stop)"
  local port
  for port in "$PORT" "$((PORT + 1))"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port is in use (another Slurm?); choose others with LOCAL_SLURM_PORT=<port>"
    fi
  done
  mkdir -p "$DIR"/{etc,munge,state/ctld,state/d,run,log,dev}
  chmod 700 "$DIR/munge"
  install_packages
  write_config
  : >"$DIR/log/slurmctld.log"
  : >"$DIR/log/slurmd.log"
  local munge_key=$DIR/munge/munge.key
  [[ -f $munge_key ]] || { dd if=/dev/urandom bs=1 count=1024 of="$munge_key" status=none &&
    chmod 400 "$munge_key"; }
  /usr/sbin/munged --force --key-file="$munge_key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" ||
    start_failed "munged did not start; see $DIR/log/munged.log"
  export SLURM_CONF=$CONF
  /usr/sbin/slurmctld -f "$CONF" -c ||
    start_failed "slurmctld did not start; see $DIR/log/slurmctld.log"
  /usr/sbin/slurmd -f "$CONF" -N "$NODE" ||
    start_failed "slurmd did not start; see $DIR/log/slurmd.log"
  local deadline=$((SECONDS + START_TIMEOUT)) state=""
  while ((SECONDS < deadline)); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1) || true
    [[ $state == idle* ]] && break
    sleep 0.5
  done
  if [[ $state != idle* ]]; then
    tail -n 5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    start_failed "node $NODE not idle after ${START_TIMEOUT}s (state '${state:-none}'); logs in $DIR/log"
  fi
  echo "local_slurm: cluster up in $DIR: node $NODE ($CPUS CPUs, gpu:v100-32:8), partitions RM GPU GPU-shared"
  echo "local_slurm: now run: export SLURM_CONF=$CONF"
}

# Stop one daemon by its pid file: TERM, then KILL after the timeout.
stop_daemon() {
  local pidfile=$DIR/run/$1.pid pid deadline
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# Job steps of this cluster: slurmstepd inherits slurmd's environment, SLURM_CONF included.
our_stepds() {
  local pid
  for pid in $(pgrep -x slurmstepd 2>/dev/null); do
    { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$CONF" && echo "$pid"
  done
  return 0
}

# Every process below the given ones (job scripts, srun, tasks), children first.
descendants() {
  ps -eo pid=,ppid= | awk -v roots="$*" '
    { kids[$2] = kids[$2] " " $1 }
    function walk(p,   n, i, list) { n = split(kids[p], list, " ");
      for (i = 1; i <= n; i++) { walk(list[i]); print list[i] } }
    END { n = split(roots, r, " "); for (i = 1; i <= n; i++) walk(r[i]) }'
}

# What is still running of this cluster: its daemons, job steps and their processes.
leftovers() {
  local stepds
  stepds=$(our_stepds)
  {
    pgrep -f -- "^/usr/sbin/(munged|slurmctld|slurmd) .*$DIR/" || true
    echo "$stepds"
    [[ -z $stepds ]] || descendants "$stepds"
  } | awk NF | sort -u | tr '\n' ' '
}

stop() {
  export SLURM_CONF=$CONF
  local jobs deadline pids
  if pid_alive "$DIR/run/slurmctld.pid"; then
    jobs=$(squeue -h -o %i 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      # shellcheck disable=SC2086  # one word per job id
      scancel $jobs 2>/dev/null || true
      deadline=$((SECONDS + STOP_TIMEOUT))
      while [[ -n $(squeue -h -o %i 2>/dev/null) ]] && ((SECONDS < deadline)); do sleep 0.2; done
    fi
  fi
  # Whatever the cancel did not end (a step that ignores TERM): kill it, tasks first.
  pids=$(our_stepds)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2046,SC2086  # one word per pid
    kill -KILL $(descendants "$pids") $pids 2>/dev/null || true
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
  deadline=$((SECONDS + 5))
  while [[ -n $(leftovers) ]] && ((SECONDS < deadline)); do sleep 0.2; done
  pids=$(leftovers)
  [[ -z $pids ]] || die "still running after stop (pids $pids); kill them by hand"
  echo "local_slurm: stopped; nothing left running (state and logs kept in $DIR)"
}

status() {
  export SLURM_CONF=$CONF
  local daemon
  for daemon in munged slurmctld slurmd; do
    if pid_alive "$DIR/run/$daemon.pid"; then echo "$daemon: running"; else echo "$daemon: stopped"; fi
  done
  pid_alive "$DIR/run/slurmctld.pid" || return 0
  sinfo
  squeue
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: $0 start | stop | status | env   (LOCAL_SLURM_DIR=$DIR)" ;;
esac
