"""Each claim's quantity: from its cells' per-seed results to one paired value per seed,
with the secondary figures, notes and chart that explain it. `bntui.claims.measures`
turns these into intervals and verdicts.
"""

from __future__ import annotations

import math

from bntui.claims.battery import (
    BASE_EVALS,
    SQUARE,
    Scale,
    rate_label,
)
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, Series, band, finals, paired
from bntui.stats.intervals import finite, mean_interval

# A seed "trains" at a learning rate when its loss stayed finite and it ends at least here.
TRAINS_AT = 0.5
MODELS = ("plain", "bn")
# A timed epoch whose worker got less of its core than this was slowed by something else.
BUSY_SHARE = 0.8
LABELS = {"plain": "plain", "bn": "BN"}
SQUARE_LABELS = {
    "plain-raw": "plain, raw pixels",
    "plain": "plain, standardised pixels",
    "bn-hidden": "BN on the hidden layers only",
    "bn": "BN everywhere",
}


def log10_or_none(value: float | None) -> float | None:
    """log10 of a positive value; None for anything else."""
    return math.log10(value) if value is not None and value > 0 else None


def first_reaching(run: SeedResult, target: float) -> int | None:
    """The first step at which validation accuracy reached `target` (None: never)."""
    for step, accuracy in zip(run.steps, run.val_accuracy):
        if accuracy is not None and accuracy >= target:
            return step
    return None


def steps_to(results: Results, key: str, target: float, notes: list[str]) -> list[float]:
    """Each seed's steps to `target` in cell `base/key`; a seed that never gets there counts
    as the last step plus one evaluation interval (a lower bound on its true figure)."""
    runs = results[f"base/{key}"]
    cap = runs[0].steps[-1] + (runs[0].steps[-1] - runs[0].steps[-2])
    reached = [first_reaching(r, target) for r in runs]
    for run, at in zip(runs, reached):
        if at is None:
            notes.append(
                f"{SQUARE_LABELS[key]} seed {run.seed} never reached {target:.0%}: "
                f"counted as {cap:,} steps"
            )
    return [float(cap if at is None else at) for at in reached]


def saved(before: list[float], after: list[float]) -> list[float | None]:
    """The share of `before`'s steps that `after` saves, per seed, in %."""
    return [None if b <= 0 else (b - a) / b * 100 for b, a in zip(before, after)]


def convergence(results: Results, scale: Scale) -> Found:
    """The share of the controlled plain model's steps to the target that BN saves,
    (plain − BN) / plain in %; beside it the 2×2 of input standardisation × hidden BN."""
    notes: list[str] = []
    steps = {k: steps_to(results, k, scale.target, notes) for k in SQUARE}
    details = [
        Detail(
            f"{SQUARE_LABELS[k]} steps to {scale.target:.0%}",
            mean_interval(steps[k]),
            "steps",
            signed=False,
        )
        for k in SQUARE
    ]
    details += [
        Detail(
            "share saved by standardising the pixels alone (raw → standardised plain)",
            mean_interval(saved(steps["plain-raw"], steps["plain"])),
            "%",
        ),
        Detail(
            "share saved by BN on raw pixels, hidden layers only (raw plain → BN hidden)",
            mean_interval(saved(steps["plain-raw"], steps["bn-hidden"])),
            "%",
        ),
        Detail(
            "share the notebooks' comparison shows (raw plain → BN everywhere)",
            mean_interval(saved(steps["plain-raw"], steps["bn"])),
            "%",
        ),
    ]
    first = results["base/plain"][0]
    every = first.steps[1] - first.steps[0] if len(first.steps) > 1 else 0
    notes.append(f"validation accuracy every {every:,} steps: the step counts are multiples of it")
    notes.append(
        "BN is evaluated in inference mode with its moving averages (momentum 0.99), which "
        "lag early in training: a bias against BN in the first evaluations"
    )
    # From the first evaluation on: the start (chance) would squeeze the curves to the top.
    x = [float(s) for s in first.steps[1:]]
    series = [band(k, list(zip(*[finals_at(r)[1:] for r in results[f"base/{k}"]]))) for k in MODELS]
    level: list[float | None] = [scale.target * 100] * len(x)
    series.append(Series("target", f"target {scale.target:.0%}", level, level, level))
    figure = Figure(
        f"validation accuracy (target {scale.target:.0%})",
        "step",
        "accuracy (%)",
        x,
        [f"{int(v):,}" for v in x],
        series,
        floor=0.0,
    )
    return Found(saved(steps["plain"], steps["bn"]), details, notes, figure)


