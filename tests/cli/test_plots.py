"""report --plot figures explain themselves (issue 20): titles naming the runs, units on
every axis, log panels for the per-level bars, a wall-time panel beside summed compute
seconds, integer worker ticks, legends off the data, an exact level 0 on log scales.

The figures describe themselves in their PNG text chunks (mlmc_hpc.render.plot_style);
the chunks are read back here with a small parser (struct + zlib), from the files.
"""

from __future__ import annotations

import json
import re
import struct
import warnings
import zlib
from pathlib import Path

import pytest

from mlmc_hpc.cli import main
from mlmc_hpc.io.run_result import RunResult
from mlmc_hpc.io.test_result import TestResult

pytest.importorskip("matplotlib")

SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNIT = re.compile(r"\(.+\)\s*$")  # a label ends with its unit in parentheses


def png_text(path: Path) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG; checks signature, CRCs and IHDR."""
    data = path.read_bytes()
    assert data[:8] == SIGNATURE, path
    text, pos, kinds = {}, 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, (path, kind)
        kinds.append(kind)
        key, _, rest = body.partition(b"\0")
        if kind == b"tEXt":
            text[key.decode("latin-1")] = rest.decode("latin-1")
        elif kind == b"zTXt":
            text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, value = rest.partition(b"\0")  # translated keyword
            text[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode()
        pos += 12 + length
        if kind == b"IEND":
            break
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", path
    width, height = struct.unpack(">II", data[16:24])
    assert width > 300 and height > 200, (path, width, height)
    return text


def layout(path: Path) -> dict:
    """The figure's self-description (title, panels, legends) from its PNG."""
    text = png_text(path)
    info = json.loads(text["mlmc_hpc"])
    assert text["Title"] == info["title"]
    return info


