#!/usr/bin/env bash
# Shared body of the Slurm scripts in jobs/ (they set defaults, then run this file).
# Loads modules or the virtual environment, picks the output path, resumes a requeued
# run, launches `python -m mlmc_hpc` on every task, forwards Slurm's time-limit warning
# and requeues the job when the run stopped early. Documented in docs/cluster.md.
#
# Variables (all optional; set with `sbatch --export=ALL,NAME=value ...`):
#   CONFIG        config file, relative to the submit directory    [configs/spy.yaml]
#   EPS           target RMS error, overrides mlmc.eps              [from the config]
#   BACKEND       auto | numpy | cupy                               [set by the script]
#   RESULTS_DIR   where results go [$PROJECT/mlmc_hpc/results, else ./results]
#   OUTPUT        result file [RESULTS_DIR/<config>[-eps<EPS>]-<job id>.h5]
#   STAGE_LOCAL   1: write to node-local $LOCAL, copy to OUTPUT at the end   [0]
#   VENV          virtual environment with mlmc_hpc, or none        [./.venv]
#   MODULES       modules to load first, e.g. "openmpi/4.0.5-gcc10.2.0 cuda"  [none]
#   LAUNCHER      srun | mpiexec | mpirun                           [srun]
#   RESUME        auto (after a requeue) | yes | no                 [auto]
#   MAX_REQUEUES  requeues allowed after the run stopped early      [3]
#   EXTRA_ARGS    more mlmc_hpc arguments, e.g. "--set run.seed=7"
# Exit codes: those of mlmc_hpc (0 done, 1 failure, 2 bad input, 75 stopped early and
# not requeued); 3 when this script's own setup fails.
set -uo pipefail

fail() {
  echo "job error: $*" >&2
  exit 3
}

# Slurm's warning (--signal=B:USR1@...) reaches this shell only: pass it on to the
# launcher, which forwards it to every rank. scancel sends TERM to every process;
# the ranks stop cleanly and the job is not requeued. Set first: a signal that comes
# during the set-up is remembered, not fatal.
cancelled=0
woken=0
child=""
pending=""
# shellcheck disable=SC2329  # called from the traps below
forward() {
  woken=1
  if [[ -n $child ]]; then kill "-$1" "$child" 2>/dev/null || true; else pending=$1; fi
}
trap 'forward USR1' USR1
trap 'cancelled=1; forward TERM' TERM

MLMC_HOME=${MLMC_HOME:-${SLURM_SUBMIT_DIR:-$PWD}}
cd "$MLMC_HOME" || fail "cannot enter MLMC_HOME=$MLMC_HOME"
CONFIG=${CONFIG:-configs/spy.yaml}
EPS=${EPS:-}
BACKEND=${BACKEND:-auto}
if [[ -z ${RESULTS_DIR:-} ]]; then
  if [[ -n ${PROJECT:-} ]]; then RESULTS_DIR=$PROJECT/mlmc_hpc/results; else RESULTS_DIR=$MLMC_HOME/results; fi
fi
STEM=$(basename "$CONFIG" .yaml)${EPS:+-eps$EPS}
OUTPUT=${OUTPUT:-$RESULTS_DIR/$STEM-${SLURM_JOB_ID:-interactive}.h5}
STAGE_LOCAL=${STAGE_LOCAL:-0}
VENV=${VENV:-$MLMC_HOME/.venv}
MODULES=${MODULES:-}
LAUNCHER=${LAUNCHER:-srun}
RESUME=${RESUME:-auto}
MAX_REQUEUES=${MAX_REQUEUES:-3}
EXTRA_ARGS=${EXTRA_ARGS:-}
NTASKS=${SLURM_NTASKS:-${SLURM_NPROCS:-1}}
RESTARTS=${SLURM_RESTART_COUNT:-0}

# HDF5 locking fails on many parallel file systems (Lustre, some NFS).
export HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

[[ -f $CONFIG ]] || fail "CONFIG=$CONFIG not found in $MLMC_HOME (paths are relative to the submit directory)"
if [[ -n $MODULES ]]; then
  command -v module >/dev/null || fail "MODULES is set but the module command is missing"
  # shellcheck disable=SC2086  # MODULES is a space-separated list
  module load $MODULES || fail "module load $MODULES failed; check the names with 'module avail'"
