"""The SVG picture of `bntui export`: a run's or a sweep's curves, drawn by hand.

No plotting library, so export works wherever replay does. Text from the file is cleaned
and escaped for XML (always well-formed, no script). A run of several seeds shows each
model's mean over the seeds with a shaded band from the lowest to the highest seed; a
sweep of several seeds shows each batch size's mean (the caption says which). The y axis
is the dashboard's (`robust_range`) with round ticks (`bntui.stats.axes.nice_ticks`, as the
claims figures); a line that leaves it is drawn at its edge, as on screen, with a triangle
there and a note under the chart saying how far it went and when.
"""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

from bntui.core.spec import MODEL_KEYS, MODEL_TITLES
from bntui.core.text import clean
from bntui.record.runfile import RunFile
from bntui.record.sweep import SweepFile
from bntui.stats.axes import Beyond, beyond_range, nice_ticks
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
# label, colour, (x, low, high): a seeds' band
Shade = tuple[str, str, list[tuple[float, float, float]]]
WIDTH, LEFT, TOP, PLOT_W, PLOT_H = 400, 50, 30, 340, 220
HEIGHT = 360  # without notes of values beyond the axis; each such note adds NOTE_H
NOTE_H = 13


def _y_range(
    lines: list[Line], metric: str, shades: list[Shade] | None = None
) -> tuple[float, float]:
    """The dashboard's y range for these lines and bands (`bntui.stats.figures.robust_range`)."""
    curves = [[y for _, y in pts] for _, _, pts, dots in lines if not dots]
    curves += [[y for _, lo, hi in pts for y in (lo, hi)] for _, _, pts in shades or []]
    points = [[y for _, y in pts] for _, _, pts, dots in lines if dots]
    return robust_range(curves, points, METRIC_BOUNDS[metric]) or (0.0, 1.0)


def beyond_notes(
    lines: list[Line], shades: list[Shade], y_range: tuple[float, float]
) -> list[tuple[str, str, Beyond]]:
    """(label, colour, stretch) for each stretch of a line or band that the axis leaves
    out: what the picture draws at its edge and must say it did."""
    lo, hi = y_range
    found = [
        (label, color, stretch)
        for label, color, points, _ in lines
        for stretch in beyond_range(points, lo, hi)
    ]
    for label, color, band_points in shades:
        highs = beyond_range([(x, high) for x, _, high in band_points], lo, hi)
        lows = beyond_range([(x, low) for x, low, _ in band_points], lo, hi)
        found += [(label, color, b) for b in highs if b.above]
        found += [(label, color, b) for b in lows if not b.above]
    return found


def _furthest(stretches: list[Beyond], above: bool) -> Beyond | None:
    """The stretch that goes furthest beyond the axis on one side, if any does."""
    mine = [b for b in stretches if b.above == above]
    if not mine:
        return None
    return max(mine, key=lambda b: b.furthest) if above else min(mine, key=lambda b: b.furthest)


def _notes(label: str, stretches: list[Beyond]) -> list[str]:
    """Lines under a chart: how far `label` goes beyond the axis, where, how often."""
    notes = []
    for above in (True, False):
        worst = _furthest(stretches, above)
        if worst is None:
            continue
        mine = [b for b in stretches if b.above == above]
        if len(mine) <= 2:
            where = ", ".join(f"ep {round(b.start, 1):g}–{round(b.end, 1):g}" for b in mine)
        else:
            where = f"{len(mine)} times, ep {round(mine[0].start, 1):g}–{round(mine[-1].end, 1):g}"
        mark, verb = ("▲", "above the axis, up to") if above else ("▼", "below the axis, down to")
        notes.append(f"{mark} {label} {verb} {worst.furthest:.3g} ({where})")
    return notes


