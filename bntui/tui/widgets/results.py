"""After training: test loss/accuracy, confusion matrices, and sample predictions with images."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.core.spec import MISTAKES_KEPT, MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean, fmt
from bntui.record.runfile import Mistake, RunFile, TestResults
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
        self._color = True

    def on_resize(self) -> None:
        """What fits depends on the width: draw again."""
        if self._run is not None:
            self.show(self._run, self._seed, self._color)

    def show(self, run: RunFile, seed: int = 0, color: bool = True) -> None:
        """Redraw seed index `seed`'s matrix to fit the width: the diagonal (correct) bold,
        each mistake shaded by its count (`color`), else marked with a glyph of the scale."""
        self._run, self._seed, self._color = run, seed, color
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
        # One scale for both models' mistakes, so that their shades compare.
        largest = max(
            largest_mistake(m.test.confusion_matrix if m.test else [])
            for m in run.pair(seed).values()
        )
        text = confusion_text(test.confusion_matrix, names, width, title, color, largest)
        if self.key == MODEL_KEYS[-1]:  # the last matrix, just above the predictions
            text.append("\n\n")
            for line in textwrap.wrap(predictions_caption(run, seed), max(width, 20)):
                text.append(f"\n{line}", "dim")
        self.show_text(text)


# Mistakes by count, as a share of the largest off-diagonal count: four steps, each a
# background (colour) and a glyph after the number (NO_COLOR, where backgrounds may not show).
MISTAKE_SHADES = ("on #3b1c1c", "on #652222", "on #942a2a", "on #c83232")
MISTAKE_GLYPHS = ("·", "░", "▒", "█")


def mistake_level(value: int, largest: int) -> int:
    """Which of the four steps a mistake count is on (0: the fewest, 3: the most)."""
    return min(3, max(0, math.ceil(value / max(largest, 1) * 4) - 1))


def mistake_scale(largest: int, color: bool) -> Text:
    """The legend of the mistakes' shading: each step's range of counts."""
    text = Text("mistakes: ", "dim")
    low = 1
    for level in range(4):
        high = math.floor(largest * (level + 1) / 4)
        if high < low:
            continue
        counts = f"{low}" if high == low else f"{low}–{high}"
        if color:
            text.append(f" {counts} ", MISTAKE_SHADES[level])
        else:
            text.append(f"{MISTAKE_GLYPHS[level]} {counts}")
        text.append(" ")
        low = high + 1
    return text


def largest_mistake(matrix: list[list[int]]) -> int:
    """The largest off-diagonal count of a confusion matrix (0 if there is none)."""
    return max((v for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j), default=0)


def confusion_text(
    matrix: list[list[int]],
    names: list[str],
    width: int,
    title: str,
    color: bool = True,
    largest: int | None = None,
) -> Text:
    """The matrix in `width` columns: with class names when they fit, else numbered rows and
    a key below; columns that still do not fit are named as cut, never dropped silently.
    Mistakes are shaded by count (`color`) or followed by a glyph of the scale, on a scale
    up to `largest` (default: this matrix's largest mistake), and a legend under the matrix
    gives each step's counts."""
    n = len(matrix)
    glyph = 0 if color else 1
    cell = max([len(str(n - 1)), *(len(str(v)) for row in matrix for v in row)]) + 1 + glyph
    label = min(
        16,
        max(len(f"{i} {clean(names[i], 14)}") for i in range(min(n, len(names))))
        if names
        else len(str(n - 1)),
    )
    numbered = label + n * cell > width
    if numbered:
        label = len(str(n - 1))
    shown = max(1, min(n, (max(width, 10) - label) // cell))
    largest = largest_mistake(matrix) if largest is None else largest
    text = Text(no_wrap=True, overflow="crop")
    text.append(title + "\n", "bold")
    text.append(" " * label + "".join(str(j).rjust(cell) for j in range(shown)) + "\n", "dim")
    for i, row in enumerate(matrix):
        name = clean(names[i], 14) if i < len(names) and not numbered else ""
        text.append(f"{i} {name}".rstrip().ljust(label)[:label], "bold")
        for j, value in enumerate(row[:shown]):
            if i == j:
                text.append(f"{value}{' ' * glyph}".rjust(cell), "bold green")
            elif not value:
                text.append(f"{value}{' ' * glyph}".rjust(cell), "dim")
            else:
                level = mistake_level(value, largest)
                shown_value = f"{value}{MISTAKE_GLYPHS[level] if glyph else ''}"
                text.append(" " * (cell - len(shown_value)))
                text.append(shown_value, MISTAKE_SHADES[level] if color else "")
        text.append("\n")
    if largest:
        text.append_text(mistake_scale(largest, color))
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


PREDICTIONS_RULE = (
    "the {n} test images the run file records (the test set's first {n}), in this order: "
    "those one model gets wrong and the other right, then those both get wrong, then those "
    "both get right"
)
MISTAKES_RULE = (
    "of the test set's first {pool} images, those one model gets wrong and the other right, "
    "then those both get wrong, each in test order (each model's first {kept} mistakes there "
    "are recorded); then recorded images both get right, up to {n}"
)


@dataclass(frozen=True)
class Shown:
    """A test image on a card: where it is in the test set, its class and pixels, and each
    model's guess (class and its probability, if known; None: no prediction)."""

    index: int
    label: int
    image: list[list[int]]
    guesses: tuple[tuple[int, float | None] | None, ...]

    def right(self) -> list[bool | None]:
        """For each model, whether it got the image right (None: no prediction)."""
        return [None if g is None else g[0] == self.label for g in self.guesses]

    def group(self) -> int:
        """0: one model right and the other wrong; 1: both wrong; 2: the rest."""
        right = self.right()
        if set(right) == {True, False}:
            return 0
        return 1 if right == [False, False] else 2


def _tests(run: RunFile, seed: int) -> list[TestResults | None]:
    pair = run.pair(seed)
    return [pair[key].test for key in MODEL_KEYS]


def _recorded_samples(run: RunFile, seed: int) -> list[Shown]:
    """The sample images recorded before training, with each model's prediction."""
    data = run.dataset
    if data is None:
        return []
    tests = _tests(run, seed)
    shown = []
    for slot, index in enumerate(data.sample_indices):
        guesses: list[tuple[int, float | None] | None] = []
        for test in tests:
            preds = test.predictions if test else []
            if slot < len(preds):
                p = preds[slot]
                prob = p.probabilities[p.predicted] if p.predicted < len(p.probabilities) else None
                guesses.append((p.predicted, prob))
            else:
                guesses.append(None)
        shown.append(
            Shown(index, data.sample_labels[slot], data.sample_images[slot], tuple(guesses))
        )
    return shown


def pooled(run: RunFile, seed: int = 0) -> bool:
    """True when both models recorded their guesses on the test set's first images (schema
    4): the cards then show mistakes by `MISTAKES_RULE`."""
    return all(test is not None and test.pool_predicted for test in _tests(run, seed))


def _mistakes(run: RunFile, seed: int) -> list[Shown]:
    tests = [test for test in _tests(run, seed) if test is not None]
    found: dict[int, Mistake] = {}
    for test in tests:
        for mistake in test.mistakes:
            found.setdefault(mistake.index, mistake)
    shown = []
    for index, mistake in sorted(found.items()):
        guesses: list[tuple[int, float | None] | None] = []
        for test in tests:
            if index < len(test.pool_predicted):
                confidence = test.pool_confidence[index] if test.pool_confidence else None
                guesses.append((test.pool_predicted[index], confidence))
            else:
                guesses.append(None)
        shown.append(Shown(index, mistake.label, mistake.image, tuple(guesses)))
    return shown


def shown_samples(run: RunFile, seed: int = 0) -> list[Shown]:
    """The images the cards show, in order: by `MISTAKES_RULE` where the file recorded the
    models' guesses on the test set's first images (schema 4), else (an older file) the
    recorded samples by `PREDICTIONS_RULE`."""
    samples = _recorded_samples(run, seed)
    count = max(len(samples), MISTAKES_KEPT)
    if not pooled(run, seed):
        return sorted(samples, key=lambda s: (s.group(), s.index))
    chosen = sorted(_mistakes(run, seed), key=lambda s: (s.group(), s.index))[:count]
    taken = {s.index for s in chosen}
    rest = [s for s in samples if s.index not in taken]
    return chosen + rest[: count - len(chosen)]


def prediction_order(run: RunFile, seed: int = 0) -> list[int]:
    """The recorded sample images (indices into the run's samples) in the order an older
    file's cards show them: one model right and the other wrong first, then both wrong,
    then the rest (both right, or not predicted); each group in the test set's order."""
    samples = _recorded_samples(run, seed)
    return sorted(range(len(samples)), key=lambda slot: (samples[slot].group(), slot))


def predictions_caption(run: RunFile, seed: int = 0) -> str:
    """What the prediction cards below show, and how they were chosen."""
    shown = shown_samples(run, seed)
    if not shown:
        return "Predictions: this run recorded no sample images."
    apart = sum(1 for s in shown if s.group() == 0)
    both = sum(1 for s in shown if s.group() == 1)
    found = (
        f"{apart} of them {'tells' if apart == 1 else 'tell'} the models apart"
        if apart
        else "None of them tells the models apart"
    )
    found += f"; both models get {both} wrong." if both else "."
    if pooled(run, seed):
        test = _tests(run, seed)[0]
        pool = len(test.pool_predicted) if test else 0
        rule = MISTAKES_RULE.format(pool=pool, kept=MISTAKES_KEPT, n=len(shown))
    else:
        rule = PREDICTIONS_RULE.format(n=len(shown)) + " (this file predates recorded mistakes)"
    return f"Predictions below: {rule}. {found}"


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
        """Redraw the image and the predictions of seed index `seed`'s models for it: the
        card in place `slot` shows the image `shown_samples` puts there."""
        data = run.dataset
        shown = shown_samples(run, seed)
        if data is None or self.slot >= len(shown):
            self.display = False
            return
        self.display = True
        names = data.class_names
        sample = shown[self.slot]

        def name(i: int) -> str:
            return clean(names[i], 20) if 0 <= i < len(names) else str(i)

        text = render_image(sample.image, color)
        text.append(f"#{sample.index} true: {name(sample.label)}\n", "bold")
        for key, guess in zip(MODEL_KEYS, sample.guesses):
            if guess is None:
                text.append(f"{key:>5}: —\n", "dim")
                continue
            predicted, prob = guess
            ok = predicted == sample.label
            text.append(f"{key:>5}: {name(predicted)} {fmt(prob, 2)} ")
            text.append("✓" if ok else "✗", "green" if ok else "bold red")
            text.append("\n")
        self.update(text)
