"""Pilot tests: a recorded event stream drives the dashboard, keys do what the footer says."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.widget import Widget
from textual.widgets import Static

from bntui.app import BntuiApp, RunEvent
from bntui.events import BatchProgress, EpochEnd
from bntui.runfile import RunFile, load_run
from bntui.session import ReplaySession
from bntui.text import fmt
from bntui.widgets.chart import LineChart
from bntui.widgets.inside import INSIDE_VIEWS

MODELS = ("plain", "bn")


def text_of(widget: Widget) -> str:
    """What a Static shows, as plain text."""
    assert isinstance(widget, Static)
    console = Console(width=100, file=io.StringIO(), no_color=True)
    with console.capture() as capture:
        console.print(widget.content)
    return capture.get()


async def replay_to_end(app: BntuiApp, pilot: Any) -> None:
    await pilot.press("e")
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)
    app.redraw()
    await pilot.pause()


async def test_replay_feeds_the_panels(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        assert app.ended
        for key in ("plain", "bn"):
            stats = text_of(app.screen.query_one(f"#stats-{key}"))
            history = small_run.models[key].history
            assert fmt(history.val_accuracy[-1]) in stats
            assert "100%" in stats
        status = text_of(app.screen.query_one("#status"))
        assert "REPLAY END" in status and "fashion_mnist" in status
        gap = text_of(app.screen.query_one("#gap"))
        bn_acc = small_run.models["bn"].history.val_accuracy[-1]
        plain_acc = small_run.models["plain"].history.val_accuracy[-1]
        assert bn_acc is not None and plain_acc is not None
        expected = bn_acc - plain_acc
        assert f"{expected * 100:+.2f} pts" in gap


async def test_keys_toggle_the_view(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("m")
        assert app.metric == "accuracy"
        await pilot.press("v")
        assert app.series_mode == "train"
        await pilot.press("p")
        assert app.paused
        assert "PAUSED" in text_of(app.screen.query_one("#status"))
        await pilot.press("p")
        assert not app.paused
        await pilot.press("4")
        await pilot.pause()
        assert app.dashboard.active_tab == "results"
        table = text_of(app.screen.query_one("#test-table"))
        test = small_run.models["bn"].test
        assert test is not None and fmt(test.accuracy) in table
        await pilot.press("2")
        await pilot.pause()
        summary = text_of(app.screen.query_one("#summary-bn"))
        assert "2,368" in summary and "BatchNormalization" in summary
        await pilot.press("3")
        await pilot.pause()
        device = text_of(app.screen.query_one("#device-panel"))
        assert "CPU" in device and "Live load" in device and "RSS" in device
        await pilot.press("q")
    assert app.return_value == 0


async def test_inside_tab_plots_each_layer_on_one_scale(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(100, 40)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        assert app.dashboard.active_tab == "inside"
        charts = [app.screen.query_one(f"#inside-chart-{key}", LineChart) for key in MODELS]
        assert [len(c.series) for c in charts] == [3, 3]  # one line per Dense layer
        assert charts[0].y_range == charts[1].y_range is not None
        last_bn = small_run.models["bn"].inside.layers[1].stats["in_mean"][-1]
        assert f"{last_bn:.3f}" in text_of(app.screen.query_one("#inside-legend-bn"))
        table = text_of(app.screen.query_one("#inside-table"))
        assert "bn · bn 784" in table and "plain · dense 300" in table
        seen = set()
        for _ in range(len(INSIDE_VIEWS)):
            seen.add(charts[1].legend)
            assert charts[1].log_y == (charts[1].legend == "grad_norm")
            await pilot.press("n")
            await pilot.pause()
        assert len(seen) == len(INSIDE_VIEWS)
        # BN-only statistics: the plain model has nothing to plot and says why.
        while INSIDE_VIEWS[app.inside_view].kind != "bn":
            await pilot.press("n")
        await pilot.pause()
        assert charts[0].series == [] and "no BN layers" in charts[0].empty_message
        assert len(charts[1].series) == 3
        await pilot.press("1")
        await pilot.press("n")  # does nothing outside the Inside tab
        assert INSIDE_VIEWS[app.inside_view].kind == "bn"


async def test_pause_freezes_the_view_not_the_recording(small_run: RunFile) -> None:
    session = ReplaySession(small_run, speed=1)  # slow: pausing must come before the end
    app = BntuiApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        before = text_of(app.screen.query_one("#stats-bn"))
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert text_of(app.screen.query_one("#stats-bn")) == before
        assert session.run.models["bn"].history == small_run.models["bn"].history
        await pilot.press("p")
        await pilot.pause(0.3)
        assert text_of(app.screen.query_one("#stats-bn")) != before


def test_curve_points_supersede_each_other() -> None:
    old = RunEvent(BatchProgress(model="bn", t=1.0, epoch=0, step=5, steps=10))
    newer = RunEvent(BatchProgress(model="bn", t=1.1, epoch=0, step=6, steps=10))
    other = RunEvent(BatchProgress(model="plain", t=1.1, epoch=0, step=6, steps=10))
    epoch = RunEvent(EpochEnd(model="bn", t=1.2, epoch=0))
    assert old.can_replace(newer)
    assert not old.can_replace(other)
    assert not old.can_replace(epoch)
    assert not epoch.can_replace(newer)


async def test_hostile_strings_are_shown_literally(small_run_path: Path) -> None:
    data = json.loads(small_run_path.read_text())
    data["models"]["bn"]["error"] = "[bold red]x[/] \x1b[2J\x1b]0;title\x07"
    data["models"]["bn"]["summary"]["layers"][1]["name"] = "[blink]bn[/blink]"
    data["dataset"]["class_names"][9] = "[red]boot\x1b[0m"
    small_run_path.write_text(json.dumps(data))
    app = BntuiApp(ReplaySession(load_run(small_run_path), speed=1000))
    async with app.run_test(size=(100, 40)) as pilot:
        await replay_to_end(app, pilot)
        stats = text_of(app.screen.query_one("#stats-bn"))
        assert "[bold red]x[/] ^[[2J^[]0;title^G" in stats
        await pilot.press("2")
        await pilot.pause()
        assert "[blink]bn[/blink]" in text_of(app.screen.query_one("#summary-bn"))
        await pilot.press("4")
        await pilot.pause()
        assert "[red]boot^[[0m" in text_of(app.screen.query_one("#prediction-0"))


async def test_tiny_terminal_and_resizing_do_not_crash(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=50))
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause(0.3)
        for size in ((20, 6), (120, 40), (40, 12)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        await replay_to_end(app, pilot)
        for key in "1234":
            await pilot.press(key)
            await pilot.pause()
        assert app.ended
