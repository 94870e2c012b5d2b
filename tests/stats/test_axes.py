"""Axis figures every picture shares (bntui.stats.axes): round ticks, and the stretches of a
line that an axis leaves out."""

from __future__ import annotations

import math

from bntui.stats.axes import Beyond, beyond_range, nice_ticks


def test_ticks_are_round() -> None:
    assert nice_ticks(0.0684, 0.541) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert nice_ticks(0.319, 1.37) == [0.4, 0.6, 0.8, 1.0, 1.2]  # not 0.319, 0.582, …
    assert nice_ticks(-0.047, 0.958) == [0.0, 0.2, 0.4, 0.6, 0.8]  # 0, never -0 or 1e-17
    assert nice_ticks(1.0, 1.0) == [1.0]
    assert nice_ticks(math.nan, 1.0) == []
    assert len(nice_ticks(1e20, 1e20 + 1)) <= 15


def test_stretches_beyond_the_range() -> None:
    points: list[tuple[float, float | None]] = [
        (0.0, 2.4), (0.1, 1.9), (0.2, 0.9), (0.3, None), (0.4, 1.5), (0.5, 0.5), (0.6, -0.2),
    ]  # fmt: skip
    assert beyond_range(points, 0.0, 1.0) == [
        Beyond(0.0, 0.1, 2.4, 0.0, True),
        Beyond(0.4, 0.4, 1.5, 0.4, True),
        Beyond(0.6, 0.6, -0.2, 0.6, False),
    ]
    assert beyond_range([(0.0, math.inf), (1.0, 0.5)], 0.0, 1.0) == []
