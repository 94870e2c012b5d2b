"""The batch-size sweep: its file, its table, its command line and its dashboard tab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SMALL_SWEEP
from screen import is_shown, replay_to_end, status_of, text_of
from typer.testing import CliRunner

from bntui.cli.main import app as cli
from bntui.core.spec import SpecError
from bntui.core.text import fmt
from bntui.record.runfile import RunFileError, load_run
from bntui.record.sweep import SweepFile, load_document, parse_document, parse_sizes
from bntui.session.sessions import SweepReplaySession
from bntui.stats.runrows import sweep_rows
from bntui.tui.app import BntuiApp
from bntui.tui.widgets.chart import LineChart

runner = CliRunner()


def small_sweep() -> SweepFile:
    sweep = load_document(str(SMALL_SWEEP))
    assert isinstance(sweep, SweepFile)
    return sweep


def test_the_recorded_sweep_holds_one_complete_run_per_size() -> None:
    sweep = small_sweep()
    assert sweep.batch_sizes == [32, 128] and sweep.status == "completed"
    for run, size in zip(sweep.runs, sweep.batch_sizes):
        assert run.spec.batch_size == size and run.status == "completed"
        assert len(run.models["bn"].history.val_accuracy) == 3
        assert run.models["bn"].inside.layers  # layer statistics are kept per size too
    # Larger batches take fewer steps per epoch.
    steps = [run.models["plain"].curve.steps[0] for run in sweep.runs]
    assert steps == [63, 16]


def test_table_is_derived_from_the_histories() -> None:
    sweep = small_sweep()
    for row, run in zip(sweep_rows(sweep), sweep.runs):
        for key in ("plain", "bn"):
            accs = run.models[key].history.val_accuracy
            assert row.final[key] == accs[-1]
            assert row.best[key] == max(a for a in accs if a is not None)
            reached = row.reached[key]
            if reached is None:
                assert all(a is None or a < sweep.target_accuracy for a in accs)
            else:
                assert accs[reached - 1] >= sweep.target_accuracy  # type: ignore[operator]
                assert all(a < sweep.target_accuracy for a in accs[: reached - 1])  # type: ignore[operator]
        assert row.gap == pytest.approx(row.final["bn"] - row.final["plain"])  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "positive"), ("32,x", "whole numbers"), ("32,-1", "positive"), ("64,64", "twice")],
)
def test_bad_batch_sizes(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_sizes(text)
    result = runner.invoke(cli, ["sweep", "--headless", "--batch-sizes", text])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_target_is_refused() -> None:
    result = runner.invoke(cli, ["sweep", "--headless", "--target", "1.5"])
    assert result.exit_code == 2 and "--target" in result.output


def test_a_sweep_file_whose_sizes_disagree_is_refused() -> None:
    data = json.loads(SMALL_SWEEP.read_text())
    data["batch_sizes"] = [32, 64]
    with pytest.raises(RunFileError, match="not a valid sweep file"):
        parse_document(json.dumps(data).encode(), "s.json")


def test_load_run_names_a_sweep_file_for_what_it_is() -> None:
    with pytest.raises(RunFileError, match="is a sweep file"):
        load_run(SMALL_SWEEP)


def test_replay_headless_prints_the_sweep_table(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["replay", str(SMALL_SWEEP), "--headless"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[3:]}
    sweep = small_sweep()
    for row in sweep_rows(sweep):
        line = rows[str(row.batch_size)]
        assert (
            f"{row.final['bn']:.4f}" in line and f"{row.gap * 100:+.2f}".replace("-", "−") in line
        )  # type: ignore[operator]


async def test_sweep_replay_opens_on_the_sweep_tab() -> None:
    sweep = small_sweep()
    tui = BntuiApp(SweepReplaySession(sweep, speed=1000))
    async with tui.run_test(size=(80, 24)) as pilot:
        await replay_to_end(tui, pilot)
        assert is_shown(tui.screen.query_one("#runs-table"))
        charts = [tui.screen.query_one(f"#runs-chart-{k}", LineChart) for k in ("plain", "bn")]
        assert [len(c.series) for c in charts] == [2, 2]
        assert charts[0].y_range == charts[1].y_range
        assert charts[1].series[1].ys == sweep.runs[1].models["bn"].history.val_accuracy
        # The other tabs show the last batch size's run, as re-enacted.
        await pilot.press("1")
        await pilot.pause()
        assert "batch 128" in status_of(tui)
        bn_acc = sweep.runs[1].models["bn"].history.val_accuracy[-1]
        assert fmt(bn_acc) in text_of(tui.screen.query_one("#stats-bn"))
        await pilot.press("0")
        await pilot.pause()
        assert is_shown(tui.screen.query_one("#runs-table"))
