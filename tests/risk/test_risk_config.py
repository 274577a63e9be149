"""Bad risk inputs: exit 2, one line naming the key and what is allowed, nothing written."""

import numpy as np
import pytest
import yaml

from mlmc_hpc.cli import main
from mlmc_hpc.config.risk_loading import load_risk_config
from mlmc_hpc.errors import ConfigError

ASSETS = [
    {"name": "A", "weight": 0.6, "mu": 0.1, "sigma": 0.2, "S0": 100},
    {"name": "B", "weight": 0.4, "mu": 0.05, "sigma": 0.3, "S0": 50},
]
CORRELATION = [[1.0, 0.5], [0.5, 1.0]]


def portfolio(**changes):
    data = {"value": 1_000_000, "assets": [dict(a) for a in ASSETS], "correlation": CORRELATION,
            "options": []}  # fmt: skip
    data.update(changes)
    return {"name": "t", "portfolio": data}


def with_asset(index, **changes):
    assets = [dict(a) for a in ASSETS]
    assets[index].update(changes)
    return portfolio(assets=assets)


def with_option(**fields):
    option = {"asset": "A", "type": "put", "K": 90, "T": 0.25, "quantity": -100, "r": 0.03}
    option.update(fields)
    return portfolio(options=[option])


CASES = [
    (portfolio(correlation=[[1.0, 0.9, 0.0], [0.9, 1.0, 0.9], [0.0, 0.9, 1.0]]),
     "config error: portfolio.correlation must be 2 x 2 (one row per asset), got "
     "[[1.0, 0.9, 0.0], [0.9, 1.0, 0.9], [0.0, 0.9, 1.0]]"),
    (with_asset(0, weight=0.7),
     "config error: portfolio.assets: weights must sum to 1, they sum to 1.1"),
    (with_asset(1, sigma=-0.2), "config error: portfolio.assets[1].sigma must be > 0, got -0.2"),
    (with_asset(1, sigma=7), "config error: portfolio.assets[1].sigma must be in (0, 5], got 7"),
    (with_asset(0, mu="abc"), "config error: portfolio.assets[0].mu must be a number, got 'abc'"),
    (with_asset(0, weight=None),
     "config error: portfolio.assets[0] must give exactly one of weight or shares"),
    (with_asset(0, colour="red"),
     "config error: unknown key portfolio.assets[0].colour; allowed: name, weight, shares, mu, "
     "sigma, S0"),
    (with_asset(0, sigam=0.2),
     "config error: unknown key portfolio.assets[0].sigam; did you mean sigma?"),
    (with_asset(1, name="A"), "config error: portfolio.assets[1].name 'A' appears twice"),
    (portfolio(correlation=[[1.0, 0.5], [0.4, 1.0]]),
     "config error: portfolio.correlation must be symmetric: [1][0] is 0.4 but [0][1] is 0.5"),
    (portfolio(correlation=[[0.9, 0.5], [0.5, 1.0]]),
     "config error: portfolio.correlation[0][0] must be 1 (unit diagonal), got 0.9"),
    (portfolio(correlation=[[1.0, 1.5], [1.5, 1.0]]),
     "config error: portfolio.correlation[0][1] must be in -1..1, got 1.5"),
    (with_option(asset="C"),
     "config error: portfolio.options[0].asset 'C' is not an asset of the portfolio; allowed: A, B"),
    (with_option(T=0.01),
     "config error: portfolio.options[0].T 0.01 years expires before the risk horizon "
     "(0.0396825 years); options must live to the horizon"),
    (with_option(type="straddle"),
     "config error: portfolio.options[0].type must be one of call | put, got 'straddle'"),
    (with_option(quantity=0),
     "config error: portfolio.options[0].quantity must not be 0 (negative = written, short)"),
    (with_option(r=None), "config error: portfolio.options[0].r is required"),
    ({"risk": {"confidence": [0.95, 1.2]}},
     "config error: risk.confidence[1] must be in 0.5..0.9999, got 1.2"),
    ({"risk": {"model": "weekly"}},
     "config error: risk.model must be one of exact | daily, got 'weekly'"),
    ({"risk": {"scenarios": 100}},
     "config error: risk.scenarios must be at least 2000 for a 99% level (20 expected losses "
     "beyond it), got 100"),
    ({"risk": {"scenarios": "many"}},
     "config error: risk.scenarios must be auto or an integer in 1..1000000000000, got 'many'"),
    ({"risk": {"model": "daily"}, "portfolio": {"assets": [
        {"name": "X", "shares": 10, "mu": 0.1, "sigma": 2.0, "S0": 10}]}},
     "config error: portfolio.assets[0].sigma 2 is too large for risk.model daily (at most 1.59 "
     "with 252 trading days: a day below -100% becomes possible); use model exact"),
    ({"run": {"backend": "cupy"}},
     "config error: run.backend cupy has no kernel for the risk scenarios yet; use "
     "run.backend: numpy or auto"),
    ({"portfolio": {"assets": [{"name": "X", "shares": 10, "mu": 0.1, "sigma": 0.2}]}},
     "config error: portfolio.assets[0].S0 is required with shares (the position is shares x S0)"),
]  # fmt: skip


