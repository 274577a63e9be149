"""The risk command end to end: JSON and HDF5 contract, resume, MPI, API, figures."""

import json
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

import mlmc_hpc
from mlmc_hpc.cli import main
from mlmc_hpc.config.risk_loading import load_risk_config
from mlmc_hpc.io.risk_checkpoint import read_risk_checkpoint
from mlmc_hpc.io.risk_result import RiskResult
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.risk import run_risk
from tests.helpers import mpirun, needs_mpi, run_cli, wait_for_checkpoint

KEYS = ["var_95", "var_95_ci95", "cvar_95", "cvar_95_ci95", "var_99", "var_99_ci95", "cvar_99",
        "cvar_99_ci95"]  # fmt: skip
BOOK = {
    "name": "book",
    "portfolio": {
        "value": None,
        "assets": [{"name": "A", "shares": 1000, "mu": 0.08, "sigma": 0.25, "S0": 100},
                   {"name": "B", "shares": 2000, "mu": 0.05, "sigma": 0.4, "S0": 40}],
        "correlation": [[1.0, 0.3], [0.3, 1.0]],
        "options": [{"asset": "A", "type": "put", "K": 95, "T": 0.25, "quantity": 500, "r": 0.02},
                    {"asset": "B", "type": "call", "K": 45, "T": 0.5, "quantity": -800,
                     "r": 0.02, "sigma": 0.45}],
    },
    "risk": {"model": "exact", "confidence": [0.95, 0.995]},
    "run": {"batch_scenarios": 8192},
}  # fmt: skip


def skip_timing(path):
    """Every attribute and dataset except timings and rank-count facts."""
    skip = {"wall_time_s", "created", "n_workers", "world_size", "worker_devices", "startup_s",
            "sampling_s", "resumed"}  # fmt: skip
    with h5py.File(path) as h5:
        attrs = {k: v for k, v in h5.attrs.items() if k not in skip}
        data = {f"{g}/{k}": h5[g][k][()] for g in ("levels", "histogram", "tail") for k in h5[g]}
        data["iterations/scenarios"] = h5["iterations/scenarios"][()]
    return attrs, data


def assert_same(a, b):
    assert a[0].keys() == b[0].keys()
    for key, value in a[0].items():
        assert np.array_equal(value, b[0][key]), key
    assert a[1].keys() == b[1].keys()
    for key, value in a[1].items():
        assert np.array_equal(value, b[1][key]), key


