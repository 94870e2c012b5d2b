"""A claim's chart: its `Figure` (from `bntui.claims.measures`) drawn with the braille line
chart, every model on one y scale (the figure's `y_range`, as the report draws it: the
title says when it does not start at zero), each with a glyph of its own (told apart
without colour; under NO_COLOR nothing is coloured) and a band for its seeds' min–max;
the x axis carries the figure's tick labels.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from bntui.claims.found import Figure, y_range
from bntui.claims.measures import Measure
from bntui.tui.widgets.chart import AXIS_WIDTH, BAND_FILL, LineChart, Series
from bntui.tui.widgets.claims.listing import looks
from bntui.tui.widgets.text_view import TextView

# Each model's colour and glyph: the glyph alone tells the lines apart under NO_COLOR.
MODEL_LOOKS = {
    "plain": ("cyan", "o"),
    "bn": ("magenta", "x"),
    "seeds-plain": ("yellow", "+"),
    "plain-raw": ("blue", "r"),
    "bn-hidden": ("green", "h"),
    "plain-sigmoid": ("cyan", "o"),
    "bn-sigmoid": ("magenta", "x"),
    "plain-relu": ("blue", "+"),
    "bn-relu": ("red", "#"),
}
# The other series (arms, remedies, a target), in the order a figure draws them: each its
# own glyph, none of the models' above.
OTHER_LOOKS = (("yellow", "*"), ("green", "%"), ("blue", "&"), ("red", "@"), ("white", "$"))


def series_looks(figure: Figure) -> list[tuple[str, str]]:
    """Each series' colour and glyph: a model's own, else the next of `OTHER_LOOKS`."""
    out, others = [], iter(OTHER_LOOKS * 4)
    for found in figure.series:
        out.append(MODEL_LOOKS.get(found.key) or next(others))
    return out


# A figure of this many positions or fewer is categories (a few rates, two bars): its
# points sit inside the axis, not on its ends.
FEW_POSITIONS = 4


def placed(figure: Figure) -> tuple[list[float], float]:
    """The figure's x positions moved to start near 0 (the chart's axis runs from 0), and
    the axis' end; a few categories get half a slot of room at either side."""
    lowest, highest = min(figure.x), max(figure.x)
    span = highest - lowest
    pad = span / (len(figure.x) - 1) / 2 if 1 < len(figure.x) <= FEW_POSITIONS else 0.0
    if span <= 0:
        pad = 0.5
    return [x - lowest + pad for x in figure.x], span + 2 * pad


def chart_series(figure: Figure, no_color: bool = False) -> list[Series]:
    """One line per model: the mean over seeds, with the seeds' min–max as its band (in
    the terminal's own colour under NO_COLOR: the glyphs tell the lines apart)."""
    xs, _ = placed(figure)
    lines = []
    for found, (style, glyph) in zip(figure.series, series_looks(figure)):
        lines.append(
            Series(
                found.label,
                xs,
                list(found.mean),
                "" if no_color else style,
                glyph=glyph,
                band=(list(found.low), list(found.high)),
            )
        )
    return lines


