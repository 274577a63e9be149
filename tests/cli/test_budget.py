"""Work that cannot finish (issue 16): ``run.max_timesteps`` refuses a first iteration that
alone passes it (exit 2, nothing written) and stops a later one with a checkpoint (exit 75)
that resumes, with a larger budget, to the result of an unlimited run."""

from __future__ import annotations

import json

import pytest

from mlmc_hpc.io.run_result import RunResult
from tests.helpers import run_cli

BASE = ("--eps", "0.01", "--quiet", "--backend", "numpy", "--json")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "mlmc.N0=1000000", "--set", "run.max_timesteps=1000000"),
         "run.max_timesteps: the next iteration needs 6e+06 timesteps (about 0 s on 1 "
         "worker(s)), which would pass run.max_timesteps = 1e+06 (0 done); allow more with "
         "--set run.max_timesteps=N (null = unlimited)"),
        (("--set", "mlmc.N0=3000000", "--set", "run.batch_timesteps=1"),
         "run.max_timesteps: the next iteration would be 6e+06 batches of run.batch_timesteps "
         "= 1, more than 1e+06: raise run.batch_timesteps"),
        (("--set", "run.max_timesteps=0"),
         "run.max_timesteps must be null or an integer in 1..4611686018427387904, got 0"),
    ],
)  # fmt: skip
def test_work_that_cannot_finish_is_refused_before_sampling(tmp_path, args, message):
    out = tmp_path / "r.h5"
    done = run_cli(*BASE, *args, "--output", str(out))
    assert done.returncode == 2
    assert done.stderr == f"config error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_run_past_its_budget_stops_with_a_checkpoint_and_resumes(tmp_path):
    unlimited = tmp_path / "unlimited.h5"
    reference = run_cli(*BASE, "--eps", "0.002", "--set", "run.max_timesteps=null",
                        "--output", str(unlimited))  # fmt: skip
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "r.h5"
    budget = ("--set", "run.max_timesteps=100000", "--eps", "0.002")  # first iteration 60,000
    stopped = run_cli(*BASE, *budget, "--output", str(out))
    assert stopped.returncode == 75
    assert stopped.stderr.startswith("interrupted (the next iteration needs ")
    assert "which would pass run.max_timesteps = 1e+05 (6e+04 done)" in stopped.stderr
    assert not RunResult.load(out).finished
    resumed = run_cli(*BASE, "--eps", "0.002", "--set", "run.max_timesteps=null", "--output", str(out),
                      "--resume")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["price"] == json.loads(reference.stdout)["price"]
