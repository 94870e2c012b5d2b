"""The program store: Keras' steps exported by one run and loaded by the next compute exactly
what plain `jax.jit` computes, and a changed model never gets another model's program."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the program store is for the JAX backend", allow_module_level=True)

import jax  # noqa: E402

from bntui.core.spec import ExperimentSpec  # noqa: E402
from bntui.procs.supervisor import worker_env  # noqa: E402
from bntui.training.executables import SUFFIX as EXECUTABLE  # noqa: E402
from bntui.training.fused import fuse_train_steps  # noqa: E402
from bntui.training.models import build_model  # noqa: E402
from bntui.training.probe import LayerProbe  # noqa: E402
from bntui.training.programs import STORE_ENV, SUFFIX, program_identity  # noqa: E402

# 200 images at batch 32 in groups of 4: a fused group, then a short group (its two full
# batches through the same scan, its partial batch step by step); 50 validation images at
# batch 20 (two full, one of 10).
STEPS = 4


@contextlib.contextmanager
def store_at(store: Path | None) -> Iterator[None]:
    """`$BNTUI_PROGRAM_CACHE_DIR` set to `store` (unset for None) meanwhile."""
    previous = os.environ.pop(STORE_ENV, None)
    if store is not None:
        os.environ[STORE_ENV] = str(store)
    try:
        yield
    finally:
        os.environ.pop(STORE_ENV, None)
        if previous is not None:
            os.environ[STORE_ENV] = previous


def train(
    store: Path | None, which: str = "bn", seed: int = 3, **changes: object
) -> tuple[list, dict, object]:
    """Weights, history, probabilities and the train function of a seeded short fit."""
    rng = np.random.default_rng(0)
    x = rng.random((250, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 250).astype("uint8")
    with store_at(store):
        keras.utils.set_random_seed(seed)
        spec = replace(ExperimentSpec(), steps_per_execution=STEPS, **changes)
        model = build_model(spec, which)
        fuse_train_steps(model, STEPS, program_identity(spec, which))
        history = model.fit(
            x[:200],
            y[:200],
            batch_size=32,
            epochs=2,
            validation_data=(x[200:], y[200:]),
            validation_batch_size=20,
            shuffle=True,
            verbose=0,
        )
        probabilities = model.predict(x[200:], batch_size=20, verbose=0)
        evaluated = model.evaluate(x[200:], y[200:], batch_size=20, verbose=0)
    logs = {**history.history, "probabilities": probabilities, "evaluated": evaluated}
    return model.get_weights(), logs, model.train_function


def assert_same_training(first: tuple, second: tuple) -> None:
    for a, b in zip(first[0], second[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[1]["loss"] == second[1]["loss"]
    assert first[1]["val_loss"] == second[1]["val_loss"]
    assert first[1]["evaluated"] == second[1]["evaluated"]
    np.testing.assert_array_equal(first[1]["probabilities"], second[1]["probabilities"])


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_exported_then_loaded_programs_equal_plain_jit(tmp_path: Path, which: str) -> None:
    direct = train(None, which)
    exporting = train(tmp_path, which)
    names = sorted(p.name.split("-")[0] for p in tmp_path.glob(f"*{SUFFIX}"))
    # The scan, a partial step; a test step at 20 and 10 images; predict likewise.
    assert names == ["predict", "predict", "scan", "step", "test", "test"]
    assert exporting[2].scanned.exported == 1 and exporting[2].single.exported == 1
    loading = train(tmp_path, which)
    assert loading[2].scanned.loaded == 1 and loading[2].single.loaded == 1
    kept = loading[2].store.functions  # the scan, the step, test and predict
    assert [f.name for f in kept] == ["step", "scan", "test", "predict"]
    assert sum(f.loaded for f in kept) == 6 and sum(f.exported for f in kept) == 0
    assert len(list(tmp_path.glob(f"*{SUFFIX}"))) == 6  # nothing new written
    # Bit for bit: the stored programs are the steps plain jit would run.
    assert_same_training(direct, exporting)
    assert_same_training(direct, loading)


class Lowerings(logging.Handler):
    """The programs JAX lowers and compiles (or loads from its compile cache) meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.names.append(message.split()[1])


