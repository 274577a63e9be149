"""The test, report and demo commands (issue: diagnostics and reports)."""

from __future__ import annotations

import math
import os
import pty
import select
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from mlmc_hpc.cli import main
from mlmc_hpc.core.convergence import convergence_test
from mlmc_hpc.core.estimators import weak_rate_standard_error
from mlmc_hpc.core.sums import LevelSums
from mlmc_hpc.io.run_result import RunResult
from mlmc_hpc.io.test_result import TestResult
from tests.helpers import ROOT, mpirun, needs_mpi

# Giles' published figures sample level 0
GILES = ["--set", "option.S0=100", "--set", "option.K=100", "--set", "option.T=1",
         "--set", "option.r=0.05", "--set", "option.sigma=0.2", "--set", "mlmc.M=2",
         "--set", "mlmc.level0=sample"]  # fmt: skip
CHI2_8_99_87 = 25.13  # 0.99865 quantile of chi-square with 8 degrees of freedom (3 sigma)


@pytest.fixture(scope="module")
def giles_test(tmp_path_factory):
    """Giles' European reference: N = 20000, L = 8, his eps list."""
    out = tmp_path_factory.mktemp("giles") / "test.h5"
    assert main(["test", *GILES, "--output", str(out), "--quiet"]) == 0
    return TestResult.load(out), out


def test_giles_reference_rates_and_savings(giles_test):
    result, _ = giles_test
    c = result.convergence
    n = [result.N] * (result.L + 1)
    se_alpha = weak_rate_standard_error(c["ave_pf_pc"], c["var_pf_pc"], n)
    # Giles' published values come from the same N and L: their errors are like ours;
    # they are given to two decimals.
    assert abs(result.alpha - 0.96) <= 3 * math.sqrt(2) * se_alpha + 0.005
    assert abs(result.beta - 1.93) <= 3 * math.sqrt(2) * result.beta_std_error + 0.005
    assert result.gamma == pytest.approx(1.0, abs=1e-12)  # cost M^l is exact
    # savings ~ V[Pf_L] C_L / cost: its sampling error is that of V[Pf_L] from N samples,
    # relative sqrt((kurtosis - 1) / N), with Pf's kurtosis seen on level 0 (Y = Pf there).
    x = result.complexity
    row = list(x["eps"]).index(0.005)
    relative = math.sqrt((c["kurtosis"][0] - 1) / result.N)
    assert abs(x["savings"][row] / 215 - 1) <= 3 * math.sqrt(2) * relative
    assert all(
        abs(v - 10.450583572185565) <= 3 * e for v, e in zip(x["value"], x["eps"], strict=True)
    )


def test_printed_tables_match_the_file(giles_test, capsys):
    result, path = giles_test
    assert main(["report", str(path)]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines() if line[:2].strip().isdigit()]
    convergence = [r for r in rows if len(r) == 8][: result.L + 1]
    for level, row in enumerate(convergence):
        assert int(row[0]) == level
        assert float(row[1]) == pytest.approx(result.convergence["ave_pf_pc"][level], rel=1e-4)
        assert float(row[3]) == pytest.approx(result.convergence["var_pf_pc"][level], rel=1e-3)
    assert f"alpha = {result.alpha:f}" in text and f"beta  = {result.beta:f}" in text
    with h5py.File(path) as h5:
        assert {"alpha", "beta", "gamma"} <= set(h5.attrs)
        assert set(h5) == {"convergence", "complexity"}
        assert len(h5["convergence/check"]) == result.L + 1
        assert h5["complexity/N_l"].shape[0] == len(h5["complexity/eps"])


