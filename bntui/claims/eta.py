"""How long a battery will take, and how sure that is.

Before any cell has finished, the estimate is each cell's work (`CellSpec.work()`) at the
seconds per unit a reference machine took, plus the workers' start: a first guess, said as
one. As cells finish, it is the work left at the rate this machine took, with a range from
how much its cells' rates varied (the fewer cells measured, and the fewer left, the wider).
Each worker's first cell also paid for starting (imports, and compiling where the compile
cache is cold): once later cells have finished, what it took beyond their rate is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bntui.claims.cells import CellSpec

# Seconds per unit of `CellSpec.work()` for one worker: sample_runs/claims-quick.json (the
# design-3 quick battery on the 2-core AMD EPYC reference, 2 workers) took 844 s of cell time
# for 3,962 units.
SECONDS_PER_WORK = 0.213
# Starting the workers (a process, Keras and JAX, the first compiles) on the reference.
STARTUP_S = 15.0
# Before this machine has finished a cell it may be this many times faster or slower than
# the reference (a battery the reference took 3 min for has taken 1 min elsewhere).
GUESS_FACTOR = 3.0
# The least spread of log rates assumed: two alike first cells do not make the estimate
# exact (how cells pack onto the workers, what else the machine does).
MIN_SPREAD = 0.15
# The range is the central estimate within ±Z spreads (about 90% if rates were lognormal).
Z = 1.64


@dataclass(frozen=True)
class Estimate:
    """Seconds left: the central estimate and a range; `measured` cells calibrated it (0:
    the reference machine's rate, a first guess)."""

    seconds: float
    low: float
    high: float
    measured: int

    def text(self, suffix: str = "") -> str:
        """`about 1–2 min` once measured; a first guess says so. `suffix` follows the
        duration (" left")."""
        if not self.measured:
            return f"about {duration(self.seconds)}{suffix} (a first guess until cells finish)"
        return f"about {duration_range(self.low, self.high)}{suffix}"

    def after(self, elapsed: float) -> Estimate:
        """The same estimate `elapsed` seconds later (a countdown between events)."""
        seconds, low, high = (max(0.0, v - elapsed) for v in (self.seconds, self.low, self.high))
        return Estimate(seconds, low, high, self.measured)


def effective_count(weights: list[float]) -> float:
    """How many equal parts `weights` are worth (Kish): n for n equal weights, ~1 when
    one dominates."""
    total, squares = sum(weights), sum(w * w for w in weights)
    return total * total / squares if squares > 0 else 0.0


def first_cells(todo: list[CellSpec], workers: int) -> set[str]:
    """The cells the workers start with, one each: as `bntui.procs.scheduler` orders
    them, the largest shared cells first (timed cells come last, alone)."""
    shared = sorted((c for c in todo if not c.timed), key=lambda c: -c.work())
    return {c.id for c in [*shared, *(c for c in todo if c.timed)][:workers]}


class Eta:
    """Tracks the cells of a battery and predicts the seconds left."""

    def __init__(self, cells: list[CellSpec], workers: int, done: set[str] | None = None) -> None:
        """`cells`: the whole battery; `done`: those already finished (a resume)."""
        self.work = {cell.id: cell.work() for cell in cells}
        self.exclusive = {cell.id for cell in cells if cell.timed}
        self.workers = max(1, workers)
        self.left = {cid: 1.0 for cid in self.work if cid not in (done or set())}
        self.first = first_cells([cell for cell in cells if cell.id in self.left], self.workers)
        # (work, seconds) of each cell this machine finished: each worker's first (which
        # paid for its start) and the rest.
        self.cold: list[tuple[float, float]] = []
        self.warm: list[tuple[float, float]] = []

    @property
    def measured(self) -> list[tuple[float, float]]:
        """The finished cells as (work, seconds), a first cell's start-up taken out: the
        time it took beyond what the later cells' rate says its work takes (none until
        later cells have finished)."""
        if not self.warm:
            return self.cold
        warm_rate = sum(s for _, s in self.warm) / sum(w for w, _ in self.warm)
        return [(w, min(s, w * warm_rate)) for w, s in self.cold] + self.warm

    @property
    def rate(self) -> float:
        """Seconds per unit of work: this machine's once a cell finished, else the
        reference machine's."""
        measured = self.measured
        if measured:
            return sum(s for _, s in measured) / sum(w for w, _ in measured)
        return SECONDS_PER_WORK

    def spread(self) -> float:
        """The work-weighted standard deviation of the measured cells' log rates (at least
        MIN_SPREAD): how far one cell's rate strays from the mean."""
        measured = self.measured
        if not measured:
            return math.log(GUESS_FACTOR)
        centre = math.log(self.rate)
        squares = sum(w * (math.log(s / w) - centre) ** 2 for w, s in measured)
        return max(MIN_SPREAD, math.sqrt(squares / sum(w for w, _ in measured)))

    def progress(self, cell: str, fraction: float) -> None:
        """A running cell reported how far it is."""
        if cell in self.left:
            self.left[cell] = max(0.0, 1.0 - fraction)

    def ended(self, cell: str, seconds: float, ok: bool) -> None:
        """A cell ended after `seconds`; a finished one calibrates the rate."""
        self.left.pop(cell, None)
        work = self.work.get(cell, 0.0)
        if ok and work > 0 and seconds > 0:
            (self.cold if cell in self.first else self.warm).append((work, seconds))

    def seconds_left(self) -> float:
        """Predicted seconds until every cell has ended (exclusive cells run alone)."""
        shared = sum(self.work[c] * f for c, f in self.left.items() if c not in self.exclusive)
        alone = sum(self.work[c] * f for c, f in self.left.items() if c in self.exclusive)
        start = 0.0 if self.cold or self.warm else STARTUP_S  # the workers have started
        return start + self.rate * (shared / self.workers + alone)

    def estimate(self) -> Estimate:
        """The seconds left with a range: before any cell finished, the reference rate
        within a factor GUESS_FACTOR; then this machine's rate, whose error shrinks with
        the cells measured (the mean is better known) and the cells left (their strays
        average out)."""
        seconds, finished = self.seconds_left(), len(self.cold) + len(self.warm)
        if not finished:
            return Estimate(seconds, seconds / GUESS_FACTOR, seconds * GUESS_FACTOR, 0)
        left = [self.work[c] * f for c, f in self.left.items() if f > 0]
        if not left:
            return Estimate(0.0, 0.0, 0.0, finished)
        known = effective_count([w for w, _ in self.measured])
        error = self.spread() * math.sqrt(1 / known + 1 / effective_count(left))
        factor = math.exp(Z * error)
        return Estimate(seconds, seconds / factor, seconds * factor, finished)

    @property
    def fraction_done(self) -> float:
        """How much of the battery's work is done, 0 to 1."""
        total = sum(self.work.values()) or 1.0
        return 1.0 - sum(self.work[c] * f for c, f in self.left.items()) / total


def duration(seconds: float) -> str:
    """A duration as people say it: 45 s, 3 min, 1 h 20 min."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _rounded(seconds: float) -> float:
    """Seconds to the precision a range is said in: 5 s from 20 s, whole minutes from 60."""
    if seconds < 20:
        return max(0, round(seconds))
    if seconds < 60:
        return 5 * round(seconds / 5)
    return 60 * round(seconds / 60)


def duration_range(low: float, high: float) -> str:
    """A range of durations as people say it: `40–55 s`, `1–2 min`, `50 s–2 min`; one
    duration where both ends round alike."""
    low, high = _rounded(low), _rounded(max(low, high))
    if duration(low) == duration(high):
        return duration(high)
    if high < 60 or (low >= 60 and high < 3600):
        unit = " s" if high < 60 else " min"
        return f"{duration(low).removesuffix(unit)}–{duration(high)}"
    return f"{duration(low)}–{duration(high)}"
