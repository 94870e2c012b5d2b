"""A model's initial weights kept beside its programs, so a later run of the same model and
seed builds it without running Keras' initializers.

Each initializer is a small JAX program per weight shape (random, zeros, ones), traced,
lowered and read from the compile cache: about 0.2 s of a worker's start on the 2-core Intel
Xeon of `bench/RESULTS.md`, on the run's critical path. Keras draws each initializer's seed
from Python's `random` when the layer is made, not when it is built, so the values depend
only on the model (`bntui.training.programs.program_identity`) and Python's random state
when the build begins, which the run's seed sets; a set is kept under both, so a build from
any other state (one not seeded first) makes and keeps its own, and never takes values that
were not drawn from its state. Layers are still made as before, so every random state after
the build is the same.

Imported only inside JAX worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bntui.training.programs import store_dir
from bntui.training.storefiles import mark_used, prune_oldest, write_atomically

# Sets of initial weights kept (one per model and seed, about 1 MB each for the default
# models): the oldest used are removed beyond this, so trying many seeds cannot fill a disk.
KEPT = 64


class InitialValues:
    """The variables made while building, and whether their values came from the store."""

    def __init__(self, stored: list[np.ndarray] | None) -> None:
        self.stored = stored
        self.made: list[Any] = []
        self.read = 0  # variables that took a kept value

    def value_for(self, variable: Any) -> np.ndarray | None:
        """The kept value of the next variable made, if it has that variable's shape."""
        index = len(self.made)
        if self.stored is None or index >= len(self.stored):
            return None
        value = self.stored[index]
        if value.shape != tuple(variable.shape) or str(value.dtype) != str(variable.dtype):
            return None
        return value


@contextlib.contextmanager
def kept_initial_values(identity: str | None, seed: int) -> Iterator[InitialValues]:
    """While a model is built: its variables take the values kept for model `identity` at
    `seed` and Python's random state now; when none are kept (or they do not fit), the
    values Keras' initializers make are kept on leaving. Without an identity or a store,
    nothing changes."""
    directory = store_dir()
    if identity is None or directory is None:
        yield InitialValues(None)
        return
    import jax
    from keras.src.backend.jax.core import Variable

    if not hasattr(Variable, "_initialize_with_initializer"):
        yield InitialValues(None)  # another Keras: its initializers run, as before
        return
    # Keras' initializers take their seeds from Python's `random` as the layers are made.
    drawn_from = hashlib.sha256(repr(random.getstate()).encode()).hexdigest()
    digest = hashlib.sha256(f"{identity} initial {seed} {drawn_from}".encode()).hexdigest()[:32]
    path = directory / f"initial-{digest}.npz"
    values = InitialValues(_read(path))
    original = Variable._initialize_with_initializer

    def initialize(variable: Any, initializer: Any) -> None:
        kept = values.value_for(variable)
        if kept is None:
            original(variable, initializer)
        else:
            # On the device already: converting NumPy runs one small program per shape.
            original(variable, lambda shape, dtype=None: jax.device_put(kept))
            values.read += 1
        values.made.append(variable)

    Variable._initialize_with_initializer = initialize
    try:
        yield values
    finally:
        Variable._initialize_with_initializer = original
    if values.read != len(values.made) or values.stored is None:
        buffer = io.BytesIO()
        np.savez(buffer, *[np.asarray(variable.value) for variable in values.made])
        if write_atomically(path, buffer.getvalue()):
            prune(directory)
    else:
        mark_used(path)  # recently used: pruned last


def prune(directory: Path, keep: int = KEPT) -> None:
    """Remove all but the `keep` most recently used sets of initial weights."""
    prune_oldest(directory, "initial-*.npz", keep)


def _read(path: Any) -> list[np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as kept:
            return [kept[f"arr_{i}"] for i in range(len(kept.files))]
    except Exception:  # missing, damaged, or not ours: made again
        return None
