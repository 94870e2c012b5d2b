"""Runs of several seeds on every text surface: headless summary and progress lines,
`compare`, the sweep table and `export`. Expected intervals are computed here with scipy,
from the recorded values, so the arithmetic is checked end to end."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, SMALL_RUN, SMALL_SEEDS
from hostile import check_export, check_lines
from rich.console import Console
from scipy import stats
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.core.events import EpochEnd, ModelDone, ModelReady
from bntui.core.spec import ExperimentSpec
from bntui.outputs.export import export_files
from bntui.outputs.headless import EventPrinter, compare_lines, event_line
from bntui.outputs.summary import summary_lines
from bntui.record.runfile import RunFile, load_run, parse_run
from bntui.record.sweep import SweepFile, load_document
from bntui.stats.compare import RunSet
from bntui.stats.runrows import run_rows, sweep_rows
from bntui.stats.seedstats import how_trained
from bntui.tui.widgets.runset import _figures

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"
TITLES = ("Plain MLP", "MLP + BatchNorm")
# `bntui sweep --preset fashion-sgd-lr0.01 --seeds 2 --limit 1000 --epochs 2
#  --batch-sizes 32,64 --target 0.6 --headless`: a real recorded sweep of two seeds.
SMALL_SEEDS_SWEEP = DATA / "small_seeds_sweep.json"


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student t interval, straight from scipy."""
    mean = sum(values) / len(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return mean, float(low), float(high)


def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def gaps(run: RunFile, pick: str) -> list[float]:
    """BN − plain per seed: of the last epoch's val accuracy, or of test accuracy."""
    found = []
    for entry in run.seeds:
        plain, bn = entry.models["plain"], entry.models["bn"]
        if pick == "test":
            assert plain.test and bn.test
            found.append(bn.test.accuracy - plain.test.accuracy)  # type: ignore[operator]
        else:
            found.append(bn.history.val_accuracy[-1] - plain.history.val_accuracy[-1])  # type: ignore[operator]
    return found


def test_summary_of_three_seeds_gives_paired_intervals() -> None:
    run = load_run(SMALL_SEEDS)
    text = "\n".join(summary_lines(run))
    assert "seeds 42–44" in text
    assert "3 seeds of each model trained as one vectorised program (jax.vmap)" in text
    for label, pick in (("val acc at epoch 3", "val"), ("test acc", "test")):
        mean, low, high = t_interval([g * 100 for g in gaps(run, pick)])
        expected = (
            f"BN − plain {label}: {signed(mean, 1)} pts (95% CI {signed(low, 1)} … "
            f"{signed(high, 1)}, paired over 3 seeds)"
        )
        assert expected in " ".join(text.split())  # one line, folded at 80 columns
    lines = {
        title: line
        for line in text.splitlines()
        for title in TITLES
        if line.startswith(title + " ")
    }
    for key, title in (("plain", "Plain MLP"), ("bn", "MLP + BatchNorm")):
        finals = [r.history.val_accuracy[-1] for r in run.records(key)]
        tests = [r.test.accuracy for r in run.records(key)]  # type: ignore[union-attr]
        for values in (finals, tests):
            mean, _, high = t_interval(values)  # type: ignore[arg-type]
            assert f"{mean:.4f} ±{high - mean:.4f}" in lines[title]
        per_seed = text.split("test_acc per seed (42–44):\n")[1].splitlines()
        assert f"  {title:<16}" + " ".join(f"{v:.4f}" for v in tests) in per_seed  # type: ignore[str-format]
    assert "BN − plain at epoch" not in text
    assert "s/epoch: median epoch after the first" in text


def test_summary_of_one_seed_says_no_interval_can_be_given() -> None:
    lines = summary_lines(load_run(SMALL_RUN))
    assert max(len(line) for line in lines) <= 80
    text = " ".join(" ".join(lines).split())
    gap = gaps(load_run(SMALL_RUN), "val")[0] * 100
    assert (
        f"BN − plain val acc at epoch 3: {signed(gap, 2)} pts (one seed: no interval can be "
        "given; --seeds N gives one)"
    ) in text
    assert "seed 42 ·" in text and "vectorised" not in text and "95% CI" not in text
    assert "s/epoch: median epoch after the first" in text


def test_failed_and_diverged_seeds_are_named() -> None:
    data = json.loads(SMALL_SEEDS.read_text())
    data["seeds"][1]["models"]["plain"]["status"] = "diverged"
    for index in (1, 2):
        data["seeds"][index]["models"]["bn"] |= {"status": "failed", "error": "out of memory"}
    run = parse_run(json.dumps(data).encode())
    lines = summary_lines(run)
    assert "Plain MLP seed 43 diverged" in lines
    assert "MLP + BatchNorm seeds 43–44 failed: out of memory" in lines
    assert "MLP + BatchNorm 1/3 completed" in "\n".join(lines)
    # Already printed as a progress line: named again, without the reason.
    again = summary_lines(run, {"out of memory"})
    assert "MLP + BatchNorm seeds 43–44 failed (the reason above)" in again


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({}, "one vectorised program (jax.vmap)"),
        ({"backend": "tensorflow"}, "one after another (the tensorflow backend"),
        ({"faithful": True}, "one after another (--faithful"),
        ({"early_stopping": 2}, "one after another (the seeds' callbacks"),
    ],
)
def test_how_the_seeds_were_trained(changes: dict[str, object], why: str) -> None:
    spec = ExperimentSpec(seeds=5, **changes)  # type: ignore[arg-type]
    assert why in str(how_trained(spec))
    assert how_trained(ExperimentSpec()) is None


