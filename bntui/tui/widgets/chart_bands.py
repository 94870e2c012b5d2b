"""What the braille line chart draws besides lines: a seeds' band (the cells it covers,
its edges as dotted lines) and glyph labels placed where a line runs alone.

A band filled with `░` under a thin line shows only in the cells the line leaves free, as
scattered specks. The seeds' bands are shaded instead (a background under the line); under
NO_COLOR, where a background may not show, their edges are drawn as dotted braille lines too
(solid: the mean; dotted: the lowest and highest seed).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

Cell = tuple[int, int]  # (row, column) of a character cell
Dot = tuple[int, int]  # (x, y) of a braille dot: 2 a cell across, 4 down
ToDot = Callable[[float, float], Dot]
# A dotted edge keeps one dot of every EDGE_EVERY along its path.
EDGE_EVERY = 2


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


def band_fill(
    xs: Sequence[float],
    band: tuple[Sequence[float | None], Sequence[float | None]],
    to_dot: ToDot,
    height: int,
    between: bool,
) -> set[Cell]:
    """The cells a band covers: at each point from its high to its low, and, `between`
    points, straight from one to the next (a markers' band only at each point: error bars)."""
    spans: dict[int, tuple[int, int]] = {}  # column -> (top row, bottom row)
    for x, low, high in zip(xs, *band):
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            continue
        px, top = to_dot(x, high)
        _, bottom = to_dot(x, low)
        col, top, bottom = px // 2, top // 4, bottom // 4
        was = spans.get(col, (top, bottom))
        spans[col] = (min(was[0], top), max(was[1], bottom))
    if between:
        for a, b in itertools.pairwise(sorted(spans)):
            for col in range(a + 1, b):
                f = (col - a) / (b - a)
                top = round(spans[a][0] + (spans[b][0] - spans[a][0]) * f)
                bottom = round(spans[a][1] + (spans[b][1] - spans[a][1]) * f)
                spans[col] = (top, bottom)
    return {
        (row, col)
        for col, (top, bottom) in spans.items()
        for row in range(max(0, top), min(height - 1, bottom) + 1)
    }


def path_dots(points: Sequence[tuple[float, float]], to_dot: ToDot) -> list[Dot]:
    """Every dot of the straight segments joining `points`, in order."""
    dots: list[Dot] = []
    previous: Dot | None = None
    for x, y in points:
        px, py = to_dot(x, y)
        if previous is None:
            dots.append((px, py))
        else:
            steps = max(abs(px - previous[0]), abs(py - previous[1]), 1)
            for i in range(1, steps + 1):
                dots.append(
                    (
                        previous[0] + (px - previous[0]) * i // steps,
                        previous[1] + (py - previous[1]) * i // steps,
                    )
                )
        previous = (px, py)
    return dots


def edge_dots(
    xs: Sequence[float],
    band: tuple[Sequence[float | None], Sequence[float | None]],
    to_dot: ToDot,
    bars: bool,
    buckets: int,
) -> list[Dot]:
    """A band's edges as dots: its lows and its highs each a dotted line, kept to `buckets`
    points as the line is (`downsample`); with `bars`, a solid vertical bar from low to high
    at each point instead (a markers' band: an error bar under each marker)."""
    lows, highs = band
    if bars:
        dots = []
        for x, lo, hi in zip(xs, lows, highs):
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
                continue
            px, top = to_dot(x, hi)
            _, bottom = to_dot(x, lo)
            dots += [(px, py) for py in range(top, bottom + 1)]
        return dots
    dots = []
    for edge in (lows, highs):
        dots += path_dots(downsample(list(xs), list(edge), buckets), to_dot)[::EDGE_EVERY]
    return dots


def label_cells(
    lines: Sequence[Sequence[Cell]], wanted: Sequence[bool], taken: set[Cell]
) -> list[Cell | None]:
    """Where to write each wanted line's glyph once: the right-most cell that line crosses
    and no other line does, not beside another label or in a `taken` cell (a marker);
    None where the line never runs alone (it lies under the others)."""
    crossings: dict[Cell, int] = {}
    for cells in lines:
        for cell in set(cells):
            crossings[cell] = crossings.get(cell, 0) + 1
    placed: list[Cell | None] = []
    labels: set[Cell] = set()

    def free(row: int, col: int) -> bool:
        near = {(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
        return crossings[(row, col)] == 1 and (row, col) not in taken and not near & labels

    for cells, want in zip(lines, wanted):
        spot = next((cell for cell in reversed(cells) if free(*cell)), None) if want else None
        if spot is not None:
            labels.add(spot)
        placed.append(spot)
    return placed
