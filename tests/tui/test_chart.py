"""The chart keeps redraw cost flat: long curves are downsampled for display, not in the file,
and neither it nor the text views repaint what has not changed."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget

from bntui.tui.widgets.chart import LineChart, Series, band_cells, downsample
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
