"""The dashboard: both models' live panels, and tabs for models, devices and results."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from bntui.compare import RunSet
from bntui.runfile import RunFile
from bntui.spec import MAX_SAMPLE_COUNT, MODEL_KEYS
from bntui.widgets.device_panel import DevicePanel
from bntui.widgets.info_panels import GapLine, StatusLine, SummaryPanel
from bntui.widgets.inside import (
    INSIDE_VIEWS,
    InsidePanel,
    InsideTable,
    layer_series,
    shared_range,
)
from bntui.widgets.model_panel import ModelPanel
from bntui.widgets.results import ConfusionMatrix, PredictionCard, TestTable
from bntui.widgets.runset import RunSetChart, RunSetTable, runset_range

TABS = ("training", "models", "device", "results", "inside")


class DashboardScreen(Screen[None]):
    """Renders a run record; the app tells it when and how (metric, series, colour)."""

    CSS_PATH = "dashboard.tcss"

    def __init__(self, runset_kind: str | None = None) -> None:
        super().__init__()
        self.runset_kind = runset_kind  # "sweep" or "compare": a first tab of runs together
        self.ready = False  # set once its widgets are mounted and can be drawn

    def compose(self) -> ComposeResult:
        """Status line, the tabs (a sweep's or comparison's first), footer of key bindings."""
        yield StatusLine(id="status")
        with TabbedContent(initial="runs" if self.runset_kind else "training", id="tabs"):
            if self.runset_kind:
                with TabPane(f"0 {self.runset_kind.title()}", id="runs"), Vertical():
                    with Horizontal(id="runs-pair"):
                        for key in MODEL_KEYS:
                            yield RunSetChart(key)
                    with VerticalScroll(id="runs-numbers"):
                        yield RunSetTable(id="runs-table")
            with TabPane("1 Training", id="training"), Vertical():
                with Horizontal(id="pair"):
                    for key in MODEL_KEYS:
                        yield ModelPanel(key)
                yield GapLine(id="gap")
            with TabPane("2 Models", id="models"), VerticalScroll():
                for key in MODEL_KEYS:
                    yield SummaryPanel(key)
            with TabPane("3 Device", id="device"), VerticalScroll():
                yield DevicePanel(id="device-panel")
            with TabPane("4 Results", id="results"), VerticalScroll():
                yield TestTable(id="test-table")
                for key in MODEL_KEYS:
                    yield ConfusionMatrix(key)
                with Vertical(id="predictions"):
                    for slot in range(MAX_SAMPLE_COUNT):
                        yield PredictionCard(slot)
            with TabPane("5 Inside", id="inside"), Vertical():
                with Horizontal(id="inside-pair"):
                    for key in MODEL_KEYS:
                        yield InsidePanel(key)
                with VerticalScroll(id="inside-numbers"):
                    yield InsideTable(id="inside-table")
        yield Footer()

    def on_mount(self) -> None:
        """The widgets exist now: the app may draw."""
        self.ready = True

    @property
    def active_tab(self) -> str:
        """Id of the tab on show."""
        return str(self.query_one(TabbedContent).active)

    def show_tab(self, tab: str) -> None:
        """Switch to tab `tab`; its scrollable content takes the focus, so arrow keys scroll."""
        self.query_one(TabbedContent).active = tab
        scrolls = self.query_one(f"#{tab}", TabPane).query(VerticalScroll)
        if scrolls:
            scrolls.first().focus()

    def show_status(self, run: RunFile, mode: str, note: str) -> None:
        """Redraw the status line only (cheap; done even while the view is paused)."""
        self.query_one(StatusLine).show(run, mode, note)

    def show_run(
        self,
        run: RunFile,
        metric: str,
        series_mode: str,
        color: bool,
        inside_view: int = 0,
        runset: RunSet | None = None,
    ) -> None:
        """Redraw the tab on show from `run` (hold the session lock while calling)."""
        tab = self.active_tab
        if tab == "runs" and runset is not None:
            plain, bn, y_range = runset_range(runset, metric)
            for chart, series in zip(self.query(RunSetChart), (plain, bn)):
                chart.show(runset, series, y_range, metric)
            self.query_one(RunSetTable).show(runset)
        elif tab == "training":
            for panel in self.query(ModelPanel):
                panel.update_view(run, metric, series_mode)
            self.query_one(GapLine).show(run)
        elif tab == "models":
            for summary in self.query(SummaryPanel):
                summary.show(run)
        elif tab == "device":
            self.query_one(DevicePanel).show(run)
        elif tab == "results":
            self.query_one(TestTable).show(run)
            for matrix in self.query(ConfusionMatrix):
                matrix.show(run)
            for card in self.query(PredictionCard):
                card.show(run, color)
        elif tab == "inside":
            self.show_inside(run, inside_view)

    def show_inside(self, run: RunFile, inside_view: int) -> None:
        """Both models' charts of one layer statistic on a shared scale, and the numbers."""
        view = INSIDE_VIEWS[inside_view % len(INSIDE_VIEWS)]
        lines = {key: layer_series(run, key, view) for key in MODEL_KEYS}
        y_range = shared_range([[s for _, s in lines[key]] for key in MODEL_KEYS])
        for panel in self.query(InsidePanel):
            panel.border_subtitle = f"n ▸ {view.title}"
            panel.show(run, view, lines[panel.key], y_range)
        self.query_one(InsideTable).show(run, view)
