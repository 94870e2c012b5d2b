"""Initial weights kept beside the programs: a model built from them is the model Keras'
initializers make, bit for bit, and so is everything drawn at random after it."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("initial weights are kept for the JAX backend", allow_module_level=True)

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.training.common import seed_everything  # noqa: E402
from bntui.training.initial import kept_initial_values  # noqa: E402
from bntui.training.programs import STORE_ENV, program_identity  # noqa: E402
from bntui.training.worker import build  # noqa: E402

SPEC = replace(ExperimentSpec(), architecture="sweep")  # Dropout: a seed generator's state


def built(
    store: Path | None, monkeypatch: pytest.MonkeyPatch, which: str = "bn", seed: int = 3
) -> tuple[list[np.ndarray], object, np.ndarray, list]:
    """The model's variables, Python's random state and a draw after the build, and one
    step of training on it."""
    if store is None:
        monkeypatch.delenv(STORE_ENV, raising=False)
    else:
        monkeypatch.setenv(STORE_ENV, str(store))
    seed_everything(seed, "jax")
    model = build(SPEC, which, program_identity(SPEC, which), seed)
    values = [np.asarray(v.value) for v in model.variables]
    state = random.getstate()
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 64).astype("uint8")
    model.fit(x, y, batch_size=32, epochs=1, shuffle=True, verbose=0)
    trained = [np.asarray(v.value) for v in model.variables]
    return values, state, np.random.random(3), trained


def assert_same(first: tuple, second: tuple) -> None:
    for a, b in zip(first[0], second[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[1] == second[1]
    np.testing.assert_array_equal(first[2], second[2])
    for a, b in zip(first[3], second[3], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_kept_initial_weights_build_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    direct = built(None, monkeypatch, which)
    keeping = built(tmp_path, monkeypatch, which)
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["initial"]
    reading = built(tmp_path, monkeypatch, which)
    assert_same(direct, keeping)
    assert_same(direct, reading)


def test_values_are_read_and_another_seed_gets_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV, str(tmp_path))
    identity = program_identity(SPEC, "bn")
    from bntui.training.models import build_model

    for expected_read in (False, True):
        seed_everything(3, "jax")
        with kept_initial_values(identity, 3) as values:
            build_model(SPEC, "bn")
        assert len(values.made) > 0
        assert (values.read == len(values.made)) is expected_read
    other = built(tmp_path, monkeypatch, seed=5)
    assert len(list(tmp_path.iterdir())) == 2
    assert_same(other, built(None, monkeypatch, seed=5))
    assert not np.array_equal(other[0][0], built(None, monkeypatch, seed=3)[0][0])  # a kernel


def test_a_build_not_seeded_first_neither_takes_nor_leaves_the_seeds_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller that builds without seeding draws other initial weights than the seed's:
    # they are kept apart, so a later seeded build still gets the seed's own.
    monkeypatch.setenv(STORE_ENV, str(tmp_path))
    from bntui.training.models import build_model

    random.seed(12345)  # not seed 3's state
    with kept_initial_values(program_identity(SPEC, "bn"), 3) as values:
        unseeded = [np.asarray(v.value) for v in build_model(SPEC, "bn").variables]
    assert values.read == 0
    seeded = built(tmp_path, monkeypatch)
    assert_same(seeded, built(None, monkeypatch))
    assert any(not np.array_equal(a, b) for a, b in zip(unseeded, seeded[0], strict=True))
    assert len(list(tmp_path.iterdir())) == 2


def test_a_damaged_file_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = built(None, monkeypatch)
    built(tmp_path, monkeypatch)
    [path] = tmp_path.iterdir()
    path.write_bytes(b"not an npz")
    assert_same(direct, built(tmp_path, monkeypatch))
    assert np.load(path, allow_pickle=False).files  # written again, readable


def test_only_the_most_recently_used_sets_are_kept(tmp_path: Path) -> None:
    from bntui.training.initial import prune

    for age, name in enumerate(["c", "b", "a"]):  # a is the oldest
        path = tmp_path / f"initial-{name}.npz"
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
    (tmp_path / "scan-x.jaxexport").write_bytes(b"a program: not pruned here")
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "initial-b.npz",
        "initial-c.npz",
        "scan-x.jaxexport",
    ]


def test_a_read_set_counts_as_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built(tmp_path, monkeypatch)
    [path] = tmp_path.iterdir()
    os.utime(path, (1_000_000, 1_000_000))
    built(tmp_path, monkeypatch)
    assert path.stat().st_mtime > 1_000_000
