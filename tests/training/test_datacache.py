"""The scaled dataset is decoded once, then mapped: the same arrays, shared, never stale."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bntui.core.datasets import FASHION_FILES, debian_fashion_dir
from bntui.training import datacache
from bntui.training.data import load_splits

pytestmark = pytest.mark.slow  # reads and writes the whole dataset several times

FIELDS = ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test", "test_images_uint8")


@pytest.fixture
def own_fashion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the Debian package's files as the only source, and a cache folder."""
    source = debian_fashion_dir()
    if not all((source / name).is_file() for name in FASHION_FILES):
        pytest.skip("the dataset-fashion-mnist package is not installed")
    copy = tmp_path / "datasets" / "fashion-mnist"
    copy.mkdir(parents=True)
    for name in FASHION_FILES:
        shutil.copy(source / name, copy / name)
    monkeypatch.setenv("BNTUI_DATASETS_DIR", str(copy.parent))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(datacache.CACHE_ENV, str(tmp_path / "cache"))
    return copy


def test_cached_load_is_the_same_arrays_mapped_read_only(
    own_fashion: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_splits("fashion_mnist", 5_000, 2_000)
    entries = list((own_fashion.parents[1] / "cache").iterdir())
    assert [e.name.split("-")[:2] for e in entries] == [["fashion_mnist", "float32"]]
    second = load_splits("fashion_mnist", 5_000, 2_000)
    assert isinstance(second.x_train, np.memmap)
    assert not second.x_train.flags.writeable
    for field in FIELDS:
        a, b = getattr(first, field), getattr(second, field)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    monkeypatch.delenv(datacache.CACHE_ENV)
    uncached = load_splits("fashion_mnist", 5_000, 2_000)
    assert not isinstance(uncached.x_train, np.memmap)
    np.testing.assert_array_equal(uncached.x_valid, second.x_valid)


def test_a_changed_source_replaces_the_entry(own_fashion: Path) -> None:
    load_splits("fashion_mnist", 5_000, 100)
    cache = own_fashion.parents[1] / "cache"
    (old,) = cache.iterdir()
    labels = own_fashion / FASHION_FILES[0]
    stat = labels.stat()
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    data = load_splits("fashion_mnist", 5_000, 100)
    assert not isinstance(data.x_train, np.memmap)  # decoded again, not the stale entry
    (new,) = cache.iterdir()
    assert new != old


def test_an_unwritable_cache_still_loads(
    own_fashion: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = own_fashion.parents[1] / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(datacache.CACHE_ENV, str(blocker / "cache"))
    data = load_splits("fashion_mnist", 5_000, 100)
    assert data.x_train.shape == (100, 28, 28)
    assert blocker.is_file()
