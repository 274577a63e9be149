"""What the numbers in a result file mean: units, descriptions and dimension names.

One home for the self-description of the HDF5 files (README, "HDF5 result layout"):
:func:`~mlmc_hpc.io.hdf5.write_hdf5` writes ``units`` and ``description`` attributes on
every dataset listed here, the root attributes' units and descriptions as the JSON root
attributes ``units`` and ``descriptions``, and dimension scales named by :data:`DIMENSIONS`
(``level``, ``iteration``, ``batch``, ...) so that xarray and netCDF tools name the axes
instead of ``phony_dim_0``. ``format_version`` (root) is :data:`FORMAT_VERSION`.
"""

from __future__ import annotations

FORMAT_VERSION = 2  # 1: mlmc_hpc <= 0.4 (no format_version attribute); 2: self-describing

PRICE = "price units (the currency of S0)"
MONEY = "currency units"
SECONDS = "s"

# Root attributes with a unit: name -> (unit, description).
ROOT: dict[str, tuple[str, str]] = {
    "price": (PRICE, "the MLMC estimate of the discounted expected payoff"),
    "std_error": (PRICE, "standard error of the price"),
    "eps": (PRICE, "target root-mean-square error"),
    "ci95_low": (PRICE, "lower end of the 95% confidence interval"),
    "ci95_high": (PRICE, "upper end of the 95% confidence interval"),
    "reference_price": (PRICE, "closed-form price (NaN where none exists)"),
    "level0_value": (PRICE, "the level-0 term of the price"),
    "wall_time_s": (SECONDS, "wall-clock time of the run (all legs of a resumed run)"),
    "sampling_s": (SECONDS, "compute time of all batches, summed over workers"),
    "startup_s": (SECONDS, "slowest worker's set-up before its first batch"),
    "end_margin_s": (SECONDS, "stop this long before the Slurm job's end"),
    "batch_timesteps": ("timesteps", "fine timesteps per batch"),
    "batch_scenarios": ("scenarios", "scenarios per batch"),
    "scenarios": ("scenarios", "scenarios drawn"),
    "value0": (MONEY, "the book's value today"),
    "stock_value": (MONEY, "the stock positions' value today"),
    "loss_mean": (MONEY, "mean loss over the horizon"),
    "loss_std": (MONEY, "standard deviation of the loss"),
    "loss_min": (MONEY, "smallest loss drawn"),
    "loss_max": (MONEY, "largest loss drawn"),
    "histogram_scale": (MONEY, "unit of the loss grid (the value today)"),
    "tail_threshold": (MONEY, "every loss above it is kept exactly"),
    "horizon_days": ("trading days", "horizon of the losses"),
}

# Datasets: "group/name" -> (unit, description).
DATASETS: dict[str, tuple[str, str]] = {
    "levels/n_samples": ("samples", "samples taken on the level (0 for an exact level)"),
    "levels/mean": (PRICE, "mean of the level's correction Pf - Pc (Pf on level 0)"),
    "levels/variance": ("price units^2", "variance of the level's correction"),
    "levels/cost_per_sample": ("timesteps", "fine timesteps of one sample (M^l)"),
    "levels/timesteps": ("timesteps", "timesteps of all the level's samples"),
    "levels/compute_time_s": (SECONDS, "compute time of the level, summed over workers"),
    "levels/mean_pf": (PRICE, "mean of the fine payoff Pf"),
    "levels/variance_pf": ("price units^2", "variance of the fine payoff Pf"),
    "levels/kurtosis": ("1", "kurtosis of the correction"),
    "levels/sums": ("mixed", "n, sum Y, Y^2, Y^3, Y^4, sum Pf, Pf^2, cost"),
    "iterations/samples_added": ("samples", "samples added per level in the iteration"),
    "iterations/bias_estimate": (PRICE, "Giles' bias estimate after the iteration"),
    "iterations/variance_estimate": ("price units^2", "estimator variance after it"),
    "iterations/seconds": (SECONDS, "wall time of the iteration"),
    "iterations/scenarios": ("scenarios", "scenarios drawn after the iteration"),
    "iterations/worst_ratio": ("1", "widest CI half-width / (rel_tol |value|)"),
    "batches/n_samples": ("samples", "samples (scenarios) of the batch"),
    "batches/start_s": (SECONDS, "start, from the run's start"),
    "batches/end_s": (SECONDS, "end, from the run's start"),
    "batches/compute_s": (SECONDS, "compute time of the batch on its worker"),
    "levels/var": (MONEY, "Value-at-Risk at the level"),
    "levels/var_ci_low": (MONEY, "VaR's 95% interval, lower end"),
    "levels/var_ci_high": (MONEY, "VaR's 95% interval, upper end"),
    "levels/cvar": (MONEY, "CVaR (mean loss beyond VaR) at the level"),
    "levels/cvar_ci_low": (MONEY, "CVaR's 95% interval, lower end"),
    "levels/cvar_ci_high": (MONEY, "CVaR's 95% interval, upper end"),
    "histogram/edges": (MONEY, "loss bin edges (outermost -inf and inf)"),
    "histogram/counts": ("scenarios", "scenarios with a loss in each bin"),
    "tail/losses": (MONEY, "the largest losses, sorted"),
    "convergence/mean": (PRICE, "mean of the level's correction"),
    "convergence/variance": ("price units^2", "variance of the level's correction"),
    "convergence/cost": ("timesteps", "cost of one sample"),
    "complexity/eps": (PRICE, "target root-mean-square error"),
    "complexity/mlmc_cost": ("timesteps", "MLMC cost"),
    "complexity/std_cost": ("timesteps", "plain Monte Carlo cost (Giles' prediction)"),
}

# Group -> names of its datasets' dimensions, by number of axes (first axis first).
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "levels": ("level", "sum", "randomisation"),
    "iterations": ("iteration", "level"),
    "batches": ("batch",),
    "convergence": ("level",),
    "complexity": ("eps", "level"),
    "repeat": ("run",),
    "histogram": ("bin",),
    "tail": ("rank",),
}
SPECIAL_DIMENSIONS = {  # datasets whose axes differ from their group's rule
    "levels/randomisation_sums": ("level", "randomisation", "sum"),
    "histogram/edges": ("edge",),
}


def dimensions(group: str, name: str, ndim: int) -> tuple[str, ...]:
    """Names of the axes of dataset ``group/name`` with ``ndim`` axes."""
    special = SPECIAL_DIMENSIONS.get(f"{group}/{name}")
    if special is not None and len(special) == ndim:
        return special
    names = DIMENSIONS.get(group, ())
    if group == "levels" and ndim == 2:
        return ("level", "sum")
    return tuple(names[i] if i < len(names) else f"{group}_axis{i}" for i in range(ndim))