fi
if [[ $VENV != none ]]; then
  [[ -f $VENV/bin/activate ]] ||
    fail "no virtual environment at $VENV (create it as in docs/cluster.md, or VENV=none for the python on PATH)"
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
fi

mkdir -p "$(dirname "$OUTPUT")" || fail "cannot create $(dirname "$OUTPUT")"
RUN_OUTPUT=$OUTPUT
if [[ $STAGE_LOCAL == 1 ]]; then
  [[ -n ${LOCAL:-} && -d ${LOCAL:-} ]] || fail "STAGE_LOCAL=1 needs the node-local directory \$LOCAL"
  RUN_OUTPUT=$LOCAL/$(basename "$OUTPUT")
  [[ -f $OUTPUT ]] && cp "$OUTPUT" "$RUN_OUTPUT"
fi

ARGS=(--config "$CONFIG" --backend "$BACKEND" --output "$RUN_OUTPUT")
[[ -n $EPS ]] && ARGS+=(--eps "$EPS")
case $RESUME in
  yes) ARGS+=(--resume) ;;
  auto) if ((RESTARTS > 0)) && [[ -f $RUN_OUTPUT ]]; then ARGS+=(--resume); fi ;;
  no) ;;
  *) fail "RESUME must be auto, yes or no, got $RESUME" ;;
esac
# shellcheck disable=SC2206  # EXTRA_ARGS is split into words on purpose
ARGS+=($EXTRA_ARGS)

case $LAUNCHER in
  srun) LAUNCH=(srun --kill-on-bad-exit=1 --ntasks="$NTASKS") ;;
  mpiexec | mpirun) LAUNCH=("$LAUNCHER" -n "$NTASKS") ;;
  *) fail "LAUNCHER must be srun, mpiexec or mpirun, got $LAUNCHER" ;;
esac

echo "mlmc_hpc job ${SLURM_JOB_ID:-?} (restart $RESTARTS) on ${SLURM_JOB_NODELIST:-$(hostname)}:" \
  "$NTASKS tasks, GPUs ${CUDA_VISIBLE_DEVICES:-${SLURM_JOB_GPUS:-none}}, $(date -Is)"
echo "+ ${LAUNCH[*]} python -m mlmc_hpc ${ARGS[*]}"

if [[ -n $pending ]]; then
  # The warning (or scancel) came before the launch: do not start a run that would stop at once.
  echo "received SIG$pending before the launch; not started" >&2
  rc=75
else
  "${LAUNCH[@]}" python -m mlmc_hpc "${ARGS[@]}" &
  child=$!
  [[ -n $pending ]] && kill "-$pending" "$child" 2>/dev/null # came during the launch
  while :; do
    woken=0
    wait "$child"
    rc=$?
    ((woken)) || break
  done
fi
trap - USR1 TERM

if [[ $STAGE_LOCAL == 1 && -f $RUN_OUTPUT ]]; then
  cp "$RUN_OUTPUT" "$OUTPUT.part" && mv "$OUTPUT.part" "$OUTPUT" || echo "job error: copying $RUN_OUTPUT to $OUTPUT failed" >&2
fi
echo "mlmc_hpc exit code $rc; result $OUTPUT"
if ((rc == 75 && !cancelled)); then
  if ((RESTARTS < MAX_REQUEUES)) && [[ -n ${SLURM_JOB_ID:-} ]]; then
    echo "stopped early: requeueing job $SLURM_JOB_ID (restart $((RESTARTS + 1)) of $MAX_REQUEUES)"
    scontrol requeue "$SLURM_JOB_ID" || echo "job error: scontrol requeue failed; resubmit with RESUME=yes OUTPUT=$OUTPUT" >&2
  else
    echo "stopped early; continue with: sbatch --export=ALL,RESUME=yes,OUTPUT=$OUTPUT,CONFIG=$CONFIG ..." >&2
  fi
fi
exit "$rc"
