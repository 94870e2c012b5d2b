"""Figures derived from a run record: the one place every surface gets its numbers from.

The dashboard, headless output, compare and sweep tables and export all call these, so a
figure shown in two places is computed once. The run file keeps what Keras reported (running
means, epoch wall times); everything here is derived from it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bntui.core.metrics import EPOCH_METRICS, STEP_METRICS
from bntui.core.spec import MODEL_KEYS
from bntui.record.columns import Curve, History
from bntui.record.runfile import ModelRun, RunFile

# The natural range of each plotted metric: an axis never runs past it.
METRIC_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    m.name: m.bounds for m in (*STEP_METRICS, *EPOCH_METRICS)
}


def best(values: Sequence[float | None], highest: bool) -> float | None:
    """Best finite value of a metric (highest accuracy, lowest loss), or None."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if highest else min(finite)


def last(values: Sequence[float | None]) -> float | None:
    """Latest value (None if there is none yet)."""
    return values[-1] if values else None


def curve_positions(curve: Curve) -> list[float]:
    """Each curve point's place as a fractional epoch (1.5 = half-way through epoch 2).

    Keras reports the last group of fused steps as if it were whole, so a step past the
    epoch's end (older files record 1734 of 1719) is counted as the epoch's end.
    """
    return [e + min(s, n) / max(n, 1) for e, s, n in zip(curve.epoch, curve.step, curve.steps)]


def interval_curve(
    curve: Curve, metric: str, batch_size: int, train_size: int
) -> tuple[list[float], list[float | None]]:
    """The training curve as what happened between consecutive curve points.

    Keras reports a running mean since the start of the epoch, which restarts every epoch
    (a cliff at each boundary) and lags what the model does now. From the running means
    m₁, m₂ after n₁, n₂ samples, the mean over the samples in between is
    (m₂·n₂ − m₁·n₁)/(n₂ − n₁); Keras weights its means by samples, so this is exact. Each
    value is placed at the middle of its interval (x in fractional epochs). An interval under
    half the one before it (a `--limit` epoch's last, partial batch) is merged into that one.
    """
    values = getattr(curve, metric)
    xs: list[float] = []
    ys: list[float | None] = []
    prev_epoch, prev_n, prev_x = -1, 0, 0.0
    prev_m: float | None = 0.0
    # Where the latest point's interval began (samples, x, running mean), and its size.
    start_n, start_x, start_m, size = 0, 0.0, None, 0
    for epoch, step, steps, m in zip(curve.epoch, curve.step, curve.steps, values):
        steps = max(steps, 1)
        step = min(step, steps)
        n = min(step * batch_size, train_size) if train_size > 0 else step
        x = epoch + step / steps
        if epoch != prev_epoch:
            prev_n, prev_m, prev_x, size = 0, 0.0, float(epoch), 0
        if 0 < n - prev_n < size / 2:
            # A short interval (an epoch's last, partial batch): one mean over a few images
            # would show as a spike, so the latest point is extended to cover it.
            prev_n, prev_m, prev_x = start_n, start_m, start_x
            xs.pop()
            ys.pop()
        if m is None or prev_m is None or n <= prev_n:
            value = None
        else:
            value = (m * n - prev_m * prev_n) / (n - prev_n)
        if n > prev_n:
            xs.append((prev_x + x) / 2)
            ys.append(value)
            start_n, start_x, start_m, size = prev_n, prev_x, prev_m, n - prev_n
        prev_epoch, prev_n, prev_m, prev_x = epoch, n, m, x
    return xs, ys


def recent_epoch_s(curve: Curve) -> float | None:
    """Seconds per epoch at the pace of the last epoch's worth of curve points.

    Not elapsed / fraction: the first epoch's start-up (imports, compiling) would make the
    ETA minutes too long, and the pace is what matters for the time left.
    """
    positions = curve_positions(curve)
    if len(positions) < 2:
        return None
    first = next(i for i, p in enumerate(positions) if p >= positions[-1] - 1)
    first = min(first, len(positions) - 2)
    span = positions[-1] - positions[first]
    return (curve.t[-1] - curve.t[first]) / span if span > 0 else None


@dataclass(frozen=True)
class EpochTimes:
    """How long epochs take. The first epoch also compiles, so it is kept apart.

    `per_epoch_s` is THE s/epoch of bntui: the median of the epochs after the first, or
    the first alone while it is the only one.
    """

    first_s: float | None
    steady_s: float | None  # median of epochs 2, 3, …; None before the second epoch
    epochs: int

    @property
    def per_epoch_s(self) -> float | None:
        """Seconds per epoch as every surface shows it."""
        return self.steady_s if self.steady_s is not None else self.first_s


def epoch_times(history: History) -> EpochTimes:
    """The epoch wall times of one model, first (compiling) epoch apart."""
    times = [
        t for t in history.column("epoch_time_s") if t is not None and t > 0 and math.isfinite(t)
    ]
    if not times:
        return EpochTimes(None, None, 0)
    steady = statistics.median(times[1:]) if len(times) > 1 else None
    return EpochTimes(times[0], steady, len(times))


def trained_nothing(run: RunFile) -> bool:
    """True when every model of every seed failed before its first training step (the
    data missing, say): nothing was learned, nor any data loaded."""
    models = [m for key in MODEL_KEYS for m in run.records(key)]
    return all(
        m.status == "failed" and not m.curve.t and not m.history.column("loss") for m in models
    )


