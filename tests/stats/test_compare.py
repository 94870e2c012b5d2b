"""`bntui compare`: saved runs side by side, aligned by epoch, with what differs listed."""

from __future__ import annotations

from pathlib import Path

from conftest import SMALL_RUN
from screen import is_shown, replay_to_end, status_of, text_of
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.core.text import fmt
from bntui.record.files import save_run
from bntui.record.runfile import RunFile, load_run
from bntui.session.sessions import CompareSession
from bntui.stats.compare import differences
from bntui.tui.app import BntuiApp
from bntui.tui.widgets.chart import LineChart

runner = CliRunner()


def variant(run: RunFile, tmp_path: Path) -> Path:
    """The same recorded run as if trained with another lr on TensorFlow (file edited)."""
    other = run.model_copy(deep=True)
    other.spec = other.spec.__class__(**{**other.spec.to_dict(), "learning_rate": 0.05})
    other.environment["backend"] = "tensorflow"
    other.models["bn"].history.val_accuracy[-1] = 0.99
    path, _ = save_run(other, tmp_path / "other.json")
    return path


def test_differences_name_spec_fields_and_setup(small_run: RunFile, tmp_path: Path) -> None:
    other = load_run(variant(small_run, tmp_path))
    assert differences([small_run, other]) == [
        ("learning rate", ["0.001", "0.05"]),
        ("backend", ["jax", "tensorflow"]),
    ]
    assert differences([small_run, small_run]) == []


def test_compare_headless(small_run: RunFile, tmp_path: Path) -> None:
    other = variant(small_run, tmp_path)
    result = runner.invoke(cli, ["compare", str(SMALL_RUN), str(other), "--headless"])
    assert result.exit_code == 0, result.output
    assert "A: small_run, B: other" in result.output
    assert "learning rate" in result.output and "0.001 | 0.05" in result.output
    line_b = next(line for line in result.output.splitlines() if line.startswith("B "))
    assert "0.9900" in line_b


def test_compare_bad_input(tmp_path: Path) -> None:
    one = runner.invoke(cli, ["compare", str(SMALL_RUN)])
    assert one.exit_code == 2 and "at least two" in one.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    broken = runner.invoke(cli, ["compare", str(SMALL_RUN), str(bad)])
    assert broken.exit_code == 2 and "no schema_version" in broken.output
    assert "Traceback" not in broken.output


async def test_compare_tab_overlays_the_runs(small_run: RunFile, tmp_path: Path) -> None:
    other = load_run(variant(small_run, tmp_path))
    app = BntuiApp(CompareSession([small_run, other], ["A", "B"], ["small_run", "other"]))
    async with app.run_test(size=(100, 30)) as pilot:
        await replay_to_end(app, pilot)  # the comparison on screen
        assert "COMPARE" in status_of(app) and "REPLAY" not in status_of(app)
        assert is_shown(app.screen.query_one("#runs-table"))
        bn = app.screen.query_one("#runs-chart-bn", LineChart)
        assert [s.label for s in bn.series] == ["A", "B"]
        assert bn.series[1].ys[-1] == 0.99
        await pilot.press("1")  # the first run, in full, on the usual tabs
        await pilot.pause()
        assert app.session.run.models["bn"].history == small_run.models["bn"].history
        stats = text_of(app.screen.query_one("#stats-bn"))
        assert fmt(small_run.models["bn"].history.val_accuracy[-1]) in stats