def test_repeat_reports_rms_error_against_the_closed_form(tmp_path, capsys):
    out = tmp_path / "r.h5"
    args = ["test", *GILES, "--samples", "5000", "--levels", "5", "--eps-list", "0.05,0.1",
            "--repeat", "8", "--output", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "independent runs per eps" in capsys.readouterr().out
    r = TestResult.load(out).repeat_runs
    assert r["prices"].shape == (2, 8)
    assert np.all((r["within_eps"] >= 0) & (r["within_eps"] <= 1))
    # MSE <= eps^2 means 8 rms^2 / eps^2 <= chi2_8 quantile (3 sigma) at most
    assert np.all(r["rms_error"] <= r["eps"] * math.sqrt(CHI2_8_99_87 / 8))


def test_kurtosis_warning_for_the_barrier(tmp_path, capsys):
    out = tmp_path / "b.h5"
    args = ["test", *GILES, "--set", "option.type=barrier", "--set", "option.barrier=85",
            "--samples", "20000", "--levels", "6", "--eps-list", "0.2", "--output", str(out),
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "WARNING: kurtosis on the finest level" in capsys.readouterr().out
    assert "kurtosis" in TestResult.load(out).warnings


class Inconsistent:
    """Level sums whose coarse means do not match the next coarser fine means."""

    def sample(self, extra):
        levels = []
        for level, n in enumerate(extra):
            y = np.full(n, 3.0) + np.linspace(-0.1, 0.1, n)  # the truth is mean Pf_l - Pf_l-1 = 1
            pf = np.full(n, float(level)) + np.linspace(-1, 1, n)
            totals = [n, y.sum(), (y**2).sum(), (y**3).sum(), (y**4).sum(), pf.sum(),
                      (pf**2).sum(), n]  # fmt: skip
            levels.append(LevelSums(np.array(totals, dtype=float)))
        return levels


def test_consistency_warning_for_a_broken_coupling():
    table = convergence_test(Inconsistent(), 1000, 3, lambda level: 2**level)
    assert any("consistency check > 1" in w for w in table.warnings)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--samples", "0"], "--samples must be an integer >= 2, got '0'"),
        (["--levels", "1"], "--levels must be an integer >= 2, got '1'"),
        (["--eps-list", "0.1,x"], "--eps-list must be positive numbers separated by commas "
                                  "(e.g. 0.005,0.01,0.02), got '0.1,x'"),
        (["--repeat", "-2"], "--repeat must be an integer >= 1, got '-2'"),
        (["--set", "mlmc.method=mc"], "the test command needs mlmc.method mlmc (it measures "
                                      "MLMC levels), got mc"),
    ],
)  # fmt: skip
def test_bad_test_arguments(tmp_path, capsys, args, message):
    out = tmp_path / "t.h5"
    assert main(["test", *args, "--output", str(out)]) == 2
    assert capsys.readouterr().err == f"config error: {message}\n"
    assert not out.exists()


@needs_mpi
def test_test_command_under_mpi_equals_serial(tmp_path):
    common = ["test", *GILES, "--samples", "4000", "--levels", "4", "--eps-list", "0.05",
              "--quiet", "--set", "run.batch_timesteps=100000"]  # fmt: skip
    assert main([*common, "--output", str(tmp_path / "serial.h5")]) == 0
    done = mpirun(3, *common, "--output", str(tmp_path / "mpi.h5"))
    assert done.returncode == 0, done.stderr
    serial, parallel = TestResult.load(tmp_path / "serial.h5"), TestResult.load(tmp_path / "mpi.h5")
    assert parallel.n_workers == 2 and serial.alpha == parallel.alpha
    for group in ("convergence", "complexity"):
        for key, values in getattr(serial, group).items():
            assert np.array_equal(values, getattr(parallel, group)[key], equal_nan=True), key


# ----------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("runs")
    paths = []
    for eps, workers in ((0.02, 1), (0.01, 3)):
        path = directory / f"run{eps}.h5"
        assert main(["--eps", str(eps), "--output", str(path), "--quiet"]) == 0
        result = RunResult.load(path)
        result.n_workers = workers  # as if run on more workers: exercises the speedup plot
        result.save(path)
        paths.append(path)
    return paths


def test_report_tables_agree_with_the_files(two_runs, capsys):
    assert main(["report", *map(str, two_runs)]) == 0
    text = capsys.readouterr().out
    assert "Per-level runtime (s)" in text and "Per-level timesteps" in text
    blocks = text.split("== ")[1:]
    for path, block in zip(two_runs, blocks, strict=True):
        result = RunResult.load(path)
        rows = [line.split() for line in block.splitlines() if line.strip()[:1].isdigit()]
        rows = [r for r in rows if len(r) == 8]
        exact = rows[0][1] == "exact"  # level 0 computed, not sampled (mlmc.level0 exact)
        assert exact == (result.level0 == "exact") and rows[0][4] == ("-" if exact else "1")
        n_samples = [0 if r[1] == "exact" else int(r[1]) for r in rows]
        assert n_samples == result.levels["n_samples"].tolist()
        assert [int(r[4]) for r in rows[1:]] == result.levels["cost_per_sample"][1:].tolist()
        assert [float(r[5]) for r in rows] == pytest.approx(result.levels["timesteps"], rel=1e-4)


