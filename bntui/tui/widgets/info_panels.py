"""Text panels: the top status line, the BN − plain comparison, and model summaries."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from bntui.core.spec import MODEL_TITLES
from bntui.core.text import clean, fmt_duration, fmt_signed
from bntui.record.runfile import RunFile
from bntui.stats.figures import bn_gap, common_epochs, failures, test_gap
from bntui.stats.seedstats import Comparison, brief, comparisons, finished_epochs
from bntui.tui.widgets.text_view import BuiltView, TextView


class StatusLine(TextView):
    """One line: the state (live, replay, paused, failed), elapsed time, the run file, a
    passing message, then the experiment. What matters most comes first, so a narrow
    terminal cuts only the experiment's details."""

    DEFAULT_CSS = "StatusLine { height: 1; background: $panel; padding: 0 1; }"

    def show(
        self, run: RunFile, mode: str, path: str = "", message: str = "", label: str = ""
    ) -> None:
        """Redraw from the run, the mode word (FAILED shows as a red badge), the file's
        path, a passing message (shown instead of the path) and a label for the run on show
        (a sweep's batch size)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        failed = failures(run)
        if mode != "FAILED":
            text.append(f" {mode} ", "reverse bold")
            text.append(" ")
        if failed:
            who = "both models" if len(failed) == 2 else MODEL_TITLES[failed[0][0]]
            text.append(" FAILED ", "reverse bold red")
            text.append(f" {who} ", "bold red")
        text.append(fmt_duration(run.duration_s))
        if len(run.seeds) > 1:
            text.append(f" · {len(run.seeds)} seeds", "bold")
        if label:
            text.append(f" · {label}", "bold")
        if message:
            text.append(f" · {clean(message, 300)}", "bold yellow")
        else:
            if failed:  # why, as far as the width allows (the panels show it whole)
                reasons = dict.fromkeys(clean(why, 300) for _, why in failed)
                text.append(f" · {' / '.join(reasons)}", "red")
            if path:
                text.append(f" · {clean(path, 200)}", "bold")
        text.append(f" · {experiment_line(run)}")
        self.show_text(text)


def experiment_line(run: RunFile) -> str:
    """The experiment in a few words: data (and any --limit), optimizer, batch, epochs."""
    spec = run.spec
    data = f"{spec.dataset}"
    if spec.limit:
        data += f" (first {spec.limit:,} images)"
    return (
        f"{data} · {spec.optimizer} lr {spec.learning_rate:g} · batch {spec.batch_size} · "
        f"{spec.epochs} ep"
    )


class GapLine(TextView):
    """What BN changes, right now: validation accuracy and loss, BN − plain; test accuracy
    at the end. Parts that do not fit the width are left out, and an ellipsis says so."""

    DEFAULT_CSS = "GapLine { height: 1; padding: 0 1; }"

    def show(self, run: RunFile) -> None:
        """Redraw the comparison from the latest epoch both models reached; over several
        seeds, each figure with its paired 95% interval (`bntui.stats.seedstats`)."""
        acc, loss = bn_gap(run, "val_accuracy"), bn_gap(run, "val_loss")
        head = Text("BN − plain ", "bold")
        several = len(run.seeds) > 1
        if several and finished_epochs(run) > 0:
            found = comparisons(run)
            head.append(f"at ep {finished_epochs(run)}: ")
            parts = [_brief(c) for c in found]
            if len(head) + len(parts[0]) > self._width():
                # The interval matters more than spacing: a tighter head and range first.
                head = Text("BN − plain ", "bold") + f"ep {finished_epochs(run)}: "
                parts = [_brief(c, tight=True) for c in found]
            self._fit(head, parts)
            return
        if acc is None or loss is None or several:
            failed = failures(run)
            if failed and common_epochs(run) == 0:
                who = " and ".join(MODEL_TITLES[key] for key, _ in failed)
                head.append(f"nothing to compare: {who} failed", "dim")
            else:
                every = "every seed of both models" if several else "both models"
                head.append(f"after the first epoch of {every}", "dim")
            self.show_text(head)
            return
        head.append(f"at ep {common_epochs(run)}: ")
        parts = [_signed("val acc ", acc * 100, " pts", acc >= 0)]
        test = test_gap(run)
        if test is not None:
            parts.append(_signed("test acc ", test * 100, " pts", test >= 0))
        # Said before the loss: that one seed's difference has no interval matters more;
        # in few words where the whole sentence does not fit.
        loss_part = _signed("val loss ", loss, "", loss <= 0, digits=3)
        note = Text("one seed: no interval can be given", "dim")
        if self._kept(head, [*parts, note, loss_part]) <= len(parts):
            note = Text("no CI (n=1)", "dim")
        self._fit(head, [*parts, note, loss_part])

    def _width(self) -> int:
        return max(self.size.width - 2, 20)

    def _kept(self, head: Text, parts: list[Text]) -> int:
        """How many of `parts` (from the first) fit the width after `head`."""
        width = self._width()

        def length(n: int) -> int:
            cut = 2 if n < len(parts) else 0  # room for " …"
            return len(head) + sum(len(p) for p in parts[:n]) + 3 * (n - 1) + cut

        kept = len(parts)
        while kept > 1 and length(kept) > width:
            kept -= 1  # the least needed goes first
        return kept

    def _fit(self, head: Text, parts: list[Text]) -> None:
        kept = self._kept(head, parts)
        text = head + Text(" · ").join(parts[:kept])
        if kept < len(parts):
            text.append(" …", "dim")
        self.show_text(text)


def _brief(comparison: Comparison, tight: bool = False) -> Text:
    """One comparison over the seeds; its mean green or red where the interval says BN
    helps or hurts, plain where the interval includes no difference. `tight`: the
    interval's ends closed up (`+4.3…+25.6`)."""
    words = brief(comparison)
    text = Text(words.replace(" … ", "…") if tight else words)
    found = comparison.interval
    if found is not None and found.excludes_zero:
        higher_is_better = comparison.label.startswith(("val acc", "test acc"))
        good = (found.mean > 0) == higher_is_better
        label = comparison.label.split(" at epoch ")[0]
        start = len(label) + 1
        end = start + len(comparison.number(found.mean))
        text.stylize("green" if good else "red", start, end)
    return text


def _signed(name: str, value: float, unit: str, good: bool, digits: int = 2) -> Text:
    text = Text(name)
    text.append(f"{fmt_signed(value, digits)}{unit}", "green" if good else "red")
    return text


class SummaryPanel(BuiltView):
    """`model.summary()` for one model: layers, output shapes, parameters."""

    def __init__(self, key: str) -> None:
        super().__init__(id=f"summary-{key}")
        self.key = key

    def show(self, run: RunFile) -> None:
        """Redraw from the model's recorded summary."""
        self.show_built(
            (id(run), run.models[self.key].status, run.models[self.key].summary is None),
            lambda: self._build(run),
        )

    def _build(self, run: RunFile) -> RenderableType:
        summary = run.models[self.key].summary
        if summary is None:
            waiting = run.models[self.key].status in ("pending", "running")
            why = "waiting for the model…" if waiting else "the model was never built"
            return Text(f"{MODEL_TITLES[self.key]}: {why}", "dim")
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
        return table
