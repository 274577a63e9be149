"""Faults during a run (issue 16, part 2): a write that fails (a full disk) and a sampler
that returns NaN end the run with one line and exit 1, and nothing already there is lost."""

from __future__ import annotations

import resource
import signal

import numpy as np
import pytest

from mlmc_hpc.cli import main
from mlmc_hpc.config import MLMCSettings
from mlmc_hpc.core.driver import run_mlmc
from mlmc_hpc.core.sums import N_SUMS, LevelSums
from mlmc_hpc.errors import SamplingError

QUICK = ("--eps", "0.2", "--quiet", "--backend", "numpy")


def test_a_failed_write_is_one_line_exit_1_and_the_old_file_is_intact(tmp_path, capsys):
    """Files may not grow past 4 KiB while the second run writes (EFBIG, as a full disk
    gives ENOSPC; in this process, after MPI has started, and SIGXFSZ ignored)."""
    from mlmc_hpc.parallel.mpi import mpi_library_version

    out = tmp_path / "r.h5"
    assert main([*QUICK, "--output", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    mpi_library_version()  # MPI's own files are set up before the limit
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        code = main([*QUICK, "--seed", "2", "--overwrite", "--output", str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert code == 1
    assert capsys.readouterr().err == (
        f"error: cannot write {out}: File too large (errno 27); the file that was there is intact\n"
    )
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]  # no temp file left


class NaNOnLevel:
    """An executor whose level ``bad`` returns NaN sums."""

    def __init__(self, bad: int) -> None:
        self.bad = bad

    def sample(self, extra):
        out = []
        for level, n in enumerate(extra):
            row = np.zeros(N_SUMS)
            if n:
                row[:] = [n, 0.1 * n, 0.02 * n, 0, 0, 0.1 * n, 0.02 * n, n * 2.0**level]
                if level == self.bad:
                    row[1] = np.nan
            out.append(LevelSums(row))
        return out


@pytest.mark.parametrize("bad", [0, 2])
def test_nan_sums_stop_the_driver_naming_the_level(bad):
    with pytest.raises(SamplingError, match=f"^level {bad} returned non-finite sums"):
        run_mlmc(NaNOnLevel(bad), MLMCSettings(eps=0.01, N0=100))


def test_nan_from_a_sampler_is_one_line_exit_1_and_nothing_written(tmp_path, monkeypatch, capsys):
    from mlmc_hpc.models.european import MilsteinGBMSampler

    real = MilsteinGBMSampler.sample

    def overflowing(self, level, batch, n):
        sums = real(self, level, batch, n)
        if level == 2:
            sums[1] = np.inf
        return sums

    monkeypatch.setattr(MilsteinGBMSampler, "sample", overflowing)
    out = tmp_path / "r.h5"
    assert main([*QUICK, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: level 2 returned non-finite sums")
    assert err.endswith("(option call: S0 100, K 100, T 1, r 0.05, sigma 0.2)\n")
    assert not out.exists()


def test_out_of_memory_in_a_batch_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    from mlmc_hpc.models.european import MilsteinGBMSampler

    def too_big(self, level, batch, n):
        raise MemoryError

    monkeypatch.setattr(MilsteinGBMSampler, "sample", too_big)
    out = tmp_path / "r.h5"
    assert main([*QUICK, "--output", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: out of memory computing batch 0 of level 2 (10000 samples): lower "
        "run.batch_timesteps, or use fewer ranks per node\n"
    )
    assert not out.exists()
