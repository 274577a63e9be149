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
    """Run the command line in this process. The stop signals are handled from the first
    moment (a signal during start-up stops the run before its first batch: exit 75, not
    death by signal); a second Ctrl-C stops at once with one line (exit 130)."""
    from .parallel.stopping import StopRequest

    stop = StopRequest()
    stop.install()
    try:
        from .cli import main as cli_main

        return cli_main(stop=stop)
    except KeyboardInterrupt:
        import sys

        from .errors import ExitCode, stopped_at_once

        if stop.signal_name:  # the run's clean stop was under way: this was the second
            stopped_at_once()
        else:  # a command without a clean stop (test, report, demo)
            print("interrupted (SIGINT)", file=sys.stderr, flush=True)
        return ExitCode.STOPPED_AT_ONCE
