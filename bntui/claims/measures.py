"""Each claim's measured quantity, from the finished cells: one paired value per seed,
its 95% interval, its tests and the verdict of the claim's rule, secondary figures and
the chart data.

The one place these figures are computed: the Claims tab, headless lines, the report and
the CSVs all read a `Measure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from bntui.claims.battery import CLAIMS, Scale, seed_values
from bntui.claims.claimfile import ClaimsFile
from bntui.claims.convergence import convergence
from bntui.claims.deployment import depth, inference, robustness
from bntui.claims.found import Detail, Figure, Found, Results
from bntui.claims.landscape import smoothness
from bntui.claims.probed import gradient_flow
from bntui.claims.quantities import confound, cost, learning_rate
from bntui.claims.regimes import initialisation, regularisation, small_batches
from bntui.claims.rules import TEST_NAMES, Significance, TestName, Verdict
from bntui.claims.shifted import covariate_shift
from bntui.stats.intervals import Interval, mean_interval
from bntui.stats.significance import ALPHA, holm, seeds_needed

# Each claim's quantity function, by claim.
QUANTITIES: dict[str, Callable[[Results, Scale], Found]] = {
    "convergence": convergence,
    "lr": learning_rate,
    "init": initialisation,
    "gradients": gradient_flow,
    "shift": covariate_shift,
    "regularisation": regularisation,
    "small-batches": small_batches,
    "confound": confound,
    "cost": cost,
    "robustness": robustness,
    "inference": inference,
    "depth": depth,
    "smoothness": smoothness,
}

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
    tests: Significance | None = None
    verdict: Verdict | None = None
    seeds_needed: int | None = None  # with too few seeds: about how many would tell
    censored: str = ""  # "lower", "upper" or "both": the values are bounds (`Found.censored`)
    # Decided while other claims of the battery were unfinished (Holm counts them as p = 1).
    provisional: bool = False
    details: list[Detail] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figure: Figure | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def p_value(self) -> float | None:
        """The Holm-adjusted p-value of the test that decided the verdict (for "too few
        seeds", of the claim's own test)."""
        if self.tests is None:
            return None
        decided = {"not supported": "against", "no effect": "null"}.get(self.verdict or "")
        return self.tests.adjusted.get(decided or "claim")


def _measure(claims: ClaimsFile, name: str, running: frozenset[str], changed: set[str]) -> Measure:
    """The claim `name` as far as `claims`' finished cells allow, its tests not yet adjusted."""
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
    older = sorted(c.id for c in cells if c.id in changed)
    notes = found.notes
    if older:
        notes = [
            f"{len(older)} of its cells ({', '.join(older[:3])}"
            f"{', …' if len(older) > 3 else ''}) were recorded under another design than "
            "this bntui's: read its figures as that design's",
            *notes,
        ]
    return Measure(
        claim=name,
        status="done",
        cells_done=len(cells),
        cells_total=len(cells),
        seeds=[r.seed for r in next(iter(results.values()))],
        values=found.values,
        interval=mean_interval(found.values),
        tests=CLAIMS[name].rule.tests(found.values),
        details=found.details,
        notes=notes,
        figure=found.figure,
        censored=found.censored,
    )


def measures(claims: ClaimsFile, running: frozenset[str] = frozenset()) -> list[Measure]:
    """Every claim of the battery, in its order, with its verdict: each test Holm-corrected
    across the battery's claims (a claim not yet finished counts with p = 1, so the family
    is the battery planned, fixed before anything ran)."""
    changed = set(claims.design_changes())
    found = [_measure(claims, name, running, changed) for name in claims.claims]
    adjusted: dict[str, list[float | None]] = {}
    for test in TEST_NAMES:
        family = [i for i, m in enumerate(found) if _applies(m.claim, test)]
        raw = [found[i].tests.raw.get(test) if found[i].tests else None for i in family]  # type: ignore[union-attr]
        adjusted[test] = [None] * len(found)
        for i, p in zip(family, holm(raw)):
            adjusted[test][i] = p
    settled = []
    for i, m in enumerate(found):
        if m.tests is None:
            settled.append(m)
            continue
        tests = Significance(m.tests.raw, {test: adjusted[test][i] for test in TEST_NAMES})
        rule = CLAIMS[m.claim].rule
        verdict = rule.verdict(tests)
        if m.censored and not _bound_decides(m.censored, rule.expects, verdict):
            verdict = "too few seeds"  # a bound cannot show what the verdict would say
        # Holm's first step tests at α / m: the bar a claim may have to clear.
        alpha = ALPHA / len(found)
        needed = seeds_needed(m.values, rule.margin, alpha) if verdict == "too few seeds" else None
        # A claim still to finish (not a failed one) could still shift Holm's steps.
        provisional = any(o.tests is None and o.status != "failed" for o in found)
        settled.append(
            replace(m, tests=tests, verdict=verdict, seeds_needed=needed, provisional=provisional)
        )
    return settled


def measure(claims: ClaimsFile, name: str, running: frozenset[str] = frozenset()) -> Measure:
    """The claim `name`, as `measures` settles it with the rest of the battery."""
    return measures(claims, running)[claims.claims.index(name)]


def _bound_decides(censored: str, expects: str, verdict: Verdict) -> bool:
    """Whether values that are bounds still decide: a lower bound above zero does show a
    positive effect (and an upper bound below zero a negative one); nothing else does."""
    wanted = {"positive": "lower", "negative": "upper"}.get(expects)
    return verdict == "supported" and censored == wanted


def _applies(name: str, test: TestName) -> bool:
    """Whether a claim's rule has test `test` (an equivalence rule has no separate null)."""
    return not (test == "null" and CLAIMS[name].rule.expects == "equivalent")
