"""A model's first `fit` builds its compiled loss and metrics from shapes instead of tracing
the model (bntui.training.models.build_without_tracing; on JAX they are built with the
model, and Keras' eager programs are skipped: bntui.training.eager), and trains exactly as
with Keras' own build: the same shuffles, the same numbers."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

from keras.src import backend  # noqa: E402

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.training import models  # noqa: E402
from bntui.training.models import build_model  # noqa: E402

STEPS = 4


@pytest.fixture(autouse=True)
def keras_own_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The group feed the fused runs install (bntui.training.fused.feed_groups) is undone
    after every test."""
    from keras.src.backend.jax.trainer import JAXEpochIterator

    monkeypatch.setattr(JAXEpochIterator, "_get_iterator", JAXEpochIterator._get_iterator)
    monkeypatch.setattr(JAXEpochIterator, "_bntui_group_feed", False, raising=False)


def fit_and_evaluate(
    keras_own_build: bool, fused: bool, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Two shuffled epochs of the BN model on 200 random images, then its test figures."""
    traces: list[object] = []
    trace = backend.compute_output_spec
    monkeypatch.setattr(
        backend, "compute_output_spec", lambda fn, *a, **k: traces.append(fn) or trace(fn, *a, **k)
    )
    rng = np.random.default_rng(0)
    x = rng.random((200, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 200).astype("uint8")
    with monkeypatch.context() as patches:  # Keras' own for this model only
        if keras_own_build:
            keras_own(patches)
        keras.utils.set_random_seed(3)
        model = build_model(replace(ExperimentSpec(), steps_per_execution=STEPS), "bn")
        if fused:  # as the workers train on JAX: the first batch comes from the group feed
            from bntui.training.fused import fuse_train_steps

            fuse_train_steps(model, STEPS)
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=True, verbose=0).history
        traced_by_fit = len(traces)
        return {
            "traced_by_fit": traced_by_fit,
            "weights": model.get_weights(),
            "history": history,
            "metrics": list(model.metrics_names),
            "test": model.evaluate(x, y, batch_size=50, verbose=0),
            "predicted": model.predict(x, batch_size=50, verbose=0),
            "next_draw": np.random.random(),  # NumPy's generator left where Keras' own leaves it
        }


def keras_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Models built meanwhile are Keras' own: built by tracing at the first `fit`, their
    numbers converted and their metrics' results computed by Keras' eager programs."""
    monkeypatch.setattr(models, "build_without_tracing", lambda model, now=False: None)
    if keras.backend.backend() == "jax":
        from keras.src.backend.jax.core import Variable

        from bntui.training import eager

        monkeypatch.setattr(eager, "convert_numbers_on_the_host", lambda: False)
        monkeypatch.setattr(eager, "keep_step_results", lambda model: None)
        keras_convert = getattr(Variable, "_bntui_keras_convert", None)
        if keras_convert is not None:
            monkeypatch.setattr(Variable, "_convert_to_tensor", keras_convert)


@pytest.mark.parametrize("fused", [False, True])
def test_first_fit_traces_nothing_and_trains_as_keras_own_build(
    fused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fused and keras.backend.backend() != "jax":
        pytest.skip("fused steps are for the JAX backend")
    own = fit_and_evaluate(True, fused, monkeypatch)
    ours = fit_and_evaluate(False, fused, monkeypatch)
    assert own["traced_by_fit"] == 3  # the model, its metrics, its loss
    assert ours["traced_by_fit"] == 0
    assert ours["metrics"] == own["metrics"]
    for got, expected in zip(ours["weights"], own["weights"], strict=True):
        np.testing.assert_array_equal(got, expected)
    assert ours["history"] == own["history"]
    assert ours["test"] == own["test"]
    np.testing.assert_array_equal(ours["predicted"], own["predicted"])
    assert ours["next_draw"] == own["next_draw"]
