"""The shift claim's quantity: does internal covariate shift matter? Santurkar et al.'s (2018)
test: the BN model against the same model with its hidden BNs' outputs moved at random at each
step ("noisy BN", more shift by construction), compared by validation accuracy at the end.
Beside it, the drift of the hidden activations before BN normalises them (plain, BN and noisy
BN), which also checks that the noise did inject shift: a seed whose noisy arm drifts no more
than its BN arm cannot test the claim and gives no value."""

from __future__ import annotations

from bntui.claims.battery import BASE_EVALS, Scale
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, band, paired
from bntui.claims.quantities import ends
from bntui.stats.intervals import finite, mean_interval

SHIFT_MODELS = ("plain", "bn", "noisy-bn")
SHIFT_LABELS = {"plain": "plain", "bn": "BN", "noisy-bn": "noisy BN"}


def hidden_drift(run: SeedResult) -> list[float | None]:
    """A seed's drift per hidden layer: of its activations before BN, or, in a file from
    before design 2, of the Dense layers' inputs after BN (the first input is the data)."""
    return run.activation_drift if run.activation_drift else run.input_drift[1:]


def mean_drift(run: SeedResult) -> float | None:
    """A seed's drift averaged over its hidden layers (None: none measured)."""
    hidden = finite(hidden_drift(run))
    return sum(hidden) / len(hidden) if hidden else None


def gradient_shift(run: SeedResult) -> float | None:
    """Santurkar et al.'s gradient-based shift of a seed: the relative change of a Dense
    kernel's gradient once the layers before it have stepped, averaged over the Dense layers
    after the first (the first has nothing learned before it in the plain model) and over
    the landscape points after the start. None where the cell did not measure it."""
    values = finite([v for p in run.landscape[1:] for v in p.gradient_shift[1:]])
    return sum(values) / len(values) if values else None


def injected(noisy: float | None, clean: float | None) -> bool:
    """The noisy arm did move its activations more than the BN arm (the manipulation check)."""
    return noisy is not None and clean is not None and noisy > clean


def covariate_shift(results: Results, scale: Scale) -> Found:
    """Validation accuracy at the end, BN − noisy BN (points), for each seed whose noisy arm
    drifted more than its BN arm; the drifts before BN and the accuracies beside it."""
    runs = {k: results[f"base/{k}"] for k in SHIFT_MODELS}
    drift = {k: [mean_drift(r) for r in runs[k]] for k in SHIFT_MODELS}
    acc = {k: ends(runs[k]) for k in SHIFT_MODELS}
    notes = [
        f"end point: the mean of the last epoch's {BASE_EVALS} evaluations, in inference mode "
        "(moving statistics, no noise)"
    ]
    checked = [injected(n, b) for n, b in zip(drift["noisy-bn"], drift["bn"])]
    for run, ok in zip(runs["bn"], checked):
        if not ok:
            notes.append(
                f"seed {run.seed}: the noisy arm's drift is not above BN's (the noise did not "
                "inject shift): no value"
            )
    values = [v if ok else None for v, ok in zip(paired(acc["bn"], acc["noisy-bn"]), checked)]
    for key in SHIFT_MODELS:
        if not runs[key][0].activation_drift:
            notes.append(
                f"{SHIFT_LABELS[key]}: recorded by an older bntui, on the Dense layers' "
                "inputs after BN, where BN's drift is small by construction"
            )
    details = [
        Detail(f"{SHIFT_LABELS[k]} accuracy at the end", mean_interval(acc[k]), "%", signed=False)
        for k in SHIFT_MODELS
    ]
    details.append(
        Detail(
            "noisy BN − plain accuracy",
            mean_interval(paired(acc["noisy-bn"], acc["plain"])),
            "points",
        )
    )
    details += [
        Detail(f"{SHIFT_LABELS[k]} drift before BN", mean_interval(drift[k]), "", signed=False)
        for k in SHIFT_MODELS
    ]
    details += [
        Detail(
            "drift before BN, plain − BN (does BN reduce the shift?)",
            mean_interval(paired(drift["plain"], drift["bn"])),
            "",
        ),
        Detail(
            "drift before BN, noisy BN − BN (the shift the noise adds; must be > 0)",
            mean_interval(paired(drift["noisy-bn"], drift["bn"])),
            "",
        ),
    ]
    ics = {k: [gradient_shift(r) for r in runs[k]] for k in ("plain", "bn")}
    details += [
        Detail(
            f"{SHIFT_LABELS[k]} gradient-based shift (Santurkar et al.), ‖G′ − G‖ / ‖G‖",
            mean_interval(ics[k]),
            "",
            signed=False,
        )
        for k in ("plain", "bn")
    ]
    details.append(
        Detail(
            "gradient-based shift, plain − BN", mean_interval(paired(ics["plain"], ics["bn"])), ""
        )
    )
    columns = {k: list(zip(*[hidden_drift(r) for r in runs[k]])) for k in SHIFT_MODELS}
    n = len(columns["plain"])
    figure = Figure(
        "activation drift per hidden layer, before BN (summed over training)",
        "hidden layer",
        "drift",
        [float(i + 1) for i in range(n)],
        [str(i + 1) for i in range(n)],
        [band(k, columns[k]) for k in SHIFT_MODELS],
        floor=0.0,
    )
    return Found(values, details, notes, figure)
