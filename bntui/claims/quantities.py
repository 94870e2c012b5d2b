"""Each claim's quantity: from its cells' per-seed results to one paired value per seed,
with the secondary figures, notes and chart that explain it. `bntui.claims.measures`
turns these into intervals and verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bntui.claims.battery import BASE_RATE, RATE_BATCH, Scale, rate_label
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, Series, band, finals, paired
from bntui.stats.intervals import finite, mean_interval

# A seed "trains" at a learning rate when its loss stayed finite and it ends at least here.
TRAINS_AT = 0.5
MODELS = ("plain", "bn")
# A timed epoch whose worker got less of its core than this was slowed by something else.
BUSY_SHARE = 0.8
LABELS = {"plain": "plain", "bn": "BN"}


def _log10(value: float | None) -> float | None:
    return math.log10(value) if value is not None and value > 0 else None


def first_reaching(run: SeedResult, target: float) -> int | None:
    """The first step at which validation accuracy reached `target` (None: never)."""
    for step, accuracy in zip(run.steps, run.val_accuracy):
        if accuracy is not None and accuracy >= target:
            return step
    return None


def convergence(results: Results, scale: Scale) -> Found:
    """The share of plain's steps to the target that BN saves, (plain − BN) / plain in %; a
    seed that never gets there counts as the last step plus one evaluation interval (a lower
    bound on its true figure)."""
    steps, notes = {}, []
    for key in MODELS:
        runs = results[f"base/{key}"]
        cap = runs[0].steps[-1] + (runs[0].steps[-1] - runs[0].steps[-2])
        reached = [first_reaching(r, scale.target) for r in runs]
        for run, at in zip(runs, reached):
            if at is None:
                notes.append(f"{key} seed {run.seed} never reached {scale.target:.0%}: "
                             f"counted as {cap:,} steps")  # fmt: skip
        steps[key] = [float(cap if at is None else at) for at in reached]
    values = [
        None if p is None or b is None or p <= 0 else (p - b) / p * 100
        for p, b in zip(steps["plain"], steps["bn"])
    ]
    details = [Detail(f"{LABELS[k]} steps to {scale.target:.0%}", mean_interval(steps[k]), "steps",
                      signed=False) for k in MODELS]  # fmt: skip
    first = results["base/plain"][0]
    every = first.steps[1] - first.steps[0] if len(first.steps) > 1 else 0
    notes.append(f"validation accuracy every {every:,} steps: the step counts are multiples of it")
    # From the first evaluation on: the start (chance) would squeeze the curves to the top.
    x = [float(s) for s in first.steps[1:]]
    series = [band(k, list(zip(*[finals_at(r)[1:] for r in results[f"base/{k}"]])))
              for k in MODELS]  # fmt: skip
    level: list[float | None] = [scale.target * 100] * len(x)
    series.append(Series("target", f"target {scale.target:.0%}", level, level, level))
    figure = Figure(f"validation accuracy (target {scale.target:.0%})", "step", "accuracy (%)",
                    x, [f"{int(v):,}" for v in x], series, floor=0.0)  # fmt: skip
    return Found(values, details, notes, figure)


def finals_at(run: SeedResult) -> list[float | None]:
    """A seed's validation accuracy (%) at every point of its curve."""
    return [None if v is None else v * 100 for v in run.val_accuracy]


def _trains(run: SeedResult) -> bool:
    return not run.diverged and (run.final_accuracy or 0.0) >= TRAINS_AT


def learning_rate(results: Results, scale: Scale) -> Found:
    """log10 of the largest rate each seed trains at, BN − plain."""
    largest: dict[str, list[float | None]] = {}
    notes = []
    for key in MODELS:
        per_seed = []
        for k, run in enumerate(results[f"lr/{key}/{rate_label(scale.lr_grid[0])}"]):
            ok = [r for r in scale.lr_grid if _trains(results[f"lr/{key}/{rate_label(r)}"][k])]
            per_seed.append(_log10(max(ok)) if ok else None)
            if not ok:
                notes.append(f"{key} seed {run.seed} trains at no rate of the grid")
        largest[key] = per_seed
    values = paired(largest["bn"], largest["plain"])
    top = _log10(scale.lr_grid[-1])
    at_top = set()
    for key in MODELS:
        rates = ", ".join("none" if v is None else f"{10**v:g}" for v in largest[key])
        notes.append(f"{LABELS[key]}'s largest rate that trains, seed by seed: {rates}")
        if any(v is not None and top is not None and v >= top - 1e-9 for v in largest[key]):
            at_top.add(key)
            notes.append(f"{LABELS[key]} trains at the grid's top rate "
                         f"({scale.lr_grid[-1]:g}): its limit lies beyond the grid, so the "
                         "difference is a bound")  # fmt: skip
    censored = {frozenset(): "", frozenset({"bn"}): "lower", frozenset({"plain"}): "upper"}
    details = [Detail(f"{LABELS[k]} largest rate that trains (log10)",
                      mean_interval(largest[k]), "", signed=False) for k in MODELS]  # fmt: skip
    columns = {k: [finals(results[f"lr/{k}/{rate_label(r)}"], 100.0) for r in scale.lr_grid]
               for k in MODELS}  # fmt: skip
    figure = Figure("final validation accuracy by learning rate", "learning rate",
                    "accuracy (%)", [math.log10(r) for r in scale.lr_grid],
                    [rate_label(r) for r in scale.lr_grid],
                    [band(k, columns[k]) for k in MODELS], floor=0.0)  # fmt: skip
    notes.append(f"trains = loss stayed finite and final validation accuracy ≥ {TRAINS_AT:.0%}")
    return Found(values, details, notes, figure, censored.get(frozenset(at_top), "both"))  # type: ignore[arg-type]


