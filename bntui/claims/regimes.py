"""The quantities of the three claims about training regimes: regularisation (a slice the
plain model overfits, with dropout and ghost batches beside), small batches (with the
loss's instability and the remedies) and initialisation (the schemes, the scales beside).
Per-seed results in, a `Found` out, as in `bntui.claims.quantities`."""

from __future__ import annotations

import math
from dataclasses import replace

from bntui.claims.battery import (
    BASE_RATE,
    INIT_SCHEMES,
    RATE_BATCH,
    REG_ARMS,
    REMEDIES,
    Scale,
    scheme_id,
)
from bntui.claims.cells import NORM_LABELS
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, band, finals, paired
from bntui.stats.intervals import finite, mean_interval

MODELS = ("plain", "bn")
LABELS = {"plain": "plain", "bn": "BN"}
# Regularisation's end point: the best over training of the validation accuracy averaged
# over this many consecutive evaluations (one an epoch), so one lucky evaluation cannot
# make a model's best.
BEST_WINDOW = 3
# The plain model has fitted its slice when its training accuracy ends at least here.
FITS = 0.99
REG_LABELS = {
    "plain": "plain",
    "bn": "BN",
    "plain-dropout": "plain + dropout",
    "bn-dropout": "BN + dropout",
    "bn-ghost": "BN, ghost batches",
}
SCHEME_LABELS = {
    "glorot_uniform": "glorot",
    "he_normal": "he",
    "lecun_normal": "lecun",
    "orthogonal": "orthogonal",
}
# A kernel-scale arm this many points below its ×1 arm at the end is still far behind.
BEHIND = 10.0


def _percent(values: list[float | None]) -> list[float | None]:
    return [None if v is None else v * 100 for v in values]


def best_accuracy(run: SeedResult, window: int = BEST_WINDOW) -> float | None:
    """A seed's best validation accuracy over training in %: the highest mean of `window`
    consecutive evaluations (None if an evaluation is missing or there are too few)."""
    points = run.val_accuracy
    if len(points) < window or any(v is None for v in points):
        return None
    means = [sum(points[i : i + window]) / window for i in range(len(points) - window + 1)]  # type: ignore[arg-type]
    return max(means) * 100


