"""What the Claims tab knows of a battery: its own copy of the claims file, filled in from
the event stream (live or replayed), the cells running and how far each is, and every
claim's `Measure`, recomputed by `bntui.claims.measures` whenever a result lands.

No Textual here: the screen draws from a `BatteryView`, and tests can drive one directly.
"""

from __future__ import annotations

from bntui.claims.claimfile import ClaimsFile
from bntui.claims.events import BatteryEnded, CellEnded, CellProgress, CellStarted, ClaimsEvent
from bntui.claims.measures import Measure, measures


class BatteryView:
    """A battery as far as its events have told: finished cells, running cells, verdicts."""

    def __init__(self, header: ClaimsFile, keep_cells: bool = False) -> None:
        """Start from `header` (what was planned); with `keep_cells`, from its finished cells
        too (a resumed battery's earlier results; a failed cell is trained again), else
        from none."""
        cells = [c for c in header.cells if c.status == "done"] if keep_cells else []
        self.claims = header.model_copy(update={"cells": cells, "verdicts": []})
        self.total = len(header.plan())
        self.running: dict[str, float] = {}  # cell id -> fraction done
        self.ended: BatteryEnded | None = None
        self.last_t = 0.0
        self._found: list[Measure] | None = None

    def apply(self, event: ClaimsEvent) -> None:
        """Take one event into the record."""
        self.last_t = max(self.last_t, event.t)
        if isinstance(event, CellStarted):
            self.running[event.cell] = 0.0
        elif isinstance(event, CellProgress):
            if event.cell in self.running:
                self.running[event.cell] = min(1.0, max(0.0, event.fraction))
            return  # no claim's measure changes
        elif isinstance(event, CellEnded):
            self.running.pop(event.result.id, None)
            self.claims.record(event.result)
        else:
            self.ended = event
            self.running.clear()
        self._found = None

    def found(self) -> list[Measure]:
        """Every claim's measure as the finished cells stand (cached until the next event)."""
        if self._found is None:
            self._found = measures(self.claims, running=frozenset(self.running))
        return self._found

    def measure(self, name: str) -> Measure:
        """Claim `name`'s measure."""
        return next(m for m in self.found() if m.claim == name)

    @property
    def cells_done(self) -> int:
        """Cells that ended (finished or failed)."""
        return len(self.claims.cells)

    @property
    def cells_failed(self) -> int:
        """Cells that failed."""
        return sum(1 for c in self.claims.cells if c.status == "failed")

    def fraction(self) -> float:
        """How far the battery is, 0 to 1: the ended cells and the running ones' progress."""
        if not self.total:
            return 1.0
        return min(1.0, (self.cells_done + sum(self.running.values())) / self.total)
