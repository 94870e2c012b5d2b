"""What every training path shares (one worker's seeds, the stacked seeds, a claims cell):
seeding, finite numbers, the divergence rule, and the imports a worker skips. Keras is
imported inside: seeding needs it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import math
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Modules Keras tries to import only to accept their types as inputs (pandas: DataFrames),
# which a worker never passes. pandas alone costs 0.2-0.4 s of every worker's start.
UNUSED_IN_WORKERS = ("pandas",)
# Modules Keras and JAX import at start for what a worker seldom or never does; in a worker
# they load on first use instead. JAX's sparse solver brings scipy.sparse (about 0.2 s: Keras
# imports JAX's sparse arrays, whose package imports the solver); h5py serves checkpoints,
# psutil the saving of large models, requests Keras' RemoteMonitor callback.
DEFERRED_IN_WORKERS = ("jax.experimental.sparse.linalg", "h5py", "psutil", "requests")
# Packages Keras imports submodules from (`from package import submodule`) at its top for
# what a worker never runs, mapped to those submodules. In a worker a stand-in takes each
# package's place until something reads from it, which then imports the real one. Keras'
# JAX backend imports Pallas' TPU splash attention for `dot_product_attention` on TPUs:
# about 0.1 s of every worker's start (Pallas and its Mosaic lowering). Keras imports rich's
# console, markup and tables (about 40 ms) for `model.summary()`, which a worker never prints
# (it builds its summary as data: `bntui.training.models.summarize`). LazyLoader cannot do
# either: `from package import submodule` reads the package, which runs it, and on Python
# 3.11 a second `import package.submodule` (Keras imports rich.console in two modules) reads
# the lazy module's `__spec__`, which loads it. The listed submodules stand in under their
# own names too (`import package.submodule` finds them); another submodule of a stood-in
# package would not import (a worker imports none).
STANDING_IN_WORKERS = {
    "jax.experimental.pallas.ops.tpu.splash_attention": (
        "splash_attention_kernel",
        "splash_attention_mask",
    ),
    "rich": ("console", "markup", "table"),
}
# When `jax.numpy` is imported, JAX looks for a ROCm plugin by reading the metadata of every
# installed distribution (85 in bntui's environment, about 25 ms of each worker's start) for
# a name `jax-rocm*-plugin`. While that module runs, a worker lists only the distributions
# whose folder could hold such a name (a wheel's folder is its name, normalized), and any not
# found in a folder: JAX reads the same candidates, and finds the same plugin or none.
ROCM_PLUGIN_SCAN = "jax._src.numpy.array_constructors"


def finite_float(value: Any) -> float | None:
    """`value` as a finite float, or None (NaN, infinity, or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# Keras clips probabilities, so on some backends an exploding model saturates near
# -log(1e-7) ≈ 16 instead of reaching NaN. Three times chance level (10 classes) is a loss
# no healthy run shows, so it counts as divergence too.
EXPLODED_LOSS = 3 * math.log(10)


def is_diverged(loss: float | None) -> bool:
    """True for a NaN/inf loss or one that exploded past EXPLODED_LOSS."""
    return loss is None or loss > EXPLODED_LOSS


class _DeferredImports(importlib.abc.MetaPathFinder):
    """Finds the modules in DEFERRED_IN_WORKERS as usual, but loads them lazily: the module
    object exists at once and runs its code on first attribute access (importlib's
    LazyLoader)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in DEFERRED_IN_WORKERS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


class _NarrowedPluginScan(importlib.abc.MetaPathFinder):
    """Finds ROCM_PLUGIN_SCAN as usual, and runs it with `_rocm_candidates_only`."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != ROCM_PLUGIN_SCAN:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = spec.loader if spec is not None else None
        if loader is not None and hasattr(loader, "exec_module"):
            run = loader.exec_module

            def exec_module(module: types.ModuleType) -> None:
                with _rocm_candidates_only():
                    run(module)

            loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


@contextlib.contextmanager
def _rocm_candidates_only() -> Iterator[None]:
    import importlib.metadata as metadata

    every = metadata.distributions

    def distributions(**kwargs: Any) -> Any:
        found = every(**kwargs)
        return found if kwargs else (d for d in found if _may_be_a_rocm_plugin(d))

    metadata.distributions = distributions
    try:
        yield
    finally:
        metadata.distributions = every


def _may_be_a_rocm_plugin(distribution: Any) -> bool:
    folder = getattr(distribution, "_path", None)  # where its metadata lies, if in a folder
    if folder is None:
        return True
    return Path(folder).name.lower().replace("-", "_").startswith("jax_rocm")


class _StandIn(types.ModuleType):
    """Stands in for a module of STANDING_IN_WORKERS (or one of its submodules) until one of
    its attributes is read; then imports the real module and answers from it."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(_real_module(self.__name__), attribute)


def _real_module(name: str) -> types.ModuleType:
    for package, submodules in STANDING_IN_WORKERS.items():
        if name == package or name.startswith(package + "."):
            for stood_in in (package, *(f"{package}.{sub}" for sub in submodules)):
                if isinstance(sys.modules.get(stood_in), _StandIn):
                    del sys.modules[stood_in]
    return importlib.import_module(name)


def skip_unused_imports() -> None:
    """Make `import pandas` fail in this worker process unless it was imported already,
    defer the modules of DEFERRED_IN_WORKERS to their first use, put stand-ins in the
    place of STANDING_IN_WORKERS' packages not imported yet, and narrow JAX's search for a
    ROCm plugin (ROCM_PLUGIN_SCAN) to the distributions that could be one.

    Keras catches the ImportError and carries on without DataFrame support, which a worker
    never uses; the imports would delay every worker's start (the training's critical path).
    """
    for name in UNUSED_IN_WORKERS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    for package, submodules in STANDING_IN_WORKERS.items():
        if package not in sys.modules:
            stand_in = _StandIn(package)
            stand_in.__path__ = []  # a package: `from it import x` reads x, not the package
            for submodule in submodules:
                name = f"{package}.{submodule}"
                setattr(stand_in, submodule, _StandIn(name))
                # `import package.submodule` finds it here (the stand-in has no files).
                sys.modules[name] = getattr(stand_in, submodule)
            sys.modules[package] = stand_in
    if not any(isinstance(finder, _DeferredImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferredImports())
    if ROCM_PLUGIN_SCAN not in sys.modules and not any(
        isinstance(finder, _NarrowedPluginScan) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _NarrowedPluginScan())


def resume_collection() -> None:
    """Resume the garbage collector if the worker's launcher paused it (`bntui.training.
    __main__`), once the model is built. What start-up made is frozen first: it lives as
    long as the process, and later collections need not walk it again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def seed_everything(seed: int, backend: str) -> None:
    """Seed Python, NumPy and Keras like `keras.utils.set_random_seed`, minus needless imports.

    That function also seeds TensorFlow whenever it is installed, importing it (2+ s per
    worker) even when the backend is JAX.
    """
    import keras

    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import random

    import numpy as np
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_random_seed", seed)
    random.seed(seed)
    np.random.seed(seed)
