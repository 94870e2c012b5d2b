"""The chart keeps redraw cost flat: long curves are downsampled for display, not in the file,
and neither it nor the text views repaint what has not changed."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget

from bntui.tui.widgets.chart import AXIS_WIDTH, LineChart, Series, band_cells, downsample
from bntui.tui.widgets.text_view import TextView


def test_downsample_keeps_at_most_one_point_per_bucket() -> None:
    xs = [i / 25 for i in range(200 * 25)]  # 200 epochs, 25 points each
    ys: list[float | None] = [1.0 / (1 + x) for x in xs]
    points = downsample(xs, ys, 60)
    assert len(points) <= 60
    assert points[-1] == (xs[-1], ys[-1])  # the latest value is always shown
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))


def test_downsample_skips_missing_values() -> None:
    points = downsample([0.0, 1.0, 2.0], [1.0, None, 0.5], 10)
    assert points == [(0.0, 1.0), (2.0, 0.5)]


class Repaints(App[None]):
    """A chart and a text view, counting the repaints and layouts they ask for."""

    def compose(self) -> ComposeResult:
        yield LineChart(id="chart")
        yield TextView(id="text")


async def test_unchanged_content_asks_for_no_repaint(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, bool]] = []
    app = Repaints()
    async with app.run_test():
        chart, text = app.query_one(LineChart), app.query_one(TextView)
        for widget in (chart, text):
            original = widget.refresh

            def counting(*args: Any, _w: Widget = widget, _f: Any = original, **kw: Any) -> Any:
                asked.append((str(_w.id), bool(kw.get("layout"))))
                return _f(*args, **kw)

            monkeypatch.setattr(widget, "refresh", counting)
        series = [Series("train", [0.0, 0.5], [1.0, 0.8])]
        chart.show(series, 10, "loss")
        chart.show([Series("train", [0.0, 0.5], [1.0, 0.8])], 10, "loss")
        assert asked == [("chart", False)]  # the same picture twice: drawn once
        chart.show([Series("train", [0.0, 0.5, 1.0], [1.0, 0.8, 0.7])], 10, "loss")
        assert len(asked) == 2  # a new point: drawn again
        asked.clear()

        text.show_text(Text("a\nb", no_wrap=True))
        text.show_text(Text("a\nb", no_wrap=True))
        assert asked == [("text", True)]  # first text: laid out; the same again: nothing
        text.show_text(Text("a\nc", no_wrap=True))
        assert asked[-1] == ("text", False)  # same height: repainted, not laid out
        text.show_text(Text("a\nc\nd", no_wrap=True))
        assert asked[-1] == ("text", True)  # one more line: laid out


def test_a_band_is_filled_under_its_line_and_counts_in_the_axis() -> None:
    xs = [0.5, 1.0, 1.5, 2.0]
    mean: list[float | None] = [2.0, 1.5, 1.2, 1.0]
    low: list[float | None] = [1.5, 1.0, 0.8, 0.5]
    high: list[float | None] = [2.5, 2.0, 1.6, 3.0]
    series = Series("train", xs, mean, band=(low, high))
    assert series.values() == [*mean, *low, *high]
    chart = LineChart()
    chart.show([series], 2, "loss")
    bounds = chart.y_bounds()
    assert bounds is not None and bounds[0] < 0.5 and bounds[1] > 3.0  # the band, not the mean
    # Text only: the fill reads the same under NO_COLOR.
    cells = band_cells([series], lambda x, y: (int(x * 10), int((3.2 - y) * 10)), 20)
    assert cells and all(style == "dim cyan" for style in cells.values())
    assert {col for _, col in cells} == set(range(2, 11))  # filled between the points too
    markers = Series("val", xs, mean, markers=True, band=(low, high))
    marked = band_cells([markers], lambda x, y: (int(x * 10), int((3.2 - y) * 10)), 20)
    assert {col for _, col in marked} == {2, 5, 7, 10}  # an error bar at each point only


class OneChart(App[None]):
    """A chart filling a small screen."""

    def compose(self) -> ComposeResult:
        yield LineChart(id="chart")


def plot_of(chart: LineChart) -> list[str]:
    """The chart's plot rows, y labels and x axis left out."""
    return [row[AXIS_WIDTH:] for row in chart.render().plain.splitlines()[:-1]]


def band_rows(chart: LineChart) -> tuple[list[str], list[set[int]]]:
    """The plot rows' text, and in each row the columns drawn on a band's shade."""
    text = chart.render()
    rows, shaded, start = [], [], 0
    for line in text.plain.splitlines()[:-1]:
        cols = {
            col - AXIS_WIDTH
            for col in range(AXIS_WIDTH, len(line))
            if any(
                span.start <= start + col < span.end and "on #" in str(span.style)
                for span in text.spans
            )
        }
        rows.append(line[AXIS_WIDTH:])
        shaded.append(cols)
        start += len(line) + 1
    return rows, shaded


async def test_a_shaded_band_shows_whole_and_reads_without_colour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A wide band early, a thin one late. Shaded under the line, it covers every cell of
    # its span (no specks of fill where the line leaves room); under NO_COLOR its edges
    # are also drawn, as dotted lines above and below the mean.
    xs = [i / 10 for i in range(41)]
    mean: list[float | None] = [2.0 - 0.3 * x for x in xs]
    low: list[float | None] = [2.0 - 0.3 * x - 0.5 / (1 + 3 * x) for x in xs]
    high: list[float | None] = [2.0 - 0.3 * x + 0.5 / (1 + 3 * x) for x in xs]
    band = Series("train", xs, mean, band=(low, high), band_shaded=True)
    drawn: dict[bool, list[str]] = {}
    for no_color in (False, True):
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        app = OneChart()
        async with app.run_test(size=(40, 12)):
            chart = app.query_one(LineChart)
            chart.show([band], 4, "loss")
            rows, shaded = band_rows(chart)
            assert "░" not in "".join(rows)
            at_start = [row for row, cols in enumerate(shaded) if 0 in cols]
            assert at_start[0] == 0 and at_start[-1] >= len(rows) // 2  # x 0: 2.5 down to 1.5
            drawn[no_color] = rows
    # In colour the column at x 0 holds the line alone; without, the band's edges too.
    column = {mode: [row[0] for row in rows if row[0] != " "] for mode, rows in drawn.items()}
    assert len(column[True]) > len(column[False])


async def test_each_line_is_labelled_once_where_it_runs_alone() -> None:
    xs = [i / 4 for i in range(41)]
    apart: list[float | None] = [1.0 + 0.1 * x for x in xs]
    together: list[float | None] = [0.2 for _ in xs]
    lines = [
        Series("a", xs, apart, glyph="o", label_once=True),
        Series("b", xs, together, glyph="x", label_once=True),
        Series("c", xs, together, glyph="+", label_once=True),  # under b all along
    ]
    app = OneChart()
    async with app.run_test(size=(40, 12)):
        chart = app.query_one(LineChart)
        chart.show(lines, 10, "loss")
        plot = "".join(plot_of(chart))
        assert plot.count("o") == 1  # once, not stamped along the line
        assert "x" not in plot and "+" not in plot  # b and c never run alone
        assert chart.unlabelled == ["x", "+"]
        assert "x+ under others" in chart.render().plain.splitlines()[-1]
