"""The scaled dataset kept on disk once, so both workers map it instead of decoding it twice.

Reading Fashion-MNIST means inflating four gzip files and scaling 70,000 images to floats:
about half a second of one core in each worker, at the start of every run, on the critical
path. The first worker to load a dataset writes the arrays it computed (`.npy`, unchanged)
into `$BNTUI_DATA_CACHE_DIR`; every later load maps those files read-only, so the two
workers of a run share one copy in the page cache. The values are the very arrays the
loader computes, so nothing a user sees changes.

An entry is named after the dataset, the dtype and the identity of the files it was read
from (path, size, modification time), so a changed source makes a new entry and the old one
is removed. Without the variable (tests, other callers), or when the folder cannot be
written, loading works as before. Keras is not imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bntui.core.datasets import (
    FASHION_FILES,
    complete,
    debian_fashion_dir,
    fashion_cache_dir,
    keras_home,
)

CACHE_ENV = "BNTUI_DATA_CACHE_DIR"
PARTS = ("x_full", "y_full", "x_test", "y_test", "x_test_uint8")


def source_files(dataset: str) -> list[Path] | None:
    """The files `bntui.training.data.load_raw` reads for `dataset`, or None when it would
    have to download them (nothing to key an entry on)."""
    if dataset == "fashion_mnist":
        local = [f for f in (fashion_cache_dir(), debian_fashion_dir()) if complete(f)]
        return [local[0] / name for name in FASHION_FILES] if local else None
    if dataset == "mnist":
        cached = keras_home() / "datasets" / "mnist.npz"
        return [cached] if cached.is_file() else None
    return None


def entry_dir(dataset: str, dtype: str) -> Path | None:
    """Where the entry for `dataset` scaled to `dtype` lives, or None (no cache)."""
    root = os.environ.get(CACHE_ENV)
    files = source_files(dataset) if root else None
    if not root or not files:
        return None
    try:
        stamp = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    except OSError:
        return None
    digest = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]
    return Path(root) / f"{dataset}-{dtype}-{digest}"


def read(dataset: str, dtype: str) -> dict[str, np.ndarray] | None:
    """The cached arrays (mapped read-only), or None when there is no complete entry."""
    folder = entry_dir(dataset, dtype)
    if folder is None or not folder.is_dir():
        return None
    try:
        return {part: np.load(folder / f"{part}.npy", mmap_mode="r") for part in PARTS}
    except (OSError, ValueError):
        return None


def write(dataset: str, dtype: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep `arrays` as the entry for `dataset`/`dtype`; any failure leaves no entry.

    Written into a temporary folder and renamed into place, so a reader sees a whole entry
    or none, and two workers writing at once leave one."""
    folder = entry_dir(dataset, dtype)
    if folder is None:
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        for old in folder.parent.glob(f"{dataset}-{dtype}-*"):
            if old != folder and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError:
        return
    try:
        for part in PARTS:
            np.save(temporary / f"{part}.npy", arrays[part], allow_pickle=False)
        temporary.rename(folder)
    except OSError:
        pass  # a full disk, or the other worker renamed its entry first
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