@pytest.mark.parametrize("data,message", CASES)
def test_bad_risk_input_is_one_line_and_exit_2(write_config, tmp_path, capsys, data, message):
    output = tmp_path / "out.h5"
    path = write_config(yaml.safe_dump(data))
    rc = main(["risk", "--config", str(path), "--output", str(output)])
    assert (rc, capsys.readouterr().err) == (2, message + "\n")
    assert not output.exists() and not (tmp_path / "out.h5.lock").exists()


def test_non_psd_correlation_names_the_smallest_eigenvalue():
    bad = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]
    assets = [{"name": n, "weight": w, "mu": 0.1, "sigma": 0.2} for n, w in
              (("a", 0.3), ("b", 0.3), ("c", 0.4))]  # fmt: skip
    with pytest.raises(ConfigError) as error:
        load_risk_config({"portfolio": {"value": 1e6, "assets": assets, "correlation": bad}})
    smallest = np.linalg.eigvalsh(np.array(bad))[0]
    assert f"smallest eigenvalue is {smallest:.6g}" in str(error.value)
    assert str(error.value).startswith("portfolio.correlation is not positive semi-definite")


def test_singular_but_psd_correlation_is_accepted_and_runs():
    ones = [[1.0, 1.0], [1.0, 1.0]]  # perfectly correlated: PSD, not positive definite
    config = load_risk_config(portfolio(correlation=ones), [("risk.scenarios", 20000)])
    assert config.portfolio.correlation == ((1.0, 1.0), (1.0, 1.0))


def test_shares_give_weights_and_value_and_round_trip():
    data = {"portfolio": {"value": None, "assets": [
        {"name": "A", "shares": 100, "mu": 0.1, "sigma": 0.2, "S0": 30},
        {"name": "B", "shares": 50, "mu": 0.1, "sigma": 0.2, "S0": 140}],
        "correlation": CORRELATION}}  # fmt: skip
    config = load_risk_config(data)
    assert config.portfolio.value == 10_000
    assert [a.weight for a in config.portfolio.assets] == [0.3, 0.7]
    again = load_risk_config(config.to_dict())
    assert again == config
    with pytest.raises(ConfigError, match="disagrees with the shares x S0"):
        load_risk_config({"portfolio": {**data["portfolio"], "value": 20_000}})


def test_mixing_weights_and_shares_is_refused():
    assets = [{"name": "A", "shares": 100, "mu": 0.1, "sigma": 0.2, "S0": 30},
              {"name": "B", "weight": 0.5, "mu": 0.1, "sigma": 0.2, "S0": 140}]  # fmt: skip
    with pytest.raises(ConfigError, match="every asset a weight or every asset shares"):
        load_risk_config({"portfolio": {"value": 1e4, "assets": assets,
                                        "correlation": CORRELATION}})  # fmt: skip


def test_unknown_preset_lists_the_risk_presets(capsys):
    assert main(["risk", "--config", "notebok_var"]) == 2
    assert capsys.readouterr().err == (
        "config error: config file not found: notebok_var (nor a risk preset: notebook_var)\n"
    )


def test_notebook_preset_matches_the_configs_copy():
    from tests.helpers import ROOT

    packaged = ROOT / "mlmc_hpc/config/risk_presets/notebook_var.yaml"
    assert (ROOT / "configs/notebook_var.yaml").read_text() == packaged.read_text()
