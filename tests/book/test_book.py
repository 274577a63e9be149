"""A book of contracts in one job: each contract bit-identical to its own run, on any rank
count and across a stop and --resume; bad rows refused before anything runs."""

import json

import h5py
import numpy as np
import pytest
import yaml

import mlmc_hpc
from mlmc_hpc.cli import main
from mlmc_hpc.config.book import contract_seed, load_book_config
from mlmc_hpc.io.book_result import BookResult
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.book_run import run_book
from tests.helpers import mpirun, needs_mpi

TYPES = [{"type": "call"}, {"type": "put"}, {"type": "asian"}, {"type": "lookback"},
         {"type": "digital"}, {"type": "barrier", "barrier": 80}]  # fmt: skip


def contracts(n):
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        row = dict(TYPES[i % len(TYPES)])
        row.update(K=float(rng.choice([90, 100, 110])), T=float(rng.choice([0.5, 1.0])),
                   sigma=float(rng.choice([0.2, 0.3])), name=f"k{i:02d}")  # fmt: skip
        rows.append(row)
    return rows


def book_data(n, **run):
    return {"name": "t", "mlmc": {"eps": 0.05},
            "run": {"batch_timesteps": 50000, **run}, "contracts": contracts(n)}  # fmt: skip


def sums(result):
    return {name: r.levels["sums"] for name, r in result.results.items()}


def test_each_contract_equals_its_own_run():
    book = load_book_config(book_data(8))
    result = run_book(book, serial_executor(book))
    assert result.finished and result.contracts == 8
    for contract in book.contracts:
        data = contract.to_dict()
        del data["run"]["output"]
        single = mlmc_hpc.price(data)
        mine = result.results[contract.name]
        assert mine.price.hex() == single.price.hex(), contract.name
        assert np.array_equal(mine.levels["sums"], single.levels["sums"])
        assert contract.run.seed == contract_seed(1, contract.name)


def test_a_stopped_book_resumes_bit_identical(tmp_path):
    book = load_book_config(book_data(12))
    reference = run_book(book, serial_executor(book))
    executor = serial_executor(book)
    executor.watch(lambda: "test stop" if len(executor.records) >= 30 else None)
    stopped = run_book(book, executor)
    assert stopped.interrupted and not stopped.finished
    stopped.save(tmp_path / "b.h5")
    saved = BookResult.load(tmp_path / "b.h5")
    assert any(not r.finished for r in saved.results.values())
    final = run_book(book, serial_executor(book), resume=saved)
    assert final.finished and final.resumed == 1
    for name, levels in sums(reference).items():
        assert np.array_equal(levels, sums(final)[name]), name
        assert final.results[name].price.hex() == reference.results[name].price.hex()


@needs_mpi
def test_fifty_contracts_bit_identical_on_one_three_and_four_ranks(tmp_path, write_config):
    path = write_config(yaml.safe_dump(book_data(50)))
    tables = []
    for n in (1, 3, 4):
        (tmp_path / f"n{n}").mkdir()
        done = mpirun(n, "book", str(path), "--output", "b.h5", "--quiet", "--json",
                      cwd=tmp_path / f"n{n}", timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        book = json.loads(done.stdout)["book"]
        result = BookResult.load(tmp_path / f"n{n}" / "b.h5")
        tables.append(([(r["name"], r["price"], r["std_error"], r["L"]) for r in book],
                       sums(result)))  # fmt: skip
        assert result.n_workers == max(1, n - 1) and result.contracts == 50
    for table, levels in tables[1:]:
        assert table == tables[0][0]
        for name, value in levels.items():
            assert np.array_equal(value, tables[0][1][name]), name


def test_a_bad_csv_row_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "c.csv").write_text("name,type,S0,K,sigma\nok,call,100,100,0.2\n"
                                    "oops,call,100,100,-0.3\n")  # fmt: skip
    (tmp_path / "b.yaml").write_text("name: b\ncontracts: c.csv\n")
    out = tmp_path / "b.h5"
    assert main(["book", str(tmp_path / "b.yaml"), "--output", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"config error: {tmp_path / 'c.csv'} line 3 (oops): option.sigma must be > 0, got -0.3\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("row,message", [
    ({"type": "call", "colour": 1}, "unknown column or key colour"),
    ({"name": "a/b", "type": "call"}, "name must be a non-empty name without '/'"),
])  # fmt: skip
def test_bad_inline_contracts_name_the_row(row, message):
    with pytest.raises(mlmc_hpc.ConfigError) as error:
        load_book_config({"contracts": [{"type": "put"}, row]})
    assert str(error.value).startswith("contracts[1] (") and message in str(error.value)


