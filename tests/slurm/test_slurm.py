"""The job scripts under a real Slurm: sbatch, the time-limit warning, requeue, scancel.

A single-node cluster (``scripts/local_slurm.sh``: slurmctld, slurmd and MUNGE on this
machine, partitions RM, GPU and GPU-shared, 8 stand-in v100-32 GPUs) is started once for
the session and stopped at its end, whatever the tests did; one already running (a
developer's) is used and left running. Where it cannot start (not root, no packages)
every test here is skipped with the reason. Each wait has a timeout; a job still
running at a timeout is cancelled and its output shown.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from tests.helpers import JOBS, ROOT, tiny_config, wait_for_file

pytestmark = pytest.mark.slurm

LOCAL_SLURM = ROOT / "scripts" / "local_slurm.sh"
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE", "PREEMPTED"}  # fmt: skip
LIMIT_CHECK_PERIOD = 30.0  # slurmctld tests time limits and sends --signal warnings every 30 s
LIMIT_CHECK_LINE = "Testing job time limits"


class Cluster:
    """Client side of the local cluster: submit, inspect, wait."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.conf = directory / "etc" / "slurm.conf"

    def env(self, **variables: str) -> dict[str, str]:
        """This process's environment without any outer Slurm job, plus SLURM_CONF, the
        virtual environment of this Python, and ``variables`` (sbatch exports them all)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        venv = Path(sys.prefix)
        env.update(SLURM_CONF=str(self.conf), MLMC_HOME=str(ROOT), BACKEND="numpy",
                   PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
                   VENV=str(venv) if (venv / "bin" / "activate").exists() else "none")  # fmt: skip
        env.update(variables)
        return env

    def command(self, *args: str, cwd: Path | None = None, **variables: str) -> str:
        """Run a Slurm client command in :meth:`env`; its stdout (fails on a non-zero exit)."""
        done = subprocess.run(args, cwd=cwd, env=self.env(**variables), capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
        return done.stdout

    def sbatch(self, script: Path, *options: str, cwd: Path, **variables: str) -> str:
        """Submit ``script`` from ``cwd`` (its output file lands there); the job id."""
        out = self.command("sbatch", "--parsable", *options, str(script), cwd=cwd, **variables)
        return out.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, ExitCode, Restarts, Partition, ...)."""
        line = self.command("scontrol", "show", "job", "-o", job_id)
        return dict(re.findall(r"(\w+)=(\S*)", line))

    def wait(self, job_ids: list[str], outputs: list[Path], timeout: float) -> list[dict]:
        """Until every job is in a final state; at the timeout cancel them and fail."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = [self.job(job_id) for job_id in job_ids]
            if all(job["JobState"] in FINAL_STATES for job in jobs):
                return jobs
            if time.monotonic() > deadline:
                subprocess.run(["scancel", *job_ids], env=self.env(), timeout=30)
                shown = "\n".join(read(path) for path in outputs)
                pytest.fail(f"jobs {job_ids} not done after {timeout:g} s: {jobs}\n{shown}")
            time.sleep(0.25)

    def next_limit_check(self, not_before: float) -> float:
        """Unix time of slurmctld's first time-limit check after ``not_before``. Checks
        come every 30 s from its start (the log's first line), each logged at debug2."""
        lines = [line for line in (self.directory / "log" / "slurmctld.log").read_text()
                 .splitlines() if line.startswith("[")]  # fmt: skip
        checks = [line for line in lines if LIMIT_CHECK_LINE in line]
        anchor = (checks or lines)[-1 if checks else 0]
        check = dt.datetime.fromisoformat(anchor[1 : anchor.index("]")]).timestamp()
        check += LIMIT_CHECK_PERIOD
        while check < not_before:
            check += LIMIT_CHECK_PERIOD
        return check


def read(path: Path) -> str:
    return f"--- {path.name}\n{path.read_text()}" if path.exists() else f"--- {path}: missing"


def local_slurm(action: str, directory: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCAL_SLURM_DIR": str(directory)}
    return subprocess.run(["bash", str(LOCAL_SLURM), action], env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="session")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("real Slurm needs root here (slurmd starts jobs as their owner); "
                    "start one with: sudo scripts/local_slurm.sh start")  # fmt: skip
    directory = Path(os.environ.get("LOCAL_SLURM_DIR", "/tmp/mlmc-slurm"))
    ours = "slurmctld: running" not in local_slurm("status", directory, 30).stdout
    if ours:
        started = local_slurm("start", directory, 600)  # may install the packages first
        if started.returncode != 0:
            lines = (started.stderr or started.stdout).strip().splitlines() or ["no output"]
            pytest.skip(f"Slurm could not be started here: {lines[-1]}")
    try:
        yield Cluster(directory)
    finally:
        if ours:
            stopped = local_slurm("stop", directory, 120)
            assert stopped.returncode == 0, stopped.stderr


# Each script as written (its partition, tasks and GPUs) except the CPU script's 128
# tasks per node, more than the test node has: that one is overridden on the command line.
SCRIPTS = {
    "psc_v100x8.slurm": {"options": [], "tasks": 9, "partition": "GPU", "gpus": 8},
    "psc_v100_shared.slurm": {"options": [], "tasks": 5, "partition": "GPU-shared", "gpus": 4},
    "cpu.slurm": {"options": ["--ntasks-per-node=4"], "tasks": 4, "partition": "RM", "gpus": 0},
    "generic_gpu.slurm": {"options": [], "tasks": 5, "partition": "RM", "gpus": 4},
}  # fmt: skip
JOB_NAMES = {"psc_v100x8.slurm": "mlmc-v100x8", "psc_v100_shared.slurm": "mlmc-v100-shared",
             "cpu.slurm": "mlmc-cpu", "generic_gpu.slurm": "mlmc-gpu"}  # fmt: skip


@pytest.fixture(scope="module")
def script_jobs(cluster, tmp_path_factory):
    """All four scripts submitted at once with the tiny config; their final states."""
    submit_dir = tmp_path_factory.mktemp("submit")
    config = tiny_config(submit_dir)
    ids = {name: cluster.sbatch(JOBS / name, *spec["options"], cwd=submit_dir,
                                CONFIG=str(config), EPS="0.04",
                                RESULTS_DIR=str(submit_dir / "results"))
           for name, spec in SCRIPTS.items()}  # fmt: skip
    outputs = {name: submit_dir / f"{JOB_NAMES[name]}-{job_id}.out" for name, job_id in ids.items()}
    jobs = cluster.wait(list(ids.values()), list(outputs.values()), timeout=180)
    return {
        name: (ids[name], job, outputs[name], submit_dir)
        for name, job in zip(ids, jobs, strict=True)
    }


def test_every_job_script_is_covered():
    assert set(SCRIPTS) == {path.name for path in JOBS.glob("*.slurm")}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_job_script_under_sbatch(script_jobs, name):
    job_id, job, output, submit_dir = script_jobs[name]
    spec = SCRIPTS[name]
    log = read(output)
    assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", log
    assert job["Partition"] == spec["partition"] and job["NumTasks"] == str(spec["tasks"])
    gpus = re.search(r"(\d+) tasks, GPUs (\S+),", log)  # the job script's first line
    assert gpus and int(gpus[1]) == spec["tasks"], log
    assert (len(gpus[2].split(",")) if gpus[2] != "none" else 0) == spec["gpus"]
    result = submit_dir / "results" / f"tiny-eps0.04-{job_id}.h5"
    assert f"srun --kill-on-bad-exit=1 --ntasks={spec['tasks']} python -m mlmc_hpc" in log
    with h5py.File(result) as h5:
        assert h5.attrs["finished"] and h5.attrs["converged"] and h5.attrs["eps"] == 0.04
        assert h5.attrs["world_size"] == spec["tasks"]
        assert h5.attrs["n_workers"] == spec["tasks"] - 1
        assert h5.attrs["slurm_job"] == f"{job_id} restart 0 on mlmc-node"


# Long enough that the run is still going ~10 s after its start on a 2-core machine
# (about 25 s here with one worker), short enough for CI.
LONG = {"CONFIG": str(ROOT / "tests/data/aapl.yaml"), "EPS": "0.0015"}  # level 0 sampled
TWO_TASKS = "--ntasks=2"  # master and one worker: the reference and the cut run share 2 cores
LEAD_S = 8.0  # from the cut job's start to the time-limit check that warns it


def test_time_limit_warning_checkpoints_requeues_and_resumes_bit_identical(cluster, tmp_path):
    script = JOBS / "psc_v100_shared.slurm"  # 4 GPUs each: both jobs fit on the node at once
    reference = cluster.sbatch(script, TWO_TASKS, "--output=reference.out", cwd=tmp_path,
                               OUTPUT=str(tmp_path / "reference.h5"), **LONG)  # fmt: skip
    # One-minute limit, warning 59 s before it: due 1 s after the start, so the first
    # time-limit check sends it. Submit LEAD_S before a check: the run is under way by then.
    check = cluster.next_limit_check(not_before=time.time() + LEAD_S + 1)
    time.sleep(max(0.0, check - LEAD_S - time.time()))
    cut = cluster.sbatch(script, TWO_TASKS, "--time=1", "--signal=B:USR1@59",
                         "--output=cut.out", cwd=tmp_path, OUTPUT=str(tmp_path / "cut.h5"),
                         **LONG)  # fmt: skip
    outputs = [tmp_path / "reference.out", tmp_path / "cut.out"]
    first, second = cluster.wait([reference, cut], outputs, timeout=240)
    log = read(tmp_path / "cut.out")
    assert first["JobState"] == "COMPLETED" and first["Restarts"] == "0", read(outputs[0])
    assert second["JobState"] == "COMPLETED" and second["ExitCode"] == "0:0", log
    assert second["Restarts"] == "1", f"the warning came after the run ended?\n{log}"
    assert "interrupted (received SIGUSR1)" in log and "checkpoint saved" in log
    assert f"stopped early: requeueing job {cut} (restart 1 of 3)" in log
    assert f"mlmc_hpc job {cut} (restart 1)" in log and "--resume" in log
    with h5py.File(tmp_path / "reference.h5") as a, h5py.File(tmp_path / "cut.h5") as b:
        assert b.attrs["finished"] and b.attrs["resumed"] == 1 and not b.attrs["interrupted"]
        assert a.attrs["price"] == b.attrs["price"] and a.attrs["std_error"] == b.attrs["std_error"]
        assert (a["levels/sums"][()] == b["levels/sums"][()]).all()
        assert b.attrs["slurm_job"] == f"{cut} restart 1 on mlmc-node"


def test_scancel_mid_run_leaves_a_resumable_file(cluster, tmp_path):
    script, output = JOBS / "psc_v100x8.slurm", tmp_path / "run.h5"
    variables = {"CONFIG": LONG["CONFIG"], "EPS": "0.004", "OUTPUT": str(output)}
    job_id = cluster.sbatch(script, TWO_TASKS, "--output=cancelled.out", cwd=tmp_path,
                            **variables)  # fmt: skip

    def ended() -> str | None:
        state = cluster.job(job_id)["JobState"]
        return f"job {job_id} ended ({state})" if state in FINAL_STATES else None

    wait_for_file(output, ended, timeout=60, poll_s=0.1)  # the first checkpoint: under way
    cluster.command("scancel", job_id)
    (job,) = cluster.wait([job_id], [tmp_path / "cancelled.out"], timeout=60)
    log = read(tmp_path / "cancelled.out")
    assert job["JobState"] == "CANCELLED" and job["Restarts"] == "0", log
    assert "interrupted (received SIGTERM)" in log and "requeueing" not in log
    with h5py.File(output) as h5:
        assert h5.attrs["interrupted"] and not h5.attrs["finished"] and "checkpoint" in h5

    again = cluster.sbatch(script, TWO_TASKS, "--output=resumed.out", cwd=tmp_path,
                           RESUME="yes", **variables)  # fmt: skip
    (job,) = cluster.wait([again], [tmp_path / "resumed.out"], timeout=120)
    assert job["JobState"] == "COMPLETED", read(tmp_path / "resumed.out")
    with h5py.File(output) as h5:
        assert h5.attrs["finished"] and h5.attrs["resumed"] == 1 and h5.attrs["converged"]


@pytest.mark.parametrize(
    "variables, exit_code, message",
    [
        ({"EPS": "-1"}, 2, "config error: mlmc.eps must be > 0, got -1"),
        ({"CONFIG": "configs/nope.yaml"}, 3, "job error: CONFIG=configs/nope.yaml not found"),
    ],
    ids=["bad-config", "bad-setup"],
)
def test_failing_job_says_why_and_slurm_records_the_exit_code(
    cluster, tmp_path, variables, exit_code, message
):
    output = tmp_path / "never.h5"
    job_id = cluster.sbatch(JOBS / "cpu.slurm", "--ntasks-per-node=2", "--output=failed.out",
                            cwd=tmp_path, OUTPUT=str(output), **variables)  # fmt: skip
    (job,) = cluster.wait([job_id], [tmp_path / "failed.out"], timeout=60)
    log = read(tmp_path / "failed.out")
    assert job["JobState"] == "FAILED" and job["ExitCode"] == f"{exit_code}:0", log
    assert message in log and "Traceback" not in log and not output.exists()
    completions = (cluster.directory / "log" / "jobcomp.log").read_text()
    assert re.search(rf"JobId={job_id} .*JobState=FAILED .*ExitCode={exit_code}:0", completions)


INNER_TESTS = """
import time

from tests.slurm.test_slurm import cluster  # noqa: F401  (the fixture under test)


def test_fails(cluster):
    assert False, "on purpose"


def test_hangs(cluster):
    time.sleep(120)
"""


def test_cluster_is_stopped_when_tests_fail_or_time_out(cluster, tmp_path):
    """A second cluster (own directory and ports) under an inner pytest whose tests fail
    and hang past their timeout: at the end nothing of it is running. (``cluster`` only
    makes sure Slurm is installed and can start here.)"""
    directory = tmp_path / "inner-slurm"
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    env = {**os.environ, "LOCAL_SLURM_DIR": str(directory), "LOCAL_SLURM_PORT": "26817",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=5",
         f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), str(tmp_path / "test_inner.py")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "2 failed" in done.stdout, done.stdout + done.stderr
    assert "on purpose" in done.stdout and "Timeout" in done.stdout
    assert "slurmctld: stopped" in local_slurm("status", directory, 30).stdout
    left = subprocess.run(["pgrep", "-f", str(directory)], capture_output=True, text=True)
    assert left.stdout == "", f"still running: {left.stdout}"
    assert (directory / "log" / "slurmctld.log").exists()  # it did start
