"""Process entry point (``python -m mlmc_hpc`` and ``mlmc-hpc``).

One process is one worker on one core (or one GPU), so BLAS and OpenMP thread
pools are capped at 1 before NumPy loads; a value set by the user wins.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def main() -> int:
    from .cli import main as cli_main

    return cli_main()
