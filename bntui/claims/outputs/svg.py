"""A claim's figure as SVG, drawn by hand for the claims report (no plotting library).

Both models share one y axis, the figure's `y_range` (the Claims tab draws the same):
never below the quantity's floor, from zero for times and levels, and where it does not
start at zero a note above the plot and a break on the axis say so. Each series' mean
over the seeds is a line with its own marker shape and dash pattern (so the figure reads
in greyscale too), over a translucent band from the lowest seed to the highest; a lone
point gets a min–max bar instead of a band. Missing values leave gaps. Every text is
cleaned and escaped (`svg_text`), so the document is always well-formed XML.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bntui.claims.found import AxisRange, Figure, Series, y_range
from bntui.outputs.svg import COLORS, svg_text
from bntui.stats.axes import nice_ticks

SERIES_COLORS = {**COLORS, "seeds-plain": "#2ca02c"}
OTHER_COLORS = ("#9467bd", "#ff7f0e", "#8c564b")
DASHES = ("", "6,3", "2,2", "8,3,2,3")
# Each model keeps its colour, marker and dash in every figure (others follow in order).
STYLES = {"plain": 0, "bn": 1, "seeds-plain": 2}
WIDTH, HEIGHT = 640, 400
LEFT, TOP, PLOT_W, PLOT_H = 70, 44, 400, 270
MAX_TICKS = 12


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _runs(rows: Iterable[tuple[float | None, ...]]) -> list[list[tuple[float, ...]]]:
    """The stretches of consecutive rows whose every value is finite (a None splits them)."""
    runs: list[list[tuple[float, ...]]] = [[]]
    for row in rows:
        if all(_finite(v) for v in row):
            runs[-1].append(tuple(float(v) for v in row if v is not None))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def marker(shape: int, x: float, y: float, color: str) -> str:
    """A marker centred on (x, y): circle, square, triangle or diamond by `shape`."""
    r = 4.0
    kind = shape % 4
    if kind == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}"/>'
    if kind == 1:
        return (
            f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}" '
            f'fill="white" stroke="{color}" stroke-width="1.6"/>'
        )
    if kind == 2:
        corners = [(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)]
    else:
        corners = [(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in corners)
    return f'<polygon points="{points}" fill="{color}"/>'


class Axes:
    """Data to pixels: the x range of the figure's positions, one y range for all series."""

    def __init__(self, xs: Sequence[float], y_range: tuple[float, float]) -> None:
        finite = [x for x in xs if math.isfinite(x)] or [0.0]
        lo, hi = min(finite), max(finite)
        pad = (hi - lo) * 0.08 if hi > lo else 1.0
        self.x_lo, self.x_hi = lo - pad, hi + pad
        self.y_lo, self.y_hi = y_range

    def sx(self, x: float) -> float:
        """The pixel column of `x`."""
        span = (self.x_hi - self.x_lo) or 1.0
        return LEFT + (x - self.x_lo) / span * PLOT_W

    def sy(self, y: float) -> float:
        """The pixel row of `y` (within the plot: a flat range is a flat line)."""
        span = (self.y_hi - self.y_lo) or 1.0
        return TOP + min(max((self.y_hi - y) / span, 0.0), 1.0) * PLOT_H


def series_styles(figure: Figure) -> list[tuple[int, str]]:
    """Each series' style number (its marker and dash) and colour: a model's own, else the
    next unused ones in drawing order, so that no two series of a figure look alike."""
    out, other = [], 0
    for series in figure.series:
        if series.key in STYLES:
            out.append((STYLES[series.key], SERIES_COLORS.get(series.key, "#000")))
        else:
            out.append((len(STYLES) + other, OTHER_COLORS[other % len(OTHER_COLORS)]))
            other += 1
    return out