def lowered_while(run: Any) -> tuple[Any, list[str]]:
    """What `run()` returned, and the programs JAX lowered meanwhile."""
    seen, logger = Lowerings(), logging.getLogger("jax")
    with jax.log_compiles(True):
        logger.addHandler(seen)
        try:
            return run(), seen.names
        finally:
            logger.removeHandler(seen)


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_each_stored_program_is_lowered_once_then_never(tmp_path: Path, which: str) -> None:
    """Keras' fresh arrays (not committed to a device) and a program's outputs (committed)
    make one signature: the scan is not lowered and loaded again for its second call or
    after Keras resets the metrics for epoch 2. The run that exports lowers each stored
    program once; a later run calls the executables kept then and lowers none."""
    exporting, first = lowered_while(lambda: train(tmp_path, which)[2])
    loading, later = lowered_while(lambda: train(tmp_path, which)[2])
    # The scan, a partial step, two test and two predict steps: once each.
    assert first.count("jit(stored_call)") == 6, first
    assert exporting.scanned.exported == 1 and exporting.single.exported == 1
    assert later.count("jit(stored_call)") == 0, later
    assert loading.scanned.loaded == 1 and loading.single.loaded == 1
    assert len(list(tmp_path.glob(f"*{EXECUTABLE}"))) == 6


def test_programs_exported_at_one_seed_train_another_exactly(tmp_path: Path) -> None:
    """Dropout's random state is an argument, not baked in: a program kept from seed 3
    trains seed 5 exactly as plain jit does."""
    train(tmp_path, "bn", seed=3, architecture="sweep")
    other_seed = train(tmp_path, "bn", seed=5, architecture="sweep")
    assert other_seed[2].scanned.loaded == 1 and other_seed[2].scanned.exported == 0
    assert_same_training(other_seed, train(None, "bn", seed=5, architecture="sweep"))


