"""Pilot tests: a recorded event stream drives the dashboard, keys do what the footer says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from screen import (
    is_shown,
    replay_to_end,
    status_of,
    text_of,
    text_of_chart,
    until,
)

from bntui.core.events import ModelDone
from bntui.core.spec import ExperimentSpec
from bntui.core.text import fmt, fmt_duration
from bntui.record.recorder import RunRecorder
from bntui.record.runfile import RunFile, load_run
from bntui.session.sessions import ReplaySession
from bntui.tui.app import BntuiApp
from bntui.tui.messages import EventsPending
from bntui.tui.widgets.chart import LineChart
from bntui.tui.widgets.hinted_scroll import MORE_ABOVE, MORE_BELOW, HintedScroll
from bntui.tui.widgets.inside import INSIDE_VIEWS
from bntui.tui.widgets.results import (
    PredictionCard,
    confusion_text,
    largest_mistake,
    prediction_order,
)

MODELS = ("plain", "bn")


async def test_replay_feeds_the_panels(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
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
        assert f"{expected * 100:+.2f}" in gap and "pts" in gap


async def test_keys_toggle_the_view(small_run: RunFile) -> None:
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        chart = app.screen.query_one("#chart-bn", LineChart)
        assert "loss ⠤train •val" in text_of_chart(chart)
        await pilot.press("m")
        assert "acc ⠤train •val" in text_of_chart(chart)
        await pilot.press("v")
        assert "acc ⠤train ─" in text_of_chart(chart)
        await pilot.press("v")
        assert "acc ⠤val" in text_of_chart(chart)
        # A finished run has nothing to pause: the status line says so, never "PAUSED".
        await pilot.press("p")
        status = text_of(app.screen.query_one("#status"))
        assert "PAUSED" not in status and "nothing to pause" in status
        await pilot.press("4")
        await pilot.pause()
        assert is_shown(app.screen.query_one("#test-table"))
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
        # The bars' legend in words, whichever form fits ("0 to ≤" was cryptic).
        assert "up to the ≤ figure" in device or "from 0 to the ≤ after them" in device
        assert "0 to ≤;" not in device
        # Each worker's load drawn once, as sampled (the replayed samples, not the file's
        # trace and then the replayed samples again); an ended worker shows its peak memory.
        assert app.session.run.system == small_run.system
        peak = max(v for v in small_run.system.series["bn.rss_mb"] if v is not None)
        assert f"peak RSS {peak / 1024:.2f} GiB" in device
        await pilot.press("q")
    assert app.return_value == 0


async def test_inside_tab_plots_each_layer_on_one_scale(small_run: RunFile) -> None:
    # A negative latest value beside positive ones: the legend's columns stay aligned.
    small_run.models["plain"].inside.layers[2].stats["in_mean"][-1] = -0.001
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(100, 40)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        assert is_shown(app.screen.query_one("#inside-table"))
        legend = text_of(app.screen.query_one("#inside-legend-plain")).splitlines()
        assert any(" -0.001 (from " in line for line in legend), legend
        assert len({line.index(" (from ") for line in legend}) == 1, legend
        charts = [app.screen.query_one(f"#inside-chart-{key}", LineChart) for key in MODELS]
        assert [len(c.series) for c in charts] == [3, 3]  # one line per Dense layer
        assert charts[0].y_range == charts[1].y_range is not None
        last_bn = small_run.models["bn"].inside.layers[1].stats["in_mean"][-1]
        assert f"{last_bn:.3f}" in text_of(app.screen.query_one("#inside-legend-bn"))
        table = text_of(app.screen.query_one("#inside-table"))
        assert "bn 784" in table and "plain 300" in table  # the tables' titles say the kind
        seen = set()
        for _ in range(len(INSIDE_VIEWS)):
            seen.add(charts[1].legend)
            assert charts[1].log_y == (charts[1].legend == "grad_norm")
            await pilot.press("n")
            await pilot.pause()
        assert len(seen) == len(INSIDE_VIEWS)
        # BN-only statistics: the plain model has nothing to plot and says why.
        while "BN" not in str(app.screen.query_one("#inside-bn").border_subtitle):
            await pilot.press("n")
        await pilot.pause()
        assert charts[0].series == [] and "no BN layers" in charts[0].empty_message
        assert len(charts[1].series) == 3
        await pilot.press("1")
        await pilot.press("n")  # does nothing outside the Inside tab
        assert "BN" in str(app.screen.query_one("#inside-bn").border_subtitle)


async def test_pause_holds_a_replay_where_it_is(small_run: RunFile) -> None:
    session = ReplaySession(small_run, speed=1)  # slow: pausing must come before the end
    app = BntuiApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "REPLAY ×1" in status_of(app), "the first frame")
        await pilot.press("p")
        before = text_of(app.screen.query_one("#stats-bn"))
        await pilot.press("e")  # even a jump to the end waits for the pause to end
        for _ in range(20):
            await pilot.pause()
        assert "PAUSED" in status_of(app) and not session.finished.is_set()
        assert text_of(app.screen.query_one("#stats-bn")) == before
        await pilot.press("p")
        await until(pilot, lambda: "REPLAY END" in status_of(app), "the end after resuming")
        assert text_of(app.screen.query_one("#stats-bn")) != before
        assert session.run.models["bn"].history == small_run.models["bn"].history


async def test_the_replay_clock_only_moves_forward(small_run: RunFile) -> None:
    session = ReplaySession(small_run, speed=5)
    assert session.run.duration_s == 0  # not the recording's length before anything is replayed
    seen = []
    for _event in session.events():
        seen.append(session.run.duration_s)
        if len(seen) > 40:
            session.stop()
    assert seen == sorted(seen) and seen[0] < 2


def test_a_newer_notice_of_pending_events_replaces_an_older_one() -> None:
    # Whichever notice is handled takes every event waiting: a fast stream cannot flood the UI.
    assert EventsPending().can_replace(EventsPending())


async def test_hostile_strings_are_shown_literally(small_run_path: Path) -> None:
    data = json.loads(small_run_path.read_text())
    data["seeds"][0]["models"]["bn"]["error"] = "[bold red]x[/] \x1b[2J\x1b]0;title\x07"
    data["seeds"][0]["models"]["bn"]["summary"]["layers"][1]["name"] = "[blink]bn[/blink]"
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
        cards = [text_of(card) for card in app.screen.query(PredictionCard)]
        assert any("[red]boot^[[0m" in card for card in cards)


async def test_tiny_terminal_and_resizing_do_not_crash(small_run: RunFile) -> None:
    # Slow enough to resize while it plays; the first frame is any frame (a replay may end
    # before it, which must not hang the test).
    app = BntuiApp(ReplaySession(small_run, speed=5))
    async with app.run_test(size=(40, 12)) as pilot:
        await until(pilot, lambda: "REPLAY" in status_of(app), "the first frame")
        for size in ((20, 6), (120, 40), (40, 12)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
        await replay_to_end(app, pilot)
        for key in "12345":
            await pilot.press(key)
            await pilot.pause()
        assert "REPLAY" in status_of(app)


SAMPLE_RUNS = Path(__file__).parents[2] / "sample_runs"


async def test_both_models_are_drawn_on_one_scale_without_epoch_cliffs() -> None:
    run = load_run(SAMPLE_RUNS / "fashion-sgd-default.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        for _ in ("loss", "accuracy"):
            charts = [app.screen.query_one(f"#chart-{key}", LineChart) for key in MODELS]
            labels = [chart.axis_labels() for chart in charts]
            assert labels[0] == labels[1] and labels[0][0]  # same axis, as a person reads it
            assert labels[0][0] != "1.01"  # accuracy never runs past 1
            plain, bn = (chart.series[0] for chart in charts)
            # The training curve: what happened between points, not Keras' running mean that
            # restarts each epoch. A jump at an epoch boundary is like any other jump.
            for series in (plain, bn):
                ys = [y for y in series.ys if y is not None]
                assert len(ys) == len(series.xs)
                within, across = [], []
                for (x1, y1), (x2, y2) in zip(zip(series.xs, ys), zip(series.xs[1:], ys[1:])):
                    if x1 >= 1:
                        (across if int(x1) != int(x2) else within).append(abs(y2 - y1))
                # Keras' running means would jump 6 to 25 times the largest step inside an
                # epoch at each boundary (it restarts); the interval curve not even twice.
                assert len(across) == 8 and max(across) <= 1.5 * max(within)
            await pilot.press("m")
        await pilot.press("m")  # the gradient norm, then back on loss
        # Back on loss: BN's curve lies below the plain model's in the second half of training.
        assert "loss" in charts[0].legend
        charts = [app.screen.query_one(f"#chart-{key}", LineChart) for key in MODELS]
        late = [[y for x, y in zip(c.series[0].xs, c.series[0].ys) if x > 5] for c in charts]
        assert sum(late[1]) / len(late[1]) < sum(late[0]) / len(late[0])


async def test_a_failed_run_says_failed_once(tmp_path: Path) -> None:
    spec = ExperimentSpec(preset="mnist-adam", dataset="mnist", architecture="mnist")
    recorder = RunRecorder(spec)
    reason = "MNIST is not on this machine and could not be downloaded."
    for key in MODELS:
        recorder.apply(ModelDone(model=key, t=2.5, status="failed", error=reason))
    run = recorder.finish()
    assert run.error == reason  # not the same sentence twice
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(120, 30)) as pilot:
        await replay_to_end(app, pilot)
        status = text_of(app.screen.query_one("#status"))
        assert "FAILED" in status and "both models" in status and "DONE" not in status
        assert status.count("MNIST is not") == 1
        for key in MODELS:
            panel = text_of(app.screen.query_one(f"#stats-{key}"))
            assert panel.count("MNIST is not") == 1 and "✗ failed" in panel
            chart = text_of_chart(app.screen.query_one(f"#chart-{key}", LineChart))
            assert "starting" not in chart and "failed before its first steps" in chart


async def test_80x24_keeps_what_matters_and_says_what_scrolls() -> None:
    run = load_run(SAMPLE_RUNS / "fashion-sgd-default.json")
    app = BntuiApp(ReplaySession(run, speed=1000, path=SAMPLE_RUNS / "fashion-sgd-default.json"))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        status = text_of(app.screen.query_one("#status"))
        duration = fmt_duration(run.duration_s)
        assert (
            "REPLAY END" in status and duration in status and "fashion-sgd-default.json" in status
        )
        gap = text_of(app.screen.query_one("#gap")).strip()
        # Every figure of the line at 80 columns: the words gave way, not the digits.
        assert gap.endswith("n=1, no CI")
        assert "acc +3.18/+3.19 pts" in gap and "val loss −0.112" in gap
        await pilot.press("4")
        await pilot.pause()
        scroll = app.screen.query_one("#results HintedScroll", HintedScroll)
        await pilot.pause()
        assert scroll.border_subtitle == MORE_BELOW
        await pilot.press("end")
        await pilot.pause()
        assert scroll.border_subtitle == MORE_ABOVE
    # Narrower still: the confusion matrix keeps all ten columns and says which class is which.
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(60, 20)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("4")
        await pilot.pause()
        matrix = text_of(app.screen.query_one("#confusion-bn"))
        header = matrix.splitlines()[1].split()
        assert header == [str(i) for i in range(10)]
        assert "9 Ankle bo" in matrix
    # Narrower than that: numbered rows and a key; columns that cannot fit are named as cut.
    test = run.models["bn"].test
    assert test is not None and run.dataset is not None
    names = run.dataset.class_names
    narrow = confusion_text(test.confusion_matrix, names, 44, "BN").plain
    assert narrow.splitlines()[1].split() == [str(i) for i in range(10)]
    assert "classes:" in narrow and "9 Ankle boot" in narrow
    assert all(len(line) <= 44 for line in narrow.splitlines())
    tiny = confusion_text(test.confusion_matrix, names, 20, "BN").plain
    assert "columns 4–9 do not fit" in tiny


async def test_inside_tab_without_colour_and_without_statistics() -> None:
    # A schema 1 file has no layer statistics: the tab says so once the replay has ended.
    old = load_run(Path(__file__).parents[1] / "data" / "sample_v1_lr0.01.json")
    app = BntuiApp(ReplaySession(old, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        chart = app.screen.query_one("#inside-chart-bn", LineChart)
        assert "recorded without layer statistics" in text_of_chart(chart)
    run = load_run(SAMPLE_RUNS / "fashion-sgd-default.json")
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=(100, 40)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        # Every layer's line carries a glyph of its own: told apart without colour.
        chart = app.screen.query_one("#inside-chart-plain", LineChart)
        glyphs = [s.glyph for s in chart.series]
        assert len(set(glyphs)) == len(glyphs) == 3
        drawn = text_of_chart(chart)
        assert all(glyph in drawn for glyph in glyphs if glyph)
        legend = text_of(app.screen.query_one("#inside-legend-plain"))
        assert all(f"━{glyph}" in legend for glyph in glyphs if glyph)
        # Dead units mean something only before a ReLU: the plain model (LeakyReLU) has none.
        while "dead" not in str(app.screen.query_one("#inside-bn").border_subtitle):
            await pilot.press("n")
        await pilot.pause()
        assert app.screen.query_one("#inside-chart-plain", LineChart).series == []
        assert "LeakyReLU" in text_of_chart(app.screen.query_one("#inside-chart-plain", LineChart))
        bn = app.screen.query_one("#inside-chart-bn", LineChart)
        assert [s.label for s in bn.series] == ["dense 300", "dense 100"]
        assert bn.axis_labels()[0].endswith("%")


async def test_results_shade_mistakes_by_count_and_show_where_the_models_differ(
    small_run: RunFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mistakes read by count without colour (a glyph of a four-step scale, its legend under
    the matrix, one scale for both models); the predictions put first the recorded images one
    model gets wrong and the other right, by a rule the tab states."""
    bn = small_run.models["bn"].test
    assert bn is not None
    bn.predictions[1].predicted = bn.predictions[1].label  # BN right where plain is wrong
    assert prediction_order(small_run) == [1, 0, 4, 6, 7, 2, 3, 5]
    monkeypatch.setenv("NO_COLOR", "1")
    app = BntuiApp(ReplaySession(small_run, speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)
        await pilot.press("4")
        await pilot.pause()
        matrices = [text_of(app.screen.query_one(f"#confusion-{key}")) for key in MODELS]
        largest = max(largest_mistake(m.test.confusion_matrix) for m in small_run.pair(0).values()
                      if m.test)  # fmt: skip
        scale = f"█ {largest * 3 // 4 + 1}–{largest}"
        assert all(scale in matrix for matrix in matrices)  # one scale for both
        assert any(f"{largest}█" in matrix for matrix in matrices)
        caption = " ".join(matrices[1].split())
        assert "those one model gets wrong and the other right" in caption
        assert "1 of them tells the models apart" in caption
        first = text_of(app.screen.query_one("#prediction-0"))
        assert f"#{small_run.dataset.sample_indices[1]} " in first  # type: ignore[union-attr]
        assert "plain:" in first and "✗" in first and "✓" in first


async def test_a_replay_does_not_say_it_imports_keras(small_run: RunFile) -> None:
    # So slow that no training step arrives while the test looks.
    app = BntuiApp(ReplaySession(small_run, speed=0.001))
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.screen.query_one("#chart-plain", LineChart)
        await until(pilot, lambda: "replay" in text_of_chart(chart), "the replay's empty chart")
        assert "waiting for the first recorded training steps" in text_of_chart(chart)
        assert "Keras" not in text_of_chart(chart) and "loading data" not in text_of_chart(chart)
        await replay_to_end(app, pilot)  # the replay's thread ends with the test
