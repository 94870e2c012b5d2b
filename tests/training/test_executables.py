"""Compiled programs kept beside the exported ones (`bntui.training.executables`): a later
run calls them without lowering anything and computes exactly what plain `jax.jit` does;
a damaged one, another CPU's, or a warm JAX compile cache never leaves a broken one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the program store is for the JAX backend", allow_module_level=True)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from test_programs import assert_same_training, lowered_while, train  # noqa: E402

from bntui.training import executables  # noqa: E402
from bntui.training.executables import SUFFIX as EXECUTABLE  # noqa: E402


def test_a_damaged_executable_is_compiled_from_the_kept_program_again(tmp_path: Path) -> None:
    """An executable that does not load: the exported program is read (not traced from
    Keras again), compiled, and its executable written again; the numbers are the same."""
    direct = train(None)
    lowered_while(lambda: train(tmp_path))  # JAX's settings name the programs: logged alike
    damaged = sorted(tmp_path.glob(f"*{EXECUTABLE}"))
    for path in damaged:
        path.write_bytes(b"not an executable")
    repaired, lowered = lowered_while(lambda: train(tmp_path))
    assert lowered.count("jit(stored_call)") == 6, lowered  # each compiled again
    assert repaired[2].scanned.loaded == 1 and repaired[2].scanned.exported == 0
    assert_same_training(direct, repaired)
    assert all(path.read_bytes() != b"not an executable" for path in damaged)
    _, again = lowered_while(lambda: train(tmp_path))
    assert again.count("jit(stored_call)") == 0, again  # the rewritten ones load


def test_an_executable_is_kept_per_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another CPU (another model or instruction set) gets executables of its own, compiled
    from the kept programs; this CPU's are left as they were."""
    from bntui.training import executables

    direct = train(None)
    lowered_while(lambda: train(tmp_path))  # JAX's settings name the programs: logged alike
    here = {path.name: path.read_bytes() for path in tmp_path.glob(f"*{EXECUTABLE}")}
    monkeypatch.setattr(executables, "cpu_features", lambda: "another CPU: flags fpu sse2")
    elsewhere, lowered = lowered_while(lambda: train(tmp_path))
    assert lowered.count("jit(stored_call)") == 6, lowered
    assert elsewhere[2].scanned.loaded == 1 and elsewhere[2].scanned.exported == 0
    assert_same_training(direct, elsewhere)
    after = {path.name: path.read_bytes() for path in tmp_path.glob(f"*{EXECUTABLE}")}
    assert len(after) == 12 and all(after[name] == data for name, data in here.items())


TRAIN_AND_REPORT = """
import hashlib, sys
from pathlib import Path
from bntui.training.common import skip_unused_imports
skip_unused_imports()
sys.path.insert(0, sys.argv[2])
from test_programs import train
import numpy as np
weights, logs, function = train(Path(sys.argv[1]))
digest = hashlib.sha256()
for array in [*weights, logs["probabilities"], logs["loss"], logs["evaluated"]]:
    digest.update(np.asarray(array).tobytes())
kept = sum(1 for f in function.store.functions for c in f.compiled)
print(digest.hexdigest(), function.scanned.loaded, function.scanned.exported, kept)
"""


def test_a_warm_compile_cache_never_leaves_a_broken_executable(tmp_path: Path) -> None:
    """JAX's compile cache on and warm, the executables deleted, then kept again: the next
    run loads them and trains exactly as the first. (An executable JAX read from its cache
    serializes without its kernels' code; keeping one failed the next run with "Function ...
    not found".)"""
    store, cache = tmp_path / "programs", tmp_path / "jax-compile"
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }

    def run() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", TRAIN_AND_REPORT, str(store), str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1].split()

    first = run()  # exports, compiles and keeps
    assert first[1:] == ["0", "1", "6"] and any(cache.iterdir())
    for path in store.glob(f"*{EXECUTABLE}"):
        path.unlink()
    again = run()  # the exported programs read, compiled again while the cache is warm
    assert again == [first[0], "1", "0", "6"]
    assert len(list(store.glob(f"*{EXECUTABLE}"))) == 6
    loading = run()  # the kept executables
    assert loading == [first[0], "1", "0", "6"]


def test_an_executable_is_named_after_the_xla_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other XLA flags compile other code: they name another executable."""
    args = (jax.numpy.ones(3), np.ones(3, "float32"))
    plain = executables.path_for(tmp_path, "an identity", "step", args, 0)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    assert executables.path_for(tmp_path, "an identity", "step", args, 0) != plain
    monkeypatch.delenv("XLA_FLAGS")
    assert executables.path_for(tmp_path, "an identity", "step", args, 0) == plain
    assert executables.path_for(tmp_path, "an identity", "step", args, None) != plain
    assert executables.path_for(tmp_path, "an identity", "step", args[::-1], 0) != plain


def test_results_compare_bit_for_bit() -> None:
    a = {"x": np.array([0.0, np.nan], "float32"), "n": np.array(3)}
    assert executables.same_results(a, {"x": np.array([0.0, np.nan], "float32"), "n": 3})
    assert not executables.same_results(a, {"x": np.array([-0.0, np.nan], "float32"), "n": 3})
    assert not executables.same_results(a, [a["x"], a["n"]])
