"""Derived figures (bntui.stats.figures): the honest training curve, one s/epoch, a robust y range,
the ETA at the training pace; pinned cores are named."""

from __future__ import annotations

import pytest

from bntui.core.text import fmt, fmt_signed
from bntui.record.columns import Curve, History
from bntui.stats.figures import (
    METRIC_BOUNDS,
    curve_positions,
    epoch_times,
    interval_curve,
    recent_epoch_s,
    robust_range,
)
from bntui.training.device import pinned_cores


def curve_at(times: list[float], steps: int = 10) -> Curve:
    """One point per step from step 1, epoch after epoch, at the given times."""
    n = len(times)
    return Curve(
        t=times,
        epoch=[i // steps for i in range(n)],
        step=[i % steps + 1 for i in range(n)],
        steps=[steps] * n,
        loss=[1.0] * n,
        accuracy=[0.5] * n,
    )


def test_pace_ignores_the_start_up() -> None:
    # Compiling took 30 s before the first point; then each step takes 0.1 s (1 s/epoch).
    curve = curve_at([30 + 0.1 * i for i in range(15)])
    assert recent_epoch_s(curve) == pytest.approx(1.0)


def test_pace_follows_the_last_epoch() -> None:
    # First epoch at 2 s/epoch, then the pace doubles: the ETA uses the recent pace.
    times = [0.2 * i for i in range(10)] + [1.8 + 0.1 * i for i in range(1, 21)]
    assert recent_epoch_s(curve_at(times)) == pytest.approx(1.0)


def test_no_pace_before_two_points() -> None:
    assert recent_epoch_s(curve_at([])) is None
    assert recent_epoch_s(curve_at([5.0])) is None


def test_pinned_cores_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    for mine, shown in [({3}, " (core 3)"), ({4, 5, 6, 7}, " (cores 4-7)"),
                        ({0, 2}, " (cores 0,2)"), (set(range(8)), "")]:  # fmt: skip
        monkeypatch.setattr("os.sched_getaffinity", lambda pid, m=mine: m)
        assert pinned_cores() == shown


def running_curve(batches: list[list[float]], every: int, batch: int, size: int) -> Curve:
    """What Keras reports: per epoch, the sample-weighted running mean after every `every`
    steps (the last batch of `size` samples may be partial), as the worker records it."""
    steps = len(batches[0])
    t, epoch, step, steps_, loss = [], [], [], [], []
    for e, values in enumerate(batches):
        total = seen = 0.0
        for s, value in enumerate(values, start=1):
            n = min(batch, size - (s - 1) * batch)
            total += value * n
            seen += n
            if s % every == 0 or s == steps:
                t.append(float(len(t)))
                epoch.append(e)
                step.append(s)
                steps_.append(steps)
                loss.append(total / seen)
    return Curve(t=t, epoch=epoch, step=step, steps=steps_, loss=loss, accuracy=loss)


def test_interval_curve_recovers_each_interval_exactly() -> None:
    # 2 epochs of 10 steps, batch 32 over 300 images (the last batch has 12), a point every 3:
    # the last point (one batch of 12 images) is under half an interval, so it joins the one
    # before it (steps 7-10).
    batches = [[2.0 - 0.1 * i for i in range(10)], [1.0 - 0.05 * i for i in range(10)]]
    curve = running_curve(batches, every=3, batch=32, size=300)
    xs, ys = interval_curve(curve, "loss", batch_size=32, train_size=300)
    groups = [(0, 3), (3, 6), (6, 10)]
    weights = [32] * 9 + [12]
    expected = []
    for values in batches:
        for a, b in groups:
            w = weights[a:b]
            expected.append(sum(v * n for v, n in zip(values[a:b], w)) / sum(w))
    assert ys == pytest.approx(expected)
    # Placed mid-interval, in fractional epochs; no cliff where the running mean restarts.
    assert xs[:3] == pytest.approx([0.15, 0.45, 0.8])
    assert xs[3] == pytest.approx(1.15)


def test_a_partial_last_batch_is_no_spike() -> None:
    # A --limit 1000 epoch at batch 32: 31 whole batches and one of 8 images, a point each
    # step. The 8 images are one mean over 8 (here an unlucky 3.0): merged into the batch
    # before, it is a mean over 40 and no spike.
    batches = [[0.5] * 31 + [3.0]]
    curve = running_curve(batches, every=1, batch=32, size=1000)
    xs, ys = interval_curve(curve, "loss", batch_size=32, train_size=1000)
    assert len(xs) == 31
    assert ys[-1] == pytest.approx((0.5 * 32 + 3.0 * 8) / 40)
    assert xs[-1] == pytest.approx((30 / 32 + 1.0) / 2)


def test_a_step_past_the_epoch_end_counts_as_the_end() -> None:
    # Keras reports an epoch's last, short group of fused steps as if whole (1734 of 1719).
    curve = Curve(t=[1.0, 2.0], epoch=[0, 0], step=[1700, 1734], steps=[1719, 1719],
                  loss=[1.0, 0.9], accuracy=[0.5, 0.6])  # fmt: skip
    assert curve_positions(curve) == pytest.approx([1700 / 1719, 1.0])
    xs, ys = interval_curve(curve, "loss", 32, 55_000)
    assert xs[-1] < 1.0 and ys[-1] is not None


def history_of(times: list[float]) -> History:
    n = len(times)
    return History(loss=[1.0] * n, accuracy=[0.5] * n, val_loss=[1.0] * n,
                   val_accuracy=[0.5] * n, epoch_time_s=times)  # fmt: skip


def test_one_definition_of_seconds_per_epoch() -> None:
    times = epoch_times(history_of([4.0, 1.5, 1.2, 1.4]))
    assert (times.first_s, times.steady_s, times.per_epoch_s) == (4.0, 1.4, 1.4)
    only = epoch_times(history_of([4.0]))
    assert (only.first_s, only.steady_s, only.per_epoch_s) == (4.0, None, 4.0)
    assert epoch_times(History()).per_epoch_s is None


def test_robust_range_is_not_owned_by_the_first_steps() -> None:
    curve = [2.3, 1.9] + [0.5 + 0.001 * i for i in range(98)]
    lo, hi = robust_range([curve], [[0.45, 0.6]], METRIC_BOUNDS["loss"])
    assert hi < 0.7 and lo < 0.45
    lo, hi = robust_range([[0.9, 0.99, 1.0]], [[0.98]], METRIC_BOUNDS["accuracy"])
    assert hi == 1.0  # never 1.01
    assert robust_range([[]], [[None]]) is None


def test_numbers_never_read_minus_zero() -> None:
    assert fmt(-0.00001, 3) == "0.000"
    assert fmt_signed(-0.0001) == "0.00" and fmt_signed(0.031) == "+0.03"
    assert fmt_signed(-0.112, 3) == "−0.112" and fmt(float("nan")) == "—"
