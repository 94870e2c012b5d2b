"""The shift claim's noisy-BN test and the smoothness claim's landscape, on synthetic
results: each verdict can come out either way, the noisy arm must have injected shift for a
seed to count, a landscape that overflowed is a bound, and a file recorded before these
designs shows the claims as not measured, never a traceback."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from bntui.claims.battery import (
    BASE_EVALS,
    BN_NOISE,
    CLAIMS,
    LANDSCAPE_POINTS,
    SCALES,
    seed_values,
)
from bntui.claims.cells import CellSpec
from bntui.claims.claimfile import LandscapePoint, SeedResult, parse_claims
from bntui.claims.found import Results
from bntui.claims.landscape import beta_smoothness, loss_spread, smoothness
from bntui.claims.measures import measures
from bntui.claims.rules import Rule, Significance
from bntui.claims.shifted import covariate_shift, gradient_shift
from bntui.claims.texts import paragraph, verdict_line
from bntui.stats.significance import holm

DATA = Path(__file__).parents[1] / "data"
QUICK = SCALES["quick"]
SEEDS = range(42, 50)
# Per-seed jitter, so that no two seeds give the same value.
JITTER = [0.1, -0.2, 0.15, -0.05, 0.2, -0.15, 0.05, -0.1]
RATES = [0.01, 0.1, 1.0]


def verdict(rule: Rule, values: list[float | None]) -> str:
    """The verdict of `rule` on `values`, alone in its battery (Holm over one claim)."""
    raw = rule.tests(values).raw
    adjusted = {k: None if p is None else holm([p])[0] for k, p in raw.items()}
    return rule.verdict(Significance(raw, adjusted))


def base_run(seed: int, end: float, drift: float) -> SeedResult:
    """A shared cell's seed ending at accuracy `end` (its last epoch's evaluations), with
    hidden-layer drift `drift`."""
    return SeedResult(
        seed=seed,
        steps=list(range(BASE_EVALS + 1)),
        val_accuracy=[0.1, *[end] * BASE_EVALS],
        val_loss=[2.3, *[0.5] * BASE_EVALS],
        activation_drift=[drift, drift * 1.5],
    )


def shift_results(bn: float, noisy: float, noisy_drift: float = 4.0) -> Results:
    """Plain at 86%, BN at `bn`, noisy BN at `noisy` (accuracies in %, plus jitter)."""
    runs: Results = {"base/plain": [], "base/bn": [], "base/noisy-bn": []}
    for seed, j in zip(SEEDS, JITTER):
        runs["base/plain"].append(base_run(seed, 0.86 + j / 100, 2.0))
        runs["base/bn"].append(base_run(seed, (bn + j) / 100, 1.2))
        runs["base/noisy-bn"].append(base_run(seed, (noisy + j * 1.5) / 100, noisy_drift))
    return runs


@pytest.mark.parametrize(
    ("bn", "noisy", "expected"),
    [
        (88.0, 84.0, "supported"),  # the shift hurts: the notebook's account
        (88.0, 88.0, "no effect"),  # Santurkar et al.'s finding
        (86.0, 88.0, "not supported"),  # the noise even helps
    ],
)
def test_the_noisy_arm_can_decide_either_way(bn: float, noisy: float, expected: str) -> None:
    found = covariate_shift(shift_results(bn, noisy), QUICK)
    assert len([v for v in found.values if v is not None]) == len(SEEDS)
    assert verdict(CLAIMS["shift"].rule, found.values) == expected


def test_a_noisy_arm_that_injected_no_shift_gives_no_value() -> None:
    # Its drift no larger than BN's: the manipulation failed, whatever the accuracies say.
    found = covariate_shift(shift_results(88.0, 84.0, noisy_drift=1.0), QUICK)
    assert found.values == [None] * len(SEEDS)
    assert verdict(CLAIMS["shift"].rule, found.values) == "too few seeds"
    assert any("did not inject shift" in note for note in found.notes)
    labels = {d.label: d.interval for d in found.details}
    check = labels["drift before BN, noisy BN − BN (the shift the noise adds; must be > 0)"]
    assert check is not None and check.mean < 0


def test_the_shift_figure_draws_the_three_drifts() -> None:
    found = covariate_shift(shift_results(88.0, 88.0), QUICK)
    assert found.figure is not None
    assert [s.key for s in found.figure.series] == ["plain", "bn", "noisy-bn"]
    noisy = next(s for s in found.figure.series if s.key == "noisy-bn")
    assert noisy.label == "noisy BN" and noisy.mean[1] == pytest.approx(6.0)


def point(
    step: int, scale: float, grad_norm: float = 1.0, gap: float | None = 0.0
) -> LandscapePoint:
    """A landscape point whose gradient changes grow with η, times `scale`; `gap` is added
    to the largest change (None: it overflowed)."""
    changes: list[float | None] = [scale * r * 10 for r in RATES]
    changes[-1] = None if gap is None else changes[-1] + gap  # type: ignore[operator]
    losses: list[float | None] = [0.5 - r * 0.1 * (1 / scale) for r in RATES]
    losses[-1] = 0.5 + scale
    return LandscapePoint(
        step=step,
        rates=RATES,
        loss=0.5,
        grad_norm=grad_norm,
        losses=losses,
        grad_changes=changes,
    )


def landscape_results(plain: float, bn: float, overflow: bool = False) -> Results:
    """Every seed's landscape at the start and two later points, plain's changes `plain`
    times the base, BN's `bn` times (with per-seed jitter)."""
    runs: Results = {"base/plain": [], "base/bn": []}
    for seed, j in zip(SEEDS, JITTER):
        for key, scale in (("plain", plain), ("bn", bn)):
            gap = None if overflow and key == "plain" else 0.0
            pts = [point(s, scale * (1 + j / 4), gap=gap) for s in (0, 100, 200)]
            runs[f"base/{key}"].append(SeedResult(seed=seed, landscape=pts))
    return runs


