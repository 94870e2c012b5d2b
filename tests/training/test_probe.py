"""The layer probe against Keras itself: same forward pass, no side effects, real numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

from bntui.core.events import LAYER_STATS  # noqa: E402
from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.training.models import build_model  # noqa: E402
from bntui.training.probe import LayerProbe  # noqa: E402


def probe_batch(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28), dtype="float32"), rng.integers(0, 10, n)


@pytest.mark.parametrize("architecture", ["fashion", "mnist", "sweep"])
@pytest.mark.parametrize("which", ["plain", "bn"])
def test_replay_matches_keras_training_forward(architecture: str, which: str) -> None:
    keras.utils.set_random_seed(1)
    model = build_model(ExperimentSpec(architecture=architecture), which)  # type: ignore[arg-type]
    x, y = probe_batch()
    rows, output = LayerProbe(model, x, y, keras.backend.backend()).forward()
    # Keras in training mode (batch statistics); Dropout is random there, so compare without it.
    expected = x.reshape(len(x), -1)
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Dropout, keras.layers.Flatten)):
            expected = np.asarray(layer(expected, training=True))
    np.testing.assert_allclose(output, expected, atol=1e-4)
    dense = [r for r in rows if r["kind"] == "dense"]
    assert [r["units"] for r in dense][-1] == 10
    assert len(rows) == sum(
        isinstance(layer, (keras.layers.Dense, keras.layers.BatchNormalization))
        for layer in model.layers
    )
    for row in rows:
        assert set(LAYER_STATS[row["kind"]]) <= set(row)
        if row["kind"] == "dense":
            assert row["grad_norm"] > 0


def test_measuring_changes_no_weight_or_moving_statistic() -> None:
    model = build_model(ExperimentSpec(), "bn")
    before = [np.array(v) for v in model.variables]
    x, y = probe_batch()
    LayerProbe(model, x, y, keras.backend.backend()).measure()
    for old, new in zip(before, model.variables):
        np.testing.assert_array_equal(old, np.asarray(new))


def test_dead_units_and_batch_statistics_are_measured() -> None:
    model = build_model(ExperimentSpec(), "bn")
    first_dense = next(layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = first_dense.get_weights()
    bias[:30] = -1e3  # these 30 of 300 ReLU units can never switch on
    first_dense.set_weights([kernel, bias])
    x, y = probe_batch()
    rows = LayerProbe(model, x, y, keras.backend.backend()).measure()
    dense = next(r for r in rows if r["name"] == first_dense.name)
    assert dense["dead"] == pytest.approx(0.1)
    bn_input = next(r for r in rows if r["kind"] == "bn")
    # Fresh moving statistics are mean 0, variance 1; pixels in [0, 1) have variance ~1/12.
    assert bn_input["moving_mean"] == 0 and bn_input["moving_var"] == 1
    assert bn_input["batch_var_ratio"] == pytest.approx(1 / 12, rel=0.05)
    assert bn_input["batch_shift"] == pytest.approx(0.5, rel=0.05)


def test_dead_units_are_not_counted_before_leaky_relu() -> None:
    # The plain model's LeakyReLU never outputs exactly 0: "0% dead" would be meaningless.
    model = build_model(ExperimentSpec(), "plain")
    x, y = probe_batch()
    rows = LayerProbe(model, x, y, keras.backend.backend()).measure()
    dense = [r for r in rows if r["kind"] == "dense"]
    assert [r["dead"] for r in dense] == [None, None, None]
