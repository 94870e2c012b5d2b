"""The one cadence helper measures where each trainer measured before it: a run's curve
points and layer statistics (whether steps come one at a time or in fused groups), and a
claims cell's evaluations and probes."""

from __future__ import annotations

import pytest

from bntui.training.cadence import Cadence, epoch_points


def group_ends(steps: int, group: int) -> list[int]:
    """The steps after which a trainer that steps `group` at a time reports."""
    return [*range(group, steps, group), steps]


def curve_before(steps: int, per_epoch: int, group: int) -> list[int]:
    """The curve points as the worker's callback and the seeds' loop chose them before."""
    every = max(1, steps // per_epoch)
    found, next_point = [], every
    for step in group_ends(steps, group):
        if step < next_point and step < steps:
            continue
        next_point = (step // every + 1) * every
        found.append(step)
    return found


def probes_before(steps: int, per_epoch: int, group: int) -> list[int]:
    """The layer statistics' steps as the worker's callback and the seeds' loop chose them."""
    found, k, next_probe = [], 1, -(-steps // per_epoch)
    for step in group_ends(steps, group):
        if step >= next_probe:
            while next_probe <= step:
                k += 1
                next_probe = -(-k * steps // per_epoch)
            found.append(step)
    return found


def measured(cadence: Cadence, ends: list[int]) -> list[int]:
    cadence.restart()
    return [step for step in ends if cadence.due(step)]


@pytest.mark.parametrize("steps", [1, 2, 7, 19, 100, 1563, 1719])
@pytest.mark.parametrize("per_epoch", [1, 3, 5, 25, 40])
@pytest.mark.parametrize("group", [1, 4, 31])
def test_a_run_measures_where_it_did(steps: int, per_epoch: int, group: int) -> None:
    ends = group_ends(steps, group)
    curve = Cadence(steps, per_epoch, "every")
    probes = Cadence(steps, per_epoch, "up")
    for _ in range(2):  # and again in the next epoch
        assert measured(curve, ends) == curve_before(steps, per_epoch, group)
        assert measured(probes, ends) == probes_before(steps, per_epoch, group)


@pytest.mark.parametrize("steps", [1, 3, 16, 64, 128, 625, 1718])
@pytest.mark.parametrize("per_epoch", [0, 1, 2, 4, 7])
def test_a_cell_measures_where_it_did(steps: int, per_epoch: int) -> None:
    before = sorted({max(1, round(k * steps / per_epoch)) for k in range(1, per_epoch + 1)})
    assert list(epoch_points(steps, per_epoch, "nearest")) == before
    # A cell trains up to each point, so each is due where it lies.
    cadence = Cadence(steps, per_epoch, "nearest")
    assert measured(cadence, list(range(1, steps + 1))) == before


def test_points_passed_in_one_group_make_one_measurement() -> None:
    cadence = Cadence(10, 10, "up")
    assert cadence.points == tuple(range(1, 11))
    asked = [cadence.due(step) for step in (4, 4, 9, 10)]
    assert asked == [True, False, True, True]
    assert epoch_points(10, 0, "every") == ()