@pytest.mark.parametrize(
    ("plain", "bn", "expected"),
    [
        (10.0, 1.0, "supported"),  # plain's gradient changes ten times more: BN smoother
        (1.0, 1.0, "no effect"),
        (1.0, 10.0, "not supported"),  # BN's landscape the rougher
    ],
)
def test_smoothness_can_decide_either_way(plain: float, bn: float, expected: str) -> None:
    found = smoothness(landscape_results(plain, bn), QUICK)
    assert verdict(CLAIMS["smoothness"].rule, found.values) == expected
    assert found.censored == ""
    assert found.figure is not None and found.figure.ticks == ["0.01", "0.1", "1"]


def test_smoothness_is_a_log_ratio_of_the_largest_change_during_training() -> None:
    found = smoothness(landscape_results(10.0, 1.0), QUICK)
    # Plain's changes are 10 times BN's at every point: one decade, the start left out.
    assert found.values == pytest.approx([1.0] * len(SEEDS), abs=0.05)
    start = next(d for d in found.details if "initialisation" in d.label)
    assert start.interval is not None and start.interval.mean == pytest.approx(1.0, abs=0.05)


def test_an_overflowed_landscape_is_a_bound() -> None:
    found = smoothness(landscape_results(10.0, 1.0, overflow=True), QUICK)
    assert found.censored == "lower"
    assert any("at least what is shown" in note for note in found.notes)


def test_spread_and_beta_smoothness_of_a_point() -> None:
    p = LandscapePoint(
        step=0,
        rates=[0.1, 1.0],
        loss=1.0,
        grad_norm=2.0,
        losses=[0.8, 3.0],
        grad_changes=[0.4, 1.0],
    )
    assert loss_spread(p) == pytest.approx(2.2)
    # 0.4 / (0.1 × 2) = 2 beats 1.0 / (1 × 2) = 0.5.
    assert beta_smoothness(p) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="equal lengths"):
        LandscapePoint(step=0, rates=[0.1], losses=[1.0, 2.0], grad_changes=[0.1])


def test_a_file_from_before_the_noisy_arm_shows_shift_as_not_measured() -> None:
    older = parse_claims((DATA / "claims_tiny_v2.json").read_bytes())
    found = {m.claim: m for m in measures(older)}
    assert found["shift"].status == "pending" and found["shift"].verdict is None
    assert "smoothness" not in found  # not a claim of that battery
    assert "pending" in verdict_line(found["shift"])
    assert paragraph(found["shift"], older.battery_scale)


def test_landscape_points_without_data_give_no_value() -> None:
    runs = landscape_results(10.0, 1.0)
    for key in runs:
        runs[key] = [SeedResult(seed=r.seed) for r in runs[key]]
    found = smoothness(runs, QUICK)
    assert found.values == [None] * len(SEEDS) and found.figure is None
    assert any("before design 3" in note for note in found.notes)


def test_the_noisy_arm_differs_from_bn_in_the_noise_alone() -> None:
    seeds = seed_values(42, QUICK)
    shift = {c.id: c for c in CLAIMS["shift"].cells(QUICK, seeds)}
    assert set(shift) == {"base/plain", "base/bn", "base/noisy-bn"}
    noisy, bn = shift["base/noisy-bn"], shift["base/bn"]
    changed = {f.name for f in fields(CellSpec) if getattr(noisy, f.name) != getattr(bn, f.name)}
    # The landscape and the end checks are taken on the controlled pair only: no training.
    assert changed == {"id", "bn_noise", "landscape_points", "end_checks"}
    assert (noisy.bn_noise, bn.bn_noise, noisy.landscape_points) == (BN_NOISE, 0.0, 0)
    smooth = CLAIMS["smoothness"].cells(QUICK, seeds)
    assert [c.id for c in smooth] == ["base/plain", "base/bn"]
    assert {c.landscape_points for c in smooth} == {LANDSCAPE_POINTS}
    assert noisy.label.startswith("BN + noise")


def test_the_gradient_based_shift_reads_the_layers_after_the_first_during_training() -> None:
    def run(shifts: list[list[float]]) -> SeedResult:
        points = [
            LandscapePoint(step=i, rates=[0.01], losses=[1.0], grad_changes=[0.1], gradient_shift=g)
            for i, g in enumerate(shifts)
        ]
        return SeedResult(seed=42, landscape=points)

    # The start (the first point) and the first layer are left out: (0.2 + 0.4) / 2.
    assert gradient_shift(run([[9.0, 9.0, 9.0], [0.0, 0.2, 0.4]])) == pytest.approx(0.3)
    assert gradient_shift(run([[0.0, 0.1, 0.1]])) is None  # the start alone
    found = covariate_shift(shift_results(88.0, 88.0), QUICK)
    detail = next(d for d in found.details if d.label == "gradient-based shift, plain − BN")
    assert detail.interval is None  # these synthetic cells measured no landscape
