"""The battery's time estimate on synthetic timings: a first guess says it is one; once
cells finish, the estimate follows this machine's rate, and its range narrows as more
cells are measured. No clocks: every duration is given."""

from __future__ import annotations

import random
import re

import pytest

from bntui.claims.battery import SCALES, plan
from bntui.claims.cells import CellSpec
from bntui.claims.eta import SECONDS_PER_WORK, Estimate, Eta, duration_range
from bntui.cli.claims import FULL_HELP, QUICK_HELP


def quick_cells() -> list[CellSpec]:
    return plan(["lr", "init", "cost"], SCALES["quick"], 42)


def test_before_any_cell_the_estimate_is_a_first_guess() -> None:
    eta = Eta(quick_cells(), workers=2)
    estimate = eta.estimate()
    assert estimate.measured == 0 and eta.rate == SECONDS_PER_WORK
    assert estimate.low < estimate.seconds < estimate.high
    assert "first guess" in estimate.text(" left") and estimate.text(" left").startswith("about ")


def test_a_machine_three_times_faster_is_found_after_one_cell() -> None:
    cells = quick_cells()
    eta = Eta(cells, workers=2)
    guess = eta.seconds_left()
    first = cells[0]
    eta.ended(first.id, first.work() * SECONDS_PER_WORK / 3, ok=True)
    left_work = sum(c.work() for c in cells[1:] if not c.timed) / 2 + sum(
        c.work() for c in cells[1:] if c.timed
    )
    assert eta.seconds_left() == pytest.approx(left_work * SECONDS_PER_WORK / 3)
    assert eta.seconds_left() < guess / 2
    assert "first guess" not in eta.estimate().text()


def test_the_estimate_converges_and_its_range_narrows() -> None:
    """Cells whose rates scatter around 0.2 s a unit: the rate measured comes close to 0.2,
    and the range narrows, in seconds and (while many cells are left) relative to the
    estimate."""
    cells = quick_cells()
    eta = Eta(cells, workers=1)
    scatter = random.Random(7)
    spans, ratios, errors = [], [], []
    for cell in cells[:-1]:
        eta.ended(cell.id, cell.work() * 0.2 * scatter.uniform(0.8, 1.25), ok=True)
        estimate = eta.estimate()
        assert estimate.low <= estimate.seconds <= estimate.high
        spans.append(estimate.high - estimate.low)
        ratios.append(estimate.high / estimate.low)
        errors.append(abs(eta.rate / 0.2 - 1))
    half = len(spans) // 2
    assert max(spans[half:]) < min(spans[:2]) and spans[-1] < spans[0] / 3
    assert ratios[half] < ratios[0]
    assert errors[-1] < 0.05
    assert max(errors[half:]) < max(errors[:half])


def test_a_failed_cell_does_not_calibrate() -> None:
    cells = quick_cells()
    eta = Eta(cells, workers=2)
    eta.ended(cells[0].id, 9999.0, ok=False)
    assert eta.rate == SECONDS_PER_WORK and eta.estimate().measured == 0
    assert cells[0].id not in eta.left


def test_scattered_rates_give_a_wider_range_than_steady_ones() -> None:
    cells = quick_cells()
    steady, scattered = Eta(cells, workers=2), Eta(cells, workers=2)
    for k, cell in enumerate(cells[:6]):
        steady.ended(cell.id, cell.work() * 0.3, ok=True)
        scattered.ended(cell.id, cell.work() * (0.1 if k % 2 else 0.9), ok=True)
    wide, narrow = scattered.estimate(), steady.estimate()
    assert wide.high / wide.low > narrow.high / narrow.low


def test_nothing_left_is_zero() -> None:
    cells = quick_cells()
    eta = Eta(cells, workers=2)
    for cell in cells:
        eta.ended(cell.id, cell.work() * 0.3, ok=True)
    assert eta.estimate() == Estimate(0.0, 0.0, 0.0, len(cells))
    assert eta.fraction_done == 1.0


@pytest.mark.parametrize(
    ("low", "high", "said"),
    [
        (41, 52, "40–50 s"),
        (65, 110, "1–2 min"),
        (45, 100, "45 s–2 min"),
        (118, 125, "2 min"),
        (5, 8, "5–8 s"),
        (3000, 4000, "50 min–1 h 7 min"),
    ],
)
def test_ranges_are_said_as_people_say_them(low: float, high: float, said: str) -> None:
    assert duration_range(low, high) == said
    assert Estimate((low + high) / 2, low, high, 3).text(" left") == f"about {said} left"


def test_the_help_promises_no_duration() -> None:
    for text in (QUICK_HELP, FULL_HELP):
        assert not re.search(r"\d\s*(s|min|h|hours?|minutes?)\b", text), text


def test_each_workers_start_up_is_not_taken_for_work() -> None:
    """The first cell of each of 2 workers also took 20 s to start (imports, compiles),
    and one worker's second cell ended before the other's first: once later cells have
    finished, the rate is theirs, not inflated by the start."""
    cells = quick_cells()
    eta = Eta(cells, workers=2)
    shared = sorted((c for c in cells if not c.timed), key=lambda c: -c.work())
    assert eta.first == {shared[0].id, shared[1].id}  # the scheduler's largest first
    assert eta.seconds_left() > eta.rate * sum(c.work() for c in cells if not c.timed) / 2
    eta.ended(shared[0].id, 20 + shared[0].work() * 0.3, ok=True)
    assert eta.rate > 0.3 * 1.5  # only a first cell so far: start-up and all
    eta.ended(shared[2].id, shared[2].work() * 0.3, ok=True)  # worker 1's second cell
    eta.ended(shared[1].id, 20 + shared[1].work() * 0.3, ok=True)  # worker 2's first
    for cell in shared[3:6]:
        eta.ended(cell.id, cell.work() * 0.3, ok=True)
    assert eta.rate == pytest.approx(0.3)
    assert eta.estimate().measured == 6


def test_an_estimate_counts_down() -> None:
    estimate = Estimate(100.0, 80.0, 130.0, 4)
    assert estimate.after(30) == Estimate(70.0, 50.0, 100.0, 4)
    assert estimate.after(500) == Estimate(0.0, 0.0, 0.0, 4)