def _series(
    axes: Axes, index: int, series: Series, xs: Sequence[float], look: tuple[int, str]
) -> list[str]:
    """A series' band (or min–max bars), its mean line and its markers."""
    style, color = look
    out: list[str] = []
    for run in _runs(zip(xs, series.low, series.high)):
        if len(run) == 1:  # a lone point: a min–max bar
            px, (_, lo, hi) = axes.sx(run[0][0]), run[0]
            for y in (lo, hi):
                out.append(
                    f'<line x1="{px - 4:.1f}" y1="{axes.sy(y):.1f}" x2="{px + 4:.1f}" '
                    f'y2="{axes.sy(y):.1f}" stroke="{color}"/>'
                )
            out.append(
                f'<line x1="{px:.1f}" y1="{axes.sy(lo):.1f}" x2="{px:.1f}" '
                f'y2="{axes.sy(hi):.1f}" stroke="{color}" stroke-opacity="0.6"/>'
            )
            continue
        upper = [f"{axes.sx(x):.1f},{axes.sy(hi):.1f}" for x, _, hi in run]
        lower = [f"{axes.sx(x):.1f},{axes.sy(lo):.1f}" for x, lo, _ in reversed(run)]
        out.append(
            f'<polygon points="{" ".join(upper + lower)}" fill="{color}" '
            'fill-opacity="0.18" stroke="none"/>'
        )
    # Markers and dashes cycle at different rates: style 4 is a dashed circle, not plain's.
    dash = DASHES[(style + style // len(DASHES)) % len(DASHES)]
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    for run in _runs(zip(xs, series.mean)):
        if len(run) > 1:
            path = " ".join(f"{axes.sx(x):.1f},{axes.sy(y):.1f}" for x, y in run)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" '
                f'stroke-width="1.8"{dashed}/>'
            )
        out += [marker(style, axes.sx(x), axes.sy(y), color) for x, y in run]
    lx, ly = LEFT + PLOT_W + 24, TOP + 10 + index * 22
    out.append(
        f'<line x1="{lx}" y1="{ly}" x2="{lx + 28}" y2="{ly}" stroke="{color}" '
        f'stroke-width="1.8"{dashed}/>'
    )
    out.append(marker(style, lx + 14, ly, color))
    out.append(f'<text x="{lx + 36}" y="{ly + 4}" font-size="11">{svg_text(series.label)}</text>')
    return out


def _ticks(axes: Axes, figure: Figure) -> list[str]:
    """The y axis's five values and the figure's own x ticks (thinned past MAX_TICKS)."""
    out = []
    for value in nice_ticks(axes.y_lo, axes.y_hi):
        y = axes.sy(value)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        )
        out.append(
            f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="10">{value:.4g}</text>'
        )
    pairs = [(x, t) for x, t in zip(figure.x, figure.ticks) if math.isfinite(x)]
    every = max(1, math.ceil(len(pairs) / MAX_TICKS))
    for x, tick in pairs[::every]:
        out.append(
            f'<text x="{axes.sx(x):.1f}" y="{TOP + PLOT_H + 15}" text-anchor="middle" '
            f'font-size="10">{svg_text(tick)}</text>'
        )
    return out


def cut_mark(axis: AxisRange) -> list[str]:
    """Where the y axis does not start at zero: a break on the axis near its foot, and a
    note above the plot saying where it starts."""
    if not axis.cut:
        return []
    y = TOP + PLOT_H - 12
    zigzag = f"{LEFT - 5},{y + 4} {LEFT + 5},{y} {LEFT - 5},{y - 4} {LEFT + 5},{y - 8}"
    return [
        f'<rect x="{LEFT - 6}" y="{y - 9}" width="12" height="14" fill="white"/>',
        f'<polyline points="{zigzag}" fill="none" stroke="#555" stroke-width="1.2"/>',
        f'<text x="{LEFT}" y="{TOP - 6}" font-size="11" fill="#a00">'
        f"{svg_text(axis.cut_text())}</text>",
    ]


def figure_svg(figure: Figure, caption: str = "") -> str:
    """The figure as a standalone SVG document: title, axes, ticks, bands, lines, legend."""
    axis = y_range(figure) or AxisRange(0.0, 1.0)
    axes = Axes(figure.x, (axis.low, axis.high))
    # A title wider than the picture (about 0.6 em a character, bold) gets a smaller font
    # rather than being cut at both edges.
    size = math.floor(min(14.0, (WIDTH - 20) / (0.6 * max(1, len(figure.title)))) * 10) / 10
    body = [
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="{size:.1f}" '
        f'font-weight="bold">{svg_text(figure.title)}</text>',
        *_ticks(axes, figure),
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        'stroke="#999"/>',
        f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 34}" text-anchor="middle" '
        f'font-size="11">{svg_text(figure.x_label)}</text>',
        f'<text transform="translate(16 {TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle" '
        f'font-size="11">{svg_text(figure.y_label)}</text>',
        *cut_mark(axis),
    ]
    xs = figure.x
    for index, (series, look) in enumerate(zip(figure.series, series_styles(figure))):
        body += _series(axes, index, series, xs, look)
    key_y = TOP + 10 + len(figure.series) * 22
    body += [
        f'<rect x="{LEFT + PLOT_W + 24}" y="{key_y - 6}" width="28" height="12" fill="#777" '
        'fill-opacity="0.25"/>',
        f'<text x="{LEFT + PLOT_W + 60}" y="{key_y + 4}" font-size="11">seeds: min–max</text>',
        f'<text x="{LEFT + PLOT_W + 24}" y="{key_y + 24}" font-size="10" fill="#555">'
        "line, marks: mean</text>",
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">\n'
        f"<title>{svg_text(figure.title)}</title>\n"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>\n'
        + "\n".join(body)
        + f'\n<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle" font-size="10" '
        f'fill="#555">{svg_text(caption)}</text>\n</svg>\n'
    )
