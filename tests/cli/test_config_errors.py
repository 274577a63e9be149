"""Every bad input: exit code 2, one line naming the key and what is allowed, no file written."""

import os

import pytest

from mlmc_hpc.cli import main
from tests.helpers import run_cli

BASE = "name: t\noption: {type: call, S0: 100, K: 100, T: 1, r: 0.05, sigma: 0.2}\n"
CASES = [
    ("mlmc: {eps: -0.1}", "config error: mlmc.eps must be > 0, got -0.1"),
    ("mlmc: {eps: 0}", "config error: mlmc.eps must be > 0, got 0"),
    ("mlmc: {eps: .nan}", "config error: mlmc.eps must be a finite number, got nan"),
    ("mlmc: {eps: .inf}", "config error: mlmc.eps must be a finite number, got inf"),
    ("mlmc: {eps: abc}", "config error: mlmc.eps must be a number, got 'abc'"),
    ("option: {sigma: -0.2}", "config error: option.sigma must be > 0, got -0.2"),
    ("option: {S0: 0}", "config error: option.S0 must be > 0, got 0"),
    ("option: {K: -5}", "config error: option.K must be > 0, got -5"),
    ("option: {T: 0.0}", "config error: option.T must be > 0, got 0.0"),
    ("option: {r: [1]}", "config error: option.r must be a number, got [1]"),
    (
        "option: {type: asain}",
        "config error: option.type must be one of call | put | asian | lookback | digital | "
        "barrier, got 'asain'; did you mean asian?",
    ),
    (
        "option: {type: barrier, barrier: 100}",
        "config error: option.barrier must be a number with 0 < barrier < min(S0, K) = 100 "
        "for a down-and-out call, got 100.0",
    ),
    (
        "option: {type: barrier, S0: 120, barrier: 110}",
        "config error: option.barrier must be a number with 0 < barrier < min(S0, K) = 100 "
        "for a down-and-out call, got 110.0",
    ),
    (
        "option: {type: barrier}",
        "config error: option.barrier must be a number with 0 < barrier < min(S0, K) = 100 "
        "for a down-and-out call, got None",
    ),
    ("option: {type: barrier, barrier: -5}", "config error: option.barrier must be > 0, got -5"),
    (
        "option: {type: call, barrier: 80}",
        "config error: option.barrier applies to option.type barrier only; remove it or set "
        "it to null for type call",
    ),
    ("option: {type: digital, payout: 0}", "config error: option.payout must be > 0, got 0"),
    (
        "option: {type: put, payout: 10}",
        "config error: option.payout applies to option.type digital only; remove it or set "
        "it to null for type put",
    ),
    (
        "option: {type: asian, average: harmonic}",
        "config error: option.average must be one of arithmetic | geometric, got 'harmonic'",
    ),
    (
        "option: {type: call, average: geometric}",
        "config error: option.average applies to option.type asian only; remove it for type call",
    ),
    (
        "mlmc: {method: qmc}",
        "config error: mlmc.method must be one of mlmc | mc | mlqmc, got 'qmc'; did you mean mc?",
    ),
    (
        "option: {type: asian}\nmlmc: {method: mc}",
        "config error: mlmc.mc_steps must be an integer >= 1 (timesteps of the plain Monte Carlo "
        "grid) for option.type asian with mlmc.method mc; auto means exact sampling, which "
        "exists for call and put only",
    ),
    (
        "mlmc: {mc_steps: 0}",
        "config error: mlmc.mc_steps must be auto or an integer in 1..2**40, got 0",
    ),
    ("mlmc: {Lmin: 1}", "config error: mlmc.Lmin must be an integer >= 2, got 1"),
    ("mlmc: {Lmin: 2.5}", "config error: mlmc.Lmin must be an integer, got 2.5"),
    ("mlmc: {Lmin: 6, Lmax: 4}", "config error: mlmc.Lmax must be >= mlmc.Lmin (6), got 4"),
    ("mlmc: {Lmax: 50}", "config error: mlmc.Lmax must be <= 40 for M = 2 "
     "(M**Lmax <= 2**40 timesteps per sample), got 50"),
    ("mlmc: {N0: 0}", "config error: mlmc.N0 must be an integer in 1..1099511627776, got 0"),
    ("mlmc: {N0: true}", "config error: mlmc.N0 must be a number, got True"),
    ("mlmc: {theta: 1.0}", "config error: mlmc.theta must be in (0, 1), got 1.0"),
    ("mlmc: {theta: 0}", "config error: mlmc.theta must be in (0, 1), got 0"),
    ("mlmc: {M: 1}", "config error: mlmc.M must be an integer >= 2, got 1"),
    ("mlmc: {alpha: -1}", "config error: mlmc.alpha must be > 0, got -1"),
    ("run: {backend: gpu}", "config error: run.backend must be one of auto | numpy | cupy, got 'gpu'"),
    ("run: {seed: -1}", "config error: run.seed must be an integer in 0..18446744073709551615, got -1"),
    ("run: {batch_timesteps: 0}",
     "config error: run.batch_timesteps must be auto or an integer in 1..1099511627776, got 0"),
    ("mlmc: {epss: 0.1}", "config error: unknown key mlmc.epss; did you mean mlmc.eps?"),
    ("optoin: {S0: 1}", "config error: unknown key optoin; did you mean option?"),
    ("mlmc: 3", "config error: mlmc must be a mapping with keys eps, Lmin, Lmax, N0, theta, "
     "M, alpha, beta, gamma, convergence, level0, method, mc_steps, randomisations, points0, rel_eps; got 3"),
]  # fmt: skip


