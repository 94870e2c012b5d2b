"""What each tab of the dashboard draws, from the run on show and the view's settings."""

from __future__ import annotations

from dataclasses import dataclass

from textual.screen import Screen

from bntui.core.metrics import step_metric
from bntui.core.spec import MODEL_KEYS
from bntui.record.runfile import RunFile
from bntui.stats.compare import RunSet
from bntui.stats.figures import shared_range
from bntui.tui.widgets.device_panel import DevicePanel
from bntui.tui.widgets.info_panels import ExperimentPanel, GapLine, SummaryPanel
from bntui.tui.widgets.inside import INSIDE_VIEWS, InsidePanel, InsideTable, layer_series
from bntui.tui.widgets.model_panel import (
    ModelPanel,
    training_legend,
    training_range,
    training_series,
)
from bntui.tui.widgets.results import ConfusionMatrix, PredictionCard, TestTable
from bntui.tui.widgets.runset import RunSetChart, RunSetTable, runset_range
from bntui.tui.widgets.seed_curves import seed_legend
from bntui.tui.widgets.seed_results import SeedTestTable

TABS = ("training", "models", "device", "results", "inside")


@dataclass(frozen=True)
class ViewSettings:
    """How the user asked to see the run: which curves, which layer statistic, colour."""

    metric: str = "loss"
    series_mode: str = "both"
    inside_view: int = 0
    color: bool = True
    each_seed: bool = False  # several seeds: each seed's curve, not their mean and band
    seed: int = 0  # several seeds: the one whose confusion matrix and predictions show


def draw_tab(
    screen: Screen[None], tab: str, run: RunFile, runset: RunSet | None, view: ViewSettings
) -> None:
    """Redraw tab `tab` of `screen` from `run` (and `runset`, the runs shown together)."""
    if tab == "runs" and runset is not None:
        # Runs compare at each epoch's end: a metric measured only during epochs (the
        # gradient norm) has nothing there, so they show validation accuracy instead.
        metric = view.metric if step_metric(view.metric).validation else "accuracy"
        plain, bn, y_range = runset_range(runset, metric)
        for chart, series in zip(screen.query(RunSetChart), (plain, bn)):
            chart.show(runset, series, y_range, metric)
        screen.query_one(RunSetTable).show(runset)
    elif tab == "training":
        metric, mode = view.metric, view.series_mode
        curves = {
            key: training_series(run, key, metric, mode, view.each_seed) for key in MODEL_KEYS
        }
        y_range = training_range(list(curves.values()), metric)
        legend = training_legend(metric, mode)
        seeds = seed_legend(run, view.each_seed, view.color) if len(run.seeds) > 1 else None
        # A replay imports no Keras: its panels must not say they wait for it.
        live = getattr(getattr(screen, "session", None), "live", True)
        for panel in screen.query(ModelPanel):
            panel.show(run, curves[panel.key], y_range, legend, seeds, live)
        screen.query_one(GapLine).show(run)
    elif tab == "models":
        screen.query_one(ExperimentPanel).show(run)
        for summary in screen.query(SummaryPanel):
            summary.show(run)
    elif tab == "device":
        screen.query_one(DevicePanel).show(run)
    elif tab == "results":
        seed = view.seed % len(run.seeds)
        screen.query_one(SeedTestTable).show(run)
        screen.query_one(TestTable).show(run, seed)
        for matrix in screen.query(ConfusionMatrix):
            matrix.show(run, seed, view.color)
        for card in screen.query(PredictionCard):
            card.show(run, view.color, seed)
    elif tab == "inside":
        draw_inside(screen, run, view.inside_view)


def draw_inside(screen: Screen[None], run: RunFile, inside_view: int) -> None:
    """Both models' charts of one layer statistic on a shared scale, and the numbers."""
    stat = INSIDE_VIEWS[inside_view % len(INSIDE_VIEWS)]
    lines = {key: layer_series(run, key, stat) for key in MODEL_KEYS}
    bounds = (0.0, 100.0) if stat.percent else (None, None)
    y_range = shared_range([s.ys for key in MODEL_KEYS for _, s in lines[key]], bounds)
    for panel in screen.query(InsidePanel):
        panel.border_subtitle = f"n ▸ {stat.title}"
        panel.show(run, stat, lines[panel.key], y_range)
    screen.query_one(InsideTable).show(run, stat)