def test_progress_lines_name_the_seed_and_ready_once() -> None:
    seeds, one = load_run(SMALL_SEEDS), load_run(SMALL_RUN)
    epoch = EpochEnd(model="plain", t=1.0, seed=1, epoch=0, values={"loss": 2.0})
    assert str(event_line(seeds, epoch)).startswith("[plain s43] epoch   1/3")
    assert str(event_line(one, EpochEnd(model="plain", t=1.0))).startswith("[plain] epoch")
    ready = [ModelReady(model="bn", t=1.0, seed=k, runs_on="CPU") for k in range(3)]
    shown = [event_line(seeds, event) for event in ready]
    assert shown[1:] == [None, None] and "ready (3 seeds)" in str(shown[0])
    printer = EventPrinter()
    done = [ModelDone(model="bn", t=2.0, seed=k, status="failed", error="boom") for k in (1, 2)]
    # The reason once: a later failure for it gets no line (the summary names them all).
    assert [printer.line(seeds, event) for event in done] == ["[   bn s43] failed: boom", None]


def test_compare_a_three_seed_run_with_a_one_seed_run() -> None:
    result = runner.invoke(cli, ["compare", str(SMALL_SEEDS), str(SMALL_RUN), "--headless"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  seeds                 3 | 1" in lines
    seeds = load_run(SMALL_SEEDS)
    mean, _, high = t_interval([g * 100 for g in gaps(seeds, "val")])
    row_a = next(line for line in lines if line.startswith("A "))
    assert f"{mean:+.1f} ±{high - mean:.1f}" in row_a
    plain_mean = sum(r.history.val_accuracy[-1] for r in seeds.records("plain")) / 3  # type: ignore[misc]
    assert f"{plain_mean:.4f}" in row_a
    assert max(len(line) for line in lines) <= 80  # an 80-column terminal, no wrapping
    text = " ".join(result.output.split())
    assert re.search(r"A: BN − plain val acc at epoch 3: [^:]* paired over 3 seeds", text)
    assert re.search(r"B: BN − plain val acc at epoch 3: .{0,30} no interval can be given", text)


def small_seeds_sweep() -> SweepFile:
    sweep = load_document(str(SMALL_SEEDS_SWEEP))
    assert isinstance(sweep, SweepFile)
    return sweep


def test_each_batch_size_gets_its_interval() -> None:
    sweep = small_seeds_sweep()
    assert [run.spec.seeds for run in sweep.runs] == [2, 2]
    for row, run in zip(sweep_rows(sweep), sweep.runs):
        mean, low, high = t_interval(gaps(run, "val"))
        found = row.gap_interval
        assert found is not None and row.seeds == 2 and found.n == 2
        assert (found.mean, found.low, found.high) == pytest.approx((mean, low, high))
        assert row.gap == pytest.approx(mean)
    result = runner.invoke(cli, ["replay", str(SMALL_SEEDS_SWEEP), "--headless"])
    assert result.exit_code == 0, result.output
    for row in sweep_rows(sweep):
        found = row.gap_interval
        assert found is not None and found.high is not None
        cell = f"{found.mean * 100:+.1f} ±{(found.high - found.mean) * 100:.1f}".replace("-", "−")
        line = next(
            line for line in result.output.splitlines() if line.split()[0] == str(row.batch_size)
        )
        assert cell in line
        assert f"batch {row.batch_size}: BN − plain val acc at epoch 2:" in result.output
    assert "paired over 2 seeds" in " ".join(result.output.split())


def test_the_dashboard_table_shows_the_interval() -> None:
    runs = [load_run(SMALL_SEEDS), load_run(SMALL_RUN)]
    console = Console(width=160, record=True, color_system=None)
    console.print(_figures(RunSet("compare", ["A", "B"], runs), run_rows(runs, None)))
    text = console.export_text()
    found = run_rows(runs, None)[0].gap_interval
    assert found is not None and found.high is not None
    assert f"{found.mean * 100:+.1f} ±{(found.high - found.mean) * 100:.1f}" in text
    assert f"{run_rows(runs, None)[1].gap * 100:+.2f}" in text  # type: ignore[operator]


def test_sweep_seeds_reach_every_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("bntui.cli.main.train", lambda session, headless: started.append(session))
    args = ["sweep", "--headless", "--seeds", "3", "--batch-sizes", "32,64,128"]
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    (session,) = started
    assert [spec.seeds for spec in session.specs] == [3, 3, 3]  # type: ignore[attr-defined]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def exported(path: Path) -> dict[str, str]:
    document = load_document(str(path))
    return {
        p.name.split("-", 1)[1]: text for p, text in export_files(document, Path("/x/r")).items()
    }


def test_export_of_three_seeds_is_long_form_by_seed() -> None:
    run = load_run(SMALL_SEEDS)
    files = exported(SMALL_SEEDS)
    history = pd.read_csv(io.StringIO(files["history.csv"]))
    assert sorted(history["seed"].unique()) == [42, 43, 44]
    assert len(history) == sum(len(r.history.loss) for e in run.seeds for r in e.models.values())
    last = history.groupby(["seed", "model"])["val_accuracy"].last()
    assert last[(43, "bn")] == run.seeds[1].models["bn"].history.val_accuracy[-1]
    curve = pd.read_csv(io.StringIO(files["curve.csv"]))
    assert sorted(curve["seed"].unique()) == [42, 43, 44]
    assert len(curve) == sum(len(r.curve.t) for e in run.seeds for r in e.models.values())
    assert "seed" in csv_rows(files["inside.csv"])[0]
    statistics = {(r["figure"], r["model"]): r for r in csv_rows(files["stats.csv"])}
    mean, low, high = t_interval([g * 100 for g in gaps(run, "val")])
    row = statistics[("val acc at epoch 3", "bn-plain")]
    assert (float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])) == pytest.approx(
        (mean, low, high)
    )
    assert row["n_seeds"] == "3" and row["unit"] == "pts"
    tests = [r.test.accuracy for r in run.records("bn")]  # type: ignore[union-attr]
    row = statistics[("test acc", "bn")]
    assert float(row["ci_high"]) == pytest.approx(t_interval(tests)[2])  # type: ignore[arg-type]
    svg = ET.fromstring(files["curves.svg"])
    assert len(svg.findall(f"{SVG}polygon")) == 4  # a band per model and panel
    assert len(svg.findall(f"{SVG}polyline")) == 4  # the means
    assert len(svg.findall(f"{SVG}circle")) == 4 * run.spec.epochs
    assert "mean of 3 seeds (42–44)" in files["curves.svg"]


