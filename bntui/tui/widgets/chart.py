"""A line chart with axes, drawn in braille dots: several series, downsampled to fit.

Series are plain lists; the chart keeps at most one point per dot column, so redraw cost
stays flat however long the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from bntui.stats.figures import shared_range
from bntui.tui.widgets.chart_bands import (
    Cell,
    Dot,
    band_fill,
    downsample,
    edge_dots,
    label_cells,
    path_dots,
)

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
    # (low, high) at each x: a band (the seeds' min–max) filled with BAND_FILL under the line,
    # or with `band_shaded` as a background under it (SHADES), and under NO_COLOR its edges
    # as dotted lines too (a markers' band: a bar under each marker).
    band: tuple[list[float | None], list[float | None]] | None = None
    band_shaded: bool = False
    # The glyph written once, where the line runs apart from the others (else not at all),
    # not stamped along it: many lines close together stay readable.
    label_once: bool = False

    def values(self) -> list[float | None]:
        """Every y the chart must have room for: the line's and its band's."""
        if self.band is None:
            return self.ys
        return [*self.ys, *self.band[0], *self.band[1]]


# A band's cells: a light shade, told apart from lines and markers without colour.
BAND_FILL = "░"
# A shaded band's background, in its line's hue. Textual shows it grey under NO_COLOR, where
# the band's edges are also drawn as dotted lines, so that it reads by glyphs alone.
SHADES = {"cyan": "#163a40", "yellow": "#3a3514", "magenta": "#3a1a3a"}


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
        self.empty_message = "waiting for the first points…"
        self.y_range: tuple[float, float] | None = None
        self.log_y = False
        self.unit = ""
        self.unlabelled: list[str] = []  # `label_once` glyphs that found no place alone
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
            legend,
            x_max,
            y_range,
            log_y,
            unit,
            self.empty_message,
        )
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
        drawn = [v for s in self.series for v in s.values() if v is not None and math.isfinite(v)]
        above, below = max(drawn) > hi + 1e-12, min(drawn) < lo - 1e-12
        dots = [[0] * width for _ in range(height)]
        owner: list[list[str | None]] = [[None] * width for _ in range(height)]
        marks: dict[tuple[int, int], tuple[str, str]] = {}

        def to_cell(x: float, y: float) -> tuple[int, int]:
            px = min(columns - 1, max(0, int(x / self.x_max * (columns - 1))))
            py = min(height * 4 - 1, max(0, int((hi - y) / (hi - lo) * (height * 4 - 1))))
            return px, py

        fill = band_cells(self.series, to_cell, height)
        shade = band_shade(self.series, to_cell, height)

        def put(dot: Dot, style: str, keep: bool = False) -> Cell:
            px, py = dot
            cell = (py // 4, px // 2)
            dots[cell[0]][cell[1]] |= _DOTS[px % 2][py % 4]
            if not (keep and owner[cell[0]][cell[1]]):
                owner[cell[0]][cell[1]] = style
            return cell

        for s in self.series:  # a band's edges first (a line over them owns the cell)
            if s.band is not None and s.band_shaded and self.app.no_color:
                for dot in edge_dots(s.xs, s.band, to_cell, s.markers, columns):
                    put(dot, f"dim {s.style}", keep=True)
        crossed: list[list[Cell]] = []
        for n, (series, points) in enumerate(plotted):
            crossed.append([])
            if series.markers:
                for x, y in points:
                    px, py = to_cell(x, y)
                    marks[(py // 4, px // 2)] = ("•", f"bold {series.style}")
                continue
            if series.glyph and points and not series.label_once:
                # Glyphs along the line (staggered, so lines do not hide each other's) and at
                # its end: lines differ without colour, however short.
                every = max(2, min(8, len(points) // 4))
                stamped = {*range((n * every) // 3 % every, len(points), every), len(points) - 1}
                for i in sorted(stamped):
                    px, py = to_cell(*points[i])
                    marks.setdefault((py // 4, px // 2), (series.glyph, f"bold {series.style}"))
            crossed[-1] = [put(dot, series.style) for dot in path_dots(points, to_cell)]
        wanted = [bool(s.glyph and s.label_once) for s, _ in plotted]
        spots = label_cells(crossed, wanted, set(marks))
        self.unlabelled = [
            s.glyph or "" for (s, _), w, c in zip(plotted, wanted, spots) if w and c is None
        ]
        for (series, _), spot in zip(plotted, spots):
            if spot is not None:
                marks[spot] = (series.glyph or "", f"bold reverse {series.style}")

        text = Text(no_wrap=True, overflow="crop")
        for row in range(height):
            if row == 0:
                text.append(self._axis_label(hi) + ("▲" if above else "┤"), "dim")
            elif row == height - 1:
                text.append(self._axis_label(lo) + ("▼" if below else "┤"), "dim")
            else:
                text.append(" " * (AXIS_WIDTH - 1) + "│", "dim")
            for col in range(width):
                under = shade.get((row, col), "")
                if (row, col) in marks:
                    glyph, style = marks[(row, col)]
                    text.append(glyph, f"{style} {under}".strip())
                elif dots[row][col]:
                    style = owner[row][col] or ""
                    text.append(chr(0x2800 + dots[row][col]), f"{style} {under}".strip())
                elif (row, col) in fill:
                    text.append(BAND_FILL, fill[(row, col)])
                else:
                    text.append(" ", under)
            text.append("\n")
        text.append(self._x_axis(width), "dim")
        return text

    def _x_axis(self, width: int) -> str:
        left = " " * (AXIS_WIDTH - 1) + "└"
        right = f"{self.x_max:g} ep"
        hidden = f"{''.join(self.unlabelled)} under others" if self.unlabelled else ""
        # Which line is which comes first; then the metric's name, whole or in a word.
        choices = [self.legend, hidden]
        if hidden:
            short = f"{''.join(self.unlabelled)} hidden"
            choices = [
                f"{self.legend} · {hidden}",
                f"{self.legend.split()[0]} · {hidden}",
                hidden,
                short,
            ]
        legend = next((f" {c} " for c in choices if c and len(c) + len(right) + 5 <= width), "")
        middle = ("0─" + legend).ljust(max(0, width - len(right)), "─")
        return left + middle + right


def band_cells(
    series: list[Series], to_cell: Callable[[float, float], tuple[int, int]], height: int
) -> dict[tuple[int, int], str]:
    """The cells (row, column) each filled band covers, with its style. A line's band is
    filled between its points too; a markers' band only at each point (an error bar)."""
    fill: dict[tuple[int, int], str] = {}
    for s in series:
        if s.band is not None and not s.band_shaded:
            for cell in band_fill(s.xs, s.band, to_cell, height, between=not s.markers):
                fill.setdefault(cell, f"dim {s.style}")
    return fill


def band_shade(
    series: list[Series], to_cell: Callable[[float, float], tuple[int, int]], height: int
) -> dict[tuple[int, int], str]:
    """The background style of each cell a shaded band covers."""
    shade: dict[tuple[int, int], str] = {}
    for s in series:
        if s.band is not None and s.band_shaded:
            on = f"on {SHADES.get(s.style, '#303030')}"
            for cell in band_fill(s.xs, s.band, to_cell, height, between=not s.markers):
                shade.setdefault(cell, on)
    return shade
