"""Per-node sub-masters: the same bits as one flat master (nodes simulated on one machine)."""

import h5py
import numpy as np
import pytest

from mlmc_hpc.parallel.hierarchy import NODES_VARIABLE
from tests.helpers import ROOT, mpirun, needs_mpi

pytestmark = needs_mpi

ARGS = ("--config", str(ROOT / "configs/tsla.yaml"), "--eps", "0.02", "--quiet",
        "--set", "run.batch_timesteps=100000")  # fmt: skip


def levels(path):
    with h5py.File(path) as h5:
        return h5.attrs["price"], h5["levels/sums"][()], h5["iterations/samples_added"][()]


@pytest.mark.parametrize("ranks,node_size", [(5, 2), (7, 3), (4, 1)])
def test_sub_masters_give_the_flat_masters_bits(tmp_path, ranks, node_size):
    flat = tmp_path / "flat"
    flat.mkdir()
    done = mpirun(ranks, *ARGS, "--output", "r.h5", "--set", "run.node_masters_above=0",
                  cwd=flat)  # fmt: skip
    assert done.returncode == 0, done.stderr
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    done = mpirun(ranks, *ARGS, "--output", "r.h5", "--set", "run.node_masters_above=1",
                  cwd=nodes, env={NODES_VARIABLE: str(node_size)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    a, b = levels(flat / "r.h5"), levels(nodes / "r.h5")
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    with h5py.File(nodes / "r.h5") as h5:
        expected = -(-(ranks - 1) // node_size)  # the top master's workers are the nodes
        assert h5.attrs["n_workers"] == expected and h5.attrs["world_size"] == ranks


def test_a_failing_worker_inside_a_node_ends_the_job_naming_it(tmp_path):
    done = mpirun(5, *ARGS, "--output", str(tmp_path / "f.h5"), "--set",
                  "run.node_masters_above=1", timeout=60,
                  env={NODES_VARIABLE: "2", "MLMC_HPC_FAULT_INJECTION": "raise:2"})  # fmt: skip
    assert done.returncode != 0
    assert "in the node of sub-master" in done.stderr and "injected fault" in done.stderr
    assert not (tmp_path / "f.h5").exists()


def test_one_real_node_stays_flat_and_does_not_hang(tmp_path):
    done = mpirun(3, *ARGS, "--output", str(tmp_path / "r.h5"), "--set",
                  "run.node_masters_above=1", timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "r.h5") as h5:
        assert h5.attrs["n_workers"] == 2  # one machine is one node: no sub-master, flat


def test_nodes_of_one_node_stay_flat(tmp_path):
    done = mpirun(4, *ARGS, "--output", str(tmp_path / "r.h5"), "--set",
                  "run.node_masters_above=1", env={NODES_VARIABLE: "8"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "r.h5") as h5:
        assert h5.attrs["n_workers"] == 3
