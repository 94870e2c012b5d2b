"""Where in an epoch a measurement falls, for every trainer: the curve points and layer
statistics of a run (Keras' `fit` and the stacked seeds alike) and a claims cell's
evaluations and probes.

A trainer that steps in groups measures at the end of the first group that reaches or
passes a point; several points passed in one group make one measurement.
"""

from __future__ import annotations

from typing import Literal

# "every": every ⌊steps/n⌋ steps, and at the epoch's last (a run's curve points);
# "up": the k-th of n at step ⌈k·steps/n⌉ (a run's layer statistics);
# "nearest": the k-th of n at the step nearest k·steps/n, at least 1 (a claims cell, whose
# recorded results depend on it).
Rule = Literal["every", "up", "nearest"]


def epoch_points(steps: int, per_epoch: int, rule: Rule) -> tuple[int, ...]:
    """The steps (1..`steps`) of an epoch after which `per_epoch` measurements fall by `rule`,
    in order, each once."""
    if per_epoch <= 0:
        return ()
    if rule == "every":
        interval = max(1, steps // per_epoch)
        found = {*range(interval, steps + 1, interval), steps}
    elif rule == "up":
        found = {-(-k * steps // per_epoch) for k in range(1, per_epoch + 1)}
    else:
        found = {max(1, round(k * steps / per_epoch)) for k in range(1, per_epoch + 1)}
    return tuple(sorted(found))


class Cadence:
    """The points of one epoch, and which of them a trainer has passed since it last asked."""

    def __init__(self, steps: int, per_epoch: int, rule: Rule) -> None:
        self.points = epoch_points(steps, per_epoch, rule)
        self.restart()

    def restart(self) -> None:
        """A new epoch: every point lies ahead again."""
        self._next = 0

    def due(self, step: int) -> bool:
        """True when the trainer, now after step `step` of the epoch, has passed a point since
        it last asked: a measurement is due."""
        passed = self._next
        while self._next < len(self.points) and self.points[self._next] <= step:
            self._next += 1
        return self._next > passed