def tick_axis(xs: list[float], x_max: float, ticks: list[str], width: int) -> str:
    """The x axis line with each tick label centred under its position; a label that
    would touch the one before it is left out."""
    line = ["─"] * width
    columns = width * 2
    free_from = 0
    for x, label in zip(xs, ticks):
        centre = min(columns - 1, max(0, int(x / x_max * (columns - 1)))) // 2
        start = max(0, min(width - len(label), centre - len(label) // 2))
        if start < free_from or not label:
            continue
        line[start : start + len(label)] = label
        free_from = start + len(label) + 1
    return "".join(line)


class TickChart(LineChart):
    """A line chart whose x axis reads the figure's tick labels (rates, layers, steps)."""

    ticks: list[str]
    tick_xs: list[float]

    def show_figure(self, figure: Figure) -> None:
        """Draw `figure`: its models on its y axis (`y_range`), its ticks on the x axis."""
        xs, x_max = placed(figure)
        if (figure.ticks, xs) != (getattr(self, "ticks", None), getattr(self, "tick_xs", None)):
            self._drawn = None  # the axis changed: redraw even if the lines look the same
        self.ticks, self.tick_xs = list(figure.ticks), xs
        axis = y_range(figure)
        bounds = None if axis is None else (axis.low, axis.high)
        self.show(chart_series(figure, self.app.no_color), x_max, y_range=bounds)

    def _x_axis(self, width: int) -> str:
        xs, ticks = getattr(self, "tick_xs", []), getattr(self, "ticks", [])
        return " " * (AXIS_WIDTH - 1) + "└" + tick_axis(xs, self.x_max, ticks, width)


def legend(figure: Figure, no_color: bool = False) -> Text:
    """Which glyph is which model, what the band is, and what the axes are."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for found, (style, glyph) in zip(figure.series, series_looks(figure)):
        text.append(f"━{glyph}━ ", looks(f"bold {style}", no_color))
        text.append(f"{found.label}   ")
    text.append(f"{BAND_FILL} seeds' min–max", looks("dim", no_color))
    axes = [f"y: {figure.y_label}"] if figure.y_label else []
    if figure.x_label:
        axes.append(f"x: {figure.x_label}")
    if axes:
        text.append("   " + " · ".join(axes), looks("dim", no_color))
    return text


def levels_text(figure: Figure) -> str:
    """The figure's values in words, where its bars start at zero (levels compared by their
    size): there a difference of a fraction of a point is a hair's width, so each level is
    given, with its difference from the one before when there is one level per position,
    or the second model minus the first where two share a position."""
    if not figure.from_floor:
        return ""
    per_tick: list[tuple[str, list[tuple[str, float]]]] = []
    for i, tick in enumerate(figure.ticks):
        means = [(s.label, s.mean[i]) for s in figure.series]
        per_tick.append((tick, [(label, float(v)) for label, v in means if v is not None]))
    levels = [v for _, found in per_tick for _, v in found]
    if not levels:
        return ""
    places = 2 if max(abs(v) for v in levels) >= 1 else 3

    def number(value: float, signed: bool = False) -> str:
        return f"{value:{'+' if signed else ''}.{places}f}".replace("-", "−")

    parts: list[str] = []
    previous: float | None = None
    for tick, values in per_tick:
        if len(values) == 1:
            value = values[0][1]
            step = "" if previous is None else f" ({number(value - previous, True)})"
            parts.append(f"{tick} {number(value)}{step}")
            previous = value
        elif values:
            shown = ", ".join(f"{label} {number(v)}" for label, v in values)
            if len(values) == 2:
                (first, low), (second, high) = values
                shown += f", {second} − {first} {number(high - low, True)}"
            parts.append(f"{tick}: {shown}")
    what = f"Levels, {figure.y_label}" if figure.y_label else "Levels"
    after = "; in brackets, the difference from the one before" if previous is not None else ""
    return f"{what} (bars from zero hide small differences{after}): " + " · ".join(parts)


def cut_note(figure: Figure) -> str:
    """Where the figure's y axis starts, when that is not zero (else nothing)."""
    axis = y_range(figure)
    return f"  {axis.cut_text()}" if axis is not None and axis.cut else ""


class ClaimChart(Vertical):
    """The claim's chart with its title above and its legend below. Where the y axis does
    not start at zero, a note beside the title says so; a narrow screen cuts the title,
    never the note."""

    DEFAULT_CSS = """
    ClaimChart { height: auto; }
    ClaimChart .chart-levels { height: auto; }
    ClaimChart > Horizontal { height: 1; }
    ClaimChart TextView { height: 1; }
    ClaimChart .chart-title { width: 1fr; }
    ClaimChart .chart-cut { width: auto; }
    ClaimChart.-cut .chart-title { width: auto; max-width: 68%; }
    ClaimChart.-cut .chart-cut { width: 1fr; }
    ClaimChart > TickChart { height: 12; }
    """

    def compose(self) -> ComposeResult:
        """Title and axis note, chart, legend."""
        with Horizontal():
            yield TextView(classes="chart-title")
            yield TextView(classes="chart-cut")
        yield TickChart()
        yield TextView(classes="chart-legend")
        yield Static(classes="chart-levels")

    def show(self, found: Measure) -> None:
        """Draw the claim's figure, or say why there is none yet."""
        chart = self.query_one(TickChart)
        title, key = (
            self.query_one(".chart-title", TextView),
            self.query_one(".chart-legend", TextView),
        )
        figure = found.figure
        note = "" if figure is None else cut_note(figure)
        self.set_class(bool(note), "-cut")  # the note right after the title
        self.query_one(".chart-cut", TextView).show_text(Text(note, "bold"))
        if figure is None:
            title.show_text(Text("Chart", "bold"))
            chart.empty_message = empty_message(found)
            chart.show([], 1.0)
            key.show_text("")
            self.query_one(".chart-levels", Static).update("")
            return
        title.show_text(Text(f"Chart: {figure.title}", "bold"))
        chart.show_figure(figure)
        key.show_text(legend(figure, self.app.no_color))
        self.query_one(".chart-levels", Static).update(Text(levels_text(figure)))


def empty_message(found: Measure) -> str:
    """What the chart's place says before the claim's cells have all finished."""
    if found.status == "failed":
        return "no chart: a cell of this claim failed (see Errors)"
    return (
        f"the chart appears when all {found.cells_total} cells of this claim have "
        f"finished ({found.cells_done} so far)"
    )
