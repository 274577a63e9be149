"""Closed forms stay finite and inside their no-arbitrage bounds at the documented option
limits (review: (B/S0)^{2 lambda} overflowed for r < 0 and small sigma)."""

from __future__ import annotations

import itertools
import math

import pytest

from mlmc_hpc.config import OptionSpec
from mlmc_hpc.models.closed_forms import black_scholes, down_and_out_call
from mlmc_hpc.models.level0_control import control_level0


@pytest.mark.parametrize(
    ("r", "sigma", "B"),
    list(itertools.product([-1.0, -0.01, 0.05, 2.0], [0.001, 0.003, 0.2, 2.0], [50.0, 80.0])),
)
def test_down_and_out_is_finite_and_below_the_call(r, sigma, B):
    value = down_and_out_call(100.0, 100.0, 1.0, r, sigma, B)
    call = black_scholes("call", 100.0, 100.0, 1.0, r, sigma)
    assert math.isfinite(value) and -1e-9 <= value <= call + 1e-9


def test_the_barrier_control_variate_builds_where_the_formula_overflowed():
    option = OptionSpec("barrier", 100.0, 100.0, 1.0, -1.0, 0.001, barrier=80.0)
    control = control_level0(option)
    assert math.isfinite(control.control_mean) and math.isfinite(control.coefficient)
