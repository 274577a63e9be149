"""The public Python API: ``mlmc_hpc.price``, ``load_config``, ``RunResult``, presets."""

from __future__ import annotations

import json
import math
import os

import pytest

import mlmc_hpc
from mlmc_hpc.models.closed_forms import black_scholes
from mlmc_hpc.parallel.executor import serial_executor
from tests.helpers import ROOT, run_cli

GILES_CALL = {"option": {"type": "call", "S0": 100, "K": 100, "T": 1, "r": 0.05, "sigma": 0.2},
              "mlmc": {"eps": 0.01}}  # fmt: skip


def test_notebook_call_prices_within_eps_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = mlmc_hpc.price(GILES_CALL)
    assert isinstance(r, mlmc_hpc.RunResult)
    reference = black_scholes("call", 100.0, 100.0, 1.0, 0.05, 0.2)
    assert r.reference_price == pytest.approx(reference, rel=1e-12)
    assert abs(r.price - reference) < 3 * r.eps  # RMSE <= eps: 3 eps is a 3-sigma bound
    assert r.converged and r.finished
    assert r.std_error**2 <= 0.75 * r.eps**2 * (1 + 1e-9)
    assert r.ci95 == (r.ci95_low, r.ci95_high)
    assert r.ci95_low < r.price < r.ci95_high
    assert r.levels["n_samples"].shape == (r.L + 1,)
    assert list(tmp_path.iterdir()) == []  # no run.output given: no file


def test_api_and_cli_give_bit_identical_prices(tmp_path):
    r = mlmc_hpc.price("giles", eps=0.05, seed=3, backend="numpy")
    done = run_cli("--config", "giles", "--eps", "0.05", "--seed", "3", "--backend", "numpy",
                   "--output", str(tmp_path / "g.h5"), "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert r.price.hex() == float(summary["price"]).hex()
    assert r.levels["n_samples"].tolist() == summary["n_samples"]
    assert r.config == mlmc_hpc.RunResult.load(tmp_path / "g.h5").config.replace(
        str(tmp_path / "g.h5"), "results/giles.h5"
    )


def test_output_writes_the_same_result_that_load_returns(tmp_path):
    out = tmp_path / "sub" / "run.h5"
    r = mlmc_hpc.price(GILES_CALL, eps=0.05, output=str(out))
    loaded = mlmc_hpc.RunResult.load(out)
    assert loaded.price == r.price and loaded.std_error == r.std_error
    assert loaded.levels["sums"].tolist() == r.levels["sums"].tolist()
    assert repr(loaded) == repr(r)
    assert sorted(os.listdir(out.parent)) == ["run.h5"]  # atomic: no temp file left


def test_dict_run_output_writes_but_a_preset_output_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mlmc_hpc.price("spy", eps=0.05)
    assert not (tmp_path / "results").exists()
    mlmc_hpc.price({"mlmc": {"eps": 0.05}, "run": {"output": "mine.h5"}})
    assert (tmp_path / "mine.h5").is_file()


def test_repr_and_str_are_short_and_readable():
    r = mlmc_hpc.price(GILES_CALL, eps=0.05)
    text = repr(r)
    assert "\n" not in text and len(text) < 200
    assert f"{r.price:.6g}" in text and "converged" in text
    lines = str(r).splitlines()
    assert 2 <= len(lines) <= 4
    assert "reference" in lines[1] and "eps" in lines[1]


def test_to_dataframe_is_the_level_table():
    pandas = pytest.importorskip("pandas")
    r = mlmc_hpc.price(GILES_CALL, eps=0.05)
    frame = r.to_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert frame.index.name == "level" and len(frame) == r.L + 1
    assert frame["n_samples"].tolist() == r.levels["n_samples"].tolist()
    assert frame["timesteps"].sum() == r.total_timesteps


def test_bad_input_raises_the_cli_one_line_message():
    with pytest.raises(mlmc_hpc.ConfigError) as raised:
        mlmc_hpc.price({"option": {"sigma": -0.2}})
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == "option.sigma must be > 0, got -0.2"
    done = run_cli("--set", "option.sigma=-0.2")
    assert done.returncode == 2 and done.stderr == f"config error: {raised.value}\n"


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: mlmc_hpc.price(epsilon=0.1), "unknown keyword epsilon .*did you mean eps\\?"),
        (lambda: mlmc_hpc.price({"optoin": {}}), "unknown key optoin; did you mean option\\?"),
        (lambda: mlmc_hpc.price("nosuchpreset"), "nor a preset: aapl, giles, spy, tsla"),
        (lambda: mlmc_hpc.price(GILES_CALL, backend="cupy", method="mc"), "run.backend cupy"),
    ],
)
def test_mistakes_are_config_errors(call, message):
    with pytest.raises(mlmc_hpc.ConfigError, match=message):
        call()


def test_load_config_accepts_dict_path_and_preset():
    from_preset = mlmc_hpc.load_config("spy")
    from_path = mlmc_hpc.load_config(ROOT / "configs/spy.yaml")
    assert from_preset == from_path
    assert mlmc_hpc.load_config({"name": "spy", **from_preset.to_dict()}) == from_preset
    assert from_preset.run.backend in ("numpy", "cupy")
    assert isinstance(from_preset.run.batch_timesteps, int)  # resolved once, by loading
    assert mlmc_hpc.presets() == ["aapl", "giles", "spy", "tsla"]


def test_an_executor_can_be_passed_in():
    config = mlmc_hpc.load_config(GILES_CALL, [("mlmc.eps", 0.05), ("run.backend", "numpy")])
    executor = serial_executor(config)
    r = mlmc_hpc.price(config, executor=executor)
    assert len(executor.records) == len(r.batches["level"]) > 0
    again = mlmc_hpc.price(config)
    assert again.price == r.price  # same seed, same batches


def test_presets_work_from_any_directory_and_version_is_printed(tmp_path):
    done = run_cli("--config", "tsla", "--eps", "0.1", "--output", str(tmp_path / "t.h5"),
                   "--quiet", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "tsla"
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"mlmc_hpc {mlmc_hpc.__version__}"


def test_plain_mc_through_the_api():
    r = mlmc_hpc.price(GILES_CALL, method="mc", eps=0.05)
    assert r.method == "mc" and r.L == 0
    assert abs(r.price - r.reference_price) < 3 * r.eps and math.isfinite(r.std_error)


def test_a_used_or_mismatched_executor_is_refused():
    config = mlmc_hpc.load_config(GILES_CALL, [("mlmc.eps", 0.05), ("run.backend", "numpy")])
    executor = serial_executor(config)
    mlmc_hpc.price(config, executor=executor)
    with pytest.raises(ValueError, match="already run"):
        mlmc_hpc.price(config, executor=executor)
    with pytest.raises(ValueError, match="seed 1 but run.seed is 7"):
        mlmc_hpc.price(config, executor=serial_executor(config), seed=7)
    with pytest.raises(ValueError, match="batches of 4194304 units"):
        mlmc_hpc.price(config, executor=serial_executor(config), batch_timesteps=1000)


def test_no_weak_convergence_at_lmax_is_a_warning_and_not_converged():
    with pytest.warns(RuntimeWarning, match="failed to achieve weak convergence"):
        r = mlmc_hpc.price(GILES_CALL, eps=0.002, Lmax=3, N0=1000)
    assert not r.converged and r.L == 3


def test_a_non_mapping_section_is_a_config_error():
    with pytest.raises(mlmc_hpc.ConfigError, match="run must be a mapping"):
        mlmc_hpc.price({"run": 5})
