"""Keras' eager operations done without programs (bntui.training.eager): a worker's second
start compiles nothing at all, where Keras' own way compiles five small programs, and the
numbers are Keras' own, bit for bit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from fresh import fresh_output

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("the eager operations skipped are JAX's", allow_module_level=True)

import jax  # noqa: E402
from keras.src.backend.common.stateless_scope import StatelessScope  # noqa: E402
from keras.src.backend.jax.core import Variable  # noqa: E402

from bntui.training.eager import convert_numbers_on_the_host, keep_step_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# A worker's way, in short: the model built with its kept initial values, fused steps from
# the program store, two epochs with validation, then the test. It prints the programs JAX
# compiled or read from its compile cache meanwhile. "keras" undoes bntui.training.eager
# and builds the compiled metrics at the first fit, as before it.
WORKER_WAY = """
import json, logging, sys
from dataclasses import replace
import jax, numpy as np
from bntui.training import eager, models
if sys.argv[1] == "keras":
    eager.convert_numbers_on_the_host = lambda: False
    eager.keep_step_results = lambda model: None
    at_fit = models.build_without_tracing
    models.build_without_tracing = lambda model, now=False: at_fit(model)
from bntui.core.spec import ExperimentSpec
from bntui.training.common import seed_everything
from bntui.training.fused import fuse_train_steps
from bntui.training.programs import program_identity
from bntui.training.worker import build
compiled = []

class Seen(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("Compiling "):
            compiled.append(record.getMessage().split()[1])

logging.getLogger("jax").addHandler(Seen())
jax.config.update("jax_log_compiles", True)
spec = replace(ExperimentSpec(), steps_per_execution=4)
identity = program_identity(spec, "bn")
seed_everything(3, "jax")
model = build(spec, "bn", identity, 3)
fuse_train_steps(model, 4, identity)
rng = np.random.default_rng(0)
x = rng.random((250, 28, 28), dtype="float32")
y = rng.integers(0, 10, 250).astype("uint8")
history = model.fit(x[:200], y[:200], batch_size=32, epochs=2, shuffle=True, verbose=0,
                    validation_data=(x[200:], y[200:]), validation_batch_size=20)
test = model.evaluate(x[200:], y[200:], batch_size=20, verbose=0)
print(json.dumps({"compiled": compiled, "history": history.history, "test": test}))
"""


def worker_way(way: str, store: Path) -> dict:
    """The worker's way (`ours` or `keras`) in a fresh interpreter, with its own stores."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": str(ROOT),
        "BNTUI_PROGRAM_CACHE_DIR": str(store / "programs"),
        "JAX_COMPILATION_CACHE_DIR": str(store / "jax"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    out = fresh_output(WORKER_WAY, way, env=env)
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_a_workers_second_start_compiles_nothing_where_kerass_way_compiles_five(
    tmp_path: Path,
) -> None:
    ours = [worker_way("ours", tmp_path / "ours") for _ in range(2)]
    keras_way = [worker_way("keras", tmp_path / "keras") for _ in range(2)]
    assert ours[0]["compiled"], "the first start exports its programs"
    assert ours[1]["compiled"] == []
    # Keras' way: the optimizer's two numbers, the metrics' zeros, their results.
    assert sorted(keras_way[1]["compiled"]) == [
        "jit(_where)",
        "jit(convert_element_type)",
        "jit(convert_element_type)",
        "jit(equal)",
        "jit(true_divide)",
    ]
    for run in (*ours, keras_way[0]):
        assert run["history"] == keras_way[1]["history"]
        assert run["test"] == keras_way[1]["test"]


NUMBERS = [0, 1, -7, 2**31 - 1, 0.0, -0.0, 1.0, 0.001, 0.1, 1e-3, 3e-4, 1e-40, 2.0**-149, True]


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "int", "float16", "bfloat16"])
def test_a_number_becomes_the_array_keras_makes(dtype: str) -> None:
    assert convert_numbers_on_the_host()
    keras_way = Variable._bntui_keras_convert
    for number in NUMBERS:
        if dtype in ("int32", "int") and isinstance(number, float):
            continue
        ours = Variable(number, dtype=dtype, trainable=False)
        theirs = keras_way(ours, number, dtype)
        assert ours.value.dtype == theirs.dtype
        assert ours.value.weak_type == theirs.weak_type
        assert np.asarray(ours.value).tobytes() == np.asarray(theirs).tobytes(), number
        ours.assign(number)  # as a metric is reset
        assert np.asarray(ours.value).tobytes() == np.asarray(theirs).tobytes(), number


def test_inside_a_traced_step_a_number_makes_kerass_own_program() -> None:
    assert convert_numbers_on_the_host()
    variable = Variable(1.0, dtype="float32", trainable=False)

    def step() -> jax.Array:
        with StatelessScope() as scope:
            variable.assign(0)  # a metric reset inside a step
            return scope.get_current_value(variable)

    ours = jax.jit(step).lower().as_text()
    keras_way = Variable._convert_to_tensor
    Variable._convert_to_tensor = Variable._bntui_keras_convert
    try:
        theirs = jax.jit(step).lower().as_text()
    finally:
        Variable._convert_to_tensor = keras_way
    assert ours == theirs
    assert float(jax.jit(step)()) == 0.0


def test_a_model_reports_its_last_steps_results_and_other_logs_get_kerass_choice() -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((4, 3), "float32"), np.zeros(4, "uint8"), verbose=0)
    keep_step_results(model)
    logs = {"loss": jax.numpy.float32(0.25), "accuracy": jax.numpy.float32(0.5)}
    assert model._get_metrics_result_or_logs(logs) is logs
    other = {"loss": 1.0}
    assert model._get_metrics_result_or_logs(other) is other  # Keras' own choice, too
    assert model._get_metrics_result_or_logs(None) is None
