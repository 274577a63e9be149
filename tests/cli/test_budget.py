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
         "run.batch_timesteps: the next iteration would be 6e+06 batches of 1 timesteps, "
         "more than 1e+06: start a new run with a larger run.batch_timesteps"),
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


def test_a_run_past_its_budget_keeps_its_checkpoint_and_resumes(tmp_path):
    """A later iteration past the budget: exit 2 (not 75: a job script would requeue it
    into the same refusal), nothing new written, the last checkpoint resumes."""
    eps = ("--eps", "0.002")
    reference = run_cli(*BASE, *eps, "--set", "run.max_timesteps=null",
                        "--output", str(tmp_path / "unlimited.h5"))  # fmt: skip
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "r.h5"
    stopped = run_cli(*BASE, *eps, "--set", "run.max_timesteps=100000", "--output", str(out))
    assert stopped.returncode == 2
    assert stopped.stderr.startswith("config error: run.max_timesteps: the next iteration ")
    assert stopped.stderr.endswith(
        "which would pass run.max_timesteps = 1e+05 (6e+04 done); allow more with --set "
        "run.max_timesteps=N (null = unlimited); the output keeps the checkpoint of the last "
        "finished iteration: continue with --resume\n"
    )
    saved = RunResult.load(out)
    assert not saved.finished and not saved.interrupted and len(saved.iterations["L"]) == 1
    resumed = run_cli(*BASE, *eps, "--set", "run.max_timesteps=null", "--output", str(out),
                      "--resume")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["price"] == json.loads(reference.stdout)["price"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5", "unlimited.h5"]


def test_a_refusal_after_skipped_checkpoints_saves_the_last_iteration(tmp_path):
    """Checkpoints are rate-limited (pricing.cadence), so in a short run only iteration 1 was
    written when the budget refuses iteration 6: the refusal writes iteration 5's state,
    and the resumed run still ends bit-identical to an unlimited one."""
    eps = ("--eps", "0.002")
    reference = run_cli(*BASE, *eps, "--set", "run.max_timesteps=null",
                        "--output", str(tmp_path / "unlimited.h5"))  # fmt: skip
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "r.h5"
    # iterations 1-5 use 767,684 timesteps and the 6th asks for 150,238 more
    stopped = run_cli(*BASE, *eps, "--set", "run.max_timesteps=900000", "--output", str(out))
    assert stopped.returncode == 2, stopped.stderr
    assert "(7.68e+05 done)" in stopped.stderr
    saved = RunResult.load(out)
    assert not saved.finished and len(saved.iterations["L"]) == 5
    resumed = run_cli(*BASE, *eps, "--set", "run.max_timesteps=null", "--output", str(out),
                      "--resume")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["price"] == json.loads(reference.stdout)["price"]
