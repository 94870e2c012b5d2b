"""`bntui export` and the screenshot key: real files a report can use."""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import SMALL_SWEEP
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.record.runfile import RunFile, load_run
from bntui.session.sessions import ReplaySession
from bntui.tui.app import BntuiApp

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_export_writes_csv_and_svg_beside_the_run(small_run_path: Path) -> None:
    result = runner.invoke(cli, ["export", str(small_run_path)])
    assert result.exit_code == 0, result.output
    run = load_run(small_run_path)
    folder, stem = small_run_path.parent, small_run_path.stem
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
