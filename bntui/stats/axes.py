"""Axis figures every picture shares: round tick values, and which parts of a line an axis
leaves out.

The exported run SVG (`bntui.outputs.svg`) and the claims figures (`bntui.claims.outputs.svg`)
both take their ticks from `nice_ticks`, so a value reads the same (0.2, 0.4, …) everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 × a power of ten apart) within `lo`–`hi`, about `count`."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo] if math.isfinite(lo) else []
    raw = span / (count + 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step)
    ticks = [float(f"{(first + k) * step:.12g}") for k in range(count * 3)]
    return sorted({0.0 if abs(t) < step * 1e-9 else t for t in ticks if t <= hi})


@dataclass(frozen=True)
class Beyond:
    """A stretch of consecutive points of a line that an axis range leaves out: where it
    starts and ends (x), and its furthest value and where (x) that is."""

    start: float
    end: float
    furthest: float
    at: float
    above: bool


def beyond_range(
    points: Sequence[tuple[float, float | None]], lo: float, hi: float
) -> list[Beyond]:
    """The stretches of `points` (x, y) above `hi` or below `lo`, in order; a missing or
    non-finite y ends a stretch."""
    found: list[Beyond] = []
    stretch: list[tuple[float, float]] = []
    side = 0

    def close() -> None:
        if stretch:
            pick = max if side > 0 else min
            x, y = pick(stretch, key=lambda p: p[1])
            found.append(Beyond(stretch[0][0], stretch[-1][0], y, x, side > 0))
        stretch.clear()

    for x, y in points:
        value = y if y is not None and math.isfinite(y) else None
        now = 0 if value is None else (1 if value > hi else (-1 if value < lo else 0))
        if now != side:
            close()
            side = now
        if now and value is not None:
            stretch.append((x, value))
    close()
    return found