def problems(info: dict) -> list[str]:
    """What a reader would miss: a title, axis labels with units, integer worker ticks,
    legends off the panels and inside the figure."""
    found = [] if info["title"].strip() else ["no title"]
    for p in info["panels"]:
        for axis in ("x", "y"):
            label = p[f"{axis}label"]
            if not UNIT.search(label):
                found.append(f"{p['title']!r}: {axis} label {label!r} has no unit")
            if label.startswith("worker") and any(t != int(t) for t in p[f"{axis}ticks"]):
                found.append(f"{p['title']!r}: worker ticks {p[f'{axis}ticks']} not integers")
    for legend in info["legends"]:
        if legend["overlaps_axes"] or not legend["inside_figure"]:
            found.append(f"legend {legend['entries'][:3]} covers a panel or leaves the figure")
    return found


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Two runs (level 0 exact and sampled), a 2-worker copy of the first, a test file."""
    directory = tmp_path_factory.mktemp("plots")
    exact, sampled, test = (directory / n for n in ("exact.h5", "sampled.h5", "giles-t.h5"))
    assert main(["--eps", "0.02", "--output", str(exact), "--quiet",
                 "--set", "mlmc.level0=exact"]) == 0  # fmt: skip
    assert main(["--eps", "0.05", "--output", str(sampled), "--quiet",
                 "--set", "mlmc.level0=sample"]) == 0  # fmt: skip
    two = RunResult.load(exact)
    two.n_workers, two.wall_time_s = 2, two.wall_time_s / 1.8  # as if run on 2 workers
    two.save(directory / "exact-w2.h5")
    assert main(["test", "--config", "giles", "--samples", "2000", "--levels", "4",
                 "--eps-list", "0.05,0.1", "--output", str(test), "--quiet"]) == 0  # fmt: skip
    runs = [exact, sampled, directory / "exact-w2.h5"]
    out = directory / "figs"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log of zero or an empty log axis warns
        assert main(["report", *map(str, runs), str(test), "--plot", str(out)]) == 0
    return out, runs, test


def test_every_figure_is_written_and_explains_itself(figures):
    out, runs, _ = figures
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["timesteps_per_level.png", "seconds_per_level.png", "convergence.png",
                            "speedup.png", "timeline_1_exact.png", "timeline_2_sampled.png",
                            "timeline_3_exact-w2.png"])  # fmt: skip
    for path in out.iterdir():
        info = layout(path)
        assert info["panels"], path.name
        assert problems(info) == [], path.name
    for name in ("timesteps_per_level.png", "seconds_per_level.png", "speedup.png"):
        title = layout(out / name)["title"]
        for run in runs:
            result = RunResult.load(run)
            assert (f"{run.name}: {result.name} call mlmc, eps {result.eps:g}, "
                    f"{result.n_workers} worker") in title, (name, title)  # fmt: skip
    for k, run in enumerate(runs, start=1):
        title = layout(out / f"timeline_{k}_{run.stem}.png")["title"]
        assert run.name in title and "call" in title and "worker" in title


def test_per_level_bars_have_a_log_panel_and_seconds_a_wall_time_panel(figures):
    out, _, _ = figures
    for name in ("timesteps_per_level.png", "seconds_per_level.png"):
        panels = layout(out / name)["panels"]
        assert {p["yscale"] for p in panels} >= {"linear", "log"}, name
        log = next(p for p in panels if p["yscale"] == "log")
        assert log["yticks"] and all(t > 0 for t in log["yticks"])  # the exact level 0: none
        legend = layout(out / name)["legends"][0]["entries"]
        assert [e.split()[:2] for e in legend[:3]] == [["level", "0"], ["level", "1"],
                                                       ["level", "2"]]  # fmt: skip
    seconds = layout(out / "seconds_per_level.png")
    bars = [p for p in seconds["panels"] if "compute" in p["ylabel"]]
    assert bars and all("summed over workers (s)" in p["ylabel"] for p in bars)
    assert any("wall time" in p["title"] and p["ylabel"].endswith("(s)") for p in seconds["panels"])


def test_worker_axes_have_integer_ticks(figures):
    out, _, _ = figures
    speedup = layout(out / "speedup.png")["panels"]
    assert all(p["xlabel"] == "workers (count)" and p["xticks"] == [1.0, 2.0] for p in speedup)
    rows = layout(out / "timeline_3_exact-w2.png")["panels"][0]
    assert rows["ylabel"].startswith("worker") and rows["yticks"] == [0.0]


def test_convergence_names_the_test_and_leaves_out_an_exact_level0(figures, tmp_path):
    from mlmc_hpc.render.plots import write_figures

    _, runs, test = figures
    result = TestResult.load(test)
    assert result.level0 == "exact"  # the giles preset: N_l[0] = 0 must not hit a log axis
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = write_figures([], [(str(test), result)], tmp_path)
    assert [p.name for p in written] == ["convergence.png"]
    info = layout(written[0])
    assert "giles-t.h5: test result giles call" in info["title"] and problems(info) == []
    samples = next(p for p in info["panels"] if p["ylabel"] == "samples N_l (count)")
    assert samples["yscale"] == "log" and min(samples["xticks"]) >= 0
    # from runs alone, the title names the run the top panels come from
    written = write_figures([(str(r), RunResult.load(r)) for r in runs[:2]], [], tmp_path)
    assert "(top panels: the deepest, [" in layout(tmp_path / "convergence.png")["title"]


def test_the_checks_catch_a_figure_that_does_not_explain_itself(tmp_path):
    """A bare matplotlib figure (no units, a legend on the data, fractional worker ticks)."""
    import matplotlib.pyplot as plt

    from mlmc_hpc.render.plot_style import save

    figure, axes = plt.subplots()
    axes.plot([1, 2], [1, 2], label="a run")
    axes.set(xlabel="workers", ylabel="seconds")
    axes.set_xticks([1.0, 1.5, 2.0])
    axes.legend(loc="center")
    info = layout(save(figure, tmp_path / "bare.png", "bare"))
    assert problems(info) == [
        "'': x label 'workers' has no unit",
        "'': worker ticks [1.0, 1.5, 2.0] not integers",
        "'': y label 'seconds' has no unit",
        "legend ['a run'] covers a panel or leaves the figure",
    ]
    figure, axes = plt.subplots()
    axes.set(xlabel="worker (rank)", ylabel="time (s)")
    axes.set_xticks([1.0, 1.5, 2.0])
    info = layout(save(figure, tmp_path / "ticks.png", "ticks"))
    assert problems(info) == ["'': worker ticks [1.0, 1.5, 2.0] not integers"]
    (tmp_path / "plain.png").write_bytes(SIGNATURE + b"\0" * 8)
    with pytest.raises(struct.error):
        png_text(tmp_path / "plain.png")
