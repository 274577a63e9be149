"""Checkpoints, interruption and --resume: the continued run equals the uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from mlmc_hpc.config import ConfigError, load_config
from mlmc_hpc.io.checkpoint import read_checkpoint
from mlmc_hpc.parallel.executor import SerialExecutor, serial_executor
from mlmc_hpc.parallel.stopping import StopRequest, job_end_time, slurm_job
from mlmc_hpc.pricing.run import run_pricing
from tests.helpers import ROOT, run_cli, wait_for_checkpoint

# level 0 sampled: long enough runs (about 90% of the timesteps) to be stopped mid-way
SMALL = [("mlmc.eps", 0.02), ("run.batch_timesteps", 100_000), ("run.backend", "numpy"),
         ("mlmc.level0", "sample")]  # fmt: skip


def small_config(output: Path, **changes):
    config = load_config(ROOT / "configs/tsla.yaml", [*SMALL, ("run.output", str(output))])
    return dataclasses.replace(config, **changes)


def stop_after(executor: SerialExecutor, batches: int) -> None:
    """Ask the executor to stop once ``batches`` batches have started in this session."""
    started = {"count": 0}

    def reason():
        started["count"] += 1
        return "test stop" if started["count"] > batches else None

    executor.watch(reason)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "r.h5"
    config = small_config(out)
    return run_pricing(config, serial_executor(config))


def assert_same_run(result, reference):
    assert result.price == reference.price
    assert result.std_error == reference.std_error
    assert np.array_equal(result.levels["sums"], reference.levels["sums"])
    assert np.array_equal(result.iterations["samples_added"], reference.iterations["samples_added"])
    keys = list(zip(result.batches["level"], result.batches["batch"], strict=True))
    assert len(keys) == len(set(keys)) == len(reference.batches["level"])  # each batch once


@pytest.mark.parametrize("stop_at", [0, 1, 5, 40, 120])
def test_interrupt_then_resume_is_bit_identical(tmp_path, reference, stop_at):
    out = tmp_path / "r.h5"
    config = small_config(out)
    executor = serial_executor(config)
    stop_after(executor, stop_at)
    interrupted = run_pricing(config, executor, checkpoint_path=str(out))
    assert interrupted.interrupted and not interrupted.finished
    assert interrupted.stop_reason == "test stop"
    interrupted.save(out)

    assert len(interrupted.batches["level"]) == stop_at  # started before the stop: all done
    resumed_from = read_checkpoint(out, config)
    merged = sum(level.n for level in resumed_from.state.levels)
    kept = int(resumed_from.executor["pending_tasks"][:, 2].sum())
    assert merged + kept == interrupted.batches["n_samples"].sum()  # nothing lost or doubled
    finished = run_pricing(
        config, serial_executor(config), resume=resumed_from, checkpoint_path=str(out)
    )
    assert finished.finished and not finished.interrupted and finished.resumed == 1
    assert finished.wall_time_s >= interrupted.wall_time_s
    assert_same_run(finished, reference)


def test_interrupt_twice(tmp_path, reference):
    out = tmp_path / "r.h5"
    config = small_config(out)
    for stop_at in (3, 7):
        executor = serial_executor(config)
        stop_after(executor, stop_at)
        resume = read_checkpoint(out, config) if out.exists() else None
        run_pricing(config, executor, resume=resume, checkpoint_path=str(out)).save(out)
    final = run_pricing(config, serial_executor(config), resume=read_checkpoint(out, config))
    assert final.resumed == 2
    assert_same_run(final, reference)


def checkpoints_seen(out, config, monkeypatch=None, every_s=None):
    seen = []

    def progress(record):
        if out.exists():
            with h5py.File(out) as h5:
                seen.append((bool(h5.attrs["finished"]), len(h5["iterations/L"])))

    if every_s is not None:
        monkeypatch.setattr("mlmc_hpc.pricing.run.RUN_EVERY_S", every_s)
        monkeypatch.setattr("mlmc_hpc.pricing.cadence.SAVE_SHARE_FACTOR", 0.0)
    run_pricing(config, serial_executor(config), progress=progress, checkpoint_path=str(out))
    return seen


def test_checkpoint_after_the_first_iteration_then_rate_limited(tmp_path, reference):
    """A run shorter than RUN_EVERY_S writes one checkpoint (after iteration 1)."""
    out = tmp_path / "r.h5"
    seen = checkpoints_seen(out, small_config(out))
    n = len(reference.iterations["L"])
    assert reference.wall_time_s < 5.0  # else later checkpoints would be due
    assert seen == [(False, 1)] * (n - 1)


def test_checkpoint_after_every_iteration_when_always_due(tmp_path, reference, monkeypatch):
    out = tmp_path / "r.h5"
    seen = checkpoints_seen(out, small_config(out), monkeypatch, every_s=0.0)
    # progress for iteration k runs before checkpoint k is written: it sees checkpoint k-1
    n = len(reference.iterations["L"])
    assert seen == [(False, k) for k in range(1, n)]


def test_checkpoint_restores_the_exact_state(tmp_path):
    out = tmp_path / "r.h5"
    config = small_config(out)
    executor = serial_executor(config)
    stop_after(executor, 25)
    result = run_pricing(config, executor, checkpoint_path=str(out))
    result.save(out)
    resume = read_checkpoint(out, config)
    group = result.checkpoint
    hi, lo = zip(*(lv.compensated() for lv in resume.state.levels), strict=True)
    assert np.array_equal(np.array(hi), group["level_sums_hi"])
    assert np.array_equal(np.array(lo), group["level_sums_lo"])
    for key in ("pending_tasks", "pending_sums", "pending_seconds", "next_batch"):
        assert np.array_equal(resume.executor[key], group[key]), key


# ----------------------------------------------------------------------------- refusals


def test_resume_refuses_other_config(tmp_path):
    out = tmp_path / "r.h5"
    config = small_config(out)
    executor = serial_executor(config)
    stop_after(executor, 5)
    run_pricing(config, executor).save(out)
    other = small_config(out, mlmc=dataclasses.replace(config.mlmc, eps=0.01))
    with pytest.raises(ConfigError, match=r"does not match .*mlmc\.eps=0\.02 in the checkpoint"):
        read_checkpoint(out, other)
    renamed = small_config(out, name="renamed")  # labels may change
    assert read_checkpoint(out, renamed).state.levels


def test_cli_refusals_exit_2_and_keep_the_file(tmp_path, write_config):
    out = tmp_path / "r.h5"
    cfg = write_config({"run": {"output": str(out), "batch_timesteps": 100_000},
                        "mlmc": {"eps": 0.02}})  # fmt: skip
    missing = run_cli("--config", str(cfg), "--resume")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert missing.stderr.count("\n") == 1 and not out.exists()

    config = load_config(cfg, [("run.backend", "numpy")])  # as the CLI stores it
    executor = serial_executor(config)
    stop_after(executor, 3)
    run_pricing(config, executor).save(out)
    before = out.read_bytes()
    overwrite = run_cli("--config", str(cfg))
    assert overwrite.returncode == 2 and "holds an unfinished run" in overwrite.stderr
    changed = run_cli("--config", str(cfg), "--resume", "--seed", "7")
    assert changed.returncode == 2 and "run.seed=1 in the checkpoint, 7 now" in changed.stderr
    assert out.read_bytes() == before

    done = run_cli("--config", str(cfg), "--resume", "--quiet")
    assert done.returncode == 0, done.stderr
    again = run_cli("--config", str(cfg), "--resume")
    assert again.returncode == 2 and "finished run" in again.stderr


# ----------------------------------------------------------------------------- stop sources


def test_stop_request_sources():
    clock = {"now": 1000.0}
    stop = StopRequest(end_time=1100.0, margin_s=60, clock=lambda: clock["now"])
    assert stop.reason() is None
    clock["now"] = 1040.0
    assert "SLURM_JOB_END_TIME" in stop.reason()
    assert job_end_time({"SLURM_JOB_END_TIME": "1700000000"}) == 1700000000.0
    assert job_end_time({"SLURM_JOB_END_TIME": "Unknown"}) is None
    assert job_end_time({}) is None
    signalled = StopRequest()
    signalled._on_signal(signal.SIGUSR1, None)
    assert signalled.reason() == "received SIGUSR1"


def test_slurm_job_names_the_job_and_its_leg():
    assert slurm_job({}) == ""
    env = {"SLURM_JOB_ID": "77", "SLURM_RESTART_COUNT": "2", "SLURM_JOB_NODELIST": "v001"}
    assert slurm_job(env) == "77 restart 2 on v001"
    assert slurm_job({"SLURM_JOB_ID": "78"}) == "78 restart 0 on ?"


LONG = ("--config", "tests/data/aapl.yaml", "--eps", "0.004", "--quiet")  # level 0 sampled


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("long") / "r.h5"
    done = run_cli(*LONG, "--output", str(out), "--set", "name=reference")
    assert done.returncode == 0, done.stderr
    return out


def same_numbers(a: Path, b: Path) -> None:
    with h5py.File(a) as x, h5py.File(b) as y:
        assert x.attrs["price"] == y.attrs["price"]
        assert np.array_equal(x["levels/sums"][()], y["levels/sums"][()])
        assert "checkpoint" not in y and bool(y.attrs["finished"])


@pytest.mark.parametrize("how", ["SIGTERM", "SIGUSR1", "SIGKILL", "end_time"])
def test_signal_then_resume_cli(tmp_path, long_reference, how):
    out = tmp_path / "r.h5"
    env = dict(os.environ)
    if how == "end_time":  # the clock reaches end - margin about a second after start
        env["SLURM_JOB_END_TIME"] = str(time.time() + 60 + 1.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmc_hpc", *LONG, "--output", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if how != "end_time":
        wait_for_checkpoint(out, process)
        process.send_signal(getattr(signal, how))
    _, stderr = process.communicate(timeout=120)
    if how == "SIGKILL":
        assert process.returncode == -9
        with h5py.File(out) as h5:  # the last complete checkpoint
            assert not h5.attrs["finished"] and not h5.attrs["interrupted"]
    else:
        assert process.returncode == 75, stderr
        assert "interrupted (" in stderr and "--resume" in stderr
        with h5py.File(out) as h5:
            assert h5.attrs["interrupted"] and "checkpoint" in h5
            reason = h5.attrs["stop_reason"]
        assert ("SLURM_JOB_END_TIME" in reason) if how == "end_time" else (how in reason)
    resumed = run_cli(*LONG, "--output", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    same_numbers(long_reference, out)


OTHER_WORKLOADS = {  # eps sized for about 0.3 s per run
    "lookback": [("option.type", "lookback"), ("mlmc.eps", 0.1)],
    "plain mc": [
        ("mlmc.method", "mc"),
        ("option.type", "digital"),
        ("mlmc.mc_steps", 16),
        ("mlmc.eps", 1.0),
    ],
    # TSLA (S0 = 430, sigma = 0.3, T = 0.5) with a barrier 5% below spot: Lmin raised to 8
    "barrier near spot": [("option.type", "barrier"), ("option.barrier", 410.0), ("mlmc.eps", 0.1)],
    # level 0 exact (no level-0 samples, a known level in the checkpoint) and control
    "call exact": [("mlmc.level0", "exact"), ("mlmc.eps", 0.002)],
    "asian control": [("option.type", "asian"), ("mlmc.level0", "control"), ("mlmc.eps", 0.05)],
    # multilevel quasi-Monte Carlo: per-randomisation sums and point batches in the checkpoint
    "mlqmc lookback": [
        ("mlmc.method", "mlqmc"),
        ("option.type", "lookback"),
        ("mlmc.eps", 0.05),
        ("mlmc.level0", "exact"),
    ],  # fmt: skip
}


@pytest.mark.parametrize("workload", OTHER_WORKLOADS)
@pytest.mark.parametrize("stop_at", [1, 7])
def test_path_payoffs_and_plain_mc_resume_bit_identically(tmp_path, workload, stop_at):
    out = tmp_path / "r.h5"
    overrides = [*SMALL, *OTHER_WORKLOADS[workload], ("run.output", str(out))]
    config = load_config(ROOT / "configs/tsla.yaml", overrides)
    reference = run_pricing(config, serial_executor(config))
    executor = serial_executor(config)
    stop_after(executor, stop_at)
    run_pricing(config, executor, checkpoint_path=str(out)).save(out)
    finished = run_pricing(config, serial_executor(config), resume=read_checkpoint(out, config))
    assert finished.method == config.mlmc.method and finished.resumed == 1
    assert_same_run(finished, reference)
    assert finished.effective_Lmin == reference.effective_Lmin
    assert workload != "barrier near spot" or finished.effective_Lmin == 8
    assert finished.warnings == reference.warnings and finished.converged == reference.converged


def test_a_checkpoint_from_before_level0_resumes_only_with_level0_sample(tmp_path, reference):
    """A 0.3 checkpoint sampled level 0 and its stored config has no mlmc.level0: resuming it
    with today's default (exact) would mix two estimators, so it is refused with the fix."""
    out = tmp_path / "old.h5"
    config = small_config(out)
    executor = serial_executor(config)
    stop_after(executor, 5)
    run_pricing(config, executor, checkpoint_path=str(out)).save(out)
    with h5py.File(out, "r+") as h5:  # what mlmc_hpc 0.3.0 wrote
        text = h5.attrs["config"]
        text = text.decode() if isinstance(text, bytes) else text
        h5.attrs["config"] = "\n".join(line for line in text.splitlines() if "level0" not in line)
        h5.attrs["package_version"] = "0.3.0"
        del h5["checkpoint/checksum"], h5["checkpoint/level_exact"]  # 0.4.0 additions
    before = out.read_bytes()
    args = ["--config", "configs/tsla.yaml", "--eps", "0.02", "--backend", "numpy",
            "--set", "run.batch_timesteps=100000", "--output", str(out), "--resume", "--json"]  # fmt: skip
    refused = run_cli(*args)
    assert refused.returncode == 2 and out.read_bytes() == before
    assert refused.stderr == (
        f"config error: --resume: {out} was started by mlmc_hpc 0.3.0, which sampled level 0; "
        f"continue it with --set mlmc.level0=sample\n"
    )
    done = run_cli(*args, "--set", "mlmc.level0=sample")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["price"] == reference.price
