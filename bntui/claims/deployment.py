"""The quantities of the notebooks' sentences about trained and deep models, which no
earlier claim tested: robustness to a shifted input distribution (003), batch statistics at
inference (004), and training deeper networks (001). The first two read the end checks of
the shared `base/plain` and `base/bn` cells (`bntui.claims.worker.deployment`); the third the
gradients claim's deep stacks. Nothing here trains.
"""

from __future__ import annotations

import math
from dataclasses import replace

from bntui.claims.battery import Scale, deep_id
from bntui.claims.claimfile import SeedResult
from bntui.claims.corruptions import CORRUPTIONS, TEXT
from bntui.claims.found import Detail, Figure, Found, Results, band, finals, paired
from bntui.claims.quantities import LABELS, MODELS, trains_at_rate
from bntui.stats.intervals import mean_interval

# A change of a predicted probability up to this (in points, 1e-4 as a probability) is
# float32 rounding: the same images in batches of another size can take another matrix
# kernel. The inference claim's quantity counts decades above it; a change of exactly 0
# counts as `FLOOR` (below float32's resolution of a probability), a bound.
ROUNDING = 0.01
FLOOR = 1e-6
OLDER = "recorded by a bntui without end checks (before design 3): not measured"


def _percent(value: float | None) -> float | None:
    """A share (0 to 1) in points."""
    return None if value is None else value * 100


def drops(run: SeedResult, adapted: bool = False) -> dict[str, float | None]:
    """A seed's accuracy drop (points) from clean validation images to each corruption, in
    inference mode; with `adapted`, to the corrupted images with BN's statistics
    re-estimated on them (AdaBN). Missing where the seed has no such measurement."""
    clean = _percent(run.shifted_accuracy.get("clean"))
    shifted = run.adapted_accuracy if adapted else run.shifted_accuracy
    out: dict[str, float | None] = {}
    for name in CORRUPTIONS:
        value = _percent(shifted.get(name))
        out[name] = None if clean is None or value is None else clean - value
    return out


def mean_drop(run: SeedResult, adapted: bool = False) -> float | None:
    """A seed's drop averaged over the corruptions (None if any is missing)."""
    values = list(drops(run, adapted).values())
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def robustness(results: Results, scale: Scale) -> Found:
    """The accuracy drop from clean to corrupted validation images (the mean over the
    corruptions), plain − BN, in points: positive where BN loses less. Beside it each
    corruption, and BN with its statistics re-estimated on the corrupted images (AdaBN)."""
    runs = {k: results[f"base/{k}"] for k in MODELS}
    drop = {k: [mean_drop(r) for r in runs[k]] for k in MODELS}
    adapted = [mean_drop(r, adapted=True) for r in runs["bn"]]
    details = [
        Detail(f"{LABELS[k]} accuracy drop under shift", mean_interval(drop[k]), "points")
        for k in MODELS
    ]
    for name in CORRUPTIONS:
        per = {k: [drops(r)[name] for r in runs[k]] for k in MODELS}
        details.append(
            Detail(
                f"{TEXT[name]}: drop, plain − BN", mean_interval(paired(*per.values())), "points"
            )
        )
    saved = paired(drop["bn"], adapted)
    details += [
        Detail(
            "BN re-estimated on the shifted images (AdaBN): drop", mean_interval(adapted), "points"
        ),
        Detail(
            "what re-estimating saves BN (BN drop − AdaBN drop)", mean_interval(saved), "points"
        ),
        Detail(
            "plain − BN with AdaBN: drop", mean_interval(paired(drop["plain"], adapted)), "points"
        ),
    ]
    notes = [f"corruptions: {'; '.join(TEXT[n] for n in CORRUPTIONS)}; on the pixels (0 to 1)"]
    notes.append(
        "drop = clean − corrupted validation accuracy of the same trained model, inference "
        "mode (BN with its moving statistics, fixed at training's end)"
    )
    notes.append(
        "AdaBN (Li et al. 2016): every BN's mean and variance taken from the corrupted "
        "validation images themselves (unlabelled), not from training"
    )
    if any(not r.shifted_accuracy for k in MODELS for r in runs[k]):
        notes.append(OLDER)
    figure = Figure(
        "validation accuracy, clean and shifted",
        "inputs",
        "accuracy (%)",
        [float(i) for i in range(len(CORRUPTIONS) + 1)],
        ["clean", *CORRUPTIONS],
        [
            *[band(k, _accuracies(runs[k], adapted=False)) for k in MODELS],
            replace(band("bn-adabn", _accuracies(runs["bn"], adapted=True)), label="BN, AdaBN"),
        ],
        floor=0.0,
    )
    return Found(paired(drop["plain"], drop["bn"]), details, notes, figure)


def _accuracies(runs: list[SeedResult], adapted: bool) -> list[list[float | None]]:
    """Per input (clean, then each corruption), each seed's accuracy in %."""
    names = ["clean", *CORRUPTIONS]
    return [
        [_percent((r.adapted_accuracy if adapted else r.shifted_accuracy).get(n)) for r in runs]
        for n in names
    ]


