"""What a user sees of the convergence checks: the Lmin raise on stderr, the result's
``effective_Lmin`` and ``warnings``, the summary's converged line, the --json keys."""

from __future__ import annotations

import json

from mlmc_hpc.io.run_result import RunResult
from tests.helpers import run_cli

BARRIER = ("--set", "option.type=barrier", "--set", "option.barrier=95", "--eps", "0.05")
RAISE = "warning: raising mlmc.Lmin from 2 to 8: log(S0/B) = 0.0513 >= 3 sigma sqrt(h)"


def test_barrier_near_spot_raises_lmin_says_so_and_records_it(tmp_path):
    out = tmp_path / "barrier.h5"
    proc = run_cli(*BARRIER, "--output", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(RAISE)
    assert "converged  yes  (Lmin raised to 8 for the problem's scales)" in proc.stdout
    result = RunResult.load(out)
    assert result.effective_Lmin == 8 and result.L >= 8 and result.converged
    assert result.warnings.startswith(RAISE.removeprefix("warning: "))


def test_giles_mode_keeps_lmin_and_json_has_the_new_keys(tmp_path):
    proc = run_cli(*BARRIER, "--set", "mlmc.convergence=giles", "--json", "--quiet",
                   "--output", str(tmp_path / "giles.h5"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["effective_Lmin"] == 2
    assert "raising" not in proc.stderr
    assert summary["warnings"] == [line.removeprefix("warning: ")
                                   for line in proc.stderr.splitlines()]  # fmt: skip


def test_unreachable_scales_exit_0_not_converged_with_reasons(tmp_path):
    out = tmp_path / "r5.h5"
    proc = run_cli("--set", "option.r=5", "--set", "option.T=10", "--set", "mlmc.Lmax=12",
                   "--eps", "2", "--quiet", "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("warning: the problem's scales need levels finer than mlmc.Lmax")
    assert "raise mlmc.Lmax to at least 16" in lines[0]
    assert "converged  NO (the warnings say why)" in proc.stdout
    result = RunResult.load(out)
    assert not result.converged and result.effective_Lmin == 2
    assert result.warnings.splitlines() == [line.removeprefix("warning: ") for line in lines]


def test_plain_mc_on_a_grid_is_not_converged(tmp_path):
    proc = run_cli("--set", "mlmc.method=mc", "--set", "mlmc.mc_steps=8", "--eps", "0.1",
                   "--quiet", "--json", "--output", str(tmp_path / "mc.h5"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["converged"] is False and summary["effective_Lmin"] == 0
    assert "cannot estimate its own bias" in summary["warnings"][0]
