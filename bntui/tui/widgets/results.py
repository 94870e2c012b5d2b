"""After training: test loss/accuracy, confusion matrices, and sample predictions with images."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean, fmt
from bntui.record.runfile import RunFile
from bntui.tui.widgets.text_view import BuiltView, TextView

RAMP = " .:-=+*#%@"


def render_image(pixels: list[list[int]], color: bool) -> Text:
    """Draw a greyscale image two pixel rows per line: half blocks, or a density ramp."""
    text = Text(no_wrap=True)
    for top, bottom in zip(pixels[0::2], pixels[1::2]):
        for a, b in zip(top, bottom):
            a, b = max(0, min(255, int(a))), max(0, min(255, int(b)))
            if color:
                text.append("▀", f"rgb({a},{a},{a}) on rgb({b},{b},{b})")
            else:
                text.append(RAMP[(a + b) * (len(RAMP) - 1) // 510])
        text.append("\n")
    return text


def seed_label(run: RunFile, seed: int) -> str:
    """Which seed is on show: `seed 43 (2 of 3)`."""
    return f"seed {run.seeds[seed].seed} ({seed + 1} of {len(run.seeds)})"


class TestTable(BuiltView):
    """Test loss and accuracy of both models."""

    def show(self, run: RunFile, seed: int = 0) -> None:
        """Redraw from the recorded test results of seed index `seed`."""
        pair = run.pair(seed)
        self.show_built(
            (id(run), seed, *((m.status, m.test is None) for m in pair.values())),
            lambda: self._build(run, seed),
        )

    def _build(self, run: RunFile, seed: int) -> RenderableType:
        title = "Test set"
        if len(run.seeds) > 1:
            title += f" · {seed_label(run, seed)} · ] next seed"
        table = Table(title=title, box=None, padding=(0, 2))
        for column in ("model", "status", "test loss", "test accuracy"):
            table.add_column(column, justify="left" if column in ("model", "status") else "right")
        for key in MODEL_KEYS:
            m = run.pair(seed)[key]
            table.add_row(
                MODEL_TITLES[key],
                clean(m.status),
                fmt(m.test.loss if m.test else None),
                fmt(m.test.accuracy if m.test else None),
            )
        return table


class ConfusionMatrix(TextView):
    """Confusion matrix of one model: rows are true classes, columns predicted."""

    def __init__(self, key: str) -> None:
        super().__init__(id=f"confusion-{key}")
        self.key = key
        self._run: RunFile | None = None
        self._seed = 0

    def on_resize(self) -> None:
        """What fits depends on the width: draw again."""
        if self._run is not None:
            self.show(self._run, self._seed)

    def show(self, run: RunFile, seed: int = 0) -> None:
        """Redraw seed index `seed`'s matrix to fit the width; the diagonal (correct) is
        highlighted."""
        self._run, self._seed = run, seed
        test = run.pair(seed)[self.key].test
        if test is None or not test.confusion_matrix:
            self.show_text(
                Text(f"{MODEL_TITLES[self.key]}: confusion matrix after training", "dim")
            )
            return
        names = run.dataset.class_names if run.dataset else []
        title = f"{MODEL_TITLES[self.key]} — true (rows) × predicted (columns)"
        if len(run.seeds) > 1:
            title += f" · seed {run.seeds[seed].seed}"
        # Before its first layout the widget has no width yet: assume the screen's.
        width = self.size.width or max(self.screen.size.width - 4, 10)
        self.show_text(confusion_text(test.confusion_matrix, names, width, title))


def confusion_text(matrix: list[list[int]], names: list[str], width: int, title: str) -> Text:
    """The matrix in `width` columns: with class names when they fit, else numbered rows and
    a key below; columns that still do not fit are named as cut, never dropped silently."""
    n = len(matrix)
    cell = max([len(str(n - 1)), *(len(str(v)) for row in matrix for v in row)]) + 1
    label = min(16, max(len(f"{i} {clean(names[i], 14)}") for i in range(min(n, len(names))))
                if names else len(str(n - 1)))  # fmt: skip
    numbered = label + n * cell > width
    if numbered:
        label = len(str(n - 1))
    shown = max(1, min(n, (max(width, 10) - label) // cell))
    text = Text(no_wrap=True, overflow="crop")
    text.append(title + "\n", "bold")
    text.append(" " * label + "".join(str(j).rjust(cell) for j in range(shown)) + "\n", "dim")
    for i, row in enumerate(matrix):
        name = clean(names[i], 14) if i < len(names) and not numbered else ""
        text.append(f"{i} {name}".rstrip().ljust(label)[:label], "bold")
        for j, value in enumerate(row[:shown]):
            style = "bold green" if i == j else ("red" if value else "dim")
            text.append(str(value).rjust(cell), style)
        text.append("\n")
    if numbered and names:
        line = "classes:"
        for i in range(min(n, len(names))):
            item = f" {i} {clean(names[i], 20)}"
            if len(line) + len(item) > width and line.strip():
                text.append(line + "\n", "dim")
                line = " " * 8
            line += item
        text.append(line + "\n", "dim")
    if shown < n:
        text.append(
            f"columns {shown}–{n - 1} do not fit in {width} columns: widen the terminal",
            "yellow",
        )
    text.rstrip()
    return text


class PredictionCard(Static):
    """One sample test image with the true label and each model's prediction."""

    DEFAULT_CSS = """
    PredictionCard {
        width: 30; height: auto; margin: 0 1 1 0; text-wrap: nowrap; text-overflow: clip;
    }
    """

    def __init__(self, slot: int) -> None:
        super().__init__(id=f"prediction-{slot}")
        self.slot = slot

    def show(self, run: RunFile, color: bool, seed: int = 0) -> None:
        """Redraw the image and the predictions of seed index `seed`'s models for it."""
        data = run.dataset
        if data is None or self.slot >= len(data.sample_images):
            self.display = False
            return
        self.display = True
        names = data.class_names
        label = data.sample_labels[self.slot]

        def name(i: int) -> str:
            return clean(names[i], 20) if 0 <= i < len(names) else str(i)

        text = render_image(data.sample_images[self.slot], color)
        text.append(f"#{data.sample_indices[self.slot]} true: {name(label)}\n", "bold")
        for key in MODEL_KEYS:
            test = run.pair(seed)[key].test
            preds = test.predictions if test else []
            if self.slot < len(preds):
                p = preds[self.slot]
                prob = p.probabilities[p.predicted] if p.predicted < len(p.probabilities) else None
                ok = p.predicted == p.label
                text.append(f"{key:>5}: {name(p.predicted)} {fmt(prob, 2)} ")
                text.append("✓" if ok else "✗", "green" if ok else "bold red")
                text.append("\n")
            else:
                text.append(f"{key:>5}: —\n", "dim")
        self.update(text)
