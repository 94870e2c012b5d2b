"""Export a run or sweep for a report: CSV tables and an SVG picture of the curves.

No Textual, no Keras, no plotting library: the SVG is written by hand, so export works
wherever replay does. A file from anyone exports to files that are safe to open: its text
is cleaned (`clean`), escaped for XML in the SVG (always well-formed, no script), and CSV
text cells that a spreadsheet would run as a formula are quoted with `'` (OWASP's advice
for CSV injection). Everything is rendered in memory first, then written all or none.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from xml.sax.saxutils import escape

from bntui.figures import (
    METRIC_BOUNDS,
    curve_positions,
    interval_curve,
    robust_range,
    shared_range,
    train_size,
)
from bntui.files import write_atomic
from bntui.metrics import EPOCH_METRICS, STEP_METRICS
from bntui.runfile import RunFile
from bntui.spec import MODEL_KEYS, MODEL_TITLES
from bntui.sweep import SweepFile
from bntui.text import clean

COLORS = {"plain": "#1f77b4", "bn": "#d62728"}
SIZE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 forbids that `clean` leaves alone (it already marks C0 and surrogates).
NOT_XML = re.compile("[\ufffe\uffff]")


def csv_cell(value: object) -> object:
    """A CSV cell: numbers as they are, text cleaned and, if a spreadsheet would take it for
    a formula, prefixed with `'` (a negative number stays a number)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    text = clean(value, None)
    return "'" + text if text.startswith(FORMULA_START) else text


def svg_text(value: object) -> str:
    """Text for an SVG element: cleaned, stripped of what XML forbids, escaped."""
    return escape(NOT_XML.sub("\ufffd", clean(value, 200)))


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def history_csv(runs: list[RunFile]) -> str:
    """Each model's per-epoch history (`bntui.metrics.EPOCH_METRICS`: Keras' History plus
    the epoch's time), one row per model-epoch."""
    names = [m.name for m in EPOCH_METRICS]
    rows: list[list[object]] = []
    for run in runs:
        for key in MODEL_KEYS:
            h = run.models[key].history
            columns = [h.column(name) for name in names]
            for epoch in range(len(columns[0])):
                rows.append([run.spec.batch_size, key, epoch + 1, *(c[epoch] for c in columns)])
    return _csv(["batch_size", "model", "epoch", *names], rows)


def curve_csv(runs: list[RunFile]) -> str:
    """The intra-epoch training curves, one row per curve point: each of
    `bntui.metrics.STEP_METRICS` as recorded (Keras' running means since the epoch began,
    values at the point), and for running means the mean over the interval since the
    previous point (`interval_loss`, …: what the dashboard plots)."""
    means = [m.name for m in STEP_METRICS if m.how == "running_mean"]
    rows: list[list[object]] = []
    for run in runs:
        size = train_size(run)
        for key in MODEL_KEYS:
            c = run.models[key].curve
            columns = [c.column(m.name) for m in STEP_METRICS]
            intervals = [interval_curve(c, name, run.spec.batch_size, size)[1] for name in means]
            if any(len(values) != len(c.t) for values in intervals):  # repeated points
                intervals = [[None] * len(c.t) for _ in means]
            positions = curve_positions(c)
            for i, t in enumerate(c.t):
                rows.append(
                    [run.spec.batch_size, key, t, round(positions[i], 5),
                     *(values[i] for values in columns), *(values[i] for values in intervals)]
                )  # fmt: skip
    header = ["batch_size", "model", "t", "epoch", *(m.name for m in STEP_METRICS)]
    return _csv([*header, *(f"interval_{name}" for name in means)], rows)


def inside_csv(runs: list[RunFile]) -> str:
    """The layer statistics in long form: one row per measurement, layer and statistic."""
    rows: list[list[object]] = []
    for run in runs:
        for key in MODEL_KEYS:
            inside = run.models[key].inside
            for layer in inside.layers:
                for stat, values in layer.stats.items():
                    for position, t, value in zip(inside.position, inside.t, values):
                        rows.append(
                            [run.spec.batch_size, key, layer.name, layer.kind, layer.units,
                             stat, position, t, value]
                        )  # fmt: skip
    header = ["batch_size", "model", "layer", "kind", "units", "stat", "epoch", "t", "value"]
    return _csv(header, rows)


Line = tuple[str, str, list[tuple[float, float | None]], bool]  # label, colour, points, dots only


def _y_range(lines: list[Line], metric: str) -> tuple[float, float]:
    """The dashboard's y range for these lines (`bntui.figures.robust_range`)."""
    curves = [[y for _, y in pts] for _, _, pts, dots in lines if not dots]
    points = [[y for _, y in pts] for _, _, pts, dots in lines if dots]
    return robust_range(curves, points, METRIC_BOUNDS[metric]) or (0.0, 1.0)