def test_the_book_table_reads_into_pandas_and_the_file_kinds(tmp_path):
    out = tmp_path / "b.h5"
    assert main(["book", "--config", _write(tmp_path, book_data(4)), "--output", str(out),
                 "--quiet"]) == 0  # fmt: skip
    frame = BookResult.load(out).to_dataframe()
    assert list(frame["name"]) == ["k00", "k01", "k02", "k03"]
    assert frame["converged"].all() and (frame["timesteps"] > 0).all()
    with h5py.File(out) as h5:
        assert set(h5["contracts"]) == {"k00", "k01", "k02", "k03"}
        assert "levels" in h5["contracts/k02"] and h5["contracts/k02"].attrs["price"] > 0
    assert main(["book", _write(tmp_path, book_data(4)), "--output", str(out)]) == 2


def _write(tmp_path, data):
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_packaged_example_book_runs_and_reports(tmp_path):
    from tests.helpers import ROOT, run_cli

    out = tmp_path / "b.h5"
    done = run_cli("book", str(ROOT / "configs/book.yaml"), "--output", str(out), "--json",
                   "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["contracts"] == 8 and summary["converged_count"] == 8
    for row in summary["book"]:  # rel_eps 1e-3 of each contract's own price
        assert row["eps"] < 2e-3 * row["price"] and abs(row["std_error"]) < row["eps"]
    report = run_cli("report", str(out), "--csv", str(tmp_path / "csv"))
    assert report.returncode == 0, report.stderr
    assert f"{out}:spy-dao" in report.stdout
    assert (tmp_path / "csv" / "b_spy-dao_levels.csv").exists()
    with h5py.File(out) as h5:
        assert (
            h5.attrs["format_version"] == 2 and list(h5["book/name"].asstr()[()])[0] == "spx-c-95"
        )


def test_a_failing_contract_ends_the_book_at_once():
    import time

    from mlmc_hpc.pricing.book import run_contracts

    book = load_book_config(book_data(6))

    def price(index, executor):
        if index == 3:
            raise RuntimeError("contract 3 broke")
        executor.sample([10, 10, 10])  # waits for its round, then goes on sampling
        executor.sample([10, 10, 10])
        return index

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="contract 3 broke"):
        run_contracts(book, serial_executor(book), price)
    assert time.monotonic() - started < 3.0  # every waiting contract is answered at once


def test_resuming_a_book_whose_finished_contract_changed_is_refused(tmp_path, capsys):
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(book_data(3)))
    out = tmp_path / "b.h5"
    book = load_book_config(path)
    full = serial_executor(book)
    run_book(book, full)
    executor = serial_executor(book)  # stopped two batches before the end: some finished
    executor.watch(lambda: "stop" if len(executor.records) >= len(full.records) - 2 else None)
    stopped = run_book(book, executor)
    assert any(r.finished for r in stopped.results.values()) and stopped.interrupted
    stopped.save(out)
    finished = next(name for name, r in stopped.results.items() if r.finished)
    data = book_data(3)
    data["contracts"][[c["name"] for c in data["contracts"]].index(finished)]["K"] = 150.0
    path.write_text(yaml.safe_dump(data))
    assert main(["book", str(path), "--output", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"contract {finished} does not match the book: option.K=" in err
