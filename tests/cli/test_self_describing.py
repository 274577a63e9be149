"""Result files that explain themselves: format version, units, named dimensions, text."""

import json

import h5py
import numpy as np
import pytest
import xarray as xr

import mlmc_hpc
from mlmc_hpc.cli import main
from mlmc_hpc.io.metadata import DATASETS, FORMAT_VERSION, ROOT
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sd") / "spy.h5"
    mlmc_hpc.price("spy", eps=0.01, output=str(path))
    return path


def test_root_attributes_carry_a_version_units_and_descriptions(run_file):
    with h5py.File(run_file) as h5:
        assert h5.attrs["format_version"] == FORMAT_VERSION
        units = json.loads(h5.attrs["units"])
        descriptions = json.loads(h5.attrs["descriptions"])
    assert units["price"] == ROOT["price"][0] and units["wall_time_s"] == "s"
    assert set(units) == set(descriptions)
    assert {"price", "std_error", "eps", "wall_time_s", "sampling_s", "batch_timesteps"} <= set(
        units
    )


def test_every_listed_dataset_has_units_and_a_description(run_file):
    with h5py.File(run_file) as h5:
        seen = 0
        for group in ("levels", "iterations", "batches"):
            for name, dataset in h5[group].items():
                if f"{group}/{name}" in DATASETS:
                    seen += 1
                    assert dataset.attrs["units"] and dataset.attrs["description"], name
        assert seen >= 15
        assert h5["levels/compute_time_s"].attrs["units"] == "s"
        assert "summed over workers" in h5["levels/compute_time_s"].attrs["description"]


@pytest.mark.parametrize("group,sizes", [("levels", {"level", "sum"}),
                                         ("iterations", {"iteration", "level"}),
                                         ("batches", {"batch"})])  # fmt: skip
def test_xarray_names_the_dimensions(run_file, group, sizes):
    with xr.open_dataset(run_file, group=group, engine="h5netcdf") as data:
        assert set(data.sizes) == sizes
        assert not any(name.startswith("phony_dim") for name in data.sizes)


def test_pandas_reads_hosts_as_text_and_the_tables_round_trip(run_file):
    with xr.open_dataset(run_file, group="batches", engine="h5netcdf") as data:
        hosts = data.to_dataframe()["host"]
    assert all(isinstance(host, str) for host in hosts)
    result = mlmc_hpc.RunResult.load(run_file)
    assert "level" not in result.levels  # the index datasets are not data
    frame = result.to_dataframe("batches")
    assert all(isinstance(host, str) for host in frame["host"])
    iterations = result.to_dataframe("iterations")
    assert "samples_added_1" in iterations and iterations.index.name == "iteration"
    data = result.to_xarray()
    assert set(data.sizes) == {"level", "sum"} and data.attrs["price"] == result.price
    with pytest.raises(ValueError, match="table must be levels, iterations or batches"):
        result.to_dataframe("sums")


def test_a_checkpoint_with_named_axes_still_resumes(tmp_path):
    out = tmp_path / "c.h5"
    first = main(["--config", "spy", "--eps", "0.003", "--output", str(out), "--quiet",
                  "--set", "run.max_timesteps=3000000"])  # fmt: skip
    assert first == 2  # the work budget stops it with its checkpoint kept
    with h5py.File(out) as h5:
        assert "checkpoint" in h5 and h5.attrs["format_version"] == FORMAT_VERSION
    assert main(["--config", "spy", "--eps", "0.003", "--output", str(out), "--quiet",
                 "--resume", "--set", "run.max_timesteps=null"]) == 0  # fmt: skip


def test_report_writes_every_table_as_csv(run_file, tmp_path):
    done = run_cli("report", str(run_file), "--csv", str(tmp_path / "csv"))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert names == ["spy_batches.csv", "spy_iterations.csv", "spy_levels.csv"]
    lines = (tmp_path / "csv" / "spy_levels.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[0] == "level" and "mean" in header and "sums_7" in header
    result = mlmc_hpc.RunResult.load(run_file)
    means = [float(line.split(",")[header.index("mean")]) for line in lines[1:]]
    assert means == list(result.levels["mean"])  # floats round-trip exactly


def test_a_risk_file_names_its_axes(tmp_path):
    path = tmp_path / "r.h5"
    result = mlmc_hpc.risk("notebook_var", output=str(path))
    with xr.open_dataset(path, group="levels", engine="h5netcdf") as data:
        assert set(data.sizes) == {"confidence"}
        assert np.array_equal(data["confidence"].values, [0.95, 0.99])
    with xr.open_dataset(path, group="histogram", engine="h5netcdf") as data:
        assert set(data.sizes) == {"bin", "edge"}
    with h5py.File(path) as h5:
        assert h5["levels/var"].attrs["units"] == "currency units"
        assert json.loads(h5.attrs["units"])["value0"] == "currency units"
    assert set(result.to_xarray().sizes) == {"confidence"}
