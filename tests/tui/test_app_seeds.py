"""The dashboard on a run of several seeds: mean curves with their band on one scale, each
seed on a key, the BN − plain headline with its paired interval, and each seed's results."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SMALL_RUN, SMALL_SEEDS
from screen import replay_to_end, status_of, text_of, text_of_chart, until

from bntui.core.events import EpochEnd
from bntui.core.text import fmt
from bntui.record.recorder import empty_like
from bntui.record.replay import events_from_run
from bntui.record.runfile import RunFile, load_run
from bntui.session.sessions import ReplaySession
from bntui.stats import seedstats
from bntui.tui.app import BntuiApp
from bntui.tui.messages import EventsPending
from bntui.tui.widgets.chart import BAND_FILL, LineChart

MODELS = ("plain", "bn")
SIZES = [(80, 24), (120, 40)]


def charts(app: BntuiApp) -> list[LineChart]:
    """Both models' training charts."""
    return [app.screen.query_one(f"#chart-{key}", LineChart) for key in MODELS]


def plot_rows(chart: LineChart) -> str:
    """A chart's plot area (its x axis, which holds the legend, left out)."""
    return "\n".join(text_of_chart(chart).splitlines()[:-1])


def active_keys(app: BntuiApp) -> set[str]:
    """The descriptions of the keys the footer shows now."""
    return {
        active.binding.description
        for active in app.screen.active_bindings.values()
        if active.binding.show and active.enabled
    }


