"""Each claim's measured quantity, from the finished cells: one paired value per seed,
its 95% interval, the verdict of the claim's rule, secondary figures and the chart data.

The one place these figures are computed: the Claims tab, headless lines, the report and
the CSVs all read a `Measure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bntui.claims.battery import CLAIMS, Scale, seed_values
from bntui.claims.claimfile import ClaimsFile
from bntui.claims.found import Detail, Figure, Found, Results
from bntui.claims.quantities import QUANTITIES
from bntui.claims.rules import Verdict
from bntui.stats.intervals import Interval, mean_interval

Status = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True)
class Measure:
    """What the battery found for one claim (so far)."""

    claim: str
    status: Status
    cells_done: int
    cells_total: int
    seeds: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    interval: Interval | None = None
    verdict: Verdict | None = None
    details: list[Detail] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figure: Figure | None = None
    errors: list[str] = field(default_factory=list)


def measure(claims: ClaimsFile, name: str, running: frozenset[str] = frozenset()) -> Measure:
    """The claim `name` as far as `claims`' finished cells allow."""
    scale = claims.battery_scale
    cells = CLAIMS[name].cells(scale, seed_values(claims.seed, scale))
    done = claims.done()
    failed = [c for c in claims.cells if c.status == "failed" and c.id in {x.id for x in cells}]
    finished = [c for c in cells if c.id in done]
    base = {"claim": name, "cells_done": len(finished), "cells_total": len(cells)}
    if failed:
        errors = [f"{c.id}: {c.error or 'failed'}" for c in failed]
        return Measure(status="failed", errors=errors, **base)  # type: ignore[arg-type]
    if len(finished) < len(cells):
        # Started, and the battery still going (live): running; a file read later: pending.
        busy = any(c.id in running for c in cells) or (
            bool(finished) and claims.status == "running"
        )
        return Measure(status="running" if busy else "pending", **base)  # type: ignore[arg-type]
    results: Results = {c.id: done[c.id].results for c in cells}
    compute: Callable[[Results, Scale], Found] = QUANTITIES[name]
    found = compute(results, scale)
    interval = mean_interval(found.values)
    return Measure(
        claim=name, status="done", cells_done=len(cells), cells_total=len(cells),
        seeds=[r.seed for r in next(iter(results.values()))], values=found.values,
        interval=interval, verdict=CLAIMS[name].rule.verdict(interval), details=found.details,
        notes=found.notes, figure=found.figure,
    )  # fmt: skip


def measures(claims: ClaimsFile, running: frozenset[str] = frozenset()) -> list[Measure]:
    """Every claim of the battery, in its order."""
    return [measure(claims, name, running) for name in claims.claims]
