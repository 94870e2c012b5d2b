"""The smoothness claim's quantity, after Santurkar et al. 2018 (§3.1, "gradient
predictiveness"): at a few points of training, how much the gradient changes when the
weights move along it, ‖∇L(w − η g) − ∇L(w)‖, at step sizes η from the base rate to 300×
it; the larger of these (over η) is the landscape's roughness along the gradient. The
quantity is log10 of plain's over BN's, per seed the mean over the points during training
(after the start). Beside it: the same at initialisation, the spread of the loss over the
step sizes ("loss landscape"), and the effective β-smoothness (the largest gradient change
per distance moved, ‖Δ∇L‖ / (η ‖g‖))."""

from __future__ import annotations

import math
from collections.abc import Callable

from bntui.claims.battery import Scale
from bntui.claims.claimfile import LandscapePoint, SeedResult
from bntui.claims.found import Detail, Figure, Found, Results, band
from bntui.claims.quantities import LABELS, MODELS, log10_or_none
from bntui.stats.intervals import finite, mean_interval

Measure = Callable[[LandscapePoint], float | None]


def _largest(values: list[float | None]) -> float | None:
    present = finite(values)
    return max(present) if present else None


def gradient_change(point: LandscapePoint) -> float | None:
    """The largest gradient change over the step sizes."""
    return _largest(point.grad_changes)


def loss_spread(point: LandscapePoint) -> float | None:
    """The spread of the loss over the step sizes, the point itself included (max − min)."""
    losses = finite([point.loss, *point.losses])
    return max(losses) - min(losses) if losses else None


def beta_smoothness(point: LandscapePoint) -> float | None:
    """The effective β-smoothness: the largest gradient change per distance moved."""
    if not point.grad_norm:
        return None
    return _largest(
        [
            None if change is None else change / (rate * point.grad_norm)
            for rate, change in zip(point.rates, point.grad_changes)
        ]
    )


def incomplete(run: SeedResult) -> bool:
    """A point's loss or gradient went non-finite at some step size: its largest change is
    a lower bound on the true one."""
    return any(None in p.grad_changes or None in p.losses for p in run.landscape)


def log_ratio(plain: SeedResult, bn: SeedResult, measure: Measure, start: bool) -> float | None:
    """log10 of plain's `measure` over BN's, at the start (`start`) or the mean over the
    points during training, paired point by point."""
    pairs = list(zip(plain.landscape, bn.landscape))
    pairs = pairs[:1] if start else pairs[1:]
    ratios = []
    for p, b in pairs:
        top, bottom = log10_or_none(measure(p)), log10_or_none(measure(b))
        if top is not None and bottom is not None:
            ratios.append(top - bottom)
    return sum(ratios) / len(ratios) if ratios else None


def smoothness(results: Results, scale: Scale) -> Found:
    """log10 of the largest gradient change along the gradient, plain / BN, during training;
    the loss spread, β-smoothness and the start beside; the chart: the change against η."""
    runs = {k: results[f"base/{k}"] for k in MODELS}
    pairs = list(zip(runs["plain"], runs["bn"]))
    values = [log_ratio(p, b, gradient_change, start=False) for p, b in pairs]
    notes = [
        "on the fixed probe batch of 256 training images, in training mode (BN with the "
        "batch's statistics, as a training step sees it); every trainable variable moves",
        "a value > 0: the gradient changes more along plain's gradient than along BN's, "
        "plain's landscape is the rougher",
    ]
    if not any(r.landscape for r in runs["plain"]):
        notes.append("recorded before design 3: no landscape points, nothing to measure")
    bound = {k: any(incomplete(r) for r in runs[k]) for k in MODELS}
    for key in MODELS:
        if bound[key]:
            notes.append(
                f"{LABELS[key]}: the loss or gradient overflowed at a step size: its largest "
                "change is at least what is shown"
            )
    details = [
        Detail(
            f"{label}, log10 plain / BN",
            mean_interval([log_ratio(p, b, measure, start) for p, b in pairs]),
            "decades",
        )
        for label, measure, start in (
            ("largest gradient change at initialisation", gradient_change, True),
            ("loss spread over the step sizes, during training", loss_spread, False),
            ("effective β-smoothness, during training", beta_smoothness, False),
        )
    ]
    censored = {(False, False): "", (True, False): "lower", (False, True): "upper"}
    return Found(
        values,
        details,
        notes,
        _figure(runs),
        censored.get((bound["plain"], bound["bn"]), "both"),  # type: ignore[arg-type]
    )


def _figure(runs: dict[str, list[SeedResult]]) -> Figure | None:
    """log10 of the gradient change against the step size, each seed's mean over the points
    during training."""
    first = next((r.landscape[0] for r in runs["bn"] if r.landscape), None)
    if first is None:
        return None
    rates = first.rates

    def seed_curve(run: SeedResult) -> list[float | None]:
        later = run.landscape[1:]
        curve: list[float | None] = []
        for i in range(len(rates)):
            logs = finite([log10_or_none(p.grad_changes[i]) for p in later])
            curve.append(sum(logs) / len(logs) if logs else None)
        return curve

    series = [band(k, list(zip(*[seed_curve(r) for r in runs[k]]))) for k in MODELS]
    return Figure(
        "gradient change along the gradient, during training",
        "step size η",
        "log10 ‖∇L(w − ηg) − ∇L(w)‖",
        [math.log10(r) for r in rates],
        [f"{r:g}" for r in rates],
        series,
    )
