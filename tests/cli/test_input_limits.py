"""Input at and beyond the documented limits: seeds are exact up to 2**64 - 1, counts stop
at 2**40, numbers too large for a float are one-line errors, and string values given on
the command line stay strings (issue 16, part 1)."""

from __future__ import annotations

import json
import math

import pytest

from mlmc_hpc.io.run_result import RunResult
from tests.helpers import run_cli

QUICK = ("--eps", "0.5", "--quiet")


def test_largest_seed_round_trips_exactly(tmp_path):
    seed = 2**64 - 1
    out = tmp_path / "seed.h5"
    proc = run_cli(*QUICK, "--seed", str(seed), "--json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["seed"] == seed
    assert RunResult.load(out).seed == seed


def test_seeds_above_2_53_are_not_rounded(tmp_path):
    """2**53 and 2**53 + 1 are the same float; as seeds they are different streams."""
    prices = []
    for seed in (2**53, 2**53 + 1):
        proc = run_cli(*QUICK, "--seed", str(seed), "--json",
                       "--output", str(tmp_path / f"{seed}.h5"))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["seed"] == seed
        prices.append(json.loads(proc.stdout)["price"])
    assert prices[0] != prices[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--seed", str(2**64)),
         f"run.seed must be an integer in 0..{2**64 - 1}, got {2**64}"),
        (("--set", "mlmc.N0=" + "1" + "0" * 30),
         f"mlmc.N0 must be an integer in 1..{2**40}, got 1{'0' * 30}"),
        (("--set", f"run.batch_timesteps={2**70}"),
         f"run.batch_timesteps must be auto or an integer in 1..{2**40}, got {2**70}"),
        (("--set", "option.S0=1" + "0" * 400),
         "option.S0 must be a finite number, got an integer of 401 digits"),
        (("--set", "option.S0=1e308", "--set", "option.K=1e308"),
         "option.S0 must be in 1e-12..1e+15, got 1e+308"),
        (("--set", "option.type=digital", "--set", "option.payout=1e300"),
         "option.payout must be in 1e-12..1e+15, got 1e+300"),
        (("--set", "option.K=1e-300"), "option.K must be in 1e-12..1e+15, got 1e-300"),
        (("--set", "option.T=1000"), "option.T must be <= 100 (years), got 1000"),
        (("--set", "option.sigma=6"),
         "option.sigma: sigma sqrt(T) must be in 1e-06..5, got 6 (sigma 6, T 1)"),
        (("--set", "option.r=60"), "option.r: |r| T must be <= 50, got 60 (r 60, T 1)"),
        (("--set", "option.type=asian", "--set", "option.average=geometric",
          "--set", "option.sigma=1.5"),
         "option.sigma: a geometric Asian needs 1/2 + (r - sigma^2/2) T > 0 (level 0's one "
         "Milstein step of length T must keep the price positive for its log), got -0.575; "
         "lower sigma or T"),
        (("--set", "mlmc.method=mc", "--set", "mlmc.level0=exact"),
         "mlmc.level0: exact applies to mlmc.method mlmc only (plain Monte Carlo has no "
         "level 0); use auto or sample"),
        (("--set", "mlmc.level0=quadrature"),
         "mlmc.level0 must be one of auto | sample | exact | control, got 'quadrature'"),
        (("--set", "mlmc.method=mlqmc", "--set", "mlmc.points0=48"),
         "mlmc.points0 must be a power of two in 1..1048576, got 48"),
        (("--set", "mlmc.method=mlqmc", "--set", "mlmc.randomisations=4"),
         "mlmc.randomisations must be an integer in 8..4096, got 4"),
        (("--set", "mlmc.method=mlqmc", "--set", "mlmc.level0=control"),
         "mlmc.level0: control applies to mlmc.method mlmc only (multilevel quasi-Monte Carlo "
         "takes level 0 exact or sampled on its points); use auto, exact or sample"),
    ],
)  # fmt: skip
def test_numbers_beyond_the_limits_are_one_line_errors(tmp_path, args, message):
    out = tmp_path / "never.h5"
    proc = run_cli(*QUICK, *args, "--output", str(out))
    assert proc.returncode == 2
    assert proc.stderr == f"config error: {message}\n"
    assert not out.exists()


def test_string_values_on_the_command_line_stay_strings(tmp_path):
    proc = run_cli(*QUICK, "--json", "--output", "run #2.h5", "--set", "name=yes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["name"] == "yes" and summary["output"] == "run #2.h5"
    assert (tmp_path / "run #2.h5").is_file()
    proc = run_cli(*QUICK, "--set", "run.output=2024", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert RunResult.load(tmp_path / "2024").name == "default"


@pytest.mark.parametrize(
    "args",
    [
        ("--set", "option.S0=1e15", "--set", "option.K=1e15", "--eps", "1e13"),
        ("--set", "option.S0=1e-12", "--set", "option.K=1e-12", "--eps", "1e-14"),
        ("--set", "option.r=-50", "--set", "option.T=1", "--eps", "1e21"),
    ],
)
def test_values_at_the_limits_give_finite_prices(tmp_path, args):
    """At the documented limits nothing overflows: a finite price and standard error, and
    ``converged`` only beside a price near the closed form (|r| T = 50 discounts by e^50:
    the levels cancel to 1e-45 of their size, which no float does, and the run says so)."""
    proc = run_cli(*args, "--quiet", "--json", "--output", str(tmp_path / "edge.h5"))
    if proc.returncode == 2:  # r T = -50: levels of 1e24 cancel to a price near 0; the work
        assert "which would pass run.max_timesteps" in proc.stderr  # is priced and refused
        return
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert math.isfinite(summary["price"]) and math.isfinite(summary["std_error"])
    scale = max(summary["eps"], summary["std_error"])
    assert not summary["converged"] or abs(summary["error"]) <= 4 * scale
