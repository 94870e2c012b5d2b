"""Dataset loading with the real Keras loaders, finding local copies first.

Fashion-MNIST is looked for in the Keras cache (`$KERAS_HOME` or `~/.keras`), then in the
Debian package `dataset-fashion-mnist` (linked into the Keras cache so Keras' own loader
reads it), else Keras downloads it. When the Keras cache cannot be written (a read-only
home), Keras would ignore it and try to download, so the four files are read where they
are, exactly as Keras' loader reads them. MNIST is read from the Keras cache (`mnist.npz`,
the format Keras writes) or downloaded by Keras. No network and no copy: DataUnavailable,
saying what is missing, where bntui looked and why it could not be fetched.
Keras is imported inside the functions that need it: reading files in place needs none.
Where the files are looked for is `bntui.core.datasets`; `main` fetches from a parent process.
"""

from __future__ import annotations

import gzip
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bntui.core.datasets import (
    FASHION_FILES,
    complete,
    debian_fashion_dir,
    fashion_cache_dir,
    keras_home,
)
from bntui.training import datacache


class DataUnavailable(RuntimeError):
    """The dataset is not on this machine and could not be downloaded."""


@dataclass
class Splits:
    """Train/validation/test arrays, already scaled to [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_images_uint8: np.ndarray


def _link_debian_fashion() -> None:
    """Link the Debian package's files into the Keras cache, if that is what we have."""
    cache = fashion_cache_dir()
    if complete(cache):
        return
    debian = debian_fashion_dir()
    if not complete(debian):
        return
    cache.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        target = cache / name
        if not target.exists():
            target.symlink_to(debian / name)


def _keras_cache_usable() -> bool:
    # Keras' get_file() silently moves to /tmp/.keras when its cache is not writable.
    return os.access(keras_home(), os.W_OK)


Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def read_fashion(folder: Path) -> Arrays:
    """The four idx files in `folder`, read in place as Keras' fashion_mnist loader does."""

    def idx(name: str, offset: int) -> np.ndarray:
        with gzip.open(folder / name, "rb") as handle:
            return np.frombuffer(handle.read(), np.uint8, offset=offset)

    try:
        y_train = idx(FASHION_FILES[0], 8)
        x_train = idx(FASHION_FILES[1], 16).reshape(len(y_train), 28, 28)
        y_test = idx(FASHION_FILES[2], 8)
        x_test = idx(FASHION_FILES[3], 16).reshape(len(y_test), 28, 28)
    except (OSError, EOFError, ValueError) as exc:
        raise DataUnavailable(
            f"Fashion-MNIST in {folder} cannot be read ({type(exc).__name__}: {exc}); "
            "reinstall it (`sudo apt-get install --reinstall dataset-fashion-mnist`) or "
            "delete the broken files so Keras downloads them again."
        ) from exc
    return (x_train, y_train), (x_test, y_test)


def _lacks(folder: Path) -> str:
    absent = [name for name in FASHION_FILES if not (folder / name).is_file()]
    return (
        f"{folder} has none of the four files"
        if len(absent) == len(FASHION_FILES)
        else f"{folder} lacks {', '.join(absent)}"
    )


# The download's error is said in whole words, up to this many characters, ending in " …"
# when cut (a cut at 120 characters once read "-- [Er").
WHY_LIMIT = 200


def _fashion_message(why: BaseException) -> str:
    # What and where first, then how to get it, then why the download failed: a dashboard
    # panel or a progress line may show only the start.
    return (
        f"Fashion-MNIST is not on this machine ({_lacks(fashion_cache_dir())}; "
        f"{_lacks(debian_fashion_dir())}). Get it with `sudo apt-get install "
        "dataset-fashion-mnist` (Debian/Ubuntu), or copy the four files into "
        f"{fashion_cache_dir()}, or run once with network access. Keras could not download "
        f"it ({type(why).__name__}: {textwrap.shorten(str(why), WHY_LIMIT, placeholder=' …')})."
    )


def load_fashion() -> Arrays:
    """Fashion-MNIST via Keras' loader from its cache, else read in place, else downloaded."""
    try:
        _link_debian_fashion()
    except OSError:
        pass  # a read-only home: read the files where they are, below
    local = [f for f in (fashion_cache_dir(), debian_fashion_dir()) if complete(f)]
    if local and (local[0] != fashion_cache_dir() or not _keras_cache_usable()):
        return read_fashion(local[0])
    from keras.datasets import fashion_mnist

    try:
        return fashion_mnist.load_data()
    except Exception as exc:
        raise DataUnavailable(_fashion_message(exc)) from exc


MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


def _mnist_message() -> str:
    cached = keras_home() / "datasets" / "mnist.npz"
    return (
        "MNIST is not on this machine and could not be downloaded. To get it: "
        f"mkdir -p {cached.parent} && curl -fLo {cached} {MNIST_URL} (or copy mnist.npz "
        "there from a machine that has it); or train on Fashion-MNIST, which is here: "
        "--dataset fashion_mnist."
    )


def load_raw(
    dataset: str,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ((x_train, y_train), (x_test, y_test)) as uint8, via Keras' loaders."""
    if dataset == "fashion_mnist":
        return load_fashion()
    if dataset == "mnist":
        cached = keras_home() / "datasets" / "mnist.npz"
        if cached.exists():
            with np.load(cached, allow_pickle=False) as f:
                return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
        from keras.datasets import mnist

        try:
            return mnist.load_data()
        except Exception as exc:
            raise DataUnavailable(_mnist_message()) from exc
    raise DataUnavailable(f"unknown dataset {dataset!r}")


def load_splits(
    dataset: str, validation_size: int, limit: int | None, dtype: str = "float32"
) -> Splits:
    """Scale by 1/255 and split off the first `validation_size` training images.

    Under a worker (`$BNTUI_DATA_CACHE_DIR` set), the scaled arrays are computed once and
    mapped read-only afterwards (`bntui.training.datacache`)."""
    arrays = datacache.read(dataset, dtype)
    if arrays is None:
        (x_full, y_full), (x_test, y_test) = load_raw(dataset)
        scale = np.asarray(255.0, dtype=dtype)
        arrays = {
            "x_full": x_full.astype(dtype) / scale,
            "y_full": y_full,
            "x_test": x_test.astype(dtype) / scale,
            "y_test": y_test,
            "x_test_uint8": x_test,
        }
        datacache.write(dataset, dtype, arrays)
    x_full_f, y_full = arrays["x_full"], arrays["y_full"]
    x_train, y_train = x_full_f[validation_size:], y_full[validation_size:]
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return Splits(
        x_train=x_train,
        y_train=y_train,
        x_valid=x_full_f[:validation_size],
        y_valid=y_full[:validation_size],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        test_images_uint8=arrays["x_test_uint8"],
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m bntui.training.data DATASET`: load it once (Keras downloads what is not on
    disk), so that a parent process gets the data without importing Keras itself. A missing
    dataset is one line on stderr, `bntui-data: <why>`, and exit code 1."""
    args = sys.argv[1:] if argv is None else argv
    try:
        load_raw(args[0] if args else "fashion_mnist")
    except DataUnavailable as exc:
        print(f"bntui-data: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
