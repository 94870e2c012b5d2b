"""How long a battery will take: up front from each cell's estimated work, then, as cells
finish, from the seconds per unit of work this machine actually took."""

from __future__ import annotations

from bntui.claims.cells import CellSpec

# Seconds per unit of `CellSpec.work()` for one worker: measured on the 2-core Xeon the
# quick battery was recorded on (see bench/RESULTS.md), a starting guess elsewhere.
SECONDS_PER_WORK = 0.5


class Eta:
    """Tracks the cells of a battery and predicts the seconds left."""

    def __init__(self, cells: list[CellSpec], workers: int, done: set[str] | None = None) -> None:
        """`cells`: the whole battery; `done`: those already finished (a resume)."""
        self.work = {cell.id: cell.work() for cell in cells}
        self.exclusive = {cell.id for cell in cells if cell.timed}
        self.workers = max(1, workers)
        self.left = {cid: 1.0 for cid in self.work if cid not in (done or set())}
        self.measured_work = 0.0
        self.measured_seconds = 0.0

    @property
    def rate(self) -> float:
        """Seconds per unit of work: measured once a few cells finished, else the default."""
        if self.measured_work >= 1:
            return self.measured_seconds / self.measured_work
        return SECONDS_PER_WORK

    def progress(self, cell: str, fraction: float) -> None:
        """A running cell reported how far it is."""
        if cell in self.left:
            self.left[cell] = max(0.0, 1.0 - fraction)

    def ended(self, cell: str, seconds: float, ok: bool) -> None:
        """A cell ended after `seconds`; a finished one calibrates the rate."""
        self.left.pop(cell, None)
        if ok and cell in self.work:
            self.measured_work += self.work[cell]
            self.measured_seconds += seconds

    def seconds_left(self) -> float:
        """Predicted seconds until every cell has ended (exclusive cells run alone)."""
        shared = sum(self.work[c] * f for c, f in self.left.items() if c not in self.exclusive)
        alone = sum(self.work[c] * f for c, f in self.left.items() if c in self.exclusive)
        return self.rate * (shared / self.workers + alone)

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
