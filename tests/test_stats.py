"""Derived figures: the ETA follows the training pace, not the start-up; pinned cores are named."""

from __future__ import annotations

import pytest

from bntui.device import pinned_cores
from bntui.runfile import Curve
from bntui.stats import recent_epoch_s


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
