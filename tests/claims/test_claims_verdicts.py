"""Verdicts a careful reader accepts: exact sign-flip p-values, Holm's correction across the
battery, four verdicts that can each come out (failure cases included), and a
pre-registration digest that a resume checks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bntui.claims import battery
from bntui.claims.battery import CLAIMS, SCALES, design_digest
from bntui.claims.claimfile import SeedResult, parse_claims
from bntui.claims.measures import _bound_decides, measures
from bntui.claims.probed import imbalance
from bntui.claims.quantities import confound, cost, learning_rate
from bntui.claims.rules import Rule, Significance
from bntui.claims.texts import measure_text, significance_text
from bntui.cli.main import app
from bntui.stats.intervals import Interval
from bntui.stats.significance import holm, seeds_needed, sign_flip_p, smallest_p

TINY = Path(__file__).parents[1] / "data" / "claims_tiny.json"
EIGHT_UP = [1.0, 2.0, 1.5, 0.8, 2.2, 1.1, 1.7, 0.9]


def settled(rule: Rule, values: list[float | None], family: int = 1) -> str:
    """The verdict of `rule` on `values` when the battery has `family` claims, the others
    giving nothing (p = 1): Holm as the battery applies it."""
    raw = rule.tests(values)
    adjusted = {
        name: holm([p, *[1.0] * (family - 1)])[0] if p is not None else None
        for name, p in raw.raw.items()
    }
    return rule.verdict(Significance(raw.raw, adjusted))


def test_sign_flip_p_values_are_exact() -> None:
    assert sign_flip_p(EIGHT_UP, "greater") == pytest.approx(1 / 256)
    assert sign_flip_p([-v for v in EIGHT_UP], "less") == pytest.approx(1 / 256)
    # One seed of eight against the others, small: two sign assignments reach the mean.
    assert sign_flip_p([-0.1, *EIGHT_UP[1:]], "greater") == pytest.approx(2 / 256)
    assert sign_flip_p([1.0, 2.0, 3.0], "greater") == pytest.approx(1 / 8) == smallest_p(3)
    assert sign_flip_p([None, float("nan")], "greater") is None


def test_holm_steps_down_and_counts_missing_tests_as_one() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.004, None, 0.5]) == [pytest.approx(0.012), None, pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("expects", "values", "verdict"),
    [
        ("positive", EIGHT_UP, "supported"),
        ("positive", [-v for v in EIGHT_UP], "not supported"),  # the failure case
        ("negative", [-v for v in EIGHT_UP], "supported"),
        ("negative", EIGHT_UP, "not supported"),
        ("positive", [0.01, -0.02, 0.015, -0.01, 0.02, -0.015, 0.005, -0.005], "no effect"),
        ("positive", [3.0, -2.5, 4.0, -3.5, 2.0, -1.0, 5.0, -4.0], "too few seeds"),
        ("positive", [1.0, 2.0, 3.0], "too few seeds"),  # 3 seeds can never reach α
    ],
)
def test_every_verdict_can_come_out(expects: Any, values: list[float], verdict: str) -> None:
    assert settled(Rule(expects, margin=0.5), values) == verdict


def test_a_bn_arm_that_explodes_is_not_supported() -> None:
    # The gradients claim on a deep ReLU stack where BN explodes the first layer's gradient:
    # |log ratio| grows with BN, so plain − BN is negative on every seed.
    exploded = [-4.9, -5.1, -5.3, -4.7, -5.0, -5.2, -4.8, -5.4]
    assert settled(Rule("positive", margin=0.5), exploded, family=9) == "not supported"


def test_the_equivalence_rule() -> None:
    rule = Rule("equivalent", margin=10.0)
    assert settled(rule, [1.0, -2.0, 3.0, 0.5, -1.5, 2.0, 0.0, 1.0]) == "supported"
    assert settled(rule, [50.0, 48.0, 52.0, 55.0, 47.0, 51.0, 49.0, 53.0]) == "not supported"
    assert settled(rule, [9.0, 2.0, 14.0]) == "too few seeds"


def test_holm_across_nine_claims_needs_every_seed_on_one_side_with_eight_seeds() -> None:
    rule = Rule("positive", margin=0.5)
    assert settled(rule, EIGHT_UP, family=9) == "supported"  # 9 · 1/256 < 0.05
    one_against = [-1.8, *EIGHT_UP[1:]]
    assert settled(rule, one_against, family=1) == "supported"
    assert settled(rule, one_against, family=9) == "too few seeds"


def test_too_few_seeds_says_how_many_would_tell() -> None:
    noisy = [3.0, -2.5, 4.0, -3.5, 2.0, -1.0, 5.0, -4.0]
    needed = seeds_needed(noisy, effect=0.5)
    assert needed is not None and needed > len(noisy)
    assert seeds_needed([1.0, 1.0, 1.0], effect=0.5) is None  # no spread to go on
    assert "within ±0.5" in Rule("positive", 0.5).text() and "Holm" in Rule("positive", 1).text()


def test_the_battery_settles_every_claim_with_a_test_and_a_holm_p_value() -> None:
    found = measures(parse_claims(TINY.read_bytes()))
    measured = [m for m in found if any(v is not None for v in m.values)]
    assert len(measured) >= 7 and all(m.p_value is not None for m in measured)
    # The tiny battery has 2 seeds: nothing can be significant (p ≥ 1/4 before Holm).
    assert {m.verdict for m in found} == {"too few seeds"}
    assert all(m.p_value >= 0.25 for m in measured)  # type: ignore[operator]


def test_the_digest_pins_rules_margins_and_cells() -> None:
    quick, names = SCALES["quick"], list(CLAIMS)
    digest = design_digest(names, quick, 42)
    assert digest.startswith("sha256:") and digest == design_digest(names, quick, 42)
    assert digest != design_digest(names, quick, 43)
    assert digest != design_digest(names[:-1], quick, 42)


def test_a_changed_margin_is_another_design(monkeypatch: pytest.MonkeyPatch) -> None:
    names, quick = list(CLAIMS), SCALES["quick"]
    before = design_digest(names, quick, 42)
    changed = replace(CLAIMS["cost"], rule=Rule("equivalent", margin=20.0))
    monkeypatch.setitem(battery.CLAIMS, "cost", changed)
    assert design_digest(names, quick, 42) != before


def test_resume_refuses_a_file_planned_under_another_design(tmp_path: Path) -> None:
    data = json.loads(TINY.read_text())
    data["status"] = "interrupted"
    data["cells"] = data["cells"][:-1]  # unfinished: a complete file has nothing to resume
    data["design"] = "sha256:" + "0" * 64
    path = tmp_path / "other-design.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["claims", "--resume", str(path), "--headless"])
    assert result.exit_code == 2
    assert "planned under another design" in result.output
    assert "Traceback" not in result.output


def lr_run(seed: int, final: float, diverged: bool = False) -> SeedResult:
    """A seed of a learning-rate cell that ends at `final` validation accuracy."""
    return SeedResult(seed=seed, steps=[0, 100], val_accuracy=[0.1, final],
                      val_loss=[1.0, 1.0], diverged=diverged)  # fmt: skip


@pytest.mark.parametrize(
    ("bn_top", "plain_top", "censored"),
    [(True, False, "lower"), (False, True, "upper"), (True, True, "both"), (False, False, "")],
)
def test_a_limit_beyond_the_grid_is_a_bound(bn_top: bool, plain_top: bool, censored: str) -> None:
    scale = replace(SCALES["quick"], lr_grid=(0.01, 0.1, 1.0))
    seeds = range(42, 50)

    def cells(key: str, top: bool) -> dict[str, list[SeedResult]]:
        return {
            f"lr/{key}/0.01": [lr_run(s, 0.8) for s in seeds],
            f"lr/{key}/0.1": [lr_run(s, 0.8 if top or key == "bn" else 0.1) for s in seeds],
            f"lr/{key}/1": [lr_run(s, 0.8 if top else 0.1, diverged=not top) for s in seeds],
        }

    found = learning_rate({**cells("plain", plain_top), **cells("bn", bn_top)}, scale)
    assert found.censored == censored


def test_a_bound_reads_as_one_and_decides_only_its_own_side() -> None:
    claims = parse_claims(TINY.read_bytes())
    lr = next(m for m in measures(claims) if m.claim == "lr")
    bound = replace(lr, interval=Interval(1.0, 1.0, 1.0, 8), censored="lower")
    assert measure_text(bound).startswith("≥ +1.00 decades [+1.00, +1.00] (n=8)")
    assert "a bound" in measure_text(bound) and "no spread" in measure_text(bound)
    assert _bound_decides("lower", "positive", "supported")
    assert not _bound_decides("lower", "positive", "no effect")
    assert not _bound_decides("upper", "positive", "supported")
    assert not _bound_decides("both", "positive", "supported")


def test_an_equivalence_refuted_on_its_stated_side_needs_no_second_test() -> None:
    slower = [50.0, 48.0, 52.0, 55.0, 47.0, 51.0, 49.0, 53.0]
    # Against "either" side the p-value doubles and 8 seeds cannot clear Holm over 9 claims;
    # stated in advance ("BN can only be slower"), one side suffices.
    assert settled(Rule("equivalent", 10.0), slower, family=9) == "too few seeds"
    assert settled(Rule("equivalent", 10.0, against="above"), slower, family=9) == "not supported"
    assert (
        settled(Rule("equivalent", 10.0, against="above"), [-v for v in slower]) != "not supported"
    )
    assert "above +10%" in Rule("equivalent", 10.0, against="above").text("%")


def test_an_underflowed_gradient_is_a_bound_not_a_missing_value() -> None:
    assert imbalance([0.0, 1.0]) == pytest.approx(45.0)
    assert imbalance([1e-5, 1.0]) == pytest.approx(5.0) == imbalance([1.0, 1e-5])
    assert imbalance([None, 1.0]) is None


def test_a_supported_effect_smaller_than_its_margin_says_so() -> None:
    claims = parse_claims(TINY.read_bytes())
    confound = next(m for m in measures(claims) if m.claim == "confound")
    small = replace(confound, verdict="supported", interval=Interval(0.4, 0.06, 0.75, 8))
    assert "smaller than the 1.00 points that matters" in significance_text(small)
    big = replace(small, interval=Interval(2.4, 2.0, 2.8, 8))
    assert "smaller" not in significance_text(big)


def timed(seed: int, seconds: float, **extra: Any) -> SeedResult:
    return SeedResult(seed=seed, epoch_seconds=[9.0, seconds, seconds + 0.1], **extra)


@pytest.mark.parametrize(("fit_bn", "verdict"), [(1.05, "supported"), (1.5, "not supported")])
def test_cost_decides_on_the_notebooks_harness_with_bntuis_beside(
    fit_bn: float, verdict: str
) -> None:
    seeds = range(42, 42 + SCALES["quick"].seeds)
    results = {
        "cost-fit/plain": [timed(s, 1.0) for s in seeds],
        "cost-fit/bn": [timed(s, fit_bn) for s in seeds],
        "cost/plain": [timed(s, 0.5, inference_seconds=0.01) for s in seeds],
        "cost/bn": [
            timed(s, 0.75, inference_seconds=0.02, folded_inference_seconds=0.01, fold_error=1e-7)
            for s in seeds
        ],
    }
    found = cost(results, SCALES["quick"])
    assert found.values == [pytest.approx((fit_bn - 1) * 100)] * len(seeds)
    # Every seed on one side clears Holm across the whole battery at the quick scale.
    assert settled(CLAIMS["cost"].rule, found.values, family=len(CLAIMS)) == verdict
    labels = [d.label for d in found.details]
    assert any("fused JAX loop: BN / plain − 1" in label for label in labels)
    fused = next(d for d in found.details if "fused JAX loop: BN" in d.label)
    assert fused.interval is not None and fused.interval.mean == pytest.approx(50.0)
    assert any(label.startswith("BN folded into the Dense layers") for label in labels)
    assert any("folded into the Dense layers predicts what BN does" in n for n in found.notes)


def test_the_confounds_activation_and_init_part_gets_an_equivalence_test() -> None:
    def ends(value: float) -> list[SeedResult]:
        return [
            SeedResult(
                seed=s, steps=list(range(9)), val_accuracy=[value / 100] * 9, val_loss=[1.0] * 9
            )
            for s in range(42, 50)
        ]

    levels = {"seeds-plain": 85.0, "plain-raw": 85.1, "plain": 86.0, "bn-hidden": 86.5, "bn": 87.0}
    results = {f"base/{key}": ends(value) for key, value in levels.items()}
    assert any(
        "activation/init part is within ±1 point" in n
        for n in confound(results, SCALES["quick"]).notes
    )
    results["base/plain-raw"] = ends(88.0)
    assert any("not shown within" in n for n in confound(results, SCALES["quick"]).notes)


def test_the_quick_battery_has_seeds_enough_for_holm_across_every_claim() -> None:
    # Every seed on one side gives p = 1/2^n; Holm's strictest bar is α / (number of claims).
    for name in ("quick", "full"):
        assert len(CLAIMS) / 2 ** SCALES[name].seeds < 0.05, name
