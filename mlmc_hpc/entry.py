"""Process entry point (``python -m mlmc_hpc`` and ``mlmc-hpc``).

One process is one worker on one core (or one GPU), so BLAS and OpenMP thread
pools are capped at 1 before NumPy loads; a value set by the user wins.
"""

import os


def cap_threads() -> None:
    """OPENBLAS/OMP/MKL_NUM_THREADS default to 1 (a value set by the user wins)."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


cap_threads()


def main() -> int:
    """Run the command line in this process."""
    from .cli import main as cli_main

    return cli_main()
