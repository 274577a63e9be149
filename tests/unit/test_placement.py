"""The GPU placement check: each host's GPU workers against that host's own GPU count."""

from types import SimpleNamespace

import pytest

from mlmc_hpc.errors import PlacementError
from mlmc_hpc.parallel.roles import check_placement


def config(backend="cupy", node_masters_above=64):
    return SimpleNamespace(run=SimpleNamespace(backend=backend,
                                               node_masters_above=node_masters_above))  # fmt: skip


def reports(hosts):
    """(host, device, start-up, GPUs) per worker from {host: (workers, gpus)}."""
    return [(host, f"cuda:{k}", 0.5, gpus) for host, (count, gpus) in hosts.items()
            for k in range(count)]  # fmt: skip


def test_every_host_is_checked_not_only_the_masters():
    check_placement(config(), reports({"a": (8, 8), "b": (4, 4)}))
    with pytest.raises(PlacementError) as refused:
        check_placement(config(), reports({"a": (8, 8), "b": (5, 4)}))
    assert str(refused.value) == ("too many ranks: 5 GPU workers on b but 4 GPUs; start at "
                                  "most 5 ranks per node (one master) or use run.backend: numpy")  # fmt: skip


def test_sub_masters_may_take_one_rank_beyond_the_gpus_across_nodes():
    hosts = {"a": (9, 8), "b": (9, 8)}
    check_placement(config(node_masters_above=4), reports(hosts))
    with pytest.raises(PlacementError):
        check_placement(config(node_masters_above=64), reports(hosts))  # flat: no sub-master
    with pytest.raises(PlacementError):  # one node: no sub-masters, no spare rank
        check_placement(config(node_masters_above=4), reports({"a": (9, 8)}))


def test_the_cpu_backend_has_no_placement_limit():
    check_placement(config("numpy"), reports({"a": (64, 0)}))
