"""Claim `convergence`: how many times fewer steps BN needs to reach the accuracy plain ends
at (Ioffe & Szegedy's definition), each model at its own best rate of the learning-rate
grid (where Bjorck et al. locate BN's speed-up), and at the one shared rate of the 2×2
(input standardisation × hidden BN) beside it.

Speed-ups are log10(plain's steps / the other's), shown as ratios (`×`): a geometric mean
and its interval. BN is evaluated with population statistics (precise BN), so the lag of its
moving averages is not counted against it; the moving averages' figure is shown beside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bntui.claims.battery import BASE_EVALS, LR_EVALS, SQUARE, Scale, rate_label
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, Series, band
from bntui.stats.intervals import mean_interval

LABELS = {
    "plain-raw": "plain, raw pixels",
    "plain": "plain, standardised pixels",
    "bn-hidden": "BN on the hidden layers only",
    "bn": "BN everywhere",
}


def reaching(steps: Sequence[int], accuracy: Sequence[float | None], target: float) -> int | None:
    """The first step at which `accuracy` reached `target` (None: never)."""
    for step, value in zip(steps, accuracy):
        if value is not None and value >= target:
            return step
    return None


def end_of(run: SeedResult, points: int) -> float | None:
    """A seed's end point: its mean validation accuracy over the last epoch's `points`
    evaluations; None when it diverged."""
    return None if run.diverged else run.end_accuracy(points)


def speedup(plain: float | None, other: float | None) -> float | None:
    """log10(plain's steps / the other's): > 0 when the other is faster."""
    if plain is None or other is None or plain <= 0 or other <= 0:
        return None
    return math.log10(plain / other)


class Race:
    """Each seed's steps to its target in a set of runs; a seed that never gets there counts
    as the run's last step plus one evaluation interval, a lower bound (one note per set of
    runs says which seeds)."""

    def __init__(self, targets: Sequence[float | None], notes: list[str]) -> None:
        self.targets, self.notes = targets, notes
        self.bounded: set[str] = set()  # the labels of the runs with a bound

    def steps(
        self, runs: Sequence[SeedResult | None], label: str, moving: bool = False
    ) -> list[float | None]:
        """Per seed, steps to the seed's target in `runs` (its moving-average curve when
        `moving` and the run has one)."""
        out: list[float | None] = []
        never: list[str] = []
        cap = 0
        for run, target in zip(runs, self.targets):
            if run is None or target is None or len(run.steps) < 2:
                out.append(None)
                continue
            curve = (
                run.val_accuracy_moving if moving and run.val_accuracy_moving else run.val_accuracy
            )
            at = reaching(run.steps, curve, target)
            if at is None:
                at = cap = run.steps[-1] + run.steps[-1] - run.steps[-2]
                never.append(str(run.seed))
            out.append(float(at))
        if never:
            self.bounded.add(label)
            self.notes.append(
                f"{label}: seed{'s' if len(never) > 1 else ''} {', '.join(never)} never "
                f"reached the target: counted as {cap:,} steps, so its speed-ups are bounds"
            )
        return out


def best_runs(
    results: Results, key: str, scale: Scale
) -> tuple[list[SeedResult | None], list[float | None]]:
    """Per seed, model `key`'s run at its own best rate of the grid (the highest end point;
    the lower rate on a tie) and that rate."""
    grid = [results[f"lr/{key}/{rate_label(r)}"] for r in scale.lr_grid]
    runs: list[SeedResult | None] = []
    rates: list[float | None] = []
    for k in range(len(grid[0])):
        scored = [(end_of(g[k], LR_EVALS), -i) for i, g in enumerate(grid)]
        usable = [(e, i) for e, i in scored if e is not None]
        if not usable:
            runs.append(None)
            rates.append(None)
            continue
        _, negative = max(usable)
        runs.append(grid[-negative][k])
        rates.append(scale.lr_grid[-negative])
    return runs, rates


def _ratio(label: str, values: list[float | None]) -> Detail:
    return Detail(label, mean_interval(values), "×", signed=False)


def convergence(results: Results, scale: Scale) -> Found:
    """Speed-up to plain's end accuracy, plain's steps / BN's, each at its own best rate."""
    notes: list[str] = []
    best = {k: best_runs(results, k, scale) for k in ("plain", "bn")}
    targets = [None if r is None else end_of(r, LR_EVALS) for r in best["plain"][0]]
    race = Race(targets, notes)
    plain_steps = race.steps(best["plain"][0], "plain at its best rate")
    bn_steps = race.steps(best["bn"][0], "BN at its best rate")
    # Its own race: a moving-average curve that never arrives does not bound the verdict's.
    moving_steps = Race(targets, notes).steps(
        best["bn"][0], "BN (moving averages) at its best rate", moving=True
    )
    values = [speedup(p, b) for p, b in zip(plain_steps, bn_steps)]
    censored = "upper" if race.bounded else ""  # BN never arriving: the speed-up is at most
    for key, label in (("plain", "plain"), ("bn", "BN")):
        rates = ", ".join("–" if r is None else f"{r:g}" for r in best[key][1])
        notes.append(f"{label}'s best rate, seed by seed: {rates}")
    details = [
        Detail(
            "plain's final accuracy (the target)",
            mean_interval([None if t is None else t * 100 for t in targets]),
            "%",
            signed=False,
        ),
        Detail(
            "plain's steps to it, at its best rate",
            mean_interval(plain_steps),
            "steps",
            signed=False,
        ),
        Detail(
            "BN's steps to it, at its best rate", mean_interval(bn_steps), "steps", signed=False
        ),
        _ratio(
            "the same with BN's moving averages (what Keras' evaluate shows)",
            [speedup(p, b) for p, b in zip(plain_steps, moving_steps)],
        ),
    ]
    details += shared_rate(results, scale, notes)
    first = results[f"lr/plain/{rate_label(scale.lr_grid[0])}"][0]
    every = first.steps[1] - first.steps[0] if len(first.steps) > 1 else 0
    notes.append(
        f"validation accuracy every {every:,} steps in the grid ({BASE_EVALS} times an epoch "
        "at the shared rate): step counts are multiples of it"
    )
    notes.append(
        "BN is evaluated with population statistics (precise BN: its statistics recomputed "
        "over 2,000 training images at each evaluation), so the lag of its moving averages "
        "(momentum 0.99) is not counted against it"
    )
    return Found(values, details, notes, curves(best, targets), censored)  # type: ignore[arg-type]


