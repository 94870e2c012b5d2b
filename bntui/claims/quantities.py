"""Each claim's quantity: from its cells' per-seed results to one paired value per seed,
with the secondary figures, notes and chart that explain it. `bntui.claims.measures`
turns these into intervals and verdicts.
"""

from __future__ import annotations

import math

from bntui.claims.battery import (
    BASE_EVALS,
    CONFOUND_MARGIN,
    SQUARE,
    Scale,
    rate_label,
)
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, band, finals, paired
from bntui.claims.rules import Rule
from bntui.stats.intervals import finite, mean_interval
from bntui.stats.significance import ALPHA

# A seed "trains" at a learning rate when its loss stayed finite and it ends at least here.
TRAINS_AT = 0.5
MODELS = ("plain", "bn")
# A timed epoch whose worker got less of its core than this was slowed by something else.
BUSY_SHARE = 0.8
LABELS = {"plain": "plain", "bn": "BN"}


def log10_or_none(value: float | None) -> float | None:
    """log10 of a positive value; None for anything else."""
    return math.log10(value) if value is not None and value > 0 else None


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
    # The notebooks' plain model against the same model with ReLU and glorot (both on raw
    # pixels): is the activation/init part of their gap zero? Equivalence by two one-sided
    # sign-flip tests (TOST) at the claim's margin; a secondary test, not Holm-corrected.
    part = paired(acc["plain-raw"], acc["seeds-plain"])
    equivalent = Rule("equivalent", CONFOUND_MARGIN).tests(part).raw["claim"]
    details.append(
        Detail(
            "activation and init alone (ReLU/glorot − LeakyReLU/he, raw pixels)",
            mean_interval(part),
            "points",
        )
    )
    if equivalent is not None:
        within = "within" if equivalent < ALPHA else "not shown within"
        notes.append(
            f"the activation/init part is {within} ±{CONFOUND_MARGIN:g} point of zero "
            f"(TOST, sign-flip p = {equivalent:.2g}; a secondary test, not Holm-corrected)"
        )
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


def _slowdown(
    results: Results, prefix: str
) -> tuple[dict[str, list[float | None]], list[float | None]]:
    """Each model's seconds per epoch in the cells `prefix/plain` and `prefix/bn`, and BN's
    time over plain's − 1 per seed, in %."""
    times = {k: [epoch_time(r) for r in results[f"{prefix}/{k}"]] for k in MODELS}
    values = [
        None if p is None or b is None or p <= 0 else (b / p - 1) * 100
        for p, b in zip(times["plain"], times["bn"])
    ]
    return times, values


def cost(results: Results, scale: Scale) -> Found:
    """BN's time per epoch over plain's − 1, in percent (each seed timed alone), in the
    notebooks' harness (Keras `fit` on TensorFlow); bntui's fused JAX loop beside it."""
    times, values = _slowdown(results, "cost-fit")
    fused_times, fused = _slowdown(results, "cost")
    params = {k: results[f"cost/{k}"][0].params for k in MODELS}
    details = [
        Detail(
            f"{LABELS[k]} seconds per epoch of {scale.fit_train:,} images, Keras fit",
            mean_interval(times[k]),
            "s",
            signed=False,
        )
        for k in MODELS
    ]
    details.append(Detail("in bntui's fused JAX loop: BN / plain − 1", mean_interval(fused), "%"))
    details += [
        Detail(
            f"{LABELS[k]} seconds per epoch of {scale.cost_train:,} images, fused loop",
            mean_interval(fused_times[k]),
            "s",
            signed=False,
        )
        for k in MODELS
    ]
    details += inference_details(results)
    errors = finite([r.fold_error for r in results["cost/bn"]])
    notes = [
        f"{LABELS[key]} seed {run.seed} ({prefix}): its timed epoch got {share:.0%} of a core "
        "(CPU time / wall time): something else ran on the machine, so its time is inflated"
        for prefix in ("cost", "cost-fit")
        for key in MODELS
        for run in results[f"{prefix}/{key}"]
        if (share := core_share(run)) is not None and share < BUSY_SHARE
    ]
    notes += [
        f"parameters: plain {params['plain']:,}, BN {params['bn']:,} "
        f"({(params['bn'] / max(1, params['plain']) - 1) * 100:+.1f}%)",
        "the verdict is the notebooks' harness's; each harness spends a different share of "
        "its time outside the model, so BN's share differs between them",
    ]
    if errors:
        notes.append(
            "BN folded into the Dense layers predicts what BN does (largest difference in a "
            f"predicted probability: {max(errors):.1g})"
        )
    # Times from zero: +50% must look like half as much again.
    figure = Figure(
        "seconds per epoch, Keras fit on TensorFlow (median step × steps)",
        "model",
        "seconds",
        [0.0, 1.0],
        ["plain", "BN"],
        [band(k, [times[k] if k == j else [None] * len(times[k]) for j in MODELS]) for k in MODELS],
        floor=0.0,
        from_floor=True,
    )
    return Found(values, details, notes, figure)


def inference_details(results: Results) -> list[Detail]:
    """Seconds to predict the validation images after training (fused loop's cells): plain,
    BN, and BN folded into the Dense layers (the plain architecture)."""
    rows = [
        ("plain", "inference_seconds", "plain"),
        ("bn", "inference_seconds", "BN"),
        ("bn", "folded_inference_seconds", "BN folded into the Dense layers"),
    ]
    details = []
    for key, field, label in rows:
        values = [getattr(r, field) for r in results[f"cost/{key}"]]
        if finite(values):
            details.append(
                Detail(
                    f"{label}: seconds to predict the validation images",
                    mean_interval(values),
                    "s",
                    signed=False,
                )
            )
    return details
