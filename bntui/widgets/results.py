"""After training: test loss/accuracy, confusion matrices, and sample predictions with images."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bntui.runfile import RunFile
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.text import clean, fmt

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


class TestTable(Static):
    """Test loss and accuracy of both models."""

    def show(self, run: RunFile) -> None:
        """Redraw from the recorded test results."""
        table = Table(title="Test set", box=None, padding=(0, 2))
        for column in ("model", "status", "test loss", "test accuracy"):
            table.add_column(column, justify="left" if column in ("model", "status") else "right")
        for key in MODEL_KEYS:
            m = run.models[key]
            table.add_row(
                MODEL_TITLES[key],
                clean(m.status),
                fmt(m.test.loss if m.test else None),
                fmt(m.test.accuracy if m.test else None),
            )
        self.update(table)


class ConfusionMatrix(Static):
    """Confusion matrix of one model: rows are true classes, columns predicted."""

    def __init__(self, key: str) -> None:
        super().__init__(id=f"confusion-{key}")
        self.key = key

    def show(self, run: RunFile) -> None:
        """Redraw; the diagonal (correct) is highlighted."""
        test = run.models[self.key].test
        if test is None or not test.confusion_matrix:
            self.update(Text(f"{MODEL_TITLES[self.key]}: confusion matrix after training", "dim"))
            return
        names = run.dataset.class_names if run.dataset else []
        table = Table(
            title=f"{MODEL_TITLES[self.key]} — true (rows) × predicted", box=None, padding=(0, 0)
        )
        table.add_column("", no_wrap=True, max_width=12)
        for j in range(len(test.confusion_matrix)):
            table.add_column(str(j), justify="right", min_width=5)
        for i, row in enumerate(test.confusion_matrix):
            label = f"{i} {clean(names[i], 9)}" if i < len(names) else str(i)
            table.add_row(
                Text(label),
                *[
                    Text(str(v), "bold green" if i == j else ("red" if v else "dim"))
                    for j, v in enumerate(row)
                ],
            )
        self.update(table)


class PredictionCard(Static):
    """One sample test image with the true label and each model's prediction."""

    DEFAULT_CSS = "PredictionCard { width: 30; height: auto; margin: 0 1 1 0; }"

    def __init__(self, slot: int) -> None:
        super().__init__(id=f"prediction-{slot}")
        self.slot = slot

    def show(self, run: RunFile, color: bool) -> None:
        """Redraw the image and the predictions recorded for it."""
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
            test = run.models[key].test
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
