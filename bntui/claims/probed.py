"""The quantities measured inside the networks, on the fixed probe batch: the gradients
claim's imbalance of the gradient flow over depths and activations (the shift claim's drift
of the hidden activations before BN is in `bntui.claims.shifted`)."""

from __future__ import annotations

import math

from bntui.claims.battery import Scale, deep_id
from bntui.claims.claimfile import SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, band, paired
from bntui.claims.quantities import LABELS, MODELS, log10_or_none, trains_at_rate
from bntui.stats.intervals import finite, mean_interval

# A gradient norm that underflowed to 0 in float32 was below its smallest subnormal: an
# imbalance counted from here is a lower bound on the true one.
UNDERFLOW = 1e-45


def imbalance(grads: list[float | None]) -> float | None:
    """How far a probe point's gradient flow is from balanced: |log10(first / last Dense
    kernel's gradient norm)|, in decades. Vanishing and exploding both count; a norm that
    underflowed to 0 counts as `UNDERFLOW`."""
    first, last = grads[0], grads[-1]
    if first is None or last is None:
        return None
    return abs(math.log10(max(first, UNDERFLOW)) - math.log10(max(last, UNDERFLOW)))


def _underflowed(run: SeedResult) -> bool:
    return any(g[0] == 0 or g[-1] == 0 for g in run.layer_grads)


def _imbalances(run: SeedResult) -> tuple[float | None, float | None]:
    """A seed's imbalance at initialisation (the first probe) and during training (the mean
    over the later probes)."""
    points = [imbalance(g) for g in run.layer_grads]
    later = finite(points[1:])
    return (points[0] if points else None), (sum(later) / len(later) if later else None)


def gradient_flow(results: Results, scale: Scale) -> Found:
    """Imbalance of the gradient flow (|log10 first/last|) during training, plain − BN, in
    the shallowest sigmoid stack; the deeper ones, the ReLU stacks and initialisation beside."""
    during: dict[tuple[str, str, int], list[float | None]] = {}
    drawn: dict[tuple[str, str, int], list[float | None]] = {}  # bounds left off the chart
    notes, details = [], []
    floored: set[str] = set()  # the models whose claim stack's norms underflowed
    bounded: set[tuple[str, int, str]] = set()  # every stack with an underflowed norm
    for act in scale.deep_activations:
        for depth in scale.depths:
            for key in MODELS:
                runs = results[deep_id(act, depth, key)]
                at_start, later = zip(*[_imbalances(r) for r in runs])
                if any(_underflowed(r) for r in runs):
                    bounded.add((act, depth, key))
                    notes.append(
                        f"{act} ×{depth}, {LABELS[key]}: a gradient norm underflowed to 0 "
                        "(float32): its imbalance is at least what is shown, and the chart "
                        "leaves it off"
                    )
                    if (act, depth) == ("sigmoid", scale.depths[0]):
                        floored.add(key)
                during[act, key, depth] = list(later)
                drawn[act, key, depth] = [
                    None if _underflowed(r) else v for r, v in zip(runs, later)
                ]
                trains = sum(trains_at_rate(r) for r in runs)
                start = mean_interval(list(at_start))
                notes.append(
                    f"{act} ×{depth}, {LABELS[key]}: imbalance at initialisation "
                    f"{'–' if start is None else f'{start.mean:.2f}'} decades; "
                    f"trains on {trains} of {len(runs)} seeds"
                )
            gap = paired(during[act, "plain", depth], during[act, "bn", depth])
            # An underflowed norm makes the imbalance a bound: plain's, a lower one.
            bound = {
                (True, False): " (at least: plain's norm underflowed, off the chart)",
                (False, True): " (at most: BN's norm underflowed)",
                (True, True): " (both ends bounds: norms underflowed)",
            }.get(((act, depth, "plain") in bounded, (act, depth, "bn") in bounded), "")
            details.append(
                Detail(
                    f"{act} ×{depth} during training, plain − BN{bound}",
                    mean_interval(gap),
                    "decades",
                )
            )
    # The claim's own value: the shallowest sigmoid stack (deeper ones underflow to 0 in
    # float32, and their imbalance is only a bound); every stack is beside it.
    shallow = scale.depths[0]
    values = paired(during["sigmoid", "plain", shallow], during["sigmoid", "bn", shallow])
    notes.append(
        "imbalance = |log10(first Dense kernel's gradient norm / output kernel's)| on the "
        "probe batch; trains = final validation accuracy ≥ 50%, loss finite"
    )
    series = [
        band(f"{key}-{act}", [drawn[act, key, d] for d in scale.depths])
        for act in scale.deep_activations
        for key in MODELS
    ]
    figure = Figure(
        "gradient-flow imbalance during training (decades)",
        "depth",
        "|log10 first/last|",
        [float(d) for d in scale.depths],
        [str(d) for d in scale.depths],
        series,
        floor=0.0,
    )
    # plain's imbalance a lower bound: plain − BN is one; BN's: an upper bound.
    censored = {frozenset(): "", frozenset({"plain"}): "lower", frozenset({"bn"}): "upper"}
    return Found(values, details, notes, figure, censored.get(frozenset(floored), "both"))  # type: ignore[arg-type]


def _mean_log(points: list[list[float | None]], layer: int) -> float | None:
    logs = finite([log10_or_none(p[layer]) for p in points])
    return sum(logs) / len(logs) if logs else None
