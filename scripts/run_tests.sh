#!/usr/bin/env bash
# Install mlmc_hpc with its test extras into .venv (created if missing) and run
# every check: ruff lint and format, mypy on the package, the pytest suite, and the MPI tests under
# mpiexec -n 2 and -n 4. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,mpi]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest -q -rs
# MPI tests in-process under real MPI; timeouts make a hang fail instead of stall.
for ranks in 2 4; do
  timeout 300 .venv/bin/mpiexec -n "$ranks" .venv/bin/python -m pytest -q --with-mpi \
    -p no:cacheprovider tests/parallel/test_mpi_executor.py
done
