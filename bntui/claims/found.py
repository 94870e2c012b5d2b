"""What a claim's quantity function returns, and the pieces it is built from: the chart's
series and figure, secondary figures, and the per-seed helpers every quantity uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bntui.claims.claimfile import SeedResult
from bntui.stats.intervals import Interval, finite


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
    """A claim's chart: x positions with their tick labels, one series per model."""

    title: str
    x_label: str
    y_label: str
    x: list[float]
    ticks: list[str]
    series: list[Series]


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


MODEL_LABELS = {"plain": "plain", "bn": "BN", "seeds-plain": "notebooks' plain"}


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