def train_size(run: RunFile) -> int:
    """Training images per epoch: as the worker loaded them, else as the spec implies."""
    if run.dataset is not None and run.dataset.train_size > 0:
        return run.dataset.train_size
    return run.spec.train_size


def seeds_at_once(run: RunFile) -> int:
    """How many seeds one recorded epoch time covers: all of them in a vectorised run (one
    program trains them together), else one."""
    return run.spec.seeds if run.spec.vectorised else 1


def epoch_speed(run: RunFile, seconds: float | None) -> float | None:
    """Training images per second in an epoch of `seconds` (of every seed it trained)."""
    return train_size(run) * seeds_at_once(run) / seconds if seconds else None


def samples_per_s(run: RunFile, key: str) -> float | None:
    """Training images per second at bntui's s/epoch (all seeds of a vectorised run)."""
    return epoch_speed(run, epoch_times(run.models[key].history).per_epoch_s)


@dataclass
class Progress:
    """Where one model is: epoch, fraction of the whole run, speed and ETA."""

    epoch: int
    epochs: int
    fraction: float
    times: EpochTimes
    samples_per_s: float | None
    eta_s: float | None
    elapsed_s: float


def progress(run: RunFile, key: str) -> Progress:
    """How far model `key` has come, from its curve and history alone."""
    record: ModelRun = run.models[key]
    epochs = max(run.spec.epochs, 1)
    done_epochs = len(record.history.column("loss"))
    curve = record.curve
    fraction = done_epochs / epochs
    if curve.t and curve.epoch[-1] >= done_epochs and curve.steps[-1] > 0:
        fraction = (curve.epoch[-1] + min(curve.step[-1], curve.steps[-1]) / curve.steps[-1]) / (
            epochs
        )
    if record.status == "completed":
        fraction = 1.0
    start = record.ready_t or 0.0
    end = (
        record.finished_t if record.finished_t is not None else (curve.t[-1] if curve.t else start)
    )
    eta = None
    if 0 < fraction < 1 and record.status in ("pending", "running"):
        pace = recent_epoch_s(curve)
        eta = pace * (1 - fraction) * epochs if pace is not None else None
    return Progress(
        epoch=min(done_epochs + 1, epochs),
        epochs=epochs,
        fraction=min(max(fraction, 0.0), 1.0),
        times=epoch_times(record.history),
        samples_per_s=samples_per_s(run, key),
        eta_s=eta,
        elapsed_s=max(0.0, end - start),
    )


def common_epochs(run: RunFile) -> int:
    """Epochs both models have finished."""
    return min(len(run.models[key].history.column("loss")) for key in MODEL_KEYS)


def bn_gap(run: RunFile, metric: str = "val_accuracy") -> float | None:
    """BN − plain of a per-epoch metric at the latest epoch both have reached."""
    a = getattr(run.models["plain"].history, metric)
    b = getattr(run.models["bn"].history, metric)
    n = min(len(a), len(b))
    if n == 0 or a[n - 1] is None or b[n - 1] is None:
        return None
    return float(b[n - 1] - a[n - 1])


def test_accuracy(run: RunFile, key: str) -> float | None:
    """Model `key`'s test accuracy, once it has one."""
    test = run.models[key].test
    return test.accuracy if test is not None else None


def test_gap(run: RunFile) -> float | None:
    """BN − plain test accuracy, once both have one."""
    plain, bn = test_accuracy(run, "plain"), test_accuracy(run, "bn")
    return None if plain is None or bn is None else bn - plain


def failures(run: RunFile) -> list[tuple[str, str]]:
    """(model key, reason) for each model that failed, in model order."""
    return [
        (key, run.models[key].error or "no reason recorded")
        for key in MODEL_KEYS
        if run.models[key].status == "failed"
    ]


def padded_range(
    lo: float, hi: float, bounds: tuple[float | None, float | None] = (None, None)
) -> tuple[float, float]:
    """`lo`–`hi` with a 5% margin, kept within the metric's natural `bounds`."""
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    low, high = bounds
    if low is not None:
        lo = max(lo, low)
    if high is not None:
        hi = min(hi, high)
    return lo, hi


def shared_range(
    groups: Sequence[Sequence[float | None]],
    bounds: tuple[float | None, float | None] = (None, None),
) -> tuple[float, float] | None:
    """One padded y range covering every value of every group (None if there is none)."""
    values = [v for group in groups for v in group if v is not None and math.isfinite(v)]
    if not values:
        return None
    return padded_range(min(values), max(values), bounds)


# The training curve's first points (an untrained model) would own the y axis: the axis
# spans the middle 96% of its values instead, and every validation point.
ROBUST_QUANTILE = 0.02
ROBUST_MIN_POINTS = 20


def robust_range(
    curves: Sequence[Sequence[float | None]],
    points: Sequence[Sequence[float | None]] = (),
    bounds: tuple[float | None, float | None] = (None, None),
) -> tuple[float, float] | None:
    """A y range for training curves that the first seconds of training do not own.

    `curves` (dense training curves) contribute their 2nd–98th percentile once they have
    ROBUST_MIN_POINTS values, all of them before; `points` (validation) always count whole.
    Values beyond the range are drawn at the chart's edge, which marks them.
    """
    dense = sorted(v for c in curves for v in c if v is not None and math.isfinite(v))
    whole = [v for p in points for v in p if v is not None and math.isfinite(v)]
    if len(dense) >= ROBUST_MIN_POINTS:
        k = int(len(dense) * ROBUST_QUANTILE)
        dense = dense[k : len(dense) - k]
    values = dense + whole
    if not values:
        return None
    return padded_range(min(values), max(values), bounds)
