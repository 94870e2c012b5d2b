"""The group feed hands the fused steps Keras' own batches, in Keras' order, gathered a
group at a time into buffers the CPU device uses without a copy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the group feed is for the JAX backend", allow_module_level=True)

import jax  # noqa: E402
from keras.src.backend.jax.trainer import JAXEpochIterator  # noqa: E402
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter  # noqa: E402

from bntui.training import feed  # noqa: E402
from bntui.training.feed import (  # noqa: E402
    ALIGNMENT,
    GroupedBatches,
    aligned_empty,
    can_group,
    lie_in_a_row,
    stack_batches,
)


def data(samples: int = 203) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.random((samples, 4, 3), dtype="float32")
    return x, rng.integers(0, 10, samples).astype("uint8")


def keras_batches(adapter: ArrayDataAdapter) -> list[Any]:
    return list(adapter.get_jax_iterator())


@pytest.mark.parametrize("group", [1, 3, 7, 50])
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_and_their_order_are_keras_own(group: int, weighted: bool) -> None:
    x, y = data()  # 203 samples at 16: twelve full batches and one of 11
    weights = np.linspace(0.5, 1.5, len(y)).astype("float32") if weighted else None
    adapter = ArrayDataAdapter(x, y, sample_weight=weights, batch_size=16, shuffle=True)
    assert can_group(adapter)
    np.random.seed(11)
    expected = keras_batches(adapter)
    after_keras = np.random.random()
    np.random.seed(11)
    got = list(GroupedBatches(adapter, group))
    assert np.random.random() == after_keras  # the same draws from NumPy's generator
    assert len(got) == len(expected) == 13
    for mine, theirs in zip(got, expected):
        assert len(mine) == len(theirs) == (3 if weighted else 2)
        for a, b in zip(mine, theirs):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    assert got[-1][0].shape == (11, 4, 3)


def test_arrays_mapped_from_a_file_are_fed_as_keras_feeds_them(tmp_path: Any) -> None:
    x, y = data()
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")  # as bntui's data cache hands it out
    adapter = ArrayDataAdapter(mapped, y, batch_size=16, shuffle=True)
    assert can_group(adapter)
    np.random.seed(5)
    expected = keras_batches(adapter)
    np.random.seed(5)
    got = list(GroupedBatches(adapter, 4))
    for mine, theirs in zip(got, expected, strict=True):
        np.testing.assert_array_equal(mine[0], theirs[0])
        np.testing.assert_array_equal(mine[1], theirs[1])


def test_the_permutation_is_drawn_when_the_first_batch_is_asked_for() -> None:
    x, y = data()
    adapter = ArrayDataAdapter(x, y, batch_size=16, shuffle=True)
    np.random.seed(3)
    batches = GroupedBatches(adapter, 4)
    np.random.random()  # a draw between making the iterator and starting it, as in fit
    mine = next(batches)
    np.random.seed(3)
    keras_way = adapter.get_jax_iterator()
    np.random.random()
    np.testing.assert_array_equal(mine[0], next(keras_way)[0])


@pytest.mark.parametrize(
    ("samples", "stacked"),
    # At 16 in groups of 4: 203 is 12 whole batches and one of 11; 192 exactly 12; 208
    # exactly 13; 188 is 11 whole and one of 12, inside the third group, which therefore
    # comes one by one.
    [(203, 3), (192, 3), (208, 3), (188, 2)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_whole_groups_come_stacked_and_the_rest_one_by_one_in_keras_order(
    samples: int, stacked: int, weighted: bool
) -> None:
    x, y = data(samples)
    weights = np.linspace(0.5, 1.5, len(y)).astype("float32") if weighted else None
    adapter = ArrayDataAdapter(x, y, sample_weight=weights, batch_size=16, shuffle=True)
    np.random.seed(2)
    expected = keras_batches(adapter)
    after_keras = np.random.random()
    np.random.seed(2)
    batches = GroupedBatches(adapter, 4)
    got: list[Any] = []
    stacked_groups = 0
    while True:
        group = batches.next_group()
        if group is not None:
            stacked_groups += 1
            assert len(group) == (3 if weighted else 2)
            assert group[0].shape == (4, 16, 4, 3) and group[1].shape == (4, 16)
            assert not group[0].flags.writeable and group[0].ctypes.data % ALIGNMENT == 0
            if jax.default_backend() == "cpu":  # the CPU device takes it without a copy
                on_device = jax.device_put(group[0])
                assert on_device.unsafe_buffer_pointer() == group[0].ctypes.data
            got += [tuple(part[i] for part in group) for i in range(4)]
            continue
        try:
            got.append(next(batches))  # a short group's batches, one by one
        except StopIteration:
            break
    assert np.random.random() == after_keras  # the same draws from NumPy's generator
    assert stacked_groups == stacked and len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_group_begun_one_by_one_is_not_stacked_halfway() -> None:
    x, y = data()
    adapter = ArrayDataAdapter(x, y, batch_size=16, shuffle=True)
    np.random.seed(4)
    expected = keras_batches(adapter)
    np.random.seed(4)
    batches = GroupedBatches(adapter, 4)
    first = next(batches)
    assert batches.next_group() is None  # three of its group are still to come
    rest = [next(batches) for _ in range(3)]
    group = batches.next_group()  # the second group is whole
    assert group is not None
    for mine, theirs in zip([first, *rest], expected[:4], strict=True):
        np.testing.assert_array_equal(mine[0], theirs[0])
    np.testing.assert_array_equal(group[0], np.stack([b[0] for b in expected[4:8]]))


def test_a_group_of_gathered_batches_stacks_as_a_view_on_an_aligned_buffer() -> None:
    x, y = data()
    adapter = ArrayDataAdapter(x, y, batch_size=16, shuffle=True)
    group = [batch[0] for _, batch in zip(range(4), GroupedBatches(adapter, 4))]
    stacked = stack_batches(*group)
    assert np.shares_memory(stacked, group[0]) and np.shares_memory(stacked, group[-1])
    assert stacked.ctypes.data % ALIGNMENT == 0
    np.testing.assert_array_equal(stacked, np.stack(group))
    # The CPU device takes it as it is, without a copy.
    if jax.default_backend() == "cpu":
        on_device = jax.device_put(stacked)
        assert on_device.unsafe_buffer_pointer() == stacked.ctypes.data
        np.testing.assert_array_equal(np.asarray(on_device), np.stack(group))


def test_batches_from_elsewhere_are_copied_into_an_aligned_buffer() -> None:
    x, _ = data()
    apart = [x[[0, 5]], x[[1, 2]], x[[9, 3]]]  # gathered one by one: separate buffers
    in_reverse = [x[4:6], x[2:4], x[0:2]]  # one buffer, not in order
    gapped = [x[0:2], x[3:5]]  # one buffer, with a gap
    for parts in (apart, in_reverse, gapped):
        assert not lie_in_a_row(tuple(parts))
        stacked = stack_batches(*parts)
        assert not np.shares_memory(stacked, x)
        assert stacked.ctypes.data % ALIGNMENT == 0
        np.testing.assert_array_equal(stacked, np.stack(parts))
    assert lie_in_a_row((x[0:2], x[2:4], x[4:6]))


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 7), (2, 3, 5)])
@pytest.mark.parametrize("dtype", ["float32", "uint8", "int64"])
def test_aligned_empty_starts_on_the_boundary(shape: tuple[int, ...], dtype: str) -> None:
    values = aligned_empty(shape, dtype)
    assert values.shape == shape and values.dtype == np.dtype(dtype)
    assert values.ctypes.data % ALIGNMENT == 0 and values.flags.c_contiguous


def test_data_keras_would_change_or_batch_otherwise_keeps_keras_own_batches() -> None:
    x, y = data()
    assert not can_group(ArrayDataAdapter(x, y, batch_size=16, shuffle=False))
    assert not can_group(ArrayDataAdapter(x, y, batch_size=16, shuffle="batch"))
    # Keras casts float64 to float32 first: its own batches are kept.
    assert not can_group(ArrayDataAdapter(x.astype("float64"), y, batch_size=16, shuffle=True))
    assert not can_group(ArrayDataAdapter(jax.numpy.asarray(x), y, batch_size=16, shuffle=True))
    assert not can_group(object())


@pytest.fixture
def spied_feed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Keras' iterator restored afterwards; the group size of each epoch the feed served."""
    from bntui.training import fused

    monkeypatch.setattr(JAXEpochIterator, "_get_iterator", JAXEpochIterator._get_iterator)
    monkeypatch.setattr(JAXEpochIterator, "_bntui_group_feed", False, raising=False)
    asked: list[int] = []

    class Spied(feed.GroupedBatches):
        def __init__(self, adapter: Any, group: int) -> None:
            asked.append(group)  # made for each iterator Keras makes (one an epoch, and more)
            super().__init__(adapter, group)

    monkeypatch.setattr(fused, "GroupedBatches", Spied)
    yield asked


