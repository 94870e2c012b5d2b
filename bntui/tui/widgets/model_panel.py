"""One model's live panel: status, progress with ETA, current and best metrics, and curves."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from bntui.core.metrics import step_metric
from bntui.core.spec import MODEL_TITLES
from bntui.core.text import clean, fmt, fmt_count, fmt_duration
from bntui.record.runfile import ModelRun, RunFile
from bntui.stats.figures import (
    METRIC_BOUNDS,
    best,
    curve_positions,
    interval_curve,
    last,
    progress,
    robust_range,
    samples_per_s,
    seeds_at_once,
    train_size,
)
from bntui.tui.widgets.chart import LineChart, Series
from bntui.tui.widgets.fit import fit_line
from bntui.tui.widgets.seed_curves import seed_series
from bntui.tui.widgets.text_view import TextView

STATUS_LABELS = {
    "pending": "○ starting",
    "running": "● training",
    "completed": "✓ done",
    "diverged": "✗ diverged",
    "interrupted": "■ interrupted",
    "failed": "✗ failed",
}


# What a chart with no points yet says, by the model's status.
EMPTY_CHART = {
    "pending": "starting: importing Keras, loading data…",
    "running": "compiling the first training steps…",
    "failed": "no training curve: the model failed before its first steps",
    "diverged": "no training curve: the loss diverged at once",
    "interrupted": "no training curve: stopped before the first steps",
    "completed": "no training curve recorded",
}


def progress_bar(fraction: float, width: int) -> Text:
    """A text progress bar of `width` cells."""
    filled = int(round(fraction * width))
    # Two glyphs, not two colours: the bar reads the same under NO_COLOR.
    return Text("━" * filled, "green") + Text("─" * (width - filled), "grey50")


class ModelPanel(Vertical):
    """Shows model `key` (`plain` or `bn`) of a run."""

    DEFAULT_CSS = """
    ModelPanel { border: round $primary; height: 1fr; width: 1fr; padding: 0 1; }
    ModelPanel > TextView { height: auto; }
    ModelPanel > .seeds { display: none; }
    ModelPanel > .seeds.-shown { display: block; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(id=f"panel-{key}")
        self.key = key
        self.border_title = MODEL_TITLES[key]

    def compose(self) -> ComposeResult:
        """Stats text above, the curve chart below."""
        yield TextView(id=f"stats-{self.key}")
        yield TextView(id=f"seeds-{self.key}", classes="seeds")
        yield LineChart(id=f"chart-{self.key}")

    def show(
        self,
        run: RunFile,
        series: list[Series],
        y_range: tuple[float, float] | None,
        legend: str,
        seeds: Text | None = None,
        live: bool = True,
    ) -> None:
        """Redraw from `run`, the dashboard's own record (no lock: the reader thread never
        writes it); the chart shows `series` on `y_range`, the range both models' charts
        share, and `seeds` (what it shows of several seeds) is the line above it. A replay
        (`not live`) imports no Keras and loads no data: its empty chart says what it waits
        for."""
        record = run.models[self.key]
        title = MODEL_TITLES[self.key]
        if len(run.seeds) > 1:  # the chart is every seed's; the figures above it are not
            title += f" · figures: seed {run.seeds[0].seed}"
        if self.border_title != title:
            self.border_title = title
        subtitle = STATUS_LABELS.get(record.status, clean(record.status, 20))
        if record.status == "running" and not record.curve.t:
            subtitle = "● compiling"
        if self.border_subtitle != subtitle:  # setting it repaints the whole panel
            self.border_subtitle = subtitle
        self.set_class(record.status in ("failed", "diverged"), "-bad")
        self.query_one(f"#stats-{self.key}", TextView).show_text(self._numbers(run))
        line = self.query_one(f"#seeds-{self.key}", TextView)
        line.set_class(seeds is not None, "-shown")
        if seeds is not None:
            line.show_text(seeds)
        chart = self.query_one(LineChart)
        chart.empty_message = EMPTY_CHART.get(record.status, "")
        if not live and record.status in ("pending", "running"):
            chart.empty_message = "replay: waiting for the first recorded training steps…"
        if record.curve.t:  # points, but none with this metric: a file from before it existed
            chart.empty_message = f"no {legend.split()[0]} in this run's file"
        chart.show(series, run.spec.epochs, legend, y_range=y_range)

    def _numbers(self, run: RunFile) -> Text:
        record = run.models[self.key]
        prog = progress(run, self.key)
        # Before its first layout the panel has no width yet: half the screen's.
        width = max(10, self.size.width or self.screen.size.width // 2 - 4)
        lines = Text(no_wrap=True, overflow="ellipsis")
        if record.status in ("pending", "running"):
            when = f"ETA {fmt_duration(prog.eta_s)}"
        elif record.status == "completed":
            when = f"in {fmt_duration(prog.elapsed_s)}"
        else:
            when = f"{record.status} at {fmt_duration(prog.elapsed_s)}"
        rest = f" {prog.fraction:4.0%} ep {prog.epoch}/{prog.epochs} {when}"
        # The bar gives way first: the numbers after it are what is read.
        lines.append_text(progress_bar(prog.fraction, max(0, width - len(rest))))
        lines.append(rest.lstrip() if width <= len(rest) else rest)
        lines.append("\n")
        lines.append_text(metric_rows(record, width))
        lines.append("\n")
        lines.append_text(speed_line(run, self.key, width))
        stopped = [n for n in record.notes if n.what == "early_stopping"]
        saved = [n for n in record.notes if n.what == "checkpoint"]
        if stopped:
            lines.append(f"\n⏹ early stop after ep {stopped[-1].epoch + 1}", "yellow")
        if saved:
            lines.append(f"\n✓ checkpoint ep {saved[-1].epoch + 1} ({len(saved)} saved)", "dim")
        if record.status in ("failed", "diverged"):
            # The reason may be cut at this width: the key that shows it whole comes first.
            whole = " (l: whole)" if record.error else ""
            why = f": {clean(record.error, 300)}" if record.error else ""
            lines.append(f"\n✗ {record.status}{whole}{why}", "bold red")
        elif record.error:
            lines.append(f"\n{clean(record.error, 300)}", "bold red")
        return lines


def metric_rows(record: ModelRun, width: int) -> Text:
    """Loss and accuracy, latest training, latest validation, and best validation, under a
    header naming the columns (so the digits fit 60 columns). The best loss and the best
    accuracy may come from different epochs: the row says which."""
    h, c = record.history, record.curve
    losses, accuracies = h.column("val_loss"), h.column("val_accuracy")
    best_loss, best_acc = best(losses, False), best(accuracies, True)
    rows = (
        (
            "train",
            last(c.column("loss")) if c.column("loss") else last(h.column("loss")),
            last(c.column("accuracy")) if c.column("accuracy") else last(h.column("accuracy")),
        ),
        ("val", last(losses), last(accuracies)),
        ("best", best_loss, best_acc),
    )
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{'':<6}{'loss':<8}acc\n", "dim")
    for name, loss, acc in rows:
        text.append(f"{name:<6}", "bold")
        line = f"{fmt(loss):<8}{fmt(acc)}"
        if name != "best" or best_loss is None or best_acc is None:
            text.append(line + "\n")
            continue
        at = (losses.index(best_loss) + 1, accuracies.index(best_acc) + 1)
        epochs = f"ep {at[0]}" if at[0] == at[1] else f"ep {at[0]} · ep {at[1]}"
        short = f"ep {at[0]}" if at[0] == at[1] else f"ep {at[0]}·{at[1]}"
        text.append_text(fit_line([[line], ["  " + epochs, "  " + short, ""]], [1], width - 6))
    text.rstrip()
    return text


def speed_line(run: RunFile, key: str, width: int) -> Text:
    """Seconds per epoch (the first, compiling, apart), images per second, and how many
    seeds one epoch trains; in a narrow panel the seeds' words give way first, then the
    images per second (which the seconds per epoch imply), then the first epoch's time."""
    times = progress(run, key).times
    first: list[str] = [""]
    if times.steady_s is not None:
        first = [f" (1st {fmt(times.first_s, 2)})", ""]
    elif times.first_s is not None:
        first = [" (1st)", ""]  # the first epoch alone: it also compiled
    together = seeds_at_once(run)
    seeds = [f" · {together} seeds at once", f" · ×{together} seeds", ""] if together > 1 else [""]
    speed = fmt_count(samples_per_s(run, key))
    line = fit_line(
        [[f"s/ep {fmt(times.per_epoch_s, 2)}"], first, seeds, [f" · {speed} img/s", ""]],
        [(2, 1), 3, 2, 1],
        width,
    )
    line.stylize("dim")
    return line


def training_series(
    run: RunFile, key: str, metric: str, series_mode: str, each_seed: bool = False
) -> list[Series]:
    """Model `key`'s plotted curves for per-step `metric`: the training curve (a running
    mean as interval means, see `bntui.stats.figures.interval_curve`; a point value as it is)
    and the declared validation metric at each epoch's end. A run of several seeds shows
    their mean and band, or with `each_seed` each seed (`bntui.tui.widgets.seed_curves`)."""
    if len(run.seeds) > 1:
        return seed_series(run, key, metric, series_mode, each_seed)
    record, declared = run.models[key], step_metric(metric)
    series = []
    if series_mode in ("both", "train"):
        if declared.how == "running_mean":
            size = train_size(run)
            xs, ys = interval_curve(record.curve, metric, run.spec.batch_size, size)
        else:
            xs, ys = curve_positions(record.curve), list(record.curve.column(metric))
        series.append(Series("train", xs, ys, "cyan"))
    if series_mode in ("both", "val") and declared.validation:
        values = list(record.history.column(declared.validation))
        xs = [float(i + 1) for i in range(len(values))]
        series.append(Series("val", xs, values, "yellow", markers=series_mode == "both"))
    return series


def training_range(series: list[list[Series]], metric: str) -> tuple[float, float] | None:
    """One y range for both models' charts: the training curves' robust range
    (`bntui.stats.figures.robust_range`) and every validation value, bands included."""
    lines = [s for group in series for s in group]
    curves = [s.values() for s in lines if not s.markers and s.label.startswith("train")]
    points = [s.values() for s in lines if s.label.startswith("val")]
    return robust_range(curves, points, METRIC_BOUNDS[metric])


def training_legend(metric: str, series_mode: str) -> str:
    """The chart's legend: which metric, which curves."""
    declared = step_metric(metric)
    if not declared.validation:
        return f"{declared.title} train"
    shown = {"both": "⠤train •val", "train": "⠤train", "val": "⠤val"}[series_mode]
    return f"{declared.title} {shown}"
