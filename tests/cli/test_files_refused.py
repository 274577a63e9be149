"""Config files that are not what a config is, and output paths that hold something else:
one line on stderr, exit 2, nothing read past the bound, nothing replaced (issue 16)."""

from __future__ import annotations

import hashlib
import os

import h5py
import pytest

import mlmc_hpc
from mlmc_hpc.io.run_result import RunResult
from tests.helpers import run_cli

QUICK = ("--eps", "0.5", "--quiet")


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mlmc:\n  eps: 0.01\n  N0: 100\n  eps: 0.1\n",
         "duplicate key eps on line 4 (first on line 2): each key may appear once in {path}"),
        ("mlmc: {eps: 0.01}\nrun: {seed: 2}\nmlmc: {N0: 100}\n",
         "duplicate key mlmc on line 3 (first on line 1): each key may appear once in {path}"),
        ("mlmc: " + "[" * 200 + "]" * 200 + "\n",
         "nesting deeper than 32 levels on line 1: a config is sections of keys in {path}"),
    ],
)  # fmt: skip
def test_duplicate_keys_and_deep_nesting_are_refused(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    proc = run_cli("--config", str(path), *QUICK, "--output", str(tmp_path / "o.h5"))
    assert proc.returncode == 2
    assert proc.stderr == f"config error: {message.format(path=path)}\n"
    assert not (tmp_path / "o.h5").exists()


def test_config_that_is_not_a_regular_file_or_too_large(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    expected = {
        "/dev/zero": "config file /dev/zero is not a regular file; give a YAML file",
        str(fifo): f"config file {fifo} is not a regular file; give a YAML file",
        str(tmp_path): f"config file {tmp_path} is a directory; give a YAML file",
        str(big): f"config file {big} is larger than 1048576 bytes; a config is a few hundred",
    }
    for source, message in expected.items():
        proc = run_cli("--config", source, *QUICK, "--output", str(tmp_path / "o.h5"), timeout=20)
        assert proc.returncode == 2, source
        assert proc.stderr == f"config error: {message}\n"


def test_output_that_is_not_a_result_is_never_replaced(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("mlmc: {eps: 0.5}\n")
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5.attrs["owner"] = "someone else"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    cases = {
        config: "holds a file that is not HDF5; refusing to replace it",
        text: "holds a file that is not HDF5; refusing to replace it",
        other: "holds an HDF5 file that is not an mlmc_hpc result; refusing to replace it",
        fifo: "is not a regular file; refusing to replace it",
    }
    for target, what in cases.items():
        before = None if target == fifo else digest(target)
        proc = run_cli("--config", str(config), "--quiet", "--overwrite", "--output", str(target))
        assert proc.returncode == 2, target
        assert proc.stderr.startswith(f"config error: run.output {target} {what}")
        assert proc.stderr.count("\n") == 1
        assert target == fifo or digest(target) == before


def test_finished_result_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "r.h5"
    assert run_cli(*QUICK, "--seed", "1", "--output", str(out)).returncode == 0
    before = digest(out)
    proc = run_cli(*QUICK, "--seed", "2", "--output", str(out))
    assert proc.returncode == 2
    assert proc.stderr == (f"config error: run.output {out} holds a finished run result; pass "
                           f"--overwrite to replace it, or write elsewhere\n")  # fmt: skip
    assert digest(out) == before
    with pytest.raises(ValueError, match="holds a finished run result"):
        mlmc_hpc.price(eps=0.5, seed=3, output=str(out))
    assert digest(out) == before
    assert run_cli(*QUICK, "--seed", "2", "--overwrite", "--output", str(out)).returncode == 0
    assert RunResult.load(out).seed == 2
    assert mlmc_hpc.price(eps=0.5, seed=3, output=str(out), overwrite=True).seed == 3
    assert RunResult.load(out).seed == 3


def test_unfinished_run_is_replaced_by_neither_run_nor_test(tmp_path):
    """One check serves both commands: a checkpoint is continued (--resume), never replaced,
    not even by --overwrite."""
    from mlmc_hpc.config import load_config
    from mlmc_hpc.parallel.executor import serial_executor
    from mlmc_hpc.pricing.run import run_pricing
    from tests.cli.test_checkpoint import stop_after

    out = tmp_path / "unfinished.h5"
    config = load_config(overrides=[("mlmc.eps", 0.05), ("run.output", str(out)),
                                    ("run.batch_timesteps", 100_000)])  # fmt: skip
    executor = serial_executor(config)
    stop_after(executor, 3)
    run_pricing(config, executor, checkpoint_path=str(out)).save(out)
    before = digest(out)
    for command in (("run", "--overwrite"), ("test", "--samples", "100", "--levels", "2")):
        proc = run_cli(*command, "--quiet", "--output", str(out))
        assert proc.returncode == 2, command
        assert proc.stderr.endswith(f"run.output {out} holds an unfinished run; continue it "
                                    f"with --resume, or write elsewhere with --output\n")  # fmt: skip
        assert digest(out) == before
