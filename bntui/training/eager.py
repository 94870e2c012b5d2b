"""Keras' small eager operations on JAX, done without programs of their own.

Outside its compiled steps, Keras runs a few operations eagerly, and on JAX each one is a
program: traced, lowered (the first lowering in a process also sets up MLIR, about 16 ms),
read from the compile cache and loaded. On a worker's way through its first epoch there
were five, all on the run's critical path:

- a Python number given to a variable: the optimizer's iteration count and learning rate
  when it is made, a metric's `total` and `count` set to 0 when it is reset
  (`jnp.asarray(0, "float32")` is a `convert_element_type` program);
- the metrics' results at the end of each epoch and of each evaluation: Keras computes
  them once more from the variables the last step has just updated (`divide_no_nan`:
  `equal`, `where` and `true_divide`), though that step returned exactly those results.

`convert_numbers_on_the_host` makes such a number a NumPy array of the variable's type
and hands it to the device as it is; `keep_step_results` takes a model's results from its
last step. Both give the same values, bit for bit (tests/training/test_eager.py): a float
rounded to float32 by NumPy is the float JAX's conversion makes. The variables Keras makes
from its initializers are the other kind of eager program, read instead from the kept
initial values (`bntui.training.initial`).

Imported only inside JAX worker processes.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

# The types whose conversion from a Python number NumPy and JAX were checked to agree on,
# bit for bit (float32 for 7,000 floats, subnormals and rounding midpoints included). The
# others (float16, bfloat16, 64-bit types with x64 on) keep Keras' own conversion.
EXACT = {np.dtype("float32"), np.dtype("int32"), np.dtype("bool")}
FLOAT32_MAX = float(np.finfo(np.float32).max)


def convert_numbers_on_the_host() -> bool:
    """Make every Keras variable made from, or assigned, a Python number take it as a
    NumPy array of its type, put on the device, instead of converting it with a program.
    Once per process; False (nothing changed) where this Keras lacks the method."""
    try:
        from keras.src.backend.common.variables import standardize_dtype
        from keras.src.backend.jax.core import Variable
    except ImportError:
        return False
    keras_way = getattr(Variable, "_convert_to_tensor", None)
    if keras_way is None:
        return False
    if getattr(Variable, "_bntui_keras_convert", None) is not None:
        return True

    def convert(variable: Any, value: Any, dtype: Any = None) -> Any:
        if dtype is None or type(value) not in (bool, int, float):
            return keras_way(variable, value, dtype)
        target = jax.dtypes.canonicalize_dtype(standardize_dtype(dtype))
        odd_float = isinstance(value, float) and (
            target.kind != "f" or not abs(value) <= FLOAT32_MAX  # NaN and inf too
        )
        if target not in EXACT or odd_float:
            return keras_way(variable, value, dtype)  # and so Keras' own errors and warnings
        try:
            array = np.asarray(value, dtype=target)
        except OverflowError:  # an int out of the type's range
            return keras_way(variable, value, dtype)
        return jax.device_put(array)

    Variable._bntui_keras_convert = keras_way
    Variable._convert_to_tensor = convert
    return True


def keep_step_results(model: Any) -> None:
    """Make `model`'s `fit` and `evaluate` report the metrics' results its last step
    returned, instead of computing them once more from the metrics' variables.

    Keras' own train and test steps return `get_metrics_result()` after updating the
    metrics, which is what Keras computes again (an eager program per operation) and then
    prefers when the names match. Logs of other names (a step of another kind) still get
    Keras' own choice; the names are read once, by tracing the results without running
    them."""
    keras_way = model._get_metrics_result_or_logs
    names: list[set[str]] = []

    def results(logs: Any) -> Any:
        if not isinstance(logs, dict) or not logs:
            return keras_way(logs)
        if not names:
            names.append(set(jax.eval_shape(model.get_metrics_result)))
        return logs if set(logs) == names[0] else keras_way(logs)

    model._get_metrics_result_or_logs = results
