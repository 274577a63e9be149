"""A launcher that started several copies that cannot see each other.

``srun -n 8`` or another MPI's ``mpirun`` starts 8 processes; if mpi4py is missing or was
built against a different MPI, each of them sees an MPI world of size 1 and would run the
whole job alone, all 8 writing the same file. The launchers say how many tasks they
started (:data:`TASK_COUNTS`), so a process in a world of 1 that is one of several is
refused before any work, with one line saying what to check (the first copy prints it;
the others exit quietly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Variable holding the number of tasks a launcher started, and the one holding this rank.
TASK_COUNTS = (
    ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "srun"),
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "Open MPI's mpirun"),
    ("PMI_SIZE", "PMI_RANK", "an MPICH or Intel MPI mpiexec"),
)


def launched_copies(environ: Mapping[str, str] | None = None) -> tuple[int, int, str, str]:
    """(tasks started, this task's index, the variable that says so, the launcher) from the
    environment; (1, 0, "", "") when no launcher started several."""
    env = os.environ if environ is None else environ
    for count_name, rank_name, launcher in TASK_COUNTS:
        try:
            count = int(env.get(count_name, "1"))
            rank = int(env.get(rank_name, "0"))
        except ValueError:
            continue
        if count > 1:
            return count, rank, count_name, launcher
    return 1, 0, "", ""


def mismatch(mpi_version: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Why this process, in an MPI world of 1, must not run (it is one of several copies),
    or None. ``mpi_version`` is mpi4py's MPI library ("" without mpi4py)."""
    count, _, variable, launcher = launched_copies(environ)
    if count == 1:
        return None
    library = (f"mpi4py is built against {mpi_version!r}" if mpi_version
               else "mpi4py is not installed")  # fmt: skip
    return (
        f"this process is one of {count} started by {launcher} ({variable}={count}) but "
        f"its MPI world has 1 rank: {library}, not the MPI that launched it, so every "
        f"copy would run the whole job and write the same file. Check "
        f"python -c 'from mpi4py import MPI; print(MPI.Get_library_version())', rebuild "
        f"mpi4py against the site MPI (module load <mpi>; pip install --no-binary=mpi4py "
        f"mpi4py) or launch with the mpiexec of the MPI mpi4py uses (docs/cluster.md)"
    )
