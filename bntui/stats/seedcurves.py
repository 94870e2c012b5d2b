"""Training curves across seeds: each model's mean curve, the seeds' min–max band, and
each seed's own curve, for the dashboard's charts and the exported SVG.

The x of a point is its fractional epoch; what is averaged is what `bntui.stats.figures` derives
for one seed (interval means of Keras' running means), so a one-seed band is that curve.
"""

from __future__ import annotations

from dataclasses import dataclass

from bntui.core.metrics import step_metric
from bntui.record.runfile import RunFile
from bntui.stats.figures import curve_positions, interval_curve, train_size
from bntui.stats.intervals import finite


@dataclass(frozen=True)
class Band:
    """One model's training curve over the seeds: at each point x, the mean and the
    per-seed minimum and maximum (of the seeds that have a value there), and each seed."""

    x: list[float]
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]
    seeds: list[tuple[list[float], list[float | None]]]


def band(run: RunFile, key: str, metric: str) -> Band:
    """Model `key`'s interval curve of `metric` for every seed, and their min–max band.

    Seeds of a run record their points at the same steps, so point i of each seed is the
    same place in training; a seed that is behind (or stopped) adds nothing past its end.
    """
    size = train_size(run)
    curves = [
        interval_curve(record.curve, metric, run.spec.batch_size, size)
        for record in run.records(key)
    ]
    return _spread(curves)


def _spread(curves: list[tuple[list[float], list[float | None]]]) -> Band:
    longest = max(curves, key=lambda c: len(c[0]))[0] if curves else []
    mean: list[float | None] = []
    low: list[float | None] = []
    high: list[float | None] = []
    for i in range(len(longest)):
        values = finite([ys[i] for _, ys in curves if i < len(ys)])
        mean.append(sum(values) / len(values) if values else None)
        low.append(min(values) if values else None)
        high.append(max(values) if values else None)
    return Band(list(longest), mean, low, high, curves)


def step_band(run: RunFile, key: str, metric: str) -> Band:
    """`band` for any per-step metric: a running mean as interval means (as `band`), a
    point value (the gradient norm) as recorded at each curve point."""
    if step_metric(metric).how == "running_mean":
        return band(run, key, metric)
    curves = [
        (curve_positions(record.curve), list(record.curve.column(metric)))
        for record in run.records(key)
    ]
    return _spread(curves)


def epoch_band(run: RunFile, key: str, metric: str) -> Band:
    """Model `key`'s per-epoch `metric` (a History column, such as val_accuracy) for every
    seed, at epochs 1, 2, ..., and their mean and min–max at each epoch."""
    curves = []
    for record in run.records(key):
        values = list(record.history.column(metric))
        curves.append(([float(i + 1) for i in range(len(values))], values))
    return _spread(curves)


def mean_history(run: RunFile, key: str, metric: str) -> list[float | None]:
    """Model `key`'s per-epoch `metric` averaged over the seeds that reached each epoch
    (one seed: its own history)."""
    columns = [r.history.column(metric) for r in run.records(key)]
    longest = max((len(c) for c in columns), default=0)
    mean: list[float | None] = []
    for i in range(longest):
        values = finite([c[i] for c in columns if i < len(c)])
        mean.append(sum(values) / len(values) if values else None)
    return mean