def test_a_changed_model_gets_programs_of_its_own(tmp_path: Path) -> None:
    base = train(tmp_path)
    files = set(tmp_path.glob(f"*{SUFFIX}"))
    faster = train(tmp_path, learning_rate=0.01)
    assert faster[2].scanned.loaded == 0 and faster[2].scanned.exported == 1
    assert len(set(tmp_path.glob(f"*{SUFFIX}")) - files) == 6
    assert faster[1]["loss"] != base[1]["loss"]
    assert_same_training(faster, train(None, learning_rate=0.01))


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_the_layer_probes_gradient_program_is_kept_and_equal(tmp_path: Path, which: str) -> None:
    """The probe's gradient norms, with Dropout (the `sweep` architecture) in training mode:
    plain jit, exporting and loading give the same figures."""
    rng = np.random.default_rng(1)
    x = rng.random((64, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 64).astype("uint8")

    def probe(store: Path | None, seed: int = 3) -> tuple[list[float], Any]:
        with store_at(store):
            keras.utils.set_random_seed(seed)
            spec = replace(ExperimentSpec(), architecture="sweep")
            model = build_model(spec, which)
            made = LayerProbe(model, x, y, "jax", program_identity(spec, which))
            return made.grad_norms(), made.gradient_program

    direct, _ = probe(None)
    exported, exporting = probe(tmp_path)
    loaded, loading = probe(tmp_path)
    assert [p.name.split("-")[0] for p in tmp_path.glob(f"*{SUFFIX}")] == ["probe"]
    assert exporting.exported == 1 and loading.loaded == 1 and loading.exported == 0
    assert len(direct) == 2 and all(n > 0 for n in direct)  # the two Dense kernels
    assert exported == direct and loaded == direct
    other_seed, _ = probe(tmp_path, seed=5)
    assert other_seed == probe(None, seed=5)[0] and other_seed != direct


@pytest.mark.parametrize("which", ["plain", "bn"])
def test_the_one_pass_test_is_kerass_evaluate_and_predict(tmp_path: Path, which: str) -> None:
    """The test set's loss, accuracy and probabilities in one pass (the kept test function's
    `evaluate_with_predictions`) are those of Keras' own `evaluate`
    and `predict` without the store, bit for bit, whether the program was just exported
    or is loaded; validation warms the same program."""
    rng = np.random.default_rng(2)
    x = rng.random((150, 28, 28), dtype="float32")
    y = rng.integers(0, 10, 150).astype("uint8")

    def tested(store: Path | None) -> tuple[Any, Any, Any]:
        with store_at(store):
            keras.utils.set_random_seed(4)
            spec = replace(ExperimentSpec(), steps_per_execution=STEPS)
            model = build_model(spec, which)
            fuse_train_steps(model, STEPS, program_identity(spec, which))
            valid = (x[80:100], y[80:100])  # two batches of 10, as the test's: one program
            model.fit(
                x[:80],
                y[:80],
                batch_size=16,
                epochs=1,
                validation_data=valid,
                validation_batch_size=10,
                verbose=0,
            )
            if store is None:
                assert not hasattr(model.test_function, "evaluate_with_predictions")
                evaluated = model.evaluate(x[100:], y[100:], batch_size=10, verbose=0)
                return evaluated, model.predict(x[100:], batch_size=10, verbose=0), None
            one_pass = model.test_function.evaluate_with_predictions
            evaluated, probabilities = one_pass(x[100:], y[100:], 10)
            assert model.test_function.kept is None  # validation keeps no predictions
            return evaluated, probabilities, model.train_function.store.functions[2]

    keras_evaluated, keras_probabilities, _ = tested(None)
    for exported, loaded in ((1, 0), (0, 1)):
        evaluated, probabilities, test = tested(tmp_path)
        assert (test.name, test.exported, test.loaded) == ("test", exported, loaded)
        assert evaluated == keras_evaluated  # 50 images in 5 batches: 2 calls of 4 steps
        assert probabilities.shape == (50, 10)
        np.testing.assert_array_equal(probabilities, keras_probabilities)


SOLVE = """
import sys
from pathlib import Path
import jax.numpy as jnp
from bntui.training.programs import ProgramStore
solve = ProgramStore(Path(sys.argv[1]), "a linear solve").jit(jnp.linalg.solve, "solve", None)
print(solve(jnp.eye(3) * 2, jnp.ones(3)).tolist(), solve.loaded, solve.exported)
"""

FIT = """
import sys
from bntui.training.common import skip_unused_imports
skip_unused_imports()
sys.path.insert(0, sys.argv[2])
from test_programs import train
function = train(__import__("pathlib").Path(sys.argv[1]))[2]
print(function.scanned.loaded, "scipy.linalg" in sys.modules)
"""


def _fresh(code: str, *args: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_stored_program_that_calls_lapack_runs_when_loaded(tmp_path: Path) -> None:
    """JAX's LAPACK handlers are set up only for programs that call LAPACK: one that does
    still runs when it is loaded by a fresh process (exported first, loaded second)."""
    assert _fresh(SOLVE, str(tmp_path)) == "[0.5, 0.5, 0.5] 0 1"
    assert _fresh(SOLVE, str(tmp_path)) == "[0.5, 0.5, 0.5] 1 0"


def test_the_mlps_stored_programs_leave_scipy_linalg_unloaded(tmp_path: Path) -> None:
    """A worker that exports, then one that loads, never imports scipy.linalg (JAX would,
    0.2-0.3 s, to set up LAPACK for the first exported program it runs)."""
    here = str(Path(__file__).parent)
    assert _fresh(FIT, str(tmp_path), here) == "0 False"
    assert _fresh(FIT, str(tmp_path), here) == "1 False"


def test_identity_names_what_shapes_the_program() -> None:
    spec = replace(ExperimentSpec(), steps_per_execution=STEPS)
    same = {
        program_identity(spec, "bn"),
        program_identity(replace(spec, seed=7, epochs=3, limit=2000, inside_per_epoch=0), "bn"),
    }
    assert len(same) == 1  # the data order and the run's length build no program
    others = {
        program_identity(spec, "plain"),
        program_identity(replace(spec, learning_rate=0.5), "bn"),
        program_identity(replace(spec, optimizer="adam"), "bn"),
        program_identity(replace(spec, architecture="mnist"), "bn"),
        program_identity(replace(spec, steps_per_execution=STEPS + 1), "bn"),
    }
    assert len(others) == 5 and not same & others


def test_identity_imports_no_tensorflow() -> None:
    """Keras' get_config would import TensorFlow (seconds, on the critical path)."""
    code = (
        "import sys; from bntui.core.spec import ExperimentSpec; "
        "from bntui.training.programs import program_identity; "
        "program_identity(ExperimentSpec(), 'bn'); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)


def test_a_damaged_program_is_exported_again(tmp_path: Path) -> None:
    direct = train(None)
    train(tmp_path)
    for path in [*tmp_path.glob(f"*{SUFFIX}"), *tmp_path.glob(f"*{EXECUTABLE}")]:
        path.write_bytes(b"not a program")
    repaired = train(tmp_path)
    assert repaired[2].scanned.exported == 1 and repaired[2].scanned.loaded == 0
    assert_same_training(direct, repaired)
    assert train(tmp_path)[2].scanned.loaded == 1  # the rewritten one loads


def test_a_stored_program_that_reads_but_does_not_build_is_exported_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that deserializes and takes the arguments, but calls what this process lacks
    (here a custom call nobody registered), is exported again instead of failing."""
    import jax
    import jax.numpy as jnp
    from jax import export

    from bntui.training.programs import ProgramStore

    def doubled(x: jax.Array) -> jax.Array:
        return x * 2

    def unbuildable(x: jax.Array) -> jax.Array:
        return jax.ffi.ffi_call("bntui_no_such_target", jax.ShapeDtypeStruct((3,), "float32"))(x)

    x = jnp.arange(3, dtype="float32")
    first = ProgramStore(tmp_path, "a test").jit(doubled, "double", None)
    assert first(x).tolist() == [0.0, 2.0, 4.0] and first.exported == 1
    [path] = tmp_path.glob(f"*{SUFFIX}")
    checks = [export.DisabledSafetyCheck.custom_call("bntui_no_such_target")]
    bad = export.export(jax.jit(unbuildable), disabled_checks=checks)(x)
    path.write_bytes(bad.serialize())
    for kept in tmp_path.glob(f"*{EXECUTABLE}"):
        kept.unlink()  # the exported program alone is read
    again = ProgramStore(tmp_path, "a test").jit(doubled, "double", None)
    assert again(x).tolist() == [0.0, 2.0, 4.0]
    assert again.loaded == 0 and again.exported == 1
    assert "stored program unusable" in capsys.readouterr().err  # it was read, and failed
    third = ProgramStore(tmp_path, "a test").jit(doubled, "double", None)
    assert third(x).tolist() == [0.0, 2.0, 4.0] and third.loaded == 1  # the rewritten one


def test_an_unwritable_store_still_trains(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be")
    direct = train(None)
    blocked = train(blocker / "programs")
    assert blocked[2].scanned.exported == 1
    assert_same_training(direct, blocked)


def test_workers_get_a_store_beside_the_compile_cache() -> None:
    env = worker_env(ExperimentSpec(), 1)
    assert Path(env[STORE_ENV]).parent == Path(env["JAX_COMPILATION_CACHE_DIR"]).parent
