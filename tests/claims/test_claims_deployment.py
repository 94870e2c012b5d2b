"""The claims about deployed and deep models (robustness, inference, depth): their fixed
corruptions, their quantities on synthetic results that include the failure case of each
design, older files without end checks, and (slow) the real end checks of a trained cell:
Keras BN in inference mode ignores an image's batch companions, in training mode it does not.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from bntui.claims.battery import CLAIMS, SCALES, deep_id, plan
from bntui.claims.claimfile import SeedResult
from bntui.claims.corruptions import BRIGHTNESS, CONTRAST, CORRUPTIONS, corrupt
from bntui.claims.deployment import FLOOR, OLDER, ROUNDING, depth, inference, robustness
from bntui.claims.found import Results
from bntui.claims.rules import Significance

TINY, QUICK = SCALES["tiny"], SCALES["quick"]
SEEDS = list(range(42, 50))


def verdict(name: str, values: list[float | None]) -> str:
    """The claim's rule on `values` alone (no other claim in the family)."""
    rule = CLAIMS[name].rule
    tests = rule.tests(values)
    return rule.verdict(Significance(tests.raw, tests.raw))


def seed_result(seed: int, **fields: Any) -> SeedResult:
    curve = {"steps": [0], "val_accuracy": [0.8], "val_loss": [0.5]}
    return SeedResult(seed=seed, **{**curve, **fields})


def shifted(clean: float, drop: float, adapted_drop: float | None = None) -> dict[str, Any]:
    """End checks where every corruption costs `drop` (accuracy, 0 to 1)."""
    fields: dict[str, Any] = {
        "shifted_accuracy": {"clean": clean, **dict.fromkeys(CORRUPTIONS, clean - drop)}
    }
    if adapted_drop is not None:
        fields["adapted_accuracy"] = {
            "clean": clean,
            **dict.fromkeys(CORRUPTIONS, clean - adapted_drop),
        }
    return fields


def base(plain_drop: float, bn_drops: list[float], **bn: Any) -> Results:
    jitter = [0.001 * (k % 3) for k in range(len(SEEDS))]
    plain = [shifted(0.85, plain_drop + j) for j in jitter]
    with_bn = [shifted(0.86, d, adapted_drop=0.02) for d in bn_drops]
    return {
        "base/plain": [seed_result(s, **f) for s, f in zip(SEEDS, plain)],
        "base/bn": [seed_result(s, **f, **bn) for s, f in zip(SEEDS, with_bn)],
    }


def test_the_corruptions_are_fixed_and_stated() -> None:
    x = np.random.default_rng(5).uniform(0, 1, (6, 28, 28)).astype("float32")
    bright = corrupt("brightness", x)
    assert bright.dtype == x.dtype and bright.min() >= 0 and bright.max() <= 1
    assert np.allclose(bright, np.clip(x + BRIGHTNESS, 0, 1))
    flat = corrupt("contrast", x)
    assert np.allclose(flat.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-6)
    assert np.allclose(flat.std(axis=(1, 2)), CONTRAST * x.std(axis=(1, 2)), rtol=1e-4)
    assert np.array_equal(corrupt("noise", x), corrupt("noise", x))  # seeded: every cell alike
    assert not np.allclose(corrupt("noise", x), x)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt("fog", x)


def test_robustness_can_come_out_either_way() -> None:
    # BN loses 5 points less under every corruption: supported.
    found = robustness(base(0.20, [0.15 + 0.002 * k for k in range(8)]), QUICK)
    assert found.values == pytest.approx([5.0 - 0.2 * k + 0.1 * (k % 3) for k in range(8)])
    assert verdict("robustness", found.values) == "supported"
    # BN loses more (the failure case): not supported.
    worse = robustness(base(0.20, [0.26 + 0.002 * k for k in range(8)]), QUICK)
    assert verdict("robustness", worse.values) == "not supported"
    # Both alike (the prior for fixed statistics): no effect within ±1 point.
    alike = robustness(
        base(0.20, [0.2 + 0.001 * (k % 3) + 0.003 * (-1) ** k for k in range(8)]), QUICK
    )
    assert verdict("robustness", alike.values) == "no effect"
    # The re-estimated arm is shown beside, not in the verdict.
    labels = [d.label for d in alike.details]
    adabn = alike.details[labels.index("BN re-estimated on the shifted images (AdaBN): drop")]
    assert adabn.interval is not None and adabn.interval.mean == pytest.approx(2.0)
    assert alike.figure is not None and [s.label for s in alike.figure.series][-1] == "BN, AdaBN"


