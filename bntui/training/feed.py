"""Training batches for the fused steps: Keras' own order, gathered a group at a time.

Keras' array adapter yields an epoch's shuffled batches one by one: a permutation of the
samples drawn from NumPy's global generator when the epoch's first batch is asked for, then
per batch a slice of it, a gather of 32 rows and a walk over the input structure. The fused
steps then stack a group of those batches into one array and copy it to the device. Here
the same permutation is drawn at the same moment and each group of batches is gathered in
one go, into a buffer the CPU device can use without a copy; the batches handed out are
consecutive views of it, so the group's stack is a view too. A whole group is also handed
out at once, already stacked (`GroupedBatches.next_group`), so the fused steps need not walk
its batches one by one. The batches, their order and every number trained are Keras'. A
steady epoch's feed went from 0.21-0.26 s to 0.13-0.16 s (`bench/epoch.py`;
`bench/RESULTS.md`, speed round 7); handing whole groups over took an epoch's feed, measured
apart, from 43 ms to 24.5 ms on an AMD EPYC (round 16).

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

# XLA's CPU client uses a host buffer in place (no copy) when it is aligned to 64 bytes.
ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def stack_batches(*parts: np.ndarray) -> np.ndarray:
    """The parts stacked on a new leading axis: a view when they already lie one after
    another in one buffer (the batches `GroupedBatches` hands out), else a copy into an
    aligned buffer."""
    first = parts[0]
    if lie_in_a_row(parts):
        return np.lib.stride_tricks.as_strided(
            first,
            shape=(len(parts), *first.shape),
            strides=(first.nbytes, *first.strides),
            writeable=False,
        )
    return np.stack(parts, out=aligned_empty((len(parts), *first.shape), first.dtype))


def lie_in_a_row(parts: tuple[np.ndarray, ...]) -> bool:
    """True when every part is a C-contiguous view of one buffer, each right after the last."""
    first = parts[0]
    owner = first.base
    if owner is None or not first.flags.c_contiguous:
        return False
    start, size = first.ctypes.data, first.nbytes
    return all(
        part.base is owner
        and part.flags.c_contiguous
        and part.shape == first.shape
        and part.dtype == first.dtype
        and part.ctypes.data == start + index * size
        for index, part in enumerate(parts)
    )


def gather(values: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Rows `picks` of `values`, in an aligned buffer of their own."""
    out = aligned_empty((len(picks), *values.shape[1:]), values.dtype)
    # mode="clip": with the default ("raise") NumPy gathers through a temporary buffer.
    # The picks come from a permutation of the rows, so none needs clipping.
    return np.take(values, picks, axis=0, out=out, mode="clip")


class GroupedBatches:
    """The epoch's batches as Keras' array adapter makes them with `shuffle=True`, gathered
    `group` batches at a time: one by one (`next`), or a whole group at once, stacked
    (`next_group`), which spares the fused steps a walk over each of its batches."""

    def __init__(self, adapter: Any, group: int) -> None:
        self.inputs, self.batch = adapter._inputs, adapter._batch_size
        self.samples, self.batches = adapter._num_samples, adapter._size
        self.group = group
        self.order: np.ndarray | None = None
        self.next_first = 0  # the first batch of the next gather
        self.gathered: Any = None  # the last gather, while its batches are handed out
        self.count = self.taken = 0  # batches in it, and handed out of it

    def __iter__(self) -> GroupedBatches:
        return self

    def __next__(self) -> Any:
        """The next batch: a view of its group's gathered rows."""
        if self.taken == self.count:
            self.draw()
            first = self.next_first
            if first >= self.batches:
                raise StopIteration
            self.gather(first, min(first + self.group, self.batches))
            self.count, self.taken = self.next_first - first, 0
        rows = slice(self.taken * self.batch, (self.taken + 1) * self.batch)
        self.taken += 1
        return jax.tree.map(lambda values: values[rows], self.gathered)

    def next_group(self) -> Any:
        """The next `group` batches stacked (leading axis: step), a view of their gathered
        rows, when they are all whole batches and none of their group was handed out one by
        one; else None (the batches then come through `next`)."""
        if self.taken < self.count:
            return None
        self.draw()
        last = self.next_first + self.group
        if last > self.batches or last * self.batch > self.samples:
            return None
        self.gather(self.next_first, last)
        return jax.tree.map(self.stacked, self.gathered)

    def draw(self) -> None:
        """Keras' own draw (ArrayDataAdapter._get_iterator), made when the first batch is
        asked for."""
        if self.order is None:
            self.order = np.random.permutation(self.samples)

    def gather(self, first: int, last: int) -> None:
        """Gather batches `first` to `last` (excluded) into `gathered`."""
        assert self.order is not None
        picks = self.order[first * self.batch : min(last * self.batch, self.samples)]
        self.gathered = jax.tree.map(lambda values: gather(values, picks), self.inputs)
        self.next_first = last

    def stacked(self, values: np.ndarray) -> np.ndarray:
        """A group's gathered rows as `group` batches, read-only as a stack of views is."""
        view = values.reshape(self.group, self.batch, *values.shape[1:])
        view.flags.writeable = False
        return view


def can_group(adapter: Any) -> bool:
    """True for an adapter `GroupedBatches` reproduces exactly: Keras' array adapter over
    NumPy arrays (in memory or mapped from a file) that it would not cast, shuffling across
    the whole epoch."""
    try:
        from keras.src import backend
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        return False
    if type(adapter) is not ArrayDataAdapter or adapter._shuffle is not True:
        return False
    leaves = jax.tree.leaves(adapter._inputs)
    return bool(leaves) and all(
        isinstance(leaf, np.ndarray)  # memory-mapped too (bntui's data cache)
        and leaf.ndim >= 1
        and not cast_by_keras(leaf.dtype, backend)
        for leaf in leaves
    )


def cast_by_keras(dtype: np.dtype, backend: Any) -> bool:
    """True for a float dtype other than Keras' floatx, which its adapter casts first."""
    if dtype.kind == "O":
        return True  # not NumPy numbers: leave such data to Keras
    floatx = backend.floatx()
    return bool(backend.is_float_dtype(dtype)) and backend.standardize_dtype(dtype) != floatx