@pytest.mark.parametrize("size", SIZES)
async def test_training_tab_draws_the_mean_band_and_each_seed(size: tuple[int, int]) -> None:
    app = BntuiApp(ReplaySession(load_run(SMALL_SEEDS), speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        assert "3 seeds" in status_of(app)
        for key in MODELS:
            line = text_of(app.screen.query_one(f"#seeds-{key}"))
            assert "3 seeds: ⠒⠒ mean  min–max" in line
        for chart in charts(app):  # the band as its dotted edges, no specks of fill
            assert chart.series[0].band_shaded and BAND_FILL not in plot_rows(chart)
        labels = [chart.axis_labels() for chart in charts(app)]
        assert labels[0] == labels[1] and labels[0][0]  # one scale, as a person reads it
        gap = text_of(app.screen.query_one("#gap")).strip()
        assert gap.startswith("BN − plain") and "val acc +15.0 pts" in gap
        assert "95% CI" in gap and "3 seeds" in gap and "(+4.3…+25.6)" in gap
        assert "Seeds" in active_keys(app)

        await pilot.press("b")
        await pilot.pause()
        for key in MODELS:
            line = text_of(app.screen.query_one(f"#seeds-{key}"))
            assert "seeds: o 42 x 43 + 44" in line
        for chart in charts(app):
            assert len(chart.series) == 6  # train and val of each seed
            drawn = plot_rows(chart)
            # Each seed marked once where it runs apart, or named as under the others.
            for glyph in "ox+":
                hidden = glyph in chart.unlabelled
                assert drawn.count(glyph) == (0 if hidden else 1)
            if chart.unlabelled:
                assert "under others" in text_of_chart(chart).splitlines()[-1]
        labels = [chart.axis_labels() for chart in charts(app)]
        assert labels[0] == labels[1] and labels[0][0]

        await pilot.press("b")
        await pilot.pause()
        assert "3 seeds: ⠒⠒ mean" in text_of(app.screen.query_one("#seeds-bn"))


@pytest.mark.parametrize("size", SIZES)
async def test_results_tab_shows_each_seed_and_cycles_the_one_in_detail(
    size: tuple[int, int],
) -> None:
    run = load_run(SMALL_SEEDS)
    app = BntuiApp(ReplaySession(run, speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        assert "Seed" not in active_keys(app)  # only where it does something
        await pilot.press("4")
        await pilot.pause()
        assert "Seed" in active_keys(app)
        table = text_of(app.screen.query_one("#seed-tests"))
        rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
        for i, seed in enumerate((42, 43, 44)):
            for key in MODELS:
                assert fmt(seedstats.test_accuracies(run, key)[i]) in rows[str(seed)]
        assert "mean ± 95% CI" in table and table.count(" ± ") >= 3
        assert "test acc: +14.6 pts (95% CI" in table and "paired over 3 seeds" in table

        def shown() -> str:
            return text_of(app.screen.query_one("#test-table"))

        assert "seed 42 (1 of 3)" in shown()
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "seed 43 (2 of 3)" in shown(), "the second seed")
        bn = run.pair(1)["bn"].test
        assert bn is not None and fmt(bn.accuracy) in shown()
        assert "seed 43" in text_of(app.screen.query_one("#confusion-bn"))
        await pilot.press("right_square_bracket", "right_square_bracket")
        await until(pilot, lambda: "seed 42 (1 of 3)" in shown(), "back to the first seed")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: "seed 44 (3 of 3)" in shown(), "the last seed")


@pytest.mark.parametrize("size", SIZES)
async def test_one_seed_says_no_interval_can_be_given(size: tuple[int, int]) -> None:
    app = BntuiApp(ReplaySession(load_run(SMALL_RUN), speed=1000))
    async with app.run_test(size=size) as pilot:
        await replay_to_end(app, pilot)
        gap = text_of(app.screen.query_one("#gap"))
        wide = size[0] >= 120
        assert ("one seed: no interval can be given" if wide else "n=1, no CI") in gap
        if wide:
            assert "val acc +18.48 pts" in gap and "test acc +17.90 pts" in gap
        else:  # the two accuracies share a label, so that the loss fits too
            assert "val/test acc +18.48/+17.90 pts" in gap and "val loss" in gap
        assert "seeds" not in status_of(app)
        assert not app.screen.query_one("#seeds-bn").display
        assert "Seeds" not in active_keys(app)
        await pilot.press("4")
        await pilot.pause()
        assert not app.screen.query_one("#seed-tests").display
        assert "Seed" not in active_keys(app)
        assert "seed" not in text_of(app.screen.query_one("#test-table"))


async def test_seeds_arriving_unevenly_are_drawn_as_they_come() -> None:
    # As in a live run: seed 2 lags a whole epoch behind the others.
    run = load_run(SMALL_SEEDS)
    events = events_from_run(run)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    ahead = max(e.t for e in ends if e.seed != 2 and e.epoch == 1)  # two epochs done
    behind = max(e.t for e in ends if e.seed == 2 and e.epoch == 0)  # one epoch done
    early = [e for e in events if e.t <= (behind if e.seed == 2 else ahead)]
    app = BntuiApp(ReplaySession(empty_like(run), speed=1000))
    async with app.run_test(size=(80, 24)) as pilot:
        await replay_to_end(app, pilot)

        async def feed(batch: list[Any]) -> None:
            for event in batch:
                app.inbox.put(event)
            app.dashboard.post_message(EventsPending())
            await pilot.pause()
            app.dashboard.redraw()
            await pilot.pause()

        assert "after the first epoch of every seed" in text_of(app.screen.query_one("#gap"))
        await feed(early)
        assert "3 seeds: ⠒⠒ mean" in text_of(app.screen.query_one("#seeds-plain"))
        assert all(chart.series for chart in charts(app))
        gap = text_of(app.screen.query_one("#gap"))
        assert "ep 1 " in gap and "3 seeds" in gap  # what every seed finished
        bands = [chart.series[0].band for chart in charts(app)]
        assert all(band is not None and band[0] for band in bands)
        labels = [chart.axis_labels() for chart in charts(app)]
        assert labels[0] == labels[1] and labels[0][0]
        await feed([e for e in events if e not in early])
        gap = text_of(app.screen.query_one("#gap"))
        assert "ep 3" in gap and "3 seeds" in gap


def test_runs_of_one_and_several_seeds_load(small_run: RunFile) -> None:
    assert len(load_run(SMALL_SEEDS).seeds) == 3 and len(small_run.seeds) == 1