@pytest.mark.slow
def test_fit_trains_on_the_group_feed_exactly_as_on_keras_batches(
    spied_feed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from bntui.core.spec import ExperimentSpec
    from bntui.training.fused import fuse_train_steps
    from bntui.training.models import build_model

    stacked_groups = [0]
    next_group = feed.GroupedBatches.next_group

    def counted(self: feed.GroupedBatches) -> Any:
        group = next_group(self)
        stacked_groups[0] += group is not None
        return group

    monkeypatch.setattr(feed.GroupedBatches, "next_group", counted)
    rng = np.random.default_rng(2)
    # 200 images at 32 in groups of 4: a whole group, then 2 whole batches and one of 8.
    x = rng.random((200, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 200).astype("uint8")
    results = []
    for fused in (False, True):
        keras.utils.set_random_seed(4)
        model = build_model(replace(ExperimentSpec(), steps_per_execution=4), "bn")
        if fused:
            fuse_train_steps(model, 4)
        history = model.fit(x, y, batch_size=32, epochs=3, shuffle=True, verbose=0)
        results.append((model.get_weights(), history.history["loss"]))
    # Every epoch's batches came from the feed (and the batch Keras reads first to build
    # the model's training state, drawn the same way from the same generator).
    assert len(spied_feed) >= 3 and set(spied_feed) == {4}
    assert stacked_groups == [3]  # one whole group an epoch came stacked, as one call
    (keras_weights, keras_loss), (fed_weights, fed_loss) = results
    for mine, theirs in zip(fed_weights, keras_weights):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    assert fed_loss == pytest.approx(keras_loss, rel=1e-6)
