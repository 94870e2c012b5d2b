"""Figures derived from a run record, shared by the dashboard and the headless output."""

from __future__ import annotations

from dataclasses import dataclass

from bntui.runfile import Curve, ModelRun, RunFile


def best(values: list[float | None], highest: bool) -> float | None:
    """Best finite value of a metric (highest accuracy, lowest loss), or None."""
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    return max(finite) if highest else min(finite)


def curve_positions(curve: Curve) -> list[float]:
    """Each curve point's place as a fractional epoch (1.5 = half-way through epoch 2)."""
    return [e + s / max(n, 1) for e, s, n in zip(curve.epoch, curve.step, curve.steps)]


def last(values: list[float | None]) -> float | None:
    """Latest value (None if there is none yet)."""
    return values[-1] if values else None


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


@dataclass
class Progress:
    """Where one model is: epoch, fraction of the whole run, speed and ETA."""

    epoch: int
    epochs: int
    fraction: float
    epoch_s: float | None
    samples_per_s: float | None
    eta_s: float | None
    elapsed_s: float


def progress(run: RunFile, key: str) -> Progress:
    """How far model `key` has come, from its curve and history alone."""
    record: ModelRun = run.models[key]
    spec = run.spec
    epochs = spec.epochs
    done_epochs = len(record.history.loss)
    curve = record.curve
    fraction = done_epochs / epochs
    if curve.t and curve.epoch[-1] >= done_epochs and curve.steps[-1]:
        fraction = (curve.epoch[-1] + curve.step[-1] / curve.steps[-1]) / epochs
    if record.status == "completed":
        fraction = 1.0
    start = record.ready_t or 0.0
    end = (
        record.finished_t if record.finished_t is not None else (curve.t[-1] if curve.t else start)
    )
    elapsed = max(0.0, end - start)
    times = [t for t in record.history.epoch_time_s if t]
    epoch_s = times[-1] if times else None
    samples_per_s = run.dataset.train_size / epoch_s if epoch_s and run.dataset else None
    eta = None
    if 0 < fraction < 1 and record.status in ("pending", "running"):
        pace = recent_epoch_s(curve)
        eta = pace * (1 - fraction) * epochs if pace is not None else None
    return Progress(
        min(done_epochs + 1, epochs),
        epochs,
        min(fraction, 1.0),
        epoch_s,
        samples_per_s,
        eta,
        elapsed,
    )


def bn_gap(run: RunFile, metric: str = "val_accuracy") -> float | None:
    """BN − plain for the latest epoch both have reached."""
    a = getattr(run.models["plain"].history, metric)
    b = getattr(run.models["bn"].history, metric)
    n = min(len(a), len(b))
    if n == 0 or a[n - 1] is None or b[n - 1] is None:
        return None
    return b[n - 1] - a[n - 1]
