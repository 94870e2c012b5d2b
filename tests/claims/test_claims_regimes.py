"""The regime claims (regularisation, small batches, initialisation): their designs vary
what they say and nothing else, their quantities come out either way on synthetic results,
older files show them as not measured, and the worker's new layers do what they claim."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from bntui.claims.battery import (
    CLAIMS,
    INIT_SCHEMES,
    REG_ARMS,
    REMEDIES,
    SCALES,
    Scale,
    scheme_id,
    seed_values,
)
from bntui.claims.cells import CellSpec
from bntui.claims.claimfile import SeedResult, load_claims
from bntui.claims.found import Results
from bntui.claims.measures import measures
from bntui.claims.regimes import best_accuracy, initialisation, regularisation, small_batches
from bntui.claims.rules import Rule, Significance
from bntui.stats.significance import holm

# The worker's layers run on JAX, as in the workers: this process imports Keras for them.
os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = SCALES["quick"]
DATA = Path(__file__).parents[1] / "data"
SEEDS = tuple(range(42, 50))


def differing(a: CellSpec, b: CellSpec) -> set[str]:
    names = [f.name for f in fields(CellSpec) if f.name != "id"]
    return {name for name in names if getattr(a, name) != getattr(b, name)}


def cells_of(name: str) -> dict[str, CellSpec]:
    return {c.id: c for c in CLAIMS[name].cells(QUICK, seed_values(42, QUICK))}


def settled(name: str, values: list[float | None]) -> str:
    """The claim's verdict on `values` in a battery of nine claims, the others giving p = 1."""
    rule: Rule = CLAIMS[name].rule
    raw = rule.tests(values)
    adjusted = {k: holm([p, *[1.0] * 8])[0] if p is not None else None for k, p in raw.raw.items()}
    return rule.verdict(Significance(raw.raw, adjusted))


def test_new_fields_default_to_every_existing_cell() -> None:
    cell = CellSpec(id="x")
    assert (cell.norm, cell.dropout, cell.ghost_batch, cell.step_losses) == ("batch", 0.0, 0, False)
    for name in ("convergence", "lr", "gradients", "confound", "cost", "shift"):
        for spec in cells_of(name).values():
            assert (spec.norm, spec.dropout, spec.ghost_batch, spec.step_losses) == (
                "batch", 0.0, 0, False)  # fmt: skip


def test_regularisation_arms_vary_one_thing_each_on_a_small_slice() -> None:
    cells = cells_of("regularisation")
    assert set(cells) == {f"reg/{arm}" for arm in REG_ARMS}
    plain, bn = cells["reg/plain"], cells["reg/bn"]
    assert differing(plain, bn) == {"batch_norm", "inputs"}  # the controlled pair
    assert differing(plain, cells["reg/plain-dropout"]) == {"dropout"}
    assert differing(bn, cells["reg/bn-dropout"]) == {"dropout"}
    assert differing(bn, cells["reg/bn-ghost"]) == {"ghost_batch"}
    assert cells["reg/bn-ghost"].ghost_batch == 8 and bn.batch_size == 32
    assert plain.train_size == QUICK.reg_train < QUICK.base_train
    assert plain.epochs == QUICK.reg_epochs and plain.evals_per_epoch == 1


def test_small_batches_add_the_remedies_at_the_smallest_batch_and_32() -> None:
    cells = cells_of("small-batches")
    for size in (4, 32):
        plain = cells[f"batch/plain/{size}"]
        assert plain.step_losses and cells[f"batch/bn/{size}"].step_losses
        for norm in REMEDIES:
            remedy = cells[f"batch/{norm}/{size}"]
            assert remedy.norm == norm and remedy.step_losses
            expected = {"batch_norm", "input_bn", "norm", "train_mode"}
            assert differing(plain, remedy) <= expected
            assert remedy.train_mode == (norm == "renorm")
    assert not any(c.id.startswith(("batch/layer/8", "batch/group/16")) for c in cells.values())


def test_init_varies_the_scheme_and_keeps_the_scales_beside() -> None:
    cells = cells_of("init")
    for key in ("plain", "bn"):
        glorot = cells[scheme_id(key, "glorot_uniform")]
        assert glorot.id == f"init/{key}/1" and glorot.init_scale == 1.0
        for scheme in INIT_SCHEMES[1:]:
            assert differing(glorot, cells[scheme_id(key, scheme)]) == {"initializer"}
        for factor in QUICK.init_scales:
            assert differing(glorot, cells[f"init/{key}/{factor:g}"]) <= {"init_scale"}
    assert len(cells) == 2 * (len(INIT_SCHEMES) + len(QUICK.init_scales) - 1)


