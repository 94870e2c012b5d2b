"""Text panels: the top status line, the BN − plain comparison, and model summaries."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from bntui.core.spec import MODEL_TITLES
from bntui.core.text import clean, fmt_duration, fmt_signed
from bntui.record.runfile import RunFile
from bntui.stats.figures import bn_gap, common_epochs, failures, test_gap
from bntui.stats.seedstats import Comparison, brief, comparisons, finished_epochs, seeds_text
from bntui.tui.widgets.fit import fit_or_mark, flowed
from bntui.tui.widgets.text_view import BuiltView, RunTextView, TextView


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
        # The experiment's details go whole, the last first, where the line is narrow: a
        # number cut short ("batch 3…" for batch 32) would misread.
        forms: list[list[Text | str]] = [[text]]
        forms += [[f" · {part}", ""] for part in experiment_parts(run)]
        width = self.size.width - 2  # the padding
        if width <= 0:  # not laid out yet: everything, the next redraw fits it
            width = 10_000
        self.show_text(fit_or_mark(forms, list(range(len(forms) - 1, 0, -1)), width))


def experiment_parts(run: RunFile) -> list[str]:
    """The experiment in a few words: data (and any --limit), optimizer, batch, epochs."""
    spec = run.spec
    data = f"{spec.dataset}"
    if spec.limit:
        data += f" (first {spec.limit:,} images)"
    return [
        data,
        f"{spec.optimizer} lr {spec.learning_rate:g}",
        f"batch {spec.batch_size}",
        f"{spec.epochs} ep",
    ]


class ExperimentPanel(RunTextView):
    """The experiment whole, on as many lines as the width needs: the status line gives its
    details up where the terminal is narrow."""

    DEFAULT_CSS = "ExperimentPanel { padding: 0 1; margin-bottom: 1; }"

    def text_for(self, run: RunFile, width: int) -> Text:
        """The experiment's parts, its seeds and backend, flowed over `width` columns."""
        parts = [
            *experiment_parts(run),
            seeds_text(run.spec),
            f"backend {clean(run.spec.backend, 20)}",
        ]
        text = flowed("Experiment  ", parts, width)
        text.rstrip()
        return text


class GapLine(TextView):
    """What BN changes, right now: validation accuracy, test accuracy at the end, validation
    loss, BN − plain. Where the line is narrow the words give way before the digits (the
    interval's wording moves into the head, the test and validation accuracy share a
    label); what still does not fit is left out, and an ellipsis says so."""

    DEFAULT_CSS = "GapLine { height: 1; padding: 0 1; }"

    def show(self, run: RunFile) -> None:
        """Redraw the comparison from the latest epoch both models reached; over several
        seeds, each figure with its paired 95% interval (`bntui.stats.seedstats`)."""
        acc, loss = bn_gap(run, "val_accuracy"), bn_gap(run, "val_loss")
        head = Text("BN − plain ", "bold")
        several = len(run.seeds) > 1
        if several and finished_epochs(run) > 0:
            self.show_text(self._seeds_line(run))
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
        epoch = common_epochs(run)
        heads: list[Text | str] = [head + f"at ep {epoch}: ", head + f"ep {epoch}: "]
        val = _signed("val acc ", acc * 100, " pts", acc >= 0)
        accuracy: list[Text | str] = [val]
        test = test_gap(run)
        if test is not None:
            apart = val + Text(" · ") + _signed("test acc ", test * 100, " pts", test >= 0)
            both = Text("val/test acc ")
            both.append(fmt_signed(acc * 100), "green" if acc >= 0 else "red")
            both.append("/")
            both.append(fmt_signed(test * 100), "green" if test >= 0 else "red")
            both.append(" pts")
            accuracy = [apart, both, val]
        loss_part: list[Text | str] = [
            Text(" · ") + _signed("val loss ", loss, "", loss <= 0, digits=3),
            "",
        ]
        note: list[Text | str] = [
            Text(" · one seed: no interval can be given", "dim"),
            Text(" · one seed, no CI", "dim"),
            Text(" · n=1, no CI", "dim"),
            "",
        ]
        forms = [heads, accuracy, loss_part, note]
        # The note shortens first, then the head, then the accuracies share a label; only
        # then does the note go, then the loss, then the test accuracy.
        self.show_text(fit_or_mark(forms, [(3, 2), 0, (1, 1), 3, 2, 1], self._width()))

    def _seeds_line(self, run: RunFile) -> Text:
        """Over several seeds: each figure with its interval, the interval's wording in
        each part where the line is wide, else once in the head."""
        epoch, found = finished_epochs(run), comparisons(run)
        head = Text("BN − plain ", "bold")
        wide = head + f"at ep {epoch}: " + Text(" · ").join(_brief(c) for c in found)
        if wide.cell_len <= self._width():
            return wide
        seeds = len(run.seeds)
        heads = [
            head + f"at ep {epoch}, 95% CI paired over {seeds} seeds: ",
            head + f"ep {epoch} (95% CI, {seeds} seeds): ",
            head + f"ep {epoch}, 95% CI: ",
        ]
        parts = [_brief(comparison, tight=True, interval_only=True) for comparison in found]
        # As many figures as fit, each whole; then the longest head that still fits.
        for kept in range(len(parts), 0, -1):
            room = self._width() - (2 if kept < len(parts) else 0)
            for form in heads:
                line = form + Text(" · ").join(parts[:kept])
                if line.cell_len <= room or (kept == 1 and form is heads[-1]):
                    return line + Text(" …", "dim") if kept < len(parts) else line
        return heads[-1]

    def _width(self) -> int:
        return max(self.size.width, 20)


def _brief(comparison: Comparison, tight: bool = False, interval_only: bool = False) -> Text:
    """One comparison over the seeds; its mean green or red where the interval says BN
    helps or hurts, plain where the interval includes no difference. `tight`: the
    interval's ends closed up (`+4.3…+25.6`); `interval_only`: the interval's wording left
    to the line's head (`val acc +3.2 pts (+3.0…+3.5)`)."""
    words = brief(comparison, compact=interval_only)
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
