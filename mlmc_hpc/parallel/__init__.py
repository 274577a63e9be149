"""Parallel execution: batch planning, executors (serial and MPI) with snapshot/restore for
resume, the MPI master/worker protocol, rank roles and GPU binding, and stopping on signals
or the Slurm job's end."""
