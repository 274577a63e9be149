"""The command line for a new user: a bare config path, help with examples, a relative eps."""

import json

import pytest

import mlmc_hpc
from mlmc_hpc.cli import main
from mlmc_hpc.models.closed_forms import black_scholes, geometric_asian_call
from tests.helpers import ROOT, run_cli


def test_a_bare_config_path_is_taken_as_the_config(tmp_path):
    done = run_cli(str(ROOT / "configs/tsla.yaml"), "--eps", "0.05", "--json", "--quiet",
                   "--output", str(tmp_path / "t.h5"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "tsla"
    risk = run_cli("risk", "notebook_var", "--json", "--quiet", "--output", str(tmp_path / "r.h5"))
    assert risk.returncode == 0 and json.loads(risk.stdout)["name"] == "notebook_var"


def test_two_different_configs_are_refused_in_one_line(capsys):
    assert main(["run", "spy", "--config", "tsla"]) == 2
    assert (
        capsys.readouterr().err
        == "config error: two configs given: spy and --config tsla; give one\n"
    )


@pytest.mark.parametrize("command", [[], ["run"], ["risk"]])
def test_help_shows_examples_and_choices(command):
    done = run_cli(*command, "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and "python -m mlmc_hpc" in done.stdout
    if command:
        assert "{auto,numpy" in done.stdout


def test_rel_eps_resolves_eps_from_the_closed_form_and_records_it(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", "spy", "--rel-eps", "1e-4", "--output", str(out), "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    spy = mlmc_hpc.load_config("spy").option
    pilot = black_scholes("call", spy.S0, spy.K, spy.T, spy.r, spy.sigma)
    assert summary["rel_eps"] == 1e-4 and summary["pilot_price"] == pilot
    assert summary["eps"] == pytest.approx(1e-4 * pilot, rel=1e-15)
    assert abs(summary["price"] - pilot) < 4 * summary["eps"]
    result = mlmc_hpc.RunResult.load(out)
    assert result.rel_eps == 1e-4 and result.pilot_price == pilot
    assert mlmc_hpc.load_config().mlmc.rel_eps is None  # off by default
    assert "rel_eps: 0.0001" in result.config and f"eps: {summary['eps']!r}" in result.config


def test_rel_eps_for_the_arithmetic_asian_uses_the_geometric_pilot():
    result = mlmc_hpc.price("giles", type="asian", rel_eps=1e-3)
    o = mlmc_hpc.load_config("giles").option
    assert result.pilot_price == geometric_asian_call(o.S0, o.K, o.T, o.r, o.sigma)
    assert result.eps == pytest.approx(1e-3 * result.pilot_price)


def test_a_run_with_rel_eps_resumes(tmp_path):
    out = tmp_path / "c.h5"
    args = ["run", "spy", "--rel-eps", "5e-5", "--output", str(out), "--quiet"]
    assert main([*args, "--set", "run.max_timesteps=3000000"]) == 2  # budget: checkpoint kept
    assert main([*args, "--resume", "--set", "run.max_timesteps=null"]) == 0
    assert mlmc_hpc.RunResult.load(out).resumed == 1


@pytest.mark.parametrize("args,message", [
    (["--rel-eps", "2"], "config error: mlmc.rel_eps must be null or in (0, 1) (1e-4 = 1 bp of "
                         "the price), got 2"),
    (["--rel-eps", "1e-4", "--eps", "0.1"], "config error: give --eps or --rel-eps, not both"),
])  # fmt: skip
def test_bad_relative_targets_are_one_line(capsys, tmp_path, args, message):
    assert main(["run", "spy", *args, "--output", str(tmp_path / "x.h5")]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "x.h5").exists()
