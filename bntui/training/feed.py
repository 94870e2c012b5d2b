"""Training batches for the fused steps: Keras' own order, gathered a group at a time.

Keras' array adapter yields an epoch's shuffled batches one by one: a permutation of the
samples drawn from NumPy's global generator when the epoch's first batch is asked for, then
per batch a slice of it, a gather of 32 rows and a walk over the input structure. The fused
steps then stack a group of those batches into one array and copy it to the device. Here
the same permutation is drawn at the same moment and each group of batches is gathered in
one go, into a buffer the CPU device can use without a copy; the batches handed out are
consecutive views of it, so the group's stack is a view too. The batches, their order and
every number trained are Keras'. A steady epoch's feed went from 0.21-0.26 s to
0.13-0.16 s (`bench/epoch.py`; `bench/RESULTS.md`, speed round 7).

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    another in one buffer (the batches `grouped_batches` hands out), else a copy into an
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


def grouped_batches(adapter: Any, group: int) -> Iterator[Any]:
    """The epoch's batches as Keras' array adapter makes them with `shuffle=True`, gathered
    `group` batches at a time."""
    inputs, batch = adapter._inputs, adapter._batch_size
    samples, batches = adapter._num_samples, adapter._size
    # Keras' own draw (ArrayDataAdapter._get_iterator), made when the first batch is asked for.
    order = np.random.permutation(samples)
    for first in range(0, batches, group):
        last = min(first + group, batches)
        picks = order[first * batch : min(last * batch, samples)]
        gathered = jax.tree.map(lambda values, picks=picks: gather(values, picks), inputs)
        for index in range(last - first):
            rows = slice(index * batch, (index + 1) * batch)
            yield jax.tree.map(lambda values, rows=rows: values[rows], gathered)


def can_group(adapter: Any) -> bool:
    """True for an adapter `grouped_batches` reproduces exactly: Keras' array adapter over
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