def ends(runs: list[SeedResult]) -> list[float | None]:
    """Each seed's end point in %: the mean of the last epoch's evaluations (pre-stated)."""
    return [None if (a := r.end_accuracy(BASE_EVALS)) is None else a * 100 for r in runs]


def finals_at(run: SeedResult) -> list[float | None]:
    """A seed's validation accuracy (%) at every point of its curve."""
    return [None if v is None else v * 100 for v in run.val_accuracy]


def trains_at_rate(run: SeedResult) -> bool:
    """A seed trained: its loss stayed finite and it ended at `TRAINS_AT` or better."""
    return not run.diverged and (run.final_accuracy or 0.0) >= TRAINS_AT


def learning_rate(results: Results, scale: Scale) -> Found:
    """log10 of the largest rate each seed trains at, BN − plain."""
    largest: dict[str, list[float | None]] = {}
    notes = []
    for key in MODELS:
        per_seed = []
        for k, run in enumerate(results[f"lr/{key}/{rate_label(scale.lr_grid[0])}"]):
            ok = [
                r for r in scale.lr_grid if trains_at_rate(results[f"lr/{key}/{rate_label(r)}"][k])
            ]
            per_seed.append(log10_or_none(max(ok)) if ok else None)
            if not ok:
                notes.append(f"{key} seed {run.seed} trains at no rate of the grid")
        largest[key] = per_seed
    values = paired(largest["bn"], largest["plain"])
    top = log10_or_none(scale.lr_grid[-1])
    at_top = set()
    for key in MODELS:
        rates = ", ".join("none" if v is None else f"{10**v:g}" for v in largest[key])
        notes.append(f"{LABELS[key]}'s largest rate that trains, seed by seed: {rates}")
        if any(v is not None and top is not None and v >= top - 1e-9 for v in largest[key]):
            at_top.add(key)
            notes.append(
                f"{LABELS[key]} trains at the grid's top rate "
                f"({scale.lr_grid[-1]:g}): its limit lies beyond the grid, so the "
                "difference is a bound"
            )
    censored = {frozenset(): "", frozenset({"bn"}): "lower", frozenset({"plain"}): "upper"}
    details = [
        Detail(
            f"{LABELS[k]} largest rate that trains (log10)",
            mean_interval(largest[k]),
            "",
            signed=False,
        )
        for k in MODELS
    ]
    columns = {
        k: [finals(results[f"lr/{k}/{rate_label(r)}"], 100.0) for r in scale.lr_grid]
        for k in MODELS
    }
    figure = Figure(
        "final validation accuracy by learning rate",
        "learning rate",
        "accuracy (%)",
        [math.log10(r) for r in scale.lr_grid],
        [rate_label(r) for r in scale.lr_grid],
        [band(k, columns[k]) for k in MODELS],
        floor=0.0,
    )
    notes.append(f"trains = loss stayed finite and final validation accuracy ≥ {TRAINS_AT:.0%}")
    return Found(values, details, notes, figure, censored.get(frozenset(at_top), "both"))  # type: ignore[arg-type]