def _panel(
    x0: float,
    title: str,
    lines: list[Line],
    x_max: float,
    y_range: tuple[float, float],
    shades: list[Shade] | None = None,
) -> tuple[list[str], list[str]]:
    """One 400-wide chart at x offset `x0`: axes, round ticks, bands under the lines, a
    triangle and the value wherever a line leaves the axis, the legend under it. Returns
    the elements and the notes (one a line) that say what is beyond the axis."""
    lo, hi = y_range
    span = (hi - lo) or 1.0  # one value everywhere: a flat line, not a division by zero

    def sx(x: float) -> float:
        return x0 + LEFT + x / max(x_max, 1e-9) * PLOT_W

    def sy(y: float) -> float:
        # Beyond the range (the first steps of training) is drawn at the edge and marked.
        return TOP + min(max((hi - y) / span, 0.0), 1.0) * PLOT_H

    out = [
        f'<text x="{x0 + WIDTH / 2}" y="18" text-anchor="middle" font-weight="bold">'
        f"{svg_text(title)}</text>",
    ]
    for value in nice_ticks(lo, hi):
        y = sy(value)
        out.append(  # a gridline: a hairline rectangle (the document keeps to a few tags)
            f'<rect x="{x0 + LEFT}" y="{y - 0.3:.1f}" width="{PLOT_W}" height="0.6" '
            'fill="#e5e5e5"/>'
        )
        out.append(
            f'<text x="{x0 + LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="10">{value:.4g}</text>'
        )
    out.append(
        f'<rect x="{x0 + LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        'stroke="#999"/>'
    )
    # At most ~20 ticks, however many epochs the spec claims: the work is bounded.
    every = 1 if x_max <= 20 else max(1, int(x_max) // 10)
    for epoch in range(0, int(x_max) + 1, every):
        out.append(
            f'<text x="{sx(epoch):.1f}" y="{TOP + PLOT_H + 14}" text-anchor="middle" '
            f'font-size="10">{epoch}</text>'
        )
    out.append(
        f'<text x="{x0 + LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 28}" text-anchor="middle" '
        'font-size="11">epoch</text>'
    )
    for _, color, band_points in shades or []:
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
        lx = x0 + 12 + (n % 2) * (WIDTH - 12) / 2
        ly = TOP + PLOT_H + 46 + (n // 2) * 14
        out.append(
            f'<text x="{lx:.1f}" y="{ly}" font-size="10" fill="{color}">━ {svg_text(label)}</text>'
        )
    found = beyond_notes(lines, shades or [], y_range)
    labels = {label: color for label, color, _ in found}
    notes: list[str] = []
    placed: list[tuple[float, float]] = []
    for label, color in labels.items():
        stretches = [b for name, _, b in found if name == label]
        notes += _notes(label, stretches)
        for above in (True, False):  # one triangle a side, where the line goes furthest
            worst = _furthest(stretches, above)
            if worst is None:
                continue
            x, y = sx(worst.at), sy(worst.furthest)
            while any(abs(x - a) < 10 and y == b for a, b in placed):
                x += 11  # side by side, not one over another
            placed.append((x, y))
            out.append(_triangle(x, y, above, color))
    rows = (len(lines) + 1) // 2
    for k, note in enumerate(notes):
        out.append(
            f'<text x="{x0 + 12}" y="{TOP + PLOT_H + 48 + rows * 14 + k * NOTE_H}" '
            f'font-size="10" fill="#333">{svg_text(note)}</text>'
        )
    return out, notes


def _triangle(x: float, y: float, up: bool, color: str) -> str:
    """A ▲ or ▼ at the chart's edge, pointing the way a line left the axis."""
    mark, baseline = ("▲", y - 1) if up else ("▼", y + 9)
    return (
        f'<text x="{x:.1f}" y="{baseline:.1f}" text-anchor="middle" font-size="11" '
        f'fill="{color}">{mark}</text>'
    )


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
                (
                    f"{title} band",
                    COLORS[key],
                    [
                        (x, lo, hi)
                        for x, lo, hi in zip(found.x, found.low, found.high)
                        if lo is not None and hi is not None
                    ],
                )
            )
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
    (left_parts, left_notes), (right_parts, right_notes) = left, right
    notes = max(len(left_notes), len(right_notes))
    height = HEIGHT + notes * NOTE_H
    body = "\n".join([*left_parts, *right_parts])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="{height}" '
        'font-family="sans-serif" font-size="12">\n'
        f'<rect width="800" height="{height}" fill="white"/>\n'
        f"{body}\n"
        f'<text x="400" y="{height - 8}" text-anchor="middle" font-size="10" fill="#555">'
        f"{svg_text(caption)}</text>\n</svg>\n"
    )
