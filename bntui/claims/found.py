"""What a claim's quantity function returns, and the pieces it is built from: the chart's
series and figure (with its y axis, `y_range`, which the Claims tab and the report's SVG
both draw), secondary figures, and the per-seed helpers every quantity uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bntui.claims.claimfile import SeedResult
from bntui.stats.figures import shared_range
from bntui.stats.intervals import Interval, finite

# A y axis starts at the quantity's floor (zero) when that takes at most this share of its
# height from the data; otherwise it starts nearer the data, and says so.
SNAP_TO_FLOOR = 0.25


@dataclass(frozen=True)
class Series:
    """One model's line: at each x, the mean over seeds and the seeds' min and max."""

    key: str
    label: str
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]


@dataclass(frozen=True)
class Figure:
    """A claim's chart: x positions with their tick labels, one series per model.

    `floor` is the least value the quantity can take (0 for times, accuracies, drift; None
    for a logarithm), below which the y axis never runs; with `from_floor` the axis starts
    there (times and levels compared by their size)."""

    title: str
    x_label: str
    y_label: str
    x: list[float]
    ticks: list[str]
    series: list[Series]
    floor: float | None = None
    from_floor: bool = False


@dataclass(frozen=True)
class AxisRange:
    """A figure's y axis, from `low` to `high`; the quantity's `floor` (None: none)."""

    low: float
    high: float
    floor: float | None = None

    @property
    def cut(self) -> bool:
        """The axis starts above the quantity's floor (its zero): a reader must be told."""
        return self.floor is not None and self.low > self.floor

    def cut_text(self) -> str:
        """`y axis from 68.1, not 0` when the axis is cut, else nothing."""
        if not self.cut:
            return ""
        return f"y axis from {self.low:.3g}, not {self.floor:g}"


def y_range(figure: Figure) -> AxisRange | None:
    """The figure's y axis, the same wherever it is drawn (None: no value to draw): every
    series' means and bands with a margin, never below the quantity's floor; from the
    floor itself when the figure asks for it or the data nearly reach it."""
    columns = [values for s in figure.series for values in (s.mean, s.low, s.high)]
    floor = figure.floor
    fitted = shared_range(columns, (floor, None))
    if fitted is None or floor is None:
        return None if fitted is None else AxisRange(*fitted)
    low, high = fitted
    if figure.from_floor or low - floor <= SNAP_TO_FLOOR * (high - floor):
        low, high = shared_range([*columns, [floor]], (floor, None)) or fitted
    return AxisRange(low, high, floor)


@dataclass(frozen=True)
class Detail:
    """A secondary figure of a claim, with its interval over seeds."""

    label: str
    interval: Interval | None
    unit: str
    signed: bool = True  # a difference (+/−); False for a level such as seconds per epoch


Results = dict[str, list[SeedResult]]


@dataclass(frozen=True)
class Found:
    """What a claim's quantity function returns: the paired value of each seed, and the
    secondary figures, notes and chart that go with it."""

    values: list[float | None]
    details: list[Detail] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figure: Figure | None = None
    # Values that are bounds, not measurements (a grid too narrow): "lower" (the true value
    # is at least this), "upper", or "both" (nothing can be concluded).
    censored: Literal["", "lower", "upper", "both"] = ""


MODEL_LABELS = {
    "plain": "plain",
    "bn": "BN",
    "seeds-plain": "notebooks' plain",
    "plain-raw": "plain, raw pixels",
    "bn-hidden": "BN hidden only",
    "plain-sigmoid": "plain sigmoid",
    "bn-sigmoid": "BN sigmoid",
    "plain-relu": "plain ReLU",
    "bn-relu": "BN ReLU",
    "noisy-bn": "noisy BN",
}


def band(key: str, columns: Sequence[Sequence[float | None]]) -> Series:
    """A series from, at each x, the values of every seed."""
    means, lows, highs = [], [], []
    for column in columns:
        values = finite(column)
        means.append(sum(values) / len(values) if values else None)
        lows.append(min(values) if values else None)
        highs.append(max(values) if values else None)
    return Series(key, MODEL_LABELS.get(key, key), means, lows, highs)


def paired(
    values_a: Sequence[float | None], values_b: Sequence[float | None]
) -> list[float | None]:
    """a − b for each seed, None where either is missing."""
    return [None if a is None or b is None else a - b for a, b in zip(values_a, values_b)]


def finals(runs: list[SeedResult], scale: float = 1.0) -> list[float | None]:
    """Each seed's final validation accuracy (× `scale`)."""
    return [None if r.final_accuracy is None else r.final_accuracy * scale for r in runs]
