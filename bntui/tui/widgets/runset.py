"""Several runs together (a sweep's batch sizes, or `bntui compare`): curves and a table.

Plain and BN get a chart each, on one shared scale, one line per run, aligned by epoch.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from bntui.core.spec import MODEL_TITLES
from bntui.core.text import fmt, fmt_signed
from bntui.stats.compare import RunSet, differences
from bntui.stats.figures import METRIC_BOUNDS, shared_range
from bntui.stats.runrows import RunRow, run_rows
from bntui.stats.seedcurves import mean_history
from bntui.stats.seedstats import plus_minus
from bntui.tui.widgets.chart import LineChart, Series
from bntui.tui.widgets.fit import numbers_table
from bntui.tui.widgets.inside import LAYER_COLORS, LAYER_GLYPHS
from bntui.tui.widgets.text_view import BuiltView, TextView

SEEDS_NOTE = (
    "with several seeds: the mean over the seeds; BN − plain ± half its paired 95% interval "
    "(?: the interval spans zero, so the sign is not settled)"
)


def run_series(runset: RunSet, key: str, metric: str) -> list[Series]:
    """Model `key`'s validation `metric` per epoch, one line per run (a run of several
    seeds: their mean)."""
    series = []
    for i, (label, run) in enumerate(zip(runset.labels, runset.runs)):
        values = mean_history(run, key, f"val_{metric}")
        xs = [float(e + 1) for e in range(len(values))]
        style, glyph = LAYER_COLORS[i % len(LAYER_COLORS)], LAYER_GLYPHS[i % len(LAYER_GLYPHS)]
        series.append(Series(label, xs, values, style, glyph=glyph))
    return series


class RunSetChart(Vertical):
    """One model's validation curves for every run of the set."""

    DEFAULT_CSS = """
    RunSetChart { border: round $primary; height: 1fr; width: 1fr; padding: 0 1; }
    RunSetChart > TextView { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(id=f"runs-{key}")
        self.key = key
        self.border_title = MODEL_TITLES[key]

    def compose(self) -> ComposeResult:
        """The chart, then a legend of the runs."""
        yield LineChart(id=f"runs-chart-{self.key}")
        yield TextView(id=f"runs-legend-{self.key}")

    def show(
        self,
        runset: RunSet,
        series: list[Series],
        y_range: tuple[float, float] | None,
        metric: str,
    ) -> None:
        """Draw the curves on the shared `y_range`."""
        chart = self.query_one(LineChart)
        chart.empty_message = "waiting for the first epoch…"
        epochs = max((run.spec.epochs for run in runset.runs), default=1)
        chart.show(series, epochs, f"val {metric}", y_range=y_range)
        legend = Text("batch " if runset.kind == "sweep" else "", "dim")
        for s in series:
            legend.append(f"━{s.glyph}", s.style)
            legend.append(f" {s.label}  ")
        self.query_one(TextView).show_text(legend)
        self.border_subtitle = f"val {metric} per epoch"


class RunSetTable(BuiltView):
    """A sweep: per batch size, final and best validation accuracy, epochs to the target,
    speed. A comparison: what differs between the runs, then the same figures."""

    def show(self, runset: RunSet) -> None:
        """Redraw from the runs as recorded so far."""
        progress = tuple(
            (
                id(r),
                *(
                    (m.status, len(m.history.column("loss")), m.test is None)
                    for entry in r.seeds
                    for m in entry.models.values()
                ),
            )
            for r in runset.runs
        )
        self.show_built(
            (progress, self.size.width),  # what fits depends on the width
            lambda: self._build(runset),
        )

    def _build(self, runset: RunSet) -> RenderableType:
        grid = Table.grid()
        if runset.kind == "compare":
            grid.add_row(_differences(runset))
        width = self.size.width or None
        grid.add_row(_figures(runset, run_rows(runset.runs, runset.target), width))
        if runset.target is not None:
            grid.add_row(
                Text(
                    f"validation accuracy, final and best; epoch reaching {runset.target:.0%};"
                    " s/epoch plain/BN (a vectorised run's: all its seeds at once)",
                    "dim",
                )
            )
        if any(len(run.seeds) > 1 for run in runset.runs):
            grid.add_row(Text(SEEDS_NOTE, "dim"))
        return grid


def _differences(runset: RunSet) -> Table | Text:
    diffs = differences(runset.runs)
    if not diffs:
        return Text("same spec and setup", "dim")
    table = Table(box=None, padding=(0, 1), title="What differs", title_justify="left")
    table.add_column("")
    names = runset.names or runset.labels
    for label, name in zip(runset.labels, names):
        table.add_column(Text(f"{label}: {name}"), overflow="fold")  # text, not markup
    for item, values in diffs:
        table.add_row(Text(item, "bold"), *(Text(v) for v in values))
    return table


def _figures(runset: RunSet, rows: list[RunRow], width: int | None = None) -> Table:
    sweep = runset.target is not None
    target = f"≥{runset.target:.0%}" if runset.target is not None else ""
    last = (f"plain {target}", f"BN {target}") if sweep else ("plain test", "BN test")
    columns = ("batch" if sweep else "run", "plain", "best", "BN", "best", "BN − plain", *last)
    cells: list[list[Text | str]] = []
    for label, row in zip(runset.labels, rows):
        speed = "/".join(fmt(row.epoch_s[k], 2) for k in ("plain", "bn"))
        tail = (
            (_epoch(row.reached["plain"]), _epoch(row.reached["bn"]))
            if sweep
            else (fmt(row.test["plain"]), fmt(row.test["bn"]))
        )
        cells.append(
            [
                label,
                fmt(row.final["plain"]),
                fmt(row.best["plain"]),
                fmt(row.final["bn"]),
                fmt(row.best["bn"]),
                _gap(row),
                *tail,
                speed,
            ]
        )
    # Too narrow for every figure: the best values give way before the final ones.
    return numbers_table("", (*columns, "s/epoch"), cells, width, gives_way=(4, 2))


def _gap(row: RunRow) -> Text:
    """BN − plain in points, with its interval over several seeds; green or red where the
    sign is clear (the whole interval on one side of zero, with several seeds)."""
    if row.gap is None:
        return Text("—")
    found = row.gap_interval
    if row.seeds > 1 and found is not None:
        clear = found.excludes_zero or not found.has_interval
        style = ("green" if found.mean >= 0 else "red") if clear else "yellow"
        # A mark, not only a colour: NO_COLOR terminals must see it too.
        mark = "" if clear else " ?"
        return Text(plus_minus(found, 1, 100.0, signed=True) + mark, style)
    return Text(fmt_signed(row.gap * 100), "green" if row.gap >= 0 else "red")


def _epoch(value: int | None) -> str:
    return "—" if value is None else f"ep {value}"


def runset_range(
    runset: RunSet, metric: str
) -> tuple[list[Series], list[Series], tuple[float, float] | None]:
    """Both models' series and their shared y range."""
    plain, bn = run_series(runset, "plain", metric), run_series(runset, "bn", metric)
    return plain, bn, shared_range([s.ys for s in plain + bn], METRIC_BOUNDS[f"val_{metric}"])
