"""Several copies launched that each see an MPI world of 1 are refused before any work."""

import pytest

from mlmc_hpc.parallel.launcher import launched_copies, mismatch
from tests.helpers import run_cli


@pytest.mark.parametrize("env,expected", [
    ({}, (1, 0, "", "")),
    ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "3"}, (8, 3, "SLURM_STEP_NUM_TASKS", "srun")),
    ({"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "0"},
     (4, 0, "OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun")),
    ({"PMI_SIZE": "2", "PMI_RANK": "1"}, (2, 1, "PMI_SIZE", "an MPICH or Intel MPI mpiexec")),
    ({"SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "8"}, (1, 0, "", "")),  # the batch step
    ({"PMI_SIZE": "x"}, (1, 0, "", "")),
])  # fmt: skip
def test_launched_copies_from_the_environment(env, expected):
    assert launched_copies(env) == expected


def test_the_reason_names_the_launcher_and_the_library():
    reason = mismatch("Open MPI v4.1", {"SLURM_STEP_NUM_TASKS": "8"})
    assert reason.startswith("this process is one of 8 started by srun (SLURM_STEP_NUM_TASKS=8)")
    assert "mpi4py is built against 'Open MPI v4.1'" in reason and "\n" not in reason
    assert "mpi4py is not installed" in mismatch("", {"PMI_SIZE": "2"})
    assert mismatch("MPICH", {}) is None


def test_the_first_copy_says_why_the_others_exit_quietly(tmp_path, monkeypatch):
    out = tmp_path / "x.h5"
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    for rank, says in (("0", True), ("1", False)):
        monkeypatch.setenv("SLURM_PROCID", rank)
        done = run_cli("--config", "spy", "--output", str(out))
        assert done.returncode == 2
        if says:
            assert done.stderr.startswith("launch error: this process is one of 4 started by srun")
            assert done.stderr.count("\n") == 1
        else:
            assert done.stderr == ""
    assert not out.exists() and not (tmp_path / "x.h5.lock").exists()


class FakeCupy:
    """cupy with one GPU whose NVRTC cannot compile (the headers are missing)."""

    class cuda:  # noqa: N801 - mirrors cupy.cuda
        class runtime:  # noqa: N801
            @staticmethod
            def getDeviceCount():
                return 1

    class RawModule:
        def __init__(self, code):
            self.code = code

        def get_function(self, name):
            raise RuntimeError('catastrophic error: cannot open source file "cuda_fp16.h"')


def test_a_gpu_that_cannot_compile_names_the_fix(monkeypatch):
    import sys

    from mlmc_hpc.config.resolve import resolve_backend
    from mlmc_hpc.errors import BackendUnavailableError

    monkeypatch.setitem(sys.modules, "cupy", FakeCupy)
    with pytest.raises(BackendUnavailableError) as error:
        resolve_backend("cupy", "call", "mlmc")
    message = str(error.value)
    assert "cannot compile a kernel (RuntimeError: catastrophic error" in message
    assert "pip install 'cupy-cuda12x[ctk]'" in message and "CUDA module" in message
    assert resolve_backend("auto", "call", "mlmc") == "numpy"  # auto falls back
