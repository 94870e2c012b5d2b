"""The fused steps' two ways in, exercised on the CPU: device arrays (Keras' accelerator path,
a transfer per batch) and NumPy groups copied to the device once (bntui's GPU path). Both
train exactly as NumPy fed step by step through Keras' own loop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("fused steps are for the JAX backend", allow_module_level=True)

import jax  # noqa: E402
from keras.src.backend.jax import trainer as jax_trainer  # noqa: E402

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.training.fused import FusedTrainFunction, feed_groups, fuse_train_steps  # noqa: E402
from bntui.training.models import build_model  # noqa: E402

pytestmark = pytest.mark.slow  # real Keras training, compiled several times

STEPS = 4
Iterator_ = jax_trainer.JAXEpochIterator


@pytest.fixture
def restore_iterator(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test does to Keras' epoch iterator is undone afterwards."""
    monkeypatch.setattr(Iterator_, "_get_iterator", Iterator_._get_iterator)
    monkeypatch.setattr(Iterator_, "_bntui_group_feed", False, raising=False)
    yield


def train(which: str, fused: bool) -> tuple[list[np.ndarray], dict, Any]:
    rng = np.random.default_rng(1)
    x = rng.random((200, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 200).astype("uint8")
    keras.utils.set_random_seed(5)
    model = build_model(replace(ExperimentSpec(), steps_per_execution=STEPS), which)
    if fused:
        fuse_train_steps(model, STEPS)
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=True, verbose=0)
    return model.get_weights(), history.history, model.train_function


def assert_same(got: tuple, expected: tuple) -> None:
    assert len(got[0]) == len(expected[0])
    for mine, theirs in zip(got[0], expected[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    assert got[1]["loss"] == pytest.approx(expected[1]["loss"], rel=1e-6)


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_device_array_batches_train_as_numpy_ones(
    which: str, restore_iterator: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    keras_way = train(which, fused=False)
    numpy_fed = train(which, fused=True)
    assert numpy_fed[2].fused_groups == 4  # a whole and a short group an epoch
    # What Keras does on an accelerator: each batch copied to the device one step ahead.
    monkeypatch.setattr(
        Iterator_,
        "_get_iterator",
        lambda self: self._one_batch_ahead_iterator(self.data_adapter.get_jax_iterator()),
    )
    device_fed = train(which, fused=True)
    function = device_fed[2]
    assert isinstance(function, FusedTrainFunction)
    assert function.fused_groups == 4 and function.host_groups == 0  # stacked on the device
    assert_same(device_fed, numpy_fed)
    assert_same(device_fed, keras_way)


def test_batches_kept_on_host_go_to_the_device_once_per_group(restore_iterator: None) -> None:
    reference = train("bn", fused=True)
    assert feed_groups()
    assert Iterator_._bntui_group_feed and feed_groups()  # idempotent
    weights, history, function = train("bn", fused=True)
    assert function.fused_groups == 4 and function.host_groups == 4
    assert_same((weights, history), reference[:2])


def test_on_host_tells_numpy_from_device_groups() -> None:
    group = (np.zeros((STEPS, 2, 3), "float32"), np.zeros((STEPS, 2), "uint8"))
    assert FusedTrainFunction.on_host(group)
    assert not FusedTrainFunction.on_host(jax.device_put(group))
