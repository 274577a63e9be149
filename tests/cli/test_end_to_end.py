"""Whole runs: prices against Black-Scholes, HDF5 contract and round trip, reproducibility."""

import json

import h5py
import numpy as np
import pytest

from mlmc_hpc.cli import main
from mlmc_hpc.io.run_result import RunResult
from mlmc_hpc.models.options import black_scholes
from tests.helpers import run_cli

PARAMETER_SETS = [
    # type, S0, K, T, r, sigma, eps
    ("call", 100.0, 100.0, 1.0, 0.05, 0.2, 0.01),  # Giles' mcqmc06 case
    ("put", 100.0, 100.0, 1.0, 0.05, 0.2, 0.01),
    ("call", 280.0, 280.0, 1.0, 0.02, 0.25, 0.02),  # AAPL preset
    ("put", 50.0, 45.0, 0.5, 0.01, 0.35, 0.005),  # out of the money put
    ("call", 120.0, 100.0, 2.0, 0.03, 0.15, 0.01),  # in the money call
    ("put", 80.0, 100.0, 0.25, -0.01, 0.5, 0.01),  # deep ITM put, negative rate
]


def run_json(tmp_path, *args):
    output = tmp_path / "r.h5"
    rc = main([*args, "--output", str(output), "--json", "--quiet"])
    assert rc == 0
    return output


@pytest.mark.parametrize("kind,S0,K,T,r,sigma,eps", PARAMETER_SETS)
def test_price_within_three_eps_of_black_scholes(tmp_path, capsys, kind, S0, K, T, r, sigma, eps):
    sets = [
        f"option.{k}={v}" for k, v in dict(type=kind, S0=S0, K=K, T=T, r=r, sigma=sigma).items()
    ]
    args = [a for s in sets for a in ("--set", s)]
    output = run_json(tmp_path, *args, "--eps", str(eps), "--seed", "3")
    summary = json.loads(capsys.readouterr().out)
    reference = black_scholes(kind, S0, K, T, r, sigma)
    assert summary["reference_price"] == pytest.approx(reference, rel=1e-12)
    assert abs(summary["price"] - reference) < 3 * eps
    assert summary["converged"] is True
    assert summary["std_error"] ** 2 <= 0.75 * eps**2 * 1.0001
    result = RunResult.load(output)
    assert result.price == summary["price"]


def test_hdf5_contract_names(tmp_path, capsys):
    output = run_json(tmp_path, "--eps", "0.05")
    with h5py.File(output) as h5:
        for attr in ("price", "std_error", "eps", "converged", "L", "wall_time_s", "backend",
                     "n_workers", "seed", "config", "package_version", "created",
                     "reference_price"):  # fmt: skip
            assert attr in h5.attrs, attr
        L = int(h5.attrs["L"])
        for name in ("n_samples", "mean", "variance", "cost_per_sample", "timesteps",
                     "compute_time_s"):  # fmt: skip
            assert h5["levels"][name].shape == (L + 1,), name
        assert np.array_equal(h5["levels/cost_per_sample"][()], 2 ** np.arange(L + 1))
        assert np.array_equal(
            h5["levels/timesteps"][()], h5["levels/n_samples"][()] * 2 ** np.arange(L + 1)
        )
        n_iter = h5["iterations/L"].shape[0]
        assert h5["iterations/samples_added"].shape == (n_iter, L + 1)
        assert np.array_equal(h5["iterations/samples_added"][()].sum(axis=0),
                              h5["levels/n_samples"][()])  # fmt: skip
        for name in ("bias_estimate", "variance_estimate", "seconds"):
            assert h5["iterations"][name].shape == (n_iter,)
        assert bool(h5.attrs["converged"]) is True
        assert h5.attrs["price"] == pytest.approx(h5["levels/mean"][()].sum(), rel=1e-12)
        assert h5.attrs["backend"] == "numpy"
        assert "eps: 0.05" in h5.attrs["config"]
    assert list(tmp_path.iterdir()) == [output]  # no temp file left behind


def test_hdf5_round_trip(tmp_path, capsys):
    output = run_json(tmp_path, "--eps", "0.05")
    first = RunResult.load(output)
    copy = tmp_path / "copy.h5"
    first.save(copy)
    second = RunResult.load(copy)
    for name, value in vars(first).items():
        other = getattr(second, name)
        if isinstance(value, dict):
            assert value.keys() == other.keys()
            for key in value:
                nan_ok = value[key].dtype.kind == "f"
                assert np.array_equal(value[key], other[key], equal_nan=nan_ok), (name, key)
        else:
            both_nan = isinstance(value, float) and np.isnan(value) and np.isnan(other)
            assert value == other or both_nan, name


def test_same_seed_is_bit_identical_and_seed_matters(tmp_path):
    prices = []
    for seed, name in ((7, "a.h5"), (7, "b.h5"), (8, "c.h5")):
        done = run_cli("--eps", "0.02", "--seed", str(seed), "--output", str(tmp_path / name),
                       "--json", "--quiet")  # fmt: skip
        assert done.returncode == 0, done.stderr
        prices.append(json.loads(done.stdout)["price"])
    assert prices[0] == prices[1]
    assert prices[0] != prices[2]


def test_human_output_and_progress(tmp_path):
    done = run_cli("--config", "configs/tsla.yaml", "--eps", "0.05", "--output",
                   str(tmp_path / "t.h5"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    # level 0 exact (the default): no samples there, N0 on levels 1..Lmin
    assert done.stderr.startswith("iter   1  L= 3  added [0 10k 10k]  var ")
    assert "bias" in done.stderr
    assert all(len(line) <= 100 for line in done.stderr.splitlines())
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["level", "N_l", "mean", "Pf-Pc"]
    assert any(line.startswith("price ") for line in lines)
    assert any(line.startswith("reference ") and "eps" in line for line in lines)


def test_lmax_stop_is_a_warning_not_a_crash(tmp_path, capsys):
    output = tmp_path / "r.h5"
    rc = main(["--eps", "0.002", "--set", "mlmc.Lmax=3", "--output", str(output), "--quiet"])
    assert rc == 0
    assert "warning: failed to achieve weak convergence" in capsys.readouterr().err
    assert RunResult.load(output).converged is False


@pytest.mark.parametrize("mode", ["exact", "control", "sample"])
def test_level0_mode_in_the_summary_json_and_file(tmp_path, mode):
    out = tmp_path / f"{mode}.h5"
    done = run_cli("--config", "configs/tsla.yaml", "--eps", "0.05", "--json", "--quiet",
                   "--set", f"mlmc.level0={mode}", "--output", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    result = RunResult.load(out)
    assert summary["level0"] == result.level0 == mode
    assert summary["level0_value"] == result.level0_value == result.levels["mean"][0]
    assert (result.levels["n_samples"][0] == 0) == (mode == "exact")
    described = {"exact": "exact: closed form", "control": "control variate: Q = the exact-GBM "
                 "call", "sample": "sampled: one Milstein step"}[mode]  # fmt: skip
    assert result.level0_method.startswith(described)
    if mode == "control":  # Y_0 = P_0 - c (Q - E Q) keeps the plain P_0 as Pf
        assert result.levels["variance"][0] < result.levels["variance_pf"][0] / 20
    human = run_cli("--config", "configs/tsla.yaml", "--eps", "0.05", "--quiet",
                    "--set", f"mlmc.level0={mode}", "--output", str(out), "--overwrite")  # fmt: skip
    assert f"level 0    {result.level0_value:.6f}  {result.level0_method}" in human.stdout