def test_export_of_one_seed_has_its_seed_and_no_interval() -> None:
    files = exported(SMALL_RUN)
    assert {r["seed"] for r in csv_rows(files["history.csv"])} == {"42"}
    statistics = csv_rows(files["stats.csv"])
    assert statistics and all(r["ci_low"] == r["ci_high"] == "" for r in statistics)
    assert "polygon" not in files["curves.svg"]
    sweep = exported(SMALL_SEEDS_SWEEP)
    history = csv_rows(sweep["history.csv"])
    assert {(r["batch_size"], r["seed"]) for r in history} == {
        (b, s) for b in ("32", "64") for s in ("42", "43")
    }
    assert "each line the mean of 2 seeds" in sweep["curves.svg"]


HOSTILE = "\x1b[2J\x1b]0;pwned\x07[red]x[/]\u202e=cmd|' /C calc'!A0\r\nforged"


def test_hostile_text_in_later_seeds_stays_clean() -> None:
    data = json.loads(SMALL_SEEDS.read_text())
    for index, status in ((1, "failed"), (2, "diverged")):
        for key in ("plain", "bn"):
            data["seeds"][index]["models"][key] |= {"status": status, "error": HOSTILE + key}
    data["error"] = HOSTILE
    run = parse_run(json.dumps(data).encode())
    check_lines("\n".join(summary_lines(run)))
    check_lines("\n".join(compare_lines([run, load_run(SMALL_RUN)], ["A", "B"], ["a", "b"])))
    check_export(export_files(run, Path("/nonexistent/x")))
