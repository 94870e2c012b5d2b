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
from bntui.training.feed import GroupedBatches  # noqa: E402
from bntui.training.fused import (  # noqa: E402
    FusedTrainFunction,
    fuse_train_steps,
    scan_steps,
    scanned_count,
)
from bntui.training.models import build_model  # noqa: E402


@pytest.fixture(autouse=True)
def keras_own_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's reference run gets Keras' own batches: the group feed the fused runs
    install (bntui.training.fused.feed_groups) is undone after every test."""
    from keras.src.backend.jax.trainer import JAXEpochIterator

    monkeypatch.setattr(JAXEpochIterator, "_get_iterator", JAXEpochIterator._get_iterator)
    monkeypatch.setattr(JAXEpochIterator, "_bntui_group_feed", False, raising=False)


# 200 images at batch 32: six full batches and one of 8, so with groups of 4 the epoch is
# one fused group, then a short group: its two full batches through the same scan (two of
# its four slots), its partial batch step by step.
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
    assert function.fused_groups == 4  # two per epoch: the scan ran the short group too
    assert function.known_count_groups == 0  # on the CPU every group runs the one scan
    # Same batches, same ops, same order: the same numbers, moving statistics and
    # dropout's random state included.
    assert len(fused_weights) == len(keras_weights)
    for fused, expected in zip(fused_weights, keras_weights):
        np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-7)
    assert fused_history["loss"] == pytest.approx(keras_history["loss"], rel=1e-6)
    assert fused_history["accuracy"] == pytest.approx(keras_history["accuracy"])


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_whole_groups_through_a_scan_of_fixed_count_train_as_keras(
    which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a GPU (here on the CPU): whole groups run through the scan whose step count is
    fixed when it is compiled, the epoch's short group through the other; the same numbers
    as Keras' own loop."""
    from bntui.training import fused as fused_module

    keras_weights, keras_history, _ = train("fashion", which, fused=False)
    monkeypatch.setattr(fused_module, "loops_need_a_known_count", lambda: True)
    fused_weights, fused_history, function = train("fashion", which, fused=True)
    assert isinstance(function, FusedTrainFunction)
    assert function.fused_groups == 4 and function.known_count_groups == 2  # one per epoch
    for fused, expected in zip(fused_weights, keras_weights, strict=True):
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


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_loop_with_a_traced_count_equals_a_scan_bit_for_bit(which: str) -> None:
    """The fused loop takes its step count as an argument (so the epoch's short group runs
    through the same program): over a whole group it computes exactly what `jax.lax.scan`
    over the same steps computes, and over its first k slots exactly a scan over k steps;
    the padded slots change nothing."""
    import jax

    rng = np.random.default_rng(2)
    x = rng.random((32 * STEPS, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 32 * STEPS).astype("uint8")
    keras.utils.set_random_seed(3)
    model = build_model(replace(ExperimentSpec(), steps_per_execution=STEPS), which)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)  # state built
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    group = (x.reshape(STEPS, 32, 28, 28), y.reshape(STEPS, 32))
    step = model.train_step

    def scanned(state: object, batches: tuple) -> object:
        def body(carry: object, batch: object) -> tuple[object, None]:
            return step(carry, batch)[1], None

        head = jax.tree.map(lambda v: v[:-1], batches)
        state, _ = jax.lax.scan(body, state, head)
        return step(state, jax.tree.map(lambda v: v[-1], batches))

    loop = jax.jit(lambda s, b, count: scan_steps(model, step, s, b, count))
    single = jax.jit(step)

    def one_by_one(state: object, batches: tuple, count: int) -> object:
        logs = None
        for i in range(count):
            logs, state = single(state, jax.tree.map(lambda v, i=i: v[i], batches))
        return logs, state

    short = 2
    padded = jax.tree.map(lambda v: np.concatenate([v[:short], np.zeros_like(v[short:])]), group)
    for got, expected in (
        (loop(state, group, np.int32(STEPS)), jax.jit(scanned)(state, group)),
        (loop(state, padded, np.int32(short)), one_by_one(state, group, short)),
    ):
        leaves = jax.tree.leaves(got), jax.tree.leaves(expected)
        assert len(leaves[0]) == len(leaves[1]) > 0
        for a, b in zip(*leaves, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_which_batches_of_a_group_run_as_one_scan() -> None:
    """A whole group: all; a short group: its leading whole batches, two or more; a lone
    batch or a whole-length group of mixed shapes: none (step by step)."""
    whole, partial = np.zeros((32, 784), "float32"), np.zeros((24, 784), "float32")
    label = np.zeros(32, "uint8")

    def group(*images: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(x, label[: len(x)]) for x in images]

    assert scanned_count(group(whole, whole, whole, whole), STEPS) == 4
    assert scanned_count(group(whole, whole, whole, partial), STEPS) == 0
    assert scanned_count(group(whole, whole, partial), STEPS) == 2
    assert scanned_count(group(whole, whole), STEPS) == 2
    assert scanned_count(group(whole, partial), STEPS) == 0
    assert scanned_count(group(partial), STEPS) == 0


def test_a_feed_of_other_groups_hands_its_batches_one_by_one() -> None:
    """Groups stacked by a feed of another group size never reach a scan of `steps`: its
    batches are taken one by one (as many as the scan takes), so none is skipped or
    repeated."""
    model = build_model(replace(ExperimentSpec(), steps_per_execution=STEPS), "plain")
    train = FusedTrainFunction(model, STEPS)
    batch = (np.zeros((32, 784), "float32"), np.zeros(32, "uint8"))

    class OtherFeed(GroupedBatches):
        def __init__(self) -> None:
            self.group, self.handed = STEPS + 1, 0

        def next_group(self) -> None:
            raise AssertionError("a group of another size was asked for")

        def __next__(self) -> tuple[np.ndarray, np.ndarray]:
            self.handed += 1
            return batch

    taken: list[int] = []
    train.run = lambda state, batches: (taken.append(len(batches)), state)  # type: ignore[method-assign]
    feed = OtherFeed()
    train(None, feed)
    assert taken == [STEPS] and feed.handed == STEPS