def test_report_plots(two_runs, giles_test, tmp_path, capsys):
    figures = tmp_path / "figs"
    assert main(["report", *map(str, two_runs), str(giles_test[1]), "--plot", str(figures)]) == 0
    names = sorted(p.name for p in figures.iterdir())
    assert names == sorted(["timesteps_per_level.png", "seconds_per_level.png",
                            "convergence.png", "speedup.png", "timeline_1_run0.02.png",
                            "timeline_2_run0.01.png"])  # fmt: skip
    for path in figures.iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert "figures (6)" in capsys.readouterr().out


def test_report_without_matplotlib_is_one_line_and_exit_2(two_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "mlmc_hpc.render.plots", raising=False)
    assert main(["report", str(two_runs[0]), "--plot", str(tmp_path / "f")]) == 2
    assert capsys.readouterr().err == (
        "report error: --plot needs matplotlib: pip install 'mlmc_hpc[plot]'\n"
    )
    assert not (tmp_path / "f").exists()


def test_report_refuses_a_foreign_file(tmp_path, capsys):
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    assert main(["report", str(tmp_path / "x.h5")]) == 2
    assert capsys.readouterr().err.startswith("report error: cannot read ")


# ----------------------------------------------------------------------------- demo


def run_demo(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mlmc_hpc", "demo", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


@needs_mpi
def test_demo_end_to_end_non_interactive():
    done = run_demo("--preset", "giles", "--eps", "0.02", "--workers", "2", "--non-interactive")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "MLMC demo: call S0=100 K=100" in out and "iter   1" in out
    assert "reference  10.450584" in out
    assert "1 worker :" in out and "2 workers:" in out and "prices identical" in out


def test_demo_bad_preset_is_one_line():
    done = run_demo("--preset", "msft", "--non-interactive")
    assert done.returncode == 2
    assert (
        done.stderr == "config error: --preset must be one of aapl, giles, spy, tsla, got 'msft'\n"
    )


def test_demo_under_a_pseudo_terminal():
    """Prompts appear on a terminal; answers choose the preset and eps."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the demo with the pty as its terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "mlmc_hpc", "demo", "--no-compare"])
    answers = ["tsla", "", "", "", "", "", "0.05"]  # preset, S0, K, T, sigma, r, eps
    answered, output, deadline = 0, b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        while answered < len(answers) and output.count(b"]: ") > answered:
            os.write(fd, answers[answered].encode() + b"\n")
            answered += 1
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.WEXITSTATUS(status) == 0, text
    assert "preset (aapl, giles, spy, tsla) [aapl]: " in text and "eps [0.005]: " in text
    assert "MLMC demo: call S0=430 K=430 T=0.5" in text and "eps=0.05" in text
    assert "converged  yes" in text


def test_complexity_reports_what_the_exact_level0_saves(tmp_path, capsys):
    """Level 0 exact in the complexity runs: no level-0 samples, the price still within 3 eps
    of the closed form, and the level0 column (Giles' predicted cost with level 0 sampled
    over the cost as run) well above 1: V_0 = V[Pf_0] is ~100 V_1 on Giles' call."""
    out = tmp_path / "exact.h5"
    args = ["test", *GILES, "--set", "mlmc.level0=exact", "--samples", "5000", "--levels", "5",
            "--eps-list", "0.02,0.05", "--output", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    result = TestResult.load(out)
    x = result.complexity
    assert result.level0 == "exact" and result.level0_method.startswith("exact: closed form")
    assert f"level 0: {result.level0_method}" in text
    assert np.all(x["N_l"][:, 0] == 0)
    assert np.all(np.abs(x["value"] - 10.450583572185565) <= 3 * x["eps"])
    assert np.all(x["level0_savings"] > 5)
    # the sampled run's column is 1 by definition
    assert main([*args[:-3], "--set", "mlmc.level0=sample", "--output", str(tmp_path / "s.h5"),
                 "--quiet"]) == 0  # fmt: skip
    assert np.all(TestResult.load(tmp_path / "s.h5").complexity["level0_savings"] == 1.0)
