"""The chart keeps redraw cost flat: long curves are downsampled for display, not in the file."""

from __future__ import annotations

import itertools

from bntui.widgets.chart import downsample


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