def test_inference_without_batch_statistics_is_not_supported_and_with_them_supported() -> None:
    def runs(change: float, training: float) -> Results:
        fields = [
            {"companion_change": change * (1 + 0.01 * k), "companion_change_training": training}
            for k in range(len(SEEDS))
        ]
        return {
            key: [seed_result(s, **f) for s, f in zip(SEEDS, fields)]
            for key in ("base/plain", "base/bn")
        }

    # Standard Keras BN: float32 rounding only (≈ 1e-7) in inference mode.
    keras_bn = inference(runs(2e-7, 0.4), QUICK)
    assert keras_bn.values == pytest.approx(
        [math.log10(2e-5 * (1 + 0.01 * k) / ROUNDING) for k in range(8)]
    )
    assert all(v is not None and v < -CLAIMS["inference"].rule.margin for v in keras_bn.values)
    assert verdict("inference", keras_bn.values) == "not supported"
    # A BN that used the batch's statistics at inference (the design's failure case).
    batchwise = inference(runs(0.3, 0.4), QUICK)
    assert verdict("inference", batchwise.values) == "supported"
    # A change of exactly 0 is a bound at the floor, said in the notes.
    exact = inference(runs(0.0, 0.4), QUICK)
    assert exact.values == pytest.approx([math.log10(FLOOR / ROUNDING)] * 8)
    assert any("exactly 0" in note for note in exact.notes)
    training = next(d for d in keras_bn.details if d.label == "BN, training mode: largest change")
    assert training.interval is not None and training.interval.mean == pytest.approx(40.0)


def deep(bn: float, plain: float, scale: Any = QUICK) -> Results:
    return {
        deep_id(act, d, key): [
            seed_result(s, val_accuracy=[acc + 0.002 * k], steps=[0], val_loss=[1.0])
            for k, s in enumerate(SEEDS)
        ]
        for act in scale.deep_activations
        for d in scale.depths
        for key, acc in (("bn", bn), ("plain", plain))
    }


def test_depth_reads_the_deepest_stacks_and_can_fail() -> None:
    helps = depth(deep(bn=0.80, plain=0.10), QUICK)
    assert helps.values == pytest.approx([70.0] * 8)
    assert verdict("depth", helps.values) == "supported"
    # BN's exploding gradients leave the deepest BN stack at chance: not supported.
    hurts = depth(deep(bn=0.10, plain=0.60), QUICK)
    assert verdict("depth", hurts.values) == "not supported"
    assert "sigmoid ×32, BN: trains on 0 of 8 seeds" in hurts.notes
    # Plain trains at no depth in `helps`: its gain is not about depth, and the notes say so.
    assert any(n.startswith("plain sigmoid trains at no depth") for n in helps.notes)
    assert not any("trains at no depth" in n for n in hurts.notes)
    assert len(hurts.details) == len(QUICK.depths) * len(QUICK.deep_activations)


def test_results_without_end_checks_give_no_value_not_a_traceback() -> None:
    older = {k: [seed_result(s) for s in SEEDS] for k in ("base/plain", "base/bn")}
    for quantity in (robustness, inference):
        found = quantity(older, QUICK)
        assert found.values == [None] * 8 and OLDER in found.notes


def test_only_the_controlled_pair_runs_the_end_checks() -> None:
    checked = {c.id for c in plan(list(CLAIMS), QUICK, 42) if c.end_checks}
    assert checked == {"base/plain", "base/bn"}
    assert [c.id for c in CLAIMS["robustness"].cells(QUICK, tuple(SEEDS))] == [
        "base/plain",
        "base/bn",
    ]


@pytest.mark.slow
def test_end_checks_of_a_trained_cell() -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from bntui.claims.worker.cellrun import run_cell

    spec = {c.id: c for c in plan(["robustness"], TINY, 42)}
    bn = run_cell(replace(spec["base/bn"], epochs=2))
    for result in bn:
        assert set(result["shifted_accuracy"]) == {"clean", *CORRUPTIONS}
        assert set(result["adapted_accuracy"]) == {"clean", *CORRUPTIONS}
        # Inference mode: the moving statistics, whatever the companions (float32 rounding).
        assert result["companion_change"] < ROUNDING / 100
        # Training mode: the batch's statistics (an image alone normalises to β).
        assert result["companion_change_training"] > 0.05
        SeedResult.model_validate(result)
    plain = run_cell(spec["base/plain"])
    assert plain[0]["adapted_accuracy"] == {}
    assert plain[0]["companion_change_training"] < ROUNDING / 100  # no BN: no batch anywhere
