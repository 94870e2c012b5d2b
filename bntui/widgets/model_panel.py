"""One model's live panel: status, progress with ETA, current and best metrics, and curves."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from bntui.runfile import RunFile
from bntui.spec import MODEL_TITLES
from bntui.stats import best, curve_positions, last, progress
from bntui.text import clean, fmt, fmt_count, fmt_duration
from bntui.widgets.chart import LineChart, Series
from bntui.widgets.text_view import TextView

STATUS_LABELS = {
    "pending": "○ starting",
    "running": "● training",
    "completed": "✓ done",
    "diverged": "✗ diverged",
    "interrupted": "■ interrupted",
    "failed": "✗ failed",
}


def progress_bar(fraction: float, width: int) -> Text:
    """A text progress bar of `width` cells."""
    filled = int(round(fraction * width))
    return Text("━" * filled, "green") + Text("━" * (width - filled), "grey30")


class ModelPanel(Vertical):
    """Shows model `key` (`plain` or `bn`) of a run."""

    DEFAULT_CSS = """
    ModelPanel { border: round $primary; height: 1fr; width: 1fr; padding: 0 1; }
    ModelPanel > TextView { height: auto; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(id=f"panel-{key}")
        self.key = key
        self.border_title = MODEL_TITLES[key]

    def compose(self) -> ComposeResult:
        """Stats text above, the curve chart below."""
        yield TextView(id=f"stats-{self.key}")
        yield LineChart(id=f"chart-{self.key}")

    def update_view(self, run: RunFile, metric: str, series_mode: str) -> None:
        """Re-read the record (call with the session lock held) and redraw."""
        record = run.models[self.key]
        subtitle = STATUS_LABELS.get(record.status, clean(record.status, 20))
        if self.border_subtitle != subtitle:  # setting it repaints the whole panel
            self.border_subtitle = subtitle
        self.set_class(record.status in ("failed", "diverged"), "-bad")
        prog = progress(run, self.key)
        h = record.history
        width = max(6, self.size.width - 4 - 24)
        lines = Text(no_wrap=True, overflow="ellipsis")
        lines.append_text(progress_bar(prog.fraction, width))
        lines.append(
            f" {prog.fraction:4.0%} ep {prog.epoch}/{prog.epochs} ETA {fmt_duration(prog.eta_s)}\n"
        )
        c = record.curve
        rows = (
            ("train", last(c.loss) if c.loss else last(h.loss),
             last(c.accuracy) if c.accuracy else last(h.accuracy)),
            ("val", last(h.val_loss), last(h.val_accuracy)),
            ("best", best(h.val_loss, False), best(h.val_accuracy, True)),
        )  # fmt: skip
        for name, loss, acc in rows:
            lines.append(f"{name:<6}", "bold")
            lines.append(f"loss {fmt(loss)}  acc {fmt(acc)}\n")
        lines.append(
            f"{fmt(prog.epoch_s, 2)}s/ep · {fmt_count(prog.samples_per_s)}/s"
            f" · {fmt_duration(prog.elapsed_s)}",
            "dim",
        )
        stopped = [n for n in record.notes if n.what == "early_stopping"]
        saved = [n for n in record.notes if n.what == "checkpoint"]
        if stopped:
            lines.append(f"\n⏹ early stop after ep {stopped[-1].epoch + 1}", "yellow")
        if saved:
            lines.append(f"\n✓ checkpoint ep {saved[-1].epoch + 1} ({len(saved)} saved)", "dim")
        if record.error:
            lines.append("\n" + clean(record.error, 300), "bold red")
        self.query_one(TextView).show_text(lines)
        shown = {"both": "⠤train •val", "train": "⠤train", "val": "•val"}[series_mode]
        name = "acc" if metric == "accuracy" else "loss"
        self.query_one(LineChart).set_series(
            self._series(run, metric, series_mode), run.spec.epochs, f"{name} {shown}"
        )

    def _series(self, run: RunFile, metric: str, series_mode: str) -> list[Series]:
        record = run.models[self.key]
        c, h = record.curve, record.history
        n = min(len(c.t), len(c.epoch), len(c.step), len(c.steps), len(getattr(c, metric)))
        series = []
        if series_mode in ("both", "train"):
            xs = curve_positions(c)[:n]
            series.append(Series("train", xs, list(getattr(c, metric)[:n]), "cyan"))
        if series_mode in ("both", "val"):
            values = list(getattr(h, f"val_{metric}"))
            xs = [float(i + 1) for i in range(len(values))]
            series.append(Series("val", xs, values, "yellow", markers=series_mode == "both"))
        return series
