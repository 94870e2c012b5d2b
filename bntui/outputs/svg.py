"""The SVG picture of `bntui export`: a run's or a sweep's curves, drawn by hand.

No plotting library, so export works wherever replay does. Text from the file is cleaned
and escaped for XML (always well-formed, no script). A run of several seeds shows each
model's mean over the seeds with a shaded band from the lowest to the highest seed; a
sweep of several seeds shows each batch size's mean (the caption says which).
"""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.stats.figures import (
    METRIC_BOUNDS,
    interval_curve,
    robust_range,
    shared_range,
    train_size,
)
from bntui.stats.seedcurves import band, mean_history
from bntui.stats.seedstats import seed_range

COLORS = {"plain": "#1f77b4", "bn": "#d62728"}
SIZE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
# Characters XML 1.0 forbids that `clean` leaves alone (it already marks C0 and surrogates).
NOT_XML = re.compile("[\ufffe\uffff]")


def svg_text(value: object) -> str:
    """Text for an SVG element: cleaned, stripped of what XML forbids, escaped."""
    return escape(NOT_XML.sub("\ufffd", clean(value, 200)))


Line = tuple[str, str, list[tuple[float, float | None]], bool]  # label, colour, points, dots only
Shade = tuple[str, list[tuple[float, float, float]]]  # colour, (x, low, high): a seeds' band


def _y_range(
    lines: list[Line], metric: str, shades: list[Shade] | None = None
) -> tuple[float, float]:
    """The dashboard's y range for these lines and bands (`bntui.stats.figures.robust_range`)."""
    curves = [[y for _, y in pts] for _, _, pts, dots in lines if not dots]
    curves += [[y for _, lo, hi in pts for y in (lo, hi)] for _, pts in shades or []]
    points = [[y for _, y in pts] for _, _, pts, dots in lines if dots]
    return robust_range(curves, points, METRIC_BOUNDS[metric]) or (0.0, 1.0)


def _panel(
    x0: float,
    title: str,
    lines: list[Line],
    x_max: float,
    y_range: tuple[float, float],
    shades: list[Shade] | None = None,
) -> list[str]:
    """One 400-wide chart at x offset `x0`: axes, ticks, bands under the lines, and the
    legend under it."""
    width, left, top = 400, 50, 30
    pw, ph = width - left - 10, 220
    lo, hi = y_range
    span = (hi - lo) or 1.0  # one value everywhere: a flat line, not a division by zero

    def sx(x: float) -> float:
        return x0 + left + x / max(x_max, 1e-9) * pw

    def sy(y: float) -> float:
        # Beyond the range (the first steps of training) is drawn at the edge, as on screen.
        return top + min(max((hi - y) / span, 0.0), 1.0) * ph

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
    for color, band_points in shades or []:
        if len(band_points) > 1:
            upper = [f"{sx(x):.1f},{sy(hi):.1f}" for x, _, hi in band_points]
            lower = [f"{sx(x):.1f},{sy(lo):.1f}" for x, lo, _ in reversed(band_points)]
            out.append(
                f'<polygon points="{" ".join(upper + lower)}" fill="{color}" '
                'fill-opacity="0.18" stroke="none"/>'
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


def _run_lines(run: RunFile, metric: str) -> tuple[list[Line], list[Shade]]:
    """Each model's training curve and validation points; with several seeds their mean
    over the seeds, and the band from the lowest seed to the highest under the curve."""
    lines: list[Line] = []
    shades: list[Shade] = []
    several = len(run.seeds) > 1
    for key in MODEL_KEYS:
        title = MODEL_TITLES[key]
        if several:
            found = band(run, key, metric)
            train = list(zip(found.x, found.mean))
            shades.append(
                (COLORS[key], [
                    (x, lo, hi) for x, lo, hi in zip(found.x, found.low, found.high)
                    if lo is not None and hi is not None
                ])
            )  # fmt: skip
            values = mean_history(run, key, f"val_{metric}")
        else:
            c, h = run.models[key].curve, run.models[key].history
            train = list(zip(*interval_curve(c, metric, run.spec.batch_size, train_size(run))))
            values = h.column(f"val_{metric}")
        val = [(i + 1.0, v) for i, v in enumerate(values)]
        mean = " (mean)" if several else ""
        lines.append((f"{title} train{mean}", COLORS[key], train, False))
        lines.append((f"{title} val{mean} ●", COLORS[key], val, True))
    return lines, shades


def _sweep_lines(sweep: SweepFile, key: str) -> list[Line]:
    return [
        (
            f"batch {run.spec.batch_size}",
            SIZE_COLORS[i % len(SIZE_COLORS)],
            [(e + 1.0, v) for e, v in enumerate(mean_history(run, key, "val_accuracy"))],
            False,
        )
        for i, run in enumerate(sweep.runs)
    ]


def _seeds_caption(runs: list[RunFile]) -> str:
    seeds = max(len(run.seeds) for run in runs)
    if seeds == 1:
        return ""
    values = seed_range([entry.seed for entry in runs[0].seeds])
    if len(runs) > 1:
        return f" · each line the mean of {seeds} seeds ({values})"
    return f" · mean of {seeds} seeds ({values}), shaded from the lowest seed to the highest"


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
        caption += _seeds_caption(document.runs)
    else:
        spec, epochs = document.spec, float(document.spec.epochs)
        (losses, loss_shades), (accuracies, shades) = (
            _run_lines(document, "loss"),
            _run_lines(document, "accuracy"),
        )
        left = _panel(0, "Loss", losses, epochs, _y_range(losses, "loss", loss_shades), loss_shades)
        right = _panel(
            400, "Accuracy", accuracies, epochs, _y_range(accuracies, "accuracy", shades), shades
        )
        caption = (
            f"bntui run · {spec.dataset} · {spec.optimizer} lr {spec.learning_rate:g} · "
            f"batch {spec.batch_size} · {document.environment.get('backend', spec.backend)}"
            + _seeds_caption([document])
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