def run(seed: int, curve: list[float], **extra: object) -> SeedResult:
    steps = [i * 63 for i in range(len(curve))]
    return SeedResult(seed=seed, steps=steps, val_accuracy=curve, val_loss=[0.5] * len(curve),
                      **extra)  # type: ignore[arg-type]  # fmt: skip


def overfitting(peak: float, k: int) -> list[float]:
    """A validation curve that rises to `peak` and declines by 3 points (seed jitter k)."""
    rise = [0.1, 0.6, 0.75, peak - 0.01, peak, peak - 0.005]
    return [v + k * 0.001 for v in rise] + [peak - 0.01 * i for i in range(1, 4)]


def reg_results(bn_offset: float, dropout_gain: float = 0.01) -> Results:
    peaks = {"plain": 0.84, "bn": 0.84 + bn_offset, "plain-dropout": 0.84 + dropout_gain,
             "bn-dropout": 0.84 + bn_offset, "bn-ghost": 0.84 + bn_offset}  # fmt: skip
    return {
        f"reg/{arm}": [
            run(
                s,
                overfitting(peak + (0.002 if arm == "bn" and k % 2 else 0), k),
                train_accuracy=1.0 if arm == "plain" and k else 0.97,
            )
            for k, s in enumerate(SEEDS)
        ]
        for arm, peak in peaks.items()
    }


def test_best_accuracy_averages_neighbours_so_one_lucky_point_cannot_win() -> None:
    assert best_accuracy(run(1, [0.5, 0.8, 0.5, 0.5])) == pytest.approx(60.0)
    assert best_accuracy(run(1, [0.5, 0.8])) is None  # fewer points than the window
    assert best_accuracy(run(1, [0.5, None, 0.6, 0.7])) is None  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("bn_offset", "verdict"),
    [(0.02, "supported"), (-0.02, "not supported"), (0.0, "no effect")],
)
def test_regularisation_comes_out_every_way(bn_offset: float, verdict: str) -> None:
    found = regularisation(reg_results(bn_offset), QUICK)
    assert settled("regularisation", found.values) == verdict
    labels = {d.label: d for d in found.details}
    control = labels["dropout on plain (can this slice show a regulariser?)"]
    assert control.interval is not None and control.interval.mean == pytest.approx(1.0, abs=0.01)
    # Seed 42's plain did not fit its slice: said, with its training accuracy.
    assert any("plain did not fit its slice" in n and "42 (97.0%)" in n for n in found.notes)
    assert found.figure is not None and len(found.figure.series) == len(REG_ARMS)
    assert not any("positive control fails" in n for n in found.notes)


def test_a_failed_positive_control_is_said() -> None:
    # Dropout lowers plain's best on this slice: the slice cannot show a regulariser.
    found = regularisation(reg_results(0.0, dropout_gain=-0.01), QUICK)
    assert any("positive control fails" in n for n in found.notes)


def batch_results(scale: Scale, bn_small: float, remedy_small: float) -> Results:
    """Plain at 80% everywhere; BN at 82% except `bn_small` at the smallest batch; every
    remedy 81% at 32 and `remedy_small` at the smallest."""

    def arm(key: str, size: int) -> list[SeedResult]:
        small = size == scale.batch_sizes[0]
        final = {"plain": 0.80, "bn": bn_small if small else 0.82}.get(
            key, remedy_small if small else 0.81
        )
        return [
            run(s, [0.1, final + k * 0.001], train_mode_accuracy=0.5 if key == "bn" else None,
                step_loss_std=0.9 if key == "bn" and small else 0.5, step_loss_spikes=0.01)
            for k, s in enumerate(SEEDS)
        ]  # fmt: skip

    sizes = [*((k, b) for b in scale.batch_sizes for k in ("plain", "bn")),
             *((n, b) for b in (scale.batch_sizes[0], 32) for n in REMEDIES)]  # fmt: skip
    return {f"batch/{k}/{b}": arm(k, b) for k, b in sizes}


def test_small_batches_reads_the_remedies_and_the_instability() -> None:
    found = small_batches(batch_results(QUICK, bn_small=0.70, remedy_small=0.81), QUICK)
    assert settled("small-batches", found.values) == "supported"  # BN's gain falls 12 points
    labels = {d.label: d.interval for d in found.details}
    layer = labels["layer norm − BN at batch 4"]
    assert layer is not None and layer.mean == pytest.approx(11.0, abs=0.01)
    own = labels["group norm's gain over plain at batch 4 − at 32"]
    assert own is not None and own.mean == pytest.approx(0.0, abs=1e-6)
    spread = labels[
        "instability: spread (std) of the last epoch's step losses, BN − plain, batch 4"
    ]
    assert spread is not None and spread.mean == pytest.approx(0.4)
    assert len(found.figure.series) == 2 + len(REMEDIES)  # type: ignore[union-attr]
    # BN as good at the smallest batch as at 32: the claim fails.
    same = small_batches(batch_results(QUICK, bn_small=0.84, remedy_small=0.81), QUICK)
    assert settled("small-batches", same.values) == "not supported"


