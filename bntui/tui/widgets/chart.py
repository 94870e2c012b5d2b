"""A line chart with axes, drawn in braille dots: several series, downsampled to fit.

Series are plain lists; the chart keeps at most one point per dot column, so redraw cost
stays flat however long the run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from bntui.stats.figures import shared_range

# Braille dot bits for (x, y) inside a 2x4 cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
AXIS_WIDTH = 7


@dataclass
class Series:
    """One line: x values (epochs, fractional), y values, style, and how it is drawn."""

    label: str
    xs: list[float] = field(default_factory=list)
    ys: list[float | None] = field(default_factory=list)
    style: str = "cyan"
    markers: bool = False  # True: a `•` per point (validation), else a braille line
    # Stamped along a line now and then, so lines differ without colour (NO_COLOR).
    glyph: str | None = None
    # (low, high) at each x: a band (the seeds' min–max) filled with BAND_FILL under the line.
    band: tuple[list[float | None], list[float | None]] | None = None

    def values(self) -> list[float | None]:
        """Every y the chart must have room for: the line's and its band's."""
        if self.band is None:
            return self.ys
        return [*self.ys, *self.band[0], *self.band[1]]


# A band's cells: a light shade, told apart from lines and markers without colour.
BAND_FILL = "░"


def downsample(xs: list[float], ys: list[float | None], buckets: int) -> list[tuple[float, float]]:
    """Keep the last finite point in each of `buckets` equal x ranges."""
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    if len(pairs) <= buckets or buckets <= 0:
        return pairs
    lo, hi = pairs[0][0], pairs[-1][0]
    span = (hi - lo) or 1.0
    chosen: dict[int, tuple[float, float]] = {}
    for x, y in pairs:
        chosen[min(buckets - 1, int((x - lo) / span * buckets))] = (x, y)
    return [chosen[k] for k in sorted(chosen)]


def _label(value: float, unit: str = "") -> str:
    if abs(value) < 5e-4:
        value = 0.0  # never "-0" or "1e-17" on an axis
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.2g}"
    return (text + unit)[: AXIS_WIDTH - 1].rjust(AXIS_WIDTH - 1)


class LineChart(Widget):
    """Braille line chart; `show` replaces what is drawn."""

    DEFAULT_CSS = """
    LineChart { height: 1fr; min-height: 4; }
    """

    def __init__(
        self, *, x_max: float = 1.0, name: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(name=name, id=id)
        self.series: list[Series] = []
        self.x_max = x_max
        self.legend = ""
        self.empty_message = "starting: importing Keras, loading data, compiling…"
        self.y_range: tuple[float, float] | None = None
        self.log_y = False
        self.unit = ""
        self._drawn: object = None

    def show(
        self,
        series: list[Series],
        x_max: float,
        legend: str = "",
        *,
        y_range: tuple[float, float] | None = None,
        log_y: bool = False,
        unit: str = "",
    ) -> None:
        """Draw these series on an x axis from 0 to `x_max` (epochs), `legend` on the axis.

        `y_range` fixes the y axis exactly (so two charts can share one scale; values
        beyond it are drawn at the edge, whose tick then reads ▲ or ▼); without it the
        axis spans every value with a margin. With `log_y` the ys are log10 values and the
        axis is labelled with the numbers themselves; `unit` follows each axis label.
        """
        drawn = (
            [
                (s.label, s.style, s.markers, s.glyph, len(s.xs), s.xs[-1:], s.ys[-1:])
                # A band's seeds arrive interleaved: earlier points change too.
                + ((tuple(s.ys), tuple(s.band[0]), tuple(s.band[1])) if s.band else ())
                for s in series
            ],
            legend, x_max, y_range, log_y, unit, self.empty_message,
        )  # fmt: skip
        if drawn == self._drawn:
            return  # series only ever grow, so same lengths and last points: same picture
        self._drawn = drawn
        self.series = series
        self.legend = legend
        self.x_max = max(x_max, 1e-9)
        self.y_range = y_range
        self.log_y = log_y
        self.unit = unit
        self.refresh()

    def _axis_label(self, value: float) -> str:
        if self.log_y:
            return (
                f"{10**value:.1g}".replace("e-0", "e-")
                .replace("e+0", "e")[: AXIS_WIDTH - 1]
                .rjust(AXIS_WIDTH - 1)
            )
        return _label(value, self.unit)

    def y_bounds(self) -> tuple[float, float] | None:
        """The y axis as drawn: the fixed range, else every plotted value with a margin."""
        if self.y_range is not None:
            return self.y_range
        return shared_range([s.values() for s in self.series])

    def axis_labels(self) -> tuple[str, str]:
        """The top and bottom y-axis labels as drawn (what a person reads off the chart)."""
        bounds = self.y_bounds()
        if bounds is None:
            return "", ""
        return self._axis_label(bounds[1]).strip(), self._axis_label(bounds[0]).strip()

    def render(self) -> Text:
        """Plot area plus y labels on the left and an epoch axis below."""
        width = max(self.size.width - AXIS_WIDTH, 4)
        height = max(self.size.height - 1, 2)
        columns = width * 2
        plotted = [(s, downsample(s.xs, s.ys, columns)) for s in self.series]
        values = [y for _, pts in plotted for _, y in pts]
        bounds = self.y_bounds()
        if not values or bounds is None:
            return Text(self.empty_message, style="dim")
        lo, hi = bounds
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        above, below = max(values) > hi + 1e-12, min(values) < lo - 1e-12
        dots = [[0] * width for _ in range(height)]
        owner: list[list[str | None]] = [[None] * width for _ in range(height)]
        marks: dict[tuple[int, int], tuple[str, str]] = {}

        def to_cell(x: float, y: float) -> tuple[int, int]:
            px = min(columns - 1, max(0, int(x / self.x_max * (columns - 1))))
            py = min(height * 4 - 1, max(0, int((hi - y) / (hi - lo) * (height * 4 - 1))))
            return px, py

        fill = band_cells(self.series, to_cell, height)
        for n, (series, points) in enumerate(plotted):
            if series.markers:
                for x, y in points:
                    px, py = to_cell(x, y)
                    marks[(py // 4, px // 2)] = ("•", f"bold {series.style}")
                continue
            if series.glyph and points:
                # Glyphs along the line (staggered, so lines do not hide each other's) and at
                # its end: lines differ without colour, however short.
                every = max(2, min(8, len(points) // 4))
                stamped = {*range((n * every) // 3 % every, len(points), every), len(points) - 1}
                for i in sorted(stamped):
                    px, py = to_cell(*points[i])
                    marks.setdefault((py // 4, px // 2), (series.glyph, f"bold {series.style}"))
            previous: tuple[int, int] | None = None
            for x, y in points:
                px, py = to_cell(x, y)
                steps = (
                    1 if previous is None else max(abs(px - previous[0]), abs(py - previous[1]), 1)
                )
                for i in range(1, steps + 1):
                    if previous is None:
                        qx, qy = px, py
                    else:
                        qx = previous[0] + (px - previous[0]) * i // steps
                        qy = previous[1] + (py - previous[1]) * i // steps
                    dots[qy // 4][qx // 2] |= _DOTS[qx % 2][qy % 4]
                    owner[qy // 4][qx // 2] = series.style
                previous = (px, py)

        text = Text(no_wrap=True, overflow="crop")
        for row in range(height):
            if row == 0:
                text.append(self._axis_label(hi) + ("▲" if above else "┤"), "dim")
            elif row == height - 1:
                text.append(self._axis_label(lo) + ("▼" if below else "┤"), "dim")
            else:
                text.append(" " * (AXIS_WIDTH - 1) + "│", "dim")
            for col in range(width):
                if (row, col) in marks:
                    text.append(*marks[(row, col)])
                elif dots[row][col]:
                    text.append(chr(0x2800 + dots[row][col]), owner[row][col] or "")
                elif (row, col) in fill:
                    text.append(BAND_FILL, fill[(row, col)])
                else:
                    text.append(" ")
            text.append("\n")
        text.append(self._x_axis(width), "dim")
        return text

    def _x_axis(self, width: int) -> str:
        left = " " * (AXIS_WIDTH - 1) + "└"
        right = f"{self.x_max:g} ep"
        legend = f" {self.legend} " if self.legend else ""
        if len(legend) + len(right) + 3 > width:
            legend = ""
        middle = ("0─" + legend).ljust(max(0, width - len(right)), "─")
        return left + middle + right


def band_cells(
    series: list[Series], to_cell: Callable[[float, float], tuple[int, int]], height: int
) -> dict[tuple[int, int], str]:
    """The cells (row, column) each series' band covers, with its style. A line's band is
    filled between its points too; a markers' band only at each point (an error bar)."""
    fill: dict[tuple[int, int], str] = {}
    for s in series:
        if s.band is None:
            continue
        spans: dict[int, tuple[int, int]] = {}  # column -> (top row, bottom row)
        for x, low, high in zip(s.xs, *s.band):
            if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
                continue
            px, top = to_cell(x, high)
            _, bottom = to_cell(x, low)
            col, top, bottom = px // 2, top // 4, bottom // 4
            was = spans.get(col, (top, bottom))
            spans[col] = (min(was[0], top), max(was[1], bottom))
        columns = sorted(spans)
        if not s.markers:  # between two points, the band runs straight from one to the next
            for a, b in itertools.pairwise(columns):
                for col in range(a + 1, b):
                    f = (col - a) / (b - a)
                    top = round(spans[a][0] + (spans[b][0] - spans[a][0]) * f)
                    bottom = round(spans[a][1] + (spans[b][1] - spans[a][1]) * f)
                    spans[col] = (top, bottom)
        for col, (top, bottom) in spans.items():
            for row in range(max(0, top), min(height - 1, bottom) + 1):
                fill.setdefault((row, col), f"dim {s.style}")
    return fill
