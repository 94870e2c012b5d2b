"""The shift and smoothness claims' worker side, with real training on tiny slices: the noisy
arm puts its noise after the hidden BNs only, starts from the BN arm's weights and really
moves the activations more than BN; the landscape program measures at the start and at
epoch ends, along a descent direction, with BN in training mode."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from bntui.claims.battery import SCALES, plan
from bntui.claims.cells import LANDSCAPE_RATES, CellSpec

pytestmark = pytest.mark.slow
# The cells train on JAX, as in the workers: this process imports Keras for them.
os.environ.setdefault("KERAS_BACKEND", "jax")
TINY = SCALES["tiny"]


def cells() -> dict[str, CellSpec]:
    return {c.id: c for c in plan(["shift", "smoothness"], TINY, 42)}


def test_the_noisy_arm_adds_noise_after_the_hidden_bns_and_starts_as_bn_does() -> None:
    from keras import layers

    from bntui.claims.worker.noisy import DistributionNoise
    from bntui.claims.worker.train import built, data

    d = data()
    x, y = d["x_train"][:8], d["y_train"][:8]
    spec = cells()
    bn, noisy = built(spec["base/bn"], 42, x, y), built(spec["base/noisy-bn"], 42, x, y)
    kinds = [type(layer).__name__ for layer in noisy.layers]
    # Flatten, BN (pixels, no noise), Dense, ReLU, BN, noise, Dense, ReLU, BN, noise, Dense.
    assert [i for i, k in enumerate(kinds) if k == "DistributionNoise"] == [5, 9]
    assert all(kinds[i - 1] == "BatchNormalization" for i in (5, 9))

    def kernels(model: Any) -> list[np.ndarray]:
        return [layer.kernel.numpy() for layer in model.layers if isinstance(layer, layers.Dense)]

    for a, b in zip(kernels(bn), kernels(noisy)):
        assert np.array_equal(a, b)  # the pair starts from the same weights
    # At inference the noise is off: the same outputs as the BN model.
    assert np.allclose(bn.predict(x, verbose=0), noisy.predict(x, verbose=0), atol=1e-6)
    noise = DistributionNoise(0.5, seed=1)
    h = np.ones((4, 3), dtype="float32")
    moved = np.asarray(noise(h, training=True))
    assert np.allclose(moved, moved[0])  # one scale and shift per unit, for the whole batch
    assert np.all((moved >= 0.0) & (moved <= 2.0)) and not np.allclose(moved, h)


def test_the_noisy_arm_drifts_more_than_bn() -> None:
    from bntui.claims.worker.cellrun import run_cell

    spec = cells()
    bn, noisy = run_cell(spec["base/bn"]), run_cell(spec["base/noisy-bn"])
    for clean, moved in zip(bn, noisy):
        assert np.mean(moved["activation_drift"]) > np.mean(clean["activation_drift"])
        assert moved["landscape"] == []  # only the controlled pair measures the landscape


def test_the_landscape_is_measured_along_a_descent_direction_in_training_mode() -> None:
    import jax.numpy as jnp
    import keras

    from bntui.claims.worker.cellrun import run_cell
    from bntui.claims.worker.train import Cell

    spec = cells()
    runs = run_cell(spec["base/bn"])
    steps = spec["base/bn"].steps_per_epoch
    for run in runs:
        points = run["landscape"]
        # The start and the epoch ends (4 points asked for; 2 epochs have 2 ends).
        assert [p["step"] for p in points] == [0, steps, 2 * steps]
        for p in points:
            assert p["rates"] == list(LANDSCAPE_RATES)
            assert all(v is not None and v > 0 for v in p["grad_changes"])
        # A small step along −g lowers the loss at the start.
        assert points[0]["losses"][0] < points[0]["loss"]
    cell = Cell(spec["base/bn"], (42,))
    assert cell.landscape is not None
    measured = cell.landscape.measure(cell.stack.state, 0)[0]
    model = cell.stack.load(0)
    # Training mode: BN with the probe batch's own statistics (at the start the moving
    # averages are 0 and 1, which would give another loss).
    for training, same in ((True, True), (False, False)):
        probs = model(cell.probe_x, training=training)
        loss = float(jnp.mean(keras.losses.sparse_categorical_crossentropy(cell.probe_y, probs)))
        assert (loss == pytest.approx(measured["loss"], rel=1e-4)) is same
    # Santurkar's gradient-based shift, per Dense kernel: in BN the pixels' BN moves before
    # the first Dense; in plain nothing learned comes before it, so its shift is exactly 0.
    assert len(measured["gradient_shift"]) == 3 and all(v > 0 for v in measured["gradient_shift"])
    plain = Cell(spec["base/plain"], (42,))
    assert plain.landscape is not None
    shifts = plain.landscape.measure(plain.stack.state, 0)[0]["gradient_shift"]
    assert shifts[0] == 0 and all(v > 0 for v in shifts[1:])
