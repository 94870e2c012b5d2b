"""`bntui export` and the screenshot key: real files a report can use."""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SMALL_SWEEP
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.outputs.svg import curves_svg
from bntui.record.runfile import RunFile, load_run
from bntui.session.sessions import ReplaySession
from bntui.stats.figures import interval_curve, train_size
from bntui.tui.app import BntuiApp

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_export_writes_csv_and_svg_in_the_current_folder(
    small_run_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = runner.invoke(cli, ["export", str(small_run_path)])
    assert result.exit_code == 0, result.output
    assert f"to {folder.resolve()} (the current folder" in result.output
    assert sorted(p.parent for p in tmp_path.rglob("*.csv")) == [folder] * 4  # not beside FILE
    run = load_run(small_run_path)
    stem = small_run_path.stem
    history = rows(folder / f"{stem}-history.csv")
    assert len(history) == 2 * run.spec.epochs
    bn_last = [r for r in history if r["model"] == "bn"][-1]
    assert float(bn_last["val_accuracy"]) == run.models["bn"].history.val_accuracy[-1]
    curve = rows(folder / f"{stem}-curve.csv")
    assert len(curve) == sum(len(m.curve.t) for m in run.models.values())
    inside = rows(folder / f"{stem}-inside.csv")
    expected = sum(
        len(m.inside.position) * len(layer.stats)
        for m in run.models.values()
        for layer in m.inside.layers
    )
    assert len(inside) == expected
    svg = ET.parse(folder / f"{stem}-curves.svg").getroot()
    assert len(svg.findall(f"{SVG}polyline")) == 4  # train curves: 2 models x (loss, accuracy)
    assert len(svg.findall(f"{SVG}circle")) == 4 * run.spec.epochs  # validation points
    # Never overwrites: a second export refuses, naming the file.
    again = runner.invoke(cli, ["export", str(small_run_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_export_a_sweep_keeps_the_batch_size(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["export", str(SMALL_SWEEP), "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    history = rows(tmp_path / "small_sweep-history.csv")
    assert {r["batch_size"] for r in history} == {"32", "128"}
    svg = ET.parse(tmp_path / "small_sweep-curves.svg").getroot()
    assert len(svg.findall(f"{SVG}polyline")) == 4  # 2 models x 2 batch sizes


def burst(run: RunFile, key: str, point: int, extra: float) -> None:
    """Raise model `key`'s loss by `extra` over the interval ending at curve `point`, as
    Keras would record it: the running means from there to the epoch's end carry it."""
    curve = run.models[key].curve
    size = train_size(run)

    def seen(i: int) -> int:
        return min(curve.step[i] * run.spec.batch_size, size)

    added = extra * (seen(point) - seen(point - 1))
    for j in range(point, len(curve.loss)):
        value = curve.loss[j]
        if curve.epoch[j] == curve.epoch[point] and value is not None:
            curve.loss[j] = value + added / seen(j)


def test_svg_marks_a_loss_beyond_its_axis(small_run: RunFile) -> None:
    """A loss that leaves the y range (a burst mid-training) is drawn at the edge with a
    triangle, and a note under the chart says how far it went and when."""
    curve = small_run.models["plain"].curve
    middle = len(curve.loss) // 2
    burst(small_run, "plain", middle, 2.0)
    xs, ys = interval_curve(curve, "loss", small_run.spec.batch_size, train_size(small_run))
    highest = max(y for y in ys if y is not None)
    at = f"{round(xs[ys.index(highest)], 1):g}"
    root = ET.fromstring(curves_svg(small_run))
    notes = [t.text or "" for t in root.iter(f"{SVG}text") if "Plain MLP train " in (t.text or "")]
    assert notes == [f"▲ Plain MLP train above the axis, up to {highest:.3g} (ep {at}–{at})"]
    marks = [t for t in root.iter(f"{SVG}text") if t.text == "▲" and t.get("fill") == "#1f77b4"]
    assert len(marks) == 1  # in plain's colour, on the top edge
    assert float(marks[0].get("y", "0")) < 30  # the plot's top edge is at y 30
    ticks = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks and all(len(t) <= 4 for t in ticks)  # round: 0.4, 0.6 …, not 0.582


def test_export_bad_input(tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["export", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    a_file = tmp_path / "x"
    a_file.write_text("")
    bad_dir = runner.invoke(cli, ["export", str(SMALL_SWEEP), "--out-dir", str(a_file)])
    assert bad_dir.exit_code == 2 and "is not a folder" in bad_dir.output
    new_dir = runner.invoke(cli, ["export", str(SMALL_SWEEP), "--out-dir", str(tmp_path / "n/m")])
    assert new_dir.exit_code == 0 and (tmp_path / "n/m/small_sweep-history.csv").exists()


async def test_screenshot_key_saves_an_svg(small_run: RunFile, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        app = BntuiApp(ReplaySession(small_run, speed=1000))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("c")
            await pilot.pause()
    finally:
        os.chdir(cwd)
    shots = list((tmp_path / "runs").glob("bntui-screenshot-*.svg"))  # beside the runs
    assert len(shots) == 1
    assert "Plain" in shots[0].read_text()