def test_json_and_hdf5_carry_the_same_measures(tmp_path, capsys):
    out = tmp_path / "var.h5"
    assert main(["risk", "--config", "notebook_var", "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert all(key in summary for key in KEYS)
    assert summary["scenarios"] == 100_000 and summary["model"] == "daily"
    with h5py.File(out) as h5:
        for key in KEYS:
            assert np.array_equal(h5.attrs[key], summary[key]), key
        assert h5.attrs["scenarios"] == 100_000
        assert h5["histogram/counts"][()].sum() == 100_000
        assert len(h5["histogram/edges"]) == len(h5["histogram/counts"]) + 1
        assert list(h5["batches/batch"][()]) == [0, 1]  # 65536 + 34464 scenarios
        assert list(h5["batches/n_samples"][()]) == [65536, 34464]
        assert list(h5["levels/confidence"][()]) == [0.95, 0.99]
        var_ci = h5.attrs["var_95_ci95"]
        assert var_ci[0] <= h5.attrs["var_95"] <= var_ci[1]
        tail = h5["tail/losses"][()]
        assert tail[0] <= var_ci[0] and np.all(np.diff(tail) >= 0)
    assert 55_000 < summary["var_95"] < 72_000  # the notebook's 10-day 95% VaR is about 6.4%
    result = RiskResult.load(out)
    assert result.var(0.95) == summary["var_95"]
    assert result.to_dataframe().shape == (2, 7)


def test_text_summary_reads_like_the_notebook(tmp_path):
    done = run_cli("risk", "--config", "notebook_var", "--output", str(tmp_path / "a.h5"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "RISK METRICS (10-day horizon, daily model, 100,000 scenarios)"
    assert lines[1].startswith("95% VaR:      $6") and "%)  95% CI [$" in lines[1]
    assert done.stderr.startswith(
        "iter  1  n 1e+05  VaR/CVaR 95%: 63.8k/80.1k +-0.90%  99%: 90.2k/"
    )
    assert all(len(line) <= 100 for line in done.stderr.splitlines())


def test_decimal_levels_are_named_with_an_underscore(tmp_path):
    result = mlmc_hpc.risk(BOOK, scenarios=40_000, output=str(tmp_path / "b.h5"))
    assert {"var_99_5", "var_99_5_ci95", "cvar_99_5", "cvar_99_5_ci95"} <= set(result.measures)
    with h5py.File(tmp_path / "b.h5") as h5:
        assert h5.attrs["var_99_5"] == result.var(0.995)


def test_a_finished_result_is_not_overwritten_without_the_flag(tmp_path, capsys):
    out = tmp_path / "r.h5"
    args = ["risk", "--config", "notebook_var", "--output", str(out), "--quiet"]
    assert main(args) == 0
    before = out.read_bytes()
    assert main(args) == 2
    assert "holds a finished risk result; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*args, "--overwrite", "--seed", "5"]) == 0
    assert out.read_bytes() != before


def test_api_equals_the_file_and_writes_nothing_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = mlmc_hpc.risk(BOOK, scenarios=30_000)
    assert list(tmp_path.iterdir()) == []
    saved = mlmc_hpc.risk(BOOK, scenarios=30_000, output="x.h5")
    assert saved.measures.keys() == result.measures.keys()
    for key, value in result.measures.items():
        assert np.array_equal(value, saved.measures[key])
    loaded = RiskResult.load(tmp_path / "x.h5")
    assert loaded.measures.keys() == saved.measures.keys()
    assert loaded.var(0.995) == saved.var(0.995) and loaded.value0 == saved.value0
    with pytest.raises(mlmc_hpc.ConfigError, match="unknown keyword colour"):
        mlmc_hpc.risk(BOOK, colour="red")


def test_stop_and_resume_is_bit_identical(tmp_path):
    config = load_risk_config(BOOK, [("risk.scenarios", "auto"), ("risk.rel_tol", 0.002),
                                     ("run.output", str(tmp_path / "s.h5"))])  # fmt: skip
    reference = run_risk(config, serial_executor(config))
    assert len(reference.iterations["scenarios"]) >= 2  # the stop falls in the second
    reference.save(tmp_path / "ref.h5")
    executor = serial_executor(config)
    calls = 0

    def stop_after_some_batches():
        nonlocal calls
        calls += 1
        return "test stop" if calls > 45 else None

    executor.watch(stop_after_some_batches)
    stopped = run_risk(config, executor, checkpoint_path=str(tmp_path / "s.h5"))
    assert stopped.interrupted and not stopped.finished and stopped.stop_reason == "test stop"
    stopped.save(tmp_path / "s.h5")
    resume = read_risk_checkpoint(tmp_path / "s.h5", config)
    assert resume.state.next_batch == 45
    final = run_risk(config, serial_executor(config), resume=resume)
    assert final.resumed == 1 and final.finished
    final.save(tmp_path / "s.h5")
    assert_same(skip_timing(tmp_path / "s.h5"), skip_timing(tmp_path / "ref.h5"))


def test_sigterm_then_resume_from_the_command_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    args = ["risk", "--config", "notebook_var", "--output", "t.h5", "--quiet", "--scenarios",
            "30000000", "--set", "run.batch_scenarios=16384"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "mlmc_hpc", *args], cwd=tmp_path / "a",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for_checkpoint(tmp_path / "a" / "t.h5", process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 75, err
    assert "continue with the same command plus --resume" in err
    refused = run_cli(*args, cwd=tmp_path / "a")
    assert refused.returncode == 2
    assert "holds an unfinished run; continue it with --resume" in refused.stderr
    changed = run_cli(*args, "--resume", "--seed", "9", cwd=tmp_path / "a")
    assert changed.returncode == 2 and "run.seed=42 in the checkpoint, 9 now" in changed.stderr
    done = run_cli(*args, "--resume", "--json", timeout=300, cwd=tmp_path / "a")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scenarios"] == 30_000_000
    fresh = run_cli(*args, timeout=300, cwd=tmp_path / "b")
    assert fresh.returncode == 0, fresh.stderr
    assert_same(skip_timing(tmp_path / "a" / "t.h5"), skip_timing(tmp_path / "b" / "t.h5"))


def test_a_damaged_checkpoint_is_refused(tmp_path):
    config = load_risk_config(BOOK, [("risk.scenarios", 200_000)])
    executor = serial_executor(config)
    executor.watch(lambda: "stop" if len(executor.records) >= 3 else None)
    stopped = run_risk(config, executor)
    stopped.save(tmp_path / "d.h5")
    with h5py.File(tmp_path / "d.h5", "r+") as h5:
        h5["checkpoint/tail"][0] += 1.0
    with pytest.raises(mlmc_hpc.ConfigError, match="damaged checkpoint"):
        read_risk_checkpoint(tmp_path / "d.h5", config)


def test_plot_and_report_draw_the_two_panels(tmp_path):
    out, figures = tmp_path / "p.h5", tmp_path / "figs"
    done = run_cli("risk", "--config", "notebook_var", "--output", str(out), "--quiet",
                   "--plot", str(figures))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (figures / "risk_p.png").stat().st_size > 20_000
    report = run_cli("report", str(out), "--plot", str(tmp_path / "again"))
    assert report.returncode == 0, report.stderr
    assert "95% VaR:" in report.stdout and (tmp_path / "again" / "risk_p.png").exists()


@needs_mpi
def test_bit_identical_on_one_and_three_ranks_with_options(tmp_path, write_config):
    path = write_config(json.dumps(BOOK))
    results = []
    for n in (1, 3):
        (tmp_path / f"n{n}").mkdir()
        done = mpirun(n, "risk", "--config", str(path), "--output", "r.h5", "--quiet",
                      "--set", "risk.rel_tol=0.01", cwd=tmp_path / f"n{n}")  # fmt: skip
        assert done.returncode == 0, done.stderr
        results.append(skip_timing(tmp_path / f"n{n}" / "r.h5"))
        with h5py.File(tmp_path / f"n{n}" / "r.h5") as h5:
            assert h5.attrs["n_workers"] == max(1, n - 1)
    assert_same(*results)


@needs_mpi
def test_a_failing_worker_ends_a_risk_job_naming_it(tmp_path):
    done = mpirun(3, "risk", "--config", "notebook_var", "--output", str(tmp_path / "f.h5"),
                  "--set", "run.batch_scenarios=4096", env={"MLMC_HPC_FAULT_INJECTION": "raise:2"}, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "worker 2 of 3 on" in done.stderr and not (tmp_path / "f.h5").exists()
