"""The claims report's CSV tables, from `measures()` alone: each claim's paired value per
seed, each figure's points, and one summary row per claim.

Values are written exactly as the `Measure` holds them (floats at full precision, empty
cells for None); text goes through `bntui.outputs.export.csv_cell`, so nothing from a file reads
as a spreadsheet formula.
"""

from __future__ import annotations

from bntui.claims.battery import CLAIMS
from bntui.claims.found import Figure
from bntui.claims.measures import Measure
from bntui.outputs.export import csv_table

CLAIM_HEADER = ["claim", "seed", "quantity", "value", "unit"]
FIGURE_HEADER = ["series", "x", "tick", "mean", "low", "high"]
SUMMARY_HEADER = [
    "claim",
    "verdict",
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "p_holm",
    "seeds_needed",
    "unit",
    "notebook",
]


def claim_csv(found: Measure) -> str:
    """One row per seed: the claim's paired quantity for that seed, in its unit."""
    claim = CLAIMS[found.claim]
    rows: list[list[object]] = [
        # A ratio is kept as its log10, the value the tests use; the unit says so.
        [
            found.claim,
            seed,
            claim.quantity,
            value,
            "log10 ratio" if claim.unit == "×" else claim.unit,
        ]
        for seed, value in zip(found.seeds, found.values)
    ]
    return csv_table(CLAIM_HEADER, rows)


def figure_csv(figure: Figure) -> str:
    """One row per series and x position: the tick label, the mean and the seeds' range."""
    rows: list[list[object]] = [
        [series.key, x, tick, mean, low, high]
        for series in figure.series
        for x, tick, mean, low, high in zip(
            figure.x, figure.ticks, series.mean, series.low, series.high
        )
    ]
    return csv_table(FIGURE_HEADER, rows)


def verdict_word(found: Measure) -> str:
    """The verdict, or where an unfinished claim stands: `pending` or `failed` (a report
    reads a file: nothing in it is running)."""
    if found.verdict is not None:
        return found.verdict
    return "failed" if found.status == "failed" else "pending"


def summary_csv(found: list[Measure]) -> str:
    """One row per claim: verdict, mean and 95% interval, n, the deciding test's Holm-adjusted
    p-value, the seeds that would tell (for too few seeds), unit, notebook."""
    rows: list[list[object]] = []
    for m in found:
        claim, interval = CLAIMS[m.claim], m.interval
        if interval is None:
            numbers: list[object] = [None, None, None, 0 if m.status == "done" else None]
        else:
            numbers = [interval.mean, interval.low, interval.high, interval.n]
        rows.append(
            [
                m.claim,
                verdict_word(m),
                *numbers,
                m.p_value,
                m.seeds_needed,
                "log10 ratio" if claim.unit == "×" else claim.unit,
                claim.notebook,
            ]
        )
    return csv_table(SUMMARY_HEADER, rows)
