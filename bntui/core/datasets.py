"""Where bntui's datasets live on disk: paths and names only, nothing loaded, no Keras.

Fashion-MNIST is looked for in the Keras cache (`$KERAS_HOME` or `~/.keras`), then in the
Debian package `dataset-fashion-mnist`. A parent process checks here before its workers load.
"""

from __future__ import annotations

import os
from pathlib import Path

FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

CLASS_NAMES = {
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "mnist": [str(d) for d in range(10)],
}  # fmt: skip


def debian_fashion_dir() -> Path:
    """The Debian package's folder (`$BNTUI_DATASETS_DIR/fashion-mnist` to look elsewhere)."""
    return Path(os.environ.get("BNTUI_DATASETS_DIR", "/usr/share/datasets")) / "fashion-mnist"


def keras_home() -> Path:
    """The Keras cache root, as Keras itself computes it."""
    return Path(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"))


def fashion_cache_dir() -> Path:
    """Where Keras' fashion_mnist loader looks for its four files."""
    return keras_home() / "datasets" / "fashion-mnist"


def complete(folder: Path) -> bool:
    """True when `folder` holds the four Fashion-MNIST files."""
    return all((folder / name).is_file() for name in FASHION_FILES)


def fashion_on_disk() -> bool:
    """True when the four files are in the Keras cache or the Debian package (no import of
    Keras, no reading: what a parent process checks before its workers load them)."""
    return any(complete(folder) for folder in (fashion_cache_dir(), debian_fashion_dir()))
