"""The batch-size sweep: validation curves of every batch size overlaid, and the table.

Plain and BN get a chart each, on one shared scale, one line per batch size.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from bntui.spec import MODEL_TITLES
from bntui.sweep import SweepFile, sweep_rows
from bntui.text import fmt
from bntui.widgets.chart import LineChart, Series
from bntui.widgets.inside import LAYER_COLORS, shared_range


def size_series(sweep: SweepFile, key: str, metric: str) -> list[Series]:
    """Model `key`'s validation `metric` per epoch, one line per batch size."""
    series = []
    for i, run in enumerate(sweep.runs):
        values = list(getattr(run.models[key].history, f"val_{metric}"))
        xs = [float(e + 1) for e in range(len(values))]
        series.append(
            Series(f"{run.spec.batch_size}", xs, values, LAYER_COLORS[i % len(LAYER_COLORS)])
        )
    return series


class SweepChart(Vertical):
    """One model's validation curves for all batch sizes."""

    DEFAULT_CSS = """
    SweepChart { border: round $primary; height: 1fr; width: 1fr; padding: 0 1; }
    SweepChart > Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(id=f"sweep-{key}")
        self.key = key
        self.border_title = MODEL_TITLES[key]

    def compose(self) -> ComposeResult:
        """The chart, then a legend of batch sizes."""
        yield LineChart(id=f"sweep-chart-{self.key}")
        yield Static(id=f"sweep-legend-{self.key}")

    def show(
        self,
        sweep: SweepFile,
        series: list[Series],
        y_range: tuple[float, float] | None,
        metric: str,
    ) -> None:
        """Draw the curves on the shared `y_range`."""
        chart = self.query_one(LineChart)
        chart.empty_message = "waiting for the first epoch…"
        epochs = max((run.spec.epochs for run in sweep.runs), default=1)
        chart.set_series(series, epochs, f"val {metric}", y_range=y_range)
        legend = Text("batch ", "dim")
        for s in series:
            legend.append("━", s.style)
            legend.append(f" {s.label}  ")
        self.query_one(Static).update(legend)
        self.border_subtitle = f"val {metric} per epoch"


class SweepTable(Static):
    """Per batch size: final and best validation accuracy, epochs to the target, speed."""

    def show(self, sweep: SweepFile) -> None:
        """Redraw from the sweep as recorded so far."""
        target = f"≥{sweep.target_accuracy:.0%}"
        table = Table(box=None, padding=(0, 1), expand=True)
        table.add_column("batch", justify="right")
        for column in ("plain", "best", "BN", "best", "BN−plain", target, f"BN {target}"):
            table.add_column(column, justify="right")
        table.add_column("s/epoch", justify="right")
        for row in sweep_rows(sweep):
            gap = row.gap
            speed = "/".join(fmt(row.epoch_s[k], 2) for k in ("plain", "bn"))
            table.add_row(
                str(row.batch_size),
                fmt(row.final["plain"]), fmt(row.best["plain"]),
                fmt(row.final["bn"]), fmt(row.best["bn"]),
                Text("—") if gap is None
                else Text(f"{gap * 100:+.2f}", "green" if gap >= 0 else "red"),
                _epoch(row.reached["plain"]), _epoch(row.reached["bn"]), speed,
            )  # fmt: skip
        caption = Text(
            f"validation accuracy, final and best; epoch reaching {sweep.target_accuracy:.0%};"
            " s/epoch plain/BN",
            "dim",
        )
        grid = Table.grid()
        grid.add_row(table)
        grid.add_row(caption)
        self.update(grid)


def _epoch(value: int | None) -> str:
    return "—" if value is None else f"ep {value}"


def sweep_range(
    sweep: SweepFile, metric: str
) -> tuple[list[Series], list[Series], tuple[float, float] | None]:
    """Both models' series and their shared y range."""
    plain, bn = size_series(sweep, "plain", metric), size_series(sweep, "bn", metric)
    return plain, bn, shared_range([plain, bn])