def initialisation(results: Results, scale: Scale) -> Found:
    """Spread (max − min) of final accuracy across init scales, in points, plain − BN."""
    spread: dict[str, list[float | None]] = {}
    columns = {}
    for key in MODELS:
        columns[key] = [finals(results[f"init/{key}/{f:g}"], 100.0) for f in scale.init_scales]
        per_seed = []
        for values in zip(*columns[key]):
            numbers = finite(values)
            per_seed.append(max(numbers) - min(numbers) if len(numbers) == len(values) else None)
        spread[key] = per_seed
    details = [Detail(f"{LABELS[k]} spread across scales", mean_interval(spread[k]), "points",
                      signed=False) for k in MODELS]  # fmt: skip
    figure = Figure("final validation accuracy by initial weight scale", "kernel scale",
                    "accuracy (%)", [math.log10(f) for f in scale.init_scales],
                    [f"×{f:g}" for f in scale.init_scales],
                    [band(k, columns[k]) for k in MODELS], floor=0.0)  # fmt: skip
    return Found(paired(spread["plain"], spread["bn"]), details, [], figure)


def gradient_flow(results: Results, scale: Scale) -> Found:
    """log10(first / last layer gradient norm), averaged over the probe points after the
    start, BN − plain."""
    ratio: dict[str, list[float | None]] = {}
    columns = {}
    for key in MODELS:
        runs = results[f"deep/{key}"]
        per_seed = []
        for run in runs:
            logs = [_log10(g[0]) - _log10(g[-1])  # type: ignore[operator]
                    for g in run.layer_grads[1:]
                    if _log10(g[0]) is not None and _log10(g[-1]) is not None]  # fmt: skip
            per_seed.append(sum(logs) / len(logs) if logs else None)
        ratio[key] = per_seed
        layers = len(runs[0].layer_grads[0]) if runs[0].layer_grads else 0
        columns[key] = [[_mean_log(r.layer_grads[1:], i) for r in runs] for i in range(layers)]
    details = [Detail(f"{LABELS[k]} log10 first/last", mean_interval(ratio[k]), "") for k in MODELS]
    n = len(columns["plain"])
    figure = Figure("gradient norm per Dense layer (log10, mean over training)", "layer",
                    "log10 norm", [float(i + 1) for i in range(n)],
                    [str(i + 1) for i in range(n)],
                    [band(k, columns[k]) for k in MODELS])  # fmt: skip
    return Found(paired(ratio["bn"], ratio["plain"]), details, [], figure)


def _mean_log(points: list[list[float | None]], layer: int) -> float | None:
    logs = finite([_log10(p[layer]) for p in points])
    return sum(logs) / len(logs) if logs else None


def covariate_shift(results: Results, scale: Scale) -> Found:
    """Drift of the hidden Dense layers' inputs (all but the first, whose input is the
    data in the plain model), summed over training, averaged over layers, plain − BN."""
    drift: dict[str, list[float | None]] = {}
    columns = {}
    for key in MODELS:
        runs = results[f"base/{key}"]
        per_seed = []
        for run in runs:
            hidden = finite(run.input_drift[1:])
            per_seed.append(sum(hidden) / len(hidden) if hidden else None)
        drift[key] = per_seed
        layers = len(runs[0].input_drift)
        columns[key] = [[run.input_drift[i] for run in runs] for i in range(1, layers)]
    details = [
        Detail(f"{LABELS[k]} drift", mean_interval(drift[k]), "", signed=False) for k in MODELS
    ]
    n = len(columns["plain"])
    figure = Figure("input drift per Dense layer (summed over training)", "Dense layer",
                    "drift", [float(i + 2) for i in range(n)], [str(i + 2) for i in range(n)],
                    [band(k, columns[k]) for k in MODELS], floor=0.0)  # fmt: skip
    return Found(paired(drift["plain"], drift["bn"]), details, [], figure)


