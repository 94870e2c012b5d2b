"""A claim figure's y axis on synthetic figures: times and levels from zero, a quantity
that cannot be negative never below zero, a cut axis that says so, a logarithm as its
data fall; the report's SVG draws that range (tests/tui/test_claims_app.py: the Claims
tab's chart draws it too)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from bntui.claims.found import AxisRange, Figure, Series, y_range
from bntui.claims.outputs.svg import PLOT_H, TOP, figure_svg

SVG = "{http://www.w3.org/2000/svg}"


def level(key: str, values: list[float | None]) -> Series:
    """A series whose seeds all agree (its band is its line)."""
    return Series(key, key, values, values, values)


def figure(series: list[Series], floor: float | None = 0.0, from_floor: bool = False) -> Figure:
    xs = [float(i) for i in range(len(series[0].mean))]
    return Figure("t", "x", "y", xs, [str(int(x)) for x in xs], series, floor, from_floor)


def test_times_start_at_zero() -> None:
    """0.47 s and 0.66 s (+40%): the axis runs from 0, so +40% looks like +40%."""
    times = figure([level("plain", [0.47, None]), level("bn", [None, 0.66])], from_floor=True)
    axis = y_range(times)
    assert axis is not None and axis.low == 0.0 and 0.66 < axis.high < 0.7
    assert not axis.cut and axis.cut_text() == ""


def test_a_quantity_that_cannot_be_negative_stays_above_zero() -> None:
    """Drift of 0.02 and 7.6: the margin would run the axis to −0.38; it stops at 0."""
    drift = figure([level("plain", [3.5, 7.6]), level("bn", [0.02, 0.05])])
    axis = y_range(drift)
    assert axis is not None and axis.low == 0.0 and not axis.cut


def test_a_cut_axis_says_where_it_starts() -> None:
    """Accuracy curves from 68% to 89%: starting at 0 would squeeze them into a quarter of
    the height; the axis starts near 68 and says so."""
    curves = figure([level("plain", [68.0, 80.0, 85.0]), level("bn", [76.0, 86.0, 89.0])])
    axis = y_range(curves)
    assert axis is not None and axis.cut and 60 < axis.low < 68 and axis.high > 89
    assert axis.cut_text() == f"y axis from {axis.low:.3g}, not 0"


def test_data_near_zero_start_at_zero() -> None:
    """Accuracies from 10% (diverged) to 88%: the axis starts at 0, not at 6."""
    rates = figure([level("plain", [88.0, 10.0]), level("bn", [87.0, 60.0])])
    axis = y_range(rates)
    assert axis is not None and axis.low == 0.0 and not axis.cut


def test_a_logarithm_has_no_floor() -> None:
    logs = figure([level("plain", [-5.0, -1.0]), level("bn", [-0.5, -0.1])], floor=None)
    axis = y_range(logs)
    assert axis is not None and axis.low < -5.0 and axis.high > -0.1 and not axis.cut


def test_a_figure_without_values_has_no_range() -> None:
    assert y_range(figure([level("plain", [None, None])])) is None


def y_ticks(svg: str) -> dict[float, float]:
    """The y axis's tick values in an SVG (labels right-aligned left of the plot), each
    with its label's baseline."""
    root = ET.fromstring(svg)
    labels = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    return {float(t.text or ""): float(t.get("y", "")) for t in labels}


def test_the_svg_draws_the_range() -> None:
    """Zero at the plot's foot for times and drift; a cut axis's lowest tick above its
    foot, the note above the plot and the break on the axis."""
    foot = TOP + PLOT_H + 4  # a label's baseline sits 4 px below its value
    times = figure([level("plain", [0.47, None]), level("bn", [None, 0.66])], from_floor=True)
    svg = figure_svg(times)
    assert y_ticks(svg)[0.0] == foot and "not 0" not in svg
    drift = figure([level("plain", [3.5, 7.6]), level("bn", [0.02, 0.05])])
    assert y_ticks(figure_svg(drift))[0.0] == foot
    curves = figure([level("plain", [68.0, 80.0, 85.0]), level("bn", [76.0, 86.0, 89.0])])
    svg = figure_svg(curves)
    axis = y_range(curves)
    assert axis is not None and min(y_ticks(svg)) >= axis.low
    assert max(y_ticks(svg).values()) < foot
    note = [t for t in ET.fromstring(svg).iter(f"{SVG}text") if t.text == axis.cut_text()]
    assert len(note) == 1 and float(note[0].get("y", "0")) < TOP  # above the plot
    assert len(re.findall(r"<polyline points=\"[^\"]+\" fill=\"none\" stroke=\"#555\"", svg)) == 1


def test_an_axis_range_is_data() -> None:
    assert AxisRange(1.0, 2.0).cut is False  # no floor: nothing to cut
    assert AxisRange(0.0, 2.0, 0.0).cut is False
    assert AxisRange(0.5, 2.0, 0.0).cut_text() == "y axis from 0.5, not 0"
