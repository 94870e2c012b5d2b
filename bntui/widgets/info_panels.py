"""Text panels: the top status line, the BN − plain comparison, and model summaries."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.runfile import RunFile
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.stats import bn_gap
from bntui.text import clean, fmt_duration
from bntui.widgets.text_view import TextView


class StatusLine(TextView):
    """One line: the experiment, the mode (live, replay, paused), elapsed time, the file."""

    DEFAULT_CSS = "StatusLine { height: 1; background: $panel; padding: 0 1; }"

    def show(self, run: RunFile, mode: str, note: str = "") -> None:
        """Redraw from the run and the app's mode word."""
        spec = run.spec
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {mode} ", "reverse bold")
        if note:  # e.g. where the run was saved: more useful than the spec once it is done
            text.append(f" {note} ·", "bold")
        text.append(
            f" {spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g} · batch "
            f"{spec.batch_size} · {spec.epochs} ep"
        )
        if spec.limit:
            text.append(f" · limit {spec.limit:,}")
        text.append(f" · {fmt_duration(run.duration_s)}")
        self.show_text(text)


class GapLine(TextView):
    """What BN changes, right now: validation accuracy and loss, BN − plain."""

    DEFAULT_CSS = "GapLine { height: 1; padding: 0 1; }"

    def show(self, run: RunFile) -> None:
        """Redraw the comparison from the latest epoch both models reached."""
        acc, loss = bn_gap(run, "val_accuracy"), bn_gap(run, "val_loss")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("BN − plain ", "bold")
        if acc is None or loss is None:
            text.append("after the first epoch of both models", "dim")
        else:
            epochs = min(len(run.models[k].history.val_loss) for k in MODEL_KEYS)
            text.append(f"at epoch {epochs}: val acc ")
            text.append(f"{acc * 100:+.2f} pts", "green" if acc >= 0 else "red")
            text.append("  val loss ")
            text.append(f"{loss:+.4f}", "green" if loss <= 0 else "red")
        tests = [run.models[k].test for k in MODEL_KEYS]
        if all(t and t.accuracy is not None for t in tests):
            diff = tests[1].accuracy - tests[0].accuracy  # type: ignore[union-attr, operator]
            text.append(f"  test acc {diff * 100:+.2f} pts")
        self.show_text(text)


class SummaryPanel(Static):
    """`model.summary()` for one model: layers, output shapes, parameters."""

    def __init__(self, key: str) -> None:
        super().__init__(id=f"summary-{key}")
        self.key = key

    def show(self, run: RunFile) -> None:
        """Redraw from the model's recorded summary."""
        summary = run.models[self.key].summary
        if summary is None:
            self.update(Text(f"{MODEL_TITLES[self.key]}: waiting for the model…", "dim"))
            return
        table = Table(title=MODEL_TITLES[self.key], expand=True, box=None, padding=(0, 1))
        table.add_column("Layer (type)", overflow="fold")
        table.add_column("Output", no_wrap=True)
        table.add_column("Params", justify="right")
        table.add_column("Trainable", justify="right")
        for layer in summary.layers:
            table.add_row(
                Text(f"{clean(layer.name, 40)} ({clean(layer.type, 30)})"),
                Text(clean(layer.output_shape, 30)),
                f"{layer.params:,}",
                f"{layer.trainable_params:,}",
            )
        table.caption = (
            f"Total {summary.total_params:,} · trainable {summary.trainable_params:,} · "
            f"non-trainable {summary.non_trainable_params:,}"
            + (" (BN moving mean/variance)" if summary.non_trainable_params else "")
        )
        self.update(table)