def regularisation(results: Results, scale: Scale) -> Found:
    """Train accuracy (inference mode) − validation accuracy, in points, plain − BN."""
    gap: dict[str, list[float | None]] = {}
    columns = {}
    for key in MODELS:
        runs = results[f"base/{key}"]
        train = [None if r.train_accuracy is None else r.train_accuracy * 100 for r in runs]
        gap[key] = paired(train, finals(runs, 100.0))
        columns[key] = [train, finals(runs, 100.0)]
    details = [Detail(f"{LABELS[k]} gap", mean_interval(gap[k]), "points") for k in MODELS]
    validation = paired(columns["bn"][1], columns["plain"][1])
    details.append(Detail("validation accuracy, BN − plain", mean_interval(validation), "points"))
    figure = Figure("accuracy on the training slice and on validation", "data",
                    "accuracy (%)",
                    [0.0, 1.0], ["train (inference)", "validation"],
                    [band(k, columns[k]) for k in MODELS], floor=0.0)  # fmt: skip
    return Found(paired(gap["plain"], gap["bn"]), details, [], figure)


def small_batches(results: Results, scale: Scale) -> Found:
    """BN's gain over plain (points) at the smallest batch minus at the reference batch
    (32, the notebooks' and every other cell's)."""
    sizes = scale.batch_sizes
    reference = sizes.index(RATE_BATCH)
    columns = {k: [finals(results[f"batch/{k}/{b}"], 100.0) for b in sizes] for k in MODELS}
    gain = [paired(bn, plain) for plain, bn in zip(columns["plain"], columns["bn"])]
    smallest = results[f"batch/bn/{sizes[0]}"]
    modes = paired([None if r.train_mode_accuracy is None else r.train_mode_accuracy * 100
                    for r in smallest], finals(smallest, 100.0))  # fmt: skip
    details = [Detail(f"BN gain at batch {b}", mean_interval(g), "points")
               for b, g in zip(sizes, gain)]  # fmt: skip
    details.append(Detail(f"BN train-mode − inference-mode accuracy at batch {sizes[0]}",
                          mean_interval(modes), "points"))  # fmt: skip
    figure = Figure("final validation accuracy by batch size", "batch size", "accuracy (%)",
                    [math.log2(b) for b in sizes], [str(b) for b in sizes],
                    [band(k, columns[k]) for k in MODELS], floor=0.0)  # fmt: skip
    notes = [
        f"learning rate {BASE_RATE:g} × batch / {RATE_BATCH} at every batch size (same epochs)"
    ]
    return Found(paired(gain[0], gain[reference]), details, notes, figure)


def confound(results: Results, scale: Scale) -> Found:
    """BN − plain with the same activation and init (points); the notebooks' gap beside."""
    acc = {k: finals(results[f"base/{k}"], 100.0) for k in ("seeds-plain", "plain", "bn")}
    controlled = paired(acc["bn"], acc["plain"])
    notebooks = paired(acc["bn"], acc["seeds-plain"])
    details = [
        Detail("notebooks' gap (BN − LeakyReLU/he_normal plain)", mean_interval(notebooks),
               "points"),
        Detail("controlled gap (BN − ReLU/glorot plain)", mean_interval(controlled), "points"),
        Detail("not BN's: notebooks' gap − controlled gap", mean_interval(paired(notebooks,
               controlled)), "points"),
    ]  # fmt: skip
    # Three levels side by side, read by their size: from zero, or a small gap looks large.
    figure = Figure("final validation accuracy", "model", "accuracy (%)", [0.0, 1.0, 2.0],
                    ["notebooks' plain", "controlled plain", "BN"],
                    [band(k, [acc[k] if k == j else [None] * len(acc[k]) for j in acc])
                     for k in acc], floor=0.0, from_floor=True)  # fmt: skip
    return Found(controlled, details, [], figure)


def epoch_time(run: SeedResult) -> float | None:
    """A seed's time per epoch: the fastest of its epochs after the first (which compiles);
    whatever else the machine does can only add time, so the fastest is the least noisy."""
    timed = finite(run.epoch_seconds[1:])
    return min(timed) if timed else None


def core_share(run: SeedResult) -> float | None:
    """CPU time over wall time of the seed's fastest timed epoch (None: not recorded)."""
    pairs = [(w, c) for w, c in zip(run.epoch_seconds[1:], run.epoch_cpu_seconds[1:])
             if w is not None and c is not None and w > 0]  # fmt: skip
    if not pairs:
        return None
    wall, cpu = min(pairs)
    return cpu / wall


def cost(results: Results, scale: Scale) -> Found:
    """BN's time per epoch over plain's − 1, in percent (each seed timed alone)."""
    times = {k: [epoch_time(r) for r in results[f"cost/{k}"]] for k in MODELS}
    values = [None if p is None or b is None or p <= 0 else (b / p - 1) * 100
              for p, b in zip(times["plain"], times["bn"])]  # fmt: skip
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
    notes += [f"parameters: plain {params['plain']:,}, BN {params['bn']:,} "
             f"({(params['bn'] / max(1, params['plain']) - 1) * 100:+.1f}%)"]  # fmt: skip
    # Times from zero: +50% must look like half as much again.
    figure = Figure("seconds per epoch (timed alone)", "model", "seconds", [0.0, 1.0],
                    ["plain", "BN"],
                    [band(k, [times[k] if k == j else [None] * len(times[k]) for j in MODELS])
                     for k in MODELS], floor=0.0, from_floor=True)  # fmt: skip
    return Found(values, details, notes, figure)


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
}
