"""Fused steps (a compiled scan over Keras' own train_step) train exactly as Keras' loop."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("fused steps are for the JAX backend", allow_module_level=True)

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.training.fused import FusedTrainFunction, fuse_train_steps  # noqa: E402
from bntui.training.models import build_model  # noqa: E402


@pytest.fixture(autouse=True)
def keras_own_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's reference run gets Keras' own batches: the group feed the fused runs
    install (bntui.training.fused.feed_groups) is undone after every test."""
    from keras.src.backend.jax.trainer import JAXEpochIterator

    monkeypatch.setattr(JAXEpochIterator, "_get_iterator", JAXEpochIterator._get_iterator)
    monkeypatch.setattr(JAXEpochIterator, "_bntui_group_feed", False, raising=False)


# 200 images at batch 32: six full batches and one of 8, so with groups of 4 the epoch is
# one fused group, then a short group mixing full and partial batches (run step by step).
STEPS = 4


def train(architecture: str, which: str, fused: bool) -> tuple[list[np.ndarray], dict, object]:
    rng = np.random.default_rng(0)
    x = rng.random((200, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 200).astype("uint8")
    keras.utils.set_random_seed(3)
    spec = replace(ExperimentSpec(), architecture=architecture, steps_per_execution=STEPS)
    model = build_model(spec, which)
    if fused:
        fuse_train_steps(model, STEPS)
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=True, verbose=0)
    return model.get_weights(), history.history, model.train_function


@pytest.mark.parametrize("architecture", ["fashion", "mnist", "sweep"])
@pytest.mark.parametrize("which", ["plain", "bn"])
def test_fused_training_equals_keras_loop(architecture: str, which: str) -> None:
    keras_weights, keras_history, _ = train(architecture, which, fused=False)
    fused_weights, fused_history, function = train(architecture, which, fused=True)
    assert isinstance(function, FusedTrainFunction)
    assert function.fused_groups == 2  # one per epoch: the scan really ran
    # Same batches, same ops, same order: the same numbers, moving statistics and
    # dropout's random state included.
    assert len(fused_weights) == len(keras_weights)
    for fused, expected in zip(fused_weights, keras_weights):
        np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-7)
    assert fused_history["loss"] == pytest.approx(keras_history["loss"], rel=1e-6)
    assert fused_history["accuracy"] == pytest.approx(keras_history["accuracy"])


def test_one_step_per_call_leaves_keras_loop_alone() -> None:
    model = build_model(replace(ExperimentSpec(), steps_per_execution=1), "plain")
    fuse_train_steps(model, 1)
    assert not isinstance(getattr(model, "train_function", None), FusedTrainFunction)


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_gradient_norm_after_a_fused_group_is_its_last_steps(which: str) -> None:
    """Only a group's last step computes the norm (the one the worker reads after it)."""
    rng = np.random.default_rng(1)
    x = rng.random((32 * STEPS, 28, 28), dtype="float32")  # exactly one group
    y = rng.integers(0, 10, 32 * STEPS).astype("uint8")
    norms = []
    for fused in (False, True):
        keras.utils.set_random_seed(3)
        model = build_model(replace(ExperimentSpec(), steps_per_execution=STEPS), which)
        if fused:
            fuse_train_steps(model, STEPS)
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        if fused:
            assert model.train_function.fused_groups == 1
        norms.append(float(model.optimizer.gradient_norm.numpy()))
    assert norms[0] > 0
    assert norms[1] == pytest.approx(norms[0], rel=1e-6)