def _panel(
    x0: float, title: str, lines: list[Line], x_max: float, y_range: tuple[float, float]
) -> list[str]:
    """One 400-wide chart at x offset `x0`: axes, ticks, and the legend under it."""
    width, left, top = 400, 50, 30
    pw, ph = width - left - 10, 220
    lo, hi = y_range

    def sx(x: float) -> float:
        return x0 + left + x / max(x_max, 1e-9) * pw

    def sy(y: float) -> float:
        # Beyond the range (the first steps of training) is drawn at the edge, as on screen.
        return top + min(max((hi - y) / (hi - lo), 0.0), 1.0) * ph

    out = [
        f'<text x="{x0 + width / 2}" y="18" text-anchor="middle" font-weight="bold">'
        f"{svg_text(title)}</text>",
        f'<rect x="{x0 + left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        out.append(
            f'<text x="{x0 + left - 4}" y="{sy(value) + 4:.1f}" text-anchor="end" '
            f'font-size="10">{value:.3g}</text>'
        )
    # At most ~20 ticks, however many epochs the spec claims: the work is bounded.
    every = 1 if x_max <= 20 else max(1, int(x_max) // 10)
    for epoch in range(0, int(x_max) + 1, every):
        out.append(
            f'<text x="{sx(epoch):.1f}" y="{top + ph + 14}" text-anchor="middle" '
            f'font-size="10">{epoch}</text>'
        )
    out.append(
        f'<text x="{x0 + left + pw / 2}" y="{top + ph + 28}" text-anchor="middle" '
        'font-size="11">epoch</text>'
    )
    for n, (label, color, points, dots) in enumerate(lines):
        finite = [(x, y) for x, y in points if y is not None and math.isfinite(y)]  # no gaps
        if dots:
            out += [
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>'
                for x, y in finite
            ]
        elif finite:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in finite)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.2"/>'
            )
        lx = x0 + left + (n % 2) * pw / 2
        ly = top + ph + 46 + (n // 2) * 14
        out.append(
            f'<text x="{lx:.1f}" y="{ly}" font-size="10" fill="{color}">━ {svg_text(label)}</text>'
        )
    return out


def _run_lines(run: RunFile, metric: str) -> list[Line]:
    lines: list[Line] = []
    for key in MODEL_KEYS:
        c, h = run.models[key].curve, run.models[key].history
        train = list(zip(*interval_curve(c, metric, run.spec.batch_size, train_size(run))))
        val = [(i + 1.0, v) for i, v in enumerate(getattr(h, f"val_{metric}"))]
        title = MODEL_TITLES[key]
        lines.append((f"{title} train", COLORS[key], train, False))
        lines.append((f"{title} val ●", COLORS[key], val, True))
    return lines


def _sweep_lines(sweep: SweepFile, key: str) -> list[Line]:
    return [
        (
            f"batch {run.spec.batch_size}",
            SIZE_COLORS[i % len(SIZE_COLORS)],
            [(e + 1.0, v) for e, v in enumerate(run.models[key].history.column("val_accuracy"))],
            False,
        )
        for i, run in enumerate(sweep.runs)
    ]


def curves_svg(document: RunFile | SweepFile) -> str:
    """Two charts side by side: a run's loss and accuracy (train curve, validation dots), or
    a sweep's validation accuracy per batch size for plain and BN."""
    if isinstance(document, SweepFile):
        spec = document.runs[0].spec
        x_max = float(max(run.spec.epochs for run in document.runs))
        plain, bn = _sweep_lines(document, "plain"), _sweep_lines(document, "bn")
        # One scale, so the two models compare at a glance; every epoch's value counts.
        values = [[y for _, y in pts] for _, _, pts, _ in plain + bn]
        shared = shared_range(values, METRIC_BOUNDS["accuracy"]) or (0.0, 1.0)
        left = _panel(0, "Plain MLP: validation accuracy", plain, x_max, shared)
        right = _panel(400, "MLP + BatchNorm: validation accuracy", bn, x_max, shared)
        caption = f"bntui sweep · {spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g}"
    else:
        spec = document.spec
        losses, accuracies = _run_lines(document, "loss"), _run_lines(document, "accuracy")
        left = _panel(0, "Loss", losses, float(spec.epochs), _y_range(losses, "loss"))
        right = _panel(
            400, "Accuracy", accuracies, float(spec.epochs), _y_range(accuracies, "accuracy")
        )
        caption = (
            f"bntui run · {spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g} · "
            f"batch {spec.batch_size} · {document.environment.get('backend', spec.backend)}"
        )
    body = "\n".join([*left, *right])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="360" '
        'font-family="sans-serif" font-size="12">\n'
        '<rect width="800" height="360" fill="white"/>\n'
        f"{body}\n"
        f'<text x="400" y="352" text-anchor="middle" font-size="10" fill="#555">'
        f"{svg_text(caption)}</text>\n</svg>\n"
    )


def export_files(document: RunFile | SweepFile, stem: Path) -> dict[Path, str]:
    """What `bntui export` writes: path → text, next to `stem` (which has no suffix)."""
    runs = document.runs if isinstance(document, SweepFile) else [document]
    return {
        stem.with_name(f"{stem.name}-history.csv"): history_csv(runs),
        stem.with_name(f"{stem.name}-curve.csv"): curve_csv(runs),
        stem.with_name(f"{stem.name}-inside.csv"): inside_csv(runs),
        stem.with_name(f"{stem.name}-curves.svg"): curves_svg(document),
    }


def write_all(files: dict[Path, str]) -> None:
    """Write every file (never overwriting), or none: if one cannot be written, those
    already written are removed and OSError says which failed and why."""
    written: list[Path] = []
    try:
        for path, text in files.items():
            write_atomic(text, path, overwrite=False)
            written.append(path)
    except (OSError, UnicodeError) as exc:
        for path in written:
            path.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OSError(f"cannot write {path} ({reason}); nothing was exported") from None