def shared_rate(results: Results, scale: Scale, notes: list[str]) -> list[Detail]:
    """The 2×2 at the shared rate: every model's speed-up over raw-pixel plain, to the
    standardised plain model's end accuracy, and BN's over standardised plain."""
    runs = {k: results[f"base/{k}"] for k in SQUARE}
    targets = [end_of(r, BASE_EVALS) for r in runs["plain"]]
    race = Race(targets, notes)
    steps = {k: race.steps(runs[k], f"{LABELS[k]} (shared rate)") for k in SQUARE}
    over = [speedup(p, b) for p, b in zip(steps["plain"], steps["bn"])]
    details = [_ratio("at the shared rate 0.01: BN everywhere over standardised plain", over)]
    # Raw plain never arriving makes its steps a lower bound, and speed-ups over it too.
    at_least = f"{LABELS['plain-raw']} (shared rate)" in race.bounded
    details += [
        _ratio(
            f"at the shared rate: {what} over raw-pixel plain{' (at least)' if at_least else ''}",
            [speedup(p, b) for p, b in zip(steps["plain-raw"], steps[key])],
        )
        for key, what in (
            ("plain", "standardising the pixels alone"),
            ("bn-hidden", "hidden BN alone (raw pixels)"),
            ("bn", "BN everywhere (the notebooks' comparison)"),
        )
    ]
    return details


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def curves(
    best: dict[str, tuple[list[SeedResult | None], list[float | None]]], targets: list[float | None]
) -> Figure | None:
    """Validation accuracy of each model at its own best rate (each seed's), with the target."""
    runs = [r for r in best["plain"][0] if r is not None]
    if not runs:
        return None
    x = [float(s) for s in runs[0].steps[1:]]
    series: list[Series] = []
    for key in ("plain", "bn"):
        columns = [
            [_percent(r.val_accuracy[i]) if r is not None else None for r in best[key][0]]
            for i in range(1, len(runs[0].steps))
        ]
        series.append(band(key, columns))
    known = [t * 100 for t in targets if t is not None]
    level: list[float | None] = [sum(known) / len(known) if known else None] * len(x)
    series.append(Series("target", "target (plain's end)", level, level, level))
    return Figure(
        "validation accuracy, each model at its best rate",
        "step",
        "accuracy (%)",
        x,
        [f"{int(v):,}" for v in x],
        series,
        floor=0.0,
    )