@pytest.mark.parametrize("extra,message", CASES)
def test_bad_config_value(write_config, tmp_path, capsys, extra, message):
    output = tmp_path / "out.h5"
    base = "name: t\n" if extra.startswith("option:") else BASE  # no duplicate sections
    path = write_config(base + extra + "\n")
    rc = main(["--config", str(path), "--output", str(output)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == message + "\n"
    assert not output.exists()


def test_missing_file(capsys, tmp_path):
    assert main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"config error: config file not found: {tmp_path}/nope.yaml\n"


def test_yaml_syntax_error_names_the_line(write_config, capsys):
    path = write_config("name: t\nmlmc:\n  eps: [0.1\n  N0: 5\n")
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"config error: YAML syntax error in {path} line 4")
    assert err.count("\n") == 1


def test_cli_override_errors(capsys):
    assert main(["--eps", "-1"]) == 2
    assert capsys.readouterr().err == "config error: mlmc.eps must be > 0, got -1\n"
    assert main(["--set", "mlmc.eps"]) == 2
    assert "--set expects section.key=value" in capsys.readouterr().err
    assert main(["--set", "run.sed=3"]) == 2
    assert capsys.readouterr().err == "config error: unknown key run.sed; did you mean run.seed?\n"


def test_cupy_backend_without_gpu_is_refused(capsys, tmp_path):
    assert main(["--backend", "cupy", "--output", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error: run.backend is cupy but ") and err.count("\n") == 1
    assert "use run.backend: numpy or auto" in err
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("option_type, method", [("asian", "mlqmc"), ("call", "mc")])
def test_cupy_backend_without_a_kernel_is_refused(capsys, tmp_path, option_type, method):
    args = ["--backend", "cupy", "--set", f"option.type={option_type}", "--set",
            f"mlmc.method={method}", "--output", str(tmp_path / "x.h5")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        "config error: run.backend cupy has kernels for mlmc.method mlmc (option.type call | "
        "put | asian | lookback | digital | barrier) and mlqmc (call | put), got type "
        f"{option_type} with method {method}; use run.backend: numpy or auto\n"
    )
    assert not (tmp_path / "x.h5").exists()


def test_existing_result_is_not_overwritten_on_bad_input(tmp_path):
    output = tmp_path / "keep.h5"
    output.write_bytes(b"precious")
    done = run_cli("--eps", "nan", "--output", str(output))
    assert done.returncode == 2
    assert done.stderr == "config error: mlmc.eps must be a finite number, got nan\n"
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert output.read_bytes() == b"precious"


def test_output_that_cannot_be_written(tmp_path, capsys):
    assert main(["--output", str(tmp_path)]) == 2
    assert "run.output must be a file path" in capsys.readouterr().err


def test_test_command_checks_the_method_before_the_backend():
    done = run_cli("test", "--set", "mlmc.method=mc", "--backend", "cupy")
    assert done.returncode == 2
    assert done.stderr.startswith("config error: the test command needs mlmc.method mlmc")


def test_a_preset_name_is_not_hijacked_by_a_folder_of_that_name(tmp_path):
    (tmp_path / "spy").mkdir()
    done = run_cli("demo", "--preset", "spy", "--non-interactive", "--no-compare", "--eps", "0.1",
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "S0=680" in done.stdout


def test_an_unreadable_config_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "c.yaml").write_text("name: x\n")
    locked.chmod(0)
    try:
        done = run_cli("--config", str(locked / "c.yaml"))
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_a_stored_cupy_config_reads_back_without_a_gpu():
    from mlmc_hpc.config import load_config_text

    text = BASE + "run: {backend: cupy, batch_timesteps: 1073741824}\n"
    config = load_config_text(text)  # --resume compares it; no GPU needed to read it
    assert config.run.backend == "cupy" and config.run.batch_timesteps == 2**30


def test_report_refuses_an_hdf5_file_without_levels(tmp_path, capsys):
    import h5py

    with h5py.File(tmp_path / "odd.h5", "w") as h5:
        h5.create_group("checkpoint")
    assert main(["report", str(tmp_path / "odd.h5")]) == 2
    assert capsys.readouterr().err == (
        f"report error: {tmp_path / 'odd.h5'} is not a run, test or risk result of mlmc_hpc\n"
    )