def beyond_rounding(run: SeedResult, training: bool = False) -> float | None:
    """How far an image's predicted probabilities moved when its batch companions changed,
    in decades above float32 rounding: log10(largest change / `ROUNDING`), negative when
    they moved less than rounding can."""
    change = run.companion_change_training if training else run.companion_change
    return None if change is None else math.log10(max(change * 100, FLOOR) / ROUNDING)


def inference(results: Results, scale: Scale) -> Found:
    """The largest change of any predicted probability of the BN model when the same image
    is predicted with other batch companions (or alone), inference mode, in decades above
    float32 rounding. The notebook's sentence predicts a change; standard BN uses its
    moving statistics at inference, and predicts none. Training mode and plain beside."""
    runs = {k: results[f"base/{k}"] for k in MODELS}
    largest = {
        (k, mode): [
            _percent(r.companion_change_training if mode else r.companion_change) for r in runs[k]
        ]
        for k in MODELS
        for mode in (False, True)
    }
    details = [
        Detail(
            f"{LABELS[k]}, {'training' if mode else 'inference'} mode: largest change",
            mean_interval(values),
            "points",
            signed=False,
        )
        for (k, mode), values in largest.items()
    ]
    notes = [
        "the same 64 validation images predicted in batches of 32 of each other, each in a "
        "batch with 31 bags (class 8), and each alone; the change is the largest difference "
        "of any class probability of an image between these, in points (100 = certainty moved)",
        f"changes up to {ROUNDING:g} points are float32 rounding (another batch size can take "
        "another matrix kernel); the claim's value is log10(BN's change / that), in decades: "
        "below 0, less than rounding; +4, the whole probability",
        "training mode (batch statistics) is what BN does while it trains; Keras predicts in "
        "inference mode, with the moving averages",
    ]
    if any(r.companion_change is None for k in MODELS for r in runs[k]):
        notes.append(OLDER)
    if any(r.companion_change == 0 for r in runs["bn"]):
        notes.append(f"BN's change was exactly 0 on a seed: counted as {FLOOR:g} points, a bound")
    figure = Figure(
        "largest change of a predicted probability when the batch changes",
        "mode",
        "points",
        [0.0, 1.0],
        ["inference", "training"],
        [band(k, [largest[k, False], largest[k, True]]) for k in MODELS],
        floor=0.0,
        from_floor=True,
    )
    return Found([beyond_rounding(r) for r in runs["bn"]], details, notes, figure)


def depth(results: Results, scale: Scale) -> Found:
    """BN's gain in final validation accuracy (points) in the deepest stacks, BN − plain,
    the mean over the activations (sigmoid, ReLU); every depth beside it."""
    accuracy = {
        (act, d, k): finals(results[deep_id(act, d, k)], 100.0)
        for act in scale.deep_activations
        for d in scale.depths
        for k in MODELS
    }
    gains = {
        (act, d): paired(accuracy[act, d, "bn"], accuracy[act, d, "plain"])
        for act in scale.deep_activations
        for d in scale.depths
    }
    deepest = scale.depths[-1]
    values: list[float | None] = []
    for per_act in zip(*[gains[act, deepest] for act in scale.deep_activations]):
        known = [v for v in per_act if v is not None]
        values.append(sum(known) / len(known) if len(known) == len(per_act) else None)
    details = [
        Detail(f"{act} ×{d}: final accuracy, BN − plain", mean_interval(gains[act, d]), "points")
        for act in scale.deep_activations
        for d in scale.depths
    ]
    notes = [
        f"{act} ×{d}, {LABELS[k]}: trains on "
        f"{sum(trains_at_rate(r) for r in results[deep_id(act, d, k)])} of "
        f"{len(results[deep_id(act, d, k)])} seeds"
        for act in scale.deep_activations
        for d in scale.depths
        for k in MODELS
    ]
    for act in scale.deep_activations:
        if not any(
            trains_at_rate(r) for d in scale.depths for r in results[deep_id(act, d, "plain")]
        ):
            notes.append(
                f"plain {act} trains at no depth here, the shallowest included: BN's gain in the "
                f"{act} stacks is training at all, not depth; read the depth in the other rows"
            )
    notes.append(
        "the gradients claim's deep stacks (no new training); trains = final validation "
        "accuracy ≥ 50%, loss finite; chance is 10%"
    )
    figure = Figure(
        "final validation accuracy by depth",
        "depth",
        "accuracy (%)",
        [float(d) for d in scale.depths],
        [str(d) for d in scale.depths],
        [
            band(f"{k}-{act}", [accuracy[act, d, k] for d in scale.depths])
            for act in scale.deep_activations
            for k in MODELS
        ],
        floor=0.0,
    )
    return Found(values, details, notes, figure)