def init_results(plain_spread: float, bn_spread: float) -> Results:
    out: Results = {}
    for key, spread in (("plain", plain_spread), ("bn", bn_spread)):
        for i, scheme in enumerate(INIT_SCHEMES):
            final = 0.80 + (spread if i == 1 else 0.0)
            out[scheme_id(key, scheme)] = [run(s, [0.1, final]) for s in SEEDS]
        for factor in QUICK.init_scales:
            if factor != 1.0:
                out[f"init/{key}/{factor:g}"] = [run(s, [0.1, 0.1]) for s in SEEDS]
    return out


@pytest.mark.parametrize(
    ("plain", "bn", "verdict"),
    [(0.05, 0.0, "supported"), (0.0, 0.05, "not supported"), (0.01, 0.01, "no effect")],
)
def test_initialisation_comes_out_every_way(plain: float, bn: float, verdict: str) -> None:
    # Jitter of ±0.1 points so that the seeds differ (and straddle BN's spread when equal).
    results = init_results(plain, bn)
    for k, r in enumerate(results["init/plain/he_normal"]):
        r.val_accuracy[-1] += 0.001 * (1 if k % 2 else -1)  # type: ignore[operator]
    found = initialisation(results, QUICK)
    assert settled("init", found.values) == verdict
    # Both ×0.1 arms sit at chance here: said, and the scale arm is said to be lr for BN.
    assert any(n.startswith("plain ×0.1 ends at 10.0% (×1: 80.") for n in found.notes)
    assert any("lr claim in disguise" in n for n in found.notes)


@pytest.mark.parametrize("path", [DATA / "claims_tiny_v1.json", DATA / "claims_tiny_v2.json"])
def test_older_files_show_the_new_designs_as_not_measured(path: Path) -> None:
    claims = load_claims(path)
    found = {m.claim: m for m in measures(claims)}
    for name in ("regularisation", "small-batches", "init"):
        if name in found:
            assert found[name].status == "pending" and found[name].verdict is None, name


def test_ghost_batches_normalise_each_sub_batch_and_infer_as_bn() -> None:
    np = pytest.importorskip("numpy")
    from bntui.claims.worker.norms import GhostBatchNormalization

    layer = GhostBatchNormalization(8)
    x = np.random.default_rng(0).normal(3.0, 2.0, (32, 5)).astype("float32")
    x[8:16] += 10.0  # one sub-batch far off: its own statistics take it back to zero
    out = np.asarray(layer(x, training=True))
    for group in out.reshape(4, 8, 5):
        assert np.allclose(group.mean(axis=0), 0.0, atol=1e-4)
    moving, variance = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
    assert np.allclose(moving, 0.01 * x.mean(axis=0), atol=1e-4)
    # Inference: BN's, with the moving statistics.
    expected = (x - moving) / np.sqrt(variance + layer.epsilon)
    assert np.allclose(np.asarray(layer(x, training=False)), expected, atol=1e-4)


@pytest.mark.slow
def test_the_new_cells_train_and_record_what_their_quantities_read() -> None:
    from bntui.claims.worker.cellrun import run_cell
    from bntui.claims.worker.train import build

    tiny = SCALES["tiny"]
    cells = {c.id: c for n in ("regularisation", "small-batches") for c in
             CLAIMS[n].cells(tiny, seed_values(42, tiny))}  # fmt: skip
    kinds = [type(layer).__name__ for layer in build(cells["batch/group/4"]).layers]
    assert "GroupNormalization" in kinds and "BatchNormalization" not in kinds
    assert "Dropout" in [type(layer).__name__ for layer in build(cells["reg/bn-dropout"]).layers]
    for cid in ("batch/renorm/4", "reg/bn-ghost"):
        results = [SeedResult(**r) for r in run_cell(cells[cid])]
        assert [r.seed for r in results] == list(cells[cid].seeds)
        assert all(r.final_accuracy is not None for r in results)
        if cid.startswith("batch/"):
            assert all(r.step_loss_std is not None and r.step_loss_std > 0 for r in results)
            assert all(r.train_mode_accuracy is not None for r in results)
        else:
            assert len(results[0].val_accuracy) == cells[cid].epochs + 1