def regularisation(results: Results, scale: Scale) -> Found:
    """Best validation accuracy over training (points), BN − plain, on a slice small enough
    that the plain model overfits it; dropout and ghost batches as the comparisons beside."""
    best = {arm: [best_accuracy(r) for r in results[f"reg/{arm}"]] for arm in REG_ARMS}
    train = {k: _percent([r.train_accuracy for r in results[f"reg/{k}"]]) for k in MODELS}
    ends = {
        arm: _percent([r.end_accuracy(BEST_WINDOW) for r in results[f"reg/{arm}"]])
        for arm in REG_ARMS
    }

    def gap(a: str, b: str, label: str) -> Detail:
        return Detail(label, mean_interval(paired(best[a], best[b])), "points")

    details = [
        *[
            Detail(
                f"{LABELS[k]} training accuracy at the end",
                mean_interval(train[k]),
                "%",
                signed=False,
            )
            for k in MODELS
        ],
        Detail(
            "plain's decline from its best (overfitting): end − best",
            mean_interval(paired(ends["plain"], best["plain"])),
            "points",
        ),
        Detail(
            "validation at the end (last 3 epochs), BN − plain",
            mean_interval(paired(ends["bn"], ends["plain"])),
            "points",
        ),
        gap("plain-dropout", "plain", "dropout on plain (can this slice show a regulariser?)"),
        gap("bn", "plain-dropout", "BN in place of dropout: BN − plain + dropout"),
        gap("bn-dropout", "bn", "dropout on top of BN: BN + dropout − BN"),
        gap("bn-ghost", "bn", "more BN noise: ghost batches of 8 − BN over 32"),
    ]
    notes = [
        f"end point: the best over training of the validation accuracy averaged over "
        f"{BEST_WINDOW} consecutive epochs (pre-stated); training accuracy in inference mode"
    ]
    unfit = [
        f"{r.seed} ({t:.1f}%)"
        for r, t in zip(results["reg/plain"], train["plain"])
        if t is not None and t < FITS * 100
    ]
    if unfit:
        notes.append(
            f"plain did not fit its slice (training accuracy under {FITS:.0%}) for seeds "
            f"{', '.join(unfit)}: there it had not begun to overfit"
        )
    control = mean_interval(paired(best["plain-dropout"], best["plain"]))
    if control is not None and (control.low is None or control.low <= 0):
        notes.append(
            "the positive control fails: dropout does not raise plain's best validation "
            "accuracy here either, so this slice and budget do not reward a regulariser; read "
            "the verdict as whether BN generalises better here, not whether it can regularise"
        )
    first = results["reg/plain"][0]
    steps = first.steps[1] - first.steps[0] if len(first.steps) > 1 else 1
    x = [float(s // steps) for s in first.steps[1:]]
    curves = {
        arm: list(zip(*[_percent(list(r.val_accuracy))[1:] for r in results[f"reg/{arm}"]]))
        for arm in REG_ARMS
    }
    figure = Figure(
        f"validation accuracy by epoch on the {scale.reg_train:,}-image slice (end point: "
        f"each arm's best {BEST_WINDOW}-epoch mean)",
        "epoch",
        "accuracy (%)",
        x,
        [f"{int(v)}" for v in x],
        [replace(band(arm, curves[arm]), label=REG_LABELS[arm]) for arm in REG_ARMS],
        floor=0.0,
    )
    return Found(paired(best["bn"], best["plain"]), details, notes, figure)


def small_batches(results: Results, scale: Scale) -> Found:
    """BN's gain over plain (points) at the smallest batch minus at the reference batch
    (32, the notebooks' and every other cell's); the loss's instability, the train/inference
    mismatch and the remedies beside."""
    sizes = scale.batch_sizes
    smallest, reference = sizes[0], sizes.index(RATE_BATCH)
    columns = {k: [finals(results[f"batch/{k}/{b}"], 100.0) for b in sizes] for k in MODELS}
    gain = [paired(bn, plain) for plain, bn in zip(columns["plain"], columns["bn"])]
    details = [
        Detail(f"BN gain at batch {b}", mean_interval(g), "points") for b, g in zip(sizes, gain)
    ]
    for norm in ("bn", "renorm"):
        runs = results[f"batch/{norm}/{smallest}"]
        modes = paired(_percent([r.train_mode_accuracy for r in runs]), finals(runs, 100.0))
        name = "BN" if norm == "bn" else NORM_LABELS[norm]
        details.append(
            Detail(
                f"{name} train-mode − inference-mode accuracy at batch {smallest}",
                mean_interval(modes),
                "points",
            )
        )
    for b in (smallest, RATE_BATCH):
        spread = {k: [r.step_loss_std for r in results[f"batch/{k}/{b}"]] for k in MODELS}
        details.append(
            Detail(
                f"instability: spread (std) of the last epoch's step losses, BN − plain, batch {b}",
                mean_interval(paired(spread["bn"], spread["plain"])),
                "",
            )
        )
    spikes = {
        k: _percent([r.step_loss_spikes for r in results[f"batch/{k}/{smallest}"]]) for k in MODELS
    }
    details.append(
        Detail(
            f"loss spikes (steps over 3× the median), BN − plain, batch {smallest}",
            mean_interval(paired(spikes["bn"], spikes["plain"])),
            "%",
        )
    )
    remedy = {
        norm: [finals(results[f"batch/{norm}/{b}"], 100.0) for b in (smallest, RATE_BATCH)]
        for norm in REMEDIES
    }
    for norm in REMEDIES:
        at_small, at_ref = remedy[norm]
        own = paired(
            paired(at_small, columns["plain"][0]), paired(at_ref, columns["plain"][reference])
        )
        details += [
            Detail(
                f"{NORM_LABELS[norm]} − BN at batch {smallest}",
                mean_interval(paired(at_small, columns["bn"][0])),
                "points",
            ),
            Detail(
                f"{NORM_LABELS[norm]}'s gain over plain at batch {smallest} − at {RATE_BATCH}",
                mean_interval(own),
                "points",
            ),
        ]
    series = [band(k, columns[k]) for k in MODELS]
    for norm in REMEDIES:
        at = dict(zip((smallest, RATE_BATCH), remedy[norm]))
        blank = [None] * len(columns["plain"][0])
        series.append(
            replace(band(norm, [at.get(b, blank) for b in sizes]), label=NORM_LABELS[norm])
        )
    figure = Figure(
        "final validation accuracy by batch size",
        "batch size",
        "accuracy (%)",
        [math.log2(b) for b in sizes],
        [str(b) for b in sizes],
        series,
        floor=0.0,
    )
    notes = [
        f"learning rate {BASE_RATE:g} × batch / {RATE_BATCH} at every batch size (same epochs)",
        "the remedies replace BN before the hidden and output Dense layers of the controlled "
        "plain model (standardised pixels, no normalisation on the pixels); batch renorm "
        "clips r to [1/3, 3] and d to [−5, 5] from the start; group norm uses 4 groups",
        "step losses: seed s of every model sees the same batches, so the sampling noise of "
        "small batches is shared by the pair; the difference is the model's",
    ]
    return Found(paired(gain[0], gain[reference]), details, notes, figure)


def _spread(columns: list[list[float | None]]) -> list[float | None]:
    """Each seed's max − min across the columns (None unless every column has its value)."""
    out: list[float | None] = []
    for values in zip(*columns):
        numbers = finite(values)
        out.append(max(numbers) - min(numbers) if len(numbers) == len(values) else None)
    return out


def initialisation(results: Results, scale: Scale) -> Found:
    """Spread (max − min) of final accuracy across the initialiser schemes, in points,
    plain − BN; the spread across kernel scales beside (for BN, the lr claim in disguise)."""
    schemes = {k: [finals(results[scheme_id(k, s)], 100.0) for s in INIT_SCHEMES] for k in MODELS}
    scales = {
        k: [finals(results[f"init/{k}/{f:g}"], 100.0) for f in scale.init_scales] for k in MODELS
    }
    spread = {k: _spread(schemes[k]) for k in MODELS}
    by_scale = {k: _spread(scales[k]) for k in MODELS}
    details = [
        *[
            Detail(
                f"{LABELS[k]} spread across schemes",
                mean_interval(spread[k]),
                "points",
                signed=False,
            )
            for k in MODELS
        ],
        *[
            Detail(
                f"{LABELS[k]} spread across kernel scales",
                mean_interval(by_scale[k]),
                "points",
                signed=False,
            )
            for k in MODELS
        ],
        Detail(
            "spread across kernel scales, plain − BN",
            mean_interval(paired(by_scale["plain"], by_scale["bn"])),
            "points",
        ),
    ]
    at_one = {k: finite(scales[k][scale.init_scales.index(1.0)]) for k in MODELS}
    notes = [
        f"{LABELS[k]} ×{f:g} ends at {mean:.1f}% (×1: {sum(at_one[k]) / len(at_one[k]):.1f}%, "
        f"means over seeds): still far from its ×1 accuracy after {scale.sweep_epochs} epochs "
        f"at rate {BASE_RATE:g}, which a longer budget could narrow"
        for k in MODELS
        if 1.0 in scale.init_scales and at_one[k]
        for f, column in zip(scale.init_scales, scales[k])
        if (values := finite(column))
        and (mean := sum(values) / len(values)) < sum(at_one[k]) / len(at_one[k]) - BEHIND
    ]
    notes.append(
        "a BN layer's output does not change when the kernel before it is scaled by c; its "
        "gradient shrinks by c, so for BN the scale arm acts like the learning rate ÷ c² "
        "(the lr claim in disguise): the schemes are the test"
    )
    figure = Figure(
        "final validation accuracy by initialiser scheme",
        "scheme",
        "accuracy (%)",
        [float(i) for i in range(len(INIT_SCHEMES))],
        [SCHEME_LABELS[s] for s in INIT_SCHEMES],
        [band(k, schemes[k]) for k in MODELS],
        floor=0.0,
    )
    return Found(paired(spread["plain"], spread["bn"]), details, notes, figure)