def confound(results: Results, scale: Scale) -> Found:
    """Validation accuracy at the end (the mean of the last epoch's evaluations), BN − the
    controlled plain model (points); the notebooks' gap and the 2×2 beside it."""
    keys = ("seeds-plain", *SQUARE)
    acc = {k: ends(results[f"base/{k}"]) for k in keys}
    controlled = paired(acc["bn"], acc["plain"])
    notebooks = paired(acc["bn"], acc["seeds-plain"])
    details = [
        Detail(
            "notebooks' gap (BN − LeakyReLU/he_normal plain, raw pixels)",
            mean_interval(notebooks),
            "points",
        ),
        Detail(
            "controlled gap (BN − ReLU/glorot plain, standardised pixels)",
            mean_interval(controlled),
            "points",
        ),
        Detail(
            "not BN's: notebooks' gap − controlled gap",
            mean_interval(paired(notebooks, controlled)),
            "points",
        ),
        Detail(
            "standardising the pixels alone (plain: standardised − raw)",
            mean_interval(paired(acc["plain"], acc["plain-raw"])),
            "points",
        ),
        Detail(
            "BN on the hidden layers alone, raw pixels (BN hidden − raw plain)",
            mean_interval(paired(acc["bn-hidden"], acc["plain-raw"])),
            "points",
        ),
    ]
    labels = ["notebooks' plain", "plain, raw", "plain, std.", "BN hidden", "BN"]
    # Five levels side by side, read by their size: from zero, or a small gap looks large.
    figure = Figure(
        "validation accuracy at the end",
        "model",
        "accuracy (%)",
        [float(i) for i in range(len(keys))],
        labels,
        [band(k, [acc[k] if k == j else [None] * len(acc[k]) for j in keys]) for k in keys],
        floor=0.0,
        from_floor=True,
    )
    notes = [f"end point: the mean of the last epoch's {BASE_EVALS} evaluations (pre-stated)"]
    return Found(controlled, details, notes, figure)


def epoch_time(run: SeedResult) -> float | None:
    """A seed's time per epoch: the fastest of its epochs after the first (which compiles);
    whatever else the machine does can only add time, so the fastest is the least noisy."""
    timed = finite(run.epoch_seconds[1:])
    return min(timed) if timed else None


def core_share(run: SeedResult) -> float | None:
    """CPU time over wall time of the seed's fastest timed epoch (None: not recorded)."""
    pairs = [
        (w, c)
        for w, c in zip(run.epoch_seconds[1:], run.epoch_cpu_seconds[1:])
        if w is not None and c is not None and w > 0
    ]
    if not pairs:
        return None
    wall, cpu = min(pairs)
    return cpu / wall


def cost(results: Results, scale: Scale) -> Found:
    """BN's time per epoch over plain's − 1, in percent (each seed timed alone)."""
    times = {k: [epoch_time(r) for r in results[f"cost/{k}"]] for k in MODELS}
    values = [
        None if p is None or b is None or p <= 0 else (b / p - 1) * 100
        for p, b in zip(times["plain"], times["bn"])
    ]
    params = {k: results[f"cost/{k}"][0].params for k in MODELS}
    details = [
        Detail(f"{LABELS[k]} seconds per epoch", mean_interval(times[k]), "s", signed=False)
        for k in MODELS
    ]
    notes = [
        f"{LABELS[key]} seed {run.seed}: its timed epoch got {share:.0%} of a core (CPU time / "
        "wall time): something else ran on the machine, so its time is inflated"
        for key in MODELS
        for run in results[f"cost/{key}"]
        if (share := core_share(run)) is not None and share < BUSY_SHARE
    ]
    notes += [
        f"parameters: plain {params['plain']:,}, BN {params['bn']:,} "
        f"({(params['bn'] / max(1, params['plain']) - 1) * 100:+.1f}%)"
    ]
    # Times from zero: +50% must look like half as much again.
    figure = Figure(
        "seconds per epoch (timed alone)",
        "model",
        "seconds",
        [0.0, 1.0],
        ["plain", "BN"],
        [band(k, [times[k] if k == j else [None] * len(times[k]) for j in MODELS]) for k in MODELS],
        floor=0.0,
        from_floor=True,
    )
    return Found(values, details, notes, figure)
